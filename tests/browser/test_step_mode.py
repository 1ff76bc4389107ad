"""Step mode in the browser: approve the plan, approve step 1, stop at step 2 — by real clicks.

Its own notebook, kernel and copy of examples/sample_project, like the tests beside it.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests import scripts
from tests.browser.lab import copy_project, snapshot, write_notebook
from tests.browser.notebook_page import RUN_TIMEOUT, UI_TIMEOUT, open_notebook, output, run_cell

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLEANING = "shoplytics/cleaning.py"
REPORT = "shoplytics/report.py"
REPORT_TEXT = (
    '"""Revenue report."""\n\n\ndef total(rows):\n    return sum(r["price"] for r in rows)\n'
)
STEP1 = "Strip thousands separators in parse_price"
STEP2 = "Add a revenue total in shoplytics/report.py"


def two_step_run() -> list[dict]:
    """Understand, a plan of two steps, then each step's edit and finish."""
    call, turn = scripts.call, scripts.turn
    plan = turn(
        call(
            "submit_plan",
            summary="Fix prices, then add a report",
            steps=[
                {"description": STEP1, "files": [CLEANING]},
                {"description": STEP2, "files": [REPORT]},
            ],
            files=[CLEANING, REPORT],
        )
    )
    return [
        scripts.UNDERSTAND,
        plan,
        turn(call("replace", path=CLEANING, old=scripts.FIX_OLD, new=scripts.FIX_NEW)),
        turn(call("finish", summary="parse_price ignores ','")),
        turn(call("create", path=REPORT, content=REPORT_TEXT)),
        turn(call("finish", summary="report.total added")),
    ]


def test_step_mode_approve_the_plan_and_step_1_then_stop_at_step_2(lab, page, screenshots):
    project = copy_project(lab.root / "step_project")
    script = lab.root / "two_steps.json"
    script.write_text(json.dumps(two_step_run()), encoding="utf-8")
    write_notebook(
        lab.root / "step.ipynb",
        [
            "%load_ext agent_magic",
            (
                f"%%agent --step --no-review --view widgets --model scripted:{script} -p {project}\n"
                "Fix the failing test, then add a revenue report."
            ),
        ],
    )
    before = snapshot(project)
    assert scripts.FIX_OLD in before[CLEANING].decode() and REPORT not in before
    with_step1 = dict(before)
    with_step1[CLEANING] = before[CLEANING].replace(
        scripts.FIX_OLD.encode(), scripts.FIX_NEW.encode()
    )
    assert with_step1[CLEANING] != before[CLEANING]

    open_notebook(page, lab, "step.ipynb")
    run_cell(page, 0)
    run_cell(page, 1)  # returns at once: the agent waits for the plan's approval in a thread
    panel = output(page, 1).locator(".agent-panel")
    status = panel.locator(".agent-status")
    expect(status).to_contain_text("waiting for you: plan of 2 step(s)", timeout=RUN_TIMEOUT)
    plan = panel.locator(".agent-plan")
    expect(plan).to_contain_text(STEP1)
    expect(plan).to_contain_text(STEP2)
    assert snapshot(project) == before

    # in step mode the plan pause is answered with the plan's own buttons
    plan.locator("button.agent-plan-approve").click()
    step = panel.locator(".agent-step")
    expect(step).to_contain_text(f"step 1 of 2: {STEP1}", timeout=RUN_TIMEOUT)
    expect(step).to_contain_text(f"Next: {STEP2}")
    expect(step.locator(".agent-diff")).to_contain_text('.replace(",", "")')
    approve = step.locator("button.agent-step-approve")
    expect(approve).to_be_enabled()
    assert snapshot(project) == before  # a paused step writes nothing

    approve.click()
    # step 2 pauses only after step 1 was applied
    expect(step).to_contain_text(f"step 2 of 2: {STEP2}", timeout=RUN_TIMEOUT)
    expect(step).to_contain_text("This is the last step.")
    expect(step.locator(".agent-diff")).to_contain_text("def total(rows):")
    stop = step.locator("button.agent-step-stop")
    expect(stop).to_be_enabled()
    assert snapshot(project) == with_step1  # exactly step 1's change
    step.screenshot(path=str(screenshots / "step.png"))

    stop.click()
    expect(status).to_contain_text("stopped by the user", timeout=RUN_TIMEOUT)
    expect(panel.locator(".agent-message")).to_contain_text(
        "stopped by the user at step 2 of 2", timeout=UI_TIMEOUT
    )
    for button in ("approve", "revise", "skip", "stop"):  # the run is over: no decision left
        expect(step.locator(f"button.agent-step-{button}")).to_be_disabled()
    expect(panel.locator("button.agent-apply")).to_be_hidden()  # step 2 is not offered again
    assert snapshot(project) == with_step1  # step 1 stays, step 2 never reached the disk
