"""The persistent index cache: one JSON file, replaced atomically, tolerant of corruption."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agent_magic.analysis.scan import FileFacts

CACHE_VERSION = 1
CACHE_NAME = f"facts-v{CACHE_VERSION}.json"


@dataclass
class CachedFile:
    """A file's facts with the (mtime, size) they were computed at."""

    mtime_ns: int
    size: int
    facts: FileFacts


def load_cache(cache_dir: Path) -> dict[str, CachedFile]:
    """The cached facts by path; empty when the cache is missing, stale or unreadable."""
    try:
        data = json.loads((cache_dir / CACHE_NAME).read_text(encoding="utf-8"))
        if data.get("version") != CACHE_VERSION:
            return {}
        return {p: CachedFile(e["mtime_ns"], e["size"], FileFacts.from_json(e["facts"]))
                for p, e in data["files"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        # A cache is only an accelerator: anything odd means start over.
        return {}


def save_cache(cache_dir: Path, files: dict[str, CachedFile]) -> None:
    """Write the cache; concurrent writers each replace the file whole, so readers never see half."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    payload = {"version": CACHE_VERSION, "files": {
        p: {"mtime_ns": c.mtime_ns, "size": c.size, "facts": c.facts.to_json()} for p, c in files.items()}}
    fd, tmp = tempfile.mkstemp(prefix=".facts-", suffix=".tmp", dir=cache_dir)
    try:
        # dumps (C encoder) is several times faster than dump's chunked writes.
        text = json.dumps(payload, separators=(",", ":"))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, cache_dir / CACHE_NAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
