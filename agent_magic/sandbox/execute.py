"""Start one prepared command, bound its output, and end it (and everything it started) on time."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agent_magic.sandbox.policy import Limits
from agent_magic.secrets import REDACTED, Redactor

if TYPE_CHECKING:
    from agent_magic.sandbox.base import Sandbox

TAIL_CHARS = 4000
# A private key spans lines: read line by line, or cut, its body would pass a per-text redaction.
PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY-----")
POLL_SECONDS = 0.1  # how often a running command looks at the stop event
TERM_GRACE = 0.3  # seconds between SIGTERM and SIGKILL; stop must act within 2 s
KILL_WAIT = 1.5  # at most this long for the killed processes to be gone


@dataclass
class CommandResult:
    """What one command did: exit code (None if killed), timeout or stop, where its output went.

    Every read of the output is redacted: secrets must not leave through test output.
    """

    command: list[str]
    returncode: int | None
    timed_out: bool
    output_path: Path
    elapsed: float
    stopped: bool = False
    redact: Callable[[str], str] = field(default_factory=Redactor.current, repr=False)

    def lines(self) -> Iterator[str]:
        """The combined stdout/stderr, line by line, without reading it all into memory."""
        inside_key = False
        with open(self.output_path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                inside_key = inside_key or bool(PEM_BEGIN.search(line))
                if inside_key:
                    inside_key = not PEM_END.search(line)
                    yield REDACTED
                    continue
                yield self.redact(line.rstrip("\n"))

    def tail(self, limit: int = TAIL_CHARS) -> str:
        """The last ``limit`` characters of the output, cut at a line start."""
        return self.redact(_cut_key_head(read_tail(self.output_path, limit)))

    def text(self, limit: int = 200_000) -> str:
        """The output's first ``limit`` characters (for small outputs such as ruff's JSON)."""
        with open(self.output_path, encoding="utf-8", errors="replace") as handle:
            return self.redact(handle.read(limit))

    def head_and_tail(self, head: int = 4000, tail: int = 8000) -> str:
        """Bounded output: the first ``head`` and last ``tail`` characters, saying what is left out."""
        size = self.output_path.stat().st_size
        if size <= head + tail:
            return self.text(head + tail)
        with open(self.output_path, "rb") as handle:
            first = handle.read(head).decode("utf-8", errors="replace")
        last = _cut_key_head(read_tail(self.output_path, tail))
        return self.redact(
            f"{first}\n… [{size - head - tail:,} bytes of output left out] …\n{last}"
        )


def _cut_key_head(text: str) -> str:
    """A cut that fell inside a private key: hide the key's lines up to its END marker."""
    end = PEM_END.search(text)
    if end and not PEM_BEGIN.search(text, 0, end.start()):
        return REDACTED + "\n" + text[end.start() :]  # the END line closes a joined head's key
    return text


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


def execute(
    sandbox: Sandbox,
    command: Sequence[str],
    *,
    cwd: Path,
    writable: Path,
    output_path: Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
    limits: Limits | None = None,
    stdin_data: bytes | None = None,
    hide: Sequence[Path] = (),
    redact: Callable[[str], str] | None = None,
) -> CommandResult:
    """Run ``command`` inside ``sandbox`` with ``writable`` as its only writable tree.

    ``hide`` lists trees the command must not see even read-only (the user's project).
    ``redact`` cleans every read of the output (default: this process's secret values; give
    ``Redactor.current(project_root)`` so the project's ``.env`` values are hidden too).

    Ends at ``timeout`` seconds or when ``stop`` is set (checked every 0.1 s); either way every
    process it started is killed before this returns. Raises SandboxUnavailable if the sandbox
    cannot run anything, OSError if the command cannot be started.
    """
    limits = limits or Limits()
    argv, full_env = sandbox.prepare(
        list(command), cwd=cwd, writable=writable, env=env or {}, hide=hide, limits=limits
    )
    _check_program(command, cwd, full_env.get("PATH", ""))
    start = time.monotonic()
    timed_out = stopped = False
    with open(output_path, "wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            if stdin_data is not None:
                _feed(proc, stdin_data)
            deadline = start + timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                try:
                    proc.wait(timeout=min(POLL_SECONDS, remaining))
                    break
                except subprocess.TimeoutExpired:
                    pass
                if stop is not None and stop.is_set():
                    stopped = True
                    break
        finally:
            # Also on success: stragglers a test left behind must not outlive the check.
            _kill_group(proc)
    return CommandResult(
        command=list(command),
        returncode=None if (timed_out or stopped) else proc.returncode,
        timed_out=timed_out,
        output_path=output_path,
        elapsed=time.monotonic() - start,
        stopped=stopped,
        redact=redact or Redactor.current(),
    )


def _check_program(command: Sequence[str], cwd: Path, path: str) -> None:
    # Inside a sandbox a missing program is only an exit code; say it the way Popen would.
    program = command[0] if command else ""
    found = (
        os.access(cwd / program, os.X_OK)
        if "/" in program
        else shutil.which(program, path=path) is not None
    )
    if not found:
        raise FileNotFoundError(2, "No such file or directory", program)


def _feed(proc: subprocess.Popen, data: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except BrokenPipeError:
        pass


def _kill_group(proc: subprocess.Popen) -> None:
    # bubblewrap's child is the sandbox's PID 1, in a session of its own: when it dies, the
    # kernel kills every process of the sandbox, daemons included. Note it while bwrap lives.
    children = [pid for pid, (ppid, _) in _process_table().items() if ppid == proc.pid]
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=TERM_GRACE)
    _signal_group(proc.pid, signal.SIGKILL)
    for pid in children:
        _signal(pid, signal.SIGKILL)
    proc.wait()
    # "Ended" means ended: wait (briefly) until the sandbox's init and our group are gone.
    deadline = time.monotonic() + KILL_WAIT
    while time.monotonic() < deadline and any(
        pid in children or pgrp == proc.pid for pid, (_, pgrp) in _process_table().items()
    ):
        time.sleep(0.02)


def _process_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, process group) of every live, non-zombie process (empty without /proc)."""
    table: dict[int, tuple[int, int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:  # no procfs (macOS)
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in ("Z", "X"):
            table[int(entry)] = (int(fields[1]), int(fields[2]))
    return table


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
