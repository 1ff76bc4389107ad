"""One JupyterLab server and one headless Chromium for the module; a fresh page per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.lab import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LabServer,
    extension_path,
    require_tools,
    start_lab,
    stop_lab,
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the item, so the page fixture knows a test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    """Where screenshots go: $AGENT_MAGIC_SCREENSHOTS, else a temp dir."""
    folder = os.environ.get("AGENT_MAGIC_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[LabServer]:
    """JupyterLab serving a temp dir, with HOME and every Jupyter dir isolated and this checkout's
    built extension; always stopped."""
    require_tools()
    root = tmp_path_factory.mktemp("lab-root")
    home = tmp_path_factory.mktemp("lab-home")
    server = start_lab(root, home, extra_env={"JUPYTER_PATH": str(extension_path(home))})
    try:
        yield server
    finally:
        stop_lab(server)


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory) -> Iterator[LabServer]:
    """Notebook 7 serving a temp dir, isolated like ``lab``, with this checkout's extension
    (a module may override it, e.g. to serve a project)."""
    require_tools()
    root = tmp_path_factory.mktemp("nb7-root")
    home = tmp_path_factory.mktemp("nb7-home")
    server = start_lab(
        root, home, extra_env={"JUPYTER_PATH": str(extension_path(home))}, app="notebook"
    )
    try:
        yield server
    finally:
        stop_lab(server)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Debian's headless Chromium through Playwright (a fresh temp profile); always closed."""
    require_tools()
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser, lab, screenshots, request) -> Iterator:
    """A page of its own context; on failure its screenshot and the server log are kept."""
    from playwright.sync_api import Error as PlaywrightError

    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            name = request.node.name.replace("/", "_")
            try:
                page.screenshot(path=str(screenshots / f"FAILED-{name}.png"), full_page=True)
            except PlaywrightError as exc:  # the page may be gone; the test's error matters more
                print(f"no failure screenshot: {exc}")
            print(f"screenshots in {screenshots}\n--- jupyter lab log ---\n{lab.log_tail()}")
        context.close()
