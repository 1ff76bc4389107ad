"""apply(commit=True) is an ordinary `git commit` of exactly the applied paths: hooks run, signing
applies, a failing hook leaves the apply uncommitted; merges, rebases, detached HEAD, the user's
own uncommitted edits and submodules are refused before anything is written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent_magic.errors import PathError, UserError
from agent_magic.paths import Project
from agent_magic.staging import Staging, apply, undo
from tests.staging.conftest import git
from tests.staging.test_apply import tree


def _hook(repo: Project, name: str, body: str) -> None:
    hook = repo.root / ".git" / "hooks" / name
    hook.write_text("#!/bin/sh\n" + body)
    hook.chmod(0o755)


def _stage(repo: Project) -> Staging:
    st = Staging(repo)
    st.replace("a.py", "two", "TWO")
    st.create("b.py", "b\n")
    return st


def test_hooks_run_and_signing_applies(repo: Project, tmp_path: Path):
    _hook(repo, "pre-commit", f"echo ran > {tmp_path}/pre-commit-ran\n")
    _hook(repo, "commit-msg", "echo 'Reviewed-by: hook' >> \"$1\"\n")
    gpg = tmp_path / "fake-gpg.sh"
    gpg.write_text(
        "#!/bin/sh\ncat > /dev/null\necho '[GNUPG:] SIG_CREATED D 1 8 00 1 AB' >&2\n"
        "printf -- '-----BEGIN PGP SIGNATURE-----\\n\\nZmFrZQ==\\n"
        "-----END PGP SIGNATURE-----\\n'\n"
    )
    gpg.chmod(0o755)
    git(repo.root, "config", "commit.gpgsign", "true")
    git(repo.root, "config", "gpg.program", str(gpg))
    cp = apply(repo, _stage(repo).changeset(), commit=True, message="Fix two")
    assert (tmp_path / "pre-commit-ran").exists()
    raw = git(repo.root, "cat-file", "-p", cp.commit)
    assert "gpgsig -----BEGIN PGP SIGNATURE-----" in raw
    assert "Reviewed-by: hook" in raw and "Generated-by: agent_magic" in raw
    assert sorted(git(repo.root, "show", "--name-only", "--format=", "HEAD").split()) == [
        "a.py",
        "b.py",
    ]
    assert git(repo.root, "status", "--porcelain") == ""


def test_a_failing_hook_is_reported_and_the_apply_stays_uncommitted(repo: Project):
    head = git(repo.root, "rev-parse", "HEAD")
    _hook(repo, "pre-commit", "echo 'lint failed: a.py' >&2\nexit 1\n")
    cp = apply(repo, _stage(repo).changeset(), commit=True, message="Fix two")
    assert cp.commit == "" and "lint failed: a.py" in cp.commit_error
    assert git(repo.root, "rev-parse", "HEAD") == head
    assert (repo.root / "a.py").read_text() == "one\nTWO\nthree\n"
    assert sorted(git(repo.root, "status", "--porcelain").splitlines()) == [" M a.py", "?? b.py"]
    undo(repo, cp.id)  # and it is still undoable
    assert git(repo.root, "status", "--porcelain") == ""


def test_the_users_own_uncommitted_edits_in_the_same_file_refuse_commit(repo: Project):
    (repo.root / "a.py").write_text("one\ntwo\nthree\nmine\n")
    st = Staging(repo)
    st.replace("a.py", "two", "TWO")
    before = tree(repo.root)
    with pytest.raises(UserError, match=r"also commit your uncommitted changes in a.py"):
        apply(repo, st.changeset(), commit=True)
    assert tree(repo.root) == before
    apply(repo, st.changeset())  # without --commit it is fine


def _conflicting_merge(repo: Project) -> None:
    git(repo.root, "checkout", "-qb", "other")
    (repo.root / "notes.md").write_text("other\n")
    git(repo.root, "commit", "-qam", "other")
    git(repo.root, "checkout", "-q", "main")
    (repo.root / "notes.md").write_text("main\n")
    git(repo.root, "commit", "-qam", "main")
    subprocess.run(["git", "merge", "other"], cwd=repo.root, capture_output=True, check=False)


@pytest.mark.parametrize(
    "state, message",
    [
        ("merge", "a merge is in progress"),
        ("rebase", "a rebase is in progress"),
        ("detached", "HEAD is detached"),
    ],
)
def test_commit_refused_during_merge_rebase_and_detached_head(repo: Project, state, message):
    if state == "merge":
        _conflicting_merge(repo)
    elif state == "rebase":
        _conflicting_merge(repo)
        git(repo.root, "merge", "--abort")
        subprocess.run(["git", "rebase", "other"], cwd=repo.root, capture_output=True, check=False)
    else:
        git(repo.root, "checkout", "-q", "--detach")
    st = Staging(repo)
    st.replace("a.py", "two", "TWO")
    before = tree(repo.root)
    with pytest.raises(UserError, match=f"--commit is not possible while {message}"):
        apply(repo, st.changeset(), commit=True)
    assert tree(repo.root) == before


def test_undo_of_a_committed_apply_refused_during_a_merge(repo: Project):
    cp = apply(repo, _stage(repo).changeset(), commit=True, message="Fix two")
    _conflicting_merge(repo)
    before = tree(repo.root)
    with pytest.raises(UserError, match="revert cannot be committed while a merge is in progress"):
        undo(repo, cp.id)
    assert tree(repo.root) == before


def test_edits_inside_a_submodule_or_nested_repo_are_refused(repo: Project, tmp_path: Path):
    lib = tmp_path / "lib"
    lib.mkdir()
    git(lib, "init", "-q", "-b", "main")
    (lib / "core.py").write_text("x = 1\n")
    git(lib, "add", ".")
    git(lib, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "lib")
    git(
        repo.root,
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        str(lib),
        "vendor/lib",
    )
    git(repo.root, "commit", "-qm", "add submodule")
    st = Staging(repo)
    assert "x = 1" in st.read_text("vendor/lib/core.py")  # reading is fine
    with pytest.raises(PathError, match="vendor/lib/, a git submodule"):
        st.replace("vendor/lib/core.py", "x = 1", "x = 2")
    with pytest.raises(PathError, match="submodule"):
        st.create("vendor/lib/new.py", "y\n")
    assert st.changeset().is_empty


def test_the_apply_message_says_a_hook_refused_the_commit(repo: Project):
    from agent_magic.session import Session
    from agent_magic.ui.actions import apply_changes

    _hook(repo, "pre-commit", "echo 'lint failed: a.py' >&2\nexit 1\n")
    session = Session("fix two", repo, "m", changeset=_stage(repo).changeset())
    outcome = apply_changes(session, None, commit=True)
    assert (
        outcome.ok and "Not committed" in outcome.message and "lint failed: a.py" in outcome.message
    )
