"""The review at the scale of a big repository: sympy, a one-line change, checks vs one test file.

python benchmarks/review_scale.py --repo DIR [--budget S]

``DIR`` is a git checkout or mirror of sympy (only read: it is cloned with ``--shared`` into a
temp dir). Two cases: a comment inside ``Mul.flatten`` in ``sympy/core/mul.py`` (a core module
thousands of tests reach) and a comment in a leaf module. Each case reviews the change the way
the agent's review round does (``run_checks`` under bubblewrap: select, lint, related tests in
the changed copy within the budget, the baseline in the unchanged copy), then repeats the round
on the same diff (a fix round that changed nothing), and compares with the baseline: running the
single most related test file directly with ``python -m pytest -q FILE`` in the checkout.
Wall and CPU (this process + children) per step; target: first review round <= 3x the baseline.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from agent_magic.review import Scratch, run_checks
from agent_magic.review.memo import CheckMemo
from agent_magic.sandbox import detect

CASES = [
    (
        "core: sympy/core/mul.py (Mul.flatten)",
        "sympy/core/mul.py",
        "    def flatten(cls, seq):\n",
        "sympy/core/tests/test_arit.py",
    ),
    (
        "leaf: sympy/utilities/enumerative.py",
        "sympy/utilities/enumerative.py",
        "def part_key(part):\n",
        "sympy/utilities/tests/test_enumerative.py",
    ),
]


def cpu() -> float:
    """CPU seconds of this process and its waited-for children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def measure(fn):
    """(result, wall seconds, CPU seconds) of ``fn()``."""
    wall, used = time.perf_counter(), cpu()
    out = fn()
    return out, time.perf_counter() - wall, cpu() - used


def one_line_change(root: Path, rel: str, anchor: str) -> dict[str, bytes]:
    """The file with a comment line added after ``anchor`` (inside the definition)."""
    text = (root / rel).read_text(encoding="utf-8")
    assert anchor in text, f"{anchor!r} not in {rel}"
    indent = " " * (len(anchor) - len(anchor.lstrip()) + 4)
    return {rel: text.replace(anchor, anchor + f"{indent}# reviewed\n", 1).encode()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="a sympy git checkout or mirror")
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="test budget in seconds (default: the review's own)",
    )
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    sandbox = detect()
    with tempfile.TemporaryDirectory(prefix="review_scale_") as tmp:
        root = Path(tmp) / "sympy"
        subprocess.run(["git", "clone", "-q", "--shared", str(args.repo), str(root)], check=True)
        # The user's tree has bytecode from earlier runs; so does the baseline below.
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "-j", "2", "sympy"],
            cwd=root,
            check=False,
            capture_output=True,
        )
        rows = []
        for label, rel, anchor, direct in CASES:
            changes = one_line_change(root, rel, anchor)
            _, base_wall, base_cpu = measure(
                lambda d=direct: subprocess.run(
                    [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", d],
                    cwd=root,
                    capture_output=True,
                    check=False,
                )
            )
            _, copy_wall, copy_cpu = measure(
                lambda c=changes: Scratch(root, c, parent=tmp).__enter__().close()
            )
            memo = CheckMemo()

            def review(c=changes, m=memo):
                return run_checks(
                    root,
                    c,
                    timeout=args.timeout,
                    budget=args.budget,
                    sandbox=sandbox,
                    memo=m,
                    workdir=Path(tmp) / "w",
                )

            report, wall, used = measure(review)
            _, again_wall, again_cpu = measure(review)
            t = report.tests
            blockers = [f for f in report.findings() if f.severity == "blocker"]
            rows.append(
                (
                    label,
                    base_wall,
                    base_cpu,
                    wall,
                    used,
                    again_wall,
                    again_cpu,
                    len(t.selected),
                    len(t.selected) - len(t.not_run),
                    len(t.passed) + len(t.newly_failing) + len(t.already_failing),
                    copy_wall,
                    copy_cpu,
                    len(blockers),
                    t.selected[:1],
                )
            )
        print(f"sandbox: {sandbox.describe()}\n")
        print(
            "| case | baseline file wall / CPU s | review wall / CPU s | x baseline (wall) "
            "| unchanged round wall / CPU s | test files selected / run | tests run "
            "| one scratch tree wall / CPU s | blockers | first selected |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for label, bw, bc, w, c, aw, ac, sel, ran, tests, sw, sc, blk, first in rows:
            print(
                f"| {label} | {bw:.1f} / {bc:.1f} | {w:.1f} / {c:.1f} | {w / bw:.1f}x "
                f"| {aw:.2f} / {ac:.2f} | {sel} / {ran} | {tests} | {sw:.1f} / {sc:.1f} "
                f"| {blk} | {', '.join(first)} |"
            )


if __name__ == "__main__":
    main()
