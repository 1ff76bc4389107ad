"""File localization on SWE-bench Lite instances: agent_magic's RepoIndex vs plain BM25 peers.

python benchmarks/localization.py --instances ../shared/bench/swebench_lite_9repos.jsonl \
    --mirrors /work/.mirror [--half dev|held] [--checkouts DIR] [--limit N] [--json OUT]

Three peers in the same run, all plain BM25 over a file's path and content: ``bm25_all`` over
every .py file (tests included, as the usual baseline does); ``bm25_same`` over the candidates
agent_magic ranks for code, the index's non-test .py files, so the margin is not inflated by the
peer spending its top ranks on test files, which are never gold; ``bm25_indexed`` over every
non-test file agent_magic ranks (docs and other text too, which plain BM25 does not discount).
Instances are split into two fixed halves by a hash of their id: weights and thresholds are chosen
on the dev half and checked on the held-out half; the table reports both.

Speed is reported for agent_magic as wall and CPU seconds per instance (median and p90), warm (a
fresh RepoIndex over the on-disk cache the cold call left), cold (no cache) and with the index
already open (a second query, as the agent makes). CPU is this process's user+system time plus
that of the git subprocesses it waited for, so it does not grow when other work shares the machine
the way wall time does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _mirrors import checkout, find_git_dir, materialize

from agent_magic.analysis import RepoIndex, is_test_path
from agent_magic.analysis.bm25 import BM25
from agent_magic.analysis.history import head_commit
from agent_magic.analysis.ranking import WEIGHTS

KS = (1, 3, 5, 10)
HALVES = ("dev", "held")
RANKERS = ("agent_magic", "no_history", "bm25_all", "bm25_same", "bm25_indexed")
_WORD = re.compile(r"\w+")


def gold_files(patch: str) -> list[str]:
    """Files a unified diff touches (its ``a/`` side)."""
    return sorted(set(re.findall(r"^diff --git a/(\S+) b/", patch, re.MULTILINE)))


def half_of(instance_id: str) -> str:
    """The fixed half an instance belongs to: "dev" (tune here) or "held" (check here)."""
    return HALVES[hashlib.sha256(instance_id.encode()).digest()[0] % 2]


def file_words(root: Path, paths: Sequence[str]) -> dict[str, Counter[str]]:
    """Lowercased word counts of each file's path and content, as the BM25 peers see a file."""
    out = {}
    for rel in paths:
        text = rel + "\n" + (root / rel).read_text(encoding="utf-8", errors="replace")
        out[rel] = Counter(w.lower() for w in _WORD.findall(text))
    return out


def plain_bm25(words: dict[str, Counter[str]], query: str, k: int) -> list[str]:
    """A peer: plain BM25 over the given files' words (see file_words), nothing else."""
    paths = sorted(words)
    index = BM25([words[p] for p in paths])
    q = Counter(w.lower() for w in _WORD.findall(query))
    scores = index.scores({t: float(c) for t, c in q.items()})
    order = sorted(scores, key=lambda i: -scores[i])[:k]
    return [paths[i] for i in order]


def hits(ranked: list[str], gold: list[str]) -> dict[str, bool]:
    """Strict Acc@k: every gold file within the first k."""
    return {f"acc@{k}": all(g in ranked[:k] for g in gold) for k in KS}


def accuracy(results: Sequence[dict[str, bool]]) -> dict[str, float]:
    """Percent of instances found at each k."""
    n = max(len(results), 1)
    return {f"acc@{k}": round(100 * sum(r[f"acc@{k}"] for r in results) / n, 1) for k in KS}


def cpu_seconds() -> float:
    """CPU time used so far by this process and the children it has waited for (git)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def speed_rows(secs: dict[str, list[float]]) -> list[str]:
    """Table rows of median and p90 seconds for each timed series that has values."""
    out = [f"{'agent_magic seconds / instance':<32} {'median':>7} {'p90':>7}"]
    for name, values in secs.items():
        if values and name.startswith(("warm", "cold", "open")):
            out.append(
                f"{name:<32} {statistics.median(values):>7.3f} {percentile(values, 0.9):>7.3f}"
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", required=True, type=Path)
    ap.add_argument("--mirrors", required=True, type=Path)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--repo", help="only instances of this owner/name")
    ap.add_argument("--half", choices=HALVES, help="only the dev or the held-out half")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--no-peer", action="store_true", help="skip the BM25 peers (faster tuning)")
    ap.add_argument(
        "--no-history",
        action="store_true",
        help="plain files without .git (no git history evidence), as a tarball would give",
    )
    ap.add_argument(
        "--checkouts",
        type=Path,
        help="reuse checkouts at DIR/<instance_id>/repo where present (left unchanged); "
        "the index is still built from scratch for each instance",
    )
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    rows = [json.loads(ln) for ln in args.instances.read_text().splitlines() if ln.strip()]
    if args.repo:
        rows = [r for r in rows if r["repo"] == args.repo]
    if args.half:
        rows = [r for r in rows if half_of(r["instance_id"]) == args.half]
    rows = rows[: args.limit] if args.limit else rows
    results: dict[tuple[str, str], list[dict[str, bool]]] = {}
    secs: dict[str, list[float]] = {
        "cold wall": [],
        "cold cpu": [],
        "warm wall": [],
        "warm cpu": [],
        "open index wall": [],
        "open index cpu": [],
        **{name: [] for name in RANKERS[2:]},
    }
    for n, row in enumerate(rows, 1):
        gold = gold_files(row["patch"])
        half = half_of(row["instance_id"])
        git_dir = find_git_dir(args.mirrors, row["repo"])
        with tempfile.TemporaryDirectory(prefix="loc-") as tmp:
            root, cache = Path(tmp) / "repo", Path(tmp) / "cache"
            kept = args.checkouts / row["instance_id"] / "repo" if args.checkouts else None
            if kept and not args.no_history and head_commit(kept) == row["base_commit"]:
                root = kept
            elif args.no_history:
                root.mkdir()
                materialize(git_dir, row["base_commit"], root)
            else:
                checkout(git_dir, row["base_commit"], root)
            t0, c0 = time.perf_counter(), cpu_seconds()
            RepoIndex(root, cache_dir=cache).rank(row["problem_statement"], 10, include_tests=False)
            t1, c1 = time.perf_counter(), cpu_seconds()
            index = RepoIndex(root, cache_dir=cache)
            ranked = index.rank(row["problem_statement"], 10, include_tests=False)
            t2, c2 = time.perf_counter(), cpu_seconds()
            secs["cold wall"].append(t1 - t0)
            secs["cold cpu"].append(c1 - c0)
            secs["warm wall"].append(t2 - t1)
            secs["warm cpu"].append(c2 - c1)
            # The agent keeps its index open between queries: a second rank only refreshes.
            index.rank(row["problem_statement"], 10, include_tests=False)
            secs["open index wall"].append(time.perf_counter() - t2)
            secs["open index cpu"].append(cpu_seconds() - c2)
            found = {"agent_magic": [r.path for r in ranked]}
            # The same index with the commit-message evidence off: what history contributes.
            off = {**WEIGHTS, "history": 0.0}
            plain = index.rank(row["problem_statement"], 10, include_tests=False, weights=off)
            found["no_history"] = [r.path for r in plain]
            if not args.no_peer:
                # Each file is read and split into words once; the peers differ only in which
                # files they rank.
                t3 = time.perf_counter()
                every_py = [
                    p.relative_to(root).as_posix() for p in root.rglob("*.py") if p.is_file()
                ]
                indexed = [p for p in index.files() if not is_test_path(p)]
                words = file_words(root, sorted(set(every_py) | set(indexed)))
                reading = time.perf_counter() - t3
                peers = {
                    "bm25_all": every_py,
                    "bm25_same": [p for p in indexed if p.endswith(".py")],
                    "bm25_indexed": indexed,
                }
                for name, cands in peers.items():
                    t4 = time.perf_counter()
                    found[name] = plain_bm25(
                        {p: words[p] for p in cands}, row["problem_statement"], 10
                    )
                    secs[name].append(reading + time.perf_counter() - t4)
        for name, ranked_paths in found.items():
            results.setdefault((name, half), []).append(hits(ranked_paths, gold))
        if args.verbose:
            am = found["agent_magic"]
            pos = next((i for i, p in enumerate(am) if p in gold), None)
            print(
                f"[{n}/{len(rows)}] {row['instance_id']} ({half}): gold={gold} rank={pos} "
                f"top3={am[:3]}",
                flush=True,
            )
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for name in RANKERS:
        for half in (*HALVES, "all"):
            res = [r for h in HALVES if half in (h, "all") for r in results.get((name, h), [])]
            if res:
                summary.setdefault(name, {})[half] = {**accuracy(res), "n": len(res)}
        if name in summary:
            timing = secs["warm wall"] if name == "agent_magic" else secs.get(name)
            if timing:
                summary[name]["all"]["sec_median"] = round(statistics.median(timing), 3)
    overall = summary["agent_magic"]["all"]
    overall["sec_median_cold"] = round(statistics.median(secs["cold wall"]), 3)
    for name in (
        "warm wall",
        "warm cpu",
        "cold wall",
        "cold cpu",
        "open index wall",
        "open index cpu",
    ):
        key = name.replace(" ", "_")
        overall[f"{key}_median"] = round(statistics.median(secs[name]), 3)
        overall[f"{key}_p90"] = round(percentile(secs[name], 0.9), 3)
    history = "without git history" if args.no_history else "git checkouts with history"
    print(
        f"\n{len(rows)} instances, {history}; bm25_all: every .py file; bm25_same: the index's "
        "non-test .py files; bm25_indexed: all the non-test files agent_magic ranks"
    )
    print(
        f"{'ranker':<12} {'half':<5} {'n':>4} {'acc@1':>6} {'acc@3':>6} {'acc@5':>6} "
        f"{'acc@10':>6} {'s/inst':>7} {'cold s':>7}"
    )
    for name, by_half in summary.items():
        for half, s in by_half.items():
            sec = f"{s['sec_median']:>7.2f}" if "sec_median" in s else f"{'':>7}"
            cold = f"{s['sec_median_cold']:>7.2f}" if "sec_median_cold" in s else f"{'':>7}"
            print(
                f"{name:<12} {half:<5} {int(s['n']):>4} {s['acc@1']:>6} {s['acc@3']:>6} "
                f"{s['acc@5']:>6} {s['acc@10']:>6} {sec} {cold}"
            )
    print()
    print("\n".join(speed_rows(secs)))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
