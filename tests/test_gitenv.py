"""A kernel whose environment points git elsewhere (started from a git hook: GIT_DIR,
GIT_INDEX_FILE) still searches, copies and applies the project's own files."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_magic.analysis import RepoIndex, inventory
from agent_magic.analysis.grep import files_without, needles
from agent_magic.analysis.history import read_history
from agent_magic.errors import UserError
from agent_magic.paths import Project
from agent_magic.review.scratch import list_files
from agent_magic.staging import Staging, apply, gitstore, undo
from agent_magic.tools import Toolbox
from tests.conftest import git


@pytest.fixture
def elsewhere(make_repo, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, bytes]:
    """The project, another repository the environment points at, and that one's index."""
    other = make_repo({"theirs.py": "compute_total = 2\n"})
    project = make_repo({"ours.py": "compute_total = 1\n", "plain.py": "nothing\n"})
    index = (other / ".git" / "index").read_bytes()
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    return project, other, index


def test_search_and_the_scratch_copy_read_the_project_s_repository(elsewhere):
    project, _, _ = elsewhere
    assert list_files(project) == ["ours.py", "plain.py"]
    assert files_without(project, needles("compute_total")) == {"plain.py"}
    tools = Toolbox(
        Staging(Project(project)),
        lambda: ["ours.py", "plain.py"],
        absent=lambda first, seconds: files_without(project, first, seconds=seconds),
    )
    assert tools.run("search", {"pattern": "compute_total"}) == "ours.py:1: compute_total = 1"


def test_apply_and_undo_keep_to_the_project_and_leave_the_other_repository_alone(elsewhere):
    project, other, index = elsewhere
    head = git(other, "rev-parse", "HEAD")
    root = Project(project)
    assert gitstore.open_repo(project) is None  # GitPython would read the other repository
    staging = Staging(root)
    staging.replace("ours.py", "= 1", "= 3")
    with pytest.raises(UserError, match="GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE"):
        apply(root, staging.changeset(), commit=True)
    assert (project / "ours.py").read_text() == "compute_total = 1\n"
    checkpoint = apply(root, staging.changeset())
    assert (project / "ours.py").read_text() == "compute_total = 3\n"
    undo(root, checkpoint.id)
    assert (project / "ours.py").read_text() == "compute_total = 1\n"
    assert git(other, "rev-parse", "HEAD") == head
    assert (other / ".git" / "index").read_bytes() == index
    assert (other / "theirs.py").read_text() == "compute_total = 2\n"


def test_the_project_s_file_listing_is_its_own_repository_s(elsewhere):
    # The index's listing (what the search reads) ran git ls-files in the kernel's
    # environment: it listed the other repository's files, and the search missed ours.py
    project, _, _ = elsewhere
    assert [entry.path for entry in inventory.list_files(Project(project))] == [
        "ours.py",
        "plain.py",
    ]
    tools = Toolbox(
        Staging(Project(project)),
        RepoIndex(project).files,
        absent=lambda first, seconds: files_without(project, first, seconds=seconds),
    )
    assert tools.run("search", {"pattern": "compute_total"}) == "ours.py:1: compute_total = 1"
    # and the history the ranking reads is the project's too
    assert [c.files for c in read_history(project)] == [("ours.py", "plain.py")]
