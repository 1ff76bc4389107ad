"""The panel on its own: findings jump to hunks, blockers need the confirm box, long diffs collapse."""

from __future__ import annotations

from agent_magic.paths import Project
from agent_magic.records import Finding
from agent_magic.staging import Staging
from agent_magic.ui.diffview import DiffView
from agent_magic.ui.widgets import AgentPanel, Callbacks
from tests.ui.runs import CALC


class Held:
    """The parts of a Session the panel reads."""

    def __init__(self, changeset, findings):
        self.changeset = changeset
        self.findings = findings
        self.checks = None


def staged(make_repo):
    root = make_repo({"calc.py": CALC})
    staging = Staging(Project(root))
    staging.replace("calc.py", "    return a - b\n", "    return a + b\n")
    staging.replace(
        "calc.py", "def mul(a, b):\n    return a + b\n", "def mul(a, b):\n    return a * b\n"
    )
    return staging.changeset()


def test_finding_link_reveals_its_hunk_and_blockers_show_the_confirm_box(make_repo):
    changeset = staged(make_repo)
    calls = []
    panel = AgentPanel("task", Callbacks(apply=lambda sel, allow: calls.append((sel, allow))))
    mul_line = CALC.splitlines().index("    return a + b") + 1
    blocker = Finding("blocker", "mul is still wrong", "calc.py", mul_line)
    panel.show_result(Held(changeset, [blocker]), can_apply=True)

    assert panel.confirm.layout.display is None
    link = panel.findings.rows[0].children[1]
    link.click()
    focused = [
        hid
        for hid, box in panel.diff.hunk_boxes.items()
        if "agent-hunk-focus" in box.get_state("_dom_classes")["_dom_classes"]
    ]
    assert focused == [changeset.hunk_ids()[1]]

    panel.confirm.value = True
    panel.apply_button.click()
    assert calls == [(set(changeset.hunk_ids()), True)]


def test_long_diffs_start_collapsed_and_render_when_opened(make_repo):
    view = DiffView(staged(make_repo), collapse_lines=3)
    section = view.sections["calc.py"]
    assert section.selected_index is None
    assert "open to view" in section.children[0].children[0].value

    section.selected_index = 0
    rendered = section.children[0].children
    assert len(rendered) == 2 and "span" in rendered[0].children[1].value
