"""A deterministic model that replays scripted turns: for tests, demos and offline runs.

Script format (shared with the fake Messages API server in ``agent_magic.testing``): a JSON (or
YAML) list of assistant turns, each ``{"text": "...", "tool_calls": [{"name": ..., "input": {...}}]}``
with either key optional, or ``{"fault": "429" | "529" | "500" | "drop" | "bad_json"}``, which only
the fake server can act out (the scripted model raises ``ModelError`` for it).
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent_magic.errors import ModelError, UserError
from agent_magic.models.base import FREE, Price, Reply, Request, TextSink, ToolCall, Usage

FAULTS = ("429", "529", "500", "drop", "bad_json")


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
            raise UserError(f"script turn {i}: unknown fault {turn['fault']!r}; use one of {FAULTS}")
        return
    unknown = set(turn) - {"text", "tool_calls"}
    if unknown:
        raise UserError(f"script turn {i}: unknown keys {sorted(unknown)}")
    for call in turn.get("tool_calls", []):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise UserError(f"script turn {i}: each tool call needs a name")
        if not isinstance(call.get("input", {}), dict):
            raise UserError(f"script turn {i}: tool input of {call['name']} must be an object")


def estimate_tokens(value: Any) -> int:
    """A rough token count (4 characters a token) of any JSON-able value."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
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

    def complete(self, request: Request, on_text: TextSink | None = None) -> Reply:
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
        if "fault" in turn:
            raise ModelError(f"scripted fault {turn['fault']} at turn {index}")
        text = turn.get("text", "")
        if text and on_text is not None:
            on_text(text)
        calls = [
            ToolCall(id=f"toolu_scripted_{index}_{j}", name=c["name"], input=dict(c.get("input", {})))
            for j, c in enumerate(turn.get("tool_calls", []))
        ]
        usage = Usage(
            input_tokens=estimate_tokens([request.system, request.tools, request.messages]),
            output_tokens=estimate_tokens(turn),
        )
        return Reply(text=text, tool_calls=calls, stop_reason="tool_use" if calls else "end_turn",
                     usage=usage)


def _last_text(messages: list[dict[str, Any]]) -> str:
    if not messages:
        return ""
    content = messages[-1]["content"]
    if isinstance(content, str):
        return content
    return " ".join(str(b.get("text") or b.get("content") or "") for b in content)
