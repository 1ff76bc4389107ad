"""JupyterLab without agent_magic's extension: Run All of the quickstart, and the disk-path warning.

Run All on the shipped quickstart: every cell runs, none shows an error.

`%%agent` returns at once (its panel keeps updating); the next cell's `%agent apply` waits for
the run to end, so Run All goes through the three tasks, the undo and the history.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.lab import ROOT, LabServer, start_lab, stop_lab
from tests.browser.notebook_page import (
    RUN_TIMEOUT,
    UI_TIMEOUT,
    cell,
    open_notebook,
    run_cell,
)
from tests.demo_module import load_demo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

QUICKSTART = ROOT / "examples" / "quickstart.ipynb"
make_notebook_project = load_demo().make_notebook_project
SCRIPT = ROOT / "examples" / "scripts" / "quickstart.json"


@pytest.fixture(scope="module")
def quickstart_lab(tmp_path_factory) -> Iterator[LabServer]:
    """JupyterLab serving a copy of the sample project with the quickstart in it, offline model."""
    # The project `python examples/demo.py --lab` opens.
    root = make_notebook_project(tmp_path_factory.mktemp("run-all"))
    home = tmp_path_factory.mktemp("run-all-home")
    # pip installs the extension with the package: disabled here, as a server elsewhere would be
    labconfig = home / "jupyter-config" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"agent-magic-live": True}}), encoding="utf-8"
    )
    server = start_lab(root, home, extra_env={"AGENT_MAGIC_MODEL": f"scripted:{SCRIPT}"})
    try:
        yield server
    finally:
        stop_lab(server)


@pytest.fixture
def lab(quickstart_lab) -> LabServer:
    """The page fixture's server is this module's."""
    return quickstart_lab


def test_run_all_of_the_quickstart_runs_every_cell_without_errors(lab, page, screenshots):
    root = lab.root
    open_notebook(page, lab, "quickstart.ipynb")
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

    code_cells = page.locator(".jp-Notebook .jp-CodeCell")
    count = code_cells.count()
    assert count == 9
    last = code_cells.nth(count - 1)
    # every cell ran, the last one after all the others
    expect(last.locator(".jp-InputArea-prompt")).to_have_text(
        re.compile(r"\[\d+\]"), timeout=3 * RUN_TIMEOUT
    )
    for i in range(count):
        expect(code_cells.nth(i).locator(".jp-InputArea-prompt")).to_have_text(
            re.compile(r"\[\d+\]"), timeout=UI_TIMEOUT
        )
    page.screenshot(path=str(screenshots / "run-all.png"), full_page=True)
    errors = page.locator(
        ".jp-Notebook .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    )
    assert errors.count() == 0, errors.all_inner_texts()
    expect(last).to_contain_text("checkpoint")  # %agent history lists the applies
    # tasks 1 and 2 applied, task 3 undone (as in the headless demo)
    assert (root / "shoplytics" / "metrics.py").is_file()
    # text_content: cells scrolled out of view are not rendered (content-visibility)
    applied = code_cells.nth(2).text_content()  # the `%agent apply` of task 1
    assert "Applied 1 file(s)" in applied, applied
    record = code_cells.nth(1).text_content()  # the markdown record of task 1 says so too
    assert "Applied: checkpoint" in record and "Not applied" not in record, record


def test_without_the_extension_a_change_to_the_open_notebook_warns_before_apply(
    lab, page, screenshots
):
    from tests.browser.test_live_notebook import agent_script, write_live_notebook

    script = lab.root.parent / "self-edit.json"
    script.write_text(json.dumps(agent_script("live.ipynb")), encoding="utf-8")
    write_live_notebook(lab.root, script)
    open_notebook(page, lab, "live.ipynb")
    run_cell(page, 0)
    run_cell(page, 3)
    panel = cell(page, 3).locator(".agent-panel")
    expect(panel.locator(".agent-status")).to_contain_text("finished", timeout=RUN_TIMEOUT)
    message = panel.locator(".agent-message")
    expect(message).to_contain_text("live.ipynb is the notebook this kernel runs in")
    expect(message).to_contain_text("Reload Notebook from Disk")
    panel.screenshot(path=str(screenshots / "no-extension-warning.png"))
