"""A Session is everything one run produced; applying and undoing its changes goes through it."""

from __future__ import annotations

import datetime as _dt
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from agent_magic.errors import ApplyError, UserError
from agent_magic.models.base import Usage
from agent_magic.paths import Project
from agent_magic.records import Finding, Plan, PlanStep, Understanding

if TYPE_CHECKING:
    from agent_magic.review.memo import CheckMemo
    from agent_magic.review.report import CheckReport
    from agent_magic.staging import Changeset, Checkpoint, Staging
    from agent_magic.staging.apply import LivePart
    from agent_magic.stepping import StepOutcome

# Why a run ended: "" while it runs; done, plan_ready and cancelled are the successes;
# unfinished is a recorded session whose end was never written (its kernel died).
StopReason = Literal[
    "",
    "done",
    "plan_ready",
    "cancelled",
    "budget",
    "steps",
    "time",
    "interrupted",
    "tool_errors",
    "refused",
    "context",
    "output_limit",
    "error",
    "unfinished",
]


def new_session_id() -> str:
    """A short, sortable, unique id: UTC time plus random suffix."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{now}-{uuid.uuid4().hex[:6]}"


@dataclass
class Session:
    """The state and results of one %%agent run; inspectable whatever way the run stopped."""

    task: str
    project: Project
    model: str
    id: str = field(default_factory=new_session_id)
    created: str = field(
        default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    )
    understanding: Understanding | None = None
    context: str = ""
    ranked_files: list[str] = field(default_factory=list)
    test_command: list[str] | None = None
    plan: Plan | None = None
    staging: Staging | None = field(default=None, repr=False)
    changeset: Changeset | None = field(default=None, repr=False)
    checks: CheckReport | None = None  # of the last round, if the review ran
    checks_before: CheckReport | None = None  # the first round's, to show before/after
    check_memo: CheckMemo | None = field(default=None, repr=False)  # work reused across rounds
    findings: list[Finding] = field(default_factory=list)
    summary: str = ""  # the model's own summary, from `finish`
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    steps: int = 0
    review_rounds: int = 0
    stop_reason: StopReason = ""
    error: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list, repr=False)
    checkpoints: list[str] = field(default_factory=list)
    step_outcomes: list[StepOutcome] = field(default_factory=list)  # step mode: one per step

    @property
    def ok(self) -> bool:
        """Whether the run finished normally (done, stopped for plan approval, or plan cancelled)."""
        return self.stop_reason in ("done", "plan_ready", "cancelled")

    @property
    def open_blockers(self) -> list[Finding]:
        """Blocker findings the agent did not fix."""
        return [f for f in self.findings if f.severity == "blocker" and f.status == "open"]

    def diff(self) -> str:
        """The unified diff of every staged change (notebooks per cell)."""
        return self.changeset.diff() if self.changeset is not None else ""

    def refresh(self) -> Changeset | None:
        """Take a fresh snapshot of the staged changes."""
        if self.staging is not None:
            self.changeset = self.staging.changeset()
        return self.changeset

    def apply(
        self,
        selection: set[str] | None = None,
        *,
        force: bool = False,
        allow_blockers: bool = False,
        commit: bool = False,
        live: LivePart | None = None,
    ) -> Checkpoint:
        """Write the selected hunks (all if None) to the project, atomically; returns the checkpoint.

        ``live`` changes the open notebooks in their tabs within the same apply (see staging.apply).
        """
        from agent_magic.staging import apply

        if self.changeset is None or self.changeset.is_empty:
            raise UserError("this session has no changes to apply")
        if self.open_blockers and not allow_blockers:
            raise UserError(
                f"{len(self.open_blockers)} blocker finding(s) remain; review them and apply with "
                "allow_blockers=True (the widget's confirm box) if you still want these changes"
            )
        try:
            checkpoint = apply(
                self.project,
                self.changeset,
                selection,
                commit=commit,
                force=force,
                message=self.commit_message(),
                session_id=self.id,
                live=live,
            )
        except ApplyError as exc:
            if exc.checkpoint:  # a rollback that could not finish: its checkpoint is still live
                self.checkpoints.append(exc.checkpoint)
            raise
        self.checkpoints.append(checkpoint.id)
        self.save()
        return checkpoint

    def save(self) -> bool:
        """Keep the staged changes and the facts of this session on disk (best effort).

        ``load_session`` brings them back in any kernel, so a finished run can be shown, applied
        and undone after a restart. False if they could not be written (the run goes on).
        """
        from dataclasses import asdict

        from agent_magic.staging import saved
        from agent_magic.transcript import redact

        meta = {
            "id": self.id,
            "task": self.task,
            "model": self.model,
            "created": self.created,
            "stop_reason": self.stop_reason,
            "error": self.error,
            "summary": self.summary,
            "cost": self.cost,
            "steps": self.steps,
            "checkpoints": list(self.checkpoints),
            "plan": asdict(self.plan) if self.plan else None,
            "findings": [asdict(f) for f in self.findings],
        }
        try:
            meta = json.loads(redact(json.dumps(meta, default=str)))
            saved.save(self.project.state_dir, self.id, self.changeset, meta)
        except (OSError, ValueError, UserError):
            return False
        return True

    def undo(
        self,
        checkpoint_id: str | None = None,
        *,
        force: bool = False,
        live: LivePart | None = None,
    ) -> Checkpoint:
        """Restore the files of this session's last apply (or the given checkpoint) byte for byte."""
        from agent_magic.staging import undo

        if checkpoint_id is None:
            if not self.checkpoints:
                raise UserError("nothing of this session has been applied")
            checkpoint_id = self.checkpoints[-1]
        checkpoint = undo(self.project, checkpoint_id, force=force, live=live)
        if checkpoint_id in self.checkpoints:
            self.checkpoints.remove(checkpoint_id)
            self.save()
        return checkpoint

    def commit_message(self) -> str:
        """A commit message from the task and plan (apply adds the trailer naming agent_magic)."""
        title = (self.plan.summary if self.plan and self.plan.summary else self.task).strip()
        title = title.splitlines()[0][:72] if title else "agent_magic change"
        body = self.plan.text() if self.plan else self.task
        return f"{title}\n\n{body}\n\nTask: {self.task.strip()[:500]}\n"


def load_session(project: Project, prefix: str) -> Session:
    """A session saved by ``Session.save`` (in this or another kernel), by id or id prefix."""
    from agent_magic.staging import list_checkpoints, saved

    try:
        ids = [i for i in saved.saved_ids(project.state_dir) if i.startswith(prefix)]
    except OSError:
        ids = []
    if len(ids) > 1:
        raise UserError(f"{prefix!r} matches {len(ids)} sessions; give more of the id")
    if not ids:
        raise UserError(f"no saved session {prefix!r} in {project.root} (see `%agent history`)")
    try:
        meta, changeset = saved.load(project.state_dir, ids[0])
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"the saved changes of session {ids[0]} cannot be read: {exc}") from None
    plan = meta.get("plan")
    session = Session(
        task=meta.get("task", ""),
        project=project,
        model=meta.get("model", ""),
        id=meta["id"],
        created=meta.get("created", ""),
        stop_reason=meta.get("stop_reason", ""),
        error=meta.get("error", ""),
        summary=meta.get("summary", ""),
        cost=meta.get("cost", 0.0),
        steps=meta.get("steps", 0),
        changeset=changeset,
        plan=Plan(
            plan["summary"],
            [PlanStep(**s) for s in plan.get("steps", [])],
            plan.get("files", []),
            plan.get("risks", []),
        )
        if plan
        else None,
        findings=[Finding(**f) for f in meta.get("findings", [])],
    )
    # The checkpoint store is the truth about what is applied (another kernel may have undone).
    live = {c.id for c in list_checkpoints(project) if not c.undone and c.session_id == session.id}
    session.checkpoints = [c for c in meta.get("checkpoints", []) if c in live] + sorted(
        live - set(meta.get("checkpoints", []))
    )
    return session
