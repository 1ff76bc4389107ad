"""How the stdlib's parser reads a pattern the search runs on the ``regex`` engine: the first
passes (texts, line finding, outlines) read patterns through it."""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import Any

# What the `regex` engine reads differently from `re`, whose parser the passes use: fuzzy
# matching ({e<=1}) and POSIX classes ([[:alpha:]]). Such patterns get no first pass.
_OTHER_SYNTAX = re.compile(r"\{(?!\d*,?\d*\})|\[:")
# The non-ASCII letters a case-insensitive `regex`/`re` match pairs with an ASCII one (dotted and
# dotless i, the Kelvin sign, the long s): ASCII folding misses them, so a file or line holding
# one is always searched when a folded text has an i, k or s.
BEYOND_ASCII = ("\u0130", "\u0131", "\u212a", "\u017f")


def _reads_like_re() -> bool:
    """Whether the `regex` engine reads patterns as `re` does: its default version is a
    process-wide setting, and VERSION1 has nested sets and full case folding (ß is ss)."""
    import regex  # the search has imported it already

    return bool(regex.DEFAULT_VERSION == regex.VERSION0)


def _re_parser() -> ModuleType:
    # The parser behind re.compile: a stdlib detail (its name changed in 3.11), hence guarded.
    return importlib.import_module("re._parser")


def parse_pattern(pattern: str) -> tuple[ModuleType, Any] | None:
    """``pattern`` as the stdlib parser reads it (with the parser), or None when the `regex`
    engine may read it otherwise (its own syntax, VERSION1) or it does not parse: no pass."""
    if _OTHER_SYNTAX.search(pattern) or not _reads_like_re():
        return None
    try:
        parser = _re_parser()
        return parser, parser.parse(pattern)
    except Exception:  # noqa: BLE001 - any failure just means no first pass
        return None
