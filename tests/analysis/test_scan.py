from __future__ import annotations

import json

import pytest

from agent_magic.analysis.scan import module_of, python_defs, python_imports, scan_file


@pytest.mark.parametrize(
    ("path", "module"),
    [
        ("pkg/mod.py", "pkg.mod"),
        ("src/pkg/mod.py", "pkg.mod"),
        ("pkg/__init__.py", "pkg.__init__"),
        ("top.py", "top"),
    ],
)
def test_module_of(path, module):
    assert module_of(path) == module


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("import os, sys as s\n", "a.b", ["os", "sys"]),
        ("from . import c\n", "a.b", ["a", "a.c"]),
        ("from .c import D\n", "a.b", ["a.c", "a.c.D"]),
        ("from ..x import (\n  y,\n  z as w,\n)\n", "a.b.m", ["a.x", "a.x.y", "a.x.z"]),
        ("from .sub import k\n", "a.__init__", ["a.sub", "a.sub.k"]),
        ("    import json  # late\n", "m", ["json"]),
    ],
)
def test_python_imports(source, module, expected):
    assert python_imports(source, module) == expected


def test_python_defs_order_and_assignments():
    src = "X = 1\nclass A:\n    def m(self):\n        y = 2\nasync def f():\n    pass\n"
    assert python_defs(src) == ["A", "m", "f", "X"]


def test_scan_notebook_keeps_code_and_headings():
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Load data\n", "text"]},
            {
                "cell_type": "code",
                "source": [
                    "%matplotlib inline\n",
                    "import pandas as pd\n",
                    "def clean_frame(df):\n",
                    "    return df\n",
                ],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    facts = scan_file("analysis.ipynb", json.dumps(nb).encode())
    assert facts.kind == "notebook"
    assert facts.defs == ["clean_frame"]
    assert facts.imports == ["pandas"]
    assert facts.headings == ["[cell 0] Load data"]
    assert "matplotlib" not in facts.terms


def test_scan_text_and_broken_notebook():
    assert scan_file("doc.md", b"# Title\n\nbody words\n").headings == ["Title"]
    assert scan_file("x.ipynb", b"{not json").defs == []
