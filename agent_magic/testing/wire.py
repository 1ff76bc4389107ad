"""Messages API wire format for the fake server: reply blocks, JSON bodies and SSE events.

Pure functions of a script turn, so the protocol can be checked without a socket.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from agent_magic.models.scripted import estimate_tokens

TEXT_CHUNK = 12
JSON_CHUNK = 24
DEFAULT_BAD_CALL = {"name": "view", "input": {"path": "README.md"}}


def tool_id(turn: int, j: int) -> str:
    """A deterministic id shaped like the API's ``toolu_01...``."""
    return "toolu_01" + hashlib.sha1(f"{turn}:{j}".encode()).hexdigest()[:22]


def reply_blocks(turn: dict[str, Any], index: int) -> list[dict[str, Any]]:
    """The assistant content blocks of a script turn (a ``bad_json`` fault gets one tool call)."""
    blocks: list[dict[str, Any]] = []
    if turn.get("text"):
        blocks.append({"type": "text", "text": turn["text"]})
    calls = list(turn.get("tool_calls", []))
    if turn.get("fault") == "bad_json" and not calls:
        calls = [DEFAULT_BAD_CALL]
    for j, call in enumerate(calls):
        blocks.append({"type": "tool_use", "id": tool_id(index, j), "name": call["name"],
                       "input": dict(call.get("input", {}))})
    return blocks


def stop_reason(blocks: list[dict[str, Any]]) -> str:
    """``tool_use`` when the reply calls a tool, else ``end_turn``."""
    return "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"


def output_tokens(blocks: list[dict[str, Any]]) -> int:
    """A deterministic estimate of the tokens of a reply."""
    return estimate_tokens(blocks) if blocks else 1


def message_json(
    blocks: list[dict[str, Any]], usage: dict[str, int], *, model: str, message_id: str
) -> dict[str, Any]:
    """A non-streaming ``message`` response body."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop_reason(blocks),
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": output_tokens(blocks)},
    }


def error_json(kind: str, message: str) -> dict[str, Any]:
    """An error response body: ``{"type": "error", "error": {"type": ..., "message": ...}}``."""
    return {"type": "error", "error": {"type": kind, "message": message}}


def malformed(input_json: str) -> str:
    """Tool input JSON broken the way a model breaks it: a bare word where a key belongs."""
    return input_json[:-1] + (", " if input_json != "{}" else "") + "oops}"


def stream_events(
    blocks: list[dict[str, Any]],
    usage: dict[str, int],
    *,
    model: str,
    message_id: str,
    bad_json: bool = False,
) -> list[tuple[str, dict[str, Any]]]:
    """The SSE events of a streamed reply, as (event name, data) pairs in order."""
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": {
            "id": message_id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {**usage, "output_tokens": 1}}}),
        ("ping", {"type": "ping"}),
    ]
    broken = False
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in _chunks(block["text"], TEXT_CHUNK)]
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            raw = json.dumps(block["input"])
            if bad_json and not broken:
                raw, broken = malformed(raw), True
            # The API opens every tool input with an empty delta.
            deltas = [{"type": "input_json_delta", "partial_json": piece}
                      for piece in ["", *_chunks(raw, JSON_CHUNK)]]
        events.append(("content_block_start",
                       {"type": "content_block_start", "index": index, "content_block": start}))
        events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
                   for d in deltas]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason(blocks), "stop_sequence": None},
        "usage": {"output_tokens": output_tokens(blocks)}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event, encoded."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _chunks(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]
