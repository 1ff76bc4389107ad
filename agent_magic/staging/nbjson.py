"""Byte-preserving notebook JSON: parse a notebook while remembering where each cell's text is,
and write an edited notebook by splicing fresh JSON for the changed cells only.

Hand-formatted metadata, CRLF line endings, a UTF-8 BOM and any other quirk of the original file
survive an edit everywhere except in the cells the edit changed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class LayoutError(ValueError):
    """The text is not a JSON object this scanner can lay out (the caller falls back to json)."""


@dataclass(frozen=True, eq=False)
class Layout:
    """The original text of a notebook split around its cells.

    ``head`` runs from the start (BOM excluded) to the first cell, ``tail`` from the end of the
    last cell; ``seps[i]`` is the text between cell ``i`` and cell ``i + 1``.
    """

    text: str
    head: str
    cells: tuple[str, ...]
    seps: tuple[str, ...]
    tail: str
    indent: str  # whitespace before a cell on its line, used to indent fresh cells
    newline: str
    top: dict[str, Any]  # the notebook's keys other than "cells", as parsed
    parsed: tuple[dict[str, Any], ...] = field(default=())

    @property
    def sep(self) -> str:
        """The usual separator between cells (for cells that were not neighbours before)."""
        if self.seps:
            return Counter(self.seps).most_common(1)[0][0]
        return "," + self.newline + self.indent if self.newline in self.head else ", "


def parse(text: str) -> tuple[dict[str, Any], Layout | None]:
    """The notebook dict of ``text`` (BOM already removed) and its layout when it has one."""
    try:
        return _scan(text)
    except (LayoutError, ValueError, IndexError):
        return json.loads(text), None


def _skip(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]


def _scan(text: str) -> tuple[dict[str, Any], Layout | None]:
    pos = _skip(text, 0)
    if text[pos : pos + 1] != "{":
        raise LayoutError("not an object")
    pos = _skip(text, pos + 1)
    nb: dict[str, Any] = {}
    spans: list[tuple[int, int]] = []
    cells: list[dict[str, Any]] = []
    cells_at: tuple[int, int] | None = None  # where the array's content starts and ends
    while text[pos] != "}":
        if text[pos] != '"':
            raise LayoutError("expected a key")
        key, pos = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
        pos = _skip(text, pos)
        if text[pos] != ":":
            raise LayoutError("expected ':'")
        pos = _skip(text, pos + 1)
        if key == "cells" and text[pos] == "[" and cells_at is None:
            start = pos + 1
            pos = _skip(text, start)
            while text[pos] != "]":
                cell, end = _DECODER.raw_decode(text, pos)
                spans.append((pos, end))
                cells.append(cell)
                pos = _skip(text, end)
                if text[pos] == ",":
                    pos = _skip(text, pos + 1)
                elif text[pos] != "]":
                    raise LayoutError("expected ',' or ']'")
            cells_at = (start, pos)
            nb[key] = cells
            pos += 1
        else:
            nb[key], pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
        elif text[pos] != "}":
            raise LayoutError("expected ',' or '}'")
    if text[pos + 1 :].strip(" \t\n\r"):
        raise ValueError("extra data after the notebook")
    if cells_at is None or not spans or not all(isinstance(c, dict) for c in cells):
        return nb, None
    first = spans[0][0]
    line_start = text.rfind("\n", 0, first) + 1
    indent = text[line_start:first] if not text[line_start:first].strip() else ""
    newline = "\r\n" if "\r\n" in text[:first] or "\r\n" in text[spans[-1][1] :] else "\n"
    layout = Layout(
        text=text,
        head=text[:first],
        tail=text[spans[-1][1] :],
        cells=tuple(text[a:b] for a, b in spans),
        seps=tuple(text[spans[i][1] : spans[i + 1][0]] for i in range(len(spans) - 1)),
        indent=indent,
        newline=newline,
        top={k: v for k, v in nb.items() if k != "cells"},
        parsed=tuple(cells),
    )
    return nb, layout


def splice(nb: dict[str, Any], layout: Layout, fresh: Any) -> str | None:
    """``nb`` written over ``layout``: unchanged cells keep their text; None if that cannot work.

    ``fresh(cell)`` serializes a changed cell (unindented, LF line breaks). None is returned when
    anything outside the cells changed, or the new notebook has no cells.
    """
    if {k: v for k, v in nb.items() if k != "cells"} != layout.top:
        return None
    new_cells = nb.get("cells")
    if not isinstance(new_cells, list) or not new_cells:
        return None
    by_source: dict[tuple[Any, str], list[int]] = {}
    for i, cell in enumerate(layout.parsed):
        by_source.setdefault(_signature(cell), []).append(i)
    used: set[int] = set()
    pieces: list[str] = []
    origins: list[int | None] = []
    for j, cell in enumerate(new_cells):
        # The nearest unused original that is equal keeps its bytes.
        candidates = sorted(by_source.get(_signature(cell), ()), key=lambda i: abs(i - j))
        origin = next((i for i in candidates if i not in used and layout.parsed[i] == cell), None)
        if origin is None:
            text = fresh(cell).replace("\n", layout.newline + layout.indent)
        else:
            used.add(origin)
            text = layout.cells[origin]
        pieces.append(text)
        origins.append(origin)
    out = [layout.head, pieces[0]]
    for j in range(1, len(pieces)):
        a, b = origins[j - 1], origins[j]
        out.append(layout.seps[a] if a is not None and b == a + 1 else layout.sep)
        out.append(pieces[j])
    out.append(layout.tail)
    return "".join(out)


def _signature(cell: Any) -> tuple[Any, str]:
    if not isinstance(cell, dict):
        return (None, repr(cell))
    src = cell.get("source", "")
    return (
        str(cell.get("cell_type")),
        "".join(map(str, src)) if isinstance(src, list) else str(src),
    )
