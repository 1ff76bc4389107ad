"""Real notebook edits replayed through ``notebook_edit``; notebook views and index on real repos.

python benchmarks/notebook_edits.py --repos GIT_DIR [GIT_DIR ...] [--max-pairs 150]

Each GIT_DIR is a bare mirror (e.g. the ``fetch`` tool's /work/.mirror/<owner>+<name>/repo); it
is only read. For every commit that changes code cells of a notebook, each code-cell change
(replace, insert, delete) is sent through the ``notebook_edit`` tool as the model would send it,
addressing cells as ``view`` shows them. Reported: exact result on the changed cells, untouched
bytes identical, valid files (no new kind of schema problem), and the size of our per-cell diff
against ``nbdiff`` (nbdime) and ``git diff`` of the same change. Then, on each repo's HEAD:
notebook-view coverage (cells reachable by following the views' hints, against one view clipped
at 20,000 characters as before) and index hit@5 for tasks made from notebook prose, with plain
BM25 over the files' raw text as the peer.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _mirrors import checkout

from agent_magic.analysis import RepoIndex
from agent_magic.analysis.bm25 import BM25
from agent_magic.errors import ToolError
from agent_magic.paths import Project
from agent_magic.staging import Staging, nbjson
from agent_magic.staging import notebooks as nbs
from agent_magic.staging.nbview import view
from agent_magic.tools import Toolbox

MAX_NOTEBOOK = 30_000_000
OLD_VIEW_CHARS = 20_000
_HINT = re.compile(r"view with start_cell=(\d+)(?:, end_cell=(\d+), start_line=(\d+))?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]+")


def git(git_dir: Path, *args: str) -> str:
    """stdout of a git command on the mirror."""
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], capture_output=True, check=True
    ).stdout.decode("utf-8", "replace")


def blobs(git_dir: Path, specs: list[str]) -> list[bytes | None]:
    """Contents of ``rev:path`` specs (None when missing or too big), via one cat-file process."""
    proc = subprocess.Popen(
        ["git", f"--git-dir={git_dir}", "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin and proc.stdout
    request = "".join(s + "\n" for s in specs).encode()

    def feed() -> None:
        proc.stdin.write(request)  # type: ignore[union-attr]
        proc.stdin.close()  # type: ignore[union-attr]

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    out: list[bytes | None] = []
    for _ in specs:
        header = proc.stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            out.append(None)
            continue
        data = proc.stdout.read(int(header[2]))
        proc.stdout.read(1)
        out.append(data if len(data) <= MAX_NOTEBOOK else None)
    writer.join()
    proc.wait()
    return out


def mine(git_dir: Path, max_pairs: int) -> list[tuple[str, str, bytes, bytes]]:
    """(commit, path, before, after) for notebooks modified by non-merge commits, newest first."""
    log = git(
        git_dir,
        "log",
        "--no-merges",
        "--diff-filter=M",
        "--format=%x00%H %P",
        "--name-only",
        "HEAD",
        "--",
        "*.ipynb",
    )
    pairs: list[tuple[str, str, str]] = []
    for rec in log.split("\0"):
        lines = [ln for ln in rec.splitlines() if ln.strip()]
        if not lines:
            continue
        shas = lines[0].split()
        if len(shas) != 2:
            continue
        pairs += [(shas[0], shas[1], p) for p in lines[1:] if p.endswith(".ipynb")]
    pairs = pairs[:max_pairs]
    specs = [s for c, p, path in pairs for s in (f"{p}:{path}", f"{c}:{path}")]
    data = blobs(git_dir, specs)
    return [
        (c, path, data[2 * i], data[2 * i + 1])
        for i, (c, _p, path) in enumerate(pairs)
        if data[2 * i] is not None and data[2 * i + 1] is not None
    ]


@dataclass
class Replay:
    """What replaying one commit's change to one notebook gave."""

    edits: int = 0
    converted: bool = False  # an nbformat v3 file: an edit rewrites it as v4.4, by design
    exact: int = 0
    untouched: int = 0
    untouched_same: int = 0
    file_bytes_kept: bool = True
    valid: bool = True
    strictly_valid: bool = True
    refused: list[str] = field(default_factory=list)
    ours: int = 0
    nbdiff: int = 0
    gitdiff: int = 0


def _address(cells: list[dict], i: int) -> str:
    cid = cells[i].get("id")
    if isinstance(cid, str) and cid and sum(c.get("id") == cid for c in cells) == 1:
        return cid
    return f"@{i}"


def replay(before: bytes, after: bytes, tmp: Path) -> Replay | None:
    """Send the code-cell changes of before -> after through notebook_edit; None if there are none."""
    try:
        bnb, bstyle = nbs.load(before)
        anb, _ = nbs.load(after)
    except ToolError:
        return None
    bcells, acells = bnb["cells"], anb["cells"]
    bkeys, akeys = nbs.pair_keys(bcells, acells)
    bpos = {k: i for i, k in enumerate(bkeys)}

    def code(c: dict) -> bool:
        return c.get("cell_type") == "code"

    replaced = [
        (bpos[k], j)
        for j, k in enumerate(akeys)
        if k in bpos
        and code(acells[j])
        and code(bcells[bpos[k]])
        and nbs.source_text(acells[j]) != nbs.source_text(bcells[bpos[k]])
    ]
    paired = set(akeys) & set(bkeys)
    deleted = [i for i, k in enumerate(bkeys) if k not in paired and code(bcells[i])]
    inserted = [j for j, k in enumerate(akeys) if k not in paired and code(acells[j])]
    if not (replaced or deleted or inserted):
        return None
    root = tmp / "p"
    root.mkdir(exist_ok=True)
    (root / "nb.ipynb").write_bytes(before)
    staging = Staging(Project(root), max_bytes=1 << 40)
    tools = Toolbox(staging, lambda: ["nb.ipynb"])
    out = Replay(converted=bstyle.converted_from is not None)

    def run(args: dict) -> None:
        out.edits += 1
        try:
            tools.run("notebook_edit", {"path": "nb.ipynb", **args})
        except ToolError as exc:
            out.refused.append(str(exc)[:120])

    cur: list[object] = list(range(len(bcells)))  # before index, or ("new", after index)
    for i, j in replaced:
        run(
            {"action": "replace", "cell": _address(bcells, i), "source": nbs.source_text(acells[j])}
        )
    for i in sorted(deleted, reverse=True):
        cells = nbs.load(staging.read_bytes("nb.ipynb"))[0]["cells"]
        pos = cur.index(i)
        run({"action": "delete", "cell": _address(cells, pos)})
        cur.pop(pos)
    bj = {j: bpos[k] for j, k in enumerate(akeys) if k in paired}
    for j in inserted:
        prev = next(
            (p for p in range(j - 1, -1, -1) if bj.get(p) in cur or ("new", p) in cur), None
        )
        pos = (
            0 if prev is None else cur.index(bj[prev] if bj.get(prev) in cur else ("new", prev)) + 1
        )
        run(
            {
                "action": "insert",
                "index": pos,
                "source": nbs.source_text(acells[j]),
                "cell_type": "code",
            }
        )
        cur.insert(pos, ("new", j))
    result = staging.read_bytes("nb.ipynb")
    rnb, _ = nbs.load(result)
    rcells = rnb["cells"]
    if len(rcells) != len(cur):
        out.valid = False
        return out
    for pos, origin in enumerate(cur):
        if isinstance(origin, tuple):
            out.exact += nbs.source_text(rcells[pos]) == nbs.source_text(acells[origin[1]])
    for i, j in replaced:
        out.exact += nbs.source_text(rcells[cur.index(i)]) == nbs.source_text(acells[j])
    out.exact += len(deleted) if len(rcells) == len(cur) else 0
    lb = nbjson.parse(before.decode("utf-8").lstrip("\ufeff"))[1]
    lr = nbjson.parse(result.decode("utf-8").lstrip("\ufeff"))[1]
    touched = {i for i, _ in replaced}
    for pos, origin in enumerate(cur):
        if isinstance(origin, int) and origin not in touched:
            out.untouched += 1
            same = lb is not None and lr is not None and lr.cells[pos] == lb.cells[origin]
            out.untouched_same += same
            out.file_bytes_kept &= same
    if lb is None or lr is None or lb.head != lr.head or lb.tail != lr.tail:
        out.file_bytes_kept = False
    worse = set(nbs.problems(rnb)) - set(nbs.problems(bnb))
    out.valid = not worse
    out.strictly_valid = not nbs.problems(rnb)
    if result != before:
        out.ours = len(staging.changeset().file("nb.ipynb").diff())
        out.nbdiff = nbdiff_size(before, result)
        (tmp / "a.ipynb").write_bytes(before)
        (tmp / "b.ipynb").write_bytes(result)
        proc = subprocess.run(
            ["git", "diff", "--no-index", "--no-color", "a.ipynb", "b.ipynb"],
            cwd=tmp,
            capture_output=True,
            check=False,
        )
        out.gitdiff = len(proc.stdout.decode("utf-8", "replace"))
    return out


def nbdiff_size(a: bytes, b: bytes) -> int:
    """Characters of nbdime's printed diff (what ``nbdiff`` shows, without color)."""
    import nbformat
    from nbdime import diff_notebooks
    from nbdime.prettyprint import PrettyPrintConfig, pretty_print_diff

    buf = io.StringIO()
    try:
        na, nb_ = (nbformat.reads(x.decode("utf-8-sig"), as_version=4) for x in (a, b))
        pretty_print_diff(
            na,
            diff_notebooks(na, nb_),
            "",
            PrettyPrintConfig(out=buf, use_color=False, use_git=False, use_diff=False),
        )
    except Exception:  # noqa: BLE001 (nbdime fails on some malformed notebooks; not ours to fix)
        return -1
    return len(buf.getvalue())


def coverage(nb: dict) -> tuple[int, int, int]:
    """(cells, cells reached by following view hints, cells in one view clipped at 20,000)."""
    n = len(nb["cells"])
    full = view(nb, "nb.ipynb", max_chars=1 << 60)[:OLD_VIEW_CHARS]
    old = sum(f"\n[{i}] " in full for i in range(n))
    reached: set[int] = set()
    args: dict = {}
    for _ in range(10_000):
        text = view(nb, "nb.ipynb", **args)
        reached |= {int(m) for m in re.findall(r"^\[(\d+)\] ", text, re.MULTILINE)}
        m = _HINT.search(text)
        if not m:
            break
        args = {"start_cell": int(m.group(1))}
        if m.group(2):
            args.update(end_cell=int(m.group(2)), start_line=int(m.group(3)))
    return n, len(reached), old


def prose_task(nb: dict) -> str | None:
    """A task phrased in the notebook's own words: its longest markdown paragraph."""
    best = ""
    for cell in nb["cells"]:
        if cell.get("cell_type") not in ("markdown", "raw"):
            continue
        for para in re.split(r"\n\s*\n", nbs.source_text(cell)):
            para = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", para)  # links -> text
            para = re.sub(r"[#*`>|]+", " ", para)
            para = " ".join(para.split())
            if 60 <= len(para) <= 400 and len(para) > len(best) and "<" not in para:
                best = para
    return best or None


def peer_rank(root: Path, files: list[str], query: str, k: int) -> list[str]:
    """The peer: BM25 over each file's path and raw text (notebook JSON as it is)."""
    docs = []
    for rel in files:
        try:
            text = (root / rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        docs.append(Counter(w.lower() for w in _WORD.findall(rel + "\n" + text)))
    scores = BM25(docs).scores(
        {t: float(c) for t, c in Counter(w.lower() for w in _WORD.findall(query)).items()}
    )
    return [files[i] for i in sorted(scores, key=lambda i: -scores[i])[:k]]


def edit_at_head(root: Path, path: str, tmp: Path) -> str:
    """One edit of a notebook as found: 'kept' (bytes kept, valid or no worse), 'converted' (v3),
    'refused: ...' (a clear tool error), or what went wrong."""
    data = (root / path).read_bytes()
    work = tmp / "one"
    work.mkdir(exist_ok=True)
    (work / "nb.ipynb").write_bytes(data)
    staging = Staging(Project(work), max_bytes=1 << 40)
    tools = Toolbox(staging, lambda: ["nb.ipynb"])
    try:
        tools.run("view", {"path": "nb.ipynb"})
        nb = staging.read_notebook("nb.ipynb")
        code = [i for i, c in enumerate(nb["cells"]) if c.get("cell_type") == "code"]
        args = (
            {"action": "replace", "cell": f"@{code[0]}", "source": "edited = True\n"}
            if code
            else {"action": "insert", "index": 0, "source": "edited = True\n"}
        )
        note = tools.run("notebook_edit", {"path": "nb.ipynb", **args})
    except ToolError as exc:
        return "refused: " + str(exc).split(":")[-1].strip()[:60]
    except Exception as exc:  # noqa: BLE001 (a crash is what this pass looks for)
        print(f"CRASH {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return f"crash: {type(exc).__name__}"
    out = staging.read_bytes("nb.ipynb")
    before, bstyle = nbs.load(data)
    after, _ = nbs.load(out)
    if set(nbs.problems(after)) - set(nbs.problems(before)):
        return "new schema problem"
    if bstyle.converted_from is not None:
        return "converted" if "written as v4.4" in note else "converted without a note"
    lb = nbjson.parse(data.decode("utf-8").lstrip("\ufeff"))[1]
    lr = nbjson.parse(out.decode("utf-8").lstrip("\ufeff"))[1]
    if lb is None or lr is None:
        return "kept" if lb is None else "layout lost"
    if code:
        others = [
            a == b for i, (a, b) in enumerate(zip(lb.cells, lr.cells, strict=False)) if i != code[0]
        ]
        same = len(lb.cells) == len(lr.cells) and all(others)
    else:
        same = lr.cells[1:] == lb.cells
    return "kept" if same and lb.head == lr.head and lb.tail == lr.tail else "bytes changed"


def head_checks(git_dir: Path, tmp: Path, max_tasks: int) -> dict:
    """View coverage and index hit@5 on the repo's HEAD."""
    root = tmp / "head"
    checkout(git_dir, "HEAD", root)
    cells = reached = old = 0
    tasks: list[tuple[str, str]] = []
    edits: Counter = Counter()
    for path in sorted(p.relative_to(root).as_posix() for p in root.rglob("*.ipynb")):
        edits[edit_at_head(root, path, tmp)] += 1
        try:
            nb, _ = nbs.load((root / path).read_bytes())
        except (ToolError, OSError):
            continue
        n, r, o = coverage(nb)
        cells, reached, old = cells + n, reached + r, old + o
        task = prose_task(nb)
        if task:
            tasks.append((path, task))
    tasks = tasks[:max_tasks]
    idx = RepoIndex(root, cache_dir=tmp / "cache", git_history=False)
    files = idx.files()
    ours = sum(path in [r.path for r in idx.rank(task, 5)] for path, task in tasks)
    peer = sum(path in peer_rank(root, files, task, 5) for path, task in tasks)
    indexed = sum(1 for f in files if f.endswith(".ipynb"))
    return {
        "cells": cells,
        "reached": reached,
        "old": old,
        "tasks": len(tasks),
        "ours": ours,
        "peer": peer,
        "indexed": indexed,
        "edits": edits,
    }


def pct(a: int, b: int) -> str:
    """a/b as a percentage with the counts."""
    return f"{100 * a / b:.1f}% ({a}/{b})" if b else "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repos", required=True, nargs="+", type=Path)
    ap.add_argument("--max-pairs", type=int, default=150, help="notebook changes per repo")
    ap.add_argument("--max-tasks", type=int, default=40, help="prose tasks per repo")
    args = ap.parse_args()
    totals: Counter = Counter()
    sizes: dict[str, list[int]] = {"ours": [], "nbdiff": [], "git": []}
    refusals: Counter = Counter()
    heads: list[tuple[str, dict]] = []
    for git_dir in args.repos:
        name = git_dir.parent.name if git_dir.name == "repo" else git_dir.name
        with tempfile.TemporaryDirectory(prefix="nbedits-") as tmpdir:
            tmp = Path(tmpdir)
            for _commit, _path, before, after in mine(git_dir, args.max_pairs):
                work = tmp / f"r{totals['pairs']}"
                work.mkdir()
                rep = replay(before, after, work)
                totals["pairs"] += 1
                if rep is None:
                    continue
                totals["files"] += 1
                totals["edits"] += rep.edits
                totals["exact"] += rep.exact
                totals["converted"] += rep.converted
                if not rep.converted:
                    totals["untouched"] += rep.untouched
                    totals["untouched_same"] += rep.untouched_same
                    totals["files_kept"] += rep.file_bytes_kept
                totals["valid"] += rep.valid
                totals["strict"] += rep.strictly_valid
                refusals.update(r.split(":")[0] for r in rep.refused)
                if rep.ours and rep.nbdiff < 0:
                    totals["nbdiff_failed"] += 1
                elif rep.ours:
                    sizes["ours"].append(rep.ours)
                    sizes["nbdiff"].append(rep.nbdiff)
                    sizes["git"].append(rep.gitdiff)
            heads.append((name, head_checks(git_dir, tmp, args.max_tasks)))
    t = totals
    print(
        f"\nReplayed {t['edits']} code-cell edits from {t['files']} notebook changes "
        f"({t['pairs']} mined) in {len(args.repos)} repos\n"
    )
    print("| measure | result | target |\n|---|---|---|")
    print(f"| changed cells exactly as in the commit | {pct(t['exact'], t['edits'])} | 100% |")
    print(
        f"| untouched cells byte-identical (v4 files) | {pct(t['untouched_same'], t['untouched'])} "
        "| >= 99% |"
    )
    v4 = t["files"] - t["converted"]
    print(f"| files with every untouched byte kept (v4) | {pct(t['files_kept'], v4)} | >= 99% |")
    print(f"| v3 files converted to v4.4 on edit, with a note | {t['converted']} | - |")
    print(f"| valid (no new kind of schema problem) | {pct(t['valid'], t['files'])} | 100% |")
    print(f"| strictly valid by nbformat | {pct(t['strict'], t['files'])} | - |")
    if sizes["ours"]:
        med = {k: int(statistics.median(v)) for k, v in sizes.items()}
        print(
            f"| diff characters, median: ours / nbdiff / git diff | {med['ours']:,} / "
            f"{med['nbdiff']:,} / {med['git']:,} | - |"
        )
    if t["nbdiff_failed"]:
        print(
            f"| changes nbdiff could not diff (left out of the medians) | {t['nbdiff_failed']} | - |"
        )
    if refusals:
        print(f"\nrefused edits: {dict(refusals.most_common(5))}")
    print(
        "\n| repo | notebooks indexed | cells reachable by view (was: one 20k view) | "
        "prose tasks | index hit@5 | peer BM25 raw text hit@5 |\n|---|---|---|---|---|---|"
    )
    outcomes: Counter = Counter()
    for name, h in heads:
        outcomes.update(h["edits"])
        print(
            f"| {name} | {h['indexed']} | {pct(h['reached'], h['cells'])} (was "
            f"{pct(h['old'], h['cells'])}) | {h['tasks']} | {pct(h['ours'], h['tasks'])} | "
            f"{pct(h['peer'], h['tasks'])} |"
        )

    print(
        f"\none edit of every notebook at HEAD (first code cell replaced): "
        f"{dict(outcomes.most_common())}"
    )


if __name__ == "__main__":
    main()
