"""File localization on SWE-bench Lite instances: agent_magic's RepoIndex vs a plain BM25 peer.

python benchmarks/localization.py --instances ../shared/bench/swebench_lite_9repos.jsonl \
    --mirrors /work/.mirror [--limit N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _mirrors import checkout, find_git_dir, materialize

from agent_magic.analysis import RepoIndex
from agent_magic.analysis.bm25 import BM25

KS = (1, 3, 5, 10)
_WORD = re.compile(r"\w+")


def gold_files(patch: str) -> list[str]:
    """Files a unified diff touches (its ``a/`` side)."""
    return sorted(set(re.findall(r"^diff --git a/(\S+) b/", patch, re.MULTILINE)))


def plain_bm25(root: Path, query: str, k: int) -> list[str]:
    """The peer: BM25 over lowercased words of each .py file's path and content, nothing else."""
    paths = sorted(p for p in root.rglob("*.py") if p.is_file())
    docs = []
    for p in paths:
        rel = p.relative_to(root).as_posix()
        text = rel + "\n" + p.read_text(encoding="utf-8", errors="replace")
        docs.append(Counter(w.lower() for w in _WORD.findall(text)))
    index = BM25(docs)
    q = Counter(w.lower() for w in _WORD.findall(query))
    scores = index.scores({t: float(c) for t, c in q.items()})
    order = sorted(scores, key=lambda i: -scores[i])[:k]
    return [paths[i].relative_to(root).as_posix() for i in order]


def hits(ranked: list[str], gold: list[str]) -> dict[str, bool]:
    """Strict Acc@k: every gold file within the first k."""
    return {f"acc@{k}": all(g in ranked[:k] for g in gold) for k in KS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", required=True, type=Path)
    ap.add_argument("--mirrors", required=True, type=Path)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--repo", help="only instances of this owner/name")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--no-peer", action="store_true", help="skip the BM25 peer (faster tuning)")
    ap.add_argument(
        "--no-history",
        action="store_true",
        help="plain files without .git (no git history evidence), as a tarball would give",
    )
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    rows = [json.loads(ln) for ln in args.instances.read_text().splitlines() if ln.strip()]
    if args.repo:
        rows = [r for r in rows if r["repo"] == args.repo]
    rows = rows[: args.limit] if args.limit else rows
    results: dict[str, list[dict[str, bool]]] = {"agent_magic": [], "bm25": []}
    secs: dict[str, list[float]] = {"cold": [], "warm": [], "bm25": []}
    for n, row in enumerate(rows, 1):
        gold = gold_files(row["patch"])
        git_dir = find_git_dir(args.mirrors, row["repo"])
        with tempfile.TemporaryDirectory(prefix="loc-") as tmp:
            root, cache = Path(tmp) / "repo", Path(tmp) / "cache"
            root.mkdir()
            if args.no_history:
                materialize(git_dir, row["base_commit"], root)
            else:
                checkout(git_dir, row["base_commit"], root)
            t0 = time.perf_counter()
            RepoIndex(root, cache_dir=cache).rank(row["problem_statement"], 10, include_tests=False)
            t1 = time.perf_counter()
            ranked = RepoIndex(root, cache_dir=cache).rank(
                row["problem_statement"], 10, include_tests=False
            )
            t2 = time.perf_counter()
            secs["cold"].append(t1 - t0)
            secs["warm"].append(t2 - t1)
            am = [r.path for r in ranked]
            results["agent_magic"].append(hits(am, gold))
            if not args.no_peer:
                t3 = time.perf_counter()
                peer = plain_bm25(root, row["problem_statement"], 10)
                secs["bm25"].append(time.perf_counter() - t3)
                results["bm25"].append(hits(peer, gold))
        if args.verbose:
            pos = next((i for i, p in enumerate(am) if p in gold), None)
            print(
                f"[{n}/{len(rows)}] {row['instance_id']}: gold={gold} rank={pos} top3={am[:3]}",
                flush=True,
            )
    summary = {}
    for name, res in results.items():
        if not res:
            continue
        summary[name] = {
            f"acc@{k}": round(100 * sum(r[f"acc@{k}"] for r in res) / len(res), 1) for k in KS
        }
    summary["agent_magic"]["sec_median"] = round(statistics.median(secs["warm"]), 3)
    summary["agent_magic"]["sec_median_cold"] = round(statistics.median(secs["cold"]), 3)
    if secs["bm25"]:
        summary["bm25"]["sec_median"] = round(statistics.median(secs["bm25"]), 3)
    history = "without git history" if args.no_history else "git checkouts with history"
    print(
        f"\n{len(rows)} instances, {history} (agent_magic ranks sources only: include_tests=False)"
    )
    print(
        f"{'ranker':<12} {'acc@1':>6} {'acc@3':>6} {'acc@5':>6} {'acc@10':>6} {'s/inst':>8} {'cold s':>7}"
    )
    for name, s in summary.items():
        cold = f"{s['sec_median_cold']:>7.2f}" if "sec_median_cold" in s else f"{'':>7}"
        print(
            f"{name:<12} {s['acc@1']:>6} {s['acc@3']:>6} {s['acc@5']:>6} {s['acc@10']:>6} "
            f"{s.get('sec_median', 0):>8.2f} {cold}"
        )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
