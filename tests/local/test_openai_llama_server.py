"""OpenAICompatModel against llama-cpp-python's real OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

pytest.importorskip("llama_cpp")

from agent_magic.models import load_model
from agent_magic.models.base import Request
from agent_magic.models.openai_compat import OpenAICompatModel
from tests.local.tiny_gguf import write_tiny_llama

TOOLS = [
    {
        "name": "finish",
        "description": "Stop working",
        "input_schema": {"type": "object", "properties": {"summary": {"type": "string"}}},
    }
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("llama_cpp.server.app")  # the [server] extra
    path = write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
    port = free_port()
    log = (tmp_path_factory.mktemp("log") / "server.log").open("w+")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(path),
            "--model_alias",
            "tiny",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        # readiness wait, not an assertion on speed: the limit only stops a hung start
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"llama_cpp.server exited {proc.returncode}:\n{log.read()[-2000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not come up")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def ask(**kw) -> Request:
    return Request(system="Be brief.", messages=[{"role": "user", "content": "hello"}], **kw)


def test_streams_text_from_the_real_server(server):
    model = load_model(f"openai:{server}/tiny")
    assert isinstance(model, OpenAICompatModel)
    seen: list[str] = []
    reply = model.complete(ask(max_tokens=16), seen.append)
    assert "".join(seen) == reply.text
    assert reply.stop_reason in ("end_turn", "max_tokens") and not reply.tool_calls
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    assert model.price.cost(reply.usage) == 0.0


def test_tools_and_tool_results_go_through_the_real_server(server):
    model = OpenAICompatModel(server, "tiny", retry_delay=0.0)
    request = ask(tools=TOOLS, max_tokens=16)
    request.messages += [
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "c1", "name": "finish", "input": {"summary": "x"}}
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "c1",
                    "is_error": True,
                    "content": "finish: not yet",
                }
            ],
        },
    ]
    reply = model.complete(request)
    assert reply.stop_reason in ("end_turn", "max_tokens", "tool_use")
    assert all(call.name == "finish" for call in reply.tool_calls)


def test_non_streaming_and_context_window(server):
    model = OpenAICompatModel(server, "tiny", stream=False)
    reply = model.complete(ask(max_tokens=8))
    assert reply.stop_reason in ("end_turn", "max_tokens")
    assert reply.usage.input_tokens > 0
    assert model.context_window > 0  # this server does not report it: the default applies
