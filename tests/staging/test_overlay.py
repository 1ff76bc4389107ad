from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pytest

from agent_magic.errors import PathError, ToolError
from agent_magic.paths import Project
from agent_magic.staging import Staging


def snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_edits_never_touch_the_tree(plain: Project):
    before = snapshot(plain.root)
    st = Staging(plain)
    st.replace("a.py", "two\n", "TWO\n")
    st.insert("a.py", 0, "zero\n")
    st.create("new/c.py", "c = 1\n")
    st.delete("pkg/b.txt")
    st.rename("a.py", "moved.py")
    st.changeset().diff()
    assert snapshot(plain.root) == before
    assert st.read_text("moved.py") == "zero\none\nTWO\nthree\n"
    assert not st.exists("a.py") and not st.exists("pkg/b.txt")


def test_reads_prefer_staged_content(plain: Project):
    st = Staging(plain)
    assert st.read_text("a.py") == "one\ntwo\nthree\n"
    st.replace("a.py", "one", "ONE")
    assert st.read_text("a.py").startswith("ONE")
    assert (plain.root / "a.py").read_text().startswith("one")


def test_list_dir_shows_the_staged_view(plain: Project):
    (plain.root / ".env").write_text("KEY=1\n")
    st = Staging(plain)
    st.create("docs/readme.md", "hi\n")
    st.delete("a.py")
    assert st.list_dir() == ["docs/", "pkg/"]
    assert st.list_dir("docs") == ["readme.md"]
    assert st.is_dir("docs") and not st.is_dir("pkg/b.txt")


def test_crlf_file_keeps_its_line_endings(plain: Project):
    st = Staging(plain)
    st.replace("pkg/b.txt", "beta\n", "beta\ngamma\n")
    assert st.changeset().file("pkg/b.txt").after == b"alpha\r\nbeta\r\ngamma\r\n"


@pytest.mark.parametrize(
    "path,error",
    [
        ("../outside.py", PathError),
        ("/etc/passwd", PathError),
        (".git/config", PathError),
        (".agent_magic/x", PathError),
        (".env", PathError),
        ("keys/server.pem", PathError),
        ("missing.py", ToolError),
    ],
)
def test_reads_refused(plain: Project, path, error):
    with pytest.raises(error):
        Staging(plain).read_text(path)


def test_refusals_are_tool_errors(plain: Project):
    (plain.root / "blob.bin").write_bytes(b"\x00\x01\x02")
    st = Staging(plain, max_bytes=10)
    with pytest.raises(ToolError, match="binary"):
        st.read_text("blob.bin")
    with pytest.raises(ToolError, match="limit"):
        st.read_text("a.py")
    st = Staging(plain)
    with pytest.raises(ToolError, match="already exists"):
        st.create("a.py", "x")
    with pytest.raises(ToolError, match="is a file"):
        st.create("a.py/x.py", "x")
    with pytest.raises(ToolError, match="already exists"):
        st.rename("a.py", "pkg/b.txt")
    st.create("n.ipynb", nbformat.writes(nbformat.v4.new_notebook()))
    with pytest.raises(ToolError, match="notebook_edit"):
        st.replace("n.ipynb", "cells", "x")


def test_changeset_statuses_and_hunks(plain: Project):
    st = Staging(plain)
    st.replace("a.py", "two", "2")
    st.create("n.txt", "n\n")
    st.delete("pkg/b.txt")
    st.create("r.txt", "r\n")
    cs = st.changeset()
    assert [(f.path, f.status) for f in cs.files] == [
        ("a.py", "modified"),
        ("n.txt", "added"),
        ("pkg/b.txt", "deleted"),
        ("r.txt", "added"),
    ]
    assert cs.hunk_ids() == ["a.py#1", "n.txt#1", "pkg/b.txt#1", "r.txt#1"]
    assert cs.file("a.py").before_hash == hashlib.sha256(b"one\ntwo\nthree\n").hexdigest()
    assert "-two\n+2\n" in cs.diff() and "+++ /dev/null" in cs.diff()
    assert st.changeset() is cs  # cached until the next edit


def test_rename_then_edit_is_one_renamed_change(plain: Project):
    st = Staging(plain)
    st.rename("a.py", "lib/a.py")
    st.replace("lib/a.py", "three", "3")
    (fc,) = st.changeset().files
    assert (fc.path, fc.old_path, fc.status) == ("lib/a.py", "a.py", "renamed")
    assert fc.hunk_ids() == ["lib/a.py#rename", "lib/a.py#1"]
    assert st.changed_paths() == ["a.py", "lib/a.py"]
    st.rename("lib/a.py", "a.py")
    st.replace("a.py", "3", "three")
    assert st.changeset().is_empty


def test_reset_one_path_or_all(plain: Project):
    st = Staging(plain)
    st.replace("a.py", "two", "2")
    st.rename("pkg/b.txt", "b.txt")
    st.reset("b.txt")
    assert st.changed_paths() == ["a.py"]
    st.reset()
    assert st.changeset().is_empty and st.read_text("a.py") == "one\ntwo\nthree\n"


def test_rebase_lets_disk_win_for_applied_or_changed_paths(plain: Project):
    st = Staging(plain)
    st.replace("a.py", "two", "2")
    st.replace("pkg/b.txt", "alpha", "ALPHA")
    st.create("c.py", "c\n")
    (plain.root / "a.py").write_text("user edit\n")
    (plain.root / "c.py").write_text("c\n")
    st.rebase()
    assert st.changed_paths() == ["pkg/b.txt"]
    assert st.read_text("a.py") == "user edit\n"


def test_notebook_tools(plain: Project):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", id="c1")]
    (plain.root / "n.ipynb").write_text(nbformat.writes(nb))
    st = Staging(plain)
    assert "[0] code id=c1" in st.notebook_view("n.ipynb")
    assert st.read_text("n.ipynb") == st.notebook_view("n.ipynb")
    st.notebook_edit("n.ipynb", "replace", cell="c1", source="x = 2")
    st.notebook_edit("n.ipynb", "insert", index=1, source="# done", cell_type="markdown")
    (fc,) = st.changeset().files
    assert fc.is_notebook and fc.hunks[0].id == "n.ipynb#cell-c1"
    assert "cell 0 (id c1) modified" in fc.diff()
    with pytest.raises(ToolError, match="not a notebook"):
        st.notebook_view("a.py")
