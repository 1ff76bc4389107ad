"""The terminal and headless views: streamed progress, colored diffs, the one answer parser."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Literal, TextIO

from agent_magic import events as ev
from agent_magic.staging.diff import visible
from agent_magic.ui.markup import markdown_plain
from agent_magic.ui.report import file_label, stop_text

RESET = "\x1b[0m"
COLORS = {
    "add": "\x1b[32m",
    "del": "\x1b[31m",
    "hunk": "\x1b[36m",
    "head": "\x1b[1m",
    "blocker": "\x1b[1;31m",
    "major": "\x1b[31m",
    "minor": "\x1b[33m",
    "nit": "\x1b[2m",
}

InputFn = Callable[[str], str]

Word = Literal["yes", "no", "all", "quit", "skip", "pick", "empty", "text"]
# Every terminal prompt (plan, step, per-file apply, blockers) reads answers with these words.
WORDS: dict[str, Word] = {
    "y": "yes",
    "yes": "yes",
    "approve": "yes",
    "n": "no",
    "no": "no",
    "a": "all",
    "all": "all",
    "q": "quit",
    "quit": "quit",
    "stop": "quit",
    "s": "skip",
    "skip": "skip",
    "p": "pick",
    "pick": "pick",
}


def parse_answer(text: str) -> Word:
    """A terminal answer as one word of :data:`WORDS`; "empty" if blank, "text" for anything else
    (feedback, where a prompt takes it)."""
    word = text.strip().lower()
    if not word:
        return "empty"
    return WORDS.get(word, "text")


def colorize_diff(diff: str, color: bool = True) -> str:
    """A unified diff with ANSI colors: green added, red removed, cyan hunk headers."""
    if not color:
        return diff
    out = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---", "diff ", "index ")):
            kind = "head"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            out.append(line)
            continue
        out.append(f"{COLORS[kind]}{line}{RESET}")
    return "\n".join(out) + ("\n" if diff.endswith("\n") else "")


def finding_line(finding: Any, color: bool = True) -> str:
    """One finding as ``[severity] path:line: message (status)``."""
    sev = f"[{finding.severity}]"
    if color and finding.severity in COLORS:
        sev = f"{COLORS[finding.severity]}{sev}{RESET}"
    where = f" {finding.location()}:" if finding.location() else ""
    status = " (fixed)" if finding.status == "fixed" else ""
    return f"{sev}{where} {finding.message}{status}"


def tool_line(event: ev.ToolUsed) -> str:
    """A short line for one tool call: name, its main argument, and an error mark."""
    arg = visible(
        next(
            (
                str(event.input[k])
                for k in ("path", "pattern", "query", "command")
                if k in event.input
            ),
            "",
        )
    ).replace("\n", "\\n")
    mark = "  ✗ " + event.result.splitlines()[0][:120] if event.is_error and event.result else ""
    return f"  · {event.name}" + (f" {arg}" if arg else "") + mark


class TextView:
    """An event sink that prints a run's progress as plain text (optionally with colors)."""

    def __init__(
        self, out: TextIO | None = None, *, color: bool = False, stream_text: bool = True
    ) -> None:
        self.out = out or sys.stdout
        self.color = color
        self.stream_text = stream_text
        self._mid_line = False
        self._last_delta: type | None = None

    def handle(self, event: ev.Event) -> None:
        """Print one event."""
        if isinstance(event, (ev.TextDelta, ev.ThinkingDelta)):
            if self.stream_text and event.text:
                if self._mid_line and type(event) is not self._last_delta:
                    self.out.write("\n")  # thinking and text on lines of their own
                self._last_delta = type(event)
                dim = self.color and isinstance(event, ev.ThinkingDelta)
                self.out.write(f"\033[2m{event.text}{RESET}" if dim else event.text)
                self._mid_line = not event.text.endswith("\n")
                self.out.flush()
            return
        text = self._describe(event)
        if text is None:
            return
        if self._mid_line:
            self.out.write("\n")
            self._mid_line = False
        self.out.write(text + "\n")
        self.out.flush()

    def _describe(self, event: ev.Event) -> str | None:
        if isinstance(event, ev.PhaseStarted):
            title = f"── {event.phase} ──"
            return f"{COLORS['head']}{title}{RESET}" if self.color else title
        if isinstance(event, ev.PhaseSkipped):
            return f"── {event.phase}: skipped — {event.reason or 'not part of this run'} ──"
        if (
            isinstance(event, ev.PhaseFinished)
            and event.summary
            and event.phase not in ("understand", "plan")  # printed whole when they are ready
        ):
            return f"  ✓ {event.phase}: {' '.join(event.summary.split())[:200]}"
        if isinstance(event, ev.UnderstandingReady):
            return understanding_text(event.understanding)
        if isinstance(event, ev.CommandStarted):
            return f"  $ {event.command}  (sandboxed, up to {event.timeout:g} s)"
        if isinstance(event, ev.ToolUsed):
            if event.name == "run" and not event.is_error:
                return "    → " + event.result.split("\n", 1)[0]
            return tool_line(event)
        if isinstance(event, ev.PlanReady):
            return "Plan:\n" + event.plan.text()
        if isinstance(event, ev.FindingReported):
            return finding_line(event.finding, self.color)
        if isinstance(event, ev.ChecksDone):
            title, _, rest = event.report.summary().strip().partition("\n")
            head = f"{title.lstrip('# ')} (round {event.round})"
            body = markdown_plain(rest.strip(), color=self.color)
            return head + ("\n" + body.rstrip("\n") if body.strip() else "")
        if isinstance(event, ev.StepDecided) and event.action != "failed":
            # a failed one comes back as the step's pause, which says why
            return markdown_plain(event.message, color=self.color)
        if isinstance(event, ev.RunFinished):
            return f"Run {stop_text(event.session.stop_reason)}."
        if isinstance(event, ev.Notice):
            return event.message
        return None


def understanding_text(understanding: Any) -> str:
    """The understanding for a terminal: restatement, acceptance criteria, assumptions."""
    lines = [f"Understanding: {understanding.restatement}"]
    for title, items in (
        ("Acceptance criteria", understanding.acceptance_criteria),
        ("Assumptions", understanding.assumptions),
    ):
        if items:
            lines.append(f"  {title}:")
            lines += [f"  - {item}" for item in items]
    return "\n".join(lines)


def choose_hunks(
    changeset: Any,
    input_fn: InputFn,
    out: TextIO,
    *,
    color: bool = False,
) -> set[str] | None:
    """Show each file's diff and ask y/n/all/quit; the chosen hunk ids, or None if cancelled."""
    chosen: set[str] = set()
    files = list(changeset.files)
    for index, change in enumerate(files):
        out.write(colorize_diff(change.diff(), color))
        answer = _ask(f"Apply {file_label(change)}? [y]es/[n]o/[a]ll/[q]uit ", input_fn, out)
        if answer is None:
            return None
        if answer == "yes":
            chosen.update(h.id for h in change.hunks)
        elif answer == "all":
            for rest in files[index:]:
                chosen.update(h.id for h in rest.hunks)
            break
        elif answer == "quit":
            break
    return chosen


def _ask(prompt: str, input_fn: InputFn, out: TextIO) -> Word | None:
    while True:
        try:
            word = parse_answer(input_fn(prompt))
        except EOFError:
            return "quit"
        except KeyboardInterrupt:
            return None
        if word in ("yes", "no", "all", "quit"):
            return word
        out.write("Please answer y, n, a(ll) or q(uit).\n")
