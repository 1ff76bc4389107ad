"""Red team of the baseline in its own copy (issue 23): real bwrap, real git repos, real pytest."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from agent_magic.review import run_checks
from agent_magic.review.kept import KeptTree
from agent_magic.review.memo import CheckMemo
from agent_magic.review.process import Confined
from agent_magic.review.report import CheckReport
from agent_magic.review.scratch import Scratch
from agent_magic.review.testrun import Baseline, run_pair
from agent_magic.sandbox import detect

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


PLANT = """
import json, os, sys
from pathlib import Path
from agent_magic.review.kept import KeptTree
from agent_magic.review.memo import CheckMemo
from agent_magic.review.report import CheckReport
from agent_magic.review.scratch import Scratch

root, work = Path(sys.argv[1]), Path(sys.argv[2])
kept = KeptTree()
with Scratch(root, {}, parent=work, keep=kept) as first:  # what a check may do in its copy
    for folder in (first.path, first.path / "pkg"):
        (folder / "conftest.py").write_text("import os\\n")
        folder.chmod(0o555)
    (first.path / "pkg").chmod(0o000)
    first.path.chmod(0o000)
with Scratch(root, {}, parent=work, keep=kept) as second:
    print(json.dumps({
        "reused": kept.syncs == 1,
        "planted": [p for p in ("conftest.py", "pkg/conftest.py") if (second.path / p).exists()],
        "writable": os.access(second.path, os.W_OK) and os.access(second.path / "pkg", os.W_OK),
    }))
kept.close()
"""


def test_a_file_a_check_planted_under_a_dir_it_made_read_only_is_gone_next_round(
    make_repo, tmp_path
):
    # A check may write a conftest.py (which could make every later test pass) and chmod the
    # copy's directories read-only; the next round, even another run's, starts from the project.
    # Run as a user whom directory modes bind (root without the override capability).
    root = make_repo({"mod.py": "VALUE = 1\n", "pkg/__init__.py": "", "tests/test_mod.py": ""})
    got = json.loads(as_user(PLANT, root, tmp_path / "w"))
    assert got == {"reused": True, "planted": [], "writable": True}
    assert not list((tmp_path / "w").iterdir())


LOCKED_OUT = """
import sys
from pathlib import Path
from agent_magic.review.kept import KeptTree
from agent_magic.review.memo import CheckMemo
from agent_magic.review.report import CheckReport
from agent_magic.review.scratch import Scratch

root, work = Path(sys.argv[1]), Path(sys.argv[2])
for keep in (None, KeptTree()):
    with Scratch(root, {}, parent=work, keep=keep) as copy:  # a check locks itself out
        (copy.path / "pkg" / "deep").mkdir()
        (copy.path / "pkg" / "deep" / "f").write_text("x")
        (copy.path / "pkg" / "deep").chmod(0)
        (copy.path / "pkg").chmod(0)
    if keep is not None:
        keep.close()
print("ok")
"""


def test_a_copy_with_a_directory_a_check_locked_is_still_deleted(make_repo, tmp_path):
    # rmtree reports a directory it cannot open as onerror(os.open, path): retrying os.open
    # with the path alone raised TypeError out of the review.
    root = make_repo({"mod.py": "VALUE = 1\n", "pkg/__init__.py": ""})
    assert as_user(LOCKED_OUT, root, tmp_path / "w").strip() == "ok"
    assert not list((tmp_path / "w").iterdir())


def as_user(script: str, root: Path, work: Path) -> str:
    """``script``'s output, run as a user whom directory modes bind (root: without overrides)."""
    prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    if os.geteuid() != 0:
        prefix = []
    elif shutil.which("setpriv") is None:
        pytest.skip("setpriv is needed to drop root's override of directory modes")
    out = subprocess.run(
        [*prefix, sys.executable, "-c", script, str(root), str(work)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@contextmanager
def no_room() -> Iterator[Scratch]:
    raise OSError(errno.ENOSPC, "No space left on device")
    yield  # a generator: the error comes when the copy is entered


@pytest.mark.parametrize("concurrent", [True, False])
def test_an_unchanged_copy_that_cannot_be_made_keeps_the_changed_copy_s_results(
    make_repo, tmp_path, concurrent
):
    # The second copy doubles the disk a review needs: when it cannot be made, the changed
    # copy's results stand (every failure counts as new), not "could not start the tests".
    root = make_repo({"mod.py": "VALUE = 1\n", "tests/test_mod.py": KNOWN_BAD})
    baseline = Baseline(no_room, "content", concurrent=concurrent)
    with Scratch(root, {"mod.py": b"VALUE = 2\n"}, parent=tmp_path / "w") as after:
        outcome, notes = run_pair(
            [sys.executable, "-m", "pytest", "-q"],
            after,
            baseline,
            ["tests/test_mod.py"],
            timeout=60,
            scope="related",
            confined=Confined(),
            budget=50,
        )
    assert outcome.newly_failing == ["tests/test_mod.py::test_known_bad"]
    assert not outcome.baseline_ran
    assert any("No space left on device" in n for n in notes), notes


CRASH = """
import os, signal, sys
from pathlib import Path
from agent_magic.review.scratch import Scratch
from agent_magic.review.kept import KeptTree
from agent_magic.review.memo import CheckMemo
from agent_magic.review.report import CheckReport

root, work = Path(sys.argv[1]), Path(sys.argv[2])
kept = [KeptTree(), KeptTree()]  # the changed copy and the unchanged one
for keep in kept:
    with Scratch(root, {}, parent=work, keep=keep):
        pass
print("made", flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # the kernel dies: no exit handler runs
"""


def test_kept_copies_of_a_process_that_died_are_deleted_by_the_next_one(make_repo, tmp_path):
    # A kernel killed (out of memory, a restart that timed out) leaves its two kept copies
    # per project behind; the next process to keep one deletes them, never a live one's.
    root = make_repo({"mod.py": "VALUE = 1\n", "tests/test_mod.py": KNOWN_BAD})
    work = tmp_path / "w"
    live = KeptTree()
    with Scratch(root, {}, parent=work, keep=live):
        pass
    dead = subprocess.run(
        [sys.executable, "-c", CRASH, str(root), str(work)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert dead.stdout == "made\n", dead.stderr
    assert len(list(work.iterdir())) == 3
    again = KeptTree()
    with Scratch(root, {}, parent=work, keep=again) as copy:
        assert copy.base is not None
        left = sorted(work.iterdir())
        assert left == sorted([live.base, again.base]), left
    live.close()
    again.close()
    assert not list(work.iterdir())


@pytest.mark.slow
def test_failures_rerun_alone_after_the_unchanged_copy_ran_out_of_time_say_fixed_is_unknown(
    make_repo, tmp_path
):
    # The old code hangs in one test, so the unchanged copy does not finish the file beside;
    # the old failure is still told apart (run alone), and the note says a fixed test there
    # (test_fixed) could not be seen.
    old = (
        "import time\n\nimport mod\n\n\n"
        "def test_value():\n    if mod.VALUE == 1:\n        time.sleep(120)\n\n\n"
        "def test_known_bad():\n    assert mod.VALUE == 3\n\n\n"
        "def test_fixed():\n    assert mod.VALUE == 2\n"
    )
    root = make_repo({"mod.py": "VALUE = 1\n", "tests/test_mod.py": old})
    report = run_checks(
        root, {"mod.py": b"VALUE = 2\n"}, workdir=tmp_path / "w", timeout=60, parallel=True
    )
    t = report.tests
    assert t.already_failing == ["tests/test_mod.py::test_known_bad"], report.summary()
    assert t.newly_failing == [] and t.fixed == []
    assert any("fixed tests there are not reported" in n for n in report.notes), report.notes


PARAMS = "import pytest\n\n\n@pytest.mark.parametrize('v', {})\ndef test_v(v):\n    assert v > 5\n"


def test_failures_rerun_alone_beside_a_parameter_only_the_change_has(make_repo, tmp_path):
    # pytest reports a parameter it cannot find as its function: the function then runs whole.
    root = make_repo({"tests/test_p.py": PARAMS.format("[1, 2, 9]")})
    baseline = Baseline(lambda: Scratch(root, {}, parent=tmp_path / "w"), "content")
    got = baseline.results(
        [sys.executable, "-m", "pytest", "-q"],
        ["tests/test_p.py::test_v[1]", "tests/test_p.py::test_v[3]", "tests/test_p.py::test_w"],
        timeout=60,
        log="baseline.log",
        confined=Confined(),
    )
    assert got is not None
    assert got.failed == {"tests/test_p.py::test_v[1]", "tests/test_p.py::test_v[2]"}, got


@pytest.mark.parametrize("parallel", [True, False])
def test_a_run_failing_without_test_ids_in_both_copies_is_already_failing(
    make_repo, tmp_path, parallel
):
    # pytest cannot load the conftest in either copy: no test ids, the command is the only one.
    # Beside, the unchanged copy ran the same files to the end: nothing "did not finish".
    root = make_repo(
        {
            "mod.py": "VALUE = 1\n",
            "conftest.py": "raise RuntimeError('broken conftest')\n",
            "tests/test_mod.py": "import mod\n\n\ndef test_value():\n    assert mod.VALUE\n",
        }
    )
    report = run_checks(
        root, {"mod.py": b"VALUE = 2\n"}, workdir=tmp_path / "w", timeout=60, parallel=parallel
    )
    t = report.tests
    assert t.baseline_ran and t.newly_failing == [] and len(t.already_failing) == 1, t
    assert not any("did not finish" in n for n in report.notes), report.notes


class FullOnce:
    """The real sandbox, but the first command in the unchanged copy fails as a full disk
    would (its copy, its log)."""

    def __init__(self, memo: CheckMemo) -> None:
        self.real = detect()
        self.memo = memo
        self.failed = False
        self.name, self.network = self.real.name, self.real.network

    @property
    def available(self) -> bool:
        """As the real one."""
        return self.real.available

    def describe(self) -> str:
        """As the real one."""
        return self.real.describe()

    def prepare(self, command: list[str], **kwargs: Any) -> tuple[list[str], dict[str, str]]:
        """Fail once in the unchanged copy, else prepare as the real one."""
        base = self.memo.unchanged.base
        if not self.failed and base is not None and base in Path(kwargs["cwd"]).parents:
            self.failed = True
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.real.prepare(command, **kwargs)


@pytest.mark.parametrize("parallel", [True, False])
def test_a_round_whose_unchanged_copy_could_not_be_made_is_not_replayed(
    make_repo, tmp_path, parallel
):
    # The next identical round runs its checks again: the disk may have room by then.
    root = make_repo({"mod.py": "VALUE = 1\n", "tests/test_mod.py": KNOWN_BAD})
    memo = CheckMemo()
    change = {"mod.py": b"VALUE = 2\n"}
    sandbox = FullOnce(memo)

    def round_() -> CheckReport:
        return run_checks(
            root,
            change,
            workdir=tmp_path / "w",
            timeout=60,
            memo=memo,
            parallel=parallel,
            sandbox=sandbox,
        )

    first = round_()
    assert first.baseline_problem and first.tests.newly_failing, first
    second = round_()
    assert memo.reused_rounds == 0
    assert second.tests.baseline_ran and not second.baseline_problem
    assert second.tests.already_failing == ["tests/test_mod.py::test_known_bad"], second.tests
    third = round_()
    assert memo.reused_rounds == 1 and third.tests.already_failing == second.tests.already_failing
