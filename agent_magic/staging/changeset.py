"""Changesets: what staging would change, per file and per hunk, and the bytes a selection yields."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

from agent_magic.errors import ToolError, UserError
from agent_magic.staging import diff as difflib_
from agent_magic.staging import notebooks, textfile
from agent_magic.staging.diff import Hunk

ABSENT = "absent"
ChangeStatus = Literal["added", "modified", "deleted", "renamed"]


def content_hash(data: bytes | None) -> str:
    """sha256 of the bytes, or ``"absent"`` for a missing file."""
    return ABSENT if data is None else hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class FileChange:
    """One file's staged change; ``before``/``after`` are bytes, None meaning absent."""

    path: str
    status: ChangeStatus
    before: bytes | None
    after: bytes | None
    old_path: str | None = None
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def is_notebook(self) -> bool:
        """Whether the change is to a notebook (diffed and selected per cell)."""
        return notebooks.is_notebook(self.path)

    @property
    def before_hash(self) -> str:
        """Hash of the content the change was staged against."""
        return content_hash(self.before)

    def hunk_ids(self) -> list[str]:
        """The ids of this file's hunks, in order."""
        return [h.id for h in self.hunks]

    def diff(self) -> str:
        """A unified diff of this file for people (notebooks per cell; control characters shown)."""
        head = ""
        if self.status == "renamed":
            head = (
                f"rename from {difflib_.quote_path(self.old_path or '')}\n"
                f"rename to {difflib_.quote_path(self.path)}\n"
            )
        head += difflib_.file_header(self.path, self.old_path, self.status)
        body = []
        for h in self.hunks:
            if h.kind == "text":
                body.append(h.text)
            elif h.kind != "file" or h.text:
                body.append(f"@@ {h.header} @@\n{h.text}")
        # A view shows what the file holds: escape codes and the like are written out, not run.
        return head + difflib_.visible("".join(body))

    def content_for(self, selected: set[str]) -> bytes | None:
        """The file's bytes after applying just the selected hunks of this change."""
        ids = set(self.hunk_ids())
        chosen = ids & selected
        if chosen == ids:
            return self.after
        if self.status in ("added", "deleted"):
            return self.after if chosen else self.before
        text_hunks = [h for h in self.hunks if h.kind != "file"]
        if self.is_notebook and self.before is not None and self.after is not None:
            before, style = notebooks.load(self.before, self.path)
            after, _ = notebooks.load(self.after, self.path)
            merged = notebooks.apply_cell_hunks(before, after, text_hunks, chosen)
            return notebooks.dump(merged, style)
        if not text_hunks:
            return self.after
        old, fmt = textfile.decode(self.before or b"", self.path, max_bytes=1 << 62)
        new, _ = textfile.decode(self.after or b"", self.path, max_bytes=1 << 62)
        return textfile.encode(difflib_.apply_text_hunks(old, new, text_hunks, chosen), fmt)


@dataclass(frozen=True)
class Changeset:
    """A snapshot of staged changes."""

    files: list[FileChange] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """Whether nothing is changed."""
        return not self.files

    @property
    def paths(self) -> list[str]:
        """Every path the changeset touches (rename sources included)."""
        out = []
        for fc in self.files:
            if fc.old_path:
                out.append(fc.old_path)
            out.append(fc.path)
        return out

    def hunk_ids(self) -> list[str]:
        """All hunk ids, file by file."""
        return [i for fc in self.files for i in fc.hunk_ids()]

    def file(self, path: str) -> FileChange:
        """The change of ``path``; KeyError if it has none."""
        for fc in self.files:
            if fc.path == path:
                return fc
        raise KeyError(path)

    def diff(self) -> str:
        """The whole changeset as unified diff text."""
        return "".join(fc.diff() for fc in self.files)

    def writes(
        self, selection: set[str] | None = None
    ) -> list[tuple[FileChange, dict[str, bytes | None]]]:
        """Per selected file change, the bytes to write per path (None = delete)."""
        if selection is not None:
            unknown = set(selection) - set(self.hunk_ids())
            if unknown:
                raise UserError(f"unknown hunk id(s): {', '.join(sorted(unknown)[:5])}")
        out = []
        for fc in self.files:
            chosen = (
                set(fc.hunk_ids()) if selection is None else set(selection) & set(fc.hunk_ids())
            )
            if not chosen:
                continue
            targets: dict[str, bytes | None] = {fc.path: fc.content_for(chosen)}
            if fc.old_path:
                targets[fc.old_path] = None
            out.append((fc, targets))
        return out


def make_change(
    path: str, before: bytes | None, after: bytes | None, old_path: str | None = None
) -> FileChange:
    """A FileChange with its hunks computed."""
    status: ChangeStatus
    if old_path:
        status = "renamed"
    elif before is None:
        status = "added"
    elif after is None:
        status = "deleted"
    else:
        status = "modified"
    return FileChange(path, status, before, after, old_path, _hunks(path, before, after, status))


def _hunks(path: str, before: bytes | None, after: bytes | None, status: str) -> list[Hunk]:
    hunks: list[Hunk] = []
    if status == "renamed":
        hunks.append(Hunk(f"{path}#rename", "renamed", "", kind="file"))
        if before == after:
            return hunks
    if notebooks.is_notebook(path) and before is not None and after is not None:
        try:
            return hunks + notebooks.cell_hunks(
                path, notebooks.load(before, path)[0], notebooks.load(after, path)[0]
            )
        except ToolError:
            pass  # not a valid notebook: fall back to a text diff
    if notebooks.is_notebook(path) and (before is None) != (after is None):
        try:
            # A created or deleted notebook is shown per cell and bounded, never as raw JSON.
            nb = notebooks.load(after if before is None else before, path)[0]  # type: ignore[arg-type]
            return hunks + notebooks.file_hunks(path, nb, status)
        except ToolError:
            pass
    try:
        old = textfile.decode(before, path, max_bytes=1 << 62)[0] if before is not None else ""
        new = textfile.decode(after, path, max_bytes=1 << 62)[0] if after is not None else ""
    except ToolError:
        return [*hunks, Hunk(f"{path}#1", f"binary file {status}", "", kind="file")]
    found = difflib_.text_hunks(path, old, new)
    if not found and status in ("added", "deleted"):
        found = [Hunk(f"{path}#1", f"empty file {status}", "", kind="file")]
    return hunks + found
