"""Scripted model turns shared by tests: complete runs on the example project."""

from __future__ import annotations

from typing import Any


def call(name: str, **data: Any) -> dict[str, Any]:
    """One tool call in the script format."""
    return {"name": name, "input": data}


def turn(*calls: dict[str, Any], text: str = "") -> dict[str, Any]:
    """One assistant turn in the script format."""
    out: dict[str, Any] = {"tool_calls": list(calls)}
    if text:
        out["text"] = text
    return out


UNDERSTAND = turn(
    call(
        "submit_understanding",
        restatement="parse_price fails on prices with a thousands separator; make it accept them.",
        acceptance_criteria=["tests/test_cleaning.py passes", "other tests still pass"],
        assumptions=["prices use ',' as the thousands separator"],
    ),
    text="The failing test is about thousands separators.",
)

PLAN = [
    turn(call("view", path="shoplytics/cleaning.py")),
    turn(
        call(
            "submit_plan",
            summary="Strip thousands separators in parse_price",
            steps=[
                {
                    "description": "Remove ',' before float() in parse_price",
                    "files": ["shoplytics/cleaning.py"],
                }
            ],
            files=["shoplytics/cleaning.py"],
            risks=["European decimal commas"],
        )
    ),
]

FIX_OLD = '    return float(text.strip().lstrip("$"))'
FIX_NEW = '    return float(text.strip().lstrip("$").replace(",", ""))'
IMPLEMENT = [
    turn(call("replace", path="shoplytics/cleaning.py", old=FIX_OLD, new=FIX_NEW)),
    turn(call("finish", summary="parse_price now ignores thousands separators")),
]
REVIEW_OK = turn(call("finish", summary="The change is minimal and correct."))


def fix_failing_test() -> list[dict[str, Any]]:
    """The whole run for "fix the failing test" on examples/sample_project."""
    return [UNDERSTAND, *PLAN, *IMPLEMENT, REVIEW_OK]
