"""The values run_checks returns, their bounded markdown summary, and their findings."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent_magic.records import Finding, Severity

LIST_LIMIT = 10  # items per list in the summary; the rest is counted
SUMMARY_LIMIT = 6000  # characters of the whole summary
TAIL_LIMIT = 1500  # characters of test output quoted in the summary


@dataclass
class CheckProblem:
    """One problem a check found: a syntax error, a lint message, an invalid or failing notebook."""

    path: str
    message: str
    line: int | None = None
    code: str = ""
    suggestion: str = ""
    cell: int | None = None

    def location(self) -> str:
        """``path:line``, ``path cell N`` or ``path``."""
        if self.cell is not None:
            return f"{self.path} cell {self.cell}"
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass
class TestOutcome:
    """The test run of the changed copy, classified against the unchanged copy."""

    __test__ = False  # not a pytest test class

    command: list[str] = field(default_factory=list)
    ran: bool = False
    scope: str = "none"  # none | related | full
    passed: list[str] = field(default_factory=list)
    newly_failing: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    already_failing: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # test id -> one-line failure reason
    timed_out: bool = False
    baseline_ran: bool = False
    output_tail: str = ""
    elapsed: float = 0.0  # seconds the changed copy's run took
    selected: list[str] = field(default_factory=list)  # related test files, nearest first
    not_run: list[str] = field(default_factory=list)  # selected files the budget left out

    @property
    def ok(self) -> bool:
        """No newly failing test and no timeout."""
        return not self.newly_failing and not self.timed_out


@dataclass
class CheckReport:
    """Everything the automatic checks found in one review round."""

    compile_errors: list[CheckProblem] = field(default_factory=list)
    invalid_notebooks: list[CheckProblem] = field(default_factory=list)
    new_lint: list[CheckProblem] = field(default_factory=list)
    lint_ran: bool = False
    tests: TestOutcome = field(default_factory=TestOutcome)
    notebook_failures: list[CheckProblem] = field(default_factory=list)  # new with the change
    notebooks_run: list[str] = field(default_factory=list)
    # a new failure that is the sandboxed kernel's environment's (a missing module or file)
    notebook_environment: list[CheckProblem] = field(default_factory=list)
    # failed the same way in the unchanged notebook: not the change's
    notebooks_already_failing: list[CheckProblem] = field(default_factory=list)
    timeouts: list[str] = field(default_factory=list)  # which checks hit their timeout
    notes: list[str] = field(default_factory=list)  # checks skipped or unavailable, and why
    sandbox: str = ""  # how the checks ran: confined, unconfined by opt-in, or not at all
    network: bool = False  # the checks could reach the network (--allow-network/--unsandboxed)
    not_run: str = ""  # why no test, lint or notebook ran ("" if they could run)
    stopped: bool = False  # the user or the time limit stopped the checks
    baseline_problem: str = ""  # why the unchanged copy could not be tested ("" if it could)

    @property
    def ok(self) -> bool:
        """True when nothing new is wrong: the change may be delivered as green."""
        return not (
            self.not_run
            or self.stopped
            or self.compile_errors
            or self.invalid_notebooks
            or self.new_lint
            or self.tests.newly_failing
            or self.tests.timed_out
            or self.notebook_failures
            or self.notebook_environment
            or self.timeouts
        )

    def findings(self) -> list[Finding]:
        """The problems as findings for the review loop (blockers first)."""
        out = [_finding("blocker", "compile", p) for p in self.compile_errors]
        out += [_finding("blocker", "notebook", p) for p in self.invalid_notebooks]
        out += [_finding("blocker", "notebook", p) for p in self.notebook_failures]
        # No verdict on the change past the failing cell, but nothing to fix in it either.
        out += [_finding("major", "notebook", p) for p in self.notebook_environment]
        out += [_finding("minor", "notebook", p) for p in self.notebooks_already_failing]
        for test_id in self.tests.newly_failing:
            reason = self.tests.reasons.get(test_id, "")
            out.append(
                Finding(
                    severity="blocker",
                    source="tests",
                    path=test_id.split("::", 1)[0],
                    message=f"newly failing test {test_id}" + (f": {reason}" if reason else ""),
                )
            )
        if self.tests.timed_out:  # no verdict on the change, so no blocker by itself
            out.append(
                Finding(
                    severity="major",
                    source="tests",
                    message=f"test command timed out: {' '.join(self.tests.command)}",
                )
            )
        if "lint" in self.timeouts:  # tests and notebooks report their own timeouts above
            out.append(Finding(severity="major", source="lint", message="ruff timed out"))
        out += [_finding("minor", "lint", p) for p in self.new_lint]
        if self.not_run:
            out.append(
                Finding(
                    severity="major",
                    source="sandbox",
                    message=f"tests were not run: {self.not_run}",
                )
            )
        elif self.sandbox.startswith("UNSANDBOXED"):
            out.append(Finding(severity="minor", source="sandbox", message=self.sandbox))
        elif self.network:
            out.append(
                Finding(
                    severity="minor",
                    source="sandbox",
                    message="tests ran with network access (--allow-network)",
                )
            )
        return out

    def verdict(self) -> str:
        """``all green``, ``problems found``, or ``incomplete`` when selected tests did not run."""
        if not self.ok:
            return "problems found"
        return "incomplete" if self.tests.not_run else "all green"

    def headline(self) -> str:
        """The checks in one line: the verdict, then what ran or what is wrong."""
        if self.not_run:
            return f"not run: {_one_line(self.not_run, 160)}"
        problems = []
        if self.compile_errors or self.invalid_notebooks:
            problems.append(f"{len(self.compile_errors) + len(self.invalid_notebooks)} compile")
        if self.new_lint:
            problems.append(f"{len(self.new_lint)} new lint")
        t = self.tests
        if t.newly_failing:
            problems.append(f"{len(t.newly_failing)} newly failing test(s)")
        if t.timed_out:
            problems.append("tests timed out")
        if self.notebook_failures:
            problems.append(f"{len(self.notebook_failures)} failing notebook(s)")
        if self.timeouts:
            problems.append("timeouts: " + ", ".join(self.timeouts))
        if self.stopped:
            problems.append("stopped")
        ran = ["compile"] + (["lint"] if self.lint_ran else [])
        if t.ran:
            ran.append(f"{len(t.passed)} {t.scope} test(s) passed")
        if self.notebooks_run:
            ran.append(f"{len(self.notebooks_run)} notebook(s)")
        how = ""
        if self.sandbox.startswith("UNSANDBOXED"):
            how = " · ran UNSANDBOXED (opted in)"
        elif self.network:
            how = " · with network access"
        if t.not_run:
            total = max(len(t.selected), len(t.not_run))
            unrun = f"{len(t.not_run)} of {total} related test file(s) not run (budget)"
            if not problems:
                return "incomplete (" + ", ".join([*ran, unrun]) + ")" + how
            problems.append(unrun)
        if problems:
            first = next(iter(t.newly_failing), "")
            why = t.reasons.get(first, "") if first else ""
            detail = (
                f" — {first}: {_one_line(why, 160)}" if why else (f" — {first}" if first else "")
            )
            return "problems found: " + ", ".join(problems) + detail + how
        return "all green (" + ", ".join(ran) + ")" + how

    def summary(self) -> str:
        """A bounded markdown report: compile, lint, tests, notebooks."""
        parts = [f"## Checks: {self.verdict()}"]
        if self.not_run:
            parts.append(f"**Tests, lint and notebooks were not run:** {self.not_run}")
        elif self.sandbox:
            parts.append(f"Sandbox: {self.sandbox}")
        parts.append(
            _section(
                "Compile",
                self.compile_errors + self.invalid_notebooks,
                "no syntax errors, notebooks valid",
            )
        )
        parts.append(
            _section(
                "Lint (new problems only)",
                self.new_lint,
                "no new problems" if self.lint_ran else "not run",
            )
        )
        parts.append(self._tests_section())
        if self.notebooks_run or self.notebook_failures:
            parts.append(self._notebooks_section())
        if self.timeouts:
            parts.append("### Timeouts\n" + _bullets(self.timeouts))
        if self.notes:
            parts.append("### Notes\n" + _bullets(self.notes))
        text = "\n\n".join(parts)
        if len(text) > SUMMARY_LIMIT:
            text = text[: SUMMARY_LIMIT - 20].rstrip() + "\n… (summary cut)"
        return text

    def _notebooks_section(self) -> str:
        failed = self.notebook_failures + self.notebook_environment + self.notebooks_already_failing
        bad = {p.path for p in failed}
        clean = [n for n in self.notebooks_run if n not in bad]
        lines = ["### Notebooks"]
        for title, problems in (
            ("Newly failing", self.notebook_failures),
            (
                "New environment problems (missing in the sandboxed kernel)",
                self.notebook_environment,
            ),
            (
                "Already failing before this change (not caused by it)",
                self.notebooks_already_failing,
            ),
        ):
            if problems:
                lines.append(
                    f"{title}:\n" + _bullets([f"{p.location()}: {p.message}" for p in problems])
                )
        if clean:
            lines.append("ran without errors: " + ", ".join(clean))
        return "\n\n".join(lines)  # a title right under a bullet would continue it

    def _tests_section(self) -> str:
        t = self.tests
        head = "### Tests"
        if not t.ran:
            return f"{head}\nnot run"
        lines = [
            f"{head} ({t.scope}: `{' '.join(t.command)}`)",
            f"- passed: {len(t.passed)}",
            f"- newly failing: {len(t.newly_failing)}",
            f"- fixed: {len(t.fixed)}",
            f"- already failing (not caused by this change): {len(t.already_failing)}",
        ]
        if not t.baseline_ran:
            lines.append("- no baseline run: every failure counts as new")
        if t.timed_out:
            lines.append("- **timed out** (the process group was killed)")
        if t.not_run:
            lines.append(
                f"- not run (budget): {len(t.not_run)} of {len(t.selected)} related "
                "test file(s): "
                + ", ".join(t.not_run[:LIST_LIMIT])
                + (" …" if len(t.not_run) > LIST_LIMIT else "")
            )
        for title, ids in (
            ("Newly failing", t.newly_failing),
            ("Fixed", t.fixed),
            ("Already failing", t.already_failing),
        ):
            if ids:
                items = [i + (f" — {t.reasons[i]}" if t.reasons.get(i) else "") for i in ids]
                lines.append(f"\n{title}:\n" + _bullets(items))
        if (t.newly_failing or t.timed_out) and t.output_tail:
            tail = t.output_tail[-TAIL_LIMIT:]
            lines.append(f"\nOutput (tail):\n```\n{tail}\n```")
        return "\n".join(lines)


def _finding(severity: Severity, source: str, p: CheckProblem) -> Finding:
    message = f"{p.code} {p.message}".strip() if p.code else p.message
    if p.cell is not None:
        message = f"cell {p.cell}: {message}"
    return Finding(
        severity=severity,
        message=message,
        path=p.path,
        line_start=p.line,
        line_end=p.line,
        suggestion=p.suggestion,
        source=source,
    )


def _section(title: str, problems: list[CheckProblem], empty: str) -> str:
    if not problems:
        return f"### {title}\n{empty}"
    items = [f"{p.location()}: " + (f"{p.code} " if p.code else "") + p.message for p in problems]
    return f"### {title}\n" + _bullets(items)


def _bullets(items: list[str]) -> str:
    shown = [f"- {_one_line(i)}" for i in items[:LIST_LIMIT]]
    if len(items) > LIST_LIMIT:
        shown.append(f"- … and {len(items) - LIST_LIMIT} more")
    return "\n".join(shown)


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
