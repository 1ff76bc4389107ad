"""The notebook this kernel runs for, and what to tell the user when a change writes it on disk.

Without the frontend extension, Apply writes files on disk; the notebook open in the editor
still holds the old version and its next save (Ctrl+S or autosave) would overwrite the change.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

RELOAD = "File → Reload Notebook from Disk"


def kernel_notebook(
    shell: Any, environ: dict[str, str] | None = None, cwd: Path | None = None
) -> Path | None:
    """The notebook file of this kernel, if its frontend said (Jupyter Server, VS Code), else None.

    Jupyter Server passes ``JPY_SESSION_NAME`` (ipykernel copies it to ``__session__``): an
    absolute path, or one relative to the server's root, which the kernel does not know; then
    the kernel's working directory (the notebook's folder) is tried with the file's name.
    """
    env = os.environ if environ is None else environ
    ns = getattr(shell, "user_ns", {}) or {}
    here = cwd or Path.cwd()
    for value in (ns.get("__vsc_ipynb_file__"), ns.get("__session__"), env.get("JPY_SESSION_NAME")):
        if not value or not str(value).endswith(".ipynb"):
            continue
        path = Path(str(value))
        if path.is_absolute():
            return path.resolve()
        for candidate in (here / path, here / path.name):
            if candidate.is_file():
                return candidate.resolve()
    return None


def open_notebook_paths(paths: Iterable[str], root: Path, notebook: Path | None) -> list[str]:
    """The project paths among ``paths`` that are ``notebook`` (the kernel's own)."""
    if notebook is None:
        return []
    return [p for p in paths if (Path(root) / p).resolve() == notebook]


def before_apply(paths: list[str]) -> str:
    """The warning shown with the diff when a change would write the kernel's own notebook."""
    names = ", ".join(paths)
    return (
        f"{names} is the notebook this kernel runs in, open in your editor. Apply writes it "
        "on disk, not into the open tab: right after Apply, reload it "
        f"({RELOAD}) before anything saves it, or that save (Ctrl+S or autosave) overwrites "
        "the change; unsaved edits in the tab and this cell's output are not in the "
        "reloaded file. If the notebook was saved since the agent read it, Apply refuses. "
        "Installing agent-magic in the Jupyter server's environment applies changes in the "
        "open tab instead."
    )


def after_apply(paths: list[str]) -> str:
    """The note that goes with an apply or undo that wrote the kernel's own notebook on disk."""
    names = ", ".join(paths)
    return (
        f"Written on disk only: the open tab of {names} still shows the old version. "
        f"Reload it now ({RELOAD}); a save from the tab would overwrite this change."
    )
