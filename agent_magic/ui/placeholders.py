"""``{name}`` placeholders in a cell, filled from the user namespace; ``{{`` and ``}}`` escape."""

from __future__ import annotations

import re
from typing import Any

from agent_magic.errors import UserError

# {{ and }} first, so an escaped brace never starts a placeholder
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}")
_WHOLE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def lookup(expr: str, namespace: dict[str, Any]) -> Any:
    """The value of ``name`` or ``name.attr.attr`` in ``namespace``; UserError if unknown."""
    name, *attrs = expr.split(".")
    if name not in namespace:
        raise UserError(
            f"{{{name}}} in the cell is not a variable in the namespace "
            "(write {{ and }} for literal braces)"
        )
    value = namespace[name]
    for attr in attrs:
        try:
            value = getattr(value, attr)
        except AttributeError:
            raise UserError(
                f"{{{expr}}}: {type(value).__name__} has no attribute {attr!r}"
            ) from None
    return value


def interpolate(text: str, namespace: dict[str, Any]) -> str:
    """Replace ``{name}`` and ``{name.attr}`` with ``str(value)``; ``{{``/``}}`` become braces.

    Braces around anything that is not a name (``{"a": 1}``) are left as they are.
    """

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return str(lookup(match.group(1), namespace))

    return _TOKEN.sub(replace, text)


def object_or_text(value: str, namespace: dict[str, Any]) -> Any:
    """An option value: exactly ``{name}`` gives the object itself, anything else is interpolated."""
    match = _WHOLE.match(value.strip())
    if match:
        return lookup(match.group(1), namespace)
    return interpolate(value, namespace)
