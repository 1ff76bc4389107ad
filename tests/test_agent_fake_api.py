"""The whole loop through the real anthropic SDK against the fake Messages API server."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from agent_magic.agent import Agent, AgentConfig
from agent_magic.events import TextDelta, ThinkingDelta, ToolUsed
from agent_magic.models.anthropic import AnthropicModel
from agent_magic.models.base import Request
from agent_magic.testing import FakeAnthropic, fake_client
from tests.scripts import (
    FIX_NEW,
    IMPLEMENT,
    PLAN,
    REVIEW_OK,
    UNDERSTAND,
    call,
    fix_failing_test,
    turn,
)

CLEANING = "shoplytics/cleaning.py"


def run(repo: Path, script: list[dict], *, max_retries: int = 2, events: list | None = None):
    sink = events if events is not None else []
    with FakeAnthropic(script) as server:
        model = AnthropicModel(
            "claude-sonnet-5-5", client=fake_client(server, max_retries=max_retries)
        )
        session = Agent(repo, model, on_event=sink.append).run("fix the failing test")
        return session, server


@pytest.mark.slow  # a whole run with review through the SDK; the pieces have fast tests
def test_full_run_streams_text_and_reads_the_prefix_from_cache(sample_repo: Path):
    events: list = []
    session, server = run(sample_repo, fix_failing_test(), events=events)
    assert session.stop_reason == "done", session.error
    assert FIX_NEW.strip() in session.diff()
    assert "thousands separators" in "".join(e.text for e in events if isinstance(e, TextDelta))
    assert len(server.requests) == 6
    assert session.usage.cache_read_tokens > session.usage.input_tokens
    assert session.cost > 0


def test_the_review_reads_the_main_conversation_prefix_from_cache(sample_repo: Path):
    # 2,048 tokens: more than system + tools, so only a shared conversation prefix can hit.
    review = turn(
        call(
            "report_finding",
            severity="minor",
            path=CLEANING,
            line_start=1,
            message="no test for negative prices",
            suggestion="add one",
        )
    )
    script = [UNDERSTAND, *PLAN, *IMPLEMENT, review, REVIEW_OK]
    with FakeAnthropic(script, min_cache_tokens=2048) as server:
        model = AnthropicModel("claude-sonnet-5-5", client=fake_client(server))
        agent = Agent(
            sample_repo, model, AgentConfig(review_rounds=0), checker=lambda *a, **k: None
        )
        session = agent.run("fix the failing test")
        assert not server.rejected, server.rejected
    assert session.stop_reason == "done", session.error
    first_review = next(
        i
        for i, r in enumerate(server.requests)
        if "You are now the reviewer" in str(r["messages"][-1])
    )
    assert first_review == 5
    usage = server.usages[first_review]
    prompt = (
        usage["input_tokens"]
        + usage["cache_read_input_tokens"]
        + usage["cache_creation_input_tokens"]
    )
    assert usage["cache_read_input_tokens"] > 2048
    assert usage["cache_read_input_tokens"] / prompt > 0.5
    assert (
        server.usages[first_review + 1]["cache_read_input_tokens"]
        > usage["cache_read_input_tokens"]
    )
    # The review went on from a copy: the main conversation has neither its prompt nor its calls.
    assert "You are now the reviewer" not in str(session.messages)
    assert "report_finding" not in str(session.messages)
    assert [f.message for f in session.findings] == ["no test for negative prices"]


@pytest.mark.slow  # a whole run with review; test_a_504_is_retried_... is the fast one
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


def test_a_504_is_retried_and_a_402_is_not_and_says_billing(sample_repo: Path):
    with FakeAnthropic([UNDERSTAND, {"fault": "504"}, *PLAN, *IMPLEMENT]) as server:
        session = agent_for(sample_repo, server).run("fix the failing test")
    assert session.stop_reason == "done", session.error
    with FakeAnthropic([UNDERSTAND, {"fault": "402"}, *PLAN, *IMPLEMENT]) as server:
        session = agent_for(sample_repo, server).run("fix the failing test")
    assert session.stop_reason == "error"
    assert len(server.requests) == 2  # not retried
    assert "billing_error" in session.error and "credit balance" in session.error
    assert "req_fake0002" in session.error  # the request id, to quote to support


@pytest.mark.slow  # a whole run with review; tests/models cover bad JSON in the fast tier
def test_malformed_tool_json_goes_back_as_a_tool_error(sample_repo: Path):
    script = fix_failing_test()
    script[1:1] = [{"fault": "bad_json"}]
    session, server = run(sample_repo, script)
    assert session.stop_reason == "done", session.error
    answers = [
        b
        for m in server.requests[2]["messages"]
        if m["role"] == "user"
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_result"
    ]
    assert answers[-1].get("is_error") is True
    assert "not valid JSON" in str(answers[-1]["content"])
    echoed = [
        b
        for m in server.requests[2]["messages"]
        if m["role"] == "assistant"
        for b in m["content"]
        if b.get("type") == "tool_use"
    ]
    assert "__invalid_json__" not in str(echoed)


# ---- the strict fake: stops, thinking, output limits, stop reasons, in-stream errors ----------

QUICK = AgentConfig(review=False)
FINISH = turn(call("finish", summary="done"))


def agent_for(
    repo, server, *, name="claude-sonnet-5-5", config=QUICK, events=None, on_event=None, **kwargs
):
    model = AnthropicModel(
        name, client=fake_client(server, max_retries=kwargs.pop("retries", 2)), **kwargs
    )
    sink = on_event or (events.append if events is not None else (lambda e: None))
    return Agent(repo, model, config, on_event=sink)


def tool_results(message):
    return [b for b in message["content"] if b.get("type") == "tool_result"]


def test_stop_during_a_turn_answers_every_tool_use_and_resume_is_accepted(sample_repo: Path):
    two_views = turn(call("view", path="shoplytics/cleaning.py"), call("view", path="README.md"))
    script = [UNDERSTAND, two_views, *PLAN[1:], *IMPLEMENT, FINISH]
    events: list = []
    with FakeAnthropic(script) as server:
        pressing = [True]

        def on_event(event):
            events.append(event)
            if pressing[0] and isinstance(event, ToolUsed) and event.name == "view":
                agent.stop()  # Stop pressed while the first of two calls runs

        agent = agent_for(sample_repo, server, on_event=on_event)
        session = agent.run("fix the failing test")
        assert session.stop_reason == "interrupted"
        last = session.messages[-1]
        results = tool_results(last)
        assert last["role"] == "user" and len(results) == 2
        assert results[1]["is_error"] and "Not run: the run stopped" in results[1]["content"]
        pressing[0] = False
        resumed = agent.resume(session, "go on with the plan")
        assert not server.rejected, server.rejected
    assert resumed.stop_reason == "done", resumed.error
    assert FIX_NEW.strip() in resumed.diff()


def test_stop_while_the_reply_streams_ends_the_stream_and_resume_is_accepted(sample_repo: Path):
    long_text = "Reading the parser carefully. " * 40
    script = [UNDERSTAND, {**PLAN[0], "text": long_text}, *PLAN, *IMPLEMENT, FINISH]
    with FakeAnthropic(script) as server:
        seen: list[str] = []
        pressing = [True]

        def on_event(event):
            if isinstance(event, TextDelta) and pressing[0]:
                seen.append(event.text)
                if "carefully" in event.text:
                    agent.stop()

        agent = agent_for(sample_repo, server, on_event=on_event)
        session = agent.run("fix the failing test")
        assert session.stop_reason == "interrupted"
        assert len("".join(seen)) < len(long_text) // 2  # the stream ended at Stop
        assert session.messages[-1]["role"] == "user"  # the cut reply was not kept
        assert "Reading the parser" not in str(session.messages)
        pressing[0] = False
        resumed = agent.resume(session, "continue")
        assert not server.rejected, server.rejected
    assert resumed.stop_reason == "done", resumed.error


def test_stop_while_the_stream_is_silent_ends_the_run_within_seconds(sample_repo: Path):
    # The server goes silent for 60 s after the first block: no events, no pings.
    stalled = {**PLAN[0], "thinking": "Looking at the parser", "stall": 60}
    script = [UNDERSTAND, stalled, *PLAN, *IMPLEMENT, FINISH]
    with FakeAnthropic(script) as server:
        pressed: list[float] = []

        def press():
            pressed.append(time.monotonic())
            agent.stop()

        def on_event(event):
            if isinstance(event, ThinkingDelta) and "parser" in event.text and not pressed:
                threading.Timer(0.5, press).start()  # pressed while nothing arrives

        agent = agent_for(sample_repo, server, on_event=on_event)
        session = agent.run("fix the failing test")
        ended = time.monotonic()
        assert session.stop_reason == "interrupted", session.error
        assert pressed and ended - pressed[0] < 5
        assert session.messages[-1]["role"] == "user"  # the cut reply was not kept
        resumed = agent.resume(session, "continue")
        assert not server.rejected, server.rejected
    assert resumed.stop_reason == "done", resumed.error


def test_stop_while_waiting_for_the_response_headers_ends_the_run_within_seconds(sample_repo: Path):
    script = [UNDERSTAND, {**PLAN[0], "stall_before": 60}, *PLAN, *IMPLEMENT, FINISH]
    with FakeAnthropic(script) as server:
        pressed: list[float] = []

        def press_once_the_second_request_waits():
            while len(server.requests) < 2:
                time.sleep(0.02)
            time.sleep(0.5)
            pressed.append(time.monotonic())
            agent.stop()

        agent = agent_for(sample_repo, server)
        threading.Thread(target=press_once_the_second_request_waits, daemon=True).start()
        session = agent.run("fix the failing test")
        ended = time.monotonic()
        assert session.stop_reason == "interrupted", session.error
        assert pressed and ended - pressed[0] < 5
        resumed = agent.resume(session, "continue")
        assert not server.rejected, server.rejected
    assert resumed.stop_reason == "done", resumed.error


def test_a_session_resumed_against_another_server_is_accepted(sample_repo: Path):
    # Each server's tool_use ids are its own, as the API's are unique: no id comes twice.
    with FakeAnthropic([UNDERSTAND, *PLAN, *IMPLEMENT]) as first:
        session = agent_for(sample_repo, first).run("fix the failing test")
    assert session.stop_reason == "done", session.error
    with FakeAnthropic([turn(call("view", path="README.md")), FINISH]) as second:
        resumed = agent_for(sample_repo, second).resume(session, "check the README too")
        assert not second.rejected, second.rejected
    assert resumed.stop_reason == "done", resumed.error


def test_thinking_streams_to_the_view_and_goes_back_unchanged(sample_repo: Path):
    script = [
        dict(UNDERSTAND, thinking="The test feeds '1,234.50'; float() rejects commas."),
        *PLAN,
        *IMPLEMENT,
    ]
    events: list = []
    with FakeAnthropic(script) as server:
        session = agent_for(sample_repo, server, events=events).run("fix the failing test")
        assert not server.rejected, server.rejected
    assert session.stop_reason == "done", session.error
    thought = "".join(e.text for e in events if isinstance(e, ThinkingDelta))
    assert "float() rejects commas" in thought
    second = server.requests[1]
    assert second["thinking"] == {"type": "adaptive", "display": "summarized"}
    echoed = second["messages"][1]["content"]
    assert echoed[0]["type"] == "thinking" and echoed[0]["signature"]
    assert "float() rejects commas" in echoed[0]["thinking"]


def test_redacted_thinking_goes_back_unchanged(sample_repo: Path):
    script = [dict(UNDERSTAND, redacted_thinking=True), *PLAN, *IMPLEMENT]
    with FakeAnthropic(script) as server:
        session = agent_for(sample_repo, server).run("fix the failing test")
        assert not server.rejected, server.rejected
    assert session.stop_reason == "done", session.error
    echoed = server.requests[1]["messages"][1]["content"]
    assert echoed[0]["type"] == "redacted_thinking" and echoed[0]["data"].startswith("Encrypted")
    assert echoed[1]["type"] == "thinking"


def test_effort_off_on_sonnet_5_5_sends_between_tools(sample_repo: Path):
    with FakeAnthropic([UNDERSTAND, *PLAN, *IMPLEMENT]) as server:
        session = agent_for(sample_repo, server, effort="off").run("fix the failing test")
    assert session.stop_reason == "done", session.error
    assert server.requests[0]["thinking"] == {"type": "between_tools"}


def test_a_tool_input_cut_at_max_tokens_is_asked_again_with_a_larger_limit(sample_repo: Path):
    cut = dict(IMPLEMENT[0], stop="max_tokens")
    script = [UNDERSTAND, *PLAN, cut, *IMPLEMENT]
    with FakeAnthropic(script) as server:
        session = agent_for(
            sample_repo, server, config=AgentConfig(review=False, max_tokens=8000)
        ).run("fix the failing test")
        assert not server.rejected, server.rejected
    assert session.stop_reason == "done", session.error
    limits = [r["max_tokens"] for r in server.requests]
    assert limits == [8000, 8000, 8000, 8000, 16000, 16000]
    assert FIX_NEW.strip() in session.diff()


def test_a_reply_cut_while_thinking_is_asked_again_with_a_larger_limit(sample_repo: Path):
    script = [UNDERSTAND, {"thinking": "Long deliberation. " * 400}, *PLAN, *IMPLEMENT]
    with FakeAnthropic(script) as server:
        session = agent_for(
            sample_repo, server, config=AgentConfig(review=False, max_tokens=1000)
        ).run("fix the failing test")
        assert not server.rejected, server.rejected
    assert session.stop_reason == "done", session.error
    assert [r["max_tokens"] for r in server.requests][1:3] == [1000, 2000]
    assert "Long deliberation" not in str(session.messages)


def test_at_the_models_output_limit_the_model_is_told_to_use_smaller_edits(sample_repo: Path):
    cut = dict(IMPLEMENT[0], stop="max_tokens")
    script = [UNDERSTAND, *PLAN, cut, *IMPLEMENT]
    config = AgentConfig(review=False, max_tokens=64000, budget_usd=10)
    with FakeAnthropic(script) as server:
        session = agent_for(sample_repo, server, name="claude-sonnet-4-6", config=config).run(
            "fix the failing test"
        )
        assert not server.rejected, server.rejected
    assert session.stop_reason == "done", session.error
    answer = tool_results(server.requests[4]["messages"][-1])[0]
    assert answer["is_error"] and "smaller pieces" in answer["content"]
    echoed = server.requests[4]["messages"][-2]["content"][-1]
    assert echoed["type"] == "tool_use" and echoed["input"] == {}


def test_refusal_ends_the_run_with_its_own_reason_and_no_invented_reply(sample_repo: Path):
    with FakeAnthropic(
        [UNDERSTAND, {"text": "I can't help with that.", "stop": "refusal"}]
    ) as server:
        session = agent_for(sample_repo, server).run("fix the failing test")
    assert session.stop_reason == "refused"
    assert "declined" in session.error and "cyber" in session.error
    assert session.messages[-1]["role"] == "user"
    assert len(server.requests) == 2


def test_context_window_exceeded_compacts_and_asks_again(sample_repo: Path):
    script = [UNDERSTAND, *PLAN, {"stop": "model_context_window_exceeded"}, *IMPLEMENT]
    with FakeAnthropic(script) as server:
        session = agent_for(sample_repo, server).run("fix the failing test")
        assert not server.rejected, server.rejected
    # Nothing old enough to elide in so short a run: a clear stop, not a loop of paid retries.
    assert session.stop_reason == "context" and len(server.requests) == 4


def test_context_window_exceeded_with_old_output_compacts_and_goes_on(sample_repo: Path):
    views = [turn(call("view", path="shoplytics/cleaning.py"))] * 5
    script = [UNDERSTAND, *views, {"stop": "model_context_window_exceeded"}, *PLAN, *IMPLEMENT]
    with FakeAnthropic(script) as server:
        session = agent_for(sample_repo, server).run("fix the failing test")
        assert not server.rejected, server.rejected
    assert session.stop_reason == "done", session.error
    before, after = server.requests[6], server.requests[7]
    assert "to fit the context window" not in str(before["messages"])
    assert "to fit the context window" in str(after["messages"])  # stubs, or a dropped exchange
    assert len(str(after["messages"])) < len(str(before["messages"])) * 0.8


def test_pause_turn_continues_the_same_assistant_turn(sample_repo: Path):
    script = [UNDERSTAND, {"text": "Searching first.", "stop": "pause_turn"}, *PLAN, *IMPLEMENT]
    with FakeAnthropic(script) as server:
        session = agent_for(sample_repo, server).run("fix the failing test")
        assert not server.rejected, server.rejected
    assert session.stop_reason == "done", session.error
    assert server.requests[2]["messages"][-1]["role"] == "assistant"


def test_an_empty_reply_is_never_invented_into_the_conversation(sample_repo: Path):
    script = [UNDERSTAND, {"text": "  \n"}, *PLAN, *IMPLEMENT]
    with FakeAnthropic(script) as server:
        session = agent_for(sample_repo, server, name="claude-sonnet-4-6").run(
            "fix the failing test"
        )
        assert not server.rejected, server.rejected
    assert session.stop_reason == "done", session.error
    assert "(no reply)" not in str(server.requests[-1]["messages"])


def test_overloaded_inside_the_stream_is_retried(sample_repo: Path):
    script = [UNDERSTAND, {"text": "Looking", "error": "overloaded_error"}, *PLAN, *IMPLEMENT]
    with FakeAnthropic(script) as server:
        session = agent_for(sample_repo, server, retry_base_s=0.01).run("fix the failing test")
    assert session.stop_reason == "done", session.error
    assert len(server.requests) == 6


def test_overloaded_inside_the_stream_past_the_retries_names_the_error(sample_repo: Path):
    script = [UNDERSTAND, *[{"text": "Looking", "error": "overloaded_error"}] * 3]
    with FakeAnthropic(script) as server:
        session = agent_for(sample_repo, server, retries=1, retry_base_s=0.01).run(
            "fix the failing test"
        )
    assert session.stop_reason == "error"
    assert "overloaded_error" in session.error and " 200 " not in session.error


def test_stop_interrupts_a_wait_before_a_retry(sample_repo: Path):
    script = [UNDERSTAND, *[{"text": "Looking", "error": "api_error"}] * 3]
    with FakeAnthropic(script) as server:
        waiting: list[float] = []

        def on_event(event):
            # The backend says it will retry just before it starts waiting: press Stop then.
            if isinstance(event, TextDelta) and "api_error; retrying" in event.text and not waiting:
                waiting.append(time.monotonic())
                threading.Timer(0.2, agent.stop).start()

        agent = agent_for(sample_repo, server, retry_base_s=30, on_event=on_event)
        session = agent.run("fix the failing test")
        ended = time.monotonic()
    assert session.stop_reason == "interrupted", session.error
    assert waiting and ended - waiting[0] < 3  # the wait before the retry would be 8 s
    assert len(server.requests) == 2


def test_a_bearer_token_from_anthropic_auth_token_is_accepted(sample_repo: Path, monkeypatch):
    token = "sk-ant-oat-token-0123456789"
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", token)
    with FakeAnthropic([{"text": "hello"}], api_key=token) as server:
        model = AnthropicModel("claude-sonnet-4-6", base_url=server.base_url, max_retries=0)
        reply = model.complete(Request(system="s", messages=[{"role": "user", "content": "hi"}]))
    assert reply.text == "hello"


def test_an_ambiguous_replace_is_refused_with_the_lines_and_the_resend_with_line_lands(
    sample_repo: Path,
):
    # `    return` starts lines 8 and 13 of cleaning.py: the refusal lists both, the model picks.
    old, new = "    return", "    # prices may carry a currency sign\n    return"
    script = [
        UNDERSTAND,
        *PLAN,
        turn(call("replace", path=CLEANING, old=old, new=new)),
        turn(call("replace", path=CLEANING, old=old, new=new, line=13)),
        FINISH,
    ]
    with FakeAnthropic(script) as server:
        session = agent_for(sample_repo, server).run("fix the failing test")
        assert not server.rejected, server.rejected
    assert session.stop_reason == "done", session.error
    refused = tool_results(server.requests[4]["messages"][-1])[0]
    assert refused["is_error"] is True
    assert "line 8 (verbatim); line 13 (verbatim)" in str(refused["content"])
    assert "Resend the same edit with line=N" in str(refused["content"])
    assert "lines 13-13" in str(tool_results(server.requests[5]["messages"][-1])[0]["content"])
    assert "+    # prices may carry a currency sign\n     return float(" in session.diff()
