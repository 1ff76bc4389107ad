"""Index speed on a large repo: cold index+rank, warm rank, reopen from cache, one-file update.

python benchmarks/analysis_speed.py --repo DIR   (DIR is copied to a temp dir; it is never modified)

A git DIR is cloned (``git clone --shared``), so the index reads its history as a user's project
would; ``--no-history`` copies the files only.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from localization import file_words, plain_bm25

from agent_magic.analysis import RepoIndex

QUERY = "Simplification of a matrix determinant returns nan; see det() and Matrix.simplify"


def timed(fn) -> tuple[float, object]:
    """Seconds taken by fn() and its result."""
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def copy_repo(src: Path, dest: Path, *, with_history: bool) -> str:
    """Copy ``src`` to ``dest`` (a git clone when it is a repo); says whether history is there."""
    if with_history and (src / ".git").exists():
        subprocess.run(["git", "clone", "-q", "--shared", str(src), str(dest)], check=True)
        return "read (git clone)"
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".git"), symlinks=True)
    return "absent (files only)"


def every_py(root: Path) -> list[str]:
    """Every .py file under ``root`` (posix, relative), as the plain BM25 peer reads them."""
    return [p.relative_to(root).as_posix() for p in root.rglob("*.py") if p.is_file()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", required=True, type=Path)
    ap.add_argument("--no-history", action="store_true", help="copy the files without .git")
    args = ap.parse_args()
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="speed-") as tmp:
        root, cache = Path(tmp) / "repo", Path(tmp) / "cache"
        history = copy_repo(args.repo, root, with_history=not args.no_history)
        idx = RepoIndex(root, cache_dir=cache)
        sec, _ = timed(lambda: idx.rank(QUERY, 20))
        rows.append(("cold index + rank", sec, "<= 10"))
        sec, _ = timed(lambda: idx.rank(QUERY, 20))
        rows.append(("warm rank (index open)", sec, "<= 0.5"))
        sec, _ = timed(lambda: RepoIndex(root, cache_dir=cache).rank(QUERY, 20))
        rows.append(("warm rank (reopen from disk cache)", sec, ""))
        target = next(p for p in sorted(root.rglob("*.py")) if p.stat().st_size > 2000)
        target.write_text(target.read_text(encoding="utf-8") + "\n# touched\n", encoding="utf-8")
        sec, _ = timed(lambda: idx.rank(QUERY, 20))
        rows.append((f"one-file update + rank ({idx.last_rescanned} rescanned)", sec, "<= 1"))
        sec, _ = timed(lambda: idx.repo_map(QUERY, 4000))
        rows.append(("repo_map (4000 tokens)", sec, ""))
        sec, _ = timed(lambda: plain_bm25(file_words(root, every_py(root)), QUERY, 20))
        rows.append(("peer: plain BM25 build + query", sec, ""))
        n_files = len(idx.files())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nrepo: {args.repo} ({n_files} files indexed; git history {history})")
    print(f"{'step':<42} {'seconds':>8}  target")
    for name, sec, target_s in rows:
        print(f"{name:<42} {sec:>8.3f}  {target_s}")
    print(f"{'peak RSS (MB)':<42} {peak_mb:>8.0f}  <= 500")


if __name__ == "__main__":
    main()
