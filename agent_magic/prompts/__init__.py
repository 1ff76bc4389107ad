"""Prompt templates are data files next to this module; `render` fills their {placeholders}."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

_COMMENT = re.compile(r"<!--.*?-->\s*", re.DOTALL)


@cache
def template(name: str) -> str:
    """The text of ``prompts/<name>.md``, without HTML comments (notes for maintainers)."""
    text = resources.files(__name__).joinpath(f"{name}.md").read_text(encoding="utf-8")
    return _COMMENT.sub("", text)


def render(name: str, **values: Any) -> str:
    """Fill a template's ``{placeholders}``; values are inserted verbatim (braces in them are safe)."""
    return template(name).format_map(values).strip()
