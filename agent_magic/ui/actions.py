"""Apply and undo a session's changes, turning expected failures into messages for a person."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agent_magic.errors import ConflictError, UserError
from agent_magic.paths import Project
from agent_magic.session import Session
from agent_magic.ui.opennotebook import after_apply, open_notebook_paths

if TYPE_CHECKING:
    from agent_magic.review.partial import SelectionCheck
    from agent_magic.staging import Checkpoint
    from agent_magic.staging.live import LiveCheckpoint, LiveWriter


@dataclass
class Outcome:
    """The result of an apply or undo, ready to show."""

    ok: bool
    message: str
    checkpoint: Checkpoint | LiveCheckpoint | None = None
    paths: list[str] = field(default_factory=list)
    selection_check: SelectionCheck | None = None  # when the selection left hunks out

    @property
    def checkpoint_id(self) -> str:
        """The id of the checkpoint made or undone; "" when there is none."""
        return self.checkpoint.id if self.checkpoint is not None else ""


def apply_changes(
    session: Session,
    selection: set[str] | None,
    *,
    allow_blockers: bool = False,
    commit: bool = False,
    open_notebook: Path | None = None,
    live: LiveWriter | None = None,
    checked: SelectionCheck | None = None,
) -> Outcome:
    """Apply the selected hunks (None: all); conflicts and refusals come back as a failed Outcome.

    ``open_notebook`` is the kernel's own notebook when it is written on disk behind its
    editor's back; the message then says so (it is not applied in the open tab).
    A selection that leaves hunks out is checked on its own first (``checked``: that check,
    if the caller already ran it); when it fails a check it is written only with
    ``allow_blockers``.
    """
    if selection is not None and not selection:
        return Outcome(False, "Nothing selected: tick a file or hunk first.")
    partial = check_partial(session, selection, checked)
    if partial is not None and partial.blocks and not allow_blockers:
        return Outcome(
            False,
            "Not applied: the selected hunks alone fail the checks "
            f"({partial.report.headline() if partial.report else ''}). Select the hunks they "
            "need, or confirm to apply them anyway.",
            selection_check=partial,
        )
    outcome = _apply(
        session,
        selection,
        allow_blockers=allow_blockers,
        commit=commit,
        open_notebook=open_notebook,
        live=live,
    )
    outcome.selection_check = partial
    return outcome


def check_partial(
    session: Session, selection: set[str] | None, checked: SelectionCheck | None = None
) -> SelectionCheck | None:
    """The check of a selection that leaves hunks out (None when it takes the whole change)."""
    from agent_magic.review.partial import check_selection, is_partial

    changeset = session.changeset
    if changeset is None or not is_partial(changeset, selection):
        return None
    if checked is not None and checked.selection == frozenset(selection or ()):
        return checked
    try:
        return check_selection(
            session.project.root,
            changeset,
            set(selection or ()),
            test_command=session.test_command,
            run=session.checks is not None,  # the review ran: check again
            memo=session.check_memo,
        )
    except UserError as exc:  # e.g. an unknown hunk id: apply says so below
        from agent_magic.review.partial import SelectionCheck

        return SelectionCheck(frozenset(selection or ()), why_not=str(exc))


def _apply(
    session: Session,
    selection: set[str] | None,
    *,
    allow_blockers: bool,
    commit: bool,
    open_notebook: Path | None,
    live: LiveWriter | None,
) -> Outcome:
    if live is not None and session.changeset is not None:
        from agent_magic.ui.liveactions import apply_live

        outcome = apply_live(session, selection, live, allow_blockers=allow_blockers, commit=commit)
        if outcome is not None:
            return outcome
    try:
        checkpoint = session.apply(selection, allow_blockers=allow_blockers, commit=commit)
    except ConflictError as exc:
        return Outcome(False, conflict_message("apply", exc), paths=exc.paths)
    except UserError as exc:
        return Outcome(False, f"Not applied: {exc}")
    paths = list(checkpoint.paths)
    message = applied_message(checkpoint)
    outcome = Outcome(
        True, _with_open_notebook(message, session, paths, open_notebook), checkpoint, paths
    )
    if live is not None:
        from agent_magic.ui.liveactions import reload_editors

        outcome = reload_editors(session, outcome, live)
    return outcome


def undo_changes(
    target: Session | Project,
    checkpoint_id: str | None = None,
    *,
    force: bool = False,
    open_notebook: Path | None = None,
    live: LiveWriter | None = None,
) -> Outcome:
    """Undo a checkpoint of a session (or, given a Project, any checkpoint id); ``force``
    restores even files changed since the apply."""
    if live is not None and isinstance(target, Session):
        from agent_magic.ui.liveactions import undo_live

        outcome = undo_live(target, checkpoint_id, live, force=force)
        if outcome is not None:
            return outcome
    try:
        if isinstance(target, Session):
            checkpoint = target.undo(checkpoint_id, force=force)
        else:
            from agent_magic.staging import undo

            if not checkpoint_id:
                raise UserError("give the checkpoint id to undo (see `%agent history`)")
            checkpoint = undo(target, checkpoint_id, force=force)
    except ConflictError as exc:
        return Outcome(False, conflict_message("undo", exc), paths=exc.paths)
    except UserError as exc:
        return Outcome(False, f"Not undone: {exc}")
    paths = list(checkpoint.paths)
    message = undone_message(checkpoint)
    outcome = Outcome(
        True, _with_open_notebook(message, target, paths, open_notebook), checkpoint, paths
    )
    if live is not None and isinstance(target, Session):
        from agent_magic.ui.liveactions import reload_editors

        outcome = reload_editors(target, outcome, live)
    return outcome


def applied_message(checkpoint: Checkpoint) -> str:
    """What an apply did: the files and checkpoint, and the commit if it failed."""
    paths = list(checkpoint.paths)
    failed = checkpoint.commit_error
    # A refused commit (a failing hook) does not undo the apply; the user hears why.
    tail = (
        (f"\nNot committed: git commit failed, the changes are applied but uncommitted:\n{failed}")
        if failed
        else ""
    )
    return f"Applied {len(paths)} file(s) as checkpoint {checkpoint.id}: " + ", ".join(paths) + tail


def undone_message(checkpoint: Checkpoint) -> str:
    """What an undo did: the files restored, and the revert commit if one was made."""
    revert = checkpoint.revert_commit
    tail = f"; committed the revert as {revert[:10]}" if revert else ""
    failed = "" if revert or not checkpoint.commit else checkpoint.commit_error
    if failed:
        tail += f"\nNot committed: the revert's git commit failed:\n{failed}"
    return f"Undid checkpoint {checkpoint.id}: restored " + ", ".join(checkpoint.paths) + tail


def _with_open_notebook(
    message: str, target: Session | Project, paths: list[str], notebook: Path | None
) -> str:
    project = target.project if isinstance(target, Session) else target
    own = open_notebook_paths(paths, project.root, notebook)
    return f"{message}\n{after_apply(own)}" if own else message


def conflict_message(action: str, exc: ConflictError) -> str:
    """Name the files that changed on disk, one per line."""
    files = "\n".join(f"  - {p}" for p in exc.paths)
    return f"Could not {action}: {exc}\n{files}" if files else f"Could not {action}: {exc}"


def undo_all(
    session: Session, *, open_notebook: Path | None = None, live: LiveWriter | None = None
) -> list[Outcome]:
    """Undo every applied checkpoint of ``session``, newest first; stops at the first failure."""
    outcomes: list[Outcome] = []
    for checkpoint_id in reversed(list(session.checkpoints)):
        outcome = undo_changes(session, checkpoint_id, open_notebook=open_notebook, live=live)
        outcomes.append(outcome)
        if not outcome.ok:
            break
    return outcomes
