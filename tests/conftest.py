"""Shared fixtures: throwaway git repos and a real IPython shell."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from agent_magic.paths import Project
from agent_magic.staging.overlay import DiskReader

# CI tries the same examples on every run, so whether a change lands does not depend on luck;
# elsewhere each run explores new inputs, and what they find becomes an @example.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample_project"


class CountingProject(Project):
    """Counts the confinement checks (``resolve``) of each path."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.checks: dict[str, int] = {}

    def resolve(self, rel: str, *, allow_secret: bool = False) -> Path:
        self.checks[rel] = self.checks.get(rel, 0) + 1
        return super().resolve(rel, allow_secret=allow_secret)


class CountingReader(DiskReader):
    """Records the files staging reads from disk (asked for, refused ones included)."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    def read(self, project: Project, norm: str) -> bytes | None:
        """Record ``norm`` and read it."""
        self.reads.append(norm)
        return super().read(project, norm)


def user_texts(request) -> list[str]:
    """The text blocks of a model request's user messages."""
    return [
        b["text"]
        for m in request.messages
        if m["role"] == "user"
        for b in m["content"]
        if b.get("type") == "text"
    ]


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity; return stdout."""
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def init_repo(path: Path) -> Path:
    """Make ``path`` a git repo with everything in it committed."""
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial", "--allow-empty")
    return path


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    """A factory: ``make_repo({"a.py": "x = 1\\n"}, git=True)`` -> a project dir."""
    counter = iter(range(1000))

    def make(files: dict[str, str | bytes], *, git: bool = True) -> Path:
        root = tmp_path / f"repo{next(counter)}"
        root.mkdir()
        for rel, content in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return init_repo(root) if git else root

    return make


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    """A git repo holding a copy of examples/sample_project (one failing test)."""
    root = tmp_path / "sample_project"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return init_repo(root)


@pytest.fixture
def ip():
    """A real InteractiveShell with the extension loaded, unloaded afterwards."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "agent_magic")
    yield shell
    shell.run_line_magic("unload_ext", "agent_magic")


@pytest.fixture
def magics(ip):
    """A fresh AgentMagics on ``ip`` with captured output and no console input."""
    from agent_magic.magic import AgentMagics

    def no_input(prompt: str) -> str:
        raise AssertionError(f"unexpected prompt {prompt!r}")

    instance = AgentMagics(ip, out=io.StringIO(), input_fn=no_input)
    ip.register_magics(instance)
    return instance
