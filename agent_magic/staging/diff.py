"""Pure diffing: unified hunks with stable ids, and rebuilding a file from a selection of hunks.

A hunk owns the change opcodes of ``difflib.SequenceMatcher`` that fall inside it, so applying a
selection never searches for context: every line comes either from ``before`` (unselected
changes and unchanged lines) or from ``after`` (selected changes). Adjacent hunks and hunks whose
context overlaps therefore combine exactly as a person would expect.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Sequence
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


# Up to this many line pairs (len(a) * len(b)) difflib matches a whole file directly; its time
# grows with the product, so a 50,000-line file with 5,000 changes would take a minute.
DIRECT_PAIRS = 4_000_000
MAX_DEPTH = 40


def line_matcher(
    a: Sequence[str], b: Sequence[str], direct_pairs: int = DIRECT_PAIRS
) -> difflib.SequenceMatcher[str]:
    """A SequenceMatcher of two line lists whose matching stays fast for big files.

    Small inputs are matched by difflib itself. Big ones are cut first at lines that occur
    once in each (patience diff's anchors, kept in order) and at their common ends; difflib
    matches only the pieces between.
    """
    if len(a) * len(b) <= direct_pairs:
        return difflib.SequenceMatcher(None, a, b, autojunk=False)
    return _AnchoredMatcher(a, b, direct_pairs)


class _AnchoredMatcher(difflib.SequenceMatcher[str]):
    """difflib's opcodes and groups over matching blocks found by anchoring (see line_matcher)."""

    def __init__(self, a: Sequence[str], b: Sequence[str], direct_pairs: int) -> None:
        super().__init__(None, a, b, autojunk=False)
        self.lines = (a, b)
        self.direct_pairs = direct_pairs
        self.blocks: list[difflib.Match] | None = None

    def get_matching_blocks(self) -> list[difflib.Match]:
        """Blocks of equal lines, in order, adjacent ones merged; the last is (len a, len b, 0)."""
        a, b = self.lines
        if self.blocks is None:
            found = sorted(_match(a, b, 0, len(a), 0, len(b), self.direct_pairs))
            merged: list[list[int]] = []
            for i, j, n in found:
                if (
                    merged
                    and merged[-1][0] + merged[-1][2] == i
                    and merged[-1][1] + merged[-1][2] == j
                ):
                    merged[-1][2] += n
                elif n:
                    merged.append([i, j, n])
            blocks = [difflib.Match(i, j, n) for i, j, n in merged]
            self.blocks = [*blocks, difflib.Match(len(a), len(b), 0)]
        return self.blocks


def _match(
    a: Sequence[str],
    b: Sequence[str],
    alo: int,
    ahi: int,
    blo: int,
    bhi: int,
    direct: int,
    depth: int = 0,
) -> list[tuple[int, int, int]]:
    """Matching (i, j, size) blocks of a[alo:ahi] and b[blo:bhi]."""
    out: list[tuple[int, int, int]] = []
    start = alo
    while alo < ahi and blo < bhi and a[alo] == b[blo]:
        alo, blo = alo + 1, blo + 1
    if alo > start:
        out.append((start, blo - (alo - start), alo - start))
    end = ahi
    while alo < ahi and blo < bhi and a[ahi - 1] == b[bhi - 1]:
        ahi, bhi = ahi - 1, bhi - 1
    if ahi < end:
        out.append((ahi, bhi, end - ahi))
    if alo == ahi or blo == bhi:
        return out
    # Deep nesting (lines moved around) is left to difflib rather than to the recursion limit.
    big = (ahi - alo) * (bhi - blo) > direct and depth < MAX_DEPTH
    anchors = _anchors(a, b, alo, ahi, blo, bhi) if big else []
    if not anchors:
        sm = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
        out += [(alo + i, blo + j, n) for i, j, n in sm.get_matching_blocks() if n]
        return out
    i, j = alo, blo
    for ai, bj in anchors:
        out += _match(a, b, i, ai, j, bj, direct, depth + 1)
        out.append((ai, bj, 1))
        i, j = ai + 1, bj + 1
    out += _match(a, b, i, ahi, j, bhi, direct, depth + 1)
    return out


def _anchors(
    a: Sequence[str], b: Sequence[str], alo: int, ahi: int, blo: int, bhi: int
) -> list[tuple[int, int]]:
    """Lines found exactly once in each range, longest run in the same order (patience diff)."""
    count: dict[str, int] = {}
    where_b: dict[str, int] = {}
    for j in range(blo, bhi):
        line = b[j]
        count[line] = count.get(line, 0) - 1  # negative: seen in b only
        where_b[line] = j
    pairs: list[tuple[int, int]] = []
    seen_a: dict[str, int] = {}
    for i in range(alo, ahi):
        seen_a[a[i]] = seen_a.get(a[i], 0) + 1
    for i in range(alo, ahi):
        line = a[i]
        if seen_a[line] == 1 and count.get(line) == -1:
            pairs.append((i, where_b[line]))
    # Longest increasing subsequence of the b positions (patience sorting).
    tops: list[int] = []
    top_at: list[int] = []
    back: list[int] = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        pos = bisect.bisect_left(tops, j)
        if pos == len(tops):
            tops.append(j)
            top_at.append(k)
        else:
            tops[pos], top_at[pos] = j, k
        back[k] = top_at[pos - 1] if pos else -1
    chain: list[tuple[int, int]] = []
    k = top_at[-1] if top_at else -1
    while k >= 0:
        chain.append(pairs[k])
        k = back[k]
    return chain[::-1]


def text_hunks(path: str, before: str, after: str, context: int = 3) -> list[Hunk]:
    """The unified-diff hunks turning ``before`` into ``after``, numbered from 1."""
    a, b = lines_of(before), lines_of(after)
    sm = line_matcher(a, b)
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
