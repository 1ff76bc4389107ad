"""The pure parts of the GGUF backend: reply schema, reply parsing, conversation shape."""

from __future__ import annotations

import json

import pytest

from agent_magic.models.gguf import parse_reply, reply_schema, to_chat_messages

TOOLS = [
    {
        "name": "read_file",
        "description": "Read a file",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string"}},
            "required": ["path"],
        },
    },
    {"name": "finish", "description": "Stop", "input_schema": {"type": "object", "properties": {}}},
]


def test_reply_schema_pins_each_call_to_a_real_tool():
    schema = reply_schema(TOOLS, max_text_chars=40, max_calls=2, min_calls=1)
    assert schema["required"] == ["text", "tool_calls"]
    assert schema["properties"]["text"] == {"type": "string", "maxLength": 40}
    calls = schema["properties"]["tool_calls"]
    assert (calls["minItems"], calls["maxItems"]) == (1, 2)
    alternatives = calls["items"]["anyOf"]
    assert [a["properties"]["name"] for a in alternatives] == [
        {"const": "read_file"},
        {"const": "finish"},
    ]
    assert alternatives[0]["properties"]["input"]["required"] == ["path"]


def test_untyped_reply_schema_uses_an_enum_of_names():
    schema = reply_schema(TOOLS, typed_inputs=False)
    item = schema["properties"]["tool_calls"]["items"]
    assert item["properties"]["name"] == {"enum": ["read_file", "finish"]}
    assert item["properties"]["input"] == {"type": "object"}
    assert "maxLength" not in schema["properties"]["text"]
    assert "minItems" not in schema["properties"]["tool_calls"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"text": "hi", "tool_calls": []}', ("hi", [])),
        (
            '{"text": "", "tool_calls": [{"name": "finish", "input": {}}]}',
            ("", [{"name": "finish", "input": {}}]),
        ),
        (
            '{"text": 3, "tool_calls": [{"name": "x", "input": "oops"}, {"nope": 1}]}',
            ("", [{"name": "x", "input": {"__invalid_json__": '"oops"'}}]),
        ),
        ('{"text": "cut off', None),
        ("[]", None),
        ("", None),
    ],
)
def test_parse_reply(raw, expected):
    assert parse_reply(raw) == expected


def test_conversation_is_shown_in_the_constrained_shape():
    messages = [
        {"role": "user", "content": "fix"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "reading"},
                {"type": "tool_use", "id": "c1", "name": "read_file", "input": {"path": "a.py"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "x = 1"},
                {"type": "text", "text": "go on"},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "c2", "name": "read_file", "input": {"path": "b"}}
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c2", "is_error": True, "content": "missing"}
            ],
        },
    ]
    out = to_chat_messages("Be brief.", messages, TOOLS)
    assert [m["role"] for m in out] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert out[0]["content"].startswith("Be brief.\n\n")
    assert "- read_file: Read a file" in out[0]["content"]
    assert json.loads(out[2]["content"]) == {
        "text": "reading",
        "tool_calls": [{"name": "read_file", "input": {"path": "a.py"}}],
    }
    assert out[3]["content"] == "Tool read_file returned:\nx = 1\n\ngo on"
    assert out[5]["content"] == "Tool read_file failed:\nmissing"


def test_conversation_without_tools_stays_plain():
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
    ]
    assert to_chat_messages("", messages, []) == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]
