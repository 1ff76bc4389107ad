"""Plain values a run produces: understanding, plan, findings. Built from tool inputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["blocker", "major", "minor", "nit"]
SEVERITIES: tuple[Severity, ...] = ("blocker", "major", "minor", "nit")
FindingStatus = Literal["open", "fixed"]


@dataclass
class Understanding:
    restatement: str
    acceptance_criteria: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)


@dataclass
class PlanStep:
    description: str
    files: list[str] = field(default_factory=list)


@dataclass
class Plan:
    summary: str
    steps: list[PlanStep] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)

    def text(self) -> str:
        """The plan as markdown."""
        lines = [self.summary, ""]
        lines += [
            f"{i}. {s.description}" + (f" ({', '.join(s.files)})" if s.files else "")
            for i, s in enumerate(self.steps, 1)
        ]
        if self.files:
            lines += ["", "Files: " + ", ".join(self.files)]
        if self.risks:
            lines += ["", "Risks:"] + [f"- {r}" for r in self.risks]
        return "\n".join(lines).strip()


@dataclass
class Finding:
    """A problem found by a check or by the review pass, attached to a file and lines if known."""

    severity: Severity
    message: str
    path: str | None = None
    line_start: int | None = None
    line_end: int | None = None
    suggestion: str = ""
    source: str = "review"  # review | tests | lint | compile | notebook
    status: FindingStatus = "open"
    round: int = 1

    def location(self) -> str:
        """``path:start-end`` or what part of it is known."""
        if not self.path:
            return ""
        if self.line_start is None:
            return self.path
        end = f"-{self.line_end}" if self.line_end and self.line_end != self.line_start else ""
        return f"{self.path}:{self.line_start}{end}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)
