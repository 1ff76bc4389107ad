"""A throwaway copy of the project with the staged changes written on top; removed on exit."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from agent_magic.errors import PathError
from agent_magic.gitenv import git_env
from agent_magic.paths import INTERNAL_DIRS, Project
from agent_magic.review.bytecode import drop_cached, matches, source_of, untrusted_cache
from agent_magic.review.clone import FileCopier
from agent_magic.review.kept import (
    PREFIX,
    KeptTree,
    force_remove,
    hold_alive,
    release_alive,
    sync,
    wanted_files,
)

if TYPE_CHECKING:
    from typing_extensions import Self

MAX_FILE_SIZE = 50 * 1024 * 1024
# Directories never copied by the non-git walk: caches, environments, other tools' state.
SKIP_DIRS = frozenset(
    {
        *INTERNAL_DIRS,
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".ipynb_checkpoints",
        ".hg",
        ".svn",
    }
)


class Scratch:
    """``with Scratch(root, changes) as s: s.path`` is a copy of ``root`` plus ``changes``.

    The copy is made of real files (never hard links: a check may rewrite a file in place) and is
    deleted on exit, also after an error or KeyboardInterrupt. Secret files (``.env``, keys,
    ``.agentignore`` patterns) are never copied, git-tracked or not.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        changes: Mapping[str, bytes | None] | None = None,
        *,
        parent: str | os.PathLike[str] | None = None,
        max_file_size: int = MAX_FILE_SIZE,
        keep: KeptTree | None = None,
        owner: object | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.keep = keep  # a copy kept from the session's last round: brought up to date
        self.owner = owner  # the session using ``keep``: only its checks' bytecode is kept
        self._kept: KeptTree | None = None
        self.changes = dict(changes or {})
        self.parent = Path(parent) if parent is not None else None
        self.max_file_size = max_file_size
        self.base: Path | None = None
        self._alive: int | None = None  # a fresh copy's ALIVE lock: a killed kernel's is swept
        self.skipped: list[str] = []
        self.files: list[str] = []  # the copy's files: the project's, plus added, minus deleted

    @property
    def path(self) -> Path:
        """The root of the copy (only valid inside the ``with`` block)."""
        if self.base is None:
            raise RuntimeError("Scratch.path is only available inside its with block")
        return self.base / "tree"

    @property
    def artifacts(self) -> Path:
        """A directory next to the copy for check outputs (logs, reports), removed with it."""
        if self.base is None:
            raise RuntimeError("Scratch.artifacts is only available inside its with block")
        return self.base / "out"

    def __enter__(self) -> Self:
        keep = self.keep
        if keep is not None and keep.lock.acquire(blocking=False):
            try:
                self._enter_kept(keep)
                return self
            except OSError:
                keep.close()  # a round that cannot be synced starts from a fresh copy
                self._kept = None
                keep.lock.release()
            except BaseException:
                keep.close()
                self._kept = None
                keep.lock.release()
                raise
        if self.parent is not None:
            self.parent.mkdir(parents=True, exist_ok=True)
        self.base = Path(tempfile.mkdtemp(prefix=PREFIX, dir=self.parent))
        self._alive = hold_alive(self.base)
        try:
            self.path.mkdir()
            self.artifacts.mkdir()
            project = Project(self.root)
            listed = self._listed(project)
            self.skipped = copy_tree(self.root, self.path, listed, self.max_file_size)
            copy_bytecode(self.root, self.path, [f for f in listed if f not in self.changes])
            write_changes(self.path, self.changes)
            present = set(listed) - set(self.skipped)
            present |= {p for p, c in self.changes.items() if c is not None}
            present -= {p for p, c in self.changes.items() if c is None}
            self.files = sorted(present)
        except BaseException:
            self.close()
            raise
        return self

    def _enter_kept(self, kept: KeptTree) -> None:
        self._kept = kept
        self.base = kept.start(self.root, self.parent)
        project = Project(self.root)
        listed = self._listed(project)
        changes = {checked_path(p): c for p, c in self.changes.items()}
        self.skipped = self._sync(kept, changes, listed=listed)
        self.artifacts.mkdir()
        present = set(listed) - set(self.skipped)
        present |= {p for p, c in changes.items() if c is not None}
        present -= {p for p, c in changes.items() if c is None}
        self.files = sorted(present)

    def _sync(
        self,
        kept: KeptTree,
        changes: Mapping[str, bytes | None],
        *,
        listed: list[str] | None = None,
        clear: bool = True,
    ) -> list[str]:
        """Bring the kept copy to the project plus ``changes``; the project files not copied."""
        if listed is None:
            listed = self._listed(Project(self.root))
        changes = {checked_path(p): c for p, c in changes.items()}
        wanted, skipped = wanted_files(self.root, listed, changes, self.max_file_size)

        def copy_other(rel: str) -> list[str]:
            return copy_tree(self.root, self.path, [rel], self.max_file_size)

        return skipped + sync(kept, self.root, wanted, copy_other, self.owner, clear=clear)

    def _listed(self, project: Project) -> list[str]:
        # never a secret file or its bytecode (which holds its constants); never bytecode Python
        # would not check against its source
        out = []
        for rel in list_files(self.root):
            source = source_of(rel)
            if project.is_secret(rel) or (source is not None and project.is_secret(source)):
                continue
            if not untrusted_cache(self.root, rel):
                out.append(rel)
        return out

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Delete the copy (a kept one is left for the next round); safe to call twice."""
        kept = self._kept
        if kept is not None:
            self.base = None
            self._kept = None
            kept.lock.release()
            return
        if self.base is not None:
            shutil.rmtree(self.base, onerror=force_remove)
            self.base = None
        release_alive(self._alive)  # only once the copy is gone: no sweeper takes it before
        self._alive = None


class UnchangedCopy:
    """The unchanged project's copy for a round's baselines: entered when first needed, or
    made in a thread (``start``) while the changed copy is; ``with`` closes it on exit."""

    def __init__(self, scratch: Scratch) -> None:
        self.scratch = scratch
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._entered = False

    def start(self) -> None:
        """Make (or bring up to date) the copy in a thread."""
        self._thread = threading.Thread(target=self._make, name="agent-magic-unchanged")
        self._thread.start()

    def _make(self) -> None:
        try:
            self.scratch.__enter__()
            self._entered = True
        except BaseException as exc:  # noqa: BLE001 - raised where the copy is first used
            self._error = exc

    @contextmanager
    def tree(self) -> Iterator[Scratch]:
        """The copy, once it is made (the same one for every use in the round)."""
        with self._lock:
            self._wait()
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if not self._entered:
                self.scratch.__enter__()
                self._entered = True
        yield self.scratch

    def _wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._wait()
            if self._entered:
                self._entered = False
                self.scratch.close()


def list_files(root: Path) -> list[str]:
    """The project's files as posix paths: git's tracked + untracked-not-ignored, else a walk."""
    listed = _git_files(root)
    files = listed if listed is not None else _walk_files(root)
    return sorted(f for f in files if f.split("/", 1)[0] not in INTERNAL_DIRS)


def _git_files(root: Path) -> list[str] | None:
    if shutil.which("git") is None:
        return None
    try:
        proc = subprocess.run(
            # fsmonitor would run a program named in the repository's config
            [
                "git",
                "-c",
                "core.fsmonitor=false",
                "-C",
                str(root),
                "ls-files",
                "-z",
                "-c",
                "-o",
                "--exclude-standard",
            ],
            check=False,
            capture_output=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            env=git_env(),  # the project's repository, not one the kernel's GIT_DIR names
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    names = proc.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    return list(dict.fromkeys(n for n in names if n))


def _walk_files(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [
            d for d in dirnames if d not in SKIP_DIRS and not (here / d / "pyvenv.cfg").exists()
        ]
        out += [(here / f).relative_to(root).as_posix() for f in filenames]
    return out


def copy_tree(root: Path, dest: Path, files: Iterable[str], max_file_size: int) -> list[str]:
    """Copy ``files`` from ``root`` to ``dest``; return those skipped (too large, unreadable)."""
    skipped: list[str] = []
    copier = FileCopier()
    for rel in files:
        src = root / rel
        dst = dest / rel
        try:
            info = src.lstat()
        except OSError:
            continue  # tracked but deleted in the working tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        if stat.S_ISLNK(info.st_mode):
            _copy_link(root, src, dst, max_file_size, skipped, rel)
        elif stat.S_ISDIR(info.st_mode):  # a submodule
            shutil.copytree(
                src, dst, symlinks=True, ignore=shutil.ignore_patterns(".git"), dirs_exist_ok=True
            )
        elif stat.S_ISREG(info.st_mode):
            if info.st_size > max_file_size:
                skipped.append(rel)
                continue
            try:
                copier.copy(src, dst)
            except OSError:
                skipped.append(rel)
    return skipped


def copy_bytecode(root: Path, dest: Path, files: Iterable[str]) -> int:
    """Copy this interpreter's cached ``.pyc`` of the copied ``.py`` files; returns how many.

    Importing a big package from source costs seconds in every test run. A ``.pyc`` is checked
    against its source's mtime and size, which the copy keeps; one that no longer matches, or
    that Python would not check, is left out, and so are changed files: their source is compiled.
    """
    tag = sys.implementation.cache_tag
    if not tag:
        return 0
    count = 0
    for rel in files:
        if not rel.endswith(".py"):
            continue
        src = root / rel
        pyc = src.parent / "__pycache__" / f"{src.stem}.{tag}.pyc"
        try:
            if src.is_symlink() or pyc.is_symlink() or not matches(pyc, src.stat()):
                continue
            target = dest / rel
            if not target.is_file() or target.is_symlink():
                continue
            (target.parent / "__pycache__").mkdir(exist_ok=True)
            shutil.copy2(pyc, target.parent / "__pycache__" / pyc.name)
            count += 1
        except OSError:
            continue
    return count


def _copy_link(
    root: Path, src: Path, dst: Path, max_file_size: int, skipped: list[str], rel: str
) -> None:
    target = os.readlink(src)
    real = Path(os.path.realpath(src))
    if not os.path.isabs(target) and (real == root or root in real.parents):
        os.symlink(target, dst)  # stays inside the copy
        return
    # A link that leaves the project would let a check write outside the copy: copy its content.
    if real.is_file() and real.stat().st_size <= max_file_size:
        shutil.copy2(real, dst)
    else:
        skipped.append(rel)


def write_changes(dest: Path, changes: Mapping[str, bytes | None]) -> None:
    """Write ``changes`` (relative posix path -> bytes, None = delete) into the copy at ``dest``."""
    base = Path(os.path.realpath(dest))
    for rel, content in changes.items():
        target = dest / checked_path(rel)
        if target.is_symlink():
            target.unlink()  # replace the link itself, never write through it
        real = Path(os.path.realpath(target))
        if base not in real.parents:
            raise PathError(f"{rel!r} resolves outside the scratch copy")
        # bytecode of the content replaced here (the checks write some) could pass for the new
        drop_cached(dest, checked_path(rel))
        if content is None:
            if target.is_file():
                target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def checked_path(rel: str) -> str:
    """A change's path in posix form; PathError if it could leave the copy."""
    text = rel.replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if text.startswith("/") or not parts or ".." in parts or parts[0] in INTERNAL_DIRS:
        raise PathError(f"{rel!r} is not a path inside the project")
    return "/".join(parts)
