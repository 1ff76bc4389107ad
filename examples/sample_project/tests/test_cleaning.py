from shoplytics.cleaning import normalize_columns, parse_price


def test_normalize_columns():
    assert normalize_columns({" Order ID": "1", "Unit Price": "2"}) == {
        "order_id": "1",
        "unit_price": "2",
    }


def test_parse_price_plain():
    assert parse_price("19.99") == 19.99


def test_parse_price_thousands_separator():
    assert parse_price("$1,234.50") == 1234.5
