"""Which view suits the shell we run in: widgets, terminal text, or headless."""

from __future__ import annotations

import os
from typing import Any

VIEWS = ("auto", "widgets", "text", "headless")


def detect_view(shell: Any, environ: dict[str, str] | None = None) -> str:
    """``widgets`` under a notebook frontend, ``text`` in an interactive terminal, else ``headless``.

    A kernel started by Jupyter Server (Lab, Notebook 7) gets ``JPY_SESSION_NAME``/``__session__``;
    VS Code sets ``__vsc_ipynb_file__``. A kernel without either is run by nbclient or papermill,
    where nobody can click a button.
    """
    env = os.environ if environ is None else environ
    name = type(shell).__name__
    if getattr(shell, "kernel", None) is not None or name == "ZMQInteractiveShell":
        ns = getattr(shell, "user_ns", {})
        if (
            env.get("JPY_SESSION_NAME")
            or ns.get("__session__")
            or ns.get("__vsc_ipynb_file__")
            or env.get("VSCODE_PID")
        ):
            return "widgets"
        return "headless"
    if name == "TerminalInteractiveShell" and _terminal_is_interactive():
        return "text"
    return "headless"


def _terminal_is_interactive() -> bool:
    # `ipython script.ipy` runs the file without an interactive prompt afterwards
    from IPython.terminal.ipapp import TerminalIPythonApp

    if TerminalIPythonApp.initialized():
        app = TerminalIPythonApp.instance()
        if not getattr(app, "interact", True):
            return False
    import sys

    return sys.stdin is not None and sys.stdin.isatty()
