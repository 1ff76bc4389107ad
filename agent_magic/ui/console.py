"""The terminal and headless flows: run to the end, show the report, then ask or apply."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from agent_magic.decisions import Decision, Gate, StepPause
from agent_magic.errors import UserError
from agent_magic.session import Session
from agent_magic.ui.actions import Outcome, apply_changes, check_partial
from agent_magic.ui.markup import markdown_plain
from agent_magic.ui.opennotebook import after_apply, before_apply, open_notebook_paths
from agent_magic.ui.report import local_paths, session_record
from agent_magic.ui.runner import Run
from agent_magic.ui.text import InputFn, choose_hunks, colorize_diff, finding_line, parse_answer

Publish = Callable[[str], None]


def drive(
    run: Run,
    *,
    out: TextIO,
    publish: Publish,
    input_fn: InputFn | None = None,
    yes: bool = False,
    commit: bool = False,
    color: bool = False,
    start: Callable[[Run], None] = Run.start,
    gate: Gate | None = None,
    open_notebook: Path | None = None,
) -> Outcome | None:
    """Run to the end (Ctrl-C stops cleanly), answering pauses, then apply per the answers.

    With ``gate`` (terminal only) every pause of the run (the plan; in step mode each step) is
    answered at the prompt while the agent waits. With ``input_fn`` (terminal) the user picks
    files at the end; without it (headless) everything is applied only if ``yes``.
    """
    run.action_listeners.append(_republisher(run, publish, open_notebook))
    start(run)
    if gate is not None and input_fn is not None:
        _answer_pauses(run, gate, input_fn, out, color)
    run.wait_interruptibly()
    if run.error is not None:
        raise run.error
    session = run.session
    if session is None:  # a run that raised nothing returned its session
        raise UserError("the run ended without a session")
    if session.stop_reason in ("plan_ready", "cancelled"):
        publish(
            session_record(
                session,
                note="Stopped after planning; nothing was changed.",
                elapsed=run.progress.elapsed,
            )
        )
        return None
    return _deliver(
        session,
        out=out,
        publish=publish,
        record=lambda **kw: session_record(session, elapsed=run.progress.elapsed, **kw),
        input_fn=input_fn,
        yes=yes,
        commit=commit,
        color=color,
        open_notebook=open_notebook,
    )


def _deliver(
    session: Session,
    *,
    out: TextIO,
    publish: Publish,
    record: Callable[..., str],
    input_fn: InputFn | None,
    yes: bool,
    commit: bool,
    color: bool,
    open_notebook: Path | None,
) -> Outcome | None:
    changeset = session.changeset
    if changeset is None or not changeset.files:
        publish(record())
        return None
    own = open_notebook_paths(changeset.paths, session.project.root, open_notebook)
    if own:
        out.write(before_apply(own) + "\n")
    if yes:
        # --yes skips the questions, not the blocker findings: those still need a person
        outcome = apply_changes(session, None, commit=commit, open_notebook=open_notebook)
    elif input_fn is not None:
        selection = choose_hunks(session.changeset, input_fn, out, color=color)
        if not selection:
            publish(record(note="Nothing was applied."))
            return None
        allow = True
        if session.open_blockers:
            answer = _safe_input(
                input_fn,
                f"{len(session.open_blockers)} blocker finding(s) remain. Apply anyway? [y/N] ",
            )
            allow = parse_answer(answer) == "yes"
            if not allow:
                publish(record(note="Not applied: blocker findings remain."))
                return None
        checked = check_partial(session, selection)
        if checked is not None:
            out.write(markdown_plain(checked.markdown(), color=color))
            if checked.blocks:
                answer = _safe_input(
                    input_fn, "The selected hunks alone fail the checks. Apply anyway? [y/N] "
                )
                if answer.strip().lower() not in ("y", "yes"):
                    publish(record(note="Not applied: the selected hunks alone fail the checks."))
                    return None
        outcome = apply_changes(
            session,
            selection,
            allow_blockers=allow,
            commit=commit,
            open_notebook=open_notebook,
            checked=checked,
        )
    else:
        out.write(colorize_diff(session.diff(), color))
        publish(
            record(
                note="Not applied: this run was headless; "
                "`%agent apply` applies the changes (or rerun with `--yes`).",
            )
        )
        return None
    out.write(outcome.message + "\n")
    own_note = after_apply(own) if own and outcome.ok else ""
    publish(
        record(
            applied=outcome.checkpoint if outcome.ok else None,
            note=own_note if outcome.ok else outcome.message,
            selection=outcome.selection_check,
        )
    )
    return outcome


def _republisher(
    run: Run, publish: Publish, open_notebook: Path | None
) -> Callable[[str, Any], None]:
    """Rewrites the record when the session is applied or undone later (``%agent apply``)."""

    def acted(kind: str, outcome: Any) -> None:
        if run.session is None:
            return
        own = open_notebook_paths(outcome.paths, run.root, open_notebook)
        disk = after_apply(own) if own else ""
        elapsed = run.progress.elapsed
        if kind == "apply":
            publish(
                session_record(
                    run.session,
                    applied=outcome.checkpoint,
                    note=disk,
                    elapsed=elapsed,
                    selection=outcome.selection_check,
                )
            )
        else:
            publish(
                session_record(
                    run.session,
                    note=(f"Checkpoint `{outcome.checkpoint.id}` was undone. {disk}").strip(),
                    elapsed=elapsed,
                )
            )

    return acted


def _answer_pauses(run: Run, gate: Gate, input_fn: InputFn, out: TextIO, color: bool) -> None:
    """Until the run ends: show each pending pause and pass the user's answer to the agent."""
    while run.running:
        try:
            pause = gate.next_pause(timeout=0.2)
        except KeyboardInterrupt:
            run.stop()
            continue
        if pause is not None:
            decision = ask(pause, input_fn, out, color=color)
            with contextlib.suppress(UserError):  # stopped meanwhile: the run is ending
                gate.decide(decision)


def ask(pause: StepPause, input_fn: InputFn, out: TextIO, *, color: bool = False) -> Decision:
    """Show a pause (the plan or a step) and ask: approve, pick hunks, skip, stop, or revise."""
    if pause.is_plan:
        prompt = "Approve the plan? [y]es / [q] stop / or type what to change: "
    else:
        out.write(step_text(pause, color))
        check = pause.selection_check
        if check is not None and check.blocks:  # the picked hunks alone failed their checks
            answer = _safe_input(
                input_fn, "The picked hunks alone fail the checks. Apply them anyway? [y/N] "
            )
            if parse_answer(answer) == "yes":
                return Decision.approve(check.selection, confirm=True)
        prompt = (
            f"Step {pause.step}: [y] approve / [p]ick hunks / [s]kip / [q] stop / "
            "or type what to change: "
        )
    while True:
        try:
            answer = input_fn(prompt)
        except (EOFError, KeyboardInterrupt):
            return Decision.stop()
        word = parse_answer(answer)
        if word in ("yes", "all"):
            return Decision.approve()
        if word in ("empty", "no", "quit"):  # no answer never approves
            return Decision.stop()
        if word == "text":
            return Decision.revise(answer)
        if pause.is_plan:  # skip and pick are answers to a step
            out.write("Answer y to approve, q to stop, or type what to change.\n")
        elif word == "skip":
            return Decision.skip()
        elif pause.changeset is None or not pause.changeset.files:
            return Decision.approve()  # pick: nothing to pick from
        else:
            chosen = choose_hunks(pause.changeset, input_fn, out, color=color)
            if chosen:
                return Decision.approve(chosen)
            out.write("Nothing picked.\n")


def step_text(pause: StepPause, color: bool = False) -> str:
    """A paused step for the terminal: headline, summary, diff, checks, findings, what's next."""
    lines = [f"── {pause.headline()} ──"]
    if pause.summary:
        lines.append(pause.summary)
    lines.append(colorize_diff(pause.diff(), color).rstrip("\n") or "(no changes in this step)")
    if pause.checks is not None:
        lines.append(markdown_plain(local_paths(pause.checks.summary()), color=color).rstrip())
    lines += [finding_line(f, color) for f in pause.findings]
    if pause.selection_check is not None:
        check = local_paths(pause.selection_check.markdown())
        lines.append(markdown_plain(check, color=color).rstrip())
    lines.append(f"Next: {pause.next_step}" if pause.next_step else "This is the last step.")
    if pause.message:
        lines.append(pause.message)
    return "\n".join(lines) + "\n"


def _safe_input(input_fn: InputFn, prompt: str) -> str:
    try:
        return input_fn(prompt)
    except (EOFError, KeyboardInterrupt):
        return ""
