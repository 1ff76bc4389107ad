"""A pattern's outline: a Perl-compatible expression git grep can run that matches every plain
line the pattern matches (and perhaps more): it lists the files a search must read, and, when
nothing was widened (``Outline.exact``), counts their matching lines itself.

A plain line holds only printable ASCII, tabs, vertical tabs and form feeds. On such lines the
``regex`` engine's classes, case folding and anchors are plain byte rules, so the outline spells
each character of the pattern out as the exact set of plain characters it matches; what it
cannot spell (lookarounds, back-references, ``\\B``) is widened, never narrowed. Files with any
other byte are read whatever git says (see ``NOT_PLAIN``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from agent_magic.analysis.regexparse import BEYOND_ASCII, parse_pattern

PLAIN = "\t\x0b\x0c" + "".join(chr(c) for c in range(0x20, 0x7F))
# A byte no plain line holds (a line break ends a line and is not in it). Spelled as the bytes
# it takes rather than the ones it leaves: git grep runs it five times faster so.
NOT_PLAIN = rb"[\x00-\x08\x0d-\x1f\x7f-\xff]"
# Larger repeat counts are widened to "at least this many": PCRE2 compiles a counted repeat
# into copies of its body, and git refuses an expression that grows too large.
_MAX_COUNT = 255
_CATEGORIES = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
}
# The non-ASCII letters case folding pairs with an ASCII one (see regexparse.BEYOND_ASCII).
_FOLDS = {"i": BEYOND_ASCII[:2], "k": BEYOND_ASCII[2:3], "s": BEYOND_ASCII[3:4]}


@dataclass(frozen=True)
class Outline:
    """A Perl-compatible expression (bytes, no UTF mode) matching at least every plain line
    the pattern matches; ``exact``: exactly those (nothing was widened)."""

    pcre: bytes
    exact: bool = False


class _Unsure(Exception):
    """A part of the pattern the outline cannot spell out or widen."""


def outline(pattern: str) -> Outline | None:
    """The outline of ``pattern`` (see the module); None when the pattern does not parse as
    the ``regex`` engine reads it, or holds what the outline cannot widen."""
    read = parse_pattern(pattern)
    if read is None:
        return None
    parser, parsed = read
    fold = bool(parsed.state.flags & re.IGNORECASE)
    try:
        body = _spell(parser, list(parsed), fold)
    except _Unsure:
        return None
    # ASCII-only folding pairs no non-ASCII letter with a plain one: spelled with them, wider
    ascii_fold = fold and bool(parsed.state.flags & re.ASCII)
    exact = not ascii_fold and _exact(parser, list(parsed), fold)
    # Lines end at LF only, whatever newline convention the PCRE2 library was built with: with
    # ANY (a build option), "." would not match a vertical tab or form feed of a plain line.
    return Outline(b"(*LF)" + body.encode("ascii"), exact=exact)


def _exact(p: ModuleType, items: list[Any], fold: bool) -> bool:
    """Whether ``_spell`` widens nothing of ``items``: on plain lines the outline then matches
    exactly the lines the pattern does."""
    for op, value in items:
        if op in (p.LITERAL, p.ANY):
            continue
        if op in (p.NOT_LITERAL, p.IN):
            if fold and (op == p.NOT_LITERAL or (value and value[0][0] == p.NEGATE)):
                return False  # spelled as any character
        elif op in (p.MAX_REPEAT, p.MIN_REPEAT):
            low, high, body = value
            counted = high if high != p.MAXREPEAT else low
            if max(low, counted) > _MAX_COUNT or not _exact(p, list(body), fold):
                return False
        elif op == p.SUBPATTERN:
            _group, add, remove, body = value
            inner = (fold or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            if (add | remove) & re.ASCII or not _exact(p, list(body), inner):
                return False
        elif op == p.BRANCH:
            if not all(_exact(p, list(b), fold) for b in value[1]):
                return False
        elif op == p.AT:
            if _anchor(p, value) == "":
                return False  # left out
        else:
            return False  # lookarounds, back-references, atomic and possessive: widened
    return True


def _spell(p: ModuleType, items: list[Any], fold: bool) -> str:
    out: list[str] = []
    for op, value in items:
        if op == p.LITERAL:
            out.append(_chars(_matching(chr(value), fold)))
        elif op == p.NOT_LITERAL:
            out.append("." if fold else _chars(_PLAIN_SET - {chr(value)}))
        elif op == p.ANY:
            out.append(".")
        elif op == p.IN:
            out.append(_chars(_members(p, value, fold)))
        elif op in (p.MAX_REPEAT, p.MIN_REPEAT, getattr(p, "POSSESSIVE_REPEAT", p.MAX_REPEAT)):
            low, high, body = value
            low = min(low, _MAX_COUNT)
            top = "" if high == p.MAXREPEAT or high > _MAX_COUNT else str(high)
            spelled = _spell(p, list(body), fold)
            # One character repeated stays a plain repeat: PCRE's JIT runs it without a stack
            # (a group repeated pushes a frame per step and runs out on long lines).
            atom = len(body) == 1 and body[0][0] in (p.LITERAL, p.NOT_LITERAL, p.ANY, p.IN)
            out.append(f"{spelled if atom else f'(?:{spelled})'}{{{low},{top}}}")
        elif op == p.SUBPATTERN:
            _group, add, remove, body = value
            inner = (fold or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            out.append(f"(?:{_spell(p, list(body), inner)})")
        elif op == getattr(p, "ATOMIC_GROUP", None):
            out.append(f"(?:{_spell(p, list(value), fold)})")
        elif op == p.BRANCH:
            out.append("(?:" + "|".join(_spell(p, list(b), fold) for b in value[1]) + ")")
        elif op == p.AT:
            out.append(_anchor(p, value))
        elif op in (p.ASSERT, p.ASSERT_NOT):
            continue  # a lookaround only narrows: left out, the outline is wider
        elif op == p.GROUPREF:
            out.append(".*")  # the group's text, whatever it was, is some text of the line
        elif op == p.GROUPREF_EXISTS:
            _group, yes, no = value
            branches = [_spell(p, list(yes), fold), _spell(p, list(no), fold) if no else ""]
            out.append("(?:" + "|".join(branches) + ")")
        else:
            raise _Unsure(op)
    return "".join(out)


def _anchor(p: ModuleType, where: Any) -> str:
    # A line alone: its start and end are the text's, with or without MULTILINE.
    if where in (p.AT_BEGINNING, p.AT_BEGINNING_STRING):
        return "^"
    if where in (p.AT_END, p.AT_END_STRING):
        return "$"
    if where == p.AT_BOUNDARY:
        return r"\b"  # word characters of plain lines: [A-Za-z0-9_] for both engines
    return ""  # \B (and what else may come): left out, wider


_PLAIN_SET = frozenset(PLAIN)


def _variants(char: str, fold: bool) -> tuple[str, ...]:
    """What a plain ``char`` matches: itself and, with ``fold``, its other cases (plain
    characters' cases are single characters)."""
    if not fold:
        return (char,)
    lower = char.lower()
    return (char, lower, char.upper(), *_FOLDS.get(lower, ()))


@cache
def _matching(char: str, fold: bool) -> frozenset[str]:
    """The plain characters a literal ``char`` of the pattern matches."""
    return frozenset(c for c in PLAIN if char in _variants(c, fold))


def _members(p: ModuleType, items: Any, fold: bool) -> frozenset[str]:
    """The plain characters a class (``[...]``, ``\\d``...) matches."""
    items = list(items)
    negate = bool(items) and items[0][0] == p.NEGATE
    if negate and (fold or _complements(p, items)):
        # Folding a negated class has its own rules; and the `regex` engine reads a negated
        # class holding a category and its complement ([^\s\S]) as any character, not none.
        return _PLAIN_SET  # any character: wider
    tests = [_member_test(p, op, value) for op, value in items[negate:]]
    found = frozenset(c for c in PLAIN if any(t(v) for t in tests for v in _variants(c, fold)))
    return _PLAIN_SET - found if negate else found


def _complements(p: ModuleType, items: list[Any]) -> bool:
    """Whether a class holds a category and its complement (\\d and \\D, say)."""
    names = {str(value) for op, value in items if op == p.CATEGORY}
    return any(name.replace("_NOT_", "_") in names for name in names if "_NOT_" in name)


def _member_test(p: ModuleType, op: Any, value: Any) -> Any:
    if op == p.LITERAL:
        return lambda c: ord(c) == value
    if op == p.RANGE:
        low, high = value
        return lambda c: low <= ord(c) <= high
    if op == p.CATEGORY and str(value) in _CATEGORIES:
        matcher = _category(str(value))
        return lambda c: matcher(c) is not None
    raise _Unsure(op, value)


@cache
def _category(name: str) -> Any:
    import regex  # the search has imported it already

    return regex.compile(_CATEGORIES[name]).fullmatch


def _chars(members: frozenset[str]) -> str:
    """A PCRE class of exactly ``members`` (all plain characters: any character)."""
    if not members:
        return "(?!)"  # nothing on a plain line
    if members == _PLAIN_SET:
        return "."
    codes = sorted(ord(c) for c in members)
    if len(codes) == 1:
        return f"\\x{codes[0]:02x}"
    runs: list[str] = []
    start = prev = codes[0]
    for code in [*codes[1:], -1]:
        if code == prev + 1:
            prev = code
            continue
        runs.append(f"\\x{start:02x}" if start == prev else f"\\x{start:02x}-\\x{prev:02x}")
        start = prev = code
    return "[" + "".join(runs) + "]"
