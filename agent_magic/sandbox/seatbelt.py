"""macOS: ``sandbox-exec`` with a generated Seatbelt profile (the copy is the only writable tree)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from agent_magic.sandbox.policy import Limits, host_env, python_dirs, secret_entries

SANDBOX_EXEC = "/usr/bin/sandbox-exec"


def _quote(path: Path | str) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


def seatbelt_profile(
    *,
    writable: Path,
    tmp: Path,
    readonly: Sequence[Path],
    hidden: Sequence[Path],
    network: bool = False,
    masked: Sequence[Path] = (),
) -> str:
    """The SBPL profile: read the system and Python, write only the copy and its tmp, no network.

    Later rules win, so home directories are denied after the broad read and the Python
    directories and the copy are allowed again after that; ``masked`` (secret files and folders
    inside those directories, see ``secret_entries``) is denied last, so no allow reopens it.
    """
    home_dirs = ["/Users", "/Volumes", "/private/var/root", *map(str, hidden)]
    lines = [
        "(version 1)",
        "(deny default)",
        "(allow process-exec process-fork)",
        "(allow signal (target same-sandbox))",
        "(allow process-info* (target same-sandbox))",
        "(allow sysctl-read)",
        "(allow mach-lookup)",
        "(allow ipc-posix-shm)",
        "(allow file-read*)",
        "(deny file-read* " + " ".join(f"(subpath {_quote(h)})" for h in home_dirs) + ")",
        "(allow file-read* "
        + " ".join(f"(subpath {_quote(p)})" for p in [*readonly, writable, tmp])
        + ")",
        (
            f"(allow file-write* (subpath {_quote(writable)}) (subpath {_quote(tmp)}) "
            '(literal "/dev/null") (literal "/dev/tty") (regex #"^/dev/fd/"))'
        ),
    ]
    if masked:
        lines.append(
            "(deny file-read* file-write* "
            + " ".join(f"({'subpath' if p.is_dir() else 'literal'} {_quote(p)})" for p in masked)
            + ")"
        )
    if network:
        lines.append("(allow network*)")
    else:  # local sockets inside the sandbox (a notebook kernel's ZMQ) are no network
        lines.append(
            '(allow network* (local ip "localhost:*") (remote ip "localhost:*") '
            "(remote unix-socket))"
        )
    return "\n".join(lines) + "\n"


class Seatbelt:
    """Runs commands under ``sandbox-exec -p PROFILE``."""

    name = "sandbox-exec"
    available = True

    def __init__(self, binary: str = SANDBOX_EXEC, *, network: bool = False) -> None:
        self.binary = binary
        self.network = network

    def describe(self) -> str:
        """How code runs."""
        net = "network ALLOWED (--allow-network)" if self.network else "no network"
        return f"sandboxed with sandbox-exec: only the scratch copy writable, {net}"

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
        """``sandbox-exec -p PROFILE -- command`` and the allowlisted environment."""
        full, tmp = host_env(env, writable)
        real = Path(os.path.realpath(writable))
        readonly = python_dirs(exclude=[real, *hide])
        profile = seatbelt_profile(
            writable=real,
            tmp=Path(os.path.realpath(tmp)),
            readonly=readonly,
            hidden=list(hide),
            network=self.network,
            masked=secret_entries(readonly),
        )
        inner = limits.wrap(command) if limits else command
        return [self.binary, "-p", profile, "--", *inner], full
