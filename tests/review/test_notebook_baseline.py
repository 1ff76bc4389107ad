"""A whole run with --run-notebooks: a failure the notebook already had costs no fix round."""

from __future__ import annotations

import nbformat
import pytest

from agent_magic.agent import Agent, AgentConfig
from agent_magic.models.scripted import ScriptedModel
from tests.scripts import REVIEW_OK, call, turn


def report_notebook() -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import no_such_plotting_lib", id="imports"),
        nbformat.v4.new_code_cell("total = 1 + 1", id="total"),
    ]
    return nbformat.writes(nb)


@pytest.mark.slow
def test_a_notebook_that_already_failed_is_no_blocker_and_costs_no_fix_round(make_repo):
    root = make_repo({"report.ipynb": report_notebook()})
    script = [
        turn(
            call(
                "submit_understanding",
                restatement="Make the total in report.ipynb add 2 and 2.",
                acceptance_criteria=["the total cell adds 2 and 2"],
            )
        ),
        turn(
            call(
                "submit_plan",
                summary="Change the total cell",
                steps=[{"description": "edit the total cell", "files": ["report.ipynb"]}],
                files=["report.ipynb"],
            )
        ),
        turn(
            call(
                "notebook_edit",
                path="report.ipynb",
                action="replace",
                cell="total",
                source="total = 2 + 2",
            )
        ),
        turn(call("finish", summary="total adds 2 and 2")),
        REVIEW_OK,
    ]
    model = ScriptedModel(script)
    config = AgentConfig(run_notebooks=True, test_timeout=60)
    session = Agent(root, model, config).run("make the total add 2 and 2")

    assert session.stop_reason == "done", session.error
    assert model.remaining == 0 and session.review_rounds == 1  # no fix round
    assert not session.open_blockers
    [finding] = [f for f in session.findings if f.source == "notebook"]
    assert finding.severity == "minor" and finding.path == "report.ipynb"
    assert "already failed before this change" in finding.message
    assert "missing module 'no_such_plotting_lib'" in finding.message
    review_prompt = "\n".join(str(m) for m in model.requests[-1].messages)
    assert "Already failing before this change (not caused by it)" in review_prompt
    session.apply()  # no allow_blockers needed
    assert "total = 2 + 2" in (root / "report.ipynb").read_text()
