"""The demo: run examples/quickstart.ipynb headless on a fresh copy of the sample project.

    python examples/demo.py [--out DIR]
    python examples/demo.py --lab [--out DIR]   (the same notebook, opened in JupyterLab)

With ANTHROPIC_API_KEY set the agent uses Claude; without it, a scripted model replays a recorded
session of the three quickstart tasks, fully offline. Prints, for each task, the plan, the diff,
the review findings and the test results, then the apply, the undo and the history. Exits
non-zero if any cell fails or the project's tests do not end as expected.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "sample_project"
QUICKSTART = HERE / "quickstart.ipynb"
SCRIPT = HERE / "scripts" / "quickstart.json"


def make_project(parent: Path) -> Path:
    """Copy the sample project into ``parent`` and make it a git repo with one commit."""
    root = parent / "shoplytics"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "initial"]):
        subprocess.run(
            ["git", "-c", "user.name=demo", "-c", "user.email=demo@example.com", *args],
            cwd=root,
            check=True,
        )
    return root


def make_notebook_project(parent: Path) -> Path:
    """A fresh sample project with the quickstart notebook at its root, as the notebook expects."""
    root = make_project(parent)
    shutil.copy(QUICKSTART, root / QUICKSTART.name)
    return root


def run_tests(root: Path) -> tuple[bool, str]:
    """Run the project's tests; return (passed, last line of pytest's output)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln for ln in result.stdout.splitlines() if ln.strip()]
    return result.returncode == 0, lines[-1] if lines else result.stderr.strip()[-200:]


def cell_text(cell) -> str:
    """What a headless run shows of a cell: its streams, text results and errors."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            data = out.get("data", {})
            parts.append(data.get("text/markdown") or data.get("text/plain", ""))
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "\n".join(p.rstrip() for p in parts if p.strip())


def show_start(cell, cell_index: int) -> None:
    """Print a code cell's source as it starts, so the demo shows progress as it goes."""
    if cell.cell_type == "code":
        print(f"\n{'=' * 78}\n>>> {cell.source}\n{'-' * 78}", flush=True)


def show_result(cell, cell_index: int, execute_reply=None) -> None:
    """Print what a code cell showed, as soon as it has run."""
    if cell.cell_type == "code":
        print(cell_text(cell), flush=True)


def execute(notebook: Path, cwd: Path, timeout: int) -> tuple[object, str | None]:
    """Execute a notebook with nbclient, printing each cell as it runs; return it and the first
    error, if any."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        on_cell_start=show_start,
        on_cell_executed=show_result,
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        return nb, str(exc).strip().splitlines()[-1]
    return nb, None


def open_in_lab(work: Path, launch=os.execvp) -> int:
    """Open the quickstart in JupyterLab on a fresh project copy (``launch`` replaces this process)."""
    root = make_notebook_project(work)
    print(
        f"project: {root}\nopening {QUICKSTART.name} in JupyterLab: Run All, then Apply and save",
        flush=True,
    )
    os.chdir(root)
    # Containers often run as root, where JupyterLab refuses to start without being told.
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    launch(sys.executable, [sys.executable, "-m", "jupyterlab", *as_root, QUICKSTART.name])
    return 0


def main(argv: list[str] | None = None, launch=os.execvp) -> int:
    """Run the demo; 0 when every step worked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="where to keep the project and executed notebook")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument(
        "--lab",
        action="store_true",
        help="open the quickstart in JupyterLab instead of running it headless",
    )
    args = parser.parse_args(argv)

    if os.environ.get("ANTHROPIC_API_KEY"):
        print("agent_magic demo: using Claude (ANTHROPIC_API_KEY is set); this costs a little.")
    else:
        os.environ["AGENT_MAGIC_MODEL"] = f"scripted:{SCRIPT}"
        print(
            "agent_magic demo: running OFFLINE with the scripted model (no ANTHROPIC_API_KEY): "
            "a recorded session of the three quickstart tasks."
        )
    work = args.out or Path(tempfile.mkdtemp(prefix="agent-magic-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.lab:
        return open_in_lab(work, launch)
    root = make_project(work)
    print(f"project: {root}\n", flush=True)

    passed, line = run_tests(root)
    print(f"tests before: {line}\n", flush=True)
    nb, error = execute(QUICKSTART, root, args.timeout)
    executed = work / "quickstart.executed.ipynb"
    import nbformat

    nbformat.write(nb, executed)

    passed, line = run_tests(root)
    print(f"\n{'=' * 78}\ntests after (tasks 1 and 2 applied, task 3 undone): {line}")
    status = subprocess.run(
        ["git", "status", "--short"], cwd=root, capture_output=True, text=True, check=False
    ).stdout
    print("files changed in the project:\n" + (status or "(none)\n"))
    print(f"executed notebook: {executed}")
    problems = []
    if error:
        problems.append(f"a cell failed: {error}")
    if not passed:
        problems.append(f"the project's tests fail after the demo: {line}")
    if "shoplytics/metrics.py" not in status:
        problems.append("task 2's new module was not applied")
    if "analysis.ipynb" in status:
        problems.append("task 3's notebook change was not undone")
    for problem in problems:
        print(f"DEMO FAILED: {problem}", file=sys.stderr)
    if not problems:
        print("demo finished: every step worked.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
