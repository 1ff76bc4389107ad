"""The review as the notebook saves it: a compact, secret-free copy the front end draws read-only.

A review's cell output carries this copy under ``MIME`` next to the widget's view. JupyterLab 4
and Notebook 7 restore no widget without a kernel (and without "Save Widget State Automatically"
nothing at all); agent_magic's extension draws this copy there, with the same front-end code as
the widget, whenever the live widget cannot be shown. Frontends that do not know the type
(VS Code, Colab, nbviewer) ignore it and show the widget as before.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypedDict

from agent_magic.records import Finding
from agent_magic.secrets import Redactor
from agent_magic.staging.changeset import Changeset
from agent_magic.ui import reviewstate
from agent_magic.ui.report import local_paths
from agent_magic.ui.reviewstate import FileState, FindingState, HunkState

MIME = "application/vnd.agent-magic.review+json"
VERSION = 1
MAX_CHARS = 200_000  # the whole copy as JSON; what does not fit is named in a note
WHOLE_SIDES_CHARS = 100_000  # files sent whole (findings on their lines) up to this much
MAX_FINDINGS_SHARE = 4  # findings may take at most a quarter of the copy
ENVELOPE_CHARS = 1_000  # the copy's own fields and notes
MIN_FILE_CHARS = 2_000  # a file cut smaller says too little: later files are named instead
State = Literal["running", "ready"]


class ReviewSnapshot(TypedDict):
    """What the read-only review draws; field names match the widget's traits."""

    version: int
    state: State
    files: list[FileState]
    findings: list[FindingState]
    decisions: dict[str, str]
    mode: str
    notes: list[str]  # what the copy left out, said once above the files
    session: str  # the agent session it reviews ("" for a review shown on its own)
    applied: str  # the checkpoint its kernel applied the change as ("" if not applied)


def running() -> ReviewSnapshot:
    """The copy of a run that has not delivered its review yet."""
    return ReviewSnapshot(
        version=VERSION,
        state="running",
        files=[],
        findings=[],
        decisions={},
        mode="unified",
        notes=[],
        session="",
        applied="",
    )


def snapshot(
    changeset: Changeset | None,
    findings: Sequence[Finding] = (),
    decisions: Mapping[str, str] | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
    session: str = "",
    applied: str = "",
    limit: int = MAX_CHARS,
) -> ReviewSnapshot:
    """The review of ``changeset`` bounded to about ``limit`` characters of JSON, without secret
    values or this machine's paths; what it leaves out is said in ``notes``. ``applied``: the
    checkpoint the change was applied as, if it was."""
    clean = _cleaner(root)
    changes = changeset.files if changeset else []
    files = [clean(f) for f in reviewstate.file_states(changeset, budget=WHOLE_SIDES_CHARS)]
    budget = limit - limit // MAX_FINDINGS_SHARE - ENVELOPE_CHARS
    cap = max(_fair_share([_size(f) for f in files], budget), MIN_FILE_CHARS)
    kept: list[FileState] = []
    dropped: list[str] = []
    cut_lines = cut_hunks = 0
    for change, state in zip(changes, files, strict=True):
        allowed = min(cap, budget)
        size = _size(state)
        if size > allowed and state["view"] == "text":
            state = clean(reviewstate.file_state(change, whole=False))  # its hunks only
            size = _size(state)
        if size > allowed:
            state, lines, hunks = _cut(state, allowed)
            size = _size(state)
            if not state["hunks"]:
                dropped.append(state["path"])
                continue
            cut_lines += lines
            cut_hunks += hunks
        kept.append(state)
        budget -= size
    placed = [clean(f) for f in reviewstate.finding_states(list(findings), kept)]
    shown, budget = [], limit // MAX_FINDINGS_SHARE + max(budget, 0)
    for finding in placed:
        budget -= _size(finding)
        if budget < 0:
            break
        shown.append(finding)
    hunk_ids = {h["id"] for f in kept for h in f["hunks"]}
    notes = _notes(limit, cut_lines, cut_hunks, dropped, len(placed) - len(shown))
    return ReviewSnapshot(
        version=VERSION,
        state="ready",
        files=kept,
        findings=shown,
        decisions={k: v for k, v in (decisions or {}).items() if k in hunk_ids},
        mode="unified",
        notes=notes,
        session=session,
        applied=applied,
    )


def with_review(bundle: Any, review: ReviewSnapshot) -> Any:
    """A widget's ``_repr_mimebundle_`` result (a dict, or a (data, metadata) pair) plus ``review``."""
    if isinstance(bundle, tuple):
        data, metadata = bundle
        return {**data, MIME: review}, metadata
    if isinstance(bundle, dict):
        return {**bundle, MIME: review}
    return bundle  # a closed widget has no view to show


def _cleaner(root: str | os.PathLike[str] | None) -> Callable[[Any], Any]:
    # the copy is saved and shared with the notebook, as the record is: no secret value may be
    # in it, whatever its source, and no path of this machine
    redactor = Redactor.current(root)

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return redactor(local_paths(value, root))
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return clean


def _fair_share(sizes: list[int], budget: int) -> int:
    """The largest size each item may keep so that all fit in ``budget``: small items stay
    whole, the big ones share what is left equally."""
    left = len(sizes)
    for size in sorted(sizes):
        if size * left > budget:
            return budget // left
        budget -= size
        left -= 1
    return max(sizes, default=0)


def _size(value: object) -> int:
    return len(json.dumps(value, ensure_ascii=False))


def _cut(state: FileState, budget: int) -> tuple[FileState, int, int]:
    """The hunks of ``state`` that fit in ``budget``; the first that does not is cut at a line.

    Returns the smaller state, the changed lines left out and the hunks left out whole.
    """
    budget -= _size({**state, "hunks": [], "old": "", "new": ""})
    hunks: list[HunkState] = []
    lines_out = hunks_out = 0
    for hunk in state["hunks"]:
        size = _size(hunk) + 2  # and its separator in the list
        if size <= budget:
            hunks.append(hunk)
            budget -= size
            continue
        if hunk["text"] and budget > _size({**hunk, "text": ""}) + 200:
            room = budget - _size({**hunk, "text": ""})
            kept, rest = _lines_within(hunk["text"], room)
            if kept:
                hunks.append({**hunk, "text": kept})
                budget = 0
                lines_out += _changed(rest)
                continue
        budget = 0
        if hunk["text"]:
            lines_out += _changed(hunk["text"])
        else:
            hunks_out += 1
    return {**state, "view": "hunks", "old": "", "new": "", "hunks": hunks}, lines_out, hunks_out


def _lines_within(text: str, room: int) -> tuple[str, str]:
    """``text`` cut at the last line end within ``room`` JSON characters, and the rest."""
    used = 0
    end = 0
    for line in text.splitlines(keepends=True):
        used += _size(line) - 2  # without the quotes
        if used > room:
            break
        end += len(line)
    return text[:end], text[end:]


def _changed(text: str) -> int:
    return sum(1 for line in text.splitlines() if line[:1] in ("+", "-"))


def _notes(limit: int, lines: int, hunks: int, dropped: list[str], findings: int) -> list[str]:
    parts = []
    if lines:
        parts.append(f"{lines:,} changed line(s)")
    if hunks:
        parts.append(f"{hunks:,} cell(s) or hunk(s)")
    if dropped:
        names = ", ".join(dropped[:5]) + (
            f" and {len(dropped) - 5:,} more" if len(dropped) > 5 else ""
        )
        parts.append(f"{len(dropped):,} file(s) ({names})")
    if findings:
        parts.append(f"{findings:,} finding(s)")
    if not parts:
        return []
    note = (
        f"This saved copy is bounded to {limit:,} characters; not shown: {', '.join(parts)}. "
        "The live review shows all."
    )
    return [note]
