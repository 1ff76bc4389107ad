"""What the sandbox costs: the review checks with and without bubblewrap, in the same run.

python benchmarks/sandbox_overhead.py [--reps 3] [--mirrors /work/.mirror]

Cases: the sample project (fix the failing test; lint + related tests + whole suite + baseline)
and, when a sympy mirror is there, a one-line change in sympy (related tests only). Each case
runs ``run_checks`` under bubblewrap and unconfined (the --unsandboxed opt-in, same environment
allowlist) in turn, the first mode alternating, ``--reps`` times each; the table shows medians.
Target: <= 10 %.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _mirrors import checkout, find_git_dir

from agent_magic.review import run_checks
from agent_magic.sandbox import Bubblewrap, Unconfined, detect, execute

SAMPLE = HERE.parent / "examples" / "sample_project"
FIX = (
    '    return float(text.strip().lstrip("$"))',
    '    return float(text.strip().lstrip("$").replace(",", ""))',
)
SYMPY_FILE = "sympy/utilities/enumerative.py"


def git_repo(src: Path, dest: Path) -> Path:
    """A committed git copy of ``src``."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "x"]):
        subprocess.run(
            ["git", "-c", "user.name=b", "-c", "user.email=b@x", *args],
            cwd=dest,
            check=True,
            capture_output=True,
        )
    return dest


def sample_case(tmp: Path) -> tuple[str, Path, dict[str, bytes]]:
    root = git_repo(SAMPLE, tmp / "sample")
    text = (root / "shoplytics" / "cleaning.py").read_text().replace(*FIX)
    return (
        "sample project (lint, related + full suite, baseline)",
        root,
        {"shoplytics/cleaning.py": text.encode()},
    )


def sympy_case(tmp: Path, mirrors: Path) -> tuple[str, Path, dict[str, bytes]] | None:
    try:
        git_dir = find_git_dir(mirrors, "sympy/sympy")
    except SystemExit:
        return None
    root = tmp / "sympy"
    checkout(git_dir, "HEAD", root)
    text = (root / SYMPY_FILE).read_text() + "\n# one-line change\n"
    return "sympy, one-line change (related tests)", root, {SYMPY_FILE: text.encode()}


def startup(sandbox, tmp: Path, reps: int = 20) -> float:
    """Median seconds to run ``python -c pass`` once."""
    tree = tmp / "tree"
    tree.mkdir(exist_ok=True)
    times = []
    for _ in range(reps):
        result = execute(
            sandbox,
            [sys.executable, "-c", "pass"],
            cwd=tree,
            writable=tree,
            output_path=tmp / "startup.log",
            timeout=30,
        )
        times.append(result.elapsed)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    ap.add_argument("--no-sympy", action="store_true")
    args = ap.parse_args()
    bwrap = detect()
    if not isinstance(bwrap, Bubblewrap):
        raise SystemExit(f"bubblewrap is needed: {bwrap.describe()}")
    modes = {"unconfined": Unconfined(), "bubblewrap": bwrap}
    rows = []
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp_name:
        tmp = Path(tmp_name)
        starts = {name: startup(sb, tmp) for name, sb in modes.items()}
        rows.append(
            (
                "start `python -c pass` (median of 20)",
                starts["unconfined"],
                starts["bubblewrap"],
                "",
            )
        )
        cases = [sample_case(tmp)]
        if not args.no_sympy:
            case = sympy_case(tmp, args.mirrors)
            if case is not None:
                cases.append(case)
        for label, root, changes in cases:
            times: dict[str, list[float]] = {name: [] for name in modes}
            outcome = ""
            for rep in range(args.reps):
                # alternate which mode goes first, so warm caches favour neither
                order = list(modes.items()) if rep % 2 == 0 else list(modes.items())[::-1]
                for name, sandbox in order:
                    start = time.perf_counter()
                    report = run_checks(
                        root, changes, sandbox=sandbox, timeout=600, workdir=tmp / "work"
                    )
                    times[name].append(time.perf_counter() - start)
                    t = report.tests
                    outcome = (
                        f"{t.scope}: {len(t.passed)} passed, {len(t.fixed)} fixed, "
                        f"{len(t.newly_failing)} new failures"
                    )
            rows.append(
                (
                    label,
                    statistics.median(times["unconfined"]),
                    statistics.median(times["bubblewrap"]),
                    outcome,
                )
            )
    print(f"\n{'case':<54} {'unconfined':>10} {'bwrap':>8} {'overhead':>9}  tests")
    for label, loose, boxed, outcome in rows:
        overhead = (boxed - loose) / loose * 100
        print(f"{label:<54} {loose:>9.3f}s {boxed:>7.3f}s {overhead:>8.1f}%  {outcome}")
    print("\ntarget: overhead <= 10 % of the review time")


if __name__ == "__main__":
    main()
