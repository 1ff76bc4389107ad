"""alongside: the baseline's thread beside the changed copy's run (threads only, no processes)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agent_magic.review.process import ChecksStopped, Confined, alongside, cpu_quota, cpus

WAIT = 10.0  # seconds before a test gives up on the other thread


def test_the_side_runs_while_main_does():
    started = threading.Event()
    assert alongside(Confined(), lambda: started.wait(WAIT), lambda _: started.set()) is True


def test_a_failing_main_stops_the_side_and_its_error_wins():
    side_saw_stop = threading.Event()
    running = threading.Event()

    def side(confined: Confined) -> None:
        running.set()
        for _ in range(int(WAIT * 20)):
            if confined.stop is not None and confined.stop.is_set():
                side_saw_stop.set()
                raise ChecksStopped("stopped")
            threading.Event().wait(0.05)

    def main() -> None:
        running.wait(WAIT)
        raise ValueError("main failed")

    with pytest.raises(ValueError, match="main failed"):
        alongside(Confined(), main, side)
    assert side_saw_stop.is_set()


def test_the_users_stop_reaches_the_side_after_main_is_done():
    user = threading.Event()

    def side(confined: Confined) -> None:
        assert confined.stop is not None and confined.stop is not user  # a stop of its own
        assert _wait_set(confined.stop), "the side never saw the user's stop"
        raise ChecksStopped("stopped by the user")

    def main() -> str:
        user.set()  # the user presses Stop once main's own command is over
        return "done"

    with pytest.raises(ChecksStopped):
        alongside(Confined(stop=user), main, side)


def test_a_side_error_is_raised_once_main_is_done():
    def side(_: Confined) -> None:
        raise OSError("no such program")

    with pytest.raises(OSError, match="no such program"):
        alongside(Confined(), lambda: 1, side)


def test_without_a_side_main_runs_here():
    assert alongside(Confined(), threading.current_thread, None) is threading.current_thread()


def _wait_set(event: threading.Event) -> bool:
    # is_set() is all the sandbox's runner polls (a linked event's wait() does not follow it)
    for _ in range(int(WAIT * 20)):
        if event.is_set():
            return True
        threading.Event().wait(0.05)
    return False


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "100000 100000\n"}, 1.0),  # cgroup v2: docker --cpus=1
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "250000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.5),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
)
def test_a_container_s_cpu_quota_counts_as_its_cpus(tmp_path, files, quota):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert cpu_quota(tmp_path) == quota
    allowed = cpus(Path("/nonexistent"))
    # one CPU's time: the baseline runs after the changed copy's tests, not beside them
    assert cpus(tmp_path) == (allowed if quota is None else max(1, min(allowed, int(quota))))
    if quota == 1.0:
        assert cpus(tmp_path) == 1
