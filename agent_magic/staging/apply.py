"""Apply a changeset to the user's files (all or nothing, checkpointed) and undo it."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from agent_magic.errors import ConflictError, UserError
from agent_magic.paths import Project
from agent_magic.staging import gitstore
from agent_magic.staging.changeset import Changeset, content_hash
from agent_magic.staging.checkpoints import Checkpoint, CheckpointStore, new_id

# writer(target, data, mode): write ``data`` to ``target`` (None = delete it), keeping ``mode``.
Writer = Callable[[Path, "bytes | None", "int | None"], None]


def write_file(target: Path, data: bytes | None, mode: int | None) -> None:
    """Replace ``target`` atomically with ``data`` via a temp file and rename; None deletes it."""
    # Write through links (resolve already checked they stay inside the root) so a link
    # stays a link instead of being replaced by a copy.
    if data is None:
        if target.is_file() or target.is_symlink():
            target.unlink()  # a deleted link goes, not the file it points to
        return
    target = Path(os.path.realpath(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".agent_magic-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    # os.umask can only be read by setting it; put it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _read(target: Path) -> tuple[bytes, int] | None:
    if not target.is_file():
        return None
    return target.read_bytes(), target.stat().st_mode


def apply(project: Project, changeset: Changeset, selection: set[str] | None = None, *,
          commit: bool = False, message: str = "", session_id: str = "", force: bool = False,
          writer: Writer | None = None) -> Checkpoint:
    """Write the selected hunks (None = all) to disk, all or nothing, after saving a checkpoint.

    Raises ConflictError, writing nothing, if any target changed on disk since it was staged.
    """
    writer = writer or write_file
    plan = changeset.writes(selection)
    if not plan:
        raise UserError("nothing to apply: no hunk of the changeset is selected")
    if commit and not project.is_git:
        raise UserError("commit=True needs a git repository; the project is not one")
    targets: dict[str, bytes | None] = {}
    conflicts: list[str] = []
    for fc, writes in plan:
        expected = {fc.path: fc.before} if not fc.old_path else {fc.old_path: fc.before, fc.path: None}
        for path, before in expected.items():
            current = _read(project.resolve(path))
            if content_hash(current[0] if current else None) != content_hash(before):
                conflicts.append(path)
        targets.update(writes)
    if conflicts and not force:
        raise ConflictError("these files changed on disk since the changes were staged: "
                            + ", ".join(conflicts) + "; nothing was written", conflicts)
    paths = sorted(targets)
    abs_paths = {p: project.resolve(p) for p in paths}
    pre = {p: _read(abs_paths[p]) for p in paths}
    store = CheckpointStore(project)
    cp = Checkpoint(new_id(), datetime.now(timezone.utc).isoformat(timespec="seconds"), paths,
                    message=message, session_id=session_id)
    cp.after = {p: content_hash(targets[p]) for p in paths}
    cp.created_dirs = [d.relative_to(project.root).as_posix()
                       for d in _missing_dirs(abs_paths.values())]
    store.save(cp, pre)
    modes = {p: (pre[p][1] if pre[p] else _renamed_mode(plan, p, pre)) for p in paths}
    _write_all(abs_paths, targets, modes, pre, writer, lambda: store.discard(cp))
    if commit:
        repo = gitstore.open_repo(project.root)
        cp.commit = gitstore.commit_paths(repo, project.root, paths, commit_message(message, session_id))
        store.write_meta(cp)
    return cp


def _renamed_mode(plan, path: str, pre: dict) -> int | None:
    # A moved file keeps the mode of its source.
    for fc, _ in plan:
        if fc.path == path and fc.old_path and pre.get(fc.old_path):
            return pre[fc.old_path][1]
    return None


def _write_all(abs_paths: dict[str, Path], targets: dict[str, bytes | None],
               modes: dict[str, int | None], pre: dict[str, tuple[bytes, int] | None],
               writer: Writer, on_failure: Callable[[], None]) -> None:
    written: list[str] = []
    created_dirs = _missing_dirs(abs_paths.values())
    try:
        for path, target in abs_paths.items():
            written.append(path)  # a failing writer may have written part of it
            writer(target, targets[path], modes[path])
    except BaseException:
        for path in reversed(written):
            old = pre[path]
            write_file(abs_paths[path], old[0] if old else None, old[1] if old else None)
        _remove_empty(created_dirs)
        on_failure()
        raise


def _missing_dirs(targets) -> list[Path]:
    out: list[Path] = []
    for target in targets:
        parent = target.parent
        while not parent.exists() and parent not in out:
            out.append(parent)
            parent = parent.parent
    return sorted(out, key=lambda p: len(p.parts), reverse=True)


def _remove_empty(dirs: list[Path]) -> None:
    for d in dirs:
        try:
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


def undo(project: Project, checkpoint_id: str | None = None, *, force: bool = False,
         writer: Writer | None = None) -> Checkpoint:
    """Restore the paths of a checkpoint (the last one not undone, if no id) byte for byte."""
    writer = writer or write_file
    store = CheckpointStore(project)
    if checkpoint_id is None:
        live = [c for c in store.list() if not c.undone]
        if not live:
            raise UserError("there is nothing to undo")
        cp = live[0]
    else:
        cp = store.load(checkpoint_id)
        if cp.undone:
            raise UserError(f"checkpoint {cp.id} was already undone")
    abs_paths = {p: project.resolve(p) for p in cp.paths}
    current = {p: _read(abs_paths[p]) for p in cp.paths}
    changed = [p for p in cp.paths
               if content_hash(current[p][0] if current[p] else None) != cp.after.get(p)]
    if changed and not force:
        raise ConflictError("these files changed after the apply: " + ", ".join(changed)
                            + "; undo would lose that work (use force=True to undo anyway)", changed)
    targets = {p: store.content(cp, p) for p in cp.paths}
    modes = {p: (cp.before[p] or {}).get("mode") for p in cp.paths}
    _write_all(abs_paths, targets, modes, current, writer, lambda: None)
    # Only directories the apply made: an empty directory the user already had stays.
    created = [project.root / d for d in cp.created_dirs]
    _remove_empty(sorted(created, key=lambda d: len(d.parts), reverse=True))
    repo = gitstore.open_repo(project.root) if cp.commit else None
    if repo is not None and gitstore.is_ancestor(repo, cp.commit):
        # The apply's commit is in the branch's history: take it back the way `git revert` does,
        # with a new commit of the same paths, rather than rewriting history that may be shared.
        cp.revert_commit = gitstore.commit_paths(repo, project.root, cp.paths, revert_message(cp))
    cp.undone = True
    store.write_meta(cp)
    return cp


def list_checkpoints(project: Project) -> list[Checkpoint]:
    """The project's checkpoints, newest first."""
    return CheckpointStore(project).list()
