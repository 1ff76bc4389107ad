"""Self-review checks in a scratch copy: compile, lint, tests and notebooks; findings for the loop."""

from __future__ import annotations

from agent_magic.review.checks import run_checks
from agent_magic.review.report import CheckProblem, CheckReport, TestOutcome
from agent_magic.review.scratch import Scratch

__all__ = ["CheckProblem", "CheckReport", "Scratch", "TestOutcome", "run_checks"]
