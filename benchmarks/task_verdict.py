"""The task benchmark's verdict: an exercise's pristine tests against its solution files only.

The agent's tree is never where the tests run. The verdict copies the files the exercise defines
as its solution (the stub's names) out of the agent's applied result into a fresh directory, adds
the exercise's test files from the exercise itself, and runs pytest there with an interpreter
configured only by us: ``-I`` (no user site, no PYTHON* variables, no script dir on sys.path),
a config file of ours outside the fresh directory, rootdir and confcutdir pinned to it, no plugin
autoload and a minimal environment. Whatever else the agent wrote (conftest.py, pytest.ini,
pyproject.toml, sitecustomize.py, ``.pth`` files, modules shadowing the stdlib or pytest) is
simply not there. Under bubblewrap (when it works here) the run also has no network and sees
only the system, the interpreter and the fresh directory, which is its only writable place.

The solution file itself still runs inside the test process, as in Aider's harness, so it could
tamper with the run; the verdict therefore also wants pytest's own summary to report as many
passed tests as the pristine test files define, which an exit status alone (``os._exit(0)`` at
import) cannot fake. This confinement is meant to move to ``agent_magic.sandbox`` once it lands.
"""

from __future__ import annotations

import ast
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

BWRAP = "/usr/bin/bwrap"
RUN_DIR = "run"  # the fresh directory, inside the verdict's private temp dir
CONFIG = "pytest.ini"  # ours, beside RUN_DIR: the agent cannot supply or change it
CONFIG_TEXT = "[pytest]\n"
# System paths the confined interpreter needs to start; /etc only for the loader cache and time.
SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime")
_SUMMARY = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)\b")


@dataclass
class Verdict:
    """One judged test run: passed only if pytest exits 0 and every defined test passed."""

    passed: bool
    output: str
    timed_out: bool = False
    expected: int = 0  # tests the pristine test files define
    counts: dict[str, int] = field(default_factory=dict)  # pytest's summary: passed, failed, ...
    missing: list[str] = field(default_factory=list)  # solution files absent from the result
    isolation: str = "isolated"  # "bwrap" or "isolated"


def expected_tests(test_sources: Sequence[str]) -> int:
    """How many tests the test files define: ``test*`` functions and methods of test classes."""
    count = 0
    for source in test_sources:
        tree = ast.parse(source)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                count += 1
            elif isinstance(node, ast.ClassDef):
                count += sum(
                    1
                    for item in node.body
                    if isinstance(item, ast.FunctionDef) and item.name.startswith("test")
                )
    return count


def summary_counts(output: str) -> dict[str, int]:
    """pytest's last summary line as counts (``errors`` folded into ``error``)."""
    lines = [ln for ln in output.strip().splitlines() if _SUMMARY.search(ln)]
    if not lines:
        return {}
    return {
        word.rstrip("s") if word.startswith("error") else word: int(n)
        for n, word in _SUMMARY.findall(lines[-1])
    }


def build_fresh_dir(
    run: Path,
    applied: Path,
    exercise_dir: Path,
    solution_files: Sequence[str],
    test_files: Sequence[str],
) -> list[str]:
    """Fill ``run`` with the applied solution files and the pristine tests; the missing ones.

    A solution file that is absent, not a regular file or a symlink in the applied tree counts
    as missing: the tests then fail on import, which is the honest outcome.
    """
    missing = []
    for rel in solution_files:
        source = applied / rel
        if source.is_symlink() or not source.is_file():
            missing.append(rel)
            continue
        _copy_bytes(source, run / rel)
    for rel in test_files:
        _copy_bytes(exercise_dir / rel, run / rel)
    return missing


def judge(
    applied: Path,
    exercise_dir: Path,
    solution_files: Sequence[str],
    test_files: Sequence[str],
    *,
    timeout: float,
    confine: bool | None = None,
    workdir: Path | None = None,
) -> Verdict:
    """Run the pristine tests on the solution files of ``applied`` in a fresh directory.

    ``confine`` None uses bubblewrap when it works here, True insists on it, False skips it.
    ``workdir`` is where the fresh directory goes (default: the system temp dir).
    """
    use_bwrap = bwrap_works() if confine is None else confine
    if use_bwrap and not bwrap_works():
        raise RuntimeError(f"{BWRAP} is not usable here; run the verdict unconfined")
    expected = expected_tests(
        [(exercise_dir / rel).read_text(encoding="utf-8") for rel in test_files]
    )
    with tempfile.TemporaryDirectory(prefix="agent_tasks-verdict-", dir=workdir) as tmp:
        private = Path(tmp).resolve()
        run = private / RUN_DIR
        run.mkdir()
        (private / CONFIG).write_text(CONFIG_TEXT, encoding="utf-8")
        missing = build_fresh_dir(run, applied, exercise_dir, solution_files, test_files)
        command = pytest_command(private, test_files)
        if use_bwrap:
            command = bwrap_command(private, run) + command
        code, output, timed_out = _run(command, cwd=run, env=minimal_env(run), timeout=timeout)
        output = output.replace(str(run), exercise_dir.name)  # as Aider shows it
    counts = summary_counts(output)
    passed = (
        code == 0
        and not timed_out
        and expected > 0
        and counts.get("passed", 0) == expected
        and not any(counts.get(k) for k in ("failed", "error"))
    )
    if timed_out:
        output += f"\nTests timed out after {timeout:.0f} s."
    return Verdict(
        passed, output, timed_out, expected, counts, missing, "bwrap" if use_bwrap else "isolated"
    )


def pytest_command(private: Path, test_files: Sequence[str]) -> list[str]:
    """pytest under an isolated interpreter, configured by our file, rooted at the fresh dir."""
    run = private / RUN_DIR
    return [
        sys.executable,
        "-I",
        "-B",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-c",
        str(private / CONFIG),
        "--rootdir",
        str(run),
        "--confcutdir",
        str(run),
        *test_files,
    ]


def minimal_env(run: Path) -> dict[str, str]:
    """The environment of a verdict run: nothing inherited but a plain PATH."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(run),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


def bwrap_command(private: Path, run: Path) -> list[str]:
    """bubblewrap arguments: no network, system and interpreter read-only, ``run`` writable."""
    args = [
        BWRAP,
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in SYSTEM_FILES:
        args += ["--ro-bind-try", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in _interpreter_dirs():
        args += ["--ro-bind", path, path]
    args += [
        "--ro-bind",
        str(private),
        str(private),
        "--bind",
        str(run),
        str(run),
        "--chdir",
        str(run),
    ]
    return args


@lru_cache(maxsize=1)
def bwrap_works() -> bool:
    """Whether bubblewrap is installed and can start the interpreter confined (probed once)."""
    if not os.access(BWRAP, os.X_OK):
        return False
    with tempfile.TemporaryDirectory(prefix="agent_tasks-probe-") as tmp:
        private = Path(tmp).resolve()
        (private / RUN_DIR).mkdir()
        command = [*bwrap_command(private, private / RUN_DIR), sys.executable, "-I", "-c", "0"]
        code, _, _ = _run(command, cwd=private, env=minimal_env(private), timeout=30)
    return code == 0


def _interpreter_dirs() -> list[str]:
    """The interpreter's install trees not already under /usr (pyenv, a venv, conda)."""
    dirs = []
    for prefix in {
        sys.base_prefix,
        sys.prefix,
        os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))),
    }:
        real = os.path.realpath(prefix)
        if not real.startswith("/usr/") and real not in dirs:
            dirs.append(real)
    return sorted(dirs)


def _copy_bytes(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())  # content only: no modes, no links


def _run(
    command: list[str], *, cwd: Path, env: dict[str, str], timeout: float
) -> tuple[int, str, bool]:
    """Run in a new session; on timeout the whole process group is killed."""
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out.decode("utf-8", errors="replace"), False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return -9, out.decode("utf-8", errors="replace"), True
