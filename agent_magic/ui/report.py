"""The markdown record of one session, left in the cell output so a saved notebook keeps it."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agent_magic.records import SEVERITIES
from agent_magic.secrets import Redactor

if TYPE_CHECKING:
    from agent_magic.review.partial import SelectionCheck
    from agent_magic.review.report import CheckReport
    from agent_magic.session import Session, StopReason
    from agent_magic.staging import Checkpoint, FileChange
    from agent_magic.staging.live import LiveCheckpoint
    from agent_magic.ui.reviewstate import Tally

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
    return _for_record(session, "\n".join(lines).rstrip() + "\n")


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


def short_id(full: str) -> str:
    """A session or checkpoint id for display: its random tail (the full id goes in a tooltip)."""
    head, _, tail = full.rpartition("-")
    return tail if head and len(tail) >= 4 else full


def local_paths(text: str, root: str | os.PathLike[str] | None = None) -> str:
    """``text`` with this machine's paths taken out: the project root, the interpreter, home.

    A record is saved in the notebook and shared with it; where the project or Python lives
    on one machine means nothing on another, and can say more than the user meant to share.
    """
    pairs: list[tuple[str, str]] = []
    if root is not None:
        pairs.append((str(Path(root)) + "/", ""))
        pairs.append((str(Path(root)), "."))
    pairs.append((sys.executable, "python"))
    for prefix in {sys.prefix, sys.base_prefix}:
        pairs.append((prefix.rstrip("/") + "/", "<python>/"))
    home = os.path.expanduser("~")
    if home not in ("", "/", "~"):
        pairs.append((home.rstrip("/") + "/", "~/"))
    for old, new in sorted(pairs, key=lambda p: len(p[0]), reverse=True):  # longest first
        text = text.replace(old, new)
    return text


def model_label(spec: str) -> str:
    """A model spec for a record: a local file (``scripted:/a/b.json``) by its name only."""
    kind, sep, rest = spec.partition(":")
    if (sep and rest.startswith(("/", "~"))) or (sep and len(rest) > 2 and rest[1:3] == ":\\"):
        return f"{kind}:{Path(rest).name}"
    return spec


def _for_record(session: Session, text: str) -> str:
    # The record is saved in the notebook: no secret value may be in it, whatever its source,
    # and no path of this machine.
    root = session.project.root
    return Redactor.current(root)(local_paths(text, root))


def checks_line(checks: CheckReport | None) -> str:
    """The checks in one line, or "" if there were none."""
    if checks is None:
        return ""
    return checks.headline()


def session_record(
    session: Session,
    *,
    applied: Checkpoint | LiveCheckpoint | None = None,
    note: str = "",
    elapsed: float | None = None,
    selection: SelectionCheck | None = None,
    hunks: Tally | None = None,
) -> str:
    """The short markdown record under a run: task, outcome, files, checks, cost, checkpoint.

    ``applied`` is the checkpoint of the last apply, ``selection`` the check of what it wrote
    when that was only part of the change (review.partial.SelectionCheck), ``hunks`` how many
    of its hunks the user accepted, left unreviewed and rejected (reviewstate.Tally).
    """
    outcome = stop_text(session.stop_reason)
    error = _one_line(session.error, 200)
    if error and error != outcome:
        outcome += f" ({error})"
    lines = [
        f"**%%agent** {_one_line(session.task, 120)} — **{outcome}**",
        "",
    ]
    files = list(session.changeset.files) if session.changeset is not None else []
    if files:
        shown = []
        for change in files[:8]:
            added, removed = diff_stats(change.diff())
            shown.append(f"`{file_label(change)}` +{added} −{removed}")
        more = f" and {len(files) - 8} more" if len(files) > 8 else ""
        lines.append("- **Files:** " + ", ".join(shown) + more)
    elif session.stop_reason == "done" and not session.step_outcomes:
        lines.append("- **Files:** no file changes")
    findings = list(session.findings)
    if findings:
        open_ = [f for f in findings if f.status == "open"]
        kinds = ", ".join(
            f"{n} {sev}" for sev in SEVERITIES if (n := sum(f.severity == sev for f in open_))
        )
        lines.append(
            f"- **Findings:** {len(open_)} open"
            + (f" ({kinds})" if kinds else "")
            + f", {len(findings) - len(open_)} fixed"
        )
    checks = checks_line(session.checks)
    if selection is not None and applied is not None:
        lines.append(f"- **Checks:** {selection.record_line()}")
        if checks:
            lines.append(f"- **Checks of the whole change:** {checks}")
    elif checks:
        lines.append(f"- **Checks:** {checks}")
    elif session.stop_reason == "done" and files:
        lines.append("- **Checks:** not run (review off)")
    if applied is not None:
        paths = ", ".join(f"`{p}`" for p in applied.paths)
        reviewed = f"; {hunks.record_text()}" if hunks is not None and hunks.total else ""
        lines.append(
            f"- **Applied:** checkpoint `{short_id(applied.id)}` ({paths}){reviewed}; "
            f"undo with `%agent undo {applied.id}`"
        )
    elif session.checkpoints and session.step_outcomes:
        lines.append(
            f"- **Applied:** step by step as {len(session.checkpoints)} checkpoint(s); "
            "`%agent undo --all` undoes them"
        )
    for step in session.step_outcomes:  # a step applied in part was checked as that part
        if step.selection_check is not None and step.checkpoint:
            lines.append(
                f"- **Step {step.step}, {step.action}** (checkpoint `{short_id(step.checkpoint)}`):"
                f" {step.selection_check.record_line()}"
            )
    took = f" · {elapsed:.0f} s" if elapsed is not None else ""
    model = model_label(session.model or "?")
    usage = session.usage
    tokens_in = usage.total_input
    lines.append(
        f"- **Cost:** ${session.cost:.4f} · tokens {tokens_in:,} in / {usage.output_tokens:,} "
        f"out · {session.steps} steps · model `{model}`{took} · session `{session.id}`"
    )
    if note:
        lines += ["", note]
    return _for_record(session, "\n".join(lines).rstrip() + "\n")
