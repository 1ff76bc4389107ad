from __future__ import annotations

import pytest

from agent_magic.errors import ToolError
from agent_magic.staging.edits import closest_region, insert_text, replace_text

SRC = "def f(x):\n    if x:\n        a = 1\n        b = 2\n    return a\n\ndef g():\n    return 2\n"
TABS = "def f(x):\n\tif x:\n\t\ta = 1\n\t\tb = 2\n\treturn a\n"

# (case, content, old, new, expected, note fragment)
REPLACE = [
    ("exact", SRC, "a = 1\n", "a = 10\n", SRC.replace("a = 1\n", "a = 10\n"), "lines 3-3"),
    (
        "trailing whitespace",
        SRC,
        "        a = 1   \n        b = 2\t\n",
        "        a = 1\n        b = 3\n",
        SRC.replace("b = 2", "b = 3"),
        "trailing whitespace",
    ),
    (
        "indent shift left",
        SRC,
        "if x:\n    a = 1\n    b = 2\n",
        "if x:\n    a = 1\n    c = 2\n",
        SRC.replace("b = 2", "c = 2"),
        "shifted by 4",
    ),
    (
        "indent shift right",
        SRC,
        "        if x:\n            a = 1\n",
        "        if x:\n            a = 1\n            z = 0\n",
        SRC.replace("        a = 1\n", "        a = 1\n        z = 0\n"),
        "shifted by -4",
    ),
    (
        "crlf old text",
        SRC,
        "    if x:\r\n        a = 1\r\n",
        "    if y:\r\n        a = 1\r\n",
        SRC.replace("if x", "if y"),
        "lines 2-3",
    ),
    (
        "tabs for spaces",
        SRC,
        "\tif x:\n\t\ta = 1\n",
        "\tif x:\n\t\ta = 5\n",
        SRC.replace("a = 1", "a = 5"),
        "indentation style",
    ),
    (
        "spaces for tabs",
        TABS,
        "    if x:\n        a = 1\n",
        "    if x:\n        a = 5\n        q = 1\n",
        TABS.replace("\t\ta = 1\n", "\t\ta = 5\n\t\tq = 1\n"),
        "indentation style",
    ),
    (
        "tab file, exact old, new with spaces",
        TABS,
        "def f(x):\n",
        "def f(x):\n    pass\n",
        TABS.replace("def f(x):\n", "def f(x):\n\tpass\n"),
        "tabs like the file",
    ),
    (
        "stray blank lines",
        SRC,
        "\n    return a\n\n\n",
        "\n    return b\n\n\n",
        SRC.replace("return a", "return b"),
        "blank lines",
    ),
    (
        "blank edge line really deleted",
        SRC,
        "\ndef g():\n",
        "def g():\n",
        SRC.replace("\ndef g():\n", "def g():\n"),
        "lines 6-7",
    ),
    (
        "elided middle kept",
        SRC,
        "def f(x):\n    ...\n    return a\n",
        "def f(y):\n    ...\n    return y\n",
        SRC.replace("def f(x)", "def f(y)").replace("return a", "return y"),
        "'...'",
    ),
    (
        "elided middle replaced",
        SRC,
        "    if x:\n...\n    return a\n",
        "    return 0\n",
        SRC.replace("    if x:\n        a = 1\n        b = 2\n    return a\n", "    return 0\n"),
        "'...'",
    ),
    (
        "first line without indentation",
        SRC,
        "if x:\n        a = 1\n",
        "if x:\n        a = 7\n",
        SRC.replace("a = 1", "a = 7"),
        "lines 2-3",
    ),
    (
        "delete stripped line takes indentation",
        SRC,
        "a = 1\n",
        "",
        SRC.replace("        a = 1\n", ""),
        "lines 3-3",
    ),
    (
        "context stays byte-identical",
        "x = 1  \ny = 2\n",
        "x = 1\ny = 2\n",
        "x = 1\ny = 3\n",
        "x = 1  \ny = 3\n",
        "trailing whitespace",
    ),
    ("no final newline kept", "a\nb", "b", "c", "a\nc", "lines 2-2"),
    # A one-line old text copied at column 0 with several new lines: the whole edit was shifted
    # left by the matched line's indentation, so every new line moves right by as much.
    (
        "one-line old at column 0, new block shifted alike",
        SRC,
        "if x:\n",
        "if x:\n    z = 0\n",
        SRC.replace("    if x:\n", "    if x:\n        z = 0\n"),
        "shifted new text by the 4 columns",
    ),
    (
        "one-line old at column 0, new wraps it",
        SRC,
        "a = 1\n",
        "if y:\n    a = 1\n",
        SRC.replace("        a = 1\n", "        if y:\n            a = 1\n"),
        "lines 3-3",
    ),
    (
        "one-line old at column 0, relative indentation kept",
        SRC,
        "a = 1\n",
        "a = 1\n    c = 3\n",
        SRC.replace("        a = 1\n", "        a = 1\n            c = 3\n"),
        "8 columns",
    ),
    (
        "one-line old at column 0, new opens with a blank line",
        SRC,
        "b = 2\n",
        "\nb = 2\nc = 3\n",
        SRC.replace("        b = 2\n", "\n        b = 2\n        c = 3\n"),
        "lines 4-4",
    ),
    (
        "one-line old at column 0 without newline",
        SRC,
        "a = 1",
        "a = 1\nz = 2",
        SRC.replace("        a = 1\n", "        a = 1\n        z = 2\n"),
        "lines 3-3",
    ),
    (
        "one-line old at column 0 in a tab file, new with spaces",
        TABS,
        "a = 1\n",
        "a = 1\nif q:\n    r = 2\n",
        TABS.replace("\t\ta = 1\n", "\t\ta = 1\n\t\tif q:\n\t\t\tr = 2\n"),
        "lines 3-3",
    ),
    # A shifted old text matching at several depths: the nearest depth is meant, and a depth at
    # which the text repeats cannot be (the old text would be ambiguous even if copied exactly).
    (
        "shifted one-liner, nearer depth wins",
        "if a:\n    x = 1\nif b:\n        x = 1\n",
        "            x = 1\n",
        "            x = 2\n",
        "if a:\n    x = 1\nif b:\n        x = 2\n",
        "shifted by -4",
    ),
    (
        "shifted one-liner, repeated depth not meant",
        "if a:\n    x = 1\nif b:\n        x = 1\nif c:\n        x = 1\n",
        "      x = 1\n",
        "      x = 2\n",
        "if a:\n    x = 2\nif b:\n        x = 1\nif c:\n        x = 1\n",
        "shifted by -2",
    ),
    # A dedented edit whose column-0 lines fit the file's 4-column grid only one way.
    (
        "dedented edit: a new method (the shifted reading is the one that fits)",
        "class C:\n    def f(self):\n        return 1\n\n\nX = 1\n",
        "    return 1\n",
        "    return 1\n\ndef g(self):\n    pass\n",
        "class C:\n    def f(self):\n        return 1\n\n    def g(self):\n        pass\n\n\nX = 1\n",
        "shifted by 4",
    ),
    (
        "dedented edit: a top-level def after a method (only column 0 fits)",
        "class C:\n    def f(self):\n        return 1\n\n\nX = 1\n",
        "      return 1\n",
        "      return 1\n\n\ndef g():\n  pass\n",
        "class C:\n    def f(self):\n        return 1\n\n\ndef g():\n    pass\n\n\nX = 1\n",
        "left at their own column",
    ),
    # A byte-exact match found once is the place meant, even where the same lines would also
    # fit once, shifted, at a shallower depth (the benchmark's real files: `yield ms` at 12 and 8).
    (
        "exact one-liner that would also fit once shallower",
        "def f():\n    if a:\n        yield ms\n    while b:\n        if c:\n            yield ms\n",
        "            yield ms\n",
        "            yield ms.copy()\n",
        (
            "def f():\n    if a:\n        yield ms\n    while b:\n        if c:\n"
            "            yield ms.copy()\n"
        ),
        "lines 6-6",
    ),
    (
        "exact block that would also fit once shallower",
        "a = g()\nb = 1\nclass C:\n    a = g()\n    b = 1\n",
        "    a = g()\n    b = 1\n",
        "    a = h()\n    b = 1\n",
        "a = g()\nb = 1\nclass C:\n    a = h()\n    b = 1\n",
        "lines 4-5",
    ),
    # A dedented edit whose new block has a bracket continuation line: Python ignores that
    # line's column (aligned to the bracket, off the grid), so the grid decides on the others
    # (sympy's polytools in the benchmark: `if method == 'sqf':` after a deeper loop).
    (
        "dedented edit: a new block with a continuation line (the shifted reading fits)",
        (
            "def f(xs, m):\n    out = []\n    for x in xs:\n        if x:\n            out.append(x)\n"
            "    return out\n"
        ),
        "        out.append(x)\n",
        "        out.append(x)\nif m:\n    out = [y for y in out\n           if y]\n",
        (
            "def f(xs, m):\n    out = []\n    for x in xs:\n        if x:\n            out.append(x)\n"
            "    if m:\n        out = [y for y in out\n               if y]\n    return out\n"
        ),
        "shifted by 4",
    ),
    # Several places are one when the edit gives the same file at each (a repeated line).
    (
        "several exact places, one outcome",
        "def f():\n    pass\n    pass\n",
        "    pass\n",
        "    pass\n    pass\n",
        "def f():\n    pass\n    pass\n    pass\n",
        "lines 2-2",
    ),
    (
        "several shifted places, one outcome",
        "def f():\n  pass\n  pass\n",
        "    pass\n",
        "    pass\n    pass\n",
        "def f():\n  pass\n  pass\n  pass\n",
        "shifted by -2",
    ),
]


@pytest.mark.parametrize("case,content,old,new,expected,note", REPLACE, ids=[r[0] for r in REPLACE])
def test_replace(case, content, old, new, expected, note):
    result = replace_text(content, old, new, "f.py")
    assert result.text == expected
    assert note in result.note


# (case, content, old, new, error fragment)
REFUSE = [
    ("ambiguous exact", SRC, "return", "x", r"fits 2 places in f.py: line 5 \(verbatim\); line 8 \(verbatim\)"),
    (
        "ambiguous ignoring indentation",
        "if a:\n  x = 1\nif b:\n      x = 1\n",
        "    x = 1\n",
        "y\n",
        r"fits 2 places .*line 2 \(shifted -2 columns: shallower.*line 4 \(shifted \+2 columns: deeper",
    ),
    (
        "shifted one-liner whose other depths repeat, equally near",
        "if a:\n    x = 1\nif b:\n        x = 1\nif c:\n  x = 1\nif d:\n  x = 1\n",
        "      x = 1\n",
        "x = 2\n",
        r"fits 4 places .*line 2 .*line 4 .*line 6 .*line 8 ",
    ),
    ("not a substring of indentation", "        a = 1\n", "    a = 1\n    b\n", "c\n", "not found"),
    (
        "not found names closest lines",
        SRC,
        "    if x:\n        a = 100\n        b = 2\n",
        "c\n",
        "lines 2-4",
    ),
    ("nothing similar", SRC, "zzzzzzzz qqqq\n", "c\n", "no similar region"),
    ("empty old", SRC, "  \n", "c\n", "empty"),
    ("blank head cannot anchor an elision", SRC, "\n...\n    return 2\n", "c\n", "not found"),
    # Uniform shift of a one-line old text copied at column 0: new must share its base.
    (
        "new indented past old's base",
        SRC,
        "a = 1\n",
        "    a = 1\n    c = 3\n",
        "ambiguous whether the new text was shifted",
    ),
    (
        "one-line old starting mid-line, several new lines",
        SRC,
        "= 1\n",
        "= 1\nc = 3\n",
        "middle of line 3",
    ),
    (
        "new line left of column 0 under the shift",
        SRC,
        "        return a\n",
        "        return b\nX = 1\n",
        "not uniformly shifted",
    ),
    # Shifted one-liners at equally near depths stay refused: nothing says which was meant.
    (
        "shifted one-liner between two indentations",
        "if a:\n    x = 1\nif b:\n        x = 1\n",
        "      x = 1\n",
        "x = 2\n",
        r"fits 2 places .*line 2 .*line 4 .*Resend the same edit with line=N",
    ),
    (
        "column-0 old text both at a line start and inside indentation",
        "x = 1\ndef f():\n    x = 1\n",
        "x = 1\n",
        "x = 1\ny = 2\n",
        r"fits 2 places in f.py: line 1 \(verbatim\); line 3 \(verbatim\)",
    ),
    # A dedented copy can sit verbatim at a shallower place: when the same lines also fit once
    # deeper, two depths fit and nothing is guessed.
    (
        "exact one-liner that also fits once deeper",
        "def f():\n    try:\n        g()\n        try:\n            h()\n",
        "    try:\n",
        "    # note\n    try:\n",
        r"line 2 \(verbatim\); line 4 \(shifted \+4 columns.*less indentation",
    ),
    (
        "exact block that also fits once deeper",
        "a = g()\nb = 1\nclass C:\n    a = g()\n    b = 1\n",
        "a = g()\nb = 1\n",
        "a = h()\nb = 1\n",
        r"lines 1-2 \(verbatim\); lines 4-5 \(shifted \+4 columns",
    ),
    # Re-indenting a new text that is not consistently indented itself is refused.
    (
        "block header not followed by a deeper line, under a shift",
        "x = 1\nif a:\n    return min(res)\n\n\nz = 2\n",
        "return min(res)\n",
        "return min(res)\n\ndef g(a):\nreturn a\n",
        "not consistently indented",
    ),
    (
        "dedented old with a new line at column 0 that fits both depths",
        "class C:\n    def f(self):\n        return 1\n\n\nX = 1\n",
        "    return 1\n",
        "    return 1\nY = 2\n",
        r"depth is open.*'Y = 2' \(column 0 or 4\).*file's own indentation.*from line 3 ",
    ),
    # Continuation lines are free, so both readings fit the grid here: still two depths.
    (
        "dedented old, a column-0 statement with a continuation line, both depths fit",
        "class C:\n    def f(self):\n        return 1\n\n\nX = 1\n",
        "    return 1\n",
        "    return 1\nY = [1,\n     2]\n",
        r"'Y = \[1,' \(column 0 or 4\)",
    ),
    # Inside a docstring neither reading is on the grid (astropy's rst.py in the benchmark):
    # prose at column 0 or 4 and doctest lines at 2 or 6 are both valid strings.
    (
        "dedented docstring lines left of the shift, neither reading on the grid",
        (
            'class R:\n    """Table.\n\n    Example::\n\n        == ==\n        a  b\n        == ==\n'
            '\n    """\n'
        ),
        "    == ==\n    a  b\n    == ==\n",
        "  >>> t.write()\n  == ==\n  a  b\n  == ==\n\nLike others::\n",
        r"5 new line\(s\).*'>>> t.write\(\)' \(column 2 or 6\)",
    ),
    # A new line left of where a shallower place's shift would put it does not rule that place
    # out: new text is also sent stripped of its indentation (`x = 2` for `    x = 1`), and
    # under that slip either place can be meant.
    (
        "shifted one-liner at two depths, a column-0 new line rules neither out",
        "class A:\n    def f(self):\n        x = 1\n\n\ndef g():\n    if a:\n        pass\n    x = 1\n",
        "      x = 1\n",
        "      x = 1\n\n\ndef h():\n  pass\n",
        r"fits 2 places .*line 3 \(shifted \+2.*line 9 \(shifted -2",
    ),
    # Places that give different files stay refused, with the candidates listed.
    (
        "one-line old text at a line start and at another line's end, several new lines",
        "def f():\n    yield\n    out = yield\n",
        "yield\n",
        "yield\n\nx = 1\n",
        r"fits 2 places in f.py: line 2 \(verbatim\); line 3 \(verbatim, from the middle",
    ),
    (
        "several exact places, different outcomes",
        "def f():\n    pass\n    x = 1\n    pass\n",
        "    pass\n",
        "    pass\n    pass\n",
        r"fits 2 places in f.py: line 2 \(verbatim\); line 4 \(verbatim\)",
    ),
    (
        "elided old text fitting two regions whose elided lines differ",
        "def f():\n    a = 1\n    b = 1\n    c = 1\n\ndef g():\n    a = 1\n    b = 2\n    c = 1\n",
        "    a = 1\n    ...\n    c = 1\n",
        "    a = 1\n    ...\n    c = 3\n",
        r"fits 2 places .*lines 2-4 .*lines 7-9 ",
    ),
    (
        "elided old text whose marker spans one line or three, tail repeated",
        (
            "def a():\n    if x:\n        p()\n\n\n@dec\ndef b():\n    if x:\n        p()\n\n"
            "    yield\n\n\n@dec\ndef c():\n    pass\n"
        ),
        "    if x:\n        ...\n\n\n@dec\n",
        "    if x:\n        ...\n\n    q()\n\n\n@dec\n",
        r"fits 2 places .*lines 2-6 .*lines 8-14 ",
    ),
]


@pytest.mark.parametrize("case,content,old,new,fragment", REFUSE, ids=[r[0] for r in REFUSE])
def test_refusals(case, content, old, new, fragment):
    with pytest.raises(ToolError, match=fragment):
        replace_text(content, old, new, "f.py")


INSERT = [
    ("top", "a\nb\n", 0, "x\n", "x\na\nb\n"),
    ("middle", "a\nb\n", 1, "x", "a\nx\nb\n"),
    ("end", "a\nb\n", 2, "x\ny\n", "a\nb\nx\ny\n"),
    ("end without final newline", "a\nb", 2, "x", "a\nb\nx"),
    ("empty file", "", 0, "x", "x\n"),
    ("crlf text", "a\n", 1, "x\r\ny\r\n", "a\nx\ny\n"),
]


@pytest.mark.parametrize("case,content,line,text,expected", INSERT, ids=[r[0] for r in INSERT])
def test_insert(case, content, line, text, expected):
    assert insert_text(content, line, text).text == expected


@pytest.mark.parametrize("line", [-1, 3, True, "1"])
def test_insert_out_of_range(line):
    with pytest.raises(ToolError, match="between 0 and 2"):
        insert_text("a\nb\n", line, "x")


def test_closest_region_votes_for_most_shared_lines():
    lines = ["a", "b", "c", "d", "b", "x", "y"]
    assert closest_region(lines, ["b", "x", "y"]) == 4
    assert closest_region([], ["a"]) is None
