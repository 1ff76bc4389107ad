"""OpenAICompatModel over real HTTP against a scripted local server."""

from __future__ import annotations

import socket

import pytest

from agent_magic.errors import ModelError
from agent_magic.models.base import FREE, Request
from agent_magic.models.openai_compat import OpenAICompatModel
from tests.local.fake_openai import Answer, text_chunks, tool_chunks

TOOLS = [
    {
        "name": "read_file",
        "description": "Read a file",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string"}},
            "required": ["path"],
        },
    }
]


def request(**kw) -> Request:
    return Request(system="You are terse.", messages=[{"role": "user", "content": "hi"}], **kw)


def model_for(server, **kw) -> OpenAICompatModel:
    kw.setdefault("retry_delay", 0.0)
    return OpenAICompatModel(server.url, "qwen", **kw)


def test_streams_text_deltas_and_counts_tokens_at_zero_cost(fake_openai):
    chunks = text_chunks("Hel", "lo", " there")
    chunks.append({"choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 3}})
    fake_openai.answers.append(Answer(chunks=chunks))
    model = model_for(fake_openai)
    seen: list[str] = []
    reply = model.complete(request(), seen.append)
    assert seen == ["Hel", "lo", " there"]
    assert reply.text == "Hello there" and reply.stop_reason == "end_turn"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (30, 3)
    assert model.price == FREE and model.price.cost(reply.usage) == 0.0
    body = fake_openai.requests[0]
    assert body["model"] == "qwen" and body["stream"] is True
    assert body["messages"][0] == {"role": "system", "content": "You are terse."}
    assert "tools" not in body and "tool_choice" not in body


def test_streamed_tool_call_is_assembled(fake_openai):
    chunks = tool_chunks("read_file", ['{"pa', 'th": ', '"src/a.py"}'])
    chunks.append({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]})
    fake_openai.answers.append(Answer(chunks=chunks))
    reply = model_for(fake_openai).complete(request(tools=TOOLS))
    assert [(c.id, c.name, c.input) for c in reply.tool_calls] == [
        ("call_1", "read_file", {"path": "src/a.py"})
    ]
    assert reply.stop_reason == "tool_use"
    assert reply.usage.input_tokens > 0  # estimated: this server sent no usage
    body = fake_openai.requests[0]
    assert body["tool_choice"] == "auto"
    assert body["tools"][0]["function"]["parameters"]["required"] == ["path"]


def test_malformed_arguments_become_invalid_json_input(fake_openai):
    chunks = tool_chunks("read_file", ['{"path": "a.py"'])
    fake_openai.answers.append(Answer(chunks=chunks))
    reply = model_for(fake_openai).complete(request(tools=TOOLS))
    assert reply.tool_calls[0].input == {"__invalid_json__": '{"path": "a.py"'}
    # the loop answers with a tool error; the next request carries call and result back
    follow = request(tools=TOOLS)
    follow.messages += [
        {"role": "assistant", "content": reply.content()},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "call_1",
                    "is_error": True,
                    "content": "arguments are not JSON",
                }
            ],
        },
    ]
    fake_openai.answers.append(Answer(chunks=text_chunks("sorry")))
    model_for(fake_openai).complete(follow)
    sent = fake_openai.requests[1]["messages"]
    # The broken arguments are never echoed as the model's own input (issue 16): {} goes back.
    assert sent[-2]["tool_calls"][0]["function"]["arguments"] == "{}"
    assert sent[-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "ERROR: arguments are not JSON",
    }


def test_server_rejecting_tool_choice_is_retried_without_it_and_remembered(fake_openai):
    fake_openai.reject = ("tool_choice",)
    fake_openai.answers += [Answer(chunks=text_chunks("one")), Answer(chunks=text_chunks("two"))]
    model = model_for(fake_openai)
    assert model.complete(request(tools=TOOLS)).text == "one"
    assert model.complete(request(tools=TOOLS)).text == "two"
    assert ["tool_choice" in r for r in fake_openai.requests] == [True, False, False]
    assert all("tools" in r for r in fake_openai.requests)
    assert model.dropped_fields == {"tool_choice"}


def test_server_that_ignores_stream_answers_json(fake_openai):
    fake_openai.answers.append(
        Answer(
            body={
                "choices": [
                    {
                        "message": {
                            "content": "whole",
                            "tool_calls": [
                                {
                                    "id": "x",
                                    "function": {"name": "read_file", "arguments": '{"path": "b"}'},
                                }
                            ],
                        },
                        "finish_reason": "tool_calls",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2},
            }
        )
    )
    seen: list[str] = []
    reply = model_for(fake_openai).complete(request(tools=TOOLS), seen.append)
    assert seen == ["whole"]
    assert reply.tool_calls[0].input == {"path": "b"}
    assert reply.usage.output_tokens == 2


def test_non_streaming_mode(fake_openai):
    fake_openai.answers.append(
        Answer(body={"choices": [{"message": {"content": "ok"}, "finish_reason": "length"}]})
    )
    reply = model_for(fake_openai, stream=False).complete(request())
    assert reply.text == "ok" and reply.stop_reason == "max_tokens"
    assert fake_openai.requests[0]["stream"] is False
    assert "stream_options" not in fake_openai.requests[0]


def test_transient_errors_are_retried(fake_openai):
    fake_openai.answers += [Answer(status=503), Answer(drop=True), Answer(chunks=text_chunks("ok"))]
    reply = model_for(fake_openai, max_retries=2).complete(request())
    assert reply.text == "ok" and len(fake_openai.requests) == 3


def test_persistent_server_error_is_a_model_error(fake_openai):
    fake_openai.answers += [Answer(status=500, body={"error": {"message": "kaput"}})] * 2
    with pytest.raises(ModelError, match="HTTP 500: kaput"):
        model_for(fake_openai, max_retries=1).complete(request())


def test_auth_error_hints_at_the_key_without_showing_it(fake_openai):
    fake_openai.answers.append(Answer(status=401, body={"error": {"message": "bad key"}}))
    model = model_for(fake_openai, api_key="sk-secret-123")
    with pytest.raises(ModelError) as info:
        model.complete(request())
    assert "HTTP 401" in str(info.value) and "OPENAI_API_KEY" in str(info.value)
    assert "sk-secret-123" not in str(info.value) + repr(model)
    assert fake_openai.headers[0]["Authorization"] == "Bearer sk-secret-123"


def test_connection_refused_is_a_clear_model_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = OpenAICompatModel(f"http://127.0.0.1:{port}/v1", "qwen", max_retries=0)
    with pytest.raises(ModelError, match="cannot be reached"):
        model.complete(request())


def test_context_window_is_read_from_models_once(fake_openai):
    fake_openai.models = {"data": [{"id": "qwen", "meta": {"n_ctx_train": 16384}}]}
    model = model_for(fake_openai)
    assert model.context_window == 16384
    fake_openai.models = {"data": [{"id": "qwen", "meta": {"n_ctx_train": 1}}]}
    assert model.context_window == 16384


def test_context_window_configured_or_default(fake_openai):
    assert model_for(fake_openai, context_window=2048).context_window == 2048
    assert model_for(fake_openai).context_window == 8192  # /models is a 404 here


def test_context_window_from_llama_cpp_props_when_models_has_none(fake_openai):
    fake_openai.models = {"data": [{"id": "qwen"}]}
    fake_openai.props = {"default_generation_settings": {"n_ctx": 4096}}
    assert model_for(fake_openai).context_window == 4096


def test_stream_cut_mid_answer_is_a_model_error_not_a_retry(fake_openai):
    fake_openai.answers += [
        Answer(chunks=text_chunks(*["word "] * 40), truncate=True),
        Answer(chunks=text_chunks("again")),
    ]
    seen: list[str] = []
    with pytest.raises(ModelError, match="mid-answer"):
        model_for(fake_openai, max_retries=2).complete(request(), seen.append)
    assert seen and len(fake_openai.requests) == 1  # text was shown once, never repeated
