"""Prices of Claude models, one row per model, and the parsing of model names.

Source: the Anthropic pricing page (platform.claude.com/docs/en/about-claude/pricing, "Model
pricing") and each model's overview page, as of 2026-11-26 (``PRICES_AS_OF``). Cache reads are
not a fixed share of the input price on every model (Fable 5.1/5.2: 0.025x; Sonnet 5.5, Opus
5.5: 0.05x; Haiku 5.5: 0.1x), so each row holds all five prices. Haiku 5.5 bills a whole
request at a higher band when its prompt passes 100,000 tokens.

A model without a row (a newer SDK, a limited preview) gets ``unknown_price``: the dearest row,
marked ``known=False``, so a cost budget errs on the safe side and never guesses low.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from agent_magic.models.base import Price

PRICES_AS_OF = "2026-11-26"


def _p(input: float, output: float, write_5m: float, write_1h: float, read: float) -> Price:
    return Price(
        input=input, output=output, cache_write=write_5m, cache_write_1h=write_1h, cache_read=read
    )


# model id (dated snapshots resolve to their alias) -> $/MTok: input, output, 5m write, 1h write, read
TABLE: dict[str, Price] = {
    "claude-fable-5-2": _p(8, 40, 10, 16, 0.20),
    "claude-mythos-5-2": _p(8, 40, 10, 16, 0.20),
    "claude-fable-5-1": _p(10, 50, 12.5, 20, 0.25),
    "claude-mythos-5-1": _p(10, 50, 12.5, 20, 0.25),
    "claude-fable-5": _p(10, 50, 12.5, 20, 1.0),
    "claude-mythos-5": _p(10, 50, 12.5, 20, 1.0),
    "claude-opus-5-5": _p(4, 20, 5, 8, 0.20),
    "claude-opus-5": _p(5, 25, 6.25, 10, 0.50),
    "claude-opus-4-8": _p(5, 25, 6.25, 10, 0.50),
    "claude-opus-4-7": _p(5, 25, 6.25, 10, 0.50),
    "claude-opus-4-6": _p(5, 25, 6.25, 10, 0.50),
    "claude-opus-4-5": _p(5, 25, 6.25, 10, 0.50),
    "claude-opus-4-1": _p(15, 75, 18.75, 30, 1.50),
    "claude-opus-4-0": _p(15, 75, 18.75, 30, 1.50),
    "claude-sonnet-5-5": _p(2, 10, 2.5, 4, 0.10),  # cache read cut from $0.20 on 2026-10-07
    "claude-sonnet-5": _p(2, 10, 2.5, 4, 0.20),
    "claude-sonnet-4-6": _p(3, 15, 3.75, 6, 0.30),
    "claude-sonnet-4-5": _p(3, 15, 3.75, 6, 0.30),
    "claude-sonnet-4-0": _p(3, 15, 3.75, 6, 0.30),
    "claude-haiku-5-5": replace(
        _p(0.10, 0.50, 0.125, 0.20, 0.01),
        long_prompt_tokens=100_000,
        long_prompt=_p(0.50, 2.50, 0.625, 1.0, 0.05),
    ),
    "claude-haiku-4-5": _p(1, 5, 1.25, 2, 0.10),
}
_DATED = re.compile(r"^(claude-[a-z]+-\d+(?:-\d{1,2})?)-(\d{8})$")


def unknown_price() -> Price:
    """The price assumed for a model without a row: the dearest known, marked unknown."""
    dearest = max(TABLE.values(), key=lambda p: (p.output, p.input))
    return replace(dearest, known=False)


def price_for(name: str) -> Price:
    """The price of a model id; ``unknown_price()`` if the table has no row for it."""
    key = name.strip().lower()
    if m := _DATED.match(key):
        key = m.group(1)
    if key in TABLE:
        return TABLE[key]
    if key + "-0" in TABLE:  # claude-sonnet-4 is claude-sonnet-4-0
        return TABLE[key + "-0"]
    return unknown_price()


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
