"""The tiny projects' pytest runs skip third-party plugin loading (seconds each on a busy box)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_child_pytest(monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
