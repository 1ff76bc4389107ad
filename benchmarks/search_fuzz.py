"""Differential fuzzing of the search tool's first passes: the search vs. every line tried.

Each seed builds a git repository in a temporary directory with a few files of random text
(every kind of line break, the non-ASCII letters case folding pairs with ASCII ones, BOMs,
UTF-16/32, coding cookies, undecodable bytes, notebooks), puts some of them in states git
treats specially (assume-unchanged with new text, changed, deleted, untracked, ignored by a
.gitignore rule while tracked, reached through a symbolic link, binary or -text attributes,
a config naming another work tree) and stages edits. Then every
pattern of a table runs through ``Toolbox`` with the git grep pass and is compared with a plain
loop that tries ``regex.compile(pattern).search`` on every line of every readable file
(notebooks per cell source line), formatted as the tool formats its answer.

    python benchmarks/search_fuzz.py [--seeds 0-199] [--keep]

Prints one row per pattern (repositories compared, differences) and each difference's seed,
expected and actual answer. The target is no difference. About one second per seed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path

from agent_magic.analysis.grep import count_lines, files_without
from agent_magic.errors import AgentMagicError
from agent_magic.paths import Project
from agent_magic.staging import Staging
from agent_magic.testing.search_reference import every_line
from agent_magic.tools import Toolbox

PIECES = [
    *("mul", "MUL", "Mul", "add", "ADD", "compute_total", "COMPUTE", "def ", "class ", "x"),
    *("k", "s", "i", " ", "\t", "(", ")", "1", "23", "_", "#", "coding", "mar", "ster", "pr"),
    *("int", "ask", "\n", "\n", "\n", "\n", "\r\n", "\r", "\x0c", "\x0b", "\x85", "\u2028"),
    *("\u212a", "\u017f", "\u0130", "\u0131", "\u00df", "\u03a3", "\u00e9", "\ufeff", "\x00"),
]
PATTERNS = [
    *("mul", "(?i)mul", "(?i)mask", "(?i)master", "(?i)print", "Mul|add", "(?i)mul|ADD"),
    *("compute_total", r"\bcompute_total\b", "(?i)COMPUTE", r"def \w+", r"class \w+\("),
    *(r"^\s*def", "^$", "x$", r"\d{2,}", r"\bx\b", r"(?i)\bk", "(?i)ask|int", r"mul\s*add"),
    *("(?i)mul.*int", r"add(?=\()", "ster|mar", "(?s)mul.add", "(?m)^mul", "(?x) m u l"),
    *("\u00df", "(?i)\u00df", "(?i)SS", "(?i)\u03c3", "[Mm]ul", r"\x6dul", "(?i)[k]"),
    *(r"\N{KELVIN SIGN}", r"(?i)\N{KELVIN SIGN}ask", r"int\b", "23|_x", "(?i)(?:mul|add)"),
    *("(?i)i", r"\Aadd", r"add\Z", "(?a)(?i)mask", "(?i)mul(?-i:add)", "(?i:mul)add"),
    # no text: the outline pass (git grep -P) and the whole-file line finder
    *(r"\W{2}", r"[^\x00-\x7f]", r"(?i)[^k]\d", r"\B\d", r"(m)\1", r"\s$", r"^\t", "[\x0b\x0c]"),
    *(r"(?i)[ks]{2}", "\x85|\u2028", r"(?i)\N{KELVIN SIGN}|\d", r"(?<=\()\w", r"\b\d+\b", "^.$"),
    *(r"(?i)\w\W", r"x?$", r"(?>m\w*)l", r"[\S]\r", r"(?i)[^\W\d]{5}"),
    # classes the engine reads its own way, empty lines and matches, the end of the text
    *(r"[^\s\S]", r"\d[^\w\W]", r"[^\d\W]{2}", r"\B", r"^\B$", "(?m)^$", r"\b$", r"[~-\u00ff]"),
]
KINDS = ["utf-8"] * 6 + ["utf-8-sig", "utf-16", "utf-32", "latin-1", "cp1252", "bad", "nb", "nb"]
IGNORES = ["a/", "*.py", "f1*", "!pkg/f2.py", "pkg", "b/", "u*", "*.ipynb", "!f0.py"]
# attributes git grep could read as changing what a file holds (it reads the bytes as they are)
ATTRIBUTES = ["*.py binary", "f1* -text", "*.py eol=crlf", "pkg/* -diff", "* text=auto"]


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40)))


def random_file(rng: random.Random) -> tuple[bytes, str]:
    """Bytes of a random file and its extension."""
    text = random_text(rng)
    kind = rng.choice(KINDS)
    if kind == "nb":
        cell: dict[str, object] = {"cell_type": "code", "metadata": {}, "id": "c1"}
        cell |= {"source": text.replace("\x00", ""), "outputs": [], "execution_count": None}
        notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        return json.dumps(notebook).encode(), ".ipynb"
    if kind in ("utf-8", "utf-8-sig", "utf-16", "utf-32"):
        return text.encode(kind), ".py"
    if kind == "bad":  # not UTF-8, no cookie: not searchable
        return text.encode() + b"mul\xc3", ".py"
    cookie = f"# -*- coding: {kind} -*-\n".encode()
    return cookie + text.encode(kind, "replace") + b"\xe9", ".py"


def _git(root: Path, *args: str) -> None:
    identity = ["-c", "user.name=Fuzz", "-c", "user.email=fuzz@example.com"]
    subprocess.run(["git", *identity, *args], cwd=root, check=True, capture_output=True)


def build(rng: random.Random, root: Path) -> tuple[Staging, list[str]]:
    """A repository with random files in random states; its staging area and file listing."""
    files: dict[str, bytes] = {".gitignore": b"ign*\n"}
    for i in range(rng.randint(1, 6)):
        data, ext = random_file(rng)
        files[f"{rng.choice(['', 'pkg/', 'a/b/'])}f{i}{ext}"] = data
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    if rng.random() < 0.2:
        files[".gitattributes"] = "\n".join(rng.sample(ATTRIBUTES, 2)).encode() + b"\n"
        (root / ".gitattributes").write_bytes(files[".gitattributes"])
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "initial")
    listing = set(files)
    for rel in sorted(files):
        state = rng.random()
        new = files[rel] if rel.endswith(".ipynb") else random_file(rng)[0]
        if state < 0.1:
            _git(root, "update-index", "--assume-unchanged", rel)
            (root / rel).write_bytes(new)
        elif state < 0.2:
            (root / rel).write_bytes(new)
        elif state < 0.25:
            (root / rel).unlink()
    for j in range(rng.randint(0, 2)):
        data, ext = random_file(rng)
        name = f"{rng.choice(['u', 'ign'])}{j}{ext}"
        (root / name).write_bytes(data)
        listing.add(name)
    if rng.random() < 0.3:
        rules = rng.sample(IGNORES, 3)
        (root / ".gitignore").write_text("\n".join(rules) + "\n", encoding="utf-8")
    if rng.random() < 0.3:
        target = rng.choice(sorted(files))
        os.symlink(os.path.basename(target), root / f"{target}.lnk.py")
        listing.add(f"{target}.lnk.py")
    if rng.random() < 0.05:  # the repository's config names another work tree
        other = root / "other-tree"
        other.mkdir()
        _git(root, "config", "core.worktree", str(other))
    if rng.random() < 0.2 and (root / "pkg").is_dir():
        os.symlink("pkg", root / "pkglink")
        listing |= {f"pkglink/{p.name}" for p in (root / "pkg").iterdir()}
    staging = Staging(Project(root))
    if rng.random() < 0.5:
        for rel in (f"pkg/staged{rng.randint(0, 9)}.py", rng.choice(sorted(files))):
            if not rel.endswith(".ipynb"):
                text = random_text(rng).replace("\x00", "")
                try:
                    staging.create(rel, text, overwrite=True)
                except (AgentMagicError, UnicodeEncodeError):
                    continue  # refused, or not encodable as the file's declared encoding
                listing.add(rel)
    return staging, sorted(listing)


def run(seeds: range, keep: bool) -> int:
    compared: Counter[str] = Counter()
    differ: Counter[str] = Counter()
    reports: list[str] = []
    for seed in seeds:
        rng = random.Random(seed)
        root = Path(tempfile.mkdtemp(prefix=f"search-fuzz-{seed}-"))
        try:
            staging, listing = build(rng, root)
            tools = Toolbox(
                staging,
                lambda: listing,  # noqa: B023 - used in this iteration only
                absent=lambda held, seconds: files_without(root, held, seconds=seconds),  # noqa: B023
                line_counts=lambda shape, seconds: count_lines(root, shape, seconds=seconds),  # noqa: B023
                search_seconds=60,
            )
            for pattern in PATTERNS:
                got = tools.run("search", {"pattern": pattern})
                want = every_line(staging, listing, pattern)
                compared[pattern] += 1
                if got != want:
                    differ[pattern] += 1
                    reports.append(f"seed {seed} {pattern!r}\n  expected {want!r}\n  got {got!r}")
        finally:
            if not keep:
                shutil.rmtree(root, ignore_errors=True)
    print("| pattern | repositories | differences |\n|---|---|---|")
    for pattern in PATTERNS:
        print(f"| `{pattern!r}` | {compared[pattern]} | {differ[pattern]} |")
    print(f"\n{sum(differ.values())} differences in {sum(compared.values())} searches")
    for report in reports:
        print(report)
    return 1 if reports else 0


def main(argv: list[str] | None = None) -> int:
    """Run the seeds given; exit status 1 when any search differs from every line tried."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-199", help="a range, first-last (inclusive)")
    parser.add_argument("--keep", action="store_true", help="keep the repositories")
    args = parser.parse_args(argv)
    first, _, last = args.seeds.partition("-")
    warnings.simplefilter("ignore", FutureWarning)  # "possible nested set" from the parser
    return run(range(int(first), int(last or first) + 1), args.keep)


if __name__ == "__main__":
    sys.exit(main())
