"""Dumb ipywidgets views of a run: they render state and call callbacks, nothing more.

Every setter here may be called from the run's worker thread: they only set traits of
widgets built up front (ipywidgets sends those as comm messages), never ``display()``.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import ipywidgets as widgets

from agent_magic.events import PHASES
from agent_magic.ui import reviewsnapshot
from agent_magic.ui.diffview import DiffView, diff_html
from agent_magic.ui.markup import inline_html, markdown_html
from agent_magic.ui.report import local_paths, short_id
from agent_magic.ui.reviewstate import APPLY_HELP

if TYPE_CHECKING:
    from agent_magic.review.partial import SelectionCheck

if TYPE_CHECKING:
    from agent_magic.review.report import CheckReport

SEVERITY_COLORS = {"blocker": "#b00020", "major": "#d9480f", "minor": "#b08800", "nit": "#666"}
STREAM_CHARS = 20_000  # keep the streamed text area light
STREAM_INTERVAL = 0.15  # seconds between pushes of streamed text to the frontend
# The panel's own classes: a finding's location shows whole, and the hunk it reveals is marked.
PANEL_CSS = """<style>
.agent-panel .agent-finding-link { width: auto !important; max-width: 48em; }
.agent-panel .agent-hunk-focus { outline: 2px solid #1565c0; background: rgba(21,101,192,0.08); }
.agent-panel .agent-thinking { color: #777; font-style: italic; }
</style>"""


def _noop(*_args: Any) -> None:
    return None


@dataclass
class Callbacks:
    """What the buttons do; the controller supplies these."""

    stop: Callable[[], None] = _noop
    apply: Callable[[set[str], bool], None] = _noop  # (selected hunk ids, allow blockers)
    reject: Callable[[], None] = _noop
    undo: Callable[[str], None] = _noop  # checkpoint id
    plan_approve: Callable[[], None] = _noop
    plan_revise: Callable[[str], None] = _noop
    plan_cancel: Callable[[], None] = _noop
    # selected hunk ids of the paused step; True: write them although their own checks failed
    step_approve: Callable[[set[str], bool], None] = _noop
    step_revise: Callable[[str], None] = _noop  # feedback
    step_skip: Callable[[], None] = _noop
    step_stop: Callable[[], None] = _noop


def _button(label: str, css: str, style: str = "", tooltip: str = "") -> widgets.Button:
    button = widgets.Button(description=label, button_style=style, tooltip=tooltip or label)
    button.add_class(css)
    return button


class Stepper(widgets.HBox):
    """The six phases with their state (pending, active, done, failed, skipped)."""

    MARKS: ClassVar[dict[str, str]] = {
        "pending": "○",
        "active": "◉",
        "done": "✓",
        "failed": "✗",
        "skipped": "⊘",
    }
    COLORS: ClassVar[dict[str, str]] = {
        "pending": "#888",
        "active": "#1565c0",
        "done": "#2e7d32",
        "failed": "#b00020",
        "skipped": "#999",
    }

    def __init__(self) -> None:
        super().__init__()
        self.add_class("agent-stepper")
        self.states = dict.fromkeys(PHASES, "pending")
        self.notes = dict.fromkeys(PHASES, "")  # what each phase produced, shown on hover
        self.labels = {p: widgets.HTML() for p in PHASES}
        for phase, label in self.labels.items():
            label.add_class(f"agent-phase-{phase}")
        self.children = list(self.labels.values())
        self._render()

    def start(self, phase: str) -> None:
        """Mark ``phase`` active and every earlier active one done."""
        for p, state in self.states.items():
            if state == "active":
                self.states[p] = "done"
        if phase in self.states:
            self.states[phase] = "active"
        self._render()

    def finish(self, phase: str, failed: bool = False) -> None:
        """Mark ``phase`` done (or failed)."""
        if phase in self.states:
            self.states[phase] = "failed" if failed else "done"
        self._render()

    def skip(self, phase: str, reason: str = "") -> None:
        """Mark ``phase`` skipped: it does not run in this run (``reason`` on hover)."""
        if phase in self.states:
            self.states[phase] = "skipped"
            self.notes[phase] = reason or "skipped"
        self._render()

    def note(self, phase: str, text: str) -> None:
        """What ``phase`` produced, in a line (its label's tooltip)."""
        if phase in self.notes:
            self.notes[phase] = text
            self._render()

    def end(self, ok: bool, *, finished: bool = False) -> None:
        """The run ended: an active phase becomes done or failed; with ``finished`` (the run
        went all the way), a phase that never started was skipped."""
        for p, state in self.states.items():
            if state == "active":
                self.states[p] = "done" if ok else "failed"
            elif state == "pending" and finished:
                self.states[p] = "skipped"
                self.notes[p] = self.notes[p] or "not part of this run"
        self._render()

    def _render(self) -> None:
        for phase, label in self.labels.items():
            state = self.states[phase]
            style = "text-decoration:line-through;" if state == "skipped" else ""
            title = html.escape(
                f"{phase}: {state}" + (f" — {self.notes[phase]}" if self.notes[phase] else ""),
                quote=True,
            )
            label.value = (
                f'<span title="{title}" style=\'color:{self.COLORS[state]};{style}'
                f"margin-right:1em'>{self.MARKS[state]} {phase}</span>"
            )
            for other in self.MARKS:
                label.remove_class(f"agent-phase-{other}")
            label.add_class(f"agent-phase-{state}")


class PhaseLog(widgets.HTML):
    """What each phase produced (the understanding too), folded per phase, skipped ones named."""

    def __init__(self) -> None:
        super().__init__()
        self.add_class("agent-phases")
        self.summaries: dict[str, str] = {}  # phase -> its one-line result
        self.details: dict[str, str] = {}  # phase -> HTML of what it produced
        self.skipped: dict[str, str] = {}  # phase -> why

    def understanding(self, understanding: Any) -> None:
        """The restatement, acceptance criteria and assumptions of the understand phase."""
        # the restatement heads the fold; criteria and assumptions are its body
        self.summaries["understand"] = understanding.restatement
        self.details["understand"] = understanding_html(understanding, restatement=False)
        self._render()

    def produced(self, phase: str, text: str) -> None:
        """A phase's one-line result (the latest round's, when a phase runs again)."""
        if text and phase != "understand":  # its restatement came with the understanding
            self.summaries[phase] = text
            self._render()

    def add(self, phase: str, markup: str) -> None:
        """More HTML under a phase (e.g. each review round's checks)."""
        self.details[phase] = self.details.get(phase, "") + f"<div>{markup}</div>"
        self._render()

    def skip(self, phase: str, reason: str) -> None:
        """A phase that did not run, and why."""
        self.skipped[phase] = reason
        self._render()

    def _render(self) -> None:
        rows = []
        for phase in PHASES:
            if phase in self.skipped:
                rows.append(
                    f"<div class='agent-phase-skipped-note' style='color:#888'>⊘ <b>{phase}</b>: "
                    f"skipped — {html.escape(self.skipped[phase])}</div>"
                )
                continue
            summary = html.escape(" ".join(self.summaries.get(phase, "").split())[:400])
            detail = self.details.get(phase, "")
            if not (summary or detail):
                continue
            head = f"<b>{phase}</b>" + (f": {summary}" if summary else "")
            if detail:
                rows.append(
                    f"<details><summary>{head}</summary>"
                    f"<div style='margin-left:1.2em'>{detail}</div></details>"
                )
            else:
                rows.append(f"<div style='margin-left:1em'>{head}</div>")
        self.value = "".join(rows)


def understanding_html(understanding: Any, *, restatement: bool = True) -> str:
    """Restatement, acceptance criteria and assumptions as HTML."""
    esc = html.escape
    parts = [f"<div>{esc(understanding.restatement)}</div>"] if restatement else []
    for title, items in (
        ("Acceptance criteria", understanding.acceptance_criteria),
        ("Assumptions", understanding.assumptions),
    ):
        if items:
            parts.append(
                f"<div><i>{title}:</i><ul style='margin:0.2em 0'>"
                + "".join(f"<li>{esc(i)}</li>" for i in items)
                + "</ul></div>"
            )
    return "".join(parts)


class PlanView(widgets.VBox):
    """The plan's steps and files; with plan-first, Approve / Revise / Cancel."""

    def __init__(self, callbacks: Callbacks) -> None:
        super().__init__()
        self.add_class("agent-plan")
        self.callbacks = callbacks
        self.text = widgets.HTML()
        self.approve = _button("Approve plan", "agent-plan-approve", "success")
        self.revise = _button("Revise", "agent-plan-revise", "warning")
        self.cancel = _button("Cancel", "agent-plan-cancel")
        self.feedback = widgets.Textarea(
            placeholder="What should change in the plan?", layout=widgets.Layout(width="100%")
        )
        self.feedback.add_class("agent-plan-feedback")
        self.approve.on_click(lambda _b: self._decide(callbacks.plan_approve))
        self.revise.on_click(lambda _b: self._revise())
        self.cancel.on_click(lambda _b: self._decide(callbacks.plan_cancel))
        self.controls = widgets.VBox(
            [self.feedback, widgets.HBox([self.approve, self.revise, self.cancel])]
        )
        self.children = [self.text]
        self.layout.display = "none"

    def show(self, plan: Any, *, awaiting_approval: bool = False) -> None:
        """Render ``plan``; show the approval controls if the run waits for them."""
        self.text.value = plan_html(plan)
        self.children = [self.text, self.controls] if awaiting_approval else [self.text]
        for button in (self.approve, self.revise, self.cancel):
            button.disabled = False
        self.layout.display = None

    def lock(self) -> None:
        """Disable the approval controls (a decision was made)."""
        for button in (self.approve, self.revise, self.cancel):
            button.disabled = True

    def _decide(self, callback: Callable[[], None]) -> None:
        _decide(self, callback)

    def _revise(self) -> None:
        _send_feedback(self, self.callbacks.plan_revise)


def _decide(view: Any, callback: Callable[[], None]) -> None:
    """Lock a view's decision buttons, then act: one click, one decision."""
    view.lock()
    callback()


def _send_feedback(view: Any, send: Callable[[str], None]) -> None:
    """Send the view's feedback text (Revise); an empty box only asks for text."""
    text = view.feedback.value.strip()
    if not text:
        view.feedback.placeholder = "Write what should change, then press Revise."
        return
    _decide(view, lambda: send(text))


def plan_html(plan: Any) -> str:
    """A plan as HTML: summary, numbered steps with files, files, risks."""
    esc = html.escape
    steps = "".join(
        f"<li>{esc(s.description)}"
        + (f" <code>{esc(', '.join(s.files))}</code>" if s.files else "")
        + "</li>"
        for s in plan.steps
    )
    parts = [f"<b>Plan:</b> {esc(plan.summary)}", f"<ol>{steps}</ol>" if steps else ""]
    if plan.files:
        parts.append("<b>Files:</b> " + ", ".join(f"<code>{esc(f)}</code>" for f in plan.files))
    if plan.risks:
        parts.append(
            "<b>Risks:</b><ul>" + "".join(f"<li>{esc(r)}</li>" for r in plan.risks) + "</ul>"
        )
    return "".join(f"<div>{part}</div>" for part in parts if part)


def checks_html(checks: CheckReport | None) -> str:
    """A check report's markdown summary: its first line as a title, the rest folded, rendered."""
    if checks is None:
        return ""
    return folded_markdown(local_paths(checks.summary()))


def folded_markdown(markdown: str) -> str:
    """A markdown report as HTML: its first line as a title, the rest folded under it."""
    title, _, rest = markdown.strip().partition("\n")
    title_html = inline_html(title.lstrip("# "))
    if not rest.strip():
        return f"<b>{title_html}</b>"
    return (
        f"<details><summary><b>{title_html}</b></summary>"
        f"<div style='margin-left:1.2em'>{markdown_html(rest.strip())}</div></details>"
    )


class StepView(widgets.VBox):
    """Step mode: the paused step's diff (hunks selectable), its checks and review findings,
    what comes next, and the decisions."""

    def __init__(self, callbacks: Callbacks) -> None:
        super().__init__()
        self.add_class("agent-step")
        self.callbacks = callbacks
        self.pause: Any = None
        self.title = widgets.HTML()
        self.diff: DiffView | None = None
        self.diff_box = widgets.VBox()
        self.findings = FindingsView(self._jump)
        self.cumulative = widgets.Accordion(children=[widgets.HTML()])
        self.cumulative.set_title(0, "All changes of the run so far")
        self.cumulative.selected_index = None
        self.feedback = widgets.Textarea(
            placeholder="What should change in this step?", layout=widgets.Layout(width="100%")
        )
        self.feedback.add_class("agent-step-feedback")
        self.approve = _button(
            "Approve step", "agent-step-approve", "success", f"{APPLY_HELP}, and go on"
        )
        self.approve.layout.width = "auto"
        self.selection_checks = widgets.HTML()
        self.selection_checks.add_class("agent-step-selection-checks")
        self.confirm = widgets.Checkbox(
            value=False, indent=False, description="Apply despite the problems found"
        )
        self.confirm.add_class("agent-step-confirm")
        self.confirm.layout.display = "none"
        self.revise = _button("Revise", "agent-step-revise", "warning", "redo the step")
        self.skip = _button("Skip", "agent-step-skip", "", "drop this step and go on")
        self.stop = _button("Stop", "agent-step-stop", "danger", "end the run here")
        self.approve.on_click(lambda _b: self._approve())
        self.revise.on_click(lambda _b: self._revise())
        self.skip.on_click(lambda _b: self._decide(callbacks.step_skip))
        self.stop.on_click(lambda _b: self._decide(callbacks.step_stop))
        self.buttons = (self.approve, self.revise, self.skip, self.stop)
        self.children = [
            self.title,
            self.diff_box,
            self.findings,
            self.cumulative,
            self.selection_checks,
            self.confirm,
            self.feedback,
            widgets.HBox(list(self.buttons)),
        ]
        self.layout.display = "none"

    def show(self, pause: Any) -> None:
        """Render a paused step and enable the decisions."""
        esc = html.escape
        previous, self.pause = self.pause, pause
        # the same step asked again (its Approve was refused): the user's decisions stay
        again = previous is not None and (previous.step, previous.attempt) == (
            pause.step,
            pause.attempt,
        )
        kept = dict(self.diff.decisions) if again and self.diff is not None else {}
        parts = [f"<b>Waiting for your decision — {esc(pause.headline())}</b>"]
        if pause.summary:
            parts.append(f"<div>{esc(pause.summary)}</div>")
        parts.append(
            f"<div><i>Next:</i> {esc(pause.next_step)}</div>"
            if pause.next_step
            else "<div><i>This is the last step.</i></div>"
        )
        if pause.open_blockers:
            parts.append(
                f"<div style='color:#b00020'>{len(pause.open_blockers)} blocker finding(s) "
                "remain after the review's fix rounds: look before you approve.</div>"
            )
        if pause.message:
            parts.append(f"<div style='color:#b00020'>{esc(pause.message)}</div>")
        self.title.value = "".join(parts)
        self.diff = DiffView(pause.changeset, list(pause.findings))
        for choice in ("accepted", "rejected"):
            self.diff.decide([h for h, c in kept.items() if c == choice], choice)
        check = pause.selection_check
        if check is not None:  # the selection approved last, checked on its own: keep it
            self.diff.decide(
                [h for h in self.diff.hunk_ids() if h not in check.selection], "rejected"
            )
        self.diff.observe(lambda _c: self._label_approve(), "apply_label")
        self._label_approve()
        self.diff_box.children = [self.diff]
        self.selection_checks.value = (
            folded_markdown(local_paths(check.markdown())) if check is not None else ""
        )
        self.confirm.value = False
        self.confirm.layout.display = None if check is not None and check.blocks else "none"
        self.findings.show(list(pause.findings), pause.checks)
        cumulative = pause.cumulative.diff() if pause.cumulative is not None else ""
        self.cumulative.children = [widgets.HTML(diff_html(cumulative))]
        self.feedback.value = ""
        for button in self.buttons:
            button.disabled = False
        self.layout.display = None

    def lock(self) -> None:
        """Disable the decisions (one was made, or the run ended)."""
        for button in self.buttons:
            button.disabled = True
        if self.diff is not None:
            self.diff.set_enabled(False)

    def _approve(self) -> None:
        selection = self.diff.selection() if self.diff is not None else set()
        confirm = self.confirm.value and self.confirm.layout.display is None
        self.lock()
        self.callbacks.step_approve(selection, confirm)

    def _label_approve(self) -> None:
        if self.diff is not None:
            label = self.diff.apply_label
            self.approve.description = f"Approve: {label[:1].lower()}{label[1:]}"

    def _revise(self) -> None:
        _send_feedback(self, self.callbacks.step_revise)

    def _jump(self, path: str, line: int | None) -> None:
        if self.diff is not None:
            self.diff.reveal(path, line)

    def _decide(self, callback: Callable[[], None]) -> None:
        _decide(self, callback)


class FindingsView(widgets.VBox):
    """The checks' summary and a count of the findings, which the diff view shows on their lines."""

    def __init__(self, on_jump: Callable[[str, int | None], None] = _noop) -> None:
        super().__init__()
        self.add_class("agent-findings")
        self.on_jump = on_jump
        self.checks = widgets.HTML()
        self.count = widgets.HTML()
        self.rows: list[widgets.Widget] = []
        self.children = [self.checks, self.count]
        self.layout.display = "none"

    def show(self, findings: list[Any], checks: Any = None) -> None:
        """Render the checks' summary and how many findings the diff view shows."""
        self.checks.value = checks_html(checks)
        self.count.value = findings_count_html(findings)
        self.layout.display = None if (self.count.value or self.checks.value) else "none"


def findings_count_html(findings: list[Any]) -> str:
    """One line counting the findings by severity, naming the open blockers."""
    if not findings:
        return ""
    by_severity: dict[str, int] = {}
    for finding in findings:
        by_severity[finding.severity] = by_severity.get(finding.severity, 0) + 1
    parts = [
        f"<b style='color:{SEVERITY_COLORS.get(sev, '#666')}'>{n} {html.escape(sev)}</b>"
        for sev, n in by_severity.items()
    ]
    blockers = sum(1 for f in findings if f.severity == "blocker" and f.status == "open")
    tail = f"; {blockers} open blocker(s) stop Apply unless confirmed" if blockers else ""
    return (
        f"<div>Review findings: {', '.join(parts)}, shown on their lines in the diff{tail}.</div>"
    )


class AgentPanel(widgets.VBox):
    """The whole view of one run: status, stepper, streamed text, plan, diffs, findings, actions.

    Its cell output also carries a read-only copy of the review (see ``reviewsnapshot``): the
    notebook saves it, and agent_magic's extension draws it when no kernel holds this panel.
    """

    def __init__(self, task: str, callbacks: Callbacks) -> None:
        super().__init__()
        self.add_class("agent-panel")
        self.callbacks = callbacks
        self.task = task
        self.session_id = ""  # shown short in the header, whole on hover
        self.status = widgets.HTML(self._status_html("starting", ""))
        self.status.add_class("agent-status")
        self.stepper = Stepper()
        self.stop_button = _button("Stop", "agent-stop", "danger", "stop at the next step")
        self.stop_button.on_click(lambda _b: self._stop())
        self.stream = widgets.HTML()
        self.stream.add_class("agent-stream")
        self.stream_box = widgets.Accordion(children=[self.stream])
        self.stream_box.set_title(0, "Model output and thinking")
        self.phases = PhaseLog()
        self.plan = PlanView(callbacks)
        self.steps = StepView(callbacks)
        self.findings = FindingsView(self._jump)
        self.diff_box = widgets.VBox()
        self.diff: DiffView | None = None
        self.ended = False  # the run is over: no review to wait for
        self.confirm = widgets.Checkbox(
            value=False, indent=False, description="Apply despite blocker findings"
        )
        self.confirm.add_class("agent-confirm-blockers")
        self.confirm.layout.display = "none"
        self.selection_checks = widgets.HTML()
        self.selection_checks.add_class("agent-selection-checks")
        self.apply_button = _button("Apply", "agent-apply", "success", APPLY_HELP)
        self.reject_button = _button("Reject", "agent-reject")
        self.undo_button = _button("Undo", "agent-undo", "warning")
        self.apply_button.on_click(lambda _b: self._apply())
        self.reject_button.on_click(lambda _b: self._reject())
        self.undo_button.on_click(lambda _b: self._undo())
        self.checkpoint_id = ""
        self.actions = widgets.HBox([self.apply_button, self.reject_button, self.undo_button])
        self.actions.layout.display = "none"
        self.undo_button.layout.display = "none"
        self.message = widgets.HTML()
        self.message.add_class("agent-message")
        self.context = widgets.HTML()
        self.context.add_class("agent-context")
        self.context_box = widgets.Accordion(children=[self.context])
        self.context_box.layout.display = "none"
        self._segments: list[tuple[bool, str]] = []  # (is thinking, text), newest last
        self._pushed = 0.0
        self.children = [
            widgets.HTML(PANEL_CSS),
            self.status,
            widgets.HBox([self.stepper, self.stop_button]),
            self.context_box,
            self.phases,
            self.stream_box,
            self.plan,
            self.steps,
            self.diff_box,
            self.findings,
            self.selection_checks,
            self.confirm,
            self.actions,
            self.message,
        ]

    # ---- updates from the run (any thread)

    def set_status(self, state: str, detail: str = "") -> None:
        """The header line: task, state, and a progress detail (time, tokens, cost)."""
        self.status.value = self._status_html(state, detail)

    def append_text(self, text: str, *, flush: bool = False, thinking: bool = False) -> None:
        """Add streamed model text (or thinking); pushed at most every STREAM_INTERVAL."""
        if text:
            if self._segments and self._segments[-1][0] == thinking:
                self._segments[-1] = (thinking, self._segments[-1][1] + text)
            else:
                self._segments.append((thinking, text))
            self._trim()
        now = time.monotonic()
        if flush or now - self._pushed >= STREAM_INTERVAL:
            self._pushed = now
            body = "".join(
                f"<span class='agent-thinking'>{html.escape(t)}</span>"
                if thought
                else html.escape(t)
                for thought, t in self._segments
            )
            self.stream.value = (
                f"<pre style='white-space:pre-wrap;max-height:20em;overflow:auto'>{body}</pre>"
            )

    @property
    def streamed(self) -> str:
        """The streamed text kept so far (thinking included), as plain text."""
        return "".join(t for _thought, t in self._segments)

    def _trim(self) -> None:
        extra = sum(len(t) for _thought, t in self._segments) - STREAM_CHARS
        while extra > 0 and self._segments:
            thought, first = self._segments[0]
            if len(first) <= extra:
                self._segments.pop(0)
                extra -= len(first)
            else:
                self._segments[0] = (thought, first[extra:])
                extra = 0

    def show_context(self, text: str) -> None:
        """The notebook context sent to the model, exactly, in a closed fold (none: hidden)."""
        if not text:
            return
        self.context.value = (
            f"<pre style='white-space:pre-wrap;max-height:20em;overflow:auto'>"
            f"{html.escape(text)}</pre>"
        )
        self.context_box.set_title(0, f"Notebook context sent to the model ({len(text):,} chars)")
        self.context_box.selected_index = None
        self.context_box.layout.display = None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return reviewsnapshot.with_review(super()._repr_mimebundle_(**kwargs), self.review())

    def review(self) -> reviewsnapshot.ReviewSnapshot:
        """The read-only copy of the review this panel shows (or waits for)."""
        if self.diff is not None:
            # the copy names `%agent apply ID`, or, once applied, `%agent undo CHECKPOINT`
            return self.diff.snapshot(self.session_id, self.checkpoint_id)
        if not self.ended:
            return reviewsnapshot.running()
        empty = reviewsnapshot.snapshot(None)
        empty["notes"] = ["The run ended without changes to review."]
        return empty

    def hide_stop(self) -> None:
        """A finished run has nothing to stop."""
        self.ended = True
        self.stop_button.disabled = True
        self.stop_button.layout.display = "none"

    def show_result(self, session: Any, *, can_apply: bool) -> None:
        """Render the diff, findings and the action buttons of a finished run."""
        self.append_text("", flush=True)
        self.hide_stop()
        self.diff = DiffView(session.changeset, list(session.findings), root=session.project.root)
        self.diff.observe(lambda _c: self._label_apply(), "apply_label")
        self._label_apply()
        self.diff_box.children = [self.diff]
        self.findings.show(list(session.findings), session.checks)
        blockers = [f for f in session.findings if f.severity == "blocker" and f.status == "open"]
        self.confirm.layout.display = None if blockers and can_apply else "none"
        self.actions.layout.display = None if can_apply else "none"
        self.apply_button.disabled = not can_apply
        self.reject_button.disabled = not can_apply

    def show_message(self, text: str, ok: bool = True) -> None:
        """A success (green) or failure (red) message below the buttons."""
        color = "#2e7d32" if ok else "#b00020"
        self.message.value = (
            f"<pre style='color:{color};white-space:pre-wrap'>{html.escape(text)}</pre>"
        )

    def show_selection_check(self, check: SelectionCheck | None) -> None:
        """The checks of a selection that leaves hunks out; ask to confirm if it fails them."""
        if check is None:
            self.selection_checks.value = ""
            return
        self.selection_checks.value = folded_markdown(local_paths(check.markdown()))
        if check.blocks:
            self.confirm.description = "Apply despite the problems found"
            self.confirm.layout.display = None

    def show_applied(self, checkpoint_id: str) -> None:
        """After apply: freeze the selection, offer Undo of that checkpoint."""
        self.checkpoint_id = checkpoint_id
        self.apply_button.disabled = True
        self.reject_button.disabled = True
        if self.diff is not None:
            self.diff.set_enabled(False)
        # the full id is on hover, in the message and in the record (to copy)
        self.undo_button.description = f"Undo {short_id(checkpoint_id)}"
        self.undo_button.tooltip = f"restore the files of checkpoint {checkpoint_id}"
        self.undo_button.layout.width = "auto"
        self.undo_button.disabled = False
        self.undo_button.layout.display = None

    def show_undone(self) -> None:
        """After undo: the changes can be applied again."""
        self.checkpoint_id = ""
        self.selection_checks.value = ""  # they were of the selection that was undone
        self.undo_button.disabled = True
        self.undo_button.layout.display = "none"
        self.apply_button.disabled = False
        self.reject_button.disabled = False
        if self.diff is not None:
            self.diff.set_enabled(True)

    def show_rejected(self) -> None:
        """After reject: nothing more to do here."""
        self.apply_button.disabled = True
        self.reject_button.disabled = True
        if self.diff is not None:
            self.diff.set_enabled(False)

    # ---- button handlers (kernel main thread)

    def _stop(self) -> None:
        self.stop_button.disabled = True
        self.stop_button.description = "Stopping…"
        self.callbacks.stop()

    def _apply(self) -> None:
        selection = self.diff.selection() if self.diff is not None else set()
        self.callbacks.apply(selection, self.confirm.value)

    def _reject(self) -> None:
        self.callbacks.reject()

    def _label_apply(self) -> None:
        if self.diff is None:
            return
        self.apply_button.description = self.diff.apply_label
        self.apply_button.layout.width = "auto"

    def _undo(self) -> None:
        if self.checkpoint_id:
            self.callbacks.undo(self.checkpoint_id)

    def _jump(self, path: str, line: int | None) -> None:
        if self.diff is not None:
            self.diff.reveal(path, line)

    def _status_html(self, state: str, detail: str) -> str:
        task = html.escape(" ".join(self.task.split())[:160])
        extra = f" · {html.escape(detail)}" if detail else ""
        full = getattr(self, "session_id", "")
        session = (
            f" <span class='agent-session-id' title='session {html.escape(full, quote=True)}'>"
            f"· session {html.escape(short_id(full))}</span>"
            if full
            else ""
        )
        return f"<b>%%agent</b> — {task}<br><span>{html.escape(state)}{extra}</span>{session}"
