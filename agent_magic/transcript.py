"""A versioned JSONL record of every step of a run, under ``<project>/.agent_magic/sessions/``.

Secrets never reach the file: every line passes through :mod:`agent_magic.secrets` (values of
secret-named environment variables and of the project's ``.env``, and key-shaped strings).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from agent_magic.paths import Project
from agent_magic.secrets import Redactor

VERSION = 1


def ensure_state_dir(project: Project) -> Path:
    """Create ``.agent_magic/`` with a .gitignore of ``*`` so git never sees it."""
    state = project.state_dir
    state.mkdir(exist_ok=True)
    ignore = state / ".gitignore"
    if not ignore.exists():
        ignore.write_text(
            "# agent_magic state: sessions, checkpoints, caches\n*\n", encoding="utf-8"
        )
    return state


def redact(text: str, secrets: list[str] | None = None) -> str:
    """Replace secret values (default: this process's) and key-shaped strings in ``text``."""
    return (Redactor.current() if secrets is None else Redactor(secrets))(text)


class Transcript:
    """Appends one JSON object a line; each line is flushed before the step goes on."""

    def __init__(self, project: Project, session_id: str) -> None:
        self.path = ensure_state_dir(project) / "sessions" / f"{session_id}.jsonl"
        self.path.parent.mkdir(exist_ok=True)
        self._redact = Redactor.current(project.root)

    def write(self, kind: str, **data: Any) -> None:
        """Append one record of the given kind."""
        record = {"v": VERSION, "t": round(time.time(), 3), "kind": kind, **data}
        # Redact the decoded strings, not the JSON text: escaping would hide a value with quotes,
        # backslashes or newlines from the match.
        plain = json.loads(json.dumps(record, default=_jsonable, ensure_ascii=False))
        line = json.dumps(self._redact.deep(plain), ensure_ascii=False)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    return str(value)


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All records of one transcript; a torn last line (crash mid-write) is skipped."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def list_sessions(project: Project) -> list[dict[str, Any]]:
    """One summary per recorded session, newest first: id, task, stop_reason, cost, created."""
    folder = project.state_dir / "sessions"
    summaries = []
    for path in sorted(folder.glob("*.jsonl"), reverse=True):
        records = read_records(path)
        start: dict[str, Any] = next((r for r in records if r.get("kind") == "start"), {})
        end: dict[str, Any] = next((r for r in reversed(records) if r.get("kind") == "end"), {})
        summaries.append(
            {
                "id": path.stem,
                "task": start.get("task", ""),
                "created": start.get("created", ""),
                "model": start.get("model", ""),
                "stop_reason": end.get("stop_reason", "unfinished"),
                "cost": end.get("cost", 0.0),
                "files": end.get("files", []),
                "path": str(path),
            }
        )
    return summaries
