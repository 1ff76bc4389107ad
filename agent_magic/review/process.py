"""How the checks of one review execute: every command goes through the sandbox, or not at all."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from agent_magic.sandbox import (
    CommandResult,
    Limits,
    Sandbox,
    Unconfined,
    detect,
    execute,
    read_tail,
)
from agent_magic.secrets import Redactor

__all__ = [
    "ChecksStopped",
    "CommandResult",
    "Confined",
    "alongside",
    "check_env",
    "cpus",
    "read_tail",
]

T = TypeVar("T")


class ChecksStopped(Exception):
    """The user (or the time limit) stopped the run while a check was going."""


def check_env(
    extra_paths: Sequence[Path] = (),
    base: Mapping[str, str] | None = None,
    *,
    write_bytecode: bool = False,
) -> dict[str, str]:
    """What a check adds to the sandbox's environment: PYTHONPATH with ``extra_paths`` first.

    The copy comes first, so it (not an editable install) is imported; then the kernel's
    PYTHONPATH, of which only what the sandbox shows is importable. With ``write_bytecode``,
    Python caches what it compiles (only where the sandbox lets it write: the copy).
    """
    env = os.environ if base is None else base
    paths = [str(p) for p in extra_paths]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    out = {"PYTHONPATH": os.pathsep.join(paths)} if paths else {}
    if write_bytecode:
        out["PYTHONDONTWRITEBYTECODE"] = ""  # empty: unset (the sandbox's default is "1")
    return out


@dataclass
class Confined:
    """The sandbox, stop event and hidden trees every command of a review run shares."""

    sandbox: Sandbox = field(default_factory=detect)
    stop: threading.Event | None = None
    hide: tuple[Path, ...] = ()  # the user's project: never visible inside
    limits: Limits | None = None
    project: Path | None = None  # whose secret files' values are redacted from every output

    @property
    def confines_writes(self) -> bool:
        """Whether the commands can write only the copy (not the user's unconfined opt-in)."""
        return not isinstance(self.sandbox, Unconfined)

    @property
    def can_run(self) -> bool:
        """Whether commands can run at all (a sandbox, or the user's unconfined opt-in)."""
        return self.sandbox.available

    def run(
        self,
        command: Sequence[str],
        *,
        tree: Path,
        output_path: Path,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> CommandResult:
        """Run ``command`` confined to the copy ``tree``; ChecksStopped if stopped before or during."""
        if self.stop is not None and self.stop.is_set():
            raise ChecksStopped("stopped by the user")
        result = execute(
            self.sandbox,
            command,
            cwd=cwd or tree,
            writable=tree,
            output_path=output_path,
            timeout=timeout,
            env=env,
            stop=self.stop,
            limits=self.limits,
            hide=self.hide,
            redact=Redactor.current(self.project),
        )
        if result.stopped:
            raise ChecksStopped("stopped by the user")
        return result


class _Linked(threading.Event):
    """Set on its own, or when ``parent`` (the user's stop) is: all ``execute`` polls is this."""

    def __init__(self, parent: threading.Event | None) -> None:
        super().__init__()
        self.parent = parent

    def is_set(self) -> bool:
        return super().is_set() or (self.parent is not None and self.parent.is_set())


def alongside(
    confined: Confined, main: Callable[[], T], side: Callable[[Confined], object] | None
) -> T:
    """``main()`` here while ``side`` runs in a thread; both have ended when this returns.

    ``side`` gets ``confined`` with a stop of its own that follows the user's, so a Stop ends
    both commands, and a ``main`` that fails stops the side's command rather than waiting out
    its timeout. ``main``'s error wins; else a side error is raised here.
    """
    if side is None:
        return main()
    stop = _Linked(confined.stop)
    errors: list[BaseException] = []

    def run_side() -> None:
        try:
            side(dataclasses.replace(confined, stop=stop))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run_side, name="agent-magic-beside", daemon=True)
    thread.start()
    try:
        result = main()
    except BaseException:
        stop.set()
        thread.join()
        errors.clear()  # its traceback would hold this frame: a cycle keeping the copies alive
        raise
    thread.join()
    if errors:
        raise errors.pop()
    return result


CGROUP = Path("/sys/fs/cgroup")


def cpus(cgroup: Path = CGROUP) -> int:
    """How many CPUs this process may run on (at least 1): its affinity, and its cgroup's quota.

    A container limited to one CPU's time (``docker --cpus=1``) still sees every CPU of the
    machine; two test runs side by side there would each go at half speed.
    """
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        count = os.cpu_count() or 1
    quota = cpu_quota(cgroup)
    return max(1, min(count, int(quota))) if quota is not None else count


def cpu_quota(cgroup: Path = CGROUP) -> float | None:
    """The CPUs' worth of time the cgroup allows (v2 ``cpu.max`` or v1 CFS), None if no limit."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    try:
        seconds, per = float(quota), float(period)
    except ValueError:  # "max": no limit
        return None
    return seconds / per if seconds > 0 and per > 0 else None
