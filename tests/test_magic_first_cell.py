"""The first %%agent cell leaves the kernel free: the agent is built in the run's thread, heavy
imports are warmed after %load_ext, and everything the user must hear still happens in the cell."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from agent_magic.warmup import Warmup
from tests.ui.runs import CALC, BlockingModel, fix_calc, write_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def calc_repo(make_repo) -> Path:
    return make_repo({"calc.py": CALC})


class SlowFactory:
    """An agent factory that waits for ``release`` before it builds the real agent."""

    def __init__(self) -> None:
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.built = threading.Event()

    def __call__(self, project, model, config, on_event, decider=None, mode=None):
        from agent_magic.magic import default_agent_factory

        self.calls += 1
        self.entered.set()
        self.release.wait(10)  # bounded: a cell that waits on us fails below instead of hanging
        agent = default_agent_factory(project, model, config, on_event)
        self.built.set()
        return agent


def test_the_cell_shows_its_panel_and_returns_before_the_agent_is_built(
    ip, magics, calc_repo, tmp_path
):
    factory = SlowFactory()
    magics.agent_factory = factory
    spec = write_script(tmp_path, fix_calc())
    with capture_output() as cell:
        ip.run_cell_magic("agent", f"--model {spec} -p {calc_repo} --no-review --view widgets", "x")
    assert not factory.built.is_set()  # the cell did not wait for the factory
    assert magics.last_run.running
    # the panel went to this cell's output while the cell ran, not later from the thread
    assert any("AgentPanel" in o.data.get("text/plain", "") for o in cell.outputs)
    assert factory.entered.wait(10)  # the run thread builds it

    factory.release.set()
    assert magics.last_run.wait(60)
    assert magics.last_run.session.stop_reason == "done"
    assert len(magics.last_view.panel.diff.hunk_ids()) == 2


def test_bad_input_is_a_usage_error_in_the_cell_and_nothing_is_built(ip, magics, calc_repo):
    factory = SlowFactory()
    magics.agent_factory = factory
    factory.release.set()
    for line in ("--budget -1", "--max-steps 0", "--model scripted:/no/such/file.json"):
        with pytest.raises(UsageError):
            ip.run_cell_magic("agent", f"-p {calc_repo} --view widgets {line}", "fix add")
    assert factory.calls == 0
    assert magics.registry.active() == []


def test_stop_before_the_agent_exists_ends_the_run_without_running_it(
    ip, magics, calc_repo, tmp_path
):
    factory = SlowFactory()
    magics.agent_factory = factory
    spec = write_script(tmp_path, fix_calc())
    ip.run_cell_magic("agent", f"--model {spec} -p {calc_repo} --no-review --view widgets", "x")
    assert factory.entered.wait(10)
    magics.last_view.panel.stop_button.click()
    factory.release.set()
    assert magics.last_run.wait(60)

    assert magics.last_run.session is None
    assert "stopped before the agent started" in magics.last_view.panel.message.value
    assert (calc_repo / "calc.py").read_text() == CALC


def test_warmup_imports_in_the_background_and_wait_blocks_until_it_is_done():
    importing, release, seen = threading.Event(), threading.Event(), []

    def slow_import(name):
        importing.set()
        release.wait(10)
        seen.append(name)
        if name == "broken":
            raise ImportError("no module named broken")
        return sys

    warmup = Warmup(("a", "broken", "b"), importer=slow_import)
    warmup.start()
    assert importing.wait(10)
    assert not warmup.done  # start returned while the first import is still going
    release.set()
    warmup.wait()
    assert warmup.done
    assert seen == ["a", "broken", "b"]  # one failure does not end the warm-up
    assert list(warmup.failed) == ["broken"]


def test_the_magics_wait_for_the_warmup_before_importing_anything(ip, calc_repo):
    from agent_magic.magic import AgentMagics

    release = threading.Event()
    warmup = Warmup(("x",), importer=lambda _name: release.wait(10) and sys)
    magics = AgentMagics(ip, warmup=warmup)
    warmup.start()
    waiter = threading.Thread(target=magics.agent_line, args=("status",))
    waiter.start()
    waiter.join(1.0)
    assert waiter.is_alive()  # the line magic waits for the imports running in the background
    release.set()
    waiter.join(10)
    assert not waiter.is_alive()


FRESH_KERNEL = """
import sys, threading
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
ip = InteractiveShell.instance()
ip.config.AgentMagics.view = "widgets"  # as a notebook kernel detects
ip.run_line_magic("load_ext", "agent_magic")
warm = [t for t in threading.enumerate() if t.name == "agent-magic-warmup"]
print("WARMUP", len(warm), "git" in sys.modules)
with capture_output() as cell:  # at once, while the warm-up imports: no import deadlock
    ip.run_cell_magic("agent", "--model {spec} -p {root} --no-review --view widgets", "fix add")
magics = ip.magics_manager.registry["AgentMagics"]
assert magics.last_run.wait(60)
print("OUTPUTS", len(cell.outputs), magics.last_run.session.stop_reason)
"""


def test_a_fresh_kernel_loads_without_gitpython_and_runs_a_cell_during_the_warmup(
    calc_repo, tmp_path
):
    spec = write_script(tmp_path, fix_calc())
    code = FRESH_KERNEL.format(spec=spec, root=calc_repo)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARMUP 1 False" in proc.stdout  # GitPython waits until a repository is opened
    assert "OUTPUTS 2 done" in proc.stdout  # the panel and the record, in the cell that ran it


def test_only_a_kernel_that_shows_widgets_warms_up(ip):
    from agent_magic.magic import AgentMagics

    started = []
    for view in ("widgets", "text", "headless"):
        warmup = Warmup((view,), importer=lambda name: started.append(name) or sys)
        magics = AgentMagics(ip, warmup=warmup)
        magics.view = view
        magics.warm_up()
        warmup.wait()
    assert started == ["widgets"]


class LateStart(BlockingModel):
    """A scripted model that holds the run's start, once ``run`` holds its agent: the moment
    between the worker building the agent and the agent's run beginning."""

    def __init__(self, turns, run_of) -> None:
        self.hold = threading.Event()
        super().__init__(turns)
        self.run_of = run_of
        self.calls = 0

    @property
    def name(self) -> str:
        run = self.run_of()
        if run is not None and run.agent is not None and not self.entered.is_set():
            self.entered.set()  # the agent's run began: it names its model first
            self.hold.wait(10)
        return "late-start"

    @name.setter
    def name(self, _value: str) -> None:
        pass  # BlockingModel names itself; this model's name is read above

    def complete(self, request, on_text=None):
        self.calls += 1
        return self.inner.complete(request, on_text)


def test_stop_pressed_as_the_built_agent_begins_its_run_is_never_lost(calc_repo):
    from agent_magic.agent import Agent, AgentConfig
    from agent_magic.paths import Project
    from agent_magic.ui.runner import Run, RunRegistry

    runs: list[Run] = []
    model = LateStart(fix_calc(), lambda: runs[0] if runs else None)
    project = Project(calc_repo)
    run = Run(
        None,
        "fix add",
        root=calc_repo,
        registry=RunRegistry(),
        build=lambda: Agent(project, model, AgentConfig(review=False)),
    )
    runs.append(run)
    run.start()
    assert model.entered.wait(10)  # built and handed to the run; its run has not begun
    run.stop()
    model.hold.set()
    assert run.wait(60)
    assert run.session is not None and run.session.stop_reason == "interrupted"
    assert model.calls == 0  # stopped before its first model call
    assert (calc_repo / "calc.py").read_text() == CALC
