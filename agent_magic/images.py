"""Images in model requests: their pixel size from the data, and what a model charges for them."""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

# Claude scales an image to fit these before counting (width × height) / 750 tokens.
MAX_EDGE = 1568
MAX_PIXELS = 1_150_000
PIXELS_PER_TOKEN = 750
UNKNOWN_IMAGE_TOKENS = 1600  # the most an image costs after scaling


def png_size(data: str) -> tuple[int, int] | None:
    """Width and height of a base64 PNG from its header; None if it is no PNG."""
    try:
        head = base64.b64decode("".join(data[:48].split())[:32] + "==")
    except (binascii.Error, ValueError):
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def image_tokens(width: int, height: int) -> int:
    """Input tokens of a ``width`` × ``height`` image once the model has scaled it down."""
    if width <= 0 or height <= 0:
        return UNKNOWN_IMAGE_TOKENS
    scale = min(1.0, MAX_EDGE / max(width, height), math.sqrt(MAX_PIXELS / (width * height)))
    return max(1, math.ceil(width * scale * height * scale / PIXELS_PER_TOKEN))


def block_tokens(block: dict[str, Any]) -> int:
    """Input tokens of an ``image`` content block (the most an image costs if its size is unknown)."""
    source = block.get("source")
    data = source.get("data") if isinstance(source, dict) else None
    size = png_size(data) if isinstance(data, str) else None
    return image_tokens(*size) if size else UNKNOWN_IMAGE_TOKENS


def priced(value: Any) -> Any:
    """``value`` with each image block replaced by text as long as its price (4 characters a token)."""
    if isinstance(value, dict):
        if value.get("type") == "image":
            return "i" * (4 * block_tokens(value))
        return {k: priced(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [priced(v) for v in value]
    return value
