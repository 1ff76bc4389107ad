"""A repository's own git config cannot make agent_magic run a program: checkpoints, commits and
undo run git with ``core.fsmonitor`` off (a cloned repo may name any script there)."""

from __future__ import annotations

from pathlib import Path

from agent_magic.paths import Project
from agent_magic.staging import Staging, apply, undo
from tests.staging.conftest import git


def _hostile_fsmonitor(root: Path, tmp_path: Path) -> Path:
    marker = tmp_path / "fsmonitor-ran"
    hook = tmp_path / "fsmonitor.sh"
    hook.write_text(f"#!/bin/sh\necho ran >> {marker}\n")
    hook.chmod(0o755)
    git(root, "config", "core.fsmonitor", str(hook))
    git(root, "status", "--porcelain")  # the hook is real: git itself runs it
    assert marker.exists()
    marker.unlink()
    return marker


def test_apply_with_commit_and_undo_never_run_the_repos_fsmonitor(repo: Project, tmp_path: Path):
    marker = _hostile_fsmonitor(repo.root, tmp_path)
    st = Staging(repo)
    st.replace("a.py", "two", "TWO")
    st.create("b.py", "b\n")
    cp = apply(repo, st.changeset(), commit=True, message="Fix two")
    assert cp.commit and not cp.commit_error
    assert undo(repo, cp.id).revert_commit
    assert not marker.exists()
