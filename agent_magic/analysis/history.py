"""Git history as evidence: recent commits, their messages and the files they touched."""

from __future__ import annotations

import math
import os
import subprocess
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent_magic.analysis.bm25 import BM25
from agent_magic.analysis.text import tokenize

# How far back to read: a few thousand commits is a year or more of a busy project and reads in
# well under a second.
MAX_COMMITS = 3000
# Sweeping commits (formatting, renames, vendoring) say nothing about where a fix belongs.
MAX_FILES_PER_COMMIT = 30
# Only the commits that best match the task vote for files.
_VOTING_COMMITS = 100
_SEP, _END = "\x1e", "\x1f"


@dataclass(frozen=True)
class Commit:
    """One commit: its message and the files it touched (posix, relative to the project root)."""

    message: str
    files: tuple[str, ...]


def read_history(root: str | os.PathLike[str], limit: int = MAX_COMMITS) -> list[Commit]:
    """The last ``limit`` non-merge commits reachable from HEAD, newest first; [] if git fails."""
    # The user's git config must not change the output: no signature blocks, no quoted names.
    cmd = ["git", "-c", "log.showSignature=false", "-c", "core.quotePath=false", "log", f"-n{limit}",
           "--no-merges", "--relative", "--name-only", f"--format={_SEP}%s%n%b{_END}", "--no-color",
           "--no-renames"]
    try:
        proc = subprocess.run(cmd, cwd=root, capture_output=True, timeout=30, check=False,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if proc.returncode != 0:
        return []
    return parse_log(proc.stdout.decode("utf-8", "replace"))


def parse_log(text: str) -> list[Commit]:
    """Commits from ``git log`` output written with read_history's format."""
    out: list[Commit] = []
    for record in text.split(_SEP)[1:]:
        message, _, names = record.partition(_END)
        out.append(Commit(message.strip(), tuple(n for n in names.splitlines() if n.strip())))
    return out


def head_commit(root: str | os.PathLike[str]) -> str | None:
    """HEAD's commit id, or None outside git or in a repo without commits."""
    try:
        proc = subprocess.run(["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=root,
                              capture_output=True, timeout=10, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.decode().strip() or None


def recency(commits: Sequence[Commit], window: int = 50) -> dict[str, float]:
    """Files touched by the last ``window`` commits: 1.0 for the newest, falling towards 0."""
    names = [f for c in commits[:window] for f in c.files]
    out: dict[str, float] = {}
    for pos, name in enumerate(names):
        out.setdefault(name, 1.0 - pos / (len(names) + 1))
    return out


class HistoryIndex:
    """BM25 over commit messages; a task that reads like past commits points at their files."""

    def __init__(self, commits: Sequence[Commit], paths: Sequence[str]) -> None:
        where = {p: i for i, p in enumerate(paths)}
        self.files: list[tuple[int, ...]] = []
        self.touched: list[int] = []
        docs: list[Counter[str]] = []
        for c in commits:
            if not 0 < len(c.files) <= MAX_FILES_PER_COMMIT:
                continue
            files = tuple(where[f] for f in c.files if f in where)
            if files:
                self.files.append(files)
                self.touched.append(len(c.files))
                docs.append(Counter(tokenize(c.message)))
        self.bm25 = BM25(docs)
        # A file most commits touch (a changelog, a version file) says little about any one task.
        seen = Counter(i for files in self.files for i in files)
        self.file_idf = {i: math.log(1 + len(self.files) / c) for i, c in seen.items()}

    def scores(self, query: Mapping[str, float]) -> dict[int, float]:
        """Per file index: the summed match of the best-matching commits that touched it."""
        matched = self.bm25.scores(query)
        out: dict[int, float] = {}
        for c in sorted(matched, key=lambda c: -matched[c])[:_VOTING_COMMITS]:
            # A commit's vote is shared among all the files it touched, still present or not.
            share = matched[c] / self.touched[c]
            for i in self.files[c]:
                out[i] = out.get(i, 0.0) + share * self.file_idf[i]
        return out
