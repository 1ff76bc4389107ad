"""Apply and undo through the frontend: open notebooks in their tabs, other files on disk.

Both parts are one ``staging.apply`` / ``staging.undo``: the same project lock, checkpoint and
journal, all or nothing, and the session is saved as for a disk-only apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_magic.errors import ConflictError, UserError
from agent_magic.livedoc import LiveError
from agent_magic.paths import Project
from agent_magic.session import Session
from agent_magic.staging.live import LiveBatch, LiveCheckpoint, LiveWriter

if TYPE_CHECKING:
    from agent_magic.staging import Checkpoint
    from agent_magic.ui.actions import Outcome


def apply_live(
    session: Session,
    selection: set[str] | None,
    live: LiveWriter,
    *,
    allow_blockers: bool,
    commit: bool,
) -> Outcome | None:
    """Apply with the open notebooks changed in their tabs; None when none of them is open."""
    from agent_magic.ui.actions import Outcome, applied_message, conflict_message

    changeset, project = session.changeset, session.project
    if changeset is None or changeset.is_empty:
        return None
    try:
        paths = live.open_notebooks(project, changeset)
    except ConflictError:
        return None
    if not paths:
        return None
    chosen = set(changeset.hunk_ids()) if selection is None else set(selection)
    try:
        planned = live.plan(project, changeset, paths, chosen)
    except ConflictError as exc:
        return Outcome(False, conflict_message("apply", exc), paths=exc.paths)
    except LiveError as exc:
        return Outcome(False, f"Not applied: the notebook's tab did not answer ({exc})")
    if not planned:
        return None  # no chosen hunk is in an open notebook: the disk path
    batch = LiveBatch(live, project, [c for c, _ in planned], planned=planned)
    try:
        checkpoint = session.apply(chosen, allow_blockers=allow_blockers, commit=commit, live=batch)
    except ConflictError as exc:
        return Outcome(False, conflict_message("apply", exc), paths=exc.paths)
    except LiveError as exc:
        return Outcome(
            False, f"Not applied: the notebook's tab did not answer ({exc}); nothing was written"
        )
    except UserError as exc:
        return Outcome(False, f"Not applied: {exc}")
    cp = LiveCheckpoint(checkpoint.id, list(checkpoint.paths), batch.changes)
    live.checkpoints[cp.id] = cp
    live.revert_editors(project, _on_disk(checkpoint, batch), cp)
    message = (
        applied_message(checkpoint)
        + f"\nChanged in the open tab and saved: {', '.join(batch.paths)}"
        + _editor_note(cp)
    )
    return Outcome(True, message, checkpoint, list(checkpoint.paths))


def undo_live(
    target: Session | Project, checkpoint_id: str | None, live: LiveWriter, *, force: bool = False
) -> Outcome | None:
    """Undo a checkpoint whose notebooks changed in their tabs; None when it is not one.

    ``force`` restores files on disk changed since the apply; cells the user edited since in an
    open notebook always refuse (their tab is where that work lives).
    """
    from agent_magic.staging import undo
    from agent_magic.ui.actions import Outcome, conflict_message, undone_message

    ids = list(target.checkpoints) if isinstance(target, Session) else []
    if checkpoint_id is None and ids:
        checkpoint_id = ids[-1]
    cp = live.checkpoints.get(checkpoint_id or "")
    if cp is None:
        return None
    project = target.project if isinstance(target, Session) else target
    try:
        # A notebook whose tab was closed since is undone on disk, like any file.
        changes = [c for c in cp.changes if live.frontend.read(project.resolve(c.path))]
    except LiveError as exc:
        return Outcome(False, f"Not undone: the notebook's tab did not answer ({exc})")
    batch = LiveBatch(live, project, changes, undo=True)
    try:
        if isinstance(target, Session):
            checkpoint = target.undo(cp.id, force=force, live=batch)
        else:
            checkpoint = undo(project, cp.id, force=force, live=batch)
    except ConflictError as exc:
        return Outcome(False, conflict_message("undo", exc), paths=exc.paths)
    except LiveError as exc:
        return Outcome(
            False, f"Not undone: the notebook's tab did not answer ({exc}); nothing was changed"
        )
    except UserError as exc:
        return Outcome(False, f"Not undone: {exc}")
    del live.checkpoints[cp.id]
    cp.reverted, cp.dirty = [], []
    live.revert_editors(project, _on_disk(checkpoint, batch), cp)
    return Outcome(
        True, undone_message(checkpoint) + _editor_note(cp), checkpoint, list(checkpoint.paths)
    )


def reload_editors(session: Session, outcome: Outcome, live: LiveWriter) -> Outcome:
    """After a disk-only apply or undo: reload the files' clean editor tabs, and say so."""
    from agent_magic.ui.actions import Outcome

    if not outcome.ok or not live.frontend.attached:
        return outcome
    cp = LiveCheckpoint(outcome.checkpoint_id, list(outcome.paths))
    try:
        live.revert_editors(session.project, list(outcome.paths), cp)
    except ConflictError:
        return outcome
    return Outcome(True, outcome.message + _editor_note(cp), outcome.checkpoint, outcome.paths)


def _on_disk(checkpoint: Checkpoint, batch: LiveBatch) -> list[str]:
    return [p for p in checkpoint.paths if p not in batch.paths]


def _editor_note(cp: LiveCheckpoint) -> str:
    note = ""
    if cp.reverted:
        note += f"\nReloaded from disk in their editor tabs: {', '.join(cp.reverted)}"
    if cp.dirty:
        note += (
            f"\nOpen with unsaved changes, so not reloaded: {', '.join(cp.dirty)}; "
            "reload them from disk (File → Reload from Disk) or your save overwrites this"
        )
    return note
