"""Pure notebook work: load/dump keeping the file's bytes, cell edits, per-cell diffs.

Notebooks are handled as JSON dicts (the nbformat v4 schema). Loading remembers the file's text
and where each cell is (``nbjson``), so writing an edited notebook changes only the edited
cells' bytes. Every edit is validated, but a notebook that was already invalid (nbformat 4.4
cells with ids are common) only refuses edits that add a new kind of problem.
"""

from __future__ import annotations

import copy
import difflib
import json
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from agent_magic.errors import ToolError
from agent_magic.staging import nbjson
from agent_magic.staging.diff import Hunk
from agent_magic.staging.nbview import cell_key, source_text, summarize_output, view  # noqa: F401

ACTIONS = ("replace", "insert", "delete", "move", "set_type")
CELL_TYPES = ("code", "markdown", "raw")
MAX_HUNK_CHARS = 12_000  # one cell's diff shown in a prompt or widget
MAX_FILE_DIFF_CHARS = 30_000  # a created or deleted notebook's diff
MAX_NOTEBOOK_DIFF_CHARS = 60_000  # all the cell hunks of one edited notebook


@dataclass(frozen=True)
class JsonStyle:
    """How a notebook file was serialized, so it can be written back the same way.

    ``layout`` is the original text split around its cells (None for a notebook built in
    memory); ``converted_from`` is the old major version (1-3) of a file read as v4.
    """

    indent: int | None = 1
    sort_keys: bool = True
    ensure_ascii: bool = False
    final_newline: bool = True
    newline: str = "\n"
    bom: bool = False
    layout: nbjson.Layout | None = None
    converted_from: int | None = None


def is_notebook(path: str) -> bool:
    """Whether ``path`` names a Jupyter notebook."""
    return path.lower().endswith(".ipynb")


def load(data: bytes, name: str = "notebook") -> tuple[dict[str, Any], JsonStyle]:
    """The notebook dict (v1-v3 converted to v4.4) and its style; ToolError if it is not one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ToolError(f"{name} is not valid notebook JSON: {exc}") from None
    bom = text.startswith("\ufeff")
    body = text[1:] if bom else text
    try:
        nb, layout = nbjson.parse(body)
    except json.JSONDecodeError as exc:
        raise ToolError(f"{name} is not valid notebook JSON: {exc}") from None
    if not isinstance(nb, dict):
        raise ToolError(f"{name} is not a notebook: its JSON is not an object")
    style = _style(body, nb, bom, layout)
    if nb.get("nbformat") in (1, 2, 3):
        return _from_v3(body, name), JsonStyle(style.indent, style.sort_keys, style.ensure_ascii,
                                             style.final_newline, style.newline, bom, None,
                                             nb["nbformat"])
    if nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        raise ToolError(f"{name} is not an nbformat v4 notebook (nbformat {nb.get('nbformat')!r}); "
                        "open and save it in Jupyter to upgrade it")
    bad = next((i for i, c in enumerate(nb["cells"]) if not isinstance(c, dict)), None)
    if bad is not None:
        raise ToolError(f"{name} is not a readable notebook: cell {bad} is not a JSON object")
    return nb, style


def _from_v3(text: str, name: str) -> dict[str, Any]:
    import nbformat

    try:
        v4 = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 (nbformat raises many kinds on malformed v3 input)
        raise ToolError(f"{name} is an old (nbformat < 4) notebook that cannot be converted: "
                        f"{exc}") from None
    # v4.4 without ids: the conversion's random ids would make every load of the file differ.
    v4["nbformat_minor"] = 4
    for cell in v4["cells"]:
        cell.pop("id", None)
    return json.loads(json.dumps(v4))


def _style(text: str, nb: dict[str, Any], bom: bool, layout: nbjson.Layout | None) -> JsonStyle:
    indent: int | None = None
    lines = text.split("\n", 2)
    if len(lines) > 1:
        indent = len(lines[1]) - len(lines[1].lstrip(" ")) or None
    keys = list(nb)
    cells = nb.get("cells") if isinstance(nb.get("cells"), list) else []
    cell_keys = list(cells[0]) if cells and isinstance(cells[0], dict) else []
    sort = keys == sorted(keys) and cell_keys == sorted(cell_keys)
    ascii_only = text.isascii() and "\\u" in text
    newline = "\r\n" if "\r\n" in text[:4096] else "\n"
    return JsonStyle(indent, sort, ascii_only, text.endswith("\n"), newline, bom, layout)


def dump(nb: dict[str, Any], style: JsonStyle) -> bytes:
    """The notebook serialized in ``style``: unchanged cells and everything around them keep
    their original bytes when the style carries the original layout."""
    text = None
    if style.layout is not None:
        text = nbjson.splice(nb, style.layout, lambda cell: _dumps(cell, style))
    if text is None:
        text = _dumps(nb, style) + ("\n" if style.final_newline else "")
        if style.newline != "\n":
            text = text.replace("\n", style.newline)
    return (("\ufeff" if style.bom else "") + text).encode("utf-8")


def _dumps(value: Any, style: JsonStyle) -> str:
    return json.dumps(value, indent=style.indent, sort_keys=style.sort_keys,
                      ensure_ascii=style.ensure_ascii)


def conversion_note(style: JsonStyle) -> str:
    """What writing a notebook read in an old format does to the file ('' for v4 files)."""
    if style.converted_from is None:
        return ""
    return (f"; note: the file was nbformat v{style.converted_from} and is written as v4.4 "
            "(as Jupyter does when it saves it), so the whole file is rewritten")


def find_cell(nb: dict[str, Any], cell: str | int | None) -> int:
    """Index of the cell named by id, ``@<index>`` or a plain index; ToolError if none or ambiguous.

    An id wins over an index, but a string of digits that is both the id of one cell and the
    index of another is refused: the model must say ``@<index>`` or pick the id's cell.
    """
    cells = nb["cells"]
    if cell is None:
        raise ToolError("name the cell by its id, or by its index as '@3'")
    last = len(cells) - 1
    if isinstance(cell, int) or (isinstance(cell, str) and cell.startswith("@") and cell[1:].isdigit()):
        idx = int(cell[1:]) if isinstance(cell, str) else cell
        if not 0 <= idx <= last:
            raise ToolError(f"cell index {idx} is out of range (0-{last})")
        return idx
    matches = [i for i, c in enumerate(cells) if c.get("id") == cell]
    if len(matches) > 1:
        where = " and ".join(f"@{i}" for i in matches[:5])
        raise ToolError(f"cell id {cell!r} is used by more than one cell ({where}); "
                        "name the cell by its index, e.g. '" + f"@{matches[0]}'")
    if cell.lstrip("-").isdigit():
        idx = int(cell)
        if matches and matches[0] != idx and 0 <= idx <= last:
            raise ToolError(f"{cell!r} is the id of cell @{matches[0]} and also the index of "
                            f"another cell; say '@{idx}' for the index, or use the id of the cell "
                            "you mean as shown by view")
        if matches:
            return matches[0]
        if not 0 <= idx <= last:
            raise ToolError(f"cell index {idx} is out of range (0-{last})")
        return idx
    if matches:
        return matches[0]
    ids = ", ".join(cell_key(c, i) for i, c in list(enumerate(cells))[:20])
    more = f" (and {len(cells) - 20} more)" if len(cells) > 20 else ""
    raise ToolError(f"no cell with id {cell!r}; cells are: {ids}{more}")


def edit(nb: dict[str, Any], action: str, *, cell: str | int | None = None,
         index: int | None = None, source: str | None = None, cell_type: str | None = None,
         to_index: int | None = None) -> tuple[dict[str, Any], str]:
    """A copy of ``nb`` with one cell edit applied, and a short note; ToolError on bad input."""
    if action not in ACTIONS:
        raise ToolError(f"unknown notebook action {action!r}; use one of {', '.join(ACTIONS)}")
    if cell_type is not None and cell_type not in CELL_TYPES:
        raise ToolError(f"cell_type must be one of {', '.join(CELL_TYPES)}")
    # Only the list is copied: cells that the edit does not touch stay shared with ``nb``.
    new = dict(nb)
    cells = new["cells"] = list(nb["cells"])
    changed: list[dict[str, Any]] = []
    if action == "insert":
        pos = len(cells) if index is None else index
        if not 0 <= pos <= len(cells):
            raise ToolError(f"index must be between 0 and {len(cells)}")
        fresh = _new_cell(nb, cell_type or "code", source or "")
        cells.insert(pos, fresh)
        changed.append(fresh)
        note = f"inserted {fresh['cell_type']} cell at index {pos}"
        if "id" in fresh:
            note += f" (id {fresh['id']})"
    else:
        i = find_cell(nb, cell)
        key = cell_key(cells[i], i)
        if action == "delete":
            del cells[i]
            note = f"deleted cell {i} (id {key})"
        elif action == "move":
            if to_index is None or not 0 <= to_index < len(cells):
                raise ToolError(f"to_index must be between 0 and {len(cells) - 1}")
            cells.insert(to_index, cells.pop(i))
            note = f"moved cell {key} from index {i} to {to_index}"
        else:
            if action == "replace" and source is None:
                raise ToolError("replace needs the new source")
            if action == "set_type" and cell_type is None:
                raise ToolError("set_type needs cell_type")
            target = cells[i] = copy.deepcopy(cells[i])
            if cell_type and cell_type != target.get("cell_type"):
                _set_type(target, cell_type)
            if action == "replace":
                _set_source(target, source or "")
                note = f"replaced source of cell {i} (id {key})"
            else:
                note = f"cell {i} (id {key}) is now {cell_type}"
            changed.append(target)
    check_edit(nb, new, changed)
    return new, note


def check_edit(before: dict[str, Any], after: dict[str, Any], changed: list[dict[str, Any]]) -> None:
    """ToolError if ``after`` has a kind of schema problem that ``before`` did not have.

    Only the changed cells are validated (with the notebook's metadata): unchanged cells keep
    whatever state they had, and a 100 MB notebook is not re-validated for a one-line edit.
    """
    probe = {k: v for k, v in after.items() if k != "cells"}
    probe["cells"] = changed
    found = problems(probe)
    if not found:
        return
    # The changed cells' originals usually had the same problems (4.4 cells with ids); the whole
    # notebook, which can take seconds to validate, is checked only when they did not.
    ids = {x.get("id") for x in changed} - {None}
    originals = [c for c in before["cells"] if c.get("id") in ids]
    worse = [p for p in found if p not in problems({**probe, "cells": originals})]
    if worse:
        known = problems(before)
        worse = [p for p in worse if p not in known]
    if worse:
        raise ToolError(f"the edit would make an invalid notebook: {worse[0]}")


def problems(nb: dict[str, Any]) -> Counter[str]:
    """The kinds of nbformat schema problems in ``nb`` (empty when it is valid)."""
    import nbformat  # seconds to import (jsonschema); only notebook edits need it
    from nbformat.validator import iter_validate

    try:
        errors = list(iter_validate(nb))
    except nbformat.ValidationError as exc:  # e.g. an unknown nbformat version
        return Counter([exc.message])
    return Counter(e.message for e in errors)


def validate(nb: dict[str, Any]) -> None:
    """Raise ToolError unless ``nb`` passes the nbformat schema."""
    found = problems(nb)
    if found:
        raise ToolError(f"the edit would make an invalid notebook: {next(iter(found))}")


def _set_source(cell: dict[str, Any], text: str) -> None:
    if text == source_text(cell):
        return
    cell["source"] = text.splitlines(keepends=True) if isinstance(cell.get("source"), list) else text
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
        while new_id in taken or new_id.isdigit():
            new_id = uuid.uuid4().hex[:8]
        cell["id"] = new_id
    cell["metadata"] = {}
    cell["source"] = source.splitlines(keepends=True) if as_list else source
    if cell_type == "code":
        cell["execution_count"] = None
        cell["outputs"] = []
    return cell


# ---- per-cell diffs ------------------------------------------------------------------------

def _unique_ids(cells: list[Any]) -> bool:
    ids = [c.get("id") for c in cells]
    return all(isinstance(i, str) and i for i in ids) and len(set(ids)) == len(ids)


def pair_keys(before: list[Any], after: list[Any]) -> tuple[list[str], list[str]]:
    """Keys naming the same cell alike in two versions of a notebook's cells.

    Cell ids when every cell has a unique one (nbformat 4.5+). Otherwise cells are paired by
    content, in three passes: aligned runs of identical cells; then a cell found identical
    elsewhere was moved; then what is left of an aligned block of changes was modified. Other
    cells are new (``new<index>``) or deleted. Moves are found before modifications so that
    notebooks repeating a cell (empty cells, ``plt.show()``) do not show moves as edits.
    """
    if _unique_ids(before) and _unique_ids(after):
        return [c["id"] for c in before], [c["id"] for c in after]
    bkeys = [f"@{i}" for i in range(len(before))]
    akeys = [f"new{j}" for j in range(len(after))]
    bsig = [json.dumps(c, sort_keys=True) for c in before]
    asig = [json.dumps(c, sort_keys=True) for c in after]
    matcher = difflib.SequenceMatcher(None, bsig, asig, autojunk=False)
    opcodes = matcher.get_opcodes()
    taken: set[int] = set()
    for op, i1, i2, j1, j2 in opcodes:
        if op == "equal":
            for k in range(i2 - i1):
                akeys[j1 + k] = bkeys[i1 + k]
                taken.add(i1 + k)
    free: dict[str, list[int]] = {}
    for i, sig in enumerate(bsig):
        if i not in taken:
            free.setdefault(sig, []).append(i)
    for j, sig in enumerate(asig):
        if akeys[j].startswith("new") and free.get(sig):
            i = min(free[sig], key=lambda i: abs(i - j))
            free[sig].remove(i)
            akeys[j] = bkeys[i]
            taken.add(i)
    for op, i1, i2, j1, j2 in opcodes:
        if op != "replace":
            continue
        left = [i for i in range(i1, i2) if i not in taken]
        right = [j for j in range(j1, j2) if akeys[j].startswith("new")]
        for i, j in zip(left, right):
            if before[i].get("cell_type") == after[j].get("cell_type") or len(left) == len(right):
                akeys[j] = bkeys[i]
                taken.add(i)
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
            hunks.append(Hunk(f"{path}#cell-{key}", f"{name(i, key)} added "
                              f"({cell.get('cell_type')})", _cell_text("+", cell), kind="cell"))
        elif cell != bmap[key]:
            hunks.append(Hunk(f"{path}#cell-{key}", f"{name(i, key)} modified",
                              _cell_change_text(bmap[key], cell), kind="cell"))
    for i, key in enumerate(bkeys):
        if key not in amap:
            hunks.append(Hunk(f"{path}#cell-{key}", f"{name(i, key)} deleted",
                              _cell_text("-", bmap[key]), kind="cell"))
    common_b = [k for k in bkeys if k in amap]
    common_a = [k for k in akeys if k in bmap]
    if common_b != common_a:
        body = _bounded(f"-order: {' '.join(common_b)}\n+order: {' '.join(common_a)}\n")
        hunks.append(Hunk(f"{path}#order", "cells moved", body, kind="order"))
    return _within_budget(hunks)


def _within_budget(hunks: list[Hunk]) -> list[Hunk]:
    """Hunks past MAX_NOTEBOOK_DIFF_CHARS in all keep their id and header, and say their text
    was left out: an edit of hundreds of cells must not flood a prompt."""
    out, size = [], 0
    for hunk in hunks:
        size += len(hunk.text)
        if size > MAX_NOTEBOOK_DIFF_CHARS and out:
            lines = hunk.text.count("\n")
            hunk = replace(hunk, text=f"[{lines} lines of this cell's diff not shown: the notebook's "
                                      f"diff is over {MAX_NOTEBOOK_DIFF_CHARS:,} characters; view "
                                      "the cell to read it]\n")
        out.append(hunk)
    return out


def file_hunks(path: str, nb: dict[str, Any], status: str) -> list[Hunk]:
    """One hunk for a created (``added``) or ``deleted`` notebook: its cells, bounded in size.

    Per cell like an edit's diff (outputs summarized, never base64), so a 4 MB notebook costs
    a prompt a few thousand characters, and the text says what it left out.
    """
    sign = "+" if status == "added" else "-"
    cells = nb["cells"]
    parts: list[str] = []
    size = 0
    shown = 0
    for i, cell in enumerate(cells):
        part = f"{sign}# [{i}] {cell.get('cell_type')} id={cell_key(cell, i)}\n" + _cell_text(sign, cell)
        if size + len(part) > MAX_FILE_DIFF_CHARS and shown:
            break
        parts.append(part if len(part) <= MAX_FILE_DIFF_CHARS else _bounded(part, MAX_FILE_DIFF_CHARS))
        size += len(part)
        shown += 1
    if shown < len(cells):
        parts.append(f"[cells {shown}-{len(cells) - 1} of {len(cells)} not shown; "
                     "view the notebook with start_cell to read them]\n")
    header = f"notebook {status} ({len(cells)} cells)"
    return [Hunk(f"{path}#1", header, "".join(parts), kind="file")]


def _cell_text(sign: str, cell: dict[str, Any]) -> str:
    body = "".join(sign + ln for ln in _src_lines(cell)) or "(empty cell)\n"
    outputs = cell.get("outputs") or []
    if outputs:
        kinds = "; ".join(summarize_output(o).split("\n", 1)[0][:80] for o in outputs[:3])
        more = f" and {len(outputs) - 3} more" if len(outputs) > 3 else ""
        body += f"{sign}# outputs ({len(outputs)}): {kinds}{more}\n"
    return _bounded(body)


def _bounded(text: str, limit: int = MAX_HUNK_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit) + 1 or limit
    rest = text[cut:]
    return text[:cut] + (f"[{rest.count(chr(10))} more lines ({len(rest):,} characters) of this "
                         "cell's diff not shown; view the cell to read it]\n")


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
    if source_text(old) == source_text(new) and old.get("cell_type") == new.get("cell_type"):
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        out.append(f"# changed: {', '.join(changed)}\n")
    return _bounded("".join(out))


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
            cells.append(amap[key])
        else:
            cells.append(bmap[key])
    result = dict(before)
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
