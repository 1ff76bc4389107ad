"""The README's demo command, offline: the quickstart executed headless on a fresh copy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_offline_demo_runs_every_step(tmp_path: Path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("ANTHROPIC_API_KEY", "AGENT_MAGIC_MODEL")}
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py"), "--out",
                             str(tmp_path)], env=env, capture_output=True, text=True, timeout=900, check=False)
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert out.splitlines()[0].startswith("agent_magic demo: running OFFLINE")
    assert out.count("**Plan**") == 3
    # task 1 reproduces the failing test in the sandbox before fixing it
    assert "$ python -m pytest -q tests/test_cleaning.py  (sandboxed" in out
    assert "→ exit code 1 after" in out
    assert "+    return float(text.strip().lstrip(\"$\").replace(\",\", \"\"))" in out
    assert "@@ cell 4 (id cell-4) deleted @@" in out  # notebook diffs are per cell
    assert "[nit, open]" in out  # task 2's review finding
    assert "fixed: 1" in out  # task 1's tests before/after
    assert "Undid checkpoint" in out
    assert "tests after (tasks 1 and 2 applied, task 3 undone): 6 passed" in out
    project = tmp_path / "shoplytics"
    assert (project / "shoplytics" / "metrics.py").exists()
    assert "clean_orders" not in (project / "shoplytics" / "cleaning.py").read_text()
