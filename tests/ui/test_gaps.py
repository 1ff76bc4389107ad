"""Gaps of the widget and line-magic tests: plan Revise/Cancel, Reject, --yes with widgets,
history/show/resume on a live session, and --notebook-context from a real .ipynb."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from agent_magic.models.scripted import ScriptedModel
from tests.ui.runs import CALC, PLAN, UNDERSTAND, call, fix_calc, turn

ADD_FIXED = "def add(a, b):\n    return a + b\n"
MUL_FIXED = "def mul(a, b):\n    return a * b\n"
REVISED_PLAN = turn(
    call(
        "submit_plan",
        summary="Fix only add, leave mul for later",
        steps=[{"description": "Use + in add", "files": ["calc.py"]}],
        files=["calc.py"],
    )
)
FEEDBACK = "Only touch add; mul is someone else's job."


@pytest.fixture
def calc_repo(make_repo) -> Path:
    return make_repo({"calc.py": CALC})


def texts(request) -> str:
    """Everything a model request carried: system prompt and every message, as one string."""
    return request.system + "\n" + json.dumps(request.messages, default=str)


def launch(
    ip, monkeypatch, model, repo: Path, options: str, cell: str = "fix add and mul in calc.py"
) -> None:
    monkeypatch.setitem(ip.user_ns, "gap_model", model)
    ip.run_cell_magic("agent", f"--model {{gap_model}} -p {repo} --no-review {options}", cell)


def test_plan_revise_sends_the_feedback_and_shows_the_revised_plan(
    ip, magics, calc_repo, monkeypatch
):
    model = ScriptedModel([UNDERSTAND, PLAN, REVISED_PLAN])
    launch(ip, monkeypatch, model, calc_repo, "--view widgets --plan-first")
    run, plan = magics.last_run, magics.last_view.panel.plan
    first = run.gate.next_pause(timeout=60)
    assert first is not None and first.is_plan
    assert "Fix the operators" in plan.text.value

    plan.revise.click()  # an empty box asks for feedback instead of revising
    assert run.gate.pending is first and model.remaining == 1
    assert "Write what should change" in plan.feedback.placeholder

    plan.feedback.value = FEEDBACK
    plan.revise.click()
    revised = run.gate.next_pause(timeout=60)

    assert revised is not None and revised is not first and revised.is_plan
    assert FEEDBACK in texts(model.requests[-1])
    assert FEEDBACK not in texts(model.requests[-2])
    assert run.running  # the same run waits again, for the revised plan
    assert "Fix only add" in plan.text.value and "Fix the operators" not in plan.text.value
    assert plan.controls in plan.children and not plan.approve.disabled
    assert (calc_repo / "calc.py").read_text() == CALC
    run.stop()
    assert run.wait(60) and run.session.stop_reason == "cancelled"


def test_plan_cancel_applies_nothing_and_says_the_run_ended(
    ip, magics, calc_repo, monkeypatch, capsys
):
    model = ScriptedModel([UNDERSTAND, PLAN, *fix_calc()[2:]])
    launch(ip, monkeypatch, model, calc_repo, "--view widgets --plan-first")
    run, panel = magics.last_run, magics.last_view.panel
    assert run.gate.next_pause(timeout=60).is_plan

    panel.plan.cancel.click()

    assert run.wait(60)
    assert all(b.disabled for b in (panel.plan.approve, panel.plan.revise, panel.plan.cancel))
    assert "Cancelled after planning; nothing was changed." in panel.message.value
    assert "cancel" in panel.status.value.lower()
    assert "Cancelled after planning." in capsys.readouterr().out  # the markdown record
    assert model.remaining == 3  # no implementation turn was asked for
    assert (calc_repo / "calc.py").read_text() == CALC
    assert run.session.changeset is None or not run.session.changeset.files
    assert panel.actions.layout.display == "none"
    # Nothing waits any more: status and history say the plan was cancelled.
    assert run.session.stop_reason == "cancelled"
    ip.run_line_magic("agent", "status")
    assert magics.out.getvalue().strip().endswith(f"last session {run.session.id}: cancelled.")
    ip.run_line_magic("agent", "history")
    history = magics.out.getvalue().split("last session")[-1]
    assert "cancelled" in history and "plan_ready" not in history, history


def test_reject_writes_nothing_and_says_so(ip, magics, calc_repo, monkeypatch, capsys):
    launch(ip, monkeypatch, ScriptedModel(fix_calc()), calc_repo, "--view widgets")
    run, panel = magics.last_run, magics.last_view.panel
    assert run.wait(60) and run.session.stop_reason == "done"
    assert len(panel.diff.hunk_ids()) == 2

    panel.reject_button.click()

    assert (calc_repo / "calc.py").read_text() == CALC
    assert "Rejected: nothing was written." in panel.message.value
    assert panel.apply_button.disabled and panel.reject_button.disabled
    assert not panel.diff.enabled
    assert not run.session.checkpoints
    assert "rejected; nothing was written" in capsys.readouterr().out


def test_yes_with_widgets_applies_after_the_run_and_offers_undo(ip, magics, calc_repo, monkeypatch):
    launch(ip, monkeypatch, ScriptedModel(fix_calc()), calc_repo, "--view widgets --yes")
    run, panel = magics.last_run, magics.last_view.panel
    assert run.wait(60) and run.session.stop_reason == "done"

    text = (calc_repo / "calc.py").read_text()
    assert ADD_FIXED in text and MUL_FIXED in text
    [checkpoint_id] = run.session.checkpoints
    assert "Applied 1 file(s)" in panel.message.value
    assert panel.undo_button.layout.display is None and not panel.undo_button.disabled
    # a short id on the button, the full one on hover and in the message (to copy)
    assert panel.undo_button.description == f"Undo {checkpoint_id.rsplit('-', 1)[1]}"
    assert checkpoint_id in panel.undo_button.tooltip and checkpoint_id in panel.message.value

    panel.undo_button.click()
    assert (calc_repo / "calc.py").read_text() == CALC


def test_plan_first_with_yes_waits_for_the_plan_then_applies(ip, magics, calc_repo, monkeypatch):
    launch(
        ip, monkeypatch, ScriptedModel(fix_calc()), calc_repo, "--view widgets --yes --plan-first"
    )
    run, panel = magics.last_run, magics.last_view.panel
    assert run.gate.next_pause(timeout=60).is_plan  # --yes does not answer the plan
    assert (calc_repo / "calc.py").read_text() == CALC

    panel.plan.approve.click()
    assert run.wait(60) and run.session.stop_reason == "done"
    assert MUL_FIXED in (calc_repo / "calc.py").read_text()


def test_history_show_and_resume_on_a_live_session(ip, magics, calc_repo, monkeypatch, capsys):
    follow_up = "Also add a docstring to add."
    docstring = 'def add(a, b):\n    """Add two numbers."""\n    return a + b\n'
    model = ScriptedModel(
        [
            *fix_calc(),
            turn(call("replace", path="calc.py", old=ADD_FIXED, new=docstring)),
            turn(call("finish", summary="add has a docstring")),
        ]
    )
    monkeypatch.chdir(calc_repo)  # history and show look at the current project too
    launch(ip, monkeypatch, model, calc_repo, "--view headless")
    session = magics.last_run.session
    assert session.stop_reason == "done"
    capsys.readouterr()

    ip.run_line_magic("agent", "history")
    history = magics.out.getvalue()
    assert session.id in history and "fix add and mul" in history

    ip.run_line_magic("agent", f"show {session.id[:8]}")
    shown = capsys.readouterr().out
    assert session.id in shown and "calc.py" in shown

    ip.run_line_magic("agent", f'resume {session.id} "{follow_up}"')

    assert follow_up in texts(model.requests[-2])
    assert follow_up not in texts(model.requests[-3])
    assert model.remaining == 0
    resumed = magics.last_run.session
    assert resumed is session and resumed.stop_reason == "done"
    diff = resumed.diff()
    assert '+    """Add two numbers."""' in diff and "+    return a * b" in diff
    assert (calc_repo / "calc.py").read_text() == CALC  # headless without --yes


def write_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Cleaning the sales data"),
        nbformat.v4.new_code_cell(
            "rows = load_rows('sales.csv')\nrows = [r for r in rows if r]",
            outputs=[nbformat.v4.new_output("stream", text="41 rows\n")],
        ),
    ]
    nbformat.write(nb, str(path))


@pytest.mark.parametrize("where", ["__session__", "JPY_SESSION_NAME"])
def test_notebook_context_reads_the_notebook_and_hides_values(
    ip, magics, calc_repo, tmp_path, monkeypatch, where
):
    notebook = tmp_path / "analysis.ipynb"
    write_notebook(notebook)
    if where == "__session__":
        monkeypatch.setitem(ip.user_ns, "__session__", str(notebook))
    else:
        monkeypatch.delitem(ip.user_ns, "__session__", raising=False)
        monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    monkeypatch.setitem(ip.user_ns, "api_token", "tok-VALUE-must-not-leak-1")
    monkeypatch.setitem(ip.user_ns, "greeting", "plain-VALUE-must-not-leak-2")
    monkeypatch.setitem(ip.user_ns, "sales_rows", ["row-VALUE-3a", "row-VALUE-3b", "row-VALUE-3c"])
    model = ScriptedModel(fix_calc())
    launch(ip, monkeypatch, model, calc_repo, "--view headless --notebook-context")
    assert magics.last_run.session.stop_reason == "done"

    sent = [texts(r) for r in model.requests]
    assert any("rows = [r for r in rows if r]" in s for s in sent)
    # the output is summarized without its value (no --share-outputs)
    assert any("Cleaning the sales data" in s and "stdout: 1 line, 8 characters" in s for s in sent)
    assert any(str(notebook) in s for s in sent)
    everything = "\n".join(sent)
    assert "greeting: str (len=27)" in everything
    assert "sales_rows: list (len=3)" in everything
    assert "api_token: str (value hidden)" in everything
    for value in (
        "tok-VALUE-must-not-leak-1",
        "plain-VALUE-must-not-leak-2",
        "row-VALUE",
        "41 rows",
    ):
        assert value not in everything


def test_without_notebook_context_the_model_sees_no_notebook(
    ip, magics, calc_repo, tmp_path, monkeypatch
):
    notebook = tmp_path / "analysis.ipynb"
    write_notebook(notebook)
    monkeypatch.setitem(ip.user_ns, "__session__", str(notebook))
    model = ScriptedModel(fix_calc())
    launch(ip, monkeypatch, model, calc_repo, "--view headless")
    assert not any("rows = [r for r in rows if r]" in texts(r) for r in model.requests)
