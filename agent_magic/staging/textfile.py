"""Decode file bytes into LF text and encode it back with the same encoding, BOM and line endings."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from agent_magic.errors import ToolError

MAX_BYTES = 2_000_000
_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True)
class TextFormat:
    """How a text file is stored: encoding, byte-order mark and newline convention."""

    encoding: str = "utf-8"
    bom: bytes = b""
    newline: str = "\n"  # "\r\n" only when every line break of the file is CRLF


def decode(
    data: bytes, name: str = "file", *, max_bytes: int = MAX_BYTES
) -> tuple[str, TextFormat]:
    """The file's text with LF line breaks and its format; ToolError if binary, huge or undecodable."""
    if len(data) > max_bytes:
        raise ToolError(
            f"{name} is {len(data):,} bytes, over the {max_bytes:,}-byte limit for text edits"
        )
    bom, encoding = b"", "utf-8"
    for mark, enc in _BOMS:
        if data.startswith(mark):
            bom, encoding = mark, enc
            break
    body = data[len(bom) :]
    if not bom and b"\x00" in body[:8192]:
        raise ToolError(f"{name} is a binary file; it cannot be read or edited as text")
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        declared = _declared_encoding(body)
        if declared is None:
            raise ToolError(
                f"{name} is not valid UTF-8 and declares no encoding; refusing to edit it"
            ) from None
        try:
            text, encoding = body.decode(declared), declared
        except (UnicodeDecodeError, LookupError):
            raise ToolError(
                f"{name} cannot be decoded as its declared encoding {declared!r}"
            ) from None
    newline = "\n"
    crlf = text.count("\r\n")
    if crlf and crlf == text.count("\n") and crlf == text.count("\r"):
        newline, text = "\r\n", text.replace("\r\n", "\n")
    return text, TextFormat(encoding, bom, newline)


def encode(text: str, fmt: TextFormat) -> bytes:
    """Bytes of ``text`` (LF breaks) stored the way ``fmt`` says."""
    if fmt.newline != "\n":
        text = text.replace("\r\n", "\n").replace("\n", fmt.newline)
    try:
        return fmt.bom + text.encode(fmt.encoding)
    except UnicodeEncodeError as exc:  # the model's text, not the file's fault: a tool error
        char = exc.object[exc.start : exc.end]
        raise ToolError(
            f"{char!r} cannot be written in this file's encoding ({fmt.encoding}); "
            "use characters it has, or an escape"
        ) from None


def _declared_encoding(body: bytes) -> str | None:
    # PEP 263: a coding cookie on one of the first two lines.
    for line in body.splitlines()[:2]:
        match = _COOKIE.match(line)
        if match:
            name = match.group(1).decode("ascii", "replace")
            try:
                return codecs.lookup(name).name
            except LookupError:
                return None
    return None
