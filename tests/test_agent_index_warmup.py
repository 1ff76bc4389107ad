"""The index is built in a thread of its own while the model reads the task, never twice at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from agent_magic.agent import Agent, AgentConfig
from agent_magic.analysis import RepoIndex
from agent_magic.models.scripted import ScriptedModel
from tests.scripts import PLAN, UNDERSTAND, call, turn


class WatchedIndex(RepoIndex):
    """The real index, noting which threads use it and whether two ever did at the same time."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.threads: list[str] = []
        self.busy = 0
        self.overlapped = False

    def _watch(self) -> None:
        self.threads.append(threading.current_thread().name)
        self.busy += 1
        self.overlapped |= self.busy > 1
        time.sleep(0.05)  # long enough for a second caller to overlap, if one could

    def files(self) -> list[str]:
        self._watch()
        try:
            return super().files()
        finally:
            self.busy -= 1

    def rank(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._watch()
        try:
            return super().rank(*args, **kwargs)
        finally:
            self.busy -= 1


def test_the_index_is_warmed_in_its_own_thread_and_used_by_one_caller_at_a_time(sample_repo):
    index = WatchedIndex(sample_repo)
    script = [
        turn(call("search", pattern="def parse_price")),
        UNDERSTAND,
        *PLAN,
        turn(call("search", pattern="parse_price")),
        turn(call("finish", summary="nothing to change")),
    ]
    session = Agent(sample_repo, ScriptedModel(script), AgentConfig(review=False), index=index).run(
        "look at parse_price"
    )
    assert session.stop_reason == "done", session.error
    deadline = time.monotonic() + 30
    while "agent_magic-index" not in index.threads and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "agent_magic-index" in index.threads
    assert len(set(index.threads)) == 2  # the warm-up thread and the agent's
    assert not index.overlapped
