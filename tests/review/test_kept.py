"""A scratch copy kept between review rounds: brought up to date, never stale, never unsafe."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from agent_magic.review import Scratch, run_checks
from agent_magic.review.clone import FileCopier
from agent_magic.review.kept import KeptTree, KeptTrees
from agent_magic.review.memo import CheckMemo
from agent_magic.sandbox import detect

FILES = {
    "pkg/__init__.py": "",
    "pkg/core.py": "def value():\n    return 1\n",
    "pkg/other.py": "X = 2\n",
    "data/table.csv": "a,b\n1,2\n",
    "tests/test_core.py": "from pkg.core import value\n\n\ndef test_value():\n"
    "    assert value() == 1\n",
}


def tree_of(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (links as their target text), relative posix path -> bytes."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(Path(dirpath) / d)]:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            out[rel] = (
                b"-> " + os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
            )
    return out


def fresh(root: Path, changes: dict[str, bytes | None], tmp: Path) -> dict[str, bytes]:
    with Scratch(root, changes, parent=tmp / "fresh") as copy:
        return tree_of(copy.path)


def test_a_kept_copy_is_reused_and_holds_what_a_fresh_copy_holds(make_repo, tmp_path):
    root = make_repo(FILES)
    kept = KeptTree()
    change = {"pkg/core.py": b"def value():\n    return 3\n"}
    with Scratch(root, change, parent=tmp_path / "w", keep=kept) as first:
        base = first.base
        assert tree_of(first.path) == fresh(root, change, tmp_path)
    assert base is not None and base.is_dir()  # kept, not deleted
    other = {"pkg/other.py": b"X = 5\n", "pkg/new.py": b"Y = 1\n", "data/table.csv": None}
    with Scratch(root, other, parent=tmp_path / "w", keep=kept) as second:
        assert second.base == base and kept.syncs == 1
        assert tree_of(second.path) == fresh(root, other, tmp_path)
        assert (second.path / "pkg/core.py").read_text() == FILES["pkg/core.py"]  # switched back
        # rewritten: it changed (not told by inode: the file system may reuse a freed number)
        assert (second.path / "pkg/other.py").read_bytes() == b"X = 5\n"
        assert second.files == sorted([*(f for f in FILES if f != "data/table.csv"), "pkg/new.py"])
    kept.close()
    assert not base.exists()


def test_unchanged_files_are_not_copied_again(make_repo, tmp_path):
    root = make_repo(FILES)
    kept = KeptTree()
    with Scratch(root, {}, parent=tmp_path, keep=kept) as first:
        before = (first.path / "pkg/other.py").stat().st_ino
    with Scratch(root, {"pkg/core.py": b"X = 1\n"}, parent=tmp_path, keep=kept) as second:
        assert (second.path / "pkg/other.py").stat().st_ino == before
    kept.close()


def test_what_a_check_wrote_is_undone_and_links_are_never_followed(make_repo, tmp_path):
    root = make_repo(FILES)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("keep me\n")
    os.chmod(outside / "victim.txt", 0o644)
    kept = KeptTree()
    with Scratch(root, {}, parent=tmp_path / "w", keep=kept) as copy:
        tree = copy.path
        (tree / "pkg/core.py").write_text("broken = True\n")  # rewritten in place
        (tree / "pkg/leftover.txt").write_text("junk\n")  # created
        (tree / "data/table.csv").unlink()  # removed
        os.symlink(outside / "victim.txt", tree / "pkg/other.py.tmp")
        (tree / "pkg/other.py").unlink()
        os.symlink(outside / "victim.txt", tree / "pkg/other.py")  # a file swapped for a link
        os.rename(tree / "tests", tree / "tests_moved")
        os.symlink(outside, tree / "tests")  # a directory swapped for a link to outside
        (tree / "locked").mkdir()
        (tree / "locked/file").write_text("x")
        os.symlink(outside / "victim.txt", tree / "locked/link")  # rmtree must not chmod it
        os.chmod(tree / "locked", stat.S_IRUSR | stat.S_IXUSR)  # read-only dir
        (copy.artifacts / "log.txt").write_text("last round's log\n")
    with Scratch(root, {}, parent=tmp_path / "w", keep=kept) as again:
        assert tree_of(again.path) == fresh(root, {}, tmp_path)
        assert list(again.artifacts.iterdir()) == []
    assert (outside / "victim.txt").read_text() == "keep me\n"
    assert stat.S_IMODE((outside / "victim.txt").stat().st_mode) == 0o644
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    kept.close()


def test_project_edits_between_rounds_reach_the_copy_and_secrets_never_do(make_repo, tmp_path):
    root = make_repo(FILES)
    kept = KeptTree()
    with Scratch(root, {}, parent=tmp_path, keep=kept):
        pass
    (root / "pkg/other.py").write_text("X = 'edited by the user'\n")
    (root / "pkg/added.py").write_text("Z = 1\n")
    (root / "data/table.csv").unlink()
    (root / ".env").write_text("TOKEN=hunter2\n")
    with Scratch(root, {}, parent=tmp_path, keep=kept) as again:
        assert tree_of(again.path) == fresh(root, {}, tmp_path)
        assert (again.path / "pkg/other.py").read_text() == "X = 'edited by the user'\n"
        assert not (again.path / ".env").exists() and not (again.path / "data").exists()
    kept.close()


def test_bytecode_is_kept_for_unchanged_sources_only(make_repo, tmp_path):
    root = make_repo(FILES)
    import compileall

    compileall.compile_dir(root / "pkg", quiet=1)
    tag = sys.implementation.cache_tag
    kept = KeptTree()
    for _ in range(2):  # a fresh copy, then the kept one
        with Scratch(root, {"pkg/core.py": b"V = 2\n"}, parent=tmp_path, keep=kept) as copy:
            assert (copy.path / f"pkg/__pycache__/other.{tag}.pyc").is_file()
            assert not (copy.path / f"pkg/__pycache__/core.{tag}.pyc").exists()
    kept.close()


def test_a_busy_kept_copy_is_not_shared(make_repo, tmp_path):
    root = make_repo(FILES)
    kept = KeptTree()
    with Scratch(root, {}, parent=tmp_path, keep=kept) as one:
        with Scratch(root, {"pkg/other.py": b"X = 9\n"}, parent=tmp_path, keep=kept) as two:
            assert one.base != two.base
            assert (one.path / "pkg/other.py").read_text() == FILES["pkg/other.py"]
        assert two.base is None
    assert kept.base is not None and kept.base.exists()
    kept.close()


def test_review_rounds_share_one_copy_and_see_each_round_s_diff(make_repo, tmp_path):
    root = make_repo(FILES)
    memo = CheckMemo()
    options = {"sandbox": detect(), "memo": memo, "workdir": tmp_path, "timeout": 120}
    # The test suite leaves a file behind in the copy, as careless suites do.
    leaky = FILES["tests/test_core.py"] + (
        "\n\ndef test_leaves_a_file():\n    open('leftover.txt', 'a').write('x')\n"
        "    assert open('leftover.txt').read() == 'x'\n"
    )
    broken = run_checks(
        root,
        {"pkg/core.py": b"def value():\n    return 2\n", "tests/test_core.py": leaky.encode()},
        **options,
    )
    assert broken.tests.newly_failing == ["tests/test_core.py::test_value"]
    fixed = run_checks(root, {"tests/test_core.py": leaky.encode()}, **options)
    assert fixed.tests.newly_failing == [] and fixed.tests.already_failing == []
    assert "tests/test_core.py::test_leaves_a_file" in fixed.tests.passed  # the leftover is gone
    assert memo.tree.syncs >= 1 and memo.reused_rounds == 0
    memo.tree.close()


def test_the_process_keeps_one_copy_per_project_for_its_runs_deleting_the_oldest_idle_one(
    make_repo, tmp_path
):
    roots = [make_repo(FILES) for _ in range(3)]
    trees = KeptTrees(limit=2)
    first = trees.for_project(roots[0])
    with Scratch(roots[0], {}, parent=tmp_path, keep=first) as copy:
        base = copy.base
        trees.for_project(roots[1])
        trees.for_project(roots[2])  # over the limit, but the oldest copy is in use
        assert base is not None and base.is_dir()
    assert trees.for_project(roots[0]) is first  # a later run on the project: the same copy
    with Scratch(roots[1], {}, parent=tmp_path, keep=trees.for_project(roots[1])):
        pass
    trees.for_project(roots[2])
    assert not base.exists()  # idle and least recently used: deleted
    assert trees.for_project(roots[0]) is not first
    trees.close()


def test_a_copied_file_is_a_file_of_its_own_with_the_project_file_s_times(tmp_path):
    src, dst = tmp_path / "src.py", tmp_path / "dst.py"
    src.write_bytes(b"X = 1\n" * 1000)
    os.utime(src, ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    copier = FileCopier()
    for _ in range(2):  # the second time knows whether this filesystem clones
        copier.copy(src, dst)
        assert dst.read_bytes() == src.read_bytes()
        assert dst.stat().st_mtime_ns == src.stat().st_mtime_ns  # bytecode stays valid
        assert dst.stat().st_ino != src.stat().st_ino
        dst.write_bytes(b"rewritten by a check\n")
        assert src.read_bytes() == b"X = 1\n" * 1000


def test_a_project_keeps_a_copy_for_the_change_and_one_for_the_unchanged_project(
    make_repo, tmp_path
):
    roots = [make_repo(FILES) for _ in range(2)]
    trees = KeptTrees(limit=1)
    changed, unchanged = trees.for_project(roots[0]), trees.for_project(roots[0], "unchanged")
    assert changed is not unchanged
    assert trees.for_project(roots[0], "unchanged") is unchanged
    bases = []
    for tree in (changed, unchanged):
        with Scratch(roots[0], {}, parent=tmp_path, keep=tree) as copy:
            bases.append(copy.base)
    assert all(b is not None and b.is_dir() for b in bases) and bases[0] != bases[1]
    trees.for_project(roots[1])  # the limit counts projects: both of the first one's go
    assert not any(b is not None and b.exists() for b in bases)
    trees.close()
