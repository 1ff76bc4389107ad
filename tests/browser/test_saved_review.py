"""A saved notebook reopened with no kernel shows its review; a live kernel still gets the widget.

JupyterLab 4 and Notebook 7 restore no widget without a kernel (their widget manager stops at
"Kernel not set"), and a new kernel restores one only from saved widget state ("Save Widget State
Automatically", off by default, is off here). agent_magic's extension draws the review's saved
copy (in the cell output beside the widget) in those cases, read-only; where the kernel holds
the widget it shows ipywidgets' own view, and other widgets render as before. Screenshots go to
the ``screenshots`` folder ($AGENT_MAGIC_SCREENSHOTS).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.sign import NotebookNotary
from playwright.sync_api import Browser, Locator, Page, expect

from agent_magic.ui.reviewsnapshot import MIME
from tests import scripts
from tests.browser.lab import (
    SAMPLE,
    LabServer,
    copy_project,
    write_notebook,
)
from tests.browser.notebook_page import (
    KERNEL_TIMEOUT,
    RUN_TIMEOUT,
    UI_TIMEOUT,
    first_cell_runs,
    open_notebook,
    output,
    read_saved,
    run_cell,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLEANING = "shoplytics/cleaning.py"
SUGGESTION = "Reject values with both separators, or take a locale argument."
MESSAGE = "A European price such as '1.234,50' still fails here."
SLIDER = "import ipywidgets\nipywidgets.IntSlider(value=7, description='unrelated')"
HINT = "need the kernel that made it."


def reviewed_run(root: Path, name: str) -> Path:
    """A notebook whose agent run fixes the failing test and whose review leaves a finding with a
    suggestion on the changed line; a third cell shows an unrelated IntSlider."""
    sample = (SAMPLE / CLEANING).read_text(encoding="utf-8")
    line = sample.splitlines().index(scripts.FIX_OLD) + 1
    review = scripts.turn(
        scripts.call(
            "report_finding",
            severity="minor",
            message=MESSAGE,
            path=CLEANING,
            line_start=line,
            suggestion=SUGGESTION,
        ),
        scripts.call("finish", summary="Correct for the failing test; one locale gap."),
    )
    stem = Path(name).stem
    script = root / f"{stem}.json"
    script.write_text(
        json.dumps([scripts.UNDERSTAND, *scripts.PLAN, *scripts.IMPLEMENT, review]),
        encoding="utf-8",
    )
    project = copy_project(root / f"{stem}_project")
    return write_notebook(
        root / name,
        [
            "%load_ext agent_magic",
            (
                f"%%agent --model scripted:{script} --view widgets -p {project}\n"
                "Fix the failing test in shoplytics/cleaning.py."
            ),
            SLIDER,
        ],
    )


def hunk(review: Locator, index: int) -> Locator:
    return review.locator(".amr-hunk").nth(index)


def word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")


def mark_running_panel(page: Page) -> None:
    """Mark the panel's node while the run works (its review takes seconds)."""
    panel = output(page, 1).locator(".agent-panel")
    expect(panel).to_be_visible(timeout=UI_TIMEOUT)
    panel.evaluate("e => { e.dataset.testMark = 'drawn while running'; }")


def live_review_and_slider(page: Page) -> None:
    """The run's panel is ipywidgets' live view (a decision goes to the kernel and back), not
    the saved copy, and the same view: the update that adds the copy at the end redraws nothing
    here; the unrelated slider renders as a widget."""
    panel = output(page, 1).locator(".agent-panel")
    expect(panel.locator(".agent-status")).to_contain_text("finished", timeout=RUN_TIMEOUT)
    expect(panel).to_have_attribute("data-test-mark", "drawn while running")
    review = panel.locator(".amr")
    expect(review.locator(".cm-content .amr-finding")).to_contain_text(SUGGESTION)
    hunk(review, 0).locator(".amr-accept").click()
    expect(hunk(review, 0)).to_have_class(word("amr-accepted"), timeout=UI_TIMEOUT)
    expect(panel.locator("button.agent-apply")).to_be_enabled()
    expect(output(page, 1).locator(".agent-magic-saved-review")).to_have_count(0)
    run_cell(page, 2)
    expect(output(page, 2).locator(".widget-slider")).to_be_visible(timeout=UI_TIMEOUT)
    expect(output(page, 2).locator(".agent-magic-review-output")).to_have_count(0)


def saved(path: Path, *, applied: bool = False) -> dict:
    """The copy of the review in the saved notebook, once the page has saved it (``applied``:
    once it says the change was applied)."""
    deadline = time.monotonic() + UI_TIMEOUT / 1000
    while True:
        nb = read_saved(path)
        copies = [
            o["data"][MIME]
            for o in nb.cells[1].get("outputs", [])
            if MIME in o.get("data", {})
            and o["data"][MIME]["state"] == "ready"
            and bool(o["data"][MIME].get("applied")) == applied
        ]
        if copies:
            assert "widgets" not in nb.metadata  # no saved widget state: the copy alone
            return copies[0]
        assert time.monotonic() < deadline, f"{path.name} was not saved with the review"
        time.sleep(0.2)  # the save is a request of the page; nothing to wait on here


def without_kernelspec(path: Path, name: str, server: LabServer | None = None) -> str:
    """A copy of the saved notebook naming no kernel or language: opening it asks, and we keep
    none. Signed as ``server`` signs what it saves (trusted there), else unsigned (untrusted)."""
    nb = read_saved(path)
    del nb.metadata["kernelspec"]
    nb.metadata.pop("language_info", None)
    if server is not None:
        data_dir = server.log.parent / "jupyter-data"  # the server's JUPYTER_DATA_DIR
        NotebookNotary(data_dir=str(data_dir)).sign(nb)
    nbformat.write(nb, path.with_name(name))
    return name


def no_kernel(page: Page) -> None:
    """Answer the "Select Kernel" dialog with "No Kernel"."""
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Select Kernel", timeout=KERNEL_TIMEOUT)
    dialog.locator("button", has_text="No Kernel").click()
    expect(dialog).to_have_count(0)


def the_saved_copy(page: Page, session: str, shots: Path, tag: str, applied: str = "") -> None:
    """The review's files, hunk and finding with its suggestion, drawn read-only from the copy,
    and how to apply it (or, ``applied``, undo it) from another kernel."""
    try:
        copy_drawn(page, session, applied)
    except AssertionError:
        page.screenshot(path=str(shots / f"FAILED-{tag}.png"), full_page=True)
        raise
    output(page, 1).screenshot(path=str(shots / f"{tag}.png"))


def copy_drawn(page: Page, session: str, applied: str = "") -> None:
    copy = output(page, 1).locator(".agent-magic-saved-review .amr")
    hint = copy.locator(".amr-note-line").first
    expect(hint).to_contain_text(HINT, timeout=UI_TIMEOUT)
    if applied:
        expect(hint).to_contain_text(f"applied as checkpoint {applied}")
        expect(hint).to_contain_text(f"%agent undo {applied}")
        expect(hint).not_to_contain_text("%agent apply")
    else:
        expect(hint).to_contain_text(f"From any kernel, %agent apply {session}")
    expect(copy.locator(".amr-path")).to_have_text([CLEANING])
    expect(copy.locator(".amr-hunk")).to_have_count(1)
    expect(copy.locator(".cm-deletedChunk").first).to_be_visible()
    expect(copy.locator(".cm-content").first).to_contain_text('.replace(",", "")')
    card = copy.locator(".cm-content .amr-finding")
    expect(card).to_contain_text(MESSAGE)
    expect(card.locator(".amr-suggestion")).to_have_text(f"Suggestion: {SUGGESTION}")
    expect(hunk(copy, 0).locator(".amr-accept")).to_be_disabled()
    expect(copy.locator(".amr-summary")).to_contain_text("read-only copy")
    expect(output(page, 1)).not_to_contain_text("Loading widget")


def shut_down_kernels(server: LabServer) -> None:
    for kernel in json.loads(server.api("GET", "/api/kernels")):
        server.api("DELETE", f"/api/kernels/{kernel['id']}")


def test_lab_saved_review_without_a_kernel(lab, browser: Browser, page, screenshots):
    path = reviewed_run(lab.root, "saved.ipynb")
    open_notebook(page, lab, "saved.ipynb")
    run_cell(page, 0)
    run_cell(page, 1)
    mark_running_panel(page)
    live_review_and_slider(page)
    page.keyboard.press("Control+s")
    copy = saved(path)
    assert [f["path"] for f in copy["files"]] == [CLEANING] and copy["session"]

    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        # a new page on the kernel that made the review (it asks the kernel): the live widget
        again = context.new_page()
        open_notebook(again, lab, "saved.ipynb")
        review = output(again, 1).locator(".agent-panel .amr")
        hunk(review, 0).locator(".amr-reject").click()
        expect(hunk(review, 0)).to_have_class(word("amr-rejected"), timeout=UI_TIMEOUT)
        expect(output(again, 1).locator(".agent-magic-saved-review")).to_have_count(0)
        again.close()
        shut_down_kernels(lab)

        # a new page, and no kernel at all (the notebook as trusted as the user's own)
        name = without_kernelspec(path, "saved_nokernel.ipynb", lab)
        fresh = context.new_page()
        fresh.goto(lab.notebook_url(name, workspace="nokernel"), timeout=KERNEL_TIMEOUT)
        no_kernel(fresh)
        expect(fresh.locator("#jp-main-statusbar")).to_contain_text("No Kernel")
        the_saved_copy(fresh, copy["session"], screenshots, "lab-saved-no-kernel")
        assert json.loads(lab.api("GET", "/api/kernels")) == []
        assert f"Notebook {name} is not trusted" not in lab.log_tail(1_000_000)

        # a new kernel that never made the widget, no saved widget state: the copy again
        other = context.new_page()
        open_notebook(other, lab, "saved.ipynb")
        the_saved_copy(other, copy["session"], screenshots, "lab-saved-new-kernel")
    finally:
        context.close()


def test_notebook7_saved_review_without_a_kernel(notebook7, browser: Browser, screenshots):
    path = reviewed_run(notebook7.root, "saved7.ipynb")
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = context.new_page()
        page.goto(
            f"{notebook7.url}/notebooks/saved7.ipynb?token={notebook7.token}",
            timeout=KERNEL_TIMEOUT,
        )
        expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible(timeout=KERNEL_TIMEOUT)
        first_cell_runs(page)
        run_cell(page, 1)
        mark_running_panel(page)
        live_review_and_slider(page)
        # applied, then saved: the copy names the checkpoint instead of offering to apply
        panel = output(page, 1).locator(".agent-panel")
        panel.locator("button.agent-apply").click()
        expect(panel.locator("button.agent-undo")).to_be_visible(timeout=RUN_TIMEOUT)
        page.keyboard.press("Control+s")
        copy = saved(path, applied=True)
        assert copy["applied"]
        shut_down_kernels(notebook7)

        name = without_kernelspec(path, "saved7_nokernel.ipynb")  # and untrusted
        fresh = context.new_page()
        fresh.goto(
            f"{notebook7.url}/notebooks/{name}?token={notebook7.token}", timeout=KERNEL_TIMEOUT
        )
        no_kernel(fresh)
        the_saved_copy(fresh, copy["session"], screenshots, "nb7-saved-no-kernel", copy["applied"])
        assert json.loads(notebook7.api("GET", "/api/kernels")) == []
        assert f"Notebook {name} is not trusted" in notebook7.log_tail(1_000_000)
    finally:
        context.close()
