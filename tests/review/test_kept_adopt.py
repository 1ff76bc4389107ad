"""A restarted kernel adopts the scratch copies its dead predecessor kept, never trusting them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent_magic.review import Scratch, run_checks
from agent_magic.review import manifest as manifest_module
from agent_magic.review.kept import ADOPT_SECONDS, ALIVE, PREFIX, KeptTree, KeptTrees, remove_dead
from agent_magic.review.manifest import NAME as MANIFEST
from agent_magic.review.memo import CheckMemo

from .test_bytecode import pyc, sandboxed_import
from .test_kept import FILES, fresh, tree_of

# Another kernel: keeps the project's two copies (the changed one with ``changes`` staged), lets
# "its checks" run ``hostile`` in the changed copy (``tree``, ``copy``), prints the copies' bases
# and dies (``kill``: SIGKILL, no exit handler) or exits normally (``exit``).
KERNEL = """
import json, os, signal, sys
from pathlib import Path
from agent_magic.review.kept import KeptTrees
from agent_magic.review.scratch import Scratch

root, work, how, changes, hostile = Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:6]
trees = KeptTrees()
bases = {}
for role in ("changed", "unchanged"):
    staged = {p: c.encode() for p, c in json.loads(changes).items()} if role == "changed" else {}
    with Scratch(root, staged, parent=work, keep=trees.for_project(root, role)) as copy:
        bases[role] = str(copy.base)
        if role == "changed":
            tree = copy.path
            exec(hostile)
print(json.dumps(bases), flush=True)
if how == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
"""

# A fresh (not kept) copy, as the review makes when the kept one is busy; then the kernel dies.
FRESH = """
import os, signal, sys
from agent_magic.review.scratch import Scratch

copy = Scratch(sys.argv[1], {}, parent=sys.argv[2]).__enter__()
print(copy.base, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def other_kernel(
    root: Path,
    work: Path,
    *,
    how: str = "kill",
    changes: dict[str, str] | None = None,
    hostile: str = "",
) -> dict[str, Path]:
    """Run KERNEL in a real subprocess; the bases of the copies it left."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            KERNEL,
            str(root),
            str(work),
            how,
            json.dumps(changes or {}),
            hostile,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.stdout, proc.stderr
    return {role: Path(base) for role, base in json.loads(proc.stdout).items()}


def test_a_restarted_kernel_adopts_its_predecessor_s_copies_and_copies_only_what_changed(
    make_repo, tmp_path
):
    root = make_repo(FILES)
    work = tmp_path / "w"
    dead = other_kernel(
        root,
        work,
        changes={"pkg/core.py": "def value():\n    return 2\n"},
        # its checks rewrote a file in place, left one behind and removed one
        hostile=(
            "(tree / 'pkg/other.py').write_text('X = 666\\n')\n"
            "(tree / 'leftover.txt').write_text('junk')\n"
            "(tree / 'data/table.csv').unlink()\n"
        ),
    )
    assert all(base.is_dir() for base in dead.values())
    (root / "pkg/__init__.py").write_text("# edited by the user meanwhile\n")
    trees = KeptTrees()
    change = {"tests/test_core.py": b"def test_nothing():\n    pass\n"}
    changed = trees.for_project(root)
    with Scratch(root, change, parent=work, keep=changed) as copy:
        assert copy.base == dead["changed"]
        assert tree_of(copy.path) == fresh(root, change, tmp_path)
        # the dead round's staged file back, the check's rewrite and removal undone, the user's
        # edit and this round's change: nothing else is copied
        assert changed.copies == 5, changed.copies
        assert not changed.adopted
    unchanged = trees.for_project(root, "unchanged")
    with Scratch(root, {}, parent=work, keep=unchanged) as copy:
        assert copy.base == dead["unchanged"]
        assert tree_of(copy.path) == fresh(root, {}, tmp_path)
        assert unchanged.copies == 1  # the user's edit
    with Scratch(root, {}, parent=work, keep=changed) as copy:  # and it is kept as before
        assert copy.base == dead["changed"] and changed.syncs == 1
    assert sorted(work.iterdir()) == sorted(dead.values())
    trees.close()
    assert not list(work.iterdir())


def test_a_kernel_that_exits_leaves_its_copies_for_the_next_and_a_closed_copy_is_gone(
    make_repo, tmp_path
):
    root = make_repo(FILES)
    work = tmp_path / "w"
    left = other_kernel(root, work, how="exit", hostile="copy.keep.close()")
    assert not left["changed"].exists()  # closed: deleted as before
    assert left["unchanged"].is_dir()  # the interpreter's exit leaves it, unlocked
    kept = KeptTree(role="unchanged")
    with Scratch(root, {}, parent=work, keep=kept) as copy:
        assert copy.base == left["unchanged"] and kept.copies == 0
    kept.close()


def test_two_kernels_never_adopt_the_same_copy_and_a_live_one_s_copy_is_never_taken(
    make_repo, tmp_path
):
    root = make_repo(FILES)
    work = tmp_path / "w"
    dead = other_kernel(root, work)["changed"]
    first, second = KeptTree(), KeptTree()  # two lockers: as two processes, flock excludes them
    with (
        Scratch(root, {}, parent=work, keep=first) as one,
        Scratch(root, {}, parent=work, keep=second) as two,
    ):
        assert one.base == dead and two.base not in (None, dead)
        assert tree_of(two.path) == tree_of(one.path)
    assert second.base is not None
    second_base = second.base
    second.close()
    third = KeptTree()  # the first is alive (held here): a third makes its own too
    with Scratch(root, {}, parent=work, keep=third) as copy:
        assert copy.base not in (dead, second_base)
    first.close()
    third.close()


RACE = """
import sys, time
from pathlib import Path
from agent_magic.review.kept import KeptTree
from agent_magic.review.scratch import Scratch

kept = KeptTree()
Path(sys.argv[3]).touch()
while not Path(sys.argv[4]).exists():
    time.sleep(0.001)
with Scratch(sys.argv[1], {}, parent=sys.argv[2], keep=kept) as copy:
    print(copy.base, kept.copies, flush=True)
    sys.stdin.read()  # alive until the test has seen both
kept.close()
"""


def test_two_new_kernels_started_together_adopt_one_copy_and_make_one(make_repo, tmp_path):
    root = make_repo(FILES)
    work = tmp_path / "w"
    dead = other_kernel(root, work)["changed"]
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(root), str(work), str(tmp_path / f"r{i}"), str(go)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"r{i}").exists() for i in range(2)):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    go.touch()
    assert all(p.stdout is not None for p in procs)
    seen = [p.stdout.readline().split() for p in procs if p.stdout is not None]
    for p in procs:
        p.communicate("", timeout=60)
    bases = sorted(Path(base) for base, _ in seen)
    assert len(set(bases)) == 2 and dead in bases, seen
    assert sorted(int(copies) for _, copies in seen) == [0, len(FILES)]


def forge(base: Path, case: str) -> None:
    """Make ``base`` (a dead copy) odd in one way."""
    path = base / MANIFEST
    head, body = path.read_text().split("\n", 1)
    entries = json.loads(body)
    if case == "manifest is a link":
        (base / "elsewhere.json").write_text(path.read_text())
        path.unlink()
        path.symlink_to(base / "elsewhere.json")
    elif case == "manifest has two links":
        os.link(path, base / "second")
    elif case == "manifest writable by others":
        path.chmod(0o666)
    elif case == "copy writable by others":
        base.chmod(0o777)
    elif case == "tree is a link":
        (base / "tree").rename(base / "real")
        (base / "tree").symlink_to(base / "real")
    elif case == "another root":
        path.write_text(head.replace(json.loads(head)["root"], "/elsewhere") + "\n" + body)
    elif case == "another role":
        path.write_text(head.replace('"changed"', '"unchanged"') + "\n" + body)
    elif case == "another version":
        path.write_text(head.replace('"version": 1', '"version": 2') + "\n" + body)
    elif case == "truncated":
        path.write_text(head + "\n" + body[: len(body) // 2])
    else:
        entry = entries.pop("pkg/other.py")
        if case == "path leaves the tree":
            entries["../pkg/other.py"] = entry
        elif case == "path inside .git":
            entries[".git/config"] = entry
        elif case == "signature not ints":
            entries["pkg/other.py"] = [entry[0], [str(v) for v in entry[1]]]
        elif case == "signature of booleans":
            entries["pkg/other.py"] = [entry[0], [True, True, True, True]]
        elif case == "source not a digest":
            entries["pkg/other.py"] = [{"size": 1}, entry[1]]
        path.write_text(head + "\n" + json.dumps(entries) + "\n")


ODD = [
    "manifest is a link",
    "manifest has two links",
    "manifest writable by others",
    "copy writable by others",
    "tree is a link",
    "another root",
    "another role",
    "another version",
    "truncated",
    "path leaves the tree",
    "path inside .git",
    "signature not ints",
    "signature of booleans",
    "source not a digest",
]


def test_a_copy_whose_manifest_or_directory_is_odd_is_never_adopted(make_repo, tmp_path):
    root = make_repo(FILES)
    work = tmp_path / "w"
    live = KeptTree()
    with Scratch(root, {}, parent=work, keep=live):
        pass
    assert live.base is not None
    for case in ["none", *ODD]:
        # a copy of the live copy: its ALIVE is held by nobody, as a dead kernel's
        dead = work / f"{PREFIX}{case.replace(' ', '_')}"
        shutil.copytree(live.base, dead, symlinks=True)
        if case != "none":
            forge(dead, case)
        kept = KeptTree()
        with Scratch(root, {}, parent=work, keep=kept) as copy:
            assert (copy.base == dead) is (case == "none"), case
            assert tree_of(copy.path) == fresh(root, {}, tmp_path), case
        kept.close()
        if dead.exists():  # not adopted (and deleted with the adopter), nor swept
            dead.chmod(0o700)
            shutil.rmtree(dead)
    live.close()


def test_the_manifest_reader_takes_back_what_was_saved_and_nothing_else(tmp_path):
    copied = {
        "a.py": ((3, 1_700_000_000_000_000_000, 42), (3, 1, 2, 43)),
        "b/c.txt": ("ab" * 32, (0, 5, 6, 7)),
        "d": (None, (1, 2, 3, 4)),
    }
    manifest_module.save(tmp_path, Path("/p"), "unchanged", copied)
    assert manifest_module.load(tmp_path, Path("/p"), "unchanged") == copied
    assert manifest_module.load(tmp_path, Path("/p"), "changed") is None
    assert manifest_module.load(tmp_path, Path("/q"), "unchanged") is None
    head = manifest_module.header(tmp_path)
    assert head is not None and (head.root, head.role) == ("/p", "unchanged") and head.age < 60
    for rel in ("/abs", "a/../b", "a//b", "./a", ".agent_magic/x", "", "a\0b"):
        manifest_module.save(tmp_path, Path("/p"), "changed", {rel: (None, (1, 2, 3, 4))})
        assert manifest_module.load(tmp_path, Path("/p"), "changed") is None, rel


HOSTILE_CHECK = r"""
import sys
from agent_magic.review.process import Confined, check_env
from agent_magic.sandbox import detect
base = copy.base
(base.parent / "manifest-before-check").write_bytes((base / "{MANIFEST}").read_bytes())
script = f'''
set +e
echo 'X = 666' > pkg/other.py
for target in ../{MANIFEST} {base}/{MANIFEST} $HOME/../{MANIFEST} $TMPDIR/../{MANIFEST}; do
    printf '{{"version": 1}}\n{{}}\n' > "$target" && echo "wrote $target"
done
mv pkg/core.py {base}/{MANIFEST} && echo moved
ln -sf /dev/null {base}/{MANIFEST} && echo linked
ls -a {base}
'''
result = Confined(detect(), hide=(root,)).run(
    ["/bin/sh", "-c", script], tree=tree, output_path=copy.artifacts / "hostile.log",
    timeout=60, env=check_env([tree]),
)
(base.parent / "manifest-after-check").write_bytes((base / "{MANIFEST}").read_bytes())
(base.parent / "check-output").write_text("\n".join(result.lines()))
""".replace("{MANIFEST}", MANIFEST)


def test_a_sandboxed_check_cannot_reach_the_manifest_and_what_it_wrote_is_recopied(
    make_repo, tmp_path
):
    root = make_repo(FILES)
    work = tmp_path / "w"
    dead = other_kernel(root, work, hostile=HOSTILE_CHECK)["changed"]
    seen = (work / "check-output").read_text()
    assert "X = 666" not in seen and "moved" in seen, seen  # it ran, and wrote its forgeries
    # inside, the base's path is an empty dir of the private /tmp: what it writes there is lost
    before = (work / "manifest-before-check").read_bytes()
    assert (work / "manifest-after-check").read_bytes() == before
    assert (dead / MANIFEST).read_bytes() == before
    kept = KeptTree()
    with Scratch(root, {}, parent=work, keep=kept) as copy:
        assert copy.base == dead
        assert tree_of(copy.path) == fresh(root, {}, tmp_path)
        assert (copy.path / "pkg/other.py").read_text() == FILES["pkg/other.py"]
        assert kept.copies == 2  # the two files the check changed
    kept.close()


PLANT = r"""
import importlib.util, marshal, struct, sys
info = (tree / "pkg/other.py").stat()
header = struct.pack("<III", 0, int(info.st_mtime) & 0xFFFFFFFF, info.st_size & 0xFFFFFFFF)
cache = tree / "pkg/__pycache__"
cache.mkdir(exist_ok=True)
body = marshal.dumps(compile("X = 666\n", str(tree / "pkg/other.py"), "exec"))
name = f"other.{sys.implementation.cache_tag}.pyc"
(cache / name).write_bytes(importlib.util.MAGIC_NUMBER + header + body)
"""


@pytest.mark.parametrize("owner", [None, "a session"])
def test_bytecode_a_dead_kernel_s_checks_wrote_is_never_imported(make_repo, tmp_path, owner):
    root = make_repo(FILES)
    work = tmp_path / "w"
    dead = other_kernel(root, work, hostile=PLANT)["changed"]
    assert pyc(dead / "tree", "pkg/other.py").is_file()

    class Session:  # the adopting run's CheckMemo stand-in: any live object
        pass

    session = Session() if owner else None
    kept = KeptTree()
    with Scratch(root, {}, parent=work, keep=kept, owner=session) as copy:
        assert copy.base == dead and kept.copies == 0
        assert not pyc(copy.path, "pkg/other.py").exists()
        assert "VALUE 2" in sandboxed_import(copy, "pkg.other", write=False)
    kept.close()


def test_a_killed_kernel_s_fresh_copy_is_swept_by_the_next_keeper(make_repo, tmp_path):
    root = make_repo(FILES)
    work = tmp_path / "w"
    proc = subprocess.run(
        [sys.executable, "-c", FRESH, str(root), str(work)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    left = Path(proc.stdout.strip())
    assert proc.returncode == -9 and left.parent == work and (left / "tree").is_dir(), proc
    assert (left / ALIVE).is_file()
    mine = Scratch(root, {}, parent=work).__enter__()  # a live fresh copy stays
    kept = KeptTree()
    with Scratch(root, {}, parent=work, keep=kept) as copy:
        assert not left.exists()
        assert sorted(work.iterdir()) == sorted([copy.base, mine.base])
    mine.close()
    kept.close()
    assert not list(work.iterdir())


def test_a_dead_copy_waits_for_its_project_a_day_and_goes_when_its_project_does(
    make_repo, tmp_path
):
    roots = [make_repo(FILES) for _ in range(3)]
    work = tmp_path / "w"
    dead = [other_kernel(root, work)["changed"] for root in roots]
    stale = time.time() - ADOPT_SECONDS - 60
    os.utime(dead[1] / MANIFEST, (stale, stale))
    shutil.rmtree(roots[2])
    other = make_repo(FILES)
    kept = KeptTree()
    with Scratch(other, {}, parent=work, keep=kept):  # another project's keeper sweeps
        pass
    assert dead[0].is_dir()  # recent: waits for its project
    assert not dead[1].exists() and not dead[2].exists()
    kept.close()


def test_a_review_round_after_a_restart_adopts_both_copies_at_once(make_repo, tmp_path):
    # The unchanged copy is made in a thread while the changed one is: neither's sweep of the
    # folder may hold the other's dead copy at the moment it is adopted.
    root = make_repo(FILES)
    work = tmp_path / "w"
    dead = other_kernel(root, work)
    memo = CheckMemo()
    report = run_checks(
        root,
        {"pkg/core.py": b"def value():\n    return 1  # same\n"},
        memo=memo,
        workdir=work,
        timeout=120,
        parallel=True,
    )
    assert report.tests.passed == ["tests/test_core.py::test_value"], report.summary()
    assert (memo.tree.base, memo.unchanged.base) == (dead["changed"], dead["unchanged"])
    memo.tree.close()
    memo.unchanged.close()
    assert not list(work.iterdir())


def opened(path: Path, action: Callable[[], object]) -> bool:
    """Whether ``action()`` opened ``path`` (Linux inotify: IN_OPEN)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK)
    assert fd >= 0
    try:
        assert libc.inotify_add_watch(fd, str(path).encode(), 0x20) >= 0  # IN_OPEN
        action()
        try:
            return bool(os.read(fd, 4096))
        except BlockingIOError:
            return False
    finally:
        os.close(fd)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify")
def test_the_sweep_never_touches_a_dead_copy_it_spares(make_repo, tmp_path):
    # Locking it even for a moment would make a process adopting it just then (the other
    # role's thread) find it busy and copy the whole project instead.
    roots = [make_repo(FILES) for _ in range(2)]
    work = tmp_path / "w"
    dead = other_kernel(roots[0], work)
    other = KeptTree()
    assert not opened(dead["changed"] / ALIVE, lambda: other.start(roots[1], work))
    assert dead["changed"].is_dir()
    duplicate = KeptTree(role="unchanged")  # the same project and role as a dead copy's
    duplicate.start(roots[0], work)  # adopts it
    assert duplicate.base == dead["unchanged"]
    assert opened(dead["changed"] / ALIVE, lambda: remove_dead(work, (str(roots[0]), "changed")))
    assert not dead["changed"].exists()  # swept: the caller keeps that project's copy now
    other.close()
    duplicate.close()
