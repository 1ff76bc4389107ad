from __future__ import annotations

import json

import nbformat
import pytest

from agent_magic.errors import ToolError
from agent_magic.staging import notebooks as nbs


def make_nb() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cells = [
        nbformat.v4.new_markdown_cell("# Title", id="md1"),
        nbformat.v4.new_code_cell(
            "x = 1\nprint(x)",
            id="c1",
            execution_count=1,
            outputs=[nbformat.v4.new_output("stream", name="stdout", text="1\n" * 20)],
        ),
        nbformat.v4.new_code_cell(
            "plot()",
            id="c2",
            execution_count=2,
            outputs=[
                nbformat.v4.new_output(
                    "display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"}
                )
            ],
        ),
        nbformat.v4.new_code_cell("y = 2", id="c3"),
    ]
    nb.cells = cells
    return nb


@pytest.fixture(params=[1, 2], ids=["indent1", "indent2"])
def raw(request) -> bytes:
    nb = make_nb()
    if request.param == 1:
        return nbformat.writes(nb).encode()
    return (json.dumps(nb, indent=2) + "\n").encode()


def test_round_trip_is_byte_identical(raw):
    nb, style = nbs.load(raw)
    assert nbs.dump(nb, style) == raw


def test_view_numbers_cells_and_trims_outputs():
    nb, _ = nbs.load(nbformat.writes(make_nb()).encode())
    text = nbs.view(nb, "nb.ipynb")
    assert "[1] code id=c1 exec=1" in text
    assert "(12 more lines)" in text
    assert "<Figure> (also image/png)" in text
    assert "iVBOR" not in text


EDITS = [
    (
        "replace clears outputs",
        {"action": "replace", "cell": "c1", "source": "x = 2"},
        lambda nb: (
            nb["cells"][1]["outputs"] == []
            and nb["cells"][1]["execution_count"] is None
            and nbs.source_text(nb["cells"][1]) == "x = 2"
        ),
    ),
    (
        "replace by index",
        {"action": "replace", "cell": 0, "source": "# New"},
        lambda nb: nbs.source_text(nb["cells"][0]) == "# New",
    ),
    (
        "insert markdown",
        {"action": "insert", "index": 1, "source": "text", "cell_type": "markdown"},
        lambda nb: (
            nb["cells"][1]["cell_type"] == "markdown"
            and len(nb["cells"]) == 5
            and "outputs" not in nb["cells"][1]
        ),
    ),
    (
        "insert at end",
        {"action": "insert", "source": "z = 3"},
        lambda nb: nbs.source_text(nb["cells"][-1]) == "z = 3",
    ),
    (
        "delete",
        {"action": "delete", "cell": "c2"},
        lambda nb: [c["id"] for c in nb["cells"]] == ["md1", "c1", "c3"],
    ),
    (
        "move",
        {"action": "move", "cell": "c3", "to_index": 0},
        lambda nb: [c["id"] for c in nb["cells"]] == ["c3", "md1", "c1", "c2"],
    ),
    (
        "set_type to markdown drops outputs",
        {"action": "set_type", "cell": "c2", "cell_type": "markdown"},
        lambda nb: "outputs" not in nb["cells"][2] and nb["cells"][2]["cell_type"] == "markdown",
    ),
]


@pytest.mark.parametrize("case,kwargs,check", EDITS, ids=[e[0] for e in EDITS])
def test_edits_validate_and_keep_other_cells(case, kwargs, check):
    raw = nbformat.writes(make_nb()).encode()
    nb, style = nbs.load(raw)
    new, _note = nbs.edit(nb, **kwargs)
    assert check(new)
    nbformat.validate(nbformat.reads(nbs.dump(new, style).decode(), as_version=4))
    before = {c["id"]: json.dumps(c) for c in nb["cells"]}
    touched = {kwargs.get("cell"), "md1" if kwargs.get("cell") == 0 else None}
    for cell in new["cells"]:
        if cell.get("id") in before and cell.get("id") not in touched:
            assert json.dumps(cell) == before[cell["id"]]
    assert new["metadata"] == nb["metadata"]


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"action": "explode"}, "unknown notebook action"),
        ({"action": "delete", "cell": "nope"}, "no cell with id 'nope'"),
        ({"action": "delete", "cell": 9}, "out of range"),
        ({"action": "replace", "cell": "c1"}, "needs the new source"),
        ({"action": "insert", "cell_type": "python"}, "cell_type must be"),
        ({"action": "move", "cell": "c1", "to_index": 7}, "to_index"),
    ],
)
def test_bad_edits_are_tool_errors(kwargs, fragment):
    nb, _ = nbs.load(nbformat.writes(make_nb()).encode())
    with pytest.raises(ToolError, match=fragment):
        nbs.edit(nb, **kwargs)


def _changed():
    nb, _ = nbs.load(nbformat.writes(make_nb()).encode())
    after, _ = nbs.edit(nb, "replace", cell="c1", source="x = 5")
    after, _ = nbs.edit(after, "delete", cell="c2")
    after, _ = nbs.edit(after, "insert", index=0, source="import os")
    after, _ = nbs.edit(after, "move", cell="c3", to_index=1)
    return nb, after


def test_cell_hunks_are_per_cell():
    before, after = _changed()
    hunks = nbs.cell_hunks("n.ipynb", before, after)
    new_id = after["cells"][0]["id"]
    assert {h.id for h in hunks} == {
        "n.ipynb#cell-c1",
        "n.ipynb#cell-c2",
        f"n.ipynb#cell-{new_id}",
        "n.ipynb#order",
    }
    c1 = next(h for h in hunks if h.id == "n.ipynb#cell-c1")  # a new random id may end in c1
    assert c1.header == "cell 3 (id c1) modified"
    assert "-x = 1" in c1.text and "+x = 5" in c1.text and "outputs cleared" in c1.text


def ids(nb):
    return [c["id"] for c in nb["cells"]]


@pytest.mark.parametrize(
    "picked,expected_ids,c1_source",
    [
        (set(), ["md1", "c1", "c2", "c3"], "x = 1\nprint(x)"),
        ({"cell-c1"}, ["md1", "c1", "c2", "c3"], "x = 5"),
        ({"cell-c2"}, ["md1", "c1", "c3"], "x = 1\nprint(x)"),
        ({"order"}, ["c3", "md1", "c1", "c2"], "x = 1\nprint(x)"),
        ({"cell-NEW"}, ["NEW", "md1", "c1", "c2", "c3"], "x = 1\nprint(x)"),
        ({"cell-NEW", "order", "cell-c2", "cell-c1"}, ["NEW", "c3", "md1", "c1"], "x = 5"),
    ],
)
def test_selecting_cells(picked, expected_ids, c1_source):
    before, after = _changed()
    new_id = after["cells"][0]["id"]
    hunks = nbs.cell_hunks("n.ipynb", before, after)
    selected = {"n.ipynb#" + p.replace("NEW", new_id) for p in picked}
    merged = nbs.apply_cell_hunks(before, after, hunks, selected)
    assert ids(merged) == [i.replace("NEW", new_id) for i in expected_ids]
    c1 = next(c for c in merged["cells"] if c["id"] == "c1")
    assert nbs.source_text(c1) == c1_source
    nbs.validate(merged)


def _old_notebook():
    """The changes of ``_changed`` on an nbformat 4.4 notebook, whose cells have no ids."""
    nb = make_nb()
    nb.nbformat_minor = 4
    for cell in nb.cells:
        del cell["id"]
    before, _ = nbs.load(nbformat.writes(nb, version=4).encode())
    after, _ = nbs.edit(before, "replace", cell=1, source="x = 5")
    after, _ = nbs.edit(after, "delete", cell=2)
    after, _ = nbs.edit(after, "insert", index=0, source="import os")
    after, _ = nbs.edit(after, "move", cell=3, to_index=1)
    return before, after


def sources(nb):
    return [nbs.source_text(c) for c in nb["cells"]]


def test_cells_without_ids_pair_by_content_not_position():
    before, after = _old_notebook()
    hunks = nbs.cell_hunks("n.ipynb", before, after)
    # By position every cell after the insert would read as modified; paired by content, each
    # change is one hunk, like the same edits on a notebook with ids.
    assert sorted(h.header for h in hunks) == [
        "cell 0 added (code)",
        "cell 2 deleted",
        "cell 3 modified",
        "cells moved",
    ]
    modified = next(h for h in hunks if h.header.endswith("modified"))
    assert "-x = 1" in modified.text and "+x = 5" in modified.text


@pytest.mark.parametrize(
    "picked,expected",
    [
        (set(), ["# Title", "x = 1\nprint(x)", "plot()", "y = 2"]),
        ({"modified"}, ["# Title", "x = 5", "plot()", "y = 2"]),
        ({"added"}, ["import os", "# Title", "x = 1\nprint(x)", "plot()", "y = 2"]),
        ({"deleted"}, ["# Title", "x = 1\nprint(x)", "y = 2"]),
        ({"moved"}, ["y = 2", "# Title", "x = 1\nprint(x)", "plot()"]),
        ({"added", "modified", "deleted", "moved"}, ["import os", "y = 2", "# Title", "x = 5"]),
    ],
)
def test_selecting_cells_without_ids(picked, expected):
    before, after = _old_notebook()
    hunks = nbs.cell_hunks("n.ipynb", before, after)
    selected = {h.id for h in hunks if any(p in h.header for p in picked)}
    merged = nbs.apply_cell_hunks(before, after, hunks, selected)
    assert sources(merged) == expected
    nbs.validate(merged)
