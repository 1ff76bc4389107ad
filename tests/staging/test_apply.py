from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_magic.errors import ApplyError, ConflictError, PathError, UserError
from agent_magic.paths import Project
from agent_magic.staging import Staging, apply, list_checkpoints, undo, write_file
from tests.staging.conftest import git


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts and ".agent_magic" not in p.parts
    }


def git_state(root: Path) -> tuple[str, str, bytes, str]:
    return (
        git(root, "rev-parse", "HEAD"),
        git(root, "symbolic-ref", "HEAD"),
        (root / ".git" / "index").read_bytes(),
        git(root, "status", "--porcelain"),
    )


def stage_mix(project: Project) -> Staging:
    st = Staging(project)
    st.replace("a.py", "two", "TWO")
    st.create("new/deep/c.py", "c = 1\n")
    st.delete(next(p for p in ("notes.md", "pkg/b.txt") if (project.root / p).exists()))
    return st


@pytest.mark.parametrize("kind", ["repo", "plain"])
def test_apply_then_undo_restores_byte_for_byte(kind, request):
    project: Project = request.getfixturevalue(kind)
    original = tree(project.root)
    st = stage_mix(project)
    cp = apply(project, st.changeset(), message="task", session_id="s1")
    assert tree(project.root)["a.py"] == b"one\nTWO\nthree\n"
    assert (project.root / "new/deep/c.py").read_text() == "c = 1\n"
    assert cp.kind == ("git" if kind == "repo" else "files")
    assert [c.id for c in list_checkpoints(project)] == [cp.id]
    done = undo(project)
    assert done.id == cp.id and done.undone
    assert tree(project.root) == original
    assert not (project.root / "new").exists()
    assert list_checkpoints(project)[0].undone
    with pytest.raises(UserError, match="nothing to undo"):
        undo(project)


def test_git_checkpoint_leaves_head_index_branch_alone(repo: Project):
    (repo.root / "notes.md").write_text("user's unstaged work\n")
    (repo.root / "staged.txt").write_text("user's staged work\n")
    git(repo.root, "add", "staged.txt")
    state = git_state(repo.root)
    st = Staging(repo)
    st.replace("a.py", "one", "ONE")
    cp = apply(repo, st.changeset())
    assert git_state(repo.root)[:3] == state[:3]
    assert git(repo.root, "rev-parse", f"refs/agent-magic/checkpoints/{cp.id}").strip()
    assert git(repo.root, "show", f"{cp.tree}:a.py") == "one\ntwo\nthree\n"
    assert ".agent_magic" not in git(repo.root, "status", "--porcelain")
    undo(repo)
    assert git_state(repo.root) == state


def test_conflict_refuses_whole_apply(repo: Project):
    st = stage_mix(repo)
    (repo.root / "a.py").write_text("changed by user\n")
    before = tree(repo.root)
    with pytest.raises(ConflictError) as err:
        apply(repo, st.changeset())
    assert err.value.paths == ["a.py"]
    assert tree(repo.root) == before
    assert list_checkpoints(repo) == []


def test_conflict_when_an_added_file_appeared(plain: Project):
    st = Staging(plain)
    st.create("x.py", "mine\n")
    (plain.root / "x.py").write_text("theirs\n")
    with pytest.raises(ConflictError, match=r"x.py"):
        apply(plain, st.changeset())
    apply(plain, st.changeset(), force=True)
    assert (plain.root / "x.py").read_text() == "mine\n"


class FailAfter:
    """A writer that writes k files, then raises like a crash or Ctrl-C would."""

    def __init__(self, k: int, exc: BaseException) -> None:
        self.k, self.exc, self.calls = k, exc, 0

    def __call__(self, target, data, mode) -> None:
        if self.calls == self.k:
            raise self.exc
        self.calls += 1
        write_file(target, data, mode)


@pytest.mark.parametrize("k", [0, 1, 2])
@pytest.mark.parametrize(
    "exc", [OSError("disk full"), KeyboardInterrupt()], ids=["error", "interrupt"]
)
def test_failure_after_k_files_restores_everything(repo: Project, k, exc):
    original = tree(repo.root)
    st = stage_mix(repo)
    with pytest.raises(ApplyError if isinstance(exc, OSError) else type(exc)):
        apply(repo, st.changeset(), writer=FailAfter(k, exc))
    assert tree(repo.root) == original
    assert not (repo.root / "new").exists()
    assert list_checkpoints(repo) == []


def test_selection_applies_only_chosen_hunks(plain: Project):
    (plain.root / "long.py").write_text("".join(f"l{i}\n" for i in range(30)))
    st = Staging(plain)
    st.replace("long.py", "l1\n", "L1\n")
    st.replace("long.py", "l25\n", "L25\n")
    st.create("other.py", "x\n")
    cs = st.changeset()
    assert cs.file("long.py").hunk_ids() == ["long.py#1", "long.py#2"]
    cp = apply(plain, cs, {"long.py#2"})
    text = (plain.root / "long.py").read_text()
    assert "L25" in text and "L1\n" not in text and not (plain.root / "other.py").exists()
    assert cp.paths == ["long.py"]
    with pytest.raises(UserError, match="unknown hunk"):
        apply(plain, cs, {"nope#1"})
    with pytest.raises(UserError, match="nothing to apply"):
        apply(plain, cs, set())


def test_rename_keeps_mode_and_undo_brings_it_back(repo: Project):
    st = Staging(repo)
    st.rename("tool.sh", "bin/tool.sh")
    apply(repo, st.changeset())
    assert not (repo.root / "tool.sh").exists()
    assert os.stat(repo.root / "bin/tool.sh").st_mode & 0o111
    undo(repo)
    assert os.stat(repo.root / "tool.sh").st_mode & 0o111
    assert not (repo.root / "bin").exists()


def test_modified_file_keeps_mode(repo: Project):
    st = Staging(repo)
    st.replace("tool.sh", "hi", "hello")
    apply(repo, st.changeset())
    assert os.stat(repo.root / "tool.sh").st_mode & 0o777 == 0o755


def test_undo_refuses_when_file_changed_after_apply(plain: Project):
    st = Staging(plain)
    st.replace("a.py", "two", "TWO")
    cp = apply(plain, st.changeset())
    (plain.root / "a.py").write_text("later edit\n")
    with pytest.raises(ConflictError) as err:
        undo(plain, cp.id)
    assert err.value.paths == ["a.py"]
    assert (plain.root / "a.py").read_text() == "later edit\n"
    undo(plain, cp.id, force=True)
    assert (plain.root / "a.py").read_text() == "one\ntwo\nthree\n"
    with pytest.raises(UserError, match="already undone"):
        undo(plain, cp.id)
    with pytest.raises(UserError, match="no checkpoint"):
        undo(plain, "20990101-000000-000000-abcd")


def test_undo_by_id_among_several(plain: Project):
    st = Staging(plain)
    st.replace("a.py", "one", "1")
    first = apply(plain, st.changeset())
    st = Staging(plain)
    st.create("z.py", "z\n")
    second = apply(plain, st.changeset())
    assert [c.id for c in list_checkpoints(plain)] == [second.id, first.id]
    undo(plain, first.id)
    assert (plain.root / "a.py").read_text() == "one\ntwo\nthree\n"
    assert (plain.root / "z.py").exists()


def test_commit_only_the_applied_paths(repo: Project):
    (repo.root / "notes.md").write_text("unstaged user work\n")
    (repo.root / "staged.txt").write_text("staged user work\n")
    git(repo.root, "add", "staged.txt")
    head = git(repo.root, "rev-parse", "HEAD").strip()
    st = Staging(repo)
    st.replace("a.py", "two", "TWO")
    st.create("b.py", "b\n")
    cp = apply(
        repo, st.changeset(), commit=True, message="Fix two\n\nPlan: shout", session_id="abc"
    )
    assert git(repo.root, "rev-parse", "HEAD").strip() == cp.commit
    assert git(repo.root, "rev-parse", "HEAD~1").strip() == head
    assert git(repo.root, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    files = git(repo.root, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(files) == ["a.py", "b.py"]
    msg = git(repo.root, "log", "-1", "--format=%B")
    assert msg.startswith("Fix two") and "Generated-by: agent_magic (session abc)" in msg
    status = git(repo.root, "status", "--porcelain").splitlines()
    assert sorted(status) == [" M notes.md", "A  staged.txt"]


def test_undo_of_a_committed_apply_commits_the_revert_of_only_those_paths(repo: Project):
    (repo.root / "notes.md").write_text("unstaged user work\n")
    before = (repo.root / "a.py").read_bytes()
    st = Staging(repo)
    st.replace("a.py", "two", "TWO")
    st.create("b.py", "b\n")
    cp = apply(repo, st.changeset(), commit=True, message="Fix two", session_id="abc")
    undone = undo(repo)
    assert (repo.root / "a.py").read_bytes() == before and not (repo.root / "b.py").exists()
    assert git(repo.root, "rev-parse", "HEAD").strip() == undone.revert_commit
    assert git(repo.root, "rev-parse", "HEAD~1").strip() == cp.commit
    assert sorted(git(repo.root, "show", "--name-only", "--format=", "HEAD").split()) == [
        "a.py",
        "b.py",
    ]
    msg = git(repo.root, "log", "-1", "--format=%B")
    assert msg.startswith('Revert "Fix two"') and f"This reverts commit {cp.commit}." in msg
    assert "Generated-by: agent_magic (session abc)" in msg
    # The tree at HEAD is the pre-apply one; the user's own work is untouched and uncommitted.
    assert git(repo.root, "diff", "HEAD~2", "HEAD", "--stat").strip() == ""
    assert git(repo.root, "status", "--porcelain").splitlines() == [" M notes.md"]


def test_undo_message_names_the_revert_commit(repo: Project):
    from agent_magic.ui.actions import undo_changes

    st = Staging(repo)
    st.replace("a.py", "two", "TWO")
    cp = apply(repo, st.changeset(), commit=True, message="Fix two")
    outcome = undo_changes(repo, cp.id)
    head = git(repo.root, "rev-parse", "HEAD").strip()
    assert outcome.ok and outcome.message.endswith(f"committed the revert as {head[:10]}")


def test_undo_does_not_revert_a_commit_no_longer_in_history(repo: Project):
    st = Staging(repo)
    st.replace("a.py", "two", "TWO")
    cp = apply(repo, st.changeset(), commit=True, message="Fix two")
    git(repo.root, "reset", "-q", "--hard", "HEAD~1")  # the user dropped the commit themselves
    head = git(repo.root, "rev-parse", "HEAD").strip()
    undone = undo(repo, cp.id, force=True)
    assert undone.revert_commit == ""
    assert git(repo.root, "rev-parse", "HEAD").strip() == head


def test_commit_needs_git(plain: Project):
    st = Staging(plain)
    st.replace("a.py", "two", "TWO")
    with pytest.raises(UserError, match="git repository"):
        apply(plain, st.changeset(), commit=True)
    assert (plain.root / "a.py").read_text() == "one\ntwo\nthree\n"


def test_secret_target_refused(plain: Project):
    (plain.root / "config.pem").write_text("secret\n")
    with pytest.raises(Exception, match="secret"):
        Staging(plain).delete("config.pem")
    assert (plain.root / "config.pem").read_text() == "secret\n"


def test_edits_never_go_through_inner_symlinks(plain: Project):
    os.symlink(plain.root / "a.py", plain.root / "link.py")
    os.symlink(plain.root / "pkg", plain.root / "alias")
    st = Staging(plain)
    assert "two" in st.read_text("link.py")  # reading through an inner link is fine
    with pytest.raises(PathError, match="symbolic link"):
        st.replace("link.py", "two", "TWO")
    with pytest.raises(PathError, match="'alias' is a symbolic link"):
        st.create("alias/new.txt", "x\n")
    assert st.changeset().is_empty
    assert (plain.root / "a.py").read_text() == "one\ntwo\nthree\n"


def test_apply_one_notebook_cell(plain: Project):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("a = 1", id="c1"),
        nbformat.v4.new_code_cell("b = 2", id="c2"),
    ]
    raw = nbformat.writes(nb)
    (plain.root / "n.ipynb").write_text(raw)
    st = Staging(plain)
    st.notebook_edit("n.ipynb", "replace", cell="c1", source="a = 10")
    st.notebook_edit("n.ipynb", "replace", cell="c2", source="b = 20")
    apply(plain, st.changeset(), {"n.ipynb#cell-c2"})
    expected = nbformat.reads(raw, as_version=4)
    expected.cells[1].source = "b = 20"
    assert (plain.root / "n.ipynb").read_text() == nbformat.writes(expected)


def test_undo_keeps_an_empty_directory_the_user_already_had(plain: Project):
    (plain.root / "empty").mkdir()
    st = Staging(plain)
    st.create("empty/new.py", "x = 1\n")
    st.create("fresh/sub/new.py", "y = 1\n")
    cp = apply(plain, st.changeset())
    assert cp.created_dirs == ["fresh/sub", "fresh"]
    undo(plain, cp.id)
    assert (plain.root / "empty").is_dir() and not (plain.root / "empty" / "new.py").exists()
    assert not (plain.root / "fresh").exists()
