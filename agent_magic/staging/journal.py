"""The write-ahead journal of an apply or undo, and the recovery that finishes what it started.

Before the first byte of the user's files is written, ``.agent_magic/apply.journal.json`` names
the checkpoint and every path with its content hash before and after. It is removed only when
every write has succeeded. A journal found later means the process died in between (kill -9,
power cut, a crashed kernel); ``recover`` then puts every path back to one consistent state:
an interrupted apply is rolled back to the checkpoint, an interrupted undo is completed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

JOURNAL_NAME = "apply.journal.json"


@dataclass
class Journal:
    """What an apply (or undo) is about to write; enough to finish or take it back."""

    action: str  # apply | undo
    checkpoint: str
    paths: list[str]
    before: dict[str, str] = field(default_factory=dict)  # path -> content hash before writing
    after: dict[str, str] = field(default_factory=dict)  # path -> content hash it will have
    created_dirs: list[str] = field(default_factory=list)
    pid: int = field(default_factory=os.getpid)
    live: list[str] = field(default_factory=list)  # paths changed in their open tabs (notebooks)


def begin(state_dir: Path, journal: Journal) -> None:
    """Write the journal durably (temp file, fsync, rename, fsync of the directory)."""
    state_dir.mkdir(exist_ok=True)
    tmp = state_dir / (JOURNAL_NAME + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    try:
        os.write(fd, json.dumps(asdict(journal), sort_keys=True).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, state_dir / JOURNAL_NAME)
    _sync_dir(state_dir)


def end(state_dir: Path) -> None:
    """Remove the journal: the apply or undo it described is complete (or fully taken back)."""
    try:
        os.unlink(state_dir / JOURNAL_NAME)
    except FileNotFoundError:
        return
    _sync_dir(state_dir)


def pending(state_dir: Path) -> Journal | None:
    """The journal of an interrupted apply or undo, if there is one."""
    path = state_dir / JOURNAL_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Journal(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        # A torn journal can only come from a crash while writing it, before any file was touched.
        return Journal("apply", "", [])


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
