"""Prompt caching over a multi-turn agent session: AnthropicModel (cached) vs the same without breakpoints.

The real agent loop (``Agent.run``) fixes the failing test of examples/sample_project (a temp
git copy) with a scripted 14-turn session, through ``AnthropicModel`` and the real SDK, against
the fake Messages API server, which accounts prompt caching as the API documents it. The peer is
the identical run with ``prompt_cache=False``. Prints per turn the prompt tokens, cache reads and
writes, and the share of prompt tokens read from cache on turns 2 and later (target >= 90%).

python benchmarks/prompt_cache.py [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent_magic.agent import Agent, AgentConfig
from agent_magic.models.anthropic import AnthropicModel
from agent_magic.models.base import Reply, Request, TextSink, Usage
from agent_magic.testing import FakeAnthropic, fake_client

SAMPLE = ROOT / "examples" / "sample_project"
MODEL = "claude-sonnet-4-6"
TARGET = 0.90
FIX_OLD = '    return float(text.strip().lstrip("$"))'
FIX_NEW = '    return float(text.strip().lstrip("$").replace(",", ""))'


def call(name: str, **data: Any) -> dict[str, Any]:
    return {"name": name, "input": data}


def turn(*calls: dict[str, Any], text: str = "") -> dict[str, Any]:
    return {"tool_calls": list(calls), **({"text": text} if text else {})}


def script() -> list[dict[str, Any]]:
    """A realistic session: explore, understand, plan, edit, check, finish, review."""
    return [
        turn(call("list_dir", path="."), text="Let me see the project first."),
        turn(call("view", path="README.md")),
        turn(call("view", path="tests/test_cleaning.py")),
        turn(call("submit_understanding",
                  restatement="parse_price fails on prices with a thousands separator.",
                  acceptance_criteria=["tests/test_cleaning.py passes", "other tests pass"],
                  assumptions=["',' is the thousands separator"])),
        turn(call("view", path="shoplytics/cleaning.py")),
        turn(call("search", pattern="parse_price", glob="*.py")),
        turn(call("view", path="shoplytics/data.py")),
        turn(call("submit_plan", summary="Strip thousands separators in parse_price",
                  steps=[{"description": "Remove ',' before float()",
                          "files": ["shoplytics/cleaning.py"]}],
                  files=["shoplytics/cleaning.py"], risks=["European decimal commas"])),
        turn(call("replace", path="shoplytics/cleaning.py", old=FIX_OLD, new=FIX_NEW)),
        turn(call("view", path="shoplytics/cleaning.py")),
        turn(call("search", pattern=r"float\(", path="shoplytics")),
        turn(call("finish", summary="parse_price ignores thousands separators")),
        turn(call("view", path="shoplytics/cleaning.py")),
        turn(call("finish", summary="Minimal and correct.")),
    ]


@dataclass
class TurnRow:
    turn: int
    prompt_tokens: int
    cache_read: int
    cache_write: int
    uncached: int
    output: int
    new_conversation: bool


class Recording:
    """A Model that records the usage of each call of the model it wraps."""

    def __init__(self, model: AnthropicModel) -> None:
        self.model = model
        self.name = model.name
        self.price = model.price
        self.usages: list[Usage] = []
        self.fresh: list[bool] = []

    def complete(self, request: Request, on_text: TextSink | None = None) -> Reply:
        self.fresh.append(len(request.messages) == 1)
        reply = self.model.complete(request, on_text)
        self.usages.append(reply.usage)
        return reply


def make_project(parent: Path) -> Path:
    root = parent / "sample_project"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    git = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "initial"], cwd=root, check=True)
    return root


def run_session(prompt_cache: bool) -> tuple[list[TurnRow], dict[str, Any]]:
    """One full agent run; its per-turn usage and a summary."""
    with tempfile.TemporaryDirectory() as tmp, FakeAnthropic(script()) as server:
        project = make_project(Path(tmp))
        model = Recording(AnthropicModel(MODEL, client=fake_client(server, max_retries=0),
                                         prompt_cache=prompt_cache))
        session = Agent(project, model, AgentConfig(review_rounds=0)).run(
            "Fix the failing test in tests/test_cleaning.py")
        rows = [TurnRow(i, u.total_input, u.cache_read_tokens, u.cache_write_tokens,
                        u.input_tokens, u.output_tokens, fresh)
                for i, (u, fresh) in enumerate(zip(model.usages, model.fresh), 1)]
        later = rows[1:]
        prompt = sum(r.prompt_tokens for r in later)
        within = [r for r in later if not r.new_conversation]
        within_prompt = sum(r.prompt_tokens for r in within)
        summary = {
            "prompt_cache": prompt_cache,
            "stop_reason": session.stop_reason,
            "error": session.error,
            "turns": len(rows),
            "tool_turns": sum(1 for t in server.script if t.get("tool_calls")),
            "cache_read_share_turns_2_plus": sum(r.cache_read for r in later) / prompt if prompt else 0,
            "cache_read_share_within_conversations": (
                sum(r.cache_read for r in within) / within_prompt if within_prompt else 0),
            "cost_usd": session.cost,
        }
        return rows, summary


def print_table(rows: list[TurnRow]) -> None:
    print(f"{'turn':>4} {'prompt':>7} {'read':>7} {'write':>7} {'plain':>6} {'out':>5} "
          f"{'read %':>7}")
    for r in rows:
        share = r.cache_read / r.prompt_tokens if r.prompt_tokens else 0
        print(f"{r.turn:>4} {r.prompt_tokens:>7} {r.cache_read:>7} {r.cache_write:>7} "
              f"{r.uncached:>6} {r.output:>5} {share:>7.1%}"
              + ("  <- new conversation (review)" if r.new_conversation and r.turn > 1 else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write rows and summaries here")
    args = parser.parse_args(argv)
    results = {}
    for prompt_cache in (True, False):
        rows, summary = run_session(prompt_cache)
        label = "AnthropicModel (cache breakpoints)" if prompt_cache else "peer: prompt_cache=False"
        print(f"\n{label}: stop={summary['stop_reason']} turns={summary['turns']} "
              f"cost=${summary['cost_usd']:.4f}")
        print_table(rows)
        print(f"cache-read share of prompt tokens, turns 2+: "
              f"{summary['cache_read_share_turns_2_plus']:.1%} (excluding turns that start a new "
              f"conversation: {summary['cache_read_share_within_conversations']:.1%})")
        results["cached" if prompt_cache else "peer"] = {
            "summary": summary, "rows": [asdict(r) for r in rows]}
    share = results["cached"]["summary"]["cache_read_share_turns_2_plus"]
    saving = 1 - results["cached"]["summary"]["cost_usd"] / results["peer"]["summary"]["cost_usd"]
    print(f"\ntarget >= {TARGET:.0%}: {'met' if share >= TARGET else 'NOT met'} ({share:.1%}); "
          f"cost vs peer: {saving:.0%} lower")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
