"""The markdown record of one session, left in the cell output so a saved notebook keeps it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_magic.secrets import Redactor

if TYPE_CHECKING:
    from agent_magic.session import Session, StopReason
    from agent_magic.staging import Checkpoint, FileChange
    from agent_magic.staging.live import LiveCheckpoint

STOP_TEXT: dict[StopReason, str] = {
    "done": "finished",
    "plan_ready": "stopped after planning, waiting for approval",
    "cancelled": "cancelled after planning; nothing was changed",
    "budget": "stopped: budget reached",
    "steps": "stopped: step limit reached",
    "time": "stopped: time limit reached",
    "interrupted": "stopped by the user",
    "tool_errors": "stopped: too many tool errors",
    "refused": "stopped: the model declined the request",
    "context": "stopped: the conversation outgrew the model's context window",
    "output_limit": "stopped: the model's output kept hitting the output limit",
    "error": "stopped by an error",
}


def diff_stats(diff: str) -> tuple[int, int]:
    """Lines added and removed in a unified diff (file headers not counted)."""
    added = removed = 0
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed


def file_label(change: FileChange) -> str:
    """``path`` with a marker for new, deleted and renamed files."""
    from agent_magic.staging.diff import quote_path

    status, old = change.status, change.old_path
    path = quote_path(change.path)  # a newline or escape code in a name is shown, not acted on
    if status == "renamed" and old:
        return f"{quote_path(old)} → {path} (renamed)"
    if status in ("added", "deleted"):
        return f"{path} ({'new' if status == 'added' else 'deleted'})"
    return path


def stop_text(reason: StopReason) -> str:
    """A short human sentence for a stop reason."""
    return STOP_TEXT.get(reason, reason or "running")


def session_report(
    session: Session,
    *,
    applied: Checkpoint | LiveCheckpoint | None = None,
    note: str = "",
) -> str:
    """Markdown: task, outcome, plan, files changed, findings, tests, cost and checkpoint."""
    lines = [f"### %%agent session `{session.id}`", "", f"**Task:** {_one_line(session.task)}", ""]
    outcome = stop_text(session.stop_reason)
    error = _one_line(session.error)
    if error and error != outcome:  # an interrupt's error text repeats the outcome
        outcome += f" ({error})"
    lines += [f"**Outcome:** {outcome}", ""]
    if session.summary:
        lines += [session.summary.strip(), ""]
    if session.plan is not None:
        lines += ["**Plan**", "", session.plan.text(), ""]
    files = list(session.changeset.files) if session.changeset is not None else []
    if files:
        lines += ["**Files changed**", ""]
        for change in files:
            added, removed = diff_stats(change.diff())
            lines.append(f"- `{file_label(change)}` +{added} −{removed}")
        lines.append("")
    elif session.stop_reason == "done" and not session.step_outcomes:
        lines += ["No file changes.", ""]
    if session.checkpoints and session.step_outcomes:
        lines += [
            (
                f"Applied step by step as {len(session.checkpoints)} checkpoint(s); "
                "`%agent undo` undoes the last one, `%agent undo --all` all of them."
            ),
            "",
        ]
    if session.findings:
        lines += ["**Findings**", ""]
        for f in session.findings:
            where = f" `{f.location()}`" if f.location() else ""
            lines.append(f"- [{f.severity}, {f.status}]{where}: {_one_line(f.message)}")
        lines.append("")
    if session.checks is not None:
        lines += [_demote(session.checks.summary()), ""]
    lines.append(cost_line(session))
    if applied is not None:
        paths = ", ".join(f"`{p}`" for p in applied.paths)
        lines += [
            "",
            (
                f"**Applied** as checkpoint `{applied.id}` ({paths}); "
                f"undo with `%agent undo {applied.id}`."
            ),
        ]
    if note:
        lines += ["", note]
    # The record is saved in the notebook: no secret value may be in it, whatever its source.
    redact = Redactor.current(session.project.root)
    return redact("\n".join(lines).rstrip() + "\n")


def cost_line(session: Session) -> str:
    """Steps, tokens and dollars of a session in one line."""
    usage = session.usage
    tokens_in = usage.total_input
    return (
        f"Steps: {session.steps} · tokens: {tokens_in:,} in / {usage.output_tokens:,} out · "
        f"cost: ${session.cost:.4f}"
    )


def _demote(markdown: str, levels: int = 2) -> str:
    """Push headings down so an embedded report nests under the session's heading."""
    return "\n".join(
        "#" * levels + ln if ln.startswith("#") else ln for ln in markdown.splitlines()
    )


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
