"""The run's phases, its one record and a partial apply as JupyterLab 4 shows them (headless Chromium).

Review is off (other tests run the checks): the skipped review must read as skipped, and a
partial apply as not checked, naming what the applied file needs.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests import scripts
from tests.browser.lab import copy_project, snapshot, write_notebook
from tests.browser.notebook_page import RUN_TIMEOUT, UI_TIMEOUT, open_notebook, output, run_cell
from tests.conftest import SAMPLE

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLEANING = "shoplytics/cleaning.py"
TEST_FILE = "tests/test_cleaning.py"
NEW_TEST = "\n\ndef test_parse_price_dollars():\n    assert parse_price('$3') == 3.0\n"


def run_with_a_test() -> list[dict]:
    """The scripted fix, plus a test added to the test file that imports the fixed module."""
    end = len((SAMPLE / TEST_FILE).read_text(encoding="utf-8").splitlines())
    add_test = scripts.turn(scripts.call("insert", path=TEST_FILE, line=end, text=NEW_TEST))
    return [scripts.UNDERSTAND, *scripts.PLAN, add_test, *scripts.IMPLEMENT]


def test_phases_record_and_a_partial_apply_in_the_browser(lab, page, screenshots):
    project = copy_project(lab.root / "record_project")
    script = lab.root / "record.json"
    script.write_text(json.dumps(run_with_a_test()), encoding="utf-8")
    write_notebook(
        lab.root / "record.ipynb",
        [
            "%load_ext agent_magic",
            (
                f"%%agent --model scripted:{script} --view widgets --no-review -p {project}\n"
                "Fix the failing test in shoplytics/cleaning.py."
            ),
        ],
    )
    before = snapshot(project)
    open_notebook(page, lab, "record.ipynb")
    run_cell(page, 0)
    run_cell(page, 1)
    cell = output(page, 1)
    panel = cell.locator(".agent-panel")
    expect(panel.locator(".agent-status")).to_contain_text("finished", timeout=RUN_TIMEOUT)

    # the skipped review reads as skipped, not as a pending phase
    review = panel.locator(".agent-phase-review")
    expect(review).to_contain_text("⊘ review")
    expect(review.locator("span")).to_have_css("text-decoration-line", "line-through")
    phases = panel.locator(".agent-phases")
    expect(phases).to_contain_text("skipped — turned off with --no-review")
    phases.locator("summary", has_text="understand").click()
    expect(phases).to_contain_text("prices use ',' as the thousands separator")  # assumptions
    phases.screenshot(path=str(screenshots / "phases.png"))

    # one short record under the widget, rendered as markdown (no second report)
    record = cell.locator(".jp-RenderedMarkdown")
    expect(record).to_have_count(1)
    expect(record).to_contain_text("Checks: not run (review off)")
    expect(record).not_to_contain_text("Strip thousands separators")  # the plan stays above
    assert str(lab.root) not in record.inner_text()
    record.screenshot(path=str(screenshots / "record.png"))

    # take the test, leave the module it imports
    files = panel.locator(".amr-file")
    expect(files).to_have_count(2, timeout=UI_TIMEOUT)
    files.first.locator(".amr-reject-file").click()  # shoplytics/cleaning.py comes first
    panel.locator("button.agent-apply").click()
    expect(panel.locator(".agent-message")).to_contain_text("Applied 1 file(s)", timeout=UI_TIMEOUT)
    checks = panel.locator(".agent-selection-checks")
    expect(checks).to_contain_text("not checked (review off)")
    checks.locator("summary").click()
    expect(checks).to_contain_text(f"{CLEANING}: 1 of 1 hunk(s)")
    expect(record).to_contain_text(f"left out but needed: {CLEANING} (imported by {TEST_FILE})")
    record.screenshot(path=str(screenshots / "record_partial.png"))
    undo = panel.locator("button.agent-undo")
    expect(undo).to_have_text(f"Undo {undo.get_attribute('title').rsplit('-', 1)[1]}")
    panel.screenshot(path=str(screenshots / "partial_apply.png"))
    assert snapshot(project)[CLEANING] == before[CLEANING]

    undo.click()
    expect(panel.locator(".agent-message")).to_contain_text("Undid checkpoint", timeout=UI_TIMEOUT)
    expect(record).to_contain_text("was undone")
    expect(record).not_to_contain_text("left out but needed")
    assert snapshot(project) == before


def test_a_partial_apply_shows_the_checks_of_the_selection(lab, page, screenshots):
    project = copy_project(lab.root / "checked_project")
    end = len((SAMPLE / TEST_FILE).read_text(encoding="utf-8").splitlines())
    needs_fix = "\n\ndef test_parse_price_dollars():\n    assert parse_price('$1,000') == 1000.0\n"
    add_test = scripts.turn(scripts.call("insert", path=TEST_FILE, line=end, text=needs_fix))
    script = lab.root / "checked.json"
    script.write_text(
        json.dumps(
            [scripts.UNDERSTAND, *scripts.PLAN, add_test, *scripts.IMPLEMENT, scripts.REVIEW_OK]
        ),
        encoding="utf-8",
    )
    write_notebook(
        lab.root / "checked.ipynb",
        [
            "%load_ext agent_magic",
            (
                f"%%agent --model scripted:{script} --view widgets -p {project}\n"
                "Fix the failing test in shoplytics/cleaning.py."
            ),
        ],
    )
    before = snapshot(project)
    open_notebook(page, lab, "checked.ipynb")
    run_cell(page, 0)
    run_cell(page, 1)
    cell = output(page, 1)
    panel = cell.locator(".agent-panel")
    expect(panel.locator(".agent-status")).to_contain_text("finished", timeout=RUN_TIMEOUT)
    expect(cell.locator(".jp-RenderedMarkdown")).to_contain_text("Checks: all green")

    # the new test without the fix it needs
    files = panel.locator(".amr-file")
    expect(files).to_have_count(2, timeout=UI_TIMEOUT)
    files.first.locator(".amr-reject-file").click()
    panel.locator("button.agent-apply").click()
    message = panel.locator(".agent-message")
    expect(message).to_contain_text(
        "Not applied: the selected hunks alone fail the checks", timeout=RUN_TIMEOUT
    )
    checks = panel.locator(".agent-selection-checks")
    expect(checks).to_contain_text("Checks of the selected hunks: problems found")
    checks.locator("summary").click()
    expect(checks).to_contain_text("test_parse_price_dollars")
    expect(panel.locator(".agent-confirm-blockers")).to_be_visible()
    panel.screenshot(path=str(screenshots / "partial_checks.png"))
    assert snapshot(project) == before  # nothing written
