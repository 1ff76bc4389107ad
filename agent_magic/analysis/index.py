"""RepoIndex: the cached, incrementally updated index of a project, and its public queries."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

from agent_magic.analysis.cache import (
    CachedFile,
    load_cache,
    load_history,
    save_cache,
    save_history,
)
from agent_magic.analysis.gcpause import paused_gc
from agent_magic.analysis.history import (
    MAX_COMMITS,
    Commit,
    head_commit,
    is_ancestor,
    read_history,
)
from agent_magic.analysis.inventory import MAX_FILE_BYTES, FileEntry, is_binary, list_files
from agent_magic.analysis.ranking import WEIGHTS, RankedFile, Ranker
from agent_magic.analysis.repomap import render_repo_map
from agent_magic.analysis.scan import FileFacts, content_hash, scan_file
from agent_magic.analysis.symbols import Outline, outline_file
from agent_magic.errors import PathError
from agent_magic.paths import Project, read_regular


class RepoIndex:
    """A project's files, their facts and a ranker; refreshed from disk before each query."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        max_file_bytes: int = MAX_FILE_BYTES,
        git_history: bool = True,
        ranking: bool = True,
    ) -> None:
        self.project = Project(root)
        self.ranking = ranking  # False: facts only (test selection), no ranker built
        self.cache_dir = Path(cache_dir) if cache_dir else self.project.state_dir / "index"
        self.max_file_bytes = max_file_bytes
        self.git_history = git_history
        self._head: str | None = None
        self._commits: list[Commit] = []
        self._files: dict[str, CachedFile] | None = None
        self._ranker: Ranker | None = None
        self._outlines: dict[tuple[str, str], Outline] = {}
        self.last_rescanned = 0
        self._name_memo: dict[str, bool] = {}

    def refresh(self) -> int:
        """Bring the index up to date with the disk; returns how many files were (re)scanned."""
        with paused_gc():
            return self._refresh()

    def _refresh(self) -> int:
        entries = list_files(self.project, self.max_file_bytes, self._name_memo)
        old = self._files if self._files is not None else load_cache(self.cache_dir)
        new: dict[str, CachedFile] = {}
        stale: list[FileEntry] = []
        for entry in entries:
            cached = old.get(entry.path)
            if cached and cached.mtime_ns == entry.mtime_ns and cached.size == entry.size:
                new[entry.path] = cached
            else:
                stale.append(entry)
        # Content-addressed reuse: a file that changed mtime but not content is not rescanned.
        by_sha = {(c.facts.path, c.facts.sha): c.facts for e in stale if (c := old.get(e.path))}
        dirty: list[str] = []
        for entry in stale:
            facts = self._scan(entry, by_sha)
            dirty.append(entry.path)
            if facts is not None:
                new[entry.path] = CachedFile(entry.mtime_ns, entry.size, facts)
        dirty += [p for p in old if p not in new]
        rescanned = len(stale)
        self._files = new
        moved = self._sync_history() if self.ranking else False
        if self.ranking and (dirty or moved or self._ranker is None):
            self._update_ranker(new, moved)
        if dirty:
            # Only shards holding changed paths are rewritten; a lost or corrupt shard's files
            # were rescanned above, so they are dirty and their shard is written again.
            with contextlib.suppress(OSError):  # a read-only project still gets an in-memory index
                save_cache(self.cache_dir, new, dirty)
        self.last_rescanned = rescanned
        return rescanned

    def _sync_history(self) -> bool:
        """Re-read git history if HEAD moved since last time; whether it did."""
        head = head_commit(self.project.root) if self.git_history else None  # None outside git
        if head == self._head:
            return False
        # git log is read once per HEAD, not on every refresh, and kept beside the facts.
        commits = load_history(self.cache_dir, head) if head else []
        if commits is None and head:
            commits = self._read_history(head)
            # Kept even when empty: a git log that timed out would time out again at this HEAD.
            with contextlib.suppress(OSError):
                save_history(self.cache_dir, head, commits)
        self._head, self._commits = head, commits or []
        return True

    def _read_history(self, head: str) -> list[Commit]:
        root, old = self.project.root, self._head
        if old and self._commits and is_ancestor(root, old, head):
            # HEAD moved forward (a pull, or an apply with --commit): read only what is new.
            return (read_history(root, since=old) + self._commits)[:MAX_COMMITS]
        return read_history(root)

    def _update_ranker(self, files: dict[str, CachedFile], new_history: bool) -> None:
        ranker = self._ranker
        if (
            ranker is not None
            and len(ranker.paths) == len(files)
            and all(p in files for p in ranker.paths)
        ):
            # Same file set: swap the changed files' facts in place (a full rebuild takes seconds).
            changed = {
                i: files[p].facts
                for i, (p, f) in enumerate(zip(ranker.paths, ranker.facts, strict=True))
                if files[p].facts is not f
            }
            ranker.update(changed)
            if new_history:
                ranker.set_history(self._commits)
            return
        self._ranker = Ranker([c.facts for c in files.values()], self._commits)

    def _scan(self, entry: FileEntry, by_sha: dict[tuple[str, str], FileFacts]) -> FileFacts | None:
        try:
            # Listed as a regular file, but it may have become a FIFO or grown since: check again.
            data = read_regular(self.project.root / entry.path, max(entry.size, MAX_FILE_BYTES))
        except (OSError, PathError):
            return None
        if is_binary(data):
            return None
        reuse = by_sha.get((entry.path, content_hash(data)))
        return reuse if reuse is not None else scan_file(entry.path, data)

    def _ensure(self) -> Ranker:
        self.refresh()
        assert self._ranker is not None
        return self._ranker

    def files(self) -> list[str]:
        """The indexed files (posix, relative to the root), sorted."""
        self._ensure()
        return sorted(self._files or {})

    def facts(self, path: str) -> FileFacts | None:
        """The scanned facts of one indexed file, or None if it is not indexed."""
        self._ensure()
        cached = (self._files or {}).get(path)
        return cached.facts if cached else None

    def all_facts(self) -> dict[str, FileFacts]:
        """Every indexed file's facts after one refresh (path -> facts)."""
        self.refresh()
        return {p: c.facts for p, c in (self._files or {}).items()}

    def rank(
        self,
        task: str,
        k: int = 20,
        *,
        include_tests: bool = True,
        weights: Mapping[str, float] = WEIGHTS,
    ) -> list[RankedFile]:
        """The ``k`` files most relevant to ``task``, best first, with reasons; ``weights`` says
        how much each kind of evidence counts (the benchmark turns one off to measure it)."""
        return self._ensure().rank(task, k, include_tests=include_tests, weights=weights)

    def outline(self, path: str) -> Outline | None:
        """Classes, functions and signatures of one indexed file (parsed lazily, memoized)."""
        self._ensure()
        return self._outline(path)

    def _outline(self, path: str) -> Outline | None:
        cached = (self._files or {}).get(path)
        facts = cached.facts if cached else None
        if facts is None:
            return None
        key = (path, facts.sha)
        if key not in self._outlines:
            try:
                text = read_regular(self.project.root / path, MAX_FILE_BYTES).decode(
                    "utf-8", "replace"
                )
            except (OSError, PathError):
                return None
            self._outlines[key] = outline_file(path, text)
        return self._outlines[key]

    def repo_map(self, task: str, budget_tokens: int = 4000) -> str:
        """A prompt-ready map: signatures of the top files for ``task``, names of the rest."""
        # One refresh for the whole map: each refresh lists and stats every file of the project.
        ranked = self._ensure().rank(task, k=30)
        top = [r.path for r in ranked]
        outlines = {p: o for p in top[:12] if (o := self._outline(p)) is not None}
        return render_repo_map(top, outlines, sorted(self._files or {}), budget_tokens)
