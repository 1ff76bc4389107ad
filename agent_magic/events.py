"""The typed events a run emits, in order, to whatever view is listening."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_magic.decisions import StepPause
    from agent_magic.models.base import Usage
    from agent_magic.records import Finding, Plan, Understanding
    from agent_magic.review.partial import SelectionCheck
    from agent_magic.review.report import CheckReport
    from agent_magic.session import Session

PHASES = ("understand", "analyze", "plan", "implement", "review", "deliver")


@dataclass(frozen=True)
class PhaseStarted:
    phase: str


@dataclass(frozen=True)
class PhaseFinished:
    phase: str
    summary: str = ""


@dataclass(frozen=True)
class PhaseSkipped:
    """A phase that does not run in this run (review with ``--no-review``), and why."""

    phase: str
    reason: str = ""


@dataclass(frozen=True)
class TextDelta:
    """A piece of model text as it streams in."""

    text: str


@dataclass(frozen=True)
class ThinkingDelta:
    """A piece of the model's thinking (its notes between tool calls) as it streams in."""

    text: str


@dataclass(frozen=True)
class ToolUsed:
    name: str
    input: dict[str, Any]
    result: str
    is_error: bool


@dataclass(frozen=True)
class CommandStarted:
    """The ``run`` tool started a command in the sandbox; its ToolUsed follows when it ends."""

    command: str
    timeout: float


@dataclass(frozen=True)
class UnderstandingReady:
    understanding: Understanding


@dataclass(frozen=True)
class PlanReady:
    plan: Plan


@dataclass(frozen=True)
class FindingReported:
    finding: Finding


@dataclass(frozen=True)
class ChecksDone:
    """Results of the automatic checks (compile, lint, tests) of one review round."""

    report: CheckReport
    round: int


@dataclass(frozen=True)
class UsageUpdated:
    usage: Usage
    cost: float


@dataclass(frozen=True)
class StepPaused:
    """Step mode: the run waits for the user's decision on one plan step."""

    step: int  # 1-based plan step; 0 = the plan waits for approval
    session: Session
    pause: StepPause  # the step's diff, checks and what comes next


@dataclass(frozen=True)
class StepDecided:
    """Step mode: what became of a step (applied, partly applied, skipped, stopped, failed),
    or that the hunks approved are being checked on their own first (checking)."""

    step: int
    action: str
    message: str
    checkpoint: str = ""
    selection_check: SelectionCheck | None = None  # of a selection that left hunks out


@dataclass(frozen=True)
class Notice:
    """Something the user must hear that is not part of the run (a recovered interrupted apply)."""

    message: str


@dataclass(frozen=True)
class RunFinished:
    session: Session


Event = (
    PhaseStarted
    | PhaseFinished
    | TextDelta
    | ThinkingDelta
    | ToolUsed
    | UnderstandingReady
    | PlanReady
    | FindingReported
    | ChecksDone
    | UsageUpdated
    | StepPaused
    | StepDecided
    | RunFinished
    | CommandStarted
    | Notice
    | PhaseSkipped
)
EventSink = Callable[[Event], None]


def ignore(event: Event) -> None:
    """An event sink that drops everything."""
