"""A fast first pass for the search tool: literals every match must contain, and git grep.

The search tool's answer is always the Python ``regex`` engine's, line by line. This module only
tells which files cannot hold a match, so the tool reads fewer of them: a pattern's required
literal text (a run of plain characters outside any group, alternation or repeat) must be on
the matching line, hence in the file's bytes, which ``git grep -F`` finds in one pass over the
work tree without starting Python's path checks for every file.
"""

from __future__ import annotations

import importlib
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

MIN_LITERAL = 3  # shorter runs are in most files: a pass with them saves nothing
# Plain printable ASCII: the same bytes in UTF-8 and in every ASCII-compatible encoding.
_PLAIN = frozenset(chr(c) for c in range(0x20, 0x7F))
# What the `regex` engine reads differently from `re`, whose parser finds the literals: fuzzy
# matching ({e<=1}) and POSIX classes ([[:alpha:]]). Such patterns get no first pass.
_OTHER_SYNTAX = re.compile(r"\{(?!\d*,?\d*\})|\[:")
# Files whose text is not their bytes read as UTF-8: a byte-order mark (UTF-16/32) or a
# declared encoding (PEP 263). They are always searched, whatever git grep says.
_DECODED_MARKERS = (b"\xff\xfe", b"\xfe\xff", b"coding")
GIT_SECONDS = 20.0


def _re_parser() -> ModuleType:
    # The parser behind re.compile: a stdlib detail (its name changed in 3.11), hence guarded.
    return importlib.import_module("re._parser")


# ASCII letters that a case-insensitive `regex`/`re` match also pairs with a non-ASCII letter
# (the Kelvin sign, the long s, dotted and dotless i): byte-wise ASCII folding would miss those.
_FOLDS_BEYOND_ASCII = frozenset("iksIKS")


def required_literals(pattern: str) -> list[str]:
    """Plain texts every match of ``pattern`` contains (longest first); [] when unsure.

    Only top-level runs of literal characters count; a case-insensitive pattern, a parse
    error or syntax only the ``regex`` engine knows yields [] (search every file).
    """
    return _literals(pattern, ignore_case=False)


def folded_literals(pattern: str) -> list[str]:
    """For a case-insensitive ``pattern``: lower-case texts every match contains in some case.

    Only literals whose letters have no non-ASCII case partner count (no i, k or s), so a
    line holds a match's text exactly when its ASCII-lower-cased form holds the literal, which
    is what ``git grep -i -F`` and ``str.lower`` find; [] otherwise, or when case matters.
    """
    return [t.lower() for t in _literals(pattern, ignore_case=True)]


def _literals(pattern: str, *, ignore_case: bool) -> list[str]:
    if _OTHER_SYNTAX.search(pattern):
        return []
    try:
        _parser = _re_parser()
        parsed = _parser.parse(pattern)
    except Exception:  # noqa: BLE001 - any failure just means no first pass
        return []
    if bool(parsed.state.flags & re.IGNORECASE) != ignore_case:
        return []
    runs: list[str] = []
    current: list[str] = []
    for op, value in list(parsed):
        char = chr(value) if op == _parser.LITERAL else ""
        if char and char in _PLAIN:
            current.append(char)
            continue
        runs.append("".join(current))
        current = []
    runs.append("".join(current))
    if ignore_case:
        runs = [r for r in runs if not _FOLDS_BEYOND_ASCII.intersection(r)]
    # longest first; equal lengths by text, so the order never depends on string hashing
    found = sorted({r for r in runs if len(r) >= MIN_LITERAL}, key=lambda r: (-len(r), r))
    return found


TAME_LINE = 1_000  # a tame pattern's worst case on a line this long is a few milliseconds


def is_tame(pattern: str) -> bool:
    """Whether ``pattern`` cannot backtrack badly: no backreference and at most one repeat,
    of a single character or class. On lines up to TAME_LINE characters the search then needs
    no per-line time bound (which costs more than the match itself)."""
    if _OTHER_SYNTAX.search(pattern):
        return False
    try:
        _parser = _re_parser()
        parsed = _parser.parse(pattern)
    except Exception:  # noqa: BLE001 - unknown means not tame
        return False
    repeats = _repeats(_parser, parsed)
    return repeats is not None and repeats <= 1


def _repeats(parser: ModuleType, items: Any) -> int | None:
    """How many repeats ``items`` hold; None if one repeats more than one character or the
    pattern refers back to a group (or holds anything this walk does not know)."""
    p = parser
    single = {p.LITERAL, p.NOT_LITERAL, p.ANY, p.IN, p.CATEGORY}
    leaf = single | {p.AT}
    repeat = {p.MAX_REPEAT, p.MIN_REPEAT, getattr(p, "POSSESSIVE_REPEAT", p.MAX_REPEAT)}
    count = 0
    for op, value in list(items):
        if op in leaf:
            continue
        if op in repeat:
            body = list(value[2])
            if len(body) != 1 or body[0][0] not in single:
                return None
            count += 1
        elif op == p.SUBPATTERN:
            inner = _repeats(p, value[3])
            if inner is None:
                return None
            count += inner
        elif op == p.BRANCH:
            for alternative in value[1]:
                inner = _repeats(p, alternative)
                if inner is None:
                    return None
                count += inner
        elif op in (p.ASSERT, p.ASSERT_NOT):
            inner = _repeats(p, value[1])
            if inner is None:
                return None
            count += inner
        else:
            return None
    return count


def files_without(
    root: Path, literals: Sequence[str], *, ignore_case: bool = False
) -> set[str] | None:
    """Files (posix, relative to ``root``) git searched in the work tree without all ``literals``
    (in any ASCII case with ``ignore_case``).

    Tracked and untracked-not-ignored files only; a file git reads from its index instead of
    the work tree (assume-unchanged, skip-worktree) or whose bytes are not plain UTF-8 text is
    never in the answer. None when ``root`` is not in a git work tree or git fails.
    """
    if not literals:
        return None
    listed = _git(root, ["ls-files", "-z", "-v", "-c", "-o", "--exclude-standard"])
    if listed is None:
        return None
    searched: set[str] = set()
    for entry in listed:
        tag, _, path = entry.partition(" ")
        if tag in ("H", "?") and path:
            searched.add(path)  # a plain tracked or untracked file, read from the work tree
        elif path:
            searched.discard(path)  # unmerged or flagged: git may read another version
    grep = ["grep", "-l", "-z", "-F", "--untracked", "--no-color", "--no-textconv"]
    fold = ["-i"] if ignore_case else []
    with_all = _git(root, [*grep, *fold, "--all-match", *_patterns([t.encode() for t in literals])])
    decoded = _git(root, [*grep, *_patterns(_DECODED_MARKERS)])
    if with_all is None or decoded is None:
        return None
    return searched - set(with_all) - set(decoded)


def _patterns(texts: Sequence[bytes]) -> list[str | bytes]:
    out: list[str | bytes] = []
    for text in texts:
        out += ["-e", text]
    return out


def _git(root: Path, args: Sequence[str | bytes]) -> list[str] | None:
    """git's NUL-separated output lines, or None on any failure (no match is not a failure)."""
    command: list[str | bytes] = [
        "git",
        # fsmonitor would run a program the repository's config names; grep settings in the
        # config would change what the patterns mean and how names are printed
        "-c",
        "core.fsmonitor=false",
        "-c",
        "grep.fullName=false",
        "-c",
        "grep.fallbackToNoIndex=false",
        "-c",
        "grep.threads=2",
        "-C",
        str(root),
        *args,
    ]
    try:
        proc = subprocess.run(
            command,
            capture_output=True,
            timeout=GIT_SECONDS,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and proc.stderr.strip()):
        return None
    names = proc.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    return [n for n in names if n]
