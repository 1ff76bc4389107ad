"""Ruff on the changed files of both copies; only problems the change introduced are kept."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_magic.review.process import CommandResult, Confined
from agent_magic.review.report import CheckProblem

_RULE_CODE = re.compile(r"^[A-Z]+[0-9]+$")


def ruff_command() -> list[str] | None:
    """How to start ruff: this interpreter's module if installed, else a ruff on PATH."""
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    found = shutil.which("ruff")
    return [found] if found else None


@dataclass
class LintRun:
    """Problems of one ruff run, or why there are none."""

    problems: list[CheckProblem]
    error: str = ""
    timed_out: bool = False


def run_ruff(
    ruff: Sequence[str],
    tree: Path,
    files: Sequence[str],
    *,
    output: Path,
    timeout: float,
    confined: Confined,
) -> LintRun:
    """``ruff check`` the posix ``files`` of ``tree``, with the project's own config."""
    present = [f for f in files if (tree / f).is_file()]
    if not present:
        return LintRun([])
    # --force-exclude: files the project's config excludes stay excluded when named explicitly.
    command = [
        *ruff,
        "check",
        "--output-format=json",
        "--no-cache",
        "--exit-zero",
        "--force-exclude",
        "--",
        *present,
    ]
    result = confined.run(command, tree=tree, output_path=output, timeout=timeout)
    if result.timed_out:
        return LintRun([], error="ruff timed out", timed_out=True)
    return _read_result(result, tree)


def _read_result(result: CommandResult, tree: Path) -> LintRun:
    text = result.text()
    start = text.find("[")  # ruff may print warnings before the JSON
    try:
        items = json.loads(text[start:]) if start >= 0 else None
    except json.JSONDecodeError:
        items = None
    if result.returncode != 0 or not isinstance(items, list):
        return LintRun([], error="ruff failed: " + result.tail(500).strip())
    return LintRun(parse_ruff_json(items, tree))


def parse_ruff_json(items: list[dict], tree: Path) -> list[CheckProblem]:
    """Ruff's JSON output as problems with paths relative to ``tree``; syntax errors left out."""
    out = []
    for item in items:
        code = item.get("code") or ""
        if not _RULE_CODE.match(code):
            continue  # a syntax error ("invalid-syntax" or no code): the compile check reports it
        name = Path(item.get("filename", ""))
        try:
            rel = name.resolve().relative_to(tree.resolve()).as_posix()
        except ValueError:
            rel = name.as_posix()
        fix = item.get("fix") or {}
        out.append(
            CheckProblem(
                path=rel,
                message=item.get("message", ""),
                code=code,
                line=(item.get("location") or {}).get("row"),
                suggestion=fix.get("message") or "",
            )
        )
    return out


def new_problems(before: list[CheckProblem], after: list[CheckProblem]) -> list[CheckProblem]:
    """Problems of ``after`` beyond those ``before`` had, matched by file, code and message."""
    remaining = Counter((p.path, p.code, p.message) for p in before)
    out = []
    for problem in after:
        key = (problem.path, problem.code, problem.message)
        if remaining[key] > 0:
            remaining[key] -= 1
        else:
            out.append(problem)
    return out
