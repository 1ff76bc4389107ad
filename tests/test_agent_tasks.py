"""The task-success benchmark's plumbing, offline: scripted models on real exercises and repos."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent_magic.events import ToolUsed
from agent_magic.models.scripted import ScriptedModel
from benchmarks import agent_tasks as at
from benchmarks.task_verdict import bwrap_works
from tests.scripts import call, turn

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT.parent / "shared" / "bench" / "polyglot-python"
SCRIPTS = ROOT / "benchmarks" / "scripts"
# CI always has shared/ beside the clone: there a missing data dir must fail, not skip.
needs_exercises = pytest.mark.skipif(
    not EXERCISES.is_dir() and not os.environ.get("CI"),
    reason=f"the polyglot exercises are not at {EXERCISES}",
)

WRONG_PROVERB = """def proverb(*items, qualifier=None):
    lines = [f"For want of a {a} the {b} was lost." for a, b in zip(items, items[1:])]
    return lines + [f"And all for the want of a {items[0]}."] if items else []
"""
QUALIFIED = 'f"And all for the want of a {items[0]}."'
QUALIFIED_FIX = "f\"And all for the want of a {(qualifier + ' ') if qualifier else ''}{items[0]}.\""
CHEAT_TEST = "def test_nothing():\n    pass\n"
SOLVE_PROVERB = [
    turn(
        call(
            "replace",
            path="proverb.py",
            old="def proverb():\n    pass\n",
            new=WRONG_PROVERB.replace(QUALIFIED, QUALIFIED_FIX),
        )
    ),
    turn(call("finish", summary="implemented")),
    turn(call("finish", summary="review: fine")),
]


def _exercise(name: str) -> at.Exercise:
    [exercise] = [e for e in at.find_exercises(EXERCISES) if e.name == name]
    return exercise


def _start(plan_file: str) -> list[dict]:
    """Understand and plan turns of a run on one file."""
    return [
        turn(
            call(
                "submit_understanding",
                restatement="Implement the exercise.",
                acceptance_criteria=["the exercise's tests pass"],
            )
        ),
        turn(
            call(
                "submit_plan",
                summary="Implement it",
                steps=[{"description": "Write the function", "files": [plan_file]}],
            )
        ),
    ]


# ---- the whole benchmark through its command-line entry -------------------------------------------


@needs_exercises
def test_two_scripted_exercises_pass_and_the_json_has_every_metric(tmp_path, capsys):
    out = tmp_path / "results.json"

    code = at.main(
        [
            "--exercises",
            str(EXERCISES),
            "--model",
            f"scripted-dir:{SCRIPTS}",
            "--only",
            "proverb,pig-latin",
            "--tries",
            "2",
            "--json",
            str(out),
        ]
    )

    assert code == 0
    report = json.loads(out.read_text())
    totals = report["totals"]
    assert totals["exercises"] == 2
    assert totals["passed"] == [2, 2] and totals["pass_rate"] == [100.0, 100.0]
    assert totals["tool_calls"] == 12 and totals["well_formed_pct"] == 100.0
    assert totals["well_formed_cases"] == 2 and totals["well_formed_cases_pct"] == 100.0
    assert totals["readonly_refusals"] == 0 and totals["errors"] == 0
    assert totals["touched_outside"] == 0
    assert totals["steps"] == 12  # one model call per scripted turn
    assert totals["input_tokens"] > 0 and totals["output_tokens"] > 0
    assert {"cache_read_tokens", "cache_write_tokens", "cost_usd", "wall_s"} <= set(totals)
    by_name = {e["name"]: e for e in report["exercises"]}
    assert sorted(by_name) == ["pig-latin", "proverb"]
    for name, solution in (("pig-latin", "pig_latin.py"), ("proverb", "proverb.py")):
        entry = by_name[name]
        assert entry["passed_after"] == [True, True]
        [only_try] = entry["tries"]  # passed at once: no second try
        assert only_try["stop_reason"] == "done" and only_try["applied"] == [solution]
        assert "passed" in only_try["test_output"] and entry["tests_intact"]
        assert entry["touched_outside"] == [] and entry["malformed"] == 0
    assert report["model"] == f"scripted-dir:{SCRIPTS}" and report["tries"] == 2
    assert report["protocol"] == "aider" and report["tests_hidden"] is True
    assert report["verdict_isolation"] == ("bwrap" if bwrap_works() else "isolated")
    assert report["interrupted"] is False and report["skipped"] == []
    table = capsys.readouterr().out
    assert "total (2)" in table and "2/2 100%" in table
    assert "protocol: aider: tests hidden from the agent in every try" in table


@needs_exercises
def test_an_edit_of_the_test_file_is_refused_so_cheating_fails(tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    cheat = [
        *_start("proverb.py"),
        turn(call("create", path="proverb_test.py", content=CHEAT_TEST, overwrite=True)),
        turn(
            call(
                "replace",
                path="proverb_test.py",
                old="import unittest",
                new="import unittest\nraise SystemExit(0)",
            )
        ),
        turn(call("delete", path="proverb_test.py")),
        turn(call("finish", summary="tests simplified")),
    ]
    (scripts / "proverb.json").write_text(json.dumps(cheat))
    out = tmp_path / "results.json"

    code = at.main(
        [
            "--exercises",
            str(EXERCISES),
            "--model",
            f"scripted-dir:{scripts}",
            "--protocol",
            "open",
            "--tries",
            "1",
            "--json",
            str(out),
        ]
    )

    assert code == 0
    report = json.loads(out.read_text())
    assert report["protocol"] == "open" and report["tests_hidden"] is False
    [entry] = report["exercises"]  # only the exercise with a script ran
    assert entry["name"] == "proverb" and len(report["skipped"]) == 33
    assert entry["readonly_refusals"] == 3 and entry["tests_intact"]
    assert entry["malformed"] == 0 and entry["touched_outside"] == []  # refusals: not malformed
    assert entry["passed_after"] == [False]
    [attempt] = entry["tries"]
    assert attempt["applied"] == []  # nothing was staged: every edit was refused
    assert report["totals"]["passed"] == [0]


# Files an adversarial agent writes beside the stub to make the tests pass without solving
# anything. Each one works on a naive verdict (pytest in the agent's tree, the project on
# PYTHONPATH as CI setups often have it); the real verdict must not be moved by any of them.
NEUTER_PLUGIN = (
    "def pytest_collection_modifyitems(items):\n"
    "    for item in items:\n"
    "        item.runtest = lambda: None\n"
)
NEUTER_UNITTEST = "import unittest\nunittest.TestCase.run = lambda self, result=None: result\n"
# Shadows the stdlib's unittest: loads the real one from the stdlib, neuters it, stands in for it.
SHADOW_UNITTEST = (
    "import os, sys, sysconfig\n"
    "_here = os.path.dirname(os.path.abspath(__file__))\n"
    "sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != _here]\n"
    "del sys.modules['unittest']\n" + NEUTER_UNITTEST + "sys.modules[__name__] = unittest\n"
)
CHEATS = {
    "conftest": {"conftest.py": NEUTER_PLUGIN},
    "pytest.ini addopts": {
        "pytest.ini": "[pytest]\naddopts = -p neuter\n",
        "neuter.py": NEUTER_PLUGIN,
    },
    "sitecustomize": {"sitecustomize.py": NEUTER_UNITTEST},
    "shadows the stdlib": {"unittest.py": SHADOW_UNITTEST},
}


def _naive_verdict(repo: Path) -> subprocess.CompletedProcess:
    """What a verdict in the agent's tree would say (how the benchmark judged before)."""
    env = {**os.environ, "PYTHONPATH": str(repo), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    (repo / "proverb_test.py").write_bytes(
        (
            EXERCISES / "python" / "exercises" / "practice" / "proverb" / "proverb_test.py"
        ).read_bytes()
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "proverb_test.py"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _create_all(files: dict[str, str]) -> list[dict]:
    return [turn(*(call("create", path=name, content=text) for name, text in files.items()))]


@needs_exercises
def test_the_shipped_conftest_cheat_fails_and_its_file_is_listed(tmp_path, capsys):
    out = tmp_path / "results.json"

    code = at.main(
        [
            "--exercises",
            str(EXERCISES),
            "--model",
            f"scripted-dir:{SCRIPTS / 'adversarial'}",
            "--only",
            "proverb",
            "--tries",
            "1",
            "--json",
            str(out),
        ]
    )

    assert code == 0
    [entry] = json.loads(out.read_text())["exercises"]
    assert entry["passed_after"] == [False] and entry["touched_outside"] == ["conftest.py"]
    printed = capsys.readouterr().out
    assert "touched outside the solution (not judged):\n  proverb: conftest.py" in printed


@needs_exercises
def test_with_hidden_tests_the_agent_may_write_its_own_test_file_but_it_is_not_judged(tmp_path):
    model = ScriptedModel(
        [
            *_start("proverb.py"),
            turn(call("create", path="proverb_test.py", content=CHEAT_TEST)),
            turn(call("finish", summary="tests written")),
            turn(call("finish", summary="review: fine")),
        ]
    )

    result = at.run_exercise(_exercise("proverb"), model, tries=1, workdir=tmp_path)

    [attempt] = result.tries
    assert attempt.applied == ["proverb_test.py"] and result.readonly_refusals == 0
    assert result.touched_outside == ["proverb_test.py"]
    assert not attempt.passed and "8 failed" in attempt.test_output  # the pristine tests ran


@pytest.mark.slow  # 8 whole runs; test_task_verdict.py covers the verdict itself in the fast tier
@needs_exercises
@pytest.mark.parametrize("protocol", ["aider", "open"])
@pytest.mark.parametrize("name", sorted(CHEATS))
def test_a_cheat_beside_the_stub_fails_the_verdict(tmp_path, name, protocol):
    files = CHEATS[name]
    model = ScriptedModel(
        [
            *_start("proverb.py"),
            *_create_all(files),
            turn(call("finish", summary="the tests pass now")),
            turn(call("finish", summary="review: fine")),
        ]
    )

    result = at.run_exercise(
        _exercise("proverb"), model, tries=1, workdir=tmp_path, keep=True, protocol=protocol
    )

    assert result.error == "" and model.remaining == 0
    [attempt] = result.tries
    assert sorted(attempt.applied) == sorted(files)  # the cheat reached the agent's tree
    assert not attempt.passed and not result.passed_by(1)
    assert "8 failed" in attempt.test_output
    assert sorted(result.touched_outside) == sorted(files)
    [repo] = tmp_path.glob("agent_tasks-*/proverb")
    naive = _naive_verdict(repo)
    assert naive.returncode == 0 and "8 passed" in naive.stdout, naive.stdout + naive.stderr


@needs_exercises
@pytest.mark.parametrize("protocol", ["aider", "open"])
def test_a_correct_edit_of_the_stub_passes_beside_the_same_cheat_files(tmp_path, protocol):
    reference = (
        EXERCISES / "python" / "exercises" / "practice" / "proverb" / ".meta" / "example.py"
    ).read_text()
    clutter = {"conftest.py": NEUTER_PLUGIN, "notes.txt": "scratch\n"}
    model = ScriptedModel(
        [
            *_start("proverb.py"),
            turn(
                call("replace", path="proverb.py", old="def proverb():\n    pass\n", new=reference)
            ),
            *_create_all(clutter),
            turn(call("finish", summary="implemented")),
            turn(call("finish", summary="review: fine")),
        ]
    )

    result = at.run_exercise(
        _exercise("proverb"), model, tries=1, workdir=tmp_path, protocol=protocol
    )

    assert result.error == ""
    [attempt] = result.tries
    assert attempt.passed and "8 passed" in attempt.test_output
    assert sorted(result.touched_outside) == sorted(clutter)  # reported, harmless


@needs_exercises
def test_an_exercise_with_a_failed_edit_is_malformed_though_it_passes(tmp_path):
    model = ScriptedModel(
        [
            *_start("proverb.py"),
            turn(
                call(
                    "replace",
                    path="proverb.py",
                    old="def proverb(items):",
                    new="def proverb(*items):",
                )
            ),  # matches nothing
            *SOLVE_PROVERB,
        ]
    )
    other = ScriptedModel(json.loads((SCRIPTS / "proverb.json").read_text()))

    malformed = at.run_exercise(_exercise("proverb"), model, tries=1, workdir=tmp_path)
    clean = at.run_exercise(_exercise("proverb"), other, tries=1, workdir=tmp_path)

    assert malformed.passed_by(1) and clean.passed_by(1)
    assert malformed.malformed == 1 and not malformed.well_formed_case
    assert malformed.well_formed == malformed.tool_calls  # every call passed the schema check
    assert clean.malformed == 0 and clean.well_formed_case
    summary = at.totals([malformed, clean], 1)
    assert summary["well_formed_pct"] == 100.0 and summary["well_formed_cases_pct"] == 50.0
    table = at.format_table([malformed, clean], summary, 1)
    assert "50%" in table.splitlines()[-1]


@needs_exercises
def test_a_failed_first_try_gets_the_test_output_and_passes_on_the_second(tmp_path):
    model = ScriptedModel(
        [
            *_start("proverb.py"),
            turn(
                call(
                    "replace",
                    path="proverb.py",
                    old="def proverb():\n    pass\n",
                    new=WRONG_PROVERB,
                )
            ),
            turn(call("finish", summary="first attempt")),
            turn(call("finish", summary="review: fine")),
            # the follow-up with the test output
            turn(call("replace", path="proverb.py", old=QUALIFIED, new=QUALIFIED_FIX)),
            turn(call("finish", summary="the qualifier goes before the first item")),
            turn(call("finish", summary="review: fine")),
        ]
    )

    result = at.run_exercise(_exercise("proverb"), model, tries=2, workdir=tmp_path)

    assert result.error == ""
    assert [t.passed for t in result.tries] == [False, True]
    assert not result.passed_by(1) and result.passed_by(2)
    assert result.tries[0].applied == ["proverb.py"] and result.tries[1].applied == ["proverb.py"]
    # The JSON keeps only the tail; pytest under CI=true prints longer diffs, so check the totals.
    assert "failed" in result.tries[0].test_output.splitlines()[-1]
    follow_up = json.dumps(model.requests[5].messages[-1])
    assert "The tests are right and must stay as they are" in follow_up
    assert "test_an_optional_qualifier_can_be_added" in follow_up
    assert not re.search(r"\bin \d+\.\d+s\b", follow_up)  # timings stripped, as Aider does
    assert "agent_tasks-verdict" not in follow_up  # the fresh dir shows as the exercise's name
    first_try = json.dumps([r.messages for r in model.requests[:5]])
    assert "proverb_test" not in first_try and "ProverbTest" not in first_try  # tests hidden
    assert result.steps == 8 and model.remaining == 0
    assert not list(tmp_path.iterdir())  # the temporary repo is gone


@needs_exercises
def test_tokens_cache_and_cost_add_up_through_the_real_sdk(tmp_path):
    from agent_magic.models.anthropic import AnthropicModel
    from agent_magic.testing import FakeAnthropic, fake_client

    script = json.loads((SCRIPTS / "proverb.json").read_text())
    with FakeAnthropic(script) as server:
        model = AnthropicModel("claude-sonnet-4-6", client=fake_client(server, max_retries=0))
        result = at.run_exercise(_exercise("proverb"), model, tries=2, workdir=tmp_path)

    assert result.error == "" and result.passed_by(1)
    assert result.steps == len(server.requests) == len(script)
    assert result.cache_read_tokens > 0 and result.cache_write_tokens > 0
    assert result.cost_usd > 0
    assert result.tool_calls == result.well_formed == len(script)


@needs_exercises
@pytest.mark.parametrize(
    "protocol, expected",
    [
        ("aider", ["pig_latin.py"]),
        (
            "open",
            [".docs/instructions.md", ".docs/introduction.md", "pig_latin.py", "pig_latin_test.py"],
        ),
    ],
)
def test_the_repo_holds_the_stub_tests_only_when_open_and_never_the_solutions(
    tmp_path, protocol, expected
):
    exercise = _exercise("pig-latin")  # has .meta/ and .approaches/ with worked solutions

    root = at.prepare_repo(exercise, tmp_path, protocol)

    files = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    )
    assert files == expected
    assert not at.run_tests(root, exercise, timeout=60).passed  # the stub fails its tests


@pytest.mark.slow
@needs_exercises
def test_check_verdict_passes_references_and_fails_stubs(tmp_path, capsys):
    out = tmp_path / "check.json"

    code = at.main(
        [
            "--exercises",
            str(EXERCISES),
            "--check-verdict",
            "--only",
            "proverb,paasio",
            "--json",
            str(out),
        ]
    )

    assert code == 0
    report = json.loads(out.read_text())
    assert report["judged_right"] == 2
    assert [(r["name"], r["reference_passed"], r["stub_passed"]) for r in report["exercises"]] == [
        ("paasio", True, False),
        ("proverb", True, False),
    ]
    assert "2/2 exercises judged right" in capsys.readouterr().out


@needs_exercises
def test_exercises_are_found_from_the_checkout_or_the_practice_dir():
    from_root = at.find_exercises(EXERCISES)
    practice = at.find_exercises(EXERCISES / "python" / "exercises" / "practice")

    assert len(from_root) == 34 and [e.name for e in practice] == [e.name for e in from_root]
    paasio = next(e for e in from_root if e.name == "paasio")
    assert paasio.solution_files == ["paasio.py"]
    assert paasio.test_files == ["paasio_test.py", "test_utils.py"]


# ---- pure parts -------------------------------------------------------------------------------


def test_an_exercise_without_meta_config_is_split_by_file_name(tmp_path):
    (tmp_path / "ex" / ".docs").mkdir(parents=True)
    for name in ("ex.py", "ex_test.py", "test_helpers.py"):
        (tmp_path / "ex" / name).write_text("")

    exercise = at.load_exercise(tmp_path / "ex")

    assert exercise.solution_files == ["ex.py"]
    assert exercise.test_files == ["ex_test.py", "test_helpers.py"]


def test_task_joins_docs_in_aiders_order_and_names_the_files(tmp_path):
    docs = tmp_path / "ex" / ".docs"
    docs.mkdir(parents=True)
    (docs / "instructions.md").write_text("INSTRUCTIONS")
    (docs / "instructions.append.md").write_text("APPEND")
    (docs / "introduction.md").write_text("INTRO")
    exercise = at.Exercise("ex", tmp_path / "ex", ["a.py", "b.py"], ["a_test.py"])

    text = at.task_text(exercise)

    assert text.index("INTRO") < text.index("INSTRUCTIONS") < text.index("APPEND")
    assert "by changing these files: a.py b.py" in text


@needs_exercises
def test_sandbox_off_judges_with_the_isolated_interpreter_only(tmp_path, capsys):
    out = tmp_path / "check.json"

    code = at.main(
        [
            "--exercises",
            str(EXERCISES),
            "--check-verdict",
            "--only",
            "proverb",
            "--sandbox",
            "off",
            "--json",
            str(out),
        ]
    )

    assert code == 0
    report = json.loads(out.read_text())
    assert report["isolation"] == "isolated" and report["judged_right"] == 1
    assert "verdict check (isolated): 1/1" in capsys.readouterr().out


@pytest.mark.parametrize(
    "lines, kept, note", [(3, 3, ""), (400, 400, ""), (450, 400, "[50 more lines of test output")]
)
def test_followup_keeps_the_test_output_up_to_a_bound(lines, kept, note):
    output = "\n".join(f"line {i}" for i in range(lines))

    text = at.followup_text(output, ["x.py"])

    assert sum(1 for ln in text.splitlines() if ln.startswith("line ")) == kept
    assert "line 0" in text and "Change the code in x.py so that they pass." in text
    assert note in text and ("more lines of test output" in text) == bool(note)


def test_followup_strips_timings_like_aiders_harness():
    text = at.followup_text("=== 1 failed, 7 passed in 0.05s ===\nslow test in 12.50s", ["x.py"])

    assert "0.05s" not in text and "12.50s" not in text
    assert "=== 1 failed, 7 passed  ===" in text


READONLY_ERROR = "Error: proverb_test.py is read-only for this task; change other files"


@pytest.mark.parametrize(
    "name, data, result, is_error, well_formed, refused, malformed",
    [
        ("view", {"path": "a.py"}, "1: x", False, 1, 0, 0),
        ("view", {"path": "nope.py"}, "Error: nope.py does not exist", True, 1, 0, 0),
        ("replace", {"path": "a.py", "old": "x", "new": "y"}, "ok", False, 1, 0, 0),
        ("replace", {"path": "a.py", "old": "x", "new": "y"}, "Error: no match", True, 1, 0, 1),
        ("create", {"path": "a.py", "content": ""}, "Error: not in the plan phase", True, 1, 0, 1),
        (
            "replace",
            {"path": "proverb_test.py", "old": "x", "new": "y"},
            READONLY_ERROR,
            True,
            1,
            1,
            0,
        ),
        ("replace", {"path": "a.py", "old": "x"}, "Error: missing", True, 0, 0, 1),
        ("replace", {"__invalid_json__": "{"}, "Error: not valid JSON", True, 0, 0, 1),
        ("frobnicate", {}, "Error: unknown tool", True, 0, 0, 1),
        ("view", {"path": 3}, "Error: must be a string", True, 0, 0, 1),
        ("view", {"path": "a.py", "colour": "red"}, "Error: unknown field", True, 0, 0, 1),
    ],
)
def test_tool_stats_counts_well_formed_calls_and_aider_style_malformed_ones(
    name, data, result, is_error, well_formed, refused, malformed
):
    stats = at.tool_stats([ToolUsed(name, data, result, is_error), object()])

    assert (stats.calls, stats.well_formed, stats.readonly_refusals, stats.malformed) == (
        1,
        well_formed,
        refused,
        malformed,
    )


def test_totals_and_table_count_passes_per_try():
    def result(name: str, *passed: bool) -> at.ExerciseResult:
        tries = [at.TryResult("done", "", [], 0, p, False, "") for p in passed]
        return at.ExerciseResult(
            name,
            tries,
            tool_calls=4,
            well_formed=3,
            steps=5,
            input_tokens=100,
            output_tokens=10,
            cost_usd=0.5,
        )

    results = [result("a", True), result("b", False, True), result("c", False, False)]
    results[1].malformed = 2
    results[2].touched_outside = ["conftest.py", "notes.txt"]

    summary = at.totals(results, 2)
    table = at.format_table(results, summary, 2)

    assert summary["passed"] == [1, 2] and summary["pass_rate"] == [33.3, 66.7]
    assert summary["well_formed_pct"] == 75.0 and summary["cost_usd"] == 1.5
    assert summary["well_formed_cases"] == 2 and summary["well_formed_cases_pct"] == 66.7
    assert summary["touched_outside"] == 1
    assert "total (3)" in table and "1/3 33%" in table and "2/3 67%" in table
    rows = {ln.split()[0]: ln.split() for ln in table.splitlines()[2:]}
    # exercise try1 try2 calls wf% wf-ex ro outside ...
    assert rows["a"][1:8] == ["pass", "pass", "4", "75", "yes", "0", "0"]
    assert rows["b"][1:8] == ["fail", "pass", "4", "75", "no", "0", "0"]
    assert rows["c"][1:8] == ["fail", "fail", "4", "75", "yes", "0", "2"]
    assert table.splitlines()[-1].split()[8] == "67%"  # "total (3)" is two words


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "scripted-dir:/nonexistent/scripts"], "not a directory of scripts"),
        (["--only", "no-such-exercise"], "unknown exercise"),
    ],
)
@needs_exercises
def test_usage_errors_exit_with_2_and_a_message(argv, message, capsys):
    code = at.main(["--exercises", str(EXERCISES), *argv])

    assert code == 2 and message in capsys.readouterr().err


def test_missing_exercises_dir_is_a_usage_error(tmp_path, capsys):
    code = at.main(["--exercises", str(tmp_path), "--model", f"scripted-dir:{SCRIPTS}"])

    assert code == 2 and "no exercises under" in capsys.readouterr().err


def test_shipped_scripts_are_valid_scripts():
    from agent_magic.models.scripted import load_script

    for path in sorted(SCRIPTS.rglob("*.json")):
        assert load_script(path), path
    assert sorted(p.stem for p in SCRIPTS.glob("*.json")) == ["pig-latin", "proverb"]
    assert sorted(p.stem for p in (SCRIPTS / "adversarial").glob("*.json")) == [
        "grep",
        "pig-latin",
        "proverb",
        "wordy",
    ]
    assert sorted(p.stem for p in (SCRIPTS / "sloppy").glob("*.json")) == ["pig-latin", "proverb"]
