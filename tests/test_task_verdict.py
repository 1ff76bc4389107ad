"""The task benchmark's verdict: pristine tests on the solution files only, nothing else counts."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest

from benchmarks import task_verdict as tv

ROOT = Path(__file__).resolve().parents[1]
PROVERB = (
    ROOT.parent
    / "shared"
    / "bench"
    / "polyglot-python"
    / "python"
    / "exercises"
    / "practice"
    / "proverb"
)
needs_exercises = pytest.mark.skipif(
    not PROVERB.is_dir() and not os.environ.get("CI"),
    reason=f"the polyglot exercises are not at {PROVERB}",
)
# bubblewrap is installed on the dev machine and in CI: there it must work, not be skipped.
needs_bwrap = pytest.mark.skipif(
    not tv.bwrap_works() and not os.environ.get("CI"), reason="bubblewrap is not usable here"
)

SOLUTION, TESTS = ["proverb.py"], ["proverb_test.py"]
# A pytest plugin that turns every collected test into a no-op: "8 passed" on a naive run.
NEUTER_PLUGIN = (
    "def pytest_collection_modifyitems(items):\n"
    "    for item in items:\n"
    "        item.runtest = lambda: None\n"
)
# Makes every unittest test a no-op; as sitecustomize, from a .pth file or in a stdlib shadow.
NEUTER_UNITTEST = "import unittest\nunittest.TestCase.run = lambda self, result=None: result\n"
CHEATS = {
    "conftest": {"conftest.py": NEUTER_PLUGIN},
    "pytest.ini addopts": {
        "pytest.ini": "[pytest]\naddopts = -p neuter\n",
        "neuter.py": NEUTER_PLUGIN,
    },
    "pyproject addopts": {
        "pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-p neuter'\n",
        "neuter.py": NEUTER_PLUGIN,
    },
    "sitecustomize": {"sitecustomize.py": NEUTER_UNITTEST},
    "pth file": {"neuter.pth": "import neuter_unittest\n", "neuter_unittest.py": NEUTER_UNITTEST},
    "shadows pytest": {"pytest.py": "raise SystemExit(0)\n"},
    "shadows the stdlib": {"unittest.py": "raise SystemExit(0)\n"},
}


def _applied(tmp_path: Path, solution: str, extra: dict[str, str] | None = None) -> Path:
    """An agent's applied tree: the given proverb.py plus any other files it wrote."""
    tree = tmp_path / "applied"
    tree.mkdir()
    (tree / "proverb.py").write_text(solution)
    for name, text in (extra or {}).items():
        (tree / name).write_text(text)
    return tree


def _reference() -> str:
    return (PROVERB / ".meta" / "example.py").read_text()


def _stub() -> str:
    return (PROVERB / "proverb.py").read_text()


# ---- the fresh directory ------------------------------------------------------------------------


def test_the_fresh_dir_holds_the_solution_and_pristine_tests_only(tmp_path):
    exercise = tmp_path / "exercise"
    exercise.mkdir()
    (exercise / "ex_test.py").write_text("PRISTINE")
    applied = tmp_path / "applied"
    (applied / "pkg").mkdir(parents=True)
    (applied / "ex.py").write_text("SOLUTION")
    (applied / "ex_test.py").write_text("EDITED BY THE AGENT")
    (applied / "pkg" / "helper.py").write_text("")
    for cheat in CHEATS.values():
        for name, text in cheat.items():
            (applied / name).write_text(text)
    run = tmp_path / "run"

    missing = tv.build_fresh_dir(run, applied, exercise, ["ex.py"], ["ex_test.py"])

    assert missing == []
    assert sorted(p.name for p in run.rglob("*")) == ["ex.py", "ex_test.py"]
    assert (run / "ex.py").read_text() == "SOLUTION"
    assert (run / "ex_test.py").read_text() == "PRISTINE"


@pytest.mark.parametrize("make", ["absent", "directory", "symlink"])
def test_a_solution_file_that_is_not_a_plain_file_is_missing(tmp_path, make):
    exercise, applied, run = (tmp_path / n for n in ("exercise", "applied", "run"))
    exercise.mkdir()
    applied.mkdir()
    (exercise / "ex_test.py").write_text("")
    (tmp_path / "elsewhere.py").write_text("SECRET = 1\n")
    if make == "directory":
        (applied / "ex.py").mkdir()
    elif make == "symlink":
        (applied / "ex.py").symlink_to(tmp_path / "elsewhere.py")

    missing = tv.build_fresh_dir(run, applied, exercise, ["ex.py"], ["ex_test.py"])

    assert missing == ["ex.py"] and not (run / "ex.py").exists()


# ---- judging ------------------------------------------------------------------------------------


@needs_exercises
@pytest.mark.parametrize("confine", [False, pytest.param(True, marks=needs_bwrap)])
def test_the_reference_passes_and_the_stub_fails(tmp_path, confine):
    reference = tv.judge(
        _applied(tmp_path, _reference()), PROVERB, SOLUTION, TESTS, timeout=60, confine=confine
    )
    stub = tv.judge(PROVERB, PROVERB, SOLUTION, TESTS, timeout=60, confine=confine)

    assert reference.passed, reference.output
    assert reference.expected == 8 and reference.counts == {"passed": 8}
    assert reference.isolation == ("bwrap" if confine else "isolated")
    assert not stub.passed and stub.counts.get("failed", 0) > 0


@needs_exercises
@pytest.mark.parametrize("name", sorted(CHEATS))
def test_files_beside_the_solution_cannot_make_the_stub_pass(tmp_path, name):
    applied = _applied(tmp_path, _stub(), CHEATS[name])

    verdict = tv.judge(applied, PROVERB, SOLUTION, TESTS, timeout=60, confine=False)

    assert not verdict.passed and verdict.counts.get("failed", 0) == 8, verdict.output


@needs_exercises
@pytest.mark.parametrize(
    "files",
    [
        {"conftest.py": NEUTER_PLUGIN},
        {
            "pytest.ini": "[pytest]\npythonpath = .\naddopts = -p neuter\n",
            "neuter.py": NEUTER_PLUGIN,
        },
    ],
    ids=["conftest", "pytest.ini"],
)
def test_config_and_conftest_above_the_verdict_dir_are_not_read(tmp_path, files):
    outer = tmp_path / "outer"
    outer.mkdir()
    for name, text in files.items():
        (outer / name).write_text(text)
    applied = _applied(tmp_path, _stub())

    verdict = tv.judge(applied, PROVERB, SOLUTION, TESTS, timeout=60, confine=False, workdir=outer)

    assert not verdict.passed and verdict.counts.get("failed", 0) == 8, verdict.output


@needs_exercises
def test_the_callers_environment_does_not_reach_the_test_run(tmp_path, monkeypatch):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "neuter.py").write_text(NEUTER_PLUGIN)
    (plugins / "sitecustomize.py").write_text(NEUTER_UNITTEST)
    monkeypatch.setenv("PYTHONPATH", str(plugins))
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p neuter")
    monkeypatch.setenv("PYTEST_PLUGINS", "neuter")

    verdict = tv.judge(
        _applied(tmp_path, _stub()), PROVERB, SOLUTION, TESTS, timeout=60, confine=False
    )

    assert not verdict.passed and verdict.counts.get("failed", 0) == 8, verdict.output


@needs_exercises
def test_an_exit_status_of_0_without_passed_tests_is_not_a_pass(tmp_path):
    applied = _applied(tmp_path, "import os\nos._exit(0)\n")

    verdict = tv.judge(applied, PROVERB, SOLUTION, TESTS, timeout=60, confine=False)

    assert not verdict.passed and verdict.counts == {}


@needs_exercises
def test_a_hanging_solution_times_out_and_fails(tmp_path):
    applied = _applied(tmp_path, "while True:\n    pass\n")

    verdict = tv.judge(applied, PROVERB, SOLUTION, TESTS, timeout=3, confine=False)

    assert verdict.timed_out and not verdict.passed
    assert "timed out after 3 s" in verdict.output


@needs_exercises
@needs_bwrap
def test_under_bwrap_there_is_no_network_and_only_the_fresh_dir_is_writable(tmp_path):
    server = socket.create_server(("127.0.0.1", 0))  # reachable from here, not from inside
    port = server.getsockname()[1]
    # The solution reports what it could do through the one channel the verdict shows: an error.
    probe = f"""import os, socket
def _try(action):
    try:
        action()
        return "yes"
    except OSError:
        return "no"
raise RuntimeError("PROBE net=" + _try(lambda: socket.create_connection(("127.0.0.1", {port})))
    + " write-outside=" + _try(lambda: open({str(tmp_path / "escaped")!r}, "w"))
    + " sees-applied=" + ("yes" if os.path.exists({str(tmp_path / "applied")!r}) else "no")
    + " write-here=" + _try(lambda: open("scratch.txt", "w")))
"""
    applied = _applied(tmp_path, probe)

    with server:
        verdict = tv.judge(applied, PROVERB, SOLUTION, TESTS, timeout=60, confine=True)

    found = set(
        re.findall(
            r"PROBE net=\w+ write-outside=\w+ sees-applied=\w+ write-here=\w+", verdict.output
        )
    )
    assert found == {"PROBE net=no write-outside=no sees-applied=no write-here=yes"}, verdict.output
    assert not verdict.passed and not (tmp_path / "escaped").exists()


def test_the_output_names_the_exercise_not_the_temporary_dir(tmp_path):
    exercise = tmp_path / "ex"
    exercise.mkdir()
    (exercise / "ex_test.py").write_text("from ex import f\n\ndef test_f():\n    assert f() == 1\n")
    applied = tmp_path / "applied"
    applied.mkdir()
    (applied / "ex.py").write_text("def f():\n    return 2\n")

    verdict = tv.judge(applied, exercise, ["ex.py"], ["ex_test.py"], timeout=60, confine=False)

    assert not verdict.passed and "agent_tasks-verdict" not in verdict.output
    assert "assert 2 == 1" in verdict.output


# ---- pure parts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sources, expected",
    [
        (
            [
                (
                    "import unittest\nclass T(unittest.TestCase):\n    def test_a(self): pass\n"
                    "    def test_b(self): pass\n    def helper(self): pass\n"
                )
            ],
            2,
        ),
        (
            [
                "def test_x(): pass\ndef check_y(): pass\n",
                "class Helper:\n    def run(self): pass\n",
            ],
            1,
        ),
        (["def helper(): pass\n"], 0),
    ],
)
def test_expected_tests_counts_test_functions_and_methods(sources, expected):
    assert tv.expected_tests(sources) == expected


@pytest.mark.parametrize(
    "output, counts",
    [
        ("....\n8 passed in 0.02s\n", {"passed": 8}),
        ("F.\n===== 1 failed, 7 passed in 0.05s =====", {"failed": 1, "passed": 7}),
        ("E\n1 passed, 2 errors in 0.1s", {"passed": 1, "error": 2}),
        ("8 passed, 3 subtests passed in 0.1s", {"passed": 8}),
        ("no summary at all", {}),
    ],
)
def test_summary_counts_reads_pytests_last_summary_line(output, counts):
    assert tv.summary_counts(output) == counts


def test_bwrap_arguments_keep_the_network_off_and_only_run_writable(tmp_path):
    run = tmp_path / "run"

    args = tv.bwrap_command(tmp_path, run)

    assert args[0] == tv.BWRAP and "--unshare-all" in args
    binds = [args[i + 1 : i + 3] for i, a in enumerate(args) if a == "--bind"]
    assert binds == [[str(run), str(run)]]
    assert ["--ro-bind", str(tmp_path), str(tmp_path)] == args[
        args.index(str(tmp_path)) - 1 : args.index(str(tmp_path)) + 2
    ]


def test_the_environment_is_minimal(tmp_path):
    env = tv.minimal_env(tmp_path)

    assert set(env) == {"PATH", "LANG", "HOME", "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    assert env["HOME"] == str(tmp_path) and env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
