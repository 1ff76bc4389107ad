"""Pure text edits: replace-string with tolerant but never-ambiguous matching, and line inserts.

Texts here use LF line breaks (``textfile.decode`` converts). Matching goes from strict to loose
and stops at the first level that finds anything: exact substring, then whole lines ignoring
trailing whitespace, then whole lines with a uniform indentation shift (tabs counted as 4, then
8 columns). At every level more than one match is an error, never a guess, unless the edit
gives the same file at each; only a shifted old text can single out one of several matches, by
the depth it was written at (see ``_meant``). A byte-exact match found once is the place meant,
unless the same lines also fit once deeper (a dedented copy; see ``_deeper_fits``). An
old text with a line that is only ``...`` matches head, elided middle, tail; blank lines at its
edges are ignored.

An ambiguity refusal lists every place that fits by its first line and how it fits, and asks the
model to resend with ``line=N``. A ``line`` never moves an edit: it only chooses among the places
that fit (the one starting at that line, else the one spanning it), and a line that names none
of them, or contradicts the only place that fits, is refused with both (see ``_pick``).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass

from agent_magic.errors import ToolError

MARKERS = frozenset({"...", "…", "# ...", "// ...", "[...]", "<...>"})
_MARK = object()  # a pattern token standing for elided lines


@dataclass(frozen=True)
class EditResult:
    """The edited text and a short note on where and how the edit matched."""

    text: str
    note: str
    start_line: int  # 1-based first line of the replaced region in the old text
    end_line: int


@dataclass(frozen=True)
class _Level:
    name: str
    tab: int = 0  # 0: compare lines ignoring trailing whitespace only
    shift: bool = False  # whether the indentation may be shifted uniformly


# Strict to loose; the first level with any match decides.
_LEVELS = (
    _Level("trailing whitespace"),
    _Level("tabs vs spaces", 4),
    _Level("tabs vs spaces", 8),
    _Level("indentation", 4, shift=True),
    _Level("indentation", 8, shift=True),
)


@dataclass(frozen=True)
class _Match:
    start: int  # file line index, inclusive
    end: int  # exclusive
    delta: int  # indentation shift in columns, file minus pattern
    token_lines: tuple[tuple[int, int], ...]  # per pattern token: file line range it covers
    level: _Level


@dataclass(frozen=True)
class Place:
    """A place an old text fits: its first and last line (1-based) and how it fits there."""

    start: int
    end: int
    how: str

    def __str__(self) -> str:
        where = f"line {self.start}" if self.end <= self.start else f"lines {self.start}-{self.end}"
        return f"{where} ({self.how})"


MAX_PLACES = 16  # listed in a refusal; the rest are counted
# What every refusal of a new text whose depth is open asks for: a resend that needs no shift.
AT_FILE_INDENT = (
    "Resend old and new text at the file's own indentation: old copied exactly from the file, "
    "every new line at the column it is to have there"
)


def split_lines(text: str) -> tuple[list[str], bool]:
    """Lines of ``text`` without their LF, and whether it ends with a newline."""
    if not text:
        return [], False
    final = text.endswith("\n")
    lines = text.split("\n")
    return (lines[:-1] if final else lines), final


def numbered_lines(text: str) -> list[str]:
    """The lines of ``text`` as view, search and edits number them: split at LF only (a form
    feed or lone CR inside a line does not start a new one), without a CR ending a CRLF line."""
    return [ln.removesuffix("\r") for ln in split_lines(text)[0]]


def join_lines(lines: list[str], final: bool) -> str:
    """Inverse of ``split_lines``."""
    return "\n".join(lines) + ("\n" if final and lines else "")


def insert_text(content: str, line: int, text: str, name: str = "file") -> EditResult:
    """Insert ``text`` after line ``line`` (0 = at the top)."""
    lines, final = split_lines(content)
    if not isinstance(line, int) or isinstance(line, bool) or not 0 <= line <= len(lines):
        raise ToolError(f"line must be between 0 and {len(lines)} for {name}; got {line!r}")
    new_lines, _ = split_lines(text.replace("\r\n", "\n"))
    if not new_lines:
        raise ToolError("text to insert is empty")
    out = lines[:line] + new_lines + lines[line:]
    note = (
        f"inserted {len(new_lines)} line(s) after line {line}"
        if line
        else f"inserted {len(new_lines)} line(s) at the top"
    )
    return EditResult(
        join_lines(out, final or not lines or line < len(lines)),
        note,
        line + 1,
        line + len(new_lines),
    )


def replace_text(
    content: str, old: str, new: str, name: str = "file", line: int | None = None
) -> EditResult:
    """Replace the one region of ``content`` matching ``old`` by ``new``; ToolError otherwise.

    ``line`` (1-based, as ``view`` numbers lines) only chooses among the places ``old`` fits.
    """
    old, new = old.replace("\r\n", "\n"), new.replace("\r\n", "\n")
    if not old.strip():
        raise ToolError("old text is empty; use insert or create to add text")
    if line is not None:
        check_line(content, line, name)
    found = exact_positions(content, old)
    if not found:
        return _replace_lines(content, old, new, name, line)
    places = [_exact_place(content, pos, old) for pos in found]
    deeper, shifts = _deeper_fits(content, found, old)
    if line is None:
        if len(found) > 1 and not _same_exact_outcome(content, found, old, new, name):
            raise _refusal(name, places + [_match_place(m) for m in deeper])
        # A byte-exact old text found once that also fits once deeper: as written, or a
        # dedented copy (see ``_deeper_fits``); only the model's line can tell which.
        twins = [m for m in deeper if shifts[m.delta] == 1] if len(found) == 1 else []
        if twins:
            raise _refusal(
                name,
                places + [_match_place(m) for m in twins],
                why="a copy with less indentation than the file fits the deeper place too",
            )
        return _replace_exact(content, found[0], old, new, name)
    # The line chooses among the exact places and those a dedented copy fits (never a
    # shallower one: an exact old text is not an indented copy; see ``_deeper_fits``).
    places += [_match_place(m) for m in deeper]
    chosen = _pick(places, line, name)
    if chosen < len(found):
        return _replace_exact(content, found[chosen], old, new, name)
    return _replace_lines(content, old, new, name, places[chosen].start, _LEVELS[3:])


def check_line(content: str, line: object, name: str) -> None:
    """Raise a ToolError saying why unless ``line`` is a line number of ``content`` (1-based)."""
    count = len(split_lines(content)[0])
    if not isinstance(line, int) or isinstance(line, bool):
        raise ToolError(f"line must be an integer line number of {name}; got {line!r}")
    if not 1 <= line <= count:
        raise ToolError(
            f"line must be between 1 and {count} (the lines of {name}, as view numbers them); "
            f"got {line}"
            if count
            else f"{name} is empty; there is no line {line}"
        )


def _pick(places: list[Place], line: int, name: str) -> int:
    """The index of the one place starting at ``line``, else of the one spanning it.

    Otherwise the model's line and its old text disagree (one place fits, elsewhere) or do not
    single out a place (none or several at that line): refused with the places, never guessed.
    """
    starting = [i for i, p in enumerate(places) if p.start == line]
    if len(starting) == 1:
        return starting[0]
    if not starting:
        spanning = [i for i, p in enumerate(places) if p.start <= line <= p.end]
        if len(spanning) == 1:
            return spanning[0]
    raise _refusal(name, places, line)


def _refusal(name: str, places: list[Place], line: int | None = None, why: str = "") -> ToolError:
    """The refusal of an edit that fits ``places`` (or, given ``line``, none at that line)."""
    if len(places) == 1:
        only = places[0]
        return ToolError(
            f"line={line} and the old text disagree: old text fits only one place in {name}, "
            f"{only}, which is not at line {line}; nothing was changed. If that place is the one "
            f"you mean, resend with line={only.start} (or without line); if you mean line "
            f"{line}, view {name} there and copy the old text exactly"
        )
    listed = "; ".join(str(p) for p in places[:MAX_PLACES])
    if len(places) > MAX_PLACES:
        listed += f"; and {len(places) - MAX_PLACES} more"
    text = f"old text fits {len(places)} places in {name}: {listed}"
    if why:
        text += f" ({why})"
    if line is not None:
        at = sum(p.start == line for p in places)
        text += f"; line={line} " + (
            f"is where {at} of them start" if at > 1 else "is not the first line of any of them"
        )
    text += "; nothing was changed. "
    starts = Counter(p.start for p in places)
    if all(n == 1 for n in starts.values()):
        return ToolError(
            text + "Resend the same edit with line=N, N the first line of the place you mean "
            "(as listed), or include more surrounding lines so only one place fits"
        )
    return ToolError(
        text + "Places that start at the same line cannot be told apart by line: include more "
        "surrounding lines (for an elided '...', the lines around it) so only one place fits"
    )


def _exact_place(content: str, pos: int, old: str) -> Place:
    first = content.count("\n", 0, pos) + 1
    last = first + old.rstrip("\n").count("\n")
    inside = content[content.rfind("\n", 0, pos) + 1 : pos].strip()
    return Place(
        first, max(first, last), "verbatim, from the middle of the line" if inside else "verbatim"
    )


def _match_place(m: _Match) -> Place:
    if m.level.tab == 0:
        how = "as written, ignoring trailing whitespace"
    elif m.delta:
        how = f"shifted {abs(m.delta)} columns " + ("deeper" if m.delta > 0 else "shallower")
    else:
        how = f"at the same indentation, tab = {m.level.tab} columns"
    return Place(m.start + 1, max(m.start + 1, m.end), how)


def _same_exact_outcome(content: str, found: list[int], old: str, new: str, name: str) -> bool:
    """Whether replacing at each of several exact places gives one and the same file."""
    try:
        texts = {_replace_exact(content, pos, old, new, name).text for pos in found}
    except ToolError:
        return False
    return len(texts) == 1


def _deeper_fits(content: str, found: list[int], old: str) -> tuple[list[_Match], Counter[int]]:
    """Places deeper than an exact old text where its lines also fit, shifted, and the count
    of every shift that fits (at the first indentation level with any deeper place).

    A byte-exact old text found once is what the model meant, as in every coding agent's edit
    tool, with one exception: a model that dedents a snippet (quotes a method body at the
    class's depth, strips a level) can produce text that happens to sit verbatim at a shallower
    place. So if the old text also fits exactly one place deeper than written (a shift that
    fits once), the two readings are as good and the edit is refused with the candidates (0
    wrong places: issue 18). Places shallower than written do not veto: adding indentation is
    not how models miscopy, and refusing there turned away plain exact copies (the benchmark's
    ``none`` at 97.9%). A depth where the text fits several places cannot be what a unique old
    text was copied from (see ``_meant``), though a model's ``line`` may choose one. Only old
    texts covering whole lines are checked: one that starts inside a line's text picks its
    place by that text.
    """
    skip = len(old) - len(old.lstrip("\n"))  # leading newlines end the line before
    starts = set()
    for pos in found:
        at = pos + skip
        if not content[content.rfind("\n", 0, at) + 1 : at].strip():
            starts.add(content.count("\n", 0, at))
    pat_lines, _ = split_lines(old[skip:])
    while pat_lines and not pat_lines[-1].strip():
        pat_lines.pop()
    if not starts or not pat_lines:
        return [], Counter()
    file_lines, _ = split_lines(content)
    first: tuple[list[_Match], Counter[int]] = ([], Counter())
    for level in _LEVELS[3:]:  # the indentation-shift levels (tab = 4, then 8 columns)
        fits = _candidates(file_lines, [pat_lines], level)
        deeper = [m for m in fits if m.start not in starts and m.delta > 0]
        shifts = Counter(m.delta for m in fits)
        if any(shifts[m.delta] == 1 for m in deeper):
            return deeper, shifts
        first = first if first[0] else (deeper, shifts)
    return first


def _replace_exact(content: str, pos: int, old: str, new: str, name: str) -> EditResult:
    line_start = content.rfind("\n", 0, pos) + 1
    end = pos + len(old)
    notes = []
    style = indent_style(content)
    if pos > line_start:
        # The old text's first line was copied without its indentation.
        line_no = content.count("\n", 0, pos) + 1
        prefix = content[line_start:pos]
        if "\n" in new.rstrip("\n") and "\n" not in old.rstrip("\n"):
            if prefix.strip():
                raise ToolError(
                    f"old text starts in the middle of line {line_no} of {name} and the new text "
                    "has several lines, so their indentation is ambiguous; nothing was changed. "
                    + AT_FILE_INDENT
                )
            new = _shift_under(new, prefix, style, line_no, name)
            pos = line_start
            notes.append(
                f"shifted new text by the {indent_width(prefix, 4)} columns of "
                "indentation the old text was copied without"
            )
        elif not new.strip() and old.endswith("\n"):
            pos = line_start  # deleting whole lines takes their indentation along
    if style:
        restyled = _restyle(new, style)
        if restyled != new:
            new = restyled
            notes.append(f"indented new text with {style} like the file")
    first = content.count("\n", 0, pos) + 1
    last = first + content[pos:end].rstrip("\n").count("\n")
    note = f"replaced at lines {first}-{last}" + (f" ({'; '.join(notes)})" if notes else "")
    return EditResult(content[:pos] + new + content[end:], note, first, last)


def _shift_under(new: str, prefix: str, style: str | None, line_no: int, name: str) -> str:
    """``new`` moved right by ``prefix``, the indentation a one-line old text was copied without.

    The old text sits at column 0 of the model's copy but at ``prefix`` in the file: the model's
    whole edit, old and new alike, was shifted left by that much (typically a snippet dedented
    as a block), so every new line moves right by the same amount. That reading needs new to
    share old's base: its least indented line is at column 0 too. A new text whose every line is
    indented (say ``"    x = 2\n    y = 3"`` for old ``"x = 1"``) was not shifted with old; it
    may be absolute columns or relative ones, and the two give different files, so it is refused.
    (The other reading of a column-0 old text, that only the first line lost its indentation as
    with ``strip()``, is proven when old has further lines matching exactly; with one old line
    nothing tells it apart, and the line-level matcher already treats such a first line as the
    shift of the whole edit, so this does the same.)
    """
    lines = new.split("\n")
    base = min((indent_width(ln, 4) for ln in lines if ln.strip()), default=0)
    _refuse_broken_blocks(lines, 4, name)
    if base:
        raise ToolError(
            f"old text starts inside the indentation of line {line_no} of {name} but every line "
            f"of the new text is indented ({base} columns or more), so it is ambiguous whether "
            "the new text was shifted like the old one; nothing was changed. " + AT_FILE_INDENT
        )
    return "\n".join(_indent_under(prefix, ln, style) if ln.strip() else ln for ln in lines)


def _indent_under(prefix: str, line: str, style: str | None) -> str:
    body = line.lstrip(" \t")
    own = line[: len(line) - len(body)]
    if not own or (len(set(prefix)) == 1 and set(own) == set(prefix)):
        return prefix + own + body  # same characters: byte-wise, no tab width to guess
    width = indent_width(prefix, 4) + indent_width(own, 4)
    if style == "tabs" or (style is None and "\t" in prefix):
        return "\t" * (width // 4) + " " * (width % 4) + body
    return " " * width + body


def indent_style(content: str) -> str | None:
    """``"tabs"`` or ``"spaces"`` if every indented line of ``content`` uses it, else None."""
    tabs = spaces = 0
    for line in content.split("\n"):
        if line.startswith("\t") and line.strip():
            tabs += 1
        elif line.startswith(" ") and line.strip():
            spaces += 1
        if tabs and spaces:
            return None
    return "tabs" if tabs else "spaces" if spaces else None


def _restyle(text: str, style: str, tab: int = 4) -> str:
    out = []
    for line in text.split("\n"):
        body = line.lstrip(" \t")
        lead = line[: len(line) - len(body)]
        foreign = "\t" in lead if style == "spaces" else lead.startswith(" " * tab)
        if body and foreign:
            width = indent_width(line, tab)
            lead = " " * width if style == "spaces" else "\t" * (width // tab) + " " * (width % tab)
        out.append(lead + body if body else line)
    return "\n".join(out)


def exact_positions(content: str, old: str) -> list[int]:
    """Offsets where ``old`` occurs, leaving out those starting inside a line's indentation.

    An old text that begins with whitespace but lands inside deeper indentation is the same
    text at a different indentation level; replacing there would mis-indent the new text.
    """
    out, pos = [], content.find(old)
    while pos != -1:
        line_start = content.rfind("\n", 0, pos) + 1
        inside_indent = pos > line_start and not content[line_start:pos].strip()
        if not (inside_indent and old[:1] in " \t"):
            out.append(pos)
        pos = content.find(old, pos + 1)
    return out


def _replace_lines(
    content: str,
    old: str,
    new: str,
    name: str,
    line: int | None = None,
    levels: tuple[_Level, ...] = _LEVELS,
) -> EditResult:
    file_lines, final = split_lines(content)
    pat_lines, _ = split_lines(old)
    new_lines, _ = split_lines(new)
    notes = []
    tokens: list = list(pat_lines)
    match = _search(file_lines, tokens, name, new_lines, line, levels)
    lead, trail = _edge_blanks(pat_lines)
    if match is None and (lead or trail):
        # Blank lines at the edges count first; only a failed match makes them "stray".
        pat_lines = pat_lines[lead : len(pat_lines) - trail]
        new_lines = _strip_matching_blanks(new_lines, lead, trail)
        notes.append("ignored blank lines at the edges of old text")
        tokens = list(pat_lines)
        match = _search(file_lines, tokens, name, new_lines, line, levels)
    if match is None and any(t.strip() in MARKERS for t in pat_lines):
        tokens = _elided(pat_lines)
        if len(tokens) > 1:
            match = _search(file_lines, tokens, name, new_lines, line, levels)
            if match is not None:
                notes.append("'...' stood for unchanged lines")
    if match is None:
        raise _not_found(name, file_lines, [t for t in tokens if t is not _MARK])
    if match.level.tab == 0:
        notes.insert(0, "matched ignoring trailing whitespace")
    elif match.delta:
        notes.insert(0, f"matched with indentation shifted by {match.delta} columns")
    else:
        notes.insert(0, f"matched ignoring indentation style (tab = {match.level.tab} columns)")
    out, kept = _outcome(file_lines, tokens, new_lines, match, name)
    if kept:
        notes.append(
            f"{kept} new line(s) left at their own column: shifted, they would "
            "not fit the file's indentation"
        )
    keep_final = final or match.end < len(file_lines)
    note = f"replaced at lines {match.start + 1}-{match.end} (" + "; ".join(notes) + ")"
    return EditResult(join_lines(out, keep_final), note, match.start + 1, match.end)


def _outcome(
    file_lines: list[str], tokens: list, new_lines: list[str], match: _Match, name: str
) -> tuple[list[str], int]:
    """The file's lines with the edit rendered at ``match``, and how many new lines kept their
    own column under the shift; ToolError if the new text's indentation is undecidable there."""
    keep: frozenset[int] = frozenset()
    if match.delta:
        keep = _unshifted_lines(file_lines, tokens, new_lines, match, name)
        if not keep:
            _refuse_broken_blocks(new_lines, match.level.tab, name)
    body = _render(file_lines, tokens, new_lines, match, keep)
    return file_lines[: match.start] + body + file_lines[match.end :], len(keep)


def _edge_blanks(lines: list[str]) -> tuple[int, int]:
    lead = next((i for i, ln in enumerate(lines) if ln.strip()), len(lines))
    trail = next((i for i, ln in enumerate(reversed(lines)) if ln.strip()), len(lines))
    return lead, trail


def _strip_matching_blanks(lines: list[str], lead: int, trail: int) -> list[str]:
    # The model usually puts the same stray blank line in new as in old.
    new_lead, new_trail = _edge_blanks(lines)
    start = min(lead, new_lead)
    stop = len(lines) - min(trail, new_trail)
    return lines[start : max(start, stop)]


def _elided(pat_lines: list[str]) -> list:
    """Tokens with each run of marker lines as one _MARK; [] unless every segment has text."""
    tokens: list = []
    for line in pat_lines:
        if line.strip() in MARKERS:
            if tokens and tokens[-1] is not _MARK:
                tokens.append(_MARK)
            elif not tokens:
                return []  # a leading marker bounds nothing
        else:
            tokens.append(line)
    if not tokens or tokens[-1] is _MARK:
        return []
    if any(not any(ln.strip() for ln in seg) for seg in _segments(tokens)):
        return []  # blank lines alone would anchor anywhere
    return tokens


def _segments(tokens: list) -> list[list[str]]:
    segs: list[list[str]] = [[]]
    for tok in tokens:
        if tok is _MARK:
            segs.append([])
        else:
            segs[-1].append(tok)
    return segs


def indent_width(line: str, tab: int) -> int:
    """Columns of leading whitespace, tabs advancing to the next multiple of ``tab``."""
    col = 0
    for ch in line:
        if ch == " ":
            col += 1
        elif ch == "\t":
            col += tab - col % tab
        else:
            break
    return col


def _segment_delta(
    file_lines: list[str], seg: list[str], at: int, level: _Level, first_free: bool
) -> int | None:
    """The indentation shift if ``seg`` matches at ``at`` under ``level``, else None."""
    if level.tab == 0:
        ok = all(file_lines[at + i].rstrip() == s.rstrip() for i, s in enumerate(seg))
        return 0 if ok else None
    delta: int | None = None
    fallback: int | None = None
    for i, s in enumerate(seg):
        f = file_lines[at + i]
        ss = s.strip()
        if ss != f.strip():
            return None
        if not ss:
            continue
        d = indent_width(f, level.tab) - indent_width(s, level.tab)
        # A first line copied without its indentation does not fix the shift.
        if i == 0 and first_free and not s[:1].isspace():
            fallback = d
            continue
        if delta is None:
            delta = d
        elif d != delta:
            return None
    delta = delta if delta is not None else (fallback or 0)
    return delta if delta == 0 or level.shift else None


def _search(
    file_lines: list[str],
    tokens: list,
    name: str,
    new_lines: list[str],
    line: int | None = None,
    levels: tuple[_Level, ...] = _LEVELS,
) -> _Match | None:
    """The one match of ``tokens`` at the strictest level that has any; ToolError if several.

    Several matches are one when the edit gives the same file at each (an insertion into a run
    of identical lines): the result is what counts, and it is not in doubt. Given ``line``, the
    matches at that level are the candidates it chooses among (``_pick``).
    """
    segs = _segments(tokens)
    if not segs[0]:
        return None
    for level in levels:
        found = _candidates(file_lines, segs, level)
        if found and line is not None:
            return found[_pick([_match_place(m) for m in found], line, name)]
        if len(found) == 1:
            return found[0]
        meant = _meant(found, segs, level.tab) if level.shift else []
        if len(meant) == 1:
            return meant[0]
        if len(found) > 1 and _same_outcome(file_lines, tokens, new_lines, found, name):
            return found[0]
        if len(found) > 1:
            raise _refusal(name, [_match_place(m) for m in found])
    return None


def _same_outcome(
    file_lines: list[str], tokens: list, new_lines: list[str], found: list[_Match], name: str
) -> bool:
    """Whether the edit renders to one and the same file at every match in ``found``."""
    outcomes = []
    for m in found:
        try:
            outcomes.append(_outcome(file_lines, tokens, new_lines, m, name)[0])
        except ToolError:
            return False
    return all(o == outcomes[0] for o in outcomes)


def _meant(found: list[_Match], segs: list[list[str]], tab: int) -> list[_Match]:
    """Of several matches at shifted indentation, those the old text can have been meant for.

    Old text has to be unique, so a place whose own lines (the old text at that place's depth)
    occur elsewhere too cannot be what it was written for: drop matches that share their shift.
    Then, if the old text is indented, it says how deep it sits; a model that gets the depth
    wrong is off by one level far more often than by two, so the nearer depth wins and equally
    near ones stay ambiguous. An old text at column 0 says nothing (models strip indentation).
    """
    shifts = Counter(m.delta for m in found)
    unique = [m for m in found if shifts[m.delta] == 1]
    widths = [indent_width(ln, tab) for seg in segs for ln in seg if ln.strip()]
    if len(unique) < 2 or not widths or min(widths) == 0:
        return unique
    nearest = min(abs(m.delta) for m in unique)
    return [m for m in unique if abs(m.delta) == nearest]


def _candidates(file_lines: list[str], segs: list[list[str]], level: _Level) -> list[_Match]:
    head = segs[0]
    key = head[0].strip() if level.tab else head[0].rstrip()
    found: list[_Match] = []
    n = len(file_lines)
    for at in range(n - len(head) + 1):
        line = file_lines[at]
        if (line.strip() if level.tab else line.rstrip()) != key:
            continue
        delta = _segment_delta(file_lines, head, at, level, True)
        if delta is None:
            continue
        ranges = [(at + i, at + i + 1) for i in range(len(head))]
        pos = at + len(head)
        for seg in segs[1:]:
            nxt = _next_segment(file_lines, seg, pos, level, delta)
            if nxt is None:
                break
            ranges.append((pos, nxt))
            ranges += [(nxt + i, nxt + i + 1) for i in range(len(seg))]
            pos = nxt + len(seg)
        else:
            found.append(_Match(at, pos, delta, tuple(ranges), level))
    # With an elided middle, a head repeated before the real one gives a longer span with the
    # same end; the nearest head is what a person means.
    by_end: dict[int, _Match] = {}
    for m in found:
        by_end[m.end] = m
    return list(by_end.values())


def _next_segment(
    file_lines: list[str], seg: list[str], pos: int, level: _Level, delta: int
) -> int | None:
    for at in range(pos, len(file_lines) - len(seg) + 1):
        d = _segment_delta(file_lines, seg, at, level, False)
        if d is not None and (d == delta or level.tab == 0):
            return at
    return None


def _render(
    file_lines: list[str],
    tokens: list,
    new_lines: list[str],
    match: _Match,
    keep: frozenset[int] = frozenset(),
) -> list[str]:
    tab = match.level.tab or 4
    pat_keys = [_MARK if t is _MARK else (indent_width(t, tab), t.strip()) for t in tokens]
    new_keys = [
        _MARK if ln.strip() in MARKERS else (indent_width(ln, tab), ln.strip()) for ln in new_lines
    ]
    region = file_lines[match.start : match.end]
    style = indent_style("\n".join(region)) or indent_style("\n".join(file_lines))
    mark_ranges = [r for t, r in zip(tokens, match.token_lines, strict=True) if t is _MARK]
    out: list[str] = []
    sm = difflib.SequenceMatcher(None, pat_keys, new_keys, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            for k in range(i1, i2):
                lo, hi = match.token_lines[k]
                out += file_lines[lo:hi]  # context stays byte-identical to the file
            continue
        for j in range(j1, j2):
            line = new_lines[j]
            if new_keys[j] is _MARK and len(mark_ranges) == 1:
                lo, hi = mark_ranges[0]
                out += file_lines[lo:hi]
            else:
                out.append(_reindent(line, match, tab, style, 0 if j in keep else None))
    return out


def _reindent(
    line: str, match: _Match, tab: int, style: str | None, delta: int | None = None
) -> str:
    if not line.strip():
        return line
    if match.level.tab == 0:
        return _restyle(line, style) if style else line
    delta = match.delta if delta is None else delta
    lead = line[: len(line) - len(line.lstrip())]
    use_tabs = style == "tabs" or (style is None and "\t" in lead)
    if delta == 0 and (("\t" in lead) == use_tabs or not lead):
        return line
    width = indent_width(line, tab) + delta
    if width < 0:
        # Under one uniform shift every new line existed at its column plus the shift; a line
        # that would land left of column 0 was not shifted with the rest, so where it belongs
        # (column 0, or relative to the old text) is ambiguous.
        raise ToolError(
            f"old text matched with its indentation shifted by {match.delta} columns, but the new "
            f"line {line.strip()[:60]!r} is indented only {indent_width(line, tab)}, so the edit "
            "is not uniformly shifted; nothing was changed. " + AT_FILE_INDENT
        )
    indent = "\t" * (width // tab) + " " * (width % tab) if use_tabs else " " * width
    return indent + line.lstrip()


_OPENER = re.compile(
    r"^(?:async\s+)?(?:def|class|if|elif|else|for|while|try|except|finally|with|"
    r"match|case)\b.*:\s*(?:#.*)?$"
)


def _refuse_broken_blocks(lines: list[str], tab: int, name: str) -> None:
    """Refuse a new text that is to be re-indented but is not consistently indented itself.

    A block header (``def f():``) followed by a line no deeper than it cannot be right as written;
    it means some lines were shifted and others were not (a line cannot be dedented left of
    column 0), so no single shift puts every line where it belongs.
    """
    for i, line in enumerate(lines):
        if not _OPENER.match(line.strip()):
            continue
        nxt = next((ln for ln in lines[i + 1 :] if ln.strip()), None)
        if nxt is not None and indent_width(nxt, tab) <= indent_width(line, tab):
            raise ToolError(
                f"the new text is to be re-indented to the file's depth, but it is not "
                f"consistently indented itself: {line.strip()[:60]!r} is followed by "
                f"{nxt.strip()[:60]!r} at the same or a lesser depth, so some lines were "
                f"shifted and some not; nothing was changed in {name}. " + AT_FILE_INDENT
            )


def _unshifted_lines(
    file_lines: list[str], tokens: list, new_lines: list[str], match: _Match, name: str
) -> frozenset[int]:
    """New lines to leave at their own column under a positive shift; ToolError if undecidable.

    Old text copied ``delta`` columns shallower than the file, but itself indented, means the
    model dedented its whole edit; a new line it wrote left of ``delta`` (column 0, typically)
    may have been shifted like the rest, or may have sat there all along because nothing can go
    left of column 0 (a top-level ``def`` after a method). The file's indentation unit decides:
    the reading in which every line sits on a multiple of it and every block header is followed
    by a line exactly one unit deeper is taken; if both readings or neither fit, two depths fit
    and nothing is guessed.
    """
    tab = match.level.tab
    widths = [indent_width(t, tab) for t in tokens if t is not _MARK and t.strip()]
    if match.delta <= 0 or not widths or min(widths) == 0:
        return frozenset()
    low = [
        j for j, ln in enumerate(new_lines) if ln.strip() and indent_width(ln, tab) < match.delta
    ]
    if not low:
        return frozenset()
    unit = _indent_unit(file_lines, tab)
    shifted = [indent_width(ln, tab) + match.delta if ln.strip() else -1 for ln in new_lines]
    kept = [indent_width(new_lines[j], tab) if j in low else c for j, c in enumerate(shifted)]
    fits = [unit is not None and _fits(new_lines, cols, unit) for cols in (shifted, kept)]
    if fits == [True, False]:
        return frozenset()
    if fits == [False, True]:
        return frozenset(low)
    open_lines = [
        f"{new_lines[j].strip()[:40]!r} (column {indent_width(new_lines[j], tab)} or "
        f"{indent_width(new_lines[j], tab) + match.delta})"
        for j in low
    ]
    at = next((i for i in range(match.start, match.end) if file_lines[i].strip()), match.start)
    raise ToolError(
        f"old text fits {name} at {_match_place(match)}, but the new text's depth "
        f"is open: {len(open_lines)} new line(s) left of the shift may stay at their own column "
        f"or move {match.delta} deeper with the rest, and the file's indentation does not "
        f"decide: {'; '.join(open_lines[:4])}{'; ...' if len(open_lines) > 4 else ''}. Nothing "
        "was changed. Resend old and new text at the file's own indentation: old copied exactly "
        f"from line {at + 1} on (its text starts at column {indent_width(file_lines[at], tab)}), "
        "every new line at the column it is to have in the file"
    )


def _indent_unit(file_lines: list[str], tab: int) -> int | None:
    """The file's indentation step: how much deeper a block's body is than its header, mostly."""
    steps: Counter[int] = Counter()
    for i, line in enumerate(file_lines):
        if _OPENER.match(line.strip()):
            nxt = next((ln for ln in file_lines[i + 1 : i + 4] if ln.strip()), None)
            if nxt is not None and indent_width(nxt, tab) > indent_width(line, tab):
                steps[indent_width(nxt, tab) - indent_width(line, tab)] += 1
    return steps.most_common(1)[0][0] if steps else None


def _fits(lines: list[str], cols: list[int], unit: int) -> bool:
    """Whether lines at these columns sit on the unit grid with every block one unit deep.

    Lines continuing a bracket opened on an earlier line are left out: Python ignores their
    indentation and style aligns them to the bracket, off the grid (``for k in ...]`` under
    ``factors = [...``).
    """
    continued = _continued_lines(lines)
    for i, (line, col) in enumerate(zip(lines, cols, strict=True)):
        if col < 0 or i in continued:
            continue
        if col % unit:
            return False
        if _OPENER.match(line.strip()):
            nxt = next((c for c in cols[i + 1 :] if c >= 0), None)
            if nxt is not None and nxt != col + unit:
                return False
    return True


def _continued_lines(lines: list[str]) -> frozenset[int]:
    """Indices of lines that start inside a bracket pair or after a backslash continuation.

    Brackets inside string literals and comments do not count; a triple-quoted string may span
    lines. Only a bracket closed within the lines frees the lines it spans, so a fragment that
    starts or ends inside a bracket (or prose with a stray one) holds them to the grid.
    """
    out: set[int] = set()
    opened: list[int] = []  # line index of each open bracket
    quote = ""
    for i, line in enumerate(lines):
        k = 0
        while k < len(line):
            ch = line[k]
            if quote:
                if ch == "\\":
                    k += 2
                    continue
                if line.startswith(quote, k):
                    k += len(quote)
                    quote = ""
                    continue
            elif ch == "#":
                break
            elif ch in "'\"":
                quote = ch * 3 if line.startswith(ch * 3, k) else ch
                k += len(quote)
                continue
            elif ch in "([{":
                opened.append(i)
            elif ch in ")]}" and opened:
                out.update(range(opened.pop() + 1, i + 1))
            k += 1
        if len(quote) == 1:
            quote = ""  # a one-quote string ends with its line (or the code is broken)
        if not quote and line.endswith("\\") and i + 1 < len(lines):
            out.add(i + 1)
    return frozenset(out)


def _not_found(name: str, file_lines: list[str], pat: list[str]) -> ToolError:
    start = closest_region(file_lines, pat)
    if start is None:
        return ToolError(
            f"old text not found in {name}, and no similar region exists; "
            "read the file again and copy the text exactly"
        )
    end = min(len(file_lines), start + max(len(pat), 1))
    shown = "\n".join(f"{i + 1:>5} | {file_lines[i]}" for i in range(start, min(end, start + 30)))
    return ToolError(
        f"old text not found in {name}. The closest region is lines {start + 1}-{end}:"
        f"\n{shown}\nCopy the old text exactly from the file (read it again if unsure)."
    )


def closest_region(file_lines: list[str], pat: list[str]) -> int | None:
    """The 0-based start of the window of ``file_lines`` most like ``pat``, or None if nothing is."""
    if not file_lines or not pat:
        return None
    where: dict[str, list[int]] = {}
    for i, line in enumerate(file_lines):
        if line.strip():
            where.setdefault(line.strip(), []).append(i)
    votes: Counter[int] = Counter()
    for k, line in enumerate(pat):
        for i in where.get(line.strip(), ()) if line.strip() else ():
            votes[max(0, i - k)] += 1
    if votes:
        return max(votes, key=lambda s: (votes[s], -s))
    first = next((p.strip() for p in pat if p.strip()), "")
    best, best_ratio = None, 0.5
    for i, line in enumerate(file_lines):
        sm = difflib.SequenceMatcher(None, first, line.strip())
        if sm.real_quick_ratio() > best_ratio and sm.quick_ratio() > best_ratio:
            ratio = sm.ratio()
            if ratio > best_ratio:
                best, best_ratio = i, ratio
    return best
