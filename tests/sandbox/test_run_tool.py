"""The model's ``run`` tool through the Agent: reproduce, bounded output, confined, not staged."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_magic.agent import Agent, AgentConfig
from agent_magic.events import CommandStarted, ToolUsed
from agent_magic.models.scripted import ScriptedModel
from agent_magic.review.command import clamp_timeout
from agent_magic.tools import ALL_TOOLS
from tests.scripts import FIX_NEW, FIX_OLD, UNDERSTAND, call, turn

PLAN = turn(
    call(
        "submit_plan",
        summary="fix parse_price",
        steps=[{"description": "strip separators", "files": ["shoplytics/cleaning.py"]}],
    )
)


def run_calls(repo: Path, *calls: dict, config: AgentConfig | None = None):
    """Run the agent with ``calls`` as implement-phase turns; the run results, the session."""
    model = ScriptedModel(
        [UNDERSTAND, PLAN, *[turn(c) for c in calls], turn(call("finish", summary="done"))]
    )
    events: list = []
    session = Agent(repo, model, config or AgentConfig(review=False), on_event=events.append).run(
        "fix the failing test"
    )
    runs = [e for e in events if isinstance(e, ToolUsed) and e.name == "run"]
    return runs, session, events


@pytest.mark.slow
def test_run_reproduces_the_failing_test_then_sees_the_staged_fix(sample_repo):
    runs, session, events = run_calls(
        sample_repo,
        call("run", command="python -m pytest -q tests/test_cleaning.py"),
        call("replace", path="shoplytics/cleaning.py", old=FIX_OLD, new=FIX_NEW),
        call("run", command="python -m pytest -q tests/test_cleaning.py", timeout=120),
    )
    assert session.stop_reason == "done", session.error
    before, after = runs
    assert not before.is_error and before.result.startswith("exit code 1 after")
    assert "failed" in before.result and "test_parse_price" in before.result
    assert after.result.startswith("exit code 0 after") and "passed" in after.result
    started = [e for e in events if isinstance(e, CommandStarted)]
    assert [s.command for s in started] == [r.input["command"] for r in runs]
    assert started[1].timeout == 120
    records = (sample_repo / ".agent_magic" / "sessions").glob("*.jsonl")
    assert "exit code 1 after" in "".join(p.read_text() for p in records)


def test_run_output_is_bounded_and_its_files_are_not_staged(make_repo):
    repo = make_repo({"a.py": "A = 1\n"})
    runs, session, _ = run_calls(
        repo, call("run", command="seq 1 300000; echo made > new_file.txt; echo x >> a.py")
    )
    (result,) = runs
    assert result.result.startswith("exit code 0")
    assert len(result.result) < 13_000 and "bytes of output left out" in result.result
    assert "\n1\n" in result.result and result.result.rstrip().endswith("300000")
    assert session.staging.changed_paths() == []
    assert not (repo / "new_file.txt").exists() and (repo / "a.py").read_text() == "A = 1\n"


def test_run_cannot_write_outside_the_copy(make_repo, tmp_path_factory):
    repo = make_repo({"a.py": "A = 1\n"})
    outside = tmp_path_factory.mktemp("outside")
    targets = [outside / "x", repo / "pwned", Path.home() / "agent_magic_pwned"]
    script = "; ".join(f"touch {t} && echo WROTE {t}" for t in targets) + "; exit 3"
    runs, _, _ = run_calls(repo, call("run", command=script))
    (result,) = runs
    assert result.result.startswith("exit code 3")
    assert not [line for line in result.result.splitlines() if line.startswith("WROTE")]
    assert not any(t.exists() for t in targets)


def test_run_mistakes_are_tool_errors_and_the_schema_is_documented(make_repo):
    repo = make_repo({"a.py": "A = 1\n"})
    runs, _, _ = run_calls(repo, call("run", command="  "), call("run", command=3))
    assert [r.is_error for r in runs] == [True, True]
    assert "empty" in runs[0].result and "must be a string" in runs[1].result
    schema = next(t for t in ALL_TOOLS if t["name"] == "run")
    assert "NOT staged" in schema["description"] and schema["input_schema"]["required"] == [
        "command"
    ]
    assert clamp_timeout(None, 1000) == 60 and clamp_timeout(5000, 1000) == 600
    assert clamp_timeout(30, 10.5) == 10.5 and clamp_timeout(0, 100) == 1


def test_stop_ends_a_running_command(make_repo):
    import threading
    import time

    repo = make_repo({"a.py": "A = 1\n"})
    model = ScriptedModel(
        [
            UNDERSTAND,
            PLAN,
            turn(call("run", command="sleep 60")),
            turn(call("finish", summary="done")),
        ]
    )
    agent: Agent

    def on_event(event) -> None:
        if isinstance(event, CommandStarted):
            threading.Timer(1.0, agent.stop).start()

    agent = Agent(repo, model, AgentConfig(review=False), on_event=on_event)
    start = time.monotonic()
    session = agent.run("wait")
    assert session.stop_reason == "interrupted"
    assert time.monotonic() - start < 1.0 + 5.0


def test_run_calls_share_one_kept_copy_which_the_next_run_brings_up_to_date(make_repo):
    repo = make_repo({"a.py": "A = 1\n", "b.py": "B = 1\n"})
    runs, session, _ = run_calls(
        repo,
        call("run", command="pwd; echo left > junk.txt"),
        call("run", command="pwd; ls; echo left > junk2.txt; ln -s / root; mkdir d"),
    )
    assert session.stop_reason == "done", session.error
    first, second = (r.result.splitlines()[2] for r in runs)
    assert first == second  # the same copy, brought up to date
    assert "junk.txt" not in runs[1].result  # what the first command wrote is gone
    assert Path(first).is_dir()  # kept for the project's next run
    (repo / "b.py").unlink()
    (repo / ".env").write_text("TOKEN=sk-live-0123456789abcdef\n")
    runs, session, _ = run_calls(repo, call("run", command="pwd; ls -a; cat a.py"))
    assert session.stop_reason == "done", session.error
    lines = runs[0].result.splitlines()
    assert lines[2] == first  # no new copy
    assert sorted(lines[3:-1]) == [".", "..", "a.py"]  # no junk, no deleted file, no secret
    assert lines[-1] == "A = 1"
