"""Staging and applying through the documents open in the frontend (the live-document writer).

A notebook open in the page is read from its open document (unsaved edits included) and
changed there, cell by cell, then saved by the page: the tab updates in place, other cells and
the running cell's outputs stay, and no "File Changed" dialog appears. Files that are not open
notebooks keep the disk path; an editor tab of one is reloaded from disk afterwards.

The notebooks' part of an apply or undo (``LiveBatch``) runs inside ``staging.apply``'s lock,
checkpoint and journal, like the files written on disk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agent_magic.errors import ConflictError, ToolError
from agent_magic.livedoc import LiveError, LiveFrontend
from agent_magic.paths import Project
from agent_magic.staging import notebooks
from agent_magic.staging.changeset import Changeset
from agent_magic.staging.livecells import cell_ops
from agent_magic.staging.overlay import DiskReader


def notebook_bytes(content: dict[str, Any]) -> bytes:
    """A notebook's JSON as nbformat writes it (one-space indent, a final newline)."""
    return (json.dumps(content, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def same_notebook(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two notebook dicts hold the same content (sources as lines or one string alike)."""
    return _joined(a) == _joined(b)


def _joined(value: Any) -> Any:
    # nbformat lets any multi-line string be a list of lines (on disk it is; a page's model
    # gives one string): compare with every list of strings joined.
    if isinstance(value, dict):
        return {k: _joined(v) for k, v in value.items()}
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):  # [] too: an empty source may be ""
            return "".join(value)
        return [_joined(v) for v in value]
    return value


class LiveReader(DiskReader):
    """Reads an open notebook from the frontend's document; anything else from the disk."""

    def __init__(self, frontend: LiveFrontend) -> None:
        self.frontend = frontend

    def read(self, project: Project, norm: str) -> bytes | None:
        """The open notebook's current content, else the file on disk.

        When the open document holds what the file holds (no unsaved edits), the file's own
        bytes are returned: they are the staged change's "before", so an apply that falls back
        to the disk (the tab closed meanwhile) finds the file unchanged instead of a conflict.
        """
        if notebooks.is_notebook(norm):
            target = project.resolve(norm)  # the one confinement check of this read
            try:
                doc = self.frontend.read(target)
            except LiveError:
                doc = None
            if doc is not None and doc.kind == "notebook" and isinstance(doc.content, dict):
                try:
                    disk = self.read_at(target, norm)
                except ToolError:
                    disk = None  # the open document is what the user sees; it will do
                if disk is not None and same_notebook(_parsed(disk), doc.content):
                    return disk
                return notebook_bytes(doc.content)
            return self.read_at(target, norm)
        return super().read(project, norm)


def _parsed(data: bytes) -> dict[str, Any]:
    try:
        nb = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return nb if isinstance(nb, dict) else {}


@dataclass
class LiveChange:
    """One notebook changed through its open document: enough to take the change back."""

    path: str
    base: dict[str, Any]
    target: dict[str, Any]


@dataclass
class LiveCheckpoint:
    """The open-notebook changes of the apply that made checkpoint ``id`` (to undo them there)."""

    id: str
    paths: list[str]
    changes: list[LiveChange] = field(default_factory=list)
    reverted: list[str] = field(default_factory=list)  # editor tabs reloaded from disk
    dirty: list[str] = field(default_factory=list)  # editor tabs with unsaved changes


@dataclass
class LiveBatch:
    """The open notebooks' part of one apply or undo (a ``staging.apply.LivePart``).

    An apply sends the cell operations ``LiveWriter.plan`` checked; an undo computes the inverse
    ones against the documents as they are now. Either is all or nothing across its notebooks.
    """

    writer: LiveWriter
    project: Project
    changes: list[LiveChange]
    planned: list[tuple[LiveChange, list[dict[str, Any]]]] = field(default_factory=list)
    undo: bool = False

    @property
    def paths(self) -> list[str]:
        """The notebooks it changes."""
        return [c.path for c in self.changes]

    def write(self) -> None:
        """Change every notebook in its tab (and have the page save it), or none."""
        if self.undo:
            self.writer.change_all(self.project, self.changes, undo=True)
        else:
            self.writer.write(self.project, self.planned)

    def unwrite(self) -> None:
        """Take the write back, in the same tabs."""
        self.writer.change_all(self.project, self.changes, undo=not self.undo)


class LiveWriter:
    """Applies the open notebooks of a changeset through the frontend."""

    def __init__(self, frontend: LiveFrontend) -> None:
        self.frontend = frontend
        self.checkpoints: dict[str, LiveCheckpoint] = {}

    def open_notebooks(self, project: Project, changeset: Changeset) -> list[str]:
        """The changed notebooks (modified, not added, deleted or moved) open in the frontend."""
        out = []
        for fc in changeset.files:
            if fc.is_notebook and fc.status == "modified":
                try:
                    doc = self.frontend.read(project.resolve(fc.path))
                except LiveError:
                    continue
                if doc is not None and doc.kind == "notebook":
                    out.append(fc.path)
        return out

    def plan(
        self, project: Project, changeset: Changeset, paths: list[str], selection: set[str] | None
    ) -> list[tuple[LiveChange, list[dict[str, Any]]]]:
        """Per open notebook, its change and the cell operations; ConflictError names cells."""
        planned, conflicts = [], []
        for path in paths:
            fc = changeset.file(path)
            chosen = set(fc.hunk_ids()) if selection is None else selection & set(fc.hunk_ids())
            if not chosen:
                continue
            base = notebooks.load(fc.before or b"", path)[0]
            target = notebooks.load(fc.content_for(chosen) or b"", path)[0]
            change = LiveChange(path, base, target)
            if cell_ops(base, target, base).moved:
                raise ConflictError(
                    f"{path}: moving cells is not applied in the open notebook; "
                    "untick that hunk and move the cells yourself; nothing was "
                    "written",
                    [path],
                )
            ops, bad = self._ops(project, change, undo=False)
            conflicts += [f"{path} cell {c}" for c in bad]
            planned.append((change, ops))
        if conflicts:
            raise ConflictError(
                "you changed these cells in the open notebook since the agent "
                "read them: " + ", ".join(conflicts) + "; nothing was written "
                "(untick their hunks to apply the rest)",
                conflicts,
            )
        return planned

    def write(
        self, project: Project, planned: list[tuple[LiveChange, list[dict[str, Any]]]]
    ) -> list[LiveChange]:
        """Apply each planned change in its open notebook and save it; undone again on failure."""
        done: list[LiveChange] = []
        try:
            for change, ops in planned:
                self._send(project, change.path, ops)
                done.append(change)
        except BaseException:
            for change in reversed(done):
                self.undo_change(project, change)
            raise
        return done

    def change_all(self, project: Project, changes: list[LiveChange], *, undo: bool) -> None:
        """Apply (or undo) ``changes`` in their tabs against what they show now, all or none.

        Every notebook's cells are checked before any is changed; ConflictError names the cells
        the user edited meanwhile.
        """
        planned, bad = [], []
        for change in changes:
            ops, conflicts = self._ops(project, change, undo=undo)
            bad += [f"{change.path} cell {c}" for c in conflicts]
            planned.append((change, ops))
        if bad:
            raise ConflictError(
                "you changed these cells in the open notebook after the apply: "
                + ", ".join(bad)
                + ("; undo would lose that work" if undo else "; nothing was written"),
                [c.path for c in changes],
            )
        done: list[LiveChange] = []
        try:
            for change, ops in planned:
                self._send(project, change.path, ops)
                done.append(change)
        except BaseException:
            for change in reversed(done):
                self._send(project, change.path, self._ops(project, change, undo=not undo)[0])
            raise

    def undo_change(self, project: Project, change: LiveChange) -> None:
        """Take one change back in its open notebook (ConflictError if its cells changed since)."""
        ops, bad = self._ops(project, change, undo=True)
        if bad:
            raise ConflictError(
                f"you changed cells of {change.path} after the apply: "
                + ", ".join(bad)
                + "; undo would lose that work",
                [change.path],
            )
        self._send(project, change.path, ops)

    def revert_editors(self, project: Project, paths: list[str], cp: LiveCheckpoint) -> None:
        """Reload the editor tabs of files written on disk, when they have no unsaved changes."""
        for path in paths:
            if notebooks.is_notebook(path) and path in {c.path for c in cp.changes}:
                continue
            try:
                reply = self.frontend.revert(project.resolve(path))
            except LiveError:
                continue
            if reply.get("reverted"):
                cp.reverted.append(path)
            elif reply.get("dirty"):
                cp.dirty.append(path)

    def _ops(
        self, project: Project, change: LiveChange, *, undo: bool
    ) -> tuple[list[dict[str, Any]], list[str]]:
        doc = self.frontend.read(project.resolve(change.path))
        if doc is None or not isinstance(doc.content, dict):
            raise ConflictError(f"{change.path} is no longer open in the frontend", [change.path])
        base, target = (change.target, change.base) if undo else (change.base, change.target)
        plan = cell_ops(base, target, doc.content)
        return plan.ops, plan.conflicts

    def _send(self, project: Project, path: str, ops: list[dict[str, Any]]) -> None:
        if not ops:
            return
        result = self.frontend.apply(project.resolve(path), ops)
        if result.conflicts:
            raise ConflictError(
                f"cells of {path} changed while applying: "
                + ", ".join(result.conflicts)
                + "; nothing was written there",
                [path],
            )
