"""Pure translation between Anthropic-format messages and OpenAI chat-completions."""

from __future__ import annotations

import pytest

from agent_magic.errors import ModelError
from agent_magic.models.base import Request
from agent_magic.models.openai_compat import (
    ChunkAssembler,
    context_window_from_models,
    context_window_from_props,
    iter_sse,
    parse_arguments,
    rejected_field,
    to_openai_messages,
    to_openai_tools,
)

REQUEST = Request(system="sys", messages=[{"role": "user", "content": "hi"}])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"path": "a.py"}', {"path": "a.py"}),
        ("", {}),
        (None, {}),
        ("  ", {}),
        ({"already": "dict"}, {"already": "dict"}),
        ('{"path": "a.py"', {"__invalid_json__": '{"path": "a.py"'}),
        ("[1, 2]", {"__invalid_json__": "[1, 2]"}),
        ("not json", {"__invalid_json__": "not json"}),
    ],
)
def test_parse_arguments(raw, expected):
    assert parse_arguments(raw) == expected


def test_messages_translate_text_tool_use_and_results():
    messages = [
        {"role": "user", "content": "fix it"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Looking."},
                {"type": "tool_use", "id": "t1", "name": "read", "input": {"path": "a.py"}},
                {"type": "tool_use", "id": "t2", "name": "read", "input": {"path": "b.py"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "print(1)"},
                {
                    "type": "tool_result",
                    "tool_use_id": "t2",
                    "is_error": True,
                    "content": [{"type": "text", "text": "no such file"}],
                },
                {"type": "text", "text": "also: hurry"},
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t3", "name": "done", "input": {}}],
        },
    ]
    out = to_openai_messages("be good", messages)
    assert out == [
        {"role": "system", "content": "be good"},
        {"role": "user", "content": "fix it"},
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {
                    "id": "t1",
                    "type": "function",
                    "function": {"name": "read", "arguments": '{"path": "a.py"}'},
                },
                {
                    "id": "t2",
                    "type": "function",
                    "function": {"name": "read", "arguments": '{"path": "b.py"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "print(1)"},
        {"role": "tool", "tool_call_id": "t2", "content": "ERROR: no such file"},
        {"role": "user", "content": "also: hurry"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "t3", "type": "function", "function": {"name": "done", "arguments": "{}"}}
            ],
        },
    ]


def test_no_system_message_when_system_is_empty():
    assert to_openai_messages("", [{"role": "user", "content": "x"}]) == [
        {"role": "user", "content": "x"}
    ]


def test_tools_translate_and_drop_cache_control():
    tools = [
        {
            "name": "read",
            "description": "Read a file",
            "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
            "cache_control": {"type": "ephemeral"},
        },
        {"name": "done", "input_schema": None},
    ]
    assert to_openai_tools(tools) == [
        {
            "type": "function",
            "function": {
                "name": "read",
                "description": "Read a file",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
            },
        },
        {
            "type": "function",
            "function": {
                "name": "done",
                "description": "",
                "parameters": {"type": "object", "properties": {}},
            },
        },
    ]


def test_sse_skips_comments_and_stops_at_done():
    lines = [
        ": ping",
        "",
        "event: message",
        'data: {"a": 1}',
        "data:",
        'data: {"b": 2}',
        "data: [DONE]",
        'data: {"c": 3}',
    ]
    assert list(iter_sse(lines)) == [{"a": 1}, {"b": 2}]


def test_sse_garbage_is_a_model_error():
    with pytest.raises(ModelError, match="malformed stream event"):
        list(iter_sse(["data: {oops"]))


def test_assembler_joins_text_and_interleaved_tool_calls():
    chunks = [
        {"choices": [{"delta": {"content": "Let me "}}]},
        {"choices": [{"delta": {"content": "look."}}]},
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "c0",
                                "function": {"name": "read", "arguments": '{"pa'},
                            }
                        ]
                    }
                }
            ]
        },
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {"index": 1, "id": "c1", "function": {"name": "list", "arguments": ""}}
                        ]
                    }
                }
            ]
        },
        {
            "choices": [
                {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": 'th": "a.py"}'}}]}}
            ]
        },
        {"choices": [{"delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 120, "completion_tokens": 7}},
    ]
    assembler = ChunkAssembler()
    deltas = [assembler.add(c) for c in chunks]
    assert "".join(deltas) == "Let me look."
    reply = assembler.reply(REQUEST)
    assert reply.text == "Let me look."
    assert [(c.id, c.name, c.input) for c in reply.tool_calls] == [
        ("c0", "read", {"path": "a.py"}),
        ("c1", "list", {}),
    ]
    assert reply.stop_reason == "tool_use"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (120, 7)


@pytest.mark.parametrize(
    ("finish", "calls", "expected"),
    [
        ("stop", False, "end_turn"),
        ("length", False, "max_tokens"),
        ("tool_calls", True, "tool_use"),
        ("stop", True, "tool_use"),
        (None, False, "end_turn"),
    ],
)
def test_assembler_stop_reasons(finish, calls, expected):
    delta = {"content": "x"}
    if calls:
        delta["tool_calls"] = [{"index": 0, "function": {"name": "done", "arguments": "{}"}}]
    assembler = ChunkAssembler()
    assembler.add({"choices": [{"delta": delta, "finish_reason": finish}]})
    assert assembler.reply(REQUEST).stop_reason == expected


def test_assembler_estimates_tokens_without_usage_and_names_missing_ids():
    assembler = ChunkAssembler()
    assembler.add(
        {
            "choices": [
                {
                    "message": {
                        "content": "hello world",
                        "tool_calls": [{"function": {"name": "done", "arguments": {"ok": True}}}],
                    },
                    "finish_reason": "stop",
                }
            ]
        }
    )
    reply = assembler.reply(REQUEST)
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    assert reply.tool_calls[0].id == "call_0"
    assert reply.tool_calls[0].input == {"ok": True}


def test_assembler_raises_on_error_chunk():
    with pytest.raises(ModelError, match="overloaded"):
        ChunkAssembler().add({"error": {"message": "overloaded"}})


@pytest.mark.parametrize(
    ("payload", "model", "expected"),
    [
        ({"data": [{"id": "qwen", "meta": {"n_ctx_train": 32768}}]}, "qwen", 32768),
        (
            {"data": [{"id": "a", "max_model_len": 4096}, {"id": "b", "max_model_len": 8192}]},
            "b",
            8192,
        ),
        ({"data": [{"id": "other", "context_length": 2048}]}, "qwen", 2048),  # the only one
        ({"data": [{"id": "a", "n_ctx": 1}, {"id": "b", "n_ctx": 2}]}, "c", None),
        ({"data": [{"id": "qwen"}]}, "qwen", None),
        ({"object": "list"}, "qwen", None),
        ([], "qwen", None),
    ],
)
def test_context_window_from_models(payload, model, expected):
    assert context_window_from_models(payload, model) == expected


@pytest.mark.parametrize(
    ("body", "status", "message", "expected"),
    [
        (
            {"tool_choice": "auto", "stream_options": {}},
            400,
            "stream_options unsupported",
            "stream_options",
        ),
        ({"tool_choice": "auto", "stream_options": {}}, 400, "bad request", "tool_choice"),
        ({"stream_options": {}}, 422, "invalid", "stream_options"),
        ({"tool_choice": "auto"}, 404, "model not found", None),
        ({}, 400, "bad request", None),
    ],
)
def test_rejected_field(body, status, message, expected):
    assert rejected_field(body, status, message) == expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"default_generation_settings": {"n_ctx": 4096}}, 4096),
        ({"n_ctx": 2048}, 2048),
        ({"default_generation_settings": {}}, None),
        ({"n_ctx": "big"}, None),
        ([], None),
    ],
)
def test_context_window_from_props(payload, expected):
    assert context_window_from_props(payload) == expected
