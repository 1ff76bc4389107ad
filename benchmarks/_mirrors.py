"""Helpers for benchmarks: find a fetched mirror and check out or materialize a commit into a temp dir."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

MAX_BLOB = 1_000_000


def find_git_dir(mirrors: Path, repo: str) -> Path:
    """The bare git dir of ``owner/name`` under ``mirrors`` (``<owner>+<name>/repo`` or a glob)."""
    base = mirrors / repo.replace("/", "+")
    for cand in (base / "repo", base, base.with_suffix(".git")):
        if (cand / "HEAD").is_file() and (cand / "objects").is_dir():
            return cand
    for cand in sorted(base.glob("*")):
        if (cand / "HEAD").is_file() and (cand / "objects").is_dir():
            return cand
    raise SystemExit(f"no git mirror for {repo} under {mirrors}")


def checkout(git_dir: Path, commit: str, dest: Path) -> None:
    """A git working tree of ``commit`` at ``dest``, history included; the mirror is only read."""
    # --shared borrows the mirror's objects through alternates instead of copying gigabytes.
    subprocess.run(
        ["git", "clone", "-q", "--shared", "--no-checkout", str(git_dir), str(dest)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["git", "-C", str(dest), "checkout", "-q", "--detach", commit],
        check=True,
        capture_output=True,
    )


def materialize(git_dir: Path, commit: str, dest: Path) -> int:
    """Write every regular blob (up to MAX_BLOB bytes) of ``commit`` under ``dest``; returns count."""
    listing = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "-r", "-l", "-z", commit],
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8", "replace")
    wanted: list[tuple[str, str]] = []
    for rec in listing.split("\0"):
        if not rec:
            continue
        meta, path = rec.split("\t", 1)
        mode, kind, sha, size = meta.split()
        if (
            kind == "blob"
            and mode in ("100644", "100755")
            and size.isdigit()
            and int(size) <= MAX_BLOB
        ):
            wanted.append((sha, path))
    proc = subprocess.Popen(
        ["git", f"--git-dir={git_dir}", "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin and proc.stdout
    stdin, stdout = proc.stdin, proc.stdout
    request = "".join(f"{sha}\n" for sha, _ in wanted).encode()

    def feed() -> None:
        stdin.write(request)
        stdin.close()

    # Feed from a thread: git's output pipe would fill and block it while we are still writing.
    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    for _sha, path in wanted:
        header = stdout.readline().split()
        length = int(header[2])
        data = stdout.read(length)
        stdout.read(1)
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    writer.join()
    proc.wait()
    return len(wanted)
