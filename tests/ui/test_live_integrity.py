"""Apply and undo through the open notebook keep the disk path's promises: one project lock,
one checkpoint and journal (kill -9 mid-apply is rolled back), the session saved, --commit and
--force as on disk, and "before" is the disk's bytes when the tab shows what the file holds."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from agent_magic.errors import ApplyError, ConflictError
from agent_magic.paths import Project
from agent_magic.session import Session, load_session
from agent_magic.staging import Staging, apply, list_checkpoints, recover
from agent_magic.staging.journal import JOURNAL_NAME
from agent_magic.staging.live import LiveBatch, LiveReader, LiveWriter
from agent_magic.staging.lock import project_lock
from agent_magic.ui.actions import apply_changes, undo_changes
from tests.conftest import git
from tests.fake_frontend import FakeFrontend, attach

FILES = ("work.ipynb", "more.ipynb", "util.py")


def notebook(*cells: tuple[str, str]) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src, id=cid) for cid, src in cells]
    return nbformat.writes(nb)


def cells(doc: dict) -> dict[str, str]:
    return {c["id"]: "".join(c["source"]) for c in doc["cells"]}


def disk_cells(path: Path) -> dict[str, str]:
    return cells(json.loads(path.read_text()))


def make_project(make_repo) -> Path:
    return make_repo(
        {
            "work.ipynb": notebook(("a", "x = 1\nx += 1"), ("b", "y = 2")),
            "more.ipynb": notebook(("m", "m = 1")),
            "util.py": "ONE = 1\n",
        }
    )


def open_tabs(root: Path) -> tuple[FakeFrontend, LiveWriter]:
    fake = FakeFrontend(root, "work.ipynb")
    for name in FILES:
        fake.open(name)
    return fake, LiveWriter(attach(fake, root / "work.ipynb"))


def stage(root: Path, live: LiveWriter) -> Session:
    project = Project(root)
    st = Staging(project, reader=LiveReader(live.frontend))
    st.notebook_edit("work.ipynb", "replace", cell="a", source="x = 10")
    st.notebook_edit("more.ipynb", "replace", cell="m", source="m = 2")
    st.replace("util.py", "ONE = 1\n", "ONE = 1\nTWO = 2\n")
    return Session(task="x to 10", project=project, model="scripted", changeset=st.changeset())


@pytest.fixture
def live_project(make_repo):
    root = make_project(make_repo)
    fake, live = open_tabs(root)
    return root, fake, live, {n: (root / n).read_bytes() for n in FILES}


# ---- "before" is the disk's bytes when the tab shows the file


def test_a_clean_tab_stages_against_the_disk_bytes_so_a_disk_fallback_applies(live_project):
    root, fake, live, original = live_project
    session = stage(root, live)
    assert session.changeset.file("work.ipynb").before == original["work.ipynb"]
    del fake.docs["work.ipynb"], fake.docs["more.ipynb"]  # the tabs closed before Apply
    outcome = apply_changes(session, None, live=live)
    assert outcome.ok, outcome.message
    assert disk_cells(root / "work.ipynb") == {"a": "x = 10", "b": "y = 2"}


def test_unsaved_edits_are_staged_against_and_a_disk_fallback_refuses(live_project):
    root, fake, live, original = live_project
    fake.docs["work.ipynb"]["cells"][1]["source"] = "y = 3"  # typed, not saved
    fake.dirty["work.ipynb"] = True
    session = stage(root, live)
    assert b"y = 3" in session.changeset.file("work.ipynb").before
    del fake.docs["work.ipynb"]  # the tab closed without saving: the agent's read is gone
    outcome = apply_changes(session, None, live=live)
    assert not outcome.ok and "work.ipynb" in outcome.message
    assert {n: (root / n).read_bytes() for n in FILES} == original


# ---- one lock, one checkpoint, one journal


def test_live_apply_waits_for_the_project_lock(live_project):
    root, fake, live, _ = live_project
    session = stage(root, live)
    held, release = threading.Event(), threading.Event()

    def other_apply() -> None:  # another kernel applying in the same project
        with project_lock(Project(root).state_dir):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=other_apply)
    thread.start()
    held.wait(10)
    released: list[float] = []
    saved: list[float] = []
    fake.on_saved = lambda path: saved.append(time.monotonic())

    def let_go() -> None:
        released.append(time.monotonic())
        release.set()

    threading.Timer(0.5, let_go).start()
    outcome = apply_changes(session, None, live=live)
    thread.join()
    assert outcome.ok, outcome.message
    assert len(saved) == 2 and min(saved) >= released[0]  # no tab changed before the lock
    assert [r["op"] for r in fake.requests].count("apply") == 2
    [cp] = list_checkpoints(Project(root))
    assert sorted(cp.paths) == sorted(FILES) and cp.id == outcome.checkpoint.id


_DIES = r"""
import os, sys
from pathlib import Path
from agent_magic.staging import apply, write_file
from agent_magic.staging.live import LiveBatch
from tests.ui.test_live_integrity import open_tabs, stage
root, point = Path(sys.argv[1]), sys.argv[2]
fake, live = open_tabs(root)
session = stage(root, live)
if point == "between notebooks":
    fake.on_saved = lambda path: os._exit(9)  # the page saved the first notebook, then death
def writer(target, data, mode):
    if point == "disk":
        os._exit(9)  # both notebooks changed and saved by the page, util.py not yet
    write_file(target, data, mode, root=root)
planned = live.plan(session.project, session.changeset, ["more.ipynb", "work.ipynb"], None)
batch = LiveBatch(
    live, session.project, [c for c, _ in planned], planned=planned
)
apply(session.project, session.changeset, writer=writer, live=batch)
"""


@pytest.mark.slow
@pytest.mark.parametrize("point", ["between notebooks", "disk"])
def test_kill_9_during_a_live_apply_is_rolled_back_by_the_next_use(make_repo, point):
    root = make_project(make_repo)
    original = {n: (root / n).read_bytes() for n in FILES}
    proc = subprocess.run(
        [sys.executable, "-c", _DIES, str(root), point],
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 9, proc.stderr
    assert (root / ".agent_magic" / JOURNAL_NAME).exists()
    assert disk_cells(root / "more.ipynb") == {"m": "m = 2"}  # the page saved it
    message = recover(Project(root))
    assert "has been rolled back" in message and "Reload Notebook from Disk" in message
    assert "work.ipynb" in message and "more.ipynb" in message
    assert {n: (root / n).read_bytes() for n in FILES} == original
    assert list_checkpoints(Project(root)) == []


def test_a_failed_disk_write_takes_the_change_back_in_the_tab(live_project):
    root, fake, live, original = live_project
    session = stage(root, live)
    planned = live.plan(session.project, session.changeset, ["work.ipynb", "more.ipynb"], None)
    batch = LiveBatch(live, session.project, [c for c, _ in planned], planned=planned)

    def read_only(target: Path, data: bytes | None, mode: int | None) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(target))

    with pytest.raises(ApplyError, match="nothing was applied"):
        apply(session.project, session.changeset, writer=read_only, live=batch)
    assert cells(fake.docs["work.ipynb"]) == {"a": "x = 1\nx += 1", "b": "y = 2"}
    assert cells(fake.docs["more.ipynb"]) == {"m": "m = 1"}
    assert disk_cells(root / "work.ipynb")["a"] == "x = 1\nx += 1"
    assert (root / "util.py").read_bytes() == original["util.py"]
    assert not (root / ".agent_magic" / JOURNAL_NAME).exists()
    assert list_checkpoints(Project(root)) == []


# ---- the session, --commit, --force


def test_live_apply_saves_the_session_and_commit_includes_the_notebooks(live_project):
    root, _fake, live, _ = live_project
    session = stage(root, live)
    outcome = apply_changes(session, None, live=live, commit=True)
    assert outcome.ok, outcome.message
    assert "Changed in the open tab and saved: more.ipynb, work.ipynb" in outcome.message
    committed = git(root, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(committed) == sorted(FILES)
    assert git(root, "status", "--porcelain", "--untracked-files=no") == ""
    # another kernel sees the apply: the saved session names its checkpoint
    assert load_session(Project(root), session.id).checkpoints == [outcome.checkpoint.id]


def test_a_failing_hook_on_a_live_apply_says_not_committed(live_project):
    root, _fake, live, _ = live_project
    hook = root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'lint failed: work.ipynb' >&2\nexit 1\n")
    hook.chmod(0o755)
    outcome = apply_changes(stage(root, live), None, live=live, commit=True)
    assert outcome.ok and "Not committed: git commit failed" in outcome.message
    assert "lint failed: work.ipynb" in outcome.message
    assert disk_cells(root / "work.ipynb")["a"] == "x = 10"


def test_live_undo_is_all_or_nothing_and_force_restores_a_changed_file(live_project):
    root, fake, live, original = live_project
    session = stage(root, live)
    applied = apply_changes(session, None, live=live)
    assert applied.ok, applied.message
    (root / "util.py").write_text("ONE = 1\nTWO = 2\n# the user's edit\n")

    refused = undo_changes(session, None, live=live)
    assert not refused.ok and "util.py" in refused.message and "--force" in refused.message
    assert cells(fake.docs["work.ipynb"])["a"] == "x = 10"  # the tab was not undone either
    assert session.checkpoints == [applied.checkpoint.id]

    forced = undo_changes(session, None, live=live, force=True)
    assert forced.ok, forced.message
    assert cells(fake.docs["work.ipynb"]) == {"a": "x = 1\nx += 1", "b": "y = 2"}
    assert cells(fake.docs["more.ipynb"]) == {"m": "m = 1"}
    assert (root / "util.py").read_bytes() == original["util.py"]
    assert session.checkpoints == [] and load_session(Project(root), session.id).checkpoints == []


def test_live_undo_refuses_a_cell_edited_since_and_changes_nothing(live_project):
    root, fake, live, _ = live_project
    session = stage(root, live)
    assert apply_changes(session, None, live=live).ok
    fake.docs["more.ipynb"]["cells"][0]["source"] = "m = 3"  # the user, after the apply
    after = {n: (root / n).read_bytes() for n in FILES}
    outcome = undo_changes(session, None, live=live, force=True)
    assert not outcome.ok and "more.ipynb cell m" in outcome.message
    assert cells(fake.docs["work.ipynb"])["a"] == "x = 10"
    assert {n: (root / n).read_bytes() for n in FILES} == after
    with pytest.raises(ConflictError):
        live.change_all(
            session.project, live.checkpoints[session.checkpoints[0]].changes, undo=True
        )


def test_a_notebook_whose_tab_closed_after_the_apply_is_undone_on_disk(live_project):
    root, fake, live, original = live_project
    session = stage(root, live)
    assert apply_changes(session, None, live=live).ok
    del fake.docs["work.ipynb"]  # closed after the apply; more.ipynb is still open
    outcome = undo_changes(session, None, live=live)
    assert outcome.ok, outcome.message
    assert {n: (root / n).read_bytes() for n in ("work.ipynb", "util.py")} == {
        n: original[n] for n in ("work.ipynb", "util.py")
    }
    assert cells(fake.docs["more.ipynb"]) == {"m": "m = 1"}  # undone in its tab
