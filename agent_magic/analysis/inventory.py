"""Which files of a project are worth indexing: git-aware listing with sane default skips."""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agent_magic.gitenv import git_env
from agent_magic.paths import Project, is_internal

MAX_FILE_BYTES = 1_000_000
MAX_NOTEBOOK_BYTES = 500_000_000
# Directories that hold other people's code, build output or caches, in or outside git.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".agent_magic",
        ".hg",
        ".svn",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "env",
        "node_modules",
        "site-packages",
        "dist",
        "build",
        ".eggs",
        ".ipynb_checkpoints",
        ".idea",
        ".vscode",
        "vendor",
        "_vendor",
        "third_party",
        "htmlcov",
        ".cache",
    }
)
BINARY_EXTS = frozenset(
    [
        "png",
        "jpg",
        "jpeg",
        "gif",
        "bmp",
        "ico",
        "svgz",
        "webp",
        "tif",
        "tiff",
        "pdf",
        "zip",
        "gz",
        "bz2",
        "xz",
        "tar",
        "tgz",
        "7z",
        "whl",
        "egg",
        "so",
        "dylib",
        "dll",
        "exe",
        "o",
        "a",
        "pyc",
        "pyo",
        "class",
        "jar",
        "mo",
        "pkl",
        "pickle",
        "npy",
        "npz",
        "h5",
        "hdf5",
        "fits",
        "fit",
        "parquet",
        "feather",
        "db",
        "sqlite",
        "sqlite3",
        "woff",
        "woff2",
        "ttf",
        "otf",
        "eot",
        "mp3",
        "mp4",
        "wav",
        "avi",
        "mov",
        "ogg",
        "flac",
        "onnx",
        "pt",
        "pth",
        "ckpt",
        "bin",
        "dat",
        "mat",
    ]
)


@dataclass(frozen=True)
class FileEntry:
    """A file to index: its posix path relative to the root, size and mtime (ns)."""

    path: str
    size: int
    mtime_ns: int


def list_files(
    project: Project, max_bytes: int = MAX_FILE_BYTES, memo: dict[str, bool] | None = None
) -> list[FileEntry]:
    """Tracked plus untracked-but-not-ignored files (plain walk outside git), minus skipped ones.

    ``memo`` remembers per path whether its name passes the skip and secret rules: those depend on
    the path alone, and checking every path on each refresh adds up on a large repo.
    """
    names = _git_files(project.root)
    if names is None:
        names = _walk(project.root)
    memo = {} if memo is None else memo
    out: list[FileEntry] = []
    for rel in sorted(set(names)):
        keep = memo.get(rel)
        if keep is None:
            keep = memo[rel] = _wanted(rel) and not project.is_secret(rel)
        if not keep:
            continue
        full = project.root / rel
        try:
            st = full.lstat()
        except OSError:
            continue
        # Symlinks are skipped: they may point outside the root, and their target is listed anyway.
        # Hard links are skipped like symlinks: their other names may be outside the root.
        # Notebooks are mostly outputs, which the scan skips: their size says little.
        limit = MAX_NOTEBOOK_BYTES if rel.endswith(".ipynb") else max_bytes
        if not _is_regular(st.st_mode) or st.st_size > limit or st.st_nlink > 1:
            continue
        out.append(FileEntry(rel, st.st_size, st.st_mtime_ns))
    return out


def _is_regular(mode: int) -> bool:
    return stat.S_ISREG(mode)


def _wanted(rel: str) -> bool:
    parts = rel.split("/")
    if any(is_internal(p) for p in parts) or any(
        p in SKIP_DIRS or p.endswith(".egg-info") for p in parts[:-1]
    ):
        return False
    name = parts[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return ext not in BINARY_EXTS and not name.endswith((".min.js", ".min.css", ".lock"))


def _git_files(root: Path) -> list[str] | None:
    """Files git knows or would add, relative to root; None when root is not in a git work tree."""
    if not _inside_git(root):
        return None
    try:
        proc = subprocess.run(
            # core.fsmonitor names a program git would run: a repo that came with its own
            # .git/config (an unpacked archive) must not run anything before any approval.
            [
                "git",
                "-c",
                "core.quotepath=off",
                "-c",
                "core.fsmonitor=false",
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
            cwd=root,
            capture_output=True,
            timeout=60,
            check=False,
            env=git_env(),  # the project's repository, not one the kernel's GIT_DIR names
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return [n for n in proc.stdout.decode("utf-8", "replace").split("\0") if n]


def _inside_git(root: Path) -> bool:
    return any((p / ".git").exists() for p in (root, *root.parents))


def _walk(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        rel_dir = os.path.relpath(dirpath, root)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        out.extend(prefix + f for f in filenames)
    return out


def is_binary(data: bytes) -> bool:
    """Whether file content looks binary (a NUL byte in the first 8 KiB)."""
    return b"\0" in data[:8192]
