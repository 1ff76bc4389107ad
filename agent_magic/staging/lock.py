"""The project lock: one apply or undo at a time per project, across kernels and processes.

The lock is ``.agent_magic/apply.lock`` held with ``flock``. The kernel drops an flock when its
holder dies (kill -9 included), so a lock left by a dead process is stale by construction and is
taken over at once; the pid written in the file only serves to name the holder in the message.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent_magic.errors import UserError

LOCK_NAME = "apply.lock"
WAIT_SECONDS = 5.0


class LockBusy(UserError):
    """Another process is applying or undoing changes in the same project."""


@contextmanager
def project_lock(state_dir: Path, wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the project's apply lock; wait up to ``wait`` seconds, then raise LockBusy."""
    state_dir.mkdir(exist_ok=True)
    ignore = state_dir / ".gitignore"
    if not ignore.exists():  # keep agent_magic's own files out of the user's `git status`
        ignore.write_text("*\n", encoding="utf-8")
    path = state_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockBusy(
                        f"another apply or undo is running in this project ({holder(path)}); "
                        "nothing was written; try again when it has finished"
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {time.time():.0f}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def holder(path: Path) -> str:
    """Who holds the lock, as far as the file says."""
    try:
        pid = path.read_text(encoding="ascii").split()[0]
    except (OSError, IndexError, UnicodeDecodeError):
        return "holder unknown"
    return f"process {pid}"
