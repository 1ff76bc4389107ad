"""agent_magic: run an autonomous coding agent from a notebook, apply its changes only on approval."""

from __future__ import annotations

__version__ = "0.1.0"


def load_ipython_extension(ipython) -> None:
    """Register the %%agent and %agent magics (called by %load_ext)."""
    from agent_magic.magic import AgentMagics
    from agent_magic.warmup import Warmup

    magics = AgentMagics(ipython, warmup=Warmup())
    ipython.register_magics(magics)
    # An apply or undo that a dead kernel left half-done is finished now, not at first use.
    magics.recover_notice(None)
    # What the first %%agent cell would import on the kernel's thread, imported meanwhile in a
    # daemon thread; started last so that it never imports alongside the lines above.
    magics.warm_up()


def unload_ipython_extension(ipython) -> None:
    """Remove the magics registered by load_ipython_extension (called by %unload_ext)."""
    from agent_magic.magic import unregister

    unregister(ipython)
