"""Prompt templates are data files next to this module; `render` fills their {placeholders}."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=None)
def template(name: str) -> str:
    """The text of ``prompts/<name>.md``."""
    return resources.files(__name__).joinpath(f"{name}.md").read_text(encoding="utf-8")


def render(name: str, **values: Any) -> str:
    """Fill a template's ``{placeholders}``; values are inserted verbatim (braces in them are safe)."""
    return template(name).format_map(values).strip()
