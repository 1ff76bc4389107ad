"""A fast first pass for the search tool: texts every matching line holds, and git grep.

The search tool's answer is always the Python ``regex`` engine's, line by line. This module only
tells which files and lines cannot hold a match, so the tool reads and tries fewer of them: a
pattern's required literal text (a run of plain characters outside any group, alternation or
repeat; or, for a pattern that is one alternation, one of its branches' runs) must be on the
matching line, hence in the file's bytes, which ``git grep -F`` finds in one pass over the work
tree without starting Python's path checks for every file.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

from agent_magic.analysis.outline import NOT_PLAIN, Outline
from agent_magic.analysis.regexparse import BEYOND_ASCII, parse_pattern
from agent_magic.gitenv import git_env
from agent_magic.staging.edits import numbered_lines

MIN_LITERAL = 3  # shorter runs are in most files: a pass with them saves nothing
# Plain printable ASCII: the same bytes in UTF-8 and in every ASCII-compatible encoding.
_PLAIN = frozenset(chr(c) for c in range(0x20, 0x7F))
# Files whose text is not their bytes read as UTF-8: a byte-order mark (UTF-16/32) or a
# declared encoding (PEP 263). They are always searched, whatever git grep says.
_DECODED_MARKERS = (b"\xff\xfe", b"\xfe\xff", b"coding")
GIT_SECONDS = 20.0
_REGULAR = ("100644", "100755")  # the modes of files (not links or submodules) in git's index
_FOLDS_BEYOND_ASCII = frozenset("iks")  # a folded text with one of these: see BEYOND_ASCII


@dataclass(frozen=True)
class Needles:
    """Plain texts on every line a pattern matches: all of them, or at least one (``any_of``).

    With ``fold`` they are lower-case and held in any case (see ``BEYOND_ASCII``).
    """

    texts: tuple[str, ...]
    any_of: bool = False
    fold: bool = False

    @cached_property  # asked per line where lines are tried one by one
    def beyond_ascii(self) -> bool:
        """Whether lines holding a ``BEYOND_ASCII`` letter may match without holding the texts."""
        return self.fold and any(_FOLDS_BEYOND_ASCII.intersection(t) for t in self.texts)

    def may_match(self, line: str) -> bool:
        """Whether a line can hold a match: it holds the texts (or a BEYOND_ASCII letter)."""
        if self.beyond_ascii and any(c in line for c in BEYOND_ASCII):
            return True
        seen = line.lower() if self.fold else line
        test = any if self.any_of else all
        return test(t in seen for t in self.texts)


def needles(pattern: str) -> Needles | None:
    """The texts every line ``pattern`` matches must hold; None when unsure (search every file).

    Top-level runs of plain characters are all required (longest first); without one, a
    top-level alternation whose every branch has a run requires one of them. A parse error or
    syntax only the ``regex`` engine knows yields None.
    """
    read = parse_pattern(pattern)
    if read is None:
        return None
    parser, parsed = read
    fold = bool(parsed.state.flags & re.IGNORECASE)
    items = list(parsed)
    runs = _runs(parser, items)
    any_of = False
    if not runs:
        runs = _branch_runs(parser, items)
        any_of = True
    if not runs:
        return None
    texts = tuple(r.lower() for r in runs) if fold else tuple(runs)
    return Needles(texts, any_of=any_of and len(texts) > 1, fold=fold)


def _runs(parser: ModuleType, items: list[Any]) -> list[str]:
    """The runs of plain literal characters in ``items`` (longest first, at least MIN_LITERAL)."""
    runs: list[str] = []
    current: list[str] = []
    for op, value in items:
        char = chr(value) if op == parser.LITERAL else ""
        if char and char in _PLAIN:
            current.append(char)
            continue
        runs.append("".join(current))
        current = []
    runs.append("".join(current))
    # longest first; equal lengths by text, so the order never depends on string hashing
    return sorted({r for r in runs if len(r) >= MIN_LITERAL}, key=lambda r: (-len(r), r))


def _branch_runs(parser: ModuleType, items: list[Any]) -> list[str]:
    """For a pattern that is one alternation (in plain groups), each branch's longest run."""
    while len(items) == 1 and items[0][0] == parser.SUBPATTERN:
        _group, add_flags, del_flags, inner = items[0][1]
        if add_flags or del_flags:
            return []  # (?i:...) and (?-i:...) change case inside: not worth reading
        items = list(inner)
    if len(items) != 1 or items[0][0] != parser.BRANCH:
        return []
    found: set[str] = set()
    for branch in items[0][1][1]:
        runs = _runs(parser, list(branch))
        if not runs:
            return []
        found.add(runs[0])
    return sorted(found, key=lambda r: (-len(r), r))


def lines_with(text: str, needles: Needles | None) -> list[tuple[int, str]]:
    """(number, line) of the lines of ``text`` (see numbered_lines) that can hold a match: they
    hold the needles (every line when ``needles`` is None).

    The texts are looked for in the whole text and only their lines are cut out: a file where
    few lines hold them costs a pass in C instead of a Python step per line.
    """
    if needles is None or (needles.beyond_ascii and any(c in text for c in BEYOND_ASCII)):
        return list(enumerate(numbered_lines(text), 1))
    hay = text.lower() if needles.fold else text
    if len(hay) != len(text):
        # Lower-casing moved offsets (U+0130 becomes two characters): line by line.
        return [
            (n, line) for n, line in enumerate(numbered_lines(text), 1) if needles.may_match(line)
        ]
    firsts = needles.texts if needles.any_of else needles.texts[:1]
    starts: set[int] = set()
    for first in firsts:
        at = hay.find(first)
        while at != -1:
            starts.add(hay.rfind("\n", 0, at) + 1)
            end = hay.find("\n", at)
            at = -1 if end == -1 else hay.find(first, end + 1)
    cut = _cut(text, hay, sorted(starts))
    rest = [] if needles.any_of else needles.texts[1:]
    return [(n, _line(text, a, b)) for n, a, b in cut if all(t in hay[a:b] for t in rest)]


_GLOBAL_FLAGS = re.compile(r"(?:\(\?[aiLmsux]+\))+")


@dataclass(frozen=True)
class LineFinder:
    """A pattern compiled to find whole lines (``whole``, see line_finder) and as it is."""

    whole: Any
    alone: Any


def line_finder(pattern: str) -> LineFinder | None:
    """``pattern`` compiled to find whole lines: from where it starts looking, the first match
    (group 1) and the rest of its line with the line break, so one step of the engine, in C,
    passes over one matching line (see line_starts). None unless ``pattern`` is line-local (see
    is_line_local) and not verbose (a comment would swallow the rest)."""
    read = parse_pattern(pattern)
    if read is None or read[1].state.flags & re.VERBOSE:
        return None
    if not _local(read[0], list(read[1])):
        return None
    import regex  # the search has imported it already

    # Global flags stay in front: inside the group the engine would not apply some (ASCII).
    flags = _GLOBAL_FLAGS.match(pattern)
    head, body = (flags.group(), pattern[flags.end() :]) if flags else ("", pattern)
    try:
        whole = regex.compile(f"{head}({body})[^\\n]*\\n?", regex.MULTILINE)
        multiline = regex.compile(pattern, regex.MULTILINE)
        alone = regex.compile(pattern)
    except (regex.error, ValueError, OverflowError, RuntimeError):
        return None
    return LineFinder(whole, alone) if whole.flags == multiline.flags else None


def line_starts(text: str, finder: LineFinder, *, timeout: float) -> list[int] | None:
    """The start offsets of exactly the lines of ``text`` (see numbered_lines) that the pattern
    ``finder`` was made from (see line_finder) matches alone, in order; None when the whole
    text cannot tell: a CR (which ``$`` does not see as a line's end) or the time (``timeout``
    for the whole text) ran out."""
    if "\r" in text:
        return None
    until = time.monotonic() + timeout
    starts: list[int] = []
    size = len(text)
    at = 0
    try:
        while at <= size:
            spanned = -1
            for match in finder.whole.finditer(text, at, timeout=until - time.monotonic()):
                begin, end = match.span(1)
                start = text.rfind("\n", 0, begin) + 1
                if text.find("\n", begin, end) != -1:
                    spanned = start
                    break
                # An empty match at the very end belongs to the last line, counted already or
                # (after a final line break) to no line at all.
                if (not starts or starts[-1] != start) and start < size:
                    starts.append(start)
            if spanned < 0:
                break
            # The first match from this line runs into the next one and could hide a match of
            # the line alone: that line is tried alone, and the search goes on after it.
            stop = text.find("\n", spanned)
            stop = size if stop == -1 else stop
            left = until - time.monotonic()
            if left <= 0:
                return None
            if finder.alone.search(text[spanned:stop], timeout=left):
                starts.append(spanned)
            at = stop + 1
    except TimeoutError:
        return None
    return starts


def numbered_at(text: str, starts: list[int]) -> list[tuple[int, str]]:
    """(number, line) of the lines of ``text`` starting at ``starts`` (sorted line starts)."""
    return [(n, _line(text, a, b)) for n, a, b in _cut(text, text, starts)]


def _line(text: str, start: int, end: int) -> str:
    """The line at ``text[start:end]`` as numbered_lines gives it (no CR of a CRLF)."""
    return text[start:end].removesuffix("\r")


def _cut(text: str, hay: str, starts: Iterable[int]) -> list[tuple[int, int, int]]:
    """(number, start, end) of the lines of ``hay`` (same offsets as ``text``) at ``starts``
    (sorted)."""
    found: list[tuple[int, int, int]] = []
    number, counted = 1, 0
    for start in starts:
        if start >= len(text):
            continue  # an empty match after the last "\n": no line there
        end = hay.find("\n", start)
        end = len(hay) if end == -1 else end
        number += hay.count("\n", counted, start)
        counted = start
        found.append((number, start, end))
    return found


TAME_LINE = 1_000  # a tame pattern's worst case on a line this long is a few milliseconds


def is_tame(pattern: str) -> bool:
    """Whether ``pattern`` cannot backtrack badly: no backreference and at most one repeat,
    of a single character or class. On lines up to TAME_LINE characters the search then needs
    no per-line time bound (which costs more than the match itself)."""
    read = parse_pattern(pattern)
    repeats = _repeats(*read) if read is not None else None
    return repeats is not None and repeats <= 1


def is_line_local(pattern: str) -> bool:
    """Whether searching a whole text with ``pattern`` under MULTILINE finds a match starting on
    every line the pattern matches alone, unless a match it returns spans a line break.

    True when every part sees no further than its line's ends: no lookaround, ``\\A`` or
    ``\\Z``, atomic group, possessive repeat, back-reference or scoped flags. (``^``, ``$``, ``\\b``
    and ``\\B`` read a line's ends and the line break beside them alike.)
    """
    read = parse_pattern(pattern)
    return read is not None and _local(read[0], list(read[1]))


def _local(p: ModuleType, items: list[Any]) -> bool:
    for op, value in items:
        if op in (p.LITERAL, p.NOT_LITERAL, p.ANY, p.IN, p.CATEGORY):
            continue
        if op == p.AT:
            if value in (p.AT_BEGINNING_STRING, p.AT_END_STRING):
                return False
        elif op in (p.MAX_REPEAT, p.MIN_REPEAT):
            if not _local(p, list(value[2])):
                return False
        elif op == p.SUBPATTERN:
            if value[1] or value[2] or not _local(p, list(value[3])):
                return False
        elif op == p.BRANCH:
            if not all(_local(p, list(branch)) for branch in value[1]):
                return False
        else:
            return False
    return True


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
    root: Path, needles: Needles | Outline | None, *, seconds: float = GIT_SECONDS
) -> set[str] | None:
    """Files (posix, relative to ``root``) git searched in the work tree that cannot hold a line
    with the ``needles``: git grep finds none of them (in any ASCII case when folded); or, for
    an outline, that git grep finds no line of matching it, and whose every byte is plain.

    Tracked files only: git grep reads them from the work tree. (With ``--untracked`` it walks
    the work tree instead, leaving out tracked files that a .gitignore rule matches, so
    untracked files are left to the search.) A file git reads from its index instead
    (assume-unchanged, skip-worktree) or not at all (a symbolic link or submodule in the index,
    whatever the work tree holds), whose bytes are not plain UTF-8 text or whose path goes
    through a symbolic link is never in the answer. None when there are no needles, ``root``
    is not in a git work tree (or its repository's work tree is elsewhere), or git fails or
    takes over ``seconds`` in all.
    """
    if needles is None:
        return None
    until = time.monotonic() + seconds
    searched = _tracked(root, until)
    if searched is None:
        return None
    grep = ["grep", "-l", "-z", "--no-color", "--no-textconv"]
    if isinstance(needles, Outline):
        # No UTF mode (LC_ALL=C): bytes; the outline spells out every plain character itself.
        holding = _git(root, [*grep, "-P", "-e", needles.pcre], until)
        always = _git(root, [*grep, "-P", "-e", NOT_PLAIN], until)
    else:
        fold = ["-i"] if needles.fold else []
        # Without --all-match git lists the files holding any of the texts.
        match = [] if needles.any_of else ["--all-match"]
        texts = _patterns([t.encode() for t in needles.texts])
        holding = _git(root, [*grep, "-F", *fold, *match, *texts], until)
        markers = _DECODED_MARKERS + (
            tuple(c.encode() for c in BEYOND_ASCII) if needles.beyond_ascii else ()
        )
        always = _git(root, [*grep, "-F", *_patterns(markers)], until)
    if holding is None or always is None:
        return None
    return _without_links(root, searched - set(holding) - set(always))


def count_lines(
    root: Path, shape: Outline, *, seconds: float = GIT_SECONDS
) -> dict[str, int] | None:
    """How many lines of each plain file (posix, relative to ``root``) git grep finds with an
    exact outline (see Outline.exact): on a file all of whose bytes are plain, exactly as many
    lines as the pattern matches, so the search need not read it to count them (0: none).

    The files are those files_without could answer for (tracked, read from the work tree, not
    through a link) and hold only plain bytes; None when the outline is not exact, ``root`` is not
    in a git work tree, or git fails (a PCRE limit) or takes over ``seconds`` in all.
    """
    if not shape.exact:
        return None
    until = time.monotonic() + seconds
    searched = _tracked(root, until)
    if searched is None:
        return None
    grep = ["grep", "-z", "--no-color", "--no-textconv", "-P"]
    counted = _git_output(root, [*grep, "-c", "-e", shape.pcre], until)
    always = _git(root, [*grep, "-l", "-e", NOT_PLAIN], until)
    if counted is None or always is None:
        return None
    # "<path>\0<count>\n" per file: a path may hold a line break, a count never does, so the
    # text between two NULs is a count, its line break, and the next path.
    found: dict[str, int] = {}
    path, *rest = counted.split("\0")
    for part in rest:
        count, _, following = part.partition("\n")
        if not count.isdigit():
            return None  # not git grep -c's output as this reads it: no counts
        found[path] = int(count)
        path = following
    plain = _without_links(root, searched - set(always))
    return {path: found.get(path, 0) for path in plain}


def _tracked(root: Path, until: float) -> set[str] | None:
    """The files git grep reads from the work tree: tracked, plain files in git's index (None
    when git fails or reads another work tree)."""
    # The repository's config may name another work tree (core.worktree): git grep would read
    # that tree's files, not the project's (inside the work tree, paths given are the project's).
    if _git(root, ["rev-parse", "--is-inside-work-tree"], until) != ["true\n"]:
        return None
    listed = _git(root, ["ls-files", "-z", "-v", "-s"], until)
    if listed is None:
        return None
    searched: set[str] = set()
    for entry in listed:
        # "<tag> <mode> <object> <stage>\t<path>"
        tag, _, rest = entry.partition(" ")
        meta, _, path = rest.partition("\t")
        if tag == "H" and meta.split(" ")[0] in _REGULAR and path:
            searched.add(path)  # a plain tracked file, read from the work tree
        elif path:
            # unmerged or flagged: git may read another version; a symbolic link or submodule
            # in git's index is not searched at all, whatever the work tree holds there now
            searched.discard(path)
    return searched


def _without_links(root: Path, paths: set[str]) -> set[str]:
    """``paths`` less those reached through a symbolic link (the file or a directory above it):
    git grep does not read through one, the search does (when it stays in the project)."""
    dirs: set[str] = set()
    for path in paths:
        parent = path.rpartition("/")[0]
        while parent not in dirs:
            dirs.add(parent)
            if not parent:
                break
            parent = parent.rpartition("/")[0]
    links: set[str] = set()
    for parent in dirs:
        # one listing per directory (its entries' types come with it) instead of a stat per file
        try:
            with os.scandir(os.path.join(root, parent)) as entries:
                prefix = parent + "/" if parent else ""
                links.update(prefix + e.name for e in entries if e.is_symlink())
        except OSError:
            continue  # gone, or not a directory: the search cannot read what is under it either
    if not links:
        return paths

    def through_link(path: str) -> bool:
        while path:
            if path in links:
                return True
            path = path.rpartition("/")[0]
        return False

    return {p for p in paths if not through_link(p)}


def _patterns(texts: Sequence[bytes]) -> list[str | bytes]:
    out: list[str | bytes] = []
    for text in texts:
        out += ["-e", text]
    return out


def _git(root: Path, args: Sequence[str | bytes], until: float) -> list[str] | None:
    """git's NUL-separated output lines, or None (see _git_output)."""
    out = _git_output(root, args, until)
    return None if out is None else [n for n in out.split("\0") if n]


def _git_output(root: Path, args: Sequence[str | bytes], until: float) -> str | None:
    """git's output, or None on any failure (no match is not a failure) or when it runs past
    ``until`` (a ``time.monotonic()`` reading)."""
    left = until - time.monotonic()
    if left <= 0:
        return None
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
        # one thread: two cost about 70% more CPU (which the kernel's process shares) for a
        # tenth less wall time on a 2-core machine
        "-c",
        "grep.threads=1",
        "-C",
        str(root),
        *args,
    ]
    try:
        proc = subprocess.run(
            command,
            capture_output=True,
            timeout=left,
            check=False,
            stdin=subprocess.DEVNULL,
            # -i folds ASCII letters only, whatever the user's locale (a UTF-8 one also folds
            # the Kelvin sign with k, and so on): the always-read markers cover the rest
            env=git_env(LC_ALL="C"),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and proc.stderr.strip()):
        return None
    return proc.stdout.decode("utf-8", errors="surrogateescape")
