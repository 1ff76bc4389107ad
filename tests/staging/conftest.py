"""Fixtures: throwaway projects, one plain directory and one real git repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent_magic.paths import Project


def git(root: Path, *args: str) -> str:
    """Run git in ``root``; its stdout."""
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def plain(tmp_path: Path) -> Project:
    root = tmp_path / "plain"
    root.mkdir()
    (root / "a.py").write_text("one\ntwo\nthree\n")
    (root / "pkg").mkdir()
    (root / "pkg" / "b.txt").write_bytes(b"alpha\r\nbeta\r\n")
    return Project(root)


@pytest.fixture
def repo(tmp_path: Path) -> Project:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "Dev")
    (root / "a.py").write_text("one\ntwo\nthree\n")
    (root / "tool.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "tool.sh").chmod(0o755)
    (root / "notes.md").write_text("notes\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "init")
    return Project(root)
