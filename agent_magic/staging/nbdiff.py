"""Per-cell diffs of notebooks: pairing cells across versions, hunks, applying a selection.

Every hunk's text is bounded (a cell, a notebook, a created or deleted notebook) and says what
it left out; applying never reads hunk text, so a selection still writes whole cells.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import replace
from typing import Any

from agent_magic.staging.diff import Hunk
from agent_magic.staging.nbview import cell_key, source_text, summarize_output

MAX_HUNK_CHARS = 12_000  # one cell's diff shown in a prompt or widget
MAX_FILE_DIFF_CHARS = 30_000  # a created or deleted notebook's diff
MAX_NOTEBOOK_DIFF_CHARS = 60_000  # all the cell hunks of one edited notebook


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
    for op, i1, i2, j1, _j2 in opcodes:
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
        for i, j in zip(left, right, strict=False):
            if before[i].get("cell_type") == after[j].get("cell_type") or len(left) == len(right):
                akeys[j] = bkeys[i]
                taken.add(i)
    return bkeys, akeys


def cell_hunks(path: str, before: dict[str, Any], after: dict[str, Any]) -> list[Hunk]:
    """Per-cell changes (added, deleted, modified) and one hunk for a change of cell order."""
    bkeys, akeys = pair_keys(before["cells"], after["cells"])
    bmap = dict(zip(bkeys, before["cells"], strict=True))
    amap = dict(zip(akeys, after["cells"], strict=True))
    hunks: list[Hunk] = []

    def name(i: int, key: str) -> str:
        return f"cell {i}" if key.startswith(("@", "new")) else f"cell {i} (id {key})"

    for i, key in enumerate(akeys):
        cell = amap[key]
        if key not in bmap:
            hunks.append(
                Hunk(
                    f"{path}#cell-{key}",
                    f"{name(i, key)} added ({cell.get('cell_type')})",
                    _cell_text("+", cell),
                    kind="cell",
                )
            )
        elif cell != bmap[key]:
            hunks.append(
                Hunk(
                    f"{path}#cell-{key}",
                    f"{name(i, key)} modified",
                    _cell_change_text(bmap[key], cell),
                    kind="cell",
                )
            )
    for i, key in enumerate(bkeys):
        if key not in amap:
            hunks.append(
                Hunk(
                    f"{path}#cell-{key}",
                    f"{name(i, key)} deleted",
                    _cell_text("-", bmap[key]),
                    kind="cell",
                )
            )
    common_b = [k for k in bkeys if k in amap]
    common_a = [k for k in akeys if k in bmap]
    if common_b != common_a:
        body = _bounded(f"-order: {' '.join(common_b)}\n+order: {' '.join(common_a)}\n")
        hunks.append(Hunk(f"{path}#order", "cells moved", body, kind="order"))
    return _within_budget(hunks)


def _within_budget(hunks: list[Hunk]) -> list[Hunk]:
    """Hunks past MAX_NOTEBOOK_DIFF_CHARS in all keep their id and header, and say their text
    was left out: an edit of hundreds of cells must not flood a prompt."""
    out: list[Hunk] = []
    size = 0
    for hunk in hunks:
        size += len(hunk.text)
        if size > MAX_NOTEBOOK_DIFF_CHARS and out:
            lines = hunk.text.count("\n")
            hunk = replace(
                hunk,
                text=f"[{lines} lines of this cell's diff not shown: the notebook's "
                f"diff is over {MAX_NOTEBOOK_DIFF_CHARS:,} characters; view "
                "the cell to read it]\n",
            )
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
        part = f"{sign}# [{i}] {cell.get('cell_type')} id={cell_key(cell, i)}\n" + _cell_text(
            sign, cell
        )
        if size + len(part) > MAX_FILE_DIFF_CHARS and shown:
            break
        parts.append(
            part if len(part) <= MAX_FILE_DIFF_CHARS else _bounded(part, MAX_FILE_DIFF_CHARS)
        )
        size += len(part)
        shown += 1
    if shown < len(cells):
        parts.append(
            f"[cells {shown}-{len(cells) - 1} of {len(cells)} not shown; "
            "view the notebook with start_cell to read them]\n"
        )
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
    return text[:cut] + (
        f"[{rest.count(chr(10))} more lines ({len(rest):,} characters) of this "
        "cell's diff not shown; view the cell to read it]\n"
    )


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


def apply_cell_hunks(
    before: dict[str, Any], after: dict[str, Any], hunks: list[Hunk], selected: set[str]
) -> dict[str, Any]:
    """``before`` with the selected cell changes (and cell order, if selected) from ``after``."""
    path_ids = {h.id.rsplit("#", 1)[1]: h.id in selected for h in hunks}
    bkeys, akeys = pair_keys(before["cells"], after["cells"])
    bmap = dict(zip(bkeys, before["cells"], strict=True))
    amap = dict(zip(akeys, after["cells"], strict=True))

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
