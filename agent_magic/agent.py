"""The agent: six phases over one conversation, with hard limits and a single exit path.

understand -> analyze -> plan -> implement -> review (fix and review again) -> deliver

The agent edits only a staging area; the user's files change when the caller applies the
returned Session. Everything the run does is emitted as events and kept in a transcript.
With a decider the plan waits for a decision (see ``decisions``); a Mode (step mode) replaces
implement-and-review and drives the run through the public phase API below.
"""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from agent_magic import prompts
from agent_magic.analysis.grep import count_lines, files_without
from agent_magic.decisions import Decider, Decision, FixedDecider, StepPause
from agent_magic.errors import ModelError, ToolError, UserError
from agent_magic.events import (
    ChecksDone,
    CommandStarted,
    EventSink,
    FindingReported,
    Notice,
    PhaseFinished,
    PhaseSkipped,
    PhaseStarted,
    PlanReady,
    RunFinished,
    StepPaused,
    TextDelta,
    ThinkingDelta,
    ToolUsed,
    UnderstandingReady,
    UsageUpdated,
    ignore,
)
from agent_magic.models.base import INVALID_JSON_KEY, Model, Reply, Request, ToolCall, Usage
from agent_magic.paths import Project
from agent_magic.records import Finding, Plan, PlanStep, Understanding
from agent_magic.secrets import Redactor
from agent_magic.session import Session, StopReason
from agent_magic.tokens import estimate_tokens
from agent_magic.tools import (
    ALL_TOOLS,
    CONTROL_NAMES,
    EDIT_NAMES,
    EXEC_NAMES,
    READ_NAMES,
    Toolbox,
    validate,
)
from agent_magic.transcript import Transcript

if TYPE_CHECKING:
    from agent_magic.analysis import RepoIndex
    from agent_magic.review.memo import CheckMemo
    from agent_magic.review.partial import SelectionCheck
    from agent_magic.review.report import CheckReport
    from agent_magic.sandbox import Sandbox
    from agent_magic.staging import Changeset
    from agent_magic.staging.overlay import Reader

# Which tools each phase accepts; the model always sees all of them so the prompt prefix stays
# identical (and cached) across phases.
PHASE_TOOLS: dict[str, frozenset[str]] = {
    "understand": READ_NAMES | {"submit_understanding"},
    "plan": READ_NAMES | {"submit_plan"},
    "implement": READ_NAMES | EDIT_NAMES | EXEC_NAMES | {"finish"},
    "review": READ_NAMES | EXEC_NAMES | {"report_finding", "finish"},
}

Checker = Callable[..., Any]  # review.run_checks(root, changes, **options) -> CheckReport


@dataclass
class AgentConfig:
    """Limits and switches of a run."""

    max_steps: int = 40  # model calls per run
    budget_usd: float = 2.0  # hard: checked before every model call
    time_limit_s: float = 1200.0
    max_tool_errors: int = 6  # consecutive failed tool calls before the run gives up
    review: bool = True  # checks + model review + fix rounds
    model_review: bool = True
    review_rounds: int = 2  # fix rounds after the first review
    run_notebooks: bool = False
    plan_first: bool = False
    notebook_context: str = ""
    # image blocks of plots the user opted to share (--share-outputs), sent with the context
    notebook_images: tuple[dict[str, Any], ...] = ()
    test_timeout: float = 120.0
    context_tokens: int = 4000
    max_tokens: int | None = None  # output limit per model call; None: the model's default
    effort: str | None = None  # thinking effort: off, low, medium, high, xhigh, max; None: default
    compact_at: float = 0.5  # share of the context window past which old tool output is elided
    readonly: tuple[str, ...] = ()  # glob patterns of files the agent may read but not change
    allow_network: bool = False  # code run in the sandbox may use the network
    unsandboxed: bool = False  # the user's opt-in: run checks and commands without a sandbox


class Stop(Exception):
    """Ends a run early; ``reason`` is the session's stop_reason."""

    reason: ClassVar[StopReason] = "error"


class BudgetExceeded(Stop):
    reason = "budget"


class StepLimit(Stop):
    reason = "steps"


class TimeLimit(Stop):
    reason = "time"


class Interrupted(Stop):
    reason = "interrupted"


class TooManyToolErrors(Stop):
    reason = "tool_errors"


class PlanHeld(Stop):
    """The plan waits for a decision nobody could make now (``continue_plan`` makes it later)."""

    reason = "plan_ready"


class PlanCancelled(Stop):
    reason = "cancelled"


class Refused(Stop):
    reason = "refused"


class ContextFull(Stop):
    reason = "context"


class OutputLimit(Stop):
    reason = "output_limit"


class Mode(Protocol):
    """What follows the approved plan; the default implements and reviews it all at once."""

    def implement(self, agent: Agent, session: Session) -> None:
        """Implement the session's plan through the agent's public phase API."""
        ...


TurnPhase = Literal["plan", "implement"]
# The tool that ends a phase turn.
PHASE_ENDS: dict[str, set[str]] = {"plan": {"submit_plan"}, "implement": {"finish"}}

MAX_PAUSES = 5  # pause_turn continuations in a row
KEEP_RECENT = 6  # messages at the end of the conversation that compaction never touches
STUB = "[{n} characters of earlier tool output elided to fit the context window; rerun if needed]"
DROPPED = "[earlier tool calls and their results were removed to fit the context window]"


def _recover_interrupted_apply(project: Project) -> str:
    """Roll back (or finish) an apply or undo a dead process left half-done; its message or "".

    Raises ApplyError when that cannot be done: an agent must not read a half-applied tree.
    """
    from agent_magic.staging import recover
    from agent_magic.staging.lock import LockBusy

    try:
        return recover(project)
    except LockBusy:
        return ""  # a live process holds the lock: its apply is running, not interrupted


class Agent:
    """Runs tasks against one project with one model; wiring of analysis, staging and review."""

    def __init__(
        self,
        project: Project | str,
        model: Model,
        config: AgentConfig | None = None,
        on_event: EventSink = ignore,
        *,
        index: RepoIndex | None = None,
        checker: Checker | None = None,
        clock: Callable[[], float] = time.monotonic,
        decider: Decider | None = None,
        mode: Mode | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.project = project if isinstance(project, Project) else Project(project)
        self.model = model
        self.config = config or AgentConfig()
        self.emit = on_event
        self.recovered = ""  # the last recovery message (see _recover)
        self._recover()
        self._index = index
        self._index_lock = threading.RLock()  # the index is warmed in a thread of its own
        self._checker = checker
        self._clock = clock
        if decider is None and self.config.plan_first:
            decider = FixedDecider(Decision.hold())  # nobody to ask: the run ends at the plan
        self.decider = decider  # when set, the plan (and in step mode every step) waits for it
        self.mode = mode  # what follows the plan; None: implement and review it all at once
        self._sandbox = sandbox  # where checks and `run` execute; detected on first use
        self.staging_reader: Reader | None = None  # where staging reads files (None: the disk)
        self._stop = threading.Event()
        self._started = 0.0
        self._steps_at_start = 0
        self._failures = 0
        self._phase = ""
        self._transcript: Transcript | None = None
        self._redact: Callable[[str], str] = Redactor.current(self.project.root)
        self._round_findings: list[Finding] = []

    def _recover(self) -> None:
        # A dead process's half-done apply is rolled back before this agent reads the tree, and
        # the user is told: through the view, or as a warning when nothing listens.
        message = _recover_interrupted_apply(self.project)
        if not message:
            return
        self.recovered = message
        if self.emit is ignore:
            warnings.warn(f"agent_magic: {message}", RuntimeWarning, stacklevel=3)
        else:
            self.emit(Notice(message))

    # ---- public API ---------------------------------------------------------------------

    def run(self, task: str) -> Session:
        """Run the whole loop on ``task``; returns the session however the run ended."""
        from agent_magic.staging import Staging

        task = (task or "").strip()
        if not task:
            raise UserError("the task is empty: write what the agent should do in the cell body")
        session = Session(task=task, project=self.project, model=self.model.name)
        session.staging = Staging(self.project, reader=self.staging_reader)
        return self._drive(session, self._all_phases)

    def continue_plan(self, session: Session, feedback: str | None = None) -> Session:
        """Answer a held plan (``plan_ready``): approve it, or revise it with ``feedback``.

        A thin wrapper kept for the Python API: it answers the plan pause the run ended at and
        goes on as if the decider had given that answer.
        """
        if session.stop_reason != "plan_ready":
            raise UserError(f"session {session.id} is not waiting for plan approval")
        answer = Decision.revise(feedback) if feedback else Decision.approve()

        def go_on(s: Session) -> None:
            self._approve_plan(s, answer)
            self._implement(s)

        return self._drive(session, go_on, opening="continue")

    def cancel_plan(self, session: Session) -> Session:
        """End a held plan (``plan_ready``) with its plan only (nothing was staged)."""
        if session.stop_reason != "plan_ready":
            raise UserError(f"session {session.id} is not waiting for plan approval")
        session.stop_reason = "cancelled"
        Transcript(self.project, session.id).write(
            "end", stop_reason="cancelled", cost=session.cost, plan=session.plan
        )
        return session

    def resume(self, session: Session, instruction: str) -> Session:
        """Continue a finished session with a follow-up instruction, on its staged changes."""
        instruction = (instruction or "").strip()
        if not instruction:
            raise UserError("resume needs a follow-up instruction")
        if session.staging is None or not session.messages:
            raise UserError(f"session {session.id} cannot be resumed (it has no conversation)")
        if session.checkpoints:
            session.staging.rebase()

        def follow_up(s: Session) -> None:
            self.phase_turn(s, "implement", prompts.render("followup", instruction=instruction))
            self.review(s)

        return self._drive(session, follow_up, opening="continue")

    def stop(self) -> None:
        """Ask the run to stop at the next model or tool boundary (safe from any thread)."""
        self._stop.set()
        if self.decider is not None:
            self.decider.cancel()  # a pause waiting for the user ends now

    # ---- the phase API: what step mode (and any other Mode) drives the run with -----------

    def phase_turn(
        self, session: Session, phase: TurnPhase, text: str, images: Sequence[dict] = ()
    ) -> None:
        """Tell the model ``text`` (with ``images``), then converse in ``phase`` until it submits
        the plan or calls ``finish``; emits the phase's start and end."""
        self._enter(phase)
        self._say(session, text)
        if images:
            last = session.messages[-1]
            last["content"] = [*last["content"], *images]
        self._converse(session, phase, PHASE_ENDS[phase])
        plan = session.plan.summary if session.plan else ""
        self._leave(phase, plan if phase == "plan" else session.summary)

    def review(
        self, session: Session, *, quick: bool = False, first: int = 0, scope: str = ""
    ) -> CheckReport | None:
        """Check and model-review the staged change, with fix rounds while blockers stay open.

        Bounded by ``review_rounds`` like the one-shot run. ``quick`` runs only the related
        tests; findings before index ``first`` of ``session.findings`` belong to earlier work
        and are left alone; ``scope`` tells the reviewer what part of the plan the change is.
        Returns the last round's check report (None if nothing was checked).
        """
        if not self.config.review:
            self.emit(PhaseSkipped("review", "turned off with --no-review"))
            return None
        checks: CheckReport | None = None
        last_round = self.config.review_rounds + 1
        for round_no in range(1, last_round + 1):
            checks, problems = self._review(session, round_no, quick, first, scope)
            if not problems or round_no == last_round:
                break
            fix = prompts.render(
                "fix", round=round_no, problems="\n".join(_describe(f) for f in problems)
            )
            self.phase_turn(session, "implement", fix)
        return checks

    def pause(self, session: Session, pause: StepPause) -> Decision:
        """Wait for the decider's answer on ``pause`` (the plan or a step); emitted and recorded.

        A stop asked for before the pause ends the run here; the wait, however long, does not
        count against the time limit.
        """
        if self.decider is None:
            raise UserError("this agent has no decider to answer a pause (pass decider=...)")
        self._check_stop()
        self.emit(StepPaused(pause.step, session, pause))
        self.record(
            "step_paused",
            step=pause.step,
            attempt=pause.attempt,
            files=list(pause.changeset.paths) if pause.changeset is not None else [],
        )
        waited_from = self._clock()
        try:
            decision = self.decider.wait(pause)
        finally:
            self._started += self._clock() - waited_from
        self.record(
            "step_decided",
            step=pause.step,
            action=decision.action,
            feedback=decision.feedback,
            selection=None if decision.selection is None else sorted(decision.selection),
            confirm=decision.confirm,  # to write a selection whose own checks failed
        )
        return decision

    def check_selection(
        self, session: Session, changeset: Changeset, selection: frozenset[str]
    ) -> SelectionCheck:
        """The fast checks (compile, lint, related tests) of only the ``selection`` of
        ``changeset``, sandboxed as the review's; with the review off, only the left-out
        files the selected ones import (see review.partial)."""
        from agent_magic.review.partial import check_selection

        options: dict[str, Any] = (
            {} if self._checker is not None else {"memo": self._check_memo(session)}
        )
        result = check_selection(
            self.project.root,
            changeset,
            selection,
            test_command=session.test_command,
            run=self.config.review,
            checker=self._checker,
            timeout=max(1.0, min(self.config.test_timeout, self._time_left())),
            sandbox=self.sandbox,
            stop=self._stop,
            **options,
        )
        self._check_stop()  # a check the user stopped is no answer to write on
        self.record(
            "selection_checked",
            selection=sorted(selection),
            rechecked=result.rechecked,
            blocks=result.blocks,
            line=result.record_line(),
        )
        return result

    def record(self, kind: str, **data: Any) -> None:
        """Add a record of ``kind`` to the session's transcript (during a run)."""
        if self._transcript is not None:
            self._transcript.write(kind, **data)

    # ---- the one exit path -----------------------------------------------------------------

    def _drive(
        self,
        session: Session,
        body: Callable[[Session], None],
        opening: Literal["start", "continue"] = "start",
    ) -> Session:
        self._recover()  # another process may have died mid-apply since the last run
        self._started = self._clock()
        self._steps_at_start = session.steps
        self._failures = 0
        # Secret values as of this run: keys set in the kernel since the last run count too.
        self._redact = Redactor.current(self.project.root)
        self._transcript = Transcript(self.project, session.id)
        self._transcript.write(
            opening,
            task=session.task,
            model=session.model,
            created=session.created,
            project=str(self.project.root),
        )
        try:
            body(session)
            session.stop_reason, session.error = "done", ""
        except Stop as stop:
            session.stop_reason, session.error = stop.reason, str(stop)
        except ModelError as exc:
            session.stop_reason, session.error = "error", str(exc)
        except KeyboardInterrupt:
            session.stop_reason, session.error = "interrupted", "interrupted by the user"
        except BaseException as exc:
            session.stop_reason, session.error = "error", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._deliver(session)
            # cleared as the run ends, not as it begins: a Stop pressed while the run was
            # starting (after `run` was called, before its first boundary) still stops it
            self._stop.clear()
        return session

    def _all_phases(self, session: Session) -> None:
        self._understand(session)
        self._analyze(session)
        self._plan(session)
        if self.decider is not None:
            self._approve_plan(session)
        self._implement(session)

    def _implement(self, session: Session) -> None:
        if self.mode is not None:
            self.mode.implement(self, session)
            return
        self.phase_turn(session, "implement", prompts.render("implement"))
        self.review(session)

    def _approve_plan(self, session: Session, answer: Decision | None = None) -> None:
        """Pause until the plan is approved; Revise plans again. ``answer``: the first answer."""
        while True:
            plan = session.plan
            if plan is None:  # _plan converses until a plan is submitted
                raise ModelError("no plan was submitted")
            if answer is None:
                pause = StepPause(
                    0, len(plan.steps), plan.summary, next_step=plan.steps[0].description, plan=plan
                )
                answer = self.pause(session, pause)
            if answer.action == "approve":
                return
            if answer.action == "hold":
                raise PlanHeld("the plan waits for approval")
            if answer.action != "revise":
                raise PlanCancelled("stopped by the user at the plan; nothing was changed")
            self.phase_turn(
                session, "plan", prompts.render("revise_plan", feedback=answer.feedback)
            )
            answer = None

    # ---- phases --------------------------------------------------------------------------

    def _understand(self, session: Session) -> None:
        self._enter("understand")
        self._warm_index()
        self._say(
            session, prompts.render("understand", task=session.task, project=self.project.root.name)
        )
        self._converse(session, "understand", {"submit_understanding"})
        self._leave(
            "understand", session.understanding.restatement if session.understanding else ""
        )

    def _analyze(self, session: Session) -> None:
        from agent_magic.analysis import detect_conventions

        self._enter("analyze")
        query = session.task
        if session.understanding:
            query += (
                "\n"
                + session.understanding.restatement
                + "\n"
                + "\n".join(session.understanding.acceptance_criteria)
            )
        with self._index_lock:
            index = self._get_index()
            session.ranked_files = [r.path for r in index.rank(query, k=15)]
            repo_map = index.repo_map(query, budget_tokens=self._map_budget())
            count = len(index.files())
        conventions = detect_conventions(self.project.root)
        session.test_command = conventions.test_command
        parts = [
            f"### Conventions\n{conventions.summary()}",
            f"### Repository map\n{repo_map}",
        ]
        if self.config.notebook_context:
            parts.append(f"### The user's notebook\n{self.config.notebook_context}")
        session.context = "\n\n".join(parts)
        self._leave("analyze", f"{count} files; top: {', '.join(session.ranked_files[:5])}")

    def _map_budget(self) -> int:
        """Tokens for the repo map: the configured size, at most a quarter of a small window."""
        window = getattr(self.model, "context_window", None)
        if isinstance(window, int) and window > 0:
            return max(256, min(self.config.context_tokens, window // 4))
        return self.config.context_tokens

    def _plan(self, session: Session) -> None:
        self.phase_turn(
            session,
            "plan",
            prompts.render("plan", context=session.context),
            images=self.config.notebook_images,  # the plots the notebook context names
        )

    def _review(
        self, session: Session, round_no: int, quick: bool, first: int, scope: str
    ) -> tuple[CheckReport | None, list[Finding]]:
        """Check the staged change and review it; the report and the findings that need a fix."""
        self._enter("review")
        session.review_rounds = round_no
        changeset = session.refresh()
        if changeset is None or changeset.is_empty:
            self._leave("review", "no changes to review")
            return None, []
        report = self._check(session, changeset, **({"full_suite": False} if quick else {}))
        self._check_stop()  # a check the user stopped is no result to review
        if round_no == 1:
            session.checks_before = report
        session.checks = report
        self.emit(ChecksDone(report, round_no))
        found = list(report.findings()) if report is not None else []
        if self.config.model_review:
            found += self._model_review(session, report, round_no, first, scope)
        for finding in found:
            finding.round = round_no
        self._reconcile(session, found, first)
        problems = [
            f for f in session.findings[first:] if f.status == "open" and f.severity == "blocker"
        ]
        self._leave(
            "review", f"round {round_no}: {len(found)} finding(s), {len(problems)} blocker(s)"
        )
        return report, problems

    def _check(self, session: Session, changeset: Changeset, **options: Any) -> CheckReport:
        checker = self._checker
        if checker is None:
            from agent_magic.review import run_checks

            checker = run_checks
            options.setdefault("memo", self._check_memo(session))
        return checker(
            self.project.root,
            changes_of(changeset),
            test_command=session.test_command,
            timeout=max(1.0, min(self.config.test_timeout, self._time_left())),
            run_notebooks=self.config.run_notebooks,
            sandbox=self.sandbox,
            stop=self._stop,
            **options,
        )

    def _check_memo(self, session: Session) -> CheckMemo:
        """The session's CheckMemo: an unchanged fix round reuses the last checks, and every
        round and ``run`` call brings one kept scratch copy up to date (the project's, which
        outlives the run: the next run's first round does not copy the project again), and the
        baseline another (the unchanged project's)."""
        from agent_magic.review.kept import KEPT
        from agent_magic.review.memo import CheckMemo

        if session.check_memo is None:
            root = self.project.root
            session.check_memo = CheckMemo(
                tree=KEPT.for_project(root), unchanged=KEPT.for_project(root, "unchanged")
            )
        return session.check_memo

    @property
    def sandbox(self) -> Sandbox:
        """Where this agent's checks and ``run`` calls execute (detected once)."""
        if self._sandbox is None:
            from agent_magic.sandbox import detect

            self._sandbox = detect(
                allow_network=self.config.allow_network, unsandboxed=self.config.unsandboxed
            )
        return self._sandbox

    def _time_left(self) -> float:
        if not self._started:  # outside a run: no run's time limit applies
            return float("inf")
        return self.config.time_limit_s - (self._clock() - self._started)

    def _run_command(self, session: Session, command: str, timeout: int | None) -> str:
        """The ``run`` tool: the command in a sandboxed copy with the staged changes."""
        from agent_magic.review.command import clamp_timeout, run_in_copy
        from agent_magic.review.process import ChecksStopped

        changeset = session.refresh()
        changes = changes_of(changeset) if changeset is not None else {}
        limit = clamp_timeout(timeout, self._time_left())
        self.emit(CommandStarted(command, limit))
        try:
            return run_in_copy(
                self.project.root,
                changes,
                command,
                sandbox=self.sandbox,
                timeout=limit,
                stop=self._stop,
                keep=self._check_memo(session).tree,
                owner=self._check_memo(session),  # only this session's bytecode is kept
            )
        except ChecksStopped:
            self._check_stop()
            raise Interrupted("stopped by the user") from None

    def _model_review(
        self, session: Session, report: CheckReport | None, round_no: int, first: int, scope: str
    ) -> list[Finding]:
        open_before = [
            f for f in session.findings[first:] if f.status == "open" and f.source == "review"
        ]
        checks = report.summary() if report is not None else "(checks were not run)"
        if open_before:
            checks += (
                "\n\nFindings of the previous round; report again those still present:\n"
                + "\n".join(_describe(f) for f in open_before)
            )
        text = prompts.render(
            "review",
            task=session.task,
            plan=(session.plan.text() if session.plan else "(no plan)")
            + (f"\n\n{scope}" if scope else ""),
            diff=session.diff(),
            checks=checks,
        )
        # The review goes on from a copy of the main conversation rather than a new one: its
        # requests then start with the main conversation's cached prefix (a new conversation of
        # system, tools and diff is often below the model's minimum cacheable length), and the
        # main conversation stays as it was for the fix round and for resume.
        messages = copy.deepcopy(session.messages)
        self._say_to(messages, text)
        self._round_findings = []
        self._converse(session, "review", {"finish"}, messages=messages, text_ends=True)
        return self._round_findings

    def _reconcile(self, session: Session, found: list[Finding], first: int = 0) -> None:
        """Mark open findings (from ``first`` on) that this round did not report again as fixed;
        add new ones."""
        keys = {_key(f) for f in found}
        for old in session.findings[first:]:
            if old.status == "open" and _key(old) not in keys:
                old.status = "fixed"
        known = {_key(f) for f in session.findings[first:] if f.status == "open"}
        for finding in found:
            if _key(finding) not in known:
                session.findings.append(finding)
                self.emit(FindingReported(finding))

    def _deliver(self, session: Session) -> None:
        self._enter("deliver")
        session.refresh()
        files = [fc.path for fc in session.changeset.files] if session.changeset else []
        if self._transcript is not None:
            self._transcript.write(
                "end",
                stop_reason=session.stop_reason,
                error=session.error,
                cost=session.cost,
                usage=session.usage,
                steps=session.steps,
                files=files,
                plan=session.plan,
                findings=session.findings,
                diff=session.diff(),
            )
        session.save()  # apply, undo and show work from another kernel too
        self._leave("deliver", f"{session.stop_reason}: {len(files)} file(s) changed")
        self.emit(RunFinished(session))

    # ---- the conversation ----------------------------------------------------------------

    def _converse(
        self,
        session: Session,
        phase: str,
        until: set[str],
        *,
        messages: list[dict[str, Any]] | None = None,
        text_ends: bool = False,
    ) -> ToolCall | None:
        """Ask the model until it calls one of ``until`` without error; run the other tools.

        Every ``tool_use`` the conversation keeps is answered in the next message, whatever
        stops the run (calls not run get an error result saying so), so a session can always
        be resumed. Each stop reason has its own handling; no reply is ever invented.
        """
        messages = session.messages if messages is None else messages
        limit = self._max_tokens()
        pauses = 0
        while True:
            self._compact(messages, limit)
            request = Request(
                system=prompts.template("system"),
                messages=messages,
                tools=ALL_TOOLS,
                max_tokens=limit,
                cancel=self._stop,
                effort=self.config.effort,
            )
            reply = self._ask(session, request)
            if reply.stop_reason == "refusal":
                raise Refused(_refusal_text(reply))
            if reply.stop_reason == "model_context_window_exceeded":
                if not self._compact(messages, limit, force=True):
                    raise ContextFull(
                        "the conversation no longer fits the model's context window "
                        "even with old tool output elided"
                    )
                continue  # the cut reply is dropped; ask again on the smaller conversation
            cut = _cut_call(reply)
            if reply.stop_reason == "max_tokens" and (cut or not _usable(reply)):
                bigger = self._larger_limit(limit)
                if bigger > limit:
                    limit = bigger  # the cut reply is dropped; ask again with room to finish
                    continue
                if cut is None:
                    raise OutputLimit(
                        f"the model's reply kept hitting the output limit (max_tokens={limit})"
                    )
            content = reply.content()
            if not content:
                self._failed(f"{phase}: the model sent an empty reply")
                self._say_to(
                    messages,
                    prompts.render("nudge", phase=phase, expected=" or ".join(sorted(until))),
                )
                continue
            _append_assistant(messages, content)
            if reply.stop_reason == "pause_turn" and not reply.tool_calls:
                pauses += 1
                if pauses > MAX_PAUSES:
                    raise OutputLimit(f"the model paused its turn {MAX_PAUSES} times in a row")
                continue  # the API continues the same assistant turn
            pauses = 0
            if not reply.tool_calls:
                if text_ends:
                    return None
                self._failed(f"{phase}: the model answered without calling a tool")
                self._say_to(
                    messages,
                    prompts.render("nudge", phase=phase, expected=" or ".join(sorted(until))),
                )
                continue
            done = self._answer_calls(session, phase, until, reply.tool_calls, messages, cut, limit)
            if done is not None:
                return done

    def _answer_calls(
        self,
        session: Session,
        phase: str,
        until: set[str],
        calls: list[ToolCall],
        messages: list[dict[str, Any]],
        cut: ToolCall | None,
        limit: int,
    ) -> ToolCall | None:
        """Run the calls; the results message is appended however this ends."""
        results: list[dict[str, Any]] = []
        done = None
        stopped = "the run stopped"
        try:
            for call in calls:
                if call is cut:
                    text, is_error = _cut_message(limit), True
                    self.emit(ToolUsed(call.name, {}, text, True))
                    self.record(
                        "tool", phase=phase, name=call.name, input={}, result=text, is_error=True
                    )
                    self._failed(text)
                else:
                    text, is_error = self._call_tool(session, phase, call)
                results.append(
                    {
                        "type": "tool_result",
                        "tool_use_id": call.id,
                        "content": text,
                        **({"is_error": True} if is_error else {}),
                    }
                )
                if call.name in until and not is_error:
                    done = call
        except BaseException as exc:
            stopped = f"the run stopped: {exc}" if str(exc) else "the run stopped"
            raise
        finally:
            answered = {r["tool_use_id"] for r in results}
            results += [
                {
                    "type": "tool_result",
                    "tool_use_id": call.id,
                    "is_error": True,
                    "content": f"Not run: {stopped}.",
                }
                for call in calls
                if call.id not in answered
            ]
            messages.append({"role": "user", "content": results})
        return done

    def _max_tokens(self) -> int:
        if self.config.max_tokens:
            return self.config.max_tokens
        default = getattr(self.model, "default_max_tokens", None)
        return default if isinstance(default, int) and default > 0 else 4096

    def _larger_limit(self, limit: int) -> int:
        """Twice the limit, up to the model's output limit (or the same if there is no room)."""
        ceiling = getattr(self.model, "max_output", None)
        ceiling = ceiling if isinstance(ceiling, int) and ceiling > 0 else limit
        return min(ceiling, limit * 2)

    def _compact(
        self, messages: list[dict[str, Any]], max_tokens: int, *, force: bool = False
    ) -> bool:
        """Keep the conversation within the model's context window; True if anything was removed.

        Past ``compact_at`` of the window (less the output limit), the oldest large tool results
        and tool inputs become short stubs; if that is not enough, the oldest exchanges of only
        tool calls and their results are dropped whole (the pairing stays intact). Both go down
        to half the threshold, so compaction is rare and the cached prefix changes once per
        compaction, not on every call. The newest ``KEEP_RECENT`` messages are never touched.
        """
        window = getattr(self.model, "context_window", None)
        if not isinstance(window, int) or window <= 0:
            return False
        fixed = estimate_tokens([prompts.template("system"), ALL_TOOLS])
        high = max(int(window * self.config.compact_at) - max_tokens, window // 4)
        total = fixed + estimate_tokens(messages)
        if not force and total <= high:
            return False
        target = min(high // 2, total // 2) if force else high // 2
        sizes = [estimate_tokens(m) for m in messages]
        removed = False
        for i, message in enumerate(messages[:-KEEP_RECENT]):
            if total <= target:
                break
            if _elide(message):
                removed = True
                new = estimate_tokens(message)
                total, sizes[i] = total - sizes[i] + new, new
        i = 1
        while total > target and i + 1 < len(messages) - KEEP_RECENT:
            if _tool_only_exchange(messages, i):
                total -= sizes[i] + sizes[i + 1]
                del messages[i : i + 2], sizes[i : i + 2]
                _note_dropped(messages[i - 1])
                removed = True
            else:
                i += 1
        if removed:
            self.record("compact", phase=self._phase, tokens=total, window=window)
        return removed

    def _say_to(self, messages: list[dict[str, Any]], text: str) -> None:
        """Add text as the user, joining the last user message if the conversation ends with one."""
        block = {"type": "text", "text": self._redact(text)}
        if messages and messages[-1]["role"] == "user":
            messages[-1]["content"] = [*messages[-1]["content"], block]
        else:
            messages.append({"role": "user", "content": [block]})

    def _ask(self, session: Session, request: Request) -> Reply:
        self._check_limits(session, request)
        reply = None
        extra: dict[str, Any] = {}
        if getattr(self.model, "streams_thinking", False):
            extra["on_thinking"] = lambda t: self.emit(ThinkingDelta(t))
        try:
            reply = self.model.complete(request, on_text=lambda t: self.emit(TextDelta(t)), **extra)
            session.steps += 1
            session.usage = session.usage + reply.usage
            session.cost += self.model.price.cost(reply.usage)
            self.emit(UsageUpdated(session.usage, session.cost))
            return reply
        except ModelError:
            if self._stop.is_set():
                raise Interrupted("stopped by the user") from None
            raise
        finally:
            self.record(
                "model",
                phase=self._phase,
                reply=reply.content() if reply else None,
                stop_reason=reply.stop_reason if reply else None,
                usage=reply.usage if reply else None,
                cost=session.cost,
            )

    def _check_limits(self, session: Session, request: Request) -> None:
        self._check_stop()
        if session.steps - self._steps_at_start >= self.config.max_steps:
            raise StepLimit(f"stopped after {self.config.max_steps} model calls (max_steps)")
        # Price the next call as if nothing were cached and the whole answer used: a hard budget.
        estimate = self.model.price.cost(
            Usage(
                input_tokens=estimate_tokens([request.system, request.tools, request.messages]),
                output_tokens=request.max_tokens,
            )
        )
        if session.cost + estimate > self.config.budget_usd:
            raise BudgetExceeded(
                f"budget ${self.config.budget_usd:.2f} reached: spent ${session.cost:.4f}, the next "
                f"call could cost up to ${estimate:.4f}"
            )

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise Interrupted("stopped by the user")
        if self._clock() - self._started > self.config.time_limit_s:
            raise TimeLimit(f"stopped after {self.config.time_limit_s:.0f} s (time limit)")

    def _call_tool(self, session: Session, phase: str, call: ToolCall) -> tuple[str, bool]:
        text, is_error = "", True
        try:
            self._check_stop()
            data = validate(call.name, call.input)
            if call.name not in PHASE_TOOLS[phase]:
                raise ToolError(
                    f"{call.name} is not available in the {phase} phase; "
                    f"use one of: {', '.join(sorted(PHASE_TOOLS[phase]))}"
                )
            if call.name in CONTROL_NAMES:
                text = self._control(session, call.name, data)
            else:
                text = self._toolbox(session).run(call.name, data)
            is_error = False
            self._failures = 0
        except ToolError as exc:
            text = f"Error: {exc}"
            self._failed(text)
        finally:
            # Tool results leave the process (model request, views, transcript): no secrets.
            text = self._redact(text)
            self.emit(ToolUsed(call.name, dict(call.input), text, is_error))
            self.record(
                "tool",
                phase=phase,
                name=call.name,
                input=call.input,
                result=text,
                is_error=is_error,
            )
        return text, is_error

    def _failed(self, message: str) -> None:
        self._failures += 1
        if self._failures >= self.config.max_tool_errors:
            raise TooManyToolErrors(
                f"stopped after {self._failures} failed tool calls in a row; last: {message}"
            )

    def _control(self, session: Session, name: str, data: dict[str, Any]) -> str:
        if name == "submit_understanding":
            session.understanding = Understanding(
                data["restatement"],
                list(data.get("acceptance_criteria", [])),
                list(data.get("assumptions", [])),
            )
            self.emit(UnderstandingReady(session.understanding))
            return "Understanding recorded."
        if name == "submit_plan":
            steps = [
                PlanStep(s.get("description", ""), list(s.get("files", [])))
                for s in data["steps"]
                if isinstance(s, dict)
            ]
            if not steps:
                raise ToolError("submit_plan: the plan needs at least one step with a description")
            session.plan = Plan(
                data["summary"], steps, list(data.get("files", [])), list(data.get("risks", []))
            )
            self.emit(PlanReady(session.plan))
            return "Plan recorded."
        if name == "report_finding":
            self._round_findings.append(
                Finding(
                    severity=data["severity"],
                    message=data["message"],
                    path=data.get("path"),
                    line_start=data.get("line_start"),
                    line_end=data.get("line_end"),
                    suggestion=data.get("suggestion", ""),
                    source="review",
                )
            )
            return "Finding recorded."
        if self._phase != "review":  # the reviewer's summary is not the change's summary
            session.summary = data.get("summary", "")
        return "Done."

    # ---- helpers -------------------------------------------------------------------------

    def _toolbox(self, session: Session) -> Toolbox:
        patterns = self.config.readonly
        staging = session.staging
        if staging is None:  # run() and resume() stage before any tool runs
            raise UserError(f"session {session.id} has no staging area")

        def files() -> list[str]:
            staged = set(staging.changed_paths())
            with self._index_lock:  # waits for the warm-up, if it still runs
                listed = self._get_index().files()
            return sorted(set(listed) | staged)

        return Toolbox(
            staging,
            files,
            readonly=lambda p: any(fnmatch.fnmatch(p, g) for g in patterns),
            runner=lambda command, timeout: self._run_command(session, command, timeout),
            absent=lambda held, seconds: files_without(self.project.root, held, seconds=seconds),
            line_counts=lambda shape, seconds: count_lines(
                self.project.root, shape, seconds=seconds
            ),
        )

    def _get_index(self) -> RepoIndex:
        with self._index_lock:
            if self._index is None:
                from agent_magic.analysis import RepoIndex

                self._index = RepoIndex(self.project.root)
            return self._index

    def _warm_index(self) -> None:
        """Build or reopen the index while the model reads the task: seconds on a big repo,
        which the first search or the analyze phase would otherwise wait for."""

        def warm() -> None:
            # An error here is reported by the phase that needs the index, when it retries.
            with self._index_lock, contextlib.suppress(Exception):
                self._get_index().files()

        threading.Thread(target=warm, name="agent_magic-index", daemon=True).start()

    def _say(self, session: Session, text: str) -> None:
        """Add text to the conversation, joining the last user message if there is one."""
        self._say_to(session.messages, text)

    def _enter(self, phase: str) -> None:
        self._phase = phase
        self.emit(PhaseStarted(phase))

    def _leave(self, phase: str, summary: str) -> None:
        self.emit(PhaseFinished(phase, summary))


def _cut_call(reply: Reply) -> ToolCall | None:
    """The tool call whose input the output limit cut short, if the reply stopped there."""
    if reply.stop_reason != "max_tokens" or not reply.tool_calls:
        return None
    last = reply.tool_calls[-1]
    return last if INVALID_JSON_KEY in last.input else None


def _usable(reply: Reply) -> bool:
    """True if the reply holds more than thinking (text or a tool call)."""
    return any(b.get("type") in ("text", "tool_use") for b in reply.content())


def _cut_message(limit: int) -> str:
    return (
        f"Error: your reply hit the output limit (max_tokens={limit}) while writing this "
        "call's input, so it was cut off and not run. Make the change in smaller pieces: "
        "several small edits (or a short file written first and extended by edits) instead "
        "of one large input."
    )


def _refusal_text(reply: Reply) -> str:
    details = reply.stop_details or {}
    why = details.get("explanation") or ""
    category = f" ({details['category']})" if details.get("category") else ""
    return f"the model declined to continue{category}" + (f": {why}" if why else "")


def _append_assistant(messages: list[dict[str, Any]], content: list[dict[str, Any]]) -> None:
    """Append a reply; after a pause_turn the API continues the same assistant turn."""
    if messages and messages[-1]["role"] == "assistant":
        messages[-1]["content"] = [*messages[-1]["content"], *content]
    else:
        messages.append({"role": "assistant", "content": content})


def _elide(message: dict[str, Any]) -> bool:
    """Replace large tool results and tool inputs of a message with short stubs."""
    content = message.get("content")
    if not isinstance(content, list):
        return False
    changed = False
    new = []
    for block in content:
        if block.get("type") == "tool_result" and len(str(block.get("content", ""))) > 400:
            block = {**block, "content": STUB.format(n=len(str(block["content"])))}
            changed = True
        elif block.get("type") == "tool_use" and len(str(block.get("input", ""))) > 400:
            block = {
                **block,
                "input": {"elided": f"{len(str(block['input']))} characters of input"},
            }
            changed = True
        new.append(block)
    if changed:
        message["content"] = new
    return changed


def _tool_only_exchange(messages: list[dict[str, Any]], i: int) -> bool:
    """True if messages i, i+1 are an assistant turn and a user turn of only its tool results."""
    first, second = messages[i], messages[i + 1]
    content = second.get("content")
    return (
        first["role"] == "assistant"
        and second["role"] == "user"
        and isinstance(content, list)
        and bool(content)
        and all(b.get("type") == "tool_result" for b in content)
    )


def _note_dropped(message: dict[str, Any]) -> None:
    """Say once, in the user message before a removed exchange, that exchanges were removed."""
    content = message.get("content")
    if isinstance(content, list) and not any(b.get("text") == DROPPED for b in content):
        message["content"] = [*content, {"type": "text", "text": DROPPED}]


def changes_of(changeset: Changeset) -> Mapping[str, bytes | None]:
    """The staged changes as path -> new bytes (None = deleted), renames as delete + add."""
    changes: dict[str, bytes | None] = {}
    for fc in changeset.files:
        if fc.old_path and fc.old_path != fc.path:
            changes[fc.old_path] = None
        changes[fc.path] = fc.after
    return changes


def _key(finding: Finding) -> tuple[str, str | None, str]:
    message = finding.message.strip().lower()
    if finding.source == "tests":  # "newly failing test <id>: <reason>"; the reason may change
        message = message.split(": ", 1)[0]
    return (finding.source, finding.path, message)


def _describe(finding: Finding) -> str:
    where = f" {finding.location()}" if finding.location() else ""
    fix = f" Suggested fix: {finding.suggestion}" if finding.suggestion else ""
    return f"- [{finding.severity}]{where}: {finding.message}{fix}"
