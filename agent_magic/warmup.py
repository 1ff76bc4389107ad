"""The first ``%%agent`` cell's heavy imports, done in a daemon thread after ``%load_ext``."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from types import ModuleType

# What a widget cell imports before it can show its panel (ipywidgets alone is ~60 ms), and the
# agent its run thread builds. Not the model SDK: the run imports the one it uses, off the kernel.
FIRST_CELL = ("ipywidgets", "agent_magic.ui.live", "agent_magic.agent")


class Warmup:
    """Imports ``modules`` in one daemon thread; ``wait`` before importing any of them yourself.

    Two threads importing modules of one import cycle from different ends can deadlock (Python
    then fails one import with a RuntimeError), so the magic waits for the warm-up before its own
    imports instead of racing it: the kernel thread never imports agent_magic concurrently.
    """

    def __init__(
        self,
        modules: Sequence[str] = FIRST_CELL,
        importer: Callable[[str], ModuleType] = importlib.import_module,
    ) -> None:
        self.modules = tuple(modules)
        self._importer = importer
        self._thread: threading.Thread | None = None
        self.failed: dict[str, Exception] = {}  # the cell's own import raises it again, in context

    def start(self) -> None:
        """Begin importing in the background (once); returns at once."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._work, name="agent-magic-warmup", daemon=True
            )
            self._thread.start()

    def wait(self) -> None:
        """Block until the warm-up has ended (at once if it never started or is done)."""
        if self._thread is not None:
            self._thread.join()

    @property
    def done(self) -> bool:
        """Whether nothing is being imported in the background any more."""
        return self._thread is None or not self._thread.is_alive()

    def _work(self) -> None:
        for name in self.modules:
            try:
                self._importer(name)
            except Exception as exc:  # noqa: BLE001 - the cell imports it again and reports it
                self.failed[name] = exc
