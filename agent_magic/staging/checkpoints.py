"""Checkpoints: the pre-apply content of touched paths, kept in git or as backup copies.

Metadata lives in ``.agent_magic/checkpoints/<id>/checkpoint.json``. In a git repository the
content is a commit object under ``refs/agent-magic/checkpoints/<id>`` (so ``git gc`` keeps it and
the user's branch, index and HEAD are never touched); elsewhere it is copied to ``files/``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from agent_magic.errors import UserError
from agent_magic.paths import Project
from agent_magic.staging import gitstore


@dataclass
class Checkpoint:
    """One apply's record: which paths it touched, their content before and hashes after."""

    id: str
    created: str  # ISO 8601, UTC
    paths: list[str]
    message: str = ""
    session_id: str = ""
    undone: bool = False
    kind: str = "files"  # git | files
    before: dict[str, dict | None] = field(
        default_factory=dict
    )  # path -> {"mode"} or None if absent
    after: dict[str, str] = field(default_factory=dict)  # path -> content hash after apply
    tree: str = ""  # git tree holding the pre-apply content
    commit: str = ""  # the commit made by apply(commit=True), if any
    created_dirs: list[str] = field(default_factory=list)  # dirs the apply made; undo removes them
    revert_commit: str = ""  # the commit undo made to take back ``commit``, if any
    commit_error: str = ""  # why the commit (or the revert's commit) failed, e.g. a hook's output


def new_id(now: datetime | None = None) -> str:
    """A sortable, unique checkpoint id."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%d-%H%M%S-%f") + "-" + secrets.token_hex(2)


class CheckpointStore:
    """Saves, loads and lists a project's checkpoints."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.dir = project.state_dir / "checkpoints"
        self._repo = gitstore.open_repo(project.root) if project.is_git else None

    def save(self, cp: Checkpoint, contents: dict[str, tuple[bytes, int] | None]) -> Checkpoint:
        """Record ``contents`` (path -> (bytes, mode), None = absent) under ``cp``."""
        folder = self._folder(cp.id)
        folder.mkdir(parents=True, exist_ok=True)
        _ignore_state_dir(self.project.state_dir)
        cp.before = {p: (None if c is None else {"mode": c[1]}) for p, c in contents.items()}
        present = {p: c for p, c in contents.items() if c is not None}
        if self._repo is not None:
            cp.kind = "git"
            cp.tree = gitstore.write_tree(self._repo, present)
            sha = gitstore.commit_tree(
                self._repo, cp.tree, f"agent_magic checkpoint {cp.id}\n\n{cp.message}".strip()
            )
            gitstore.set_ref(self._repo, gitstore.REF_PREFIX + cp.id, sha)
        else:
            cp.kind = "files"
            for path, (data, _mode) in present.items():
                target = folder / "files" / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        self.write_meta(cp)
        return cp

    def write_meta(self, cp: Checkpoint) -> None:
        """Persist ``cp``'s metadata (atomically)."""
        folder = self._folder(cp.id)
        tmp = folder / "checkpoint.json.tmp"
        tmp.write_text(json.dumps(asdict(cp), indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, folder / "checkpoint.json")

    def content(self, cp: Checkpoint, path: str) -> bytes | None:
        """The pre-apply bytes of ``path``, None if it did not exist."""
        if cp.before.get(path) is None:
            return None
        if cp.kind == "git":
            if self._repo is None:
                raise UserError(
                    f"checkpoint {cp.id} is stored in git, but the project has no repository"
                )
            return gitstore.read_blob(self._repo, cp.tree, path)
        return (self._folder(cp.id) / "files" / path).read_bytes()

    def discard(self, cp: Checkpoint) -> None:
        """Remove a checkpoint entirely (used when the apply it guarded did not happen)."""
        if self._repo is not None and cp.kind == "git":
            gitstore.delete_ref(self._repo, gitstore.REF_PREFIX + cp.id)
        shutil.rmtree(self._folder(cp.id), ignore_errors=True)

    def load(self, checkpoint_id: str) -> Checkpoint:
        """The checkpoint with that id; UserError if there is none."""
        meta = self._folder(checkpoint_id) / "checkpoint.json"
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise UserError(
                f"no checkpoint {checkpoint_id!r}; `%agent history` lists them"
            ) from None
        known = set(Checkpoint.__dataclass_fields__)
        return Checkpoint(**{k: v for k, v in data.items() if k in known})

    def list(self) -> list[Checkpoint]:
        """Every checkpoint, newest first."""
        if not self.dir.is_dir():
            return []
        found = []
        for entry in self.dir.iterdir():
            if (entry / "checkpoint.json").is_file():
                found.append(self.load(entry.name))
        return sorted(found, key=lambda c: (c.created, c.id), reverse=True)

    def _folder(self, checkpoint_id: str) -> Path:
        if not checkpoint_id or "/" in checkpoint_id or checkpoint_id.startswith("."):
            raise UserError(f"bad checkpoint id {checkpoint_id!r}")
        return self.dir / checkpoint_id


def _ignore_state_dir(state_dir: Path) -> None:
    # Keep agent_magic's own files out of the user's `git status`.
    marker = state_dir / ".gitignore"
    if not marker.exists():
        marker.write_text("*\n", encoding="utf-8")
