"""Apply a changeset to the user's files (all or nothing, checkpointed, journaled) and undo it.

Every apply and undo runs under the project lock (``lock.py``) and behind a write-ahead journal
(``journal.py``): a fault inside the process is rolled back at once, and a process that dies
half-way is rolled back by ``recover`` the next time the project is used.

The writer seam: ``apply(..., writer=...)`` and ``undo(..., writer=...)`` take any callable
``writer(target, data, mode)`` that puts ``data`` (None: delete) at the absolute path ``target``
with permission bits ``mode`` (None: a new file's default), or raises. The default is
``confined_writer(project.root)``, which writes to disk. Another writer (a live JupyterLab
document, a test's fault injector) plugs in there; conflict checks, checkpoint, journal, lock
and rollback stay the same around it. Rollback always uses the disk writer.

The live part: ``apply(..., live=...)`` and ``undo(..., live=...)`` take a ``LivePart`` for the
paths another channel changes as a whole (the open notebooks, changed cell by cell in their tabs
and saved by the page). Those paths are in the same lock, checkpoint and journal as the rest;
the part checks its own conflicts (per cell, against the open document) and writes first, and
is taken back if a disk write fails. A process killed meanwhile leaves a journal naming them
too, so recovery puts their disk content back like any other path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Protocol

from agent_magic.errors import ApplyError, ConflictError, PathError, UserError
from agent_magic.gitenv import redirected
from agent_magic.paths import Project
from agent_magic.staging import gitstore, journal
from agent_magic.staging.changeset import Changeset, content_hash
from agent_magic.staging.checkpoints import Checkpoint, CheckpointStore, new_id
from agent_magic.staging.lock import WAIT_SECONDS, project_lock

# writer(target, data, mode): write ``data`` to ``target`` (None = delete it), keeping ``mode``.
Writer = Callable[[Path, "bytes | None", "int | None"], None]
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class LivePart(Protocol):
    """Paths of an apply or undo that another channel writes, all or nothing by itself."""

    @property
    def paths(self) -> list[str]:
        """The project-relative paths it changes (a subset of the apply's or undo's)."""
        ...

    def write(self) -> None:
        """Change every path, or raise having changed none (ConflictError names the cells)."""
        ...

    def unwrite(self) -> None:
        """Take back a ``write`` (a disk write after it failed); raise if it cannot."""
        ...


def write_file(
    target: Path, data: bytes | None, mode: int | None, *, root: Path | None = None
) -> None:
    """Replace ``target`` atomically with ``data`` (temp file and rename); None deletes it.

    Every directory below ``root`` (default: the target's deepest existing ancestor) is opened with O_NOFOLLOW,
    one component at a time, and the file is created and renamed relative to that directory,
    so a directory swapped for a symlink after the checks cannot redirect the write. A target
    that is itself a symbolic link is refused: nothing is written through a link.
    """
    target = Path(target)
    base = Path(root) if root is not None else next(p for p in target.parents if p.is_dir())
    parts = target.relative_to(base).parts
    if not parts:
        raise IsADirectoryError(errno.EISDIR, "cannot write the root itself", str(target))
    dfd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        for name in parts[:-1]:
            dfd = _enter(dfd, name, create=data is not None, target=target)
            if dfd < 0:
                return  # deleting below a directory that is already gone
        _put(dfd, parts[-1], data, mode, target)
    except OSError as exc:
        if exc.filename == str(target) or exc.errno is None:
            raise
        # Name the file the user knows, not a temp file or a directory fd.
        raise OSError(exc.errno, exc.strerror, str(target)) from exc
    finally:
        if dfd >= 0:
            os.close(dfd)


def confined_writer(root: Path) -> Writer:
    """The disk writer for one project: ``write_file`` confined below ``root``."""
    return partial(write_file, root=Path(root))


def _enter(dfd: int, name: str, *, create: bool, target: Path) -> int:
    try:
        nfd = os.open(name, _DIR_FLAGS, dir_fd=dfd)
    except FileNotFoundError:
        if not create:
            os.close(dfd)
            return -1
        os.mkdir(name, 0o777, dir_fd=dfd)
        nfd = os.open(name, _DIR_FLAGS, dir_fd=dfd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise OSError(
                errno.ELOOP,
                f"{name} is a symbolic link or not a directory; refusing to write through it",
                str(target),
            ) from None
        raise
    os.close(dfd)
    return nfd


def _put(dfd: int, name: str, data: bytes | None, mode: int | None, target: Path) -> None:
    try:
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise OSError(errno.ELOOP, "is a symbolic link; refusing to write through it", str(target))
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OSError(
            errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EINVAL,
            "is not a regular file",
            str(target),
        )
    if data is None:
        if st is not None:
            os.unlink(name, dir_fd=dfd)
        return
    tmp = f".agent_magic-{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dfd)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dfd)
        raise


def _umask() -> int:
    # os.umask can only be read by setting it; put it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _data(entry: tuple[bytes, int] | None) -> bytes | None:
    return entry[0] if entry else None


def _read(target: Path) -> tuple[bytes, int] | None:
    try:
        st = os.lstat(target)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISDIR(st.st_mode):
        return None
    if not stat.S_ISREG(st.st_mode):
        raise PathError(f"{target} is not a regular file (a link, device or FIFO); not touched")
    return target.read_bytes(), st.st_mode


def apply(
    project: Project,
    changeset: Changeset,
    selection: set[str] | None = None,
    *,
    commit: bool = False,
    message: str = "",
    session_id: str = "",
    force: bool = False,
    writer: Writer | None = None,
    lock_wait: float = WAIT_SECONDS,
    live: LivePart | None = None,
) -> Checkpoint:
    """Write the selected hunks (None = all) to disk, all or nothing, after saving a checkpoint.

    Raises ConflictError, writing nothing, if any target changed on disk since it was staged;
    ApplyError if a write failed (every file is then back as it was); LockBusy if another
    process is still applying in the same project after ``lock_wait`` seconds.
    """
    plan = changeset.writes(selection)
    if not plan:
        raise UserError("nothing to apply: no hunk of the changeset is selected")
    if commit and not project.is_git:
        raise UserError("commit=True needs a git repository; the project is not one")
    if commit and redirected():
        raise UserError(
            "commit=True is not possible in this kernel: its environment sets "
            + ", ".join(redirected())
            + " (it was started by git, from a hook say), which points git at another "
            "repository or index; apply without --commit, or restart the kernel from a shell"
        )
    try:
        with project_lock(project.state_dir, lock_wait):
            recover_locked(project)
            return _apply_locked(
                project,
                plan,
                commit=commit,
                message=message,
                session_id=session_id,
                force=force,
                writer=writer or confined_writer(project.root),
                live=live,
            )
    except OSError as exc:
        # Failures once writing began are ApplyErrors already; this is the lock, a conflict
        # check, the checkpoint or the journal failing first (a full disk, a read-only state dir).
        raise ApplyError(f"apply failed: {_describe(exc, project)}; nothing was written") from exc


def _apply_locked(
    project: Project,
    plan,
    *,
    commit: bool,
    message: str,
    session_id: str,
    force: bool,
    writer: Writer,
    live: LivePart | None = None,
) -> Checkpoint:
    targets: dict[str, bytes | None] = {}
    conflicts: list[str] = []
    by_live = set(live.paths) if live is not None else set()
    for fc, writes in plan:
        expected = (
            {fc.path: fc.before} if not fc.old_path else {fc.old_path: fc.before, fc.path: None}
        )
        for path, before in expected.items():
            if path in by_live:
                continue  # the live part checks it cell by cell, against the open document
            current = _read(project.check_writable(path))
            if content_hash(current[0] if current else None) != content_hash(before):
                conflicts.append(path)
        targets.update(writes)
    if conflicts and not force:
        raise ConflictError(
            "these files changed on disk since the changes were staged: "
            + ", ".join(conflicts)
            + "; nothing was written",
            conflicts,
        )
    paths = sorted(targets)
    abs_paths = {p: project.check_writable(p) for p in paths}
    repo = gitstore.open_repo(project.root) if commit else None
    if repo is not None:
        _check_can_commit(repo, project, paths)
    pre = {p: _read(abs_paths[p]) for p in paths}
    store = CheckpointStore(project)
    cp = Checkpoint(
        new_id(),
        datetime.now(timezone.utc).isoformat(timespec="seconds"),
        paths,
        message=message,
        session_id=session_id,
    )
    # What the page saves for a live path is only known once it has: its hash is taken then.
    cp.after = {p: content_hash(targets[p]) for p in paths if p not in by_live}
    cp.created_dirs = [
        d.relative_to(project.root).as_posix() for d in _missing_dirs(abs_paths.values())
    ]
    entry = journal.Journal(
        "apply",
        cp.id,
        paths,
        before={p: content_hash(_data(pre[p])) for p in paths},
        after=dict(cp.after),
        created_dirs=list(cp.created_dirs),
        live=sorted(by_live),
    )
    journal.begin(project.state_dir, entry)  # before the checkpoint: a crash there leaves no orphan
    try:
        store.save(cp, pre)
    except BaseException:
        store.discard(cp)
        journal.end(project.state_dir)
        raise
    modes = {p: (e[1] if (e := pre[p]) else _renamed_mode(plan, p, pre)) for p in paths}
    on_disk = {p: t for p, t in abs_paths.items() if p not in by_live}
    written = False
    try:
        if live is not None:
            live.write()
            written = True
        _write_all(on_disk, targets, modes, writer)
    except BaseException as exc:
        _roll_back(project, store, cp, _unwrite(live, written, on_disk, abs_paths), pre, exc)
        raise  # _roll_back raises ApplyError for OS errors; other exceptions pass unchanged
    if by_live:
        cp.after.update({p: _hash_on_disk(abs_paths[p]) for p in by_live})
        # on failure undo asks for --force on the notebooks; the apply itself stands
        with contextlib.suppress(OSError):
            store.write_meta(cp)
    journal.end(project.state_dir)
    if repo is not None:
        try:
            cp.commit = gitstore.commit_paths(
                repo, project.root, paths, commit_message(message, session_id)
            )
        except gitstore.CommitFailed as exc:
            cp.commit_error = str(exc)
        with contextlib.suppress(OSError):  # the apply stands; only its commit's record is lost
            store.write_meta(cp)
    return cp


def _unwrite(
    live: LivePart | None, written: bool, on_disk: dict[str, Path], every: dict[str, Path]
) -> dict[str, Path]:
    """Take back the live part after a failed disk write; the paths left for the disk rollback.

    If the part cannot be taken back (its page stopped answering), its paths are restored on
    disk with the rest, so the files are consistent; their tabs are then stale until reloaded.
    """
    if live is None or not written:
        return on_disk
    try:
        live.unwrite()
    except Exception:  # noqa: BLE001 - whatever the channel raised, the disk rollback follows
        return every
    return on_disk


def _check_can_commit(repo, project: Project, paths: list[str]) -> None:
    problem = gitstore.commit_blocker(repo)
    if problem:
        raise UserError(
            f"not applied: --commit is not possible while {problem}; finish that "
            "first, or apply without --commit"
        )
    dirty = gitstore.uncommitted(repo, project.root, paths)
    if dirty:
        # Committing them would commit the user's own unfinished edits along with the agent's.
        raise UserError(
            "not applied: --commit would also commit your uncommitted changes in "
            + ", ".join(dirty)
            + "; commit or stash them first, or apply without --commit"
        )


def _roll_back(
    project: Project,
    store: CheckpointStore,
    cp: Checkpoint,
    abs_paths: dict[str, Path],
    pre: dict[str, tuple[bytes, int] | None],
    exc: BaseException,
) -> None:
    """Put every path back as ``pre`` says, each on its own, then say what happened."""
    disk = confined_writer(project.root)
    stuck: list[str] = []
    for path, target in abs_paths.items():
        old = pre[path]
        want = content_hash(old[0] if old else None)
        try:
            if _hash_on_disk(target) != want:
                disk(target, old[0] if old else None, old[1] if old else None)
        except (OSError, PathError):
            pass  # judged below, by what is on disk
        if _hash_on_disk(target) != want:
            stuck.append(path)
    if not stuck:
        _remove_empty([project.root / d for d in cp.created_dirs])
        store.discard(cp)
        journal.end(project.state_dir)
    if isinstance(exc, (OSError, PathError)):
        what = _describe(exc, project)
        if stuck:
            raise ApplyError(
                f"apply failed: {what}; could not restore {', '.join(stuck)} either. Their "
                f"previous content is kept in checkpoint {cp.id}; the next %agent command "
                f"retries the rollback, or run `%agent undo --force {cp.id}`",
                cp.id,
            ) from exc
        raise ApplyError(
            f"apply failed: {what}; nothing was applied (every file is as it was)", ""
        ) from exc


def _hash_on_disk(target: Path) -> str:
    try:
        now = _read(target)
    except (OSError, PathError):
        return "unreadable"
    return content_hash(now[0] if now else None)


def _describe(exc: BaseException, project: Project) -> str:
    if isinstance(exc, OSError):
        name = exc.filename
        where = name
        if name:
            with contextlib.suppress(ValueError):
                where = Path(name).relative_to(project.root).as_posix()
        reason = exc.strerror or str(exc)
        return f"could not write {where}: {reason}" if where else reason
    return str(exc)


def _renamed_mode(plan, path: str, pre: dict) -> int | None:
    # A moved file keeps the mode of its source.
    for fc, _ in plan:
        if fc.path == path and fc.old_path and pre.get(fc.old_path):
            return pre[fc.old_path][1]
    return None


def _write_all(
    abs_paths: dict[str, Path],
    targets: dict[str, bytes | None],
    modes: dict[str, int | None],
    writer: Writer,
) -> None:
    for path, target in abs_paths.items():
        writer(target, targets[path], modes[path])


def _missing_dirs(targets) -> list[Path]:
    out: list[Path] = []
    for target in targets:
        parent = target.parent
        while not parent.exists() and parent not in out:
            out.append(parent)
            parent = parent.parent
    return sorted(out, key=lambda p: len(p.parts), reverse=True)


def _remove_empty(dirs: list[Path]) -> None:
    for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        try:
            if not d.is_symlink():
                d.rmdir()
        except OSError:
            pass


def revert_message(cp: Checkpoint) -> str:
    """The message of the commit that takes back ``cp``'s commit, `git revert` style."""
    subject = (cp.message.strip().splitlines() or ["Apply changes made by agent_magic"])[0]
    return commit_message(f'Revert "{subject}"\n\nThis reverts commit {cp.commit}.', cp.session_id)


def commit_message(message: str, session_id: str) -> str:
    """The commit message: the task/plan text plus a trailer naming agent_magic and the session."""
    body = message.strip() or "Apply changes made by agent_magic"
    trailer = gitstore.TRAILER + (f" (session {session_id})" if session_id else "")
    return f"{body}\n\n{trailer}\n"


def undo(
    project: Project,
    checkpoint_id: str | None = None,
    *,
    force: bool = False,
    writer: Writer | None = None,
    lock_wait: float = WAIT_SECONDS,
    live: LivePart | None = None,
) -> Checkpoint:
    """Restore the paths of a checkpoint (the last one not undone, if no id) byte for byte.

    ``force`` restores even files changed since the apply (that later work is lost) and files
    the apply never reached; it is the way out of any half-applied state.
    """
    try:
        with project_lock(project.state_dir, lock_wait):
            recover_locked(project)
            return _undo_locked(
                project,
                checkpoint_id,
                force=force,
                writer=writer or confined_writer(project.root),
                live=live,
            )
    except OSError as exc:
        raise ApplyError(
            f"undo failed: {_describe(exc, project)}; the next %agent command "
            "finishes an undo that had begun writing, or retry it"
        ) from exc


def _undo_locked(
    project: Project,
    checkpoint_id: str | None,
    *,
    force: bool,
    writer: Writer,
    live: LivePart | None = None,
) -> Checkpoint:
    store = CheckpointStore(project)
    if checkpoint_id is None:
        standing = [c for c in store.list() if not c.undone]
        if not standing:
            raise UserError("there is nothing to undo")
        cp = standing[0]
    else:
        cp = store.load(checkpoint_id)
        if cp.undone:
            raise UserError(f"checkpoint {cp.id} was already undone")
    by_live = set(live.paths) if live is not None else set()
    if by_live - set(cp.paths):
        raise UserError(f"checkpoint {cp.id} did not change {', '.join(sorted(by_live))}")
    abs_paths = {p: project.check_writable(p) for p in cp.paths}
    current = {p: _read(abs_paths[p]) for p in cp.paths}
    changed = [
        p
        for p in cp.paths
        if p not in by_live  # checked cell by cell by the live part
        and content_hash(_data(current[p])) != cp.after.get(p)
    ]
    if changed and not force:
        raise ConflictError(
            "these files changed after the apply: "
            + ", ".join(changed)
            + "; undo would lose that work (`%agent undo --force` restores "
            "them anyway)",
            changed,
        )
    repo = gitstore.open_repo(project.root) if cp.commit else None
    # the repository to commit the revert in, when the apply's commit is in its history
    revert = repo if repo is not None and gitstore.is_ancestor(repo, cp.commit) else None
    if revert is not None:
        problem = gitstore.commit_blocker(revert)
        if problem:
            raise UserError(
                f"not undone: checkpoint {cp.id} was committed, and its revert cannot "
                f"be committed while {problem}; finish that first"
            )
    targets = {p: store.content(cp, p) for p in cp.paths}
    modes = {p: (cp.before[p] or {}).get("mode") for p in cp.paths}
    entry = journal.Journal(
        "undo",
        cp.id,
        list(cp.paths),
        before={p: content_hash(_data(current[p])) for p in cp.paths},
        after={p: content_hash(targets[p]) for p in cp.paths},
        created_dirs=list(cp.created_dirs),
        live=sorted(by_live),
    )
    journal.begin(project.state_dir, entry)
    on_disk = {p: t for p, t in abs_paths.items() if p not in by_live}
    written = False
    try:
        if live is not None:
            live.write()
            written = True
        _write_all(on_disk, targets, modes, writer)
    except BaseException as exc:
        # Undo goes back to where it started: the files as they were before this undo.
        disk = confined_writer(project.root)
        for path, target in _unwrite(live, written, on_disk, abs_paths).items():
            old = current[path]
            with contextlib.suppress(OSError):
                disk(target, old[0] if old else None, old[1] if old else None)
        journal.end(project.state_dir)
        if isinstance(exc, OSError):
            raise ApplyError(
                f"undo failed: {_describe(exc, project)}; the files are as they "
                "were before the undo",
                "",
            ) from exc
        raise
    # Only directories the apply made: an empty directory the user already had stays.
    _remove_empty([project.root / d for d in cp.created_dirs])
    cp.undone = True
    store.write_meta(cp)
    journal.end(project.state_dir)
    if revert is not None:
        # The apply's commit is in the branch's history: take it back with a new commit of the
        # same paths through an ordinary `git commit` (hooks and signing as configured).
        try:
            cp.revert_commit = gitstore.commit_paths(
                revert, project.root, cp.paths, revert_message(cp)
            )
        except gitstore.CommitFailed as exc:
            cp.commit_error = str(exc)
        store.write_meta(cp)
    return cp


def recover(project: Project) -> str:
    """Finish or roll back an apply/undo a dead process left half-done; a message, or "" if none."""
    try:
        state = project.state_dir
    except PathError:
        return ""
    if journal.pending(state) is None:
        return ""
    with project_lock(state):
        return recover_locked(project)


def recover_locked(project: Project) -> str:
    """``recover`` for a caller that holds the project lock."""
    entry = journal.pending(project.state_dir)
    if entry is None:
        return ""
    store = CheckpointStore(project)
    try:
        cp = store.load(entry.checkpoint) if entry.checkpoint else None
    except UserError:
        cp = None
    if cp is None:
        # The process died before its checkpoint was complete, so before any file was written.
        if entry.checkpoint:
            store.discard(Checkpoint(entry.checkpoint, "", [], kind="git"))
        journal.end(project.state_dir)
        return "An apply was interrupted before it wrote anything; nothing needed restoring."
    disk = confined_writer(project.root)
    for path in entry.paths:
        target = project.root / path
        try:
            want = store.content(cp, path)
            now = _read(target)
            if content_hash(now[0] if now else None) != content_hash(want):
                disk(target, want, (cp.before.get(path) or {}).get("mode"))
        except (OSError, PathError) as exc:
            raise ApplyError(
                f"an interrupted {entry.action} of checkpoint {cp.id} could not be "
                f"finished: {_describe(exc, project) if isinstance(exc, OSError) else exc}; "
                f"fix that and run `%agent undo --force {cp.id}`",
                cp.id,
            ) from exc
    _remove_temp_files(project, entry.paths)
    _remove_empty([project.root / d for d in entry.created_dirs])
    journal.end(project.state_dir)
    tabs = (
        " An open tab of "
        + ", ".join(entry.live)
        + " may still show the interrupted change: reload it from disk (File → Reload Notebook "
        "from Disk) before you save it."
        if entry.live
        else ""
    )
    if entry.action == "undo":
        cp.undone = True
        store.write_meta(cp)
        return (
            f"An undo of checkpoint {cp.id} was interrupted; it has now been completed: "
            + ", ".join(entry.paths)
            + " are as they were before that apply."
            + tabs
        )
    store.discard(cp)
    return (
        f"An apply (checkpoint {cp.id}) was interrupted; it has been rolled back: "
        + ", ".join(entry.paths)
        + " are as they were before it. Apply again to retry."
        + tabs
    )


def _remove_temp_files(project: Project, paths: list[str]) -> None:
    # A write killed between creating its temp file and renaming it leaves the temp file behind.
    for folder in {(project.root / p).parent for p in paths}:
        if folder.is_symlink() or not folder.is_dir():
            continue
        for leftover in folder.glob(".agent_magic-*.tmp"):
            if leftover.is_file() and not leftover.is_symlink():
                leftover.unlink()


def list_checkpoints(project: Project) -> list[Checkpoint]:
    """The project's checkpoints, newest first."""
    return CheckpointStore(project).list()
