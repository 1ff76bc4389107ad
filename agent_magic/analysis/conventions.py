"""Detect a project's conventions: tools, test command, Python version, layout, instructions."""

from __future__ import annotations

import configparser
import contextlib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from agent_magic.errors import PathError
from agent_magic.paths import Project, read_regular

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: no stdlib TOML reader, so pyproject is not read
    tomllib = None

INSTRUCTION_FILES = (
    "AGENTS.md",
    "CLAUDE.md",
    "CONTRIBUTING.md",
    "CONTRIBUTING.rst",
    ".github/CONTRIBUTING.md",
)
MAX_INSTRUCTION_CHARS = 4000
MAX_CONFIG_BYTES = 2_000_000
TOOLS = ("ruff", "black", "isort", "flake8", "mypy", "pylint")


@dataclass
class Conventions:
    """What we learned about how a project is built, styled and tested."""

    tools: dict[str, str] = field(default_factory=dict)  # tool -> where it is configured
    test_command: list[str] | None = None
    python_version: str | None = None
    layout: str = "flat"  # src | flat | single-module | none
    packages: list[str] = field(default_factory=list)
    instructions: dict[str, str] = field(default_factory=dict)
    docstring_style: str | None = None  # google | numpy | sphinx
    typed: bool = False
    line_length: int | None = None

    def summary(self) -> str:
        """Short markdown for the prompt."""
        lines = ["## Project conventions"]
        if self.python_version:
            lines.append(f"- Python: {self.python_version}")
        lines.append(
            f"- Layout: {self.layout}"
            + (f" ({', '.join(self.packages[:5])})" if self.packages else "")
        )
        if self.tools:
            lines.append("- Tools: " + ", ".join(f"{t} ({w})" for t, w in self.tools.items()))
        if self.line_length:
            lines.append(f"- Line length: {self.line_length}")
        if self.test_command:
            lines.append(f"- Tests: `{' '.join(self.test_command)}`")
        style = [
            s
            for s in (
                self.docstring_style and f"{self.docstring_style} docstrings",
                self.typed and "type hints",
            )
            if s
        ]
        if style:
            lines.append("- Style: " + ", ".join(style))
        for name in self.instructions:
            lines.append(f"- Instructions in {name} (follow them)")
        return "\n".join(lines)


def detect_conventions(root: str | os.PathLike[str]) -> Conventions:
    """Read config files and a sample of sources under ``root``; never reads secret files."""
    project = Project(root)
    base = project.root
    conv = Conventions()
    pyproject = _toml(base / "pyproject.toml")
    setup_cfg = _ini(base / "setup.cfg")
    tox_ini = _ini(base / "tox.ini")
    tool = pyproject.get("tool", {}) if isinstance(pyproject.get("tool"), dict) else {}
    for name in TOOLS:
        if name in tool:
            conv.tools[name] = "pyproject.toml"
        elif (
            setup_cfg.has_section(name)
            or setup_cfg.has_section(f"{name}:settings")
            or setup_cfg.has_section("tool:" + name)
        ):
            conv.tools[name] = "setup.cfg"
        elif tox_ini.has_section(name):
            conv.tools[name] = "tox.ini"
    for name, fname in (
        ("ruff", "ruff.toml"),
        ("ruff", ".ruff.toml"),
        ("flake8", ".flake8"),
        ("mypy", "mypy.ini"),
        ("isort", ".isort.cfg"),
        ("pylint", ".pylintrc"),
    ):
        if name not in conv.tools and (base / fname).is_file():
            conv.tools[name] = fname
    conv.line_length = _line_length(tool, setup_cfg)
    conv.python_version = _python_version(pyproject)
    conv.layout, conv.packages = _layout(base)
    _runner, conv.test_command = detect_test_command(base, pyproject, setup_cfg, tox_ini)
    for name in INSTRUCTION_FILES:
        path = base / name
        if path.is_file() and not project.is_secret(name):
            text = _text(path)
            conv.instructions[name] = text[:MAX_INSTRUCTION_CHARS] + (
                "\n[... truncated]" if len(text) > MAX_INSTRUCTION_CHARS else ""
            )
    conv.docstring_style, conv.typed = _style(base, conv.packages)
    return conv


def detect_test_command(
    base: Path,
    pyproject: dict | None = None,
    setup_cfg: configparser.ConfigParser | None = None,
    tox_ini: configparser.ConfigParser | None = None,
) -> tuple[str | None, list[str] | None]:
    """The test runner's name and the command that runs the project's tests, if any."""
    pyproject = _toml(base / "pyproject.toml") if pyproject is None else pyproject
    setup_cfg = _ini(base / "setup.cfg") if setup_cfg is None else setup_cfg
    tox_ini = _ini(base / "tox.ini") if tox_ini is None else tox_ini
    pytest_cmd = ["python", "-m", "pytest", "-q"]
    tool = pyproject.get("tool", {}) if isinstance(pyproject.get("tool"), dict) else {}
    if (
        isinstance(tool.get("pytest"), dict)
        or (base / "pytest.ini").is_file()
        or setup_cfg.has_section("tool:pytest")
        or tox_ini.has_section("pytest")
    ):
        return "pytest", pytest_cmd
    if (base / "tox.ini").is_file() and any(s.startswith("testenv") for s in tox_ini.sections()):
        return "tox", ["tox"]
    if (base / "noxfile.py").is_file():
        return "nox", ["nox"]
    makefile = base / "Makefile"
    if makefile.is_file():
        text = _text(makefile)
        if re.search(r"^test\s*:", text, re.MULTILINE):
            return "make", ["make", "test"]
    for tests_dir in ("tests", "test"):
        d = base / tests_dir
        if d.is_dir() and any(d.rglob("test_*.py")):
            return "pytest", pytest_cmd
    if any(base.glob("test_*.py")):
        return "pytest", pytest_cmd
    return None, None


def _toml(path: Path) -> dict:
    if tomllib is None:
        return {}
    try:
        return tomllib.loads(read_regular(path, MAX_CONFIG_BYTES).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, PathError):
        return {}


def _text(path: Path) -> str:
    # Config files and sources are read as regular files only: a FIFO named pyproject.toml or
    # a link to /dev/zero reads as empty instead of hanging or filling memory.
    try:
        return read_regular(path, MAX_CONFIG_BYTES).decode("utf-8", "replace")
    except (OSError, PathError):
        return ""


def _ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    with contextlib.suppress(OSError, configparser.Error):
        parser.read_string(_text(path))
    return parser


def _line_length(tool: dict, setup_cfg: configparser.ConfigParser) -> int | None:
    for name in ("ruff", "black"):
        value = tool.get(name, {}).get("line-length") if isinstance(tool.get(name), dict) else None
        if isinstance(value, int):
            return value
    for section in ("flake8", "pycodestyle"):
        if setup_cfg.has_option(section, "max-line-length"):
            try:
                return setup_cfg.getint(section, "max-line-length")
            except ValueError:
                return None
    return None


def _python_version(pyproject: dict) -> str | None:
    project = pyproject.get("project", {})
    req = project.get("requires-python") if isinstance(project, dict) else None
    return str(req) if req else None


def _layout(base: Path) -> tuple[str, list[str]]:
    src = base / "src"
    if src.is_dir():
        pkgs = sorted(p.name for p in src.iterdir() if (p / "__init__.py").is_file())
        if pkgs:
            return "src", pkgs
    pkgs = sorted(
        p.name
        for p in base.iterdir()
        if p.is_dir() and (p / "__init__.py").is_file() and p.name not in ("tests", "test")
    )
    if pkgs:
        return "flat", pkgs
    if any(base.glob("*.py")):
        return "single-module", []
    return "none", []


def _style(base: Path, packages: list[str]) -> tuple[str | None, bool]:
    """Docstring style and whether functions are typed, from a small sample of sources."""
    roots = [base / "src" / p for p in packages] + [base / p for p in packages] or [base]
    files: list[Path] = []
    for r in roots:
        if r.is_dir():
            files += sorted(r.rglob("*.py"))[:40]
    text = "\n".join(_text(f)[:20000] for f in files[:40])
    votes = {
        "google": len(re.findall(r"^\s+(Args|Returns|Raises):\s*$", text, re.MULTILINE)),
        "numpy": len(re.findall(r"^\s+(Parameters|Returns)\n\s+-{3,}", text, re.MULTILINE)),
        "sphinx": len(re.findall(r":param \w+:|:returns?:", text)),
    }
    style = max(votes, key=lambda k: votes[k]) if max(votes.values()) >= 2 else None
    defs = re.findall(r"^\s*def \w+\((.*?)\)\s*(->)?", text, re.MULTILINE)
    typed = sum(1 for args, ret in defs if ret or ":" in args)
    return style, bool(defs) and typed / len(defs) >= 0.5
