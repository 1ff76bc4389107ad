"""Apply under real faults: immutable files (chattr +i), a read-only bind mount, a failing rollback.

We run as root, and root ignores mode bits (chmod 000 stops nobody), so the permission errors
here come from `chattr +i` (EPERM even for root) and from a read-only bind mount made by
bubblewrap for a child process; both are real kernel refusals, not mocks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent_magic.errors import ApplyError
from agent_magic.paths import Project
from agent_magic.session import Session
from agent_magic.staging import Staging, apply, list_checkpoints, recover, undo, write_file
from agent_magic.staging.journal import JOURNAL_NAME
from tests.staging.test_apply import tree


def _chattr(path: Path, flag: str) -> bool:
    return (
        shutil.which("chattr") is not None
        and subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False).returncode
        == 0
    )


@pytest.fixture
def eleven(plain: Project) -> Project:
    for i in range(11):
        (plain.root / f"m{i:02d}.py").write_text(f"value = {i}\n")
    return plain


def stage_all(project: Project) -> Staging:
    st = Staging(project)
    for i in range(11):
        st.replace(f"m{i:02d}.py", f"value = {i}", f"value = {i + 100}")
    return st


@pytest.mark.parametrize("which", [0, 5, 10])
def test_immutable_target_rolls_back_every_other_file(eleven: Project, which: int):
    victim = eleven.root / f"m{which:02d}.py"
    original = tree(eleven.root)
    st = stage_all(eleven)
    session = Session("t", eleven, "m", changeset=st.changeset())
    if not _chattr(victim, "+i"):
        pytest.skip("chattr +i is not available here")
    try:
        with pytest.raises(
            ApplyError, match=f"could not write m{which:02d}.py.*nothing was applied"
        ):
            session.apply()
    finally:
        _chattr(victim, "-i")
    assert tree(eleven.root) == original
    assert list_checkpoints(eleven) == [] and session.checkpoints == []
    assert not (eleven.state_dir / JOURNAL_NAME).exists()
    assert not [p for p in eleven.root.iterdir() if p.name.startswith(".agent_magic-")]


class FreezeThenFail:
    """Writes k files, makes the last one immutable (so the rollback cannot restore it), then fails."""

    def __init__(self, k: int) -> None:
        self.k, self.calls, self.frozen = k, 0, None

    def __call__(self, target, data, mode) -> None:
        if self.calls == self.k:
            raise PermissionError(13, "Permission denied", str(target))
        write_file(target, data, mode)
        self.calls += 1
        if self.calls == self.k:
            self.frozen = target
            if not _chattr(target, "+i"):
                pytest.skip("chattr +i is not available here")


def test_rollback_that_cannot_finish_keeps_checkpoint_and_journal_then_recovers(eleven: Project):
    original = tree(eleven.root)
    st = stage_all(eleven)
    writer = FreezeThenFail(3)
    session = Session("t", eleven, "m", changeset=st.changeset())
    from agent_magic.staging import apply as apply_fn

    try:
        with pytest.raises(ApplyError) as err:
            apply_fn(eleven, st.changeset(), writer=writer)
        session.checkpoints.append(err.value.checkpoint)  # what Session.apply does
        assert "could not restore m02.py" in str(err.value)
        assert err.value.checkpoint and session.checkpoints == [err.value.checkpoint]
        assert (eleven.state_dir / JOURNAL_NAME).exists()
        # Every file but the frozen one is back already.
        now = tree(eleven.root)
        assert {p for p in original if now[p] != original[p]} == {"m02.py"}
    finally:
        _chattr(writer.frozen, "-i")
    message = recover(eleven)
    assert "rolled back" in message and err.value.checkpoint in message
    assert tree(eleven.root) == original
    assert not (eleven.state_dir / JOURNAL_NAME).exists()
    assert recover(eleven) == ""


def test_undo_force_repairs_a_half_restored_tree(eleven: Project):
    original = tree(eleven.root)
    cp = apply(eleven, stage_all(eleven).changeset())
    (eleven.root / "m03.py").write_text("user edit after the apply\n")
    victim = eleven.root / "m07.py"
    if not _chattr(victim, "+i"):
        pytest.skip("chattr +i is not available here")
    try:
        with pytest.raises(ApplyError, match=r"undo failed: could not write m07.py"):
            undo(eleven, cp.id, force=True)
    finally:
        _chattr(victim, "-i")
    after_failed_undo = tree(eleven.root)
    assert after_failed_undo["m03.py"] == b"user edit after the apply\n"  # back to before the undo
    assert after_failed_undo["m01.py"] == b"value = 101\n"  # still the applied content
    undo(eleven, cp.id, force=True)
    assert tree(eleven.root) == original


_CHILD = r"""
import json, sys
from agent_magic.paths import Project
from agent_magic.staging import Staging, apply
from agent_magic.errors import ApplyError
project = Project(sys.argv[1])
st = Staging(project)
st.replace("a.py", "two", "TWO")
st.create("ro/new.py", "x = 1\n")
try:
    apply(project, st.changeset())
except ApplyError as exc:
    print(json.dumps({"error": str(exc), "type": type(exc).__name__}))
else:
    print(json.dumps({"error": ""}))
"""


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
def test_read_only_bind_mount_rolls_back(plain: Project):
    (plain.root / "ro").mkdir()
    (plain.root / "ro" / "keep.txt").write_text("k\n")
    original = tree(plain.root)
    proc = subprocess.run(
        [
            "bwrap",
            "--bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--ro-bind",
            str(plain.root / "ro"),
            str(plain.root / "ro"),
            sys.executable,
            "-c",
            _CHILD,
            str(plain.root),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        timeout=60,
        check=False,
    )
    if proc.returncode != 0 and "bwrap" in proc.stderr:
        pytest.skip(f"bubblewrap cannot run here: {proc.stderr.strip()}")
    out = json.loads(proc.stdout)
    assert out["type"] == "ApplyError"
    assert "ro/new.py" in out["error"] and "Read-only file system" in out["error"]
    assert "nothing was applied" in out["error"]
    assert tree(plain.root) == original
    assert list_checkpoints(plain) == []


def test_a_state_directory_that_cannot_be_written_is_one_clear_error(plain: Project):
    state = plain.state_dir
    state.mkdir()
    st = Staging(plain)
    st.replace("a.py", "two", "TWO")
    if not _chattr(state, "+i"):
        pytest.skip("chattr +i is not available here")
    try:
        with pytest.raises(ApplyError, match=r"apply failed: .*nothing was written"):
            apply(plain, st.changeset())
    finally:
        _chattr(state, "-i")
    assert (plain.root / "a.py").read_text() == "one\ntwo\nthree\n"
