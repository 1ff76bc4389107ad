"""The autosave race: a save landing while an edit is computed is a conflict at apply, never reverted.

Each edit reads its file once; the reader injected here writes the file right after that read,
as JupyterLab's autosave would while the agent validates its edit. Formerly "before" came from a
second read, so it matched the save and Apply wrote over the user's new cell.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from agent_magic.errors import ConflictError
from agent_magic.paths import Project
from agent_magic.staging import Staging, apply
from agent_magic.staging.overlay import DiskReader


class SavesAfterFirstRead(DiskReader):
    """Reads the disk; after the first read of ``path`` writes ``saved`` there (once)."""

    def __init__(self, path: str, saved: bytes) -> None:
        self.path, self.saved, self.reads = path, saved, 0

    def read(self, project: Project, norm: str) -> bytes | None:
        data = super().read(project, norm)
        if norm == self.path:
            self.reads += 1
            if self.reads == 1:
                (project.root / norm).write_bytes(self.saved)
        return data


def notebook(*sources: str) -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s, id=f"c{i}") for i, s in enumerate(sources)]
    return nbformat.writes(nb).encode()


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "nb.ipynb").write_bytes(notebook("x = 1", "y = 2"))
    (tmp_path / "a.py").write_text("one\ntwo\n")
    return Project(tmp_path)


def test_a_save_between_reading_and_staging_a_notebook_edit_conflicts_at_apply(project):
    original = (project.root / "nb.ipynb").read_bytes()
    saved = notebook("x = 1", "y = 2", "users_new_cell = 3")  # the user's cell, autosaved
    reader = SavesAfterFirstRead("nb.ipynb", saved)
    staging = Staging(project, reader=reader)

    staging.notebook_edit("nb.ipynb", "replace", cell="c0", source="x = 10")

    change = staging.changeset().file("nb.ipynb")
    assert change.before == original  # exactly what the edit was computed from
    assert reader.reads == 1  # one read per staging step
    with pytest.raises(ConflictError, match=r"nb.ipynb"):
        apply(project, staging.changeset())
    assert (project.root / "nb.ipynb").read_bytes() == saved  # the user's cell is still there


def test_a_save_between_reading_and_staging_a_text_edit_conflicts_at_apply(project):
    reader = SavesAfterFirstRead("a.py", b"one\ntwo\nusers_line\n")
    staging = Staging(project, reader=reader)

    staging.replace("a.py", "one\n", "ONE\n")

    assert staging.changeset().file("a.py").before == b"one\ntwo\n"
    with pytest.raises(ConflictError):
        apply(project, staging.changeset())
    assert (project.root / "a.py").read_bytes() == b"one\ntwo\nusers_line\n"
