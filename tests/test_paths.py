"""Adversarial paths: nothing is ever read from or written outside the project root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agent_magic.errors import AgentMagicError, PathError
from agent_magic.paths import Project
from agent_magic.staging import Staging, apply, undo

PARTS = [
    "..",
    ".",
    "",
    "a",
    "b.py",
    ".git",
    ".agent_magic",
    "out",
    "in",
    "gitlink",
    "loop",
    ".env",
    "id_rsa",
    "x.pem",
    "~",
    "C:",
    "\\",
    "..\\..",
    " ",
    "\x00",
    "café",
    "a/../..",
    "HEAD",
    "config",
    "dir",
]
paths = st.one_of(
    st.lists(st.sampled_from(PARTS), min_size=1, max_size=6).map("/".join),
    st.lists(st.sampled_from(PARTS), min_size=1, max_size=4).map(lambda p: "/" + "/".join(p)),
    st.text(alphabet="./\\a.gitou~:", min_size=1, max_size=20),
)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("sandbox")
    root, outside = base / "root", base / "outside"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n")
    (root / "dir").mkdir()
    (root / "a").write_text("a\n")
    outside.mkdir()
    (outside / "victim.txt").write_text("untouched\n")
    os.symlink(outside, root / "out")
    os.symlink(root / "dir", root / "in")
    os.symlink(root / ".git", root / "gitlink")
    os.symlink(root / "loop", root / "loop")
    return root, outside


def files_under(path: Path) -> dict[str, bytes]:
    return {
        p.relative_to(path).as_posix(): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rel=paths)
def test_resolve_stays_inside_and_off_internals(sandbox, rel):
    root, _ = sandbox
    project = Project(root)
    try:
        target = project.resolve(rel)
    except PathError:
        return
    real = Path(os.path.realpath(target))
    assert real == project.root or project.root in real.parents
    inner = real.relative_to(project.root).parts
    assert not inner or inner[0] not in (".git", ".agent_magic")
    assert not project.is_secret(project.normalize(rel))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rel=paths, action=st.sampled_from(["create", "delete", "rename"]))
def test_staging_and_apply_never_write_outside(sandbox, rel, action):
    root, outside = sandbox
    project = Project(root)
    before_out = files_under(outside)
    before_git = files_under(root / ".git")
    st = Staging(project)
    try:
        if action == "create":
            st.create(rel, "payload\n", overwrite=True)
        elif action == "delete":
            st.delete(rel)
        else:
            st.rename("a", rel)
        cp = apply(project, st.changeset())
    except AgentMagicError:
        cp = None
    assert files_under(outside) == before_out
    assert files_under(root / ".git") == before_git
    if cp is not None:
        for path in cp.paths:
            real = Path(os.path.realpath(root / path))
            assert project.root in real.parents
        undo(project, cp.id, force=True)


@pytest.mark.parametrize(
    "rel",
    [
        "out/victim.txt",
        "../outside/victim.txt",
        "gitlink/config",
        ".git/config",
        ".agent_magic/checkpoints",
        "/etc/hosts",
        "dir/../../outside",
        "loop",
        "C:/x",
    ],
)
def test_known_escapes_refused(sandbox, rel):
    with pytest.raises(PathError):
        Project(sandbox[0]).resolve(rel)


@pytest.mark.parametrize(
    "rel",
    [
        ".env",
        ".env.local",
        "deploy/key.pem",
        "id_rsa.pub",
        "credentials.json",
        "aws_credentials.json",
        "secret.key",
    ],
)
def test_secrets_refused_and_agentignore(tmp_path, rel):
    (tmp_path / ".agentignore").write_text("# comment\nprivate/\n*.secret\n")
    project = Project(tmp_path)
    with pytest.raises(PathError, match="secret"):
        project.resolve(rel)
    assert project.is_secret("private/notes.txt") and project.is_secret("x.secret")
    assert not project.is_secret("src/main.py")


def test_agentignore_names_match_in_any_case_and_keep_their_special_characters(tmp_path):
    (tmp_path / ".agentignore").write_text("Prod.cfg\n[ab]c+d(1).txt\n$weird\nconfig/local_*.ini\n")
    project = Project(tmp_path)
    assert project.is_secret("prod.cfg") and project.is_secret("deploy/PROD.CFG")
    assert project.is_secret("bc+d(1).txt") and not project.is_secret("cc+d(1).txt")
    assert not project.is_secret("bccd(1).txt")  # "+" and "(" are literal, not regex
    assert project.is_secret("$weird") and not project.is_secret("weird")
    assert project.is_secret("config/local_dev.ini") and not project.is_secret("local_dev.ini")
    assert not project.is_secret("src/main.py")


def test_no_write_through_an_inner_link_even_one_that_stays_inside(sandbox):
    root, _ = sandbox
    project = Project(root)
    st = Staging(project)
    with pytest.raises(PathError, match="'in' is a symbolic link"):
        st.create("in/new.py", "x\n")
    st.create("dir/new.py", "x\n")  # the real directory is fine
    cp = apply(project, st.changeset())
    assert (root / "dir" / "new.py").read_text() == "x\n"
    undo(project, cp.id)
    assert not (root / "dir" / "new.py").exists()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rel=paths | st.text(alphabet="ab./ \n\t\x1b", min_size=1, max_size=16))
@example(rel="nb.ipynb/\n/\n/.")
@example(rel="a.py/ / /.")
@example(rel="./C:")
def test_normalize_is_idempotent(tmp_path, rel):
    """A normalized path names the same file when normalized again (apply re-checks each path)."""
    project = Project(tmp_path)
    try:
        norm = project.normalize(rel)
    except PathError:
        return
    assert project.normalize(norm) == norm


@pytest.mark.parametrize(
    "rel", ["nb.ipynb/\n/\n/.", "a.py/ / /.", "a/\t/b", "a /", ".. /x", "a/ b", "a.py\n/."]
)
def test_names_of_or_around_whitespace_are_refused(tmp_path, rel):
    with pytest.raises(PathError, match="whitespace"):
        Project(tmp_path).normalize(rel)


def test_odd_names_keep_their_characters_and_stay_the_same_when_normalized_again(tmp_path):
    project = Project(tmp_path)
    for rel in [" a.py\n", "evil\n+++ b/innocent.py", "x/\x1b[2K/y", "my file.py"]:
        norm = project.normalize(rel)
        assert project.normalize(norm) == norm


def test_a_trailing_slash_after_a_file_names_the_file(tmp_path):
    (tmp_path / "a.py").write_text("a = 1\n")
    assert Project(tmp_path).normalize("a.py/") == "a.py"
    assert Staging(Project(tmp_path)).read_bytes("a.py/") == b"a = 1\n"


class GeneralProject(Project):
    """Every path the general way (realpath), as before resolve had a fast path."""

    def _no_link_below_root(self, norm: str) -> bool:
        return False


def answer(project: Project, rel: str) -> str:
    try:
        return str(project.resolve(rel))
    except PathError as exc:
        return f"PathError: {exc}"


@pytest.fixture(scope="module")
def linked(tmp_path_factory) -> Path:
    """A project with links in and out, a hard link, secrets and internal directories."""
    base = tmp_path_factory.mktemp("linked")
    root, outside = base / "root", base / "outside"
    for rel in ("dir/a", "dir/sub/b.py", ".git/config", ".env", "keys/id_rsa", "a"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x\n")
    outside.mkdir()
    (outside / "victim.txt").write_text("untouched\n")
    os.link(root / "dir" / "a", root / "hard")
    for name, target in [("out", outside), ("in", root / "dir"), ("gitlink", root / ".git")]:
        os.symlink(target, root / name)
    os.symlink("dir/sub", root / "rel")
    os.symlink(".env", root / "settings.txt")
    os.symlink("nowhere", root / "dangling")
    os.symlink(root / "loop", root / "loop")
    return root


LINKED_PARTS = ["dir", "a", "sub", "b.py", "hard", "out", "in", "gitlink", "rel", "config"]
LINKED_PARTS += [".env", "keys", "id_rsa", "settings.txt", "dangling", "loop", "victim.txt"]
LINKED_PARTS += [".GIT", "missing", "..", "."]


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rel=st.lists(st.sampled_from(LINKED_PARTS), min_size=1, max_size=4).map("/".join))
def test_resolve_answers_as_the_general_way_does(linked, rel):
    assert answer(Project(linked), rel) == answer(GeneralProject(linked), rel)


def test_a_root_replaced_by_a_link_after_the_project_was_made_is_not_left(tmp_path):
    # The fast path took the root as resolved once: a root (or a directory above it) replaced
    # by a link to elsewhere led reads there, where realpath says "outside the project root".
    root, outside = tmp_path / "proj", tmp_path / "outside"
    (root / "dir").mkdir(parents=True)
    (root / "dir" / "a.py").write_text("mine\n")
    (outside / "dir").mkdir(parents=True)
    (outside / "dir" / "a.py").write_text("not the project's\n")
    project = Project(root)
    assert project.resolve("dir/a.py") == root / "dir" / "a.py"
    root.rename(tmp_path / "moved")
    os.symlink(outside, root)
    with pytest.raises(PathError, match="outside the project root"):
        project.resolve("dir/a.py")
