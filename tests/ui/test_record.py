"""One short record per run, kept current; phases shown with what they produced, skipped ones too.

Through a real InteractiveShell and the magic, with scripted models and real git repos.
"""

from __future__ import annotations

import io
import sys

import pytest

from agent_magic import events as ev
from agent_magic.magic import AgentMagics
from agent_magic.paths import Project
from agent_magic.review.report import CheckReport, TestOutcome
from agent_magic.session import Session
from agent_magic.ui.report import local_paths, model_label, session_record, short_id
from agent_magic.ui.text import TextView
from agent_magic.ui.widgets import Stepper
from tests.ui.runs import CALC, IMPLEMENT, PLAN, call, turn, write_script

UNDERSTAND = turn(
    call(
        "submit_understanding",
        restatement="add and mul compute the wrong thing",
        acceptance_criteria=["add adds", "mul multiplies"],
        assumptions=["integers only"],
    )
)
PLAN_STEP = "Use + in add and * in mul"


@pytest.fixture
def calc_repo(make_repo):
    return make_repo({"calc.py": CALC})


def run(ip, root, tmp_path, view: str) -> None:
    spec = write_script(tmp_path, [UNDERSTAND, PLAN, *IMPLEMENT])
    ip.run_cell_magic("agent", f"--model {spec} -p {root} --no-review --view {view}", "fix calc")


def test_the_widget_keeps_one_short_record_current_through_apply_and_undo(
    ip, magics, calc_repo, tmp_path, capsys
):
    run(ip, calc_repo, tmp_path, "widgets")
    assert magics.last_run.wait(60)
    view = magics.last_view
    record = view.record
    session = magics.last_run.session
    # what the record holds: task, outcome, files, checks, cost, model, elapsed, session
    for part in (
        "fix calc",
        "**finished**",
        "`calc.py` +2 −2",
        "**Checks:** not run (review off)",
        "$0.0000",
        "model `scripted:script.json`",
        " s · session ",
        session.id,
    ):
        assert part in record, part
    # and not a second report of what the widget shows: no plan, no headings
    assert PLAN_STEP not in record and "###" not in record and "**Plan**" not in record
    assert len(record.splitlines()) <= 8
    # the header names the session by a short id, the whole id on hover
    status = view.panel.status.value
    assert f"title='session {session.id}'" in status
    assert f"· session {session.id.rsplit('-', 1)[1]}</span>" in status
    assert str(tmp_path) not in record

    view.panel.apply_button.click()
    [checkpoint] = session.checkpoints
    assert f"**Applied:** checkpoint `{short_id(checkpoint)}`" in view.record
    assert f"`%agent undo {checkpoint}`" in view.record  # the full id, to copy
    view.panel.undo_button.click()
    assert "**Applied:**" not in view.record
    assert f"Checkpoint `{checkpoint}` was undone." in view.record

    # every publish replaced the one record: placeholder, end of run, apply, undo
    shown = capsys.readouterr().out
    assert shown.count("%%agent fix calc — finished") == 3
    assert "**" not in shown and "`" not in shown  # text/plain is rendered, not markdown


def test_the_record_says_which_applied_hunks_were_reviewed_and_which_not(
    ip, magics, calc_repo, tmp_path
):
    run(ip, calc_repo, tmp_path, "widgets")
    assert magics.last_run.wait(60)
    view = magics.last_view
    panel = view.panel
    first, second = panel.diff.hunk_ids()
    assert panel.apply_button.description == "Apply all 2 (none reviewed)"
    panel.diff.decide([first], "accepted")
    assert panel.apply_button.description == "Apply all 2 (1 not reviewed)"

    panel.apply_button.click()

    assert "Applied 1 file(s)" in panel.message.value
    assert "2 hunks: 1 accepted, 1 not reviewed; undo with" in view.record
    panel.undo_button.click()
    assert "not reviewed" not in view.record

    panel.diff.decide([second], "rejected")
    assert panel.apply_button.description == "Apply 1 of 2 hunks (1 rejected)"
    panel.apply_button.click()
    assert "1 hunk: 1 accepted; 1 rejected, left out; undo with" in view.record


def test_the_terminal_prints_plan_and_record_once_without_markup(ip, calc_repo, tmp_path, capsys):
    out = io.StringIO()
    answers = iter(["y"])
    magics = AgentMagics(ip, out=out, input_fn=lambda _prompt: next(answers))
    ip.register_magics(magics)
    run(ip, calc_repo, tmp_path, "text")
    printed = out.getvalue() + capsys.readouterr().out
    assert (calc_repo / "calc.py").read_text() != CALC
    assert printed.count(PLAN_STEP) == 1  # the plan as it was made, not again in a report
    assert printed.count("%%agent fix calc — finished") == 1
    assert "###" not in printed and "**" not in printed
    assert "Applied: checkpoint" in printed
    # the understanding is shown whole, and the skipped review is named as skipped
    assert "Understanding: add and mul compute the wrong thing" in printed
    assert "  - mul multiplies" in printed and "  - integers only" in printed
    assert "── review: skipped — turned off with --no-review ──" in printed


def test_the_panel_shows_each_phase_with_what_it_produced_and_review_skipped(
    ip, magics, calc_repo, tmp_path
):
    run(ip, calc_repo, tmp_path, "widgets")
    assert magics.last_run.wait(60)
    panel = magics.last_view.panel
    assert panel.stepper.states == {
        "understand": "done",
        "analyze": "done",
        "plan": "done",
        "implement": "done",
        "review": "skipped",
        "deliver": "done",
    }
    review_label = panel.stepper.labels["review"].value
    assert "⊘ review" in review_label and "turned off with --no-review" in review_label
    phases = panel.phases.value
    for produced in (
        "add and mul compute the wrong thing",  # understand: restatement
        "<li>add adds</li>",  # acceptance criteria
        "<li>integers only</li>",  # assumptions
        "<b>analyze</b>: 1 files; top: calc.py",
        "<b>implement</b>: add and mul fixed",
        "<b>review</b>: skipped — turned off with --no-review",
        "<b>deliver</b>: done: 1 file(s) changed",
    ):
        assert produced in phases, produced


def test_a_finished_run_marks_phases_that_never_started_as_skipped():
    stepper = Stepper()
    stepper.start("understand")
    stepper.end(ok=True, finished=False)  # stopped early: later phases stay pending
    assert stepper.states["plan"] == "pending"
    stepper.end(ok=True, finished=True)
    assert stepper.states["plan"] == "skipped" and stepper.states["understand"] == "done"


def test_text_view_names_a_skipped_phase():
    out = io.StringIO()
    TextView(out).handle(ev.PhaseSkipped("review", "turned off with --no-review"))
    assert out.getvalue() == "── review: skipped — turned off with --no-review ──\n"


def test_records_carry_no_local_absolute_paths(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    session = Session("fix it", Project(root), f"scripted:{tmp_path}/script.json")
    session.stop_reason = "error"
    session.error = f"cannot read {root}/data/prices.csv"
    session.checks = CheckReport(
        lint_ran=True,
        tests=TestOutcome(ran=True, scope="related", command=[sys.executable, "-m", "pytest"]),
        not_run=f"sandbox missing under {sys.prefix}/bin",
    )
    record = session_record(session)
    assert str(tmp_path) not in record and sys.prefix not in record
    assert "cannot read data/prices.csv" in record
    assert "model `scripted:script.json`" in record
    assert local_paths(f"{sys.executable} -m pytest", root) == "python -m pytest"
    assert model_label("claude-sonnet-5-5") == "claude-sonnet-5-5"


@pytest.mark.parametrize(
    "full, short",
    [
        ("20261126-164611-965990-764e", "764e"),
        ("20261126-164611-851759", "851759"),
        ("live-15fae8b2", "15fae8b2"),
        ("abc", "abc"),
    ],
)
def test_short_ids(full, short):
    assert short_id(full) == short


def test_the_panel_defines_the_classes_its_finding_link_and_hunk_focus_use():
    from agent_magic.ui.widgets import AgentPanel, Callbacks

    css = AgentPanel("task", Callbacks()).children[0].value
    # a location button shows whole (ipywidgets cut buttons to a short fixed width) ...
    assert ".agent-panel .agent-finding-link { width: auto !important;" in css
    # ... and the hunk it reveals is visibly marked
    assert ".agent-panel .agent-hunk-focus { outline:" in css
