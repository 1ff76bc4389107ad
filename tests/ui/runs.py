"""Scripted runs on a tiny repo, and a model that blocks until the test lets it go."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from agent_magic.models.base import FREE, Reply, Request, TextSink
from agent_magic.models.scripted import ScriptedModel

FILLER = "".join(f"# line {i}\n" for i in range(12))
CALC = f"def add(a, b):\n    return a - b\n\n\n{FILLER}\n\ndef mul(a, b):\n    return a + b\n"


def call(name: str, **data: Any) -> dict[str, Any]:
    """One tool call in the script format."""
    return {"name": name, "input": data}


def turn(*calls: dict[str, Any], text: str = "") -> dict[str, Any]:
    """One assistant turn in the script format."""
    return {"text": text, "tool_calls": list(calls)} if text else {"tool_calls": list(calls)}


UNDERSTAND = turn(
    call(
        "submit_understanding",
        restatement="add and mul compute the wrong thing",
        acceptance_criteria=["add adds", "mul multiplies"],
    ),
    text="Both functions use the wrong operator.",
)
PLAN = turn(
    call(
        "submit_plan",
        summary="Fix the operators in calc.py",
        steps=[{"description": "Use + in add and * in mul", "files": ["calc.py"]}],
        files=["calc.py"],
    )
)
IMPLEMENT = [
    turn(call("replace", path="calc.py", old="    return a - b\n", new="    return a + b\n")),
    turn(
        call(
            "replace",
            path="calc.py",
            old="def mul(a, b):\n    return a + b\n",
            new="def mul(a, b):\n    return a * b\n",
        )
    ),
    turn(call("finish", summary="add and mul fixed")),
]


def fix_calc() -> list[dict[str, Any]]:
    """A whole run (review off) that fixes both functions: one file, two hunks."""
    return [UNDERSTAND, PLAN, *IMPLEMENT]


def plan_only() -> list[dict[str, Any]]:
    """The turns up to the plan (a plan-first run)."""
    return [UNDERSTAND, PLAN]


def write_script(folder: Path, turns: list[dict[str, Any]], name: str = "script.json") -> str:
    """Write ``turns`` as a script file; returns the ``scripted:PATH`` spec."""
    path = folder / name
    path.write_text(json.dumps(turns), encoding="utf-8")
    return f"scripted:{path}"


class BlockingModel:
    """A scripted model whose every call waits until ``release`` is set; ``entered`` says it waits."""

    def __init__(self, turns: list[dict[str, Any]]) -> None:
        self.inner = ScriptedModel(turns)
        self.name = "blocking"
        self.price = FREE
        self.entered = threading.Event()
        self.release = threading.Event()

    def complete(self, request: Request, on_text: TextSink | None = None) -> Reply:
        """Block, then answer the next scripted turn."""
        self.entered.set()
        self.release.wait(30)
        return self.inner.complete(request, on_text)
