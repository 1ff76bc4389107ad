from __future__ import annotations

import pytest

from agent_magic.models.anthropic import sdk_model_names
from agent_magic.models.base import Usage
from agent_magic.models.pricing import TABLE, ModelId, parse_model_name, price_for


@pytest.mark.parametrize(
    "name, expected",
    [
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
    ],
)
def test_parse_model_name(name, expected):
    assert parse_model_name(name) == expected


# $/MTok from the pricing page (PRICES_AS_OF): input, output, 5m write, 1h write, cache read.
@pytest.mark.parametrize(
    "name, row",
    [
        ("claude-sonnet-5-5", (2, 10, 2.5, 4, 0.10)),
        ("claude-sonnet-5", (2, 10, 2.5, 4, 0.20)),
        ("claude-opus-5-5", (4, 20, 5, 8, 0.20)),
        ("claude-fable-5-1", (10, 50, 12.5, 20, 0.25)),
        ("claude-fable-5-2", (8, 40, 10, 16, 0.20)),
        ("claude-haiku-5-5", (0.10, 0.50, 0.125, 0.20, 0.01)),
        ("claude-sonnet-4-5-20250929", (3, 15, 3.75, 6, 0.30)),
        ("claude-opus-4-1", (15, 75, 18.75, 30, 1.50)),
        ("claude-opus-4-6", (5, 25, 6.25, 10, 0.50)),
        ("claude-haiku-4-5-20251001", (1, 5, 1.25, 2, 0.10)),
    ],
)
def test_price_for(name, row):
    price = price_for(name)
    assert price.known
    assert (
        price.input,
        price.output,
        price.cache_write,
        price.cache_write_1h,
        price.cache_read,
    ) == pytest.approx(row)


def test_every_model_the_sdk_lists_has_a_price_or_is_explicitly_unknown():
    unknown = {name for name in sdk_model_names() if not price_for(name).known}
    assert unknown <= {"claude-mythos-preview"}, unknown  # a limited preview: no public price
    dearest = max(TABLE.values(), key=lambda p: p.output)
    for name in unknown | {"claude-sonnet-9-9", "my-proxy-model"}:
        price = price_for(name)
        assert not price.known and price.output == dearest.output and price.input == dearest.input


def test_haiku_5_5_bills_long_prompts_at_the_higher_band():
    price = price_for("claude-haiku-5-5")
    short = Usage(input_tokens=50_000, output_tokens=1_000_000)
    long = Usage(input_tokens=60_000, cache_read_tokens=50_000, output_tokens=1_000_000)
    assert price.cost(short) == pytest.approx(0.05 * 0.10 + 0.50)
    assert price.cost(long) == pytest.approx(0.06 * 0.50 + 0.05 * 0.05 + 2.50)


def test_cost_counts_cache_tokens_at_their_own_rates():
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cache_write_tokens=1_000_000,
        cache_read_tokens=1_000_000,
    )
    assert price_for("claude-sonnet-4-5").cost(usage) == pytest.approx(3 + 15 + 3.75 + 0.3)
    assert price_for("claude-sonnet-5-5").cost(usage) == pytest.approx(2 + 10 + 2.5 + 0.1)
