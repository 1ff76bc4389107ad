"""The review's saved copy in the cell output: present, redacted, no local paths, bounded."""

from __future__ import annotations

import json
import os
import sys

from agent_magic.paths import Project
from agent_magic.records import Finding
from agent_magic.staging.changeset import Changeset, make_change
from agent_magic.ui import reviewsnapshot
from agent_magic.ui.diffview import DiffView
from agent_magic.ui.reviewsnapshot import MAX_CHARS, MIME, snapshot
from agent_magic.ui.widgets import AgentPanel, Callbacks
from tests.ui.runs import CALC, fix_calc, write_script
from tests.ui.test_widgets import MUL_LINE, Held, staged

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
KEY = "sk-ant-api03-" + "x" * 40  # the shape of an Anthropic key


def big_change(lines: int = 5000) -> Changeset:
    old = "".join(f"value_{i} = {i}\n" for i in range(lines)).encode()
    new = "".join(f"value_{i} = {i} * 2  # doubled\n" for i in range(lines)).encode()
    return Changeset([make_change("big.py", old, new)])


def test_the_widget_output_carries_the_copy_beside_the_view(make_repo):
    view = DiffView(
        staged(make_repo), [Finding("major", "mul", "calc.py", MUL_LINE, suggestion="*")]
    )
    view.decide([view.hunk_ids()[1]], "rejected")
    data, _metadata = view._repr_mimebundle_()
    assert set(data) == {"text/plain", WIDGET_VIEW, MIME}
    copy = json.loads(json.dumps(data[MIME]))  # what the notebook saves
    assert (copy["version"], copy["state"], copy["notes"], copy["session"]) == (1, "ready", [], "")
    assert copy["files"] == json.loads(json.dumps(view.files))  # small: exactly what it draws
    assert copy["findings"][0]["suggestion"] == "*" and copy["findings"][0]["placement"] == "line"
    assert copy["decisions"] == {view.hunk_ids()[1]: "rejected"}


def test_no_secret_value_and_no_path_of_this_machine(make_repo, monkeypatch):
    monkeypatch.setenv("SHOP_API_TOKEN", "tok-9f8e7d6c5b4a3210")
    root = make_repo({"conf.py": "URL = 'x'\n"})
    home = os.path.expanduser("~")
    new = (
        f"URL = 'x'\nTOKEN = 'tok-9f8e7d6c5b4a3210'\nKEY = '{KEY}'\n"
        f"DATA = '{root}/data.csv'\nCACHE = '{home}/.cache/shop'\nPY = '{sys.executable}'\n"
    )
    changeset = Changeset([make_change("conf.py", b"URL = 'x'\n", new.encode())])
    finding = Finding("blocker", f"{root}/conf.py leaks {KEY}", "conf.py", 2, suggestion=KEY)
    view = DiffView(changeset, [finding], root=root)
    text = json.dumps(view._repr_mimebundle_()[0][MIME], ensure_ascii=False)
    for secret in ("tok-9f8e7d6c5b4a3210", KEY, str(root), home + "/", sys.executable):
        assert secret not in text
    assert "[REDACTED]" in text and "'data.csv'" in text and "~/.cache/shop" in text
    assert view.files[0]["new"] == new  # the live widget shows the file as it is


def test_a_5000_line_change_is_bounded_and_says_what_it_left_out():
    small = make_change("notes.md", b"# Notes\n", b"# Notes\nBigger now.\n")
    changeset = Changeset([*big_change().files, small])
    copy = snapshot(changeset, [Finding("minor", "doubled", "big.py", 10, suggestion="halve")])
    assert len(json.dumps(copy, ensure_ascii=False)) <= MAX_CHARS
    big, notes = copy["files"]
    assert big["view"] == "hunks" and big["hunks"][0]["text"].startswith("-value_0 = 0\n")
    assert notes["view"] == "text" and "Bigger now." in notes["new"]  # small files stay whole
    assert (big["added"], big["removed"]) == (5000, 5000)  # the change as it is, not the copy
    [note] = copy["notes"]
    assert "bounded to 200,000 characters" in note and "changed line(s)" in note
    left = int(note.split("not shown: ")[1].split(" changed")[0].replace(",", ""))
    shown = sum(1 for line in big["hunks"][0]["text"].splitlines() if line[:1] in "+-")
    assert shown + left == 10_000
    assert copy["findings"][0]["suggestion"] == "halve"


def test_files_beyond_the_bound_are_named_and_small_ones_stay_whole():
    body = "".join(f"x{j} = {j}\n" for j in range(400)).encode()
    files = [make_change(f"m{i:03}.py", b"", body) for i in range(100)]
    files.insert(3, make_change("tiny.py", b"a = 1\n", b"a = 2\n"))
    copy = snapshot(Changeset(files), limit=50_000)
    assert len(json.dumps(copy, ensure_ascii=False)) <= 50_000
    kept = [f["path"] for f in copy["files"]]
    assert "tiny.py" in kept and 10 < len(kept) < 30
    assert all(f["hunks"] for f in copy["files"])
    [note] = copy["notes"]
    first_left_out = next(c.path for c in files if c.path not in kept)
    assert f"{101 - len(kept)} file(s) ({first_left_out}, " in note
    assert "more)" in note


def test_the_panel_copy_follows_the_run(make_repo):
    panel = AgentPanel("task", Callbacks())
    assert panel._repr_mimebundle_()[MIME]["state"] == "running"
    panel.hide_stop()  # the run failed: no review
    ended = panel._repr_mimebundle_()[MIME]
    assert ended["state"] == "ready" and ended["files"] == [] and ended["notes"]
    changeset = staged(make_repo)
    panel.show_result(Held(changeset, [], Project(make_repo({"x": ""}))), can_apply=True)
    data = panel._repr_mimebundle_()
    assert data[WIDGET_VIEW]["model_id"] == panel.model_id
    assert [f["path"] for f in data[MIME]["files"]] == ["calc.py"]


def test_the_run_output_is_resent_with_the_review_once_it_is_there(ip, magics, make_repo, tmp_path):
    from IPython.utils.capture import capture_output

    repo = make_repo({"calc.py": CALC})
    spec = write_script(tmp_path, fix_calc())
    with capture_output() as captured:
        ip.run_cell_magic("agent", f"--model {spec} -p {repo} --no-review --view widgets", "fix")
        assert magics.last_run.wait(60)
    panel = magics.last_view.panel
    shown = [
        o for o in captured.outputs if o.data.get(WIDGET_VIEW, {}).get("model_id") == panel.model_id
    ]
    assert [(o.update, o.data[MIME]["state"]) for o in shown] == [
        (False, "running"),
        (True, "ready"),
    ]
    assert len({o.transient["display_id"] for o in shown}) == 1
    assert [f["path"] for f in shown[1].data[MIME]["files"]] == ["calc.py"]
    # the copy names the session, so `%agent apply ID` can apply it from another kernel
    assert shown[1].data[MIME]["session"] == magics.last_run.session.id


def test_a_copy_keeps_only_the_decisions_of_its_hunks():
    copy = reviewsnapshot.snapshot(big_change(10), decisions={"elsewhere#1": "rejected"})
    assert copy["decisions"] == {}


def test_the_saved_copy_says_when_its_change_is_applied_and_undone(ip, magics, make_repo, tmp_path):
    # A notebook saved after Apply reopens naming the checkpoint (`%agent undo` it from any
    # kernel), not offering to apply the change again; after Undo, the other way round.
    from IPython.utils.capture import capture_output

    repo = make_repo({"calc.py": CALC})
    spec = write_script(tmp_path, fix_calc())
    with capture_output() as captured:
        ip.run_cell_magic("agent", f"--model {spec} -p {repo} --no-review --view widgets", "fix")
        assert magics.last_run.wait(60)
        view = magics.last_view
        view.apply(set(magics.last_run.session.changeset.hunk_ids()), False)
        checkpoint = view.panel.checkpoint_id
        assert checkpoint and (repo / "calc.py").read_text() != CALC
        view.undo(checkpoint)
        assert (repo / "calc.py").read_text() == CALC
    panel = view.panel
    shown = [
        o.data[MIME]
        for o in captured.outputs
        if o.data.get(WIDGET_VIEW, {}).get("model_id") == panel.model_id
    ]
    assert [(c["state"], c["applied"]) for c in shown] == [
        ("running", ""),
        ("ready", ""),
        ("ready", checkpoint),
        ("ready", ""),
    ]
