"""Execute a changed notebook in a scratch kernel inside the sandbox; report the first failing cell."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

from agent_magic.review import nbrun
from agent_magic.review.process import Confined
from agent_magic.review.report import CheckProblem

SKIP_TAGS = nbrun.SKIP_TAGS
skipped = nbrun.skipped
# Room for the kernel to start and stop around the cells' own budget.
KERNEL_SLACK = 30.0


def execute_notebook(
    tree: Path,
    rel: str,
    *,
    timeout: float,
    confined: Confined,
    output_path: Path,
    env: Mapping[str, str] | None = None,
    kernel_name: str = "python3",
) -> tuple[CheckProblem | None, bool]:
    """Run ``tree/rel`` confined to ``tree``; (first failure or None, timed out)."""
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
        return CheckProblem(path=rel, message=f"timed out after {timeout:g}s"), True
    outcome = None
    for line in result.lines():
        if line.startswith(nbrun.MARKER):
            outcome = json.loads(line[len(nbrun.MARKER) :])
    if outcome is None:
        tail = result.tail(300).strip().splitlines()
        why = tail[-1] if tail else f"exit code {result.returncode}"
        return CheckProblem(path=rel, message=f"the notebook could not be run: {why}"), False
    if outcome["cell"] is None and not outcome["message"]:
        return None, False
    return (
        CheckProblem(path=rel, cell=outcome["cell"], message=outcome["message"]),
        bool(outcome["timed_out"]),
    )
