"""--effort and --max-tokens: checked against the model before a run, passed to the agent."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError

from tests.ui.runs import CALC, fix_calc, write_script


@pytest.fixture
def calc_repo(make_repo) -> Path:
    return make_repo({"calc.py": CALC})


@pytest.mark.parametrize(
    "line, message",
    [
        ("--max-tokens 0", "must be positive"),
        ("--effort extreme", "invalid choice"),
        ("--model claude-opus-5-5 --effort off", "cannot turn thinking off"),
        ("--model claude-sonnet-4-5 --effort high", "takes no effort setting"),
        (
            "--model claude-sonnet-4-6 --max-tokens 100000",
            "above claude-sonnet-4-6's output limit of 64000",
        ),
    ],
)
def test_settings_the_model_cannot_take_are_usage_errors(
    ip, magics, calc_repo, monkeypatch, line, message
):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    with pytest.raises(UsageError, match=message):
        ip.run_cell_magic("agent", f"-p {calc_repo} --view headless {line}", "fix add")
    assert (calc_repo / "calc.py").read_text() == CALC


def test_options_and_traits_reach_the_agent_config(ip, magics, calc_repo, tmp_path):
    seen = []

    def factory(project, model, config, on_event, decider=None):
        from agent_magic.magic import default_agent_factory

        seen.append(config)
        return default_agent_factory(project, model, config, on_event)

    magics.agent_factory = factory
    magics.model = write_script(tmp_path, fix_calc())
    magics.review = False
    magics.effort = "low"
    ip.run_cell_magic("agent", f"-p {calc_repo} --view headless --max-tokens 9000", "fix add")
    assert (seen[-1].max_tokens, seen[-1].effort) == (9000, "low")
    magics.max_tokens = 12000
    ip.run_cell_magic("agent", f"-p {calc_repo} --view headless --effort off", "fix add")
    assert (seen[-1].max_tokens, seen[-1].effort) == (12000, "off")
    with pytest.raises(Exception, match="effort"):
        magics.effort = "extreme"
