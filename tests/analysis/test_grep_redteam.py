"""The search's first passes against the answer of trying every line: the cases that differed."""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

import pytest
import regex

from agent_magic.analysis.grep import (
    Needles,
    count_lines,
    files_without,
    line_finder,
    line_starts,
    lines_with,
    needles,
    numbered_at,
)
from agent_magic.analysis.outline import outline
from agent_magic.errors import ToolError
from agent_magic.paths import Project
from agent_magic.staging import Staging
from agent_magic.staging.edits import numbered_lines
from agent_magic.testing.search_reference import every_line
from agent_magic.tools import Toolbox
from tests.conftest import git


def fast_search(
    root: Path, files: list[str], pattern: str, seconds: float = 60, *, git: bool = True
) -> str:
    """The search with git grep's first passes (without: every file is read)."""
    tools = Toolbox(
        Staging(Project(root)),
        lambda: files,
        absent=(lambda first, seconds: files_without(root, first, seconds=seconds))
        if git
        else None,
        line_counts=(lambda shape, seconds: count_lines(root, shape, seconds=seconds))
        if git
        else None,
        search_seconds=seconds,
    )
    return tools.run("search", {"pattern": pattern})


def test_a_file_reached_through_a_symlink_is_searched(make_repo):
    # git grep does not read through a symbolic link (it skips the path); the search does
    root = make_repo({"pkg/a.py": "compute_total = 1\n", "other/a.py": "no\n", "b.py": "no\n"})
    os.symlink("pkg/a.py", root / "link.py")  # untracked link to a file
    (root / "b.py").unlink()
    os.symlink("pkg/a.py", root / "b.py")  # a tracked file replaced by a link
    shutil.rmtree(root / "other")
    os.symlink("pkg", root / "other")  # a tracked directory replaced by a link
    files = ["b.py", "link.py", "other/a.py", "pkg/a.py"]
    expected = every_line(Staging(Project(root)), files, "compute_total")
    assert "b.py:1" in expected and "link.py:1" in expected and "other/a.py:1" in expected
    assert fast_search(root, files, "compute_total") == expected
    assert files_without(root, needles("never_anywhere")) == {"pkg/a.py"}


def test_a_pathological_line_in_a_whole_file_search_is_skipped_as_alone(make_repo):
    # No text to look for and tame: each file is searched whole. A line that takes quadratic
    # time used to take the whole budget there, so the next file was never searched.
    root = make_repo({"a.py": "x" * 100_000 + "\n", "b.py": "x1\n"})
    found = fast_search(root, ["a.py", "b.py"], r"x[a-z]*\d", seconds=2, git=False)
    assert found.startswith("b.py:1: x1\n")
    assert "took too long on 1 line(s), skipped (a.py:1)" in found
    assert "search stopped" not in found
    # git grep finds no line of the plain file: nothing is skipped
    assert fast_search(root, ["a.py", "b.py"], r"x[a-z]*\d", seconds=2) == "b.py:1: x1"


def test_a_search_out_of_time_in_its_last_file_says_results_are_partial(make_repo):
    # Short lines of a tame pattern are tried untimed (the clock is read every 64 lines):
    # running out of time there ended the search as if it were complete.
    root = make_repo({"a.py": ("x" * 999 + "\n") * 2_000})
    found = fast_search(root, ["a.py"], r"x[a-z]*\d", seconds=0.3, git=False)
    assert found == (
        "no matches for 'x[a-z]*\\\\d'\n[search stopped after 0.3 s at a.py: results are partial]"
    )
    assert fast_search(root, ["a.py"], r"x[a-z]*\d", seconds=0.3) == "no matches for 'x[a-z]*\\\\d'"


def test_tracked_files_a_gitignore_rule_matches_are_searched(make_repo):
    # `git grep --untracked` walks the work tree and leaves out what .gitignore matches, tracked
    # or not; such files were skipped as if they lacked the text
    root = make_repo(
        {"build/keep.py": "compute_total = 1\n", "conf.py": "compute_total = 2\n", "x.py": "n\n"}
    )
    (root / ".gitignore").write_text("build/\nconf.py\n", encoding="utf-8")
    (root / "new.py").write_text("compute_total = 3\n", encoding="utf-8")  # untracked
    files = [".gitignore", "build/keep.py", "conf.py", "new.py", "x.py"]
    expected = every_line(Staging(Project(root)), files, "compute_total")
    assert "build/keep.py:1" in expected and "conf.py:1" in expected and "new.py:1" in expected
    assert fast_search(root, files, "compute_total") == expected
    assert fast_search(root, files, "(?i)COMPUTE_TOTAL|never_anywhere") == every_line(
        Staging(Project(root)), files, "(?i)COMPUTE_TOTAL|never_anywhere"
    )
    assert files_without(root, needles("compute_total")) == {"x.py"}


def test_no_first_pass_when_the_regex_module_defaults_to_version_1(make_repo):
    # A program may set regex.DEFAULT_VERSION for the whole process; VERSION1 folds ß to ss
    # and reads [[a]] as a nested set, which the stdlib parser behind the passes does not know
    root = make_repo({"a.py": "STRAßE = 1\nabcd = 2\n", "b.py": "nothing\n"})
    files = ["a.py", "b.py"]
    saved = regex.DEFAULT_VERSION
    regex.DEFAULT_VERSION = regex.VERSION1
    try:
        for pattern in ("(?i)strasse", "[[a]]bcd", r"^[[a]]\w+"):
            expected = every_line(Staging(Project(root)), files, pattern)
            assert "a.py:" in expected
            assert fast_search(root, files, pattern) == expected
            assert needles(pattern) is None
    finally:
        regex.DEFAULT_VERSION = saved
    assert needles("(?i)strasse") is not None


def test_the_first_pass_counts_against_the_search_time(make_repo):
    # git grep ran before the search's clock started, with a 20 s timeout of its own
    root = make_repo({"a.py": "compute_total = 1\n"})
    asked: list[float] = []

    def slow_git(held: Needles, seconds: float) -> set[str]:
        asked.append(seconds)
        time.sleep(0.3)
        return set()

    tools = Toolbox(Staging(Project(root)), lambda: ["a.py"], absent=slow_git, search_seconds=0.2)
    found = tools.run("search", {"pattern": "compute_total"})
    assert asked == [0.2]
    assert found == (
        "no matches for 'compute_total'\n[search stopped after 0.2 s at a.py: results are partial]"
    )
    assert files_without(root, needles("never_anywhere"), seconds=0) is None
    assert files_without(root, needles("never_anywhere"), seconds=20) == {"a.py"}


def test_a_file_where_git_s_index_has_a_link_or_submodule_is_searched(make_repo):
    # git grep passes over index entries that are not files (as with core.symlinks=false, a
    # link checked out as a file holding its target's path), whatever the work tree holds
    root = make_repo({"pkg/compute.py": "x = 1\n"})
    os.symlink("pkg/compute.py", root / "link.py")
    git(root, "add", "link.py")
    head = git(root, "rev-parse", "HEAD").strip()
    git(root, "update-index", "--add", "--cacheinfo", f"160000,{head},sub")
    git(root, "commit", "-q", "-m", "link and submodule")
    (root / "link.py").unlink()
    (root / "link.py").write_text("pkg/compute.py", encoding="utf-8")
    (root / "sub").write_text("compute = 2\n", encoding="utf-8")
    files = ["link.py", "pkg/compute.py", "sub"]
    expected = every_line(Staging(Project(root)), files, "compute")
    assert "link.py:1" in expected and "sub:1" in expected
    assert fast_search(root, files, "compute") == expected
    assert files_without(root, needles("compute")) == {"pkg/compute.py"}


# A seeded differential run: random patterns (flags, classes, anchors, groups, alternations,
# lookarounds, the non-ASCII letters case folding pairs) against random texts with every kind
# of line break; the lines the passes keep must hold every line the regex engine matches.
ATOMS = [
    *("a", "k", "s", "i", "K", "S", "I", "mul", "abc", "MUL", "def", " ", "_", "1", "ss", "x"),
    *("ask", "as", "el", "ABC", "Def", "pri", "nt", "ter"),
    *("\u212a", "\u017f", "\u0130", "\u0131", "\u00df", "\u03c3", "\u03c2", "\u03a3", "\ufb00"),
    *(r"\.", r"\(", "#", r"\#", r"\ ", r"\t", r"\x6b", r"\u017f", "[k]", "[K]", "[abc]", "[^a]"),
    *(r"[^\n]", r"\w", r"\W", r"\s", r"\S", r"\d", ".", r"\b", r"\B", "^", "$", r"\A", r"\Z"),
    *("x{,2}", "x{}", r"\v", r"\p{L}", r"\m", r"\G", r"\K", "(?#c)", "[[:alpha:]]", "[[a]]"),
    # classes the engine reads its own way ([^\s\S] is any character), or crossing ASCII
    *(r"[^\s\S]", r"[^\d\W]", r"[\t-\r]", r"[~-\u00ff]", r"[Z-a]", r"[\u0100-\u0200]"),
]
FLAGS = ["", "", "", "(?i)", "(?m)", "(?s)", "(?x)", "(?a)", "(?ia)", "(?im)", "(?V1)", "(?f)"]
REPEATS = ["", "", "", "*", "+", "?", "{2}", "{1,3}", "*?", "*+", "{2,}"]
GROUPS = ["(", "(?:", "(?i:", "(?-i:", "(?=", "(?!", "(?<=", "(?>", "(?s:", "(?|"]
BREAKS = ["\n"] * 6 + ["\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028"]
PIECES = [a for a in ATOMS if "\\" not in a and "[" not in a and "(" not in a] + BREAKS


def random_pattern(rng: random.Random, depth: int = 0) -> str:
    if depth == 0 and rng.random() < 0.15:  # one group around an alternation
        branches = "|".join(random_pattern(rng, 1) for _ in range(rng.randint(2, 3)))
        return rng.choice(FLAGS) + rng.choice(GROUPS[:4]) + branches + ")"
    parts = []
    for _ in range(rng.randint(1, 5)):
        if depth < 2 and rng.random() < 0.2:
            inner = random_pattern(rng, depth + 1)
            if rng.random() < 0.4:
                inner += "|" + random_pattern(rng, depth + 1)
            atom = rng.choice(GROUPS) + inner + ")"
        else:
            atom = rng.choice(ATOMS)
        parts.append(atom + rng.choice(REPEATS))
    body = "".join(parts)
    if depth == 0 and rng.random() < 0.3:
        body += "|" + "".join(rng.choice(ATOMS) for _ in range(rng.randint(1, 4)))
    return (rng.choice(FLAGS) if depth == 0 else "") + body


def kept_lines(pattern: str, text: str) -> tuple[list[tuple[int, str]], bool]:
    """The lines the search tries, as it picks them (see Toolbox._searchable), and whether
    they are taken as the matching lines without trying them (found by the line finder)."""
    held = needles(pattern)
    finder = line_finder(pattern) if held is None else None
    if finder is not None:
        starts = line_starts(text, finder, timeout=5)
        if starts is not None:
            return numbered_at(text, starts), True
    return lines_with(text, held), False


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_random_patterns_and_texts_keep_every_line_the_regex_engine_matches():
    rng = random.Random(23)
    tried = exact = 0
    for _ in range(1_500):
        pattern = random_pattern(rng)
        try:
            compiled = regex.compile(pattern)
        except (regex.error, ValueError, OverflowError, RuntimeError, AttributeError):
            continue
        tried += 1
        for _ in range(8):
            pieces = PIECES if rng.random() < 0.3 else [p for p in PIECES if p not in BREAKS[6:]]
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
            lines = numbered_lines(text)
            try:
                expected = [(n, s) for n, s in enumerate(lines, 1) if compiled.search(s, timeout=1)]
                kept, found = kept_lines(pattern, text)
            except TimeoutError:
                continue
            assert set(kept) <= set(enumerate(lines, 1)) and kept == sorted(kept), (pattern, text)
            assert set(expected) <= set(kept), (pattern, text, expected, kept)
            # lines the finder found are the answer as they are: not one more either
            assert not found or kept == expected, (pattern, text, expected, kept)
            exact += found
    assert tried > 1_000 and exact > 500, (tried, exact)


@pytest.mark.parametrize(
    ("pattern", "line"),
    [
        ("(?i)mark", "MAR\u212a = 1"),  # the Kelvin sign alone, no other non-ASCII letter
        ("(?i)master", "MA\u017fTER = 1"),  # the long s alone
        ("(?i)print", "PR\u0130NT = 1"),  # the dotted capital I alone
        ("(?i)PRINT", "pr\u0131nt = 1"),  # the dotless small i alone
        ("(?i:abc|def)", "ABC = 1"),  # flags on the group around the alternation
        ("(?i)(?-i:abc|def)xyz", "abcXYZ = 1"),
        ("(?i:mar\u212a|zzz)", "MARK = 1"),
    ],
)
def test_each_non_ascii_fold_and_scoped_flag_on_its_own(make_repo, pattern: str, line: str):
    # one letter per file: a file with several of them is read for any one and hides the rest
    assert regex.search(pattern, line)
    assert set(lines_with(f"x\n{line}\ny\n", needles(pattern))) >= {(2, line)}
    root = make_repo({"hit.py": f"x\n{line}\n", "miss.py": "nothing\n"})
    files = ["hit.py", "miss.py"]
    expected = every_line(Staging(Project(root)), files, pattern)
    assert expected.startswith("hit.py:2: ")
    assert fast_search(root, files, pattern) == expected


@pytest.mark.parametrize("pattern", [r"(?i)[^\s\S]", r"(?i)x[^\d\D]"])
def test_a_pattern_the_engine_fails_to_compile_is_a_tool_error(make_repo, pattern: str):
    # `regex` 2026.5.9 raises AttributeError on a folded [^\s\S] (it ended the whole run);
    # 2026.11.19 compiles it as any character. Either way the search answers.
    root = make_repo({"a.py": "x = 1\n", "b.py": "y\n"})
    try:
        regex.compile(pattern)
    except Exception:  # noqa: BLE001 - this release's own fault, whatever its type
        with pytest.raises(ToolError, match="regular expression engine failed"):
            fast_search(root, ["a.py"], pattern)
        return
    files = ["a.py", "b.py"]
    assert fast_search(root, files, pattern) == every_line(Staging(Project(root)), files, pattern)


@pytest.mark.parametrize("pattern", ["compute_total", r"\d{5,}"])
def test_a_repository_whose_config_names_another_work_tree_gets_no_first_pass(
    make_repo, tmp_path: Path, pattern: str
):
    # core.worktree in .git/config sends git grep to that tree's files: the project's own
    # files with matches were skipped because the other tree's lacked them
    root = make_repo({"a.py": "compute_total = 123456\n", "b.py": "no\n"})
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.py").write_text("no\n", encoding="utf-8")
    git(root, "config", "core.worktree", str(other))
    files = ["a.py", "b.py"]
    expected = every_line(Staging(Project(root)), files, pattern)
    assert expected.startswith("a.py:1: ")
    assert files_without(root, needles(pattern) or outline(pattern)) is None
    assert fast_search(root, files, pattern) == expected


@pytest.mark.parametrize("pattern", ["a{5000000}", r"(?:\w{2}){3000000}", r"(?:a{e<=1}){700000}"])
def test_a_pattern_the_engine_takes_seconds_to_compile_is_refused(make_repo, pattern: str):
    # The engine lays out a repeat's minimum count of copies as it compiles, in C, holding the
    # GIL: a{4000000000} froze the kernel for a quarter of an hour, before any time bound
    # (conditional groups repeated so: a segmentation fault, the kernel gone).
    root = make_repo({"a.py": "x = 1\n"})
    with pytest.raises(ToolError, match="repeats its parts"):
        fast_search(root, ["a.py"], pattern)


@pytest.mark.parametrize("pattern", ["a{0,5000000}", r"x{1000}y{1000}", r"\d{4}-\d{2}"])
def test_large_counts_the_engine_compiles_quickly_are_searched(make_repo, pattern: str):
    root = make_repo({"a.py": "x = 1\n"})
    expected = every_line(Staging(Project(root)), ["a.py"], pattern)
    assert fast_search(root, ["a.py"], pattern) == expected
