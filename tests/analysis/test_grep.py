"""The search tool's git grep first pass: same answers as reading every file, fewer files read."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from agent_magic.analysis import RepoIndex
from agent_magic.analysis.grep import files_without, folded_literals, is_tame, required_literals
from agent_magic.paths import Project
from agent_magic.staging import Staging
from agent_magic.staging.overlay import DiskReader
from agent_magic.tools import MAX_SEARCH_HITS, Toolbox
from tests.conftest import git


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        ("def flatten", ["def flatten"]),
        (r"class \w+\(Mul\)", ["class ", "(Mul)"]),
        (r"\bcompute_total\b", ["compute_total"]),
        (r"abc\.def", ["abc.def"]),
        ("x{2,3}abc", ["abc"]),  # the repeated x is not required
        ("(?x) a b c d", ["abcd"]),  # verbose: the spaces are not part of the pattern
        ("ab", []),  # too short to be worth a pass
        ("(?i)compute", []),  # case-insensitive: other bytes may match
        ("foo|barbaz", []),  # an alternation requires neither side
        ("ab(cde)f", []),  # only top-level runs
        ("foo{e<=1}", []),  # fuzzy matching in `regex`, literal braces in `re`
        ("[[:alpha:]]xyz", []),  # a POSIX class in `regex`
        ("(unclosed", []),
        ("caf\u00e9 au lait", [" au lait", "caf"]),  # plain ASCII only
    ],
)
def test_required_literals(pattern: str, literals: list[str]):
    assert required_literals(pattern) == literals


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        ("(?i)MUL", ["mul"]),
        (r"(?i)Compute_Total\(", ["compute_total("]),
        ("(?i)mark", []),  # k also matches the Kelvin sign
        ("(?i)master", []),  # s also matches the long s
        ("(?i)print", []),  # i also matches dotted and dotless i
        (r"(?i)hello\s+world", ["hello", "world"]),
        (r"(?i)this\s+world", ["world"]),  # 'this' has an i and an s
        ("(?i)ab", []),
        ("compute", []),  # case matters: required_literals' business
        ("(?if)mass", []),  # regex's full case folding: the stdlib parser does not know it
    ],
)
def test_folded_literals(pattern: str, literals: list[str]):
    assert folded_literals(pattern) == literals


class CountingReader(DiskReader):
    """Counts the files staging reads from disk."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    def read(self, project: Project, norm: str) -> bytes | None:
        self.reads.append(norm)
        return super().read(project, norm)


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

    absent = (
        (lambda literals, fold: files_without(root, literals, ignore_case=fold)) if fast else None
    )
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
    kelvin = fast.run("search", {"pattern": "(?i)mark"})
    assert "pkg/folds.py:1" in kelvin  # MAR + KELVIN SIGN: no ASCII-only pass for it


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


class CountingProject(Project):
    """Counts the confinement checks (``resolve``) of each path."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.checks: dict[str, int] = {}

    def resolve(self, rel: str, *, allow_secret: bool = False) -> Path:
        self.checks[rel] = self.checks.get(rel, 0) + 1
        return super().resolve(rel, allow_secret=allow_secret)


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
