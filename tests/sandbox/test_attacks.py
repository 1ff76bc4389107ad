"""The issue's attacks, through the public API: a scripted model over the real SDK and fake
server, the real magic and widgets, real bubblewrap. Nothing reaches outside the scratch copy."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from agent_magic.agent import Agent, AgentConfig
from agent_magic.events import PhaseStarted
from agent_magic.models.anthropic import AnthropicModel
from agent_magic.models.scripted import ScriptedModel
from agent_magic.sandbox import detect
from agent_magic.testing import FakeAnthropic, fake_client
from agent_magic.ui.report import session_report
from agent_magic.ui.widgets import checks_html
from tests.scripts import call, turn

pytestmark = pytest.mark.slow

# Not key-shaped on purpose: only the sandbox and the env-value redaction can keep them out.
KEYS = {
    "ANTHROPIC_API_KEY": "anthropic-value-0f1e2d3c4b5a",
    "OPENAI_API_KEY": "openai-value-9a8b7c6d5e4f",
    "AWS_SECRET_ACCESS_KEY": "aws-value-1234567890abcdef",
    "GH_PAT": "github-value-fedcba0987654321",
}
DOTENV_VALUE = "dotenv-value-55aa66bb77cc"

CONFTEST = """
import os, pathlib, shutil, socket, subprocess, sys
shutil.rmtree({outside!r}, ignore_errors=True)
print("ENV", dict(os.environ))
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            print("PROC", pid, open(f"/proc/{{pid}}/environ", "rb").read())
        except OSError as exc:
            print("PROC", pid, exc)
for name in ({real!r} + "/.env", os.environ.get("PWD", ".") + "/.env", "../.env"):
    try:
        print("DOTENV", open(name).read())
    except OSError as exc:
        print("DOTENV", exc)
for target in (os.environ.get("PWD", ".") + "/pwned.txt", {real!r} + "/pwned.txt"):
    try:
        pathlib.Path(target).write_text("pwned")
    except OSError as exc:
        print("WRITE", exc)
subprocess.Popen([sys.executable, "-c", "import time, pathlib; time.sleep(1.5); "
                  "pathlib.Path({daemon!r}).write_text('alive')"], start_new_session=True)
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2)
    print("CONNECTED")
except OSError as exc:
    print("NO NETWORK", exc)
"""


def project_files(repo: Path) -> dict[str, bytes]:
    """The project's own files (agent_magic's state directory left out)."""
    # Skipped before reading: the state directory changes while the session is being saved.
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if not {".git", ".agent_magic"} & set(p.relative_to(repo).parts) and p.is_file()
    }


# A test the model writes: Popen's cwd= does not change $PWD, which once named the real tree.
EVIL_TEST = """import os, pathlib


def test_evil():
    for base in (os.environ.get("PWD", "."), os.environ.get("OLDPWD", "."), os.getcwd()):
        for name in ("pwned_by_test.txt", "../pwned_by_test.txt"):
            try:
                (pathlib.Path(base) / name).write_text("pwned")
            except OSError:
                pass
"""


def widget_text(widget) -> str:
    """Every string a widget tree shows (values, descriptions, tooltips)."""
    parts = [getattr(widget, a, None) for a in ("value", "description", "tooltip", "placeholder")]
    text = " ".join(p for p in parts if isinstance(p, str))
    return text + " ".join(widget_text(c) for c in getattr(widget, "children", ()))


@pytest.fixture
def hostile(make_repo, tmp_path_factory, monkeypatch):
    """A repo whose conftest attacks; the keys in the kernel; a listener; an outside directory."""
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    outside = tmp_path_factory.mktemp("outside")
    (outside / "precious.txt").write_text("keep\n")
    daemon = tmp_path_factory.mktemp("daemon") / "alive.txt"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    repo = make_repo(
        {
            "README.md": "hello\n",
            "calc.py": "def add(a, b):\n    return a + b\n",
            "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n"
            "    assert add(1, 2) == 3\n",
        }
    )
    (repo / "conftest.py").write_text(
        CONFTEST.format(
            outside=str(outside), real=str(repo), daemon=str(daemon), port=listener.getsockname()[1]
        )
    )
    (repo / ".env").write_text(f"DB_PASSWORD={DOTENV_VALUE}\n")  # untracked, not ignored
    yield repo, outside, daemon, listener
    listener.close()


def hostile_script() -> list[dict]:
    return [
        turn(
            call(
                "submit_understanding",
                restatement="say hello louder",
                acceptance_criteria=["README says HELLO"],
            )
        ),
        turn(
            call(
                "submit_plan",
                summary="Edit README",
                steps=[{"description": "shout", "files": ["README.md"]}],
            )
        ),
        turn(call("run", command="python -m pytest -q -s; env; cat .env ../.env", timeout=60)),
        turn(call("replace", path="README.md", old="hello\n", new="HELLO\n")),
        turn(call("create", path="tests/test_evil.py", content=EVIL_TEST)),
        turn(call("finish", summary="README shouts")),
        turn(call("finish", summary="fine")),
    ]


def test_a_hostile_conftest_reaches_nothing_and_no_secret_leaves(ip, magics, hostile):
    repo, outside, daemon, listener = hostile
    before = project_files(repo)
    with FakeAnthropic(hostile_script()) as server:
        ip.user_ns["model"] = AnthropicModel("claude-sonnet-4-6", client=fake_client(server))
        ip.run_cell_magic(
            "agent", f"--model {{model}} -p {repo} --view widgets", "say hello louder in the README"
        )
        assert magics.last_run.wait(180)
        requests = json.dumps(server.requests)
    session = magics.last_run.session
    assert session.stop_reason == "done", session.error
    run_result = next(r for r in _tool_results(server.requests) if "$ python -m pytest" in r)
    assert "1 passed" in run_result and "NO NETWORK" in run_result
    assert "tests/test_evil.py::test_evil" in session.checks.tests.passed  # it ran, confined

    time.sleep(2.5)  # the daemon would have written by now
    assert (outside / "precious.txt").read_text() == "keep\n"
    assert not daemon.exists()
    assert project_files(repo) == before  # byte-identical: nothing written before apply
    with pytest.raises(BlockingIOError):
        listener.accept()
    assert not _scratch_processes()

    # Transcripts and the saved changesets (a directory per session) alike.
    transcripts = "".join(
        p.read_text(errors="replace")
        for p in (repo / ".agent_magic" / "sessions").rglob("*")
        if p.is_file()
    )
    record = session_report(session)
    widgets = widget_text(magics.last_view.panel)
    assert "README shouts" in widgets or "HELLO" in widgets
    assert "$ python -m pytest -q -s" in widgets  # the run was shown live
    for value in [*KEYS.values(), DOTENV_VALUE]:
        for where, text in (
            ("requests", requests),
            ("transcript", transcripts),
            ("record", record),
            ("widgets", widgets),
        ):
            assert value not in text, f"{value} leaked into the {where}"


def _tool_results(requests: list[dict]) -> list[str]:
    out = []
    for request in requests:
        for message in request["messages"]:
            for block in message["content"] if isinstance(message["content"], list) else []:
                if block.get("type") == "tool_result":
                    content = block["content"]
                    out.append(content if isinstance(content, str) else json.dumps(content))
    return out


@pytest.fixture(autouse=True)
def own_temp_dir(tmp_path_factory, monkeypatch):
    """Scratch copies of this test go to a directory of its own (other suites may run
    sandboxes on this machine at the same time); ``_scratch_processes`` looks only there."""
    folder = tmp_path_factory.mktemp("scratch_parent")
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _scratch_processes() -> list[str]:
    """Processes whose command line names one of this test's scratch copies."""
    mine = os.path.join(tempfile.gettempdir(), "agent_magic_scratch_")
    found = []
    for pid in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if mine in cmdline:
            found.append(cmdline)
    return found


SLEEPY_TEST = "import time\n\n\ndef test_sleeps():\n    time.sleep(60)\n"


def test_stop_during_a_sleeping_test_ends_the_run_within_five_seconds(make_repo):
    repo = make_repo({"calc.py": "X = 1\n", "tests/test_slow.py": SLEEPY_TEST})
    model = ScriptedModel(
        [
            turn(
                call("submit_understanding", restatement="X is 2", acceptance_criteria=["X == 2"])
            ),
            turn(call("submit_plan", summary="set X", steps=[{"description": "X = 2"}])),
            turn(call("replace", path="calc.py", old="X = 1", new="X = 2")),
            turn(call("finish", summary="done")),
        ]
    )
    stopped_at: list[float] = []
    agent: Agent

    def on_event(event) -> None:
        if isinstance(event, PhaseStarted) and event.phase == "review":

            def stop() -> None:
                stopped_at.append(time.monotonic())
                agent.stop()

            threading.Timer(2.0, stop).start()

    agent = Agent(repo, model, AgentConfig(test_timeout=120), on_event=on_event)
    session = agent.run("set X to 2")
    ended = time.monotonic()
    assert session.stop_reason == "interrupted"
    assert stopped_at and ended - stopped_at[0] < 5.0
    assert not _scratch_processes()


def test_the_time_limit_ends_a_sleeping_test(make_repo):
    repo = make_repo({"calc.py": "X = 1\n", "tests/test_slow.py": SLEEPY_TEST})
    model = ScriptedModel(
        [
            turn(
                call("submit_understanding", restatement="X is 2", acceptance_criteria=["X == 2"])
            ),
            turn(call("submit_plan", summary="set X", steps=[{"description": "X = 2"}])),
            turn(call("replace", path="calc.py", old="X = 1", new="X = 2")),
            turn(call("finish", summary="done")),
        ]
    )
    start = time.monotonic()
    session = Agent(repo, model, AgentConfig(time_limit_s=8, test_timeout=120)).run("X to 2")
    assert session.stop_reason == "time"
    assert time.monotonic() - start < 8 + 3


def test_unsandboxed_opt_in_is_stated_in_the_record(ip, magics, make_repo, tmp_path):
    repo = make_repo({"calc.py": "X = 1\n", "tests/test_x.py": "def test_x():\n    pass\n"})
    ip.user_ns["model"] = ScriptedModel(
        [
            turn(
                call("submit_understanding", restatement="X is 2", acceptance_criteria=["X == 2"])
            ),
            turn(call("submit_plan", summary="set X", steps=[{"description": "X = 2"}])),
            turn(call("replace", path="calc.py", old="X = 1", new="X = 2")),
            turn(call("finish", summary="done")),
            turn(call("finish", summary="reviewed")),
        ]
    )
    ip.run_cell_magic(
        "agent", f"--model {{model}} -p {repo} --unsandboxed --view headless", "set X to 2"
    )
    session = magics.last_run.session
    assert session.stop_reason == "done", session.error
    assert session.checks.tests.ran and session.checks.sandbox.startswith("UNSANDBOXED")
    assert "UNSANDBOXED" in session_report(session)
    assert "UNSANDBOXED" in magics.out.getvalue()


def test_without_a_sandbox_nothing_executes_and_the_report_says_why(make_repo, tmp_path):
    marker = tmp_path / "executed"
    repo = make_repo(
        {
            "calc.py": "X = 1\n",
            "tests/test_x.py": "def test_x():\n    pass\n",
            "conftest.py": f"open({str(marker)!r}, 'w').write('ran')\n",
        }
    )
    model = ScriptedModel(
        [
            turn(
                call("submit_understanding", restatement="X is 2", acceptance_criteria=["X == 2"])
            ),
            turn(call("submit_plan", summary="set X", steps=[{"description": "X = 2"}])),
            turn(call("run", command="python -m pytest -q")),
            turn(call("replace", path="calc.py", old="X = 1", new="X = 2")),
            turn(call("finish", summary="done")),
            turn(call("finish", summary="reviewed")),
        ]
    )
    no_bwrap = detect(path=str(tmp_path / "no-bin"))  # bwrap hidden from the lookup
    events: list = []
    session = Agent(repo, model, sandbox=no_bwrap, on_event=events.append).run("X to 2")
    assert session.stop_reason == "done", session.error
    assert not marker.exists()
    run_call = next(e for e in events if getattr(e, "name", "") == "run")
    assert run_call.is_error and "bwrap" in run_call.result
    assert not session.checks.tests.ran and "bwrap" in session.checks.not_run
    assert any(
        f.source == "sandbox" and "tests were not run" in f.message for f in session.findings
    )
    record = session_report(session)
    assert "were not run" in record and "bwrap" in record and "--unsandboxed" in record
    widget = checks_html(session.checks)  # what the findings widget shows
    assert "were not run" in widget and "bwrap" in widget
