"""The Model protocol and the values that cross it.

Messages use the Anthropic Messages format as the one internal lingua franca:
``{"role": "user" | "assistant", "content": str | list[block]}`` with ``text``, ``tool_use``,
``tool_result``, ``thinking`` and ``redacted_thinking`` blocks. Backends for other APIs
translate at their edge.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ToolCall:
    """One tool call the model asked for."""

    id: str
    name: str
    input: dict[str, Any]


@dataclass
class Usage:
    """Token counts of one call or of a whole session."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
        )

    @property
    def total_input(self) -> int:
        """All prompt tokens: uncached, written to cache and read from cache."""
        return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens.

    ``cache_write`` is the 5-minute write, ``cache_write_1h`` the 1-hour one. A model priced by
    prompt length bills a whole call at ``long_prompt`` once its prompt passes
    ``long_prompt_tokens``. ``known=False`` marks a stand-in for a model without a published
    price (priced high on purpose, so a budget never guesses low).
    """

    input: float = 0.0
    output: float = 0.0
    cache_write: float = 0.0
    cache_read: float = 0.0
    cache_write_1h: float = 0.0
    long_prompt_tokens: int = 0
    long_prompt: Price | None = None
    known: bool = True

    def cost(self, usage: Usage) -> float:
        """Dollars for the given usage."""
        if self.long_prompt is not None and usage.total_input > self.long_prompt_tokens:
            return self.long_prompt.cost(usage)
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_write_tokens * self.cache_write
            + usage.cache_read_tokens * self.cache_read
        ) / 1_000_000


FREE = Price()


@dataclass
class Request:
    """Everything one model call needs.

    ``system`` and ``tools`` are the stable prefix of every call of a run, so a backend that
    caches prompts marks them (and the newest message) as cache breakpoints. ``cancel``, when
    set, asks the backend to give up (a stream in progress, a wait before a retry) promptly.
    """

    system: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    max_tokens: int = 4096
    cancel: threading.Event | None = None
    effort: str | None = None  # thinking effort (off, low ... max); None: the model's default


INVALID_JSON_KEY = "__invalid_json__"


@dataclass
class Reply:
    """What the model answered: text, tool calls, why it stopped, what it cost in tokens.

    ``blocks`` are the raw content blocks in stream order (thinking included) when the backend
    has them; ``content()`` echoes them unchanged, as the API requires of thinking blocks.
    """

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    stop_reason: str = "end_turn"
    usage: Usage = field(default_factory=Usage)
    blocks: list[dict[str, Any]] | None = None
    stop_details: dict[str, Any] | None = None

    def content(self) -> list[dict[str, Any]]:
        """The reply as assistant content blocks, to append to the conversation.

        Thinking blocks stay exactly as received; text that is only whitespace is dropped (the
        API refuses it) and a tool input that did not parse goes back as ``{}`` (the tool
        result says why), never as the model's own input.
        """
        if self.blocks is None:
            blocks: list[dict[str, Any]] = []
            if self.text:
                blocks.append({"type": "text", "text": self.text})
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.input}
                for c in self.tool_calls
            ]
        else:
            blocks = [dict(b) for b in self.blocks]
        out = []
        for block in blocks:
            if block.get("type") == "text" and not str(block.get("text", "")).strip():
                continue
            if block.get("type") == "tool_use" and (
                not isinstance(block.get("input"), dict) or INVALID_JSON_KEY in block["input"]
            ):
                block = {**block, "input": {}}
            out.append(block)
        return out

    @property
    def thinking(self) -> str:
        """The readable thinking text of the reply (empty if omitted or redacted)."""
        return "".join(
            str(b.get("thinking", "")) for b in self.blocks or [] if b.get("type") == "thinking"
        )


TextSink = Callable[[str], None]


class Model(Protocol):
    """A chat model that can call tools.

    A backend that streams thinking sets ``streams_thinking = True`` and takes an extra
    ``on_thinking`` sink in ``complete``; one that knows its limits exposes ``context_window``,
    ``max_output`` and ``default_max_tokens`` (the agent reads them when present).
    """

    name: str
    price: Price

    def complete(self, request: Request, on_text: TextSink | None = None) -> Reply:
        """Answer one request; stream text deltas to ``on_text`` as they arrive."""
        ...
