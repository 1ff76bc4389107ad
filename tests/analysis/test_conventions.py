from __future__ import annotations

from pathlib import Path

import pytest

from agent_magic.analysis import detect_conventions
from agent_magic.analysis.conventions import MAX_INSTRUCTION_CHARS
from tests.analysis.conftest import write

PYTEST = ["python", "-m", "pytest", "-q"]


@pytest.mark.parametrize(
    ("files", "command"),
    [
        ({"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n"}, PYTEST),
        ({"pytest.ini": "[pytest]\n"}, PYTEST),
        ({"setup.cfg": "[tool:pytest]\ntestpaths = t\n"}, PYTEST),
        ({"tox.ini": "[pytest]\n[testenv]\ncommands = pytest\n"}, PYTEST),
        ({"tox.ini": "[testenv]\ncommands = pytest\n"}, ["tox"]),
        ({"noxfile.py": "import nox\n"}, ["nox"]),
        ({"Makefile": "lint:\n\truff .\ntest:\n\tpytest\n"}, ["make", "test"]),
        ({"Makefile": "lint:\n\truff .\n"}, None),
        ({"tests/unit/test_a.py": "def test_a(): pass\n"}, PYTEST),
        ({"tests/helpers.py": "x = 1\n"}, None),
        ({"pyproject.toml": "not [valid toml"}, None),
    ],
)
def test_test_command(tmp_path: Path, files, command):
    write(tmp_path, files)
    assert detect_conventions(tmp_path).test_command == command


def test_tools_layout_style_and_instructions(tmp_path: Path):
    write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nrequires-python = ">=3.10"\n[tool.ruff]\nline-length = 99\n'
            "[tool.mypy]\nstrict = true\n",
            "setup.cfg": "[flake8]\nmax-line-length = 120\n",
            "src/pkg/__init__.py": "",
            "src/pkg/core.py": 'def f(a: int) -> int:\n    """Do.\n\n    Args:\n        a: x\n\n'
            '    Returns:\n        y\n    """\n    return a\n',
            "AGENTS.md": "Use ruff.\n" + "x" * (MAX_INSTRUCTION_CHARS + 100),
            "CLAUDE.md": "Be brief.\n",
        },
    )
    conv = detect_conventions(tmp_path)
    assert conv.tools == {"ruff": "pyproject.toml", "mypy": "pyproject.toml", "flake8": "setup.cfg"}
    assert conv.line_length == 99
    assert conv.python_version == ">=3.10"
    assert (conv.layout, conv.packages) == ("src", ["pkg"])
    assert conv.docstring_style == "google" and conv.typed
    assert conv.instructions["CLAUDE.md"] == "Be brief.\n"
    assert conv.instructions["AGENTS.md"].endswith("[... truncated]")
    assert len(conv.instructions["AGENTS.md"]) < MAX_INSTRUCTION_CHARS + 50
    summary = conv.summary()
    assert (
        "ruff (pyproject.toml)" in summary
        and "AGENTS.md" in summary
        and "Python: >=3.10" in summary
    )


def test_empty_directory(tmp_path: Path):
    conv = detect_conventions(tmp_path)
    assert conv.test_command is None and conv.layout == "none" and conv.instructions == {}
