"""The fake server on its own: wire events, bad requests, and the standalone command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anthropic
import pytest

from agent_magic.testing import FakeAnthropic, fake_client
from agent_magic.testing.wire import malformed, stream_events

ROOT = Path(__file__).resolve().parents[2]


def test_stream_events_follow_the_protocol_order():
    blocks = [
        {"type": "text", "text": "hello " * 5},
        {"type": "tool_use", "id": "toolu_1", "name": "view", "input": {"path": "a.py"}},
    ]
    events = stream_events(blocks, {"input_tokens": 3}, model="m", message_id="msg_1")
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == [
        "message_delta",
        "message_stop",
    ]
    assert names.count("content_block_start") == names.count("content_block_stop") == 2
    text = "".join(
        d["delta"]["text"]
        for n, d in events
        if n == "content_block_delta" and d["delta"]["type"] == "text_delta"
    )
    raw = "".join(
        d["delta"]["partial_json"]
        for n, d in events
        if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
    )
    assert text == blocks[0]["text"] and json.loads(raw) == {"path": "a.py"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


@pytest.mark.parametrize("good", ['{"a": 1}', "{}", '{"path": "x", "n": [1, 2]}'])
def test_malformed_json_does_not_parse(good):
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed(good))


@pytest.mark.parametrize(
    "body, message",
    [
        ({"model": "claude-sonnet-4-6", "max_tokens": 5}, "messages: Field required"),
        ({"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": []}, "at least one message"),
        (
            {
                "model": "claude-sonnet-4-6",
                "max_tokens": 100,
                "messages": [{"role": "assistant", "content": "x"}],
            },
            "first message",
        ),
    ],
)
def test_invalid_requests_get_400_and_consume_no_turn(body, message):
    with FakeAnthropic([{"text": "ok"}]) as server:
        client = fake_client(server, max_retries=0)
        with pytest.raises(anthropic.BadRequestError, match=message):
            client.post("/v1/messages", body=body, cast_to=object)
        assert server.turn == 0
        reply = client.messages.create(
            model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        )
    assert reply.content[0].text == "ok"


def test_too_many_breakpoints_is_rejected_like_the_api():
    cc = {"type": "ephemeral"}
    blocks = [{"type": "text", "text": str(i), "cache_control": cc} for i in range(5)]
    with (
        FakeAnthropic([{"text": "ok"}]) as server,
        pytest.raises(anthropic.BadRequestError, match="maximum of 4"),
    ):
        fake_client(server, max_retries=0).messages.create(
            model="claude-sonnet-4-6",
            max_tokens=100,
            messages=[{"role": "user", "content": blocks}],
        )


def test_standalone_command_serves_a_script_file(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"text": "from the command line"}]))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent_magic.testing.fake_api",
            "--script",
            str(script),
            "--port",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        client = anthropic.Anthropic(base_url=base_url, api_key="test-key", max_retries=0)
        reply = client.messages.create(
            model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.content[0].text == "from the command line"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_fake_server_command_starts_without_a_warning():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "agent_magic.testing.fake_api", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and "usage:" in result.stdout
    assert "Warning" not in result.stderr
