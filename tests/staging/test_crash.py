"""kill -9 of a process in the middle of an apply, at random moments: after recovery the tree is
never mixed (every file old, or every file new), and two processes never apply at once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent_magic.paths import Project
from agent_magic.staging import Staging, apply, list_checkpoints, recover
from agent_magic.staging.journal import JOURNAL_NAME
from agent_magic.staging.lock import LockBusy
from tests.staging.conftest import git

N_FILES = 40

_CHILD = r"""
import sys, time
from agent_magic.paths import Project
from agent_magic.staging import Staging, apply
project = Project(sys.argv[1])
st = Staging(project)
for i in range(int(sys.argv[2])):
    st.replace(f"f{i:02d}.txt", "old", "new")
st.create("fresh/dir/made.txt", "new\n")
cs = st.changeset()
print("ready", flush=True)
t = time.perf_counter()
apply(project, cs)
print(f"done {time.perf_counter() - t:.4f}", flush=True)
"""


def _make(root: Path, is_git: bool) -> Project:
    root.mkdir()
    for i in range(N_FILES):
        (root / f"f{i:02d}.txt").write_text(f"old {i}\n" + "x" * 20000 + "\n")
    if is_git:
        git(root, "init", "-q")
        git(root, "add", ".")
        git(root, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "init")
    return Project(root)


def _state(root: Path) -> set[str]:
    kinds = set()
    for i in range(N_FILES):
        kinds.add((root / f"f{i:02d}.txt").read_text().split()[0])
    kinds.add("new" if (root / "fresh/dir/made.txt").exists() else "old")
    return kinds


def _child(root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(root), str(N_FILES)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )


@pytest.mark.slow
@pytest.mark.parametrize("is_git", [False, True], ids=["plain", "git"])
def test_kill_minus_9_at_random_moments_never_leaves_a_mixed_tree(tmp_path: Path, is_git: bool):
    rng = random.Random(18)
    # How long does one apply take here? Kill moments are spread over that span and a bit more.
    probe = _make(tmp_path / "probe", is_git)
    proc = _child(probe.root)
    assert proc.stdout.readline() == "ready\n"
    span = float(proc.stdout.readline().split()[1])
    proc.wait()
    assert _state(probe.root) == {"new"}
    outcomes = {"rolled back": 0, "complete": 0, "untouched": 0}
    for run in range(24):
        project = _make(tmp_path / f"run{run}", is_git)
        proc = _child(project.root)
        assert proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0, span * 1.3))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        interrupted = (project.state_dir / JOURNAL_NAME).exists()
        message = recover(Project(project.root))  # what the next %agent command or Agent() does
        state = _state(project.root)
        assert len(state) == 1, f"run {run}: mixed tree after recovery ({message!r})"
        assert not (project.state_dir / JOURNAL_NAME).exists()
        assert not list(project.root.glob(".agent_magic-*.tmp"))
        if interrupted:
            assert state == {"old"} and message
            assert not (project.root / "fresh").exists()
            assert list_checkpoints(project) == []
            outcomes["rolled back"] += 1
        elif state == {"new"}:
            assert len(list_checkpoints(project)) == 1
            outcomes["complete"] += 1
        else:
            outcomes["untouched"] += 1
    # The loop must have hit the middle of an apply, or it proves nothing.
    assert outcomes["rolled back"] >= 3, outcomes


_HOLD = r"""
import sys, time
from pathlib import Path
from agent_magic.staging.lock import project_lock
with project_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _holder(state: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(state), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert proc.stdout.readline() == "held\n"
    return proc


def test_second_apply_refuses_clearly_while_another_process_applies(plain: Project):
    st = Staging(plain)
    st.replace("a.py", "two", "TWO")
    holder = _holder(plain.state_dir, 30)
    try:
        t = time.monotonic()
        with pytest.raises(
            LockBusy,
            match=f"another apply or undo is running.*process {holder.pid}.*nothing was written",
        ):
            apply(plain, st.changeset(), lock_wait=0.5)
        assert 0.5 <= time.monotonic() - t < 5
        assert (plain.root / "a.py").read_text() == "one\ntwo\nthree\n"
    finally:
        holder.kill()  # kill -9: the lock it held is stale now
        holder.wait()
    apply(plain, st.changeset(), lock_wait=0.5)
    assert (plain.root / "a.py").read_text() == "one\nTWO\nthree\n"


def test_an_apply_waits_briefly_for_one_that_is_finishing(plain: Project):
    st = Staging(plain)
    st.replace("a.py", "two", "TWO")
    holder = _holder(plain.state_dir, 0.5)
    try:
        apply(plain, st.changeset(), lock_wait=10)
    finally:
        holder.wait()
    assert (plain.root / "a.py").read_text() == "one\nTWO\nthree\n"


_RACER = r"""
import json, sys, time
from pathlib import Path
from agent_magic.errors import AgentMagicError
from agent_magic.paths import Project
from agent_magic.staging import Staging, apply
project = Project(sys.argv[1])
st = Staging(project)
st.replace("a.py", "two", sys.argv[2])
st.create(f"{sys.argv[2]}.txt", "mine\n")
cs = st.changeset()
go = Path(sys.argv[3])
while not go.exists():
    time.sleep(0.001)
try:
    apply(project, cs)
    print("applied")
except AgentMagicError as exc:
    print(type(exc).__name__)
"""


@pytest.mark.slow
def test_two_processes_applying_to_the_same_file_never_both_win(tmp_path: Path):
    for run in range(6):
        root = tmp_path / f"r{run}"
        root.mkdir()
        (root / "a.py").write_text("one\ntwo\nthree\n")
        go = tmp_path / f"go{run}"
        env = {**os.environ, "PYTHONPATH": os.getcwd()}
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", _RACER, str(root), word, str(go)],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for word in ("LEFT", "RIGHT")
        ]
        time.sleep(1.5)  # both have staged and wait for the start signal
        go.touch()
        results = sorted(p.communicate(timeout=60)[0].strip() for p in racers)
        assert results == ["ConflictError", "applied"], results
        text = (root / "a.py").read_text()
        winner = "LEFT" if "LEFT" in text else "RIGHT"
        loser = "RIGHT" if winner == "LEFT" else "LEFT"
        assert text == f"one\n{winner}\nthree\n"
        assert (root / f"{winner}.txt").exists() and not (root / f"{loser}.txt").exists()


_UNDO_DIES = r"""
import os, sys
from agent_magic.paths import Project
from agent_magic.staging import Staging, apply, undo, write_file
project = Project(sys.argv[1])
st = Staging(project)
for name in ("a.py", "b.py", "c.py"):
    st.replace(name, "old", "new")
cp = apply(project, st.changeset())
calls = []
def writer(target, data, mode):
    if len(calls) == 1:
        os._exit(9)  # dies like kill -9 after restoring one file
    calls.append(target)
    write_file(target, data, mode, root=project.root)
undo(project, cp.id, writer=writer)
"""


def test_an_undo_killed_half_way_is_completed_by_recovery(tmp_path: Path):
    root = tmp_path / "p"
    root.mkdir()
    for name in ("a.py", "b.py", "c.py"):
        (root / name).write_text("old\n")
    proc = subprocess.run(
        [sys.executable, "-c", _UNDO_DIES, str(root)],
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert proc.returncode == 9
    assert sorted((root / n).read_text() for n in ("a.py", "b.py", "c.py")) == [
        "new\n",
        "new\n",
        "old\n",
    ]
    message = recover(Project(root))
    assert "undo of checkpoint" in message and "completed" in message
    assert [(root / n).read_text() for n in ("a.py", "b.py", "c.py")] == ["old\n"] * 3
    assert all(c.undone for c in list_checkpoints(Project(root)))
