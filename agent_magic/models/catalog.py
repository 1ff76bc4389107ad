"""What each Claude model accepts: output limit, context window, cache minimum, thinking, sampling.

One table serves the backend (default ``max_tokens``, the context window the conversation must
fit, which thinking/effort settings to send) and the fake server (which requests to refuse).
Sources, read 2026-11-26: platform.claude.com model overview pages ("Context window", "Max
output", "Thinking", "Default effort"), "Troubleshooting thinking" (thinking types each model
rejects with 400), the Opus 5.5 / Sonnet 5.5 migration guides (thinking can't be disabled;
``between_tools`` replaces ``disabled`` on Sonnet 5.5; forced tool use is an error; text between
tool calls comes back in ``thinking`` blocks, empty at the default ``display``), and the prompt
caching page (minimum cacheable prompt per model). Where a page did not state a value for a
model (cache minimum of the 5.5 and 5.2 models) the predecessor's value is used, marked ``*``.
"""

from __future__ import annotations

from dataclasses import dataclass

K = 1000
EFFORTS = ("low", "medium", "high", "xhigh", "max")


@dataclass(frozen=True)
class ModelSpec:
    """The limits and switches of one model id."""

    id: str
    context_window: int
    max_output: int
    min_cache_tokens: int
    # "always": adaptive, cannot be turned off; "on": adaptive by default; "off": opt-in;
    # "extended": only the legacy {"type": "enabled", "budget_tokens": N} mode.
    thinking: str
    rejects: frozenset[str] = frozenset()  # thinking.type values answered with 400
    default_effort: str | None = None  # None: the model takes no output_config.effort
    sampling: bool = False  # temperature/top_p/top_k accepted at non-default values
    forced_tools: bool = True  # tool_choice any/tool accepted
    omits_thinking_text: bool = False  # thinking text is empty unless display="summarized"
    disable_max_effort: str = "max"  # highest effort at which thinking may be disabled

    @property
    def thinks_by_default(self) -> bool:
        """True if a request without ``thinking`` gets thinking blocks."""
        return self.thinking in ("always", "on")

    def off_type(self) -> str | None:
        """The ``thinking.type`` that turns thinking off on this model, or None if none does."""
        for kind in ("between_tools", "disabled"):
            if kind not in self.rejects:
                return kind
        return None


# Only Sonnet 5.5 accepts "between_tools" (instead of "disabled").
_ADAPTIVE_ONLY = frozenset({"enabled", "between_tools"})
_ALWAYS = frozenset({"enabled", "disabled", "between_tools"})
_EXTENDED = frozenset({"adaptive", "between_tools"})
_M = 1_000_000


def _specs() -> list[ModelSpec]:
    always: dict = {
        "context_window": _M,
        "max_output": 128 * K,
        "thinking": "always",
        "rejects": _ALWAYS,
        "forced_tools": False,
        "omits_thinking_text": True,
    }
    return [
        ModelSpec("claude-fable-5-2", min_cache_tokens=512, default_effort="high", **always),  # *
        ModelSpec("claude-mythos-5-2", min_cache_tokens=512, default_effort="high", **always),  # *
        ModelSpec("claude-fable-5-1", min_cache_tokens=512, default_effort="high", **always),
        ModelSpec("claude-mythos-5-1", min_cache_tokens=512, default_effort="high", **always),
        ModelSpec("claude-opus-5-5", min_cache_tokens=512, default_effort="medium", **always),  # *
        ModelSpec(
            "claude-sonnet-5-5",
            _M,
            128 * K,
            1024,
            "on",  # *
            rejects=frozenset({"enabled", "disabled"}),
            default_effort="high",
            forced_tools=False,
            omits_thinking_text=True,
        ),
        ModelSpec(
            "claude-haiku-5-5",
            _M,
            128 * K,
            1024,
            "on",
            rejects=_ADAPTIVE_ONLY,  # *
            default_effort="medium",
            forced_tools=False,
            omits_thinking_text=True,
        ),
        ModelSpec("claude-fable-5", _M, 128 * K, 512, "always", _ALWAYS, "high"),
        ModelSpec("claude-mythos-5", _M, 128 * K, 512, "always", _ALWAYS, "high"),
        ModelSpec(
            "claude-opus-5",
            _M,
            128 * K,
            512,
            "on",
            _ADAPTIVE_ONLY,
            "high",
            disable_max_effort="high",
        ),
        ModelSpec("claude-sonnet-5", _M, 128 * K, 1024, "on", _ADAPTIVE_ONLY, "high"),
        ModelSpec("claude-opus-4-8", _M, 128 * K, 1024, "off", _ADAPTIVE_ONLY, "high"),
        ModelSpec("claude-opus-4-7", _M, 128 * K, 2048, "off", _ADAPTIVE_ONLY, "high"),
        ModelSpec(
            "claude-mythos-preview",
            _M,
            128 * K,
            512,
            "always",
            frozenset({"disabled", "between_tools"}),
            "high",
        ),
        ModelSpec(
            "claude-opus-4-6",
            _M,
            128 * K,
            4096,
            "off",
            frozenset({"between_tools"}),
            "high",
            sampling=True,
        ),
        ModelSpec(
            "claude-sonnet-4-6",
            _M,
            64 * K,
            1024,
            "off",
            frozenset({"between_tools"}),
            "high",
            sampling=True,
        ),
        ModelSpec(
            "claude-opus-4-5", 200 * K, 64 * K, 4096, "extended", _EXTENDED, "high", sampling=True
        ),
        ModelSpec("claude-sonnet-4-5", 200 * K, 64 * K, 1024, "extended", _EXTENDED, sampling=True),
        ModelSpec("claude-haiku-4-5", 200 * K, 64 * K, 4096, "extended", _EXTENDED, sampling=True),
    ]


CATALOG: dict[str, ModelSpec] = {spec.id: spec for spec in _specs()}
_DATED = {
    "claude-haiku-4-5-20251001": "claude-haiku-4-5",
    "claude-opus-4-5-20251101": "claude-opus-4-5",
    "claude-sonnet-4-5-20250929": "claude-sonnet-4-5",
}


def spec_for(model: str) -> ModelSpec | None:
    """The spec of a model id (dated snapshots resolve to their alias); None if unknown."""
    return CATALOG.get(_DATED.get(model, model))


def default_max_tokens(model: str) -> int:
    """A ``max_tokens`` that leaves room for thinking and a large edit, within the model's limit.

    Not the model's maximum: the hard cost budget prices every call as if it used all of it.
    """
    spec = spec_for(model)
    return min(spec.max_output, 32 * K) if spec else 8192
