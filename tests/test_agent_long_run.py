"""A long run on a big repository stays within the context window the strict fake enforces."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_magic.agent import DROPPED, STUB, Agent, AgentConfig
from agent_magic.models.anthropic import AnthropicModel
from agent_magic.testing import FakeAnthropic, fake_client
from agent_magic.tokens import estimate_tokens
from tests.scripts import call, turn

WINDOW = 60_000  # tokens the fake accepts per request (the real window is 1M; same rules)
FILES = 40


def big_module(i: int) -> str:
    body = "".join(
        f"def helper_{i}_{j}(value):\n    '''Scale value by {j}.'''\n    return value * {j}\n\n"
        for j in range(60)
    )
    return f'"""Module {i}."""\n\n' + body


@pytest.fixture
def big_repo(make_repo) -> Path:
    return make_repo({f"pkg/mod_{i:02d}.py": big_module(i) for i in range(FILES)})


def long_script(views: int) -> list[dict]:
    understand = turn(
        call(
            "submit_understanding",
            restatement="Make helper_0_1 double its input.",
            acceptance_criteria=["helper_0_1 returns value * 2"],
        )
    )
    reads = [
        turn(call("view", path=f"pkg/mod_{k % FILES:02d}.py"), text=f"Reading file {k}.")
        for k in range(views)
    ]
    plan = turn(
        call(
            "submit_plan",
            summary="Change helper_0_1",
            steps=[{"description": "return value * 2", "files": ["pkg/mod_00.py"]}],
        )
    )
    edit = turn(
        call(
            "replace",
            path="pkg/mod_00.py",
            old="    return value * 1\n",
            new="    return value * 2\n",
        )
    )
    return [understand, *reads, plan, edit, turn(call("finish", summary="helper_0_1 doubles"))]


@pytest.mark.slow
def test_a_150_step_run_on_a_big_repo_stays_within_the_window_and_ends_done(big_repo: Path):
    script = long_script(146)
    assert len(script) == 150
    config = AgentConfig(review=False, max_steps=200, budget_usd=100, max_tokens=4000)
    with FakeAnthropic(script, context_window=WINDOW) as server:
        model = AnthropicModel(
            "claude-sonnet-5-5", client=fake_client(server), context_window=WINDOW
        )
        session = Agent(big_repo, model, config).run("make helper_0_1 double its input")
        assert not server.rejected, server.rejected[:1]
    assert session.stop_reason == "done", session.error
    assert session.steps == 150
    sizes = [
        estimate_tokens([r.get("system"), r.get("tools"), r["messages"]]) for r in server.requests
    ]
    assert max(sizes) <= WINDOW
    assert sum(size > WINDOW // 2 for size in sizes) == 0  # compaction keeps well below the window
    # Without compaction the last request would hold every view: far past the window.
    assert sum(estimate_tokens(big_module(0)) for _ in range(146)) > 2.5 * WINDOW
    last = str(server.requests[-1]["messages"])
    assert STUB.split("{n}")[1] in last and DROPPED in last
    assert "make helper_0_1 double" in str(server.requests[-1]["messages"][0])  # the task stays
    assert "return value * 2" in session.diff()
    # Compaction is rare, so most calls read their prefix from the cache.
    assert session.usage.cache_read_tokens > 0.8 * session.usage.total_input


def test_without_compaction_the_strict_fake_refuses_the_long_conversation(big_repo: Path):
    script = long_script(40)
    config = AgentConfig(review=False, max_steps=200, budget_usd=100, max_tokens=4000)
    with FakeAnthropic(script, context_window=WINDOW) as server:
        # The model does not tell its window, so the agent cannot compact: the API's 400 ends it.
        model = AnthropicModel("claude-sonnet-5-5", client=fake_client(server))
        model.context_window = None
        session = Agent(big_repo, model, config).run("make helper_0_1 double its input")
    assert session.stop_reason == "error"
    assert "prompt is too long" in session.error and "context window" in session.error
