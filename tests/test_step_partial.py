"""Step mode: an approval that leaves hunks out is checked on exactly those hunks before writing.

The fast tests inject the checker through the Agent's constructor (it sees what would be
written); the slow ones run the real checks in bubblewrap through the magic on a real shell,
with the widget buttons and the terminal prompt.
"""

from __future__ import annotations

import io
from dataclasses import replace

import pytest

from agent_magic.agent import Agent, AgentConfig
from agent_magic.decisions import Decision, ScriptedDecider, StepPause
from agent_magic.events import StepDecided
from agent_magic.magic import AgentMagics
from agent_magic.models.scripted import ScriptedModel
from agent_magic.review.partial import SelectionCheck
from agent_magic.review.report import CheckReport, TestOutcome
from agent_magic.staging.changeset import Changeset, make_change
from agent_magic.stepping import StepMode
from agent_magic.ui.console import step_text
from agent_magic.ui.report import session_record
from agent_magic.ui.widgets import Callbacks, StepView
from tests.conftest import user_texts
from tests.scripts import UNDERSTAND, call, turn
from tests.ui.runs import write_script

MODULE = "shop/cleaning.py"
TEST = "tests/test_cleaning.py"
CLEANING = "def clean(s):\n    return s.strip()\n"
PARSE = 'def parse_price(text):\n    return float(text.strip().lstrip("$").replace(",", ""))\n'
OLD_TEST = (
    "from shop.cleaning import clean\n\n\ndef test_clean():\n    assert clean(' a ') == 'a'\n"
)
NEW_TEST = (
    "from shop.cleaning import clean, parse_price\n\n\ndef test_clean():\n"
    "    assert clean(' a ') == 'a'\n\n\ndef test_price():\n"
    "    assert parse_price('$1,234.50') == 1234.5\n"
)
FILES = {"shop/__init__.py": "", MODULE: CLEANING, TEST: OLD_TEST}
NEEDED = f"left out but needed: `{MODULE}` (imported by `{TEST}`)"
FAILING = "tests/test_cleaning.py::test_price"


def script(model_review: bool = False) -> list[dict]:
    """Two steps: parse_price with its test, then nothing more."""
    plan = turn(
        call(
            "submit_plan",
            summary="Add parse_price and a test",
            steps=[
                {"description": "add parse_price and its test", "files": [MODULE, TEST]},
                {"description": "check the rest"},
            ],
        )
    )
    step1 = [
        turn(call("create", path=MODULE, content=CLEANING + "\n\n" + PARSE, overwrite=True)),
        turn(call("create", path=TEST, content=NEW_TEST, overwrite=True)),
        turn(call("finish", summary="parse_price added with a test")),
    ]
    reviewed = [turn(call("finish", summary="looks right"))] if model_review else []
    step2 = [turn(call("finish", summary="nothing more"))]
    return [UNDERSTAND, plan, *step1, *reviewed, *step2, *reviewed]


class Checker:
    """The checks as the review would give them: the test fails when its module is left out."""

    def __init__(self) -> None:
        self.seen: list[list[str]] = []  # the paths of each checked change

    def __call__(self, root, changes, **options) -> CheckReport:
        self.seen.append(sorted(changes))
        if TEST in changes and MODULE not in changes:
            tests = TestOutcome(
                ran=True,
                scope="related",
                newly_failing=[FAILING],
                reasons={FAILING: "ImportError: cannot import name 'parse_price'"},
            )
            return CheckReport(lint_ran=True, tests=tests)
        return CheckReport(lint_ran=True, tests=TestOutcome(ran=True, scope="related"))

    @property
    def selections(self) -> list[list[str]]:
        """The checked changes that were a selection (one file of the two)."""
        return [paths for paths in self.seen if len(paths) == 1]


def hunks_of(pause: StepPause, path: str) -> frozenset[str]:
    return frozenset(pause.changeset.file(path).hunk_ids())


def run(root, answers, *, review: bool = True, checker: Checker | None = None):
    model = ScriptedModel(script())
    decider = ScriptedDecider(answers)
    events: list = []
    agent = Agent(
        root,
        model,
        AgentConfig(review=review, model_review=False),
        on_event=events.append,
        decider=decider,
        mode=StepMode(),
        checker=checker,
    )
    session = agent.run("add parse_price")
    return session, model, decider, [e for e in events if isinstance(e, StepDecided)]


def test_a_part_failing_its_own_checks_is_written_only_once_the_user_confirms(make_repo):
    root = make_repo(FILES)
    checker = Checker()
    shown: list[StepPause] = []

    def take_the_test_only(pause: StepPause) -> Decision:
        return Decision.approve(hunks_of(pause, TEST))

    def look_then_confirm(pause: StepPause) -> Decision:
        shown.append(pause)
        assert (root / TEST).read_text() == OLD_TEST  # nothing written yet
        return Decision.approve(pause.selection_check.selection, confirm=True)

    session, model, _decider, decided = run(
        root,
        [Decision.approve(), take_the_test_only, look_then_confirm, Decision.approve()],
        checker=checker,
    )

    assert session.stop_reason == "done", session.error
    [again] = shown
    assert again.step == 1 and again.attempt == 1  # the same step, asked again
    assert again.message.startswith("Not applied: the selected hunks alone fail the checks")
    assert "newly failing test(s)" in again.message
    check = again.selection_check
    assert check is not None and check.blocks and check.rechecked
    assert check.left_out == {MODULE: (1, 1)}
    # checked exactly the selection, once: the confirm reused the check the user saw
    assert checker.selections == [[TEST]]
    assert (root / TEST).read_text() == NEW_TEST and (root / MODULE).read_text() == CLEANING
    [first, _second] = session.step_outcomes
    assert first.action == "partly applied" and first.selection_check is check
    line = first.line()
    assert "the selection re-checked on its own: problems found" in line and NEEDED in line
    assert line in session.summary
    assert [d.action for d in decided] == ["checking", "failed", "partly applied", "empty"]
    assert decided[2].selection_check is check
    # the model hears what was left out and what the part's checks said
    notes = " ".join(user_texts(model.requests[-1]))
    assert "applied only in part" in notes and "Checks of what was applied" in notes
    assert "problems found" in notes
    # the transcript keeps the check and the confirm
    transcript = (root / ".agent_magic" / "sessions" / f"{session.id}.jsonl").read_text()
    assert transcript.count('"kind": "selection_checked"') == 1
    assert '"confirm": true' in transcript
    # the record says so, under the whole change's checks
    record = session_record(session)
    assert "**Step 1, partly applied** (checkpoint `" in record and NEEDED in record


def test_confirm_counts_only_for_the_part_whose_checks_were_shown(make_repo):
    root = make_repo(FILES)
    checker = Checker()

    def confirm_unseen(pause: StepPause) -> Decision:  # a confirm before any check was shown
        return Decision.approve(hunks_of(pause, TEST), confirm=True)

    session, _model, decider, decided = run(
        root, [Decision.approve(), confirm_unseen, Decision.stop()], checker=checker
    )

    assert [p.step for p in decider.pauses] == [0, 1, 1]
    assert decider.pauses[2].selection_check is not None
    assert (root / TEST).read_text() == OLD_TEST and (root / MODULE).read_text() == CLEANING
    assert session.checkpoints == []
    assert [o.action for o in session.step_outcomes] == ["stopped"]
    assert [d.action for d in decided] == ["checking", "failed", "stopped"]


def test_another_part_is_checked_again_and_a_passing_part_is_written_at_once(make_repo):
    root = make_repo(FILES)
    checker = Checker()

    def then_the_module_only(pause: StepPause) -> Decision:
        assert pause.selection_check is not None and pause.selection_check.blocks
        return Decision.approve(hunks_of(pause, MODULE), confirm=True)

    session, _model, _decider, decided = run(
        root,
        [
            Decision.approve(),
            lambda pause: Decision.approve(hunks_of(pause, TEST)),
            then_the_module_only,
            Decision.approve(),
        ],
        checker=checker,
    )

    assert session.stop_reason == "done", session.error
    assert checker.selections == [[TEST], [MODULE]]
    assert PARSE in (root / MODULE).read_text() and (root / TEST).read_text() == OLD_TEST
    outcome = session.step_outcomes[0]
    assert "the selection re-checked on its own: all green" in outcome.line()
    assert "left out but needed" not in outcome.line()
    assert [d.action for d in decided] == [
        "checking",
        "failed",
        "checking",
        "partly applied",
        "empty",
    ]


def test_the_whole_step_is_not_checked_again(make_repo):
    root = make_repo(FILES)
    checker = Checker()

    def every_hunk(pause: StepPause) -> Decision:
        return Decision.approve(set(pause.changeset.hunk_ids()))

    session, _model, _decider, decided = run(
        root, [Decision.approve(), every_hunk, Decision.approve()], checker=checker
    )

    assert checker.selections == []  # only the review's checks of the whole step
    assert [o.action for o in session.step_outcomes] == ["applied", "empty"]
    assert "checks:" not in session.summary and decided[0].selection_check is None


def test_without_review_a_part_is_marked_and_names_what_it_needs(make_repo):
    root = make_repo(FILES)
    session, _model, _decider, decided = run(
        root,
        [Decision.approve(), lambda p: Decision.approve(hunks_of(p, TEST)), Decision.approve()],
        review=False,
        checker=Checker(),
    )

    assert session.stop_reason == "done", session.error
    assert (root / TEST).read_text() == NEW_TEST  # nothing ran, nothing to wait for
    line = session.step_outcomes[0].line()
    assert f"checks: not checked (review off), applied in part; {NEEDED}" in line
    assert [d.action for d in decided] == ["partly applied", "empty"]  # no "checking"


def test_the_record_of_a_step_counts_the_applied_hunks_the_user_did_not_review(
    ip, magics, make_repo, tmp_path
):
    root = make_repo(FILES)
    spec = write_script(tmp_path, script())
    ip.run_cell_magic(
        "agent", f"--step --model {spec} -p {root} --no-review --view widgets", "add parse_price"
    )
    view = magics.last_view
    steps = view.panel.steps
    assert next_pause(magics).is_plan
    view.panel.plan.approve.click()
    pause = next_pause(magics)
    steps.diff.decide(sorted(hunks_of(pause, MODULE)), "accepted")
    assert steps.approve.description == "Approve: apply all 2 (1 not reviewed)"
    steps.approve.click()  # the test's hunk, undecided, is applied too

    assert next_pause(magics).step == 2
    assert (root / TEST).read_text() == NEW_TEST and PARSE in (root / MODULE).read_text()
    assert "applied as checkpoint" in view.panel.message.value
    assert "(1 of 2 hunk(s) not reviewed)" in view.panel.message.value
    steps.approve.click()
    assert magics.last_run.wait(60)
    assert "(1 of 2 hunk(s) not reviewed)" in magics.last_run.session.summary


def test_a_scripted_approval_with_no_review_tracking_says_nothing_of_it(make_repo):
    root = make_repo(FILES)
    session, *_ = run(root, [Decision.approve()] * 3, review=False)
    assert "not reviewed" not in session.summary and "applied as checkpoint" in session.summary
    root = make_repo(FILES)
    every = [Decision.approve(), lambda p: Decision.approve(reviewed=p.changeset.hunk_ids())]
    session, *_ = run(root, [*every, Decision.approve()], review=False)
    assert "not reviewed" not in session.summary  # all accepted one by one


def test_the_step_view_asked_again_keeps_the_users_decisions_and_asks_to_confirm():
    text = "a = 1\n" + "".join(f"# {i}\n" for i in range(20)) + "b = 2\n"
    change = make_change("m.py", text.encode(), text.replace("= ", "= 1").encode())
    first, second = Changeset([change]).hunk_ids()
    approved: list[tuple[set[str], bool]] = []
    view = StepView(Callbacks(step_approve=lambda sel, ok: approved.append((sel, ok))))
    pause = StepPause(1, 2, "edit m", Changeset([change]))
    view.show(pause)
    view.diff.decide([first], "accepted")
    view.diff.decide([second], "rejected")
    view.approve.click()
    assert approved == [({first}, False)]
    report = CheckReport(tests=TestOutcome(ran=True, newly_failing=["t.py::x"]))
    check = SelectionCheck(frozenset({first}), report=report)

    view.show(replace(pause, message="Not applied", selection_check=check))

    assert view.diff.decisions == {first: "accepted", second: "rejected"}
    assert "Checks of the selected hunks: problems found" in view.selection_checks.value
    assert view.confirm.layout.display is None and not view.confirm.value
    view.confirm.value = True
    view.approve.click()
    assert approved[-1] == ({first}, True)

    view.show(StepPause(2, 2, "next", Changeset([change])))  # another step: a fresh review
    assert view.diff.decisions == {} and view.selection_checks.value == ""
    assert view.confirm.layout.display == "none"


def test_the_terminal_shows_a_steps_checks_rendered_once():
    tests = TestOutcome(command=["python", "-m", "pytest"], ran=True, scope="related")
    report = CheckReport(lint_ran=True, tests=tests)
    text = step_text(StepPause(1, 2, "x", checks=report), color=False)
    assert "Checks: all green" in text and "Compile" in text
    assert "#" not in text and "**" not in text and "`" not in text
    colored = step_text(StepPause(1, 2, "x", checks=report), color=True)
    assert "\x1b[1mChecks: all green\x1b[0m" in colored


# ---- through the magic: real checks in bubblewrap ------------------------------------------


def next_pause(magics: AgentMagics) -> StepPause:
    pause = magics.last_run.gate.next_pause(timeout=120)
    assert pause is not None, "the run did not pause"
    return pause


@pytest.mark.slow
def test_widget_step_part_is_checked_in_the_sandbox_and_confirmed(ip, magics, make_repo, tmp_path):
    root = make_repo(FILES)
    spec = write_script(tmp_path, script(model_review=True))
    ip.run_cell_magic("agent", f"--step --model {spec} -p {root} --view widgets", "add parse_price")
    view = magics.last_view
    steps = view.panel.steps
    assert next_pause(magics).is_plan
    view.panel.plan.approve.click()

    pause = next_pause(magics)
    assert pause.step == 1 and pause.checks is not None and pause.checks.ok
    assert steps.approve.description == "Approve: apply all 2 (none reviewed)"
    steps.diff.decide(sorted(hunks_of(pause, MODULE)), "rejected")
    assert steps.approve.description == "Approve: apply 1 of 2 hunks (1 rejected, 1 not reviewed)"
    steps.approve.click()

    pause = next_pause(magics)  # checked in the sandbox: the test fails without its module
    assert pause.step == 1 and pause.selection_check is not None
    assert pause.selection_check.blocks, pause.selection_check.markdown()
    assert (root / TEST).read_text() == OLD_TEST
    assert "Checks of the selected hunks: problems found" in steps.selection_checks.value
    assert "newly failing" in steps.selection_checks.value
    assert steps.confirm.layout.display is None and not steps.confirm.value
    assert steps.diff.selection() == set(hunks_of(pause, TEST))  # the part, kept
    assert "Not applied: the selected hunks alone fail the checks" in view.panel.message.value
    steps.confirm.value = True
    steps.approve.click()

    assert next_pause(magics).step == 2
    assert (root / TEST).read_text() == NEW_TEST and (root / MODULE).read_text() == CLEANING
    shown = view.panel.message.value
    assert "partly applied" in shown and f"needed: {MODULE} (imported by {TEST})" in shown
    steps.approve.click()
    assert magics.last_run.wait(120)
    record = view.record
    assert "**Step 1, partly applied**" in record
    assert "the selection re-checked on its own: problems found" in record and NEEDED in record
    assert str(root) not in record


@pytest.mark.slow
def test_terminal_step_part_is_checked_shown_rendered_and_confirmed(ip, make_repo, tmp_path):
    root = make_repo(FILES)
    spec = write_script(tmp_path, script(model_review=True))
    replies = iter(["y", "p", "n", "y", "y", "y"])  # plan; pick: module no, test yes; anyway
    prompts: list[str] = []

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return next(replies)

    out = io.StringIO()
    ip.register_magics(AgentMagics(ip, out=out, input_fn=answer))
    ip.run_cell_magic("agent", f"--step --model {spec} -p {root} --view text", "add parse_price")

    assert any("alone fail the checks. Apply them anyway?" in p for p in prompts)
    assert (root / TEST).read_text() == NEW_TEST and (root / MODULE).read_text() == CLEANING
    printed = out.getvalue()
    shown = printed.split("Checks of the selected hunks: problems found", 1)[1]
    assert "newly failing" in shown and "`" not in shown.split("Next:", 1)[0]
    assert "###" not in printed and "## Checks" not in printed  # rendered for a terminal
    assert "Checking the 1 selected hunk(s) of step 1" in printed
    outcome = printed.split("Step 1 (add parse_price and its test): partly applied", 1)[1]
    assert f"left out but needed: {MODULE} (imported by {TEST})" in outcome.split("\n", 1)[0]
