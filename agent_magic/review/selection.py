"""Pure functions that decide what to test: is it pytest, which test files, which are related."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

from agent_magic.analysis.graph import module_table, resolve_module
from agent_magic.analysis.scan import module_of
from agent_magic.analysis.text import split_identifier
from agent_magic.staging.diff import line_matcher


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


@dataclass(frozen=True)
class RelatedTest:
    """A test file worth running for a change; lower ``rank`` runs first."""

    path: str
    rank: int  # 0 changed test, 1 named after a changed module, 2+ import distance
    reason: str
    focus: float = 0.0  # uses of the changed module's and names' terms (ties: more first)


class FileInfo(Protocol):
    """What selection needs of an indexed file (analysis.scan.FileFacts has it)."""

    imports: list[str]
    terms: dict[str, int]


MAX_DISTANCE = 3  # a test reaching the change through more modules than this is not related


def select_tests(
    changed: Iterable[str],
    changed_names: Mapping[str, set[str]],
    tests: Iterable[str],
    facts: Mapping[str, FileInfo],
) -> list[RelatedTest]:
    """Test files related to the change, nearest first, from the project's import graph.

    A test is related when it is changed, named after a changed module, imports a changed
    module, or reaches one through project modules *and* mentions one of its changed names.
    Imports are resolved against the project's own modules, so ``from operator import mul``
    never relates a test to a project's ``mul.py``.
    """
    paths = sorted(facts)
    table = module_table(paths)
    changed = sorted(set(changed))
    targets = {table[m] for p in changed if (m := _module(p)) in table}
    distance = _distances_to(targets, paths, facts, table)
    wanted_terms = {p: _terms_of(names) for p, names in changed_names.items()}
    stems = {PurePosixPath(p).stem for p in changed if p.endswith(".py")} - {"__init__", "conftest"}
    focus_terms = {terms[0] for group in wanted_terms.values() for terms in group}
    focus_terms |= {s.lower() for s in stems}
    out: list[RelatedTest] = []
    for test in sorted(set(tests)):
        name = PurePosixPath(test).stem
        info = facts.get(test)
        focus = _focus(info, focus_terms)
        if test in changed:
            out.append(RelatedTest(test, 0, "changed", focus))
        elif name.removeprefix("test_") in stems or name.removesuffix("_test") in stems:
            out.append(RelatedTest(test, 1, "named after a changed module", focus))
        elif info is not None:
            hops = _hops(info, table, distance)
            if hops == 1:
                out.append(RelatedTest(test, 2, "imports a changed module", focus))
            elif (
                hops is not None
                and hops <= MAX_DISTANCE
                and any(
                    all(t in info.terms for t in terms)
                    for group in wanted_terms.values()
                    for terms in group
                )
            ):
                out.append(
                    RelatedTest(test, hops + 1, "uses a changed name through imports", focus)
                )
    near = [PurePosixPath(p).parent.parts for p in changed]
    # Nearest first: rank, then the same package, then the test most about the changed code.
    return sorted(out, key=lambda r: (r.rank, -_closeness(r.path, near), -r.focus, r.path))


def _focus(info: FileInfo | None, terms: set[str]) -> float:
    if info is None or not terms:
        return 0.0
    return float(sum(info.terms.get(t, 0) for t in terms))


def _module(path: str) -> str:
    return module_of(path).removesuffix(".__init__")


def _hops(info: FileInfo, table: Mapping[str, int], distance: Mapping[int, int]) -> int | None:
    best: int | None = None
    for name in info.imports:
        hit = resolve_module(name, table)
        if hit is not None and hit in distance:
            d = distance[hit] + 1
            best = d if best is None else min(best, d)
    return best


def _distances_to(
    targets: set[int], paths: Sequence[str], facts: Mapping[str, FileInfo], table: Mapping[str, int]
) -> dict[int, int]:
    """Project module -> how many imports away it is from a changed module (0: changed)."""
    importers: dict[int, set[int]] = {}
    for i, path in enumerate(paths):
        if is_test_file(path):
            continue
        for name in facts[path].imports:
            hit = resolve_module(name, table)
            if hit is not None and hit != i:
                importers.setdefault(hit, set()).add(i)
    distance = dict.fromkeys(targets, 0)
    frontier = list(targets)
    for step in range(1, MAX_DISTANCE):
        frontier = [j for i in frontier for j in importers.get(i, ()) if j not in distance]
        for j in frontier:
            distance.setdefault(j, step)
    return distance


def _terms_of(names: Iterable[str]) -> list[tuple[str, ...]]:
    # A method is used through its class (``Mul.flatten``); a bare method name is too common.
    return [terms for n in names if (terms := split_identifier(n.split(".", 1)[0]))]


def _closeness(path: str, dirs: Sequence[tuple[str, ...]]) -> int:
    parts = PurePosixPath(path).parent.parts
    best = 0
    for d in dirs:
        common = 0
        for a, b in zip(parts, d, strict=False):
            if a != b:
                break
            common += 1
        best = max(best, common)
    return best


def changed_definitions(old: str | None, new: str | None) -> set[str]:
    """Names (``f``, ``Class``, ``Class.method``) of the definitions whose lines differ."""
    old_lines = (old or "").splitlines()
    new_lines = (new or "").splitlines()
    touched_old: set[int] = set()
    touched_new: set[int] = set()
    matcher = line_matcher(old_lines, new_lines)  # fast on big files with many changes
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            touched_old.update(range(i1 + 1, max(i2, i1 + 1) + 1))
            touched_new.update(range(j1 + 1, max(j2, j1 + 1) + 1))
    return _defs_at(old or "", touched_old) | _defs_at(new or "", touched_new)


def _defs_at(source: str, lines: set[int]) -> set[str]:
    if not lines:
        return set()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    out: set[str] = set()

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                end = node.end_lineno or node.lineno
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if any(start <= n <= end for n in lines):
                    out.add(prefix + node.name)
                    if isinstance(node, ast.ClassDef):
                        visit(node.body, prefix + node.name + ".")

    visit(tree.body, "")
    return out
