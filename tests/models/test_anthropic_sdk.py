"""AnthropicModel through the real anthropic SDK against the fake Messages API server."""

from __future__ import annotations

import copy
import itertools

import anthropic
import pytest

from agent_magic.errors import ModelError, UserError
from agent_magic.models.anthropic import AnthropicModel
from agent_magic.models.base import Request
from agent_magic.models.pricing import price_for
from agent_magic.testing import FakeAnthropic, fake_client

SYSTEM = "You are a careful engineer. " * 200  # ~1,400 tokens: above the cache minimum
TOOLS = [
    {
        "name": "view",
        "description": "Show a file.",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
    },
    {"name": "finish", "description": "Stop.", "input_schema": {"type": "object"}},
]


def model_for(server, *, retries=2):
    return AnthropicModel("claude-sonnet-4-6", client=fake_client(server, max_retries=retries))


def ask(text="Fix the failing test."):
    return Request(system=SYSTEM, tools=TOOLS, messages=[{"role": "user", "content": text}])


def test_streamed_text_reaches_on_text_in_pieces():
    text = "I looked at the code and the bug is in the parser."
    with FakeAnthropic([{"text": text}]) as server:
        pieces: list[str] = []
        reply = model_for(server).complete(ask(), pieces.append)
    assert len(pieces) > 1 and "".join(pieces) == text
    assert (reply.text, reply.tool_calls, reply.stop_reason) == (text, [], "end_turn")
    assert reply.usage.output_tokens > 0 and reply.usage.total_input > 0
    assert server.requests[0]["stream"] is True
    assert server.requests[0]["model"] == "claude-sonnet-4-6"


def test_multi_turn_tool_use_and_cache_breakpoints_on_the_wire():
    script = [
        {
            "text": "Let me look.",
            "tool_calls": [
                {"name": "view", "input": {"path": "a.py"}},
                {"name": "view", "input": {"path": "b.py"}},
            ],
        },
        {"tool_calls": [{"name": "finish", "input": {"summary": "done"}}]},
    ]
    with FakeAnthropic(script) as server:
        model = model_for(server)
        request = ask()
        first = model.complete(request)
        assert [c.name for c in first.tool_calls] == ["view", "view"]
        assert [c.input for c in first.tool_calls] == [{"path": "a.py"}, {"path": "b.py"}]
        assert all(c.id.startswith("toolu_") for c in first.tool_calls)
        assert len({c.id for c in first.tool_calls}) == 2
        assert first.stop_reason == "tool_use"
        request.messages.append({"role": "assistant", "content": first.content()})
        request.messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": c.id, "content": "x = 1\n" * 50}
                    for c in first.tool_calls
                ],
            }
        )
        before = copy.deepcopy(request)
        second = model.complete(request)
        assert request == before  # the caller's request is not mutated
    assert second.tool_calls[0].name == "finish" and second.tool_calls[0].input == {
        "summary": "done"
    }
    sent = server.requests[1]
    assert sent["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert sent["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert sent["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert sent["messages"][1]["content"][1]["id"] == first.tool_calls[0].id


def test_later_turns_read_the_whole_previous_prefix_from_cache():
    script = [{"tool_calls": [{"name": "view", "input": {"path": f"f{i}.py"}}]} for i in range(3)]
    with FakeAnthropic(script) as server:
        model = model_for(server)
        request = ask()
        usages = []
        for _ in range(3):
            reply = model.complete(request)
            usages.append(reply.usage)
            request.messages.append({"role": "assistant", "content": reply.content()})
            request.messages.append(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": reply.tool_calls[0].id,
                            "content": "def f():\n    return 1\n" * 20,
                        }
                    ],
                }
            )
    assert usages[0].cache_read_tokens == 0 and usages[0].cache_write_tokens > 1024
    for previous, current in itertools.pairwise(usages):
        assert current.cache_read_tokens == previous.total_input
        assert 0 < current.cache_write_tokens < current.cache_read_tokens
        assert current.input_tokens == 0


@pytest.mark.parametrize("fault", ["429", "529", "500"])
def test_status_fault_is_retried_by_the_sdk_then_succeeds(fault):
    with FakeAnthropic([{"fault": fault}, {"text": "recovered"}]) as server:
        reply = model_for(server, retries=2).complete(ask())
    assert reply.text == "recovered"
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "fault, words",
    [
        ("429", ["429", "rate_limit_error", "Rate limited", "wait"]),
        ("529", ["529", "overloaded_error", "try again"]),
        ("500", ["500", "api_error", "try again later"]),
    ],
)
def test_status_fault_after_retries_is_a_clear_model_error(fault, words):
    with FakeAnthropic([{"fault": fault}] * 3) as server, pytest.raises(ModelError) as caught:
        model_for(server, retries=1).complete(ask())
    message = str(caught.value)
    assert all(w in message for w in words), message
    assert "claude-sonnet-4-6" in message and "req_fake" in message
    assert len(server.requests) == 2  # one try plus one SDK retry
    assert server.turn == 2


def test_connection_dropped_mid_stream_is_retried():
    with FakeAnthropic([{"fault": "drop"}, {"text": "second try"}]) as server:
        pieces: list[str] = []
        reply = model_for(server).complete(ask(), pieces.append)
    assert reply.text == "second try"
    assert pieces[0] == "Let me " and "retrying" in pieces[1]
    assert "".join(pieces).endswith("second try")


def test_connection_dropped_every_time_is_a_clear_model_error():
    with (
        FakeAnthropic([{"fault": "drop"}] * 3) as server,
        pytest.raises(ModelError, match="dropped mid-reply 2 times"),
    ):
        model_for(server, retries=1).complete(ask())
    assert len(server.requests) == 2


def test_malformed_tool_json_becomes_an_invalid_json_call_not_a_crash():
    turn = {
        "fault": "bad_json",
        "text": "Editing now.",
        "tool_calls": [{"name": "replace", "input": {"path": "a.py", "old": "x", "new": "y"}}],
    }
    with FakeAnthropic([turn]) as server:
        reply = model_for(server).complete(ask())
    assert reply.text == "Editing now."
    [call] = reply.tool_calls
    assert call.name == "replace" and call.id.startswith("toolu_")
    assert call.input == {"__invalid_json__": '{"path": "a.py", "old": "x", "new": "y", oops}'}
    assert reply.usage.output_tokens > 0


def test_the_sdk_stream_helper_would_crash_on_the_same_stream():
    # Why AnthropicModel folds raw events itself; if the SDK changes, revisit that choice.
    with FakeAnthropic([{"fault": "bad_json"}]) as server:
        client = fake_client(server, max_retries=0)
        stream = client.messages.stream(
            model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
        with (
            pytest.raises(ValueError, match="Unable to parse tool parameter JSON"),
            stream as events,
        ):
            events.until_done()


def test_script_exhausted_is_reported_clearly_without_retries():
    with FakeAnthropic([{"text": "only one"}]) as server:
        model = model_for(server, retries=3)
        model.complete(ask())
        with pytest.raises(ModelError, match="script exhausted: it has 1 turns"):
            model.complete(ask())
    assert len(server.requests) == 2


def test_unreachable_server_is_a_clear_model_error():
    with FakeAnthropic([]) as server:
        base_url = server.base_url
    model = AnthropicModel(
        "claude-sonnet-4-6", api_key="test-key", base_url=base_url, max_retries=0
    )
    with pytest.raises(ModelError, match=r"cannot reach the Anthropic API at http://127.0.0.1"):
        model.complete(ask())


def test_missing_key_is_a_user_error_that_says_how_to_fix_it(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(UserError) as caught:
        AnthropicModel()
    message = str(caught.value)
    assert "%env ANTHROPIC_API_KEY=" in message and "scripted:PATH" in message


def test_key_from_the_environment_is_used(monkeypatch):
    with FakeAnthropic([{"text": "hi"}], api_key="sk-ant-env-key-0123456789") as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env-key-0123456789")
        model = AnthropicModel("claude-sonnet-4-6", base_url=server.base_url, max_retries=0)
        assert model.complete(ask()).text == "hi"


def test_rejected_key_never_appears_in_the_error_or_repr():
    secret = "sk-ant-api03-SECRET-do-not-print-0123456789"
    with FakeAnthropic([{"text": "unused"}], api_key="sk-ant-the-right-one-000000") as server:
        model = AnthropicModel(
            "claude-sonnet-4-6", api_key=secret, base_url=server.base_url, max_retries=0
        )
        with pytest.raises(ModelError) as caught:
            model.complete(ask())
    message = str(caught.value)
    assert "401" in message and "authentication_error" in message and "ANTHROPIC_API_KEY" in message
    assert "[REDACTED]" in message  # the fake server echoed it; we removed it
    assert secret not in message and "SECRET" not in message
    assert caught.value.__cause__ is None and caught.value.__context__ is not None
    assert secret not in repr(model) and secret not in str(vars(model).get("name"))


def test_name_defaults_to_newest_sonnet_and_price_follows_the_name():
    with FakeAnthropic([{"text": "ok"}]) as server:
        model = AnthropicModel(client=fake_client(server))
        model.complete(ask())
    assert "sonnet" in model.name
    assert server.requests[0]["model"] == model.name
    assert model.price == price_for(model.name)
    assert (
        AnthropicModel("claude-opus-4-1", client=anthropic.Anthropic(api_key="x")).price.input == 15
    )


def test_non_streaming_json_protocol_with_the_sdk():
    with FakeAnthropic(
        [{"text": "a", "tool_calls": [{"name": "view", "input": {"path": "p"}}]}],
        min_cache_tokens=0,
    ) as server:
        message = fake_client(server).messages.create(
            model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        )
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[1].input == {"path": "p"} and message.stop_reason == "tool_use"
    assert message.usage.input_tokens > 0 and message.usage.cache_read_input_tokens == 0


def test_a_413_gets_advice_about_the_request_size():
    with (
        FakeAnthropic([{"text": "unused"}], max_request_bytes=1000) as server,
        pytest.raises(ModelError) as caught,
    ):
        model_for(server, retries=0).complete(ask())
    message = str(caught.value)
    assert "413 request_too_large" in message and "32 MB" in message


def test_a_404_names_a_current_model():
    with FakeAnthropic([{"text": "unused"}]) as server:
        model = AnthropicModel("claude-sonnet-9-9", client=fake_client(server, max_retries=0))
        with pytest.raises(ModelError) as caught:
            model.complete(ask())
    message = str(caught.value)
    assert "404 not_found_error" in message and "--model claude-sonnet-5-5" in message


def test_a_malformed_request_is_called_a_bug_not_a_long_conversation():
    bad = Request(system=SYSTEM, tools=TOOLS, messages=[{"role": "user", "content": "  "}])
    with FakeAnthropic([{"text": "unused"}]) as server:
        with pytest.raises(ModelError) as caught:
            model_for(server, retries=3).complete(bad)
        assert len(server.requests) == 1  # a 400 is not retried
    assert "bug in agent_magic" in str(caught.value)
