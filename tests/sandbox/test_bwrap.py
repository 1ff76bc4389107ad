"""Commands under real bubblewrap: what they can see, write, reach, and how they end."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from agent_magic.sandbox import Bubblewrap, Limits, execute


def run(sandbox, box: Path, script: str, *, timeout: float = 30, **kw):
    """Run a shell script in the box's tree; (result, raw output text, not redacted)."""
    result = execute(
        sandbox,
        ["/bin/sh", "-c", script],
        cwd=box / "tree",
        writable=box / "tree",
        output_path=box / "out" / "log",
        timeout=timeout,
        **kw,
    )
    return result, (box / "out" / "log").read_text(errors="replace")


def processes_naming(path: Path) -> list[int]:
    """Live processes whose command line mentions ``path``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if str(path).encode() in cmdline:
            found.append(int(pid))
    return found


def test_outside_directories_are_invisible_and_intact(bwrap, box, tmp_path_factory):
    outside = tmp_path_factory.mktemp("precious")
    (outside / "data.txt").write_text("keep me\n")
    _, out = run(bwrap, box, f"ls {outside}; rm -rf {outside}; ls ~; ls {Path.home()}; echo done")
    assert "done" in out
    assert (outside / "data.txt").read_text() == "keep me\n"
    assert "data.txt" not in out


def test_only_the_tree_and_tmp_are_writable(bwrap, box):
    _, out = run(
        bwrap,
        box,
        'echo x > "$PWD/inside.txt"; echo y > /tmp/t && echo tmp-ok; '
        f"touch /usr/evil 2>&1; touch {sys.prefix}/evil 2>&1; "
        f"touch {box}/out/evil 2>&1; touch /evil 2>&1; "
        f"touch {Path.home()}/evil 2>&1; true",
    )
    assert (box / "tree" / "inside.txt").read_text() == "x\n"
    assert "tmp-ok" in out
    assert not Path("/usr/evil").exists() and not Path(sys.prefix, "evil").exists()
    assert not (box / "out" / "evil").exists()
    assert out.count("Read-only file system") + out.count("No such file") >= 5


def test_environment_is_an_allowlist_and_parents_are_invisible(bwrap, box, monkeypatch):
    monkeypatch.setenv("GH_PAT", "ghp_" + "a" * 36)
    monkeypatch.setenv("SOMETHING_ELSE", "plain-value-123")
    _, out = run(
        bwrap,
        box,
        "env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; ls /proc | grep -c '^[0-9]'",
        env={"PYTHONPATH": "/x"},
    )
    lines = out.splitlines()
    assert "ghp_" not in out and "plain-value-123" not in out
    assert "PYTHONPATH=/x" in lines and "HOME=/tmp/home" in lines
    assert int(lines[-1]) <= 4  # bwrap's init, the shell and its pipeline: no outside process


def test_secret_named_extra_env_is_dropped(bwrap, box):
    _, out = run(bwrap, box, "env", env={"OPENAI_API_KEY": "sk-" + "b" * 30, "OK_VAR": "1"})
    assert "OK_VAR=1" in out and "OPENAI_API_KEY" not in out


def test_network_is_off_unless_allowed(bwrap, box):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    probe = (
        f"{sys.executable} -c \"import socket; s = socket.create_connection(('127.0.0.1', "
        f"{port}), timeout=3); print('CONNECTED')\""
    )
    try:
        _, out = run(bwrap, box, probe)
        assert "CONNECTED" not in out and "refused" in out.lower()
        _, out = run(Bubblewrap(bwrap.binary, network=True), box, probe)
        assert "CONNECTED" in out
    finally:
        listener.close()


def test_a_daemon_does_not_outlive_the_command(bwrap, box):
    # The daemon acts only once the test says "go", after the command has returned, so a slow
    # machine cannot make it act while the command is still (legitimately) running.
    marker, go = box / "tree" / "marker", box / "tree" / "go"
    daemon = f"while [ ! -e {go} ]; do sleep 0.05; done; touch {marker}"
    script = (
        f"{sys.executable} -c \"import subprocess; subprocess.Popen(['sh', '-c', "
        f"'{daemon}'], start_new_session=True)\"; echo started"
    )
    result, out = run(bwrap, box, script)
    assert "started" in out and result.returncode == 0
    go.touch()
    time.sleep(1.5)
    assert not marker.exists()


@pytest.mark.parametrize("how", ["stop", "timeout"])
def test_stop_and_timeout_end_everything_within_two_seconds(bwrap, box, how):
    stop = threading.Event()
    if how == "stop":
        threading.Timer(0.5, stop.set).start()
    start = time.monotonic()
    result, _ = run(
        bwrap,
        box,
        "trap '' TERM; sleep 60 & sleep 60",
        timeout=1 if how == "timeout" else 30,
        stop=stop,
    )
    assert time.monotonic() - start < 3.0
    assert not processes_naming(box)  # ended means ended: nothing of it is left when we return
    assert result.returncode is None
    assert (result.stopped, result.timed_out) == ((True, False) if how == "stop" else (False, True))


def test_file_size_limit_applies(bwrap, box):
    _, out = run(
        bwrap, box, "head -c 3000000 /dev/zero > big; echo $?", limits=Limits(file_bytes=1_000_000)
    )
    assert (box / "tree" / "big").stat().st_size <= 1_000_000
    assert out.strip().splitlines()[-1] != "0"


def test_output_is_redacted_and_bounded(bwrap, box):
    result, _ = run(bwrap, box, "echo sk-ant-api03-abcdefghijklmnop; seq 1 100000")
    text = result.head_and_tail(head=200, tail=200)
    assert "sk-ant-api03" not in text and "[REDACTED]" in text
    assert "bytes of output left out" in text and text.rstrip().endswith("100000")
    assert len(text) < 600


def test_secret_files_of_source_trees_on_sys_path_are_hidden(
    bwrap, box, tmp_path_factory, monkeypatch
):
    lib = tmp_path_factory.mktemp("editable_lib")
    (lib / "mylib.py").write_text("VALUE = 1\n")
    (lib / ".env").write_text("LIB_TOKEN=lib-secret-value\n")
    monkeypatch.syspath_prepend(str(lib))  # as an editable install of another project puts it
    _, out = run(bwrap, box, f"cat {lib}/mylib.py; cat {lib}/.env; echo end")
    assert "VALUE = 1" in out and "lib-secret-value" not in out and "end" in out


def test_a_program_named_by_absolute_path_is_shown_read_only(bwrap, box, tmp_path_factory):
    tools = tmp_path_factory.mktemp("tools")  # e.g. a ruff in ~/.local/bin
    tool = tools / "mytool"
    tool.write_text('#!/bin/sh\necho tool-ran; touch "$0.evil" 2>/dev/null || echo ro\n')
    tool.chmod(0o755)
    result = execute(
        bwrap,
        [str(tool)],
        cwd=box / "tree",
        writable=box / "tree",
        output_path=box / "out" / "log",
        timeout=10,
    )
    assert result.returncode == 0 and result.text().split() == ["tool-ran", "ro"]
    assert not (tools / "mytool.evil").exists()


def test_a_private_key_is_hidden_line_by_line_and_when_cut(tmp_path):
    from agent_magic.sandbox.execute import CommandResult

    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
    out = tmp_path / "out.txt"
    out.write_text(
        "before\n-----BEGIN PRIVATE KEY-----\n"
        + f"{body}\n" * 50
        + "-----END PRIVATE KEY-----\nafter\n"
    )
    result = CommandResult(["x"], 0, False, out, 0.1)
    lines = list(result.lines())
    assert lines[0] == "before" and lines[-1] == "after"
    assert not any(body in line for line in lines)
    for text in (result.tail(limit=300), result.head_and_tail(head=40, tail=300)):
        assert body not in text and "after" in text
