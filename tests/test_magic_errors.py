"""User mistakes at the magic become UsageError and change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError


def test_missing_api_key_says_how_to_set_it_and_how_to_run_offline(
    ip, sample_repo: Path, monkeypatch
):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("AGENT_MAGIC_MODEL", raising=False)
    before = (sample_repo / "shoplytics" / "cleaning.py").read_bytes()
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("agent", f"--view headless -p {sample_repo}", "fix the failing test")
    message = str(info.value)
    assert "%env ANTHROPIC_API_KEY=" in message and "scripted:PATH" in message
    assert "api_key=" not in message  # a magic user cannot pass arguments to the client
    assert (sample_repo / "shoplytics" / "cleaning.py").read_bytes() == before
    assert not (sample_repo / ".agent_magic").exists()


def test_apply_without_a_session_is_a_usage_error(ip):
    with pytest.raises(UsageError, match="no session to apply"):
        ip.run_line_magic("agent", "apply")


def test_generated_help_names_the_magic(ip):
    assert "%%agent [-m MODEL]" in ip.find_cell_magic("agent").__doc__


def test_runs_on_one_project_share_its_index_and_see_new_files(ip, sample_repo: Path, tmp_path):
    import json

    from agent_magic.magic import _INDEXES
    from tests.scripts import fix_failing_test

    script = tmp_path / "s.json"
    script.write_text(json.dumps(fix_failing_test()[:-1] * 2))  # no review turns
    line = f"--view headless --no-review -p {sample_repo} --model scripted:{script}"
    ip.run_cell_magic("agent", line, "fix the failing test")
    index = _INDEXES[sample_repo.resolve()]
    (sample_repo / "shoplytics" / "extra.py").write_text("def extra():\n    return 1\n")
    ip.run_cell_magic("agent", line, "fix the failing test")
    assert _INDEXES[sample_repo.resolve()] is index
    assert "shoplytics/extra.py" in index.files()


def test_undo_of_an_unknown_checkpoint_points_to_history(ip, sample_repo: Path, monkeypatch):
    monkeypatch.chdir(sample_repo)
    with pytest.raises(UsageError, match=r"no checkpoint 'nosuch'.*%agent history"):
        ip.run_line_magic("agent", "undo nosuch")


def test_undo_all_with_force_is_refused_not_ignored(ip):
    with pytest.raises(UsageError, match=r"usage: %agent undo"):
        ip.run_line_magic("agent", "undo --all --force")
