"""The strict fake: every rule the API enforces is refused with its status, through the real SDK.

Each bad request is one the API documents as an error; the fake answered 200 to all of them
before it was made strict. A refused request consumes no script turn.
"""

from __future__ import annotations

import copy
import json

import anthropic
import pytest

from agent_magic.models.anthropic import sdk_model_names
from agent_magic.models.catalog import CATALOG, spec_for
from agent_magic.testing import FakeAnthropic, fake_client

MODEL = "claude-sonnet-5-5"
TOOLS = [
    {
        "name": "view",
        "description": "Show a file.",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
    }
]
USE = {"type": "tool_use", "id": "toolu_1", "name": "view", "input": {"path": "a.py"}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "x = 1"}
CC = {"type": "ephemeral"}


def body(**changes):
    base = {
        "model": MODEL,
        "max_tokens": 1000,
        "tools": TOOLS,
        "messages": [{"role": "user", "content": "fix it"}],
    }
    base.update(changes)
    return base


def conversation(*messages):
    return body(messages=[{"role": "user", "content": "fix it"}, *messages])


BAD = [
    (
        "tool_use without tool_result",
        conversation({"role": "assistant", "content": [USE]}, {"role": "user", "content": "go on"}),
        400,
        "without `tool_result` blocks immediately after: toolu_1",
    ),
    (
        "tool_use as the last message",
        conversation({"role": "assistant", "content": [USE]}),
        400,
        "without `tool_result`",
    ),
    (
        "tool_result after text",
        conversation(
            {"role": "assistant", "content": [USE]},
            {"role": "user", "content": [{"type": "text", "text": "here"}, RESULT]},
        ),
        400,
        "must come first",
    ),
    (
        "tool_result for an unknown id",
        conversation(
            {"role": "assistant", "content": [{"type": "text", "text": "hm"}]},
            {"role": "user", "content": [RESULT]},
        ),
        400,
        "unexpected `tool_use_id`",
    ),
    (
        "whitespace-only text",
        body(messages=[{"role": "user", "content": [{"type": "text", "text": "  \n"}]}]),
        400,
        "non-whitespace text",
    ),
    (
        "empty text block",
        body(messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}]),
        400,
        "must be non-empty",
    ),
    (
        "empty string content",
        body(messages=[{"role": "user", "content": ""}]),
        400,
        "non-empty content",
    ),
    (
        "two user turns in a row",
        body(messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]),
        400,
        "roles must alternate",
    ),
    (
        "assistant first",
        body(messages=[{"role": "assistant", "content": "hi"}]),
        400,
        "first message",
    ),
    (
        "unknown role",
        body(messages=[{"role": "system", "content": "hi"}]),
        400,
        "'user' or 'assistant'",
    ),
    ("no messages", body(messages=[]), 400, "at least one message"),
    ("unknown model", body(model="claude-sonnet-9-9"), 404, "model: claude-sonnet-9-9"),
    ("negative max_tokens", body(max_tokens=-5), 400, "greater than or equal to 1"),
    (
        "max_tokens over the model's limit",
        body(max_tokens=10_000_000),
        400,
        "maximum allowed number of output tokens for claude-sonnet-5-5",
    ),
    ("temperature on a model that refuses sampling", body(temperature=0.2), 400, "sampling"),
    (
        "temperature out of range",
        body(model="claude-sonnet-4-5", temperature=1.5),
        400,
        "less than or equal to 1",
    ),
    (
        "thinking disabled where it cannot be",
        body(model="claude-opus-5-5", thinking={"type": "disabled"}),
        400,
        '"thinking.type.disabled" is not supported',
    ),
    (
        "manual extended thinking on an adaptive model",
        body(thinking={"type": "enabled", "budget_tokens": 2000}),
        400,
        "thinking.type.enabled",
    ),
    (
        "adaptive thinking on a 4.5 model",
        body(model="claude-haiku-4-5", thinking={"type": "adaptive"}),
        400,
        "thinking.type.adaptive",
    ),
    (
        "budget_tokens not below max_tokens",
        body(model="claude-sonnet-4-5", thinking={"type": "enabled", "budget_tokens": 2000}),
        400,
        "greater than `thinking.budget_tokens`",
    ),
    ("unknown effort", body(output_config={"effort": "extreme"}), 400, "output_config.effort"),
    (
        "thinking off at max effort on Opus 5",
        body(model="claude-opus-5", thinking={"type": "disabled"}, output_config={"effort": "max"}),
        400,
        "only at effort high or lower",
    ),
    ("forced tool use on a 5.5 model", body(tool_choice={"type": "any"}), 400, "forced tool use"),
    ("bad tool name", body(tools=[{**TOOLS[0], "name": "view file"}]), 400, "String should match"),
    ("duplicate tool names", body(tools=TOOLS * 2), 400, "unique"),
    (
        "tool schema not an object",
        body(tools=[{**TOOLS[0], "input_schema": {"type": "string"}}]),
        400,
        "input_schema.type",
    ),
    (
        "tool_use without tools",
        body(
            tools=[],
            messages=[
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": [USE]},
                {"role": "user", "content": [RESULT]},
            ],
        ),
        400,
        "must define tools",
    ),
    (
        "tool input not an object",
        conversation(
            {"role": "assistant", "content": [{**USE, "input": "{bad"}]},
            {"role": "user", "content": [RESULT]},
        ),
        400,
        "valid dictionary",
    ),
    (
        "five cache breakpoints",
        body(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": str(i), "cache_control": CC} for i in range(5)
                    ],
                }
            ]
        ),
        400,
        "maximum of 4",
    ),
    (
        "cache_control on empty text",
        body(system=[{"type": "text", "text": "", "cache_control": CC}]),
        400,
        "non-empty",
    ),
    (
        "thinking block with a forged signature",
        conversation(
            {
                "role": "assistant",
                "content": [{"type": "thinking", "thinking": "plan", "signature": "forged"}, USE],
            },
            {"role": "user", "content": [RESULT]},
        ),
        400,
        "Invalid `signature`",
    ),
    (
        "thinking block in a user message",
        body(
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "thinking", "thinking": "x", "signature": "s"}],
                }
            ]
        ),
        400,
        "not allowed in user",
    ),
    (
        "prompt over the context window",
        body(messages=[{"role": "user", "content": "word " * 6000}]),
        400,
        "prompt is too long",
    ),
    # Red-team round: tool_choice, sampling with thinking, options, cache TTLs, content shapes.
    (
        "forced tool use with extended thinking",
        body(
            model="claude-sonnet-4-5",
            max_tokens=4000,
            tool_choice={"type": "any"},
            thinking={"type": "enabled", "budget_tokens": 1024},
        ),
        400,
        "tool_choice forces tool use",
    ),
    (
        "forced tool use on a model that thinks by default",
        body(model="claude-opus-5", tool_choice={"type": "tool", "name": "view"}),
        400,
        "tool_choice forces tool use",
    ),
    (
        "tool_choice without tools",
        body(tools=[], tool_choice={"type": "any"}),
        400,
        "only be specified while providing tools",
    ),
    ("unknown tool_choice type", body(tool_choice={"type": "required"}), 400, "tool_choice.type"),
    (
        "temperature other than 1 with thinking",
        body(
            model="claude-sonnet-4-5",
            max_tokens=4000,
            temperature=0.5,
            thinking={"type": "enabled", "budget_tokens": 1024},
        ),
        400,
        "only be set to 1",
    ),
    (
        "top_k with thinking",
        body(
            model="claude-sonnet-4-5",
            max_tokens=4000,
            top_k=5,
            thinking={"type": "enabled", "budget_tokens": 1024},
        ),
        400,
        "`top_k` is not supported",
    ),
    (
        "top_p below 0.95 with thinking",
        body(
            model="claude-sonnet-4-5",
            max_tokens=4000,
            top_p=0.5,
            thinking={"type": "enabled", "budget_tokens": 1024},
        ),
        400,
        "between 0.95 and 1",
    ),
    (
        "temperature and top_p together",
        body(model="claude-haiku-4-5", temperature=0.5, top_p=0.9),
        400,
        "cannot both be specified",
    ),
    ("negative top_k", body(model="claude-haiku-4-5", top_k=-1), 400, "top_k"),
    ("whitespace stop sequence", body(stop_sequences=["END", " \n"]), 400, "non-whitespace"),
    ("stop_sequences not strings", body(stop_sequences="END"), 400, "list of strings"),
    ("unknown metadata field", body(metadata={"user": "u1"}), 400, "Extra inputs"),
    ("metadata.user_id too long", body(metadata={"user_id": "u" * 257}), 400, "at most 256"),
    (
        "1h cache entry after a 5m one",
        body(
            system=[{"type": "text", "text": "sys", "cache_control": CC}],
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "a", "cache_control": {**CC, "ttl": "1h"}}
                    ],
                }
            ],
        ),
        400,
        "1h entries must appear before 5m entries",
    ),
    (
        "cache_control of an unknown type",
        body(system=[{"type": "text", "text": "sys", "cache_control": {"type": "persistent"}}]),
        400,
        "'ephemeral'",
    ),
    (
        "tool_result holding a tool_use",
        conversation(
            {"role": "assistant", "content": [USE]},
            {"role": "user", "content": [{**RESULT, "content": [USE]}]},
        ),
        400,
        "allowed in a tool_result",
    ),
    (
        "tool_result with whitespace text",
        conversation(
            {"role": "assistant", "content": [USE]},
            {"role": "user", "content": [{**RESULT, "content": [{"type": "text", "text": " "}]}]},
        ),
        400,
        "non-whitespace",
    ),
    (
        "error tool_result without content",
        conversation(
            {"role": "assistant", "content": [USE]},
            {"role": "user", "content": [{**RESULT, "content": "", "is_error": True}]},
        ),
        400,
        "cannot be empty if `is_error` is true",
    ),
    (
        "two results for one tool_use",
        conversation(
            {"role": "assistant", "content": [USE]}, {"role": "user", "content": [RESULT, RESULT]}
        ),
        400,
        "single `tool_result`",
    ),
    (
        "a tool_use id used twice in a conversation",
        conversation(
            {"role": "assistant", "content": [USE]},
            {"role": "user", "content": [RESULT]},
            {"role": "assistant", "content": [USE]},
            {"role": "user", "content": [RESULT]},
        ),
        400,
        "unique across the conversation",
    ),
    (
        "image of an unsupported type",
        body(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/bmp", "data": "Qk0="},
                        },
                        {"type": "text", "text": "what is this?"},
                    ],
                }
            ]
        ),
        400,
        "media_type",
    ),
    (
        "image without a source",
        body(messages=[{"role": "user", "content": [{"type": "image"}]}]),
        400,
        "source",
    ),
    (
        "prefill while thinking",
        conversation({"role": "assistant", "content": "Here is"}),
        400,
        "Prefilling the assistant message is not supported when thinking is enabled",
    ),
    (
        "prefill ending in whitespace",
        body(
            model="claude-haiku-4-5",
            messages=[
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "Sure, "},
            ],
        ),
        400,
        "trailing whitespace",
    ),
]

PNG = {
    "type": "image",
    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
}
GOOD = [
    ("system as a string", body(system="You are terse.")),
    (
        "system as text blocks",
        body(system=[{"type": "text", "text": "You are terse.", "cache_control": CC}]),
    ),
    (
        "tool_result as text and image blocks",
        conversation(
            {"role": "assistant", "content": [USE]},
            {
                "role": "user",
                "content": [{**RESULT, "content": [{"type": "text", "text": "the plot"}, PNG]}],
            },
        ),
    ),
    (
        "an error tool_result with text",
        conversation(
            {"role": "assistant", "content": [USE]},
            {"role": "user", "content": [{**RESULT, "content": "no such file", "is_error": True}]},
        ),
    ),
    (
        "a tool_result without content",
        conversation(
            {"role": "assistant", "content": [USE]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}]},
        ),
    ),
    (
        "an image by url",
        body(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "url", "url": "https://example.com/a.png"},
                        }
                    ],
                }
            ]
        ),
    ),
    (
        "prefill without thinking",
        body(
            model="claude-haiku-4-5",
            messages=[
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "Here is"},
            ],
        ),
    ),
    (
        "an empty final assistant message",
        body(
            model="claude-haiku-4-5",
            messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": []}],
        ),
    ),
    (
        "1h entries before 5m ones",
        body(
            system=[{"type": "text", "text": "sys", "cache_control": {**CC, "ttl": "1h"}}],
            messages=[
                {"role": "user", "content": [{"type": "text", "text": "a", "cache_control": CC}]}
            ],
        ),
    ),
    ("stop sequences and a user id", body(stop_sequences=["END"], metadata={"user_id": "u-1"})),
    (
        "temperature 1 with thinking",
        body(
            model="claude-sonnet-4-5",
            max_tokens=4000,
            temperature=1,
            thinking={"type": "enabled", "budget_tokens": 1024},
        ),
    ),
    ("auto tool_choice while thinking", body(tool_choice={"type": "auto"})),
    (
        "forced tool use without thinking",
        body(model="claude-haiku-4-5", tool_choice={"type": "any"}),
    ),
]


@pytest.mark.parametrize("name, request_body", GOOD, ids=[g[0] for g in GOOD])
def test_the_fake_accepts_what_the_api_accepts(name, request_body):
    with FakeAnthropic([{"text": "ok"}]) as server:
        reply = fake_client(server, max_retries=0).post(
            "/v1/messages", body=request_body, cast_to=object
        )
    assert not server.rejected, server.rejected
    assert reply["type"] == "message"


@pytest.mark.parametrize("name, request_body, status, message", BAD, ids=[b[0] for b in BAD])
def test_the_fake_refuses_what_the_api_refuses(name, request_body, status, message):
    with FakeAnthropic([{"text": "ok"}], context_window=5000) as server:
        client = fake_client(server, max_retries=0)
        with pytest.raises(anthropic.APIStatusError) as caught:
            client.post("/v1/messages", body=request_body, cast_to=object)
        assert server.turn == 0  # a refused request consumes no turn
    assert caught.value.status_code == status
    assert message in str(caught.value.body["error"]["message"])
    assert caught.value.body["type"] == "error"


def test_a_413_for_a_body_over_the_size_limit():
    with FakeAnthropic([{"text": "ok"}], max_request_bytes=2000) as server:
        client = fake_client(server, max_retries=0)
        with pytest.raises(anthropic.APIStatusError) as caught:
            client.messages.create(
                model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "x" * 3000}]
            )
    assert caught.value.status_code == 413
    assert caught.value.body["error"]["type"] == "request_too_large"


def test_a_valid_conversation_passes():
    good = conversation(
        {"role": "assistant", "content": [{"type": "text", "text": "Looking."}, USE]},
        {"role": "user", "content": [RESULT, {"type": "text", "text": "go on"}]},
    )
    with FakeAnthropic([{"text": "ok"}]) as server:
        reply = fake_client(server).post("/v1/messages", body=good, cast_to=object)
    assert reply["stop_reason"] == "end_turn"


def test_every_model_the_sdk_lists_is_in_the_table():
    for name in sdk_model_names():
        spec = spec_for(name)
        assert spec is not None, name
        assert 0 < spec.max_output <= spec.context_window and spec.min_cache_tokens > 0


@pytest.mark.parametrize("model", sorted(CATALOG))
def test_default_thinking_follows_the_model(model):
    spec = CATALOG[model]
    with FakeAnthropic([{"text": "ok"}]) as server:
        message = fake_client(server).messages.create(
            model=model, max_tokens=2000, messages=[{"role": "user", "content": "hi"}]
        )
    kinds = [b.type for b in message.content]
    assert kinds == (["thinking", "text"] if spec.thinks_by_default else ["text"])
    if spec.thinks_by_default:
        assert message.content[0].signature
        assert (message.content[0].thinking == "") == spec.omits_thinking_text


def thinking_round(server, echo):
    """Ask once (thinking + a tool call), then answer the tool with ``echo(content)`` sent back."""
    client = fake_client(server, max_retries=0)
    first = client.messages.create(
        model=MODEL,
        max_tokens=2000,
        tools=TOOLS,
        thinking={"type": "adaptive", "display": "summarized"},
        messages=[{"role": "user", "content": "fix it"}],
    )
    content = [b.to_dict() for b in first.content]
    tool_id = next(b["id"] for b in content if b["type"] == "tool_use")
    return client.messages.create(
        model=MODEL,
        max_tokens=2000,
        tools=TOOLS,
        thinking={"type": "adaptive", "display": "summarized"},
        messages=[
            {"role": "user", "content": "fix it"},
            {"role": "assistant", "content": echo(content)},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": "x = 1"}],
            },
        ],
    )


SCRIPT = [
    {"thinking": "The parser is wrong.", "tool_calls": [{"name": "view", "input": {"path": "a"}}]},
    {"text": "done"},
]


def test_thinking_echoed_unchanged_is_accepted():
    with FakeAnthropic(SCRIPT) as server:
        reply = thinking_round(server, lambda content: content)
    assert reply.content[-1].text == "done"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: [b for b in c if b["type"] != "thinking"], "must start with a thinking block"),
        (
            lambda c: [
                {**b, "thinking": b["thinking"] + "!"} if b["type"] == "thinking" else b for b in c
            ],
            "Invalid `signature`",
        ),
        (
            lambda c: [{**b, "signature": "x"} if b["type"] == "thinking" else b for b in c],
            "Invalid `signature`",
        ),
    ],
)
def test_thinking_dropped_or_changed_is_refused(change, message):
    with FakeAnthropic(SCRIPT) as server, pytest.raises(anthropic.BadRequestError, match=message):
        thinking_round(server, change)


def test_redacted_thinking_round_trips_and_forgery_is_refused():
    script = [
        {"redacted_thinking": True, "tool_calls": [{"name": "view", "input": {"path": "a"}}]},
        {"text": "done"},
    ]
    with FakeAnthropic(script) as server:
        assert thinking_round(server, lambda c: c).content[-1].text == "done"
    with FakeAnthropic(script) as server, pytest.raises(anthropic.BadRequestError):
        thinking_round(
            server,
            lambda c: [
                {**b, "data": "AAAA" + b["data"][4:]} if b["type"] == "redacted_thinking" else b
                for b in c
            ],
        )


@pytest.mark.parametrize(
    "stop", ["refusal", "model_context_window_exceeded", "pause_turn", "end_turn"]
)
def test_script_turns_choose_the_stop_reason(stop):
    with FakeAnthropic([{"text": "partial answer", "stop": stop}]) as server:
        message = fake_client(server).messages.create(
            model="claude-sonnet-4-6", max_tokens=500, messages=[{"role": "user", "content": "hi"}]
        )
    assert message.stop_reason == stop
    if stop == "refusal":
        assert message.stop_details.category == "cyber"


def test_max_tokens_cuts_a_tool_input_mid_json_in_the_stream():
    big = {"path": "a.py", "content": "x = 1\n" * 400}
    with FakeAnthropic([{"tool_calls": [{"name": "view", "input": big}]}]) as server:
        stream = fake_client(server).messages.create(
            model="claude-sonnet-4-6",
            max_tokens=200,
            stream=True,
            tools=TOOLS,
            messages=[{"role": "user", "content": "hi"}],
        )
        events = [e.to_dict() for e in stream]
    raw = "".join(
        e["delta"].get("partial_json", "") for e in events if e["type"] == "content_block_delta"
    )
    assert raw and len(raw) < len(str(big))
    stops = [e["delta"]["stop_reason"] for e in events if e["type"] == "message_delta"]
    assert stops == ["max_tokens"]


def test_error_event_mid_stream_reaches_the_sdk_as_a_status_200_error():
    with FakeAnthropic([{"text": "Working on it", "error": "overloaded_error"}]) as server:
        stream = fake_client(server).messages.create(
            model="claude-sonnet-4-6",
            max_tokens=500,
            stream=True,
            messages=[{"role": "user", "content": "hi"}],
        )
        with pytest.raises(anthropic.APIStatusError) as caught:
            list(stream)
    assert caught.value.status_code == 200
    assert caught.value.body["error"]["type"] == "overloaded_error"


def test_streams_carry_pings_and_the_cache_creation_breakdown():
    system = [
        {
            "type": "text",
            "text": "rules " * 2000,
            "cache_control": {"type": "ephemeral", "ttl": "1h"},
        }
    ]
    with FakeAnthropic([{"text": "a"}, {"text": "b"}]) as server:
        client = fake_client(server)
        with client.messages.with_streaming_response.create(
            model="claude-sonnet-4-6",
            max_tokens=500,
            stream=True,
            system=system,
            messages=[{"role": "user", "content": "hi"}],
        ) as response:
            lines = list(response.iter_lines())
        events = [json.loads(line[len("data: ") :]) for line in lines if line.startswith("data: ")]
        second = client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=500,
            system=system,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert [e["type"] for e in events].count("ping") >= 2
    usage = events[0]["message"]["usage"]
    assert (
        usage["cache_creation"]["ephemeral_1h_input_tokens"]
        == usage["cache_creation_input_tokens"]
        > 0
    )
    assert second.usage.cache_read_input_tokens == usage["cache_creation_input_tokens"]


def test_cache_entries_expire_after_five_minutes_on_the_test_clock():
    now = [0.0]
    system = [{"type": "text", "text": "rules " * 2000, "cache_control": {"type": "ephemeral"}}]
    with FakeAnthropic([{"text": "a"}] * 4, clock=lambda: now[0]) as server:
        client = fake_client(server)

        def ask():
            return client.messages.create(
                model="claude-sonnet-4-6",
                max_tokens=500,
                system=system,
                messages=[{"role": "user", "content": "hi"}],
            ).usage

        first = ask()
        now[0] += 299  # read within the TTL refreshes it
        assert ask().cache_read_input_tokens == first.cache_creation_input_tokens > 0
        now[0] += 299
        assert ask().cache_read_input_tokens > 0
        now[0] += 301
        late = ask()
    assert late.cache_read_input_tokens == 0 and late.cache_creation_input_tokens > 0


@pytest.mark.parametrize("model, cached", [("claude-opus-5", True), ("claude-haiku-4-5", False)])
def test_the_cache_minimum_is_the_models(model, cached):
    system = [{"type": "text", "text": "rules " * 1200, "cache_control": {"type": "ephemeral"}}]
    with FakeAnthropic([{"text": "a"}]) as server:
        usage = (
            fake_client(server)
            .messages.create(
                model=model,
                max_tokens=2000,
                system=system,
                messages=[{"role": "user", "content": "hi"}],
            )
            .usage
        )
    assert (usage.cache_creation_input_tokens > 0) == cached


def test_requests_are_not_mutated_by_validation():
    request_body = conversation(
        {"role": "assistant", "content": [USE]}, {"role": "user", "content": [RESULT]}
    )
    before = copy.deepcopy(request_body)
    with FakeAnthropic([{"text": "ok"}]) as server:
        fake_client(server).post("/v1/messages", body=request_body, cast_to=object)
    assert request_body == before


def test_thinking_blocks_are_tied_to_the_model_that_wrote_them():
    with FakeAnthropic(SCRIPT) as server:
        client = fake_client(server, max_retries=0)
        first = client.messages.create(
            model=MODEL,
            max_tokens=2000,
            tools=TOOLS,
            messages=[{"role": "user", "content": "fix it"}],
        )
        content = [b.to_dict() for b in first.content]
        tool_id = content[-1]["id"]
        with pytest.raises(anthropic.BadRequestError, match="Invalid `signature`"):
            client.messages.create(
                model="claude-opus-5-5",
                max_tokens=2000,
                tools=TOOLS,
                messages=[
                    {"role": "user", "content": "fix it"},
                    {"role": "assistant", "content": content},
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": tool_id, "content": "x"}
                        ],
                    },
                ],
            )


def test_a_stall_in_a_script_is_a_number_of_seconds():
    from agent_magic.errors import UserError
    from agent_magic.models.scripted import load_script

    assert load_script([{"text": "hi", "stall": 1.5}])
    for bad in (-1, "60", True):
        with pytest.raises(UserError, match="stall"):
            load_script([{"text": "hi", "stall": bad}])


STOPPING = [
    {"text": "Answer: 42\nEND and more", "tool_calls": [{"name": "view", "input": {"path": "a"}}]}
]


def test_a_stop_sequence_ends_the_reply_before_it():
    with FakeAnthropic(STOPPING * 2) as server:
        client = fake_client(server, max_retries=0)
        kwargs = {
            "model": "claude-haiku-4-5",
            "max_tokens": 500,
            "tools": TOOLS,
            "stop_sequences": ["NEVER", "END"],
            "messages": [{"role": "user", "content": "what is it?"}],
        }
        whole = client.messages.create(**kwargs)
        with client.messages.stream(**kwargs) as stream:
            streamed = stream.get_final_message()
    for message in (whole, streamed):
        assert [b.type for b in message.content] == ["text"]  # the tool call came after it
        assert message.content[0].text == "Answer: 42\n"
        assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "END")


def test_message_delta_repeats_the_input_counts_cumulatively():
    with FakeAnthropic([{"text": "ok"}]) as server:
        events = list(
            fake_client(server).messages.create(
                model=MODEL,
                max_tokens=500,
                stream=True,
                messages=[{"role": "user", "content": "hi"}],
            )
        )
    start = next(e for e in events if e.type == "message_start").message.usage
    delta = next(e for e in events if e.type == "message_delta").usage
    assert delta.input_tokens == start.input_tokens > 0
    assert delta.output_tokens > start.output_tokens
    assert [e.type for e in events][-2:] == ["message_delta", "message_stop"]


def test_a_reply_that_would_overflow_the_window_stops_at_it():
    # Models of 4.5 and later stop at the window rather than refuse prompt + max_tokens over it.
    long_reply = [{"text": "A long answer. " * 200}]
    with FakeAnthropic(long_reply * 2, context_window=3000) as server:
        client = fake_client(server, max_retries=0)
        near = client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=2000,
            messages=[{"role": "user", "content": "word " * 2000}],
        )
        roomy = client.messages.create(
            model="claude-haiku-4-5", max_tokens=2000, messages=[{"role": "user", "content": "hi"}]
        )
    assert near.stop_reason == "model_context_window_exceeded"
    assert near.usage.input_tokens + near.usage.output_tokens <= 3000
    assert 0 < len(near.content[0].text) < len(long_reply[0]["text"])
    assert roomy.stop_reason == "end_turn" and roomy.content[0].text == long_reply[0]["text"]
