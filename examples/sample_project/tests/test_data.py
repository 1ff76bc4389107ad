from pathlib import Path

from shoplytics.data import load_orders

DATA = Path(__file__).resolve().parents[1] / "data" / "orders.csv"


def test_load_orders_normalizes_columns():
    rows = load_orders(DATA)
    assert rows[0]["order_id"] == "1001"
    assert "unit_price" in rows[0]
