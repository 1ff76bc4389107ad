"""Pure parts of the Anthropic backend: model choice, request building, stream folding, redaction."""

from __future__ import annotations

import copy

import pytest

from agent_magic.models.anthropic import (
    FALLBACK_MODEL,
    StreamFold,
    build_params,
    default_model_name,
    parse_tool_input,
    redact,
    sdk_model_names,
)
from agent_magic.models.base import Request, ToolCall, Usage
from agent_magic.models.pricing import parse_model_name

CC = {"type": "ephemeral"}


@pytest.mark.parametrize(
    "names, expected",
    [
        (["claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "claude-opus-5"], "claude-sonnet-4-5"),
        (["claude-sonnet-4-5-20250929", "claude-sonnet-4-20250514"], "claude-sonnet-4-5-20250929"),
        (["claude-3-7-sonnet-latest", "claude-sonnet-4-20250514"], "claude-sonnet-4-20250514"),
        (
            ["claude-sonnet-5", "claude-sonnet-4-6", "claude-sonnet-5-5", "claude-haiku-9"],
            "claude-sonnet-5-5",
        ),
        (["claude-sonnet-10", "claude-sonnet-9-9"], "claude-sonnet-10"),  # numbers, not strings
        (["claude-opus-4-1", "gpt-4o"], FALLBACK_MODEL),
        ([], FALLBACK_MODEL),
    ],
)
def test_default_model_name(names, expected):
    assert default_model_name(names) == expected


def test_default_model_is_the_newest_sonnet_the_sdk_lists():
    names = sdk_model_names()
    sonnets = [parse_model_name(n) for n in names if "sonnet" in n]
    chosen = parse_model_name(default_model_name())
    assert chosen is not None and chosen.family == "sonnet"
    assert chosen.version == max(s.version for s in sonnets if s)
    assert default_model_name() in names


def request(messages=None, tools=True, system="You are careful."):
    return Request(
        system=system,
        messages=messages
        if messages is not None
        else [
            {"role": "user", "content": "fix the bug"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "t1", "name": "view", "input": {"path": "a.py"}}
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x = 1"}],
            },
        ],
        tools=[{"name": "view", "input_schema": {}}, {"name": "finish", "input_schema": {}}]
        if tools
        else [],
        max_tokens=100,
    )


def test_breakpoints_on_last_tool_system_and_last_block_without_mutating():
    req = request()
    before = copy.deepcopy(req)
    params = build_params("claude-x", req)
    assert req == before
    assert params["tools"][-1]["cache_control"] == CC
    assert "cache_control" not in params["tools"][0]
    assert params["system"] == [{"type": "text", "text": "You are careful.", "cache_control": CC}]
    assert params["messages"][-1]["content"][-1]["cache_control"] == CC
    assert "cache_control" not in str(params["messages"][:-1])
    assert (params["model"], params["max_tokens"]) == ("claude-x", 100)


@pytest.mark.parametrize(
    "last, expected",
    [
        (
            {"role": "user", "content": "hi"},
            {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": CC}]},
        ),
        ({"role": "user", "content": ""}, {"role": "user", "content": ""}),
        (
            {"role": "user", "content": [{"type": "text", "text": ""}]},
            {"role": "user", "content": [{"type": "text", "text": ""}]},
        ),
        (
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "..."}]},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "..."}]},
        ),
        ({"role": "user", "content": []}, {"role": "user", "content": []}),
    ],
)
def test_last_message_marking(last, expected):
    assert build_params("m", request([last], tools=False))["messages"] == [expected]


def test_no_system_no_tools_and_breakpoint_limit_respected():
    marked = [{"role": "user", "content": [{"type": "text", "text": "a", "cache_control": CC}]}] * 2
    params = build_params("m", request([*marked, {"role": "user", "content": "b"}]))
    # tools + system + 2 already marked = 4: the last message gets none.
    assert params["messages"][-1] == {"role": "user", "content": "b"}
    bare = build_params("m", request([{"role": "user", "content": "b"}], tools=False, system=""))
    assert "system" not in bare and "tools" not in bare


def text_events(*pieces):
    return [
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *[
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
            for p in pieces
        ],
        {"type": "content_block_stop", "index": 0},
    ]


def tool_events(index, partials, tool_id="toolu_1", name="view"):
    return [
        {
            "type": "content_block_start",
            "index": index,
            "content_block": {"type": "tool_use", "id": tool_id, "name": name, "input": {}},
        },
        *[
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": p},
            }
            for p in partials
        ],
        {"type": "content_block_stop", "index": index},
    ]


START = {
    "type": "message_start",
    "message": {
        "usage": {
            "input_tokens": 10,
            "cache_creation_input_tokens": 20,
            "cache_read_input_tokens": 30,
            "output_tokens": 1,
        }
    },
}


def end(stop="end_turn", output=7):
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop},
            "usage": {"output_tokens": output},
        },
        {"type": "message_stop"},
    ]


@pytest.mark.parametrize(
    "events, text, calls, stop",
    [
        ([START, *text_events("Hel", "lo"), *end()], "Hello", [], "end_turn"),
        (
            [
                START,
                *text_events("Look"),
                *tool_events(1, ["", '{"pa', 'th": "a.py"}']),
                *end("tool_use"),
            ],
            "Look",
            [ToolCall("toolu_1", "view", {"path": "a.py"})],
            "tool_use",
        ),
        (
            [START, *tool_events(0, ['{"path": "a.py", oops}']), *end("tool_use")],
            "",
            [ToolCall("toolu_1", "view", {"__invalid_json__": '{"path": "a.py", oops}'})],
            "tool_use",
        ),
        # Cut by max_tokens: truncated JSON is invalid, not a partial input.
        (
            [START, *tool_events(0, ['{"path": "a.py", "content": "x = ']), *end("max_tokens")],
            "",
            [
                ToolCall(
                    "toolu_1", "view", {"__invalid_json__": '{"path": "a.py", "content": "x = '}
                )
            ],
            "max_tokens",
        ),
        (
            [START, *tool_events(0, ["[1, 2]"]), *end("tool_use")],
            "",
            [ToolCall("toolu_1", "view", {"__invalid_json__": "[1, 2]"})],
            "tool_use",
        ),
        (
            [START, *tool_events(0, [""]), *end("tool_use")],
            "",
            [ToolCall("toolu_1", "view", {})],
            "tool_use",
        ),
    ],
)
def test_stream_fold(events, text, calls, stop):
    fold = StreamFold()
    streamed = "".join(fold.feed(e) for e in events)
    reply = fold.reply()
    assert fold.finished
    assert (reply.text, reply.tool_calls, reply.stop_reason) == (text, calls, stop)
    assert streamed == text
    assert reply.usage == Usage(10, 7, 20, 30)


def test_stream_fold_without_message_stop_is_unfinished():
    fold = StreamFold()
    for event in [START, *text_events("par")]:
        fold.feed(event)
    assert not fold.finished and fold.reply().text == "par"


def test_parse_tool_input_uses_start_input_when_no_deltas():
    assert parse_tool_input({"input": {"a": 1}, "_json": []}) == {"a": 1}


@pytest.mark.parametrize(
    "text, secret, expected",
    [
        ("bad key sk-ant-api03-abcdefghijkl", None, "bad key [REDACTED]"),
        ("key test-key-123 rejected", "test-key-123", "key [REDACTED] rejected"),
        ("nothing here", "test-key-123", "nothing here"),
        ("short k", "k", "short k"),  # too short to redact without mangling text
    ],
)
def test_redact(text, secret, expected):
    assert redact(text, secret) == expected


def test_prompt_cache_off_sends_no_breakpoints():
    assert "cache_control" not in str(build_params("m", request(), cache=False))


def test_fold_ignores_event_and_delta_types_it_does_not_know():
    # The API may add event and delta types; a client must pass over them, not fail.
    fold = StreamFold()
    events = [
        {"type": "message_start", "message": {"usage": {"input_tokens": 7, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "citations_delta", "citation": {"cited_text": "x"}},
        },
        {"type": "future_event", "payload": 1},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 3},
        },
        {"type": "message_stop"},
    ]
    assert "".join(fold.feed(e) for e in events) == "Hi"
    reply = fold.reply()
    assert fold.finished and reply.text == "Hi" and reply.stop_reason == "end_turn"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (7, 3)
