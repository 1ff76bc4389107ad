"""Red team of the baseline in its own copy (issue 23): real bwrap, real git repos, real pytest."""

from __future__ import annotations

import sys

import pytest

from agent_magic.review import run_checks
from agent_magic.review.process import Confined
from agent_magic.review.scratch import Scratch
from agent_magic.review.testrun import Baseline

KNOWN_BAD = "import mod\n\n\ndef test_known_bad():\n    assert mod.VALUE == 3\n"
# The change adds a failing test to a file the project already has.
WITH_NEW = KNOWN_BAD + "\n\ndef test_new():\n    assert mod.VALUE == 4\n"


def test_failures_rerun_alone_skip_ids_the_unchanged_project_lacks(make_repo, tmp_path):
    # pytest refuses to run anything when one id is not found (exit 4): an old failure named
    # beside a test only the change has must still be found failing in the unchanged copy.
    root = make_repo({"mod.py": "VALUE = 1\n", "tests/test_mod.py": KNOWN_BAD})
    baseline = Baseline(lambda: Scratch(root, {}, parent=tmp_path / "w"), "content")
    got = baseline.results(
        [sys.executable, "-m", "pytest", "-q"],
        ["tests/test_mod.py::test_known_bad", "tests/test_mod.py::test_new"],
        timeout=60,
        log="baseline.log",
        confined=Confined(),
    )
    assert got is not None
    assert got.failed == {"tests/test_mod.py::test_known_bad"}, got


@pytest.mark.slow
@pytest.mark.parametrize("parallel", [True, False])
def test_an_old_failure_next_to_a_new_test_in_a_cut_batch_is_already_failing(
    make_repo, tmp_path, parallel
):
    slow = "\n\ndef test_slow():\n    import time\n\n    time.sleep(120)\n"
    root = make_repo({"mod.py": "VALUE = 1\n", "tests/test_mod.py": KNOWN_BAD + slow})
    report = run_checks(
        root,
        {"mod.py": b"VALUE = 2\n", "tests/test_mod.py": (WITH_NEW + slow).encode()},
        workdir=tmp_path / "w",
        timeout=60,
        budget=8,  # cuts the only batch in both copies: the failures are then run alone
        parallel=parallel,
    )
    t = report.tests
    assert t.not_run == ["tests/test_mod.py"] and t.baseline_ran
    assert t.already_failing == ["tests/test_mod.py::test_known_bad"], report.summary()
    assert t.newly_failing == ["tests/test_mod.py::test_new"], report.summary()
