"""How the checks of one review execute: every command goes through the sandbox, or not at all."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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

__all__ = ["ChecksStopped", "CommandResult", "Confined", "check_env", "read_tail"]


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
