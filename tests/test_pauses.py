"""The one pause mechanism: plan approval (--plan-first) and step decisions both wait at a decider,
answered through the Python API, the widget buttons, the terminal prompt, or a fixed headless
answer; every session keeps one transcript start and end."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from agent_magic.agent import Agent, AgentConfig
from agent_magic.decisions import Decision, FixedDecider, ScriptedDecider, StepPause
from agent_magic.events import StepPaused
from agent_magic.magic import AgentMagics
from agent_magic.models.scripted import ScriptedModel
from agent_magic.paths import Project
from agent_magic.records import Finding
from agent_magic.review.report import CheckReport
from agent_magic.staging.changeset import Changeset, make_change
from agent_magic.stepping import StepMode
from agent_magic.transcript import read_records
from agent_magic.ui.console import step_text
from agent_magic.ui.widgets import Callbacks, StepView
from tests.scripts import FIX_NEW, FIX_OLD, PLAN, UNDERSTAND, call, turn
from tests.ui.runs import CALC, fix_calc, write_script
from tests.ui.runs import PLAN as CALC_PLAN
from tests.ui.runs import UNDERSTAND as CALC_UNDERSTAND

CLEANING = "shoplytics/cleaning.py"
# A first try at the fix that turns "1,234" into 1.234: the review must catch it.
FIX_BAD = '    return float(text.strip().lstrip("$").replace(",", "."))'
MUL_FIXED = "def mul(a, b):\n    return a * b\n"
CALC_FEEDBACK = "Only touch add; mul is someone else's job."
CALC_REVISED = turn(
    call(
        "submit_plan",
        summary="Fix only add",
        steps=[{"description": "Use + in add", "files": ["calc.py"]}],
        files=["calc.py"],
    )
)
ADD_ONLY = [
    turn(call("replace", path="calc.py", old="    return a - b\n", new="    return a + b\n")),
    turn(call("finish", summary="add fixed")),
]


def kinds(root: Path, session_id: str) -> list[str]:
    """The kinds of the session's transcript records, in order."""
    records = read_records(Project(root).state_dir / "sessions" / f"{session_id}.jsonl")
    return [r["kind"] for r in records]


def assert_one_start_and_end(root: Path, session_id: str) -> list[str]:
    found = kinds(root, session_id)
    assert found[0] == "start" and found[-1] == "end", found
    assert found.count("start") == 1 and found.count("end") == 1, found
    assert "continue" not in found
    return found


def texts(request) -> str:
    return json.dumps(request.messages)


@pytest.fixture
def calc_repo(make_repo) -> Path:
    return make_repo({"calc.py": CALC})


# ---- the Python API -------------------------------------------------------------------------


def test_plan_first_through_a_decider_revises_then_approves_in_one_run(calc_repo):
    model = ScriptedModel([CALC_UNDERSTAND, CALC_PLAN, CALC_REVISED, *ADD_ONLY])
    decider = ScriptedDecider([Decision.revise(CALC_FEEDBACK), Decision.approve()])
    events: list = []
    agent = Agent(
        calc_repo, model, AgentConfig(review=False), on_event=events.append, decider=decider
    )

    session = agent.run("fix add and mul")

    assert session.stop_reason == "done", session.error
    assert [(p.step, p.plan.summary) for p in decider.pauses] == [
        (0, "Fix the operators in calc.py"),
        (0, "Fix only add"),
    ]
    assert CALC_FEEDBACK in texts(model.requests[2]) and model.remaining == 0
    assert [e.pause for e in events if isinstance(e, StepPaused)] == decider.pauses
    assert "return a + b" in session.diff() and "a * b" not in session.diff()
    assert (calc_repo / "calc.py").read_text() == CALC  # the run stages; nothing is applied
    found = assert_one_start_and_end(calc_repo, session.id)
    assert found.count("step_paused") == 2 and found.count("step_decided") == 2


def test_plan_first_stop_cancels_and_hold_keeps_the_plan_for_continue_plan(calc_repo):
    stopped = Agent(
        calc_repo,
        ScriptedModel([CALC_UNDERSTAND, CALC_PLAN]),
        AgentConfig(review=False),
        decider=ScriptedDecider([Decision.stop()]),
    ).run("t")
    assert stopped.stop_reason == "cancelled" and "at the plan" in stopped.error
    assert_one_start_and_end(calc_repo, stopped.id)

    # plan_first without a decider: nobody to ask, so the run ends holding its plan
    agent = Agent(calc_repo, ScriptedModel(fix_calc()), AgentConfig(review=False, plan_first=True))
    held = agent.run("t")
    assert held.stop_reason == "plan_ready" and held.changeset.is_empty
    assert isinstance(agent.decider, FixedDecider)

    done = agent.continue_plan(held)  # the compatibility wrapper answers the held pause

    assert done.stop_reason == "done", done.error
    assert "+    return a * b" in done.diff()
    found = kinds(calc_repo, done.id)
    assert found.count("start") == 1 and found[-1] == "end"
    assert found.index("continue") > found.index("end")  # the held run's end, then one continue


def test_a_decider_without_step_mode_pauses_only_at_the_plan(calc_repo):
    decider = ScriptedDecider([Decision.approve()])  # a second pause would get Stop
    session = Agent(
        calc_repo, ScriptedModel(fix_calc()), AgentConfig(review=False), decider=decider
    ).run("t")
    assert session.stop_reason == "done", session.error
    assert [p.step for p in decider.pauses] == [0]


# ---- step mode: the review runs before a step is offered ----------------------------------


def test_step_review_finds_a_blocker_and_fixes_it_before_the_step_is_offered(sample_repo):
    checked: list[tuple[bytes | None, object]] = []

    def checker(root, changes, **options):  # the checks pass; the model review finds the bug
        checked.append((changes[CLEANING], options.get("full_suite")))
        return CheckReport()

    blocker = call(
        "report_finding",
        severity="blocker",
        path=CLEANING,
        message="',' becomes '.', so 1,234 parses as 1.234",
        suggestion="drop the ',' instead",
    )
    model = ScriptedModel(
        [
            UNDERSTAND,
            *PLAN,
            turn(call("replace", path=CLEANING, old=FIX_OLD, new=FIX_BAD)),
            turn(call("finish", summary="parse_price handles ','")),
            turn(blocker, call("finish", summary="one blocker")),  # review, round 1
            turn(call("replace", path=CLEANING, old=FIX_BAD, new=FIX_NEW)),  # the fix round
            turn(call("finish", summary="the ',' is dropped now")),
            turn(call("finish", summary="looks right")),  # review, round 2: nothing left
        ]
    )
    offered: dict[str, object] = {}

    def look_then_approve(pause: StepPause) -> Decision:
        offered["pause"], offered["unanswered"] = pause, model.remaining
        return Decision.approve()

    decider = ScriptedDecider([Decision.approve(), look_then_approve])
    session = Agent(
        sample_repo,
        model,
        AgentConfig(review=True, review_rounds=2),
        decider=decider,
        mode=StepMode(),
        checker=checker,
    ).run("fix the failing test")

    assert session.stop_reason == "done", session.error
    pause = offered["pause"]
    assert isinstance(pause, StepPause) and pause.step == 1
    assert offered["unanswered"] == 0  # review and fix were over before the step was offered
    assert FIX_NEW in pause.diff() and FIX_BAD not in pause.diff()
    [finding] = pause.findings
    assert (finding.severity, finding.status, finding.path) == ("blocker", "fixed", CLEANING)
    assert pause.open_blockers == [] and pause.checks is not None
    assert "After review: the ',' is dropped now" in pause.summary
    # both rounds checked this step's change, quick (related tests only), before and after fix
    assert [(FIX_BAD.encode() in c, f) for c, f in checked] == [(True, False), (False, False)]
    review_request = texts(model.requests[5])  # after understand, plan (2), implement (2)
    assert "The change below is ONLY step 1 of 1" in review_request
    assert "1,234 parses as 1.234" in texts(model.requests[6])  # the fix round heard of it
    assert FIX_NEW in (sample_repo / CLEANING).read_text()
    assert [o.action for o in session.step_outcomes] == ["applied"]
    assert session.findings == [finding]


def test_step_view_shows_the_findings_and_warns_of_open_blockers():
    change = make_change("m.py", b"a = 1\n", b"a = 2\n")
    blocker = Finding("blocker", "a must stay 1", path="m.py", line_start=1, source="review")
    fixed = Finding("minor", "name it better", path="m.py", source="review", status="fixed")
    view = StepView(Callbacks())

    view.show(StepPause(1, 2, "change a", Changeset([change]), findings=(blocker, fixed)))

    assert view.diff is not None
    shown = {f["message"]: f["status"] for f in view.diff.findings}  # on their lines in the diff
    assert shown == {"a must stay 1": "open", "name it better": "fixed"}
    assert "1 blocker" in view.findings.count.value
    assert "1 blocker finding(s) remain" in view.title.value
    view.show(StepPause(1, 2, "change a", Changeset([change]), findings=(fixed,)))
    assert "blocker finding" not in view.title.value


# ---- through the magic: widgets, terminal, headless --------------------------------------------


def test_widgets_plan_first_run_waits_in_one_run_with_one_transcript(
    ip, magics, calc_repo, tmp_path
):
    spec = write_script(tmp_path, fix_calc())
    ip.run_cell_magic(
        "agent", f"--model {spec} -p {calc_repo} --no-review --view widgets --plan-first", "t"
    )
    run, panel = magics.last_run, magics.last_view.panel
    pause = run.gate.next_pause(timeout=60)
    assert pause is not None and pause.is_plan and run.running
    assert "waiting for you: plan of 1 step(s)" in panel.status.value
    assert panel.plan.controls in panel.plan.children and panel.steps.layout.display == "none"

    panel.plan.approve.click()
    assert run.wait(60)

    assert run.session.stop_reason == "done", run.session.error
    assert panel.plan.approve.disabled  # answered: nothing waits any more
    assert_one_start_and_end(calc_repo, run.session.id)


def test_terminal_plan_first_revises_at_the_prompt_then_applies(ip, calc_repo, tmp_path):
    answers = iter([CALC_FEEDBACK, "a", "y"])
    prompts: list[str] = []

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    magics = AgentMagics(ip, out=io.StringIO(), input_fn=answer)
    ip.register_magics(magics)
    spec = write_script(tmp_path, [CALC_UNDERSTAND, CALC_PLAN, CALC_REVISED, *ADD_ONLY])
    ip.run_cell_magic(
        "agent", f"--model {spec} -p {calc_repo} --no-review --view text --plan-first", "t"
    )

    assert prompts[:2] == ["Approve the plan? [y]es / [q] stop / or type what to change: "] * 2
    assert prompts[2].startswith("Apply calc.py?")
    session = magics.last_run.session
    assert session.stop_reason == "done", session.error
    text = (calc_repo / "calc.py").read_text()
    assert "return a + b" in text and MUL_FIXED not in text
    assert_one_start_and_end(calc_repo, session.id)


def test_terminal_plan_prompt_reasks_on_a_step_answer(ip, calc_repo, tmp_path):
    answers = iter(["s", "q"])
    out = io.StringIO()
    magics = AgentMagics(ip, out=out, input_fn=lambda prompt: next(answers))
    ip.register_magics(magics)
    spec = write_script(tmp_path, fix_calc())
    ip.run_cell_magic(
        "agent", f"--model {spec} -p {calc_repo} --no-review --view text --plan-first", "t"
    )
    assert "Answer y to approve, q to stop" in out.getvalue()
    assert magics.last_run.session.stop_reason == "cancelled"
    assert (calc_repo / "calc.py").read_text() == CALC


def test_headless_plan_first_with_yes_is_approved_by_its_fixed_answer(
    ip, magics, calc_repo, tmp_path
):
    spec = write_script(tmp_path, fix_calc())
    ip.run_cell_magic(
        "agent",
        f"--model {spec} -p {calc_repo} --no-review --view headless --plan-first --yes",
        "t",
    )
    session = magics.last_run.session
    assert session.stop_reason == "done", session.error
    assert magics.last_run.gate is None  # nobody to ask: no gate
    assert MUL_FIXED in (calc_repo / "calc.py").read_text()
    assert_one_start_and_end(calc_repo, session.id)


def test_each_step_review_judges_only_its_own_findings(sample_repo):
    report = "shoplytics/report.py"
    plan = turn(
        call(
            "submit_plan",
            summary="Fix prices, then add a report",
            steps=[
                {"description": "Strip separators", "files": [CLEANING]},
                {"description": "Add a report", "files": [report]},
            ],
        )
    )
    minor = call("report_finding", severity="minor", path=CLEANING, message="name the magic ','")
    model = ScriptedModel(
        [
            UNDERSTAND,
            plan,
            turn(call("replace", path=CLEANING, old=FIX_OLD, new=FIX_NEW)),
            turn(call("finish", summary="separators stripped")),
            turn(minor, call("finish", summary="a minor point")),  # step 1's review
            turn(call("create", path=report, content="TOTAL = 0\n")),
            turn(call("finish", summary="report added")),
            turn(call("finish", summary="fine")),  # step 2's review: nothing to say
        ]
    )
    decider = ScriptedDecider([Decision.approve()] * 3)
    session = Agent(
        sample_repo,
        model,
        AgentConfig(review=True),
        decider=decider,
        mode=StepMode(),
        checker=lambda root, changes, **options: CheckReport(),
    ).run("t")

    assert session.stop_reason == "done", session.error
    step1, step2 = decider.pauses[1], decider.pauses[2]
    assert [(f.message, f.status) for f in step1.findings] == [("name the magic ','", "open")]
    assert step2.findings == ()
    # step 2's reviewer was not asked about step 1's finding, and did not "fix" it by silence
    assert "name the magic" not in texts(model.requests[-1])
    assert [(f.message, f.status) for f in session.findings] == [("name the magic ','", "open")]


def test_widgets_step_panel_shows_the_review_findings_before_approve(
    ip, magics, calc_repo, tmp_path
):
    note = call(
        "report_finding", severity="minor", path="calc.py", line_start=2, message="add has no test"
    )
    spec = write_script(
        tmp_path, [*fix_calc(), turn(note, call("finish", summary="one minor point"))]
    )
    ip.run_cell_magic("agent", f"--step --model {spec} -p {calc_repo} --view widgets", "t")
    run, panel = magics.last_run, magics.last_view.panel
    assert run.gate.next_pause(timeout=60).is_plan
    panel.plan.approve.click()

    pause = run.gate.next_pause(timeout=120)

    assert pause is not None and pause.step == 1 and panel.steps.pause is pause
    diff = panel.steps.diff
    assert diff is not None  # the findings sit on their lines while Approve is offered
    assert {f["message"]: f["status"] for f in diff.findings} == {"add has no test": "open"}
    assert "Checks: " in panel.steps.findings.checks.value  # the step's checks, above them
    assert not panel.steps.approve.disabled
    panel.steps.approve.click()
    assert run.wait(60) and run.session.stop_reason == "done", run.session.error
    assert MUL_FIXED in (calc_repo / "calc.py").read_text()


def test_terminal_step_text_lists_the_findings_before_the_prompt():
    change = make_change("m.py", b"a = 1\n", b"a = 2\n")
    blocker = Finding("blocker", "a must stay 1", path="m.py", line_start=1, source="review")
    text = step_text(StepPause(1, 1, "change a", Changeset([change]), findings=(blocker,)))
    assert "[blocker] m.py:1: a must stay 1" in text
    assert text.index("+a = 2") < text.index("a must stay 1") < text.index("last step")
