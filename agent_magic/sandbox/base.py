"""The Sandbox protocol, the refusal used when none is available, and the opt-in unconfined mode."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from agent_magic.errors import AgentMagicError
from agent_magic.sandbox.policy import Limits, host_env


class SandboxUnavailable(AgentMagicError):
    """No sandbox can run code here; nothing was executed."""


class Sandbox(Protocol):
    """Turns a command into one that runs confined; ``available`` False means it refuses."""

    name: str
    network: bool

    @property
    def available(self) -> bool:
        """False when it refuses to run anything."""
        ...

    def describe(self) -> str:
        """One sentence for findings and the record: how code runs, or why it does not."""
        ...

    def prepare(
        self,
        command: list[str],
        *,
        cwd: Path,
        writable: Path,
        env: Mapping[str, str],
        hide: Sequence[Path] = (),
        limits: Limits | None = None,
    ) -> tuple[list[str], dict[str, str]]:
        """(argv, environment) that run ``command`` in ``cwd`` with only ``writable`` writable.

        ``hide`` lists trees that must stay invisible (the user's project); ``limits`` are set
        on the command's processes.
        """
        ...


class Unavailable:
    """No sandbox: every ``prepare`` raises SandboxUnavailable with the reason."""

    name = "none"
    available = False
    network = False

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def describe(self) -> str:
        """Why nothing runs."""
        return (
            f"no sandbox is available ({self.reason}), so no test, lint, notebook or "
            "command was run; install bubblewrap, or opt in to unconfined runs with "
            "--unsandboxed"
        )

    def prepare(
        self,
        command: list[str],
        *,
        cwd: Path,
        writable: Path,
        env: Mapping[str, str],
        hide: Sequence[Path] = (),
        limits: Limits | None = None,
    ) -> tuple[list[str], dict[str, str]]:
        """Refuse."""
        raise SandboxUnavailable(self.describe())


class Unconfined:
    """The user's explicit opt-in (``--unsandboxed``): code runs with the user's privileges.

    The environment is still the allowlist, HOME and TMPDIR point next to the scratch copy, and
    the process group is killed at the end; but files, network and daemons are not confined.
    """

    name = "unconfined"
    available = True
    network = True

    def describe(self) -> str:
        """Says plainly that nothing was confined."""
        return (
            "UNSANDBOXED (--unsandboxed): checks and commands ran with your privileges, "
            "with access to your files and the network"
        )

    def prepare(
        self,
        command: list[str],
        *,
        cwd: Path,
        writable: Path,
        env: Mapping[str, str],
        hide: Sequence[Path] = (),
        limits: Limits | None = None,
    ) -> tuple[list[str], dict[str, str]]:
        """The command as is, in the allowlisted environment."""
        full, _ = host_env(env, writable)
        return (limits.wrap(command) if limits else command), full
