"""Big notebooks created and deleted in a run: the requests the real SDK sends stay bounded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_magic.agent import Agent, AgentConfig
from agent_magic.models.anthropic import AnthropicModel
from agent_magic.testing import FakeAnthropic, fake_client
from tests.conftest import git
from tests.scripts import call, turn
from tests.staging.realnb import rich_notebook, serialize

REVIEW_MARK = "You are now the reviewer"


def script(created: str) -> list[dict]:
    return [
        turn(call("submit_understanding", restatement="Replace the old report notebook.",
                  acceptance_criteria=["old report gone", "new report present"])),
        turn(call("submit_plan", summary="Delete report.ipynb, create summary.ipynb",
                  steps=[{"description": "swap the notebooks",
                          "files": ["report.ipynb", "summary.ipynb"]}])),
        turn(call("delete", path="report.ipynb"),
             call("create", path="summary.ipynb", content=created)),
        turn(call("finish", summary="swapped")),
        turn(call("finish", summary="looks right")),
    ]


@pytest.mark.slow
def test_creating_and_deleting_big_notebooks_keeps_the_review_prompt_small(sample_repo: Path):
    old = serialize(rich_notebook(400, image_bytes=15_000, seed=1))
    assert len(old) > 4_000_000
    (sample_repo / "report.ipynb").write_bytes(old)
    git(sample_repo, "add", "report.ipynb")
    git(sample_repo, "commit", "-qm", "report")
    new = serialize(rich_notebook(200, image_bytes=13_000, seed=2)).decode()
    assert len(new) > 1_500_000
    with FakeAnthropic(script(new)) as server:
        model = AnthropicModel("claude-sonnet-5-5", client=fake_client(server))
        # The created notebook's JSON is the model's own tool input, repeated in the implement
        # turns after it; the budget allows for that, the review prompt must not repeat it.
        session = Agent(sample_repo, model, AgentConfig(budget_usd=50)).run("replace the report")
    assert session.stop_reason == "done", session.error
    assert sorted(session.staging.changed_paths()) == ["report.ipynb", "summary.ipynb"]
    reviews = [body for body in server.requests if REVIEW_MARK in json.dumps(body)]
    assert reviews
    for body in reviews:
        text = json.dumps(body)
        # Raw JSON diffs of these two files would be about 6 MB, base64 images included.
        assert len(text) < 150_000
        assert "iVBOR" not in text and "image/png\\\": \\\"" not in text
        assert "notebook deleted (400 cells)" in text and "notebook added (200 cells)" in text
        assert "not shown" in text
    assert (sample_repo / "report.ipynb").read_bytes() == old  # staged only, never written
