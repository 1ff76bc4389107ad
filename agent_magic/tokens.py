"""Token estimates for budgets: one rule for the loop, the local backends and the fake server."""

from __future__ import annotations

import json


def estimate_tokens(value: object) -> int:
    """A rough token count (4 characters a token) of any JSON-able value; images by pixel size."""
    from agent_magic.images import priced

    text = value if isinstance(value, str) else json.dumps(priced(value), default=str)
    return max(1, len(text) // 4)
