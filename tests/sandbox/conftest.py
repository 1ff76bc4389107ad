"""A real bubblewrap sandbox and a scratch-like directory for it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent_magic.sandbox import Bubblewrap, detect


@pytest.fixture
def bwrap() -> Bubblewrap:
    """The machine's bubblewrap (the tests need it: /usr/bin/bwrap)."""
    sandbox = detect()
    if not isinstance(sandbox, Bubblewrap):
        pytest.fail(f"bubblewrap is needed for these tests: {sandbox.describe()}")
    return sandbox


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """A directory standing in for a scratch copy: ``tree`` is writable, ``out`` holds logs."""
    (tmp_path / "tree").mkdir()
    (tmp_path / "out").mkdir()
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)
