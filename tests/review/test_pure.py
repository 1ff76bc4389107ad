"""Table-driven tests of the pure parts: pytest output, run comparison, selection, lint diff."""

from __future__ import annotations

import pytest

from agent_magic.analysis.scan import scan_file
from agent_magic.review.lint import new_problems
from agent_magic.review.notebooks import skipped
from agent_magic.review.pytest_output import (
    TestResults,
    compare_runs,
    parse_pytest_lines,
    split_id,
)
from agent_magic.review.report import CheckProblem, CheckReport, TestOutcome
from agent_magic.review.selection import (
    is_pytest_command,
    is_test_file,
    select_tests,
)
from agent_magic.review.static import compile_problem


@pytest.mark.parametrize(
    ("rest", "node", "reason"),
    [
        ("tests/t.py::test_a", "tests/t.py::test_a", ""),
        ("tests/t.py::test_a - AssertionError: x", "tests/t.py::test_a", "AssertionError: x"),
        ("tests/t.py::test_p[a - b] - boom", "tests/t.py::test_p[a - b]", "boom"),
        (
            "tests/t.py::T::test_m[1] - ValueError - nested",
            "tests/t.py::T::test_m[1]",
            "ValueError - nested",
        ),
        ("tests/t.py", "tests/t.py", ""),
    ],
)
def test_split_id(rest, node, reason):
    assert split_id(rest) == (node, reason)


@pytest.mark.parametrize(
    ("lines", "passed", "failed"),
    [
        (["PASSED t.py::a", "FAILED t.py::b - assert 1 == 2"], {"t.py::a"}, {"t.py::b"}),
        (["ERROR t.py - ImportError: no module"], set(), {"t.py"}),
        (["PASSED t.py::a", "ERROR t.py::a - teardown"], set(), {"t.py::a"}),  # teardown error wins
        (["XFAIL t.py::x - known", "XPASS t.py::y"], {"t.py::x", "t.py::y"}, set()),
        (["SKIPPED [1] t.py:3: no db"], set(), set()),
        (["FAILED to connect to the database", "ERROR: usage: pytest"], set(), set()),
        (["  PASSED t.py::indented"], set(), set()),  # not a summary line
        (["= 1 failed, 2 passed in 0.1s ="], set(), set()),
    ],
)
def test_parse_pytest_lines(lines, passed, failed):
    results = parse_pytest_lines(lines)
    assert (results.passed, results.failed) == (passed, failed)


def test_parse_keeps_reason_of_failure():
    results = parse_pytest_lines(["FAILED t.py::b - assert 1 == 2"])
    assert results.reasons == {"t.py::b": "assert 1 == 2"}


def _res(passed=(), failed=()):
    return TestResults(set(passed), set(failed))


@pytest.mark.parametrize(
    ("before", "after", "new", "already", "fixed"),
    [
        (_res(["a", "b"]), _res(["a"], ["b"]), ["b"], [], []),
        (_res(["a"], ["b"]), _res(["a"], ["b"]), [], ["b"], []),
        (_res(["a"], ["b"]), _res(["a", "b"]), [], [], ["b"]),
        (_res(["a"], ["b"]), _res(["a"]), [], [], []),  # a removed failing test is not "fixed"
        (_res(["a"]), _res(["a"], ["new"]), ["new"], [], []),  # a new failing test is new
        (None, _res(["a"], ["b"]), ["b"], [], []),  # no baseline: every failure counts as new
    ],
)
def test_compare_runs(before, after, new, already, fixed):
    result = compare_runs(before, after)
    assert (result.newly_failing, result.already_failing, result.fixed) == (new, already, fixed)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["pytest"], True),
        (["/venv/bin/pytest", "-x"], True),
        (["python", "-m", "pytest", "-q"], True),
        (["py.test"], True),
        (["tox", "-e", "py"], False),
        (["make", "test"], False),
        (["python", "-m", "unittest"], False),
        (["python", "-c", "import pytest"], False),
    ],
)
def test_is_pytest_command(command, expected):
    assert is_pytest_command(command) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("tests/test_a.py", True),
        ("a_test.py", True),
        ("tests/conftest.py", False),
        ("test_data.json", False),
        ("src/testing.py", False),
    ],
)
def test_is_test_file(path, expected):
    assert is_test_file(path) is expected


def _select(changed, sources):
    facts = {p: scan_file(p, t.encode()) for p, t in sources.items()}
    tests = [p for p in sources if is_test_file(p)]
    return [r.path for r in select_tests(changed, {}, tests, facts)]


def test_related_tests_by_name_import_and_change():
    sources = {
        "pkg/__init__.py": "",
        "pkg/mod.py": "X = 1\n",
        "tests/test_mod.py": "def test(): pass\n",
        "tests/test_uses.py": "from pkg import mod\n",
        "tests/test_dotted.py": "import pkg.mod as m\n",
        "tests/test_other.py": "import json\n",
        "tests/test_changed.py": "import json\n",
    }
    related = _select(["pkg/mod.py", "tests/test_changed.py"], sources)
    assert related == [
        "tests/test_changed.py",
        "tests/test_mod.py",
        "tests/test_dotted.py",
        "tests/test_uses.py",
    ]


def test_related_tests_skip_deleted_test_files():
    assert _select(["tests/test_gone.py"], {"a.py": "", "tests/test_a.py": "import a\n"}) == []


def test_related_tests_none_for_docs_change():
    assert _select(["README.md"], {"a.py": "", "tests/test_a.py": "import a\n"}) == []


def _p(path, code, message, line=1):
    return CheckProblem(path=path, code=code, message=message, line=line)


@pytest.mark.parametrize(
    ("before", "after", "new"),
    [
        ([], [_p("a.py", "F401", "`os` unused")], [_p("a.py", "F401", "`os` unused")]),
        # The same problem on a different line (code moved) is not new.
        ([_p("a.py", "F401", "`os` unused", 1)], [_p("a.py", "F401", "`os` unused", 9)], []),
        # A second copy of the same problem is new.
        (
            [_p("a.py", "F841", "x")],
            [_p("a.py", "F841", "x"), _p("a.py", "F841", "x", 5)],
            [_p("a.py", "F841", "x", 5)],
        ),
        ([_p("a.py", "F401", "`os` unused")], [], []),
        (
            [_p("a.py", "F401", "`os` unused")],
            [_p("b.py", "F401", "`os` unused")],
            [_p("b.py", "F401", "`os` unused")],
        ),
    ],
)
def test_new_problems(before, after, new):
    assert new_problems(before, after) == new


@pytest.mark.parametrize(
    ("source", "line", "fragment"),
    [
        (b"x = 1\n", None, None),
        (b"def f(:\n    pass\n", 1, "SyntaxError"),
        (b"x = 1\nreturn x\n", 2, "'return' outside function"),
        (b"if x:\npass\n", 2, "IndentationError"),
        (b"x = 1\x00\n", None, "null bytes"),
    ],
)
def test_compile_problem(source, line, fragment):
    problem = compile_problem("m.py", source)
    if fragment is None:
        assert problem is None
    else:
        assert problem is not None and fragment in problem.message and problem.line == line


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({}, False),
        ({"tags": ["skip-agent"]}, True),
        ({"tags": ["expensive", "x"]}, True),
        ({"tags": ["parameters"]}, False),
        ({"expensive": True}, True),
    ],
)
def test_skipped_cells(metadata, expected):
    assert skipped({"metadata": metadata}) is expected


def test_colored_summary_lines_are_parsed():
    # Jupyter kernels export FORCE_COLOR; pytest then colors its short summary.
    lines = [
        "\x1b[32mPASSED\x1b[0m tests/test_a.py::\x1b[1mtest_ok\x1b[0m",
        "\x1b[31mFAILED\x1b[0m tests/test_a.py::\x1b[1mtest_bad\x1b[0m - assert 1 == 2",
    ]
    results = parse_pytest_lines(lines)
    assert results.passed == {"tests/test_a.py::test_ok"}
    assert results.failed == {"tests/test_a.py::test_bad"}


def _run(ename: str = "", evalue: str = "", *, timed_out: bool = False, ok: bool = False):
    from agent_magic.review.notebooks import NotebookRun

    if ok:
        return NotebookRun(None)
    message = f"{ename}: {evalue}" if ename else "timed out after 5s"
    return NotebookRun(
        CheckProblem("nb.ipynb", message, cell=1), timed_out, ename=ename, evalue=evalue
    )


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, _run(ok=True), "ok"),
        (_run("ValueError", "x"), _run(ok=True), "ok"),
        (None, _run("ValueError", "boom"), "new"),  # no baseline: every failure is new
        (_run(ok=True), _run("ValueError", "boom"), "new"),
        (_run("ValueError", "boom"), _run("ValueError", "boom"), "already_failing"),
        (_run("ValueError", "boom"), _run("ValueError", "other"), "new"),
        (_run("KeyError", "'a'"), _run("ValueError", "'a'"), "new"),
        # the same object at another address is the same failure
        (_run("TypeError", "<A at 0x7f01>"), _run("TypeError", "<A at 0x7e99>"), "already_failing"),
        (_run(ok=True), _run("ModuleNotFoundError", "No module named 'sns'"), "environment"),
        (None, _run("FileNotFoundError", "[Errno 2] No such file: 'd.csv'"), "environment"),
        (
            _run("ModuleNotFoundError", "No module named 'sns'"),
            _run("ModuleNotFoundError", "No module named 'sns'"),
            "already_failing",
        ),
        # a change that adds another missing module is the change's environment problem
        (
            _run("ModuleNotFoundError", "No module named 'sns'"),
            _run("ModuleNotFoundError", "No module named 'plotly'"),
            "environment",
        ),
        (_run(timed_out=True), _run(timed_out=True), "already_failing"),
        (_run(ok=True), _run(timed_out=True), "new"),
    ],
)
def test_notebook_verdict(before, after, expected):
    from agent_magic.review.notebooks import verdict

    assert verdict(before, after) == expected


@pytest.mark.parametrize(
    ("ename", "evalue", "expected"),
    [
        ("ModuleNotFoundError", "No module named 'seaborn'", "missing module 'seaborn'"),
        ("ImportError", "No module named 'a.b'", "missing module 'a.b'"),
        ("ImportError", "cannot import name 'x' from 'm'", ""),  # an API change, not the env
        (
            "FileNotFoundError",
            "[Errno 2] No such file or directory: 'data/train.csv'",
            "missing file 'data/train.csv'",
        ),
        ("NoSuchKernel", "julia-1.9", "no kernel named 'julia-1.9' in the environment"),
        ("ValueError", "No module named 'x'", ""),
        ("", "", ""),
    ],
)
def test_environment_problem(ename, evalue, expected):
    from agent_magic.review.notebooks import environment_problem

    assert environment_problem(ename, evalue) == expected


@pytest.mark.parametrize(
    ("evalue", "exists", "where"),
    [
        ("[Errno 2] No such file or directory: 'data/big.csv'", True, "not in the scratch copy"),
        ("[Errno 2] No such file or directory: 'data/typo.csv'", False, ""),  # the change's
        ("[Errno 2] No such file or directory: '/srv/data.csv'", False, "absolute path"),
        ("[Errno 2] No such file or directory: '../../shared/x.csv'", False, "outside"),
        ("no quoted name", False, ""),
    ],
)
def test_a_missing_file_is_the_environments_only_when_the_copy_lacks_it(
    tmp_path, evalue, exists, where
):
    from agent_magic.review.notebooks import NotebookOutcome, NotebookRun, classify

    if exists:
        (tmp_path / "nb" / "data").mkdir(parents=True)
        (tmp_path / "nb" / "data" / "big.csv").write_text("x\n")
    run = NotebookRun(
        CheckProblem("nb/a.ipynb", f"FileNotFoundError: {evalue}", cell=0),
        ename="FileNotFoundError",
        evalue=evalue,
    )
    outcome = NotebookOutcome()
    classify(outcome, "nb/a.ipynb", NotebookRun(None), run, tmp_path)
    if where:
        [problem] = outcome.environment
        assert where in problem.message and not outcome.new
    else:
        [problem] = outcome.new
        assert not outcome.environment


@pytest.mark.parametrize(
    "report, line",
    [
        (CheckReport(not_run="no sandbox"), "not run: no sandbox"),
        (
            CheckReport(
                lint_ran=True,
                tests=TestOutcome(ran=True, scope="related", passed=["t::a", "t::b"]),
            ),
            "all green (compile, lint, 2 related test(s) passed)",
        ),
        (
            CheckReport(
                lint_ran=True,
                new_lint=[CheckProblem("a.py", "unused", code="F401")],
                tests=TestOutcome(
                    ran=True,
                    scope="full",
                    newly_failing=["t.py::test_price"],
                    reasons={"t.py::test_price": "ValueError: bad price '$1,234.50'"},
                ),
            ),
            (
                "problems found: 1 new lint, 1 newly failing test(s) — "
                "t.py::test_price: ValueError: bad price '$1,234.50'"
            ),
        ),
        (
            CheckReport(sandbox="UNSANDBOXED: --unsandboxed"),
            "all green (compile) · ran UNSANDBOXED (opted in)",
        ),
        (  # the budget left selected tests out: never "all green", even with nothing failing
            CheckReport(
                tests=TestOutcome(
                    ran=True, scope="related", selected=["t.py", "u.py"], not_run=["t.py", "u.py"]
                )
            ),
            (
                "incomplete (compile, 0 related test(s) passed, "
                "2 of 2 related test file(s) not run (budget))"
            ),
        ),
        (
            CheckReport(
                tests=TestOutcome(
                    ran=True,
                    scope="related",
                    newly_failing=["t.py::a"],
                    selected=["t.py", "u.py"],
                    not_run=["u.py"],
                )
            ),
            (
                "problems found: 1 newly failing test(s), "
                "1 of 2 related test file(s) not run (budget) — t.py::a"
            ),
        ),
    ],
)
def test_check_headline(report, line):
    assert report.headline() == line
