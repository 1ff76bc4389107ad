"""The review at the scale of a big repository: sympy, a one-line change, checks vs one test file.

python benchmarks/review_scale.py --repo DIR [--budget S] [--only PART ...] [--cases core,leaf]
    [--sequential] [--skip-difflib]

``DIR`` is a git checkout or mirror of sympy (only read: it is cloned with ``--shared`` into a
temp dir). Two cases: a comment inside ``Mul.flatten`` in ``sympy/core/mul.py`` (a core module
thousands of tests reach) and a comment in a leaf module. Each case reviews the change the way
the agent's review round does (``run_checks`` under bubblewrap: select, lint, related tests in
the changed copy within the budget, the baseline in the unchanged copy), then repeats the round
on the same diff (a fix round that changed nothing), and compares with the baseline: running the
single most related test file directly with ``python -m pytest -q FILE`` in the checkout.
Wall and CPU per step; target: first review round <= 3x the baseline. CPU is this process, its
waited-for children, and the processes inside bubblewrap, which getrusage never sees (sampled
from /proc every 50 ms, see ``_cpu.py``).

Then the whole scripted session per case (search, view, edit, finish, review with fix rounds:
``Agent.run`` with a scripted model, so every second is ours) against the same baseline, and
the costs around it, each beside a peer measured in the same run: the search tool per
whole-repo call (with and without its git grep first pass, same answers), the scratch tree
(a fresh copy per run vs the copy the kernel keeps per project and brings up to date; which
cheaper ways exist here), bytecode in the kept copy (off vs written and kept, with and without
the project's own .pyc), the first ``%%agent`` cell's block time in a fresh kernel (vs importing
the SDK it used to import) and a 5,000-hunk diff (anchored vs difflib; ``--skip-difflib`` leaves
out the minute difflib takes).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _cpu import SandboxedCPU

from agent_magic.agent import Agent, AgentConfig
from agent_magic.analysis import RepoIndex
from agent_magic.analysis.grep import count_lines, files_without
from agent_magic.events import ChecksDone, PhaseFinished, PhaseStarted
from agent_magic.models.scripted import ScriptedModel
from agent_magic.paths import Project
from agent_magic.review import Scratch, run_checks
from agent_magic.review.kept import KeptTree
from agent_magic.review.memo import CheckMemo
from agent_magic.review.process import Confined, check_env
from agent_magic.sandbox import detect
from agent_magic.staging import Staging
from agent_magic.staging.diff import line_matcher, lines_of, text_hunks
from agent_magic.tools import Toolbox

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


# The parts --only picks: the review rounds (with the direct run of the test file), the whole
# scripted sessions, and the costs around them.
PARTS = ("review", "session", "search", "scratch", "bytecode", "cell", "diff")

SANDBOXED = SandboxedCPU()  # started in main(): the checks' CPU inside bubblewrap


def cpu() -> float:
    """CPU seconds of this process, its waited-for children and the sandboxed processes."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime + SANDBOXED.seconds()


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


def call(name: str, **data: object) -> dict[str, object]:
    """One scripted tool call."""
    return {"name": name, "input": data}


def turn(*calls: dict[str, object]) -> dict[str, object]:
    """One scripted assistant turn."""
    return {"tool_calls": list(calls)}


def session_script(rel: str, anchor: str, search: str) -> list[dict[str, object]]:
    """A whole run: search and view, a one-line edit, finish; the review finds nothing."""
    line = anchor.rstrip("\n")
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    done = turn(call("finish", summary="The change is a comment; nothing to fix."))
    return [
        turn(call("search", pattern=search)),
        turn(
            call(
                "submit_understanding",
                restatement="Add a one-line review comment.",
                acceptance_criteria=["the related tests still pass"],
                assumptions=[],
            )
        ),
        turn(call("view", path=rel, start_line=1, end_line=60)),
        turn(
            call(
                "submit_plan",
                summary="add a comment",
                steps=[{"description": "add a comment line", "files": [rel]}],
                files=[rel],
                risks=[],
            )
        ),
        turn(call("replace", path=rel, old=line, new=f"{line}\n{indent}# reviewed")),
        turn(call("finish", summary="added the comment")),
        *[done] * 8,  # the review and any fix rounds
    ]


@dataclass
class SessionRow:
    """One scripted session's costs."""

    wall: float
    cpu: float
    review_wall: float
    review_cpu: float
    rounds: int
    selected: int
    ran: int
    tests: int
    blockers: int
    stop: str


def full_session(root: Path, rel: str, anchor: str, search: str) -> SessionRow:
    """Run the agent with a scripted model on ``root``; nothing is applied."""
    marks: dict[str, list[float]] = {"wall": [], "cpu": []}
    reports: list = []

    def on_event(event: object) -> None:
        if isinstance(event, (PhaseStarted, PhaseFinished)) and event.phase == "review":
            marks["wall"].append(time.perf_counter())
            marks["cpu"].append(cpu())
        elif isinstance(event, ChecksDone):
            reports.append(event.report)

    model = ScriptedModel(session_script(rel, anchor, search))
    agent = Agent(root, model, AgentConfig(), on_event=on_event)
    session, wall, used = measure(lambda: agent.run(f"add a review comment in {rel}"))
    walls, cpus = marks["wall"], marks["cpu"]
    review_wall = sum(walls[i + 1] - walls[i] for i in range(0, len(walls) - 1, 2))
    review_cpu = sum(cpus[i + 1] - cpus[i] for i in range(0, len(cpus) - 1, 2))
    last = reports[-1] if reports else None
    t = last.tests if last is not None else None
    return SessionRow(
        wall,
        used,
        review_wall,
        review_cpu,
        len(reports),
        len(t.selected) if t else 0,
        len(t.selected) - len(t.not_run) if t else 0,
        len(t.passed) + len(t.newly_failing) + len(t.already_failing) if t else 0,
        len(session.open_blockers),
        session.stop_reason,
    )


SEARCHES = [
    "def flatten",
    r"class \w+\(Mul\)",
    "zzz_not_anywhere",
    r"(?i)def flatten",
    r"(?i)MUL",
    r"\w+_wrt\(",
    r"(?i)is_commutative",
    r"Mul|Add",
    r"\d{5,}",
    r"\bx\b",
    r"^\s+return",
    r"^\s*#",
    r"\d+\.\d+",
    r"\w+\(",
    r"\S+\s+\S+",
]


def search_costs(root: Path) -> list[tuple[str, float, float, bool]]:
    """CPU per whole-repo search: every file read vs the git grep first pass; same answer?"""
    files = RepoIndex(root).files()
    staging = Staging(Project(root))
    plain = Toolbox(staging, lambda: files, search_seconds=120)
    fast = Toolbox(
        staging,
        lambda: files,
        search_seconds=120,
        absent=lambda held, seconds: files_without(root, held, seconds=seconds),
        line_counts=lambda shape, seconds: count_lines(root, shape, seconds=seconds),
    )
    rows = []
    for pattern in SEARCHES:
        slow_out, _, slow_cpu = measure(lambda p=pattern: plain.run("search", {"pattern": p}))
        fast_out, _, fast_cpu = measure(lambda p=pattern: fast.run("search", {"pattern": p}))
        rows.append((pattern, slow_cpu, fast_cpu, slow_out == fast_out))
    return rows


def scratch_costs(root: Path, changes: dict[str, bytes], tmp: str) -> list[tuple[str, str]]:
    """What each way to a scratch tree costs here (wall / CPU s), or why it is not available."""
    rows = []
    _, wall, used = measure(lambda: Scratch(root, changes, parent=tmp).__enter__().close())
    rows.append(("a fresh copy, made and deleted (every run before)", f"{wall:.2f} / {used:.2f}"))
    kept = KeptTree()
    _, wall, used = measure(
        lambda: Scratch(root, changes, parent=tmp, keep=kept).__enter__().close()
    )
    rows.append(("kept copy: the project's first run in the kernel", f"{wall:.2f} / {used:.2f}"))
    _, wall, used = measure(lambda: Scratch(root, {}, parent=tmp, keep=kept).__enter__().close())
    rows.append(("kept copy: every later round and run (sync)", f"{wall:.2f} / {used:.2f}"))
    _, wall, used = measure(kept.close)
    # at the kernel's exit it is left for the next kernel to adopt (benchmarks/kept_restart.py)
    rows.append(("kept copy: deleted (dropped or closed)", f"{wall:.2f} / {used:.2f}"))
    rows.append(("copy-on-write clones (FICLONE)", reflink_note(Path(tmp))))
    rows.append(
        (
            "overlay of the project (bwrap --overlay)",
            f"not available: {bwrap_version()} (--overlay needs 0.9)",
        )
    )
    rows.append(("hard links", "never: a check writing a file in place would write the user's"))
    return rows


def reflink_note(folder: Path) -> str:
    """Whether this filesystem clones files (the kept copy's first run would then cost metadata)."""
    import errno
    import fcntl

    from agent_magic.review.clone import FICLONE

    src, dst = folder / "reflink-probe", folder / "reflink-probe.clone"
    src.write_bytes(b"x" * 65536)
    try:
        with open(src, "rb") as a, open(dst, "wb") as b:
            fcntl.ioctl(b.fileno(), FICLONE, a.fileno())
        return "used: this filesystem clones"
    except OSError as exc:
        return f"not here ({errno.errorcode.get(exc.errno or 0, exc.errno)}): copied instead"
    finally:
        src.unlink(missing_ok=True)
        dst.unlink(missing_ok=True)


def bwrap_version() -> str:
    """``bubblewrap X.Y.Z``, or why not."""
    try:
        return subprocess.run(
            ["bwrap", "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError as exc:
        return f"no bwrap ({exc})"


def bytecode_costs(root: Path, tmp: str) -> list[tuple[str, list[tuple[float, float]]]]:
    """Sandboxed ``import sympy`` in a kept copy, two rounds: bytecode off (before) vs written
    and kept (now), for a project with cached bytecode and one without (a fresh clone)."""
    bare = Path(tmp) / "sympy-no-pyc"
    subprocess.run(["git", "clone", "-q", "--shared", str(root), str(bare)], check=True)
    rows = []
    for label, project in (("project with .pyc", root), ("project without .pyc", bare)):
        cells: list[tuple[float, float]] = []
        for write in (False, True):
            kept = KeptTree()
            confined = Confined(detect(), hide=(project,))
            for _ in range(2):
                with Scratch(project, {}, parent=tmp, keep=kept) as copy:
                    _, wall, used = measure(
                        lambda c=copy, w=write, f=confined: f.run(
                            [sys.executable, "-c", "import sympy"],
                            tree=c.path,
                            output_path=c.artifacts / "import.log",
                            timeout=300,
                            env=check_env([c.path], write_bytecode=w),
                        )
                    )
                cells.append((wall, used))
            kept.close()
        rows.append((label, cells))
    return rows


CELL = """
import os, sys, time, tempfile, subprocess
from pathlib import Path
from agent_magic.testing.fake_api import FakeAnthropic
root = Path(tempfile.mkdtemp()) / "proj"
root.mkdir()
(root / "m.py").write_text("x = 1\\n")
subprocess.run(["git", "init", "-q", str(root)], check=True)
with FakeAnthropic([{"text": "ok"}] * 10) as server:
    os.environ.update(ANTHROPIC_BASE_URL=server.base_url, ANTHROPIC_API_KEY="sk-ant-bench")
    from IPython.core.interactiveshell import InteractiveShell
    ip = InteractiveShell.instance()
    ip.config.AgentMagics.view = "widgets"  # as a notebook kernel detects
    start = time.perf_counter()
    ip.run_line_magic("load_ext", "agent_magic")
    print("LOAD", time.perf_counter() - start, flush=True)
    if SETTLED:  # the extension was loaded a while before the cell: its warm-up is over
        ip.magics_manager.registry["AgentMagics"].warmup.wait()
    opts = f"--view widgets --project {root} --model claude-sonnet-4-5"
    start = time.perf_counter()
    ip.run_cell_magic("agent", opts, "say hi")
    print("BLOCK", time.perf_counter() - start, flush=True)
    os._exit(0)
"""
SDK = "import time; t = time.perf_counter(); import anthropic; print('BLOCK', time.perf_counter() - t)"


def block_seconds(code: str, pycache: str, tag: str = "BLOCK") -> float:
    """What ``code`` prints after ``tag``, run in a fresh interpreter (a fresh kernel).

    With bytecode caches, as a user's kernel has them (this machine may turn them off): they go
    to ``pycache``, warmed by a first run that is not counted.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
            env=env,
        )
    for line in proc.stdout.splitlines():
        if line.startswith(tag):
            return float(line.split()[1])
    raise RuntimeError(proc.stderr[-2000:])


def diff_costs(with_difflib: bool) -> list[tuple[str, float]]:
    """CPU of the hunks of a 50,000-line file with 5,000 scattered one-line changes."""
    lines = [f"value_{i} = compute({i})\n" for i in range(50_000)]
    changed = [ln.replace(")", ") + 1") if i % 10 == 5 else ln for i, ln in enumerate(lines)]
    before, after = "".join(lines), "".join(changed)
    hunks, _, used = measure(lambda: text_hunks("big.py", before, after))
    rows = [(f"anchored ({len(hunks):,} hunks)", used)]
    if with_difflib:
        a, b = lines_of(before), lines_of(after)
        _, _, plain = measure(
            lambda: list(line_matcher(a, b, len(a) * len(b)).get_grouped_opcodes(3))
        )
        rows.append(("difflib on the whole file (before)", plain))
    return rows


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
    parser.add_argument("--skip-difflib", action="store_true", help="no difflib baseline")
    parser.add_argument(
        "--only",
        choices=PARTS,
        action="append",
        help="run only these parts (repeatable; default: all): " + ", ".join(PARTS),
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="the review rounds (not the sessions) test the unchanged copy after the changed "
        "one, as on one CPU",
    )
    parser.add_argument(
        "--cases",
        default="core,leaf",
        help="which cases, comma-separated (default: core,leaf)",
    )
    args = parser.parse_args()
    args.only = set(args.only or PARTS)
    args.cases = [c for c in CASES if c[0].split(":")[0] in args.cases.split(",")]
    with SANDBOXED:
        run(args)


def run(args: argparse.Namespace) -> None:
    """Every table, in one temp dir."""
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
        sessions: list[tuple[str, float, SessionRow]] = []
        for label, rel, anchor, direct in args.cases:
            if not args.only & {"review", "session"}:
                break
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
            if "review" in args.only:
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
                        parallel=False if args.sequential else None,
                    )

                report, wall, used = measure(review)
                _, again_wall, again_cpu = measure(review)
                memo.tree.close()
                memo.unchanged.close()
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
                print(
                    f"{label}: tests {t.elapsed:.1f} s, baseline ran: {t.baseline_ran}; "
                    + "; ".join(report.notes),
                    flush=True,
                )
            if "session" in args.only:
                name = anchor.split("(")[0].strip()
                sessions.append((label, base_wall, full_session(root, rel, anchor, name)))
        print(f"sandbox: {sandbox.describe()}\n")
        if "review" in args.only:
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
        if "session" in args.only:
            print(
                "\n| whole scripted session | baseline file wall | session wall / CPU s "
                "| review wall / CPU s (rounds) | review x baseline | test files selected / run "
                "| tests run | blockers | stop |"
            )
            print("|---|---|---|---|---|---|---|---|---|")
            for label, bw, r in sessions:
                print(
                    f"| {label} | {bw:.1f} | {r.wall:.1f} / {r.cpu:.1f} "
                    f"| {r.review_wall:.1f} / {r.review_cpu:.1f} ({r.rounds}) "
                    f"| {r.review_wall / bw:.1f}x | {r.selected} / {r.ran} | {r.tests} "
                    f"| {r.blockers} | {r.stop} |"
                )
        if "search" in args.only:
            print(
                "\n| search, whole repo | every file read: CPU s "
                "| git grep first pass: CPU s | same |"
            )
            print("|---|---|---|---|")
            for pattern, slow, fast, same in search_costs(root):
                print(f"| `{pattern}` | {slow:.2f} | {fast:.2f} | {'yes' if same else 'NO'} |")
        if "scratch" in args.only:
            _, rel, anchor, _ = CASES[0]
            print("\n| scratch tree of sympy | wall / CPU s |\n|---|---|")
            for label, cost in scratch_costs(root, one_line_change(root, rel, anchor), tmp):
                print(f"| {label} | {cost} |")
        if "bytecode" in args.only:
            print(
                "\n| sandboxed `import sympy` in the kept copy, wall / CPU s | bytecode off "
                "(before): round 1 | round 2 | written and kept (now): round 1 | round 2 |"
            )
            print("|---|---|---|---|---|")
            for label, cells in bytecode_costs(root, tmp):
                print(f"| {label} | " + " | ".join(f"{w:.2f} / {c:.2f}" for w, c in cells) + " |")
        if "cell" in args.only:
            pycache = str(Path(tmp) / "pycache")
            at_once, settled = "SETTLED = False\n" + CELL, "SETTLED = True\n" + CELL
            blocks = [
                ("`%load_ext agent_magic`", block_seconds(at_once, pycache, "LOAD")),
                (
                    "the cell right after `%load_ext` (warm-up still importing)",
                    block_seconds(at_once, pycache),
                ),
                ("the cell, `%load_ext` earlier (warm-up done)", block_seconds(settled, pycache)),
                (
                    "`import anthropic` alone (what the cell once imported)",
                    block_seconds(SDK, pycache),
                ),
            ]
            print("\n| first %%agent cell, fresh kernel, bytecode cached | blocks (wall s) |")
            print("|---|---|")
            for label, seconds in blocks:
                print(f"| {label} | {seconds:.2f} |")
        if "diff" in args.only:
            print("\n| 50,000-line file, 5,000 changes | CPU s |\n|---|---|")
            for label, used in diff_costs(not args.skip_difflib):
                print(f"| {label} | {used:.2f} |")


if __name__ == "__main__":
    main()
