"""A JupyterLab server for tests, notebooks written with nbformat, and page helpers for Playwright."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "sample_project"
CHROMIUM = os.environ.get("AGENT_MAGIC_CHROMIUM", "/usr/bin/chromium")
# The flags; the machine has no network, so nothing may try to phone home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
BUILT = ROOT / "agent_magic" / "labextension"  # agent_magic's JupyterLab extension, built by npm
EXTENSION = "agent-magic-live"
START_TIMEOUT = 180.0  # seconds for the server to answer; a cold start on 2 busy cores is slow
SKIPPED_IN_SNAPSHOT = {
    ".git",
    ".agent_magic",
    "__pycache__",
    ".pytest_cache",
    ".ipynb_checkpoints",
    ".ruff_cache",
}


def require_tools() -> None:
    """Fail (never skip) with a clear message when chromium or jupyterlab is missing."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"chromium is missing at {CHROMIUM}: install Debian's chromium package "
            "(`apt-get install -y chromium`, as .ci/run does) or set AGENT_MAGIC_CHROMIUM",
            pytrace=False,
        )
    for module, package in (
        ("jupyterlab", "jupyterlab"),
        ("playwright", "playwright"),
        ("jupyterlab_widgets", "ipywidgets"),
    ):
        if importlib.util.find_spec(module) is None:
            pytest.fail(
                f"{module} is missing: `pip install -e '.[dev]'` installs {package}", pytrace=False
            )


def extension_path(home: Path) -> Path:
    """A JUPYTER_PATH entry holding this checkout's built extension (as pip installs it under
    share/jupyter), so the page runs this front end whatever else is installed."""
    if not (BUILT / "package.json").is_file():
        pytest.fail(
            f"the frontend extension is not built ({BUILT} is missing): run "
            "`npm ci && npm run build` in js/ (scripts/test.sh does when npm is present)",
            pytrace=False,
        )
    data = home / "jupyter-path"
    (data / "labextensions").mkdir(parents=True, exist_ok=True)
    link = data / "labextensions" / EXTENSION
    if not link.exists():
        link.symlink_to(BUILT, target_is_directory=True)
    return data


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def isolated_env(home: Path) -> dict[str, str]:
    """The environment for the server and its kernels: every Jupyter and temp dir under ``home``."""
    dirs = {
        "HOME": home,
        "JUPYTER_CONFIG_DIR": home / "jupyter-config",
        "JUPYTER_DATA_DIR": home / "jupyter-data",
        "JUPYTER_RUNTIME_DIR": home / "jupyter-runtime",
        "IPYTHONDIR": home / "ipython",
        "TMPDIR": home / "tmp",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    settings = (
        dirs["JUPYTER_CONFIG_DIR"]
        / "lab"
        / "user-settings"
        / "@jupyterlab"
        / "apputils-extension"
        / "notification.jupyterlab-settings"
    )
    settings.parent.mkdir(parents=True, exist_ok=True)
    # no news pop-up over the notebook (and no request for it)
    settings.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "ANTHROPIC_API_KEY",
            "AGENT_MAGIC_MODEL",
            "JUPYTER_PATH",
            "JUPYTERLAB_SETTINGS_DIR",
            "JUPYTERLAB_WORKSPACES_DIR",
        )
    }
    env.update({k: str(v) for k, v in dirs.items()})
    # the kernel imports agent_magic from this checkout, whatever else is installed
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@dataclass
class LabServer:
    """A running JupyterLab: its base URL, token, root directory, process and log."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path

    def notebook_url(self, name: str, workspace: str) -> str:
        """The URL that opens notebook ``name`` in a fresh workspace, logged in by the token."""
        return f"{self.url}/lab/workspaces/{workspace}/tree/{name}?reset&token={self.token}"

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's output, for failure messages."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def api(self, method: str, path: str) -> bytes:
        """One REST call to the server."""
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read()


def start_lab(
    root: Path,
    home: Path,
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    app: str = "jupyterlab",
    rtc: bool = False,
) -> LabServer:
    """Start JupyterLab 4 (or ``app="notebook"``: Notebook 7) on 127.0.0.1 serving ``root``.

    Real-time collaboration (jupyter-collaboration, installed by the dev extra) is off unless
    ``rtc``: documents are then files the page loads and saves, as without the package.
    """
    token = os.urandom(16).hex()
    port = free_port()
    log = home / "jupyterlab.log"
    args = [
        sys.executable,
        "-m",
        app,
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=",
        "--ServerApp.open_browser=False",
        f"--YDocExtension.disable_rtc={not rtc}",
        *(extra_args or []),
    ]
    env = {**isolated_env(home), **(extra_env or {})}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            args,
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = LabServer(f"http://127.0.0.1:{port}", token, root, process, log)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(
                f"jupyter lab exited with {process.returncode}:\n{server.log_tail()}", pytrace=False
            )
        try:
            server.api("GET", "/api/status")
            return server
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            stop_lab(server)
            pytest.fail(
                f"jupyter lab did not answer within {START_TIMEOUT:.0f} s:\n{server.log_tail()}",
                pytrace=False,
            )
        time.sleep(0.25)  # polling a port: nothing to wait on


def stop_lab(server: LabServer) -> None:
    """Shut the kernels down, then the server's process group (SIGTERM, then SIGKILL)."""
    try:
        # kernels run in sessions of their own, so killing the server's group would orphan them
        for kernel in json.loads(server.api("GET", "/api/kernels")):
            server.api("DELETE", f"/api/kernels/{kernel['id']}")
    except (urllib.error.URLError, OSError, ValueError):
        pass
    process = server.process
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            continue


# ---------------------------------------------------------------- projects and notebooks


def copy_project(dest: Path) -> Path:
    """A git repo at ``dest`` holding a copy of examples/sample_project."""
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns(*SKIPPED_IN_SNAPSHOT))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "initial"]):
        subprocess.run(
            ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
            cwd=dest,
            check=True,
            capture_output=True,
        )
    return dest


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the project (not git's or the agent's internals) with its bytes."""
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not SKIPPED_IN_SNAPSHOT.intersection(rel.parts):
            files[rel.as_posix()] = path.read_bytes()
    return files


def write_notebook(path: Path, sources: list[str]) -> Path:
    """A notebook of code cells with a python3 kernelspec (so no kernel dialog appears)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, path)
    return path
