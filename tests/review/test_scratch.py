"""Scratch copies of real git repos and plain directories; the user's tree is never written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_magic.errors import PathError
from agent_magic.review import Scratch


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file below root (outside .git and the agent's own state dir) with its bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not {".git", ".agent_magic"} & set(p.relative_to(root).parts)
    }


def test_copy_has_working_tree_plus_changes_and_is_removed(make_repo, tmp_path):
    root = make_repo(
        {"a.py": "a = 1\n", "b.py": "b = 1\n", ".gitignore": "*.log\n", "gone.py": "x = 1\n"}
    )
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
    copies: list[Path] = []

    def interrupted() -> None:
        with Scratch(root, parent=tmp_path / "w") as scratch:
            copies.append(scratch.path)
            assert scratch.path.exists()
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert copies and not copies[0].exists()
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
    root = make_repo(
        {
            "a.py": "a = 1\n",
            "node_modules/x.js": "x",
            "__pycache__/a.pyc": "x",
            "env/pyvenv.cfg": "home = /usr\n",
            "env/lib/site.py": "x",
            "big.bin": b"0" * 5000,
        },
        git=False,
    )
    with Scratch(root, parent=tmp_path / "w", max_file_size=1000) as scratch:
        assert scratch.files == ["a.py"]
        assert scratch.skipped == ["big.bin"]
        assert not (scratch.path / "node_modules").exists()


def test_path_outside_with_block_is_an_error(make_repo):
    scratch = Scratch(make_repo({"a.py": ""}))
    with pytest.raises(RuntimeError):
        _ = scratch.path


@pytest.mark.parametrize("git", [True, False])
def test_secret_files_are_never_copied_git_or_not(make_repo, tmp_path, git):
    root = make_repo(
        {
            "a.py": "a = 1\n",
            ".env": "TOKEN=abc\n",
            "id_rsa": "key\n",
            "conf/prod.pem": "pem\n",
            "private.cfg": "x\n",
            ".agentignore": "private.cfg\n",
        },
        git=git,
    )
    with Scratch(root, parent=tmp_path / "w") as scratch:
        copied = sorted(
            p.relative_to(scratch.path).as_posix() for p in scratch.path.rglob("*") if p.is_file()
        )
        assert copied == [".agentignore", "a.py"]
        assert scratch.files == [".agentignore", "a.py"]
