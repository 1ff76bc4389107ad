"""Execute a changed notebook in a scratch kernel; report the first failing cell."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from agent_magic.review.report import CheckProblem

SKIP_TAGS = frozenset({"skip-agent", "expensive", "skip-execution"})


def skipped(cell: Mapping, tags: Iterable[str] = SKIP_TAGS) -> bool:
    """Whether a cell is tagged or marked (``metadata.expensive``) to be left out of a run."""
    metadata = cell.get("metadata") or {}
    return bool(set(metadata.get("tags") or ()) & set(tags)) or bool(metadata.get("expensive"))


def execute_notebook(
    path: Path, rel: str, *, timeout: float, env: Mapping[str, str] | None = None,
    kernel_name: str = "python3",
) -> tuple[CheckProblem | None, bool]:
    """Run the notebook at ``path`` in its own directory; (first failure or None, timed out)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name=kernel_name, allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    deadline = time.monotonic() + timeout
    index = -1
    kernel_options = {"env": dict(env)} if env is not None else {}
    try:
        with client.setup_kernel(**kernel_options):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or skipped(cell) or not cell.source.strip():
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CellTimeoutError(f"notebook timed out after {timeout:g}s")
                client.timeout = max(1, int(remaining))  # the whole run shares one budget
                client.execute_cell(cell, index)
    except CellExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}" if getattr(exc, "ename", "") else _last_line(exc)
        return CheckProblem(path=rel, cell=index, message=error), False
    except (CellTimeoutError, TimeoutError) as exc:
        message = f"timed out: {_last_line(exc)}"
        return CheckProblem(path=rel, cell=index, message=message), True
    except DeadKernelError as exc:
        return CheckProblem(path=rel, cell=index, message=f"kernel died: {_last_line(exc)}"), False
    return None, False


def _last_line(exc: BaseException) -> str:
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else type(exc).__name__
