"""Bytecode in the scratch copy: the checks' .pyc serve later rounds, and never stale code."""

from __future__ import annotations

import compileall
import os
import py_compile
import sys
from pathlib import Path

import pytest

from agent_magic.review import Scratch, run_checks
from agent_magic.review.bytecode import source_of
from agent_magic.review.kept import KeptTree
from agent_magic.review.memo import CheckMemo
from agent_magic.review.process import Confined, check_env
from agent_magic.sandbox import Unconfined, detect

TAG = sys.implementation.cache_tag
FILES = {
    "pkg/__init__.py": "",
    "pkg/core.py": "def value():\n    return 1\n",
    "pkg/other.py": "X = 2\n",
    "pkg/edited.py": "E = 1\n",
    "pkg/gone.py": "G = 1\n",
    "tests/test_core.py": "from pkg.core import value\n\n\ndef test_value():\n"
    "    assert value() == 1\n",
}


def pyc(tree: Path, source: str) -> Path:
    folder, _, name = source.rpartition("/")
    return tree / folder / "__pycache__" / f"{name[:-3]}.{TAG}.pyc"


def sandboxed_import(copy: Scratch, module: str, *, write: bool = True) -> str:
    """`python -v -c "import module; print(X)"` in the sandbox, in the copy; its output."""
    confined = Confined(detect(), hide=(copy.root,))
    result = confined.run(
        [sys.executable, "-v", "-c", f"import {module} as m; print('VALUE', m.X)"],
        tree=copy.path,
        output_path=copy.artifacts / "import.log",
        timeout=60,
        env=check_env([copy.path], write_bytecode=write),
    )
    assert result.returncode == 0, result.tail()
    return "\n".join(result.lines())


def test_the_cache_path_of_a_source():
    assert source_of(f"a/b/__pycache__/m.{TAG}.pyc") == "a/b/m.py"
    assert source_of(f"__pycache__/m.{TAG}-pytest-8.3.4.pyc") == "m.py"
    for rel in ("a/m.pyc", "a/__pycache__/m.txt", "__pycache__/a/m.pyc", "m.pyc"):
        assert source_of(rel) is None


def test_bytecode_a_check_wrote_is_imported_by_the_next_round(make_repo, tmp_path):
    root = make_repo(FILES)
    kept = KeptTree()
    with Scratch(root, {}, parent=tmp_path, keep=kept) as first:
        log = sandboxed_import(first, "pkg.other")
        assert f"created '{pyc(first.path, 'pkg/other.py')}'" in log  # compiled, and cached
    with Scratch(root, {"pkg/core.py": b"V = 1\n"}, parent=tmp_path, keep=kept) as second:
        log = sandboxed_import(second, "pkg.other")
        assert f"code object from '{pyc(second.path, 'pkg/other.py')}'" in log
        assert "VALUE 2" in log
    kept.close()


def test_a_source_switched_within_a_second_never_runs_the_other_content_s_bytecode(
    make_repo, tmp_path
):
    root = make_repo(FILES)
    staged = {"pkg/other.py": b"X = 7\n"}  # the same size as the project's "X = 2"
    kept = KeptTree()
    with Scratch(root, staged, parent=tmp_path, keep=kept) as copy:
        source = copy.path / "pkg/other.py"
        assert "VALUE 7" in sandboxed_import(copy, "pkg.other")
        written = source.stat().st_mtime_ns
    # later rounds in the same kept copy switch the file back and forth
    for changes, value in (({}, "VALUE 2"), (staged, "VALUE 7")):
        with Scratch(root, changes, parent=tmp_path, keep=kept) as copy:
            os.utime(source, ns=(written, written))  # as if both were written in one second
            assert value in sandboxed_import(copy, "pkg.other")
    kept.close()


def test_a_kept_copy_keeps_only_bytecode_that_still_matches_an_untouched_source(
    make_repo, tmp_path
):
    root = make_repo(FILES)
    kept = KeptTree()
    with Scratch(root, {"pkg/core.py": b"V = 1\n"}, parent=tmp_path, keep=kept) as first:
        tree = first.path
        for rel in ("pkg/other.py", "pkg/core.py", "pkg/edited.py", "pkg/gone.py"):
            py_compile.compile(str(tree / rel), cfile=str(pyc(tree, rel)))  # what a check writes
        (tree / "tests/test_core.py").write_text("def test_nothing():\n    pass\n")
        py_compile.compile(
            str(tree / "tests/test_core.py"), cfile=str(pyc(tree, "tests/test_core.py"))
        )
        py_compile.compile(
            str(tree / "pkg/__init__.py"),
            cfile=str(pyc(tree, "pkg/__init__.py")),
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        kept_pyc = pyc(tree, "pkg/other.py").read_bytes()
    (root / "pkg/edited.py").write_text("E = 'the user edited this'\n")
    (root / "pkg/gone.py").unlink()
    with Scratch(root, {}, parent=tmp_path, keep=kept) as second:
        caches = sorted(p.relative_to(second.path).as_posix() for p in second.path.rglob("*.pyc"))
        assert caches == [f"pkg/__pycache__/other.{TAG}.pyc"]
        assert pyc(second.path, "pkg/other.py").read_bytes() == kept_pyc
        assert (second.path / "tests/test_core.py").read_text() == FILES["tests/test_core.py"]
    kept.close()


def test_only_project_bytecode_python_would_check_is_copied(make_repo, tmp_path):
    root = make_repo(FILES)
    compileall.compile_dir(root / "pkg", quiet=1)
    # "unchecked hash" whose hash field holds the source's mtime and size: Python never checks it
    crafted = bytearray(pyc(root, "pkg/core.py").read_bytes())
    crafted[4:8] = (1).to_bytes(4, "little")
    pyc(root, "pkg/core.py").write_bytes(bytes(crafted))
    py_compile.compile(
        str(root / "pkg/gone.py"),
        cfile=str(pyc(root, "pkg/gone.py")),
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    (root / "pkg/edited.py").write_text("E = 'edited after it was compiled'\n")  # now stale
    kept = KeptTree()
    for keep in (None, kept, kept):  # a fresh copy, a kept one's first round, its next
        with Scratch(root, {}, parent=tmp_path, keep=keep) as copy:
            assert pyc(copy.path, "pkg/other.py").is_file()
            for rel in ("pkg/core.py", "pkg/gone.py", "pkg/edited.py"):
                assert not pyc(copy.path, rel).exists()
    kept.close()


@pytest.mark.parametrize("unconfined", [False, True])
def test_checks_write_bytecode_only_where_the_sandbox_confines_writes(
    make_repo, tmp_path, unconfined
):
    root = make_repo(FILES)
    memo = CheckMemo()
    sandbox = Unconfined() if unconfined else detect()
    assert Confined(sandbox).confines_writes is not unconfined
    report = run_checks(
        root,
        {"pkg/core.py": b"def value():\n    return 1  # same\n"},
        sandbox=sandbox,
        memo=memo,
        workdir=tmp_path,
        timeout=120,
    )
    assert report.tests.passed == ["tests/test_core.py::test_value"]
    assert memo.tree.base is not None
    written = list((memo.tree.base / "tree").rglob("*.pyc"))
    assert (written == []) is unconfined
    memo.tree.close()


def test_the_bytecode_of_a_secret_source_never_reaches_the_copy(make_repo, tmp_path):
    root = make_repo({**FILES, ".agentignore": "pkg/private.py\n", "pkg/private.py": "K = 'x'\n"})
    compileall.compile_dir(root / "pkg", quiet=1)  # the project does not ignore __pycache__
    kept = KeptTree()
    for keep in (None, kept, kept):
        with Scratch(root, {}, parent=tmp_path, keep=keep) as copy:
            assert pyc(copy.path, "pkg/other.py").is_file()
            assert not (copy.path / "pkg/private.py").exists()
            assert not pyc(copy.path, "pkg/private.py").exists()
    kept.close()


def planted_pyc(tree: Path, source: str, code: str) -> None:
    """A .pyc of ``code`` whose header claims ``source`` as it is: what a hostile check writes."""
    import importlib.util
    import marshal
    import struct

    info = (tree / source).stat()
    header = struct.pack("<III", 0, int(info.st_mtime) & 0xFFFFFFFF, info.st_size & 0xFFFFFFFF)
    target = pyc(tree, source)
    target.parent.mkdir(exist_ok=True)
    body = marshal.dumps(compile(code, str(tree / source), "exec"))
    target.write_bytes(importlib.util.MAGIC_NUMBER + header + body)


def test_bytecode_a_run_s_checks_wrote_never_reaches_another_run_s_checks(make_repo, tmp_path):
    root = make_repo(FILES)
    kept = KeptTree()  # the process keeps one per project for all its runs (review.kept.KEPT)
    first_run, second_run = CheckMemo(tree=kept), CheckMemo(tree=kept)
    with Scratch(root, {}, parent=tmp_path, keep=kept, owner=first_run) as copy:
        planted_pyc(copy.path, "pkg/other.py", "X = 666\n")
        assert "VALUE 666" in sandboxed_import(copy, "pkg.other", write=False)
    with Scratch(root, {}, parent=tmp_path, keep=kept, owner=first_run) as again:
        # the run's own next round imports what its checks compiled (that is the point)
        assert "VALUE 666" in sandboxed_import(again, "pkg.other", write=False)
        base = again.base
    with Scratch(root, {}, parent=tmp_path, keep=kept, owner=second_run) as other:
        assert other.base == base  # the same kept copy, brought up to date
        assert not pyc(other.path, "pkg/other.py").exists()
        assert "VALUE 2" in sandboxed_import(other, "pkg.other", write=False)
    kept.close()
