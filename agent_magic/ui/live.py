"""Wires an AgentPanel to a Run: events update the panel, its buttons act on the session."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agent_magic import events as ev
from agent_magic.decisions import Decision, Gate
from agent_magic.errors import UserError
from agent_magic.review.partial import SelectionCheck, is_partial
from agent_magic.ui.actions import Outcome, apply_changes, undo_changes
from agent_magic.ui.markup import markdown_plain
from agent_magic.ui.opennotebook import after_apply, before_apply, open_notebook_paths
from agent_magic.ui.report import session_record, stop_text
from agent_magic.ui.runner import Run
from agent_magic.ui.widgets import AgentPanel, Callbacks, checks_html

if TYPE_CHECKING:
    from agent_magic.session import Session
    from agent_magic.staging import Checkpoint
    from agent_magic.staging.live import LiveCheckpoint, LiveWriter
    from agent_magic.ui.reviewstate import Tally

Publish = Callable[[str], None]  # shows (or replaces) the markdown record in the cell output


def _ignore_markdown(_text: str) -> None:
    return None


def _nothing() -> None:
    return None


class WidgetController:
    """The widget view of one run; the event sink of its agent and the on_finish of its Run."""

    def __init__(
        self,
        task: str,
        *,
        commit: bool = False,
        auto_apply: bool = False,
        publish: Publish = _ignore_markdown,
        gate: Gate | None = None,
        open_notebook: Path | None = None,
        live: LiveWriter | None = None,
    ) -> None:
        self.commit = commit
        self.live = live  # open notebooks change in their tabs
        # the kernel's own notebook when Apply can only write it on disk (no live frontend)
        self.open_notebook = open_notebook
        self.gate = gate  # the plan and step buttons answer the pending pause through it
        self.auto_apply = auto_apply
        self._publish = publish
        # re-sends the panel's cell output: its saved copy of the review (set where it is shown)
        self.redisplay: Callable[[], None] = _nothing
        self.record = ""  # the markdown record last shown in the cell output
        self.run: Run | None = None
        self.applied: Checkpoint | LiveCheckpoint | None = None
        self.selection: SelectionCheck | None = None  # the checks of the applied selection
        self.checked: SelectionCheck | None = None  # the last selection checked (confirm reuses)
        self.hunks: Tally | None = None  # the applied change's hunks: reviewed or not
        self.worker: threading.Thread | None = None  # the last apply/undo off the main thread
        self.note = ""
        self._last_delta: type | None = None
        self.panel = AgentPanel(
            task,
            Callbacks(
                stop=self.stop,
                apply=self.apply,
                reject=self.reject,
                undo=self.undo,
                plan_approve=self.approve_plan,
                plan_revise=self.revise,
                plan_cancel=self.cancel_plan,
                step_approve=self.approve_step,
                step_revise=self.revise,
                step_skip=lambda: self._decide(Decision.skip()),
                step_stop=lambda: self._decide(Decision.stop()),
            ),
        )

    def publish(self, text: str) -> None:
        """Show (or replace) the markdown record in the cell output."""
        self.record = text
        self._publish(text)

    def _publish_record(self, session: Session) -> None:
        """Show the short record of ``session`` as it stands now (after a run, apply or undo)."""
        elapsed = self.run.progress.elapsed if self.run is not None else None
        self.publish(
            session_record(
                session,
                applied=self.applied,
                note=self.note,
                elapsed=elapsed,
                selection=self.selection,
                hunks=self.hunks,
            )
        )

    def attach(self, run: Run) -> None:
        """Act on ``run`` (set before it starts)."""
        self.run = run
        run.finish_listeners.append(self.finished)
        run.action_listeners.append(self.acted)

    # ---- from the worker thread

    def handle(self, event: ev.Event) -> None:
        """Update the panel for one event."""
        panel = self.panel
        if isinstance(event, (ev.TextDelta, ev.ThinkingDelta)):
            # Thinking shares the folded model-output area, on lines of its own.
            thinking = isinstance(event, ev.ThinkingDelta)
            if self._last_delta not in (None, type(event)):
                panel.append_text("\n", thinking=thinking)
            self._last_delta = type(event)
            panel.append_text(event.text, thinking=thinking)
            return
        self._last_delta = None
        if isinstance(event, ev.PhaseStarted):
            panel.stepper.start(event.phase)
            panel.append_text(f"\n── {event.phase} ──\n", flush=True)
        elif isinstance(event, ev.PhaseFinished):
            panel.stepper.finish(event.phase)
            panel.stepper.note(event.phase, event.summary)
            panel.phases.produced(event.phase, event.summary)
        elif isinstance(event, ev.PhaseSkipped):
            panel.stepper.skip(event.phase, event.reason)
            panel.phases.skip(event.phase, event.reason)
        elif isinstance(event, ev.UnderstandingReady):
            panel.phases.understanding(event.understanding)
        elif isinstance(event, ev.ChecksDone):
            panel.phases.add("review", f"round {event.round}: " + checks_html(event.report))
        elif isinstance(event, ev.CommandStarted):
            panel.append_text(f"\n$ {event.command}\n", flush=True)
            panel.set_status(f"running: {event.command[:60]}", "")
            return
        elif isinstance(event, ev.ToolUsed):
            detail = f": {event.result.split(chr(10), 1)[0]}" if event.name == "run" else ""
            panel.append_text(
                f"\n· {event.name}" + (" ✗" if event.is_error else "") + detail + "\n"
            )
        elif isinstance(event, ev.PlanReady):
            panel.plan.show(event.plan)
        elif isinstance(event, ev.StepPaused):
            if event.pause.is_plan:
                panel.plan.show(event.pause.plan, awaiting_approval=True)
            else:
                panel.steps.show(event.pause)
            panel.set_status(f"waiting for you: {event.pause.headline()}", "")
            return
        elif isinstance(event, ev.StepDecided):  # the message is markdown: show it as text
            panel.show_message(markdown_plain(event.message), ok=event.action != "failed")
        elif isinstance(event, ev.Notice):
            panel.append_text(f"\n{event.message}\n", flush=True)
        panel.set_status("running", self.run.progress.line() if self.run else "")

    def finished(self, run: Run) -> None:
        """Render the outcome of a run step (the worker calls this as it ends)."""
        panel = self.panel
        session = run.session
        if session is None:
            panel.stepper.end(ok=False)
            panel.set_status("failed", "")
            panel.show_message(f"The run failed: {type(run.error).__name__}: {run.error}", ok=False)
            panel.hide_stop()
            self.redisplay()
            return
        panel.session_id = session.id
        panel.stepper.end(ok=session.ok, finished=session.stop_reason == "done")
        panel.steps.lock()
        panel.plan.lock()  # nothing waits for a decision any more
        panel.set_status(stop_text(session.stop_reason), run.progress.line())
        changeset = session.changeset
        has_changes = changeset is not None and bool(changeset.files)
        panel.show_result(session, can_apply=has_changes)
        # once, as the review appears (JupyterLab keeps the live view; others redraw the panel)
        self.redisplay()
        if session.stop_reason == "cancelled":
            self.note = "Cancelled after planning."
            panel.show_message("Cancelled after planning; nothing was changed.", ok=True)
        elif session.error and session.stop_reason != "done":
            panel.show_message(
                f"{stop_text(session.stop_reason)}: {session.error}",
                ok=session.stop_reason == "interrupted",
            )
        elif changeset is not None and self._own_paths(changeset.paths):
            panel.show_message(before_apply(self._own_paths(changeset.paths)), ok=False)
        self._publish_record(session)
        if self.auto_apply and session.ok and session.changeset and session.changeset.files:
            self.apply(set(session.changeset.hunk_ids()), False)

    # ---- button callbacks (kernel main thread)

    def stop(self) -> None:
        """Stop button."""
        if self.run is not None:
            self.run.stop()

    def apply(self, selection: set[str], allow_blockers: bool) -> None:
        """Apply-selected button."""
        session = self.run.session if self.run else None
        if session is None:
            return
        live = self._live()
        # what the user reviewed of it, as it stood at the click
        tally = self.panel.diff.tally() if self.panel.diff is not None else None
        # a selection that leaves hunks out of a reviewed change is checked on its own first
        changeset = session.changeset
        checking = (
            session.checks is not None
            and changeset is not None
            and is_partial(changeset, selection)
        )

        def work() -> None:
            outcome = apply_changes(
                session,
                selection,
                allow_blockers=allow_blockers,
                commit=self.commit,
                open_notebook=self.open_notebook,
                live=live,
                checked=self.checked,
            )
            self.checked = outcome.selection_check
            self.panel.show_selection_check(outcome.selection_check)
            if outcome.ok:
                self._applied(session, outcome, tally)
            else:
                self.panel.apply_button.disabled = False  # the user may choose again
            # last: the message is what tells the user (and a waiter) the apply is done
            self.panel.show_message(outcome.message, outcome.ok)

        if checking and (self.checked is None or self.checked.selection != frozenset(selection)):
            self.panel.apply_button.disabled = True  # one apply at a time
            self.panel.show_message(
                "Checking the selected hunks on their own (compile, lint, related tests)...", True
            )
            self._off_main(work, live, background=True)
            return
        self._off_main(work, live)

    def _live(self) -> LiveWriter | None:
        return self.live if self.live is not None and self.live.frontend.attached else None

    def _off_main(
        self, work: Callable[[], None], live: LiveWriter | None, *, background: bool = False
    ) -> None:
        # the frontend's replies reach the kernel only when this handler has returned
        if live is None and not background:
            work()
            return
        if live is not None and not background:
            self.panel.show_message("Applying in the open notebook...", True)

        def guarded() -> None:
            try:
                work()
            except Exception as exc:  # noqa: BLE001 - this thread has nobody else to tell
                # the panel must not go on saying "Applying..." after the worker died
                self.panel.apply_button.disabled = False
                self.panel.show_message(f"Failed: {type(exc).__name__}: {exc}", False)

        self.worker = threading.Thread(target=guarded, name="agent-magic-live", daemon=True)
        self.worker.start()

    def acted(self, kind: str, outcome: Outcome) -> None:
        """An apply or undo of this session made elsewhere (``%agent apply``): show it here too."""
        session = self.run.session if self.run else None
        if session is None or not outcome.ok:
            return
        if kind == "apply":
            self._applied(session, outcome)
        elif kind == "undo":
            self._undone(session, outcome)
        self.panel.show_message(outcome.message, True)

    def _own_paths(self, paths: list[str]) -> list[str]:
        if self.run is None or self._live() is not None:
            return []  # with the extension the notebook changes in its tab
        return open_notebook_paths(paths, self.run.root, self.open_notebook)

    def _disk_note(self, outcome: Outcome) -> str:
        own = self._own_paths(list(outcome.paths))
        return after_apply(own) if own else ""

    def _applied(self, session: Session, outcome: Outcome, hunks: Tally | None = None) -> None:
        self.applied = outcome.checkpoint
        self.hunks = hunks  # None: applied elsewhere (`%agent apply`), not from this review
        self.panel.show_applied(outcome.checkpoint_id)
        self.note = self._disk_note(outcome)
        self.selection = outcome.selection_check
        self._publish_record(session)
        self.redisplay()  # the notebook's saved copy of the review says it was applied

    def _undone(self, session: Session, outcome: Outcome) -> None:
        checkpoint_id = outcome.checkpoint_id
        self.applied = None
        self.hunks = None
        self.note = f"Checkpoint `{checkpoint_id}` was undone. {self._disk_note(outcome)}".strip()
        self.selection = None
        self.panel.show_undone()
        self._publish_record(session)
        self.redisplay()  # and that it no longer is

    def undo(self, checkpoint_id: str) -> None:
        """Undo button."""
        session = self.run.session if self.run else None
        if session is None:
            return
        live = self._live()

        def work() -> None:
            outcome = undo_changes(
                session, checkpoint_id, open_notebook=self.open_notebook, live=live
            )
            if outcome.ok:
                self._undone(session, outcome)
            self.panel.show_message(outcome.message, outcome.ok)

        self._off_main(work, live)

    def reject(self) -> None:
        """Reject button: nothing is written."""
        self.panel.show_rejected()
        self.panel.show_message("Rejected: nothing was written.", ok=True)
        if self.run is not None and self.run.session is not None:
            self.note = "The changes were rejected; nothing was written."
            self._publish_record(self.run.session)

    # The plan's and the steps' buttons answer whatever pause is pending, through the gate.

    def approve_plan(self) -> None:
        """Approve button of the plan: the run goes on."""
        self._decide(Decision.approve())

    def revise(self, feedback: str) -> None:
        """Revise button (plan or step): plan again, or redo the step, with the feedback."""
        self._decide(Decision.revise(feedback))

    def cancel_plan(self) -> None:
        """Cancel button of the plan: the run ends with its plan only."""
        self._decide(Decision.stop())

    def approve_step(self, selection: set[str], confirm: bool = False) -> None:
        """Approve step button: the worker applies the selected hunks and goes on (``confirm``:
        even though their own checks, shown in the step, failed)."""
        pause = self.gate.pending if self.gate is not None else None
        changeset = pause.changeset if pause is not None else None
        if not selection and pause is not None and changeset is not None and changeset.files:
            self.panel.steps.show(pause)  # nothing decided: let the user choose again
            self.panel.show_message("Nothing selected: tick a hunk, or Skip the step.", ok=False)
            return
        diff = self.panel.steps.diff
        accepted = {h for h, d in diff.decisions.items() if d == "accepted"} if diff else None
        self._decide(
            Decision.approve(
                selection or None, commit=self.commit, confirm=confirm, reviewed=accepted
            )
        )

    def _decide(self, decision: Decision) -> None:
        if self.gate is None:
            return
        try:
            self.gate.decide(decision)
        except UserError as exc:  # e.g. the run was stopped meanwhile
            self.panel.show_message(str(exc), ok=False)
            return
        self.panel.set_status("running", decision.action)
