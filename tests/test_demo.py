"""The README's demo command, offline: the quickstart executed headless on a fresh copy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # the quickstart notebook end to end, in a kernel, with sandboxed checks
def test_offline_demo_runs_every_step(tmp_path: Path):
    env = {
        k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "AGENT_MAGIC_MODEL")
    }
    errors = tmp_path / "stderr.txt"
    with open(errors, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "examples" / "demo.py"), "--out", str(tmp_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    cleaning = tmp_path / "shoplytics" / "shoplytics" / "cleaning.py"
    lines, fixed_when_shown = [], None
    assert proc.stdout is not None
    for line in proc.stdout:  # read as the demo prints: it must show each cell as it runs
        lines.append(line)
        if fixed_when_shown is None and line.startswith(">>> %agent apply"):
            fixed_when_shown = 'replace(",", "")' in cleaning.read_text()
    proc.wait(timeout=900)
    stderr = errors.read_text()
    out = "".join(lines)
    assert proc.returncode == 0, out[-3000:] + stderr[-3000:]
    # The first apply cell is announced before it runs, not after the whole notebook ran.
    assert fixed_when_shown is False
    assert out.splitlines()[0].startswith("agent_magic demo: running OFFLINE")
    assert out.count("\nPlan:\n") == 3  # each run's plan, printed once as it is made
    # task 1 reproduces the failing test in the sandbox before fixing it
    assert "$ python -m pytest -q tests/test_cleaning.py  (sandboxed" in out
    assert "→ exit code 1 after" in out
    assert '+    return float(text.strip().lstrip("$").replace(",", ""))' in out
    assert "@@ cell 4 (id cell-4) deleted @@" in out  # notebook diffs are per cell
    assert "[nit] shoplytics/metrics.py:" in out  # task 2's review finding
    assert "fixed: 1" in out  # task 1's tests before/after
    assert "Undid checkpoint" in out
    assert "tests after (tasks 1 and 2 applied, task 3 undone): 6 passed" in out
    project = tmp_path / "shoplytics"
    assert (project / "shoplytics" / "metrics.py").exists()
    assert "clean_orders" not in (project / "shoplytics" / "cleaning.py").read_text()


def test_lab_opens_the_quickstart_on_a_fresh_project(tmp_path: Path, monkeypatch):
    from tests.demo_module import load_demo

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("AGENT_MAGIC_MODEL", "")  # recorded, so the demo's setting is undone
    monkeypatch.delenv("AGENT_MAGIC_MODEL")
    monkeypatch.chdir(tmp_path)  # open_in_lab changes directory; monkeypatch puts it back
    launched = []
    demo = load_demo()
    assert (
        demo.main(
            ["--lab", "--out", str(tmp_path)],
            launch=lambda exe, argv: launched.append((exe, argv, Path.cwd())),
        )
        == 0
    )
    ((_exe, argv, cwd),) = launched
    assert [a for a in argv[1:] if a != "--allow-root"] == ["-m", "jupyterlab", "quickstart.ipynb"]
    assert (cwd / "quickstart.ipynb").is_file() and (cwd / "shoplytics" / "cleaning.py").is_file()
    assert os.environ["AGENT_MAGIC_MODEL"].startswith("scripted:")  # offline without a key
