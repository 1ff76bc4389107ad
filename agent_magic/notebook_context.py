"""What the agent may know of the current notebook: cell sources, trimmed outputs, variable shapes.

Values never leave the kernel: variables are described by name, type and shape (or length, or
columns and dtypes), and variables whose names look secret are described by type only.
"""

from __future__ import annotations

import os
import types
from pathlib import Path
from typing import Any

from agent_magic.secrets import Redactor, is_secret_env_name

MAX_OUTPUT_CHARS = 400  # per cell output
MAX_CELL_CHARS = 3000
MAX_TOTAL_CHARS = 24_000
MAX_VARIABLES = 80
_SKIP_NAMES = {"In", "Out", "exit", "quit", "get_ipython", "open"}


def notebook_path(user_ns: dict[str, Any], environ: dict[str, str] | None = None) -> Path | None:
    """The current notebook's file, from ``__session__``, VS Code's variable or JPY_SESSION_NAME."""
    env = os.environ if environ is None else environ
    for candidate in (
        user_ns.get("__session__"),
        user_ns.get("__vsc_ipynb_file__"),
        env.get("JPY_SESSION_NAME"),
    ):
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            path = Path(candidate).expanduser()
            if path.is_file():
                return path
    return None


def trim(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a note of how much was left out."""
    text = text.rstrip()
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… [{len(text) - limit} more characters]"


def output_text(output: dict[str, Any]) -> str:
    """One nbformat output as short text; images and HTML become placeholders."""
    kind = output.get("output_type")
    if kind == "stream":
        return _join(output.get("text", ""))
    if kind == "error":
        return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
    data = output.get("data", {})
    if "text/plain" in data:
        return _join(data["text/plain"])
    return " ".join(f"[{mime}]" for mime in data)


def cells_from_notebook(path: Path) -> list[tuple[str, str, str]]:
    """(cell type, source, trimmed outputs) for each cell of a saved notebook."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    cells = []
    for cell in nb.cells:
        outputs = "\n".join(output_text(o) for o in cell.get("outputs", []))
        cells.append((cell.cell_type, cell.source, trim(outputs, MAX_OUTPUT_CHARS)))
    return cells


def cells_from_history(user_ns: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(\"code\", source, output repr) for each input of this kernel's history (``In``/``Out``)."""
    inputs = user_ns.get("In") or []
    outputs = user_ns.get("Out") or {}
    cells = []
    for number, source in enumerate(inputs):
        if not source or not source.strip() or number == 0:
            continue
        out = outputs.get(number)
        text = trim(_safe_repr(out), MAX_OUTPUT_CHARS) if out is not None else ""
        cells.append(("code", source, text))
    return cells


def describe_value(value: Any) -> str:
    """Type plus shape, length, or columns of a value, never the value itself."""
    kind = type(value)
    name = (
        kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    )
    details = []
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        details.append(f"shape={shape}")
    columns = getattr(value, "columns", None)
    dtypes = getattr(value, "dtypes", None)
    if columns is not None and dtypes is not None:
        try:
            pairs = [
                f"{c}: {d}" for c, d in zip(list(columns)[:30], list(dtypes)[:30], strict=False)
            ]
            details.append("columns={" + ", ".join(pairs) + "}")
        except TypeError:
            pass
    elif getattr(value, "dtype", None) is not None:
        details.append(f"dtype={value.dtype}")
    if shape is None and isinstance(value, (list, tuple, dict, set, frozenset, str, bytes)):
        details.append(f"len={len(value)}")
    if callable(value) and isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
        details.append(_signature(value))
    return name + (f" ({', '.join(details)})" if details else "")


def namespace_summary(user_ns: dict[str, Any], hidden: dict[str, Any] | None = None) -> list[str]:
    """``name: type (shape)`` for each user variable; modules, classes and _names are skipped."""
    hidden = hidden or {}
    lines = []
    for name, value in user_ns.items():
        # names IPython put there itself are skipped unless the user rebound them
        if (
            name.startswith("_")
            or name in _SKIP_NAMES
            or (name in hidden and hidden[name] is value)
            or isinstance(value, (types.ModuleType, type))
        ):
            continue
        if is_secret_env_name(name):
            lines.append(f"{name}: {type(value).__name__} (value hidden)")
        else:
            lines.append(f"{name}: {describe_value(value)}")
        if len(lines) >= MAX_VARIABLES:
            lines.append("… more variables not listed")
            break
    return lines


def render_context(
    cells: list[tuple[str, str, str]],
    variables: list[str],
    source: str = "",
    project_root: Path | None = None,
) -> str:
    """The notebook context as text for the model, newest cells kept if it is too long.

    Secret values are redacted: this process's and those in ``project_root``'s ``.env`` files.
    """
    parts = []
    for number, (kind, text, outputs) in enumerate(cells, 1):
        block = f"# cell {number} [{kind}]\n{trim(text, MAX_CELL_CHARS)}"
        if outputs:
            block += f"\n# output:\n{outputs}"
        parts.append(block)
    header = f"Notebook: {source}\n\n" if source else ""
    # a key printed in an output cell stays in the notebook, but never reaches the model
    redact = Redactor.current(project_root)
    vars_text = (
        "\n\nVariables in the kernel (types and shapes only):\n"
        + "\n".join(f"- {v}" for v in variables)
        if variables
        else ""
    )
    budget = MAX_TOTAL_CHARS - len(header) - len(vars_text)
    kept: list[str] = []
    used = 0
    for block in reversed(parts):
        if used + len(block) > budget:
            kept.append(f"# … {len(parts) - len(kept)} earlier cell(s) left out")
            break
        kept.append(block)
        used += len(block) + 2
    return redact(header + "\n\n".join(reversed(kept)) + vars_text)


def notebook_context(
    shell: Any, environ: dict[str, str] | None = None, project_root: Path | None = None
) -> str:
    """The context of the shell's notebook (or its input history) and its variables."""
    user_ns = shell.user_ns
    path = notebook_path(user_ns, environ)
    if path is not None:
        cells, source = cells_from_notebook(path), str(path)
    else:
        cells, source = cells_from_history(user_ns), "this kernel's input history"
    hidden = dict(getattr(shell, "user_ns_hidden", {}) or {})
    return render_context(cells, namespace_summary(user_ns, hidden), source, project_root)


def _join(text: Any) -> str:
    return "".join(text) if isinstance(text, list) else str(text)


def _safe_repr(value: Any) -> str:
    # an output shown in the notebook is already visible to the user; still only a short repr
    try:
        return repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not break the run
        return f"<{type(value).__name__}: repr failed: {type(exc).__name__}>"


def _signature(func: Any) -> str:
    import inspect

    try:
        return f"signature={func.__name__}{inspect.signature(func)}"
    except (TypeError, ValueError):
        return ""
