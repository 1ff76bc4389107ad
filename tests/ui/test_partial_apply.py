"""A partial apply is checked for exactly what it writes; the one record under the widget says so.

Real parts: an InteractiveShell, a scripted model through the magic, a git repo, and the
checks in bubblewrap (the selection's tests run in a sandboxed scratch copy).
"""

from __future__ import annotations

import io

import pytest

from agent_magic.paths import Project
from agent_magic.review.partial import SelectionCheck, check_selection, needed_files
from agent_magic.review.report import CheckReport
from agent_magic.staging import Staging
from tests.ui.runs import call, turn, write_script

CLEANING = "def clean(s):\n    return s.strip()\n"
PARSE = 'def parse_price(text):\n    return float(text.strip().lstrip("$").replace(",", ""))\n'
TEST = "from shop.cleaning import clean\n\n\ndef test_clean():\n    assert clean(' a ') == 'a'\n"
NEW_TEST = (
    "from shop.cleaning import clean, parse_price\n\n\ndef test_clean():\n"
    "    assert clean(' a ') == 'a'\n\n\ndef test_price():\n    assert parse_price('$1,234.50') == 1234.5\n"
)
FILES = {"shop/__init__.py": "", "shop/cleaning.py": CLEANING, "tests/test_cleaning.py": TEST}


def script(review: bool) -> list[dict]:
    """Add parse_price and its test; with the review on, the reviewer finds nothing."""
    turns = [
        turn(call("submit_understanding", restatement="parse prices", acceptance_criteria=["ok"])),
        turn(
            call(
                "submit_plan",
                summary="Add parse_price and a test",
                steps=[{"description": "add it", "files": ["shop/cleaning.py"]}],
            )
        ),
        turn(
            call(
                "create",
                path="shop/cleaning.py",
                content=CLEANING + "\n\n" + PARSE,
                overwrite=True,
            )
        ),
        turn(call("create", path="tests/test_cleaning.py", content=NEW_TEST, overwrite=True)),
        turn(call("finish", summary="parse_price added with a test")),
    ]
    if review:
        turns.append(turn(call("finish", summary="looks right")))
    return turns


def test_needed_files_names_the_left_out_module_an_applied_test_imports():
    contents = {"tests/test_cleaning.py": NEW_TEST.encode(), "docs.md": b"import shop"}
    missing = {"shop/cleaning.py": (1, 1), "shop/other.py": (1, 1)}
    assert needed_files(contents, missing) == {"tests/test_cleaning.py": ["shop/cleaning.py"]}
    assert needed_files({"shop/other.py": b"x = 1\n"}, missing) == {}


def test_not_rechecked_record_names_what_the_applied_files_need(make_repo):
    root = make_repo(FILES)
    staging = Staging(Project(root))
    staging.create("shop/cleaning.py", CLEANING + "\n\n" + PARSE, overwrite=True)
    staging.create("tests/test_cleaning.py", NEW_TEST, overwrite=True)
    changeset = staging.changeset()
    test_hunks = set(changeset.file("tests/test_cleaning.py").hunk_ids())
    check = check_selection(root, changeset, test_hunks, run=False)
    assert isinstance(check, SelectionCheck) and not check.rechecked and not check.blocks
    assert check.left_out == {"shop/cleaning.py": (1, 1)}
    line = check.record_line()
    assert "applied in part" in line
    assert "`shop/cleaning.py` (imported by `tests/test_cleaning.py`)" in line


def test_without_a_sandbox_the_record_says_checked_as_a_whole_applied_in_part(make_repo):
    root = make_repo(FILES)
    staging = Staging(Project(root))
    staging.create("shop/cleaning.py", CLEANING + "\n\n" + PARSE, overwrite=True)
    staging.create("tests/test_cleaning.py", NEW_TEST, overwrite=True)
    changeset = staging.changeset()
    seen = []

    def no_sandbox(checked_root, contents, **options):
        seen.append((checked_root, sorted(contents), options["full_suite"]))
        return CheckReport(not_run="no sandbox is available (bwrap missing)")

    test_hunks = set(changeset.file("tests/test_cleaning.py").hunk_ids())
    check = check_selection(root, changeset, test_hunks, checker=no_sandbox)
    assert seen == [(root, ["tests/test_cleaning.py"], False)]  # only the selection, fast
    assert not check.rechecked and not check.blocks
    assert check.record_line() == (
        "checked as a whole, applied in part (the selection was not re-checked: no sandbox "
        "is available (bwrap missing)); left out but needed: `shop/cleaning.py` (imported by "
        "`tests/test_cleaning.py`)"
    )


def wait_for(controller, timeout: float = 120.0) -> None:
    if controller.worker is not None:
        controller.worker.join(timeout)
        assert not controller.worker.is_alive()


@pytest.mark.slow
def test_a_partial_apply_shows_the_selections_checks_and_the_record_says_so(
    ip, magics, make_repo, tmp_path
):
    root = make_repo(FILES)
    spec = write_script(tmp_path, script(review=True))
    ip.run_cell_magic("agent", f"--model {spec} -p {root} --view widgets", "add parse_price")
    assert magics.last_run.wait(120)
    view = magics.last_view
    panel = view.panel
    session = magics.last_run.session
    assert session.stop_reason == "done", session.error
    assert session.checks.ok  # the whole change is green
    assert "all green" in view.record

    # take the test, leave the module it tests
    keep = set(session.changeset.file("tests/test_cleaning.py").hunk_ids())
    panel.diff.decide([h for h in panel.diff.hunk_ids() if h not in keep], "rejected")
    panel.apply_button.click()
    wait_for(view)
    assert "Not applied: the selected hunks alone fail the checks" in panel.message.value
    assert (root / "tests/test_cleaning.py").read_text() == TEST  # nothing written
    shown = panel.selection_checks.value
    assert "Checks of the selected hunks: problems found" in shown
    assert "tests/test_cleaning.py" in shown and "shop/cleaning.py" in shown
    assert panel.confirm.layout.display is None  # the user may still decide to apply

    panel.confirm.value = True
    panel.apply_button.click()  # the same selection: its checks are not run again
    wait_for(view)
    assert "Applied 1 file(s)" in panel.message.value
    assert (root / "tests/test_cleaning.py").read_text() == NEW_TEST
    assert (root / "shop/cleaning.py").read_text() == CLEANING
    record = view.record
    assert "the selection re-checked on its own: problems found" in record
    assert "newly failing" in record
    assert (
        "left out but needed: `shop/cleaning.py` (imported by `tests/test_cleaning.py`)" in record
    )
    assert "**Checks of the whole change:** all green" in record
    assert str(root) not in record and str(tmp_path) not in record

    panel.undo_button.click()
    assert (root / "tests/test_cleaning.py").read_text() == TEST
    assert "re-checked" not in view.record and "was undone" in view.record


@pytest.mark.slow
def test_a_selection_that_passes_on_its_own_is_applied_at_once(ip, magics, make_repo, tmp_path):
    root = make_repo(FILES)
    spec = write_script(tmp_path, script(review=True))
    ip.run_cell_magic("agent", f"--model {spec} -p {root} --view widgets", "add parse_price")
    assert magics.last_run.wait(120)
    view, panel = magics.last_view, magics.last_view.panel
    module = set(magics.last_run.session.changeset.file("shop/cleaning.py").hunk_ids())
    panel.diff.decide([h for h in panel.diff.hunk_ids() if h not in module], "rejected")
    panel.apply_button.click()
    wait_for(view)
    assert "Applied 1 file(s)" in panel.message.value
    assert "the selection re-checked on its own: all green" in view.record
    assert "left out but needed" not in view.record


def test_without_review_a_partial_apply_is_marked_and_names_the_dependency(
    ip, magics, make_repo, tmp_path
):
    root = make_repo(FILES)
    spec = write_script(tmp_path, script(review=False))
    ip.run_cell_magic(
        "agent", f"--model {spec} -p {root} --no-review --view widgets", "add parse_price"
    )
    assert magics.last_run.wait(60)
    view, panel = magics.last_view, magics.last_view.panel
    tests = set(magics.last_run.session.changeset.file("tests/test_cleaning.py").hunk_ids())
    panel.diff.decide([h for h in panel.diff.hunk_ids() if h not in tests], "rejected")
    panel.apply_button.click()
    assert view.worker is None  # nothing to run: no thread, no wait
    assert "Applied 1 file(s)" in panel.message.value
    assert "applied in part" in view.record
    assert "`shop/cleaning.py` (imported by `tests/test_cleaning.py`)" in view.record
    assert "Left out of the change" in panel.selection_checks.value


@pytest.mark.slow
def test_the_terminal_shows_the_selections_checks_and_asks_before_writing(
    ip, make_repo, tmp_path, capsys
):
    from agent_magic.magic import AgentMagics

    root = make_repo(FILES)
    spec = write_script(tmp_path, script(review=True))
    out = io.StringIO()
    prompts: list[str] = []
    answers = {"shop/cleaning.py": "n", "tests/test_cleaning.py": "y", "anyway": "n"}

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return next(reply for key, reply in answers.items() if key in prompt)

    ip.register_magics(AgentMagics(ip, out=out, input_fn=answer))
    ip.run_cell_magic("agent", f"--model {spec} -p {root} --view text", "add parse_price")
    printed = out.getvalue()
    assert "Checks of the selected hunks: problems found" in printed
    assert "`" not in printed.split("Checks of the selected hunks", 1)[1]  # rendered
    assert any("Apply anyway?" in p for p in prompts)
    assert (root / "tests/test_cleaning.py").read_text() == TEST  # nothing written
    assert "Not applied: the selected hunks alone fail the checks." in capsys.readouterr().out
