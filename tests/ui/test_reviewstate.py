"""The review widget's state as pure data: files, hunks, notebook cells, findings' places."""

from __future__ import annotations

from collections import Counter

import nbformat
import pytest

from agent_magic.records import Finding
from agent_magic.staging.changeset import Changeset, make_change
from agent_magic.ui import reviewstate
from agent_magic.ui.reviewstate import file_state, finding_states, language_of, output_notes

PNG = {
    "output_type": "display_data",
    "metadata": {},
    "data": {"image/png": "iVBOR", "text/plain": "<Figure>"},
}
TABLE = {
    "output_type": "execute_result",
    "execution_count": 3,
    "metadata": {},
    "data": {"text/html": "<div><table><tr><td>1</td></tr></table></div>", "text/plain": "df"},
}
STREAM = {"output_type": "stream", "name": "stdout", "text": "hi\n"}


@pytest.mark.parametrize(
    "path, language",
    [
        ("a/b.py", "python"),
        ("x.PYI", "python"),
        ("README.md", "markdown"),
        ("data.json", "json"),
        ("nb.ipynb", "json"),
        ("Makefile", "text"),
        ("style.css", "text"),
    ],
)
def test_language_by_file_type(path, language):
    assert language_of(path) == language


@pytest.mark.parametrize(
    "old, new, notes",
    [
        (
            {"outputs": [PNG, PNG, TABLE], "execution_count": 4},
            {"outputs": [], "execution_count": None},
            ["outputs cleared: 2 images, 1 table", "execution count reset (was [4])"],
        ),
        ({"outputs": []}, {"outputs": [STREAM]}, ["outputs added: 1 stream"]),
        (
            {"outputs": [STREAM], "execution_count": 1},
            {"outputs": [PNG], "execution_count": 2},
            ["outputs changed: 1 stream → 1 image", "execution count [1] → [2]"],
        ),
        ({"outputs": [STREAM], "execution_count": 1}, {"outputs": [STREAM]}, []),
        ({"execution_count": None}, {"execution_count": 5}, ["execution count none → [5]"]),
    ],
)
def test_cell_output_and_execution_count_notes(old, new, notes):
    old.setdefault("execution_count", None)
    new.setdefault("execution_count", old["execution_count"])
    assert output_notes(old, new) == notes


def notebook(cells) -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    nb.cells = cells
    return nbformat.writes(nb).encode()


def test_a_notebook_is_drawn_per_cell_with_its_output_changes():
    code = nbformat.v4.new_code_cell("df = load()\ndf.plot()\n", execution_count=7)
    code.outputs = [
        nbformat.from_dict(PNG),
        nbformat.from_dict(PNG),
        nbformat.from_dict(TABLE),
    ]
    text = nbformat.v4.new_markdown_cell("# Title")
    before = notebook([text, code])
    cleared = nbformat.from_dict(dict(code))
    cleared.source = "df = load()\ndf.plot(kind='bar')\n"
    cleared.outputs = []
    cleared.execution_count = None
    edited = nbformat.from_dict(dict(text))
    edited.source = "# Title\n\nMore words."
    after = notebook([edited, cleared])
    state = file_state(make_change("a.ipynb", before, after))

    assert state["view"] == "notebook"
    by_kind = {h["language"]: h for h in state["hunks"]}
    assert set(by_kind) == {"markdown", "python"}
    cell = by_kind["python"]
    assert cell["old"].endswith("df.plot()\n") and "kind='bar'" in cell["new"]
    assert cell["changes"] == [[1, 2, 1, 2]]
    assert cell["notes"] == [
        "outputs cleared: 2 images, 1 table",
        "execution count reset (was [7])",
    ]
    assert "iVBOR" not in str(state)  # images are named, never sent
    assert (state["added"], state["removed"]) == (3, 1)


def test_files_too_big_binary_added_deleted_and_renamed():
    big = "".join(f"line {i}\n" for i in range(reviewstate.MAX_SIDE_CHARS // 8))
    state = file_state(
        make_change("big.txt", big.encode(), big.replace("line 5\n", "five\n").encode())
    )
    assert state["view"] == "hunks" and state["old"] == "" and state["new"] == ""
    [hunk] = state["hunks"]
    assert "-line 5\n+five\n" in hunk["text"] and not hunk["text"].startswith("@@")

    binary = file_state(make_change("img.png", None, b"\x89PNG\x00\x00"))
    assert binary["view"] == "hunks" and binary["hunks"][0]["header"] == "binary file added"

    added = file_state(make_change("new.md", None, b"# New\n\ntext\n"))
    assert added["view"] == "text" and added["old"] == "" and added["language"] == "markdown"
    assert (added["added"], added["removed"]) == (3, 0)
    deleted = file_state(make_change("old.json", b'{"a": 1}\n', None))
    assert deleted["view"] == "text" and deleted["new"] == "" and deleted["removed"] == 1

    renamed = file_state(make_change("b.py", b"x = 1\n", b"x = 2\n", old_path="a.py"))
    assert [h["kind"] for h in renamed["hunks"]] == ["file", "text"]
    assert renamed["old_path"] == "a.py" and renamed["hunks"][0]["header"] == "renamed"


def test_hidden_characters_are_shown_and_lines_stay_aligned():
    state = file_state(
        make_change("a.py", b"x = 1\r\ny = '\x1b[2J'\n", b"x = 2\r\ny = '\x1b[2J'\n")
    )
    assert "\x1b" not in state["new"] and "\\e[2J" in state["new"]
    assert state["old"].count("\n") == 2 and state["hunks"][0]["changes"] == [[0, 1, 0, 1]]


def test_findings_placement_and_selection():
    change = make_change(
        "a.py",
        b"".join(b"l%d\n" % i for i in range(30)),
        b"l0\nX\n" + b"".join(b"l%d\n" % i for i in range(2, 30)),
    )
    files = reviewstate.file_states(Changeset([change]))
    findings = finding_states(
        [
            Finding("major", "on the change", "a.py", 2),
            Finding("minor", "in a folded region", "a.py", 20),
            Finding("nit", "no line", "a.py"),
            Finding("blocker", "elsewhere", "b.py", 1, status="fixed"),
        ],
        files,
    )
    assert [(f["placement"], f["blocking"]) for f in findings] == [
        ("line", False),
        ("file", False),
        ("file", False),
        ("top", False),
    ]
    [hid] = [h["id"] for h in files[0]["hunks"]]
    assert reviewstate.hunk_at(files[0], 2) == hid
    assert reviewstate.selection(files, {hid: "rejected"}) == set()
    assert reviewstate.selection(files, {hid: "accepted"}) == {hid}
    assert Counter(f["severity"] for f in findings)["blocker"] == 1


def test_past_the_total_budget_files_send_only_their_hunks():
    text = "".join(f"line {i}\n" for i in range(100))
    changes = [
        make_change(f"f{i}.py", text.encode(), text.replace("line 50", "fifty").encode())
        for i in range(4)
    ]
    files = reviewstate.file_states(Changeset(changes), budget=2 * 2 * len(text))
    assert [f["view"] for f in files] == ["text", "text", "hunks", "hunks"]
    assert "+fifty" in files[3]["hunks"][0]["text"]


@pytest.mark.parametrize(
    "accepted, rejected, undecided, label, record",
    [
        (0, 0, 0, "Apply", "0 hunks: "),
        (5, 0, 0, "Apply 5 hunks", "5 hunks: 5 accepted"),
        (1, 0, 0, "Apply 1 hunk", "1 hunk: 1 accepted"),
        (3, 2, 0, "Apply 3 of 5 hunks (2 rejected)", "3 hunks: 3 accepted; 2 rejected, left out"),
        (2, 0, 3, "Apply all 5 (3 not reviewed)", "5 hunks: 2 accepted, 3 not reviewed"),
        (0, 0, 5, "Apply all 5 (none reviewed)", "5 hunks: 5 not reviewed"),
        (0, 0, 1, "Apply 1 hunk (not reviewed)", "1 hunk: 1 not reviewed"),
        (
            1,
            2,
            2,
            "Apply 3 of 5 hunks (2 rejected, 2 not reviewed)",
            "3 hunks: 1 accepted, 2 not reviewed; 2 rejected, left out",
        ),
        (0, 1, 1, "Apply 1 of 2 hunks (1 rejected, 1 not reviewed)", None),
        (0, 4, 0, "Nothing to apply (4 hunks rejected)", None),
        (0, 1, 0, "Nothing to apply (1 hunk rejected)", None),
    ],
)
def test_the_apply_label_says_what_apply_writes(accepted, rejected, undecided, label, record):
    counts = reviewstate.Tally(accepted, rejected, undecided)
    assert counts.label() == label
    assert counts.applied == accepted + undecided
    if record is not None:
        assert counts.record_text() == record


def test_tally_counts_decisions_of_the_drawn_hunks_only():
    text = "a = 1\n" + "".join(f"# {i}\n" for i in range(20)) + "b = 2\n"
    changeset = Changeset([make_change("m.py", text.encode(), text.replace("= ", "= 1").encode())])
    files = reviewstate.file_states(changeset)
    first, second = changeset.hunk_ids()
    assert reviewstate.tally(files, {}) == reviewstate.Tally(0, 0, 2)
    assert reviewstate.tally(files, {first: "accepted"}) == reviewstate.Tally(1, 0, 1)
    decided = {first: "rejected", second: "accepted", "m.py#9": "accepted"}  # a stale id
    assert reviewstate.tally(files, decided) == reviewstate.Tally(1, 1, 0)
