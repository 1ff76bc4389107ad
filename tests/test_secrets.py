"""The one secrets policy: file names, environment names, value redaction (table-driven)."""

from __future__ import annotations

import pytest

from agent_magic.paths import Project
from agent_magic.secrets import (
    REDACTED,
    Redactor,
    dotenv_values,
    is_secret_env_name,
    is_secret_name,
    redact,
)

PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nabc\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    "name, secret",
    [
        (".env", True),
        (".env.local", True),
        ("prod.env", True),
        ("config/id_rsa", True),
        ("certs/server.pem", True),
        ("credentials.json", True),
        ("aws_credentials_dev.json", True),
        (".netrc", True),
        ("SECRETS.yaml", True),
        ("a.py", False),
        ("environment.py", False),
        ("docs/keys.md", False),
    ],
)
def test_secret_file_names(name, secret, tmp_path):
    assert is_secret_name(name) is secret
    assert Project(tmp_path).is_secret(name) is secret  # the path rules use the same policy


@pytest.mark.parametrize(
    "name, secret",
    [
        ("ANTHROPIC_API_KEY", True),
        ("OPENAI_API_KEY", True),
        ("AGENT_MAGIC_OPENAI_KEY", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("AWS_ACCESS_KEY_ID", True),
        ("GH_PAT", True),
        ("GITHUB_TOKEN", True),
        ("DB_PASSWORD", True),
        ("ANTHROPIC_AUTH_TOKEN", True),
        ("PATH", False),
        ("HOME", False),
        ("GIT_AUTHOR_NAME", False),
        ("LANG", False),
        ("PYTHONPATH", False),
        ("PATTERN", False),
    ],
)
def test_secret_env_names(name, secret):
    assert is_secret_env_name(name) is secret


@pytest.mark.parametrize(
    "text, leaked",
    [
        ("key sk-ant-api03-AbCdEf0123456789xyz end", "sk-ant-api03"),
        ("openai sk-proj-AbCdEf0123456789AbCdEf01", "sk-proj-AbCd"),
        ("id AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdef"),
        ("pat github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_11"),
        ("before\n" + PEM + "\nafter", "MIIEowIBAAKCAQEA7"),
        ("cut off -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0", "MIIEvQIBADAN"),
    ],
)
def test_key_shapes_are_redacted(text, leaked):
    out = Redactor()(text)
    assert leaked not in out and REDACTED in out


def test_pem_redaction_keeps_the_text_around_it():
    assert Redactor()("before\n" + PEM + "\nafter") == f"before\n{REDACTED}\nafter"


def test_env_values_and_dotenv_values_are_redacted(tmp_path):
    (tmp_path / ".env").write_text('export DB_URL="postgres://u:hunter2-long@db"\nSHORT=abc\n')
    assert dotenv_values(tmp_path) == ["postgres://u:hunter2-long@db"]
    redactor = Redactor.current(tmp_path, environ={"GH_PAT": "plainvalue-1234", "HOME": "/root"})
    text = "a plainvalue-1234 b postgres://u:hunter2-long@db c /root abc"
    assert redactor(text) == f"a {REDACTED} b {REDACTED} c /root abc"
    assert redactor.deep({"x": [text], "n": 1})["x"][0] == redactor(text)


def test_short_values_are_left_alone_and_process_env_is_used(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-9f8e7d6c5b4a")
    assert redact("t=tok-9f8e7d6c5b4a") == f"t={REDACTED}"
    assert Redactor(["k"])("short k") == "short k"


def test_notebook_context_and_transcripts_use_the_policy(tmp_path, monkeypatch):
    from agent_magic.notebook_context import namespace_summary, render_context
    from agent_magic.transcript import Transcript, read_records

    value = 'quote"and\\backslash-0123456789'
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", value)
    context = render_context([("code", "print(os.environ['AWS_SECRET_ACCESS_KEY'])", value)], [])
    assert value not in context and REDACTED in context
    assert namespace_summary({"gh_pat": "x" * 20, "rows": [1, 2]}) == [
        "gh_pat: str (value hidden)",
        "rows: list (len=2)",
    ]

    project = Project(tmp_path)
    (tmp_path / ".env").write_text("SERVICE_PASSWORD=dotenv-secret-value\n")
    transcript = Transcript(project, "s1")
    transcript.write("tool", result=f"{value} and dotenv-secret-value\nsk-ant-api03-zzzzzzzzzzzz")
    raw = transcript.path.read_text()
    assert "backslash-0123456789" not in raw and "dotenv-secret-value" not in raw
    assert "sk-ant-api03" not in raw
    assert read_records(transcript.path)[0]["result"].count(REDACTED) == 3


def test_tool_results_and_prompts_are_redacted_before_they_reach_the_model(make_repo, monkeypatch):
    from agent_magic.agent import Agent, AgentConfig
    from agent_magic.events import ToolUsed
    from agent_magic.models.scripted import ScriptedModel
    from tests.scripts import call, turn

    monkeypatch.setenv("GH_PAT", "kernel-token-value-42")
    repo = make_repo(
        {
            "settings.py": 'TOKEN = "kernel-token-value-42"\n'
            'KEY = "sk-ant-api03-abcdefghijklmnopqrstuv"\n'
        }
    )
    model = ScriptedModel(
        [
            turn(call("submit_understanding", restatement="r", acceptance_criteria=["a"])),
            turn(call("view", path="settings.py")),
            turn(call("submit_plan", summary="s", steps=[{"description": "d"}])),
            turn(call("finish", summary="nothing to do")),
        ]
    )
    events: list = []
    session = Agent(repo, model, AgentConfig(review=False), on_event=events.append).run(
        "look at settings.py; the token is kernel-token-value-42"
    )
    assert session.stop_reason == "done", session.error
    [viewed] = [e for e in events if isinstance(e, ToolUsed) and e.name == "view"]
    conversation = str(session.messages)
    for text in (viewed.result, conversation):
        assert "kernel-token-value-42" not in text and "sk-ant-api03" not in text
    assert viewed.result.count(REDACTED) == 2


def test_dict_keys_are_redacted_and_kept_apart():
    redactor = Redactor(["key-one-secret", "key-two-secret"])
    out = redactor.deep({"key-one-secret": 1, "key-two-secret": {"key-one-secret": [2]}, "n": 3})
    assert "key-one-secret" not in str(out) and "key-two-secret" not in str(out)
    assert out == {REDACTED: 1, f"{REDACTED} (2)": {REDACTED: [2]}, "n": 3}
    assert redactor.deep({REDACTED: 1, "key-one-secret": 2}) == {REDACTED: 1, f"{REDACTED} (2)": 2}


def test_notebook_context_redacts_the_projects_dotenv_values(tmp_path):
    from types import SimpleNamespace

    from agent_magic.notebook_context import notebook_context

    (tmp_path / ".env").write_text("SERVICE_PASSWORD=dotenv-secret-value\n")
    shell = SimpleNamespace(
        user_ns={"In": ["", "print(password)"], "Out": {1: "dotenv-secret-value"}},
        user_ns_hidden={},
    )
    context = notebook_context(shell, environ={}, project_root=tmp_path)
    assert "print(password)" in context and "dotenv-secret-value" not in context


def test_run_output_redacts_the_projects_dotenv_values(make_repo):
    from agent_magic.review.command import run_in_copy
    from agent_magic.sandbox import detect

    sandbox = detect()
    if not sandbox.available:
        pytest.skip(sandbox.describe())
    root = make_repo({"settings.py": 'PASSWORD = "dotenv-secret-value"\n'})
    (root / ".env").write_text("SERVICE_PASSWORD=dotenv-secret-value\n")
    report = run_in_copy(root, {}, "cat settings.py", sandbox=sandbox)
    assert "PASSWORD = " in report and "dotenv-secret-value" not in report
