"""Prompt caching over a realistic agent session, per model cache minimum, vs the same without breakpoints.

The real agent loop (``Agent.run``) works on a temp git copy of this package (so the repository
map is several thousand tokens and each ``view`` is a real file of up to 400 lines) with a
scripted 26-turn session, through ``AnthropicModel`` and the real SDK, against the strict fake
Messages API server, which accounts prompt caching as the API documents it (per-model minimum
cacheable prompt, 5-minute TTL). Models think by default where they do, so replies carry signed
thinking blocks that go back unchanged. The session runs once per model minimum (512, 1024,
2048, 4096 tokens); the peer is the default model's run with ``prompt_cache=False``. The model
review continues a copy of the main conversation, so it starts on the cached prefix. Prints per
turn the prompt tokens, cache reads and writes, and the share of prompt tokens read from cache
on turns 2 and later (target >= 90%).

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
from agent_magic.models.catalog import spec_for
from agent_magic.testing import FakeAnthropic, fake_client

MODEL = "claude-sonnet-5-5"
MODELS = ["claude-opus-5-5", "claude-sonnet-5-5", "claude-opus-4-7", "claude-haiku-4-5"]
TARGET = 0.90
FIX_OLD = "K = 1000\n"
FIX_NEW = "K = 1_000\n"


def call(name: str, **data: Any) -> dict[str, Any]:
    return {"name": name, "input": data}


def turn(*calls: dict[str, Any], text: str = "") -> dict[str, Any]:
    return {"tool_calls": list(calls), **({"text": text} if text else {})}


def script() -> list[dict[str, Any]]:
    """A realistic session: explore, understand, plan, edit, check, finish, review.

    Like a real agent it reads whole small files and sections of large ones, and searches.
    """
    cat, anth, agent = (
        "agent_magic/models/catalog.py",
        "agent_magic/models/anthropic.py",
        "agent_magic/agent.py",
    )
    return [
        turn(call("list_dir", path="agent_magic"), text="Let me see the package first."),
        turn(call("list_dir", path="agent_magic/models")),
        turn(call("view", path=cat)),
        turn(call("search", pattern="spec_for", glob="*.py")),
        turn(call("view", path=anth, start_line=1, end_line=120)),
        turn(
            call(
                "submit_understanding",
                restatement="Write the thousand constant of the model table with a separator.",
                acceptance_criteria=["K reads 1_000", "nothing else changes"],
            )
        ),
        turn(call("search", pattern="K \\* ", glob="*.py")),
        turn(call("view", path=anth, start_line=380, end_line=470)),
        turn(call("view", path=agent, start_line=60, end_line=140)),
        turn(call("search", pattern="default_max_tokens", glob="*.py")),
        turn(call("view", path=agent, start_line=400, end_line=480)),
        turn(call("view", path="agent_magic/models/pricing.py", start_line=1, end_line=60)),
        turn(call("view", path="agent_magic/testing/validate.py", start_line=40, end_line=120)),
        turn(call("search", pattern="max_output", glob="*.py")),
        turn(call("view", path="agent_magic/testing/fake_api.py", start_line=1, end_line=80)),
        turn(
            call(
                "submit_plan",
                summary="Use 1_000 for K",
                steps=[{"description": "K = 1_000", "files": [cat]}],
                files=[cat],
                risks=["none"],
            )
        ),
        turn(call("view", path=cat, start_line=1, end_line=30)),
        turn(call("replace", path=cat, old=FIX_OLD, new=FIX_NEW)),
        turn(call("view", path=cat, start_line=1, end_line=30)),
        turn(call("search", pattern="1_000", path="agent_magic/models")),
        turn(call("search", pattern="K = ", glob="*.py")),
        turn(call("view", path="agent_magic/models/base.py", start_line=1, end_line=60)),
        turn(call("finish", summary="K is written 1_000")),
        turn(call("view", path=cat, start_line=1, end_line=30)),
        turn(call("search", pattern="1_000", path="agent_magic/models")),
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

    def __getattr__(self, name: str) -> Any:  # context_window, default_max_tokens, ...
        return getattr(self.model, name)

    def complete(
        self, request: Request, on_text: TextSink | None = None, on_thinking: TextSink | None = None
    ) -> Reply:
        self.fresh.append(len(request.messages) == 1)
        reply = self.model.complete(request, on_text, on_thinking)
        self.usages.append(reply.usage)
        return reply


def make_project(parent: Path) -> Path:
    root = parent / "project"
    root.mkdir()
    shutil.copytree(
        ROOT / "agent_magic",
        root / "agent_magic",
        ignore=shutil.ignore_patterns("__pycache__", "node_modules", "*.js", "static"),
    )
    shutil.copy(ROOT / "README.md", root / "README.md")
    git = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "initial"], cwd=root, check=True)
    return root


def run_session(model_name: str, prompt_cache: bool) -> tuple[list[TurnRow], dict[str, Any]]:
    """One full agent run; its per-turn usage and a summary."""
    with tempfile.TemporaryDirectory() as tmp, FakeAnthropic(script()) as server:
        project = make_project(Path(tmp))
        model = Recording(
            AnthropicModel(
                model_name, client=fake_client(server, max_retries=0), prompt_cache=prompt_cache
            )
        )
        # The checks would run the copied package's tools; the model review still runs.
        agent = Agent(project, model, AgentConfig(review_rounds=0), checker=lambda *a, **k: None)
        session = agent.run("Write the thousand constant K of the model table as 1_000")
        if server.rejected:
            raise SystemExit(f"the strict fake refused a request: {server.rejected[0]}")
        rows = [
            TurnRow(
                i,
                u.total_input,
                u.cache_read_tokens,
                u.cache_write_tokens,
                u.input_tokens,
                u.output_tokens,
                fresh,
            )
            for i, (u, fresh) in enumerate(zip(model.usages, model.fresh, strict=True), 1)
        ]
        later = rows[1:]
        prompt = sum(r.prompt_tokens for r in later)
        within = [r for r in later if not r.new_conversation]
        within_prompt = sum(r.prompt_tokens for r in within)
        summary = {
            "model": model_name,
            "min_cache_tokens": spec_for(model_name).min_cache_tokens,
            "prompt_cache": prompt_cache,
            "stop_reason": session.stop_reason,
            "error": session.error,
            "turns": len(rows),
            "tool_turns": sum(1 for t in server.script if t.get("tool_calls")),
            "cache_read_share_turns_2_plus": sum(r.cache_read for r in later) / prompt
            if prompt
            else 0,
            "cache_read_share_within_conversations": (
                sum(r.cache_read for r in within) / within_prompt if within_prompt else 0
            ),
            "cost_usd": session.cost,
        }
        return rows, summary


def print_table(rows: list[TurnRow]) -> None:
    print(
        f"{'turn':>4} {'prompt':>7} {'read':>7} {'write':>7} {'plain':>6} {'out':>5} {'read %':>7}"
    )
    for r in rows:
        share = r.cache_read / r.prompt_tokens if r.prompt_tokens else 0
        print(
            f"{r.turn:>4} {r.prompt_tokens:>7} {r.cache_read:>7} {r.cache_write:>7} "
            f"{r.uncached:>6} {r.output:>5} {share:>7.1%}"
            + ("  <- new conversation (review)" if r.new_conversation and r.turn > 1 else "")
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write rows and summaries here")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    runs = [(name, True) for name in MODELS] + [(MODEL, False)]
    for model_name, prompt_cache in runs:
        rows, summary = run_session(model_name, prompt_cache)
        label = f"{model_name} " + (
            "(cache breakpoints)" if prompt_cache else "peer: prompt_cache=False"
        )
        print(
            f"\n{label}: stop={summary['stop_reason']} turns={summary['turns']} "
            f"cost=${summary['cost_usd']:.4f}"
        )
        print_table(rows)
        print(
            f"cache-read share of prompt tokens, turns 2+: "
            f"{summary['cache_read_share_turns_2_plus']:.1%} (excluding turns that start a new "
            f"conversation: {summary['cache_read_share_within_conversations']:.1%})"
        )
        key = model_name if prompt_cache else "peer"
        results[key] = {"summary": summary, "rows": [asdict(r) for r in rows]}
    print(
        f"\n{'model':<20} {'min cache':>9} {'read share 2+':>14} {'within conv.':>13} {'cost':>8}"
    )
    for name in MODELS:
        s = results[name]["summary"]
        print(
            f"{name:<20} {s['min_cache_tokens']:>9} {s['cache_read_share_turns_2_plus']:>14.1%} "
            f"{s['cache_read_share_within_conversations']:>13.1%} ${s['cost_usd']:>7.4f}"
        )
    peer = results["peer"]["summary"]
    print(
        f"{MODEL + ' (no cache)':<20} {'-':>9} {peer['cache_read_share_turns_2_plus']:>14.1%} "
        f"{'-':>13} ${peer['cost_usd']:>7.4f}"
    )
    worst = min(results[name]["summary"]["cache_read_share_turns_2_plus"] for name in MODELS)
    saving = 1 - results[MODEL]["summary"]["cost_usd"] / peer["cost_usd"]
    print(
        f"\ntarget >= {TARGET:.0%} for every model minimum: {'met' if worst >= TARGET else 'NOT met'} "
        f"(lowest {worst:.1%}); {MODEL} cost vs peer: {saving:.0%} lower"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
