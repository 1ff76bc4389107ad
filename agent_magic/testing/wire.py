"""Messages API wire format for the fake server: reply blocks, JSON bodies and SSE events.

Pure functions of a script turn, so the protocol can be checked without a socket.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from agent_magic.tokens import estimate_tokens

TEXT_CHUNK = 12
JSON_CHUNK = 24
DEFAULT_BAD_CALL = {"name": "view", "input": {"path": "README.md"}}


def tool_id(turn: int, j: int, salt: str = "") -> str:
    """An id shaped like the API's ``toolu_01...``, the same for the same turn, call and salt.

    A server passes its own salt, so a session resumed against another server instance never
    gets an id twice (the API's ids are unique; the fake refuses a repeated one).
    """
    return "toolu_01" + hashlib.sha1(f"{salt}:{turn}:{j}".encode()).hexdigest()[:22]


Signer = Callable[[str, str], str]  # (kind, content) -> signature; kind "thinking" or "redacted"


def reply_blocks(
    turn: dict[str, Any],
    index: int,
    *,
    think: bool = False,
    show_thinking: bool = True,
    sign: Signer = lambda kind, content: "sig",
    salt: str = "",
) -> list[dict[str, Any]]:
    """The assistant content blocks of a script turn, in order: thinking, text, tool calls.

    ``think`` adds a thinking block (the model thinks by default, or the request asked for it);
    its text is empty unless ``show_thinking`` (the API omits it at the default ``display`` of
    the newest models, but still signs it). A ``bad_json`` fault gets one tool call.
    """
    blocks: list[dict[str, Any]] = []
    if turn.get("redacted_thinking"):
        data = "EncryptedThinking" + hashlib.sha1(f"r{index}".encode()).hexdigest()
        blocks.append({"type": "redacted_thinking", "data": data + sign("redacted", data)})
    if think or turn.get("thinking"):
        text = turn.get("thinking") or f"Deciding the next step ({index})."
        shown = text if show_thinking else ""
        blocks.append({"type": "thinking", "thinking": shown, "signature": sign("thinking", shown)})
    if turn.get("text"):
        blocks.append({"type": "text", "text": turn["text"]})
    calls = list(turn.get("tool_calls", []))
    if turn.get("fault") == "bad_json" and not calls:
        calls = [DEFAULT_BAD_CALL]
    for j, call in enumerate(calls):
        blocks.append(
            {
                "type": "tool_use",
                "id": tool_id(index, j, salt),
                "name": call["name"],
                "input": dict(call.get("input", {})),
            }
        )
    return blocks


def stop_reason(blocks: list[dict[str, Any]]) -> str:
    """``tool_use`` when the reply calls a tool, else ``end_turn``."""
    return "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"


def prompt_tokens(usage: dict[str, Any]) -> int:
    """The whole prompt of a request: plain input, cache writes and cache reads."""
    return sum(
        int(usage.get(k) or 0)
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )


def output_tokens(blocks: list[dict[str, Any]]) -> int:
    """A deterministic estimate of the tokens of a reply."""
    return estimate_tokens(blocks) if blocks else 1


def cut(blocks: list[dict[str, Any]], max_tokens: int) -> list[dict[str, Any]]:
    """The reply as the API sends it when output stops at ``max_tokens``: the last block cut short.

    A cut tool_use keeps its input as the raw JSON prefix under ``"_partial"`` (the stream sends
    only that prefix, which does not parse).
    """
    out: list[dict[str, Any]] = []
    budget = max(1, max_tokens) * 4
    for block in blocks:
        size = len(json.dumps(block))
        if size <= budget:
            out.append(block)
            budget -= size
            continue
        if block["type"] == "text" and budget > 8:
            out.append({**block, "text": block["text"][:budget]})
        elif block["type"] == "tool_use":
            raw = json.dumps(block["input"])
            out.append(
                {**block, "input": {}, "_partial": raw[: max(1, min(budget, len(raw) // 2))]}
            )
        break
    return out or blocks[:1]


def stop_at_sequence(
    blocks: list[dict[str, Any]], sequences: list[str]
) -> tuple[list[dict[str, Any]], str | None]:
    """The reply as the API sends it when a text block reaches one of ``sequences``: the text
    ends before the earliest match and nothing follows it; also the sequence matched (or None)."""
    for i, block in enumerate(blocks):
        if block["type"] != "text":
            continue
        found = [(block["text"].find(seq), seq) for seq in sequences if seq in block["text"]]
        if found:
            at, seq = min(found)
            head = block["text"][:at]
            return [*blocks[:i], *([{**block, "text": head}] if head else [])], seq
    return blocks, None


def message_json(
    blocks: list[dict[str, Any]],
    usage: dict[str, Any],
    *,
    model: str,
    message_id: str,
    stop: str | None = None,
    stop_details: dict[str, Any] | None = None,
    stop_sequence: str | None = None,
) -> dict[str, Any]:
    """A non-streaming ``message`` response body."""
    content = [{k: v for k, v in b.items() if k != "_partial"} for b in blocks]
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop or stop_reason(blocks),
        "stop_sequence": stop_sequence,
        "stop_details": stop_details,
        "usage": {**usage, "output_tokens": output_tokens(blocks)},
    }


def error_json(kind: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    """An error response body: ``{"type": "error", "error": {"type": ..., "message": ...},
    "request_id": ...}`` (the id also in the ``request-id`` header)."""
    body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body


def malformed(input_json: str) -> str:
    """Tool input JSON broken the way a model breaks it: a bare word where a key belongs."""
    return input_json[:-1] + (", " if input_json != "{}" else "") + "oops}"


def stream_events(
    blocks: list[dict[str, Any]],
    usage: dict[str, Any],
    *,
    model: str,
    message_id: str,
    bad_json: bool = False,
    stop: str | None = None,
    stop_details: dict[str, Any] | None = None,
    error: str | None = None,
    stop_sequence: str | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """The SSE events of a streamed reply, as (event name, data) pairs in order.

    ``error`` ends the stream after the first block with an ``error`` event of that type, as
    the API does when it is overloaded mid-reply.
    """
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {**usage, "output_tokens": 1},
                },
            },
        ),
        ("ping", {"type": "ping"}),
    ]
    broken = False
    for index, block in enumerate(blocks):
        start, deltas = _block_events(block, bad_json and not broken)
        broken = broken or (bad_json and block["type"] == "tool_use")
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
        )
        events += [
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            for d in deltas
        ]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        if error:
            events.append(("error", error_json(error, f"{error.replace('_', ' ')} (fake server)")))
            return events
        events.append(("ping", {"type": "ping"}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": stop or stop_reason(blocks),
                    "stop_sequence": stop_sequence,
                    "stop_details": stop_details,
                },
                # Cumulative counts: the input side again (as the API now sends it), the final output.
                "usage": {
                    **{k: v for k, v in usage.items() if k != "cache_creation"},
                    "output_tokens": output_tokens(blocks),
                },
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _block_events(
    block: dict[str, Any], bad_json: bool
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    kind = block["type"]
    if kind == "text":
        return (
            {"type": "text", "text": ""},
            [{"type": "text_delta", "text": piece} for piece in _chunks(block["text"], TEXT_CHUNK)],
        )
    if kind == "thinking":
        deltas = [
            {"type": "thinking_delta", "thinking": piece}
            for piece in _chunks(block["thinking"], TEXT_CHUNK)
            if piece
        ]
        return (
            {"type": "thinking", "thinking": "", "signature": ""},
            [*deltas, {"type": "signature_delta", "signature": block["signature"]}],
        )
    if kind == "redacted_thinking":
        return dict(block), []
    raw = block["_partial"] if "_partial" in block else json.dumps(block["input"])
    if bad_json:
        raw = malformed(raw)
    # The API opens every tool input with an empty delta.
    return (
        {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}},
        [
            {"type": "input_json_delta", "partial_json": piece}
            for piece in ["", *_chunks(raw, JSON_CHUNK)]
        ],
    )


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event, encoded."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
