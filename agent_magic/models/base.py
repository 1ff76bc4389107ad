"""The Model protocol and the values that cross it.

Messages use the Anthropic Messages format as the one internal lingua franca:
``{"role": "user" | "assistant", "content": str | list[block]}`` with ``text``, ``tool_use`` and
``tool_result`` blocks. Backends for other APIs translate at their edge.
"""

from __future__ import annotations

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
    """US dollars per million tokens."""

    input: float = 0.0
    output: float = 0.0
    cache_write: float = 0.0
    cache_read: float = 0.0

    def cost(self, usage: Usage) -> float:
        """Dollars for the given usage."""
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
    caches prompts marks them (and the newest message) as cache breakpoints.
    """

    system: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    max_tokens: int = 4096


@dataclass
class Reply:
    """What the model answered: text, tool calls, why it stopped, what it cost in tokens."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    stop_reason: str = "end_turn"
    usage: Usage = field(default_factory=Usage)

    def content(self) -> list[dict[str, Any]]:
        """The reply as assistant content blocks, to append to the conversation."""
        blocks: list[dict[str, Any]] = []
        if self.text:
            blocks.append({"type": "text", "text": self.text})
        for call in self.tool_calls:
            blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.input})
        return blocks


TextSink = Callable[[str], None]


class Model(Protocol):
    """A chat model that can call tools."""

    name: str
    price: Price

    def complete(self, request: Request, on_text: TextSink | None = None) -> Reply:
        """Answer one request; stream text deltas to ``on_text`` as they arrive."""
        ...
