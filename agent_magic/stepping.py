"""Step mode: after the plan, implement one plan step at a time and wait for the user's decision.

Each step is implemented, then checked and reviewed (fix rounds included, bounded as in the
one-shot run), and only then offered: the run waits in ``Agent.pause`` while the user looks at
the step (the kernel stays free; the wait has no time limit and costs no tokens). Approve applies
the selected hunks with their own checkpoint, Revise redoes the step with the user's feedback,
Skip drops it, Stop ends the run and keeps the steps already applied. After every decision the
staging area is reset, so the next step starts from the files as the user left them.

This module drives the agent only through its public phase API (``phase_turn``, ``review``,
``pause``, ``record``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from agent_magic import prompts
from agent_magic.agent import Stop, changes_of
from agent_magic.decisions import (
    Decider,
    Decision,
    FixedDecider,
    Gate,
    ScriptedDecider,
    StepPause,
)
from agent_magic.errors import AgentMagicError, ConflictError, UserError
from agent_magic.events import StepDecided
from agent_magic.review.partial import SelectionCheck, is_partial
from agent_magic.staging.changeset import Changeset, content_hash, make_change
from agent_magic.staging.overlay import DiskReader

if TYPE_CHECKING:
    from agent_magic.agent import Agent
    from agent_magic.paths import Project
    from agent_magic.records import PlanStep
    from agent_magic.session import Session
    from agent_magic.staging.checkpoints import Checkpoint


UNREADABLE = "unreadable"


class StepsStopped(Stop):
    """The user chose Stop; the steps applied so far stay applied."""

    reason = "interrupted"


@dataclass
class StepOutcome:
    """What became of one plan step."""

    step: int
    description: str
    action: str  # applied | partly applied | skipped | stopped | empty
    checkpoint: str = ""
    paths: list[str] = field(default_factory=list)
    selection_check: SelectionCheck | None = None  # when the approval left hunks out
    hunks: int = 0  # hunks applied
    unreviewed: int = 0  # of them, the ones the user did not accept one by one

    def line(self) -> str:
        """``Step 1 (desc): applied as checkpoint X``, what of it was not reviewed, and what
        was checked of a part."""
        where = f" as checkpoint {self.checkpoint}" if self.checkpoint else ""
        if where and self.unreviewed:
            where += f" ({self.unreviewed} of {self.hunks} hunk(s) not reviewed)"
        checks = (
            f"; checks: {self.selection_check.record_line()}"
            if self.selection_check is not None and self.checkpoint
            else ""
        )
        return f"Step {self.step} ({self.description}): {self.action}{where}{checks}"


class StepMode:
    """The Mode of ``--step``: each plan step implemented, reviewed, then decided on."""

    def implement(self, agent: Agent, session: Session) -> None:
        """Run the approved plan's steps in order."""
        StepLoop(agent, session).run()


# ---- pure helpers ----------------------------------------------------------------------------


def step_prompt(number: int, total: int, step: PlanStep) -> str:
    """The instruction to implement one plan step."""
    files = f" (files: {', '.join(step.files)})" if step.files else ""
    return prompts.render(
        "step", number=number, total=total, description=step.description, files=files
    )


def edited_paths(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Paths whose content hash differs between two snapshots, sorted."""
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


def step_scope(number: int, total: int, step: PlanStep) -> str:
    """What the reviewer of one step's change is told about its scope."""
    return prompts.render("step_review", number=number, total=total, description=step.description)


def dropped_hunks(changeset: Changeset, selection: frozenset[str] | None) -> list[str]:
    """``id (header)`` of the hunks an approval left out."""
    if selection is None:
        return []
    return [
        f"{h.id} ({h.header})" for fc in changeset.files for h in fc.hunks if h.id not in selection
    ]


def applied_hunks(changeset: Changeset, decision: Decision) -> tuple[int, int]:
    """(hunks an approval applies, those of them the user did not accept one by one)."""
    chosen = set(changeset.hunk_ids()) if decision.selection is None else set(decision.selection)
    unreviewed = 0 if decision.reviewed is None else len(chosen - decision.reviewed)
    return len(chosen), unreviewed


def file_hashes(project: Project, paths: list[str]) -> dict[str, str]:
    """Content hash of each path on disk ("absent" if missing, "unreadable" if refused)."""
    out = {}
    for path in paths:
        try:
            out[path] = content_hash(DiskReader().read(project, path))
        except AgentMagicError:  # a link out, a FIFO, a huge file: read as staging would not
            out[path] = UNREADABLE
    return out


# ---- the loop --------------------------------------------------------------------------------


class StepLoop:
    """One step-mode run after the plan was approved; drives the agent's public phase API."""

    def __init__(self, agent: Agent, session: Session) -> None:
        self.agent = agent
        self.session = session
        self.project = agent.project
        self.baseline: dict[str, bytes | None] = {}  # content before the run, per touched path
        self.notes: list[str] = []  # told to the model with its next instruction

    def run(self) -> None:
        """Every step in order; the summary lists what became of each."""
        plan = self.session.plan
        if plan is None:
            raise UserError("step mode needs an approved plan")
        try:
            for number, step in enumerate(plan.steps, 1):
                following = plan.steps[number].description if number < len(plan.steps) else ""
                self._step(number, len(plan.steps), step, following)
        finally:
            self.session.summary = "\n".join(o.line() for o in self.session.step_outcomes)

    def _step(self, number: int, total: int, step: PlanStep, following: str) -> None:
        agent, session = self.agent, self.session
        instruction = step_prompt(number, total, step)
        first = len(session.findings)  # this step's findings start here, across its attempts
        attempt = 1
        while True:
            agent.phase_turn(session, "implement", "\n\n".join([*self.notes, instruction]))
            self.notes = []
            summary = session.summary
            checks = agent.review(
                session, quick=True, first=first, scope=step_scope(number, total, step)
            )
            if session.summary != summary:  # a fix round's finish summarized the fixes
                summary = f"{summary}\nAfter review: {session.summary}"
            changeset = session.refresh()
            if changeset is None or session.staging is None:
                raise UserError("step mode needs a staging area")
            pause = StepPause(
                number,
                total,
                step.description,
                changeset,
                self._cumulative(changeset),
                checks,
                summary,
                following,
                attempt,
                findings=tuple(session.findings[first:]),
            )
            watched = sorted(set(changeset.paths) | set(step.files))
            decision, checkpoint, checked = self._decide(pause, watched)
            session.staging.reset()  # the next step reads the files as the user left them
            if decision.action == "revise":
                attempt += 1
                instruction = prompts.render(
                    "step_revise",
                    number=number,
                    description=step.description,
                    feedback=decision.feedback,
                )
                continue
            self._record(number, step, changeset, decision, checkpoint, checked)
            if decision.action not in ("approve", "skip"):
                raise StepsStopped(
                    f"stopped by the user at step {number} of {total}; "
                    "the steps applied before stay applied"
                )
            return

    def _decide(
        self, pause: StepPause, watched: list[str]
    ) -> tuple[Decision, Checkpoint | None, SelectionCheck | None]:
        """Wait for a decision; Approve applies (a conflict, or a selection failing its own
        checks unconfirmed, re-asks). Notes hand edits for the model."""
        while True:
            before = file_hashes(self.project, watched)
            decision = self.agent.pause(self.session, pause)
            edited = edited_paths(before, file_hashes(self.project, watched))
            if edited:
                self.notes.append(prompts.render("step_edited", paths=", ".join(edited)))
            changeset = pause.changeset
            if decision.action != "approve" or changeset is None or changeset.is_empty:
                return decision, None, None
            try:
                checked = self._check_part(pause, changeset, decision)
                if (
                    checked is not None
                    and checked.blocks
                    and not (decision.confirm and checked is pause.selection_check)
                ):
                    message = (
                        "Not applied: the selected hunks alone fail the checks "
                        f"({checked.report.headline() if checked.report else ''}). Select the "
                        "hunks they need, or confirm to apply them anyway."
                    )
                    self.agent.emit(StepDecided(pause.step, "failed", message, "", checked))
                    pause = replace(pause, message=message, selection_check=checked)
                    continue
                return decision, self._apply(pause, changeset, decision), checked
            except ConflictError as exc:
                message = (
                    f"Not applied: {exc}. Untick those files, or Revise so the agent "
                    "redoes the step on your version."
                )
            except UserError as exc:
                message = f"Not applied: {exc}"
            self.agent.emit(StepDecided(pause.step, "failed", message))
            pause = replace(pause, message=message)

    def _check_part(
        self, pause: StepPause, changeset: Changeset, decision: Decision
    ) -> SelectionCheck | None:
        """The checks of an approval that leaves hunks out, run on exactly those hunks (the
        ones the pause already showed for the same selection are not run again)."""
        selection = decision.selection
        if selection is None or not is_partial(changeset, selection):
            return None
        shown = pause.selection_check
        if shown is not None and shown.selection == selection:
            return shown
        if self.agent.config.review:
            self.agent.emit(
                StepDecided(
                    pause.step,
                    "checking",
                    f"Checking the {len(selection)} selected hunk(s) of step {pause.step} on "
                    "their own (compile, lint, related tests)...",
                )
            )
        return self.agent.check_selection(self.session, changeset, selection)

    def _apply(self, pause: StepPause, changeset: Changeset, decision: Decision) -> Checkpoint:
        from agent_magic.staging import apply

        session = self.session
        plan = session.plan.summary if session.plan is not None else ""
        title = plan.strip().splitlines()[0][:60] if plan.strip() else ""
        message = (
            f"{title} — step {pause.step}/{pause.total}: {pause.description}\n\n"
            f"Task: {session.task.strip()[:500]}\n"
        )
        selection = None if decision.selection is None else set(decision.selection)
        # Not yet here: live-document apply (an open notebook edited through its frontend, as
        # Session.apply does with a LivePart). A step writes through the disk writer only.
        checkpoint = apply(
            self.project,
            changeset,
            selection,
            commit=decision.commit,
            message=message,
            session_id=session.id,
        )
        session.checkpoints.append(checkpoint.id)
        session.save()  # as one-shot apply: a new kernel can undo this step while the run waits
        return checkpoint

    def _cumulative(self, changeset: Changeset) -> Changeset:
        staged = changes_of(changeset)
        for fc in changeset.files:
            if fc.old_path:
                self.baseline.setdefault(fc.old_path, fc.before)
            self.baseline.setdefault(fc.path, None if fc.old_path else fc.before)
        files = []
        for path, before in sorted(self.baseline.items()):
            if path in staged:
                now = staged[path]
            else:
                try:
                    now = DiskReader().read(self.project, path)
                except AgentMagicError:
                    continue  # no longer a file staging may read: nothing honest to show
            if now != before:
                files.append(make_change(path, before, now))
        return Changeset(files)

    def _record(
        self,
        number: int,
        step: PlanStep,
        changeset: Changeset,
        decision: Decision,
        checkpoint: Checkpoint | None,
        checked: SelectionCheck | None = None,
    ) -> None:
        dropped = dropped_hunks(changeset, decision.selection)
        if decision.action == "approve" and checkpoint is None:
            action = "empty"
        elif decision.action == "approve":
            action = "partly applied" if dropped else "applied"
            checks = f" Checks of what was applied: {checked.record_line()}." if checked else ""
            self.notes.append(
                prompts.render(
                    "step_partly", number=number, dropped="; ".join(dropped), checks=checks
                )
                if dropped
                else prompts.render("step_applied", number=number)
            )
        elif decision.action == "skip":
            action = "skipped"
            self.notes.append(prompts.render("step_skipped", number=number))
        else:
            action = "stopped"
        hunks, unreviewed = (0, 0) if checkpoint is None else applied_hunks(changeset, decision)
        outcome = StepOutcome(
            number,
            step.description,
            action,
            checkpoint.id if checkpoint is not None else "",
            list(checkpoint.paths) if checkpoint is not None else [],
            checked if checkpoint is not None else None,
            hunks,
            unreviewed,
        )
        self.session.step_outcomes.append(outcome)
        self.agent.emit(
            StepDecided(number, action, outcome.line(), outcome.checkpoint, outcome.selection_check)
        )


# The decision types live in agent_magic.decisions; importing them from here keeps working.
__all__ = [
    "Decider",
    "Decision",
    "FixedDecider",
    "Gate",
    "ScriptedDecider",
    "StepLoop",
    "StepMode",
    "StepOutcome",
    "StepPause",
    "StepsStopped",
    "edited_paths",
    "step_prompt",
    "step_scope",
]
