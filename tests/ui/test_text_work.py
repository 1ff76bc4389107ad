"""Pure text work of the UI: placeholders, diff stats and colors, prompts, views, context."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import pytest

from agent_magic.errors import UserError
from agent_magic.notebook_context import describe_value, namespace_summary, output_text, trim
from agent_magic.ui.diffview import hunk_for_line, hunk_text
from agent_magic.ui.frontend import detect_view
from agent_magic.ui.placeholders import interpolate, object_or_text
from agent_magic.ui.report import diff_stats
from agent_magic.ui.text import choose_hunks, colorize_diff

NS = {"name": "world", "n": 3, "obj": type("O", (), {"attr": "A"})()}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("hello {name}", "hello world"),
        ("{n} times", "3 times"),
        ("{obj.attr}", "A"),
        ("literal {{name}}", "literal {name}"),
        ("a dict {{'k': 1}}", "a dict {'k': 1}"),
        ("not a name {'k': 1}", "not a name {'k': 1}"),
        ("{{{name}}}", "{world}"),
        ("no braces", "no braces"),
    ],
)
def test_interpolate(text, expected):
    assert interpolate(text, NS) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("{missing}", "{missing}"),
        ("{obj.nope}", "no attribute 'nope'"),
    ],
)
def test_interpolate_unknown_names_raise(text, message):
    with pytest.raises(UserError, match=message.replace("{", r"\{").replace("}", r"\}")):
        interpolate(text, NS)


def test_object_or_text_returns_the_object_for_a_whole_placeholder():
    assert object_or_text("{obj}", NS) is NS["obj"]
    assert object_or_text("x-{n}", NS) == "x-3"


@pytest.mark.parametrize(
    "diff, stats",
    [
        ("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n", (1, 1)),
        ("--- /dev/null\n+++ b/x\n@@ -0,0 +1,2 @@\n+a\n+b\n", (2, 0)),
        ("", (0, 0)),
    ],
)
def test_diff_stats(diff, stats):
    assert diff_stats(diff) == stats


def test_colorize_diff_colors_added_and_removed_lines_only():
    colored = colorize_diff("--- a/x\n+++ b/x\n@@ -1 +1 @@\n ctx\n-a\n+b\n")
    lines = colored.splitlines()
    assert lines[3] == " ctx"
    assert lines[4] == "\x1b[31m-a\x1b[0m"
    assert lines[5] == "\x1b[32m+b\x1b[0m"
    assert colorize_diff("-a\n", color=False) == "-a\n"


@dataclass
class H:
    id: str
    header: str
    text: str
    new_start: int = 0
    new_len: int = 0


@dataclass
class F:
    path: str
    hunks: list[H] = field(default_factory=list)
    status: str = "modified"
    old_path: str | None = None

    def diff(self) -> str:
        return "".join(h.text for h in self.hunks)


@dataclass
class C:
    files: list[F]


CHANGES = C(
    [
        F(
            "a.py",
            [
                H("a#1", "@@ -1 +1 @@", "@@ -1 +1 @@\n-x\n+y\n", 1, 1),
                H("a#2", "@@ -9 +9 @@", "@@ -9 +9 @@\n-x\n+y\n", 9, 1),
            ],
        ),
        F("b.py", [H("b#1", "@@ -1 +1 @@", "@@ -1 +1 @@\n-x\n+y\n", 1, 1)]),
        F("c.py", [H("c#1", "@@ -1 +1 @@", "@@ -1 +1 @@\n-x\n+y\n", 1, 1)]),
    ]
)


@pytest.mark.parametrize(
    "answers, chosen",
    [
        (["y", "n", "y"], {"a#1", "a#2", "c#1"}),
        (["n", "a"], {"b#1", "c#1"}),
        (["y", "q"], {"a#1", "a#2"}),
        (["maybe", "n", "n", "n"], set()),
    ],
)
def test_choose_hunks_follows_the_answers(answers, chosen):
    replies = iter(answers)
    out = io.StringIO()
    assert choose_hunks(CHANGES, lambda _p: next(replies), out) == chosen


def test_choose_hunks_ctrl_c_cancels_everything():
    def interrupt(_prompt: str) -> str:
        raise KeyboardInterrupt

    assert choose_hunks(CHANGES, interrupt, io.StringIO()) is None


@pytest.mark.parametrize("line, hunk", [(1, "a#1"), (9, "a#2"), (50, "a#1"), (None, "a#1")])
def test_hunk_for_line(line, hunk):
    assert hunk_for_line(CHANGES.files[0], line) == hunk


def test_cell_hunks_get_a_header_line():
    assert hunk_text(H("n#1", "cell 2 (code)", "-a\n+b\n")) == "@@ cell 2 (code) @@\n-a\n+b\n"


class FakeShell:
    def __init__(self, ns=None, kernel=None):
        self.user_ns = ns or {}
        self.kernel = kernel


@pytest.mark.parametrize(
    "shell, env, view",
    [
        (FakeShell(kernel=object()), {"JPY_SESSION_NAME": "/x/a.ipynb"}, "widgets"),
        (FakeShell({"__vsc_ipynb_file__": "/x/a.ipynb"}, kernel=object()), {}, "widgets"),
        (FakeShell(kernel=object()), {}, "headless"),  # nbclient / papermill
        (FakeShell(), {}, "headless"),  # a plain InteractiveShell
    ],
)
def test_detect_view(shell, env, view):
    assert detect_view(shell, env) == view


def test_namespace_summary_gives_types_and_shapes_never_values():
    class Frame:
        shape = (3, 2)
        columns = ("price", "qty")
        dtypes = ("float64", "int64")

    ns = {
        "df": Frame(),
        "rows": [1, 2, 3],
        "api_key": "sk-very-secret",
        "_hidden": 1,
        "text": "a private sentence",
    }
    summary = "\n".join(namespace_summary(ns))
    assert "df: " in summary and "shape=(3, 2)" in summary and "price: float64" in summary
    assert "rows: list (len=3)" in summary
    assert "api_key: str (value hidden)" in summary
    assert "sk-very-secret" not in summary and "private sentence" not in summary
    assert "_hidden" not in summary
    assert describe_value(len).startswith("builtin_function_or_method")


@pytest.mark.parametrize(
    "output, text",
    [
        ({"output_type": "stream", "text": ["a", "b"]}, "ab"),
        ({"output_type": "error", "ename": "KeyError", "evalue": "'x'"}, "KeyError: 'x'"),
        ({"output_type": "display_data", "data": {"image/png": "..."}}, "[image/png]"),
        ({"output_type": "execute_result", "data": {"text/plain": "42"}}, "42"),
    ],
)
def test_output_text(output, text):
    assert output_text(output) == text


def test_trim_says_how_much_was_cut():
    assert trim("x" * 10, 4) == "xxxx\n… [6 more characters]"
    assert trim("short", 10) == "short"


@pytest.mark.parametrize(
    "reason, error, outcome",
    [
        ("interrupted", "stopped by the user", "**Outcome:** stopped by the user\n"),
        ("error", "disk full", "**Outcome:** stopped by an error (disk full)\n"),
    ],
)
def test_report_outcome_names_the_error_once(reason, error, outcome):
    from agent_magic.paths import Project
    from agent_magic.session import Session
    from agent_magic.ui.report import session_report

    session = Session(task="t", project=Project("."), model="m")
    session.stop_reason, session.error = reason, error
    report = session_report(session)
    assert outcome in report
    assert report.count("stopped by the user") <= 1
