"""Real-world notebook files through the staging area: bytes kept, oddities handled."""

from __future__ import annotations

import itertools
import json

import nbformat
import pytest

from agent_magic.errors import ToolError
from agent_magic.paths import Project
from agent_magic.staging import Staging, nbjson
from agent_magic.staging import notebooks as nbs
from tests.staging.realnb import rich_notebook, serialize, v3_notebook

VARIANTS = {
    "nbformat": {},
    "indent2": {"indent": 2},
    "hand-formatted tags": {"hand": True},
    "crlf": {"crlf": True},
    "bom": {"bom": True},
    "crlf+bom+hand": {"crlf": True, "bom": True, "hand": True},
    "unsorted keys": {"sort_keys": False},
    "ascii escapes": {"ensure_ascii": True},
}


def stage(tmp_path, name: str, data: bytes) -> Staging:
    (tmp_path / name).write_bytes(data)
    return Staging(Project(tmp_path))


def spans(data: bytes) -> nbjson.Layout:
    text = data.decode("utf-8")
    layout = nbjson.parse(text.lstrip("\ufeff"))[1]
    assert layout is not None
    return layout


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_replace_rewrites_only_the_changed_cell(tmp_path, variant):
    raw = serialize(rich_notebook(8), **VARIANTS[variant])
    staging = stage(tmp_path, "nb.ipynb", raw)
    staging.notebook_edit("nb.ipynb", "replace", cell="@5", source="y = 2\nprint(y)\n")
    out = staging.changeset().file("nb.ipynb").after
    old, new = spans(raw), spans(out)
    assert new.head == old.head and new.tail == old.tail and new.seps == old.seps
    assert [i for i in range(8) if new.cells[i] != old.cells[i]] == [5]
    assert out.startswith(b"\xef\xbb\xbf") == ("bom" in variant)
    if "crlf" in variant:
        assert out.count(b"\n") == out.count(b"\r\n")
    cell = nbformat.reads(out.decode("utf-8-sig"), as_version=4).cells[5]
    assert cell.source == "y = 2\nprint(y)\n" and cell.outputs == []
    nbformat.validate(json.loads(out.decode("utf-8-sig")))


@pytest.mark.parametrize(
    "edit",
    [
        {"action": "delete", "cell": "@2"},
        {"action": "move", "cell": "@6", "to_index": 1},
        {"action": "insert", "index": 3, "source": "z = 1", "cell_type": "code"},
        {"action": "set_type", "cell": "@3", "cell_type": "markdown"},
    ],
    ids=["delete", "move", "insert", "set_type"],
)
def test_other_edits_keep_every_untouched_cell_byte_for_byte(tmp_path, edit):
    raw = serialize(rich_notebook(8, ids=False, minor=4), crlf=True, hand=True)
    staging = stage(tmp_path, "nb.ipynb", raw)
    staging.notebook_edit("nb.ipynb", **edit)
    out = staging.changeset().file("nb.ipynb").after
    old, new = spans(raw), spans(out)
    kept = [c for i, c in enumerate(old.cells) if edit.get("cell") != f"@{i}"]
    assert all(c in new.cells for c in kept)
    assert new.head == old.head and new.tail == old.tail
    assert b"\n" not in out.replace(b"\r\n", b"")
    nbformat.validate(json.loads(out))


def test_partial_selection_keeps_bytes_too(tmp_path):
    raw = serialize(rich_notebook(8), hand=True)
    staging = stage(tmp_path, "nb.ipynb", raw)
    staging.notebook_edit("nb.ipynb", "replace", cell="cell-001", source="a = 1")
    staging.notebook_edit("nb.ipynb", "replace", cell="cell-005", source="b = 2")
    change = staging.changeset().file("nb.ipynb")
    only_one = change.content_for({"nb.ipynb#cell-cell-001"})
    old, new = spans(raw), spans(only_one)
    assert [i for i in range(8) if new.cells[i] != old.cells[i]] == [1]
    assert change.content_for(set()) == raw


def test_already_invalid_notebook_accepts_edits_that_do_not_make_it_worse(tmp_path):
    # nbformat 4.4 with cell ids: invalid by the schema, common in the wild.
    raw = serialize(rich_notebook(6, minor=4))
    with pytest.raises(nbformat.ValidationError):
        nbformat.validate(json.loads(raw))
    staging = stage(tmp_path, "nb.ipynb", raw)
    note = staging.notebook_edit("nb.ipynb", "replace", cell="cell-001", source="x = 1")
    assert "replaced" in note
    staging.notebook_edit("nb.ipynb", "insert", index=0, source="# New", cell_type="markdown")
    staging.notebook_edit("nb.ipynb", "delete", cell="cell-002")
    nb, _ = nbs.load(staging.changeset().file("nb.ipynb").after)
    # A new kind of problem is still refused.
    broken = dict(nb)
    bad = dict(nb["cells"][1], bogus=1)
    broken["cells"] = [bad, *nb["cells"][1:]]
    with pytest.raises(ToolError, match=r"invalid notebook.*bogus"):
        nbs.check_edit(nb, broken, [bad])


def test_duplicate_ids_are_refused_by_id_and_edited_by_index(tmp_path):
    nb = rich_notebook(6)
    nb["cells"][4]["id"] = nb["cells"][1]["id"]
    staging = stage(tmp_path, "nb.ipynb", serialize(nb))
    with pytest.raises(ToolError, match=r"more than one cell \(@1 and @4\)"):
        staging.notebook_edit("nb.ipynb", "replace", cell="cell-001", source="x")
    staging.notebook_edit("nb.ipynb", "replace", cell="@4", source="x = 4")
    change = staging.changeset().file("nb.ipynb")
    assert [h.header for h in change.hunks] == ["cell 4 modified"]
    assert "+x = 4" in change.hunks[0].text


def test_digit_ids_are_addressed_unambiguously(tmp_path):
    nb = rich_notebook(6)
    for cell, cid in zip(nb["cells"], ["5", "0", "1", "2", "3", "77"], strict=True):
        cell["id"] = cid
    staging = stage(tmp_path, "nb.ipynb", serialize(nb))
    with pytest.raises(ToolError, match="'2' is the id of cell @3 and also the index"):
        staging.notebook_edit("nb.ipynb", "replace", cell="2", source="x")
    assert "cell 2 (id 1)" in staging.notebook_edit("nb.ipynb", "replace", cell="@2", source="a")
    assert "cell 5 (id 77)" in staging.notebook_edit("nb.ipynb", "replace", cell="77", source="b")
    headers = sorted(h.header for h in staging.changeset().file("nb.ipynb").hunks)
    assert headers == ["cell 2 (id 1) modified", "cell 5 (id 77) modified"]


def test_digit_ids_through_the_tool(tmp_path):
    from agent_magic.tools import Toolbox

    nb = rich_notebook(4)
    for cell, cid in zip(nb["cells"], ["3", "2", "1", "0"], strict=True):
        cell["id"] = cid
    staging = stage(tmp_path, "nb.ipynb", serialize(nb))
    tools = Toolbox(staging, lambda: ["nb.ipynb"])
    with pytest.raises(ToolError, match="also the index"):
        tools.run("notebook_edit", {"path": "nb.ipynb", "action": "delete", "cell": "0"})
    assert "deleted cell 0 (id 3)" in tools.run(
        "notebook_edit", {"path": "nb.ipynb", "action": "delete", "cell": "@0"}
    )


def test_v3_notebook_is_readable_and_an_edit_converts_it_with_a_note(tmp_path):
    from agent_magic.tools import Toolbox

    staging = stage(tmp_path, "old.ipynb", v3_notebook())
    tools = Toolbox(staging, lambda: ["old.ipynb"])
    view = tools.run("view", {"path": "old.ipynb"})
    assert "# Old analysis" in view and "total = 40 + 2" in view and ">> stdout: 42" in view
    assert "old.ipynb [cell 1 id=@1]:1: total = 40 + 2" in tools.run("search", {"pattern": "total"})
    note = tools.run(
        "notebook_edit",
        {"path": "old.ipynb", "action": "replace", "cell": "@1", "source": "total = 42"},
    )
    assert "nbformat v3 and is written as v4.4" in note
    out = staging.changeset().file("old.ipynb").after
    nb = json.loads(out)
    nbformat.validate(nb)
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 4)
    assert [nbs.source_text(c) for c in nb["cells"]] == [
        "# Old analysis",
        "total = 42",
        "The answer is computed above.",
    ]
    # Loading twice gives the same cells: the diff of a converted file is stable.
    assert nbs.load(v3_notebook())[0] == nbs.load(v3_notebook())[0]


def test_unknown_formats_and_broken_old_ones_are_refused_clearly():
    with pytest.raises(ToolError, match=r"not an nbformat v4 notebook \(nbformat 5\)"):
        nbs.load(json.dumps({"nbformat": 5, "cells": []}).encode())
    with pytest.raises(ToolError, match=r"old .* cannot be converted.*worksheets"):
        nbs.load(json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}}).encode())
    with pytest.raises(ToolError, match="cell 1 is not a JSON object"):
        nbs.load(
            json.dumps(
                {
                    "nbformat": 4,
                    "nbformat_minor": 5,
                    "metadata": {},
                    "cells": [{"cell_type": "raw", "source": "", "metadata": {}}, 7],
                }
            ).encode()
        )


def test_odd_metadata_does_not_break_the_view():
    nb = rich_notebook(2)
    nb["metadata"] = {"kernelspec": "python3"}
    nb["cells"][1]["outputs"] = ["not an output"]
    text = nbs.view(nb, "odd.ipynb")
    assert "unknown kernel" in text and "[unreadable output]" in text


def _repeating() -> dict:
    """No ids; the same empty cell and ``plt.show()`` cell several times."""

    def code(src: str) -> dict:
        return {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": src,
        }

    srcs = ["import plt", "", "plt.plot(a)", "plt.show()", "", "plt.plot(b)", "plt.show()", ""]
    return {"cells": [code(s) for s in srcs], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}


def test_moving_a_repeated_cell_is_a_move_not_edits():
    before = _repeating()
    after, _ = nbs.edit(before, "move", cell="@2", to_index=5)
    hunks = nbs.cell_hunks("n.ipynb", before, after)
    assert [h.header for h in hunks] == ["cells moved"]


@pytest.mark.parametrize(
    "edits",
    [
        [("move", {"cell": "@2", "to_index": 5})],
        [
            ("move", {"cell": "@1", "to_index": 7}),
            ("replace", {"cell": "@3", "source": "plt.show()"}),
        ],
        [
            ("delete", {"cell": "@4"}),
            ("insert", {"index": 0, "source": ""}),
            ("replace", {"cell": "@6", "source": "plt.plot(c)"}),
        ],
        [
            ("set_type", {"cell": "@1", "cell_type": "markdown"}),
            ("move", {"cell": "@6", "to_index": 0}),
        ],
    ],
    ids=["move", "move+replace", "delete+insert+replace", "set_type+move"],
)
def test_any_selection_of_hunks_writes_only_cells_of_either_version(edits):
    before = _repeating()
    after = before
    for action, kwargs in edits:
        after, _ = nbs.edit(after, action, **kwargs)
    hunks = nbs.cell_hunks("n.ipynb", before, after)
    assert all(h.text.strip() for h in hunks)  # no empty "modified" hunks
    ids = [h.id for h in hunks]
    versions = before["cells"] + after["cells"]
    for r in range(len(ids) + 1):
        for chosen in itertools.combinations(ids, r):
            merged = nbs.apply_cell_hunks(before, after, hunks, set(chosen))
            assert all(any(c == v for v in versions) for c in merged["cells"]), chosen
            nbs.validate(merged)
    assert nbs.apply_cell_hunks(before, after, hunks, set(ids))["cells"] == after["cells"]
    assert nbs.apply_cell_hunks(before, after, hunks, set())["cells"] == before["cells"]
