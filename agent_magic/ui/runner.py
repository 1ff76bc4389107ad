"""Runs an agent in a background thread: one run per project, stop, pending decisions, follow-ups."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_magic import events as ev
from agent_magic.errors import UserError
from agent_magic.models.base import Usage

if TYPE_CHECKING:
    from agent_magic.agent import Agent
    from agent_magic.decisions import Gate
    from agent_magic.session import Session


@dataclass
class Progress:
    """What a run has done so far, kept up to date from its events (any thread)."""

    phase: str = ""
    done: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    tools: int = 0
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    session_id: str = ""  # known before the run returns once it pauses for a decision

    def handle(self, event: ev.Event) -> None:
        """Fold one event into the progress."""
        if isinstance(event, ev.PhaseStarted):
            self.phase = event.phase
        elif isinstance(event, ev.PhaseFinished) and event.phase not in self.done:
            self.done.append(event.phase)
        elif isinstance(event, ev.UsageUpdated):
            self.usage, self.cost = event.usage, event.cost
        elif isinstance(event, ev.ToolUsed):
            self.tools += 1
        elif isinstance(event, ev.StepPaused):
            self.session_id = event.session.id

    @property
    def elapsed(self) -> float:
        """Seconds since the run started (until it ended)."""
        return (self.ended or time.monotonic()) - self.started

    def line(self) -> str:
        """Phase, elapsed time, tokens and cost in one line."""
        tokens = self.usage.total_input + self.usage.output_tokens
        return (
            f"{self.phase or 'starting'} · {self.elapsed:.0f}s · {tokens:,} tokens · "
            f"${self.cost:.4f}"
        )


def fan_out(*sinks: ev.EventSink) -> ev.EventSink:
    """One sink that hands each event to every given sink, in order."""

    def sink(event: ev.Event) -> None:
        for each in sinks:
            each(event)

    return sink


class RunRegistry:
    """The run in progress per project root; refuses a second one."""

    def __init__(self) -> None:
        self._runs: dict[Path, Run] = {}
        self._lock = threading.Lock()

    def claim(self, root: Path, run: Run) -> None:
        """Record ``run`` as the project's run, or raise UserError if another one is going."""
        with self._lock:
            current = self._runs.get(root)
            if current is not None and current is not run and current.running:
                raise UserError(
                    f"an agent is already running on {root} (session {current.session_id}); "
                    "wait for it, or stop it with `%agent stop`"
                )
            self._runs[root] = run

    def release(self, root: Path, run: Run) -> None:
        """Forget ``run`` if it is still the project's run."""
        with self._lock:
            if self._runs.get(root) is run:
                del self._runs[root]

    def check(self, root: Path) -> None:
        """Raise UserError if a run is going on ``root``."""
        with self._lock:
            current = self._runs.get(root)
        if current is not None and current.running:
            raise UserError(
                f"an agent is already running on {root} (session {current.session_id}); "
                "wait for it, or stop it with `%agent stop`"
            )

    def active(self) -> list[Run]:
        """Runs in progress."""
        with self._lock:
            return [r for r in self._runs.values() if r.running]


class Run:
    """One agent run and its follow-ups, each executed in a worker thread or inline."""

    def __init__(
        self,
        agent: Agent | None,
        task: str,
        *,
        root: Path,
        registry: RunRegistry,
        progress: Progress | None = None,
        build: Callable[[], Agent] | None = None,
    ) -> None:
        """A run of ``agent``, or (``agent`` None) of the agent ``build`` makes in the worker.

        Building in the worker keeps the agent's construction (its imports, the index, a custom
        factory) off the caller's thread: a cell returns as soon as its view is shown.
        """
        if (agent is None) == (build is None):
            raise ValueError("give an agent or a build function, not both or neither")
        self.agent = agent
        self._build = build
        self._stop_asked = False
        self._agent_lock = threading.Lock()
        self.task = task
        self.root = root
        self.registry = registry
        self.progress = progress or Progress()
        self.finish_listeners: list[Callable[[Run], None]] = []
        self.session: Session | None = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        self.gate: Gate | None = None  # where the plan (and each step) waits for the user
        # told (kind, outcome) when an apply or undo of this run's session happened elsewhere
        # (e.g. `%agent apply` in a later cell), so its view and record stay true
        self.action_listeners: list[Callable[[str, Any], None]] = []
        self._idle = threading.Event()
        self._idle.set()

    @property
    def running(self) -> bool:
        """Whether a step of this run is executing now."""
        return not self._idle.is_set()

    @property
    def session_id(self) -> str:
        """The session's id, or '(starting)' before the agent returned it."""
        if self.session is not None:
            return self.session.id
        return self.progress.session_id or "(starting)"

    def start(self, *, background: bool = True) -> None:
        """Run the task (claims the project first; raises UserError if it is busy)."""
        self._launch(lambda: self._built().run(self.task), background)

    def resume(self, instruction: str, *, background: bool = True) -> None:
        """Continue the finished session with a follow-up instruction."""
        session = self._need_session()
        self._launch(lambda: self._built().resume(session, instruction), background)

    def stop(self) -> None:
        """Ask the agent to stop at its next boundary (thread-safe, returns at once)."""
        if not self.running:
            return  # nothing to stop: a stop kept for the next step would end it at once
        with self._agent_lock:
            agent = self.agent
            self._stop_asked = agent is None  # the worker ends the run once it has built it
        if agent is not None:
            agent.stop()

    def _built(self) -> Agent:
        # in the worker thread: the agent, built now if it was deferred
        if self.agent is None:
            assert self._build is not None
            agent = self._build()
            with self._agent_lock:
                self.agent = agent
                stopped = self._stop_asked
            if stopped:  # the agent's own stop flag is reset when its run begins
                raise UserError("stopped before the agent started; nothing was done")
        return self.agent

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current step ends; whether it did within ``timeout``."""
        return self._idle.wait(timeout)

    def wait_interruptibly(self, poll: float = 0.2) -> None:
        """Block until done; Ctrl-C asks the agent to stop and keeps waiting for a clean end."""
        while not self._idle.is_set():
            try:
                self._idle.wait(poll)
            except KeyboardInterrupt:
                self.stop()

    def awaiting_decision(self) -> str | None:
        """The headline of the pause waiting for the user's decision (the plan or a step)."""
        pause = self.gate.pending if self.gate is not None else None
        return pause.headline() if pause is not None else None

    def notify(self, kind: str, outcome: Any) -> None:
        """Tell the run's views that ``kind`` ("apply" or "undo") happened with ``outcome``."""
        for listener in list(self.action_listeners):
            listener(kind, outcome)

    def _need_session(self) -> Session:
        if self.session is None:
            raise UserError("this run has no session yet")
        return self.session

    def _launch(self, step: Callable[[], Any], background: bool) -> None:
        if self.running:
            raise UserError(f"session {self.session_id} is still running")
        self.registry.claim(self.root, self)
        self._idle.clear()
        self.progress.ended = None
        if background:
            self.thread = threading.Thread(
                target=self._execute, args=(step, False), name="agent-magic-run", daemon=True
            )
            self.thread.start()
        else:
            self._execute(step, True)

    def _execute(self, step: Callable[[], Any], reraise: bool) -> None:
        self.error = None
        try:
            self.session = step()
        except BaseException as exc:  # a worker thread has nobody else to tell
            self.error = exc
            if reraise:
                raise
        finally:
            self.progress.ended = time.monotonic()
            self.registry.release(self.root, self)
            try:
                for listener in list(self.finish_listeners):
                    listener(self)
            finally:
                # set last, so whoever waits sees the views already updated
                self._idle.set()


def await_run(
    run: Run,
    *,
    command: str,
    say: Callable[[str], None] = lambda _text: None,
    poll: float = 0.2,
    refuse_decisions: bool = True,
) -> None:
    """Block until ``run`` finishes, so a later cell's ``command`` acts on its result (Run All).

    Raises UserError when the run waits for a decision only a person can make (with
    ``refuse_decisions``; else returns then), and when the user interrupts the wait (the run
    itself goes on; its cell still shows it).
    """
    announced = False
    while True:
        decision = run.awaiting_decision()
        if decision is not None and not refuse_decisions:
            return
        if decision is not None:
            raise UserError(
                f"session {run.session_id} is waiting for your decision on {decision}: "
                f"answer in its cell, then run `{command}` again (or `%agent stop`)"
            )
        if not run.running:
            return
        try:
            # announced inside the try: an interrupt right after the user reads it is this
            # friendly refusal, not a raw KeyboardInterrupt
            if not announced:
                say(
                    f"Waiting for session {run.session_id} to finish before `{command}` "
                    "(interrupt the kernel to stop waiting)..."
                )
                announced = True
            run.wait(poll)
        except KeyboardInterrupt:
            raise UserError(
                f"stopped waiting; session {run.session_id} is still running "
                "(its cell shows it; `%agent stop` stops it)"
            ) from None
