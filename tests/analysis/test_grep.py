"""The search tool's git grep first pass: same answers as reading every file, fewer files read."""

from __future__ import annotations

import codecs
import json
import random
from pathlib import Path

import pytest
import regex

from agent_magic.analysis import RepoIndex
from agent_magic.analysis.grep import (
    files_without,
    is_line_local,
    is_tame,
    line_finder,
    line_starts,
    lines_with,
    needles,
    numbered_at,
)
from agent_magic.paths import Project
from agent_magic.staging import Staging
from agent_magic.staging.edits import numbered_lines
from agent_magic.tools import MAX_SEARCH_HITS, Toolbox
from tests.conftest import CountingProject, CountingReader, git


@pytest.mark.parametrize(
    ("pattern", "texts"),
    [
        ("def flatten", ("def flatten",)),
        (r"class \w+\(Mul\)", ("class ", "(Mul)")),
        (r"\bcompute_total\b", ("compute_total",)),
        (r"abc\.def", ("abc.def",)),
        ("x{2,3}abc", ("abc",)),  # the repeated x is not required
        ("(?x) a b c d", ("abcd",)),  # verbose: the spaces are not part of the pattern
        ("ab", None),  # too short to be worth a pass
        ("ab(cde)f", None),  # only top-level runs
        ("foo{e<=1}", None),  # fuzzy matching in `regex`, literal braces in `re`
        ("[[:alpha:]]xyz", None),  # a POSIX class in `regex`
        ("(unclosed", None),
        ("caf\u00e9 au lait", (" au lait", "caf")),  # plain ASCII only
        (r"(?i)hello\s+world", ("hello", "world")),
        ("(?if)mass", None),  # regex's full case folding: the stdlib parser does not know it
        ("", None),
    ],
)
def test_every_line_a_pattern_matches_holds_its_needles(pattern: str, texts: tuple[str] | None):
    found = needles(pattern)
    assert (found.texts if found else None) == texts
    assert found is None or not found.any_of


@pytest.mark.parametrize(
    ("pattern", "texts", "any_of"),
    [
        ("foo|barbaz", ("barbaz", "foo"), True),  # one of the branches
        (r"(?:def \w+_total|class Total)\b", None, False),  # a run after the group: not one
        (r"(def \w+_total|class Total)", ("class Total", "_total"), True),
        (r"\bMul\b|Add\(", ("Add(", "Mul"), True),
        ("foo|ab", None, False),  # a branch without a run of 3
        ("foo|", None, False),  # an empty branch matches every line
        ("(foo)|bar", None, False),  # a run inside a group in a branch is not looked for
        ("(?i:foo)|bar", None, False),  # a branch with its own case rules
        ("abc|abc", ("abc",), False),  # one text: every line holds it
        ("def foo|def bar", ("def ",), False),  # the common start is a run of the pattern
        ("(?i)Mul|ADD", ("add", "mul"), True),
    ],
)
def test_an_alternation_needs_one_branch_s_text(
    pattern: str, texts: tuple[str] | None, any_of: bool
):
    found = needles(pattern)
    assert (found.texts if found else None) == texts
    assert bool(found and found.any_of) == any_of


@pytest.mark.parametrize(
    ("pattern", "texts", "beyond"),
    [
        ("(?i)MUL", ("mul",), False),
        (r"(?i)Compute_Total\(", ("compute_total(",), False),
        ("(?i)mark", ("mark",), True),  # k also matches the Kelvin sign
        ("(?i)master", ("master",), True),  # s also matches the long s
        ("(?i)print", ("print",), True),  # i also matches dotted and dotless i
        ("compute", ("compute",), False),  # case matters: no folding
    ],
)
def test_folded_needles_say_when_non_ascii_letters_can_match(
    pattern: str, texts: tuple[str], beyond: bool
):
    found = needles(pattern)
    assert found is not None and found.texts == texts
    assert found.beyond_ascii == beyond


def reference_lines(text: str, pattern: str) -> list[tuple[int, str]]:
    """The lines the regex engine matches, tried one by one (what the search reports), numbered
    as view numbers them."""
    compiled = regex.compile(pattern)
    return [(n, line) for n, line in enumerate(numbered_lines(text), 1) if compiled.search(line)]


PIECES = [
    "mul",
    "MUL",
    "Mul",
    "add",
    "x",
    " ",
    "\n",
    "\n",
    "\n",
    "\r\n",
    "\r",
    "\x0c",
    "\u2028",
    "\u0130",
    "\u0131",
    "\u212a",
    "\u017f",
    "pr",
    "int",
    "mar",
    "k",
    "ma",
    "ster",
    "é",
    "Σ",
]
LINE_PATTERNS = [
    "mul",
    "(?i)mul",
    "(?i)print",
    "(?i)mark",
    "(?i)master",
    "Mul|add",
    "(?i)mul|ADD",
    r"mul\s*add",
    "(?i)mul.*int",
]


@pytest.mark.parametrize("pattern", LINE_PATTERNS)
def test_lines_with_keeps_every_line_the_pattern_matches(pattern: str):
    rng = random.Random(pattern)
    held = needles(pattern)
    assert held is not None
    for _ in range(400):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40)))
        kept = lines_with(text, held)
        whole = list(enumerate(numbered_lines(text), 1))
        assert set(kept) <= set(whole), text  # numbered as view numbers them
        assert kept == sorted(kept)
        matched = reference_lines(text, pattern)
        assert set(matched) <= set(kept), (text, matched, kept)
        # lines dropped really hold none of the needles
        assert all(not held.may_match(line) for n, line in set(whole) - set(kept)), text


@pytest.mark.parametrize(
    ("pattern", "local"),
    [
        (r"\bx\b", True),
        (r"^\s+return$", True),
        (r"\d{5,}", True),
        (r"a[^z]*b", True),  # may span a line break: the search sees it and tries every line
        ("(?s)a.b", True),
        (r"x(?!\s)", False),  # a lookahead sees the line break, which a line alone lacks
        (r"(?<=a)x", False),
        (r"\Ax", False),
        (r"x\Z", False),
        (r"(?>a\s*)$", False),  # atomic: whole-text greed cannot give back what a line would
        (r"a\s*+$", False),  # possessive, likewise
        (r"(a)\1", False),
        (r"(?-i:a)", False),
        ("(unclosed", False),
    ],
)
def test_line_local_patterns_see_no_further_than_their_line(pattern: str, local: bool):
    assert is_line_local(pattern) == local


# mostly "\n" breaks: a text with others is handed back (None), and counted below
WHOLE_PIECES = [
    "x",
    "xx",
    " ",
    "\t",
    "\n",
    "\n",
    "\n",
    "a",
    "b",
    "1",
    "23",
    "re",
    "mul",
    "add",
    "k",
]
WHOLE_PIECES += ["\u212a", "\u00e9", "_", "\r"]
WHOLE_PATTERNS = [
    r"\bx\b",
    r"^\s+re",
    r"^$",
    r"x$",
    r"\d{2,}",
    r"a[^z]*b",
    r"a\s*b",
    "(?s)a.b",
    r"\Bx",
    r"(?i)\bk",
    r"mul|add",
    r"^",
    r"x*",
]


@pytest.mark.parametrize("pattern", WHOLE_PATTERNS)
def test_line_starts_are_exactly_the_lines_the_pattern_matches(pattern: str):
    # exactly: the search takes these lines as matches without trying them again
    finder = line_finder(pattern)
    assert finder is not None
    rng = random.Random(pattern)
    told = 0
    for _ in range(400):
        text = "".join(rng.choice(WHOLE_PIECES) for _ in range(rng.randint(0, 40)))
        starts = line_starts(text, finder, timeout=5)
        if starts is None:
            continue  # it cannot tell: the search tries every line
        told += 1
        assert numbered_at(text, starts) == reference_lines(text, pattern), text
    assert told > 100  # most texts are told apart, not handed back


@pytest.mark.parametrize("text", ["", "x", "ax", "x\n", "a\n", "a\n\nb", "b\nax", "\n"])
def test_an_empty_match_at_the_end_counts_its_line_once(text: str):
    # every line matches x|$; after a line is passed over, $ also matches at the text's end
    finder = line_finder("x|$")
    assert finder is not None
    starts = line_starts(text, finder, timeout=5)
    assert numbered_at(text, starts or []) == list(enumerate(numbered_lines(text), 1))


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?x) \d+ # a comment would swallow the rest",
        r"x(?=y)",  # not line-local
        r"a\p{L}",  # the regex engine's own syntax
        "(unclosed",
    ],
)
def test_no_line_finder_for_what_it_cannot_read_exactly(pattern: str):
    assert line_finder(pattern) is None


def test_a_match_across_a_line_break_has_its_line_tried_alone():
    # The first match from "a" runs into the next line; the line alone does not match, and
    # the search goes on after it (a CR hands the whole text back: every line is tried).
    finder = line_finder(r"a\s+b")
    assert finder is not None
    assert line_starts("a\nb\n", finder, timeout=5) == []
    assert line_starts("xa\n b\na b\n", finder, timeout=5) == [6]
    assert line_starts("a b\nc\r\n", finder, timeout=5) is None
    spread = line_finder(r"\S+\s+\S+")
    assert spread is not None
    text = "one\ntwo words\nthree\n\nfour five\n"
    assert numbered_at(text, line_starts(text, spread, timeout=5) or []) == [
        (2, "two words"),
        (5, "four five"),
    ]


def notebook(source: str) -> str:
    cell = {"cell_type": "code", "metadata": {}, "source": source, "outputs": []}
    cell |= {"execution_count": None, "id": "c1"}
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    return json.dumps({"cells": [cell], "metadata": meta, "nbformat": 4, "nbformat_minor": 5})


FILES: dict[str, str | bytes] = {
    "pkg/core.py": "def compute_total(xs):\n    return sum(xs)  # compute_total\n",
    "pkg/other.py": "import os\n\nVALUE = 'compute_totally unrelated'\n",
    "pkg/quiet.py": "x = 1\n",
    "pkg/wide.py": codecs.BOM_UTF16_LE + "compute_total = 3\n".encode("utf-16-le"),
    # not UTF-8 (the \xff), so read as declared: the escape hides the name from git grep
    "pkg/latin.py": b"# -*- coding: unicode_escape -*-\n# \xff\nname = '\\x63ompute_total'\n",
    "pkg/flagged.py": "nothing here\n",
    "nb.ipynb": notebook("compute_total(1)\n"),
    ".env": "compute_total=SECRET\n",
    ".gitignore": "ignored.py\n",
    "pkg/upper.py": "COMPUTE_TOTAL = 2\nMUL = 3\n",
    "pkg/folds.py": "MAR\u212a = 1\nma\u017fter = 2\nmul\u0130 = 3\n",
    "many.py": "".join(f"hit_{i} = 'needle'\n" for i in range(MAX_SEARCH_HITS + 15)),
}

PATTERNS = [
    "compute_total",
    r"\bcompute_total\b",
    r"def compute_total\(",
    "needle",
    "SECRET",
    "never_anywhere",
    "(?i)COMPUTE_TOTAL",
    "(?i)mul",
    "(?i)mark",
    "(?i)master",
    r"(?i)mul\w",
    r"^\s+return",
    "staged_only_text",
    "compute_total|needle",
    "(?i)mul|COMPUTE_TOTAL",
    "(?i)master|print",
    r"^$",
]


@pytest.fixture
def project(make_repo) -> Path:
    root = make_repo(FILES)
    (root / "untracked.py").write_text("compute_total_untracked = 1\n", encoding="utf-8")
    (root / "ignored.py").write_text("compute_total_ignored = 1\n", encoding="utf-8")
    # git reads an assume-unchanged file from its index: the work tree's new text is unseen
    git(root, "update-index", "--assume-unchanged", "pkg/flagged.py")
    (root / "pkg/flagged.py").write_text("compute_total was added\n", encoding="utf-8")
    return root


def toolbox(root: Path, *, fast: bool) -> tuple[Toolbox, CountingReader]:
    reader = CountingReader()
    staging = Staging(Project(root), reader=reader)
    staging.replace("pkg/quiet.py", "x = 1", "x = 'staged_only_text compute_total'")
    staging.delete("pkg/other.py")
    files = RepoIndex(root, git_history=False).files()

    def listing() -> list[str]:
        # The index leaves out UTF-16 files (NUL bytes); a listing may have them
        return sorted(set(files) | set(staging.staged_paths()) | {"pkg/wide.py"})

    absent = (lambda held, seconds: files_without(root, held, seconds=seconds)) if fast else None
    return Toolbox(staging, listing, absent=absent, search_seconds=60), reader


@pytest.mark.parametrize("pattern", PATTERNS)
def test_search_answers_are_the_same_with_and_without_git_grep(project: Path, pattern: str):
    slow, _ = toolbox(project, fast=False)
    fast, _ = toolbox(project, fast=True)
    assert fast.run("search", {"pattern": pattern}) == slow.run("search", {"pattern": pattern})


def test_the_expected_files_are_found_and_secrets_are_not(project: Path):
    fast, _ = toolbox(project, fast=True)
    found = fast.run("search", {"pattern": "compute_total"})
    for path in ("pkg/core.py", "pkg/wide.py", "pkg/latin.py", "pkg/flagged.py", "nb.ipynb"):
        assert path in found
    assert "pkg/quiet.py" in found and "untracked.py" in found  # staged, untracked
    assert ".env" not in found and "SECRET" not in found and "ignored.py" not in found
    assert "pkg/other.py" not in found  # deleted in the staging area
    many = fast.run("search", {"pattern": "needle"})
    assert "[15 more matches not shown; narrow the search]" in many


def test_git_grep_spares_reading_the_files_without_the_text(project: Path):
    slow, slow_reads = toolbox(project, fast=False)
    fast, fast_reads = toolbox(project, fast=True)
    slow_reads.reads.clear()
    fast_reads.reads.clear()
    slow.run("search", {"pattern": "never_anywhere"})
    fast.run("search", {"pattern": "never_anywhere"})
    assert "pkg/core.py" in slow_reads.reads and "pkg/core.py" not in fast_reads.reads
    # still read: what git cannot vouch for (notebooks, non-UTF-8 text, flagged files)
    assert {"nb.ipynb", "pkg/wide.py", "pkg/latin.py", "pkg/flagged.py"} <= set(fast_reads.reads)
    assert len(fast_reads.reads) < len(slow_reads.reads)


def test_a_case_insensitive_search_gets_the_first_pass_and_finds_every_case(project: Path):
    fast, reads = toolbox(project, fast=True)
    reads.reads.clear()
    found = fast.run("search", {"pattern": "(?i)compute_total"})
    assert "pkg/upper.py:1" in found and "pkg/core.py:1" in found
    assert "many.py" not in reads.reads
    reads.reads.clear()
    kelvin = fast.run("search", {"pattern": "(?i)mark"})
    assert "pkg/folds.py:1" in kelvin  # MAR + KELVIN SIGN: read, for its non-ASCII letter
    long_s = fast.run("search", {"pattern": "(?i)master"})
    assert "pkg/folds.py:2" in long_s
    dotted = fast.run("search", {"pattern": "(?i)muli"})
    assert "pkg/folds.py:3" in dotted
    assert "many.py" not in reads.reads  # but the files with neither are still spared


def test_an_alternation_gets_the_first_pass_and_finds_each_branch(project: Path):
    fast, reads = toolbox(project, fast=True)
    reads.reads.clear()
    found = fast.run("search", {"pattern": "(?i)mul|compute_total"})
    assert "pkg/upper.py:1" in found and "pkg/upper.py:2" in found and "pkg/core.py:1" in found
    assert "many.py" not in reads.reads


def test_outside_git_every_file_is_read(make_repo):
    root = make_repo({"a.py": "x = 1\n"}, git=False)
    assert files_without(root, ["anything"]) is None
    assert files_without(root, []) is None


@pytest.mark.parametrize(
    ("pattern", "tame"),
    [
        ("(?i)compute", True),
        (r"\w+\(Mul\)", True),  # one repeat of one character class
        ("foo|bar", True),
        ("a{2,5}", True),
        (r"class \w+\(\w+\)", False),  # two repeats: polynomial, so timed
        ("^(a|aa)+$", False),  # a repeated alternation: exponential
        ("(a+)+", False),
        ("(ab)+", False),
        (r"(\w)\1", False),  # a backreference
        ("foo{e<=1}", False),  # the regex engine's own syntax
        ("(unclosed", False),
    ],
)
def test_tame_patterns_are_those_that_cannot_backtrack_badly(pattern: str, tame: bool):
    assert is_tame(pattern) is tame


def test_each_file_a_search_or_view_reads_is_confinement_checked_once(project: Path):
    counting = CountingProject(project)
    staging = Staging(counting)
    staging.replace("pkg/quiet.py", "x = 1", "x = 2")  # staged: read from staging, not the disk
    counting.checks.clear()
    files = ["pkg/core.py", "pkg/quiet.py", "pkg/flagged.py", "nb.ipynb", ".env"]
    tools = Toolbox(staging, lambda: files, search_seconds=60)
    found = tools.run("search", {"pattern": "compute_total|SECRET"})
    assert "pkg/core.py:1" in found and "nb.ipynb" in found and "SECRET" not in found
    assert counting.checks == {"pkg/core.py": 1, "pkg/flagged.py": 1, "nb.ipynb": 1, ".env": 1}
    counting.checks.clear()
    tools.run("view", {"path": "pkg/core.py"})
    assert counting.checks == {"pkg/core.py": 1}
