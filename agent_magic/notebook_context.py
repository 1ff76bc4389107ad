"""What the agent may know of the current notebook: the context manifest.

The manifest is the exact text sent: cell sources, outputs and variables. Values never leave the
kernel unless the user opts in: variables are described by name, type and shape (or length, or
columns and dtypes), outputs by what they are (a table's columns and rows, an array's dtype and
shape, a text's length), and variables whose names look secret by type only. With
``share_outputs`` the outputs' text goes too, each cut to ``MAX_OUTPUT_CHARS``. Secret values
(the process's secret environment, key shapes, the values of secret-named variables) are
redacted from everything, shared or not.
"""

from __future__ import annotations

import html
import os
import re
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_magic.errors import UserError
from agent_magic.images import image_tokens, png_size
from agent_magic.secrets import Redactor, is_secret_env_name

MAX_OUTPUT_CHARS = 400  # per cell output
MAX_CELL_CHARS = 3000
MAX_TOTAL_CHARS = 24_000
MAX_VARIABLES = 80
_SKIP_NAMES = {"In", "Out", "exit", "quit", "get_ipython", "open"}
SUMMARIZED = (
    "Outputs: summarized without their values (types, shapes, columns, lengths); "
    "the user has not opted in to sharing them."
)
SHARED = (
    f"Outputs: shared by the user's opt-in (--share-outputs), each cut to "
    f"{MAX_OUTPUT_CHARS} characters, secrets redacted."
)
# A kernel's result object for (execution count, cell source), when this kernel made it.
LiveResult = Callable[[int, str], Any]
# Plots sent as images (only with share_outputs, and to a model that takes images).
MAX_PLOTS = 2
MAX_PLOT_CHARS = 700_000  # base64 characters of one plot (about 500 KB)
_NAMED_CELL = re.compile(r"\bcells?\s+(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Plot:
    """A PNG output of one cell, to be attached as an image."""

    cell: int  # numbered from 1, as the manifest numbers cells
    data: str  # base64, line breaks removed
    width: int
    height: int

    @property
    def tokens(self) -> int:
        """What the model charges for it."""
        return image_tokens(self.width, self.height)

    def block(self) -> dict[str, Any]:
        """The image content block of a model request."""
        source = {"type": "base64", "media_type": "image/png", "data": self.data}
        return {"type": "image", "source": source}


def notebook_plots(path: Path, task: str = "", limit: int = MAX_PLOTS) -> tuple[list[Plot], str]:
    """The plots to attach: those of cells the task names ("cell 4") first, then the newest.

    At most ``limit``, each under ``MAX_PLOT_CHARS``; the note says what was attached and left out.
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    found: list[Plot] = []
    too_big: list[int] = []
    for number, cell in enumerate(nb.cells, 1):
        for output in cell.get("outputs", []):
            data = "".join(_join(output.get("data", {}).get("image/png", "")).split())
            size = png_size(data) if data else None
            if size is None:
                continue
            if len(data) > MAX_PLOT_CHARS:
                too_big.append(number)
                continue
            found.append(Plot(number, data, *size))
    named = {int(n) for n in _NAMED_CELL.findall(task)}
    ordered = [p for p in found if p.cell in named] + [
        p for p in reversed(found) if p.cell not in named
    ]
    chosen = ordered[:limit]
    if not found and not too_big:
        return [], ""
    note = "Plots attached as images when the model takes images: " + (
        ", ".join(
            f"cell {p.cell} ({p.width}×{p.height} px, about {p.tokens} tokens)" for p in chosen
        )
        or "none"
    )
    left = len(found) - len(chosen)
    if left:
        note += f"; {left} more plot(s) not attached (at most {limit})"
    if too_big:
        note += f"; plots too large to attach in cell(s) {', '.join(map(str, too_big))}"
    return chosen, note + "."


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


def output_summary(output: dict[str, Any], live: Any = None) -> str:
    """One nbformat output described without its values (``live``: the result object, if known).

    A result this kernel still holds is described like a variable; otherwise a table by its
    columns and rows, an image by its type and size, text by its length, an error by its type.
    """
    kind = output.get("output_type")
    if kind == "stream":
        return f"{output.get('name', 'stream')}: {_text_size(_join(output.get('text', '')))}"
    if kind == "error":
        value = str(output.get("evalue", ""))
        return f"error {output.get('ename', 'Error')} (its message hidden: {len(value)} characters)"
    if live is not None:
        return f"result: {describe_value(live)}"
    data = output.get("data", {})
    if not isinstance(data, dict):
        return "output"
    parts = []
    table = _html_table(_join(data.get("text/html", "")))
    if table:
        parts.append(table)
    elif "text/plain" in data:
        parts.append(f"text: {_text_size(_join(data['text/plain']))}")
    for mime in data:
        if mime in ("text/plain", "text/html") and (mime == "text/plain" or table):
            continue
        size = png_size(_join(data[mime])) if mime == "image/png" else None
        pixels = f"{size[0]}×{size[1]} pixels, " if size else ""
        parts.append(f"{mime} ({pixels}{len(_join(data[mime])):,} characters)")
    return "; ".join(parts) or "output"


def cells_from_notebook(
    path: Path, *, share_outputs: bool = False, live: LiveResult | None = None
) -> list[tuple[str, str, str]]:
    """(cell type, source, outputs) for each cell of a saved notebook.

    Outputs are summarized without values (``live`` finds the kernel's result objects), or
    their text trimmed with ``share_outputs``.
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    cells = []
    for cell in nb.cells:
        if share_outputs:
            text = "\n".join(output_text(o) for o in cell.get("outputs", []))
            cells.append((cell.cell_type, cell.source, trim(text, MAX_OUTPUT_CHARS)))
            continue
        lines = []
        for output in cell.get("outputs", []):
            count = output.get("execution_count")
            obj = live(count, cell.source) if live is not None and isinstance(count, int) else None
            lines.append(output_summary(output, obj))
        cells.append((cell.cell_type, cell.source, "\n".join(lines)))
    return cells


def cells_from_history(
    user_ns: dict[str, Any], *, share_outputs: bool = False
) -> list[tuple[str, str, str]]:
    """(\"code\", source, output) for each input of this kernel's history (``In``/``Out``).

    A result is described by type and shape, or its repr trimmed with ``share_outputs``.
    """
    inputs = user_ns.get("In") or []
    outputs = user_ns.get("Out") or {}
    cells = []
    for number, source in enumerate(inputs):
        if not source or not source.strip() or number == 0:
            continue
        out = outputs.get(number)
        if out is None:
            text = ""
        elif share_outputs:
            text = trim(_safe_repr(out), MAX_OUTPUT_CHARS)
        else:
            text = f"result: {describe_value(out)}"
        cells.append(("code", source, text))
    return cells


def live_results(user_ns: dict[str, Any]) -> LiveResult:
    """Finds ``Out[n]`` for a saved cell whose source is this kernel's ``In[n]`` (else None).

    A saved notebook's execution counts may come from another kernel; the source must match.
    """
    inputs = user_ns.get("In") or []
    outputs = user_ns.get("Out") or {}

    def find(count: int, source: str) -> Any:
        if not (0 < count < len(inputs)) or count not in outputs:
            return None
        return outputs[count] if inputs[count].strip() == source.strip() else None

    return find


def secret_values(user_ns: dict[str, Any]) -> list[str]:
    """The string values of variables whose names look secret: redacted wherever they appear."""
    return [
        value
        for name, value in user_ns.items()
        if isinstance(value, str) and not name.startswith("_") and is_secret_env_name(name)
    ]


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
    *,
    outputs_note: str = "",
    redactor: Redactor | None = None,
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
    if outputs_note:
        header += outputs_note + "\n\n"
    # a key printed in an output cell stays in the notebook, but never reaches the model
    redact = redactor if redactor is not None else Redactor.current(project_root)
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
    shell: Any,
    environ: dict[str, str] | None = None,
    *,
    share_outputs: bool = False,
    task: str = "",
    plots: list[Plot] | None = None,
    project_root: Path | None = None,
) -> str:
    """The manifest of the shell's notebook (or its input history) and its variables.

    This is the exact text the agent sends; ``%agent context`` shows it before a run. With
    ``share_outputs`` it names the plots (:func:`notebook_plots` for ``task``) a model that
    takes images gets; ``plots`` receives them. Secret values are redacted: this process's,
    those in ``project_root``'s ``.env`` files and the kernel's secret-named variables.
    """
    user_ns = shell.user_ns
    path = notebook_path(user_ns, environ)
    note = SHARED if share_outputs else SUMMARIZED
    if path is not None:
        live = None if share_outputs else live_results(user_ns)
        try:
            cells = cells_from_notebook(path, share_outputs=share_outputs, live=live)
            chosen, plot_note = notebook_plots(path, task) if share_outputs else ([], "")
        except (OSError, ValueError, UnicodeDecodeError) as exc:  # nbformat's errors included
            raise UserError(
                f"cannot read the notebook {path} for the notebook context: {exc}"
            ) from None
        if plots is not None:
            plots.extend(chosen)
        if plot_note:
            note += "\n" + plot_note
        source = str(path)
    else:
        cells = cells_from_history(user_ns, share_outputs=share_outputs)
        source = "this kernel's input history"
    hidden = dict(getattr(shell, "user_ns_hidden", {}) or {})
    base = Redactor.current(project_root, environ=environ)
    redactor = Redactor([*base.values, *secret_values(user_ns)])
    return render_context(
        cells,
        namespace_summary(user_ns, hidden),
        source,
        project_root,
        outputs_note=note,
        redactor=redactor,
    )


def _join(text: Any) -> str:
    return "".join(text) if isinstance(text, list) else str(text)


def _text_size(text: str) -> str:
    lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
    return f"{lines} line{'s' if lines != 1 else ''}, {len(text)} characters"


_TABLE = re.compile(r"<table[^>]*>(.*?)</table>", re.DOTALL | re.IGNORECASE)
_THEAD = re.compile(r"<thead[^>]*>(.*?)</thead>", re.DOTALL | re.IGNORECASE)
_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.DOTALL | re.IGNORECASE)
_HEADER_CELL = re.compile(r"<th[^>]*>(.*?)</th>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_SHAPE_NOTE = re.compile(r"(\d[\d,]*) rows × (\d[\d,]*) columns")


def _html_table(markup: str) -> str:
    """A pandas-style HTML table as its column names and row count; "" if there is none."""
    table = _TABLE.search(markup)
    if table is None:
        return ""
    head = _THEAD.search(table.group(1))
    columns: list[str] = []
    if head is not None:
        rows = _ROW.findall(head.group(1)) or [head.group(1)]
        cells = _HEADER_CELL.findall(rows[0])
        columns = [html.unescape(_TAG.sub("", c)).strip()[:40] for c in cells]
        if columns and not columns[0]:
            columns = columns[1:]  # the index's empty corner
    shape = _SHAPE_NOTE.search(markup)
    if shape is not None:
        size = f"{shape.group(1)} rows × {shape.group(2)} columns"
    else:
        body = table.group(1)[head.end() :] if head is not None else table.group(1)
        size = f"{len(_ROW.findall(body))} rows shown"
    shown = ", ".join(columns[:30]) + (f", … {len(columns) - 30} more" if len(columns) > 30 else "")
    return f"table ({size}; columns: {shown})" if columns else f"table ({size})"


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
