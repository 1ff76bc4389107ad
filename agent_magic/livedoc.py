"""The comm protocol between the kernel and agent_magic's JupyterLab / Notebook 7 extension.

The kernel opens a comm to target ``agent_magic.live``; only a frontend with the extension
answers. Each request is ``{"id", "op", ...}`` and gets one reply ``{"id", "ok", "error"?, ...}``:

- ``hello``: ``{version, session_path}``; ``session_path`` is this kernel's notebook, relative to
  the server's root, which with the kernel's absolute notebook path tells that root.
- ``read {path}``: ``{open: false}``, or ``{open: true, kind, dirty, content}`` where ``content``
  is the notebook's JSON (cells with ids) as the open document has it, unsaved edits included.
- ``apply {path, ops}``: cell operations on the open notebook, each with the source it expects
  the cell to have (``set_source``/``delete``) or the cell it follows (``insert``); the frontend
  checks every expectation first and changes nothing if one fails, then applies all and saves.
  Reply ``{applied: n, conflicts: [cell ids]}``.
- ``revert {path}``: reload an open editor of a non-notebook file from disk when it has no
  unsaved changes. Reply ``{open, reverted, dirty}``.

Replies arrive on another thread than the one waiting (JupyterLab 4.6 sends comm messages over
a kernel subshell), so a request may wait while a cell runs; without that, it times out and the
caller falls back to the disk.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

TARGET = "agent_magic.live"
VERSION = 1
TIMEOUT = 10.0  # seconds for one reply; a frontend busy saving a large notebook takes a while
HELLO_TIMEOUT = 3.0  # without the extension nobody answers: the first %%agent waits this long


class LiveError(Exception):
    """The frontend refused a request or did not answer."""


class Transport(Protocol):
    """Carries requests to the frontend; replies come back through ``LiveFrontend.receive``."""

    def send(self, data: dict[str, Any]) -> None:
        """Send one message to the frontend."""
        ...


@dataclass
class LiveDocument:
    """A document as the open tab has it."""

    path: str  # relative to the server's root
    kind: str  # notebook | file
    dirty: bool
    content: Any  # notebook JSON (a dict) or the text of a file


@dataclass
class ApplyResult:
    """What the frontend did with a batch of cell operations."""

    applied: int
    conflicts: list[str] = field(default_factory=list)


class LiveFrontend:
    """Requests to the frontend over one transport, each waiting for its reply (thread-safe)."""

    def __init__(self, transport: Transport | None = None, *, timeout: float = TIMEOUT) -> None:
        self.transport = transport
        self.timeout = timeout
        self.server_root: Path | None = None
        self.version = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self._greeted = threading.Event()
        self._greeted.set()
        self.concurrent: bool | None = None  # do replies arrive while a cell runs? (subshells)

    # ---- the transport's side

    def receive(self, data: dict[str, Any]) -> None:
        """Hand a reply from the frontend to the request waiting for it; others are dropped."""
        if not isinstance(data, dict):
            return
        with self._lock:
            waiting = self._waiting.pop(str(data.get("id")), None)
        if waiting is not None:
            waiting[1].append(data)
            waiting[0].set()

    # ---- requests

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send ``op`` and wait for its reply; LiveError if refused, unanswered or detached."""
        if self.transport is None:
            raise LiveError("no frontend extension is attached")
        request_id = f"r{next(self._ids)}"
        done = threading.Event()
        box: list[dict[str, Any]] = []
        with self._lock:
            self._waiting[request_id] = (done, box)
        try:
            self.transport.send({"id": request_id, "op": op, **fields})
            if not done.wait(self.timeout):
                # a reloaded or closed page no longer hears this comm: detached until a new
                # hello is answered, so later requests go to the disk without waiting
                self.server_root = None
                raise LiveError(f"the frontend did not answer {op!r} within {self.timeout:.0f} s")
        finally:
            with self._lock:
                self._waiting.pop(request_id, None)
        reply = box[0]
        if not reply.get("ok"):
            raise LiveError(str(reply.get("error") or f"the frontend refused {op!r}"))
        return reply

    def hello(self, notebook: Path | None, timeout: float = HELLO_TIMEOUT) -> bool:
        """Whether the extension answers; learns the server root from this kernel's notebook."""
        usual, self.timeout = self.timeout, timeout
        try:
            reply = self.request("hello", version=VERSION)
        except LiveError:
            self.server_root = None
            return False
        finally:
            self.timeout = usual
        self.version = int(reply.get("version") or 0)
        self.server_root = server_root(notebook, str(reply.get("session_path") or ""))
        return True

    def hello_in_background(self, notebook: Path | None) -> None:
        """Say hello from a thread: its reply reaches the kernel only once the cell has ended."""
        if not self._greeted.is_set():
            return  # one hello at a time
        self._greeted.clear()

        def greet() -> None:
            try:
                self.hello(notebook, timeout=self.timeout)
            finally:
                self._greeted.set()

        threading.Thread(target=greet, name="agent-magic-hello", daemon=True).start()

    @property
    def attached(self) -> bool:
        """Whether the extension answered and the server's root is known (waits for hello)."""
        self._greeted.wait(self.timeout + 1)
        return self.transport is not None and self.server_root is not None

    def answers_during_cells(self) -> bool:
        """Whether a reply reaches a cell that waits for it (asked once, from a running cell).

        JupyterLab 4.6 with ipykernel 7 sends comm messages over a kernel subshell; without
        that, a reply waits behind the running cell and the request would time out.
        """
        if self.concurrent is None:
            usual, self.timeout = self.timeout, HELLO_TIMEOUT
            root = self.server_root
            try:
                self.request("hello", version=VERSION)
                self.concurrent = True
            except LiveError:
                self.concurrent = False
                self.server_root = root  # the reply waits behind the cell: still attached
            finally:
                self.timeout = usual
        return self.concurrent

    @property
    def greeting(self) -> bool:
        """Whether a hello is on its way."""
        return not self._greeted.is_set()

    def relative(self, path: Path) -> str | None:
        """``path`` as the frontend names it (relative to the server root), or None outside it."""
        if not self.attached:
            return None
        root = self.server_root  # read once: a timed-out request detaches from another thread
        if root is None:
            return None
        try:
            return Path(path).resolve().relative_to(root).as_posix()
        except ValueError:
            return None

    def read(self, path: Path) -> LiveDocument | None:
        """The open document of ``path``, or None when no tab has it open."""
        rel = self.relative(path)
        if rel is None:
            return None
        reply = self.request("read", path=rel)
        if not reply.get("open"):
            return None
        return LiveDocument(
            rel, str(reply.get("kind") or "file"), bool(reply.get("dirty")), reply.get("content")
        )

    def apply(self, path: Path, ops: list[dict[str, Any]]) -> ApplyResult:
        """Apply cell operations to the open notebook of ``path`` and save it."""
        rel = self.relative(path)
        if rel is None:
            raise LiveError(f"{path} is outside the Jupyter server's root")
        reply = self.request("apply", path=rel, ops=ops)
        return ApplyResult(
            int(reply.get("applied") or 0), [str(c) for c in reply.get("conflicts") or []]
        )

    def revert(self, path: Path) -> dict[str, Any]:
        """Reload the open editor of ``path`` from disk if it has no unsaved changes."""
        rel = self.relative(path)
        if rel is None:
            return {"open": False}
        return self.request("revert", path=rel)


def server_root(notebook: Path | None, session_path: str) -> Path | None:
    """The server's root: the kernel's notebook path with the frontend's relative path cut off."""
    if notebook is None or not session_path:
        return None
    parts = Path(session_path).parts
    absolute = Path(notebook).resolve()
    if tuple(absolute.parts[-len(parts) :]) != tuple(parts):
        return None
    return Path(*absolute.parts[: -len(parts)]) if len(parts) < len(absolute.parts) else None


class CommTransport:
    """The real transport: an ipykernel comm to the extension's target."""

    def __init__(self, on_message: Callable[[dict[str, Any]], None]) -> None:
        from ipykernel.comm import Comm

        class _Comm(Comm):
            # JupyterLab sends our replies over a comm subshell; deliver them there, not to the
            # main shell, which is busy while a cell (e.g. `%agent apply`) waits for them.
            def _reply_subshell_for(self, data: Any, default: Any) -> Any:
                return default

        self.comm = _Comm(target_name=TARGET, data={"version": VERSION})
        self.comm.on_msg(lambda msg: on_message(msg["content"]["data"]))

    def send(self, data: dict[str, Any]) -> None:
        """Send one message on the comm."""
        self.comm.send(data)


def connect(shell: Any, notebook: Path | None) -> LiveFrontend | None:
    """A LiveFrontend for this kernel's notebook, greeting in the background; None outside one.

    A reply reaches the kernel only when its main thread is free (after the cell), so nothing
    here waits for it; ``attached`` does, from the agent's thread.
    """
    if getattr(shell, "kernel", None) is None or notebook is None:
        return None
    frontend = LiveFrontend()
    frontend.transport = CommTransport(frontend.receive)
    frontend.hello_in_background(notebook)
    return frontend
