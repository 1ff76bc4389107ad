"""The one pause mechanism: a run waits at a decision point until a decider answers.

The plan waits for approval whenever the agent has a decider (``--plan-first``); in step mode
every plan step waits too. The agent never knows who answered: widget buttons, a terminal
prompt, a script, or a fixed answer for headless runs all implement :class:`Decider`. Views ask
one question, "what decision is pending?" (:attr:`Gate.pending`), whatever the mode.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from agent_magic.errors import UserError

if TYPE_CHECKING:
    from agent_magic.records import Finding, Plan
    from agent_magic.review.partial import SelectionCheck
    from agent_magic.review.report import CheckReport
    from agent_magic.staging.changeset import Changeset

Action = Literal["approve", "revise", "skip", "stop", "hold"]


@dataclass(frozen=True)
class Decision:
    """The answer to a pause (the plan, or one step)."""

    action: Action
    selection: frozenset[str] | None = None  # approve: hunk ids to apply; None = all of them
    feedback: str = ""  # revise: what to change
    commit: bool = False  # approve: git-commit the applied files
    # approve: write the selection although its own checks, shown at the pause, failed
    confirm: bool = False
    # approve: the hunks the user accepted one by one; the rest applied were not reviewed
    # (None: not tracked, e.g. a terminal answer after the whole diff was shown)
    reviewed: frozenset[str] | None = None

    @classmethod
    def approve(
        cls,
        selection: set[str] | frozenset[str] | None = None,
        *,
        commit: bool = False,
        confirm: bool = False,
        reviewed: set[str] | frozenset[str] | None = None,
    ) -> Decision:
        """Go on: approve the plan, or apply the step (the selected hunks, or all); ``confirm``
        writes a selection whose own checks failed, once the pause has shown them."""
        chosen = None if selection is None else frozenset(selection)
        seen = None if reviewed is None else frozenset(reviewed)
        return cls("approve", chosen, commit=commit, confirm=confirm, reviewed=seen)

    @classmethod
    def revise(cls, feedback: str) -> Decision:
        """Plan again, or redo the step, with ``feedback``; UserError if the feedback is empty."""
        text = (feedback or "").strip()
        if not text:
            raise UserError("write what should change, then press Revise")
        return cls("revise", feedback=text)

    @classmethod
    def skip(cls) -> Decision:
        """Drop the step's changes and go on."""
        return cls("skip")

    @classmethod
    def stop(cls) -> Decision:
        """End the run; steps applied before stay applied."""
        return cls("stop")

    @classmethod
    def hold(cls) -> Decision:
        """End the run at the plan, keeping it for later (nobody is there to decide now)."""
        return cls("hold")


@dataclass(frozen=True)
class StepPause:
    """What the user sees while the run waits: the plan, or one step's reviewed change."""

    step: int  # 1-based; 0 is the plan itself
    total: int
    description: str
    changeset: Changeset | None = None  # this step's staged change
    cumulative: Changeset | None = None  # the run's changes so far plus this step's
    checks: CheckReport | None = None  # the step's checks (compile, lint, related tests)
    summary: str = ""  # the model's summary of the step
    next_step: str = ""  # what the agent intends next; "" after the last step
    attempt: int = 1
    message: str = ""  # why the last Approve failed, if it did
    plan: Plan | None = None  # the plan waiting for approval (step 0)
    findings: tuple[Finding, ...] = ()  # the step's review findings, fixed ones included
    # the checks of the last selection approved that left hunks out (it failed them: confirm?)
    selection_check: SelectionCheck | None = None

    @property
    def is_plan(self) -> bool:
        """Whether this pause asks to approve the plan (before step 1)."""
        return self.step == 0

    @property
    def open_blockers(self) -> list[Finding]:
        """Blocker findings of this step that its fix rounds did not fix."""
        return [f for f in self.findings if f.severity == "blocker" and f.status == "open"]

    def headline(self) -> str:
        """``step 2 of 3: description`` (or the plan's)."""
        if self.is_plan:
            return f"plan of {self.total} step(s): {self.description}"
        again = f" (attempt {self.attempt})" if self.attempt > 1 else ""
        return f"step {self.step} of {self.total}{again}: {self.description}"

    def diff(self) -> str:
        """This step's unified diff."""
        return self.changeset.diff() if self.changeset is not None else ""


class Decider(Protocol):
    """Whoever answers pauses; ``wait`` runs on the agent's thread and may block."""

    def wait(self, pause: StepPause) -> Decision:
        """Block until the decision on ``pause`` is made."""
        ...

    def cancel(self) -> None:
        """Make a waiting (or the next) ``wait`` return Stop; safe from any thread."""
        ...


class Gate:
    """Hands a pause from the agent's thread to widget buttons or a terminal prompt."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: StepPause | None = None
        self._answer: Decision | None = None
        self._cancelled = False

    @property
    def pending(self) -> StepPause | None:
        """The pause waiting for a decision, if any."""
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
        """UI thread: answer the waiting pause; UserError if none waits (or it was answered)."""
        with self._cond:
            if self._pending is None or self._answer is not None:
                raise UserError("nothing is waiting for a decision")
            self._answer = decision
            self._cond.notify_all()

    def cancel(self) -> None:
        """Answer Stop now and to every later pause (``%agent stop``, the Stop button)."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    def next_pause(self, timeout: float | None = None) -> StepPause | None:
        """Block until a pause waits (then return it) or ``timeout`` passes (then None)."""
        with self._cond:
            self._cond.wait_for(lambda: self._pending is not None and self._answer is None, timeout)
            return self._pending if self._answer is None else None


Answer = Decision | Callable[[StepPause], Decision]


class ScriptedDecider:
    """Answers pauses from a list of Decisions or functions of the pause; for tests and demos."""

    def __init__(self, answers: Sequence[Answer]) -> None:
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
        """Nothing blocks here; later pauses are answered with Stop."""
        self.answers = []


class FixedDecider:
    """Answers every pause with one decision: headless ``--plan-first`` (approve with --yes)."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self._cancelled = False

    def wait(self, pause: StepPause) -> Decision:
        """The fixed decision (Stop once cancelled)."""
        return Decision.stop() if self._cancelled else self.decision

    def cancel(self) -> None:
        """Later pauses are answered with Stop."""
        self._cancelled = True
