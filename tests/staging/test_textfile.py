from __future__ import annotations

import codecs

import pytest

from agent_magic.errors import ToolError
from agent_magic.staging.textfile import TextFormat, decode, encode

ROUND_TRIP = [
    (b"a\nb\n", "a\nb\n", TextFormat()),
    (b"a\r\nb\r\n", "a\nb\n", TextFormat(newline="\r\n")),
    (b"a\r\nb", "a\nb", TextFormat(newline="\r\n")),
    (b"a\nb", "a\nb", TextFormat()),
    (b"a\r\nb\n", "a\r\nb\n", TextFormat()),  # mixed endings stay as they are
    (codecs.BOM_UTF8 + b"x\r\n", "x\n", TextFormat("utf-8", codecs.BOM_UTF8, "\r\n")),
    (
        "# -*- coding: latin-1 -*-\nn = 'é'\n".encode("latin-1"),
        "# -*- coding: latin-1 -*-\nn = 'é'\n",
        TextFormat("iso8859-1"),
    ),
    (
        codecs.BOM_UTF16_LE + "hé\n".encode("utf-16-le"),
        "hé\n",
        TextFormat("utf-16-le", codecs.BOM_UTF16_LE),
    ),
    (b"", "", TextFormat()),
]


@pytest.mark.parametrize("data,text,fmt", ROUND_TRIP)
def test_decode_and_encode_round_trip(data, text, fmt):
    got_text, got_fmt = decode(data)
    assert (got_text, got_fmt) == (text, fmt)
    assert encode(got_text, got_fmt) == data


def test_edit_keeps_crlf_and_bom():
    text, fmt = decode(codecs.BOM_UTF8 + b"a\r\nb\r\n")
    assert encode(text + "c\n", fmt) == codecs.BOM_UTF8 + b"a\r\nb\r\nc\r\n"


@pytest.mark.parametrize(
    "data,fragment",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        (b"caf\xe9\n", "not valid UTF-8"),
        (b"x" * 101, "over the 100-byte limit"),
        (b"# coding: nosuchcodec\n\xff\n", "declares no encoding"),
    ],
)
def test_refusals_name_the_reason(data, fragment):
    with pytest.raises(ToolError, match=fragment):
        decode(data, "f.py", max_bytes=100)
