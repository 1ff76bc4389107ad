"""The diff review widget in real frontends: JupyterLab 4 and Notebook 7 in headless Chromium.

Per-hunk Accept / Reject with buttons and with keys reach the file through Apply; a finding sits
on its line with its suggestion; a saved notebook shows the review with no kernel; a 5,000-line
change renders and scrolls (its time is printed, not asserted). Screenshots of each state go to
the ``screenshots`` folder ($AGENT_MAGIC_SCREENSHOTS); README's one is refreshed from here.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Locator, Page, expect

from agent_magic.ui.diffview import DiffView, bundle
from tests import scripts
from tests.browser.lab import (
    copy_project,
    snapshot,
    write_notebook,
)
from tests.browser.notebook_page import (
    KERNEL_TIMEOUT,
    RUN_TIMEOUT,
    UI_TIMEOUT,
    cell,
    first_cell_runs,
    open_notebook,
    output,
    read_saved,
    run_cell,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
README_SHOT = ROOT / "docs" / "screenshots" / "diff.png"
CLEANING = "shoplytics/cleaning.py"
DOC_OLD = '"""Cleaning functions for raw order rows."""'
DOC_NEW = '"""Cleaning functions for raw order rows; prices may carry thousands separators."""'
WIDGET_SETTINGS = ("@jupyter-widgets", "jupyterlab-manager", "plugin.jupyterlab-settings")

CALC_OLD = "".join(
    [
        "def add(a, b):\n",
        "    return a - b\n",
        *[f"# filler {i}\n" for i in range(12)],
        "def mul(a, b):\n",
        "    return a + b\n",
    ]
)
CALC_NEW = CALC_OLD.replace("return a - b", "return a + b").replace(
    "def mul(a, b):\n    return a + b", "def mul(a, b):\n    return a * b"
)
MUL_LINE = CALC_NEW.splitlines().index("    return a * b") + 1
WIDGET_CELL = f"""\
from agent_magic.records import Finding
from agent_magic.staging.changeset import Changeset, make_change
from agent_magic.ui.diffview import DiffView
view = DiffView(
    Changeset([make_change("calc.py", {CALC_OLD.encode()!r}, {CALC_NEW.encode()!r})]),
    [
        Finding("blocker", "mul multiplies now, but no test covers it", "calc.py", {MUL_LINE},
                suggestion="add test_mul to tests/test_calc.py"),
        Finding("minor", "the change has no changelog entry"),
    ],
)
view"""
BIG_CELL = """\
from agent_magic.staging.changeset import Changeset, make_change
from agent_magic.ui.diffview import DiffView
old = "".join(f"value_{i} = {i}\\n" for i in range(5000)).encode()
new = "".join(f"value_{i} = {i} * 2  # doubled\\n" for i in range(5000)).encode()
big = DiffView(Changeset([make_change("big.py", old, new)]))
big"""


def two_hunk_run() -> list[dict]:
    """The scripted fix plus a docstring edit far above it: one file, two hunks."""
    docstring = scripts.turn(scripts.call("replace", path=CLEANING, old=DOC_OLD, new=DOC_NEW))
    return [scripts.UNDERSTAND, *scripts.PLAN, docstring, *scripts.IMPLEMENT]


def save_widget_state(config_dir: Path) -> None:
    """Turn on "Save Widget State Automatically" (off by default in JupyterLab and Notebook 7)."""
    path = config_dir.joinpath("lab", "user-settings", *WIDGET_SETTINGS)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"saveState": True}), encoding="utf-8")


def agent_notebook(root: Path, name: str) -> tuple[Path, dict[str, bytes]]:
    """A notebook whose second cell runs the scripted two-hunk fix; the project and its bytes."""
    project = copy_project(root / f"{Path(name).stem}_project")
    script = root / f"{Path(name).stem}.json"
    script.write_text(json.dumps(two_hunk_run()), encoding="utf-8")
    write_notebook(
        root / name,
        [
            "%load_ext agent_magic",
            (
                f"%%agent --model scripted:{script} --view widgets --no-review -p {project}\n"
                "Fix the failing test in shoplytics/cleaning.py."
            ),
        ],
    )
    return project, snapshot(project)


def hunk(review: Locator, index: int) -> Locator:
    return review.locator(".amr-hunk").nth(index)


def accepting_one_rejecting_other(
    page: Page, panel: Locator, project: Path, before, shots: Path, tag: str
) -> None:
    """Buttons: reject the docstring hunk, accept the fix, Apply; keys: the other way round."""
    review = panel.locator(".amr")
    expect(review.locator(".amr-hunk")).to_have_count(2, timeout=UI_TIMEOUT)
    expect(review.locator(".cm-content").first).to_contain_text("thousands separators.")
    expect(review.locator(".cm-lineNumbers").first).to_be_visible()
    expect(review.locator(".cm-deletedChunk").first).to_be_visible()  # the unified view
    assert review.locator(".tok-string, .ͼe, [class*='ͼ']").count() > 0  # highlighted by language

    hunk(review, 0).locator(".amr-reject").click()
    hunk(review, 1).locator(".amr-accept").click()
    expect(hunk(review, 0)).to_have_class(re_word("amr-rejected"), timeout=UI_TIMEOUT)
    expect(hunk(review, 1)).to_have_class(re_word("amr-accepted"), timeout=UI_TIMEOUT)
    expect(panel.locator("button.agent-apply")).to_have_text("Apply 1 of 2 hunks (1 rejected)")
    panel.screenshot(path=str(shots / f"{tag}-decided.png"))
    assert snapshot(project) == before  # deciding writes nothing

    panel.locator("button.agent-apply").click()
    expect(panel.locator(".agent-message")).to_contain_text("Applied 1 file(s)", timeout=UI_TIMEOUT)
    fixed = before[CLEANING].replace(scripts.FIX_OLD.encode(), scripts.FIX_NEW.encode())
    assert fixed != before[CLEANING]
    assert snapshot(project) == {**before, CLEANING: fixed}  # exactly the accepted hunk
    expect(review.locator(".amr-summary")).to_contain_text("decisions locked")
    panel.screenshot(path=str(shots / f"{tag}-applied.png"))

    panel.locator("button.agent-undo").click()
    expect(panel.locator(".agent-message")).to_contain_text("Undid checkpoint", timeout=UI_TIMEOUT)
    assert snapshot(project) == before
    expect(review.locator(".amr-summary")).to_contain_text(
        "Apply 1 of 2 hunks (1 rejected)", timeout=UI_TIMEOUT
    )

    # the keyboard: k to the first hunk, a accepts it (and moves on), r rejects the fix
    cells = page.locator(".jp-Notebook .jp-Cell").count()
    review.locator(".amr-summary").click()
    for key in ("k", "k", "a"):
        page.keyboard.press(key)
    expect(hunk(review, 0)).to_have_class(re_word("amr-accepted"), timeout=UI_TIMEOUT)
    expect(hunk(review, 1)).to_have_class(re_word("amr-current"))
    page.keyboard.press("r")
    expect(hunk(review, 1)).to_have_class(re_word("amr-rejected"), timeout=UI_TIMEOUT)
    expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(cells)  # a, r: not the notebook's
    panel.screenshot(path=str(shots / f"{tag}-keyboard.png"))
    panel.locator("button.agent-apply").click()
    expect(panel.locator(".agent-message")).to_contain_text("Applied 1 file(s)", timeout=UI_TIMEOUT)
    docstring = before[CLEANING].replace(DOC_OLD.encode(), DOC_NEW.encode())
    assert snapshot(project) == {**before, CLEANING: docstring}


def re_word(name: str):
    import re

    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")


def test_lab_accept_and_reject_by_buttons_and_keys_apply_only_the_accepted(lab, page, screenshots):
    project, before = agent_notebook(lab.root, "decide.ipynb")
    open_notebook(page, lab, "decide.ipynb")
    run_cell(page, 0)
    run_cell(page, 1)
    panel = output(page, 1).locator(".agent-panel")
    expect(panel.locator(".agent-status")).to_contain_text("finished", timeout=RUN_TIMEOUT)
    accepting_one_rejecting_other(page, panel, project, before, screenshots, "lab")


def test_lab_finding_on_its_line_and_the_saved_review_needs_no_kernel(
    lab, browser, page, screenshots
):
    save_widget_state(Path(lab.log).parent / "jupyter-config")
    write_notebook(lab.root / "finding.ipynb", [WIDGET_CELL])
    open_notebook(page, lab, "finding.ipynb")
    run_cell(page, 0)
    review = output(page, 0).locator(".amr")
    card = review.locator(".cm-content .amr-finding")
    expect(card).to_be_visible(timeout=UI_TIMEOUT)
    expect(card).to_contain_text("mul multiplies now, but no test covers it")
    expect(card.locator(".amr-suggestion")).to_have_text(
        "Suggestion: add test_mul to tests/test_calc.py"
    )
    expect(card.locator(".amr-blocking")).to_contain_text("Blocks apply")
    # the card follows the line it is about
    assert card.evaluate("e => e.previousElementSibling.textContent") == "    return a * b"
    expect(review.locator(".amr-top .amr-finding")).to_contain_text("no changelog entry")
    review.screenshot(path=str(screenshots / "lab-finding.png"))

    # side by side, then back; a rejected hunk is saved with the notebook as decided
    review.locator(".amr-mode").click()
    expect(review.locator(".cm-mergeView")).to_be_visible(timeout=UI_TIMEOUT)
    review.screenshot(path=str(screenshots / "lab-split.png"))
    review.locator(".amr-mode").click()
    expect(review.locator(".cm-mergeView")).to_have_count(0)
    hunk(review, 0).locator(".amr-reject").click()
    expect(hunk(review, 0)).to_have_class(re_word("amr-rejected"), timeout=UI_TIMEOUT)
    page.keyboard.press("Control+s")
    path = lab.root / "finding.ipynb"
    deadline = time.monotonic() + UI_TIMEOUT / 1000
    while "widgets" not in read_saved(path).metadata:
        assert time.monotonic() < deadline, "the notebook was not saved with its widget state"
        time.sleep(0.2)  # the save is a request of the page; nothing to wait on here
    for kernel in json.loads(lab.api("GET", "/api/kernels")):
        lab.api("DELETE", f"/api/kernels/{kernel['id']}")

    # A new page, a new kernel that never made these widgets: the review is the saved state's.
    # (JupyterLab 4 restores saved widgets only once some kernel is attached: with "No Kernel"
    # its widget manager stops at "Kernel not set"; the bare page below needs none at all.)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    fresh = context.new_page()
    try:
        open_notebook(fresh, lab, "finding.ipynb")
        saved = cell(fresh, 0).locator(".jp-OutputArea .amr")
        expect(saved.locator(".cm-content .amr-finding")).to_contain_text(
            "add test_mul", timeout=UI_TIMEOUT
        )
        expect(hunk(saved, 0)).to_have_class(re_word("amr-rejected"))
        expect(saved.locator(".cm-deletedChunk").first).to_be_visible()
        saved.screenshot(path=str(screenshots / "lab-saved-reopened.png"))

        # the saved state alone draws the review: a blank page, no Jupyter, no kernel
        nb = read_saved(path)
        [state] = [
            m["state"]
            for m in nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"][
                "state"
            ].values()
            if m["model_name"] == "AnyModel"
        ]
        bare = context.new_page()
        bare.set_content("<div id='host'></div>")
        bare.evaluate(BARE_RENDER, state)
        expect(bare.locator(".cm-content .amr-finding")).to_contain_text("add test_mul")
        expect(hunk(bare.locator(".amr"), 0)).to_have_class(re_word("amr-rejected"))
        expect(bare.locator(".cm-lineNumbers").first).to_be_visible()
        bare.screenshot(path=str(screenshots / "bare-page-saved-state.png"), full_page=True)
    finally:
        context.close()


# The anywidget contract with nothing behind it: the module, and a model that only reads.
BARE_RENDER = """async (state) => {
  const url = URL.createObjectURL(new Blob([state._esm], { type: "text/javascript" }));
  const module = await import(url);
  const model = { get: (name) => state[name], on() {}, off() {}, send() {} };
  module.default.render({ model, el: document.getElementById("host") });
}"""


def test_lab_a_5000_line_change_renders_and_scrolls(lab, page, screenshots):
    write_notebook(lab.root / "big.ipynb", [BIG_CELL])
    open_notebook(page, lab, "big.ipynb")
    target = cell(page, 0)
    target.locator(".jp-InputPrompt").click()
    started = time.monotonic()
    page.keyboard.press("Shift+Enter")
    review = output(page, 0).locator(".amr")
    expect(review.locator(".amr-hunk")).to_be_visible(timeout=RUN_TIMEOUT)
    expect(review.locator(".cm-line").first).to_be_visible()
    shown = time.monotonic() - started
    scroller = review.locator(".cm-scroller")
    lines = review.locator(".cm-line").count()
    scroll_started = time.monotonic()
    scroller.evaluate("e => { e.scrollTop = e.scrollHeight; }")
    expect(review.locator(".cm-line", has_text="value_4999 = 4999 * 2")).to_be_visible(
        timeout=UI_TIMEOUT
    )
    scrolled = time.monotonic() - scroll_started
    print(
        f"\n5,000-line change: cell run to first render {shown:.2f} s "
        f"({lines} editor lines in the DOM of 5,000), scroll to the end {scrolled:.2f} s"
    )
    assert lines < 5000  # lazy: only what is near the viewport is in the DOM
    review.screenshot(path=str(screenshots / "lab-5000-lines.png"))


def test_notebook7_accept_and_reject_by_buttons_and_keys(notebook7, browser, screenshots):
    project, before = agent_notebook(notebook7.root, "nb7.ipynb")
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        page.goto(
            f"{notebook7.url}/notebooks/nb7.ipynb?token={notebook7.token}", timeout=KERNEL_TIMEOUT
        )
        expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible(timeout=KERNEL_TIMEOUT)
        first_cell_runs(page)
        run_cell(page, 1)
        panel = output(page, 1).locator(".agent-panel")
        expect(panel.locator(".agent-status")).to_contain_text("finished", timeout=RUN_TIMEOUT)
        accepting_one_rejecting_other(page, panel, project, before, screenshots, "nb7")
    finally:
        context.close()


def test_the_readme_screenshot(lab, page, screenshots):
    """README's picture: a reviewed run, a finding on its line, one hunk accepted.

    ``AGENT_MAGIC_README_SHOT=1`` copies it over docs/screenshots/diff.png.
    """
    sample = (ROOT / "examples" / "sample_project" / CLEANING).read_text(encoding="utf-8")
    line = sample.splitlines().index(scripts.FIX_OLD) + 1
    review = scripts.turn(
        scripts.call(
            "report_finding",
            severity="minor",
            message="A European price such as '1.234,50' still fails here.",
            path=CLEANING,
            line_start=line,
            suggestion="Reject values with both separators, or take a locale argument.",
        ),
        scripts.call("finish", summary="Correct for the failing test; one locale gap."),
    )
    script = lab.root / "readme.json"
    script.write_text(json.dumps([*two_hunk_run(), review]), encoding="utf-8")
    project = copy_project(lab.root / "readme_project")
    write_notebook(
        lab.root / "readme.ipynb",
        [
            "%load_ext agent_magic",
            (
                f"%%agent --model scripted:{script} --view widgets -p {project}\n"
                "Fix the failing test in shoplytics/cleaning.py."
            ),
        ],
    )
    open_notebook(page, lab, "readme.ipynb")
    run_cell(page, 0)
    run_cell(page, 1)
    panel = output(page, 1).locator(".agent-panel")
    expect(panel.locator(".agent-status")).to_contain_text("finished", timeout=RUN_TIMEOUT)
    widget = panel.locator(".amr")
    expect(widget.locator(".cm-content .amr-finding")).to_contain_text("locale argument")
    hunk(widget, 1).locator(".amr-accept").click()
    expect(hunk(widget, 1)).to_have_class(re_word("amr-accepted"), timeout=UI_TIMEOUT)
    shot = screenshots / "readme-diff.png"
    panel.screenshot(path=str(shot))
    if os.environ.get("AGENT_MAGIC_README_SHOT"):
        shutil.copyfile(shot, README_SHOT)
    assert shot.stat().st_size < 300_000


def notebook_change():
    """A notebook whose code cell was edited and its outputs cleared, and a new markdown cell."""
    from agent_magic.staging.changeset import Changeset, make_change

    png = {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBOR"}}
    table = {"output_type": "display_data", "metadata": {}, "data": {"text/html": "<table>"}}
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    code = nbformat.v4.new_code_cell("df = load()\ndf.plot()\n", execution_count=4)
    code.outputs = [nbformat.from_dict(png), nbformat.from_dict(png), nbformat.from_dict(table)]
    nb.cells = [code]
    before = nbformat.writes(nb).encode()
    code.source = "df = load()\ndf.plot(kind='bar')\n"
    code.outputs, code.execution_count = [], None
    nb.cells.append(nbformat.v4.new_markdown_cell("## Prices\nBars, *by month*."))
    return Changeset([make_change("report.ipynb", before, nbformat.writes(nb).encode())])


def test_a_notebook_diff_draws_per_cell_from_its_state_alone(browser, screenshots):
    view = DiffView(notebook_change())
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    try:
        page.set_content("<div id='host'></div>")
        page.evaluate(BARE_RENDER, {**view.get_state(), "_esm": bundle()})
        widget = page.locator(".amr")
        expect(widget.locator(".amr-hunk")).to_have_count(2)
        expect(widget.locator(".amr-tag")).to_contain_text(["notebook, per cell"])
        expect(widget.locator(".amr-note")).to_have_text(
            ["outputs cleared: 2 images, 1 table", "execution count reset (was [4])"]
        )
        expect(widget.locator(".cm-content").first).to_contain_text("kind='bar'")
        expect(widget.locator(".cm-content").nth(1)).to_contain_text("Bars, *by month*.")
        widget.screenshot(path=str(screenshots / "bare-page-notebook.png"))
    finally:
        page.close()


def test_a_file_too_big_to_send_whole_and_a_binary_draw_their_hunks(browser, screenshots):
    from agent_magic.staging.changeset import Changeset, make_change
    from agent_magic.ui import reviewstate

    big = "".join(f"row_{i} = {i}\n" for i in range(reviewstate.MAX_SIDE_CHARS // 10))
    changed = big.replace("row_700 = 700\n", "row_700 = 'seven hundred'\n")
    view = DiffView(
        Changeset(
            [
                make_change("table.py", big.encode(), changed.encode()),
                make_change("logo.png", None, b"\x89PNG\x00\x00\x00"),
            ]
        )
    )
    assert [f["view"] for f in view.files] == ["hunks", "hunks"]
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    try:
        page.set_content("<div id='host'></div>")
        page.evaluate(BARE_RENDER, {**view.get_state(), "_esm": bundle()})
        widget = page.locator(".amr")
        expect(widget.locator(".amr-hunk")).to_have_count(2)
        expect(widget.locator(".cm-content").first).to_contain_text("row_700 = 'seven hundred'")
        expect(widget.locator(".cm-deletedChunk").first).to_contain_text("row_700 = 700")
        expect(widget.locator(".cm-lineNumbers").first).to_contain_text("701")  # its real line
        expect(widget.locator(".amr-hunk").nth(1)).to_contain_text("binary file added")
        widget.screenshot(path=str(screenshots / "bare-page-big-and-binary.png"))
    finally:
        page.close()
