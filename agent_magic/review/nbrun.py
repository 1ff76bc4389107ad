"""Runs inside the sandbox: execute one notebook with nbclient and print the outcome as JSON.

Self-contained on purpose (only nbformat and nbclient): its source is passed to the sandboxed
interpreter with ``-c``, so the kernel, its ZMQ sockets and everything the cells start live
inside the sandbox, and agent_magic itself need not be visible there.
"""

from __future__ import annotations

import json
import sys
import time

MARKER = "@@agent_magic_notebook_result@@"
SKIP_TAGS = frozenset({"skip-agent", "expensive", "skip-execution"})


def skipped(cell, tags=SKIP_TAGS) -> bool:
    """Whether a cell is tagged or marked (``metadata.expensive``) to be left out of a run."""
    metadata = cell.get("metadata") or {}
    return bool(set(metadata.get("tags") or ()) & set(tags)) or bool(metadata.get("expensive"))


def run(path: str, timeout: float, kernel_name: str) -> dict:
    """Execute the notebook at ``path`` in its own directory; the first failure, if any.

    A failure names its cell, ``ename``/``evalue`` (to tell the same failure in two runs apart
    from a new one) and the cell's source.
    """
    import os

    import nbformat
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        allow_errors=False,
        resources={"metadata": {"path": os.path.dirname(path)}},
    )
    deadline = time.monotonic() + timeout
    index = -1
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or skipped(cell) or not cell.source.strip():
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CellTimeoutError(f"notebook timed out after {timeout:g}s")
                client.timeout = max(1, int(remaining))  # the whole run shares one budget
                client.execute_cell(cell, index)
    except CellExecutionError as exc:
        ename, evalue = getattr(exc, "ename", "") or "", getattr(exc, "evalue", "") or ""
        error = f"{ename}: {evalue}" if ename else _last_line(exc)
        return _failure(nb, index, error, ename=ename, evalue=evalue)
    except (CellTimeoutError, TimeoutError) as exc:
        return _failure(nb, index, f"timed out: {_last_line(exc)}", timed_out=True)
    except DeadKernelError as exc:
        return _failure(nb, index, f"kernel died: {_last_line(exc)}", ename="DeadKernelError")
    except NoSuchKernel as exc:
        message = f"no kernel named {kernel_name!r}: {_last_line(exc)}"
        return _failure(nb, None, message, ename="NoSuchKernel", evalue=kernel_name)
    return {"cell": None, "message": "", "timed_out": False}


def _failure(nb, index, message, *, ename="", evalue="", timed_out=False) -> dict:
    source = nb.cells[index].source if index is not None and 0 <= index < len(nb.cells) else ""
    return {
        "cell": index,
        "message": message,
        "timed_out": timed_out,
        "ename": ename,
        "evalue": evalue[:2000],
        "source": source[:4000],
    }


def _last_line(exc: BaseException) -> str:
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else type(exc).__name__


if __name__ == "__main__":
    outcome = run(sys.argv[1], float(sys.argv[2]), sys.argv[3])
    print("\n" + MARKER + json.dumps(outcome), flush=True)
