"""Edit-application benchmark: gold before/after files -> replace-string edits -> staging -> apply.

For every file a gold patch touches, the before/after pair is turned into the replace-string
edits a model would send (per hunk, the smallest old text that is unique at that point), then
applied through ``Staging`` and ``apply`` in a temporary project and compared byte for byte
with ``after``. The same is repeated with seeded perturbations of the edits (or, for ``crlf``,
of the file). A peer row per perturbation uses plain ``str.replace`` with exact matching.

    python benchmarks/edit_apply.py --gold ../shared/bench/gold_edits [--seeds 0,1,2] [--json OUT]

Several seeds are run (each draws its own perturbations); the first seed's full table is
printed, then one row per perturbation with exact / refused / wrong per seed. The target is no
wrong result at any seed: an edit that could mean two places is refused, never guessed. Each
edit is also checked as it is staged (files where one landed in a wrong place, worst seed),
since a later refusal can hide a misplaced edit from the end result.

Refusals are split by why, judged by ``readings``, a reader independent of the matcher that
knows the perturbations' slips (one uniform shift of old and new, one elided run): the input
fits two or more places that give different files, or one place where new lines left of a
dedent's shift may sit at their own column or shifted (both occur: a top-level ``def`` after a
method stays at column 0, a dedented ``if`` does not), or a single reading exists (a shortfall
of the matcher; none at seeds 0-9). The first two are inputs no careful reader could place, so
the matcher refuses them with the candidates; the last column of the seeds table is the exact
share of the other inputs. Both perturbations are realistic in kind: the shift moves every line
of old and new by the same amount (lines that cannot move left of column 0 stay), and a minimal
old text of one line shifted by a level often lands verbatim on, or fits as well as, another
line (``yield ms`` at two depths); the elision drops lines mechanically and now and then drops
the only lines that told two regions apart, as a hurried model would.

A second set of rows ("after one resend") answers each refused edit once, as a real model can:
a simulated model that knows only the refusal's text and the lines it meant to edit resends the
same edit with the ``line`` of the listed place in those lines, or, to a refusal saying the new
text's depth is open, the edit at the file's own indentation (``resend``). The target is then
>= 99% exact, still with no wrong result and no misplaced edit.
"""

from __future__ import annotations

import argparse
import difflib
import json
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from agent_magic.errors import AgentMagicError
from agent_magic.paths import Project
from agent_magic.staging import Staging, apply

PERTURBATIONS = (
    "none",
    "trailing_ws",
    "indent_shift",
    "crlf",
    "tabs_spaces",
    "trim_context",
    "elided_middle",
)


@dataclass
class Case:
    name: str
    before: bytes
    after: bytes


@dataclass
class Edit:
    old: str
    new: str
    line: int | None = None  # the replace tool's optional line, sent only on a resend


def load_cases(gold: Path) -> list[Case]:
    """One case per (instance, file) with text before and after."""
    cases = []
    for line in (gold / "index.jsonl").read_text().splitlines():
        row = json.loads(line)
        for rel in row["files"]:
            b, a = (
                gold / row["instance_id"] / "before" / rel,
                gold / row["instance_id"] / "after" / rel,
            )
            if b.is_file() and a.is_file():
                cases.append(Case(f"{row['instance_id']}:{rel}", b.read_bytes(), a.read_bytes()))
    return cases


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def make_edits(before: str, after: str, extra_context: int = 0) -> list[Edit]:
    """Replace-string edits turning ``before`` into ``after``, bottom hunk first."""
    a, b = _lines(before), _lines(after)
    ops = [
        op
        for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
        if op[0] != "equal"
    ]
    current = list(a)
    edits = []
    for _, i1, i2, j1, j2 in reversed(ops):
        text, n = "".join(current), len(current)
        up, down = (1, 0) if i1 == i2 and i1 > 0 else (0, 1 if i1 == i2 else 0)
        while True:
            lo, hi = max(0, i1 - up), min(n, i2 + down)
            old = "".join(current[lo:hi])
            if (old.strip() and text.count(old) == 1) or (lo == 0 and hi == n):
                break
            if (up <= down and lo > 0) or hi == n:
                up += 1
            else:
                down += 1
        up = min(i1, up + extra_context)
        down = min(len(current) - i2, down + extra_context)
        lo, hi = max(0, i1 - up), min(len(current), i2 + down)
        old = "".join(current[lo:hi])
        new = "".join(current[lo:i1] + b[j1:j2] + current[i2:hi])
        edits.append(Edit(old, new))
        current[i1:i2] = b[j1:j2]
    return edits


def _shift(text: str, k: int) -> str:
    out = []
    for ln in text.split("\n"):
        if not ln.strip():
            out.append(ln)
        elif k > 0:
            out.append(" " * k + ln)
        else:
            out.append(ln[-k:] if ln[:-k].strip() == "" else ln)
    return "\n".join(out)


def _tabify(text: str) -> str:
    out = []
    for ln in text.split("\n"):
        body = ln.lstrip(" ")
        n = len(ln) - len(body)
        out.append("\t" * (n // 4) + " " * (n % 4) + body)
    return "\n".join(out)


def perturb(
    edits: list[Edit], kind: str, rng: random.Random, before: str, after: str
) -> list[Edit]:
    """The edits as a sloppy model might send them."""
    out = []
    for e in edits:
        old, new = e.old, e.new
        if kind == "trailing_ws":
            lines = old.split("\n")
            for i in range(len(lines) - 1):
                if rng.random() < 0.5 or i == 0:
                    lines[i] += rng.choice([" ", "  ", "\t", "   "])
            old = "\n".join(lines)
        elif kind == "indent_shift":
            k = rng.choice([2, 4])
            indents = [len(ln) - len(ln.lstrip(" ")) for ln in old.split("\n") if ln.strip()]
            if indents and min(indents) >= k and rng.random() < 0.5:
                k = -k
            old, new = _shift(old, k), _shift(new, k)
        elif kind == "tabs_spaces":
            old, new = _tabify(old), _tabify(new)
        elif kind == "trim_context":
            old, new = _trim(old, new, rng)
        elif kind == "elided_middle":
            old, new = _elide(old, new, rng)
        out.append(Edit(old, new))
    return out


def _trim(old: str, new: str, rng: random.Random) -> tuple[str, str]:
    # The first or last line is shared context (the edits carry one extra line of it); trim
    # its indentation (first) or its newline (last), as models do with strip().
    o, n = old.split("\n"), new.split("\n")
    if rng.random() < 0.5 and o[0] == n[0] and o[0].strip():
        return old.lstrip(" \t"), new.lstrip(" \t")
    if old.endswith("\n") and new.endswith("\n") and len(o) > 1 and o[-2] == n[-2]:
        return old[:-1], new[:-1]
    return old, new


def _elide(old: str, new: str, rng: random.Random) -> tuple[str, str]:
    o, n = old.split("\n"), new.split("\n")
    if len(o) < 7 or not (o[0].strip() and o[1].strip() and o[-2].strip()):
        return old, new
    common = 0
    while common < min(len(o), len(n)) and o[common] == n[common]:
        common += 1
    if common >= 5 and rng.random() < 0.5:
        # Unchanged lines elided in both old and new.
        indent = o[1][: len(o[1]) - len(o[1].lstrip())]
        mid = indent + "..."
        return "\n".join([*o[:1], mid, *o[common - 1 :]]), "\n".join(
            [*n[:1], mid, *n[common - 1 :]]
        )
    indent = o[2][: len(o[2]) - len(o[2].lstrip())]
    return "\n".join([*o[:2], indent + "...", *o[-3:]]), new


REFUSALS = {
    "places": "ambiguous: two or more places fit, with different results",
    "depth": "ambiguous: one place, but new lines left of the shift: own column or shifted",
    "one": "one reading: a careful reader would apply it (a shortfall of the matcher)",
    "none": "no reading under a uniform shift or one elision",
}


def _width(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _split(text: str) -> tuple[list[str], bool]:
    if not text:
        return [], False
    final = text.endswith("\n")
    lines = text.split("\n")
    return (lines[:-1] if final else lines), final


def _shifted(new: list[str], s: int, kept: bool = False) -> list[str] | None:
    out = []
    for q in new:
        w = _width(q) if kept and _width(q) < s else _width(q) + s
        if q.strip() and w < 0:
            return None  # a new line left of column 0: this shift does not explain the edit
        out.append(" " * w + q.lstrip(" ") if q.strip() else q)
    return out


def readings(text: str, old: str, new: str) -> list[set[str]]:
    """What a careful reader can make of a perturbed edit, independently of the matcher: per
    place the old text fits, the files the edit can mean there.

    The reader knows the model's slips: every line of old and new moved by one amount (new lines
    that could not move left of column 0 stayed, so under a dedent a line left of the shift may
    be at its own column or shifted: two readings), or a run of unchanged lines elided as one
    ``...`` line (in both texts, or only in old). Old text may also be the tail of a line.
    Lines are compared ignoring trailing whitespace; tabs are not expanded and a first line
    stripped of its indentation is not modelled (those perturbations have no refusals to judge).
    """
    lines, final = _split(text)
    pat, _ = _split(old)
    rep, _ = _split(new)
    places: list[set[str]] = []

    def add(body: list[str], i: int, j: int, more: list[str] | None = None) -> None:
        tail = "\n" if final else ""
        outs = {
            "\n".join(lines[:i] + b + lines[j:]) + tail for b in [body, *([more] if more else [])]
        }
        places.append(outs)

    marks = [k for k, ln in enumerate(pat) if ln.strip() == "..."]
    if marks:
        head, tail = pat[: marks[0]], pat[marks[0] + 1 :]
        rmark = next((k for k, ln in enumerate(rep) if ln.strip() == "..."), None)
        for i in range(len(lines) - len(head) + 1):
            if [ln.rstrip() for ln in lines[i : i + len(head)]] != [h.rstrip() for h in head]:
                continue
            for j in range(i + len(head), len(lines) - len(tail) + 1):
                if [ln.rstrip() for ln in lines[j : j + len(tail)]] != [t.rstrip() for t in tail]:
                    continue
                middle = lines[i + len(head) : j]
                body = rep if rmark is None else rep[:rmark] + middle + rep[rmark + 1 :]
                add(body, i, j + len(tail))
        return _merge(places)
    first = next((k for k, ln in enumerate(pat) if ln.strip()), None)
    if first is None:
        return places
    for i in range(len(lines) - len(pat) + 1):
        f = lines[i + first]
        if f.strip() != pat[first].strip():
            continue
        s = _width(f) - _width(pat[first])
        if not all(
            (not p.strip() and not q.strip())
            or (p.strip() == q.strip() and _width(q) - _width(p) == s)
            for p, q in zip(pat, lines[i : i + len(pat)], strict=True)
        ):
            continue
        moved = _shifted(rep, s)
        if moved is not None:
            add(moved, i, i + len(pat), _shifted(rep, s, kept=True) if s > 0 else None)
    pos = text.find(old)
    while pos != -1:
        line_start = text.rfind("\n", 0, pos) + 1
        if text[line_start:pos].strip():  # the tail of a line: a place the line view misses
            places.append({text[:pos] + new + text[pos + len(old) :]})
        pos = text.find(old, pos + 1)
    return _merge(places)


def _merge(places: list[set[str]]) -> list[set[str]]:
    # Two places whose readings are the same files are one (an elided head repeated earlier).
    out: list[set[str]] = []
    for p in places:
        if p not in out:
            out.append(p)
    return out


def refusal_class(text: str, edit: Edit) -> str:
    """The key in ``REFUSALS`` that explains why ``edit`` on ``text`` was refused."""
    places = readings(text, edit.old, edit.new)
    results = set().union(*places)
    if len(results) <= 1:
        return "one" if results else "none"
    return "places" if len(places) > 1 else "depth"


def intermediates(before: str, edits: list[Edit]) -> list[str]:
    """The text after each of the exact (unperturbed) edits, in order: where each edit belongs."""
    out, text = [], before
    for e in edits:
        text = text.replace(e.old, e.new, 1)
        out.append(text)
    return out


def meant_lines(text: str, old: str) -> tuple[int, int]:
    """First and last line (1-based) of the unique exact ``old`` in ``text``: where the model
    meant its edit, as a model knows it from the lines it viewed."""
    pos = text.find(old)
    first = text.count("\n", 0, pos) + 1
    return first, first + old.rstrip("\n").count("\n")


_LISTED = re.compile(r"\blines? (\d+)(?:-\d+)? \(")


def resend(refusal: str, sent: Edit, meant: Edit, where: tuple[int, int]) -> Edit | None:
    """The one resend of a refused edit by a model that reads the refusal and knows only what a
    real model knows: the edit it meant (its intent: the gold hunk at the file's indentation,
    which ``meant`` is) and the lines ``where`` it meant to edit. None: the refusal asks for
    nothing a resend can give.

    A refusal listing places (``line=N``) gets the same edit, as sent, with the line of the
    listed place that starts inside ``where`` (else the first line of ``where``); one saying the
    new text's depth is open gets the edit at the file's own indentation, as it asks.
    """
    if "line=N" in refusal:
        listing = refusal.split("; nothing was changed")[0]
        starts = [int(m.group(1)) for m in _LISTED.finditer(listing)]
        inside = [n for n in starts if where[0] <= n <= where[1]]
        return Edit(sent.old, sent.new, inside[0] if len(inside) == 1 else where[0])
    if "at the file's own indentation" in refusal:
        return Edit(meant.old, meant.new)
    return None


def run_staging(
    case_before: bytes,
    edits: list[Edit],
    tmp: Path,
    expected: list[str] | None = None,
    meant: list[Edit] | None = None,
    before: str = "",
    resent: list[Edit] | None = None,
) -> tuple[bytes | None, int, int | None]:
    """The file after the edits via Staging and apply (None if refused), how many edits landed
    in a wrong place on the way (the staged text differs from ``expected`` after it), and the
    index of the refused edit.

    An edit in the wrong place may be hidden in the end result by a later refusal or by a later
    edit doing the same elsewhere, so each one is checked as it is staged. Given ``meant`` (the
    exact edits, with ``before``, the text they start from), a refused edit is sent once more as
    ``resend`` says (and appended to ``resent``); a second refusal refuses the file.
    """
    root = Path(tempfile.mkdtemp(dir=tmp))
    (root / "f.py").write_bytes(case_before)
    project = Project(root)
    st = Staging(project)
    wrong = 0
    for i, e in enumerate(edits):
        try:
            st.replace("f.py", e.old, e.new, e.line)
        except AgentMagicError as exc:
            prior = before if i == 0 or expected is None else expected[i - 1]
            again = None
            if meant is not None:
                again = resend(str(exc), e, meant[i], meant_lines(prior, meant[i].old))
            if again is None:
                return None, wrong, i
            if resent is not None:
                resent.append(again)
            try:
                st.replace("f.py", again.old, again.new, again.line)
            except AgentMagicError:
                return None, wrong, i
        staged = st.read_bytes("f.py").decode("utf-8").replace("\r\n", "\n")
        if expected is not None and staged != expected[i]:
            wrong, expected = 1, None  # later texts differ anyway: one per file
    if not st.changeset().is_empty:
        apply(project, st.changeset())
    return (root / "f.py").read_bytes(), wrong, None


def run_peer(case_before: bytes, edits: list[Edit]) -> bytes | None:
    """The file after the edits with exact, unique ``str.replace``; None if refused."""
    text = case_before.decode("utf-8")
    for e in edits:
        if text.count(e.old) != 1:
            return None
        text = text.replace(e.old, e.new, 1)
    return text.encode("utf-8")


METHODS = ("staging", "staging, one resend", "str.replace")


def bench(cases: list[Case], seed: int) -> dict[str, dict[str, dict[str, float]]]:
    """Per perturbation and method: counts and percentages of correct, refused, wrong.

    ``staging`` is the first send; ``staging, one resend`` sends each refused edit once more as
    the refusal asks (``resend``); files with nothing refused count as they did on first send.
    """
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="edit_apply-") as tmpdir:
        tmp = Path(tmpdir)
        for kind in PERTURBATIONS:
            tallies = {
                m: {"n": 0, "correct": 0, "refused": 0, "wrong": 0, "wrong_edit": 0, "seconds": 0.0}
                | {"resent_files": 0, "resent_with_line": 0, "resent_reindented": 0}
                | {f"refused_{c}": 0 for c in REFUSALS}
                for m in METHODS
            }
            for idx, case in enumerate(cases):
                rng = random.Random(f"{seed}:{kind}:{idx}")
                before, after = case.before, case.after
                if kind == "crlf":
                    before = before.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                    after = after.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                text_b, text_a = case.before.decode("utf-8"), case.after.decode("utf-8")
                extra = {"elided_middle": 3, "trim_context": 1}.get(kind, 0)
                exact = make_edits(text_b, text_a, extra)
                edits = perturb(exact, kind, rng, text_b, text_a)
                texts = intermediates(text_b, exact)
                first: tuple[bytes | None, int, int | None] = (None, 0, None)
                first_seconds = 0.0
                for method, t in tallies.items():
                    start = time.perf_counter()
                    if method == "staging":
                        got, wrong_edit, at = first = run_staging(before, edits, tmp, texts)
                        first_seconds = time.perf_counter() - start
                    elif method == "str.replace":
                        got, wrong_edit, at = run_peer(before, edits), 0, None
                    elif first[2] is None:
                        got, wrong_edit, at = first  # nothing refused: nothing to resend
                        start -= first_seconds
                    else:
                        sent: list[Edit] = []
                        got, wrong_edit, at = run_staging(
                            before, edits, tmp, texts, exact, text_b, sent
                        )
                        t["resent_files"] += 1
                        t["resent_with_line"] += sum(e.line is not None for e in sent)
                        t["resent_reindented"] += sum(e.line is None for e in sent)
                    t["seconds"] += time.perf_counter() - start
                    t["n"] += 1
                    t["wrong_edit"] += wrong_edit
                    t["refused" if got is None else "correct" if got == after else "wrong"] += 1
                    if at is not None and method != "str.replace":
                        where = texts[at - 1] if at else text_b
                        t[f"refused_{refusal_class(where, edits[at])}"] += 1
            for t in tallies.values():
                for k in ("correct", "refused", "wrong"):
                    t[k + "_pct"] = round(100.0 * t[k] / max(t["n"], 1), 1)
            results[kind] = tallies
    return results


def table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """The figures as a markdown table."""
    rows = [
        "| perturbation | method | files | exact-correct % | refused % | wrong-location % | ms/file |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for kind, methods in results.items():
        for method, t in methods.items():
            ms = 1000 * t["seconds"] / max(t["n"], 1)
            rows.append(
                f"| {kind} | {method} | {t['n']} | {t['correct_pct']:.1f} | "
                f"{t['refused_pct']:.1f} | {t['wrong_pct']:.1f} | {ms:.1f} |"
            )
    return "\n".join(rows)


def seeds_table(
    per_seed: dict[int, dict[str, dict[str, dict[str, float]]]], method: str = "staging"
) -> str:
    """A method's exact / refused / wrong percentages per perturbation, one column per seed."""
    seeds = list(per_seed)
    rows = [
        "| perturbation | "
        + " | ".join(f"seed {s}: exact / refused / wrong %" for s in seeds)
        + " | worst wrong | files with an edit in a wrong place"
        + " | exact % of inputs not ambiguous, worst seed |",
        "|---|" + "---:|" * (len(seeds) + 3),
    ]
    for kind in PERTURBATIONS:
        cells, worst, misplaced, placeable = [], 0, 0, 100.0
        for s in seeds:
            t = per_seed[s][kind][method]
            cells.append(f"{t['correct_pct']:.1f} / {t['refused_pct']:.1f} / {t['wrong_pct']:.1f}")
            worst = max(worst, int(t["wrong"]))
            misplaced = max(misplaced, int(t.get("wrong_edit", 0)))
            rest = t["n"] - t.get("refused_places", 0) - t.get("refused_depth", 0)
            placeable = min(placeable, 100.0 * t["correct"] / max(rest, 1))
        rows.append(
            f"| {kind} | " + " | ".join(cells) + f" | {worst} | {misplaced} | {placeable:.1f} |"
        )
    return "\n".join(rows)


def refusals_table(
    per_seed: dict[int, dict[str, dict[str, dict[str, float]]]], method: str = "staging"
) -> str:
    """A method's refused files per perturbation, split by why (``REFUSALS``), one column per
    seed (the reason is the first send's: the input as the model first sent it)."""
    seeds = list(per_seed)
    rows = [
        "| perturbation | refused because | " + " | ".join(f"seed {s}" for s in seeds) + " |",
        "|---|---|" + "---:|" * len(seeds),
    ]
    for kind in PERTURBATIONS:
        for key, why in REFUSALS.items():
            counts = [int(per_seed[s][kind][method].get(f"refused_{key}", 0)) for s in seeds]
            if any(counts):
                rows.append(f"| {kind} | {why} | " + " | ".join(map(str, counts)) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark at each seed and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", required=True, type=Path, help="the gold_edits directory")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--seed", type=int, help="a single seed (same as --seeds N)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N files (0 = all)")
    args = parser.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else [int(x) for x in args.seeds.split(",")]
    cases = load_cases(args.gold)
    if args.limit:
        cases = cases[: args.limit]
    per_seed = {seed: bench(cases, seed) for seed in seeds}
    print(f"seed {seeds[0]}:")
    print(table(per_seed[seeds[0]]))
    print()
    print("First send:")
    print(seeds_table(per_seed))
    print()
    print("Refused files by reason (count of files):")
    print(refusals_table(per_seed))
    print()
    print("After one resend of each refused edit, as the refusal asks:")
    print(seeds_table(per_seed, "staging, one resend"))
    print()
    print("Refused after the resend, by the first send's reason (count of files):")
    print(refusals_table(per_seed, "staging, one resend"))
    print()
    print("Edits resent (with line=N / at the file's own indentation), per seed:")
    for kind in PERTURBATIONS:
        counts = [per_seed[s][kind]["staging, one resend"] for s in seeds]
        if any(c["resent_files"] for c in counts):
            cells = [
                f"{int(c['resent_with_line'])} / {int(c['resent_reindented'])}" for c in counts
            ]
            print(f"| {kind} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "seeds": seeds,
                    "files": len(cases),
                    "results": {str(k): v for k, v in per_seed.items()},
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
