"""Run All: `%agent apply/undo/show` in a later cell wait for the run of an earlier `%%agent` cell."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from tests.ui.runs import CALC, BlockingModel, fix_calc, write_script

WAITING = "Waiting for session"


@pytest.fixture
def calc_repo(make_repo) -> Path:
    return make_repo({"calc.py": CALC})


def when_waiting(magics, action) -> threading.Thread:
    """Do ``action`` from another thread once the magic says it waits (so it really waited)."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        while WAITING not in magics.out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)  # polling the captured output: nothing to wait on
        action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def start_blocked(ip, calc_repo, view: str) -> BlockingModel:
    model = BlockingModel(fix_calc())
    ip.user_ns["slow"] = model
    ip.run_cell_magic(
        "agent",
        f"--model {{slow}} -p {calc_repo} --no-review --view {view}",
        "fix add and mul in calc.py",
    )
    return model


def test_apply_in_a_later_cell_waits_for_the_run_then_the_panel_shows_it(ip, magics, calc_repo):
    model = start_blocked(ip, calc_repo, "widgets")
    assert model.entered.wait(30) and magics.last_run.running
    watcher = when_waiting(magics, model.release.set)

    ip.run_line_magic("agent", "apply")  # returns only after the run ended and applied
    watcher.join(30)

    assert WAITING in magics.out.getvalue()
    assert "Applied 1 file(s)" in magics.out.getvalue()
    assert "return a + b" in (calc_repo / "calc.py").read_text()
    panel = magics.last_view.panel
    assert not panel.undo_button.disabled and panel.apply_button.disabled  # the cell's panel knows
    assert magics.last_view.applied is not None
    assert "**Applied:** checkpoint" in magics.last_view.record

    ip.run_line_magic("agent", "undo")
    assert (calc_repo / "calc.py").read_text() == CALC
    assert panel.undo_button.disabled and not panel.apply_button.disabled
    assert "was undone" in magics.last_view.record


@pytest.fixture
def interruptible():
    """Ctrl-C raises KeyboardInterrupt, as in a kernel, also when pytest started with SIGINT
    ignored (a shell starts background jobs so, and the signal would be lost)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_interrupting_the_wait_refuses_and_leaves_the_run_going(
    ip, magics, calc_repo, interruptible
):
    model = start_blocked(ip, calc_repo, "widgets")
    assert model.entered.wait(30)
    main = threading.main_thread().ident
    watcher = when_waiting(magics, lambda: signal.pthread_kill(main, signal.SIGINT))

    with pytest.raises(UsageError, match=r"stopped waiting; session .* is still running"):
        ip.run_line_magic("agent", "apply")
    watcher.join(30)
    assert magics.last_run.running  # the wait ended, not the run
    assert (calc_repo / "calc.py").read_text() == CALC

    model.release.set()
    assert magics.last_run.wait(60)
    assert magics.last_run.session.stop_reason == "done"


def test_headless_record_says_applied_after_a_later_apply_then_undone(
    ip, magics, calc_repo, tmp_path, capsys
):
    spec = write_script(tmp_path, fix_calc())
    ip.run_cell_magic(
        "agent",
        f"--model {spec} -p {calc_repo} --no-review --view headless",
        "fix add and mul in calc.py",
    )
    assert "Not applied" in capsys.readouterr().out

    ip.run_line_magic("agent", "apply")
    shown = capsys.readouterr().out
    assert "Applied: checkpoint" in shown and "Not applied" not in shown
    ip.run_line_magic("agent", "undo")
    assert "was undone" in capsys.readouterr().out


def test_apply_refuses_while_a_plan_first_run_waits_for_its_plan(ip, magics, calc_repo, tmp_path):
    spec = write_script(tmp_path, fix_calc())
    ip.run_cell_magic(
        "agent",
        f"--model {spec} -p {calc_repo} --no-review --view widgets --plan-first",
        "fix add and mul in calc.py",
    )
    assert magics.last_run.gate.next_pause(timeout=60).is_plan
    session_id = magics.last_run.progress.session_id
    assert session_id  # named while it waits, before the run returns its session
    with pytest.raises(
        UsageError, match=f"session {session_id} is waiting for your decision on plan"
    ):
        ip.run_line_magic("agent", "apply")
    assert (calc_repo / "calc.py").read_text() == CALC
    magics.last_run.stop()
    assert magics.last_run.wait(60)


def test_show_waits_for_the_running_session(ip, magics, calc_repo):
    model = start_blocked(ip, calc_repo, "widgets")
    assert model.entered.wait(30)
    watcher = when_waiting(magics, model.release.set)
    with pytest.raises(UsageError, match="no session 'zzz'"):
        ip.run_line_magic("agent", "show zzz")  # looked up only after the run ended
    watcher.join(30)
    assert not magics.last_run.running
