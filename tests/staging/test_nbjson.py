"""The byte-preserving notebook JSON layer, table-driven."""

from __future__ import annotations

import json

import pytest

from agent_magic.staging import nbjson

CELL_A = {"cell_type": "code", "source": "a", "metadata": {"tags": ["x"]}}
CELL_B = {"cell_type": "markdown", "source": "b", "metadata": {}}


@pytest.mark.parametrize(
    "text",
    [
        (
            '{"cells": [{"cell_type": "code", "source": "a", "metadata": {"tags": ["x"]}}, '
            '{"cell_type": "markdown", "source": "b", "metadata": {}}], "nbformat": 4}'
        ),
        (
            '{\r\n "nbformat": 4,\r\n "cells": [\r\n  {"cell_type": "code", "source": "a", "metadata": '
            '{"tags": [ "x" ]}},\r\n\r\n  {"cell_type":"markdown","source":"b","metadata":{}}\r\n ]\r\n}\r\n'
        ),
        (
            '\n\t{ "cells" :[{"cell_type":"code","source":"a","metadata":{"tags":["x"]}} ,'
            '{"cell_type":"markdown","source":"b","metadata":{}}] , "nbformat":4 }  \n'
        ),
    ],
    ids=["one line", "crlf, keys before cells", "odd whitespace"],
)
def test_parse_finds_every_cell_and_splice_of_the_same_notebook_is_identity(text):
    nb, layout = nbjson.parse(text)
    assert nb == json.loads(text)
    assert layout is not None and len(layout.cells) == 2
    assert [json.loads(c) for c in layout.cells] == [CELL_A, CELL_B]
    assert nbjson.splice(nb, layout, json.dumps) == text


def test_splice_keeps_neighbours_and_their_separators():
    def doc(*cells: str, seps: tuple[str, ...]) -> str:
        body = "".join(c + s for c, s in zip(cells, (*seps, ""), strict=True))
        return '{"cells": [\n  ' + body + '\n], "x": 1}'

    cells = [
        '{"source": "1"}',
        '{"source": "2"}',
        '{"source": "3"}',
        '{"source": "4"}',
        '{"source": "5"}',
    ]
    usual, odd, blank = ",\n  ", ",  ", ",\n\n  "
    text = doc(*cells, seps=(blank, usual, usual, odd))
    nb, layout = nbjson.parse(text)
    c1, c2, c3, c4, c5 = nb["cells"]
    # New neighbours get the usual separator; old neighbours keep theirs, odd or not.
    out = nbjson.splice(dict(nb, cells=[c2, c1, c3, c4, c5]), layout, json.dumps)
    assert out == doc(cells[1], cells[0], *cells[2:], seps=(usual, usual, usual, odd))
    out = nbjson.splice(dict(nb, cells=[c1, {"source": "new"}, c3, c4, c5]), layout, json.dumps)
    assert out == doc(cells[0], '{"source": "new"}', *cells[2:], seps=(usual, usual, usual, odd))


@pytest.mark.parametrize(
    "nb_change",
    [
        lambda nb: dict(nb, x=2),  # something outside the cells changed
        lambda nb: dict(nb, cells=[]),  # nothing to splice into
    ],
    ids=["top-level change", "no cells left"],
)
def test_splice_declines_what_it_cannot_keep(nb_change):
    nb, layout = nbjson.parse('{"cells": [{"source": "1"}], "x": 1}')
    assert nbjson.splice(nb_change(nb), layout, json.dumps) is None


@pytest.mark.parametrize(
    "text,layout_expected",
    [
        ('{"cells": [], "nbformat": 4}', False),
        ('{"cells": ["not a cell"], "nbformat": 4}', False),
        ('{"nbformat": 3, "worksheets": []}', False),
        ("[1, 2]", False),
    ],
)
def test_parse_without_a_layout_still_parses(text, layout_expected):
    nb, layout = nbjson.parse(text)
    assert nb == json.loads(text)
    assert (layout is not None) == layout_expected


@pytest.mark.parametrize("text", ['{"cells": [{"a": 1}', '{"cells": []} extra', '{"a" 1}', ""])
def test_broken_json_is_a_json_error(text):
    with pytest.raises(json.JSONDecodeError):
        nbjson.parse(text)
