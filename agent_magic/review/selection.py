"""Pure functions that decide what to test: is it pytest, which test files, which are related."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Callable, Iterable, Sequence
from pathlib import PurePosixPath


def is_pytest_command(command: Sequence[str]) -> bool:
    """Whether the command runs pytest directly (``pytest``, ``py.test``, ``python -m pytest``)."""
    names = [PurePosixPath(part.replace("\\", "/")).name for part in command]
    if any(n in ("pytest", "py.test", "pytest.exe") for n in names):
        return True
    return any(a == "-m" and b == "pytest" for a, b in itertools.pairwise(command))


def is_test_file(path: str) -> bool:
    """pytest's default test file names: ``test_*.py`` and ``*_test.py``."""
    name = PurePosixPath(path).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def module_names(path: str) -> set[str]:
    """The names a Python file can be imported by: its stem and its dotted paths."""
    pure = PurePosixPath(path)
    if pure.suffix != ".py":
        return set()
    parts = list(pure.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts:
        return set()
    names = {parts[-1]}
    for start in range(len(parts)):
        names.add(".".join(parts[start:]))
    return names


def related_tests(
    changed: Iterable[str], test_files: Iterable[str], read: Callable[[str], str]
) -> list[str]:
    """Test files to run first: changed tests, ``test_<module>.py``, and tests importing it."""
    tests = sorted(set(test_files))
    picked: set[str] = set()
    names: set[str] = set()
    for path in changed:
        if is_test_file(path) and path in tests:  # a deleted test file is not run
            picked.add(path)
        names |= module_names(path)
    names.discard("conftest")
    stems = {n for n in names if "." not in n}
    for test in tests:
        if test in picked:
            continue
        stem = PurePosixPath(test).stem
        if stem.removeprefix("test_") in stems or stem.removesuffix("_test") in stems:
            picked.add(test)
            continue
        try:
            text = read(test)
        except (OSError, UnicodeDecodeError):
            continue
        if names and any(_mentions(m, names) for m in imported_modules(text)):
            picked.add(test)
    return sorted(picked)


def imported_modules(source: str) -> list[str]:
    """Dotted names a module imports (``from a import b`` gives ``a`` and ``a.b``)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if base:
                out.append(base)
            out += [f"{base}.{alias.name}" if base else alias.name for alias in node.names]
    return out


def _mentions(module: str, names: set[str]) -> bool:
    parts = module.split(".")
    return any(
        ".".join(parts[i:j]) in names
        for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)
    )
