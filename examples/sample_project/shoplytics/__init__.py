"""Load and clean the shop's order exports."""

from shoplytics.cleaning import normalize_columns, parse_price
from shoplytics.data import load_orders

__all__ = ["load_orders", "normalize_columns", "parse_price"]
