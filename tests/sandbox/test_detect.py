"""Choosing a sandbox, refusing without one, the opt-in unconfined mode, and the pure builders."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from agent_magic.sandbox import (
    Bubblewrap,
    SandboxUnavailable,
    Seatbelt,
    Unavailable,
    Unconfined,
    bwrap_args,
    detect,
    execute,
    sandbox_env,
    seatbelt_profile,
)


def test_without_bwrap_on_path_nothing_runs(box):
    sandbox = detect(path=str(box / "empty-bin"))
    assert isinstance(sandbox, Unavailable) and not sandbox.available
    assert "bwrap" in sandbox.describe() and "--unsandboxed" in sandbox.describe()
    marker = box / "tree" / "ran"
    with pytest.raises(SandboxUnavailable):
        execute(
            sandbox,
            ["touch", str(marker)],
            cwd=box / "tree",
            writable=box / "tree",
            output_path=box / "out" / "log",
            timeout=5,
        )
    assert not marker.exists()


def test_a_bwrap_that_cannot_make_namespaces_is_unavailable(box):
    fake = box / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    sandbox = detect(path=str(fake.parent))
    assert isinstance(sandbox, Unavailable)
    assert "No permissions to create new namespace" in sandbox.describe()


def test_platforms_and_opt_ins():
    assert isinstance(detect(unsandboxed=True), Unconfined)
    assert isinstance(detect(platform="win32"), Unavailable)
    assert isinstance(detect(platform="darwin"), (Seatbelt, Unavailable))
    assert detect(allow_network=True).network is True
    assert "UNSANDBOXED" in Unconfined().describe()


def test_unconfined_still_kills_the_process_group_and_filters_env(box, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-" + "x" * 20)
    pidfile = box / "tree" / "pid"
    script = (
        f"import os, subprocess, time; p = subprocess.Popen(['sleep', '60']); "
        f"open({str(pidfile)!r}, 'w').write(str(p.pid)); print(dict(os.environ)); "
        "time.sleep(60)"
    )
    result = execute(
        Unconfined(),
        [sys.executable, "-c", script],
        cwd=box / "tree",
        writable=box / "tree",
        output_path=box / "out" / "log",
        timeout=3,
    )
    assert result.timed_out and result.returncode is None
    assert "ANTHROPIC_API_KEY" not in (box / "out" / "log").read_text()
    grandchild = int(pidfile.read_text())
    for _ in range(50):
        if not _alive(grandchild):
            break
        time.sleep(0.1)
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_bwrap_arguments(tmp_path):
    tree = tmp_path / "tree"
    args = bwrap_args(
        "/usr/bin/bwrap",
        ["pytest", "-q"],
        cwd=tree,
        writable=tree,
        readonly=[Path("/opt/py"), Path("/usr/lib/python3")],
    )
    text = " ".join(args)
    assert args[0] == "/usr/bin/bwrap" and args[-3:] == ["--", "pytest", "-q"]
    for flag in (
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--proc /proc",
        "--tmpfs /tmp",
        f"--bind {tree} {tree}",
        f"--chdir {tree}",
        "--ro-bind /opt/py /opt/py",
    ):
        assert flag in text
    assert "--share-net" not in args and "/usr/lib/python3 /usr/lib/python3" not in text
    assert text.index("--tmpfs /tmp") < text.index(f"--bind {tree}")  # the copy above the tmpfs
    assert "--share-net" in bwrap_args("bwrap", ["x"], cwd=tree, writable=tree, network=True)


def test_seatbelt_profile_denies_by_default_and_writes_only_the_copy():
    profile = seatbelt_profile(
        writable=Path("/private/tmp/s/tree"),
        tmp=Path("/private/tmp/s/tmp"),
        readonly=[Path("/opt/homebrew/py")],
        hidden=[Path("/Users/me/proj")],
    )
    assert profile.startswith("(version 1)\n(deny default)")
    write = next(line for line in profile.splitlines() if line.startswith("(allow file-write*"))
    assert '"/private/tmp/s/tree"' in write and "/Users" not in write
    assert '(subpath "/Users")' in profile and '(subpath "/Users/me/proj")' in profile
    assert "(allow network*)" not in profile
    allow_net = seatbelt_profile(
        writable=Path("/t"), tmp=Path("/u"), readonly=[], hidden=[], network=True
    )
    assert "(allow network*)" in allow_net


def test_sandbox_env_is_an_allowlist():
    env = sandbox_env(
        {"PYTHONPATH": "/copy", "AWS_SECRET_ACCESS_KEY": "x" * 40},
        base={
            "LANG": "C.UTF-8",
            "LC_ALL": "C",
            "OPENAI_API_KEY": "sk-1",
            "HOME": "/root",
            "PATH": "/root/bin:/usr/bin",
            "RANDOM_VAR": "1",
        },
    )
    assert env["LANG"] == "C.UTF-8" and env["LC_ALL"] == "C" and env["PYTHONPATH"] == "/copy"
    assert env["HOME"] == "/tmp/home" and "/root/bin" not in env["PATH"]
    assert not {"OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "RANDOM_VAR"} & set(env)


def test_bubblewrap_never_shows_the_hidden_project(bwrap, box, monkeypatch):
    project = Path(__file__).resolve().parents[2]
    monkeypatch.syspath_prepend(str(project))  # as a kernel started in the project has it

    def shown(hide):
        argv, _ = bwrap.prepare(
            ["true"], cwd=box / "tree", writable=box / "tree", env={}, hide=hide
        )
        return [Path(argv[i + 1]) for i, a in enumerate(argv) if a in ("--ro-bind", "--bind")]

    assert project in shown([])
    assert not any(s == project or project in s.parents for s in shown([project]))
    assert isinstance(bwrap, Bubblewrap)


def test_an_old_bwrap_without_size_still_confines(box):
    real = detect()
    assert isinstance(real, Bubblewrap)
    shim = box / "bin" / "bwrap"
    shim.parent.mkdir()
    # bwrap < 0.7 knows no --size: refuse it, pass everything else to the real one
    shim.write_text(
        f"#!/bin/sh\ncase \" $* \" in *' --size '*) echo 'bwrap: Unknown option "
        f'--size\' >&2; exit 1;; esac\nexec {real.binary} "$@"\n'
    )
    shim.chmod(0o755)
    sandbox = detect(path=str(shim.parent))
    assert isinstance(sandbox, Bubblewrap), sandbox.describe()
    result = execute(
        sandbox,
        ["/bin/sh", "-c", "echo ok > /tmp/x && cat /tmp/x"],
        cwd=box / "tree",
        writable=box / "tree",
        output_path=box / "out" / "log",
        timeout=10,
    )
    assert result.returncode == 0 and result.text().strip() == "ok"


def test_seatbelt_profile_hides_secret_files_in_python_dirs(tmp_path, monkeypatch):
    # An editable install of another project on sys.path may hold its own .env or keys; the
    # profile allows reading that directory, then denies those entries (later rules win).
    lib = tmp_path / "editable_lib"
    (lib / "creds").mkdir(parents=True)
    (lib / "mylib.py").write_text("VALUE = 1\n")
    (lib / ".env").write_text("LIB_TOKEN=lib-secret-value\n")
    (lib / "server.pem").write_text("key\n")
    (lib / "credentials").mkdir()
    monkeypatch.syspath_prepend(str(lib))
    tree = tmp_path / "box" / "tree"
    tree.mkdir(parents=True)
    argv, _ = Seatbelt().prepare(["true"], cwd=tree, writable=tree, env={})
    profile = argv[argv.index("-p") + 1]
    real = lib.resolve()
    allow = profile.index(f'(subpath "{real}")')
    deny = next(i for i, ln in enumerate(profile.splitlines()) if str(real / ".env") in ln)
    deny_line = profile.splitlines()[deny]
    assert deny_line.startswith("(deny file-read* file-write*")
    assert f'(literal "{real / ".env"}")' in deny_line
    assert f'(literal "{real / "server.pem"}")' in deny_line
    assert f'(subpath "{real / "credentials"}")' in deny_line
    assert "mylib.py" not in profile and "creds" not in deny_line
    assert profile.index(deny_line) > allow  # after the allow, so it wins
