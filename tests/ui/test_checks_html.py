"""The check report is shown folded under its title, never as escaped markdown."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

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
                "<details><summary><b>Checks: problems found</b></summary><pre style='white-space:pre-wrap'>"
                "### Tests\n- newly failing: 1 &lt;x&gt;</pre></details>"
            ),
        ),
    ],
)
def test_checks_html(report, expected):
    assert checks_html(report) == expected
