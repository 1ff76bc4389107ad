"""Execute changed notebooks in a scratch kernel inside the sandbox, before and after the change.

A notebook that fails is run again as it is in the project (the unchanged copy), so a failure it
already had (a missing package, an outdated style, a data file not in the copy) is not blamed on
the change; an environment problem is named as such.
"""

from __future__ import annotations

import json
import posixpath
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agent_magic.review import nbrun
from agent_magic.review.memo import CheckMemo, digest
from agent_magic.review.process import Confined
from agent_magic.review.report import CheckProblem
from agent_magic.review.scratch import Scratch
from agent_magic.review.testrun import BaselineTree

SKIP_TAGS = nbrun.SKIP_TAGS
skipped = nbrun.skipped
# Room for the kernel to start and stop around the cells' own budget.
KERNEL_SLACK = 30.0

Verdict = Literal["ok", "new", "environment", "already_failing"]


@dataclass(frozen=True)
class NotebookRun:
    """One execution of one notebook: its first failure (None: it ran through), and what it was."""

    problem: CheckProblem | None
    timed_out: bool = False
    ename: str = ""  # the exception's type, as the kernel named it
    evalue: str = ""
    source: str = ""  # the failing cell's source

    @property
    def failed(self) -> bool:
        """Whether the run stopped on an error, a timeout or a kernel that could not run."""
        return self.problem is not None

    def signature(self) -> tuple[str, str]:
        """What makes two failures "the same": the error's type and message, addresses ignored."""
        if self.timed_out:
            return ("timeout", "")
        message = self.evalue if self.ename else (self.problem.message if self.problem else "")
        return (self.ename, _ADDRESS.sub("0x…", message).strip())


_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_MODULE = re.compile(r"No module named '([^']+)'")
_QUOTED = re.compile(r"'([^']+)'\s*$")


def execute_notebook(
    tree: Path,
    rel: str,
    *,
    timeout: float,
    confined: Confined,
    output_path: Path,
    env: Mapping[str, str] | None = None,
    kernel_name: str = "python3",
) -> NotebookRun:
    """Run ``tree/rel`` confined to ``tree``; its first failure, if any."""
    source = Path(nbrun.__file__).read_text(encoding="utf-8")
    path = tree / rel
    command = [sys.executable, "-c", source, str(path), f"{timeout:g}", kernel_name]
    result = confined.run(
        command,
        tree=tree,
        output_path=output_path,
        timeout=timeout + KERNEL_SLACK,
        env=env,
        cwd=path.parent,
    )
    if result.timed_out:
        return NotebookRun(CheckProblem(path=rel, message=f"timed out after {timeout:g}s"), True)
    outcome = None
    for line in result.lines():
        if line.startswith(nbrun.MARKER):
            outcome = json.loads(line[len(nbrun.MARKER) :])
    if outcome is None:
        tail = result.tail(300).strip().splitlines()
        why = tail[-1] if tail else f"exit code {result.returncode}"
        return NotebookRun(CheckProblem(path=rel, message=f"the notebook could not be run: {why}"))
    if outcome["cell"] is None and not outcome["message"]:
        return NotebookRun(None)
    return NotebookRun(
        CheckProblem(path=rel, cell=outcome["cell"], message=outcome["message"]),
        bool(outcome["timed_out"]),
        ename=str(outcome.get("ename") or ""),
        evalue=str(outcome.get("evalue") or ""),
        source=str(outcome.get("source") or ""),
    )


def environment_problem(ename: str, evalue: str) -> str:
    """What the kernel's environment lacks for this error; "" when the error is no such thing."""
    if ename == "ModuleNotFoundError" or (ename == "ImportError" and _MODULE.search(evalue)):
        found = _MODULE.search(evalue)
        return f"missing module {found.group(1)!r}" if found else "missing module"
    if ename == "FileNotFoundError":
        found = _QUOTED.search(evalue)
        return f"missing file {found.group(1)!r}" if found else "missing file"
    if ename == "NoSuchKernel":
        return f"no kernel named {evalue!r} in the environment"
    return ""


def verdict(before: NotebookRun | None, after: NotebookRun) -> Verdict:
    """How the changed notebook's run compares with the unchanged one's (None: no baseline).

    Only a failure the unchanged notebook did not have is the change's; a new failure that is an
    environment problem (the sandboxed kernel lacks a module, a file, a kernel) is named so.
    """
    if not after.failed:
        return "ok"
    if before is not None and before.failed and before.signature() == after.signature():
        return "already_failing"
    if environment_problem(after.ename, after.evalue):
        return "environment"
    return "new"


@dataclass
class NotebookOutcome:
    """Every changed notebook's run in one review round, classified against the baseline."""

    run: list[str] = field(default_factory=list)
    new: list[CheckProblem] = field(default_factory=list)  # the change's failures: blockers
    environment: list[CheckProblem] = field(default_factory=list)  # new, but the environment's
    already_failing: list[CheckProblem] = field(default_factory=list)  # failed before too
    timeouts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def run_notebooks(
    changes: Mapping[str, bytes | None],
    after: Scratch,
    before_tree: BaselineTree | None,
    *,
    timeout: float,
    kernel_name: str,
    confined: Confined,
    env: Mapping[str, str],
    skip: frozenset[str] = frozenset(),
    memo: CheckMemo | None = None,
    content: str = "",
) -> NotebookOutcome:
    """Run each changed notebook in the changed copy; a failing one again in the unchanged copy.

    Only a failing notebook needs telling old from new, so a green one costs one run.
    ``before_tree`` None means no baseline (every failure counts as new). The unchanged
    notebook's run is kept in ``memo`` by the project's ``content``, so fix rounds reuse it.
    ``skip`` names notebooks not to execute (invalid ones).
    """
    outcome = NotebookOutcome()
    memo = memo if memo is not None else CheckMemo()
    for number, (rel, data) in enumerate(sorted(changes.items())):
        if data is None or not rel.endswith(".ipynb") or rel in skip:
            continue
        now = execute_notebook(
            after.path,
            rel,
            timeout=timeout,
            env=env,
            kernel_name=kernel_name,
            confined=confined,
            output_path=after.artifacts / f"notebook-{number}.log",
        )
        outcome.run.append(rel)
        if now.timed_out:
            outcome.timeouts.append(f"notebook {rel}")
        before = None
        if now.failed and before_tree is not None and (after.root / rel).is_file():
            key = digest("notebook", content, rel, kernel_name, timeout)
            before = memo.baselines.get(key)
            if before is None:
                with before_tree() as tree:
                    before = execute_notebook(
                        tree.path,
                        rel,
                        timeout=timeout,
                        env=env,
                        kernel_name=kernel_name,
                        confined=confined,
                        output_path=tree.artifacts / f"notebook-{number}-before.log",
                    )
                if not before.timed_out:
                    memo.baselines[key] = before
        elif now.failed and before_tree is not None:
            outcome.notes.append(f"{rel} is new: no unchanged notebook to compare with")
        classify(outcome, rel, before, now, after.root)
    return outcome


def classify(
    outcome: NotebookOutcome,
    rel: str,
    before: NotebookRun | None,
    now: NotebookRun,
    root: Path,
) -> None:
    """File ``now``'s failure in ``outcome`` as new, environment or already failing.

    A missing file is the environment's when it is outside the project or in the project
    (``root``) but not in the copy; a project file missing in both is the change's mistake.
    """
    kind = verdict(before, now)
    problem = now.problem
    if problem is None:
        return
    lacks = environment_problem(now.ename, now.evalue)
    where = ""
    if lacks.startswith("missing file"):
        where = _file_note(rel, now.evalue, root)
        if kind == "environment" and not where:
            kind = "new"  # a project file that is not there: the change's mistake
    if kind == "new":
        if before is not None and before.problem is not None:
            problem.message += f" (before the change it failed at {_where(before.problem)})"
        outcome.new.append(problem)
        return
    lacks += where
    if kind == "environment":
        problem.message = f"environment: {lacks} in the sandboxed kernel, new with this change ({problem.message})"
        outcome.environment.append(problem)
        return
    problem.message = (
        f"already failed before this change, the same way ({problem.message})"
        + (f"; environment: {lacks}" if lacks else "")
        + "; the cells after it were not checked"
    )
    outcome.already_failing.append(problem)


def _where(problem: CheckProblem) -> str:
    cell = f"cell {problem.cell}" if problem.cell is not None else "start-up"
    return f"{cell}: {problem.message}"


def _file_note(rel: str, evalue: str, root: Path) -> str:
    """Why a missing file is the environment's: outside the project, or not in the copy.

    "" when it would be inside the project and is not there either.
    """
    found = _QUOTED.search(evalue)
    if not found:
        return ""
    name = posixpath.normpath(posixpath.join(posixpath.dirname(rel), found.group(1)))
    if posixpath.isabs(found.group(1)) or name == ".." or name.startswith("../"):
        return " (an absolute path or outside the project: the sandbox shows only its copy)"
    try:
        present = (root / name).exists()
    except OSError:
        present = False
    if present:
        return (
            " (it is in your project but not in the scratch copy: git-ignored, large, "
            "secret or unreadable)"
        )
    return ""
