"""The panel and the review widget on their own: decisions, messages, reveal, state, apply."""

from __future__ import annotations

import json

from agent_magic.paths import Project
from agent_magic.records import Finding
from agent_magic.staging import Staging
from agent_magic.ui.diffview import DiffView
from agent_magic.ui.widgets import AgentPanel, Callbacks
from tests.ui.runs import CALC


class Held:
    """The parts of a Session the panel reads."""

    def __init__(self, changeset, findings, project=None):
        self.changeset = changeset
        self.findings = findings
        self.checks = None
        self.project = project or Project(".")


def staged(make_repo):
    root = make_repo({"calc.py": CALC})
    staging = Staging(Project(root))
    staging.replace("calc.py", "    return a - b\n", "    return a + b\n")
    staging.replace(
        "calc.py", "def mul(a, b):\n    return a + b\n", "def mul(a, b):\n    return a * b\n"
    )
    return staging.changeset()


def message(view: DiffView, content: object) -> None:
    """A custom message as the front end sends it (``model.send``)."""
    view._handle_custom_msg(content, [])  # noqa: SLF001 - how anywidget's own tests send one


MUL_LINE = CALC.splitlines().index("    return a + b") + 1


def test_the_frontend_asks_and_the_kernel_decides(make_repo):
    changeset = staged(make_repo)
    first, second = changeset.hunk_ids()
    view = DiffView(changeset)
    assert view.selection() == {first, second}  # undecided hunks are applied

    message(view, {"type": "decide", "ids": [first], "decision": "accepted"})
    message(view, {"type": "decide", "ids": [second, "calc.py#99"], "decision": "rejected"})
    assert view.decisions == {first: "accepted", second: "rejected"}  # the unknown id is ignored
    assert view.selection() == {first}

    message(view, {"type": "decide", "ids": [second], "decision": "pending"})
    assert view.selection() == {first, second}
    for bad in (
        {"type": "decide", "ids": [first], "decision": "maybe"},
        {"type": "decide", "ids": first, "decision": "rejected"},
        {"type": "nonsense"},
        ["not", "a", "dict"],
    ):
        message(view, bad)
    assert view.decisions == {first: "accepted"}

    view.set_enabled(False)  # after apply: a stale page cannot change what was written
    message(view, {"type": "decide", "ids": [first], "decision": "rejected"})
    assert view.decisions == {first: "accepted"}

    message(view, {"type": "mode", "mode": "split"})
    message(view, {"type": "mode", "mode": "sideways"})
    assert view.mode == "split"


def test_the_apply_label_is_the_kernels_and_follows_the_decisions(make_repo):
    changeset = staged(make_repo)
    first, second = changeset.hunk_ids()
    view = DiffView(changeset)
    assert view.apply_label == "Apply all 2 (none reviewed)"
    message(view, {"type": "decide", "ids": [first], "decision": "accepted"})
    assert view.apply_label == "Apply all 2 (1 not reviewed)"
    message(view, {"type": "decide", "ids": [second], "decision": "rejected"})
    assert view.apply_label == "Apply 1 of 2 hunks (1 rejected)"
    assert view.get_state()["apply_label"] == view.apply_label  # saved with the notebook
    message(view, {"type": "decide", "ids": [first, second], "decision": "accepted"})
    assert view.apply_label == "Apply 2 hunks"
    message(view, {"type": "decide", "ids": [first, second], "decision": "rejected"})
    assert view.apply_label == "Nothing to apply (2 hunks rejected)"


def test_file_decisions_and_reveal(make_repo):
    changeset = staged(make_repo)
    first, second = changeset.hunk_ids()
    view = DiffView(changeset)
    view.decide_file("calc.py", "rejected")
    assert view.selection() == set()
    view.decide_file("calc.py", "accepted")
    assert view.decisions == {first: "accepted", second: "accepted"}

    assert view.reveal("calc.py", MUL_LINE) == second and view.focus == second
    assert view.reveal("calc.py", None) == first and view.focus == first
    assert view.reveal("other.py", 3) is None and view.focus == first


def test_findings_sit_on_their_lines_and_blockers_say_so(make_repo):
    changeset = staged(make_repo)
    view = DiffView(
        changeset,
        [
            Finding("blocker", "mul is still wrong", "calc.py", MUL_LINE, suggestion="use *"),
            Finding("minor", "a comment far from any change", "calc.py", 8),
            Finding("nit", "the whole change lacks a test"),
            Finding("major", "a file outside the change", "other.py", 3, status="fixed"),
        ],
    )
    placed = {f["message"]: (f["placement"], f["blocking"]) for f in view.findings}
    assert placed == {
        "mul is still wrong": ("line", True),
        "a comment far from any change": ("file", False),
        "the whole change lacks a test": ("top", False),
        "a file outside the change": ("top", False),
    }
    assert view.findings[0]["suggestion"] == "use *" and view.findings[0]["line"] == MUL_LINE


def test_the_saved_state_carries_everything_the_frontend_draws(make_repo):
    view = DiffView(staged(make_repo), [Finding("major", "m", "calc.py", MUL_LINE)])
    view.decide([view.hunk_ids()[0]], "rejected")
    state = json.loads(json.dumps(view.get_state()))  # what a notebook's widget state holds
    assert "render" in state["_esm"]
    [file] = state["files"]
    assert "    return a - b\n" in file["old"] and "    return a * b\n" in file["new"]
    assert [h["changes"] for h in file["hunks"]] == [[[1, 2, 1, 2]], [[19, 20, 19, 20]]]
    assert file["language"] == "python" and (file["added"], file["removed"]) == (2, 2)
    assert state["findings"][0]["message"] == "m"
    assert state["decisions"] == {view.hunk_ids()[0]: "rejected"}


def test_panel_apply_takes_the_hunks_not_rejected_and_locks_after(make_repo):
    changeset = staged(make_repo)
    first, second = changeset.hunk_ids()
    calls = []
    panel = AgentPanel("task", Callbacks(apply=lambda sel, allow: calls.append((sel, allow))))
    blocker = Finding("blocker", "mul is still wrong", "calc.py", MUL_LINE)
    panel.show_result(Held(changeset, [blocker]), can_apply=True)
    assert panel.confirm.layout.display is None
    assert panel.apply_button.description == "Apply all 2 (none reviewed)"
    assert "not reviewed" in panel.apply_button.tooltip and "rejected" in panel.apply_button.tooltip
    assert "1 blocker" in panel.findings.count.value

    message(panel.diff, {"type": "decide", "ids": [second], "decision": "rejected"})
    assert panel.apply_button.description == "Apply 1 of 2 hunks (1 rejected, 1 not reviewed)"
    panel.confirm.value = True
    panel.apply_button.click()
    assert calls == [({first}, True)]

    panel.show_applied("cp-1")
    assert not panel.diff.enabled
    panel.show_undone()
    assert panel.diff.enabled
