"""End to end as a user meets it: JupyterLab 4 in headless Chromium, the %%agent widgets, real clicks.

Each test opens its own notebook (its own kernel) on its own copy of examples/sample_project.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.lab import copy_project, snapshot, write_notebook
from tests.browser.notebook_page import RUN_TIMEOUT, UI_TIMEOUT, open_notebook, output, run_cell

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Deciding hunks and applying them is tested in test_review_widget.py.

SLOW_MODEL = '''\
import threading
from agent_magic.models.base import FREE, Reply

class SlowModel:
    """Answers nothing until the notebook sets ``release``."""
    name, price = "slow", FREE

    def __init__(self):
        self.release, self.calls = threading.Event(), 0

    def complete(self, request, on_text=None):
        self.calls += 1
        while not self.release.wait(0.1):
            pass
        return Reply(text="released")

slow = SlowModel()'''


def test_a_cell_runs_while_the_agent_runs_and_stop_stops_it(lab, page, screenshots):
    project = copy_project(lab.root / "stop_project")
    write_notebook(
        lab.root / "stop.ipynb",
        [
            "%load_ext agent_magic",
            SLOW_MODEL,
            (
                f"%%agent --model {{slow}} --view widgets --no-review -p {project}\n"
                "Fix the failing test."
            ),
            "print(21 * 2)",
            "slow.release.set()",
            '%agent status\nprint("model calls:", slow.calls)',
        ],
    )
    before = snapshot(project)

    open_notebook(page, lab, "stop.ipynb")
    run_cell(page, 0)
    run_cell(page, 1)
    run_cell(page, 2)  # returns at once: the agent works in a background thread
    panel = output(page, 2).locator(".agent-panel")
    status = panel.locator(".agent-status")
    # the slow model holds the run in "understand" until cell 4 releases it
    expect(status).to_contain_text(re.compile(r"running · understand"), timeout=RUN_TIMEOUT)

    run_cell(page, 3)
    expect(output(page, 3)).to_have_text("42", timeout=UI_TIMEOUT)
    expect(status).to_contain_text("running")  # the run is still in progress
    panel.screenshot(path=str(screenshots / "running.png"))

    stop = panel.locator("button.agent-stop")
    stop.click()
    expect(stop).to_have_text("Stopping…", timeout=UI_TIMEOUT)
    expect(stop).to_be_disabled()
    # the kernel handles the click before this cell, so the stop is requested before release
    run_cell(page, 4)
    expect(status).to_contain_text("stopped by the user", timeout=RUN_TIMEOUT)
    run_cell(page, 5)
    expect(output(page, 5)).to_contain_text("interrupted", timeout=UI_TIMEOUT)
    expect(output(page, 5)).to_contain_text("model calls: 1")
    assert snapshot(project) == before


def test_the_diff_screenshot_for_the_readme_is_small():
    # the README shows docs/screenshots/diff.png, refreshed from a run of this module
    shot = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "diff.png"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size < 300_000
