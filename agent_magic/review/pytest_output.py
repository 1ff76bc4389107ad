"""Pure functions that read pytest's ``-rA`` short summary and compare two runs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_FAIL_WORDS = ("FAILED", "ERROR")
# An expected failure is not a failure; a strict XPASS is already reported as FAILED.
_PASS_WORDS = ("PASSED", "XFAIL", "XPASS")
_LINE = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED)\s+(.*)$")
# ``-v`` progress: ``path::test PASSED [ 12%]``, printed as each test ends (survives a kill).
_VERBOSE = re.compile(r"^(\S+?::\S.*?) (PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED)\b.*$")


@dataclass
class TestResults:
    """Test ids of one run and the one-line reason of each failure."""

    __test__ = False  # not a pytest test class

    passed: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Whether no result line was seen."""
        return not (self.passed or self.failed)


def split_id(rest: str) -> tuple[str, str]:
    """Split ``tests/t.py::test[a - b] - AssertionError`` into the node id and the reason."""
    depth = 0
    for i, ch in enumerate(rest):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(depth - 1, 0)
        elif depth == 0 and rest.startswith(" - ", i):
            return rest[:i].strip(), rest[i + 3 :].strip()
    return rest.strip(), ""


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def parse_pytest_lines(lines: Iterable[str]) -> TestResults:
    """Collect ids from ``PASSED id`` / ``FAILED id - reason`` / ``ERROR id`` summary lines."""
    results = TestResults()
    for line in lines:
        line = _ANSI.sub("", line)
        match = _LINE.match(line)
        if not match:
            verbose = _VERBOSE.match(line)
            if verbose is None:
                continue
            node, word = verbose.groups()
            if word in _FAIL_WORDS:
                results.failed.add(node)
            elif word in _PASS_WORDS and node not in results.failed:
                results.passed.add(node)
            continue
        word, rest = match.groups()
        if word == "SKIPPED" or rest.startswith("["):
            continue  # "SKIPPED [1] path:line: reason" carries no node id
        node, reason = split_id(rest)
        if not node or " " in node.split("[", 1)[0]:
            continue  # prose that happens to start with a keyword
        if word in _FAIL_WORDS:
            results.failed.add(node)
            results.passed.discard(node)
            if reason:
                results.reasons.setdefault(node, reason)
        elif word in _PASS_WORDS and node not in results.failed:
            results.passed.add(node)
    # A test that passed but errored in teardown is reported twice; the error wins.
    results.passed -= results.failed
    return results


@dataclass
class Comparison:
    """How the failures of the changed copy relate to those of the unchanged one."""

    newly_failing: list[str]
    already_failing: list[str]
    fixed: list[str]


def compare_runs(before: TestResults | None, after: TestResults) -> Comparison:
    """Newly failing, already failing and fixed ids; without a baseline every failure is new."""
    if before is None:
        return Comparison(sorted(after.failed), [], [])
    return Comparison(
        newly_failing=sorted(after.failed - before.failed),
        already_failing=sorted(after.failed & before.failed),
        fixed=sorted(before.failed & after.passed),
    )
