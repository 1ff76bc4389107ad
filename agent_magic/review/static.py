"""Checks that need no subprocess: byte-compiling changed Python files, validating notebooks."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from agent_magic.review.report import CheckProblem

PYTHON_SUFFIXES = (".py", ".pyi")


def compile_problem(path: str, source: bytes) -> CheckProblem | None:
    """The syntax error of one Python file, or None; compiled in memory, nothing written."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings are not errors
            compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        detail = (exc.text or "").strip()
        message = f"{type(exc).__name__}: {exc.msg}" + (f" ({detail!r})" if detail else "")
        return CheckProblem(path=path, message=message, line=exc.lineno)
    except ValueError as exc:  # e.g. source with NUL bytes
        return CheckProblem(path=path, message=f"cannot compile: {exc}")
    return None


def notebook_problem(path: str, content: bytes, before: bytes | None = None) -> CheckProblem | None:
    """Why a notebook is not a valid nbformat document, or None.

    With ``before`` (the file as it was), only problems the change added count: notebooks in the
    wild are often already invalid (nbformat 4.4 with cell ids), and that is not the change's doing.
    """
    import nbformat

    try:
        # utf-8-sig: a BOM is legal in a notebook file (editors on Windows write one).
        nb = nbformat.reads(content.decode("utf-8-sig"), as_version=nbformat.NO_CONVERT)
    # Bad UTF-8, bad JSON, unknown versions, wrong shapes: nbformat raises several kinds.
    except (ValueError, KeyError, TypeError, AttributeError, nbformat.ValidationError) as exc:
        label = (
            "invalid notebook"
            if isinstance(exc, nbformat.ValidationError)
            else ("not a readable notebook")
        )
        return CheckProblem(path=path, message=f"{label}: {_first_line(exc)}")
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        if before is not None and not _new_kinds(nb, before):
            return None
        where = "/".join(str(p) for p in getattr(exc, "absolute_path", ()) or ())
        return CheckProblem(
            path=path,
            message="invalid notebook"
            + (f" at {where}" if where else "")
            + f": {_first_line(exc)}",
        )
    return None


def _new_kinds(nb: Any, before: bytes) -> bool:
    """Whether ``nb`` has a kind of schema problem the notebook ``before`` did not have."""
    import nbformat

    from agent_magic.staging.notebooks import problems

    try:
        old = nbformat.reads(before.decode("utf-8-sig"), as_version=nbformat.NO_CONVERT)
    except (ValueError, KeyError, TypeError, AttributeError, nbformat.ValidationError):
        return True
    return bool(set(problems(nb)) - set(problems(old)))


def static_problems(
    changes: Mapping[str, bytes | None],
    before: Mapping[str, bytes | None] | None = None,
) -> tuple[list[CheckProblem], list[CheckProblem]]:
    """(syntax errors, invalid notebooks) among the changed files that still exist; ``before``
    holds the files as they were, so a notebook is blamed only for problems the change added."""
    compiled, notebooks = [], []
    for path, content in sorted(changes.items()):
        if content is None:
            continue
        if path.endswith(PYTHON_SUFFIXES):
            problem = compile_problem(path, content)
            if problem:
                compiled.append(problem)
        elif path.endswith(".ipynb"):
            problem = notebook_problem(path, content, (before or {}).get(path))
            if problem:
                notebooks.append(problem)
    return compiled, notebooks


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
