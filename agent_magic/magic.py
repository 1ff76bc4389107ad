"""``%%agent`` and ``%agent``: parse options, build the run, hand it to a view. Nothing more."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, CaselessStrEnum, Float, Int, Unicode

from agent_magic.errors import UserError
from agent_magic.models.catalog import EFFORTS
from agent_magic.paths import Project, find_project_root
from agent_magic.ui.frontend import VIEWS, detect_view
from agent_magic.ui.placeholders import interpolate, object_or_text
from agent_magic.ui.runner import Progress, Run, RunRegistry, await_run, fan_out
from agent_magic.warmup import Warmup

if TYPE_CHECKING:
    from agent_magic.agent import Agent, AgentConfig, Mode
    from agent_magic.analysis import RepoIndex
    from agent_magic.decisions import Decider, Gate
    from agent_magic.events import EventSink
    from agent_magic.models.base import Model
    from agent_magic.session import Session
    from agent_magic.ui.actions import Outcome

# Shared by every AgentMagics of the process, so a reloaded extension still sees running agents.
REGISTRY = RunRegistry()

LINE_USAGE = (
    "usage: %agent status | stop | apply [ID] [--force-blockers] | "
    "undo [ID] [--force] | undo --all | "
    "history | "
    "show ID | resume ID TEXT | cost | config | context [--share-outputs]"
)
AgentFactory = Callable[..., Any]  # (project, model, config, on_event[, decider=, mode=]) -> Agent


# One repo index per project for the kernel's life: it refreshes itself from disk on every use,
# so keeping it only saves re-reading the cache (over a second on a large repo) on each run.
_INDEXES: dict[Path, RepoIndex] = {}


def default_agent_factory(
    project: Project,
    model: Model,
    config: AgentConfig,
    on_event: EventSink,
    decider: Decider | None = None,
    mode: Mode | None = None,
) -> Agent:
    """The real Agent; with a ``decider`` the plan waits for it, with ``mode`` what follows."""
    from agent_magic.agent import Agent
    from agent_magic.analysis import RepoIndex

    index = _INDEXES.get(project.root)
    if index is None:
        index = _INDEXES[project.root] = RepoIndex(project.root)
    return Agent(project, model, config, on_event=on_event, decider=decider, mode=mode, index=index)


def _pauses(
    plan_first: bool, step: bool, view: str, yes: bool
) -> tuple[Gate | None, Decider | None, Mode | None]:
    """Who answers the run's pauses: a gate the view answers at, or (headless) a fixed answer."""
    if not plan_first:
        return None, None, None
    from agent_magic.decisions import Decision, FixedDecider, Gate

    mode = None
    if step:
        from agent_magic.stepping import StepMode

        mode = StepMode()
    if view == "headless":  # nobody to ask: --yes approves the plan, else the run ends there
        return None, FixedDecider(Decision.approve() if yes else Decision.hold()), mode
    gate = Gate()
    return gate, gate, mode


def publisher() -> Callable[[str], None]:
    """A function that shows markdown in the cell output, replacing what it showed before."""
    from IPython.display import display

    from agent_magic.ui.markup import markdown_plain

    handle = None

    def publish(text: str) -> None:
        nonlocal handle
        # a terminal shows text/plain: the same record without its markup
        bundle = {"text/markdown": text, "text/plain": markdown_plain(text)}
        if handle is None:
            handle = display(bundle, raw=True, display_id=True)
        else:
            handle.update(bundle, raw=True)

    return publish


EFFORT_CHOICES = ("off", *EFFORTS)


@magics_class
class AgentMagics(Magics):
    """The %%agent cell magic and the %agent line magic; defaults are configurable traitlets."""

    model = Unicode(
        "",
        help="Model spec: a Claude model name, 'anthropic:NAME', "
        "'scripted:PATH', 'openai:URL/MODEL', 'gguf:PATH'; empty: "
        "$AGENT_MAGIC_MODEL, else the default Claude model.",
    ).tag(config=True)
    project = Unicode("", help="Project root; empty: the git root of the current directory.").tag(
        config=True
    )
    max_steps = Int(40, help="Model calls per run.").tag(config=True)
    budget = Float(2.0, help="Budget per run in US dollars.").tag(config=True)
    time_limit = Float(1200.0, help="Time limit per run in seconds.").tag(config=True)
    review = Bool(True, help="Run checks and the self-review before delivering.").tag(config=True)
    plan_first = Bool(False, help="Stop after planning for approval.").tag(config=True)
    commit = Bool(False, help="Commit applied changes with git.").tag(config=True)
    notebook_context = Bool(False, help="Give the agent this notebook's cells and variables.").tag(
        config=True
    )
    run_notebooks = Bool(False, help="Execute changed notebooks during review.").tag(config=True)
    share_outputs = Bool(
        False,
        help="With notebook_context: send the notebook's outputs (trimmed, secrets "
        "redacted) instead of a summary without their values.",
    ).tag(config=True)
    allow_network = Bool(
        False,
        help="Let tests, notebooks and `run` commands in the sandbox use "
        "the network (stated in the findings).",
    ).tag(config=True)
    unsandboxed = Bool(
        False,
        help="Run checks and commands WITHOUT a sandbox, with your "
        "privileges (when none is available); shown in the record.",
    ).tag(config=True)
    view = CaselessStrEnum(
        VIEWS, "auto", help="How to show a run: auto, widgets, text, headless."
    ).tag(config=True)
    effort = CaselessStrEnum(
        ("", *EFFORT_CHOICES),
        "",
        help="Thinking effort: off, low, medium, high, xhigh, max; empty: the "
        "model's default. 'off' turns thinking off where the model allows.",
    ).tag(config=True)
    max_tokens = Int(
        0,
        help="Output limit of each model call (thinking included); 0: a default "
        "that fits the model.",
    ).tag(config=True)

    def __init__(
        self,
        shell: Any = None,
        *,
        agent_factory: AgentFactory = default_agent_factory,
        input_fn: Callable[[str], str] | None = None,
        out: TextIO | None = None,
        registry: RunRegistry = REGISTRY,
        live: Any = None,
        warmup: Warmup | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(shell, **kwargs)
        # the heavy imports `%load_ext` started in the background; waited for before our own
        self.warmup = warmup or Warmup(())
        self.agent_factory = agent_factory
        self._models: dict[str, Model] = {}
        self.input_fn = input_fn
        self.out = out
        self.registry = registry
        self.sessions: dict[str, Session] = {}  # this kernel's sessions, oldest first
        self.runs: dict[str, Run] = {}
        self.last_run: Run | None = None
        self.last_view: Any = None  # the WidgetController of the last widget run
        self._setups: dict[str, tuple[Any, Any]] = {}  # session id -> (model, config) it ran with
        from agent_magic.ui.livelink import LiveLink

        # open notebooks change in their tabs when the page has the extension
        self.live = LiveLink(shell, live)

    def warm_up(self) -> None:
        """Import what the first widget cell needs in the background (a notebook kernel only)."""
        if self._view(None) == "widgets":
            self.warmup.start()

    def _user_ns(self) -> dict[str, Any]:
        if self.shell is None:
            raise UserError("agent_magic is not loaded in an IPython shell (%load_ext agent_magic)")
        return self.shell.user_ns

    # ------------------------------------------------------------------ %%agent

    @magic_arguments(name="%agent")  # names the usage line; IPython prefixes one more %
    @argument("-m", "--model", help="model spec, or {name} of a Model object in the namespace")
    @argument("-p", "--project", help="project directory (default: git root of the cwd)")
    @argument("--max-steps", type=int, help="model calls allowed")
    @argument("--budget", type=float, help="budget in US dollars")
    @argument("--time-limit", type=float, help="time limit in seconds")
    @argument(
        "--plan-first", action="store_true", default=None, help="stop after planning for approval"
    )
    @argument("-y", "--yes", action="store_true", help="apply without asking (headless runs)")
    @argument("--commit", action="store_true", default=None, help="git-commit applied changes")
    @argument(
        "--no-review",
        dest="review",
        action="store_false",
        default=None,
        help="skip checks and self-review",
    )
    @argument(
        "--review",
        dest="review",
        action="store_true",
        default=None,
        help="run checks and self-review (the default)",
    )
    @argument(
        "-n",
        "--notebook-context",
        action="store_true",
        default=None,
        help="let the agent see this notebook's cells and variables (not their values)",
    )
    @argument(
        "--share-outputs",
        action="store_true",
        default=None,
        help="with --notebook-context: send cell outputs' text too (trimmed, secrets redacted)",
    )
    @argument(
        "--run-notebooks",
        action="store_true",
        default=None,
        help="execute changed notebooks during review",
    )
    @argument(
        "--allow-network",
        action="store_true",
        default=None,
        help="let code run in the sandbox use the network",
    )
    @argument(
        "--unsandboxed",
        action="store_true",
        default=None,
        help="run checks and commands without a sandbox (your privileges)",
    )
    @argument("--view", choices=VIEWS, help="widgets, text or headless (default: detected)")
    @argument("--step", action="store_true", help="step mode: approve each plan step")
    @argument(
        "--effort",
        choices=EFFORT_CHOICES,
        help="thinking effort (off: no thinking, where the model allows)",
    )
    @argument("--max-tokens", type=int, help="output limit of each model call, thinking included")
    @no_var_expand
    @cell_magic("agent")
    def agent_cell(self, line: str, cell: str) -> None:
        """Run a coding agent on the project; the cell is the task ({name} fills in variables)."""
        args = parse_argstring(self.agent_cell, line)
        self.warmup.wait()
        try:
            self._run_cell(args, cell)
        except UserError as exc:
            raise UsageError(str(exc)) from None

    def _run_cell(self, args: Any, cell: str) -> None:
        view = self._view(args.view)
        if args.step and view == "headless":
            raise UserError(
                "--step (step mode) is not available in a headless run: nobody can "
                "answer its questions; use a notebook (widgets) or terminal IPython"
            )
        ns = self._user_ns()
        task = interpolate(cell, ns).strip()
        if not task:
            raise UserError("the task is empty: write what the agent should do in the cell body")
        project = self._project(args.project)
        self.recover_notice(project)
        self.registry.check(project.root)
        config = self._config(args, task, project.root)
        model = self._model(args.model)
        if not getattr(model, "takes_images", False):
            config.notebook_images = ()  # the manifest says plots go only to such models
        check = getattr(model, "check_settings", None)
        if check is not None:
            check(effort=config.effort, max_tokens=config.max_tokens)
        self._launch(
            project,
            model,
            config,
            task,
            view=view,
            yes=args.yes,
            commit=_pick(args.commit, self.commit),
            step=args.step,
        )

    def _project(self, option: str | None) -> Project:
        ns = self._user_ns()
        if option:
            return Project(interpolate(option, ns))
        return Project(find_project_root(self.project or None))

    def _model(self, option: str | None) -> Model:
        from agent_magic.models import load_model

        spec = (
            object_or_text(option, self._user_ns())
            if option
            else (self.model or os.environ.get("AGENT_MAGIC_MODEL", ""))
        )
        if not isinstance(spec, str):
            return load_model(spec)
        # One model per spec for the kernel's life: the SDK client's connections are reused, and
        # a scripted model goes on with its next turns in the next cell.
        if spec not in self._models:
            self._models[spec] = load_model(spec)
        return self._models[spec]

    def _config(self, args: Any, task: str = "", project_root: Path | None = None) -> AgentConfig:
        from agent_magic.agent import AgentConfig

        context = ""
        plots: list[Any] = []
        share = _pick(args.share_outputs, self.share_outputs)
        if _pick(args.notebook_context, self.notebook_context):
            from agent_magic.notebook_context import notebook_context

            context = notebook_context(
                self.shell, share_outputs=share, task=task, plots=plots, project_root=project_root
            )
        elif args.share_outputs:
            raise UserError(
                "--share-outputs shares the outputs of the notebook context: "
                "add --notebook-context (-n)"
            )
        for name in ("max_steps", "budget", "time_limit", "max_tokens"):
            value = getattr(args, name)
            if value is not None and value <= 0:
                raise UserError(f"--{name.replace('_', '-')} must be positive, not {value}")
        return AgentConfig(
            max_steps=_pick(args.max_steps, self.max_steps),
            budget_usd=_pick(args.budget, self.budget),
            time_limit_s=_pick(args.time_limit, self.time_limit),
            review=_pick(args.review, self.review),
            plan_first=_pick(args.plan_first, self.plan_first),
            run_notebooks=_pick(args.run_notebooks, self.run_notebooks),
            allow_network=_pick(args.allow_network, self.allow_network),
            unsandboxed=_pick(args.unsandboxed, self.unsandboxed),
            notebook_context=context,
            notebook_images=tuple(p.block() for p in plots),
            max_tokens=_pick(args.max_tokens, self.max_tokens) or None,
            effort=_pick(args.effort, self.effort) or None,
        )

    def _view(self, option: str | None) -> str:
        view = option or self.view
        return detect_view(self.shell) if view == "auto" else view

    def _launch(
        self,
        project: Project,
        model: Any,
        config: Any,
        task: str,
        *,
        view: str,
        yes: bool,
        commit: bool,
        resume: Any = None,
        step: bool = False,
    ) -> Run:
        """Build agent, run and view, and start; widgets return at once, text views block."""
        gate, decider, mode = _pauses(config.plan_first or step, step, view, yes)
        live = self.live.for_run()

        def build(on_event: Any) -> Any:
            if decider is None:  # custom factories need not know the pause options
                agent = self.agent_factory(project, model, config, on_event)
            else:
                agent = self.agent_factory(
                    project, model, config, on_event, decider=decider, mode=mode
                )
            if live is not None and hasattr(agent, "staging_reader"):
                from agent_magic.staging.live import LiveReader

                agent.staging_reader = LiveReader(live.frontend)  # open notebooks, as shown
            return agent

        def start(run: Run) -> None:
            if resume is None:
                run.start()
            else:
                run.resume(task)

        progress = Progress()
        if view == "widgets":
            from IPython.display import display

            from agent_magic.ui.live import WidgetController

            controller = WidgetController(
                task,
                commit=commit,
                publish=publisher(),
                auto_apply=yes,
                gate=gate,
                open_notebook=self._open_notebook(),
                live=live,
            )
            sink = fan_out(progress.handle, controller.handle)
            run = self._new_run(lambda: build(sink), task, project, progress, resume, gate)
            self._keep_setup(run, model, config)
            controller.attach(run)
            controller.panel.show_context(config.notebook_context)
            self.last_view = controller
            handle = display(controller.panel, display_id=True)
            controller.redisplay = lambda: handle.update(controller.panel)
            controller.publish("*%%agent is running; the summary appears here when it ends.*")
            start(run)
            return run
        from agent_magic.ui.console import drive
        from agent_magic.ui.text import TextView

        out = self.out or sys.stdout
        if config.notebook_context:
            out.write(_context_line(config.notebook_context))
        color = view == "text" and bool(getattr(out, "isatty", lambda: False)())
        text_view = TextView(out, color=color, stream_text=view == "text")
        sink = fan_out(progress.handle, text_view.handle)
        run = self._new_run(lambda: build(sink), task, project, progress, resume, gate)
        self._keep_setup(run, model, config)
        interactive = view == "text"
        drive(
            run,
            out=out,
            publish=publisher(),
            yes=yes,
            commit=commit,
            input_fn=(self.input_fn or input) if interactive else None,
            color=text_view.color,
            start=start,
            gate=gate,
            open_notebook=self._open_notebook(),
        )
        return run

    def _new_run(
        self,
        build: Callable[[], Any],
        task: str,
        project: Project,
        progress: Progress,
        resume: Any,
        gate: Gate | None = None,
    ) -> Run:
        # the agent is built in the run's thread: the cell returns once its view is shown
        run = Run(
            None, task, root=project.root, registry=self.registry, progress=progress, build=build
        )
        run.gate = gate
        if resume is not None:
            run.session = resume
        run.finish_listeners.append(self._remember)
        self.last_run = run
        return run

    def _keep_setup(self, run: Run, model: Any, config: Any) -> None:
        # resume goes on with the model and options the session ran with, not the defaults
        def keep(done: Run) -> None:
            if done.session is not None:
                self._setups[done.session.id] = (model, config)

        run.finish_listeners.append(keep)

    def _remember(self, run: Run) -> None:
        if run.session is not None:
            self.sessions[run.session.id] = run.session
            self.runs[run.session.id] = run

    # ------------------------------------------------------------------ %agent

    @line_magic("agent")
    def agent_line(self, line: str) -> Any:
        """%agent status | stop | apply [ID] | undo [ID] [--force] | undo --all | history | show ID | resume ID TEXT | cost | config | context"""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"{exc}\n{LINE_USAGE}") from None
        if not words:
            raise UsageError(LINE_USAGE)
        command, rest = words[0], words[1:]
        handler = getattr(self, f"_cmd_{command}", None)
        if handler is None:
            raise UsageError(f"unknown command {command!r}\n{LINE_USAGE}")
        self.warmup.wait()
        try:
            self.recover_notice(None)
            return handler(rest)
        except UserError as exc:
            raise UsageError(str(exc)) from None

    def recover_notice(self, project: Project | None) -> None:
        """Finish an apply or undo a dead kernel left half-done, and say so (see staging.recover)."""
        from agent_magic.staging import recover

        try:
            message = recover(project or self._project(None))
        except UserError as exc:
            message = f"agent_magic: {exc}"
        if message:
            self._print(message)

    def _print(self, text: str) -> None:
        (self.out or sys.stdout).write(text.rstrip("\n") + "\n")

    def _cmd_status(self, rest: list[str]) -> None:
        active = self.registry.active()
        if not active:
            last = self.last_run
            tail = (
                f"; last session {last.session_id}: {last.session.stop_reason}"
                if (last is not None and last.session is not None)
                else ""
            )
            self._print("No agent is running" + tail + ".")
        for run in active:
            decision = run.awaiting_decision()
            if decision is not None:
                self._print(
                    f"waiting on {run.root} for your decision on {decision} — "
                    "answer in its cell, or `%agent stop`"
                )
                continue
            self._print(f"running on {run.root}: {run.progress.line()} — {run.task[:80]}")

    def _cmd_stop(self, rest: list[str]) -> None:
        active = self.registry.active()
        if not active:
            self._print("No agent is running.")
        for run in active:
            run.stop()
            self._print(f"Stopping the run on {run.root} at its next step.")

    def _cmd_apply(self, rest: list[str]) -> None:
        """Apply every change of the last (or the given) session, as the Apply button would."""
        from agent_magic.ui.actions import apply_changes

        force = "--force-blockers" in rest
        ids = [w for w in rest if w != "--force-blockers"]
        self._await_runs("%agent apply", include_last=True)
        if ids:
            session = self._session(ids[0], need_object=True)
        elif self.last_run is not None and self.last_run.session is not None:
            session = self.last_run.session
        else:
            raise UserError("no session to apply in this kernel; run %%agent first")
        if session.checkpoints:
            raise UserError(
                f"session {session.id} is already applied "
                f"(checkpoint {session.checkpoints[-1]}); `%agent undo` reverts it"
            )
        refusal = self.live.cell_refusal(session)
        if refusal:
            raise UserError(refusal)
        live = self.live.for_cell()
        outcome = apply_changes(
            session,
            None,
            allow_blockers=force,
            commit=self.commit,
            open_notebook=self._open_notebook(),
            live=live,
        )
        self._tell_views(session, "apply", outcome)
        if not outcome.ok:
            raise UserError(outcome.message)
        self._print(outcome.message)

    def _cmd_undo(self, rest: list[str]) -> None:
        from agent_magic.ui.actions import undo_all, undo_changes

        self._await_runs("%agent undo")
        force = "--force" in rest
        rest = [w for w in rest if w != "--force"]
        unknown = [w for w in rest if w.startswith("-") and w != "--all"]
        if unknown or len(rest) > 1 or (force and rest == ["--all"]):
            raise UserError("usage: %agent undo [ID] [--force] | %agent undo --all")
        if rest == ["--all"]:
            owner = next((s for s in reversed(list(self.sessions.values())) if s.checkpoints), None)
            if owner is None:
                raise UserError("nothing applied in this kernel to undo")
            outcomes = undo_all(
                owner, open_notebook=self._open_notebook(), live=self.live.for_cell()
            )
            for outcome in outcomes:
                self._tell_views(owner, "undo", outcome)
            self._print("\n".join(o.message for o in outcomes))
            if not outcomes[-1].ok:
                raise UserError(outcomes[-1].message)
            return
        checkpoint_id = rest[0] if rest else None
        owner = next(
            (
                s
                for s in reversed(list(self.sessions.values()))
                if (checkpoint_id in s.checkpoints if checkpoint_id else s.checkpoints)
            ),
            None,
        )
        if owner is None and checkpoint_id is None:
            # Another kernel (or one that has restarted) applied it: the project's newest live
            # checkpoint, the one `%agent history` offers to undo.
            from agent_magic.staging import list_checkpoints

            live = [c for c in list_checkpoints(self._project(None)) if not c.undone]
            if not live:
                raise UserError("there is nothing to undo (see `%agent history`)")
            checkpoint_id = live[0].id
        outcome = undo_changes(
            owner if owner is not None else self._project(None),
            checkpoint_id,
            force=force,
            open_notebook=self._open_notebook(),
            live=self.live.for_cell() if owner is not None else None,
        )
        if owner is not None:
            self._tell_views(owner, "undo", outcome)
        if not outcome.ok:
            raise UserError(outcome.message)
        self._print(outcome.message)

    def _cmd_history(self, rest: list[str]) -> None:
        from agent_magic.transcript import list_sessions

        projects = {s.project.root: s.project for s in self.sessions.values()}
        default = self._project(None)
        projects.setdefault(default.root, default)
        seen: set[str] = set()
        lines = []
        for project in projects.values():
            for s in list_sessions(project):
                seen.add(s["id"])
                lines.append(
                    f"{s['id']}  {s['stop_reason']:<12} ${s['cost']:.4f}  {s['task'][:60]}"
                )
        lines += [
            f"{sid}  {s.stop_reason:<12} ${s.cost:.4f}  {s.task[:60]}"
            for sid, s in self.sessions.items()
            if sid not in seen
        ]
        for project in projects.values():
            lines += _checkpoint_lines(project)
        self._print("\n".join(lines) if lines else "No sessions yet.")

    def _cmd_show(self, rest: list[str]) -> None:
        from agent_magic.ui.report import session_report

        if len(rest) != 1:
            raise UserError("usage: %agent show ID")
        self._await_runs("%agent show", refuse_decisions=False)
        session = self._session(rest[0], need_object=False)
        if session is not None:
            publisher()(session_report(session))
            return
        from agent_magic.session import Session
        from agent_magic.transcript import list_sessions

        project = self._project(None)
        for s in list_sessions(project):
            if s["id"].startswith(rest[0]):
                # Only its transcript is left (no saved changes): the same report, from that.
                publisher()(
                    session_report(
                        Session(
                            s["task"],
                            project,
                            s["model"],
                            id=s["id"],
                            created=s["created"],
                            stop_reason=s["stop_reason"],
                            cost=s["cost"],
                        )
                    )
                )
                return
        raise UserError(f"no session {rest[0]!r} (see `%agent history`)")

    def _cmd_resume(self, rest: list[str]) -> None:
        if len(rest) < 2:
            raise UserError("usage: %agent resume ID follow-up instruction")
        session = self._session(rest[0], need_object=True)
        instruction = interpolate(" ".join(rest[1:]), self._user_ns())
        self.registry.check(session.project.root)
        if session.id in self._setups:
            from dataclasses import replace

            model, config = self._setups[session.id]
            config = replace(config)  # the agent may change its copy (e.g. step mode)
        else:
            model = self._model(None)
            config = self._config(parse_argstring(self.agent_cell, ""))
        self._launch(
            session.project,
            model,
            config,
            instruction,
            view=self._view(None),
            yes=False,
            commit=self.commit,
            resume=session,
        )

    def _cmd_cost(self, rest: list[str]) -> None:
        total = sum(s.cost for s in self.sessions.values())
        for sid, s in self.sessions.items():
            self._print(
                f"{sid}  ${s.cost:.4f}  {s.usage.total_input:,} in / {s.usage.output_tokens:,} out"
            )
        self._print(f"Total this kernel: ${total:.4f} over {len(self.sessions)} session(s)")

    def _cmd_context(self, rest: list[str]) -> None:
        """Print the notebook context a run started now would send (the manifest)."""
        from agent_magic.notebook_context import notebook_context

        if rest not in ([], ["--share-outputs"]):
            raise UserError("usage: %agent context [--share-outputs]")
        share = bool(rest) or self.share_outputs
        self._print(notebook_context(self.shell, share_outputs=share))

    def _cmd_config(self, rest: list[str]) -> None:
        names = sorted(self.trait_names(config=True))
        self._print("\n".join(f"AgentMagics.{n} = {getattr(self, n)!r}" for n in names))

    def _open_notebook(self) -> Any:
        # the kernel's own notebook, which a disk write reaches behind its editor's back
        from agent_magic.ui.opennotebook import kernel_notebook

        return kernel_notebook(self.shell)

    def _await_runs(
        self, command: str, *, refuse_decisions: bool = True, include_last: bool = False
    ) -> None:
        # Run All: a later cell acts on the result, so it waits for this kernel's runs to end
        runs = self.registry.active()
        last = self.last_run
        if include_last and last is not None and last not in runs:
            runs.append(last)  # a finished plan-first run still waits for its plan decision
        for run in runs:
            await_run(run, command=command, say=self._print, refuse_decisions=refuse_decisions)

    def _tell_views(self, session: Session, kind: str, outcome: Outcome) -> None:
        run = self.runs.get(session.id)
        if run is not None and outcome.ok:
            run.notify(kind, outcome)

    def _session(self, prefix: str, *, need_object: bool) -> Any:
        matches = [s for sid, s in self.sessions.items() if sid.startswith(prefix)]
        if len(matches) > 1:
            raise UserError(f"{prefix!r} matches {len(matches)} sessions; give more of the id")
        if matches:
            return matches[0]
        # A session of another kernel (or of this one before a restart), saved with its changes.
        from agent_magic.session import load_session

        try:
            session = load_session(self._project(None), prefix)
        except UserError:
            if need_object:
                raise UserError(
                    f"no session {prefix!r} in this kernel or saved in the project "
                    "(see `%agent history`)"
                ) from None
            return None
        self.sessions[session.id] = session
        return session


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


def _context_line(context: str) -> str:
    # the text views say what goes out; `%agent context` prints it whole
    return (
        f"Notebook context sent to the model: {len(context):,} characters "
        "(`%agent context` shows it).\n"
    )


def _checkpoint_lines(project: Project) -> list[str]:
    from agent_magic.staging import list_checkpoints

    return [
        f"  checkpoint {c.id} (session {c.session_id}): {', '.join(c.paths)}"
        + (" [undone]" if c.undone else f" — undo with `%agent undo {c.id}`")
        for c in list_checkpoints(project)
    ]


def unregister(shell: Any) -> None:
    """Remove %%agent and %agent (and the AgentMagics configurable) from ``shell``."""
    magics = shell.magics_manager.magics
    for kind in ("line", "cell"):
        magics[kind].pop("agent", None)
    shell.configurables[:] = [c for c in shell.configurables if not isinstance(c, AgentMagics)]
    registry = shell.magics_manager.registry
    for name in [n for n, m in registry.items() if isinstance(m, AgentMagics)]:
        del registry[name]


__all__ = ["AgentMagics", "unregister"]
