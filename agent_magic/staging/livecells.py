"""Cell operations that carry a staged notebook change onto the open document (pure functions).

The change goes from ``base`` (what the agent staged against) to ``target`` (with just the chosen
hunks). The open document, ``live``, may hold unsaved edits of the user's: a cell the change
touches must still be as in ``base`` there, or it is a conflict; every other cell is left alone,
with its outputs. Undo is the same function with ``base`` and ``target`` swapped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CellPlan:
    """The operations for the frontend, and the cells the user changed meanwhile."""

    ops: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    moved: bool = False  # the change reorders cells, which no operation here carries


def source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (nbformat allows a list of lines)."""
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else str(text)


def _by_id(nb: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    cells = nb.get("cells", [])
    if not all(c.get("id") for c in cells):
        return None
    return {c["id"]: c for c in cells}


def cell_ops(base: dict[str, Any], target: dict[str, Any], live: dict[str, Any]) -> CellPlan:
    """The operations that take ``live`` from ``base`` to ``target``, cell by cell, by cell id."""
    old, new, now = _by_id(base), _by_id(target), _by_id(live)
    if old is None or new is None or now is None:
        # without ids no cell can be told apart from a moved or retyped one
        return CellPlan(conflicts=["(cells without ids)"])
    plan = CellPlan()
    kept = [c for c in old if c in new]
    plan.moved = kept != [c for c in new if c in old]
    for cell_id, cell in new.items():
        before = old.get(cell_id)
        if before is None or (
            source(before) == source(cell) and before.get("cell_type") == cell.get("cell_type")
        ):
            continue
        current = now.get(cell_id)
        if current is None:
            plan.conflicts.append(cell_id)  # the user deleted it meanwhile
        elif source(current) == source(cell) and current.get("cell_type") == cell.get("cell_type"):
            continue  # already so
        elif source(current) != source(before) or current.get("cell_type") != before.get(
            "cell_type"
        ):
            plan.conflicts.append(cell_id)
        else:
            plan.ops.append(
                {
                    "op": "set_source",
                    "id": cell_id,
                    "expect": source(before),
                    "source": source(cell),
                    "cell_type": cell.get("cell_type", "code"),
                }
            )
    for cell_id, cell in old.items():
        if cell_id in new:
            continue
        current = now.get(cell_id)
        if current is None:
            continue  # gone already
        if source(current) != source(cell):
            plan.conflicts.append(cell_id)
        else:
            plan.ops.append({"op": "delete", "id": cell_id, "expect": source(cell)})
    anchor = None  # the target cell before the next one, if the open document has it
    for cell in target.get("cells", []):
        cell_id = cell["id"]
        if cell_id not in old and cell_id not in now:
            plan.ops.append({"op": "insert", "after": anchor, "cell": _fresh(cell)})
        if cell_id in now or cell_id not in old:
            anchor = cell_id
    return plan


def _fresh(cell: dict[str, Any]) -> dict[str, Any]:
    out = {
        "id": cell["id"],
        "cell_type": cell.get("cell_type", "code"),
        "source": source(cell),
        "metadata": cell.get("metadata", {}),
    }
    if out["cell_type"] == "code":
        out["outputs"], out["execution_count"] = [], None
    return out
