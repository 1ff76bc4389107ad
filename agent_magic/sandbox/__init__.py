"""One way to execute anything the agent causes to run: bubblewrap, sandbox-exec, or refuse.

Review tests and lint, the scratch notebook kernel and the model's ``run`` tool all go through
:func:`execute` with a :class:`Sandbox` from :func:`detect`; nothing else starts repo or model code.
"""

from __future__ import annotations

import os
import shutil
import sys

from agent_magic.sandbox.base import Sandbox, SandboxUnavailable, Unavailable, Unconfined
from agent_magic.sandbox.bwrap import Bubblewrap, bwrap_args
from agent_magic.sandbox.execute import CommandResult, execute, read_tail
from agent_magic.sandbox.policy import Limits, sandbox_env
from agent_magic.sandbox.seatbelt import SANDBOX_EXEC, Seatbelt, seatbelt_profile

__all__ = [
    "Bubblewrap",
    "CommandResult",
    "Limits",
    "Sandbox",
    "SandboxUnavailable",
    "Seatbelt",
    "Unavailable",
    "Unconfined",
    "bwrap_args",
    "detect",
    "execute",
    "read_tail",
    "sandbox_env",
    "seatbelt_profile",
]


def detect(
    *,
    allow_network: bool = False,
    unsandboxed: bool = False,
    path: str | None = None,
    platform: str = sys.platform,
) -> Sandbox:
    """The sandbox for this machine, or an Unavailable one saying why code cannot run.

    ``path`` is where to look for ``bwrap`` (default: $PATH); ``unsandboxed`` is the user's
    explicit opt-in to run without confinement.
    """
    if unsandboxed:
        return Unconfined()
    if platform.startswith("linux"):
        binary = shutil.which("bwrap", path=path if path is not None else os.environ.get("PATH"))
        if binary is None:
            return Unavailable(
                "bubblewrap's `bwrap` was not found on PATH; install the `bubblewrap` package"
            )
        sandbox = Bubblewrap(binary, network=allow_network)
        problem = sandbox.probe()
        return sandbox if not problem else Unavailable(problem)
    if platform == "darwin":
        if os.path.exists(SANDBOX_EXEC):
            return Seatbelt(network=allow_network)
        return Unavailable(f"{SANDBOX_EXEC} is missing")
    return Unavailable(f"agent_magic has no sandbox for the {platform} platform")
