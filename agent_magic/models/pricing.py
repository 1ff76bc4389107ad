"""Prices of Claude models by family and version, and the parsing of model names.

Cache writes (5-minute TTL) cost 1.25x the input price and cache reads 0.1x, as Anthropic
documents; the table therefore holds only input and output prices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent_magic.models.base import Price

CACHE_WRITE_FACTOR = 1.25
CACHE_READ_FACTOR = 0.1

# family -> [(minimum version, input $/MTok, output $/MTok)], newest first.
_TABLE: dict[str, list[tuple[tuple[int, int], float, float]]] = {
    "opus": [((4, 5), 5.0, 25.0), ((0, 0), 15.0, 75.0)],
    "sonnet": [((0, 0), 3.0, 15.0)],
    "haiku": [((4, 5), 1.0, 5.0), ((3, 5), 0.8, 4.0), ((0, 0), 0.25, 1.25)],
}
# An unknown family is priced like the dearest tier we know, so a cost budget errs on the safe side.
_UNKNOWN = (15.0, 75.0)

_NEW_STYLE = re.compile(r"^claude-([a-z]+)-(\d+)(?:-(\d{1,2}))?(?:-(\d{8}|latest))?$")
_OLD_STYLE = re.compile(r"^claude-(\d+)(?:-(\d{1,2}))?-([a-z]+)(?:-(\d{8}|latest))?$")


@dataclass(frozen=True)
class ModelId:
    """A parsed Claude model name: ``claude-sonnet-4-5-20250929`` -> sonnet, (4, 5), 20250929."""

    family: str
    version: tuple[int, int]
    date: str = ""


def parse_model_name(name: str) -> ModelId | None:
    """Parse a Claude model name in either naming style; None if it is not one."""
    name = name.strip().lower()
    if m := _NEW_STYLE.match(name):
        family, major, minor, date = m.groups()
    elif m := _OLD_STYLE.match(name):
        major, minor, family, date = m.groups()
    else:
        return None
    return ModelId(family, (int(major), int(minor or 0)), date or "")


def _from_io(input_price: float, output_price: float) -> Price:
    return Price(
        input=input_price,
        output=output_price,
        cache_write=round(input_price * CACHE_WRITE_FACTOR, 6),
        cache_read=round(input_price * CACHE_READ_FACTOR, 6),
    )


def price_for(name: str) -> Price:
    """The price of a model by name; an unknown version gets its family's newest price."""
    model = parse_model_name(name)
    family = model.family if model else _guess_family(name)
    tiers = _TABLE.get(family or "")
    if not tiers:
        return _from_io(*_UNKNOWN)
    version = model.version if model else (99, 0)
    for minimum, input_price, output_price in tiers:
        if version >= minimum:
            return _from_io(input_price, output_price)
    return _from_io(*tiers[-1][1:])


def _guess_family(name: str) -> str | None:
    lowered = name.lower()
    return next((family for family in _TABLE if family in lowered), None)
