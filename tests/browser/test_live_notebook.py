"""The agent changes the notebook the user has open, through agent_magic's JupyterLab extension.

The user has an unsaved edit in one cell; the agent changes another. Apply changes the open tab
in place and saves it through the page: no reload, no "File Changed" dialog, both changes and
the %%agent cell's output on disk. Undo takes the agent's cell back the same way, and
`%agent apply` in a later cell applies through the tab too. The same with real-time
collaboration (jupyter-collaboration); Apply works the same in Notebook 7.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests import scripts
from tests.browser.lab import LabServer, copy_project, extension_path, start_lab, stop_lab
from tests.browser.notebook_page import (
    RUN_TIMEOUT,
    UI_TIMEOUT,
    cell,
    first_cell_runs,
    open_notebook,
    read_saved,
    run_cell,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module", params=[False, True], ids=["files", "rtc"])
def live_lab(request, tmp_path_factory) -> Iterator[LabServer]:
    """JupyterLab with the built extension, serving a copy of the sample project; without and
    with real-time collaboration (jupyter-collaboration: the open document is the shared model).
    """
    rtc = request.param
    if rtc:
        import importlib.util

        if importlib.util.find_spec("jupyter_server_ydoc") is None:
            pytest.fail(
                "jupyter-collaboration is missing: `pip install -e '.[dev]'` installs it",
                pytrace=False,
            )
    root = copy_project(tmp_path_factory.mktemp("live") / "shoplytics")
    home = tmp_path_factory.mktemp("live-home")
    server = start_lab(root, home, extra_env={"JUPYTER_PATH": str(extension_path(home))}, rtc=rtc)
    try:
        yield server
    finally:
        stop_lab(server)


@pytest.fixture
def lab(live_lab) -> LabServer:
    """The page fixture's server is this module's."""
    return live_lab


def agent_script(notebook: str) -> list[dict]:
    plan = scripts.turn(
        scripts.call(
            "submit_plan",
            summary="Set x to 10",
            steps=[{"description": "x = 10 in the first code cell", "files": [notebook]}],
            files=[notebook],
        )
    )
    return [
        scripts.UNDERSTAND,
        plan,
        scripts.turn(
            scripts.call(
                "notebook_edit", path=notebook, action="replace", cell="cell-x", source="x = 10"
            )
        ),
        scripts.turn(scripts.call("finish", summary="x is 10 now")),
    ]


def write_live_notebook(root: Path, script: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext agent_magic", id="cell-load"),
        nbformat.v4.new_code_cell("x = 1", id="cell-x"),
        nbformat.v4.new_code_cell("y = 2", id="cell-y"),
        nbformat.v4.new_code_cell(
            f"%%agent --model scripted:{script} --no-review "
            "--view widgets\nSet x to 10 in this notebook.",
            id="cell-agent",
        ),
        nbformat.v4.new_code_cell("%agent apply", id="cell-apply"),
    ]
    path = root / "live.ipynb"
    nbformat.write(nb, path)
    return path


def sources(path: Path) -> dict[str, str]:
    return {c["id"]: c["source"] for c in read_saved(path).cells}


def test_apply_changes_the_open_tab_keeps_unsaved_edits_and_outputs_then_undo(
    lab, page, screenshots
):
    root = lab.root
    script = root.parent / "live-script.json"
    script.write_text(json.dumps(agent_script("live.ipynb")), encoding="utf-8")
    path = write_live_notebook(root, script)

    open_notebook(page, lab, "live.ipynb")
    run_cell(page, 0)
    # the user's unsaved edit in another cell
    editor = cell(page, 2).locator(".cm-content")
    editor.click()
    page.keyboard.press("End")
    page.keyboard.type(" + 3")
    page.keyboard.press("Escape")
    assert sources(path)["cell-y"] == "y = 2"  # not saved

    run_cell(page, 3)
    panel = cell(page, 3).locator(".agent-panel")
    expect(panel.locator(".agent-status")).to_contain_text("finished", timeout=RUN_TIMEOUT)
    expect(panel.locator(".agent-diff")).to_contain_text("x = 10")
    assert "runs in" not in panel.locator(".agent-message").inner_text()  # no disk warning
    panel.locator("button.agent-apply").click()
    expect(panel.locator(".agent-message")).to_contain_text(
        "Changed in the open tab", timeout=UI_TIMEOUT
    )
    page.screenshot(path=str(screenshots / "live-applied.png"), full_page=True)
    # the tab shows the change without a reload; the user's edit is still there
    expect(cell(page, 1).locator(".cm-content")).to_have_text("x = 10")
    expect(cell(page, 2).locator(".cm-content")).to_have_text("y = 2 + 3")
    on_disk = sources(path)
    assert on_disk["cell-x"] == "x = 10" and on_disk["cell-y"] == "y = 2 + 3"
    outputs = read_saved(path).cells[3].outputs
    assert outputs, "the %%agent cell's output was saved with the notebook"

    # Ctrl+S raises no "File Changed" dialog
    cell(page, 2).locator(".jp-InputPrompt").click()
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1500)  # a dialog would show within this
    assert page.locator(".jp-Dialog").count() == 0

    panel.locator("button.agent-undo").click()
    expect(panel.locator(".agent-message")).to_contain_text("Undid checkpoint", timeout=UI_TIMEOUT)
    expect(cell(page, 1).locator(".cm-content")).to_have_text("x = 1")
    expect(cell(page, 2).locator(".cm-content")).to_have_text("y = 2 + 3")
    on_disk = sources(path)
    assert on_disk["cell-x"] == "x = 1" and on_disk["cell-y"] == "y = 2 + 3"
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1000)
    assert page.locator(".jp-Dialog").count() == 0
    assert re.search("x = 1", path.read_text())

    # `%agent apply` in a cell: the kernel is busy with that cell while the page answers
    applied = run_cell(page, 4)
    expect(applied).to_contain_text("Changed in the open tab and saved: live.ipynb")
    expect(cell(page, 1).locator(".cm-content")).to_have_text("x = 10")
    assert sources(path)["cell-x"] == "x = 10"
    expect(panel.locator("button.agent-undo")).to_be_visible()  # the panel follows


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory) -> Iterator[LabServer]:
    """Notebook 7 with the built extension, serving a copy of the sample project."""
    import importlib.util

    if importlib.util.find_spec("notebook") is None:
        pytest.fail(
            "notebook (Notebook 7) is missing: `pip install -e '.[dev]'` installs it", pytrace=False
        )
    root = copy_project(tmp_path_factory.mktemp("nb7") / "shoplytics")
    home = tmp_path_factory.mktemp("nb7-home")
    server = start_lab(
        root, home, extra_env={"JUPYTER_PATH": str(extension_path(home))}, app="notebook"
    )
    try:
        yield server
    finally:
        stop_lab(server)


def test_notebook7_apply_changes_the_open_notebook(notebook7, browser, screenshots):
    root = notebook7.root
    script = root.parent / "nb7-script.json"
    script.write_text(json.dumps(agent_script("live.ipynb")), encoding="utf-8")
    path = write_live_notebook(root, script)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        page.goto(
            f"{notebook7.url}/notebooks/live.ipynb?token={notebook7.token}", timeout=RUN_TIMEOUT
        )
        expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible(timeout=RUN_TIMEOUT)
        first_cell_runs(page)
        run_cell(page, 3)
        panel = cell(page, 3).locator(".agent-panel")
        expect(panel.locator(".agent-status")).to_contain_text("finished", timeout=RUN_TIMEOUT)
        panel.locator("button.agent-apply").click()
        expect(panel.locator(".agent-message")).to_contain_text(
            "Changed in the open tab", timeout=UI_TIMEOUT
        )
        expect(cell(page, 1).locator(".cm-content")).to_have_text("x = 10")
        assert sources(path)["cell-x"] == "x = 10"
        assert read_saved(path).cells[3].outputs
    except (AssertionError, PlaywrightError):
        page.screenshot(path=str(screenshots / "FAILED-notebook7.png"), full_page=True)
        print(notebook7.log_tail())
        raise
    finally:
        context.close()
