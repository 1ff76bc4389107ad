"""Apply and undo a session's changes, turning expected failures into messages for a person."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent_magic.errors import ConflictError, UserError


@dataclass
class Outcome:
    """The result of an apply or undo, ready to show."""

    ok: bool
    message: str
    checkpoint: Any = None
    paths: list[str] = field(default_factory=list)


def apply_changes(
    session: Any,
    selection: set[str] | None,
    *,
    allow_blockers: bool = False,
    commit: bool = False,
) -> Outcome:
    """Apply the selected hunks (None: all); conflicts and refusals come back as a failed Outcome."""
    if selection is not None and not selection:
        return Outcome(False, "Nothing selected: tick a file or hunk first.")
    try:
        checkpoint = session.apply(selection, allow_blockers=allow_blockers, commit=commit)
    except ConflictError as exc:
        return Outcome(False, conflict_message("apply", exc), paths=exc.paths)
    except UserError as exc:
        return Outcome(False, f"Not applied: {exc}")
    paths = list(getattr(checkpoint, "paths", []))
    failed = getattr(checkpoint, "commit_error", "")
    # A refused commit (a failing hook) does not undo the apply; the user hears why.
    tail = (f"\nNot committed: git commit failed, the changes are applied but uncommitted:\n"
            f"{failed}") if failed else ""
    return Outcome(True, f"Applied {len(paths)} file(s) as checkpoint {checkpoint.id}: "
                         + ", ".join(paths) + tail, checkpoint, paths)


def undo_changes(target: Any, checkpoint_id: str | None = None, *, force: bool = False) -> Outcome:
    """Undo a checkpoint of a session (or, given a Project, any checkpoint id); ``force``
    restores even files changed since the apply."""
    try:
        if hasattr(target, "undo"):
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
    paths = list(getattr(checkpoint, "paths", []))
    revert = getattr(checkpoint, "revert_commit", "")
    tail = f"; committed the revert as {revert[:10]}" if revert else ""
    return Outcome(True, f"Undid checkpoint {checkpoint.id}: restored " + ", ".join(paths) + tail,
                   checkpoint, paths)


def conflict_message(action: str, exc: ConflictError) -> str:
    """Name the files that changed on disk, one per line."""
    files = "\n".join(f"  - {p}" for p in exc.paths)
    return f"Could not {action}: {exc}\n{files}" if files else f"Could not {action}: {exc}"


def undo_all(session: Any) -> list[Outcome]:
    """Undo every applied checkpoint of ``session``, newest first; stops at the first failure."""
    outcomes: list[Outcome] = []
    for checkpoint_id in reversed(list(session.checkpoints)):
        outcome = undo_changes(session, checkpoint_id)
        outcomes.append(outcome)
        if not outcome.ok:
            break
    return outcomes
