"""Task-success benchmark: the whole agent on Aider's polyglot Python exercises, any model backend.

For each exercise (instructions in ``.docs/``, a stub, a test file; ``.meta/`` holds the
reference solution and ``.approaches/`` worked solutions, so neither is ever copied) the agent
works in a fresh temporary git repo and runs headless with the instructions as the task; its
staged change is applied as ``%%agent --yes`` would, except that open blocker findings do not
stop the apply: the exercise's tests are the judge here.

Two protocols (``--protocol``), stated in the table:

- ``aider`` (default), as Aider's leaderboard harness: the repo holds only the stub; the agent
  never sees the test source (Aider puts only the solution files in the chat, so its model sees
  the tests' output but never their files); its self-review runs only tests it writes. A failed
  try's output quotes the failing lines of the tests, in Aider's harness too.
- ``open``: the repo also holds the tests (read-only: an edit is a tool error the model sees, and
  counted) and ``.docs/``; the agent may read them and run them in its self-review.

The verdict (``task_verdict.judge``) never runs in the agent's tree: the exercise's pristine tests
run against only its solution files (the stub's names), copied from the applied result into a
fresh directory, under an isolated interpreter and, when it works here, bubblewrap with no network.
Other files the agent wrote are listed per exercise as "touched outside the solution".
With ``--tries 2`` a failed first try gets the verdict's test output (timings stripped, as Aider's
harness does) and Aider's follow-up instruction on the same conversation (``Agent.resume``); a
session that cannot be resumed starts afresh with the output appended to the task.

Metrics per exercise and in total: pass rate after each try; tool calls and two well-formed
figures (see ``tool_stats``): ours per call and Aider's per exercise; refused edits of read-only
files; files touched outside the solution; steps (model calls); tokens (uncached input, output,
cache reads, cache writes); cost in dollars; wall time. ``--check-verdict`` runs no agent: it
judges each exercise's reference solution (must pass) and its stub (must fail).

    python benchmarks/agent_tasks.py --exercises ../shared/bench/polyglot-python \\
        [--model SPEC] [--protocol aider|open] [--limit N] [--only NAME,...] [--tries 2] \\
        [--json OUT] [--check-verdict]

``--model`` takes any spec of ``agent_magic.models.load_model`` (default: Claude with
ANTHROPIC_API_KEY; ``openai:URL/MODEL``, ``gguf:PATH``, ``scripted:PATH``) or
``scripted-dir:DIR``: one scripted model per exercise from ``DIR/<exercise>.json``; exercises
without a script are skipped. That is how the offline test drives the plumbing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(ROOT))

from agent_magic.agent import Agent, AgentConfig
from agent_magic.errors import ConflictError, ToolError, UserError
from agent_magic.events import Event, ToolUsed
from agent_magic.models.base import Model, Usage
from agent_magic.session import Session
from agent_magic.tools import EDIT_NAMES, validate
from benchmarks.task_verdict import Verdict, bwrap_works, judge

# Our own wording of the same constraints Aider's harness states, so results stay comparable:
# which files to change, keep the public names, standard library only; tests are the judge.
TASK_ADDENDUM = """
####

Implement the instructions above by changing these files: {file_list}
Keep the names of the existing functions and classes: the tests import them.
Use only the Python standard library; installing packages is not possible.
"""
FOLLOWUP_ADDENDUM = """
####

The test run above failed. The tests are right and must stay as they are.
Change the code in {file_list} so that they pass.
"""
# Aider's harness sends the whole test output since the polyglot benchmark (its 2023 docs still
# say the first 50 lines); a bound stays, far above what these exercises print.
FOLLOWUP_MAX_LINES = 400
_TIMING = re.compile(r"\bin \d+\.\d+s\b")  # stripped as Aider does, so replies do not vary
PROTOCOLS = {
    "aider": "tests hidden from the agent in every try (Aider's harness)",
    "open": "tests visible to the agent (read-only) and run in its self-review",
}
DOC_NAMES = ("introduction.md", "instructions.md", "instructions.append.md")
READONLY_MARK = "is read-only for this task"
SCRIPTED_DIR = "scripted-dir:"
# The exercises are plain unittest files: the host's pytest plugins would only slow the review's
# test runs and could change their outcome (the verdict sets its own environment).
PLAIN_PYTEST = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


@dataclass
class Exercise:
    """One exercise: where it lives, which files the agent edits and which files test it."""

    name: str
    path: Path
    solution_files: list[str]
    test_files: list[str]

    def instructions(self) -> str:
        """The instruction documents joined in Aider's order."""
        docs = [self.path / ".docs" / n for n in DOC_NAMES]
        return "\n\n".join(d.read_text(encoding="utf-8").strip() for d in docs if d.is_file())


@dataclass
class ToolStats:
    calls: int = 0
    well_formed: int = 0
    readonly_refusals: int = 0
    malformed: int = 0  # calls that make the exercise malformed the way Aider counts it


@dataclass
class TryResult:
    """What one attempt ended with."""

    stop_reason: str
    error: str
    applied: list[str]
    open_blockers: int
    passed: bool
    timed_out: bool
    test_output: str  # the tail, for reading the JSON
    touched_outside: list[str] = field(default_factory=list)  # applied, not a solution file


@dataclass
class ExerciseResult:
    name: str
    tries: list[TryResult] = field(default_factory=list)
    tool_calls: int = 0
    well_formed: int = 0
    readonly_refusals: int = 0
    malformed: int = 0
    touched_outside: list[str] = field(default_factory=list)  # over all tries
    tests_intact: bool = True
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    wall_s: float = 0.0
    isolation: str = ""  # how the verdict ran: bwrap or isolated
    error: str = ""  # an unexpected failure of the harness or the agent

    @property
    def well_formed_case(self) -> bool:
        """Aider's per-exercise figure: no malformed call in any try."""
        return self.malformed == 0

    def passed_by(self, attempt: int) -> bool:
        """Whether the exercise passed on or before the given (1-based) try."""
        return any(t.passed for t in self.tries[:attempt])

    def to_dict(self, tries: int) -> dict[str, Any]:
        """A JSON-able dict, with ``passed_after[k]``: passed by try k+1."""
        return {
            "name": self.name,
            "passed_after": [self.passed_by(k) for k in range(1, tries + 1)],
            **{k: v for k, v in asdict(self).items() if k != "name"},
        }


# ---- exercises ----------------------------------------------------------------------------------


def find_exercises(root: Path) -> list[Exercise]:
    """The exercises under a polyglot checkout, its ``python/exercises/practice`` or a plain dir."""
    root = Path(root).expanduser()
    for sub in ("python/exercises/practice", "exercises/practice", "practice", "."):
        base = root / sub
        if base.is_dir() and any((d / ".docs").is_dir() for d in base.iterdir() if d.is_dir()):
            return [load_exercise(d) for d in sorted(base.iterdir()) if (d / ".docs").is_dir()]
    raise UserError(f"no exercises under {root} (expected directories with a .docs/ folder)")


def load_exercise(path: Path) -> Exercise:
    """Read which files are the solution and the tests (``.meta/config.json``, else by name)."""
    solution: list[str] = []
    tests: list[str] = []
    config = path / ".meta" / "config.json"
    if config.is_file():
        files = json.loads(config.read_text(encoding="utf-8")).get("files", {})
        solution, tests = list(files.get("solution", [])), list(files.get("test", []))
    if not tests:
        tests = sorted(p.name for p in path.glob("*.py") if _is_test_name(p.name))
    if not solution:
        solution = sorted(p.name for p in path.glob("*.py") if not _is_test_name(p.name))
    return Exercise(path.name, path, solution, tests)


def _is_test_name(name: str) -> bool:
    return name.endswith("_test.py") or name.startswith("test_")


def task_text(exercise: Exercise) -> str:
    """The task the agent gets: the instructions plus Aider's addendum."""
    return exercise.instructions() + TASK_ADDENDUM.format(
        file_list=" ".join(exercise.solution_files)
    )


def followup_text(test_output: str, solution_files: list[str]) -> str:
    """The second try's instruction: the test output (timings stripped) plus Aider's addendum."""
    lines = _TIMING.sub("", test_output).strip().splitlines()
    head = "\n".join(lines[:FOLLOWUP_MAX_LINES])
    if len(lines) > FOLLOWUP_MAX_LINES:
        head += f"\n[{len(lines) - FOLLOWUP_MAX_LINES} more lines of test output left out]"
    return head + FOLLOWUP_ADDENDUM.format(file_list=" ".join(solution_files))


def prepare_repo(exercise: Exercise, parent: Path, protocol: str = "aider") -> Path:
    """A fresh git repo with the stub; ``open`` adds the tests and ``.docs/``; never ``.meta/``."""
    if protocol not in PROTOCOLS:
        raise UserError(f"unknown protocol {protocol!r}; use one of: {', '.join(PROTOCOLS)}")
    root = parent / exercise.name
    root.mkdir(parents=True)
    shown = exercise.solution_files + (exercise.test_files if protocol == "open" else [])
    for rel in shown:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(exercise.path / rel, target)
    if protocol == "open":
        shutil.copytree(exercise.path / ".docs", root / ".docs")
    git = ["git", "-c", "user.name=agent_tasks", "-c", "user.email=agent_tasks@localhost"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "exercise"]):
        subprocess.run([*git, *args], cwd=root, check=True, capture_output=True)
    return root


def run_tests(
    root: Path, exercise: Exercise, timeout: float, confine: bool | None = None
) -> Verdict:
    """The verdict on ``root``: the exercise's pristine tests against its solution files only."""
    return judge(
        root,
        exercise.path,
        exercise.solution_files,
        exercise.test_files,
        timeout=timeout,
        confine=confine,
    )


# ---- metrics ------------------------------------------------------------------------------------


def tool_stats(events: Iterable[Event]) -> ToolStats:
    """Count tool calls, the well-formed ones and refused edits of read-only files.

    Ours, per call: a call is well-formed when its input passes the tool's schema check
    (``agent_magic.tools.validate``): a known tool, a JSON object, every required field, no
    unknown field, values of the right type and enum; it may still fail for other reasons.

    Aider's, per exercise (``malformed``): Aider counts an exercise as malformed when any reply's
    edits failed to apply, a search text that matched nothing included. Here a call is
    malformed when it fails the schema check or is an edit that failed (no match, an ambiguous
    match, a tool of another phase, a bad path); refused edits of read-only files are not, since
    Aider would have applied those (and restored the tests before judging). They are counted
    apart as ``readonly_refusals``.
    """
    stats = ToolStats()
    for event in events:
        if not isinstance(event, ToolUsed):
            continue
        stats.calls += 1
        try:
            validate(event.name, event.input)
            stats.well_formed += 1
            valid = True
        except ToolError:
            valid = False
        refused = event.is_error and READONLY_MARK in event.result
        stats.readonly_refusals += refused
        failed_edit = event.is_error and event.name in EDIT_NAMES and not refused
        stats.malformed += (not valid) or failed_edit
    return stats


def totals(results: list[ExerciseResult], tries: int) -> dict[str, Any]:
    """Sums and rates over all exercises."""
    n = len(results)
    passed = [sum(r.passed_by(k) for r in results) for k in range(1, tries + 1)]
    calls = sum(r.tool_calls for r in results)
    well = sum(r.well_formed for r in results)
    cases = sum(r.well_formed_case for r in results)
    return {
        "exercises": n,
        "passed": passed,
        "pass_rate": [round(100 * p / n, 1) if n else 0.0 for p in passed],
        "tool_calls": calls,
        "well_formed": well,
        "well_formed_pct": round(100 * well / calls, 1) if calls else 100.0,
        "well_formed_cases": cases,
        "well_formed_cases_pct": round(100 * cases / n, 1) if n else 100.0,
        "readonly_refusals": sum(r.readonly_refusals for r in results),
        "touched_outside": sum(1 for r in results if r.touched_outside),
        "errors": sum(1 for r in results if r.error),
        "steps": sum(r.steps for r in results),
        "input_tokens": sum(r.input_tokens for r in results),
        "output_tokens": sum(r.output_tokens for r in results),
        "cache_read_tokens": sum(r.cache_read_tokens for r in results),
        "cache_write_tokens": sum(r.cache_write_tokens for r in results),
        "cost_usd": round(sum(r.cost_usd for r in results), 4),
        "wall_s": round(sum(r.wall_s for r in results), 2),
    }


def format_table(results: list[ExerciseResult], summary: dict[str, Any], tries: int) -> str:
    """The per-exercise table with a totals row.

    ``wf%`` is our well-formed share of calls, ``wf ex`` Aider's well-formed exercises, ``ro``
    refused edits of read-only files, ``outside`` files applied outside the solution.
    """
    head = [
        "exercise",
        *(f"try{k}" for k in range(1, tries + 1)),
        "calls",
        "wf%",
        "wf ex",
        "ro",
        "outside",
        "steps",
        "in",
        "out",
        "cached",
        "cost$",
        "time s",
        "stop",
    ]
    rows = []
    for r in results:
        wf = f"{100 * r.well_formed / r.tool_calls:.0f}" if r.tool_calls else "-"
        marks = ["pass" if r.passed_by(k) else "fail" for k in range(1, tries + 1)]
        stop = "error" if r.error else (r.tries[-1].stop_reason if r.tries else "-")
        rows.append(
            [
                r.name,
                *marks,
                str(r.tool_calls),
                wf,
                "yes" if r.well_formed_case else "no",
                str(r.readonly_refusals),
                str(len(r.touched_outside)),
                str(r.steps),
                str(r.input_tokens + r.cache_read_tokens + r.cache_write_tokens),
                str(r.output_tokens),
                str(r.cache_read_tokens),
                f"{r.cost_usd:.4f}",
                f"{r.wall_s:.1f}",
                stop,
            ]
        )
    n = summary["exercises"]
    rows.append(
        [
            f"total ({n})",
            *(
                f"{p}/{n} {rate:.0f}%"
                for p, rate in zip(summary["passed"], summary["pass_rate"], strict=True)
            ),
            str(summary["tool_calls"]),
            f"{summary['well_formed_pct']:.0f}",
            f"{summary['well_formed_cases_pct']:.0f}%",
            str(summary["readonly_refusals"]),
            str(summary["touched_outside"]),
            str(summary["steps"]),
            str(
                summary["input_tokens"]
                + summary["cache_read_tokens"]
                + summary["cache_write_tokens"]
            ),
            str(summary["output_tokens"]),
            str(summary["cache_read_tokens"]),
            f"{summary['cost_usd']:.4f}",
            f"{summary['wall_s']:.1f}",
            "",
        ]
    )
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "-" * len(line(head))
    return "\n".join([line(head), rule, *map(line, rows[:-1]), rule, line(rows[-1])])


def describe_protocol(protocol: str, isolation: str) -> str:
    """The lines above the table that say how the figures were made."""
    where = (
        "bubblewrap, no network, only the fresh dir writable"
        if isolation == "bwrap"
        else "isolated interpreter, not confined (bubblewrap unavailable or off)"
    )
    return (
        f"protocol: {protocol}: {PROTOCOLS[protocol]}\n"
        f"verdict: pristine tests on the solution files only, in a fresh dir ({where})"
    )


# ---- one exercise -------------------------------------------------------------------------------


def run_exercise(
    exercise: Exercise,
    model: Model,
    *,
    tries: int = 2,
    config: AgentConfig | None = None,
    test_timeout: float = 180.0,
    workdir: Path | None = None,
    keep: bool = False,
    protocol: str = "aider",
    confine: bool | None = None,
) -> ExerciseResult:
    """Run the agent on one exercise (up to ``tries`` attempts) and judge it by its tests."""
    started = time.monotonic()
    result = ExerciseResult(exercise.name)
    parent = Path(tempfile.mkdtemp(prefix="agent_tasks-", dir=workdir))
    events: list[Event] = []
    sessions: list[Session] = []
    try:
        root = prepare_repo(exercise, parent, protocol)
        with _environment(PLAIN_PYTEST):  # the review's test runs inherit it
            _attempts(
                exercise,
                model,
                root,
                result,
                events,
                sessions,
                tries=tries,
                config=config or AgentConfig(),
                test_timeout=test_timeout,
                confine=confine,
            )
    except Exception as exc:  # noqa: BLE001 - one broken exercise must not end the whole run
        result.error = f"{type(exc).__name__}: {exc}"
        traceback.print_exc(file=sys.stderr)
    finally:
        _account(result, sessions, events)
        result.wall_s = round(time.monotonic() - started, 2)
        if not keep:
            shutil.rmtree(parent, ignore_errors=True)
    return result


def _attempts(
    exercise: Exercise,
    model: Model,
    root: Path,
    result: ExerciseResult,
    events: list[Event],
    sessions: list[Session],
    *,
    tries: int,
    config: AgentConfig,
    test_timeout: float,
    confine: bool | None,
) -> None:
    """Try until the tests pass or the tries run out; each try is recorded in ``result``."""
    originals = {
        rel: (root / rel).read_bytes() for rel in exercise.test_files if (root / rel).is_file()
    }  # none under the aider protocol
    # Read-only only where the agent can see them: under the aider protocol a refusal would give
    # the hidden tests away, and a test file the agent writes is never what the verdict runs.
    readonly = (*originals, ".docs/*")
    agent = Agent(
        root, model, AgentConfig(**{**asdict(config), "readonly": readonly}), on_event=events.append
    )
    task = task_text(exercise)
    session: Session | None = None
    output = ""
    for _ in range(tries):
        if session is None:
            session = agent.run(task)
        else:
            session = _follow_up(
                agent, session, task, followup_text(output, exercise.solution_files)
            )
        if not any(s is session for s in sessions):
            sessions.append(session)
        applied = _apply(session)
        outside = [p for p in applied if p not in exercise.solution_files]
        result.touched_outside += [p for p in outside if p not in result.touched_outside]
        changed = [
            rel
            for rel, data in originals.items()
            if not (root / rel).is_file() or (root / rel).read_bytes() != data
        ]
        for rel in changed:  # the verdict never reads them; restored for the agent's next try
            (root / rel).write_bytes(originals[rel])
        result.tests_intact = result.tests_intact and not changed
        verdict = run_tests(root, exercise, test_timeout, confine)
        result.isolation = verdict.isolation
        result.tries.append(
            TryResult(
                stop_reason=session.stop_reason,
                error=session.error,
                applied=applied,
                open_blockers=len(session.open_blockers),
                passed=verdict.passed,
                timed_out=verdict.timed_out,
                test_output=_tail(verdict.output),
                touched_outside=outside,
            )
        )
        output = verdict.output
        if result.tries[-1].passed:
            return


def _follow_up(agent: Agent, session: Session, task: str, instruction: str) -> Session:
    """Continue the conversation with the test output; start afresh if it cannot be resumed."""
    try:
        return agent.resume(session, instruction)
    except UserError:  # no conversation to continue (the first try failed before any reply)
        return agent.run(f"{task}\n\n{instruction}")


def _apply(session: Session) -> list[str]:
    """Apply everything staged, blockers or not (the tests judge); the paths written."""
    changeset = session.refresh()
    if changeset is None or changeset.is_empty:
        return []
    try:
        checkpoint = session.apply(allow_blockers=True)
    except (ConflictError, UserError) as exc:
        session.error = (session.error + "; " if session.error else "") + f"not applied: {exc}"
        return []
    return list(getattr(checkpoint, "paths", []))


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _account(result: ExerciseResult, sessions: list[Session], events: list[Event]) -> None:
    """Fill in tool, step, token and cost counts of all sessions of an exercise."""
    stats = tool_stats(events)
    result.tool_calls, result.well_formed = stats.calls, stats.well_formed
    result.readonly_refusals, result.malformed = stats.readonly_refusals, stats.malformed
    usage = Usage()
    for s in sessions:  # a resumed session is the same object: counted once
        usage = usage + s.usage
        result.steps += s.steps
        result.cost_usd += s.cost
    result.input_tokens, result.output_tokens = usage.input_tokens, usage.output_tokens
    result.cache_read_tokens, result.cache_write_tokens = (
        usage.cache_read_tokens,
        usage.cache_write_tokens,
    )
    result.cost_usd = round(result.cost_usd, 6)


# ---- models -------------------------------------------------------------------------------------

ModelSource = Callable[[str], "Model | None"]


def model_source(spec: str) -> ModelSource:
    """Exercise name -> model; ``scripted-dir:DIR`` gives one script per exercise (None: skip)."""
    if spec.startswith(SCRIPTED_DIR):
        from agent_magic.models.scripted import ScriptedModel

        folder = Path(spec[len(SCRIPTED_DIR) :]).expanduser()
        if not folder.is_dir():
            raise UserError(f"{spec!r}: {folder} is not a directory of scripts")

        def scripted(name: str) -> Model | None:
            for suffix in (".json", ".yaml", ".yml"):
                path = folder / f"{name}{suffix}"
                if path.is_file():
                    return ScriptedModel(path, name=f"scripted:{path.name}")
            return None

        return scripted
    from agent_magic.models import load_model

    model = load_model(spec or None)  # one model (one client, one loaded GGUF) for all
    return lambda name: model


# ---- command line -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--exercises",
        required=True,
        type=Path,
        help="a polyglot-benchmark checkout (or its python/exercises/practice)",
    )
    p.add_argument(
        "--model",
        default=os.environ.get("AGENT_MAGIC_MODEL", ""),
        help="model spec as for %%agent --model, or scripted-dir:DIR",
    )
    p.add_argument("--limit", type=int, default=None, help="run only the first N exercises")
    p.add_argument("--only", default="", help="comma-separated exercise names")
    p.add_argument("--tries", type=int, default=2, choices=(1, 2, 3))
    p.add_argument("--json", type=Path, default=None, help="write the results as JSON here")
    p.add_argument("--max-steps", type=int, default=40, help="model calls per attempt")
    p.add_argument("--budget", type=float, default=2.0, help="dollars per exercise (all tries)")
    p.add_argument("--test-timeout", type=float, default=180.0, help="seconds per test run")
    p.add_argument("--no-review", action="store_true", help="skip the self-review phase")
    p.add_argument(
        "--protocol",
        choices=sorted(PROTOCOLS),
        default="aider",
        help="aider: tests hidden from the agent (default); open: tests visible",
    )
    p.add_argument(
        "--sandbox",
        choices=("auto", "bwrap", "off"),
        default="auto",
        help="confine the verdict's test runs with bubblewrap (auto: when it works)",
    )
    p.add_argument(
        "--check-verdict",
        action="store_true",
        help="run no agent: judge each reference solution (must pass) and stub (fail)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary repos")
    return p.parse_args(argv)


def _confine(sandbox: str) -> bool:
    if sandbox == "bwrap" and not bwrap_works():
        raise UserError("--sandbox bwrap: bubblewrap is not usable here (try --sandbox off)")
    return sandbox == "bwrap" or (sandbox == "auto" and bwrap_works())


def _selected(args: argparse.Namespace) -> list[Exercise]:
    exercises = find_exercises(args.exercises)
    if args.only:
        wanted = {n.strip() for n in args.only.split(",") if n.strip()}
        unknown = wanted - {e.name for e in exercises}
        if unknown:
            raise UserError(f"unknown exercise(s): {', '.join(sorted(unknown))}")
        exercises = [e for e in exercises if e.name in wanted]
    return exercises


def check_verdict(
    exercises: list[Exercise], *, confine: bool, timeout: float, out: Callable[[str], None] = print
) -> dict[str, Any]:
    """Judge each exercise's reference solution and its stub: the verdict's own baseline."""
    rows = []
    for exercise in exercises:
        example = exercise.path / ".meta" / "example.py"
        if len(exercise.solution_files) != 1 or not example.is_file():
            continue  # no single reference file to put in the stub's place
        with tempfile.TemporaryDirectory(prefix="agent_tasks-reference-") as tmp:
            shutil.copyfile(example, Path(tmp) / exercise.solution_files[0])
            started = time.monotonic()
            reference = run_tests(Path(tmp), exercise, timeout, confine)
            seconds = time.monotonic() - started
        stub = run_tests(exercise.path, exercise, timeout, confine)
        rows.append(
            {
                "name": exercise.name,
                "tests": reference.expected,
                "reference_passed": reference.passed,
                "stub_passed": stub.passed,
                "seconds": round(seconds, 2),
            }
        )
    if not rows:
        raise UserError("no exercise with a single reference solution to check")
    ok = sum(r["reference_passed"] and not r["stub_passed"] for r in rows)
    out(
        f"verdict check ({'bwrap' if confine else 'isolated'}): {ok}/{len(rows)} exercises "
        f"judged right; references passed {sum(r['reference_passed'] for r in rows)}, "
        f"stubs passed {sum(r['stub_passed'] for r in rows)}; "
        f"{sum(r['tests'] for r in rows)} tests; mean "
        f"{sum(r['seconds'] for r in rows) / len(rows):.2f} s per verdict"
    )
    for r in rows:
        if not r["reference_passed"] or r["stub_passed"]:
            out(
                f"  wrong: {r['name']} (reference passed: {r['reference_passed']}, "
                f"stub passed: {r['stub_passed']})"
            )
    return {
        "benchmark": "agent_tasks.check_verdict",
        "isolation": "bwrap" if confine else "isolated",
        "judged_right": ok,
        "exercises": rows,
    }


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the benchmark as ``args`` say; returns the JSON-able report."""
    exercises = _selected(args)
    confine = _confine(args.sandbox)
    if args.check_verdict:
        report = check_verdict(exercises, confine=confine, timeout=args.test_timeout, out=out)
        _write_json(args.json, report)
        return report
    source = model_source(args.model)
    chosen = [(e, m) for e in exercises if (m := source(e.name)) is not None]
    skipped = [e.name for e in exercises if e.name not in {c.name for c, _ in chosen}]
    if args.limit is not None:
        chosen = chosen[: args.limit]
    if not chosen:
        raise UserError("no exercise to run (check --only, --limit and the model's scripts)")
    config = AgentConfig(
        max_steps=args.max_steps,
        budget_usd=args.budget,
        test_timeout=args.test_timeout,
        review=not args.no_review,
    )
    results: list[ExerciseResult] = []
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    try:
        for i, (exercise, model) in enumerate(chosen, 1):
            r = run_exercise(
                exercise,
                model,
                tries=args.tries,
                config=config,
                test_timeout=args.test_timeout,
                keep=args.keep,
                protocol=args.protocol,
                confine=confine,
            )
            marks = (
                " ".join("pass" if r.passed_by(k) else "fail" for k in range(1, len(r.tries) + 1))
                or "error"
            )
            out(
                f"[{i}/{len(chosen)}] {exercise.name}: {marks} ({r.wall_s:.1f} s)"
                + (f" {r.error}" if r.error else "")
            )
            results.append(r)
            if any(t.stop_reason == "interrupted" for t in r.tries):
                raise KeyboardInterrupt
    except KeyboardInterrupt:  # Ctrl-C: report what has run so far
        out(f"interrupted after {len(results)} exercise(s)")
    if not results:
        raise UserError("interrupted before any exercise finished")
    summary = totals(results, args.tries)
    out("")
    out(describe_protocol(args.protocol, "bwrap" if confine else "isolated"))
    out(format_table(results, summary, args.tries))
    outside = [f"{r.name}: {', '.join(r.touched_outside)}" for r in results if r.touched_outside]
    if outside:
        out("\ntouched outside the solution (not judged):\n  " + "\n  ".join(outside))
    if skipped:
        out(f"\nskipped (no script): {len(skipped)}")
    report = {
        "benchmark": "agent_tasks",
        "version": 2,
        "started": started,
        "python": sys.version.split()[0],
        "interrupted": len(results) < len(chosen),
        "model": args.model or "(default)",
        "exercises_dir": str(args.exercises),
        "tries": args.tries,
        "max_steps": args.max_steps,
        "budget_usd": args.budget,
        "review": not args.no_review,
        "protocol": args.protocol,
        "tests_hidden": args.protocol == "aider",
        "verdict_isolation": "bwrap" if confine else "isolated",
        "totals": summary,
        "exercises": [r.to_dict(args.tries) for r in results],
        "skipped": skipped,
    }
    _write_json(args.json, report)
    return report


def _write_json(path: Path | None, report: dict[str, Any]) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: 0 when the benchmark ran, 2 on a usage error."""
    args = parse_args(argv)
    try:
        run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
