"""Pure notebook work: load/dump keeping the file's JSON style, view, cell edits, per-cell diffs.

Notebooks are handled as JSON dicts (the nbformat v4 schema) so that untouched cells and
metadata survive a round trip byte for byte; ``nbformat.validate`` checks every edit.
"""

from __future__ import annotations

import copy
import difflib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from agent_magic.errors import ToolError
from agent_magic.staging.diff import Hunk

ACTIONS = ("replace", "insert", "delete", "move", "set_type")
CELL_TYPES = ("code", "markdown", "raw")
OUTPUT_LINES = 8


@dataclass(frozen=True)
class JsonStyle:
    """How a notebook file was serialized, so it can be written back the same way."""

    indent: int | None = 1
    sort_keys: bool = True
    ensure_ascii: bool = False
    final_newline: bool = True


def is_notebook(path: str) -> bool:
    """Whether ``path`` names a Jupyter notebook."""
    return path.lower().endswith(".ipynb")


def load(data: bytes, name: str = "notebook") -> tuple[dict[str, Any], JsonStyle]:
    """The notebook dict and its JSON style; ToolError if it is not a v4 notebook."""
    try:
        text = data.decode("utf-8-sig")
        nb = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ToolError(f"{name} is not valid notebook JSON: {exc}") from None
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        raise ToolError(f"{name} is not an nbformat v4 notebook")
    return nb, _style(text, nb)


def _style(text: str, nb: dict[str, Any]) -> JsonStyle:
    indent: int | None = None
    lines = text.split("\n", 2)
    if len(lines) > 1:
        indent = len(lines[1]) - len(lines[1].lstrip(" ")) or None
    keys = list(nb)
    cell_keys = list(nb["cells"][0]) if nb["cells"] else []
    sort = keys == sorted(keys) and cell_keys == sorted(cell_keys)
    ascii_only = text.isascii() and "\\u" in text
    return JsonStyle(indent, sort, ascii_only, text.endswith("\n"))


def dump(nb: dict[str, Any], style: JsonStyle) -> bytes:
    """The notebook serialized in ``style``."""
    text = json.dumps(nb, indent=style.indent, sort_keys=style.sort_keys,
                      ensure_ascii=style.ensure_ascii)
    return (text + ("\n" if style.final_newline else "")).encode("utf-8")


def source_text(cell: dict[str, Any]) -> str:
    """A cell's source as one string."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def cell_key(cell: dict[str, Any], index: int) -> str:
    """The cell's id, or ``@<index>`` for notebooks older than nbformat 4.5."""
    return str(cell.get("id") or f"@{index}")


def view(nb: dict[str, Any], name: str = "notebook") -> str:
    """The notebook as numbered cells with ids; outputs trimmed and images summarized."""
    kernel = nb.get("metadata", {}).get("kernelspec", {}).get("name", "unknown kernel")
    out = [f"{name}: {len(nb['cells'])} cells ({kernel})"]
    for i, cell in enumerate(nb["cells"]):
        ctype = cell.get("cell_type", "?")
        extra = f" exec={cell['execution_count']}" if cell.get("execution_count") else ""
        out.append(f"[{i}] {ctype} id={cell_key(cell, i)}{extra}")
        out += ["    " + ln for ln in source_text(cell).split("\n")]
        for output in cell.get("outputs", []):
            out.append("    >> " + _summarize_output(output))
    return "\n".join(out)


def _summarize_output(output: dict[str, Any]) -> str:
    kind = output.get("output_type", "?")
    if kind == "stream":
        return f"{output.get('name', 'stream')}: " + _trim(_joined(output.get("text", "")))
    if kind == "error":
        return f"error {output.get('ename', '')}: {output.get('evalue', '')}"
    data = output.get("data", {})
    if "text/plain" in data:
        rest = sorted(k for k in data if k != "text/plain")
        more = f" (also {', '.join(rest)})" if rest else ""
        return _trim(_joined(data["text/plain"])) + more
    return "[" + ", ".join(sorted(data)) + " output]"


def _joined(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _trim(text: str) -> str:
    lines = text.rstrip("\n").split("\n")
    shown = "\n       ".join(ln[:200] for ln in lines[:OUTPUT_LINES])
    if len(lines) > OUTPUT_LINES:
        shown += f"\n       ... ({len(lines) - OUTPUT_LINES} more lines)"
    return shown


def find_cell(nb: dict[str, Any], cell: str | int | None) -> int:
    """Index of the cell named by id or index; ToolError if there is none."""
    cells = nb["cells"]
    if cell is None:
        raise ToolError("name the cell by its id or index")
    if isinstance(cell, int) or (isinstance(cell, str) and cell.lstrip("-").isdigit()):
        idx = int(cell)
        if not 0 <= idx < len(cells):
            raise ToolError(f"cell index {idx} is out of range (0-{len(cells) - 1})")
        return idx
    for i, c in enumerate(cells):
        if cell_key(c, i) == cell:
            return i
    ids = ", ".join(cell_key(c, i) for i, c in list(enumerate(cells))[:20])
    raise ToolError(f"no cell with id {cell!r}; ids are: {ids}")


def edit(nb: dict[str, Any], action: str, *, cell: str | int | None = None,
         index: int | None = None, source: str | None = None, cell_type: str | None = None,
         to_index: int | None = None) -> tuple[dict[str, Any], str]:
    """A copy of ``nb`` with one cell edit applied, and a short note; ToolError on bad input."""
    if action not in ACTIONS:
        raise ToolError(f"unknown notebook action {action!r}; use one of {', '.join(ACTIONS)}")
    if cell_type is not None and cell_type not in CELL_TYPES:
        raise ToolError(f"cell_type must be one of {', '.join(CELL_TYPES)}")
    nb = copy.deepcopy(nb)
    cells = nb["cells"]
    if action == "insert":
        pos = len(cells) if index is None else index
        if not 0 <= pos <= len(cells):
            raise ToolError(f"index must be between 0 and {len(cells)}")
        new = _new_cell(nb, cell_type or "code", source or "")
        cells.insert(pos, new)
        note = f"inserted {new['cell_type']} cell at index {pos}"
    else:
        i = find_cell(nb, cell)
        key = cell_key(cells[i], i)
        if action == "replace":
            if source is None:
                raise ToolError("replace needs the new source")
            if cell_type and cell_type != cells[i].get("cell_type"):
                _set_type(cells[i], cell_type)
            _set_source(cells[i], source)
            note = f"replaced source of cell {i} (id {key})"
        elif action == "delete":
            del cells[i]
            note = f"deleted cell {i} (id {key})"
        elif action == "move":
            if to_index is None or not 0 <= to_index < len(cells):
                raise ToolError(f"to_index must be between 0 and {len(cells) - 1}")
            cells.insert(to_index, cells.pop(i))
            note = f"moved cell {key} from index {i} to {to_index}"
        else:
            if cell_type is None:
                raise ToolError("set_type needs cell_type")
            _set_type(cells[i], cell_type)
            note = f"cell {i} (id {key}) is now {cell_type}"
    validate(nb)
    return nb, note


def validate(nb: dict[str, Any]) -> None:
    """Raise ToolError unless ``nb`` passes ``nbformat.validate``."""
    import nbformat  # seconds to import (jsonschema); only notebook edits need it

    try:
        nbformat.validate(nbformat.from_dict(copy.deepcopy(nb)))
    except nbformat.ValidationError as exc:
        raise ToolError(f"the edit would make an invalid notebook: {exc.message}") from None


def _as_source(nb_or_cell_like: Any, text: str) -> Any:
    return text.splitlines(keepends=True) if isinstance(nb_or_cell_like, list) else text


def _set_source(cell: dict[str, Any], text: str) -> None:
    if text == source_text(cell):
        return
    cell["source"] = _as_source(cell.get("source", []), text)
    if cell.get("cell_type") == "code":
        # Outputs of changed code no longer describe it.
        cell["outputs"] = []
        cell["execution_count"] = None


def _set_type(cell: dict[str, Any], cell_type: str) -> None:
    if cell.get("cell_type") == cell_type:
        return
    cell["cell_type"] = cell_type
    if cell_type == "code":
        cell.pop("attachments", None)
        cell["outputs"] = []
        cell["execution_count"] = None
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


def _new_cell(nb: dict[str, Any], cell_type: str, source: str) -> dict[str, Any]:
    as_list = any(isinstance(c.get("source"), list) for c in nb["cells"]) or not nb["cells"]
    cell: dict[str, Any] = {"cell_type": cell_type}
    if nb.get("nbformat_minor", 0) >= 5:
        taken = {c.get("id") for c in nb["cells"]}
        new_id = uuid.uuid4().hex[:8]
        while new_id in taken:
            new_id = uuid.uuid4().hex[:8]
        cell["id"] = new_id
    cell["metadata"] = {}
    cell["source"] = source.splitlines(keepends=True) if as_list else source
    if cell_type == "code":
        cell["execution_count"] = None
        cell["outputs"] = []
    return cell


def pair_keys(before: list[Any], after: list[Any]) -> tuple[list[str], list[str]]:
    """Keys naming the same cell alike in two versions of a notebook's cells.

    Cell ids when every cell has one (nbformat 4.5+). Older notebooks have none, and their
    positions shift with every insert, so cells are paired by content instead: aligned runs of
    equal or changed cells keep the earlier key (``@<index>``), a cell found unchanged elsewhere
    was moved, and the rest are new (``new<index>``) or deleted.
    """
    if all(c.get("id") for c in before) and all(c.get("id") for c in after):
        return [c["id"] for c in before], [c["id"] for c in after]
    bkeys = [f"@{i}" for i in range(len(before))]
    akeys = [f"new{j}" for j in range(len(after))]
    bsig = [(c.get("cell_type"), source_text(c)) for c in before]
    asig = [(c.get("cell_type"), source_text(c)) for c in after]
    matcher = difflib.SequenceMatcher(None, bsig, asig, autojunk=False)
    for _op, i1, i2, j1, j2 in matcher.get_opcodes():
        for k in range(min(i2 - i1, j2 - j1)):
            akeys[j1 + k] = bkeys[i1 + k]
    paired = set(akeys)
    unpaired = {key: sig for key, sig in zip(bkeys, bsig) if key not in paired}
    for j, key in enumerate(akeys):
        if not key.startswith("new"):
            continue
        moved = next((b for b, sig in unpaired.items() if sig == asig[j]), None)
        if moved is not None:
            akeys[j] = moved
            del unpaired[moved]
    return bkeys, akeys


def cell_hunks(path: str, before: dict[str, Any], after: dict[str, Any]) -> list[Hunk]:
    """Per-cell changes (added, deleted, modified) and one hunk for a change of cell order."""
    bkeys, akeys = pair_keys(before["cells"], after["cells"])
    bmap = dict(zip(bkeys, before["cells"]))
    amap = dict(zip(akeys, after["cells"]))
    hunks: list[Hunk] = []

    def name(i: int, key: str) -> str:
        return f"cell {i}" if key.startswith(("@", "new")) else f"cell {i} (id {key})"

    for i, key in enumerate(akeys):
        cell = amap[key]
        if key not in bmap:
            body = "".join("+" + ln for ln in _src_lines(cell))
            hunks.append(Hunk(f"{path}#cell-{key}", f"{name(i, key)} added "
                              f"({cell.get('cell_type')})", body, kind="cell"))
        elif cell != bmap[key]:
            hunks.append(Hunk(f"{path}#cell-{key}", f"{name(i, key)} modified",
                              _cell_change_text(bmap[key], cell), kind="cell"))
    for i, key in enumerate(bkeys):
        if key not in amap:
            body = "".join("-" + ln for ln in _src_lines(bmap[key]))
            hunks.append(Hunk(f"{path}#cell-{key}", f"{name(i, key)} deleted", body,
                              kind="cell"))
    common_b = [k for k in bkeys if k in amap]
    common_a = [k for k in akeys if k in bmap]
    if common_b != common_a:
        body = f"-order: {' '.join(common_b)}\n+order: {' '.join(common_a)}\n"
        hunks.append(Hunk(f"{path}#order", "cells moved", body, kind="order"))
    return hunks


def _src_lines(cell: dict[str, Any]) -> list[str]:
    lines = source_text(cell).splitlines(keepends=True)
    return [ln if ln.endswith("\n") else ln + "\n" for ln in lines]


def _cell_change_text(old: dict[str, Any], new: dict[str, Any]) -> str:
    out = []
    if old.get("cell_type") != new.get("cell_type"):
        out.append(f"# cell type: {old.get('cell_type')} -> {new.get('cell_type')}\n")
    diff = difflib.unified_diff(_src_lines(old), _src_lines(new), n=3)
    out += [ln for ln in diff if not ln.startswith(("---", "+++"))]
    if old.get("outputs") and not new.get("outputs"):
        out.append("# outputs cleared\n")
    return "".join(out)


def apply_cell_hunks(before: dict[str, Any], after: dict[str, Any], hunks: list[Hunk],
                     selected: set[str]) -> dict[str, Any]:
    """``before`` with the selected cell changes (and cell order, if selected) from ``after``."""
    path_ids = {h.id.rsplit("#", 1)[1]: h.id in selected for h in hunks}
    bkeys, akeys = pair_keys(before["cells"], after["cells"])
    bmap = dict(zip(bkeys, before["cells"]))
    amap = dict(zip(akeys, after["cells"]))

    def picked(key: str) -> bool:
        return path_ids.get(f"cell-{key}", False)

    keep = {k for k in bkeys if k in amap or not picked(k)}
    keep |= {k for k in akeys if k not in bmap and picked(k)}
    if path_ids.get("order", False) or "order" not in path_ids:
        seq = _merge_order([k for k in akeys if k in keep], [k for k in bkeys if k in keep])
    else:
        seq = _merge_order([k for k in bkeys if k in keep], [k for k in akeys if k in keep])
    cells = []
    for key in seq:
        if key in amap and (key not in bmap or picked(key)):
            cells.append(copy.deepcopy(amap[key]))
        else:
            cells.append(copy.deepcopy(bmap[key]))
    result = copy.deepcopy(before)
    result["cells"] = cells
    return result


def _merge_order(primary: list[str], secondary: list[str]) -> list[str]:
    """``primary``, plus keys only in ``secondary`` placed after their nearest predecessor there."""
    seq = list(primary)
    for i, key in enumerate(secondary):
        if key in seq:
            continue
        prev = next((secondary[j] for j in range(i - 1, -1, -1) if secondary[j] in seq), None)
        seq.insert(seq.index(prev) + 1 if prev is not None else 0, key)
    return seq
