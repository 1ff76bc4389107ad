"""The markdown record of one session, left in the cell output so a saved notebook keeps it."""

from __future__ import annotations

from typing import Any

from agent_magic.secrets import Redactor

STOP_TEXT = {
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


def file_label(change: Any) -> str:
    """``path`` with a marker for new, deleted and renamed files."""
    from agent_magic.staging.diff import quote_path

    status = getattr(change, "status", "modified")
    old = getattr(change, "old_path", None)
    path = quote_path(change.path)  # a newline or escape code in a name is shown, not acted on
    if status == "renamed" and old:
        return f"{quote_path(old)} → {path} (renamed)"
    if status in ("added", "deleted"):
        return f"{path} ({'new' if status == 'added' else 'deleted'})"
    return path


def stop_text(reason: str) -> str:
    """A short human sentence for a stop reason."""
    return STOP_TEXT.get(reason, reason or "running")


def session_report(
    session: Any,
    *,
    applied: Any = None,
    note: str = "",
) -> str:
    """Markdown: task, outcome, plan, files changed, findings, tests, cost and checkpoint."""
    lines = [f"### %%agent session `{session.id}`", "", f"**Task:** {_one_line(session.task)}", ""]
    outcome = stop_text(session.stop_reason)
    error = _one_line(getattr(session, "error", "") or "")
    if error and error != outcome:  # an interrupt's error text repeats the outcome
        outcome += f" ({error})"
    lines += [f"**Outcome:** {outcome}", ""]
    if getattr(session, "summary", ""):
        lines += [session.summary.strip(), ""]
    if session.plan is not None:
        lines += ["**Plan**", "", session.plan.text(), ""]
    files = list(getattr(session.changeset, "files", None) or [])
    if files:
        lines += ["**Files changed**", ""]
        for change in files:
            added, removed = diff_stats(change.diff())
            lines.append(f"- `{file_label(change)}` +{added} −{removed}")
        lines.append("")
    elif session.stop_reason in ("done",) and not getattr(session, "step_outcomes", None):
        lines += ["No file changes.", ""]
    if getattr(session, "checkpoints", None) and getattr(session, "step_outcomes", None):
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
    checks = getattr(session, "checks", None)
    if checks is not None and hasattr(checks, "summary"):
        lines += [_demote(checks.summary()), ""]
    lines.append(cost_line(session))
    if applied is not None:
        paths = ", ".join(f"`{p}`" for p in getattr(applied, "paths", []))
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
    project = getattr(session, "project", None)
    redact = Redactor.current(getattr(project, "root", None))
    return redact("\n".join(lines).rstrip() + "\n")


def cost_line(session: Any) -> str:
    """Steps, tokens and dollars of a session in one line."""
    usage = session.usage
    tokens_in = getattr(usage, "total_input", usage.input_tokens)
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
