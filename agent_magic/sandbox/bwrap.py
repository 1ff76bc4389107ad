"""Linux: bubblewrap. The copy is the only writable tree; own PID, network, IPC and user namespaces."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from agent_magic.sandbox.policy import (
    HOME_INSIDE,
    Limits,
    python_dirs,
    sandbox_env,
    secret_entries,
)

SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Readable to root on the host; hidden inside even when the sandbox runs as root.
MASKED_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers")
MASKED_DIRS = ("/etc/ssh", "/etc/sudoers.d", "/etc/ssl/private")
TMP_BYTES = 2 * 1024**3  # the private /tmp lives in memory

# (binary, network) -> (why it cannot run or "", whether --size works)
_PROBES: dict[tuple[str, bool], tuple[str, bool]] = {}


def bwrap_args(
    binary: str,
    command: Sequence[str],
    *,
    cwd: Path,
    writable: Path,
    readonly: Sequence[Path] = (),
    network: bool = False,
    masked: Sequence[Path] = (),
    tmp_bytes: int | None = TMP_BYTES,
) -> list[str]:
    """The bwrap command line; a pure function of its inputs (and of which system dirs exist)."""
    args = [binary, "--unshare-all", "--die-with-parent", "--new-session"]
    if network:
        args.append("--share-net")
    for top in SYSTEM_DIRS:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    if network:  # name resolution may live under /run
        args += ["--ro-bind-try", "/run/systemd/resolve", "/run/systemd/resolve"]
    if os.geteuid() == 0:  # others cannot read these anyway; masking needs no more rights
        args += [
            a for f in MASKED_FILES if os.path.exists(f) for a in ("--ro-bind", "/dev/null", f)
        ]
        args += [a for d in MASKED_DIRS if os.path.isdir(d) for a in ("--tmpfs", d)]
    args += ["--proc", "/proc", "--dev", "/dev"]
    if tmp_bytes is not None:  # bwrap >= 0.7, and not in setuid mode
        args += ["--size", str(tmp_bytes)]
    args += ["--tmpfs", "/tmp", "--dir", HOME_INSIDE]
    covered = [Path(d) for d in SYSTEM_DIRS]
    for path in readonly:
        if not any(path == c or c in path.parents for c in covered):
            args += ["--ro-bind", str(path), str(path)]
    for path in masked:  # secret files inside the read-only dirs: an empty stand-in
        args += ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
    # The root itself (where bwrap makes the parents of the mounts) is read-only too.
    args += [
        "--bind",
        str(writable),
        str(writable),
        "--remount-ro",
        "/",
        "--chdir",
        str(cwd),
        "--",
        *command,
    ]
    return args


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


class Bubblewrap:
    """Runs commands under ``bwrap``; ``probe()`` says whether namespaces work on this machine."""

    name = "bubblewrap"

    def __init__(
        self, binary: str, *, network: bool = False, readonly: Sequence[Path] = ()
    ) -> None:
        self.binary = binary
        self.network = network
        self.extra_readonly = [Path(p) for p in readonly]
        self.reason = ""

    @property
    def available(self) -> bool:
        """Whether bwrap can create its namespaces here (probed once per binary)."""
        self.reason = self.probe()
        return not self.reason

    def describe(self) -> str:
        """How code runs."""
        net = "network ALLOWED (--allow-network)" if self.network else "no network"
        return f"sandboxed with bubblewrap: only the scratch copy writable, {net}"

    def probe(self) -> str:
        """ "" if a trivial command runs in the sandbox, else why not (userns disabled, ...)."""
        key = (self.binary, self.network)
        if key not in _PROBES:
            why = self._try(TMP_BYTES)
            # Older (< 0.7) and setuid bwraps refuse --size; they still confine.
            _PROBES[key] = (why, True) if not why else (self._try(None), False)
        return _PROBES[key][0]

    def _try(self, tmp_bytes: int | None) -> str:
        with tempfile.TemporaryDirectory(prefix="agent_magic_probe_") as tmp:
            argv = bwrap_args(
                self.binary,
                ["/bin/sh", "-c", "true"],
                cwd=Path(tmp),
                writable=Path(tmp),
                network=self.network,
                tmp_bytes=tmp_bytes,
            )
            try:
                proc = subprocess.run(
                    argv, capture_output=True, timeout=30, check=False, stdin=subprocess.DEVNULL
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                return f"bwrap could not be started: {exc}"
        if proc.returncode == 0:
            return ""
        error = proc.stderr.decode(errors="replace").strip().splitlines()
        return (
            "bwrap cannot create its namespaces here (are unprivileged user namespaces "
            f"disabled?): {error[-1] if error else proc.returncode}"
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
        """The bwrap command line and the allowlisted environment it passes on.

        ``hide`` (the user's project) is never shown, not even as part of the Python path.
        """
        hidden = [writable, *hide]
        readonly = python_dirs(exclude=hidden) + self.extra_readonly
        if command and os.path.isabs(command[0]):
            program = Path(os.path.realpath(command[0])).parent
            if not any(
                program == h or h in program.parents or program in h.parents
                for h in map(_real, hidden)
            ):
                readonly.append(program)
        sized = _PROBES.get((self.binary, self.network), ("", True))[1]
        inner = limits.wrap(command) if limits else command
        argv = bwrap_args(
            self.binary,
            inner,
            cwd=cwd,
            writable=writable,
            readonly=readonly,
            network=self.network,
            masked=secret_entries(readonly),
            tmp_bytes=TMP_BYTES if sized else None,
        )
        return argv, sandbox_env(env)
