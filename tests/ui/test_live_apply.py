"""Apply and Undo buttons with the frontend extension attached (a fake frontend, injected):
the open notebook changes in its tab, other files on disk, their clean editor tabs reload."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import nbformat
import pytest
from IPython.core.error import UsageError

from agent_magic.magic import AgentMagics
from agent_magic.staging.live import LiveWriter
from tests.fake_frontend import FakeFrontend, attach
from tests.ui.runs import UNDERSTAND, call, turn, write_script


def notebook(*cells: tuple[str, str]) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src, id=cid) for cid, src in cells]
    return nbformat.writes(nb)


def script() -> list[dict]:
    plan = turn(
        call(
            "submit_plan",
            summary="x to 10, and a helper",
            steps=[{"description": "x = 10", "files": ["work.ipynb", "util.py"]}],
            files=["work.ipynb", "util.py"],
        )
    )
    return [
        UNDERSTAND,
        plan,
        turn(call("notebook_edit", path="work.ipynb", action="replace", cell="a", source="x = 10")),
        turn(call("replace", path="util.py", old="ONE = 1\n", new="ONE = 1\nTWO = 2\n")),
        turn(call("finish", summary="done")),
    ]


def cells(path: Path) -> dict[str, str]:
    return {c["id"]: "".join(c["source"]) for c in json.loads(path.read_text())["cells"]}


def settle(panel, timeout: float = 30.0) -> str:
    """The panel's message once the background apply or undo has written it."""
    deadline = time.monotonic() + timeout
    while "Applying in the open notebook" in panel.message.value and time.monotonic() < deadline:
        time.sleep(0.02)  # the worker thread updates the message; nothing to wait on
    return panel.message.value


@pytest.fixture
def setup(ip, make_repo, tmp_path):
    repo = make_repo(
        {"work.ipynb": notebook(("a", "x = 1"), ("b", "y = 2")), "util.py": "ONE = 1\n"}
    )
    fake = FakeFrontend(repo, "work.ipynb")
    fake.open("work.ipynb")
    fake.open("util.py")
    live = LiveWriter(attach(fake, repo / "work.ipynb"))
    magics = AgentMagics(ip, out=__import__("io").StringIO(), live=live)
    ip.register_magics(magics)
    ip.user_ns["__session__"] = str(repo / "work.ipynb")
    yield repo, fake, magics
    ip.user_ns.pop("__session__", None)


def test_apply_in_the_tab_and_on_disk_then_undo(ip, setup, tmp_path):
    repo, fake, magics = setup
    # the user's unsaved edit, seen by the agent as it stages
    fake.docs["work.ipynb"]["cells"][1]["source"] = "y = 2 + 3"
    fake.dirty["work.ipynb"] = True
    ip.run_cell_magic(
        "agent",
        f"--model {write_script(tmp_path, script())} -p {repo} --no-review --view widgets",
        "x to 10 and TWO",
    )
    assert magics.last_run.wait(60)
    panel = magics.last_view.panel
    assert "runs in" not in panel.message.value  # no disk warning: it changes in the tab

    panel.apply_button.click()
    message = settle(panel)
    assert "Changed in the open tab and saved: work.ipynb" in message
    assert "Reloaded from disk in their editor tabs: util.py" in message
    assert cells(repo / "work.ipynb") == {"a": "x = 10", "b": "y = 2 + 3"}
    assert (repo / "util.py").read_text() == "ONE = 1\nTWO = 2\n"
    assert fake.docs["util.py"] == "ONE = 1\nTWO = 2\n"  # the clean editor tab was reloaded
    assert not panel.undo_button.disabled and "**Applied:**" in magics.last_view.record

    panel.undo_button.click()
    assert "Undid checkpoint " in settle(panel)
    assert cells(repo / "work.ipynb") == {"a": "x = 1", "b": "y = 2 + 3"}
    assert (repo / "util.py").read_text() == "ONE = 1\n"
    assert fake.docs["util.py"] == "ONE = 1\n"


def test_a_cell_edited_in_the_tab_since_staging_refuses_and_nothing_is_written(ip, setup, tmp_path):
    repo, fake, magics = setup
    before = {p: (repo / p).read_bytes() for p in ("work.ipynb", "util.py")}
    ip.run_cell_magic(
        "agent",
        f"--model {write_script(tmp_path, script())} -p {repo} --no-review --view widgets",
        "x to 10 and TWO",
    )
    assert magics.last_run.wait(60)
    fake.docs["work.ipynb"]["cells"][0]["source"] = "x = 100"  # the user, after staging
    panel = magics.last_view.panel
    panel.apply_button.click()
    message = settle(panel)
    assert "Could not apply" in message and "work.ipynb cell a" in message
    assert {p: (repo / p).read_bytes() for p in before} == before
    assert panel.undo_button.layout.display == "none"  # nothing to undo


def test_line_magic_apply_and_undo_go_through_the_tab_when_replies_reach_a_cell(
    ip, setup, tmp_path
):
    repo, _fake, magics = setup
    ip.run_cell_magic(
        "agent",
        f"--model {write_script(tmp_path, script())} -p {repo} --no-review --view widgets",
        "x to 10 and TWO",
    )
    assert magics.last_run.wait(60)
    ip.run_line_magic("agent", "apply")
    assert "Changed in the open tab and saved: work.ipynb" in magics.out.getvalue()
    assert cells(repo / "work.ipynb")["a"] == "x = 10"
    assert not magics.last_view.panel.undo_button.disabled  # the panel follows
    ip.run_line_magic("agent", "undo")
    assert "Undid checkpoint " in magics.out.getvalue()
    assert cells(repo / "work.ipynb")["a"] == "x = 1"


def test_line_magic_refuses_when_replies_wait_behind_the_cell(ip, setup, tmp_path):
    repo, fake, magics = setup
    before = (repo / "work.ipynb").read_bytes()
    ip.run_cell_magic(
        "agent",
        f"--model {write_script(tmp_path, script())} -p {repo} --no-review --view widgets",
        "x to 10 and TWO",
    )
    assert magics.last_run.wait(60)
    fake.silent = True  # a kernel without subshells: the page's replies wait behind the cell
    with pytest.raises(UsageError, match="Apply button of the %%agent cell"):
        ip.run_line_magic("agent", "apply")
    assert (repo / "work.ipynb").read_bytes() == before
    assert (repo / "util.py").read_text() == "ONE = 1\n"


def only_util() -> list[dict]:
    plan = turn(
        call(
            "submit_plan",
            summary="a helper",
            steps=[{"description": "TWO", "files": ["util.py"]}],
            files=["util.py"],
        )
    )
    return [
        UNDERSTAND,
        plan,
        turn(call("replace", path="util.py", old="ONE = 1\n", new="ONE = 1\nTWO = 2\n")),
        turn(call("finish", summary="done")),
    ]


def test_a_file_written_on_disk_reloads_its_clean_tab_or_says_it_has_unsaved_changes(
    ip, setup, tmp_path
):
    repo, fake, magics = setup
    ip.run_cell_magic(
        "agent",
        f"--model {write_script(tmp_path, only_util())} -p {repo} --no-review --view widgets",
        "TWO",
    )
    assert magics.last_run.wait(60)
    panel = magics.last_view.panel
    panel.apply_button.click()
    assert "Reloaded from disk in their editor tabs: util.py" in settle(panel)
    assert fake.docs["util.py"] == "ONE = 1\nTWO = 2\n"

    fake.dirty["util.py"] = True  # the user types in the tab before Undo
    panel.undo_button.click()
    message = settle(panel)
    assert "Open with unsaved changes, so not reloaded: util.py" in message
    assert (repo / "util.py").read_text() == "ONE = 1\n"


class BrokenRevert(FakeFrontend):
    """A page whose reload of an editor tab fails in a way nobody expected."""

    def handle(self, request: dict) -> dict:
        if request["op"] == "revert":
            raise RuntimeError("the editor tab went away")
        return super().handle(request)


def test_an_unexpected_error_in_the_background_apply_is_shown_not_left_applying(
    ip, make_repo, tmp_path
):
    repo = make_repo({"work.ipynb": notebook(("a", "x = 1")), "util.py": "ONE = 1\n"})
    fake = BrokenRevert(repo, "work.ipynb")
    fake.open("work.ipynb")
    fake.open("util.py")
    magics = AgentMagics(ip, out=io.StringIO(), live=LiveWriter(attach(fake, repo / "work.ipynb")))
    ip.register_magics(magics)
    ip.user_ns["__session__"] = str(repo / "work.ipynb")
    try:
        ip.run_cell_magic(
            "agent",
            f"--model {write_script(tmp_path, only_util())} -p {repo} --no-review --view widgets",
            "TWO",
        )
        assert magics.last_run.wait(60)
        panel = magics.last_view.panel
        panel.apply_button.click()
        message = settle(panel)
    finally:
        ip.user_ns.pop("__session__", None)
    assert "Failed: RuntimeError: the editor tab went away" in message


def test_undo_force_through_the_tab_restores_a_file_changed_on_disk(ip, setup, tmp_path):
    repo, fake, magics = setup
    ip.run_cell_magic(
        "agent",
        f"--model {write_script(tmp_path, script())} -p {repo} --no-review --view widgets",
        "x to 10 and TWO",
    )
    assert magics.last_run.wait(60)
    ip.run_line_magic("agent", "apply")
    assert "Changed in the open tab and saved: work.ipynb" in magics.out.getvalue()
    (repo / "util.py").write_text("ONE = 1\nTWO = 2\nTHREE = 3\n")  # the user's later edit
    with pytest.raises(UsageError, match=r"changed after the apply.*util\.py"):
        ip.run_line_magic("agent", "undo")
    assert fake.docs["work.ipynb"]["cells"][0]["source"] == "x = 10"  # all or nothing
    ip.run_line_magic("agent", "undo --force")
    assert fake.docs["work.ipynb"]["cells"][0]["source"] == "x = 1"
    assert cells(repo / "work.ipynb")["a"] == "x = 1"
    assert (repo / "util.py").read_text() == "ONE = 1\n"
    assert "was undone" in magics.last_view.record  # the panel and record follow
