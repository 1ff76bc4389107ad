"""How the stdlib's parser reads a pattern the search runs on the ``regex`` engine: the first
passes (texts, line finding, outlines) read patterns through it."""

from __future__ import annotations

import importlib
import math
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
_COUNTS = re.compile(r"\{(\d+)")


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


def required_copies(pattern: str) -> int:
    """How many parts the `regex` engine lays out to compile ``pattern``: a repeat's body
    counts its minimum number of times, nested repeats multiply. The engine compiles in C,
    holding the GIL, in time in proportion (a quarter of a second per million: ``a{20000000}``
    freezes the kernel for five seconds). Read from the counts in the text (all multiplied, an
    over-estimate) when the stdlib parser cannot read the pattern."""
    read = parse_pattern(pattern)
    if read is None:
        return math.prod(max(int(c), 1) for c in _COUNTS.findall(pattern))
    return _copies(*read)


def _copies(p: ModuleType, items: Any) -> int:
    total = 0
    for op, value in items:
        if op in (p.MAX_REPEAT, p.MIN_REPEAT, getattr(p, "POSSESSIVE_REPEAT", p.MAX_REPEAT)):
            low, _high, body = value
            total += max(low, 1) * _copies(p, body)
        elif op == p.SUBPATTERN:
            total += _copies(p, value[3])
        elif op == p.BRANCH:
            total += sum(_copies(p, branch) for branch in value[1])
        elif op in (p.ASSERT, p.ASSERT_NOT):
            total += _copies(p, value[1])
        elif op == getattr(p, "ATOMIC_GROUP", None):
            total += _copies(p, value)
        elif op == p.GROUPREF_EXISTS:
            _group, yes, no = value
            total += _copies(p, yes) + (_copies(p, no) if no else 0)
        else:
            total += 1
    return total
