"""CPU of sandboxed processes, which ``getrusage`` never sees: bubblewrap's own pid namespace
reaps them, so their time never reaches this process's children's totals. A thread samples
this process's descendants in a nested pid namespace every ``interval`` seconds from /proc;
each one's last sample counts (so up to one interval per process is missed)."""

from __future__ import annotations

import os
import threading


class SandboxedCPU:
    """``with SandboxedCPU() as s: ...``; ``s.seconds()`` is the CPU sampled so far."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self._seen: dict[tuple[int, int], float] = {}  # (pid, start time) -> CPU seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sandboxed-cpu", daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")
        self._depth = _nspid_depth(os.getpid())  # this process's own pid namespace depth

    def __enter__(self) -> SandboxedCPU:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def seconds(self) -> float:
        """CPU seconds of every sandboxed process seen so far."""
        return sum(self._seen.values())

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            for pid in _descendants(os.getpid()):
                sample = self._sample(pid)
                if sample is not None:
                    self._seen[sample[0]] = sample[1]

    def _sample(self, pid: int) -> tuple[tuple[int, int], float] | None:
        try:
            depth = _nspid_depth(pid)
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        if depth <= self._depth:  # not inside a nested pid namespace: getrusage counts it
            return None
        utime, stime, start = int(fields[11]), int(fields[12]), int(fields[19])
        return (pid, start), (utime + stime) / self._tick


def _nspid_depth(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        line = next((ln for ln in handle if ln.startswith("NSpid:")), "NSpid: 0")
    return len(line.split()) - 1


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{current}/task/{tid}/children") as handle:
                    kids = [int(k) for k in handle.read().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out
