"""The persistent index cache: JSON shards, each replaced atomically, tolerant of corruption."""

from __future__ import annotations

import json
import os
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from agent_magic.analysis.history import Commit
from agent_magic.analysis.scan import FileFacts

CACHE_VERSION = 2
CACHE_NAME = f"facts-v{CACHE_VERSION}"  # a directory of shards
HISTORY_VERSION = 3
HISTORY_NAME = f"history-v{HISTORY_VERSION}.json"
# Sharding keeps a one-file update from rewriting the whole index (tens of MB on a large repo).
N_SHARDS = 32


@dataclass
class CachedFile:
    """A file's facts with the (mtime, size) they were computed at."""

    mtime_ns: int
    size: int
    facts: FileFacts


def shard_of(path: str) -> int:
    """The shard a path's entry lives in (stable across runs and machines)."""
    return zlib.crc32(path.encode("utf-8")) % N_SHARDS


def _shard_file(cache_dir: Path, shard: int) -> Path:
    return cache_dir / CACHE_NAME / f"shard-{shard:02d}.json"


def load_cache(cache_dir: Path) -> dict[str, CachedFile]:
    """The cached facts by path; a missing, stale or unreadable shard just contributes nothing."""
    out: dict[str, CachedFile] = {}
    for shard in range(N_SHARDS):
        try:
            data = json.loads(_shard_file(cache_dir, shard).read_text(encoding="utf-8"))
            if data.get("version") != CACHE_VERSION:
                continue
            entries = {
                p: CachedFile(e["mtime_ns"], e["size"], FileFacts.from_json(e["facts"]))
                for p, e in data["files"].items()
                if shard_of(p) == shard
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            # A cache is only an accelerator: anything odd means rescanning those files.
            continue
        out.update(entries)
    return out


def save_cache(
    cache_dir: Path, files: dict[str, CachedFile], dirty: Iterable[str] | None = None
) -> None:
    """Write the shards holding ``dirty`` paths (all when None), each replaced whole.

    Concurrent writers each replace a shard atomically, so readers never see half a file; an entry
    lost to a racing writer only costs a rescan, because entries are checked against (mtime, size).
    """
    shards = set(range(N_SHARDS)) if dirty is None else {shard_of(p) for p in dirty}
    if not shards:
        return
    grouped: dict[int, dict[str, dict]] = {s: {} for s in shards}
    for p, c in files.items():
        s = shard_of(p)
        if s in grouped:
            grouped[s][p] = {"mtime_ns": c.mtime_ns, "size": c.size, "facts": c.facts.to_json()}
    folder = cache_dir / CACHE_NAME
    folder.mkdir(parents=True, exist_ok=True)
    for s, entries in grouped.items():
        _write_atomic(_shard_file(cache_dir, s), {"version": CACHE_VERSION, "files": entries})


def load_history(cache_dir: Path, head: str) -> list[Commit] | None:
    """The commits saved for ``head``, or None when none were (or they cannot be read)."""
    try:
        data = json.loads((cache_dir / HISTORY_NAME).read_text(encoding="utf-8"))
        if data.get("version") != HISTORY_VERSION or data.get("head") != head:
            return None
        return [
            Commit(message, tuple(files), touched) for message, files, touched in data["commits"]
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save_history(cache_dir: Path, head: str, commits: list[Commit]) -> None:
    """Keep the commits read at ``head``; reading git log again costs most of a warm start."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(
        cache_dir / HISTORY_NAME,
        {
            "version": HISTORY_VERSION,
            "head": head,
            "commits": [[c.message, list(c.files), c.touched] for c in commits],
        },
    )


def _write_atomic(target: Path, payload: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".tmp", dir=target.parent)
    try:
        # dumps (C encoder) is several times faster than dump's chunked writes.
        text = json.dumps(payload, separators=(",", ":"))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
