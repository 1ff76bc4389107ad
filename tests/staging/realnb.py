"""Notebooks shaped like the ones found in the wild, built in tests (no downloaded data)."""

from __future__ import annotations

import base64
import json
import random
import re
from typing import Any


def png_b64(nbytes: int, seed: int = 0) -> str:
    """Base64 text of ``nbytes`` random bytes with a PNG signature (an 'image' output)."""
    rnd = random.Random(seed)
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + rnd.randbytes(nbytes)).decode()


def rich_notebook(
    n_cells: int = 6,
    *,
    ids: bool = True,
    minor: int = 5,
    image_bytes: int = 3000,
    widgets: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Markdown, code with stream/image/html outputs, raw cells, widget state, tags."""
    cells: list[dict[str, Any]] = []
    for i in range(n_cells):
        kind = ("markdown", "code", "code", "raw")[i % 4]
        cell: dict[str, Any] = {"cell_type": kind, "metadata": {}}
        if ids:
            cell["id"] = f"cell-{i:03d}"
        if kind == "markdown":
            cell["source"] = [f"## Section {i}\n", "\n", f"Explains step {i} in words (ünïcode).\n"]
        elif kind == "raw":
            cell["source"] = f"raw text {i}"
        else:
            cell["metadata"] = {"tags": ["remove-cell"]} if i % 3 == 0 else {}
            cell["source"] = ["import math\n", f"x{i} = math.sqrt({i})\n", f"plot(x{i})"]
            cell["execution_count"] = i
            cell["outputs"] = [
                {"output_type": "stream", "name": "stdout", "text": [f"{i}\n"] * 12},
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {
                        "image/png": png_b64(image_bytes, seed + i),
                        "text/plain": ["<Figure>"],
                    },
                },
                {
                    "output_type": "execute_result",
                    "execution_count": i,
                    "metadata": {},
                    "data": {
                        "text/html": ["<table><tr><td>1</td></tr></table>"],
                        "text/plain": ["   a\n", "0  1"],
                    },
                },
            ]
        cells.append(cell)
    meta: dict[str, Any] = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "version": "3.11.4"},
    }
    if widgets:
        meta["widgets"] = {
            "application/vnd.jupyter.widget-state+json": {
                "state": {
                    "abc123": {
                        "model_name": "IntSliderModel",
                        "model_module": "@jupyter-widgets/controls",
                        "model_module_version": "2.0.0",
                        "state": {"value": 3},
                    }
                },
                "version_major": 2,
                "version_minor": 0,
            }
        }
    return {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": minor}


def serialize(
    nb: dict[str, Any],
    *,
    indent: int = 1,
    crlf: bool = False,
    bom: bool = False,
    hand: bool = False,
    sort_keys: bool = True,
    ensure_ascii: bool = False,
) -> bytes:
    """``nb`` as a file: nbformat's style by default, or with a writer's quirks."""
    text = json.dumps(nb, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii) + "\n"
    if hand:
        # How people (and some tools) write short lists: on one line.
        text = re.sub(r'"tags": \[\s+"remove-cell"\s+\]', '"tags": ["remove-cell"]', text)
    if crlf:
        text = text.replace("\n", "\r\n")
    return (("\ufeff" if bom else "") + text).encode("utf-8")


def v3_notebook() -> bytes:
    """An nbformat v3 notebook (worksheets, heading cells, prompt_number)."""
    nb = {
        "metadata": {"name": "old"},
        "nbformat": 3,
        "nbformat_minor": 0,
        "worksheets": [
            {
                "metadata": {},
                "cells": [
                    {
                        "cell_type": "heading",
                        "level": 1,
                        "metadata": {},
                        "source": ["Old analysis"],
                    },
                    {
                        "cell_type": "code",
                        "collapsed": False,
                        "input": ["total = 40 + 2\n", "print(total)"],
                        "language": "python",
                        "metadata": {},
                        "prompt_number": 1,
                        "outputs": [
                            {"output_type": "stream", "stream": "stdout", "text": ["42\n"]}
                        ],
                    },
                    {
                        "cell_type": "markdown",
                        "metadata": {},
                        "source": ["The answer is computed above."],
                    },
                ],
            }
        ],
    }
    return (json.dumps(nb, indent=1, sort_keys=True) + "\n").encode()
