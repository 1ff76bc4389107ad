from __future__ import annotations

import pytest

from agent_magic.analysis.text import path_terms, split_identifier, stem, tokenize


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("separability_matrix", ("separability_matrix", "separability", "matrix")),
        ("HTTPResponse", ("httpresponse", "http", "response")),
        ("getValue", ("getvalue", "value")),  # "get" is a stopword
        ("_private", ("private",)),
        ("x", ()),
        ("self", ()),
        ("fields", ("field",)),
    ],
)
def test_split_identifier(word, expected):
    assert split_identifier(word) == expected


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("queries", "query"),
        ("fields", "field"),
        ("class", "class"),
        ("status", "status"),
        ("axis", "axis"),
        ("is", "is"),
    ],
)
def test_stem(term, expected):
    assert stem(term) == expected


def test_tokenize_drops_stopwords_and_keeps_order():
    assert tokenize("The Cart total is wrong") == ["cart", "total", "wrong"]


def test_path_terms():
    assert path_terms("src/shop/cart_items.py") == ["src", "shop", "cart_item", "cart", "item"]
