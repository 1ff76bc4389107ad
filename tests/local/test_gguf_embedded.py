"""The embedded GGUF backend on a tiny random-weight llama written by the test itself.

The model's output is gibberish; these tests check the plumbing: loading, the chat template,
streaming, schema-constrained tool calls that always parse, tool-error feedback, clean stops.
"""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp")

from agent_magic.errors import ModelError, UserError
from agent_magic.models import load_model
from agent_magic.models.base import FREE, Request
from agent_magic.models.gguf import GGUFModel
from tests.local.tiny_gguf import write_tiny_llama

TOOLS = [
    {
        "name": "read_file",
        "description": "Read a file",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string", "maxLength": 12}},
            "required": ["path"],
        },
    },
    {
        "name": "finish",
        "description": "Stop working",
        "input_schema": {"type": "object", "properties": {}},
    },
]
NAMES = {t["name"] for t in TOOLS}


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    path = write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
    assert path.stat().st_size < 1_000_000
    return path


@pytest.fixture(scope="module")
def tiny(tiny_path):
    return GGUFModel(tiny_path, n_ctx=1024, max_text_chars=24, max_calls=2, temperature=0.8, seed=1)


def ask(text: str = "hi", **kw) -> Request:
    kw.setdefault("max_tokens", 600)  # above the longest reply the bounded grammar allows
    return Request(system="Be brief.", messages=[{"role": "user", "content": text}], **kw)


def test_load_model_spec_opens_the_file(tiny_path):
    model = load_model(f"gguf:{tiny_path}?n_ctx=512")
    assert isinstance(model, GGUFModel)
    assert model.name == "gguf:tiny.gguf" and model.context_window == 512
    assert model.price == FREE


def test_plain_chat_streams_and_stops_at_max_tokens_or_eos(tiny):
    seen: list[str] = []
    reply = tiny.complete(ask(max_tokens=12), seen.append)
    assert "".join(seen) == reply.text
    assert reply.stop_reason in ("end_turn", "max_tokens") and not reply.tool_calls
    assert reply.usage.input_tokens > 10 and reply.usage.output_tokens <= 12
    assert tiny.price.cost(reply.usage) == 0.0


@pytest.mark.parametrize("seed_text", ["read a.py", "stop now", "what is up?"])
def test_constrained_reply_is_always_a_valid_tool_call_shape(tiny, seed_text):
    seen: list[str] = []
    reply = tiny.complete(ask(seed_text, tools=TOOLS), seen.append)
    assert reply.stop_reason in ("tool_use", "end_turn")  # never cut off: the grammar is bounded
    assert len(reply.text) <= 24 and "".join(seen) == reply.text
    assert 1 <= len(reply.tool_calls) <= 2  # a call is required by default
    for call in reply.tool_calls:
        assert call.name in NAMES and call.id.startswith("call_gguf_")
        if call.name == "read_file":
            assert set(call.input) == {"path"} and len(call.input["path"]) <= 12
        else:
            assert call.input == {}
    assert reply.stop_reason == "tool_use"
    assert reply.usage.input_tokens > 100  # the tool list is in the prompt


def test_tool_call_can_be_left_optional(tiny_path):
    model = GGUFModel(
        tiny_path, n_ctx=1024, max_text_chars=24, max_calls=2, require_tool_call=False
    )
    replies = [model.complete(ask(text, tools=TOOLS)) for text in ("a", "b", "c", "d")]
    assert all(r.stop_reason == ("tool_use" if r.tool_calls else "end_turn") for r in replies)
    assert all(c.name in NAMES for r in replies for c in r.tool_calls)


def test_tool_error_is_fed_back_and_the_next_turn_still_parses(tiny):
    first = ask("read it", tools=TOOLS)
    first.messages += [
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "c1", "name": "read_file", "input": {"path": "nope"}}
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "c1",
                    "is_error": True,
                    "content": "no such file: nope",
                }
            ],
        },
    ]
    reply = tiny.complete(first)
    assert reply.stop_reason in ("tool_use", "end_turn")
    assert all(call.name in NAMES for call in reply.tool_calls)


def test_reply_cut_off_by_max_tokens_is_reported_not_parsed(tiny):
    reply = tiny.complete(ask(tools=TOOLS, max_tokens=3))
    assert reply.stop_reason == "max_tokens" and not reply.tool_calls
    assert reply.text.startswith("{")


def test_prompt_longer_than_the_context_is_a_model_error(tiny_path):
    small = GGUFModel(tiny_path, n_ctx=256)  # llama.cpp's smallest
    with pytest.raises(ModelError, match="context window 256"):
        small.complete(ask("x" * 400))
    with pytest.raises(ModelError, match="context window 256"):
        small.complete(ask("x" * 400, tools=TOOLS))


def test_a_file_that_is_not_a_gguf_model_is_a_user_error(tmp_path):
    path = tmp_path / "notes.gguf"
    path.write_bytes(b"GGUF but not really" * 10)
    with pytest.raises(UserError, match="cannot load GGUF model"):
        load_model(f"gguf:{path}")
