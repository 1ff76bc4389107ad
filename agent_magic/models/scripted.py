"""A deterministic model that replays scripted turns: for tests, demos and offline runs.

Script format (shared with the fake Messages API server in ``agent_magic.testing``): a JSON (or
YAML) list of assistant turns, each ``{"text": "...", "tool_calls": [{"name": ..., "input": {...}}]}``
with either key optional, or ``{"fault": "429" | "529" | "500" | "504" | "402" | "drop" |
"bad_json"}``, which only
the fake server can act out (the scripted model raises ``ModelError`` for it). Turns may also
carry ``"thinking": TEXT``, ``"redacted_thinking": true``, ``"stop": REASON`` (one of
``STOP_REASONS``), ``"error": "overloaded_error" | "api_error"`` (an error event mid-stream,
fake server only) and ``"stall": SECONDS`` / ``"stall_before": SECONDS`` (the fake server goes
silent mid-stream / before the response headers; the scripted model ignores both); see ``agent_magic.testing.fake_api``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent_magic.errors import ModelError, UserError
from agent_magic.models.base import FREE, Price, Reply, Request, TextSink, ToolCall, Usage

FAULTS = ("429", "529", "500", "504", "402", "drop", "bad_json")
STOP_REASONS = (
    "end_turn",
    "tool_use",
    "max_tokens",
    "stop_sequence",
    "refusal",
    "model_context_window_exceeded",
    "pause_turn",
)
STREAM_ERRORS = ("overloaded_error", "api_error")
TURN_KEYS = {
    "text",
    "tool_calls",
    "thinking",
    "redacted_thinking",
    "stop",
    "error",
    "stall",
    "stall_before",
}


class ScriptExhausted(ModelError):
    """The loop asked for more turns than the script has."""


def load_script(source: str | Path | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Read and validate a script from a path (JSON or YAML) or a list of turns."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot read script {path}: {exc.strerror or exc}") from None
        if path.suffix in (".yaml", ".yml"):
            import yaml  # optional: only YAML scripts need it

            turns = yaml.safe_load(text)
        else:
            try:
                turns = json.loads(text)
            except json.JSONDecodeError as exc:
                raise UserError(f"script {path} is not valid JSON: {exc}") from None
    else:
        turns = source
    if not isinstance(turns, list):
        raise UserError("a script is a list of turns")
    for i, turn in enumerate(turns):
        _check_turn(i, turn)
    return list(turns)


def _check_turn(i: int, turn: Any) -> None:
    if not isinstance(turn, dict):
        raise UserError(f"script turn {i} is not an object")
    if "fault" in turn:
        if str(turn["fault"]) not in FAULTS:
            raise UserError(
                f"script turn {i}: unknown fault {turn['fault']!r}; use one of {FAULTS}"
            )
        return
    unknown = set(turn) - TURN_KEYS
    if unknown:
        raise UserError(f"script turn {i}: unknown keys {sorted(unknown)}")
    if turn.get("stop", "end_turn") not in STOP_REASONS:
        raise UserError(
            f"script turn {i}: unknown stop {turn['stop']!r}; use one of {STOP_REASONS}"
        )
    if turn.get("error", "api_error") not in STREAM_ERRORS:
        raise UserError(
            f"script turn {i}: unknown error {turn['error']!r}; use one of {STREAM_ERRORS}"
        )
    for key in ("stall", "stall_before"):
        stall = turn.get(key, 0)
        if not isinstance(stall, (int, float)) or isinstance(stall, bool) or stall < 0:
            raise UserError(f"script turn {i}: {key} is a number of seconds >= 0")
    for call in turn.get("tool_calls", []):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise UserError(f"script turn {i}: each tool call needs a name")
        if not isinstance(call.get("input", {}), dict):
            raise UserError(f"script turn {i}: tool input of {call['name']} must be an object")


def estimate_tokens(value: Any) -> int:
    """A rough token count (4 characters a token) of any JSON-able value; images by pixel size."""
    from agent_magic.images import priced

    text = value if isinstance(value, str) else json.dumps(priced(value), default=str)
    return max(1, len(text) // 4)


class ScriptedModel:
    """Replays a script turn by turn; raises ``ScriptExhausted`` when asked for one more."""

    def __init__(
        self,
        turns: str | Path | list[dict[str, Any]],
        *,
        name: str = "scripted",
        price: Price = FREE,
    ) -> None:
        self.turns = load_script(turns)
        self.name = name
        self.price = price
        self.requests: list[Request] = []
        self._next = 0
        self._lock = threading.Lock()

    @property
    def remaining(self) -> int:
        """How many turns are left."""
        return len(self.turns) - self._next

    streams_thinking = True

    def complete(
        self, request: Request, on_text: TextSink | None = None, on_thinking: TextSink | None = None
    ) -> Reply:
        """Return the next scripted turn as a reply."""
        with self._lock:
            if self._next >= len(self.turns):
                raise ScriptExhausted(
                    f"the script has {len(self.turns)} turns and the loop asked for one more; "
                    f"last message: {_last_text(request.messages)[:300]!r}"
                )
            index = self._next
            turn = self.turns[index]
            self._next += 1
            # A snapshot: the loop keeps appending to the same message list.
            self.requests.append(replace(request, messages=list(request.messages)))
        if "fault" in turn or "error" in turn:
            raise ModelError(f"scripted fault {turn.get('fault') or turn['error']} at turn {index}")
        text = turn.get("text", "")
        if text and on_text is not None:
            on_text(text)
        thinking = turn.get("thinking", "")
        if thinking and on_thinking is not None:
            on_thinking(thinking)
        calls = [
            ToolCall(
                id=f"toolu_scripted_{index}_{j}", name=c["name"], input=dict(c.get("input", {}))
            )
            for j, c in enumerate(turn.get("tool_calls", []))
        ]
        usage = Usage(
            input_tokens=estimate_tokens([request.system, request.tools, request.messages]),
            output_tokens=estimate_tokens(turn),
        )
        blocks: list[dict[str, Any]] = []
        if thinking:
            blocks.append(
                {"type": "thinking", "thinking": thinking, "signature": f"scripted-{index}"}
            )
        if text:
            blocks.append({"type": "text", "text": text})
        blocks += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": c.input} for c in calls
        ]
        stop = turn.get("stop") or ("tool_use" if calls else "end_turn")
        return Reply(text=text, tool_calls=calls, stop_reason=stop, usage=usage, blocks=blocks)


def _last_text(messages: list[dict[str, Any]]) -> str:
    if not messages:
        return ""
    content = messages[-1]["content"]
    if isinstance(content, str):
        return content
    return " ".join(str(b.get("text") or b.get("content") or "") for b in content)
