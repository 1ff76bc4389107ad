"""Apply and undo through the frontend: open notebooks in their tabs, other files on disk."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_magic.errors import ConflictError, UserError
from agent_magic.livedoc import LiveError
from agent_magic.session import Session
from agent_magic.staging.live import LiveCheckpoint, LiveWriter, new_live_id

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
    from agent_magic.ui.actions import Outcome, conflict_message

    changeset, project = session.changeset, session.project
    if changeset is None or changeset.is_empty:
        return None
    try:
        paths = live.open_notebooks(project, changeset)
    except ConflictError:
        return None
    if not paths:
        return None
    if session.open_blockers and not allow_blockers:
        return Outcome(
            False,
            f"Not applied: {len(session.open_blockers)} blocker finding(s) "
            "remain; review them and confirm to apply anyway",
        )
    chosen = set(changeset.hunk_ids()) if selection is None else set(selection)
    live_ids = {h for p in paths for h in changeset.file(p).hunk_ids()}
    try:
        planned = live.plan(project, changeset, paths, chosen)
    except ConflictError as exc:
        return Outcome(False, conflict_message("apply", exc), paths=exc.paths)
    except LiveError as exc:
        return Outcome(False, f"Not applied: the notebook's tab did not answer ({exc})")
    disk: Checkpoint | None = None
    if chosen - live_ids:
        try:
            disk = session.apply(chosen - live_ids, allow_blockers=allow_blockers, commit=commit)
        except ConflictError as exc:
            return Outcome(False, conflict_message("apply", exc), paths=exc.paths)
        except UserError as exc:
            return Outcome(False, f"Not applied: {exc}")
    try:
        changes = live.write(project, planned)
    except (ConflictError, LiveError) as exc:
        if disk is not None:
            try:
                session.undo(disk.id)  # all or nothing: the disk part goes back too
            except (ConflictError, UserError) as undo_exc:
                return Outcome(
                    False,
                    f"Not applied in the open notebooks ({exc}); the files on "
                    f"disk stay applied as checkpoint {disk.id}, which could not be "
                    f"undone: {undo_exc}",
                    disk,
                    list(disk.paths),
                )
        return Outcome(False, f"Not applied: {exc}")
    disk_paths = list(disk.paths) if disk is not None else []
    cp = LiveCheckpoint(
        new_live_id(), sorted(set(disk_paths) | {c.path for c in changes}), changes, disk
    )
    live.checkpoints[cp.id] = cp
    if disk is not None and disk.id in session.checkpoints:
        session.checkpoints.remove(disk.id)  # the live checkpoint stands for both parts
    session.checkpoints.append(cp.id)
    live.revert_editors(project, disk_paths, cp)
    message = (
        f"Applied {len(cp.paths)} file(s) as checkpoint {cp.id}: "
        + ", ".join(cp.paths)
        + f"\nChanged in the open tab and saved: {', '.join(c.path for c in changes)}"
        + _editor_note(cp)
    )
    return Outcome(True, message, cp, cp.paths)


def undo_live(
    target: Session, checkpoint_id: str | None, live: LiveWriter, *, force: bool = False
) -> Outcome | None:
    """Undo a checkpoint made through the frontend; None when it is not one. ``force`` applies
    to its part on disk."""
    from agent_magic.ui.actions import Outcome, conflict_message

    ids = list(target.checkpoints)
    if checkpoint_id is None and ids:
        checkpoint_id = ids[-1]
    cp = live.checkpoints.get(checkpoint_id or "")
    if cp is None:
        return None
    project = target.project
    try:
        for change in reversed(cp.changes):
            live.undo_change(project, change)
    except ConflictError as exc:
        return Outcome(False, conflict_message("undo", exc), paths=exc.paths)
    except LiveError as exc:
        return Outcome(False, f"Not undone: the notebook's tab did not answer ({exc})")
    if cp.disk is not None:
        cp.changes = []  # the notebooks are back; a retry must only redo the disk part
        try:
            target.undo(cp.disk.id, force=force)
        except (ConflictError, UserError) as exc:
            return Outcome(
                False,
                f"Undid the open notebooks, but not the files on disk "
                f"(checkpoint {cp.disk.id}; `%agent undo {cp.id} --force` restores "
                f"them anyway): {exc}",
            )
    if cp.id in target.checkpoints:
        target.checkpoints.remove(cp.id)
    del live.checkpoints[cp.id]
    cp.reverted, cp.dirty = [], []
    live.revert_editors(project, list(cp.disk.paths) if cp.disk is not None else [], cp)
    return Outcome(
        True,
        f"Undid checkpoint {cp.id}: restored " + ", ".join(cp.paths) + _editor_note(cp),
        cp,
        cp.paths,
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
