"""The whole loop with the scripted model on real git repos; nothing mocked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent_magic.agent import Agent, AgentConfig
from agent_magic.errors import UserError
from agent_magic.events import PhaseStarted, PlanReady, RunFinished, ToolUsed
from agent_magic.models.base import Price
from agent_magic.models.scripted import ScriptedModel
from agent_magic.transcript import list_sessions, read_records
from tests.scripts import (
    FIX_NEW,
    FIX_OLD,
    IMPLEMENT,
    PLAN,
    REVIEW_OK,
    UNDERSTAND,
    call,
    fix_failing_test,
    turn,
)

CLEANING = "shoplytics/cleaning.py"


def pytest_passes(root: Path) -> bool:
    """Whether the project's tests pass in ``root`` (the real tree, not a scratch copy)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0


# For tests whose subject is not the review: its sandboxed test runs take seconds.
NO_REVIEW = AgentConfig(review=False)


@pytest.mark.slow  # the whole loop with sandboxed test runs, then apply and undo
def test_full_loop_fixes_the_failing_test_only_after_apply(sample_repo: Path):
    events = []
    before = (sample_repo / CLEANING).read_bytes()
    # a test budget no loaded machine runs out of (past it fixed tests go unreported)
    config = AgentConfig(test_timeout=600)
    agent = Agent(sample_repo, ScriptedModel(fix_failing_test()), config, on_event=events.append)

    session = agent.run("fix the failing test in cleaning.py")

    assert session.stop_reason == "done", session.error
    assert session.understanding.acceptance_criteria
    assert [s.description for s in session.plan.steps] == [
        "Remove ',' before float() in parse_price"
    ]
    assert FIX_NEW.strip() in session.diff()
    assert (sample_repo / CLEANING).read_bytes() == before  # staged, not written
    assert not pytest_passes(sample_repo)
    tests = session.checks.tests
    assert tests.newly_failing == []
    assert any("thousands_separator" in t for t in tests.fixed)
    phases = [e.phase for e in events if isinstance(e, PhaseStarted)]
    assert phases == ["understand", "analyze", "plan", "implement", "review", "deliver"]
    assert isinstance(events[-1], RunFinished)

    checkpoint = session.apply()

    assert FIX_NEW in (sample_repo / CLEANING).read_text()
    assert pytest_passes(sample_repo)
    session.undo(checkpoint.id)
    assert (sample_repo / CLEANING).read_bytes() == before


def test_transcript_records_every_step_and_redacts_the_key(sample_repo: Path, monkeypatch):
    secret = "sk-ant-api03-" + "x" * 24
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    session = Agent(sample_repo, ScriptedModel(fix_failing_test()), NO_REVIEW).run(
        f"fix the failing test; my key is {secret}"
    )

    [summary] = list_sessions(session.project)
    records = read_records(summary["path"])
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert kinds.count("model") == 5 and kinds.count("tool") == 5  # no review: one call fewer
    assert all(r["v"] == 1 for r in records)
    assert secret not in Path(summary["path"]).read_text()
    assert summary["stop_reason"] == "done"
    assert (sample_repo / ".agent_magic" / ".gitignore").read_text().strip().endswith("*")
    status = subprocess.run(
        ["git", "status", "--porcelain"],
        cwd=sample_repo,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert ".agent_magic" not in status


def test_plan_first_stops_for_approval_then_continues(sample_repo: Path):
    agent = Agent(
        sample_repo, ScriptedModel(fix_failing_test()), AgentConfig(plan_first=True, review=False)
    )
    session = agent.run("fix the failing test")
    assert session.stop_reason == "plan_ready"
    assert session.changeset.is_empty

    session = agent.continue_plan(session)
    assert session.stop_reason == "done", session.error
    assert FIX_NEW.strip() in session.diff()


def test_revising_the_plan_sends_the_feedback_to_the_model(sample_repo: Path):
    revised = turn(
        call(
            "submit_plan",
            summary="Revised: handle separators and spaces",
            steps=[{"description": "strip ',' and ' '"}],
        )
    )
    model = ScriptedModel([UNDERSTAND, *PLAN, revised])
    agent = Agent(sample_repo, model, AgentConfig(plan_first=True))
    session = agent.continue_plan(agent.run("fix the failing test"), "also allow spaces")
    assert session.stop_reason == "plan_ready"
    assert session.plan.summary.startswith("Revised")
    assert "also allow spaces" in json.dumps(model.requests[-1].messages)


def test_model_errors_go_back_as_tool_errors(sample_repo: Path):
    events = []
    script = [
        UNDERSTAND,
        *PLAN,
        turn(call("replace", path=CLEANING, old="no such text", new="x")),
        turn(call("replace", path=CLEANING)),  # missing fields
        turn(call("view", path="../outside.txt")),
        turn(call("create", path=".env", content="TOKEN=1")),
        *IMPLEMENT,
        REVIEW_OK,
    ]
    model = ScriptedModel(script)
    session = Agent(sample_repo, model, NO_REVIEW, on_event=events.append).run("fix it")
    assert session.stop_reason == "done", session.error
    errors = [e for e in events if isinstance(e, ToolUsed) and e.is_error]
    assert len(errors) == 4
    assert "missing required field(s): old, new" in errors[1].result
    assert "project root" in errors[2].result
    assert "secret" in errors[3].result
    last_user = model.requests[4].messages[-1]["content"]
    assert last_user[0]["is_error"] is True
    assert not (sample_repo / ".env").exists()


def test_consecutive_tool_errors_are_bounded(sample_repo: Path):
    bad = turn(call("view", path="missing.py"))
    session = Agent(
        sample_repo, ScriptedModel([UNDERSTAND, bad, bad, bad]), AgentConfig(max_tool_errors=3)
    ).run("fix it")
    assert session.stop_reason == "tool_errors"
    assert "3 failed tool calls" in session.error


def test_step_limit(sample_repo: Path):
    session = Agent(sample_repo, ScriptedModel(fix_failing_test()), AgentConfig(max_steps=2)).run(
        "fix it"
    )
    assert session.stop_reason == "steps"
    assert session.steps == 2


def test_budget_is_checked_before_each_call(sample_repo: Path):
    before = (sample_repo / CLEANING).read_bytes()
    model = ScriptedModel(fix_failing_test(), price=Price(input=3.0, output=15.0))
    session = Agent(sample_repo, model, AgentConfig(budget_usd=0.09)).run("fix it")
    assert session.stop_reason == "budget"
    assert 0 < session.cost <= 0.09
    assert 0 < session.steps < len(fix_failing_test())
    assert (sample_repo / CLEANING).read_bytes() == before


def test_stop_from_another_thread_interrupts_cleanly(sample_repo: Path):
    agent = Agent(sample_repo, ScriptedModel(fix_failing_test()))

    def stop_at_plan(event):
        if isinstance(event, PlanReady):
            agent.stop()

    agent.emit = stop_at_plan
    session = agent.run("fix it")
    assert session.stop_reason == "interrupted"
    assert session.plan is not None and session.changeset.is_empty


def test_time_limit(sample_repo: Path):
    ticks = iter(range(0, 10_000, 100))
    agent = Agent(
        sample_repo,
        ScriptedModel(fix_failing_test()),
        AgentConfig(time_limit_s=250),
        clock=lambda: next(ticks),
    )
    session = agent.run("fix it")
    assert session.stop_reason == "time"


def test_script_exhaustion_is_a_clear_error(sample_repo: Path):
    session = Agent(sample_repo, ScriptedModel([UNDERSTAND])).run("fix it")
    assert session.stop_reason == "error"
    assert "asked for one more" in session.error


@pytest.mark.parametrize("task", ["", "   \n  "])
def test_empty_task_is_a_user_error(sample_repo: Path, task: str):
    with pytest.raises(UserError, match="empty"):
        Agent(sample_repo, ScriptedModel([])).run(task)


def test_missing_project_is_a_user_error(tmp_path: Path):
    with pytest.raises(UserError, match="does not exist"):
        Agent(tmp_path / "nope", ScriptedModel([]))


def test_binary_and_undecodable_files_are_refused(make_repo):
    root = make_repo(
        {"blob.bin": b"\x00\x01\x02" * 10, "latin.txt": b"caf\xe9 \xff\xfe\x00", "a.py": "x = 1\n"}
    )
    events = []
    script = [
        UNDERSTAND,
        turn(call("view", path="blob.bin")),
        turn(call("view", path="latin.txt")),
        turn(call("submit_plan", summary="s", steps=[{"description": "d"}])),
        turn(call("finish", summary="nothing")),
    ]
    session = Agent(root, ScriptedModel(script), on_event=events.append).run("look")
    assert session.stop_reason == "done", session.error
    errors = [e.result for e in events if isinstance(e, ToolUsed) and e.is_error]
    assert len(errors) == 2


BROKEN = '    return round(float(text.strip().lstrip("$").replace(",", "")))'


@pytest.mark.slow  # three sandboxed test runs; tests/review covers the checks in the fast tier
def test_review_catches_a_broken_test_and_the_fix_round_repairs_it(sample_repo: Path):
    script = [
        UNDERSTAND,
        *PLAN,
        turn(call("replace", path=CLEANING, old=FIX_OLD, new=BROKEN)),
        turn(call("finish", summary="rounded prices")),
        REVIEW_OK,  # the model review of round 1 sees nothing; the tests do
        turn(call("replace", path=CLEANING, old=BROKEN, new=FIX_NEW)),
        turn(call("finish", summary="no rounding")),
        REVIEW_OK,
    ]
    model = ScriptedModel(script)
    session = Agent(sample_repo, model).run("fix the failing test")

    assert session.stop_reason == "done", session.error
    first = session.checks_before.tests
    assert first.newly_failing == ["tests/test_cleaning.py::test_parse_price_plain"]
    assert first.already_failing == ["tests/test_cleaning.py::test_parse_price_thousands_separator"]
    fix_request = json.dumps(model.requests[5].messages[-1])
    assert "test_parse_price_plain" in fix_request
    [finding] = session.findings
    assert (finding.source, finding.severity, finding.status) == ("tests", "blocker", "fixed")
    assert session.checks.ok and session.checks.tests.newly_failing == []
    assert session.review_rounds == 2 and not session.open_blockers


@pytest.mark.slow  # a whole run with its review's sandboxed test runs
def test_remaining_blockers_need_an_explicit_override_to_apply(sample_repo: Path):
    blocker = turn(
        call(
            "report_finding",
            severity="blocker",
            path=CLEANING,
            line_start=13,
            message="European prices like '1.234,50' now parse wrongly",
        ),
        call("finish", summary="one blocker"),
    )
    script = [UNDERSTAND, *PLAN, *IMPLEMENT, blocker]
    session = Agent(sample_repo, ScriptedModel(script), AgentConfig(review_rounds=0)).run("fix it")
    assert session.stop_reason == "done", session.error
    assert [f.message for f in session.open_blockers] == [
        "European prices like '1.234,50' now parse wrongly"
    ]
    with pytest.raises(UserError, match="blocker"):
        session.apply()
    assert FIX_NEW not in (sample_repo / CLEANING).read_text()
    session.apply(allow_blockers=True)
    assert FIX_NEW in (sample_repo / CLEANING).read_text()


def test_repo_map_fits_a_small_context_window(sample_repo: Path):
    small = ScriptedModel(fix_failing_test())
    small.context_window = 2048
    agent = Agent(sample_repo, small, AgentConfig(context_tokens=4000))
    # The budget rule alone; a whole run that shows it in the prompt would take seconds.
    assert agent._map_budget() == 512  # noqa: SLF001
    plain = Agent(sample_repo, ScriptedModel([]), AgentConfig(context_tokens=4000))
    assert plain._map_budget() == 4000  # noqa: SLF001
