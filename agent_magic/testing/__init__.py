"""Helpers shipped for tests and offline demos: a strict fake Messages API server and a client for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_magic.testing.cache_accounting import CacheUsage, PromptCache, Segment, request_segments
from agent_magic.testing.validate import Rejected

if TYPE_CHECKING:
    import anthropic

    from agent_magic.testing.fake_api import FakeAnthropic

__all__ = [
    "CacheUsage",
    "FakeAnthropic",
    "PromptCache",
    "Rejected",
    "Segment",
    "fake_client",
    "request_segments",
]


def __getattr__(name: str) -> Any:
    # Imported on first use, so `python -m agent_magic.testing.fake_api` does not find the module
    # already imported by its package (runpy then warns).
    if name == "FakeAnthropic":
        from agent_magic.testing.fake_api import FakeAnthropic

        return FakeAnthropic
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def fake_client(
    server: FakeAnthropic, *, max_retries: int = 2, **kwargs: Any
) -> anthropic.Anthropic:
    """A real ``anthropic.Anthropic`` client pointed at a running fake server."""
    import anthropic

    kwargs.setdefault("api_key", server.api_key or "test-key")
    kwargs.setdefault("timeout", 30.0)
    return anthropic.Anthropic(base_url=server.base_url, max_retries=max_retries, **kwargs)
