"""Apply, undo and recovery through %agent across kernels: a real InteractiveShell, real files."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from agent_magic.magic import AgentMagics
from agent_magic.paths import Project
from agent_magic.staging import Staging, apply, list_checkpoints
from agent_magic.staging.journal import JOURNAL_NAME

# Applies three files and dies (like kill -9) right after writing the second.
_DIES = r"""
import os, sys
from agent_magic.paths import Project
from agent_magic.staging import Staging, apply, write_file
project = Project(sys.argv[1])
st = Staging(project)
for name in ("a.py", "b.py", "c.py"):
    st.replace(name, "old", "new")
calls = []
def writer(target, data, mode):
    if len(calls) == 2:
        os._exit(9)
    calls.append(target)
    write_file(target, data, mode, root=project.root)
apply(project, st.changeset(), writer=writer)
"""


@pytest.fixture
def interrupted(make_repo) -> Path:
    root = make_repo(dict.fromkeys(("a.py", "b.py", "c.py"), "old\n"))
    proc = subprocess.run(
        [sys.executable, "-c", _DIES, str(root)],
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 9
    assert [(root / n).read_text() for n in ("a.py", "b.py", "c.py")] == ["new\n", "new\n", "old\n"]
    assert (root / ".agent_magic" / JOURNAL_NAME).exists()
    return root


def _fresh_kernel(ip, root: Path) -> AgentMagics:
    """A new AgentMagics, as a restarted kernel would have: it knows no session."""
    magics = AgentMagics(ip, out=io.StringIO(), input_fn=lambda p: "")
    magics.project = str(root)
    ip.register_magics(magics)
    return magics


def test_any_agent_command_rolls_back_an_interrupted_apply_and_says_so(ip, interrupted):
    magics = _fresh_kernel(ip, interrupted)
    ip.run_line_magic("agent", "history")
    shown = magics.out.getvalue()
    assert "was interrupted; it has been rolled back" in shown and "a.py, b.py, c.py" in shown
    assert [(interrupted / n).read_text() for n in ("a.py", "b.py", "c.py")] == ["old\n"] * 3
    assert list_checkpoints(Project(interrupted)) == []


def test_load_ext_rolls_back_an_interrupted_apply(ip, interrupted, monkeypatch, capsys):
    monkeypatch.chdir(interrupted)
    ip.run_line_magic("unload_ext", "agent_magic")
    ip.run_line_magic("load_ext", "agent_magic")
    assert "has been rolled back" in capsys.readouterr().out
    assert (interrupted / "a.py").read_text() == "old\n"


def test_agent_constructor_rolls_back_an_interrupted_apply(interrupted):
    from agent_magic.agent import Agent
    from agent_magic.models.scripted import ScriptedModel

    with pytest.warns(RuntimeWarning, match="rolled back"):  # nothing listens: a warning
        agent = Agent(interrupted, ScriptedModel([]))
    assert "rolled back" in agent.recovered
    assert [(interrupted / n).read_text() for n in ("a.py", "b.py", "c.py")] == ["old\n"] * 3
    assert not (interrupted / ".agent_magic" / JOURNAL_NAME).exists()
    assert list_checkpoints(Project(interrupted)) == []


def test_an_agent_tells_its_view_and_a_run_recovers_a_crash_since_construction(
    interrupted, make_repo, recwarn
):
    from agent_magic.agent import Agent, AgentConfig
    from agent_magic.events import Notice
    from agent_magic.models.scripted import ScriptedModel
    from tests.scripts import call, turn

    events: list = []
    model = ScriptedModel(
        [
            turn(call("submit_understanding", restatement="r", acceptance_criteria=["a"])),
            turn(call("submit_plan", summary="s", steps=[{"description": "d"}])),
            turn(call("view", path="b.py")),
            turn(call("finish", summary="nothing to do")),
        ]
    )
    agent = Agent(interrupted, model, AgentConfig(review=False), on_event=events.append)
    [notice] = [e for e in events if isinstance(e, Notice)]
    assert "has been rolled back: a.py, b.py, c.py" in notice.message
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]

    # Another process dies mid-apply after the agent was made: its next run rolls that back
    # before it reads anything, and says so.
    proc = subprocess.run(
        [sys.executable, "-c", _DIES, str(interrupted)],
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 9 and (interrupted / "b.py").read_text() == "new\n"
    events.clear()
    session = agent.run("look at b.py")
    assert session.stop_reason == "done", session.error
    assert isinstance(events[0], Notice) and "rolled back" in events[0].message
    [viewed] = [e for e in events if getattr(e, "name", "") == "view"]
    assert "new" not in viewed.result and "old" in viewed.result  # it read the restored tree


def test_an_agent_refuses_a_tree_whose_rollback_cannot_finish(interrupted):
    from agent_magic.agent import Agent
    from agent_magic.errors import ApplyError
    from agent_magic.models.scripted import ScriptedModel

    (interrupted / "a.py").unlink()
    (interrupted / "a.py").mkdir()  # the rollback cannot put a.py back
    with pytest.raises(ApplyError, match=r"could not be finished.*undo --force"):
        Agent(interrupted, ScriptedModel([]))
    assert (interrupted / ".agent_magic" / JOURNAL_NAME).exists()  # kept for the retry


def test_undo_from_a_new_kernel_and_undo_force(ip, make_repo):
    root = make_repo({"a.py": "one\n", "b.py": "two\n"})
    project = Project(root)
    st = Staging(project)
    st.replace("a.py", "one", "ONE")
    st.replace("b.py", "two", "TWO")
    cp = apply(project, st.changeset())
    (root / "b.py").write_text("the user's later edit\n")
    magics = _fresh_kernel(ip, root)
    with pytest.raises(UsageError, match=r"changed after the apply: b.py.*--force"):
        ip.run_line_magic("agent", "undo")
    assert (root / "a.py").read_text() == "ONE\n"
    with pytest.raises(UsageError, match="usage: %agent undo"):
        ip.run_line_magic("agent", "undo --forse")
    ip.run_line_magic("agent", "undo --force")
    assert (root / "a.py").read_text() == "one\n" and (root / "b.py").read_text() == "two\n"
    assert f"Undid checkpoint {cp.id}" in magics.out.getvalue()
    with pytest.raises(UsageError, match="nothing to undo"):
        ip.run_line_magic("agent", "undo")


def test_a_finished_run_can_be_shown_applied_and_undone_from_a_new_kernel(
    ip, magics, make_repo, tmp_path, capsys
):
    from tests.ui.runs import CALC, fix_calc, write_script

    root = make_repo({"calc.py": CALC})
    spec = write_script(tmp_path, fix_calc())
    ip.run_cell_magic(
        "agent",
        f"--model {spec} -p {root} --no-review --view headless",
        "fix add and mul in calc.py",
    )
    sid = magics.last_run.session.id
    assert (root / "calc.py").read_text() == CALC  # headless without --yes: not applied
    capsys.readouterr()

    second = _fresh_kernel(ip, root)  # the kernel restarted
    ip.run_line_magic("agent", f"show {sid[:12]}")
    shown = capsys.readouterr().out
    assert f"session {sid}" in shown and "calc.py +2 −2" in shown and "Plan" in shown
    (root / "calc.py").write_text(CALC + "# the user's edit\n")
    with pytest.raises(UsageError, match=r"changed on disk.*calc.py"):
        ip.run_line_magic("agent", f"apply {sid}")
    (root / "calc.py").write_text(CALC)
    ip.run_line_magic("agent", f"apply {sid}")
    assert "return a + b" in (root / "calc.py").read_text()
    assert "Applied 1 file(s)" in second.out.getvalue()

    _fresh_kernel(ip, root)  # and restarted again
    with pytest.raises(UsageError, match="already applied"):
        ip.run_line_magic("agent", f"apply {sid}")
    ip.run_line_magic("agent", "undo")
    assert (root / "calc.py").read_text() == CALC
    third = _fresh_kernel(ip, root)
    ip.run_line_magic("agent", f"apply {sid}")  # undone, so it can be applied again
    assert "return a + b" in (root / "calc.py").read_text()
    assert "Applied" in third.out.getvalue()


def test_show_of_a_session_known_only_from_its_transcript_is_a_report(ip, make_repo, capsys):
    from agent_magic.transcript import Transcript

    root = make_repo({"a.py": "x = 1\n"})
    record = Transcript(Project(root), "20260101-000000-abcdef")
    record.write("start", task="tidy a.py", model="scripted", created="2026-01-01T00:00:00+00:00")
    record.write("end", stop_reason="budget", cost=0.5)
    _fresh_kernel(ip, root)
    ip.run_line_magic("agent", "show 20260101")
    shown = capsys.readouterr().out
    assert "session 20260101-000000-abcdef" in shown and "tidy a.py" in shown
    assert "stop_reason:" not in shown  # not the raw dump
