"""Cleaning functions for raw order rows."""

from __future__ import annotations


def normalize_columns(row: dict[str, str]) -> dict[str, str]:
    """Lower-case column names and replace spaces with underscores."""
    return {key.strip().lower().replace(" ", "_"): value for key, value in row.items()}


def parse_price(text: str) -> float:
    """Turn a price such as "$1,234.50" or "19.99" into a float."""
    return float(text.strip().lstrip("$"))
