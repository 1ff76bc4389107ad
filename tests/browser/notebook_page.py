"""Driving a JupyterLab notebook page with Playwright: open, wait for the kernel, run cells."""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
from playwright.sync_api import Locator, Page, expect

from tests.browser.lab import LabServer

KERNEL_TIMEOUT = 120_000  # ms: a cold kernel start with the server and browser on 2 cores
RUN_TIMEOUT = 180_000  # ms: a whole scripted agent run, review included
UI_TIMEOUT = 30_000  # ms: a click's round trip through the kernel and back
# The toolbar's circle reads idle before a kernel is attached; the status bar names the kernel.
KERNEL_IDLE = re.compile(r"ipykernel\) \| Idle")


def read_saved(path: Path, timeout: float = UI_TIMEOUT / 1000) -> nbformat.NotebookNode:
    """The notebook as the server last wrote it; a read that meets a save in progress (the file
    empty or half written) is tried again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return nbformat.read(path, as_version=4)
        except nbformat.reader.NotJSONError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def open_notebook(page: Page, lab: LabServer, name: str) -> None:
    """Open notebook ``name`` in a workspace of its own and wait for an idle kernel."""
    page.goto(lab.notebook_url(name, workspace=Path(name).stem), timeout=KERNEL_TIMEOUT)
    expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible(timeout=KERNEL_TIMEOUT)
    expect(page.locator("#jp-main-statusbar")).to_contain_text(KERNEL_IDLE, timeout=KERNEL_TIMEOUT)


def cell(page: Page, index: int) -> Locator:
    """The notebook's cell number ``index`` (from 0)."""
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def run_cell(page: Page, index: int) -> Locator:
    """Select cell ``index`` in command mode, press Shift+Enter, wait until it has executed."""
    target = cell(page, index)
    target.locator(".jp-InputPrompt").click()
    page.keyboard.press("Shift+Enter")
    # "[*]:" while queued or running, "[N]:" once the kernel replied
    expect(target.locator(".jp-InputArea-prompt")).to_have_text(
        re.compile(r"\[\d+\]"), timeout=RUN_TIMEOUT
    )
    return target


def output(page: Page, index: int) -> Locator:
    """The output area of cell ``index``."""
    return cell(page, index).locator(".jp-OutputArea")


def first_cell_runs(page: Page) -> None:
    """Run the first cell once Notebook 7's kernel takes it (it has no status bar to wait on)."""
    target = cell(page, 0)
    for _ in range(6):
        accept = page.locator(".jp-Dialog button.jp-mod-accept")  # "Select Kernel", if asked
        if accept.count():
            accept.click()
        target.locator(".jp-InputPrompt").click()
        page.keyboard.press("Shift+Enter")
        try:
            expect(target.locator(".jp-InputArea-prompt")).to_have_text(
                re.compile(r"\[\d+\]"), timeout=20_000
            )
            return
        except AssertionError:
            continue  # the kernel was not connected yet: the key press went nowhere
    raise AssertionError("the first cell never ran in Notebook 7")
