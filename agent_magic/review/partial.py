"""Checks of a partial apply: what exactly the selected hunks give, before they are written.

The review checked the whole change. A user who takes the test file but not the module it
tests gets a broken suite the whole change's "all green" says nothing about. So when the
selection is not the whole change, the fast checks (compile, lint, related tests; no
notebooks, no full suite) run again on the selection in a sandboxed scratch copy, and the
applied files that import a file left out are named. When the checks cannot run, the record
says the change was checked as a whole and applied in part.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent_magic.analysis.graph import module_table, resolve_module
from agent_magic.analysis.scan import scan_file
from agent_magic.errors import UserError
from agent_magic.review.report import CheckReport

if TYPE_CHECKING:
    from agent_magic.staging.changeset import Changeset

PARTIAL_TIMEOUT = 120.0  # the review's test timeout: its related tests get the same budget

NOT_REVIEWED = "the change was not reviewed"

Checker = Callable[..., CheckReport]


@dataclass
class SelectionCheck:
    """What was checked for a selection that is only part of the change."""

    selection: frozenset[str]
    applied: list[str] = field(default_factory=list)  # files the selection writes
    left_out: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (left, hunks)
    needs: dict[str, list[str]] = field(default_factory=dict)  # applied file -> left-out imports
    report: CheckReport | None = None  # the selection's own checks; None: not re-run
    why_not: str = ""  # why the checks were not re-run

    @property
    def rechecked(self) -> bool:
        """Whether the selection's own checks ran (a sandbox was there to run them)."""
        return self.report is not None and not self.report.not_run

    @property
    def blocks(self) -> bool:
        """The selection alone fails a check: writing it wants the user's say-so."""
        return self.rechecked and self.report is not None and not self.report.ok

    def dependency_text(self) -> str:
        """The left-out files the applied ones import, in one sentence ("" if none)."""
        parts = [
            f"`{needed}` (imported by `{user}`)"
            for user, needed_list in sorted(self.needs.items())
            for needed in needed_list
        ]
        return "left out but needed: " + ", ".join(parts) if parts else ""

    def record_line(self) -> str:
        """The checks of the applied selection, for the one-line record."""
        needed = self.dependency_text()
        if self.rechecked and self.report is not None:
            line = f"the selection re-checked on its own: {self.report.headline()}"
        elif self.why_not == NOT_REVIEWED:
            line = "not checked (review off), applied in part"
        else:
            line = "checked as a whole, applied in part" + (
                f" (the selection was not re-checked: {self.why_not})" if self.why_not else ""
            )
        return f"{line}; {needed}" if needed else line

    def markdown(self) -> str:
        """The selection's checks for the panel: headline, what was left out, the report."""
        if self.rechecked and self.report is not None:
            verdict = self.report.verdict()
        elif self.why_not == NOT_REVIEWED:
            verdict = "not checked (review off)"
        else:
            verdict = "checked as a whole, applied in part"
        lines = [f"## Checks of the selected hunks: {verdict}", "", self.record_line(), ""]
        if self.left_out:
            lines.append("Left out of the change:")
            lines += [
                f"- `{path}`: {left} of {total} hunk(s)"
                for path, (left, total) in sorted(self.left_out.items())
            ]
            lines.append("")
        if self.rechecked and self.report is not None:
            body = self.report.summary().split("\n", 1)
            lines.append(body[1].strip() if len(body) > 1 else "")
        return "\n".join(lines).rstrip() + "\n"


def is_partial(changeset: Changeset, selection: set[str] | frozenset[str] | None) -> bool:
    """Whether ``selection`` leaves out any hunk of the change (None selects all)."""
    return selection is not None and set(changeset.hunk_ids()) - set(selection) != set()


def left_out(
    changeset: Changeset, selection: set[str] | frozenset[str]
) -> dict[str, tuple[int, int]]:
    """Per file with hunks left out: (hunks left out, hunks of the file)."""
    out = {}
    for change in changeset.files:
        ids = change.hunk_ids()
        missing = [h for h in ids if h not in selection]
        if missing:
            out[change.path] = (len(missing), len(ids))
    return out


def selected_contents(
    changeset: Changeset, selection: set[str] | frozenset[str]
) -> dict[str, bytes | None]:
    """Path -> the bytes the selection would write (None: deleted)."""
    return {
        path: data
        for _change, targets in changeset.writes(set(selection))
        for path, data in targets.items()
    }


def needed_files(
    contents: Mapping[str, bytes | None], missing: Mapping[str, tuple[int, int]]
) -> dict[str, list[str]]:
    """Applied python files (and notebooks) -> the left-out files of the change they import."""
    candidates = sorted(missing)
    table = module_table(candidates)
    out: dict[str, list[str]] = {}
    for path, data in sorted(contents.items()):
        if data is None or not path.endswith((".py", ".ipynb")):
            continue
        imports = scan_file(path, data).imports
        hits = {
            candidates[i]
            for i in (resolve_module(name, table) for name in imports)
            if i is not None and candidates[i] != path
        }
        if hits:
            out[path] = sorted(hits)
    return out


def check_selection(
    root: str | os.PathLike[str],
    changeset: Changeset,
    selection: set[str] | frozenset[str],
    *,
    test_command: list[str] | None = None,
    run: bool = True,
    checker: Checker | None = None,
    timeout: float = PARTIAL_TIMEOUT,
    **options: Any,
) -> SelectionCheck:
    """Check what the selected hunks alone give; ``run=False`` only names the left-out imports.

    ``options`` go to the checker (``sandbox``, ``memo``, ``stop``, ``workdir``).
    """
    contents = selected_contents(changeset, selection)
    missing = left_out(changeset, selection)
    result = SelectionCheck(
        frozenset(selection),
        applied=sorted(contents),
        left_out=missing,
        needs=needed_files(contents, missing),
    )
    if not run:
        result.why_not = NOT_REVIEWED
        return result
    if checker is None:
        from agent_magic.review.checks import run_checks

        checker = run_checks
    try:
        result.report = checker(
            root,
            contents,
            test_command=test_command,
            timeout=timeout,
            run_notebooks=False,
            full_suite=False,
            **options,
        )
    except (UserError, OSError) as exc:
        result.why_not = str(exc)
        return result
    if result.report.not_run:
        result.why_not = result.report.not_run
    return result
