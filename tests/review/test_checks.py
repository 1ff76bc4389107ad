"""run_checks on tiny real projects: real git repos, real pytest and ruff subprocesses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent_magic.errors import UserError
from agent_magic.review import run_checks
from agent_magic.review.testrun import with_interpreter

from .test_scratch import snapshot

CALC = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a + b  # bug\n"
TEST_CALC = (
    "from calc import add, sub\n\n\n"
    "def test_add():\n    assert add(1, 2) == 3\n\n\n"
    "def test_sub():\n    assert sub(3, 1) == 2\n"
)
TEST_KNOWN_BAD = "def test_known_bad():\n    assert 1 == 2\n"
TEST_OTHER = "def test_other():\n    assert True\n"
# A test budget (a sixth of the timeout) no loaded machine runs out of: past it the unchanged
# copy is not tested and fixed tests go unreported, by design (tests/review/test_scale.py).
UNHURRIED = 600.0


@pytest.fixture
def calc_repo(make_repo):
    """A project with a bug in sub (test_sub fails) and an unrelated test that always fails."""
    return make_repo(
        {
            "calc.py": CALC,
            "tests/test_calc.py": TEST_CALC,
            "tests/test_known_bad.py": TEST_KNOWN_BAD,
            "tests/test_other.py": TEST_OTHER,
        }
    )


BROKEN_ADD_FIXED_SUB = CALC.replace("return a + b\n\n", "return a - b\n\n").replace(
    "a + b  # bug", "a - b"
)


# parallel: the unchanged copy's run goes beside the changed copy's; else after it
@pytest.mark.parametrize("parallel", [True, False])
def test_newly_failing_fixed_and_already_failing_are_told_apart(calc_repo, tmp_path, parallel):
    before = snapshot(calc_repo)
    report = run_checks(
        calc_repo,
        {"calc.py": BROKEN_ADD_FIXED_SUB.encode()},
        workdir=tmp_path / "w",
        full_suite=True,
        timeout=UNHURRIED,
        parallel=parallel,
    )
    t = report.tests
    assert t.ran and t.scope == "full" and t.baseline_ran
    assert t.newly_failing == ["tests/test_calc.py::test_add"]
    assert t.fixed == ["tests/test_calc.py::test_sub"]
    assert t.already_failing == ["tests/test_known_bad.py::test_known_bad"]
    assert "tests/test_other.py::test_other" in t.passed
    assert not report.ok
    blockers = [f for f in report.findings() if f.severity == "blocker"]
    assert [(f.source, f.path) for f in blockers] == [("tests", "tests/test_calc.py")]
    assert "test_add" in blockers[0].message and "assert" in blockers[0].message
    summary = report.summary()
    assert "newly failing: 1" in summary and "already failing" in summary
    assert "test_known_bad" in summary
    # The user's tree is only read, and the scratch copies are gone.
    assert snapshot(calc_repo) == before
    assert list((tmp_path / "w").iterdir()) == []


@pytest.mark.parametrize("parallel", [True, False])
def test_related_test_batches_are_told_apart_beside_or_after(make_repo, tmp_path, parallel):
    # Two related files, so two batches (1 file, then 1): each is compared with the unchanged
    # copy's run of the same batch.
    root = make_repo(
        {
            "calc.py": CALC,
            "tests/test_calc.py": TEST_CALC,
            "tests/test_calc_more.py": "import calc\n\n\n" + TEST_KNOWN_BAD,
        }
    )
    report = run_checks(
        root,
        {"calc.py": BROKEN_ADD_FIXED_SUB.encode()},
        workdir=tmp_path / "w",
        full_suite=False,
        budget=UNHURRIED / 6,  # explicit: past 1.5 x the nearest file the default would stop
        parallel=parallel,
    )
    t = report.tests
    assert t.selected == ["tests/test_calc.py", "tests/test_calc_more.py"] and not t.not_run
    assert t.baseline_ran
    assert t.newly_failing == ["tests/test_calc.py::test_add"]
    assert t.fixed == ["tests/test_calc.py::test_sub"]
    assert t.already_failing == ["tests/test_calc_more.py::test_known_bad"]
    blockers = [f for f in report.findings() if f.severity == "blocker"]
    assert [f.path for f in blockers] == ["tests/test_calc.py"]
    assert list((tmp_path / "w").iterdir()) == []


def test_a_fix_alone_is_ok_and_preexisting_failures_are_not_blamed(calc_repo, tmp_path):
    report = run_checks(
        calc_repo,
        {"calc.py": CALC.replace("a + b  # bug", "a - b").encode()},
        workdir=tmp_path / "w",
        timeout=UNHURRIED,
    )
    assert report.ok, report.summary()
    assert report.tests.fixed == ["tests/test_calc.py::test_sub"]
    assert report.tests.already_failing == ["tests/test_known_bad.py::test_known_bad"]
    assert report.findings() == []


def test_without_baseline_every_failure_counts_as_new(calc_repo, tmp_path):
    report = run_checks(
        calc_repo, {"README.md": b"docs\n"}, workdir=tmp_path / "w", baseline=False, full_suite=True
    )
    assert not report.tests.baseline_ran
    assert set(report.tests.newly_failing) == {
        "tests/test_calc.py::test_sub",
        "tests/test_known_bad.py::test_known_bad",
    }
    assert "no baseline" in report.summary()


def test_related_tests_only(calc_repo, tmp_path):
    report = run_checks(
        calc_repo,
        {"calc.py": CALC.encode() + b"\n# note\n"},
        workdir=tmp_path / "w",
        full_suite=False,
    )
    t = report.tests
    assert t.scope == "related"
    assert t.passed == ["tests/test_calc.py::test_add"]
    assert t.already_failing == ["tests/test_calc.py::test_sub"]


def test_auto_runs_the_whole_suite_after_related_tests_pass(make_repo, tmp_path):
    root = make_repo(
        {
            "calc.py": CALC.replace("a + b  # bug", "a - b"),
            "tests/test_calc.py": TEST_CALC,
            "tests/test_other.py": TEST_OTHER,
        }
    )
    report = run_checks(
        root,
        {"calc.py": CALC.replace("a + b  # bug", "a - b").encode() + b"\n# note\n"},
        workdir=tmp_path / "w",
    )
    assert report.tests.scope == "full"
    assert "tests/test_other.py::test_other" in report.tests.passed


def test_auto_stops_at_newly_failing_related_tests(calc_repo, tmp_path):
    broken = CALC.replace("return a + b\n\n", "return 0\n\n")
    report = run_checks(calc_repo, {"calc.py": broken.encode()}, workdir=tmp_path / "w")
    assert report.tests.scope == "related"
    assert report.tests.newly_failing == ["tests/test_calc.py::test_add"]


def test_a_new_failing_test_file_is_newly_failing(calc_repo, tmp_path):
    new_test = b"def test_new():\n    assert False, 'nope'\n"
    report = run_checks(
        calc_repo, {"tests/test_new.py": new_test}, workdir=tmp_path / "w", full_suite=False
    )
    assert report.tests.newly_failing == ["tests/test_new.py::test_new"]
    assert "nope" in report.tests.reasons["tests/test_new.py::test_new"]


def test_hanging_tests_are_killed_at_the_timeout(make_repo, tmp_path):
    root = make_repo(
        {
            "slow.py": "import time\n",
            "tests/test_slow.py": "import time\n\n\ndef test_hang():\n    time.sleep(600)\n",
        }
    )
    work = tmp_path / "w"
    report = run_checks(
        root, {"slow.py": b"import time  # changed\n"}, workdir=work, timeout=3, full_suite=True
    )
    assert report.tests.timed_out and "tests" in report.timeouts
    assert not report.ok
    # A timeout says nothing about the change: reported, never a blocker by itself.
    assert any(f.severity == "major" and "timed out" in f.message for f in report.findings())
    assert not any(f.severity == "blocker" for f in report.findings())
    assert "timed out" in report.summary()
    assert list(work.iterdir()) == []


def test_copy_not_editable_install_is_tested(make_repo, tmp_path, monkeypatch):
    root = make_repo(
        {
            "src/calc/__init__.py": "def add(a, b):\n    return a + b\n",
            "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n"
            "    assert add(1, 2) == 3\n",
        }
    )
    # As if the package were pip-installed in editable mode from the user's real tree.
    monkeypatch.setenv("PYTHONPATH", str(root / "src"))
    report = run_checks(
        root, {"src/calc/__init__.py": b"def add(a, b):\n    return 0\n"}, workdir=tmp_path / "w"
    )
    assert report.tests.newly_failing == ["tests/test_calc.py::test_add"]


@pytest.mark.parametrize(
    ("ok_code", "expected"),
    [
        ("3", "newly"),  # the change breaks the command
        ("4", "already"),  # it failed before the change too
    ],
)
def test_non_pytest_command_is_judged_by_exit_code(make_repo, tmp_path, ok_code, expected):
    root = make_repo({"calc.py": "def add(a, b):\n    return a + b\n"})
    command = [
        sys.executable,
        "-c",
        f"import sys, calc; sys.exit(0 if calc.add(1, 2) == {ok_code} else 1)",
    ]
    report = run_checks(
        root,
        {"calc.py": b"def add(a, b):\n    return 4\n"},
        test_command=command,
        workdir=tmp_path / "w",
        timeout=UNHURRIED,
    )
    label = "`" + " ".join(command) + "`"
    if expected == "newly":
        assert report.tests.newly_failing == [label] and not report.ok
    else:
        assert report.tests.already_failing == [] and report.tests.fixed == [label]


def test_missing_test_program_is_a_note_not_a_crash(make_repo, tmp_path):
    root = make_repo({"a.py": "a = 1\n"})
    report = run_checks(
        root, {"a.py": b"a = 2\n"}, workdir=tmp_path / "w", test_command=["no-such-test-runner-xyz"]
    )
    assert not report.tests.ran
    assert any("could not start" in n for n in report.notes)
    assert list((tmp_path / "w").iterdir()) == []


def test_project_without_tests_skips_them_with_a_note(make_repo, tmp_path):
    root = make_repo({"a.py": "a = 1\n"})
    report = run_checks(root, {"a.py": b"a = 2\n"}, workdir=tmp_path / "w")
    assert not report.tests.ran and report.ok
    assert any("no tests" in n for n in report.notes)


def test_syntax_error_is_a_blocker(make_repo, tmp_path):
    root = make_repo({"a.py": "a = 1\n"})
    report = run_checks(
        root, {"a.py": b"a = 1\ndef broken(:\n    pass\n"}, workdir=tmp_path / "w", test_command=[]
    )
    assert not report.ok
    [problem] = report.compile_errors
    assert (problem.path, problem.line) == ("a.py", 2)
    [finding] = report.findings()
    assert (finding.severity, finding.source, finding.line_start) == ("blocker", "compile", 2)
    assert report.new_lint == []  # ruff's own syntax error is left to the compile check


RUFF_CONFIG = '[tool.ruff.lint]\nselect = ["F"]\nignore = ["F841"]\n'


def test_only_new_lint_is_reported_with_the_projects_config(make_repo, tmp_path):
    original = "import os\n\n\ndef f():\n    return 1\n"
    root = make_repo({"pyproject.toml": RUFF_CONFIG, "m.py": original})
    changed = (
        "import os\nimport sys\n\n\ndef f():\n    unused = 2\n"
        "    return 1  # a line far longer than the default limit of eighty-eight chars\n"
    )
    report = run_checks(root, {"m.py": changed.encode()}, workdir=tmp_path / "w")
    assert report.lint_ran
    # F401 for os existed before (moved lines do not matter); F841 and E501 are off by config.
    assert [(p.code, p.line) for p in report.new_lint] == [("F401", 2)]
    assert "sys" in report.new_lint[0].message
    [finding] = report.findings()
    assert (finding.severity, finding.source, finding.path) == ("minor", "lint", "m.py")
    assert not report.ok


def test_lint_of_a_new_file_reports_everything(make_repo, tmp_path):
    root = make_repo({"pyproject.toml": RUFF_CONFIG})
    report = run_checks(root, {"new.py": b"import json\n"}, workdir=tmp_path / "w", baseline=False)
    assert [p.code for p in report.new_lint] == ["F401"]


def test_invalid_notebook_is_a_blocker(make_repo, tmp_path):
    root = make_repo({"a.py": ""})
    bad = b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}'
    report = run_checks(root, {"nb.ipynb": bad}, workdir=tmp_path / "w", run_notebooks=True)
    [problem] = report.invalid_notebooks
    assert problem.path == "nb.ipynb" and "invalid notebook" in problem.message
    assert report.notebooks_run == []  # an invalid notebook is not executed
    assert [(f.severity, f.source) for f in report.findings()] == [("blocker", "notebook")]


def _notebook(*cells: tuple[str, list[str]]) -> bytes:
    import nbformat

    nb = nbformat.v4.new_notebook()
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nbformat.writes(nb).encode()


def test_notebook_failing_cell_is_reported_and_tagged_cells_skipped(make_repo, tmp_path):
    root = make_repo({"calc.py": "def add(a, b):\n    return a + b\n"})
    nb = _notebook(
        ("from calc import add\nx = add(1, 2)", []),
        ("import time\ntime.sleep(600)", ["skip-agent"]),
        ("raise RuntimeError('costly')", ["expensive"]),
        ("assert x == 3\nraise ValueError('boom')", []),
        ("print('never')", []),
    )
    report = run_checks(
        root, {"analysis.ipynb": nb}, workdir=tmp_path / "w", run_notebooks=True, timeout=60
    )
    assert report.notebooks_run == ["analysis.ipynb"]
    [failure] = report.notebook_failures
    assert failure.cell == 3 and "ValueError: boom" in failure.message
    assert not report.ok
    [finding] = report.findings()
    assert finding.source == "notebook" and finding.message.startswith("cell 3:")
    assert list((tmp_path / "w").iterdir()) == []


@pytest.mark.slow
def test_notebook_failures_are_told_apart_from_ones_the_notebook_already_had(make_repo, tmp_path):
    from agent_magic.review.memo import CheckMemo

    missing = "import no_such_module_abc"
    root = make_repo(
        {
            "calc.py": "def add(a, b):\n    return a + b\n",
            # fails before and after, the same way: a package the environment lacks
            "old.ipynb": _notebook((missing, []), ("x = 1", [])).decode(),
            # runs before; the change breaks it
            "broken.ipynb": _notebook(("from calc import add\nassert add(1, 2) == 3", [])).decode(),
            # runs before; the change imports a module the sandboxed kernel lacks
            "newdep.ipynb": _notebook(("y = 1", [])).decode(),
        }
    )
    changes = {
        "old.ipynb": _notebook((missing, []), ("x = 2", [])),
        "calc.py": b"def add(a, b):\n    return a - b\n",
        "broken.ipynb": _notebook(("from calc import add\nassert add(1, 2) == 3, 'sum'", [])),
        "newdep.ipynb": _notebook(("import other_missing_module_xyz\ny = 1", [])),
        "fresh.ipynb": _notebook(("raise ValueError('new notebook')", [])),
    }
    memo = CheckMemo()
    report = run_checks(
        root,
        changes,
        workdir=tmp_path / "w",
        run_notebooks=True,
        timeout=60,
        test_command=[],
        memo=memo,
    )
    assert sorted(report.notebooks_run) == [
        "broken.ipynb",
        "fresh.ipynb",
        "newdep.ipynb",
        "old.ipynb",
    ]
    [old] = report.notebooks_already_failing
    assert old.path == "old.ipynb" and old.cell == 0
    assert "already failed before this change" in old.message
    assert "missing module 'no_such_module_abc'" in old.message
    [env] = report.notebook_environment
    assert env.path == "newdep.ipynb"
    assert "environment: missing module 'other_missing_module_xyz'" in env.message
    new = {p.path: p for p in report.notebook_failures}
    assert sorted(new) == ["broken.ipynb", "fresh.ipynb"]
    assert "AssertionError: sum" in new["broken.ipynb"].message
    assert "before the change" not in new["broken.ipynb"].message  # it ran through before
    assert any("fresh.ipynb is new" in n for n in report.notes)
    severities = sorted((f.severity, f.path) for f in report.findings())
    assert severities == [
        ("blocker", "broken.ipynb"),
        ("blocker", "fresh.ipynb"),
        ("major", "newdep.ipynb"),
        ("minor", "old.ipynb"),
    ]
    summary = report.summary()
    assert "Already failing before this change" in summary and "old.ipynb cell 0" in summary
    # three unchanged notebooks ran once each; a later round reuses them
    assert len(memo.baselines) == 3


def test_notebooks_are_not_run_unless_asked(make_repo, tmp_path):
    root = make_repo({"a.py": ""})
    report = run_checks(
        root, {"n.ipynb": _notebook(("raise ValueError()", []))}, workdir=tmp_path / "w"
    )
    assert report.ok and report.notebooks_run == []


def test_bad_input_is_a_user_error(tmp_path):
    with pytest.raises(UserError):
        run_checks(tmp_path / "missing", {})
    with pytest.raises(UserError):
        run_checks(tmp_path, {"../x.py": b""})
    with pytest.raises(UserError):
        run_checks(tmp_path, {}, timeout=0)


def test_summary_is_bounded(make_repo, tmp_path):
    root = make_repo({"pyproject.toml": '[tool.ruff.lint]\nselect = ["F"]\n'})
    many = "".join(f"import mod{i}\n" for i in range(200)).encode()
    report = run_checks(root, {"many.py": many}, workdir=tmp_path / "w")
    assert len(report.new_lint) == 200
    summary = report.summary()
    assert "… and 190 more" in summary and len(summary) <= 6000


def test_two_rounds_break_then_fix_like_the_fix_loop(calc_repo, tmp_path):
    broken = CALC.replace("return a + b\n\n", "return a * b\n\n")
    first = run_checks(calc_repo, {"calc.py": broken.encode()}, workdir=tmp_path / "w")
    assert [f.severity for f in first.findings()] == ["blocker"]
    fixed = CALC.replace("a + b  # bug", "a - b")
    second = run_checks(calc_repo, {"calc.py": fixed.encode()}, workdir=tmp_path / "w")
    assert second.ok and second.findings() == []
    assert second.summary().startswith("## Checks: all green")


def test_missing_pytest_is_a_note_not_a_failing_test(calc_repo, tmp_path):
    # An interpreter without pytest, as in a fresh venv the user never installed it into.
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    report = run_checks(
        calc_repo,
        {"tests/test_new.py": b"def test_new():\n    assert True\n"},
        test_command=[python, "-m", "pytest", "-q"],
    )
    assert report.tests.ran is False
    assert not [f for f in report.findings() if f.source == "tests"]
    assert any("pytest is not installed" in note for note in report.notes)


@pytest.mark.parametrize(
    "command, expected",
    [
        (["python", "-m", "pytest"], [sys.executable, "-m", "pytest"]),
        (["python3", "-m", "pytest", "-q"], [sys.executable, "-m", "pytest", "-q"]),
        (["pytest", "-q"], ["pytest", "-q"]),
        (["/opt/py/bin/python", "-m", "pytest"], ["/opt/py/bin/python", "-m", "pytest"]),
    ],
)
def test_a_bare_python_means_the_kernels_interpreter(command, expected):
    assert with_interpreter(command) == expected


# nbformat 4.4 does not allow cell ids: a notebook like this is invalid before any change.
OLD_WITH_IDS = (
    b'{"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": ['
    b'{"cell_type": "code", "id": "a", "metadata": {}, "execution_count": null, '
    b'"outputs": [], "source": "x = 1"}]}'
)


@pytest.mark.parametrize(
    "before, after, blamed",
    [
        # a BOM is legal in a notebook file
        (None, b"\xef\xbb\xbf" + OLD_WITH_IDS.replace(b'"id": "a", ', b""), False),
        # already invalid the same way: not the change's doing
        (OLD_WITH_IDS, OLD_WITH_IDS.replace(b"x = 1", b"x = 2"), False),
        # a new kind of problem: blamed
        (
            OLD_WITH_IDS,
            OLD_WITH_IDS.replace(b'"metadata": {}, "cells"', b'"metadata": [], "cells"'),
            True,
        ),
    ],
)
def test_a_notebook_is_blamed_only_for_problems_the_change_added(
    make_repo, tmp_path, before, after, blamed
):
    root = make_repo({"a.py": "", **({"nb.ipynb": before.decode()} if before else {})})
    report = run_checks(
        root, {"nb.ipynb": after}, workdir=tmp_path / "w", test_command=[], baseline=False
    )
    assert bool(report.invalid_notebooks) is blamed, report.invalid_notebooks


def test_failure_reasons_are_kept_whole_not_cut_to_the_terminal_width(make_repo, tmp_path):
    # pytest cuts a short-summary reason to the terminal's width unless verbosity is 2+;
    # a long test id left "was: ValueEr..." in every report.
    long_name = "test_" + "a_rather_long_descriptive_name_" * 3 + "parses"
    message = "bad price: '$1,234.50' is not a number the parser understands at all"
    test = (
        "from price import parse\n\n\n"
        f"def {long_name}():\n    assert parse('$1,234.50') == 1234.5\n"
    )
    root = make_repo(
        {
            "price.py": f"def parse(text):\n    raise ValueError({message!r})\n",
            "tests/test_price.py": test,
        }
    )
    report = run_checks(
        root,
        {"price.py": b"def parse(text):\n    return float(text.lstrip('$').replace(',', ''))\n"},
        workdir=tmp_path / "w",
    )
    test_id = f"tests/test_price.py::{long_name}"
    assert report.tests.fixed == [test_id]
    assert report.tests.reasons[test_id] == f"was: ValueError: {message}"
    assert f"was: ValueError: {message}" in report.summary()


@pytest.mark.parametrize("parallel", [True, False])
def test_a_check_that_rewrites_a_test_in_the_copy_cannot_poison_the_baseline(
    calc_repo, tmp_path, parallel
):
    # A test the agent adds rewrites an untouched test of the copy as it is collected: with the
    # change test_add fails; the unchanged project must still pass it, or the break hides as
    # "already failing" (and the baseline is cached for the session).
    planted = (
        "from pathlib import Path\n\n"
        "Path(__file__).with_name('test_calc.py').write_text(\n"
        "    'def test_add():\\n    assert False\\n'\n"
        ")\n\n\n"
        "def test_planted():\n    assert True\n"
    )
    report = run_checks(
        calc_repo,
        {"tests/test_aaa.py": planted.encode()},
        workdir=tmp_path / "w",
        full_suite=True,
        timeout=UNHURRIED,
        parallel=parallel,
    )
    t = report.tests
    assert t.baseline_ran
    assert "tests/test_calc.py::test_add" in t.newly_failing, report.summary()
    assert "tests/test_calc.py::test_add" not in t.already_failing
    assert not report.ok
