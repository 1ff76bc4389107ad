"""A changeset saved to disk, so a session's staged work outlives its kernel.

``.agent_magic/sessions/<id>.changes/`` holds ``changes.json`` (the session's facts and, per file,
the hashes of its content before and after) and ``blobs/<sha256>`` (that content, byte for
byte). Hunks are not saved: they are computed again from the bytes, with the same ids.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agent_magic.staging.changeset import ABSENT, Changeset, content_hash, make_change

VERSION = 1


def folder(state_dir: Path, session_id: str) -> Path:
    """Where the changes of one session are kept."""
    if not session_id or "/" in session_id or session_id.startswith("."):
        raise ValueError(f"bad session id {session_id!r}")
    return state_dir / "sessions" / f"{session_id}.changes"


def save(
    state_dir: Path, session_id: str, changeset: Changeset | None, meta: dict[str, Any]
) -> Path:
    """Write ``changeset`` (may be None) and ``meta`` (JSON-able); blobs first, then the index."""
    where = folder(state_dir, session_id)
    blobs = where / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    files = []
    for fc in changeset.files if changeset is not None else []:
        entry = {"path": fc.path, "old_path": fc.old_path}
        for side in ("before", "after"):
            data = getattr(fc, side)
            sha = content_hash(data)
            entry[side] = sha
            if data is not None and not (blobs / sha).exists():
                _write_atomic(blobs / sha, data)
        files.append(entry)
    body = json.dumps(
        {"v": VERSION, "session": meta, "files": files}, ensure_ascii=False, default=str, indent=1
    )
    _write_atomic(where / "changes.json", body.encode("utf-8"))
    return where


def load(state_dir: Path, session_id: str) -> tuple[dict[str, Any], Changeset]:
    """The saved facts and changeset of a session; OSError/ValueError if missing or damaged."""
    where = folder(state_dir, session_id)
    data = json.loads((where / "changes.json").read_text(encoding="utf-8"))
    changes = []
    for entry in data["files"]:
        before, after = (_blob(where, entry[side]) for side in ("before", "after"))
        changes.append(make_change(entry["path"], before, after, entry.get("old_path")))
    return data["session"], Changeset(changes)


def saved_ids(state_dir: Path) -> list[str]:
    """Ids of the sessions with saved changes, newest first."""
    base = state_dir / "sessions"
    if not base.is_dir():
        return []
    return sorted(
        (
            p.name[: -len(".changes")]
            for p in base.glob("*.changes")
            if (p / "changes.json").is_file()
        ),
        reverse=True,
    )


def _blob(where: Path, sha: str) -> bytes | None:
    if sha == ABSENT:
        return None
    data = (where / "blobs" / sha).read_bytes()
    if content_hash(data) != sha:
        raise ValueError(f"saved content {sha[:12]} is damaged")
    return data


def _write_atomic(target: Path, data: bytes) -> None:
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, target)
