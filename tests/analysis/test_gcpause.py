from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from agent_magic.analysis.gcpause import paused_gc


@pytest.fixture(autouse=True)
def gc_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_collector_waits_inside_and_runs_again_after():
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_still_restores_the_collector():
    with pytest.raises(ValueError, match="boom"), paused_gc():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_collector_someone_else_disabled_stays_disabled():
    gc.disable()
    with paused_gc():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_in_two_threads_restore_it_once_both_end():
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with paused_gc():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=other)
    worker.start()
    assert inside.wait(5)
    with paused_gc():
        pass
    # The other thread is still building: this thread's end must not restart collections.
    assert not gc.isenabled()
    release.set()
    worker.join(5)
    assert gc.isenabled()


def test_the_index_refresh_leaves_the_collector_as_it_found_it(repo):
    from agent_magic.analysis import RepoIndex

    index = RepoIndex(repo, cache_dir=repo.parent / "cache")
    assert index.refresh() > 0
    assert gc.isenabled()
