"""Pure diffing: unified hunks with stable ids, and rebuilding a file from a selection of hunks.

A hunk owns the change opcodes of ``difflib.SequenceMatcher`` that fall inside it, so applying a
selection never searches for context: every line comes either from ``before`` (unselected
changes and unchanged lines) or from ``after`` (selected changes). Adjacent hunks and hunks whose
context overlaps therefore combine exactly as a person would expect.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

NO_NEWLINE = "\\ No newline at end of file\n"


@dataclass(frozen=True)
class Hunk:
    """One selectable piece of a file's change; ``id`` is ``<path>#<n>`` or ``<path>#cell-<id>``."""

    id: str
    header: str
    text: str
    old_start: int = 0
    old_len: int = 0
    new_start: int = 0
    new_len: int = 0
    kind: str = "text"  # text | cell | order | file
    changes: tuple[tuple[int, int, int, int], ...] = ()  # (i1, i2, j1, j2) line ranges it owns


def lines_of(text: str) -> list[str]:
    """Lines of ``text`` each with its LF; the last one may lack it."""
    parts = text.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def _prefixed(prefix: str, line: str) -> str:
    return prefix + line if line.endswith("\n") else prefix + line + "\n" + NO_NEWLINE


def _range(start: int, length: int) -> str:
    # The unified-diff convention: an empty range names the line before it.
    return f"{start + 1 if length else start},{length}"


def text_hunks(path: str, before: str, after: str, context: int = 3) -> list[Hunk]:
    """The unified-diff hunks turning ``before`` into ``after``, numbered from 1."""
    a, b = lines_of(before), lines_of(after)
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    hunks: list[Hunk] = []
    for group in sm.get_grouped_opcodes(context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        header = f"@@ -{_range(i1, i2 - i1)} +{_range(j1, j2 - j1)} @@"
        body: list[str] = []
        changes = []
        for op, x1, x2, y1, y2 in group:
            if op == "equal":
                body += [_prefixed(" ", ln) for ln in a[x1:x2]]
                continue
            changes.append((x1, x2, y1, y2))
            body += [_prefixed("-", ln) for ln in a[x1:x2]]
            body += [_prefixed("+", ln) for ln in b[y1:y2]]
        hunks.append(
            Hunk(
                f"{path}#{len(hunks) + 1}",
                header,
                header + "\n" + "".join(body),
                i1 + 1,
                i2 - i1,
                j1 + 1,
                j2 - j1,
                "text",
                tuple(changes),
            )
        )
    return hunks


def apply_text_hunks(before: str, after: str, hunks: list[Hunk], selected: set[str]) -> str:
    """``before`` with exactly the changes of the selected hunks taken from ``after``."""
    a, b = lines_of(before), lines_of(after)
    picks = sorted(c for h in hunks if h.id in selected for c in h.changes)
    out: list[str] = []
    pos = 0
    for i1, i2, j1, j2 in picks:
        out += a[pos:i1]
        out += b[j1:j2]
        pos = i2
    out += a[pos:]
    text = "".join(out)
    # A kept last line that lost its newline because selected lines followed it.
    return _fix_joins(out) if any(not ln.endswith("\n") for ln in out[:-1]) else text


def _fix_joins(lines: list[str]) -> str:
    return "".join(
        ln if ln.endswith("\n") or i == len(lines) - 1 else ln + "\n" for i, ln in enumerate(lines)
    )


def file_header(path: str, old_path: str | None, status: str) -> str:
    """The ``---``/``+++`` lines of a unified diff; odd names are quoted the way git quotes them."""
    old = "/dev/null" if status == "added" else quote_path(f"a/{old_path or path}")
    new = "/dev/null" if status == "deleted" else quote_path(f"b/{path}")
    return f"--- {old}\n+++ {new}\n"


# Characters a terminal or browser would act on or hide: C0/C1 controls (escape sequences, carriage
# returns, backspaces), DEL, and the bidirectional overrides of "Trojan source" attacks.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\r": "\\r", "\b": "\\b", "\f": "\\f", "\v": "\\v", "\x1b": "\\e", "\x00": "\\0"}


def _shown(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every control or direction-changing character written out (ESC as ``\\e``),
    so what a view shows is what the file holds; newlines and tabs stay."""
    return _HIDDEN.sub(lambda m: _shown(m.group()), text)


def quote_path(name: str) -> str:
    """A file name for a diff header or a label: as is, or git-style quoted if it holds a newline,
    tab, quote, backslash or any hidden character."""
    if not _HIDDEN.search(name) and not any(ch in name for ch in '\n\t"\\'):
        return name
    body = name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"' + visible(body) + '"'
