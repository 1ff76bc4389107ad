from __future__ import annotations

import pytest

from agent_magic.models.base import Usage
from agent_magic.models.pricing import ModelId, parse_model_name, price_for


@pytest.mark.parametrize("name, expected", [
    ("claude-sonnet-5-5", ModelId("sonnet", (5, 5))),
    ("claude-sonnet-5", ModelId("sonnet", (5, 0))),
    ("claude-sonnet-4-5-20250929", ModelId("sonnet", (4, 5), "20250929")),
    ("claude-sonnet-4-20250514", ModelId("sonnet", (4, 0), "20250514")),
    ("claude-3-5-haiku-20241022", ModelId("haiku", (3, 5), "20241022")),
    ("claude-3-7-sonnet-latest", ModelId("sonnet", (3, 7), "latest")),
    ("claude-3-opus-20240229", ModelId("opus", (3, 0), "20240229")),
    ("claude-mythos-preview", None),
    ("gpt-4o", None),
    ("", None),
])
def test_parse_model_name(name, expected):
    assert parse_model_name(name) == expected


@pytest.mark.parametrize("name, input_price, output_price", [
    ("claude-sonnet-5-5", 3.0, 15.0),
    ("claude-sonnet-4-5-20250929", 3.0, 15.0),
    ("claude-opus-4-1", 15.0, 75.0),
    ("claude-opus-4-6", 5.0, 25.0),
    ("claude-opus-5", 5.0, 25.0),
    ("claude-haiku-4-5", 1.0, 5.0),
    ("claude-3-5-haiku-20241022", 0.8, 4.0),
    ("claude-3-haiku-20240307", 0.25, 1.25),
    ("my-proxy-sonnet-model", 3.0, 15.0),  # unparsable: family guessed from the name
    ("claude-fable-5-2", 15.0, 75.0),  # unknown family: priced high so budgets err safe
])
def test_price_for(name, input_price, output_price):
    price = price_for(name)
    assert (price.input, price.output) == (input_price, output_price)
    assert price.cache_write == pytest.approx(1.25 * input_price)
    assert price.cache_read == pytest.approx(0.1 * input_price)


def test_cost_counts_cache_tokens_at_their_own_rates():
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000,
                  cache_write_tokens=1_000_000, cache_read_tokens=1_000_000)
    assert price_for("claude-sonnet-4-5").cost(usage) == pytest.approx(3 + 15 + 3.75 + 0.3)
