"""Review at scale: precise related tests, a time budget, and no repeated work (real bwrap, git)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from agent_magic.analysis.scan import scan_file
from agent_magic.review import run_checks
from agent_magic.review.memo import CheckMemo
from agent_magic.review.selection import changed_definitions, select_tests
from agent_magic.sandbox import detect

MUL = "class Mul:\n    def value(self):\n        return 6\n\n\ndef helper():\n    return 1\n"
PACKAGE = {
    "pkg/__init__.py": "from pkg.core import Mul, Add\n",
    "pkg/core/__init__.py": "from pkg.core.mul import Mul\nfrom pkg.core.add import Add\n",
    "pkg/core/mul.py": MUL,
    "pkg/core/add.py": "class Add:\n    def value(self):\n        return 5\n",
    "pkg/core/tests/test_mul.py": "from pkg import Mul\n\n\ndef test_named():\n"
    "    assert Mul().value() == 6\n",
    "pkg/core/tests/test_direct.py": "from pkg.core.mul import helper\n\n\ndef test_direct():\n"
    "    assert helper() == 1\n",
    # Same name, but the standard library's: must never be picked for pkg/core/mul.py.
    "pkg/core/tests/test_operator.py": "from operator import mul\n\n\ndef test_op():\n"
    "    assert mul(2, 3) == 6\n",
    "tests/test_through_package.py": "from pkg import Mul\n\n\ndef test_through():\n"
    "    assert Mul().value() == 6\n",
    "tests/test_other_name.py": "from pkg import Add\n\n\ndef test_add():\n"
    "    assert Add().value() == 5\n",
}
CHANGED = MUL.replace("return 6", "return 6  # six")


def test_changed_definitions_names_the_enclosing_defs():
    assert changed_definitions(MUL, CHANGED) == {"Mul", "Mul.value"}
    assert changed_definitions(MUL, MUL + "\n# trailing comment\n") == set()


def test_selection_follows_the_import_graph_not_same_names():
    facts = {p: scan_file(p, t.encode()) for p, t in PACKAGE.items()}
    tests = [p for p in PACKAGE if "/test_" in p]
    picked = select_tests(
        ["pkg/core/mul.py"], {"pkg/core/mul.py": {"Mul", "Mul.value"}}, tests, facts
    )
    assert [(r.path, r.rank) for r in picked] == [
        ("pkg/core/tests/test_mul.py", 1),  # named after the module
        ("pkg/core/tests/test_direct.py", 2),  # imports it
        ("tests/test_through_package.py", 4),  # reaches it through pkg and uses Mul
    ]
    # A change outside any definition relates only the name and the direct importers.
    plain = select_tests(["pkg/core/mul.py"], {"pkg/core/mul.py": set()}, tests, facts)
    assert [r.path for r in plain] == [
        "pkg/core/tests/test_mul.py",
        "pkg/core/tests/test_direct.py",
    ]


class CountingSandbox:
    """The real sandbox, counting the commands it confines and the trees they run in."""

    def __init__(self) -> None:
        self.inner = detect()
        self.name, self.available, self.network = (
            self.inner.name,
            self.inner.available,
            self.inner.network,
        )
        self.trees: list[Path] = []
        self.threads: set[str] = set()
        self.test_trees: list[Path] = []  # where a pytest run (not the probe) started

    def describe(self) -> str:
        return self.inner.describe()

    def prepare(self, command, *, cwd, writable, env, hide=(), limits=None):
        self.trees.append(writable)
        self.threads.add(threading.current_thread().name)
        if "pytest" in command and "-c" not in command:
            self.test_trees.append(writable)
        return self.inner.prepare(
            command, cwd=cwd, writable=writable, env=env, hide=hide, limits=limits
        )


def test_review_runs_the_selected_tests_only(make_repo, tmp_path):
    root = make_repo(PACKAGE)
    sandbox = CountingSandbox()
    report = run_checks(
        root,
        {"pkg/core/mul.py": CHANGED.encode()},
        workdir=tmp_path / "w",
        sandbox=sandbox,
        full_suite=False,
        budget=100,  # a budget no loaded machine runs out of (past it the baseline is skipped)
    )
    t = report.tests
    assert t.selected == [
        "pkg/core/tests/test_mul.py",
        "pkg/core/tests/test_direct.py",
        "tests/test_through_package.py",
    ]
    assert sorted(t.passed) == [
        "pkg/core/tests/test_direct.py::test_direct",
        "pkg/core/tests/test_mul.py::test_named",
        "tests/test_through_package.py::test_through",
    ]
    assert report.ok and not t.not_run and t.baseline_ran
    # Two copies: the change's, and the unchanged project's for the baseline.
    assert len(set(sandbox.trees)) == 2
    assert (root / "pkg/core/mul.py").read_text() == MUL


@pytest.mark.parametrize("parallel", [True, False])
def test_the_baseline_runs_in_a_copy_of_its_own_beside_each_batch_or_after(
    make_repo, tmp_path, parallel
):
    root = make_repo(PACKAGE)
    counts = []
    for baseline in (True, False):
        sandbox = CountingSandbox()
        report = run_checks(
            root,
            {"pkg/core/mul.py": CHANGED.encode()},
            workdir=tmp_path / "w",
            sandbox=sandbox,
            full_suite=False,
            baseline=baseline,
            budget=100,  # a budget no loaded machine runs out of
            parallel=parallel,
        )
        assert report.tests.passed and report.tests.baseline_ran == baseline
        counts.append(sorted(Counter(sandbox.trees).values()))
        # beside: from a thread of its own, while the changed copy's batch runs
        assert ("agent-magic-beside" in sandbox.threads) == (baseline and parallel)
    with_baseline, without = counts
    assert len(without) == 1  # only the changed copy ran anything
    # The three related files ran in two batches (1, then 2): beside, the unchanged copy runs
    # each batch too; after, it runs them in one go.
    assert with_baseline == sorted([*without, 2 if parallel else 1])


def test_budget_exhaustion_is_reported_as_not_run_not_a_blocker(make_repo, tmp_path):
    root = make_repo(
        {
            "mod.py": "VALUE = 1\n",
            "tests/test_mod.py": "import mod\n\n\ndef test_fast():\n    assert mod.VALUE == 2\n",
            "tests/test_slow.py": "import time\n\nimport mod\n\n\ndef test_slow():\n"
            "    time.sleep(120)\n",
        }
    )
    report = run_checks(
        root,
        {"mod.py": b"VALUE = 2\n"},
        workdir=tmp_path / "w",
        timeout=60,
        budget=4,
        baseline=False,
    )
    t = report.tests
    assert t.selected == ["tests/test_mod.py", "tests/test_slow.py"]
    assert t.passed == ["tests/test_mod.py::test_fast"]  # the nearest ran first
    assert t.not_run == ["tests/test_slow.py"] and not t.timed_out
    assert not any(f.severity == "blocker" for f in report.findings())
    assert "not run (budget)" in report.summary()


def test_a_file_the_budget_cuts_midway_counts_as_not_run_and_the_checks_are_not_green(
    make_repo, tmp_path
):
    root = make_repo(
        {
            "mod.py": "VALUE = 1\n",
            "tests/test_mod.py": "import time\n\nimport mod\n\n\ndef test_fast():\n"
            "    assert mod.VALUE == 2\n\n\ndef test_slow():\n    time.sleep(120)\n",
        }
    )
    report = run_checks(
        root,
        {"mod.py": b"VALUE = 2\n"},
        workdir=tmp_path / "w",
        timeout=60,
        budget=4,
        baseline=False,
    )
    t = report.tests
    assert t.passed == ["tests/test_mod.py::test_fast"]  # it reported before the cut
    assert t.not_run == ["tests/test_mod.py"] and not t.timed_out  # but did not run to the end
    assert not report.headline().startswith("all green"), report.headline()
    assert "1 of 1 related test file(s) not run (budget)" in report.headline()
    assert report.summary().startswith("## Checks: incomplete")


@pytest.mark.slow
@pytest.mark.parametrize("parallel", [True, False])
def test_a_failure_in_a_batch_the_budget_cut_is_still_told_apart(make_repo, tmp_path, parallel):
    # The budget cuts the only batch in both copies; what failed before the cut is then run
    # alone in the unchanged copy, so an old failure is no blocker.
    root = make_repo(
        {
            "mod.py": "VALUE = 1\n",
            "tests/test_mod.py": "import time\n\nimport mod\n\n\n"
            "def test_known_bad():\n    assert mod.VALUE == 3\n\n\n"
            "def test_slow():\n    time.sleep(120)\n",
        }
    )
    report = run_checks(
        root,
        {"mod.py": b"VALUE = 2\n"},
        workdir=tmp_path / "w",
        timeout=60,
        budget=8,  # a loaded machine still reports the fast failure before the cut
        parallel=parallel,
    )
    t = report.tests
    assert t.not_run == ["tests/test_mod.py"] and not t.timed_out
    assert t.already_failing == ["tests/test_mod.py::test_known_bad"], report.summary()
    assert t.newly_failing == [] and t.baseline_ran
    assert not any(f.severity == "blocker" for f in report.findings())


@pytest.mark.slow
def test_the_unchanged_copy_beside_stops_at_the_budget_when_the_old_code_hangs(make_repo, tmp_path):
    # The change fixes a hang: the changed copy's run ends at once, the unchanged one's would
    # sleep past the timeout; beside, it stops at the budget (10 s of the 60 s timeout).
    root = make_repo(
        {
            "mod.py": "VALUE = 1\n",
            "tests/test_mod.py": "import time\n\nimport mod\n\n\n"
            "def test_value():\n    if mod.VALUE == 1:\n        time.sleep(120)\n"
            "    assert mod.VALUE == 2\n",
        }
    )
    start = time.monotonic()
    report = run_checks(
        root, {"mod.py": b"VALUE = 2\n"}, workdir=tmp_path / "w", timeout=60, parallel=True
    )
    assert time.monotonic() - start < 40  # not the 60 s timeout
    assert report.ok and report.tests.passed == ["tests/test_mod.py::test_value"]
    assert any("did not finish 1 test file(s) in time" in n for n in report.notes), report.notes


def _sleeper(seconds: float) -> str:
    return (
        "import time\n\nimport mod\n\n\n"
        f"def test_sleeps():\n    time.sleep({seconds})\n    assert mod.VALUE == 2\n"
    )


@pytest.mark.slow
@pytest.mark.parametrize("parallel", [True, False])
def test_the_nearest_file_runs_whole_and_the_rest_within_1_5_times_its_time(
    make_repo, tmp_path, parallel
):
    # A slow nearest file (8 s) sets the pace: the next batch (a, b: 0.5 s each) fits in 1.5
    # times its time; the last (z: 20 s) does not. The share-of-timeout budget (100 s) would
    # run them all.
    root = make_repo(
        {
            "mod.py": "VALUE = 1\n",
            "tests/test_mod.py": _sleeper(8),
            "tests/test_a.py": _sleeper(0.5),
            "tests/test_b.py": _sleeper(0.5),
            "tests/test_z.py": _sleeper(20),
        }
    )
    sandbox = CountingSandbox()
    report = run_checks(
        root,
        {"mod.py": b"VALUE = 2\n"},
        workdir=tmp_path / "w",
        sandbox=sandbox,
        timeout=600,
        full_suite=False,
        parallel=parallel,
    )
    t = report.tests
    assert t.selected == [
        "tests/test_mod.py",
        "tests/test_a.py",
        "tests/test_b.py",
        "tests/test_z.py",
    ]
    assert t.passed == [
        "tests/test_a.py::test_sleeps",
        "tests/test_b.py::test_sleeps",
        "tests/test_mod.py::test_sleeps",
    ]
    assert t.not_run == ["tests/test_z.py"] and not t.timed_out
    assert not any(f.severity == "blocker" for f in report.findings())
    assert "not run (budget)" in report.summary()
    assert 8 <= t.elapsed < 40, t.elapsed  # the nearest file whole, the rest within 1.5 x it
    # Three batches in the changed copy (the last one cut); the unchanged copy ran each beside
    # it, or afterwards the files that ran, in one go.
    assert sorted(Counter(sandbox.test_trees).values()) == ([3, 3] if parallel else [1, 3])


@pytest.mark.slow
def test_a_stop_during_the_concurrent_runs_stops_both(make_repo, tmp_path):
    root = make_repo({"mod.py": "VALUE = 1\n", "tests/test_mod.py": _sleeper(60)})
    sandbox = CountingSandbox()
    stop = threading.Event()
    stopped_at: list[float] = []

    def stop_once_both_run() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(set(sandbox.test_trees)) < 2:
            time.sleep(0.05)
        time.sleep(1)  # both pytest processes are inside their sleep by now
        stopped_at.append(time.monotonic())
        stop.set()

    stopper = threading.Thread(target=stop_once_both_run)
    stopper.start()
    report = run_checks(
        root,
        {"mod.py": b"VALUE = 2\n"},
        workdir=tmp_path / "w",
        sandbox=sandbox,
        timeout=600,
        stop=stop,
        parallel=True,
    )
    ended = time.monotonic()
    stopper.join()
    assert len(set(sandbox.test_trees)) == 2  # both copies were running the test
    assert report.stopped and not any(f.severity == "blocker" for f in report.findings())
    # Both commands ended at the stop, not at the test's 60 s sleep or the timeout.
    assert ended - stopped_at[0] < 15
    assert list((tmp_path / "w").iterdir()) == []


def test_an_unchanged_round_reuses_checks_and_the_baseline_runs_once(make_repo, tmp_path):
    root = make_repo(
        {
            "calc.py": "def add(a, b):\n    return a + b\n",
            "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n"
            "    assert add(1, 2) == 3\n",
        }
    )
    sandbox = CountingSandbox()
    memo = CheckMemo()
    broken = {"calc.py": b"def add(a, b):\n    return a - b\n"}
    first = run_checks(root, broken, workdir=tmp_path / "w", sandbox=sandbox, memo=memo)
    assert first.tests.newly_failing == ["tests/test_calc.py::test_add"]
    assert first.tests.baseline_ran
    runs = len(sandbox.trees)
    again = run_checks(root, dict(broken), workdir=tmp_path / "w", sandbox=sandbox, memo=memo)
    assert len(sandbox.trees) == runs and memo.reused_rounds == 1  # nothing ran again
    assert again.tests.newly_failing == first.tests.newly_failing
    assert any("reused" in n for n in again.notes)
    # Another diff, same project: the baseline is not run again (only the changed copy is).
    other = run_checks(
        root,
        {"calc.py": b"def add(a, b):\n    return a * b\n"},
        workdir=tmp_path / "w",
        sandbox=sandbox,
        memo=memo,
    )
    assert other.tests.newly_failing == ["tests/test_calc.py::test_add"]
    assert memo.reused_baselines == 1 and other.tests.baseline_ran
    # The user edits the project between rounds: its content changed, so checks run again.
    (root / "calc.py").write_text("def add(a, b):\n    return b + a\n")
    before = len(sandbox.trees)
    run_checks(root, dict(broken), workdir=tmp_path / "w", sandbox=sandbox, memo=memo)
    assert len(sandbox.trees) > before


def test_agent_fix_rounds_without_a_change_rerun_nothing(sample_repo):
    from agent_magic.agent import Agent
    from agent_magic.events import ChecksDone
    from agent_magic.models.scripted import ScriptedModel
    from tests.scripts import FIX_OLD, PLAN, REVIEW_OK, UNDERSTAND, call, turn

    broken = '    return round(float(text.strip().lstrip("$").replace(",", "")))'
    idle = turn(call("finish", summary="nothing to change"))
    script = [
        UNDERSTAND,
        *PLAN,
        turn(call("replace", path="shoplytics/cleaning.py", old=FIX_OLD, new=broken)),
        turn(call("finish", summary="rounded prices")),
        REVIEW_OK,
        idle,
        REVIEW_OK,
        idle,
        REVIEW_OK,
    ]  # two fix rounds that change nothing
    sandbox = CountingSandbox()
    commands = []  # commands run so far, at the end of each round's checks

    def on_event(event):
        if isinstance(event, ChecksDone):
            commands.append(len(sandbox.trees))

    session = Agent(sample_repo, ScriptedModel(script), sandbox=sandbox, on_event=on_event).run(
        "fix it"
    )
    assert session.stop_reason == "done", session.error
    assert session.review_rounds == 3 and session.open_blockers  # the test still fails
    assert len(commands) == 3 and commands[0] > 0
    assert commands[0] == commands[1] == commands[2]  # rounds 2 and 3 ran no command
    assert session.check_memo.reused_rounds == 2
    assert session.checks.tests.newly_failing == session.checks_before.tests.newly_failing
