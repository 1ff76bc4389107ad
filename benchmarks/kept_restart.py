"""A restarted kernel's first review round: its two scratch copies made anew vs adopted.

python benchmarks/kept_restart.py --repo DIR [--repeat N] [--change REL] [--next-change REL]

``DIR`` is a project (e.g. a sympy checkout; only read). Each repeat starts a fresh Python
process ("a kernel") with no scratch copy left anywhere, which makes the review's two kept
copies (the changed one with a one-line change in ``REL`` staged, the unchanged one) and then
brings them up to date once more (its second round), and is killed (SIGKILL: no exit handler).
A second fresh process then does a round with a one-line change in ``--next-change`` (a new
task after the restart) in the same temp folder, adopting the copies the dead one left
(``review.kept.adopt``). Wall and CPU seconds are measured inside each
process around the scratch trees alone; median of the repeats. A fresh copy that is never kept
(what a busy kept copy falls back to) is measured beside, in the first process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

KERNEL = """
import json, os, signal, sys, time
from pathlib import Path
from agent_magic.review.kept import KeptTrees
from agent_magic.review.scratch import Scratch

root, work, rel = Path(sys.argv[1]).resolve(), Path(sys.argv[2]), sys.argv[3]
change = {rel: (root / rel).read_bytes() + b"# reviewed\\n"}


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


LEFT = set(work.iterdir()) if work.is_dir() else set()  # a dead kernel's copies


def round_():
    out = {}
    for role, staged in (("changed", change), ("unchanged", {})):
        kept = trees.for_project(root, role)
        with Scratch(root, staged, parent=work, keep=kept) as copy:
            out[role] = (copy.base in LEFT, kept.copies)
    return out


trees = KeptTrees()
rows = {}
wall, cpu, first = timed(round_)
rows["first"] = (wall, cpu, first)
wall, cpu, second = timed(round_)
rows["second"] = (wall, cpu, second)
if sys.argv[4] == "fresh":
    wall, cpu, _ = timed(lambda: Scratch(root, change, parent=work / "fresh").__enter__().close())
    rows["fresh"] = (wall, cpu, None)
print(json.dumps(rows), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def kernel(repo: Path, work: Path, rel: str, also_fresh: bool) -> dict[str, list[object]]:
    """One fresh process's rounds (killed at the end); its measured rows."""
    proc = subprocess.run(
        [sys.executable, "-c", KERNEL, str(repo), str(work), rel, "fresh" if also_fresh else "-"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if not proc.stdout:
        raise SystemExit(f"the kernel process failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--change", default="sympy/core/mul.py")
    parser.add_argument("--next-change", default="sympy/core/add.py")
    args = parser.parse_args()
    repo = args.repo.resolve()
    samples: dict[str, list[tuple[float, float]]] = {}
    notes: dict[str, object] = {}
    for _ in range(args.repeat):
        work = Path(tempfile.mkdtemp(prefix="kept_restart_"))
        try:
            new = kernel(repo, work, args.change, also_fresh=True)
            again = kernel(repo, work, args.next_change, also_fresh=False)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for label, (wall, cpu, what) in [
            ("fresh process, no copy left: first round (2 copies made)", new["first"]),
            ("fresh process, a dead kernel's copies: first round (2 adopted)", again["first"]),
            ("the same process's next round (2 synced)", new["second"]),
            ("one fresh copy, never kept (a busy kept copy's fallback)", new["fresh"]),
        ]:
            samples.setdefault(label, []).append((wall, cpu))
            notes[label] = what
    print(
        f"\n{repo.name}: change in {args.change}, after the restart in {args.next_change}; "
        f"median of {args.repeat} runs"
    )
    print(
        "\n| scratch trees of a review round | wall s | CPU s "
        "| adopted, files copied (changed copy; unchanged copy) |\n|---|---|---|---|"
    )
    for label, rows in samples.items():
        wall = statistics.median(w for w, _ in rows)
        cpu = statistics.median(c for _, c in rows)
        what = notes[label]
        detail = (
            "; ".join(f"{'yes' if a else 'no'}, {n:,}" for a, n in what.values())
            if isinstance(what, dict)
            else "-"
        )
        print(f"| {label} | {wall:.2f} | {cpu:.2f} | {detail} |")


if __name__ == "__main__":
    main()
