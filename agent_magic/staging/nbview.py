"""Notebooks as text for the model: a bounded view by cell range, and cell lines for search.

Every view fits in ``MAX_VIEW_CHARS`` and ends by saying which cells (or which lines of a long
cell) it left out and the exact arguments that show them, so every cell is reachable.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agent_magic.errors import ToolError

OUTPUT_LINES = 8
MAX_OUTPUTS = 4
MAX_VIEW_CHARS = 16_000
MAX_LINE_CHARS = 400


def source_text(cell: dict[str, Any]) -> str:
    """A cell's source as one string."""
    src = cell.get("source", "")
    return "".join(map(str, src)) if isinstance(src, list) else str(src)


def cell_key(cell: dict[str, Any], index: int) -> str:
    """The cell's id, or ``@<index>`` for notebooks older than nbformat 4.5."""
    cid = cell.get("id")
    return str(cid) if isinstance(cid, str) and cid else f"@{index}"


def view(
    nb: dict[str, Any],
    name: str = "notebook",
    start_cell: int | None = None,
    end_cell: int | None = None,
    start_line: int | None = None,
    end_line: int | None = None,
    max_chars: int = MAX_VIEW_CHARS,
) -> str:
    """Cells ``start_cell``..``end_cell`` (inclusive) with ids and trimmed outputs, bounded.

    ``start_line``/``end_line`` pick lines of one cell's source (1-based) when the range is a
    single cell, for cells too long to show whole.
    """
    cells = nb["cells"]
    n = len(cells)
    if (start_line is not None or end_line is not None) and (
        start_cell is None or end_cell != start_cell
    ):
        raise ToolError(
            "in a notebook, start_line/end_line pick lines of one cell's source: pass "
            "start_cell and end_cell equal (e.g. start_cell=3, end_cell=3); "
            "without them, view shows whole cells"
        )
    if end_cell is not None and end_cell < (start_cell or 0):
        raise ToolError(f"end_cell {end_cell} is before start_cell {start_cell or 0}")
    kernel = _get(_get(nb, "metadata"), "kernelspec").get("name") or "unknown kernel"
    first = max(0, start_cell or 0)
    last = n - 1 if end_cell is None else min(end_cell, n - 1)
    head = f"{name}: {n} cells ({kernel}); name a cell by its id, or by its index as '@3'"
    if n and first > n - 1:
        return head + f"\n[start_cell {first} is past the last cell, {n - 1}]"
    out = [head]
    size = len(head)
    i = first
    while i <= last:
        lines = source_text(cells[i]).split("\n")
        lo = max(1, start_line or 1) if first == last else 1
        hi = min(len(lines), end_line or len(lines)) if first == last else len(lines)
        block = _cell_block(cells[i], i, lines, lo, hi)
        if size + len(block) > max_chars:
            if i > first:
                break
            # A single cell over the budget: show as many of its lines as fit.
            block, hi = _cut_block(cells[i], i, lines, lo, hi, max_chars - size)
            out.append(block)
            if hi < len(lines):
                out.append(
                    f"[cell {i}: lines {hi + 1}-{len(lines)} of its source not shown; "
                    f"view with start_cell={i}, end_cell={i}, start_line={hi + 1}]"
                )
            i += 1
            break
        out.append(block)
        size += len(block) + 1
        i += 1
    if i <= n - 1:
        # Past the requested range too: the cells after it are as unreachable if not named.
        out.append(f"[cells {i}-{n - 1} not shown (of {n}); view with start_cell={i} to see more]")
    elif first > 0:
        out.append(f"[showing cells {first}-{last} of {n}]")
    return "\n".join(out)


def _get(value: Any, key: str) -> dict[str, Any]:
    """``value[key]`` if both are objects, else {}: found notebooks have odd metadata."""
    inner = value.get(key) if isinstance(value, dict) else None
    return inner if isinstance(inner, dict) else {}


def _cell_title(cell: dict[str, Any], i: int) -> str:
    extra = f" exec={cell['execution_count']}" if cell.get("execution_count") else ""
    return f"[{i}] {cell.get('cell_type', '?')} id={cell_key(cell, i)}{extra}"


def _cell_block(cell: dict[str, Any], i: int, lines: list[str], lo: int, hi: int) -> str:
    out = [_cell_title(cell, i)]
    partial = lo > 1 or hi < len(lines)
    for n in range(lo, hi + 1):
        text = _clip_line(lines[n - 1])
        out.append(f"{n:>5}  {text}" if partial else "    " + text)
    if partial:
        out.append(f"    [lines {lo}-{hi} of {len(lines)} shown]")
    outputs = cell.get("outputs")
    outputs = outputs if isinstance(outputs, list) else []
    for output in outputs[:MAX_OUTPUTS]:
        out.append("    >> " + summarize_output(output))
    if len(outputs) > MAX_OUTPUTS:
        out.append(f"    >> ... ({len(outputs) - MAX_OUTPUTS} more outputs)")
    return "\n".join(out)


def _cut_block(
    cell: dict[str, Any], i: int, lines: list[str], lo: int, hi: int, budget: int
) -> tuple[str, int]:
    out = [_cell_title(cell, i)]
    size = len(out[0])
    n = lo
    while n <= hi:
        line = f"{n:>5}  {_clip_line(lines[n - 1])}"
        if size + len(line) + 1 > budget and n > lo:
            break
        out.append(line)
        size += len(line) + 1
        n += 1
    return "\n".join(out), n - 1


def _clip_line(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return (
        line[:MAX_LINE_CHARS] + f" [... {len(line) - MAX_LINE_CHARS} more characters on this line]"
    )


def summarize_output(output: dict[str, Any]) -> str:
    """One output as short text: streams and text/plain trimmed, images and HTML named only."""
    if not isinstance(output, dict):
        return "[unreadable output]"
    kind = output.get("output_type", "?")
    if kind == "stream":
        return f"{output.get('name', 'stream')}: " + _trim(_joined(output.get("text", "")))
    if kind in ("error", "pyerr"):
        return f"error {output.get('ename', '')}: {str(output.get('evalue', ''))[:300]}"
    data = output.get("data", {})
    if not isinstance(data, dict):
        return f"[{kind} output]"
    if "text/plain" in data:
        rest = sorted(k for k in data if k != "text/plain")
        more = f" (also {', '.join(rest)})" if rest else ""
        return _trim(_joined(data["text/plain"])) + more
    return "[" + ", ".join(sorted(data)) + " output]"


def _joined(value: Any) -> str:
    return "".join(map(str, value)) if isinstance(value, list) else str(value)


def _trim(text: str) -> str:
    lines = text.rstrip("\n").split("\n")
    shown = "\n       ".join(ln[:200] for ln in lines[:OUTPUT_LINES])
    if len(lines) > OUTPUT_LINES:
        shown += f"\n       ... ({len(lines) - OUTPUT_LINES} more lines)"
    return shown


def cell_lines(nb: dict[str, Any]) -> Iterator[tuple[str, int, str]]:
    """(cell label, line number in the cell, line) for every line of every cell's source."""
    for i, cell in enumerate(nb["cells"]):
        label = f"cell {i} id={cell_key(cell, i)}"
        for n, line in enumerate(source_text(cell).split("\n"), 1):
            yield label, n, line
