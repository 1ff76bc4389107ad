"""Model backends behind one small protocol; `load_model` turns a spec string into one."""

from __future__ import annotations

from agent_magic.errors import UserError
from agent_magic.models.base import FREE, Model, Price, Reply, Request, ToolCall, Usage

__all__ = ["FREE", "Model", "Price", "Reply", "Request", "ToolCall", "Usage", "load_model"]


def load_model(spec: str | Model | None = None) -> Model:
    """Build a model from a spec: ``claude-...`` / ``anthropic:NAME``, ``scripted:PATH``.

    ``None`` or ``""`` means the default Anthropic model. A Model object is returned as is.
    """
    if spec is not None and not isinstance(spec, str):
        return spec
    spec = (spec or "").strip()
    kind, _, rest = spec.partition(":")
    if kind == "scripted":
        from agent_magic.models.scripted import ScriptedModel

        if not rest:
            raise UserError("scripted model needs a script path: model='scripted:PATH'")
        return ScriptedModel(rest, name=f"scripted:{rest}")
    if kind in ("openai", "gguf"):
        from agent_magic.models import local

        return local.load(kind, rest)
    if kind == "anthropic":
        spec = rest
    elif rest and not spec.startswith("claude"):
        raise UserError(
            f"unknown model {spec!r}: use a Claude model name, 'anthropic:NAME', "
            "'scripted:PATH', 'openai:URL/MODEL' or 'gguf:PATH'"
        )
    from agent_magic.models.anthropic import AnthropicModel

    return AnthropicModel(spec or None)
