"""Git plumbing for checkpoints and commits that never touches the user's HEAD, index or branch.

Trees are built in a throwaway index (``GIT_INDEX_FILE``) from blobs written straight to the
object database, so the user's staged and unstaged work is left exactly as it was.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from agent_magic.errors import UserError
from agent_magic.gitenv import git_env, redirected

if TYPE_CHECKING:
    import git

# GitPython (40 ms of imports) is imported where a repository is first opened, not with this
# module: `%load_ext` imports it on the kernel's thread to look for an interrupted apply.

REF_PREFIX = "refs/agent-magic/checkpoints/"
TRAILER = "Generated-by: agent_magic"
# A repository's own config may name a program git runs to refresh the index (core.fsmonitor);
# a cloned, hostile repo must not get to run it when we checkpoint or commit.
SAFE_CONFIG = ("-c", "core.fsmonitor=false")
_FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "agent_magic",
    "GIT_AUTHOR_EMAIL": "agent_magic@localhost",
    "GIT_COMMITTER_NAME": "agent_magic",
    "GIT_COMMITTER_EMAIL": "agent_magic@localhost",
}


def open_repo(root: Path) -> git.Repo | None:
    """The git repository containing ``root``, or None (also while the environment points git
    elsewhere: see agent_magic.gitenv)."""
    if redirected():
        return None  # GitPython would read another repository, index or object store
    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    repo.git.set_persistent_git_options(c=SAFE_CONFIG[1])
    return repo


def work_tree(repo: git.Repo) -> Path:
    """The top of the repository's files; a bare repository has none to edit."""
    if repo.working_tree_dir is None:
        raise UserError(f"{repo.git_dir} is a bare git repository: it has no files to edit")
    return Path(repo.working_tree_dir)


def repo_path(repo: git.Repo, root: Path, rel: str) -> str:
    """``rel`` (relative to the project root) as a path relative to the repository's top."""
    top = work_tree(repo).resolve()
    return (root / rel).resolve().relative_to(top).as_posix() if root != top else rel


def store_blob(repo: git.Repo, data: bytes) -> str:
    """Write ``data`` as a blob; its hex sha."""
    from gitdb.base import IStream

    stream = repo.odb.store(IStream(b"blob", len(data), io.BytesIO(data)))
    sha = stream.hexsha
    return sha.decode("ascii") if isinstance(sha, bytes) else sha


def _git_mode(mode: int) -> str:
    return "100755" if mode & 0o111 else "100644"


def write_tree(
    repo: git.Repo,
    files: dict[str, tuple[bytes, int]],
    base: str | None = None,
    remove: tuple[str, ...] = (),
) -> str:
    """A tree of ``base`` (a tree-ish, or empty) plus ``files`` minus ``remove``; its sha."""
    with tempfile.TemporaryDirectory(prefix="agent_magic-index-") as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        if base:
            repo.git.read_tree(base, env=env)
        args: list[str] = []
        for path, (data, mode) in sorted(files.items()):
            args += ["--cacheinfo", f"{_git_mode(mode)},{store_blob(repo, data)},{path}"]
        if args:
            repo.git.update_index("--add", *args, env=env)
        if remove:
            repo.git.update_index("--force-remove", "--", *remove, env=env)
        return repo.git.write_tree(env=env)


def commit_tree(repo: git.Repo, tree: str, message: str, parents: tuple[str, ...] = ()) -> str:
    """A commit object (not on any branch); its sha."""
    args = [tree]
    for p in parents:
        args += ["-p", p]
    env = None if _has_identity(repo) else _FALLBACK_IDENTITY
    return repo.git.commit_tree(*args, "-m", message, env=env)


def _has_identity(repo: git.Repo) -> bool:
    try:
        reader = repo.config_reader()
        return bool(reader.get_value("user", "name", "")) and bool(
            reader.get_value("user", "email", "")
        )
    except Exception:  # noqa: BLE001 - unreadable config means no identity
        return False


def read_blob(repo: git.Repo, tree: str, path: str) -> bytes:
    """The bytes of ``path`` in ``tree``."""
    sha = repo.git.rev_parse(f"{tree}:{path}")
    return repo.odb.stream(bytes.fromhex(sha)).read()


def set_ref(repo: git.Repo, ref: str, sha: str) -> None:
    """Point ``ref`` at ``sha``."""
    repo.git.update_ref(ref, sha)


def delete_ref(repo: git.Repo, ref: str) -> None:
    """Remove ``ref`` if it exists."""
    import git

    with contextlib.suppress(git.GitCommandError):
        repo.git.update_ref("-d", ref)


def is_ancestor(repo: git.Repo, sha: str, of: str = "HEAD") -> bool:
    """Whether commit ``sha`` is ``of`` or in its history."""
    import git

    try:
        repo.git.merge_base("--is-ancestor", sha, of)
    except git.GitCommandError:
        return False
    return True


class CommitFailed(Exception):
    """`git commit` refused (a failing hook, a signing error); the message carries git's output."""


def commit_blocker(repo: git.Repo) -> str:
    """Why a commit must not be made now (a merge, rebase, ... in progress, detached HEAD), or ""."""
    import git

    markers = {
        "MERGE_HEAD": "a merge is in progress",
        "rebase-merge": "a rebase is in progress",
        "rebase-apply": "a rebase or `git am` is in progress",
        "CHERRY_PICK_HEAD": "a cherry-pick is in progress",
        "REVERT_HEAD": "a revert is in progress",
        "BISECT_LOG": "a bisect is in progress",
    }
    for name, why in markers.items():
        # --git-path answers relative to the work tree, where git ran.
        if os.path.exists(os.path.join(work_tree(repo), repo.git.rev_parse("--git-path", name))):
            return why
    try:
        repo.git.symbolic_ref("-q", "HEAD")
    except git.GitCommandError:
        return "HEAD is detached (no branch is checked out)"
    return ""


def uncommitted(repo: git.Repo, root: Path, paths: list[str]) -> list[str]:
    """Which of ``paths`` differ from HEAD in the index or the working tree (untracked ones aside)."""
    rels = {repo_path(repo, root, p): p for p in paths}
    out = repo.git.status(
        "--porcelain=v1", "-z", "--untracked-files=no", "--", *rels, with_extended_output=False
    )
    dirty = []
    for item in out.split("\0"):
        if len(item) > 3:
            dirty.append(rels.get(item[3:], item[3:]))
    return sorted(set(dirty))


def commit_paths(repo: git.Repo, root: Path, paths: list[str], message: str) -> str:
    """`git commit` exactly ``paths`` (their working-tree content) as the user would; the new sha.

    An ordinary commit: the user's hooks run and their signing settings apply. Other staged
    changes stay staged and out of the commit (`--only`). If git refuses (a hook fails), the
    index entries of ``paths`` are put back and CommitFailed carries git's output.
    """
    import git

    rels = [repo_path(repo, root, p) for p in paths]
    env = None if _has_identity(repo) else _FALLBACK_IDENTITY
    top = work_tree(repo)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as fh:
        fh.write(message)
    try:
        # New files must be known to git before `commit --only` can take them.
        try:
            repo.git.add("-A", "--ignore-errors", "--", *rels, env=env)
        except git.GitCommandError as exc:
            raise CommitFailed(str(exc.stderr or exc).strip()) from None
        proc = subprocess.run(
            ["git", *SAFE_CONFIG, "commit", "-q", "--only", "-F", fh.name, "--", *rels],
            cwd=top,
            env=git_env(**(env or {})),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    finally:
        os.unlink(fh.name)
    if proc.returncode != 0:
        with contextlib.suppress(git.GitCommandError):
            repo.git.reset("-q", "--", *rels)
        output = (proc.stderr.strip() or proc.stdout.strip() or "git commit failed")[-2000:]
        raise CommitFailed(output)
    return repo.git.rev_parse("HEAD")
