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
from agent_magic.review.process import Confined, alongside, check_env
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


# With the default budget the nearest test file runs whole (within the test timeout), and the
# others only while the tests' time stays within this many times its time (and the budget): the
# nearest file is what a human would run, and a review round should cost at most ~3 times that
# (ISSUE 23). 1.5, not 2: the round also syncs (the first time: makes) two copies of the
# project, lints, probes pytest and starts each batch's interpreter; on sympy that costs
# 1-2.5 s, a whole run of a 2 s test file (the unchanged copy's runs go beside, on a CPU of
# their own, so they add no wall time on an idle 2-core machine).
NEAREST_FACTOR = 1.5
# ... but never less than this (seconds): a small project's test files cost less than starting
# pytest, so a few batches of them should still run.
NEAREST_FLOOR = 3.0

# Runs a batch of test files in the unchanged copy with at most these seconds, beside the
# changed copy's run of the same batch, confined as given.
Beside = Callable[[list[str], float, Confined], object]


def run_batches(
    command: Sequence[str],
    scratch: Scratch,
    files: Sequence[str],
    *,
    budget: float,
    scope: str,
    confined: Confined,
    whole_first: float | None = None,
    beside: Beside | None = None,
) -> TestRun:
    """``files`` nearest first in batches of 1, 2, 4, ... until ``budget`` seconds are spent.

    pytest collects every file it is given before running any, so one run of hundreds of
    files could spend the whole budget collecting; doubling batches start with the nearest
    file at once and pay the interpreter's start-up only a logarithmic number of times.
    ``unfinished`` names the files that did not run to the end (a batch the budget cut midway
    counts whole, whatever it reported). With ``whole_first`` (the test timeout), the nearest
    file runs whole within it (``timed_out``: it did not), and the rest only while the time stays
    within ``budget`` and NEAREST_FACTOR times the nearest file's (at least NEAREST_FLOOR).
    ``beside`` runs each batch in the unchanged copy at the same time, with the same limit (at
    most ``budget``).
    """
    results = TestResults()
    start = time.monotonic()
    size, done, tail, cut, timed_out = 1, 0, "", False, False
    cap = budget
    while done < len(files):
        first = done == 0 and whole_first is not None
        left = (
            whole_first if first and whole_first is not None else cap - (time.monotonic() - start)
        )
        if left <= 1:
            cut = True
            break
        batch = list(files[done : done + size])
        log = f"tests-{scope}-{done}.log"

        def here(batch: list[str] = batch, left: float = left, log: str = log) -> TestRun:
            return run_once(command, scratch, batch, timeout=left, log=log, confined=confined)

        def there(side: Confined, batch: list[str] = batch, left: float = left) -> None:
            assert beside is not None
            # Never past the budget: the old code may hang where the change does not.
            beside(batch, min(left, budget), side)

        run = alongside(confined, here, None if beside is None else there)
        results.passed |= run.results.passed
        results.failed |= run.results.failed
        results.reasons.update(run.results.reasons)
        tail = run.tail
        if run.timed_out:
            timed_out, cut = first, not first
            break
        done += len(batch)
        size *= 2
        if first:
            nearest = time.monotonic() - start
            cap = min(budget, max(NEAREST_FACTOR * nearest, NEAREST_FLOOR))
    results.passed -= results.failed
    unfinished = list(files[done:]) if cut or timed_out else []
    return TestRun(results, timed_out, time.monotonic() - start, tail, unfinished)


# Entered, it shows the unchanged project: a copy of its own, made when first needed.
BaselineTree = Callable[[], AbstractContextManager[Scratch]]


@dataclass
class Baseline:
    """How to get the unchanged project's results: a lazily made copy, cached by content.

    ``concurrent``: its runs go beside the changed copy's (a CPU each), not after them.
    """

    tree: BaselineTree
    key: str  # the content of the unchanged project
    memo: CheckMemo = field(default_factory=CheckMemo)
    concurrent: bool = False
    problem: str = ""  # why the unchanged copy could not be made: no baseline this round

    def results(
        self,
        command: Sequence[str],
        args: Sequence[str],
        *,
        timeout: float,
        log: str,
        confined: Confined,
    ) -> TestResults | None:
        """``command`` + ``args`` in the unchanged copy, once per content; None if timed out."""
        key = digest(self.key, list(command), list(args))
        cached = self.memo.baselines.get(key)
        if cached is not None:
            self.memo.reused_baselines += 1
            return cached
        if self.problem:
            return None
        try:
            return self._run(key, command, args, timeout=timeout, log=log, confined=confined)
        except OSError as exc:  # a second copy of the project (the disk may be full), E2BIG
            self.problem = (
                f"the unchanged project could not be tested ({exc.strerror or exc}); "
                "every failure counts as new"
            )
            return None

    def _run(
        self,
        key: str,
        command: Sequence[str],
        args: Sequence[str],
        *,
        timeout: float,
        log: str,
        confined: Confined,
    ) -> TestResults | None:
        with self.tree() as before:
            # Tests the change adds do not exist in the unchanged copy; naming them fails.
            present = [
                a for a in args if a.startswith("-") or (before.path / a.split("::", 1)[0]).exists()
            ]
            if args and not present:
                return TestResults()
            run = run_once(command, before, present, timeout=timeout, log=log, confined=confined)
            # pytest runs nothing when one id is not found (a test or parameter the change
            # adds to a file both copies have): again without those, so the old failures
            # beside them are still seen failing (twice: a parameter pytest cannot find is
            # reported as its function, which is then run whole, if it is there at all).
            for _ in range(2):
                ran = run.results.passed or any("::" in t for t in run.results.failed)
                if ran or run.timed_out:  # (a test may print what pytest would)
                    break
                lacking = not_found(before.artifacts / log, before.path, present)
                if not lacking:
                    break
                present = without(present, lacking)
                if not [a for a in present if not a.startswith("-")]:
                    return TestResults()
                run = run_once(
                    command, before, present, timeout=timeout, log=log, confined=confined
                )
        if run.timed_out:
            return None
        self.memo.baselines[key] = run.results
        return run.results


NOT_FOUND = "ERROR: not found: "


def not_found(output: Path, tree: Path, args: Sequence[str]) -> set[str]:
    """What pytest's output (in file ``output``) says it did not find among the ids in ``args``.

    A parameter it cannot find (``f.py::test[3]``) is reported as its function (``f.py::test``).
    """
    ids = {a for a in args if "::" in a}
    ids |= {function_of(a) for a in ids}
    if not ids:
        return set()
    found: set[str] = set()
    try:
        with open(output, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                # stderr's line can land after "collecting ... " on stdout's
                _, hit, rest = line.partition(NOT_FOUND)
                if hit:
                    found.add(rest.strip().removeprefix(f"{tree}/"))
    except OSError:
        return set()
    return ids & found


def function_of(test_id: str) -> str:
    """``f.py::test[3]`` -> ``f.py::test`` (ids without parameters stay as they are)."""
    head, sep, name = test_id.rpartition("::")
    return head + sep + name.split("[", 1)[0] if sep else test_id


def without(args: Sequence[str], lacking: set[str]) -> list[str]:
    """``args`` without the ids pytest did not find; a parameter's whole function instead."""
    out: list[str] = []
    for arg in args:
        if arg in lacking:
            continue
        if function_of(arg) in lacking:
            arg = function_of(arg)
        if arg not in out:
            out.append(arg)
    return out


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
    relative: bool = False,
) -> tuple[TestOutcome, list[str]]:
    """Run in the changed copy and in the unchanged one (cached by content); outcome, notes.

    With a ``budget`` (seconds), running out of it ends the run without a timeout: the test
    files that produced no result are reported as not run. ``relative``: the budget is the
    default one, so it also follows the nearest file's time (see ``run_batches``). A concurrent
    ``baseline`` runs each batch beside the changed copy's; otherwise it runs afterwards.
    """
    notes: list[str] = []
    given = baseline
    limit = min(timeout, budget) if budget is not None else timeout
    # What the unchanged copy ran to the end beside the changed one: per batch, merged.
    alongside_runs: list[list[str]] = []
    beside_results = TestResults()

    def beside(batch: list[str], seconds: float, side: Confined) -> None:
        assert baseline is not None
        got = baseline.results(
            command,
            batch,
            timeout=seconds,
            log=f"baseline-{scope}-{len(alongside_runs)}.log",
            confined=side,
        )
        if got is not None:
            _merge(beside_results, got)
            alongside_runs.append(batch)

    together = beside if baseline is not None and baseline.concurrent else None
    if budget is not None and args and budget < timeout:
        changed = run_batches(
            command,
            after,
            args,
            budget=budget,
            scope=scope,
            confined=confined,
            whole_first=timeout if relative else None,
            beside=together,
        )
    else:
        changed = alongside(
            confined,
            lambda: run_once(
                command, after, args, timeout=limit, log=f"tests-{scope}.log", confined=confined
            ),
            None if together is None else lambda c: together(list(args), limit, c),
        )
    budget_hit = bool(changed.unfinished) and not changed.timed_out
    outcome = TestOutcome(
        command=list(command),
        ran=True,
        scope=scope,
        timed_out=changed.timed_out,
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
        if changed.unfinished:
            outcome.not_run = [a for a in changed.unfinished if not a.startswith("-")]
        return outcome, notes
    base: TestResults | None = beside_results if alongside_runs else None
    # The unchanged project runs the files that ran here (not those the budget left out), at
    # most once per content and session (in its own copy, made when first needed).
    failed = sorted(changed.results.failed)
    left = limit - changed.elapsed if budget is not None else timeout
    # A file cut midway still had its first results compared, so the baseline runs it too.
    seen = {t.split("::", 1)[0] for t in changed.results.passed | changed.results.failed}
    rerun = [a for a in args if a not in outcome.not_run or a in seen]
    if together is not None:
        # What ran beside needs no second run. What did not finish beside (it ran out of time)
        # would not finish after either: only what failed there runs again, alone.
        ran = {a for batch in alongside_runs for a in batch}
        whole = not args and bool(alongside_runs)
        rerun = [] if whole else [a for a in rerun if a not in ran]
        failed = [] if whole else [t for t in failed if t.split("::", 1)[0] not in ran]
        if (rerun or (not args and not whole)) and not (given and given.problem):
            # also when its failures run again alone: what passes here is not looked at there
            unfinished = f"{len(rerun)} test file(s)" if args else "the test suite"
            notes.append(
                f"the unchanged copy did not finish {unfinished} in time: "
                "fixed tests there are not reported"
            )
        if failed and all("::" in t for t in failed):
            rerun = failed
        else:
            # A failure without a test id (the command's own) cannot run alone: it is told
            # apart by what ran beside, which did not finish only when files are left over.
            if failed and rerun:
                notes.append(
                    "the baseline test run did not finish; failures it did not reach count as new"
                )
            baseline = None
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
        got = baseline.results(
            command, rerun, timeout=limit, log=f"baseline-{scope}.log", confined=confined
        )
        if got is None and not baseline.problem:
            notes.append(
                f"the baseline test run timed out after {limit:g}s; every failure counts as new"
            )
        elif got is not None:
            base = got if base is None else _merge(_merge(TestResults(), base), got)
    if given is not None and given.problem:
        notes.append(given.problem)
    outcome.baseline_ran = base is not None
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


def _merge(into: TestResults, more: TestResults) -> TestResults:
    """``into`` with ``more``'s results added (a test failing in either counts as failing)."""
    into.passed |= more.passed
    into.failed |= more.failed
    into.reasons.update(more.reasons)
    into.passed -= into.failed
    return into


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
    relative: bool = False,
) -> tuple[TestOutcome, list[str]]:
    """``related`` test files nearest first within ``budget``; the whole suite when asked or fast.

    ``relative``: ``budget`` is the default one (see ``run_batches``). ``durations`` remembers
    the whole suite's last duration, so it runs again only when that fits in half the timeout.
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
                relative=relative,
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
