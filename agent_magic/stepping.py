"""Step mode: after the plan, implement one plan step at a time and wait for the user's decision.

The agent's worker thread blocks in ``Decider.wait`` while the user looks at a step (the kernel
stays free; the wait has no time limit and costs no tokens). Approve applies the selected hunks
with their own checkpoint, Revise redoes the step with the user's feedback, Skip drops it, Stop
ends the run and keeps the steps already applied. After every decision the staging area is reset,
so the next step starts from the files as the user left them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from agent_magic import prompts
from agent_magic.agent import Stop, changes_of
from agent_magic.errors import ConflictError, UserError
from agent_magic.events import StepDecided, StepPaused
from agent_magic.staging.changeset import Changeset, content_hash, make_change

if TYPE_CHECKING:
    from agent_magic.agent import Agent
    from agent_magic.paths import Project
    from agent_magic.records import Plan, PlanStep
    from agent_magic.session import Session

ACTIONS = ("approve", "revise", "skip", "stop")


class StepsStopped(Stop):
    """The user chose Stop; the steps applied so far stay applied."""

    reason = "interrupted"


@dataclass(frozen=True)
class Decision:
    """The user's answer to a paused step."""

    action: str  # approve | revise | skip | stop
    selection: frozenset[str] | None = None  # approve: hunk ids to apply; None = all of them
    feedback: str = ""  # revise: what to change
    commit: bool = False  # approve: git-commit the applied files

    @classmethod
    def approve(
        cls, selection: set[str] | frozenset[str] | None = None, *, commit: bool = False
    ) -> Decision:
        """Apply the step (the selected hunks, or all) and go on."""
        return cls("approve", None if selection is None else frozenset(selection), commit=commit)

    @classmethod
    def revise(cls, feedback: str) -> Decision:
        """Redo the step with ``feedback``; UserError if the feedback is empty."""
        text = (feedback or "").strip()
        if not text:
            raise UserError("write what should change in the step, then press Revise")
        return cls("revise", feedback=text)

    @classmethod
    def skip(cls) -> Decision:
        """Drop the step's changes and go on."""
        return cls("skip")

    @classmethod
    def stop(cls) -> Decision:
        """End the run; applied steps stay applied."""
        return cls("stop")


@dataclass(frozen=True)
class StepPause:
    """What the user sees while the run waits: one step's change, its checks, what comes next."""

    step: int  # 1-based; 0 is the plan itself
    total: int
    description: str
    changeset: Any = None  # this step's staged Changeset
    cumulative: Any = (
        None  # the run's changes so far plus this step's, against the files before the run
    )
    checks: Any = None  # CheckReport of this step (compile, lint, related tests), or None
    summary: str = ""  # the model's summary of the step
    next_step: str = ""  # what the agent intends next; "" after the last step
    attempt: int = 1
    message: str = ""  # why the last Approve failed, if it did

    @property
    def is_plan(self) -> bool:
        """Whether this pause asks to approve the plan (before step 1)."""
        return self.step == 0

    def headline(self) -> str:
        """``step 2 of 3: description`` (or the plan's)."""
        if self.is_plan:
            return f"plan of {self.total} step(s): {self.description}"
        again = f" (attempt {self.attempt})" if self.attempt > 1 else ""
        return f"step {self.step} of {self.total}{again}: {self.description}"

    def diff(self) -> str:
        """This step's unified diff."""
        return self.changeset.diff() if self.changeset is not None else ""


@dataclass
class StepOutcome:
    """What became of one plan step."""

    step: int
    description: str
    action: str  # applied | partly applied | skipped | stopped | empty
    checkpoint: str = ""
    paths: list[str] = field(default_factory=list)

    def line(self) -> str:
        """``Step 1 (desc): applied as checkpoint X``."""
        where = f" as checkpoint {self.checkpoint}" if self.checkpoint else ""
        return f"Step {self.step} ({self.description}): {self.action}{where}"


class Decider(Protocol):
    """Whoever answers paused steps; ``wait`` runs on the agent's thread and may block."""

    def wait(self, pause: StepPause) -> Decision:
        """Block until the user decides on ``pause``."""
        ...

    def cancel(self) -> None:
        """Make a waiting (or the next) ``wait`` return Stop; safe from any thread."""
        ...


class Gate:
    """Hands a paused step from the agent's thread to the widget buttons or a terminal prompt."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: StepPause | None = None
        self._answer: Decision | None = None
        self._cancelled = False

    @property
    def pending(self) -> StepPause | None:
        """The step waiting for a decision, if any."""
        with self._cond:
            return self._pending if self._answer is None else None

    def wait(self, pause: StepPause) -> Decision:
        """Agent thread: publish ``pause`` and block, without a time limit, until answered."""
        with self._cond:
            if self._cancelled:
                return Decision.stop()
            self._pending, self._answer = pause, None
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._answer is not None or self._cancelled)
            answer = self._answer if self._answer is not None else Decision.stop()
            self._pending, self._answer = None, None
            self._cond.notify_all()
            return answer

    def decide(self, decision: Decision) -> None:
        """UI thread: answer the waiting step; UserError if none waits (or it was answered)."""
        with self._cond:
            if self._pending is None or self._answer is not None:
                raise UserError("no step is waiting for a decision")
            self._answer = decision
            self._cond.notify_all()

    def cancel(self) -> None:
        """Answer Stop now and to every later pause (``%agent stop``, the Stop button)."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    def next_pause(self, timeout: float | None = None) -> StepPause | None:
        """Block until a step waits (then return it) or ``timeout`` passes (then None)."""
        with self._cond:
            self._cond.wait_for(lambda: self._pending is not None and self._answer is None, timeout)
            return self._pending if self._answer is None else None


class ScriptedDecider:
    """Answers pauses from a list of Decisions or functions of the pause; for tests and demos."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = list(answers)
        self.pauses: list[StepPause] = []

    def wait(self, pause: StepPause) -> Decision:
        """The next answer (Stop when they run out)."""
        self.pauses.append(pause)
        if not self.answers:
            return Decision.stop()
        answer = self.answers.pop(0)
        return answer(pause) if callable(answer) else answer

    def cancel(self) -> None:
        """Nothing blocks here."""
        self.answers = []


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


def dropped_hunks(changeset: Any, selection: frozenset[str] | None) -> list[str]:
    """``id (header)`` of the hunks an approval left out."""
    if selection is None:
        return []
    return [
        f"{h.id} ({h.header})" for fc in changeset.files for h in fc.hunks if h.id not in selection
    ]


def parse_answer(text: str) -> str:
    """A terminal answer as approve | pick | skip | stop | revise (any other text is feedback)."""
    word = text.strip().lower()
    if word in ("y", "yes", "a", "approve"):
        return "approve"
    if word in ("p", "pick"):
        return "pick"
    if word in ("s", "skip"):
        return "skip"
    if word in ("", "q", "quit", "stop", "n", "no"):  # no answer never approves
        return "stop"
    return "revise"


def file_hashes(project: Project, paths: list[str]) -> dict[str, str]:
    """Content hash of each path on disk ("absent" if missing)."""
    out = {}
    for path in paths:
        target = project.resolve(path, allow_secret=True)
        out[path] = content_hash(target.read_bytes() if target.is_file() else None)
    return out


# ---- the loop --------------------------------------------------------------------------------


def run_steps(agent: Agent, session: Session, decider: Decider) -> None:
    """Step mode after planning: plan approval, then each step implemented, checked and decided."""
    StepLoop(agent, session, decider).run()


class StepLoop:
    """One step-mode run; drives the agent's conversation through its phase helpers."""

    def __init__(self, agent: Agent, session: Session, decider: Decider) -> None:
        self.agent = agent
        self.session = session
        self.decider = decider
        self.project = agent.project
        self.baseline: dict[str, bytes | None] = {}  # content before the run, per touched path
        self.notes: list[str] = []  # told to the model with its next instruction

    def run(self) -> None:
        """Approve the plan, then every step in order; the summary lists what became of each."""
        try:
            self._approve_plan()
            steps = self._plan().steps
            for number, step in enumerate(steps, 1):
                following = steps[number].description if number < len(steps) else ""
                self._step(number, len(steps), step, following)
        finally:
            self.session.summary = "\n".join(o.line() for o in self.session.step_outcomes)

    def _approve_plan(self) -> None:
        agent, session = self.agent, self.session
        while True:
            plan = self._plan()
            pause = StepPause(0, len(plan.steps), plan.summary, next_step=plan.steps[0].description)
            decision = self._wait(pause)
            if decision.action == "approve":
                return
            if decision.action != "revise":
                raise StepsStopped("stopped by the user at the plan; nothing was changed")
            agent._say(session, prompts.render("revise_plan", feedback=decision.feedback))
            agent._enter("plan")
            agent._converse(session, "plan", {"submit_plan"})
            agent._leave("plan", self._plan().summary)

    def _plan(self) -> Plan:
        if self.session.plan is None:  # the plan phase ends only when a plan was submitted
            raise StepsStopped("the model submitted no plan; nothing was changed")
        return self.session.plan

    def _step(self, number: int, total: int, step: PlanStep, following: str) -> None:
        agent, session = self.agent, self.session
        instruction = step_prompt(number, total, step)
        attempt = 1
        while True:
            agent._enter("implement")
            agent._say(session, "\n\n".join([*self.notes, instruction]))
            self.notes = []
            agent._converse(session, "implement", {"finish"})
            agent._leave("implement", session.summary)
            changeset = session.refresh()
            if changeset is None or session.staging is None:  # step mode always stages
                raise StepsStopped("nothing was staged; the run has no staging area")
            pause = StepPause(
                number,
                total,
                step.description,
                changeset,
                self._cumulative(changeset),
                self._check(changeset),
                session.summary,
                following,
                attempt,
            )
            watched = sorted(set(changeset.paths) | set(step.files))
            decision, checkpoint = self._decide(pause, watched)
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
            self._record(number, step, changeset, decision, checkpoint)
            if decision.action == "stop":
                raise StepsStopped(
                    f"stopped by the user at step {number} of {total}; "
                    "the steps applied before stay applied"
                )
            return

    def _decide(self, pause: StepPause, watched: list[str]) -> tuple[Decision, Any]:
        """Wait for a decision; Approve applies (a conflict re-asks). Notes hand edits for the model."""
        while True:
            before = file_hashes(self.project, watched)
            decision = self._wait(pause)
            edited = edited_paths(before, file_hashes(self.project, watched))
            if edited:
                self.notes.append(prompts.render("step_edited", paths=", ".join(edited)))
            if decision.action != "approve" or pause.changeset.is_empty:
                return decision, None
            try:
                return decision, self._apply(pause, decision)
            except ConflictError as exc:
                message = (
                    f"Not applied: {exc}. Untick those files, or Revise so the agent "
                    "redoes the step on your version."
                )
            except UserError as exc:
                message = f"Not applied: {exc}"
            self.agent.emit(StepDecided(pause.step, "failed", message))
            pause = replace(pause, message=message)

    def _apply(self, pause: StepPause, decision: Decision) -> Any:
        from agent_magic.staging import apply

        session = self.session
        summary = self._plan().summary
        title = summary.strip().splitlines()[0][:60] if summary else ""
        message = (
            f"{title} — step {pause.step}/{pause.total}: {pause.description}\n\n"
            f"Task: {session.task.strip()[:500]}\n"
        )
        selection = None if decision.selection is None else set(decision.selection)
        checkpoint = apply(
            self.project,
            pause.changeset,
            selection,
            commit=decision.commit,
            message=message,
            session_id=session.id,
        )
        session.checkpoints.append(checkpoint.id)
        return checkpoint

    def _wait(self, pause: StepPause) -> Decision:
        agent = self.agent
        agent._check_stop()  # a Stop pressed while the step ran ends the run before it pauses
        agent.emit(StepPaused(pause.step, self.session, pause))
        agent._record(
            "step_paused",
            step=pause.step,
            attempt=pause.attempt,
            files=list(pause.changeset.paths) if pause.changeset is not None else [],
        )
        started = agent._clock()
        decision = self.decider.wait(pause)
        agent._started += agent._clock() - started  # the pause does not count against time_limit_s
        agent._record(
            "step_decided",
            step=pause.step,
            action=decision.action,
            feedback=decision.feedback,
            selection=None if decision.selection is None else sorted(decision.selection),
        )
        return decision

    def _check(self, changeset: Any) -> Any:
        if not self.agent.config.review or changeset.is_empty:
            return None
        report = self.agent._check(self.session, changeset, full_suite=False)
        self.session.checks = report
        return report

    def _cumulative(self, changeset: Any) -> Changeset:
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
                target = self.project.resolve(path, allow_secret=True)
                now = target.read_bytes() if target.is_file() else None
            if now != before:
                files.append(make_change(path, before, now))
        return Changeset(files)

    def _record(
        self, number: int, step: PlanStep, changeset: Any, decision: Decision, checkpoint: Any
    ) -> None:
        dropped = dropped_hunks(changeset, decision.selection)
        if decision.action == "approve" and checkpoint is None:
            action = "empty"
        elif decision.action == "approve":
            action = "partly applied" if dropped else "applied"
            self.notes.append(
                prompts.render("step_partly", number=number, dropped="; ".join(dropped))
                if dropped
                else prompts.render("step_applied", number=number)
            )
        elif decision.action == "skip":
            action = "skipped"
            self.notes.append(prompts.render("step_skipped", number=number))
        else:
            action = "stopped"
        outcome = StepOutcome(
            number,
            step.description,
            action,
            checkpoint.id if checkpoint is not None else "",
            list(getattr(checkpoint, "paths", [])),
        )
        self.session.step_outcomes.append(outcome)
        self.agent.emit(StepDecided(number, action, outcome.line(), outcome.checkpoint))


__all__ = [
    "Decider",
    "Decision",
    "Gate",
    "ScriptedDecider",
    "StepLoop",
    "StepOutcome",
    "StepPause",
    "StepsStopped",
    "edited_paths",
    "parse_answer",
    "run_steps",
    "step_prompt",
]
