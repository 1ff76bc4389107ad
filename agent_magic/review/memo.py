"""What one session's reviews remember: the last round's report and baselines by content."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_magic.review.kept import KeptTree


def digest(*parts: Any) -> str:
    """A stable hash of JSON-able parts (bytes hashed as hex digests)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=_bytes_key).encode())
        h.update(b"\0")
    return h.hexdigest()


def _bytes_key(value: Any) -> str:
    if isinstance(value, bytes):
        return hashlib.blake2b(value, digest_size=16).hexdigest()
    return str(value)


def changes_key(changes: Mapping[str, bytes | None]) -> str:
    """The key of a staged diff: its paths and contents."""
    return digest(sorted((p, c) for p, c in changes.items()))


@dataclass
class CheckMemo:
    """Kept by the caller for one session: repeated work is looked up here instead of redone.

    ``tree`` is one scratch copy the rounds bring up to date instead of copying the project
    again, and ``unchanged`` another of the project without the change, for the baselines.
    ``last`` maps the key of the last round (diff + project content + options) to its report;
    ``baselines`` maps the key of a baseline run (project content + command + test ids) to its
    results, so the unchanged project is tested once per session whatever the rounds.
    """

    last: dict[str, Any] = field(default_factory=dict)
    baselines: dict[str, Any] = field(default_factory=dict)
    reused_rounds: int = 0
    reused_baselines: int = 0
    tree: KeptTree = field(default_factory=KeptTree)  # the scratch copy, kept between rounds
    unchanged: KeptTree = field(  # the unchanged project's copy
        default_factory=lambda: KeptTree(role="unchanged")
    )

    def remember_round(self, key: str, report: Any) -> None:
        """Keep only the latest round."""
        self.last = {key: report}


class Durations:
    """Last known seconds of the full test suite per command, in the project's state dir."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def _load(self) -> dict[str, float]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return (
            {k: float(v) for k, v in data.items() if isinstance(v, (int, float))}
            if isinstance(data, dict)
            else {}
        )

    def get(self, command: Iterable[str]) -> float | None:
        """The last full-suite duration of ``command`` here, if known."""
        return self._load().get(" ".join(command))

    def put(self, command: Iterable[str], seconds: float) -> None:
        """Remember a full-suite duration (best effort: a read-only project remembers nothing)."""
        if self.path is None:
            return
        data = self._load()
        data[" ".join(command)] = round(seconds, 3)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass
