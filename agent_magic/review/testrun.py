"""Run related tests in the changed copy within a budget, and in the unchanged one to classify."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from agent_magic.review.memo import CheckMemo, Durations, digest
from agent_magic.review.process import Confined, check_env
from agent_magic.review.pytest_output import TestResults, compare_runs, parse_pytest_lines
from agent_magic.review.report import TestOutcome
from agent_magic.review.scratch import Scratch
from agent_magic.review.selection import is_pytest_command, is_test_file

PYTEST_EXIT_NO_TESTS = 5


def default_test_command(files: Sequence[str]) -> list[str] | None:
    """``python -m pytest -q`` when the project has pytest-style test files, else None."""
    if any(is_test_file(f) for f in files):
        return [sys.executable, "-m", "pytest", "-q"]
    return None


def with_interpreter(command: Sequence[str]) -> list[str]:
    """A bare ``python`` means this interpreter: the user's kernel environment, not PATH's."""
    if command and command[0] in ("python", "python3"):
        return [sys.executable, *command[1:]]
    return list(command)


def missing_pytest(command: Sequence[str], scratch: Scratch, confined: Confined) -> str:
    """Why a pytest command cannot run here ("" if it can): a missing module is no test failure.

    The probe imports pytest in the sandboxed copy: with ``-c`` the working directory is on
    sys.path, so a repository's own ``pytest.py`` would run, and must run confined.
    """
    if not is_pytest_command(command):
        return ""
    if len(command) > 2 and command[1:3] == ["-m", "pytest"]:
        try:
            probe = confined.run(
                [command[0], "-c", "import pytest"],
                tree=scratch.path,
                output_path=scratch.artifacts / "probe.log",
                timeout=60,
            )
        except OSError:
            return f"{command[0]} cannot be started; the tests were not run"
        found = probe.returncode == 0
    else:
        found = shutil.which(command[0]) is not None
    if found:
        return ""
    return (
        f"pytest is not installed for {command[0]}; the tests were not run "
        "(`pip install pytest` in the kernel's environment)"
    )


def python_paths(tree: Path) -> list[Path]:
    """What goes first on PYTHONPATH so the copy, not an editable install, is imported."""
    return [tree, tree / "src"] if (tree / "src").is_dir() else [tree]


@dataclass
class TestRun:
    """One run of the test command in one copy."""

    __test__ = False  # not a pytest test class

    results: TestResults
    timed_out: bool
    elapsed: float
    tail: str
    # The arguments that did not run to the end: a batch the budget cut, and those after it.
    unfinished: list[str] = field(default_factory=list)


def run_once(
    command: Sequence[str],
    scratch: Scratch,
    args: Sequence[str],
    *,
    timeout: float,
    log: str,
    confined: Confined,
) -> TestRun:
    """Run ``command`` (+ ``-rA -vv`` for pytest, + ``args``) in the copy; parse its results.

    ``-v`` prints each result as it happens, so a run cut short still reports what it ran.
    """
    pytest = is_pytest_command(command)
    # Verbosity 2 (-q cancels one -v): pytest then keeps each failure's reason whole in the
    # short summary instead of cutting it to the terminal's width ("was: ValueEr...").
    verbose = ["-vvv" if "-q" in command else "-vv"] if pytest else []
    full = [*command, *(["-rA", "--color=no", *verbose] if pytest else []), *args]
    result = confined.run(
        full,
        tree=scratch.path,
        output_path=scratch.artifacts / log,
        timeout=timeout,
        # bytecode goes into the copy, which a kept copy keeps for later rounds (review.bytecode)
        env=check_env(python_paths(scratch.path), write_bytecode=confined.confines_writes),
    )
    results = parse_pytest_lines(result.lines())
    label = "`" + " ".join(command) + "`"
    code = result.returncode
    if not result.timed_out and not results.failed and code not in (0, None):
        if not (pytest and code == PYTEST_EXIT_NO_TESTS):
            # No test ids to blame (not pytest, or pytest could not start): the command is the id.
            results.failed.add(label)
            results.reasons[label] = f"exit code {code}"
    elif code == 0 and results.empty:
        results.passed.add(label)
    return TestRun(results, result.timed_out, result.elapsed, result.tail())


def run_batches(
    command: Sequence[str],
    scratch: Scratch,
    files: Sequence[str],
    *,
    budget: float,
    scope: str,
    confined: Confined,
) -> TestRun:
    """``files`` nearest first in batches of 1, 2, 4, ... until ``budget`` seconds are spent.

    pytest collects every file it is given before running any, so one run of hundreds of
    files could spend the whole budget collecting; doubling batches start with the nearest
    file at once and pay the interpreter's start-up only a logarithmic number of times.
    ``timed_out`` means the budget ended before every file ran; ``unfinished`` names the files
    that did not run to the end (a batch cut midway counts whole, whatever it reported).
    """
    results = TestResults()
    start = time.monotonic()
    size, done, tail, cut = 1, 0, "", False
    while done < len(files):
        left = budget - (time.monotonic() - start)
        if left <= 1:
            cut = True
            break
        batch = files[done : done + size]
        run = run_once(
            command,
            scratch,
            batch,
            timeout=left,
            log=f"tests-{scope}-{done}.log",
            confined=confined,
        )
        results.passed |= run.results.passed
        results.failed |= run.results.failed
        results.reasons.update(run.results.reasons)
        tail = run.tail
        if run.timed_out:
            cut = True
            break
        done += len(batch)
        size *= 2
    results.passed -= results.failed
    unfinished = list(files[done:]) if cut else []
    return TestRun(results, cut, time.monotonic() - start, tail, unfinished)


# Entered, it shows the unchanged project (in the changed copy, switched back on exit).
BaselineTree = Callable[[], AbstractContextManager[Scratch]]


@dataclass
class Baseline:
    """How to get the unchanged project's results: a lazily made copy, cached by content."""

    tree: BaselineTree
    key: str  # the content of the unchanged project
    memo: CheckMemo = field(default_factory=CheckMemo)


def run_pair(
    command: Sequence[str],
    after: Scratch,
    baseline: Baseline | None,
    args: Sequence[str],
    *,
    timeout: float,
    scope: str,
    confined: Confined,
    budget: float | None = None,
) -> tuple[TestOutcome, list[str]]:
    """Run in the changed copy, then in the unchanged one (cached by content); outcome, notes.

    With a ``budget`` (seconds), running out of it ends the run without a timeout: the test
    files that produced no result are reported as not run.
    """
    notes: list[str] = []
    limit = min(timeout, budget) if budget is not None else timeout
    if budget is not None and args and budget < timeout:
        changed = run_batches(command, after, args, budget=budget, scope=scope, confined=confined)
    else:
        changed = run_once(
            command, after, args, timeout=limit, log=f"tests-{scope}.log", confined=confined
        )
    budget_hit = changed.timed_out and budget is not None and budget < timeout
    outcome = TestOutcome(
        command=list(command),
        ran=True,
        scope=scope,
        timed_out=changed.timed_out and not budget_hit,
        output_tail=changed.tail,
        elapsed=changed.elapsed,
    )
    if budget_hit:
        outcome.not_run = [a for a in changed.unfinished if not a.startswith("-")]
        notes.append(
            f"the test budget of {budget:g}s ran out; {len(outcome.not_run)} related "
            "test file(s) not run (budget), or cut midway"
        )
    if outcome.timed_out:
        return outcome, notes
    base: TestResults | None = None
    # The unchanged project runs the files that ran here (not those the budget left out), at
    # most once per content and session: its copy is made only now, when it is needed.
    failed = sorted(changed.results.failed)
    left = limit - changed.elapsed if budget is not None else timeout
    # A file cut midway still had its first results compared, so the baseline runs it too.
    seen = {t.split("::", 1)[0] for t in changed.results.passed | changed.results.failed}
    rerun = [a for a in args if a not in outcome.not_run or a in seen]
    if baseline is not None and budget is not None and not failed and left < changed.elapsed:
        # Nothing to classify, and no budget left to look for fixed tests: skip the baseline.
        notes.append("the unchanged copy was not tested (budget): fixed tests are not reported")
        baseline = None
    elif (
        baseline is not None
        and failed
        and left < changed.elapsed
        and all("::" in t for t in failed)
    ):
        rerun = failed  # the budget is spent: only what failed needs telling old from new
    if baseline is not None:
        key = digest(baseline.key, list(command), rerun)
        base = baseline.memo.baselines.get(key)
        if base is not None:
            baseline.memo.reused_baselines += 1
            outcome.baseline_ran = True
        else:
            with baseline.tree() as before:
                # Tests the change adds do not exist in the unchanged copy; naming them fails.
                base_args = [
                    a
                    for a in rerun
                    if a.startswith("-") or (before.path / a.split("::", 1)[0]).exists()
                ]
                run = None
                if rerun and not base_args:
                    base, outcome.baseline_ran = TestResults(), True
                else:
                    run = run_once(
                        command,
                        before,
                        base_args,
                        timeout=limit,
                        log=f"baseline-{scope}.log",
                        confined=confined,
                    )
            if run is not None and run.timed_out:
                notes.append(
                    f"the baseline test run timed out after {limit:g}s; every failure counts as new"
                )
            elif run is not None:
                base, outcome.baseline_ran = run.results, True
                baseline.memo.baselines[key] = base
    compared = compare_runs(base, changed.results)
    outcome.passed = sorted(changed.results.passed)
    outcome.newly_failing = compared.newly_failing
    outcome.already_failing = compared.already_failing
    outcome.fixed = compared.fixed
    outcome.reasons = dict(changed.results.reasons)
    if base is not None:
        for test_id in compared.fixed:
            if test_id in base.reasons:
                outcome.reasons.setdefault(test_id, "was: " + base.reasons[test_id])
    return outcome, notes


def run_tests(
    command: Sequence[str],
    related: Sequence[str],
    after: Scratch,
    baseline: Baseline | None,
    *,
    timeout: float,
    full_suite: bool | None,
    confined: Confined,
    budget: float | None = None,
    durations: Durations | None = None,
) -> tuple[TestOutcome, list[str]]:
    """``related`` test files nearest first within ``budget``; the whole suite when asked or fast.

    ``durations`` remembers the whole suite's last duration, so it runs again only when that
    fits in half the timeout.
    """
    notes: list[str] = []
    command = with_interpreter(command)
    durations = durations or Durations(None)
    missing = missing_pytest(command, after, confined)
    if missing:
        return TestOutcome(command=list(command)), [missing]
    tests = [f for f in after.files if is_test_file(f)]
    if is_pytest_command(command) and full_suite is not True:
        if related:
            outcome, more = run_pair(
                command,
                after,
                baseline,
                list(related),
                timeout=timeout,
                scope="related",
                confined=confined,
                budget=budget,
            )
            notes += more
            covered = set(related) >= set(tests)
            if full_suite is False or covered or not outcome.ok or outcome.not_run:
                return outcome, notes
            known = durations.get(command)
            fast = (
                known <= timeout / 2
                if known is not None
                else _fast_enough(outcome.elapsed, len(related), len(tests), timeout)
            )
            if not fast:
                notes.append(
                    "the whole suite looks too slow for the timeout; "
                    "only the related tests were run"
                )
                return outcome, notes
        elif full_suite is False:
            notes.append("no tests relate to the changed files; tests were not run")
            return TestOutcome(command=list(command)), notes
        elif (known := durations.get(command)) is not None and known > timeout / 2:
            notes.append(
                f"no tests relate to the changed files, and the whole suite took "
                f"{known:.0f}s last time; tests were not run"
            )
            return TestOutcome(command=list(command)), notes
    outcome, more = run_pair(
        command, after, baseline, [], timeout=timeout, scope="full", confined=confined
    )
    if not outcome.timed_out:
        durations.put(command, outcome.elapsed)
    return outcome, notes + more


def _fast_enough(elapsed: float, related: int, total: int, timeout: float) -> bool:
    # Extrapolate from the related run by test file count; keep half the timeout as a margin.
    return elapsed * total / max(related, 1) <= timeout / 2
