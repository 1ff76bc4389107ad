"""Reading order exports."""

from __future__ import annotations

import csv
from pathlib import Path

from shoplytics.cleaning import normalize_columns


def load_orders(path: str | Path) -> list[dict[str, str]]:
    """Read an orders CSV into a list of rows with normalized column names."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [normalize_columns(row) for row in rows]
