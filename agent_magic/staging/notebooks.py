"""Pure notebook work: load/dump keeping the file's bytes, and cell edits (diffs: ``nbdiff``).

Notebooks are handled as JSON dicts (the nbformat v4 schema). Loading remembers the file's text
and where each cell is (``nbjson``), so writing an edited notebook changes only the edited
cells' bytes. Every edit is validated, but a notebook that was already invalid (nbformat 4.4
cells with ids are common) only refuses edits that add a new kind of problem.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from agent_magic.errors import ToolError
from agent_magic.staging import nbjson

# The diff functions and the view live in their own modules; callers use them through here.
from agent_magic.staging.nbdiff import (  # noqa: F401
    MAX_FILE_DIFF_CHARS,
    MAX_HUNK_CHARS,
    MAX_NOTEBOOK_DIFF_CHARS,
    apply_cell_hunks,
    cell_hunks,
    file_hunks,
    pair_keys,
)
from agent_magic.staging.nbview import cell_key, source_text, view  # noqa: F401

ACTIONS = ("replace", "insert", "delete", "move", "set_type")
CELL_TYPES = ("code", "markdown", "raw")


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
        return _from_v3(body, name), JsonStyle(
            style.indent,
            style.sort_keys,
            style.ensure_ascii,
            style.final_newline,
            style.newline,
            bom,
            None,
            nb["nbformat"],
        )
    if nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        raise ToolError(
            f"{name} is not an nbformat v4 notebook (nbformat {nb.get('nbformat')!r}); "
            "open and save it in Jupyter to upgrade it"
        )
    bad = next((i for i, c in enumerate(nb["cells"]) if not isinstance(c, dict)), None)
    if bad is not None:
        raise ToolError(f"{name} is not a readable notebook: cell {bad} is not a JSON object")
    return nb, style


def _from_v3(text: str, name: str) -> dict[str, Any]:
    import nbformat

    try:
        v4 = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 (nbformat raises many kinds on malformed v3 input)
        raise ToolError(
            f"{name} is an old (nbformat < 4) notebook that cannot be converted: {exc}"
        ) from None
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
    return json.dumps(
        value, indent=style.indent, sort_keys=style.sort_keys, ensure_ascii=style.ensure_ascii
    )


def conversion_note(style: JsonStyle) -> str:
    """What writing a notebook read in an old format does to the file ('' for v4 files)."""
    if style.converted_from is None:
        return ""
    return (
        f"; note: the file was nbformat v{style.converted_from} and is written as v4.4 "
        "(as Jupyter does when it saves it), so the whole file is rewritten"
    )


def find_cell(nb: dict[str, Any], cell: str | int | None) -> int:
    """Index of the cell named by id, ``@<index>`` or a plain index; ToolError if none or ambiguous.

    An id wins over an index, but a string of digits that is both the id of one cell and the
    index of another is refused: the model must say ``@<index>`` or pick the id's cell.
    """
    cells = nb["cells"]
    if cell is None:
        raise ToolError("name the cell by its id, or by its index as '@3'")
    last = len(cells) - 1
    if isinstance(cell, int) or (
        isinstance(cell, str) and cell.startswith("@") and cell[1:].isdigit()
    ):
        idx = int(cell[1:]) if isinstance(cell, str) else cell
        if not 0 <= idx <= last:
            raise ToolError(f"cell index {idx} is out of range (0-{last})")
        return idx
    matches = [i for i, c in enumerate(cells) if c.get("id") == cell]
    if len(matches) > 1:
        where = " and ".join(f"@{i}" for i in matches[:5])
        raise ToolError(
            f"cell id {cell!r} is used by more than one cell ({where}); "
            "name the cell by its index, e.g. '" + f"@{matches[0]}'"
        )
    if cell.lstrip("-").isdigit():
        idx = int(cell)
        if matches and matches[0] != idx and 0 <= idx <= last:
            raise ToolError(
                f"{cell!r} is the id of cell @{matches[0]} and also the index of "
                f"another cell; say '@{idx}' for the index, or use the id of the cell "
                "you mean as shown by view"
            )
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


def edit(
    nb: dict[str, Any],
    action: str,
    *,
    cell: str | int | None = None,
    index: int | None = None,
    source: str | None = None,
    cell_type: str | None = None,
    to_index: int | None = None,
) -> tuple[dict[str, Any], str]:
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


def check_edit(
    before: dict[str, Any], after: dict[str, Any], changed: list[dict[str, Any]]
) -> None:
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
    cell["source"] = (
        text.splitlines(keepends=True) if isinstance(cell.get("source"), list) else text
    )
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
