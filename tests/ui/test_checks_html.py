"""The check report is shown folded under its title, rendered: never as raw or escaped markdown."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from agent_magic.review.report import CheckProblem, CheckReport, TestOutcome
from agent_magic.ui.markup import markdown_html, markdown_plain
from agent_magic.ui.widgets import checks_html


@dataclass
class Report:
    text: str

    def summary(self) -> str:
        return self.text


@pytest.mark.parametrize(
    "report, expected",
    [
        (None, ""),
        (Report("## Checks: all green"), "<b>Checks: all green</b>"),
        (
            Report("## Checks: problems found\n\n### Tests\n- newly failing: 1 <x>"),
            (
                "<details><summary><b>Checks: problems found</b></summary>"
                "<div style='margin-left:1.2em'><h5 style='margin:0.4em 0 0.2em'>Tests</h5>"
                "<ul style='margin:0.2em 0'><li>newly failing: 1 &lt;x&gt;</li></ul></div>"
                "</details>"
            ),
        ),
    ],
)
def test_checks_html(report, expected):
    assert checks_html(report) == expected


@pytest.mark.parametrize(
    "markdown, html",
    [
        ("**Task:** fix `a<b`", "<div><b>Task:</b> fix <code>a&lt;b</code></div>"),
        (
            "### Compile\nno errors",
            "<h5 style='margin:0.4em 0 0.2em'>Compile</h5><div>no errors</div>",
        ),
        (
            "```\n### not a heading\n```",
            "<pre style='white-space:pre-wrap'>### not a heading</pre>",
        ),
        ("- a\n- b\ntext", "<ul style='margin:0.2em 0'><li>a</li><li>b</li></ul><div>text</div>"),
    ],
)
def test_markdown_html(markdown, html):
    assert markdown_html(markdown) == html


@pytest.mark.parametrize(
    "markdown, plain",
    [
        ("### %%agent `s1`\n\n**Task:** fix it\n", "%%agent s1\n\nTask: fix it\n"),
        ("- **Files:** `a.py` +1 −0", "- Files: a.py +1 −0"),
        ("```\n**kept**\n```", "    **kept**"),
    ],
)
def test_markdown_plain_takes_the_markup_off(markdown, plain):
    assert markdown_plain(markdown) == plain


def test_a_real_report_renders_without_markdown_left():
    report = CheckReport(
        compile_errors=[CheckProblem("a.py", "invalid syntax", line=3)],
        lint_ran=True,
        tests=TestOutcome(ran=True, scope="related", command=["python", "-m", "pytest"]),
    )
    report.tests.command = [sys.executable, "-m", "pytest"]
    shown = checks_html(report)
    assert "###" not in shown and "**" not in shown and "<h5" in shown
    assert sys.executable not in shown and "<code>python -m pytest</code>" in shown
    assert "a.py:3: invalid syntax" in shown
