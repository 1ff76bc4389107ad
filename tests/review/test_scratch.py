"""Scratch copies of real git repos and plain directories; the user's tree is never written."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent_magic.errors import PathError
from agent_magic.review import Scratch
from agent_magic.review.process import check_env, run_command


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file below root (outside .git) with its bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_copy_has_working_tree_plus_changes_and_is_removed(make_repo, tmp_path):
    root = make_repo({"a.py": "a = 1\n", "b.py": "b = 1\n", ".gitignore": "*.log\n",
                      "gone.py": "x = 1\n"})
    (root / "a.py").write_text("a = 2  # uncommitted\n")
    (root / "new.txt").write_text("untracked\n")
    (root / "debug.log").write_text("ignored\n")
    (root / ".agent_magic").mkdir()
    (root / ".agent_magic" / "state.json").write_text("{}")
    before = snapshot(root)
    changes = {"b.py": b"b = 2\n", "pkg/c.py": b"c = 3\n", "gone.py": None}

    with Scratch(root, changes, parent=tmp_path / "work") as scratch:
        copy = scratch.path
        assert (copy / "a.py").read_text() == "a = 2  # uncommitted\n"
        assert (copy / "new.txt").exists()
        assert not (copy / "debug.log").exists()
        assert not (copy / ".agent_magic").exists()
        assert not (copy / ".git").exists()
        assert (copy / "b.py").read_bytes() == b"b = 2\n"
        assert (copy / "pkg" / "c.py").read_bytes() == b"c = 3\n"
        assert not (copy / "gone.py").exists()
        assert "pkg/c.py" in scratch.files and "gone.py" not in scratch.files
        # Real copies, not hard links: a check rewriting a file cannot reach the user's tree.
        assert os.stat(copy / "a.py").st_nlink == 1
        (copy / "a.py").write_text("scribbled\n")

    assert not copy.exists()
    assert list((tmp_path / "work").iterdir()) == []
    assert snapshot(root) == before


def test_removed_on_keyboard_interrupt(make_repo, tmp_path):
    root = make_repo({"a.py": "a = 1\n"})
    with pytest.raises(KeyboardInterrupt), Scratch(root, parent=tmp_path / "w") as scratch:
        copy = scratch.path
        assert copy.exists()
        raise KeyboardInterrupt
    assert not copy.exists()
    assert list((tmp_path / "w").iterdir()) == []


def test_removed_even_with_read_only_dirs(make_repo, tmp_path):
    root = make_repo({"a.py": "a = 1\n"})
    with Scratch(root, parent=tmp_path / "w") as scratch:
        locked = scratch.path / "locked"
        locked.mkdir()
        (locked / "f").write_text("x")
        locked.chmod(0o500)
    assert list((tmp_path / "w").iterdir()) == []


@pytest.mark.parametrize("bad", ["../outside.py", "/etc/passwd", ".git/config", ""])
def test_bad_change_path_is_refused_and_nothing_is_left(make_repo, tmp_path, bad):
    root = make_repo({"a.py": "a = 1\n"})
    with pytest.raises(PathError), Scratch(root, {bad: b"x"}, parent=tmp_path / "w"):
        pass
    assert list((tmp_path / "w").iterdir()) == []
    assert not (tmp_path / "outside.py").exists()


def test_links_leaving_the_project_are_copied_not_followed(make_repo, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    root = make_repo({"a.py": "a = 1\n"})
    (root / "inner.py").symlink_to("a.py")
    (root / "escape.txt").symlink_to(outside)
    with Scratch(root, {"escape.txt": b"overwritten\n"}, parent=tmp_path / "w") as scratch:
        assert (scratch.path / "inner.py").is_symlink()
        assert (scratch.path / "escape.txt").read_bytes() == b"overwritten\n"
    assert outside.read_text() == "precious\n"


def test_walk_without_git_skips_environments_caches_and_large_files(make_repo, tmp_path):
    root = make_repo({
        "a.py": "a = 1\n", "node_modules/x.js": "x", "__pycache__/a.pyc": "x",
        "env/pyvenv.cfg": "home = /usr\n", "env/lib/site.py": "x", "big.bin": b"0" * 5000,
    }, git=False)
    with Scratch(root, parent=tmp_path / "w", max_file_size=1000) as scratch:
        assert scratch.files == ["a.py"]
        assert scratch.skipped == ["big.bin"]
        assert not (scratch.path / "node_modules").exists()


def test_path_outside_with_block_is_an_error(make_repo):
    scratch = Scratch(make_repo({"a.py": ""}))
    with pytest.raises(RuntimeError):
        _ = scratch.path


def test_timeout_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "pid"
    script = f"import subprocess, time; p = subprocess.Popen(['sleep', '60']); " \
             f"open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    result = run_command([sys.executable, "-c", script], cwd=tmp_path,
                         output_path=tmp_path / "out.log", timeout=3)
    assert result.timed_out and result.returncode is None
    grandchild = int(pidfile.read_text())
    # The kill signal is already sent; give the kernel a moment to deliver it on a busy machine.
    for _ in range(100):
        if not _alive(grandchild):
            break
        time.sleep(0.1)
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie waits for its reaper but runs no more


def test_check_env_drops_api_keys_and_puts_copy_first(tmp_path):
    env = check_env([tmp_path], base={"ANTHROPIC_API_KEY": "sk-secret", "PYTHONPATH": "/elsewhere",
                                      "PATH": os.environ["PATH"]})
    out = subprocess.run([sys.executable, "-c", "import os, sys; print(os.environ); print(sys.path)"],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert "sk-secret" not in out
    assert env["PYTHONPATH"].split(os.pathsep) == [str(tmp_path), "/elsewhere"]


def test_output_tail_is_bounded(tmp_path):
    script = "for i in range(20000): print('line', i)"
    result = run_command([sys.executable, "-c", script], cwd=tmp_path,
                         output_path=tmp_path / "out.log", timeout=60)
    tail = result.tail(500)
    assert result.returncode == 0 and len(tail) <= 510
    assert tail.rstrip().endswith("line 19999") and "line 0\n" not in tail
