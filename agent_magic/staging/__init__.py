"""Staged changesets: tolerant edits in an overlay, per-hunk diffs, atomic apply, checkpoints, undo."""

from __future__ import annotations

from agent_magic.staging.apply import apply, list_checkpoints, recover, undo, write_file
from agent_magic.staging.changeset import Changeset, FileChange, content_hash
from agent_magic.staging.checkpoints import Checkpoint
from agent_magic.staging.diff import Hunk
from agent_magic.staging.overlay import Staging

__all__ = [
    "Changeset",
    "Checkpoint",
    "FileChange",
    "Hunk",
    "Staging",
    "apply",
    "content_hash",
    "list_checkpoints",
    "recover",
    "undo",
    "write_file",
]
