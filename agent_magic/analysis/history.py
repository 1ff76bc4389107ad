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
from agent_magic.gitenv import git_env

# How far back to read: a few thousand commits is a year or more of a busy project and reads in
# under a second (0.8 s on sympy).
MAX_COMMITS = 3000
# Sweeping commits (formatting, renames, vendoring) say nothing about where a fix belongs.
MAX_FILES_PER_COMMIT = 30
# Only the commits that best match the task vote for files.
_VOTING_COMMITS = 100
# Record separators (ASCII RS and US) around each message: commit messages do not use them, and
# -z keeps file names verbatim between NULs.
_SEP, _END = "\x1e", "\x1f"


@dataclass(frozen=True)
class Commit:
    """One commit: its message and the project files it touched (posix, relative to the root)."""

    message: str
    files: tuple[str, ...]
    touched: int = 0  # files touched in the whole repository; 0 means just ``files``

    @property
    def size(self) -> int:
        """Files the commit touched, inside the project or not."""
        return self.touched or len(self.files)


def read_history(
    root: str | os.PathLike[str], limit: int = MAX_COMMITS, since: str | None = None
) -> list[Commit]:
    """The last ``limit`` non-merge commits that touched the project, newest first, only those
    after commit ``since`` if given; [] if git fails."""
    prefix = _git(root, "rev-parse", "--show-prefix")
    # Only commits touching the project (``-- .``), each with all its files (--full-diff), so a
    # repository-wide sweep stays a sweep when the project is one directory of a monorepo. The
    # user's git config must not change the output: no signature blocks, UTF-8 messages.
    out = _git(
        root,
        "-c",
        "log.showSignature=false",
        "-c",
        "i18n.logOutputEncoding=UTF-8",
        "log",
        "-z",
        f"-n{limit}",
        "--no-merges",
        "--no-renames",
        "--full-diff",
        "--name-only",
        "--no-color",
        f"--format={_SEP}%s%n%b{_END}",
        *([f"{since}..HEAD"] if since else []),
        "--",
        ".",
    )
    if prefix is None or out is None:
        return []
    return parse_log(out, prefix.strip())


def _git(root: str | os.PathLike[str], *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-c", "core.fsmonitor=false", *args],
            cwd=root,
            capture_output=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
            env=git_env(),  # the project's repository, not one the kernel's GIT_DIR names
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else None


def parse_log(text: str, prefix: str = "") -> list[Commit]:
    """Commits from read_history's ``git log -z`` output; ``prefix`` is the project's directory."""
    out: list[Commit] = []
    for record in text.split(_SEP)[1:]:
        message, _, rest = record.partition(_END)
        names = [n.lstrip("\n") for n in rest.split("\0")]
        names = [n for n in names if n]
        files = tuple(n[len(prefix) :] for n in names if n.startswith(prefix))
        out.append(Commit(message.strip(), files, len(names)))
    return out


def head_commit(root: str | os.PathLike[str]) -> str | None:
    """HEAD's commit id, or None outside git or in a repo without commits."""
    out = _git(root, "rev-parse", "-q", "--verify", "HEAD")
    return out.strip() or None if out else None


def is_ancestor(root: str | os.PathLike[str], older: str, newer: str) -> bool:
    """Whether commit ``older`` is in ``newer``'s history."""
    return _git(root, "merge-base", "--is-ancestor", older, newer) is not None


def recency(commits: Sequence[Commit], window: int = 50) -> dict[str, float]:
    """Files touched by the last ``window`` commits: 1.0 for the newest, falling towards 0."""
    names = [f for c in commits[:window] if c.size <= MAX_FILES_PER_COMMIT for f in c.files]
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
            if c.size > MAX_FILES_PER_COMMIT:
                continue
            files = tuple(where[f] for f in c.files if f in where)
            if files:
                self.files.append(files)
                self.touched.append(c.size)
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
