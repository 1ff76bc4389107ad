"""The model's ``run`` tool: one shell command in a sandboxed copy with the staged changes."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path

from agent_magic.errors import ToolError
from agent_magic.review.kept import KeptTree
from agent_magic.review.process import Confined, check_env
from agent_magic.review.scratch import Scratch
from agent_magic.review.testrun import python_paths
from agent_magic.sandbox import Sandbox

DEFAULT_TIMEOUT = 60
MAX_TIMEOUT = 600
HEAD_CHARS = 4000
TAIL_CHARS = 8000


def run_in_copy(
    root: str | os.PathLike[str],
    changes: Mapping[str, bytes | None],
    command: str,
    *,
    sandbox: Sandbox,
    timeout: float = DEFAULT_TIMEOUT,
    stop: threading.Event | None = None,
    workdir: str | os.PathLike[str] | None = None,
    keep: KeptTree | None = None,
    owner: object | None = None,
) -> str:
    """Run ``sh -c command`` in a copy of ``root`` plus ``changes``; the tool's bounded report.

    Raises ToolError when nothing can run (no sandbox, empty command, missing shell) and
    ChecksStopped when ``stop`` is set meanwhile. The copy is deleted afterwards (or, ``keep``
    given, kept and brought up to date at its next use): whatever the command wrote is gone
    and never staged.
    """
    if not command.strip():
        raise ToolError("run: the command is empty")
    if not sandbox.available:
        raise ToolError(f"run: {sandbox.describe()}")
    root_path = Path(root).resolve()
    confined = Confined(sandbox, stop=stop, hide=(root_path,), project=root_path)
    with Scratch(root_path, changes, parent=workdir, keep=keep, owner=owner) as copy:
        try:
            result = confined.run(
                ["/bin/sh", "-c", command],
                tree=copy.path,
                output_path=copy.artifacts / "run.log",
                timeout=timeout,
                env=check_env(python_paths(copy.path)),
            )
        except OSError as exc:
            raise ToolError(f"run: could not start the shell: {exc}") from None
        output = result.head_and_tail(HEAD_CHARS, TAIL_CHARS).rstrip()
    if result.timed_out:
        head = f"timed out after {timeout:g} s (every process was killed)"
    else:
        head = f"exit code {result.returncode} after {result.elapsed:.1f} s"
    return f"{head}\n$ {command}\n{output or '(no output)'}"


def clamp_timeout(requested: int | None, remaining: float) -> float:
    """The run's timeout: the request (default 60 s, at most 600 s), within the run's time left."""
    wanted = DEFAULT_TIMEOUT if requested is None else min(max(1, requested), MAX_TIMEOUT)
    return max(1.0, min(float(wanted), remaining))
