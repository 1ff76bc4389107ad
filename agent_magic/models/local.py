"""Model specs for local backends: ``openai:URL/MODEL`` and ``gguf:PATH``.

Both accept an optional ``?n_ctx=N`` suffix that sets the context window instead of asking the
server (or the GGUF file) for it.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from agent_magic.errors import UserError
from agent_magic.models.base import Model

KEY_VARIABLES = ("AGENT_MAGIC_OPENAI_KEY", "OPENAI_API_KEY")
INSTALL_HINT = "pip install 'agent-magic[local]'  (or: pip install llama-cpp-python)"


@dataclass(frozen=True)
class OpenAISpec:
    """An ``openai:`` spec split into its parts."""

    base_url: str
    model: str
    context_window: int | None = None


def split_options(rest: str) -> tuple[str, int | None]:
    """Split a trailing ``?n_ctx=N`` off a spec; other options are a user error."""
    head, sep, query = rest.partition("?")
    if not sep:
        return rest, None
    key, _, value = query.partition("=")
    if key != "n_ctx" or not value.isdigit() or int(value) <= 0:
        raise UserError(
            f"unknown model option {query!r}: the only option is ?n_ctx=N (a positive "
            "number of tokens)"
        )
    return head, int(value)


def parse_openai_spec(rest: str) -> OpenAISpec:
    """``http://host:port/v1/MODEL`` → base URL and model name.

    The model is what follows ``/v1/`` (so ``Qwen/Qwen2.5-7B`` keeps its slash), else the last
    path segment.
    """
    url, window = split_options(rest.strip())
    usage = "use model='openai:http://HOST:PORT/v1/MODEL'"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"openai model needs an http(s) URL ending in the model name: {usage}")
    path = parts.path.rstrip("/")
    base_path, marker, model = path.partition("/v1/")
    if marker:
        base_path += "/v1"
    else:
        base_path, _, model = path.rpartition("/")
    if not model or (not marker and model == "v1"):
        raise UserError(f"openai model spec {url!r} has no model name at the end: {usage}")
    return OpenAISpec(f"{parts.scheme}://{parts.netloc}{base_path}", model, window)


def api_key_from_env(environ: dict[str, str] | None = None) -> str | None:
    """The key for OpenAI-compatible servers, if one is set (most local servers need none)."""
    env = os.environ if environ is None else environ
    return next((env[name] for name in KEY_VARIABLES if env.get(name)), None)


def load(kind: str, rest: str) -> Model:
    """Build a local backend from the part of a model spec after ``openai:`` or ``gguf:``."""
    if kind == "openai":
        from agent_magic.models.openai_compat import OpenAICompatModel

        spec = parse_openai_spec(rest)
        return OpenAICompatModel(
            spec.base_url,
            spec.model,
            api_key=api_key_from_env(),
            context_window=spec.context_window,
        )
    if kind == "gguf":
        path_text, window = split_options(rest.strip())
        if not path_text:
            raise UserError("gguf model needs a file path: model='gguf:/path/model.gguf'")
        path = Path(path_text).expanduser()
        if not path.is_file():
            raise UserError(f"GGUF model file not found: {path}")
        if importlib.util.find_spec("llama_cpp") is None:
            raise UserError(
                f"gguf models need llama-cpp-python, which is not installed: {INSTALL_HINT}"
            )
        from agent_magic.models.gguf import GGUFModel

        return GGUFModel(path, n_ctx=window)
    raise UserError(f"unknown local model kind {kind!r}: use 'openai:URL/MODEL' or 'gguf:PATH'")
