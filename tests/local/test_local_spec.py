"""Model specs ``openai:...`` and ``gguf:...`` through ``load_model``."""

from __future__ import annotations

import importlib.util

import pytest

from agent_magic.errors import UserError
from agent_magic.models import load_model
from agent_magic.models.local import api_key_from_env, parse_openai_spec, split_options
from agent_magic.models.openai_compat import OpenAICompatModel


@pytest.mark.parametrize(
    ("rest", "base", "model", "window"),
    [
        ("http://127.0.0.1:8080/v1/qwen", "http://127.0.0.1:8080/v1", "qwen", None),
        (
            "http://localhost:11434/v1/qwen2.5-coder:7b",
            "http://localhost:11434/v1",
            "qwen2.5-coder:7b",
            None,
        ),
        (
            "http://h:8000/v1/Qwen/Qwen2.5-7B-Instruct",
            "http://h:8000/v1",
            "Qwen/Qwen2.5-7B-Instruct",
            None,
        ),
        ("https://h/api/openai/v1/m/", "https://h/api/openai/v1", "m", None),
        ("http://h:1234/custom/m?n_ctx=4096", "http://h:1234/custom", "m", 4096),
        ("http://h:1234/m", "http://h:1234", "m", None),
    ],
)
def test_parse_openai_spec(rest, base, model, window):
    spec = parse_openai_spec(rest)
    assert (spec.base_url, spec.model, spec.context_window) == (base, model, window)


@pytest.mark.parametrize(
    ("rest", "message"),
    [
        ("", "http"),
        ("127.0.0.1:8080/v1/qwen", "http"),
        ("ftp://h/v1/m", "http"),
        ("http://h:8080/v1/", "no model name"),
        ("http://h:8080", "no model name"),
        ("http://h/v1/m?n_ctx=zero", "n_ctx"),
        ("http://h/v1/m?temperature=1", "n_ctx"),
    ],
)
def test_bad_openai_specs_are_user_errors(rest, message):
    with pytest.raises(UserError, match=message):
        load_model(f"openai:{rest}")


def test_split_options():
    assert split_options("/m.gguf") == ("/m.gguf", None)
    assert split_options("/m.gguf?n_ctx=512") == ("/m.gguf", 512)


def test_load_model_builds_openai_backend_with_key_from_env(monkeypatch):
    monkeypatch.setenv("AGENT_MAGIC_OPENAI_KEY", "sk-local-xyz")
    model = load_model("openai:http://127.0.0.1:9/v1/qwen?n_ctx=1024")
    assert isinstance(model, OpenAICompatModel)
    assert model.name == "openai:http://127.0.0.1:9/v1/qwen"
    assert model.context_window == 1024
    assert "sk-local-xyz" not in model.name + repr(model)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"OPENAI_API_KEY": "a"}, "a"),
        ({"OPENAI_API_KEY": "a", "AGENT_MAGIC_OPENAI_KEY": "b"}, "b"),
        ({"AGENT_MAGIC_OPENAI_KEY": "", "OPENAI_API_KEY": "a"}, "a"),
    ],
)
def test_api_key_from_env(env, expected):
    assert api_key_from_env(env) == expected


def test_gguf_spec_errors(tmp_path):
    with pytest.raises(UserError, match="file path"):
        load_model("gguf:")
    with pytest.raises(UserError, match="not found"):
        load_model(f"gguf:{tmp_path / 'missing.gguf'}")


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is not None,
    reason="only meaningful without llama-cpp-python",
)
def test_gguf_without_llama_cpp_says_how_to_install(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    with pytest.raises(UserError, match="pip install"):
        load_model(f"gguf:{path}")
