"""The kernel's side of the comm protocol, against a fake frontend injected as the transport."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from agent_magic.errors import ConflictError
from agent_magic.livedoc import LiveError, LiveFrontend, server_root
from agent_magic.paths import Project
from agent_magic.staging import Staging
from agent_magic.staging.live import LiveReader, LiveWriter
from agent_magic.staging.livecells import cell_ops
from tests.conftest import CountingProject
from tests.fake_frontend import FakeFrontend, attach


def nb(*cells: tuple[str, str]) -> dict:
    """A notebook JSON of code cells given as (id, source)."""
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell(src, id=cid) for cid, src in cells]
    return json.loads(nbformat.writes(book))


@pytest.mark.parametrize(
    "notebook, session_path, root",
    [
        ("/srv/lab/proj/a.ipynb", "proj/a.ipynb", "/srv/lab"),
        ("/srv/lab/a.ipynb", "a.ipynb", "/srv/lab"),
        ("/srv/lab/a.ipynb", "other/a.ipynb", None),  # not this kernel's notebook
        ("/srv/lab/a.ipynb", "", None),
        (None, "a.ipynb", None),
    ],
)
def test_server_root_from_the_kernels_notebook(notebook, session_path, root):
    got = server_root(Path(notebook) if notebook else None, session_path)
    assert got == (Path(root) if root else None)


def test_hello_read_and_the_error_paths(tmp_path: Path):
    (tmp_path / "a.ipynb").write_text(json.dumps(nb(("c1", "x = 1"))))
    fake = FakeFrontend(tmp_path, "a.ipynb")
    frontend = attach(fake, tmp_path / "a.ipynb")
    assert frontend.attached and frontend.server_root == tmp_path.resolve()
    assert frontend.read(tmp_path / "a.ipynb") is None  # not open in a tab
    fake.open("a.ipynb", dirty=True)
    doc = frontend.read(tmp_path / "a.ipynb")
    assert doc.kind == "notebook" and doc.dirty and doc.content["cells"][0]["id"] == "c1"
    assert frontend.read(tmp_path.parent / "elsewhere.ipynb") is None  # outside the root
    with pytest.raises(LiveError, match="unknown request"):
        frontend.request("frobnicate")
    fake.silent = True  # the page was reloaded: nobody hears this comm any more
    frontend.timeout = 0.1
    with pytest.raises(LiveError, match="did not answer 'read'"):
        frontend.read(tmp_path / "a.ipynb")
    assert not frontend.attached  # detached: the next read is the disk's, without waiting
    asked = len(fake.requests)
    assert frontend.read(tmp_path / "a.ipynb") is None and len(fake.requests) == asked
    fake.silent = False
    assert frontend.hello(tmp_path / "a.ipynb") and frontend.attached  # a new hello attaches
    frontend.receive({"id": "r999", "ok": True})  # a late or stray reply is dropped
    frontend.receive("not a dict")


def test_a_page_without_the_extension_is_detached(tmp_path: Path):
    fake = FakeFrontend(tmp_path, "a.ipynb")
    fake.silent = True
    frontend = LiveFrontend(fake, timeout=0.1)
    fake.kernel = frontend
    assert not frontend.hello(tmp_path / "a.ipynb", timeout=0.1)
    assert not frontend.attached
    assert frontend.read(tmp_path / "a.ipynb") is None  # the disk, without asking
    assert len(fake.requests) == 1
    fake.silent = False  # the extension answers a later hello (the kernel was busy before)
    frontend.hello_in_background(tmp_path / "a.ipynb")
    assert frontend.attached and frontend.server_root == tmp_path.resolve()
    with pytest.raises(LiveError, match="no frontend extension"):
        LiveFrontend().request("read", path="a.ipynb")
    assert not LiveFrontend().attached


BASE = nb(("a", "x = 1"), ("b", "y = 2"), ("c", "z = 3"))


@pytest.mark.parametrize(
    "target, live, ops, conflicts",
    [
        # the agent changes a; the user's unsaved edit of b stays out of the operations
        (
            nb(("a", "x = 10"), ("b", "y = 2"), ("c", "z = 3")),
            nb(("a", "x = 1"), ("b", "y = 2 + 3"), ("c", "z = 3")),
            [("set_source", "a")],
            [],
        ),
        # the user edited the very cell the agent changed: a conflict, no operation
        (
            nb(("a", "x = 10"), ("b", "y = 2"), ("c", "z = 3")),
            nb(("a", "x = 100"), ("b", "y = 2"), ("c", "z = 3")),
            [],
            ["a"],
        ),
        # already as the agent wants it
        (
            nb(("a", "x = 10"), ("b", "y = 2"), ("c", "z = 3")),
            nb(("a", "x = 10"), ("b", "y = 2"), ("c", "z = 3")),
            [],
            [],
        ),
        # a new cell goes after the cell it follows in the change
        (
            nb(("a", "x = 1"), ("n", "new"), ("b", "y = 2"), ("c", "z = 3")),
            BASE,
            [("insert", "a")],
            [],
        ),
        # deleting a cell the user changed is a conflict; an unchanged one is deleted
        (
            nb(("a", "x = 1"), ("c", "z = 3")),
            nb(("a", "x = 1"), ("b", "y = 20"), ("c", "z = 3")),
            [],
            ["b"],
        ),
        (nb(("a", "x = 1"), ("c", "z = 3")), BASE, [("delete", "b")], []),
        # the user deleted the cell the agent changed
        (
            nb(("a", "x = 10"), ("b", "y = 2"), ("c", "z = 3")),
            nb(("b", "y = 2"), ("c", "z = 3")),
            [],
            ["a"],
        ),
    ],
)
def test_cell_ops(target, live, ops, conflicts):
    plan = cell_ops(BASE, target, live)
    got = [(op["op"], op.get("id") or op.get("after")) for op in plan.ops]
    assert got == ops and plan.conflicts == conflicts


def test_a_move_is_told_not_dropped():
    moved = nb(("b", "y = 2"), ("a", "x = 1"), ("c", "z = 3"))
    assert cell_ops(BASE, moved, BASE).moved
    assert not cell_ops(BASE, nb(("a", "x = 10"), ("b", "y = 2"), ("c", "z = 3")), BASE).moved


def test_writer_refuses_a_move_it_cannot_carry(tmp_path: Path):
    path = tmp_path / "a.ipynb"
    path.write_text(json.dumps(nb(("a", "x = 1"), ("b", "y = 2"))))
    fake = FakeFrontend(tmp_path, "a.ipynb")
    fake.open("a.ipynb")
    project = Project(tmp_path)
    frontend = attach(fake, path)
    staging = Staging(project, reader=LiveReader(frontend))
    staging.notebook_edit("a.ipynb", "move", cell="b", to_index=0)
    with pytest.raises(ConflictError, match="moving cells is not applied"):
        LiveWriter(frontend).plan(project, staging.changeset(), ["a.ipynb"], None)


def test_cells_without_ids_are_never_guessed():
    bare = {"cells": [{"cell_type": "code", "source": "x"}]}
    assert cell_ops(bare, bare, bare).conflicts == ["(cells without ids)"]


def test_live_reader_stages_against_the_open_document(tmp_path: Path):
    (tmp_path / "a.ipynb").write_text(json.dumps(nb(("a", "x = 1"), ("b", "y = 2"))))
    (tmp_path / "m.py").write_text("one\n")
    fake = FakeFrontend(tmp_path, "a.ipynb")
    fake.open("a.ipynb", dirty=True)
    fake.docs["a.ipynb"]["cells"][1]["source"] = "y = 2 + 3"  # typed, not saved
    staging = Staging(Project(tmp_path), reader=LiveReader(attach(fake, tmp_path / "a.ipynb")))
    assert "y = 2 + 3" in staging.read_text("a.ipynb")
    assert staging.read_text("m.py") == "one\n"  # not a notebook: the disk


def test_writer_applies_in_the_tab_keeps_the_users_edit_and_undoes(tmp_path: Path):
    path = tmp_path / "a.ipynb"
    path.write_text(json.dumps(nb(("a", "x = 1"), ("b", "y = 2"))))
    fake = FakeFrontend(tmp_path, "a.ipynb")
    fake.open("a.ipynb")
    project = Project(tmp_path)
    frontend = attach(fake, path)
    staging = Staging(project, reader=LiveReader(frontend))
    staging.notebook_edit("a.ipynb", "replace", cell="a", source="x = 10")
    fake.docs["a.ipynb"]["cells"][1]["source"] = "y = 2 + 3"  # the user types meanwhile
    writer = LiveWriter(frontend)
    changeset = staging.changeset()
    assert writer.open_notebooks(project, changeset) == ["a.ipynb"]

    done = writer.write(project, writer.plan(project, changeset, ["a.ipynb"], None))
    cells = {c["id"]: c["source"] for c in json.loads(path.read_text())["cells"]}
    assert cells == {"a": "x = 10", "b": "y = 2 + 3"} and fake.saved == ["a.ipynb"]

    writer.undo_change(project, done[0])
    cells = {c["id"]: c["source"] for c in json.loads(path.read_text())["cells"]}
    assert cells == {"a": "x = 1", "b": "y = 2 + 3"}


def test_writer_refuses_a_cell_the_user_edited_and_changes_nothing(tmp_path: Path):
    path = tmp_path / "a.ipynb"
    path.write_text(json.dumps(nb(("a", "x = 1"), ("b", "y = 2"))))
    original = path.read_bytes()
    fake = FakeFrontend(tmp_path, "a.ipynb")
    fake.open("a.ipynb")
    project = Project(tmp_path)
    frontend = attach(fake, path)
    staging = Staging(project, reader=LiveReader(frontend))
    staging.notebook_edit("a.ipynb", "replace", cell="a", source="x = 10")
    fake.docs["a.ipynb"]["cells"][0]["source"] = "x = 100"  # the same cell, by the user
    writer = LiveWriter(frontend)
    with pytest.raises(ConflictError, match=r"a.ipynb cell a"):
        writer.plan(project, staging.changeset(), ["a.ipynb"], None)
    assert path.read_bytes() == original and not fake.saved


def test_the_live_reader_checks_each_read_once_open_in_a_tab_or_not(tmp_path: Path):
    for name in ("a.ipynb", "b.ipynb"):
        (tmp_path / name).write_text(json.dumps(nb(("a", "x = 1"))))
    fake = FakeFrontend(tmp_path, "a.ipynb")
    fake.open("a.ipynb")  # b.ipynb is not open: read from the disk
    project = CountingProject(tmp_path)
    staging = Staging(project, reader=LiveReader(attach(fake, tmp_path / "a.ipynb")))
    for name in ("a.ipynb", "b.ipynb"):
        assert "x = 1" in staging.read_text(name)
    assert project.checks == {"a.ipynb": 1, "b.ipynb": 1}
