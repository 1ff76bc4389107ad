"""Prompt-cache accounting the way the Messages API documents it, for the fake server.

A request is a sequence of blocks in the order tools -> system -> messages. Blocks marked with
``cache_control`` are breakpoints. The longest prefix ending at a block boundary (at or up to
``lookback`` blocks before a breakpoint) that an earlier request cached is a cache read; the rest
up to the last breakpoint is a cache write; what follows the last breakpoint is plain input.
Prefixes shorter than ``min_tokens`` (the model's minimum cacheable prompt) are not cached. An
entry lives 5 minutes (``"ttl": "1h"``: an hour) after it was last written or read, on a clock
the caller controls.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent_magic.tokens import estimate_tokens

MAX_BREAKPOINTS = 4
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


@dataclass(frozen=True)
class Segment:
    """One block of a request: its identity for caching, its size, whether it is a breakpoint."""

    key: str
    tokens: int
    breakpoint: bool = False
    ttl: str = "5m"


@dataclass(frozen=True)
class CacheUsage:
    """The three input counts the API reports; they add up to the whole prompt."""

    input_tokens: int
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_write_1h_tokens: int = 0  # the part of cache_creation_input_tokens kept for an hour

    def wire(self) -> dict[str, object]:
        """The usage fields of a response, with the ``cache_creation`` breakdown by TTL."""
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_creation_input_tokens
                - self.cache_write_1h_tokens,
                "ephemeral_1h_input_tokens": self.cache_write_1h_tokens,
            },
        }


class BadRequest(ValueError):
    """A request the real API would reject with 400 invalid_request_error."""


def request_segments(body: dict[str, Any]) -> list[Segment]:
    """Split a Messages API request body into cacheable blocks, in cache order."""
    segments = [_segment("tool", tool) for tool in body.get("tools") or []]
    system = body.get("system")
    if isinstance(system, str):
        if system:
            segments.append(_segment("system", {"type": "text", "text": system}))
    elif isinstance(system, list):
        segments += [_segment("system", block) for block in system]
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        for j, block in enumerate(content or []):
            segments.append(_segment(f"{message.get('role')}:{j == 0}", block))
    count = sum(s.breakpoint for s in segments)
    if count > MAX_BREAKPOINTS:
        raise BadRequest(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {count}."
        )
    return segments


def _segment(kind: str, block: Any) -> Segment:
    if not isinstance(block, dict):
        raise BadRequest(f"{kind.split(':')[0]} blocks must be objects, got {type(block).__name__}")
    control = block.get("cache_control")
    marked = control is not None
    ttl = control.get("ttl", "5m") if isinstance(control, dict) else "5m"
    if ttl not in TTL_SECONDS:
        raise BadRequest(f"cache_control.ttl: Input should be '5m' or '1h', got {ttl!r}")
    if marked and block.get("type") == "text" and not block.get("text"):
        raise BadRequest("cache_control cannot be set for empty text blocks")
    # The marker itself is not part of the cached content: moving a breakpoint keeps the prefix.
    plain = {k: v for k, v in block.items() if k != "cache_control"}
    key = json.dumps([kind, plain], sort_keys=True, default=str)
    return Segment(key=key, tokens=estimate_tokens(plain), breakpoint=marked, ttl=ttl)


class PromptCache:
    """The prefixes earlier requests cached; ``account`` prices one request and caches its prefixes."""

    def __init__(
        self,
        *,
        min_tokens: int = 1024,
        lookback: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_tokens = min_tokens
        self.lookback = lookback
        self.clock = clock
        self._expiry: dict[str, tuple[float, float]] = {}  # prefix hash -> (expires at, ttl)

    def account(self, segments: list[Segment], *, min_tokens: int | None = None) -> CacheUsage:
        """Split the request's tokens into plain input, cache write and cache read."""
        minimum = self.min_tokens if min_tokens is None else min_tokens
        now = self.clock()
        hashes, ends = _prefix_hashes(segments)
        total = ends[-1] if ends else 0
        breakpoints = [i for i, s in enumerate(segments) if s.breakpoint]
        if not breakpoints:
            return CacheUsage(input_tokens=total)
        candidates: set[int] = set()
        for b in breakpoints:
            candidates.update(range(max(0, b - self.lookback), b + 1))
        hits = [i for i in candidates if self._alive(hashes[i], now)]
        read_end = max(hits, default=-1)
        read = ends[read_end] if read_end >= 0 else 0
        if read_end >= 0:  # a read refreshes the entry's lifetime
            self._expiry[hashes[read_end]] = (
                now + self._expiry[hashes[read_end]][1],
                self._expiry[hashes[read_end]][1],
            )
        last = breakpoints[-1]
        write = ends[last] - read if read_end < last and ends[last] >= minimum else 0
        long_write = 0
        for b in breakpoints:
            if ends[b] >= minimum:
                ttl = TTL_SECONDS[segments[b].ttl]
                self._expiry[hashes[b]] = (now + ttl, ttl)
        if write and segments[last].ttl == "1h":
            long_write = write
        return CacheUsage(total - read - write, write, read, long_write)

    def _alive(self, digest: str, now: float) -> bool:
        entry = self._expiry.get(digest)
        if entry is None:
            return False
        if entry[0] <= now:
            del self._expiry[digest]
            return False
        return True


def _prefix_hashes(segments: list[Segment]) -> tuple[list[str], list[int]]:
    hashes: list[str] = []
    ends: list[int] = []
    digest = hashlib.sha256()
    tokens = 0
    for segment in segments:
        digest.update(segment.key.encode())
        digest.update(b"\0")
        hashes.append(digest.copy().hexdigest())
        tokens += segment.tokens
        ends.append(tokens)
    return hashes, ends
