"""Run one check command in its own process group, with a timeout and bounded output."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Environment variables that hold agent_magic's own credentials; a check never needs them and a
# test that prints its environment must not hand them to the model.
SECRET_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
TAIL_CHARS = 4000


@dataclass
class CommandResult:
    """What one command did: exit code (None if killed), timeout, where its output went."""

    command: list[str]
    returncode: int | None
    timed_out: bool
    output_path: Path
    elapsed: float

    def lines(self) -> Iterator[str]:
        """The combined stdout/stderr, line by line, without reading it all into memory."""
        with open(self.output_path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                yield line.rstrip("\n")

    def tail(self, limit: int = TAIL_CHARS) -> str:
        """The last ``limit`` characters of the output, cut at a line start."""
        return read_tail(self.output_path, limit)

    def text(self, limit: int = 200_000) -> str:
        """The output's first ``limit`` characters (for small outputs such as ruff's JSON)."""
        with open(self.output_path, encoding="utf-8", errors="replace") as handle:
            return handle.read(limit)


def read_tail(path: Path, limit: int) -> str:
    """The last ``limit`` characters of a text file, starting at a whole line when cut."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        if size > limit:
            handle.seek(size - limit)
        data = handle.read().decode("utf-8", errors="replace")
    if size > limit and "\n" in data:
        data = "…\n" + data.split("\n", 1)[1]
    return data


def check_env(
    extra_paths: Sequence[Path] = (), base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """An environment for a check: ``extra_paths`` first on PYTHONPATH, no bytecode, no secrets."""
    env = dict(os.environ if base is None else base)
    for name in SECRET_ENV:
        env.pop(name, None)
    paths = [str(p) for p in extra_paths]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    # Two copies are tested in the same second; stale .pyc files keyed on mtime could mix them up.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Jupyter kernels export FORCE_COLOR/CLICOLOR; colored output would hide the result lines.
    for name in ("FORCE_COLOR", "CLICOLOR_FORCE", "PY_COLORS"):
        env.pop(name, None)
    env["NO_COLOR"] = "1"
    return env


def run_command(
    command: Sequence[str],
    *,
    cwd: Path,
    output_path: Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
    stdin_data: bytes | None = None,
) -> CommandResult:
    """Run ``command`` in a new process group; kill the whole group on timeout or interrupt."""
    start = time.monotonic()
    with open(output_path, "wb") as out:
        proc = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        timed_out = False
        try:
            if stdin_data is not None:
                _feed(proc, stdin_data)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
        finally:
            # Also on success: stragglers a test left behind must not outlive the scratch copy.
            _kill_group(proc)
    return CommandResult(
        command=list(command), returncode=None if timed_out else proc.returncode,
        timed_out=timed_out, output_path=output_path, elapsed=time.monotonic() - start,
    )


def _feed(proc: subprocess.Popen, data: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except BrokenPipeError:
        pass


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
