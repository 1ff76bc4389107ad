"""Fixtures for the local-model tests: a scripted OpenAI-protocol server."""

from __future__ import annotations

import pytest

from tests.local.fake_openai import FakeOpenAI


@pytest.fixture
def fake_openai():
    server = FakeOpenAI()
    yield server
    server.close()
