"""Notebooks through whole runs (real SDK, fake server): bounded prompts, every other byte kept."""

from __future__ import annotations

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
        turn(
            call(
                "submit_understanding",
                restatement="Replace the old report notebook.",
                acceptance_criteria=["old report gone", "new report present"],
            )
        ),
        turn(
            call(
                "submit_plan",
                summary="Delete report.ipynb, create summary.ipynb",
                steps=[
                    {
                        "description": "swap the notebooks",
                        "files": ["report.ipynb", "summary.ipynb"],
                    }
                ],
            )
        ),
        turn(
            call("delete", path="report.ipynb"),
            call("create", path="summary.ipynb", content=created),
        ),
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
    # A model writes a notebook in one tool call, within its output limit (the strict fake cuts a
    # longer call at max_tokens), so the created one is smaller; its images are still base64.
    new = serialize(rich_notebook(30, image_bytes=2_000, seed=2)).decode()
    assert len(new) > 50_000
    with FakeAnthropic(script(new)) as server:
        model = AnthropicModel("claude-sonnet-5-5", client=fake_client(server))
        # The created notebook's JSON is the model's own tool input, repeated in the implement
        # turns after it; the budget allows for that, the review prompt must not repeat it.
        session = Agent(sample_repo, model, AgentConfig(budget_usd=50)).run("replace the report")
    assert session.stop_reason == "done", session.error
    assert sorted(session.staging.changed_paths()) == ["report.ipynb", "summary.ipynb"]
    # The review goes on from the main conversation (for the prompt cache), which holds the
    # model's own create call; what this change bounds is the review prompt added to it.
    reviews = [
        block["text"]
        for body in server.requests
        for message in body["messages"]
        if message["role"] == "user"
        for block in message["content"]
        if block.get("type") == "text" and REVIEW_MARK in block["text"]
    ]
    assert reviews
    for text in reviews:
        # Raw JSON diffs of these two files would be over 4 MB, base64 images included.
        assert len(text) < 150_000
        assert "iVBOR" not in text and 'image/png\\": \\"' not in text
        assert "notebook deleted (400 cells)" in text and "notebook added (30 cells)" in text
        assert "not shown" in text
    assert (sample_repo / "report.ipynb").read_bytes() == old  # staged only, never written


def edit_script() -> list[dict]:
    return [
        turn(
            call(
                "submit_understanding",
                restatement="Use sqrt(2) in two cells.",
                acceptance_criteria=["cells 1 and 5 use sqrt(2)"],
            )
        ),
        turn(call("view", path="odd.ipynb", start_cell=0, end_cell=2)),
        turn(
            call(
                "submit_plan",
                summary="Edit two cells",
                steps=[{"description": "replace them", "files": ["odd.ipynb"]}],
            )
        ),
        turn(
            call(
                "notebook_edit",
                path="odd.ipynb",
                action="replace",
                cell="cell-001",
                source="x1 = math.sqrt(2)\n",
            ),
            call(
                "notebook_edit",
                path="odd.ipynb",
                action="replace",
                cell="cell-005",
                source="x5 = math.sqrt(2)\n",
            ),
        ),
        turn(call("finish", summary="done")),
        turn(call("finish", summary="fine")),
    ]


def test_a_run_on_an_odd_real_world_notebook_keeps_every_other_byte(sample_repo: Path):
    from agent_magic.staging import nbjson

    # CRLF, a BOM, hand-formatted tags, nbformat 4.4 with cell ids (invalid, common in the wild).
    raw = serialize(rich_notebook(8, minor=4), crlf=True, bom=True, hand=True)
    (sample_repo / "odd.ipynb").write_bytes(raw)
    git(sample_repo, "add", "odd.ipynb")
    git(sample_repo, "commit", "-qm", "odd")
    with FakeAnthropic(edit_script()) as server:
        model = AnthropicModel("claude-sonnet-5-5", client=fake_client(server))
        session = Agent(sample_repo, model, AgentConfig(review=False)).run("use sqrt(2)")
    assert session.stop_reason == "done", session.error
    tool_results = [
        str(b.get("content"))
        for body in server.requests
        for m in body["messages"]
        for b in (m["content"] if isinstance(m["content"], list) else [])
        if isinstance(b, dict) and b.get("type") == "tool_result"
    ]
    assert not any("invalid notebook" in t for t in tool_results)
    assert any("[cells 3-7 not shown (of 8); view with start_cell=3" in t for t in tool_results)
    change = session.refresh().file("odd.ipynb")
    assert [h.header for h in change.hunks] == [
        "cell 1 (id cell-001) modified",
        "cell 5 (id cell-005) modified",
    ]
    session.apply({"odd.ipynb#cell-cell-001"})
    out = (sample_repo / "odd.ipynb").read_bytes()
    before = nbjson.parse(raw.decode("utf-8")[1:])[1]
    after = nbjson.parse(out.decode("utf-8")[1:])[1]
    assert out.startswith(b"\xef\xbb\xbf") and out.count(b"\n") == out.count(b"\r\n")
    assert after.head == before.head and after.tail == before.tail and after.seps == before.seps
    assert [i for i in range(8) if after.cells[i] != before.cells[i]] == [1]
    assert '"tags": ["remove-cell"]' in out.decode("utf-8")
    session.undo()
    assert (sample_repo / "odd.ipynb").read_bytes() == raw
