"""Staging: an overlay of edits over the user's tree, which it reads but never writes."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Any, Protocol

from agent_magic.errors import AgentMagicError, ToolError
from agent_magic.paths import Project, is_internal, read_regular
from agent_magic.staging import edits, notebooks, textfile
from agent_magic.staging.changeset import Changeset, FileChange, make_change


class Reader(Protocol):
    """Where staging reads a file it has not staged yet: the disk, or an open editor's document."""

    def read(self, project: Project, norm: str) -> bytes | None:
        """The current bytes of project path ``norm`` (normalized), None if absent.

        The reader is the read's one confinement check: it refuses (PathError) a path that
        resolves outside the project or to a secret file, as ``Project.resolve`` does.
        """
        ...


class DiskReader:
    """Reads the file on disk."""

    def read(self, project: Project, norm: str) -> bytes | None:
        """The file's bytes, or None if it is not a file."""
        return self.read_at(project.resolve(norm), norm)

    def read_at(self, target: Path, norm: str) -> bytes | None:
        """The bytes of ``target``, project path ``norm`` already checked; None if not a file."""
        try:
            if stat.S_ISDIR(os.stat(target).st_mode):
                return None
            return read_regular(target, name=norm)  # no FIFO, device or oversize file
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:  # EACCES, ELOOP, ENAMETOOLONG: the model hears why
            raise ToolError(f"{norm} cannot be read: {exc.strerror or exc}") from None


class Staging:
    """Staged file contents on top of the project's files; ``changeset()`` shows the difference.

    Every edit reads its file once and records exactly that content as the change's "before",
    so a save landing while the edit is computed shows up as a conflict at apply instead of
    being reverted by it.
    """

    def __init__(
        self, project: Project, *, max_bytes: int = textfile.MAX_BYTES, reader: Reader | None = None
    ) -> None:
        self.project = project
        self.max_bytes = max_bytes
        self.reader: Reader = reader or DiskReader()
        self._after: dict[str, bytes | None] = {}  # staged content; None = deleted
        self._before: dict[str, bytes | None] = {}  # disk content when first staged
        self._renamed: dict[str, str] = {}  # destination -> source
        self._cache: tuple[int, Changeset] | None = None
        self._diffed: dict[str, tuple[bytes | None, bytes | None, str | None, FileChange]] = {}
        self._version = 0

    # ---- reading -------------------------------------------------------------------------
    def read_bytes(self, path: str) -> bytes:
        """The staged bytes of ``path`` (or the disk's); ToolError if it is not a file."""
        return self._read(self.project.normalize(path))

    def read_text(self, path: str) -> str:
        """The staged text of ``path``; notebooks come back as their cell view."""
        norm = self.project.normalize(path)
        data = self._read(norm)
        if notebooks.is_notebook(norm):
            return notebooks.view(notebooks.load(data, norm)[0], norm)
        return textfile.decode(data, norm, max_bytes=self.max_bytes)[0]

    def exists(self, path: str) -> bool:
        """Whether ``path`` is a file or directory in the staged view."""
        norm = self._norm(path)
        return self._current(norm) is not None or self.is_dir(norm)

    def is_dir(self, path: str) -> bool:
        """Whether ``path`` is a directory in the staged view."""
        norm = self.project.normalize(path)
        if norm == "." or self.project.resolve(norm).is_dir():  # refuses escapes and secrets
            return True
        prefix = norm + "/"
        return any(p.startswith(prefix) and d is not None for p, d in self._after.items())

    def list_dir(self, path: str = ".") -> list[str]:
        """Names in a directory of the staged view, sorted; directories end with ``/``."""
        norm = self._norm(path)
        if not self.is_dir(norm):
            raise ToolError(f"{norm} is not a directory")
        names: set[str] = set()
        real = self.project.resolve(norm, allow_secret=True)
        if real.is_dir():
            for entry in os.scandir(real):
                if is_internal(entry.name) or self.project.is_secret(entry.name):
                    continue
                names.add(entry.name + "/" if entry.is_dir() else entry.name)
        prefix = "" if norm == "." else norm + "/"
        for staged, data in self._after.items():
            if not staged.startswith(prefix):
                continue
            rest = staged[len(prefix) :]
            if "/" in rest:
                if data is not None:
                    names.add(rest.split("/", 1)[0] + "/")
            elif data is None:
                names.discard(rest)
            else:
                names.add(rest)
        return sorted(names)

    # ---- text edits ----------------------------------------------------------------------
    def replace(self, path: str, old: str, new: str, line: int | None = None) -> str:
        """Replace the one region matching ``old`` (``line`` chooses among several); returns
        where and how it matched."""
        norm = self._text_target(path)
        base = self.read_bytes(norm)
        text, fmt = self._decoded(norm, base)
        result = edits.replace_text(text, old, new, norm, line)
        self._stage(norm, textfile.encode(result.text, fmt), base)
        return f"{norm}: {result.note}"

    def insert(self, path: str, line: int, text: str) -> str:
        """Insert ``text`` after line ``line`` (0 = top)."""
        norm = self._text_target(path)
        base = self.read_bytes(norm)
        content, fmt = self._decoded(norm, base)
        result = edits.insert_text(content, line, text, norm)
        self._stage(norm, textfile.encode(result.text, fmt), base)
        return f"{norm}: {result.note}"

    def create(self, path: str, text: str, overwrite: bool = False) -> str:
        """Create a file (or, with ``overwrite``, replace one's whole content)."""
        norm = self._norm(path)
        existing = self._current(norm)
        if self.is_dir(norm):
            raise ToolError(f"{norm} is a directory")
        if existing is not None and not overwrite:
            raise ToolError(f"{norm} already exists; edit it, or pass overwrite=true to replace it")
        self._check_parent(norm)
        text = text.replace("\r\n", "\n")
        if notebooks.is_notebook(norm):
            nb, style = notebooks.load(text.encode("utf-8"), norm)
            notebooks.validate(nb)
            data = notebooks.dump(nb, style)
        else:
            fmt = textfile.TextFormat()
            if existing is not None:
                with contextlib.suppress(ToolError):
                    fmt = textfile.decode(existing, norm, max_bytes=1 << 62)[1]
            data = textfile.encode(text, fmt)
        if len(data) > self.max_bytes:
            raise ToolError(
                f"{norm} would be {len(data):,} bytes, over the {self.max_bytes:,} limit"
            )
        self._stage(norm, data, existing)
        lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        return f"{norm}: {'overwrote' if existing is not None else 'created'} ({lines} lines)"

    def delete(self, path: str) -> str:
        """Stage the deletion of a file."""
        norm = self._norm(path)
        base = self._current(norm)
        if base is None:
            if self.is_dir(norm):
                raise ToolError(f"{norm} is a directory; delete its files one by one")
            raise ToolError(f"{norm} does not exist")
        self._renamed.pop(norm, None)  # deleting a moved file leaves its source deleted
        self._stage(norm, None, base)
        return f"{norm}: deleted"

    def rename(self, src: str, dst: str) -> str:
        """Stage moving file ``src`` to ``dst``."""
        a, b = self._norm(src), self._norm(dst)
        data = self._current(a)
        if data is None:
            raise ToolError(f"{a} does not exist or is not a file")
        if a == b:
            raise ToolError("source and destination are the same")
        if self._current(b) is not None or self.is_dir(b):
            raise ToolError(f"{b} already exists")
        self._check_parent(b)
        origin = self._renamed.pop(a, a)
        self._stage(a, None, data)
        self._stage(b, data, None)
        if self._before.get(origin) is not None and self._before.get(b) is None and origin != b:
            self._renamed[b] = origin
        return f"renamed {a} -> {b}"

    # ---- notebooks -----------------------------------------------------------------------
    def notebook_view(
        self,
        path: str,
        start_cell: int | None = None,
        end_cell: int | None = None,
        start_line: int | None = None,
        end_line: int | None = None,
    ) -> str:
        """Cells of the notebook with ids, outputs trimmed; bounded, and says how to see the rest."""
        norm = self.project.normalize(path)  # checked as it is read
        return notebooks.view(
            self._notebook(norm)[0], norm, start_cell, end_cell, start_line, end_line
        )

    def read_notebook(self, path: str) -> dict[str, Any]:
        """The staged notebook as a v4 dict (v3 files converted); ToolError if it is not one."""
        return self._notebook(self.project.normalize(path))[0]  # checked as it is read

    def notebook_edit(
        self,
        path: str,
        action: str,
        *,
        cell: str | int | None = None,
        index: int | None = None,
        source: str | None = None,
        cell_type: str | None = None,
        to_index: int | None = None,
    ) -> str:
        """Edit one cell: replace, insert, delete, move or set_type."""
        norm = self._norm(path)
        self._notebook_path(norm)
        base = self.read_bytes(norm)
        nb, style = self._notebook(norm, base)
        new, note = notebooks.edit(
            nb,
            action,
            cell=cell,
            index=index,
            source=source,
            cell_type=cell_type,
            to_index=to_index,
        )
        self._stage(norm, notebooks.dump(new, style), base)
        return f"{norm}: {note}{notebooks.conversion_note(style)}"

    # ---- the changeset -------------------------------------------------------------------
    def staged_paths(self) -> list[str]:
        """Every path with staged content or a staged deletion, changed or not."""
        return sorted(self._after)

    def reads_disk(self, path: str) -> bool:
        """Whether ``read_text(path)`` is the file on disk as it is: not staged, not a notebook,
        a regular file the project lets the agent read (inside, not secret, a single link)
        within the size limit for text. False when unsure."""
        try:
            norm = self.project.normalize(path)
            if norm in self._after or notebooks.is_notebook(norm):
                return False
            info = os.stat(self.project.resolve(norm))
        except (AgentMagicError, OSError):
            return False
        return stat.S_ISREG(info.st_mode) and info.st_size <= self.max_bytes

    def changed_paths(self) -> list[str]:
        """Paths whose staged content differs from disk (rename sources included)."""
        return sorted(self.changeset().paths)

    def changeset(self) -> Changeset:
        """A snapshot of every staged change."""
        if self._cache and self._cache[0] == self._version:
            return self._cache[1]
        files: list[FileChange] = []
        sources = set(self._renamed.values())
        for path in sorted(self._after):
            after, before = self._after[path], self._before[path]
            if path in self._renamed:
                src = self._renamed[path]
                files.append(self._change(path, self._before[src], after, src))
            elif path in sources and after is None:
                continue
            elif after != before:
                files.append(self._change(path, before, after, None))
        cs = Changeset(files)
        self._cache = (self._version, cs)
        return cs

    def _change(
        self, path: str, before: bytes | None, after: bytes | None, old_path: str | None
    ) -> FileChange:
        # An edit re-diffs only its own file: the others' hunks (thousands, in a big change)
        # are reused while their contents are the very same objects.
        known = self._diffed.get(path)
        if known and known[0] is before and known[1] is after and known[2] == old_path:
            return known[3]
        change = make_change(path, before, after, old_path=old_path)
        self._diffed[path] = (before, after, old_path, change)
        return change

    def reset(self, path: str | None = None) -> None:
        """Drop staged changes: all of them, or those of one path (and its rename partner)."""
        self._version += 1
        if path is None:
            self._after.clear()
            self._before.clear()
            self._renamed.clear()
            return
        norm = self._norm(path)
        drop = {norm}
        if norm in self._renamed:
            drop.add(self._renamed.pop(norm))
        for dst, src in list(self._renamed.items()):
            if src == norm:
                drop.add(dst)
                del self._renamed[dst]
        for p in drop:
            self._after.pop(p, None)
            self._before.pop(p, None)

    def rebase(self) -> None:
        """Forget staged paths the user has since applied or changed on disk; disk wins there."""
        for path in list(self._after):
            if path not in self._after:
                continue
            disk = self._disk(path)
            if disk == self._after[path] or disk != self._before[path]:
                self.reset(path)

    # ---- internals -----------------------------------------------------------------------
    def _norm(self, path: str) -> str:
        norm = self.project.normalize(path)
        self.project.resolve(norm)  # raises PathError for escapes and secrets
        return norm

    def _read(self, norm: str) -> bytes:
        # One confinement check per read (a search reads thousands of files): the reader's, as
        # it opens the file; staged content was checked when it was staged and is not on disk.
        data = self._current(norm)
        if data is None:
            if self.is_dir(norm):
                raise ToolError(f"{norm} is a directory; use list_dir to see what is in it")
            raise ToolError(f"{norm} does not exist")
        return data

    def _disk(self, norm: str) -> bytes | None:
        return self.reader.read(self.project, norm)

    def _current(self, norm: str) -> bytes | None:
        if norm in self._after:
            return self._after[norm]
        return self._disk(norm) if norm != "." else None

    def _stage(self, norm: str, data: bytes | None, base: bytes | None) -> None:
        # ``base`` is the content the edit was computed from; read again, it could be a save
        # made meanwhile, which the change would then silently revert
        self.project.check_writable(norm)  # never an edit through a symbolic link
        if norm not in self._before:
            self._before[norm] = base
        self._after[norm] = data
        self._version += 1

    def _decoded(self, norm: str, data: bytes) -> tuple[str, textfile.TextFormat]:
        return textfile.decode(data, norm, max_bytes=self.max_bytes)

    def _text_target(self, path: str) -> str:
        norm = self._norm(path)
        if notebooks.is_notebook(norm):
            raise ToolError(f"{norm} is a notebook; edit it with notebook_edit, cell by cell")
        return norm

    def _notebook_path(self, norm: str) -> None:
        if not notebooks.is_notebook(norm):
            raise ToolError(f"{norm} is not a notebook (.ipynb)")

    def _notebook(
        self, norm: str, data: bytes | None = None
    ) -> tuple[dict[str, Any], notebooks.JsonStyle]:
        self._notebook_path(norm)
        return notebooks.load(self._read(norm) if data is None else data, norm)

    def _check_parent(self, norm: str) -> None:
        parts = norm.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if self._current(parent) is not None:
                raise ToolError(f"cannot create {norm}: {parent} is a file")
