"""run_checks: every automatic check of one review round, in scratch copies of the project."""

from __future__ import annotations

import copy
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path

from agent_magic.analysis.index import RepoIndex
from agent_magic.analysis.scan import FileFacts, scan_file
from agent_magic.errors import AgentMagicError, PathError, UserError
from agent_magic.paths import read_regular
from agent_magic.review.lint import new_problems, ruff_command, run_ruff
from agent_magic.review.memo import CheckMemo, Durations, changes_key, digest
from agent_magic.review.notebooks import run_notebooks as run_changed_notebooks
from agent_magic.review.process import ChecksStopped, Confined, check_env, cpus
from agent_magic.review.report import CheckReport, TestOutcome
from agent_magic.review.scratch import Scratch, UnchangedCopy, checked_path
from agent_magic.review.selection import (
    RelatedTest,
    changed_definitions,
    is_test_file,
    select_tests,
)
from agent_magic.review.static import PYTHON_SUFFIXES, static_problems
from agent_magic.review.testrun import (
    Baseline,
    BaselineTree,
    default_test_command,
    python_paths,
    run_tests,
)
from agent_magic.sandbox import Sandbox, detect

# The related tests' default time budget is this share of the test timeout: a review round
# should cost a few times what a human's run of the nearest test file costs, not the timeout
# (within it, the time also follows the nearest file's: testrun.NEAREST_FACTOR).
BUDGET_SHARE = 6


def run_checks(
    root: str | os.PathLike[str],
    changes: Mapping[str, bytes | None],
    *,
    test_command: Sequence[str] | None = None,
    timeout: float = 120.0,
    run_notebooks: bool = False,
    full_suite: bool | None = None,
    baseline: bool = True,
    workdir: str | os.PathLike[str] | None = None,
    kernel_name: str = "python3",
    sandbox: Sandbox | None = None,
    stop: threading.Event | None = None,
    budget: float | None = None,
    memo: CheckMemo | None = None,
    parallel: bool | None = None,
) -> CheckReport:
    """Compile, lint, test (and optionally run notebooks) the change; the user's tree is only read.

    ``test_command=None`` means ``python -m pytest -q`` when the project has tests; ``[]`` means
    no tests. ``workdir`` is where the scratch copies go (default: the system temp dir).
    Everything runs in ``sandbox`` (default: :func:`agent_magic.sandbox.detect`); when it cannot
    run code, only the static checks run and the report says why. Setting ``stop`` ends the
    running check within a second and skips the rest.

    Related tests run nearest first within ``budget`` seconds; the rest are reported as not run.
    By default the nearest file runs whole, and the others while the tests' time stays within
    1.5 times its time (at least 3 s) and a sixth of ``timeout`` (at least 10 s). ``memo`` (one per
    session) makes a round whose diff and project did not change reuse the last report, and the
    unchanged project's baseline run once per content. The baseline runs in a copy of its own;
    with ``parallel`` (default: on 2 CPUs or more) beside the changed copy's runs, not after.
    """
    root_path = Path(root).expanduser().resolve()
    if not root_path.is_dir():
        raise UserError(f"project directory {root_path} does not exist")
    if timeout <= 0:
        raise UserError("timeout must be a positive number of seconds")
    changes = {checked_path(path): content for path, content in changes.items()}
    report = CheckReport()
    report.compile_errors, report.invalid_notebooks = static_problems(
        changes, _notebooks_before(root_path, changes)
    )
    confined = Confined(
        sandbox if sandbox is not None else detect(),
        stop=stop,
        hide=(root_path,),
        project=root_path,
    )
    report.sandbox = confined.sandbox.describe()
    report.network = confined.sandbox.available and confined.sandbox.network
    if not confined.can_run:
        report.not_run = report.sandbox
        return report
    lint_files = sorted(
        p for p, c in changes.items() if c is not None and p.endswith(PYTHON_SUFFIXES)
    )
    memo = memo if memo is not None else CheckMemo()
    index = RepoIndex(root_path, ranking=False, git_history=False)
    facts = _facts(index)
    content = digest(sorted((p, f.sha) for p, f in facts.items()))
    # The interpreter and the sandbox are part of what a round ran on, as is the project; with
    # no facts the project's content is unknown, so nothing is reused.
    key = digest(
        changes_key(changes),
        content,
        test_command,
        timeout,
        run_notebooks,
        full_suite,
        baseline,
        budget,
        kernel_name,
        sys.executable,
        confined.sandbox.describe(),
    )
    if facts and key in memo.last:
        memo.reused_rounds += 1
        reused = copy.deepcopy(memo.last[key])
        reused.notes.append(
            "the diff and the project did not change since the last round; "
            "its checks were reused, not run again"
        )
        return reused
    selection = _selection(changes, facts, root_path)
    try:
        _run_in_copies(
            report,
            root_path,
            changes,
            lint_files,
            confined,
            test_command=test_command,
            timeout=timeout,
            run_notebooks=run_notebooks,
            full_suite=full_suite,
            baseline=baseline,
            workdir=workdir,
            kernel_name=kernel_name,
            selection=selection,
            budget=budget if budget is not None else default_budget(timeout),
            relative=budget is None,
            parallel=parallel if parallel is not None else cpus() >= 2,
            memo=memo,
            content=content,
            durations=Durations(_state_file(index, "test-durations.json")),
        )
    except ChecksStopped:
        report.stopped = True
        report.notes.append("the checks were stopped before they finished")
    # A stopped or timed-out round is not an answer worth replaying, nor one whose unchanged
    # copy could not be tested (a full disk may have room by the next round).
    if not report.stopped and not report.timeouts and not report.baseline_problem:
        memo.remember_round(key, copy.deepcopy(report))
    return report


def default_budget(timeout: float) -> float:
    """The related tests' time budget for a test timeout: a share of it, at least 10 s."""
    return max(timeout / BUDGET_SHARE, min(timeout, 10.0))


def _facts(index: RepoIndex) -> dict[str, FileFacts]:
    try:
        return index.all_facts()
    except (OSError, PathError):
        return {}


def _state_file(index: RepoIndex, name: str) -> Path | None:
    try:
        return index.project.state_dir / "review" / name
    except (OSError, PathError):
        return None


def _selection(
    changes: Mapping[str, bytes | None], facts: Mapping[str, FileFacts], root: Path
) -> list[RelatedTest]:
    """Related test files for the staged change, from the index's import graph, nearest first."""
    names: dict[str, set[str]] = {}
    for path, content in changes.items():
        if not path.endswith(".py"):
            continue
        try:
            old = (root / path).read_text(encoding="utf-8") if (root / path).is_file() else None
        except (OSError, UnicodeDecodeError):
            old = None
        new = content.decode("utf-8", "replace") if content is not None else None
        names[path] = changed_definitions(old, new)
    view = dict(facts)
    for path, content in changes.items():  # staged files as they will be in the copy
        if content is None:
            view.pop(path, None)
        elif path.endswith(".py"):
            view[path] = scan_file(path, content)
    tests = [p for p in view if is_test_file(p)]
    return select_tests(changes, names, tests, view)


def _run_in_copies(
    report: CheckReport,
    root_path: Path,
    changes: Mapping[str, bytes | None],
    lint_files: list[str],
    confined: Confined,
    *,
    test_command: Sequence[str] | None,
    timeout: float,
    run_notebooks: bool,
    full_suite: bool | None,
    baseline: bool,
    workdir: str | os.PathLike[str] | None,
    kernel_name: str,
    selection: list[RelatedTest],
    budget: float,
    relative: bool,
    parallel: bool,
    memo: CheckMemo,
    content: str,
    durations: Durations,
) -> None:
    with ExitStack() as stack:
        # The unchanged project has a copy of its own: nothing the change's checks run can
        # write it (each command sees only its own copy writable), and the baseline can run
        # beside them. In parallel it is brought up to date while the changed one is.
        unchanged = stack.enter_context(
            UnchangedCopy(Scratch(root_path, {}, parent=workdir, keep=memo.unchanged, owner=memo))
        )
        if baseline and parallel:
            unchanged.start()
        after = stack.enter_context(
            Scratch(root_path, changes, parent=workdir, keep=memo.tree, owner=memo)
        )
        before_tree = unchanged.tree

        if after.skipped:
            report.notes.append(
                f"{len(after.skipped)} large or unreadable file(s) were not "
                "copied to the scratch copy"
            )
        _lint(report, lint_files, after, before_tree, timeout, confined, memo, content)
        base = Baseline(before_tree, content, memo, concurrent=parallel) if baseline else None
        _tests(
            report,
            test_command,
            selection,
            after,
            base,
            timeout,
            full_suite,
            confined,
            budget,
            relative,
            durations,
        )
        report.baseline_problem = base.problem if base is not None else ""
        if run_notebooks:
            _notebooks(
                report,
                changes,
                after,
                before_tree if baseline else None,
                timeout,
                kernel_name,
                confined,
                memo,
                content,
            )


def _lint(
    report: CheckReport,
    files: list[str],
    after: Scratch,
    before_tree: BaselineTree,
    timeout: float,
    confined: Confined,
    memo: CheckMemo,
    content: str,
) -> None:
    if not files:
        report.lint_ran = True
        return
    ruff = ruff_command()
    if ruff is None:
        report.notes.append("ruff is not installed; lint was skipped")
        return
    now = run_ruff(
        ruff,
        after.path,
        files,
        output=after.artifacts / "ruff.json",
        timeout=timeout,
        confined=confined,
    )
    if now.timed_out:
        report.timeouts.append("lint")
        return
    if now.error:
        report.notes.append(now.error)
        return
    key = digest("lint", content, files)
    # Without a problem now there is nothing to tell old from new: no unchanged copy needed.
    old = memo.baselines.get(key) if now.problems else []
    if old is None:
        with before_tree() as before:
            was = run_ruff(
                ruff,
                before.path,
                files,
                output=before.artifacts / "ruff-before.json",
                timeout=timeout,
                confined=confined,
            )
        old = was.problems
        if not was.error and not was.timed_out:
            memo.baselines[key] = old
    report.new_lint = new_problems(old, now.problems)
    report.lint_ran = True


def _tests(
    report: CheckReport,
    command: Sequence[str] | None,
    selection: list[RelatedTest],
    after: Scratch,
    baseline: Baseline | None,
    timeout: float,
    full_suite: bool | None,
    confined: Confined,
    budget: float,
    relative: bool,
    durations: Durations,
) -> None:
    if command is None:
        command = default_test_command(after.files)
        if command is None:
            report.notes.append("the project has no tests (no test_*.py or *_test.py files)")
            return
    if not command:
        report.notes.append("tests are turned off (empty test command)")
        return
    try:
        related = [r.path for r in selection if r.path in set(after.files)]
        outcome, notes = run_tests(
            command,
            related,
            after,
            baseline,
            timeout=timeout,
            full_suite=full_suite,
            confined=confined,
            budget=budget,
            durations=durations,
            relative=relative,
        )
        outcome.selected = related
    except OSError as exc:  # the command's program is missing or not executable
        report.tests = TestOutcome(command=list(command))
        report.notes.append(
            f"could not start the test command {' '.join(command)!r}: {exc.strerror or exc}"
        )
        return
    report.tests = outcome if outcome.ran else TestOutcome(command=list(command))
    report.notes += notes
    if outcome.timed_out:
        report.timeouts.append("tests")


def _notebooks(
    report: CheckReport,
    changes: Mapping[str, bytes | None],
    after: Scratch,
    before_tree: BaselineTree | None,
    timeout: float,
    kernel_name: str,
    confined: Confined,
    memo: CheckMemo,
    content: str,
) -> None:
    outcome = run_changed_notebooks(
        changes,
        after,
        before_tree,
        timeout=timeout,
        kernel_name=kernel_name,
        confined=confined,
        env=check_env(python_paths(after.path), write_bytecode=confined.confines_writes),
        skip=frozenset(p.path for p in report.invalid_notebooks),
        memo=memo,
        content=content,
    )
    report.notebooks_run += outcome.run
    report.notebook_failures += outcome.new
    report.notebook_environment += outcome.environment
    report.notebooks_already_failing += outcome.already_failing
    report.timeouts += outcome.timeouts
    report.notes += outcome.notes


def _notebooks_before(root: Path, changes: Mapping[str, bytes | None]) -> dict[str, bytes]:
    """The changed notebooks as they are in the project, to blame only what the change added."""
    before = {}
    for path in changes:
        if path.endswith(".ipynb"):
            try:
                before[path] = read_regular(root / path)
            except (OSError, AgentMagicError):
                continue  # new, unreadable or not a regular file: judged on its own
    return before
