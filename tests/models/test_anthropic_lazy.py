"""The anthropic SDK is imported by the first request, not when the model (or the cell) is made."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from agent_magic.testing import FakeAnthropic

CHILD = textwrap.dedent(
    """
    import sys
    from agent_magic.models import load_model
    from agent_magic.models.base import Request

    model = load_model("claude-sonnet-4-6")
    model.check_settings(effort="low", max_tokens=1000)
    print("after load:", "anthropic" in sys.modules, model.price.known, flush=True)
    reply = model.complete(Request(system="s", messages=[{"role": "user", "content": "hi"}]))
    print("after request:", "anthropic" in sys.modules, reply.text, flush=True)
    """
)


@pytest.mark.slow
def test_making_the_model_does_not_import_the_sdk_and_the_first_request_does():
    with FakeAnthropic([{"text": "hello there"}]) as server:
        env = {
            **os.environ,
            "ANTHROPIC_API_KEY": "sk-ant-test-lazy",
            "ANTHROPIC_BASE_URL": server.base_url,
            "PYTHONPATH": os.pathsep.join(sys.path),
        }
        env.pop("ANTHROPIC_AUTH_TOKEN", None)
        out = subprocess.run(
            [sys.executable, "-c", CHILD],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert out.returncode == 0, out.stderr
    assert "after load: False True" in out.stdout
    assert "after request: True hello there" in out.stdout
    assert len(server.requests) == 1
