"""The whole loop through the real anthropic SDK against the fake Messages API server."""

from __future__ import annotations

from pathlib import Path

from agent_magic.agent import Agent
from agent_magic.events import TextDelta
from agent_magic.models.anthropic import AnthropicModel
from agent_magic.testing import FakeAnthropic, fake_client
from tests.scripts import FIX_NEW, fix_failing_test

CLEANING = "shoplytics/cleaning.py"


def run(repo: Path, script: list[dict], *, max_retries: int = 2, events: list | None = None):
    sink = events if events is not None else []
    with FakeAnthropic(script) as server:
        model = AnthropicModel("claude-sonnet-5-5", client=fake_client(server, max_retries=max_retries))
        session = Agent(repo, model, on_event=sink.append).run("fix the failing test")
        return session, server


def test_full_run_streams_text_and_reads_the_prefix_from_cache(sample_repo: Path):
    events: list = []
    session, server = run(sample_repo, fix_failing_test(), events=events)
    assert session.stop_reason == "done", session.error
    assert FIX_NEW.strip() in session.diff()
    assert "thousands separators" in "".join(e.text for e in events if isinstance(e, TextDelta))
    assert len(server.requests) == 6
    assert session.usage.cache_read_tokens > session.usage.input_tokens
    assert session.cost > 0


def test_transient_faults_are_retried_by_the_sdk(sample_repo: Path):
    script = fix_failing_test()
    script[2:2] = [{"fault": "429"}, {"fault": "529"}]
    script[6:6] = [{"fault": "500"}]
    session, server = run(sample_repo, script)
    assert session.stop_reason == "done", session.error
    assert len(server.requests) == 9


def test_faults_past_the_retries_end_the_run_cleanly(sample_repo: Path):
    before = (sample_repo / CLEANING).read_bytes()
    script = fix_failing_test()[:4] + [{"fault": "529"}] * 3
    session, _ = run(sample_repo, script, max_retries=1)
    assert session.stop_reason == "error"
    assert "overloaded" in session.error.lower() or "529" in session.error
    assert "test-key" not in session.error
    assert session.staging.changed_paths() == [CLEANING]  # staged, inspectable
    assert (sample_repo / CLEANING).read_bytes() == before  # never written


def test_malformed_tool_json_goes_back_as_a_tool_error(sample_repo: Path):
    script = fix_failing_test()
    script[1:1] = [{"fault": "bad_json"}]
    session, server = run(sample_repo, script)
    assert session.stop_reason == "done", session.error
    answers = [b for m in server.requests[2]["messages"] if m["role"] == "user"
               for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
    assert answers[-1].get("is_error") is True
    assert "not valid JSON" in str(answers[-1]["content"])
