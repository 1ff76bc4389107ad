"""%%agent and %agent through a real InteractiveShell, scripted models and real git repos."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from agent_magic.magic import AgentMagics
from tests.ui.runs import CALC, BlockingModel, fix_calc, plan_only, write_script

ADD_FIXED = "def add(a, b):\n    return a + b\n"
MUL_FIXED = "def mul(a, b):\n    return a * b\n"


@pytest.fixture
def calc_repo(make_repo) -> Path:
    return make_repo({"calc.py": CALC})


def run_agent(ip, line: str, cell: str = "fix add and mul in calc.py") -> None:
    ip.run_cell_magic("agent", line, cell)


def classes(widget) -> set[str]:
    """Every CSS class in a widget tree."""
    found = set(getattr(widget, "_dom_classes", ()))
    for child in getattr(widget, "children", ()):
        found |= classes(child)
    return found


@pytest.mark.parametrize(
    "line, cell, message",
    [
        ("--bogus", "task", "unrecognized arguments"),
        ("--budget -1", "task", "must be positive"),
        ("--view nope", "task", "invalid choice"),
        ("--step", "task", "not available in a headless run"),
        ("", "   ", "task is empty"),
        ("", "use {nope} here", "{nope}"),
        ("--model scripted:/no/such/file.json", "task", "cannot read script"),
    ],
)
def test_option_and_cell_errors_are_usage_errors(ip, magics, calc_repo, line, cell, message):
    with pytest.raises(UsageError, match=message.replace("{", r"\{").replace("}", r"\}")):
        run_agent(ip, f"-p {calc_repo} --view headless {line}", cell)
    assert (calc_repo / "calc.py").read_text() == CALC


def test_line_magic_errors(ip, magics):
    with pytest.raises(UsageError, match="usage"):
        ip.run_line_magic("agent", "")
    with pytest.raises(UsageError, match="unknown command 'frobnicate'"):
        ip.run_line_magic("agent", "frobnicate")
    with pytest.raises(UsageError, match="no session"):
        ip.run_line_magic("agent", "resume nosuchid do more")


def test_headless_without_yes_changes_nothing_and_reports(ip, magics, calc_repo, tmp_path, capsys):
    spec = write_script(tmp_path, fix_calc())
    ip.user_ns["fn"] = "add and mul"
    run_agent(
        ip,
        f"--model {spec} -p {calc_repo} --no-review --view headless",
        "fix {fn} in calc.py, keep {{braces}}",
    )

    session = magics.last_run.session
    assert session.task == "fix add and mul in calc.py, keep {braces}"
    assert session.stop_reason == "done"
    assert (calc_repo / "calc.py").read_text() == CALC
    shown = capsys.readouterr().out
    assert "Not applied" in shown and "Files: calc.py +2 −2" in shown


def test_headless_with_yes_applies_and_undo_restores(ip, magics, calc_repo, tmp_path):
    spec = write_script(tmp_path, fix_calc())
    run_agent(ip, f"--model {spec} -p {calc_repo} --no-review --view headless --yes")

    text = (calc_repo / "calc.py").read_text()
    assert ADD_FIXED in text and MUL_FIXED in text
    ip.run_line_magic("agent", "undo")
    assert (calc_repo / "calc.py").read_text() == CALC
    ip.run_line_magic("agent", "cost")
    assert "over 1 session(s)" in magics.out.getvalue()


def test_terminal_prompt_applies_the_files_answered_yes(ip, calc_repo, tmp_path):
    answers = iter(["y"])
    prompts: list[str] = []

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    magics = AgentMagics(ip, out=io.StringIO(), input_fn=answer)
    ip.register_magics(magics)
    spec = write_script(tmp_path, fix_calc())
    run_agent(ip, f"--model {spec} -p {calc_repo} --no-review --view text")

    assert prompts == ["Apply calc.py? [y]es/[n]o/[a]ll/[q]uit "]
    assert MUL_FIXED in (calc_repo / "calc.py").read_text()
    out = magics.out.getvalue()
    assert "── plan ──" in out and "Both functions use the wrong operator." in out
    assert "+    return a * b" in out


def test_terminal_no_to_the_plan_cancels_it(ip, calc_repo, tmp_path):
    magics = AgentMagics(ip, out=io.StringIO(), input_fn=lambda prompt: "n")
    ip.register_magics(magics)
    spec = write_script(tmp_path, plan_only())
    run_agent(ip, f"--model {spec} -p {calc_repo} --no-review --view text --plan-first")

    assert magics.last_run.session.stop_reason == "cancelled"
    assert (calc_repo / "calc.py").read_text() == CALC


def test_widgets_tree_per_hunk_apply_and_undo(ip, magics, calc_repo, tmp_path):
    spec = write_script(tmp_path, fix_calc())
    run_agent(ip, f"--model {spec} -p {calc_repo} --no-review --view widgets")
    assert magics.last_run.wait(60)
    view = magics.last_view
    panel = view.panel
    assert magics.last_run.session.stop_reason == "done"
    assert {
        "agent-stepper",
        "agent-stop",
        "agent-status",
        "agent-plan",
        "agent-diff",
        "agent-apply",
        "agent-reject",
        "agent-undo",
        "agent-findings",
    } <= classes(panel)
    assert panel.stepper.states["deliver"] == "done"
    hunks = panel.diff.hunk_ids()
    assert len(hunks) == 2

    panel.diff.decide([hunks[0]], "accepted")
    panel.diff.decide([hunks[1]], "rejected")  # keep only the fix of add
    assert panel.apply_button.description == "Apply 1 of 2 hunks (1 rejected)"
    panel.apply_button.click()

    text = (calc_repo / "calc.py").read_text()
    assert ADD_FIXED in text and "def mul(a, b):\n    return a + b\n" in text
    assert "Applied 1 file(s)" in panel.message.value
    assert panel.apply_button.disabled and not panel.undo_button.disabled

    panel.undo_button.click()
    assert (calc_repo / "calc.py").read_text() == CALC
    assert "Undid checkpoint" in panel.message.value


def test_reject_file_rejects_its_hunks_and_empty_selection_applies_nothing(
    ip, magics, calc_repo, tmp_path
):
    spec = write_script(tmp_path, fix_calc())
    run_agent(ip, f"--model {spec} -p {calc_repo} --no-review --view widgets")
    assert magics.last_run.wait(60)
    panel = magics.last_view.panel

    panel.diff.decide_file("calc.py", "rejected")
    assert panel.diff.selection() == set()
    panel.apply_button.click()

    assert "Nothing selected" in panel.message.value
    assert (calc_repo / "calc.py").read_text() == CALC


def test_stop_interrupts_a_running_loop_and_one_run_per_project(ip, magics, calc_repo):
    model = BlockingModel(fix_calc())
    ip.user_ns["slow"] = model
    run_agent(ip, f"--model {{slow}} -p {calc_repo} --no-review --view widgets")
    assert model.entered.wait(30)  # the cell returned while the agent waits on its model
    assert magics.last_run.running

    with pytest.raises(UsageError, match="already running"):
        run_agent(ip, f"--model {{slow}} -p {calc_repo} --no-review --view widgets")
    ip.run_line_magic("agent", "status")
    assert "running on" in magics.out.getvalue()

    magics.last_view.panel.stop_button.click()
    model.release.set()
    assert magics.last_run.wait(60)

    session = magics.last_run.session
    assert session.stop_reason == "interrupted"
    assert model.inner.remaining > 0
    assert (calc_repo / "calc.py").read_text() == CALC


def test_plan_first_approve_continues_to_a_diff(ip, magics, calc_repo, tmp_path):
    spec = write_script(tmp_path, fix_calc())
    run_agent(ip, f"--model {spec} -p {calc_repo} --no-review --view widgets --plan-first")
    run = magics.last_run
    assert run.gate.next_pause(timeout=60).is_plan  # the run waits in its thread, kernel free
    panel = magics.last_view.panel
    assert run.running and run.awaiting_decision().startswith("plan of 1 step(s)")
    assert "Fix the operators" in panel.plan.text.value
    assert panel.plan.controls in panel.plan.children

    panel.plan.approve.click()
    assert run.wait(60)

    assert run.session.stop_reason == "done"
    assert len(panel.diff.hunk_ids()) == 2


def test_plan_first_headless_stops_after_the_plan(ip, magics, calc_repo, tmp_path, capsys):
    spec = write_script(tmp_path, plan_only())
    run_agent(ip, f"--model {spec} -p {calc_repo} --no-review --view headless --plan-first")

    assert magics.last_run.session.stop_reason == "plan_ready"
    assert "Stopped after planning" in capsys.readouterr().out


def test_traitlet_defaults_apply_and_show_in_config(ip, magics, calc_repo, tmp_path):
    magics.model = write_script(tmp_path, fix_calc())
    magics.review = False
    magics.view = "headless"
    run_agent(ip, f"-p {calc_repo}")

    assert magics.last_run.session.stop_reason == "done"
    ip.run_line_magic("agent", "config")
    assert "AgentMagics.review = False" in magics.out.getvalue()


def test_unload_removes_the_magics(ip):
    ip.run_line_magic("unload_ext", "agent_magic")
    assert "agent" not in ip.magics_manager.magics["cell"]
    assert "agent" not in ip.magics_manager.magics["line"]
    ip.run_line_magic("load_ext", "agent_magic")
    assert "agent" in ip.magics_manager.magics["cell"]
