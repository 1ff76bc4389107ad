"""run_checks always executes in the sandbox: notebooks' kernels too; without one, nothing runs."""

from __future__ import annotations

import socket

import pytest

from agent_magic.review import run_checks
from agent_magic.sandbox import Bubblewrap, Unconfined, detect

from .test_checks import _notebook


@pytest.mark.slow
def test_the_notebook_kernel_runs_inside_the_sandbox(make_repo, tmp_path):
    root = make_repo({"calc.py": "X = 1\n"})
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    nb = _notebook(
        (
            (
                "import calc, os\nassert calc.X == 2\nassert len([p for p in os.listdir('/proc') "
                "if p.isdigit()]) < 10, 'outside processes are visible'"
            ),
            [],
        ),
        (
            (
                "import socket\ntry:\n    socket.create_connection(('127.0.0.1', "
                f"{port}), timeout=2)\n    connected = True\nexcept OSError:\n    connected = False\n"
                "assert not connected"
            ),
            [],
        ),
        (f"open({str(root / 'pwned.txt')!r}, 'w').write('x')", []),
    )
    try:
        report = run_checks(
            root,
            {"calc.py": b"X = 2\n", "nb.ipynb": nb},
            workdir=tmp_path / "w",
            run_notebooks=True,
            timeout=90,
            test_command=[],
        )
    finally:
        with pytest.raises(BlockingIOError):
            listener.accept()
        listener.close()
    # the real project's path is not there: an environment problem of the sandboxed kernel
    [failure] = report.notebook_failures + report.notebook_environment
    # cells 0 and 1 passed inside; the write to the real project failed in cell 2
    assert failure.cell == 2 and (
        "FileNotFoundError" in failure.message or "PermissionError" in failure.message
    ), failure.message
    assert not (root / "pwned.txt").exists()


def test_without_a_sandbox_only_static_checks_run(make_repo, tmp_path):
    marker = tmp_path / "ran"
    root = make_repo(
        {
            "a.py": "A = 1\n",
            "tests/test_a.py": "def test_a():\n    pass\n",
            "conftest.py": f"open({str(marker)!r}, 'w').write('x')\n",
        }
    )
    report = run_checks(
        root,
        {"a.py": b"A = (\n", "tests/test_a.py": b"def test_a(): pass\n"},
        workdir=tmp_path / "w",
        sandbox=detect(path=str(tmp_path / "nobin")),
    )
    assert not marker.exists() and not report.tests.ran and not report.lint_ran
    assert [p.path for p in report.compile_errors] == ["a.py"]  # static checks still ran
    assert "bwrap" in report.not_run and not report.ok
    assert "Tests, lint and notebooks were not run" in report.summary()
    assert [f.severity for f in report.findings() if f.source == "sandbox"] == ["major"]


def test_network_and_unconfined_runs_are_stated(make_repo, tmp_path):
    root = make_repo({"a.py": "A = 1\n"})
    open_net = run_checks(
        root,
        {"a.py": b"A = 2\n"},
        workdir=tmp_path / "w",
        test_command=[],
        sandbox=Bubblewrap(detect().binary, network=True),
    )
    assert any("network access" in f.message for f in open_net.findings())
    assert "network ALLOWED" in open_net.summary()
    loose = run_checks(
        root, {"a.py": b"A = 2\n"}, workdir=tmp_path / "w", test_command=[], sandbox=Unconfined()
    )
    assert any(f.message.startswith("UNSANDBOXED") for f in loose.findings())
    assert "UNSANDBOXED" in loose.summary()
