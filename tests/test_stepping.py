"""Step mode: scripted three-step runs on real git repos; decisions come from a scripted decider
or, through the magic, from the widget buttons and the terminal prompt on a real shell."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from agent_magic.agent import Agent, AgentConfig
from agent_magic.decisions import Decision, Gate, ScriptedDecider, StepPause
from agent_magic.errors import UserError
from agent_magic.events import StepDecided, StepPaused
from agent_magic.magic import AgentMagics
from agent_magic.models.scripted import ScriptedModel
from agent_magic.paths import Project
from agent_magic.records import PlanStep
from agent_magic.session import load_session
from agent_magic.staging.changeset import Changeset, make_change
from agent_magic.stepping import StepMode, dropped_hunks, edited_paths, step_prompt
from agent_magic.ui.actions import undo_all
from agent_magic.ui.text import parse_answer
from tests.conftest import user_texts
from tests.scripts import FIX_NEW, FIX_OLD, UNDERSTAND, call, turn
from tests.test_magic import classes
from tests.test_pauses import assert_one_start_and_end
from tests.ui.runs import write_script

CLEANING = "shoplytics/cleaning.py"
REPORT = "shoplytics/report.py"
README = "README.md"
REPORT_V1 = (
    '"""Revenue report."""\n\n\ndef total(rows):\n    return sum(r["price"] for r in rows)\n'
)
REPORT_V2 = (
    '"""Revenue report."""\n\n\ndef total(rows: list[dict]) -> float:\n'
    '    """Sum of the rows\' prices."""\n    return sum(float(r["price"]) for r in rows)\n'
)
FEEDBACK = "add type hints and a docstring, and convert prices with float()"

PLAN3 = turn(
    call(
        "submit_plan",
        summary="Fix prices, add a report, document it",
        steps=[
            {"description": "Strip thousands separators in parse_price", "files": [CLEANING]},
            {"description": "Add a revenue total in shoplytics/report.py", "files": [REPORT]},
            {"description": "Mention the report in the README", "files": [README]},
        ],
        files=[CLEANING, REPORT, README],
    )
)
STEP1 = [
    turn(call("replace", path=CLEANING, old=FIX_OLD, new=FIX_NEW)),
    turn(call("finish", summary="parse_price ignores ','")),
]
STEP2_V1 = [
    turn(call("create", path=REPORT, content=REPORT_V1)),
    turn(call("finish", summary="report.total added")),
]
STEP2_V2 = [
    turn(call("create", path=REPORT, content=REPORT_V2)),
    turn(call("finish", summary="report.total typed and documented")),
]
STEP3 = [
    turn(
        call(
            "replace",
            path=README,
            old="Run the tests with",
            new="`shoplytics.report.total` sums revenue.\n\nRun the tests with",
        )
    ),
    turn(call("finish", summary="README mentions the report")),
]


def three_steps() -> list[dict]:
    """Understand, plan three steps, step 1, step 2 twice (revised), step 3."""
    return [UNDERSTAND, PLAN3, *STEP1, *STEP2_V1, *STEP2_V2, *STEP3]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the tree outside .git and .agent_magic, byte for byte."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and not {".git", ".agent_magic"} & set(p.relative_to(root).parts)
        and "__pycache__" not in p.parts
    }


# ---- pure parts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer, word",
    [
        ("", "empty"),
        ("  ", "empty"),
        ("y", "yes"),
        ("Approve", "yes"),
        ("a", "all"),  # "a" is "all" at every prompt: at a step, approving all its hunks
        ("ALL", "all"),
        ("p", "pick"),
        ("s", "skip"),
        ("skip", "skip"),
        ("q", "quit"),
        ("n", "no"),
        ("stop", "quit"),
        ("use pathlib instead", "text"),
        ("s please rename x", "text"),
    ],
)
def test_parse_answer(answer, word):
    assert parse_answer(answer) == word


@pytest.mark.parametrize(
    "before, after, edited",
    [
        ({}, {}, []),
        ({"a": "1"}, {"a": "1"}, []),
        ({"a": "1", "b": "2"}, {"a": "1", "b": "3"}, ["b"]),
        ({"a": "absent"}, {"a": "9"}, ["a"]),
        ({"b": "1"}, {"a": "1", "b": "1"}, ["a"]),
    ],
)
def test_edited_paths(before, after, edited):
    assert edited_paths(before, after) == edited


def test_step_prompt_names_only_that_step():
    text = step_prompt(2, 3, PlanStep("Add a report", ["r.py"]))
    assert "ONLY step 2 of 3 now: Add a report (files: r.py)" in text and "`finish`" in text
    assert "(files" not in step_prompt(1, 1, PlanStep("x"))


def test_decision_revise_needs_text():
    with pytest.raises(UserError, match="what should change"):
        Decision.revise("   ")
    assert Decision.approve({"a#1"}).selection == frozenset({"a#1"})
    assert Decision.approve().selection is None


def test_gate_hands_a_pause_across_threads_and_cancel_answers_stop():
    gate = Gate()
    with pytest.raises(UserError, match="nothing is waiting"):
        gate.decide(Decision.skip())
    answers: list[Decision] = []
    worker = threading.Thread(target=lambda: answers.append(gate.wait(StepPause(1, 2, "x"))))
    worker.start()
    pause = gate.next_pause(timeout=30)
    assert pause is not None and pause.headline() == "step 1 of 2: x"
    assert gate.pending is pause
    gate.decide(Decision.skip())
    worker.join(30)
    assert answers == [Decision.skip()] and gate.pending is None
    with pytest.raises(UserError):
        gate.decide(Decision.skip())  # answered already: a double click changes nothing

    worker = threading.Thread(target=lambda: answers.append(gate.wait(StepPause(2, 2, "y"))))
    worker.start()
    assert gate.next_pause(timeout=30) is not None
    gate.cancel()
    worker.join(30)
    assert answers[-1] == Decision.stop()
    assert gate.wait(StepPause(3, 3, "z")) == Decision.stop()  # cancelled for good


# ---- the loop on a real repo -------------------------------------------------------------


def run_three_steps(root: Path, answers: list, **config) -> tuple:
    model = ScriptedModel(three_steps())
    decider = ScriptedDecider(answers)
    events: list = []
    agent = Agent(
        root,
        model,
        AgentConfig(review=config.pop("review", False), **config),
        on_event=events.append,
        decider=decider,
        mode=StepMode(),
    )
    session = agent.run("fix prices and add a revenue report")
    return session, model, decider, events


def test_approve_revise_skip_ends_exactly_as_approved_and_undo_all_restores(sample_repo):
    original = snapshot(sample_repo)
    seen: dict[str, object] = {}

    def approve_after_looking(pause: StepPause) -> Decision:
        seen[f"{pause.step}.{pause.attempt}"] = pause
        return Decision.approve()

    def revise(pause: StepPause) -> Decision:
        seen["2.1"] = pause
        assert not (sample_repo / REPORT).exists()  # nothing is written before Approve
        return Decision.revise(FEEDBACK)

    session, model, decider, events = run_three_steps(
        sample_repo,
        [Decision.approve(), approve_after_looking, revise, approve_after_looking, Decision.skip()],
    )

    assert session.stop_reason == "done", session.error
    assert model.remaining == 0
    assert [(p.step, p.attempt) for p in decider.pauses] == [(0, 1), (1, 1), (2, 1), (2, 2), (3, 1)]
    # the revision reached the model as a user message, and the redone step differs
    redo_request = model.requests[len(three_steps()) - len(STEP3) - len(STEP2_V2)]
    assert any(FEEDBACK in t and "redo step 2" in t for t in user_texts(redo_request))
    assert "float(r[" in seen["2.2"].diff() and "float(r[" not in seen["2.1"].diff()
    # the pause knows what comes next, and the cumulative change includes step 1
    assert seen["1.1"].next_step.startswith("Add a revenue total")
    assert CLEANING in seen["2.2"].cumulative.paths and REPORT in seen["2.2"].cumulative.paths
    assert seen["2.2"].changeset.paths == [REPORT]
    # files end exactly as approved
    after = snapshot(sample_repo)
    assert after[CLEANING] == original[CLEANING].replace(FIX_OLD.encode(), FIX_NEW.encode())
    assert after[REPORT] == REPORT_V2.encode()
    assert after[README] == original[README]
    assert set(after) == set(original) | {REPORT}
    assert len(session.checkpoints) == 2
    assert [o.action for o in session.step_outcomes] == ["applied", "applied", "skipped"]
    assert "Step 3 (Mention the report in the README): skipped" in session.summary
    assert session.changeset.is_empty  # nothing left staged
    decided = [e for e in events if isinstance(e, StepDecided)]
    assert [d.action for d in decided] == ["applied", "applied", "skipped"]
    assert sum(isinstance(e, StepPaused) for e in events) == 5
    # before step 2 the model heard that step 1 was applied
    step2_request = model.requests[len([UNDERSTAND, PLAN3, *STEP1])]
    assert any("Step 1 was approved and applied" in t for t in user_texts(step2_request))

    outcomes = undo_all(session)

    assert all(o.ok for o in outcomes) and len(outcomes) == 2
    assert snapshot(sample_repo) == original
    assert session.checkpoints == []


def test_partial_approval_and_a_skip_change_what_the_next_step_sees(sample_repo):
    original = snapshot(sample_repo)
    turns = [UNDERSTAND, PLAN3, *STEP1, *STEP2_V1, *STEP3]
    model = ScriptedModel(turns)

    def untick_everything_but_nothing(pause: StepPause) -> Decision:
        return Decision.approve(set())  # an empty selection is refused; the step asks again

    decider = ScriptedDecider(
        [
            Decision.approve(),
            Decision.skip(),
            untick_everything_but_nothing,
            Decision.skip(),
            Decision.approve(),
        ]
    )
    agent = Agent(sample_repo, model, AgentConfig(review=False), decider=decider, mode=StepMode())
    session = agent.run("three steps")

    assert session.stop_reason == "done", session.error
    assert decider.pauses[3].message.startswith("Not applied: nothing to apply")
    step2_request = model.requests[len([UNDERSTAND, PLAN3, *STEP1])]
    step3_request = model.requests[len([UNDERSTAND, PLAN3, *STEP1, *STEP2_V1])]
    assert any("Step 1 was skipped" in t for t in user_texts(step2_request))
    assert any("Step 2 was skipped" in t for t in user_texts(step3_request))
    after = snapshot(sample_repo)
    assert after[CLEANING] == original[CLEANING]
    assert REPORT not in after
    assert b"shoplytics.report.total" in after[README]
    assert [o.action for o in session.step_outcomes] == ["skipped", "skipped", "applied"]


def test_partly_applied_step_tells_the_model_which_hunks_are_gone(make_repo):
    text = "a = 1\n" + "".join(f"# {i}\n" for i in range(20)) + "b = 2\n"
    root = make_repo({"m.py": text})
    plan = turn(
        call(
            "submit_plan",
            summary="s",
            steps=[{"description": "edit a and b"}, {"description": "then more"}],
        )
    )
    turns = [
        UNDERSTAND,
        plan,
        turn(
            call("replace", path="m.py", old="a = 1\n", new="a = 10\n"),
            call("replace", path="m.py", old="b = 2\n", new="b = 20\n"),
        ),
        turn(call("finish", summary="both")),
        turn(call("finish", summary="nothing more")),
    ]
    model = ScriptedModel(turns)

    def first_hunk_only(pause: StepPause) -> Decision:
        ids = pause.changeset.hunk_ids()
        assert len(ids) == 2
        return Decision.approve({ids[0]})

    decider = ScriptedDecider([Decision.approve(), first_hunk_only, Decision.approve()])
    session = Agent(root, model, AgentConfig(review=False), decider=decider, mode=StepMode()).run(
        "edit m"
    )

    assert session.stop_reason == "done", session.error
    assert (root / "m.py").read_text() == text.replace("a = 1", "a = 10")
    notes = user_texts(model.requests[-1])
    assert any("applied only in part" in t and "m.py#2" in t for t in notes)
    assert [o.action for o in session.step_outcomes] == ["partly applied", "empty"]


def test_hand_edit_during_the_pause_is_noticed_and_never_overwritten(sample_repo):
    cleaning = sample_repo / CLEANING
    user_line = "\n\n# the user's own note\n"

    def edit_then_approve(pause: StepPause) -> Decision:
        with cleaning.open("a", encoding="utf-8") as fh:
            fh.write(user_line)
        return Decision.approve()

    model = ScriptedModel(
        [UNDERSTAND, PLAN3, *STEP1, turn(call("view", path=CLEANING)), *STEP1, *STEP2_V1]
    )
    decider = ScriptedDecider(
        [Decision.approve(), edit_then_approve, Decision.revise("redo it"), Decision.approve()]
    )
    session = Agent(
        sample_repo, model, AgentConfig(review=False), decider=decider, mode=StepMode()
    ).run("t")

    # Approve met the user's edit: nothing written, the same step asked again with the reason
    third = decider.pauses[2]
    assert third.step == 1 and "changed on disk" in third.message and CLEANING in third.message
    redo = user_texts(model.requests[4])
    assert any("edited these files by hand: shoplytics/cleaning.py" in t for t in redo)
    text = cleaning.read_text()
    assert text.endswith(user_line) and FIX_NEW in text  # redone on top of the user's version
    assert session.stop_reason == "interrupted"  # the decider ran out of answers: Stop
    assert [o.action for o in session.step_outcomes] == ["applied", "stopped"]
    assert not (sample_repo / REPORT).exists()


def test_stop_at_the_plan_changes_nothing_and_revise_plans_again(sample_repo):
    original = snapshot(sample_repo)
    revised = turn(
        call(
            "submit_plan",
            summary="only the fix",
            steps=[{"description": "Strip separators", "files": [CLEANING]}],
        )
    )
    model = ScriptedModel([UNDERSTAND, PLAN3, revised])
    decider = ScriptedDecider([Decision.revise("just the fix please"), Decision.stop()])
    session = Agent(
        sample_repo, model, AgentConfig(review=False), decider=decider, mode=StepMode()
    ).run("t")

    assert session.stop_reason == "cancelled" and "at the plan" in session.error
    assert [p.step for p in decider.pauses] == [0, 0]
    assert decider.pauses[1].description == "only the fix" and decider.pauses[1].total == 1
    assert any("just the fix please" in t for t in user_texts(model.requests[-1]))
    assert snapshot(sample_repo) == original


def test_step_checks_run_compile_lint_and_related_tests_in_scratch(sample_repo):
    model = ScriptedModel([UNDERSTAND, PLAN3, *STEP1])
    decider = ScriptedDecider([Decision.approve(), Decision.stop()])
    # a test budget no loaded machine runs out of: past it the unchanged copy is not tested and
    # fixed tests go unreported (by design, tested in tests/review/test_scale.py)
    config = AgentConfig(review=True, model_review=False, test_timeout=600)
    session = Agent(sample_repo, model, config, decider=decider, mode=StepMode()).run("t")

    report = decider.pauses[1].checks
    assert report is not None
    assert any("thousands_separator" in t for t in report.tests.fixed)
    assert report.tests.newly_failing == []
    assert session.stop_reason == "interrupted"
    assert (sample_repo / CLEANING).read_text().count(FIX_NEW) == 0  # Stop: not applied


def test_stop_while_waiting_ends_the_run_and_the_wait_is_not_run_time(sample_repo):
    gate = Gate()
    now = [0.0]
    model = ScriptedModel([UNDERSTAND, PLAN3, *STEP1])
    agent = Agent(
        sample_repo,
        model,
        AgentConfig(review=False, time_limit_s=1000),
        decider=gate,
        mode=StepMode(),
        clock=lambda: now[0],
    )
    result: list = []
    worker = threading.Thread(target=lambda: result.append(agent.run("t")))
    worker.start()
    assert gate.next_pause(timeout=30).step == 0
    now[0] += 5000  # the user thinks for longer than the time limit
    gate.decide(Decision.approve())
    assert gate.next_pause(timeout=30).step == 1  # step 1 ran: the wait did not count
    agent.stop()
    worker.join(30)
    session = result[0]
    assert session.stop_reason == "interrupted", session.error
    assert session.checkpoints == [] and FIX_NEW not in (sample_repo / CLEANING).read_text()


def test_dropped_hunks_lists_unselected_ones():
    text = "a = 1\n" + "".join(f"# {i}\n" for i in range(20)) + "b = 2\n"
    change = make_change("m.py", text.encode(), text.replace("= ", "= 1").encode())
    changeset = Changeset([change])
    first, second = changeset.hunk_ids()
    assert dropped_hunks(changeset, None) == []
    assert dropped_hunks(changeset, frozenset({first})) == [f"{second} ({change.hunks[1].header})"]
    assert len(dropped_hunks(changeset, frozenset())) == 2


# ---- through the magic on a real shell -----------------------------------------------------


def next_pause(magics: AgentMagics) -> StepPause:
    pause = magics.last_run.gate.next_pause(timeout=60)
    assert pause is not None, "the run did not pause"
    return pause


def test_widgets_approve_revise_skip_while_the_kernel_stays_free_then_undo(
    ip, magics, sample_repo, tmp_path
):
    original = snapshot(sample_repo)
    spec = write_script(tmp_path, three_steps())
    ip.run_cell_magic(
        "agent",
        f"--step --model {spec} -p {sample_repo} --no-review --view widgets",
        "fix prices and add a revenue report",
    )
    panel = magics.last_view.panel

    assert next_pause(magics).is_plan
    assert "agent-plan-approve" in classes(panel.plan)
    ip.run_line_magic("agent", "status")  # the kernel answers while the agent waits
    assert "decision on plan of 3 step(s)" in magics.out.getvalue()
    panel.plan.approve.click()

    pause = next_pause(magics)
    assert pause.step == 1 and panel.steps.pause is pause
    assert "Strip thousands separators" in panel.steps.title.value
    assert not panel.steps.approve.disabled
    ip.run_line_magic("agent", "status")
    assert "decision on step 1 of 3: Strip thousands" in magics.out.getvalue()
    with pytest.raises(UsageError, match="waiting for your decision on step 1 of 3"):
        ip.run_line_magic("agent", "apply")
    panel.steps.approve.click()

    assert next_pause(magics).step == 2
    assert FIX_NEW in (sample_repo / CLEANING).read_text()  # step 1 is on disk now
    panel.steps.revise.click()  # without feedback nothing happens
    assert not panel.steps.revise.disabled
    panel.steps.feedback.value = FEEDBACK
    panel.steps.revise.click()

    pause = next_pause(magics)
    assert (pause.step, pause.attempt) == (2, 2) and "float(r[" in pause.diff()
    panel.steps.approve.click()
    assert next_pause(magics).step == 3
    panel.steps.skip.click()
    assert magics.last_run.wait(60)

    session = magics.last_run.session
    assert session.stop_reason == "done", session.error
    assert panel.steps.approve.disabled
    found = assert_one_start_and_end(sample_repo, session.id)  # five pauses, one run
    assert found.count("step_paused") == 5
    assert (sample_repo / REPORT).read_text() == REPORT_V2
    assert snapshot(sample_repo)[README] == original[README]
    ip.run_line_magic("agent", "undo")  # the last applied step: the report
    assert not (sample_repo / REPORT).exists() and FIX_NEW in (sample_repo / CLEANING).read_text()
    ip.run_line_magic("agent", "undo --all")
    assert snapshot(sample_repo) == original


def test_agent_stop_ends_a_waiting_step_and_writes_nothing(ip, magics, sample_repo, tmp_path):
    original = snapshot(sample_repo)
    spec = write_script(tmp_path, three_steps())
    ip.run_cell_magic(
        "agent", f"--step --model {spec} -p {sample_repo} --no-review --view widgets", "task"
    )
    assert next_pause(magics).is_plan
    magics.last_view.panel.plan.approve.click()
    assert next_pause(magics).step == 1

    ip.run_line_magic("agent", "stop")
    assert magics.last_run.wait(60)

    session = magics.last_run.session
    assert session.stop_reason == "interrupted"
    assert snapshot(sample_repo) == original
    assert magics.last_view.panel.steps.approve.disabled


def test_terminal_prompt_answers_each_step(ip, sample_repo, tmp_path):
    original = snapshot(sample_repo)
    answers = iter(["y", "y", FEEDBACK, "p", "y", "s"])
    prompts: list[str] = []

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    magics = AgentMagics(ip, out=io.StringIO(), input_fn=answer)
    ip.register_magics(magics)
    spec = write_script(tmp_path, three_steps())
    ip.run_cell_magic(
        "agent",
        f"--step --model {spec} -p {sample_repo} --no-review --view text",
        "fix prices and add a revenue report",
    )

    assert prompts[0].startswith("Approve the plan?")
    assert prompts[1].startswith("Step 1: [y] approve")
    assert prompts[4] == f"Apply {REPORT} (new)? [y]es/[n]o/[a]ll/[q]uit "  # picked per file
    assert magics.last_run.session.stop_reason == "done"
    assert_one_start_and_end(sample_repo, magics.last_run.session.id)
    out = magics.out.getvalue()
    assert "── step 2 of 3 (attempt 2): Add a revenue total" in out and "Next: Mention" in out
    after = snapshot(sample_repo)
    assert after[REPORT] == REPORT_V2.encode() and after[README] == original[README]
    assert FIX_NEW.encode() in after[CLEANING]


def test_headless_refuses_step_mode(ip, magics, sample_repo, tmp_path):
    spec = write_script(tmp_path, three_steps())
    with pytest.raises(UsageError, match="not available in a headless run"):
        ip.run_cell_magic(
            "agent", f"--step --model {spec} -p {sample_repo} --view headless", "task"
        )
    assert magics.last_run is None


# ---- what a step reads from disk -------------------------------------------------------------


def _fifo_watcher(fifo: Path, stop: threading.Event, blocked: list[bool]) -> None:
    # A reader blocked in open() on the FIFO lets a non-blocking writer in; nobody reading, ENXIO.
    while not stop.is_set():
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            time.sleep(0.05)
            continue
        blocked.append(True)
        os.close(fd)  # the reader gets EOF and the run goes on, so the test ends either way


def test_a_fifo_or_a_link_out_among_a_steps_files_is_not_read(sample_repo, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("OUTSIDE-SENTINEL\n")
    os.symlink(outside, sample_repo / "out")
    os.mkfifo(sample_repo / "pipe")
    plan = turn(
        call(
            "submit_plan",
            summary="Fix prices",
            steps=[{"description": "fix", "files": [CLEANING, "pipe", "out/victim.txt"]}],
            files=[CLEANING],
        )
    )
    model = ScriptedModel([UNDERSTAND, plan, *STEP1])
    decider = ScriptedDecider([Decision.approve(), Decision.approve()])
    stop, blocked = threading.Event(), []
    watcher = threading.Thread(
        target=_fifo_watcher, args=(sample_repo / "pipe", stop, blocked), daemon=True
    )
    watcher.start()
    try:
        session = Agent(
            sample_repo, model, AgentConfig(review=False), decider=decider, mode=StepMode()
        ).run("fix prices")
    finally:
        stop.set()
        watcher.join(10)

    assert not blocked  # the FIFO was never opened for reading
    assert session.stop_reason == "done", session.error
    assert [o.action for o in session.step_outcomes] == ["applied"]
    assert FIX_NEW in (sample_repo / CLEANING).read_text()


def test_cumulative_change_never_reads_through_a_link_swapped_in_during_a_pause(
    sample_repo, tmp_path
):
    outside = tmp_path / "outside.py"
    outside.write_text("OUTSIDE-SENTINEL = 1\n")

    def swap_in_a_link(event) -> None:
        if isinstance(event, StepDecided) and event.step == 1 and event.action == "applied":
            (sample_repo / CLEANING).unlink()
            os.symlink(outside, sample_repo / CLEANING)

    model = ScriptedModel([UNDERSTAND, PLAN3, *STEP1, *STEP2_V1])
    decider = ScriptedDecider([Decision.approve(), Decision.approve()])
    session = Agent(
        sample_repo,
        model,
        AgentConfig(review=False),
        on_event=swap_in_a_link,
        decider=decider,
        mode=StepMode(),
    ).run("fix prices and add a report")

    step2 = decider.pauses[2]
    assert step2.step == 2 and step2.cumulative is not None
    assert REPORT in step2.cumulative.paths and CLEANING not in step2.cumulative.paths
    assert "OUTSIDE-SENTINEL" not in step2.cumulative.diff()
    assert session.stop_reason == "interrupted"  # the decider ran out at step 2: Stop


def test_an_applied_steps_checkpoint_is_saved_before_the_next_step_waits(sample_repo):
    project = Project(sample_repo)
    saved: list[list[str]] = []

    def look_from_a_new_kernel(pause: StepPause) -> Decision:
        saved.append(list(load_session(project, "").checkpoints))
        return Decision.stop()

    session, _, _, _ = run_three_steps(
        sample_repo, [Decision.approve(), Decision.approve(), look_from_a_new_kernel]
    )

    assert len(session.checkpoints) == 1
    assert saved == [session.checkpoints]  # saved when step 1 was applied, not at the run's end
    assert load_session(project, "").undo().id == session.checkpoints[0]
    assert FIX_NEW not in (sample_repo / CLEANING).read_text()
