"""The review widget's state, pure: a changeset and its findings as JSON-able dicts.

Everything the front end draws is in here (both sides of each file, every hunk's line ranges,
the findings and where they sit), so a notebook saved with its widget state shows the review
again without a kernel.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal, TypedDict

from agent_magic.errors import ToolError
from agent_magic.records import Finding
from agent_magic.staging import notebooks, textfile
from agent_magic.staging.changeset import Changeset, FileChange
from agent_magic.staging.diff import Hunk, lines_of, visible
from agent_magic.staging.nbdiff import pair_keys
from agent_magic.staging.nbview import source_text

FileView = Literal["text", "hunks", "notebook"]
Placement = Literal["line", "file", "top"]

MAX_SIDE_CHARS = 1_000_000  # one side of a file sent whole; past it only the hunks are sent
MAX_TOTAL_CHARS = 8_000_000  # whole sides of all files; later files send their hunks only
MAX_CELL_CHARS = 100_000  # one side of one notebook cell
LANGUAGES = {
    ".py": "python",
    ".pyi": "python",
    ".pyw": "python",
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
    ".ipynb": "json",
    ".geojson": "json",
}
BLOCKING = "blocker"  # an open finding of this severity needs the confirm box before apply


class HunkState(TypedDict):
    """One selectable hunk as the front end draws it; line ranges are 0-based, end exclusive."""

    id: str
    header: str
    kind: str  # text | cell | order | file
    old_start: int
    old_end: int
    new_start: int
    new_end: int
    changes: list[list[int]]  # [old_from, old_to, new_from, new_to] per change it owns
    text: str  # shown as is when the file's sides are not sent (view "hunks", order, file)
    old: str  # a notebook cell's source before and after
    new: str
    language: str
    notes: list[str]  # a notebook cell's output and execution-count changes


class FileState(TypedDict):
    """One changed file: its sides (view "text"), or its hunks' text, or its cells."""

    path: str
    old_path: str
    status: str
    language: str
    view: FileView
    old: str
    new: str
    added: int
    removed: int
    hunks: list[HunkState]


class FindingState(TypedDict):
    """A finding and where it sits: on a line of a file, at a file's top, or above the files."""

    severity: str
    message: str
    suggestion: str
    source: str
    status: str
    path: str
    line: int  # 1-based on the file's new side; 0 when unknown
    line_end: int
    location: str
    blocking: bool
    placement: Placement


def language_of(path: str) -> str:
    """The highlighting language of a file: python, markdown, json or text."""
    return LANGUAGES.get(PurePosixPath(path).suffix.lower(), "text")


def file_states(changeset: Changeset | None, budget: int = MAX_TOTAL_CHARS) -> list[FileState]:
    """Every changed file of ``changeset`` as the widget's state; a file whose sides no longer fit
    in ``budget`` characters sends only its hunks, so one widget stays a bounded message."""
    out = []
    for change in changeset.files if changeset else []:
        size = len(change.before or b"") + len(change.after or b"")
        state = file_state(change, whole=size <= budget)
        budget -= len(state["old"]) + len(state["new"])
        out.append(state)
    return out


def file_state(change: FileChange, *, whole: bool = True) -> FileState:
    """One file change as the widget draws it (``whole``: both sides, when not too big)."""
    state = FileState(
        path=change.path,
        old_path=change.old_path or "",
        status=change.status,
        language=language_of(change.path),
        view="hunks",
        old="",
        new="",
        added=0,
        removed=0,
        hunks=[],
    )
    if change.is_notebook and change.before is not None and change.after is not None:
        cells = _notebook_hunks(change)
        if cells is not None:
            state["view"] = "notebook"
            state["hunks"] = cells
            _count(state)
            return state
    sides = _sides(change) if whole else None
    if sides is not None and any(h.kind == "text" for h in change.hunks):
        state["view"] = "text"
        state["old"], state["new"] = sides
        state["hunks"] = [_hunk(h, with_text=h.kind != "text") for h in change.hunks]
        for hunk in state["hunks"]:
            for i1, i2, j1, j2 in hunk["changes"]:
                state["removed"] += i2 - i1
                state["added"] += j2 - j1
        return state
    state["hunks"] = [_hunk(h, with_text=True) for h in change.hunks]
    _count(state)
    return state


def finding_states(findings: list[Finding], files: list[FileState]) -> list[FindingState]:
    """The findings with their placement: on a line of a drawn file, its top, or above the files."""
    by_path = {f["path"]: f for f in files}
    out = []
    for finding in findings:
        path = finding.path or ""
        line = finding.line_start or 0
        placement: Placement = "top"
        target = by_path.get(path)
        if target is not None:
            placement = "line" if line and _line_drawn(target, line) else "file"
        out.append(
            FindingState(
                severity=finding.severity,
                message=finding.message,
                suggestion=finding.suggestion,
                source=finding.source,
                status=finding.status,
                path=path,
                line=line,
                line_end=finding.line_end or line,
                location=finding.location(),
                blocking=finding.severity == BLOCKING and finding.status == "open",
                placement=placement,
            )
        )
    return out


def hunk_at(file: FileState, line: int | None) -> str | None:
    """The id of the hunk of ``file`` whose new-side range holds ``line`` (else its first)."""
    hunks = file["hunks"]
    if not hunks:
        return None
    if line:
        for hunk in hunks:
            if hunk["kind"] == "text" and hunk["new_start"] < line <= max(
                hunk["new_end"], hunk["new_start"] + 1
            ):
                return hunk["id"]
    return hunks[0]["id"]


def selection(files: list[FileState], decisions: dict[str, str]) -> set[str]:
    """The hunks Apply writes: every hunk the user did not reject."""
    return {h["id"] for f in files for h in f["hunks"] if decisions.get(h["id"]) != "rejected"}


APPLY_HELP = (
    "Apply writes every hunk not rejected: the accepted ones and the ones not reviewed; "
    "rejected hunks are left out"
)


@dataclass(frozen=True)
class Tally:
    """The hunks by decision; Apply writes the accepted and the undecided (not reviewed) ones."""

    accepted: int = 0
    rejected: int = 0
    undecided: int = 0

    @property
    def total(self) -> int:
        """Every hunk of the change."""
        return self.accepted + self.rejected + self.undecided

    @property
    def applied(self) -> int:
        """The hunks Apply writes."""
        return self.accepted + self.undecided

    def label(self) -> str:
        """What Apply will do, for its button: ``Apply 3 of 5 hunks (2 rejected)``."""
        total, undecided = self.total, self.undecided
        if not total:
            return "Apply"
        if not self.applied:
            return f"Nothing to apply ({_hunks(total)} rejected)"
        if self.rejected:
            unreviewed = f", {undecided} not reviewed" if undecided else ""
            return f"Apply {self.applied} of {total} hunks ({self.rejected} rejected{unreviewed})"
        if not undecided:
            return f"Apply {_hunks(total)}"
        if total == 1:
            return "Apply 1 hunk (not reviewed)"
        if undecided == total:
            return f"Apply all {total} (none reviewed)"
        return f"Apply all {total} ({undecided} not reviewed)"

    def record_text(self) -> str:
        """What an apply wrote, reviewed and not, for the record: ``2 accepted, 1 not reviewed``."""
        parts = [f"{self.accepted} accepted"] if self.accepted else []
        if self.undecided:
            parts.append(f"{self.undecided} not reviewed")
        text = f"{_hunks(self.applied)}: " + ", ".join(parts)
        return text + (f"; {self.rejected} rejected, left out" if self.rejected else "")


def tally(files: list[FileState], decisions: dict[str, str]) -> Tally:
    """How many hunks of ``files`` are accepted, rejected and undecided."""
    counts = Counter(decisions.get(h["id"], "") for f in files for h in f["hunks"])
    return Tally(
        counts["accepted"],
        counts["rejected"],
        sum(counts.values()) - counts["accepted"] - counts["rejected"],
    )


def _hunks(n: int) -> str:
    return f"{n} hunk" + ("" if n == 1 else "s")


def output_notes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed in a cell besides its source: outputs (summarized by kind), execution count."""
    notes = []
    before, after = _output_kinds(old), _output_kinds(new)
    if before and not after:
        notes.append(f"outputs cleared: {_kinds_text(before)}")
    elif after and not before:
        notes.append(f"outputs added: {_kinds_text(after)}")
    elif before and old.get("outputs") != new.get("outputs"):
        notes.append(f"outputs changed: {_kinds_text(before)} → {_kinds_text(after)}")
    count_old, count_new = old.get("execution_count"), new.get("execution_count")
    if count_old is not None and count_new is None:
        notes.append(f"execution count reset (was [{count_old}])")
    elif count_old != count_new and count_new is not None:
        was = f"[{count_old}]" if count_old is not None else "none"
        notes.append(f"execution count {was} → [{count_new}]")
    return notes


def _output_kinds(cell: dict[str, Any]) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for output in cell.get("outputs") or []:
        kinds[_output_kind(output)] += 1
    return kinds


def _output_kind(output: Any) -> str:
    if not isinstance(output, dict):
        return "output"
    kind = output.get("output_type")
    if kind == "stream":
        return "stream"
    if kind in ("error", "pyerr"):
        return "error"
    data = output.get("data")
    if not isinstance(data, dict):
        return "output"
    if any(str(k).startswith("image/") for k in data):
        return "image"
    html = data.get("text/html")
    html_text = "".join(html) if isinstance(html, list) else str(html or "")
    if "<table" in html_text.lower():
        return "table"
    if "text/html" in data:
        return "html"
    return "text"


_PLURALS = {"image": "images", "table": "tables", "error": "errors", "stream": "streams"}


def _kinds_text(kinds: Counter[str]) -> str:
    if not kinds:
        return "none"
    order = ("image", "table", "html", "text", "stream", "error", "output")
    return ", ".join(
        f"{n} {_PLURALS.get(k, k + 's') if n > 1 else k}"
        for k in sorted(kinds, key=lambda k: order.index(k) if k in order else len(order))
        for n in [kinds[k]]
    )


def _sides(change: FileChange) -> tuple[str, str] | None:
    try:
        old = _decoded(change.before, change.path)
        new = _decoded(change.after, change.path)
    except ToolError:
        return None
    if len(old) > MAX_SIDE_CHARS or len(new) > MAX_SIDE_CHARS:
        return None
    return old, new


def _decoded(data: bytes | None, path: str) -> str:
    if data is None:
        return ""
    return visible(textfile.decode(data, path, max_bytes=1 << 62)[0])


def _hunk(hunk: Hunk, *, with_text: bool) -> HunkState:
    return HunkState(
        id=hunk.id,
        header=visible(hunk.header),
        kind=hunk.kind,
        old_start=max(hunk.old_start - 1, 0),
        old_end=max(hunk.old_start - 1, 0) + hunk.old_len,
        new_start=max(hunk.new_start - 1, 0),
        new_end=max(hunk.new_start - 1, 0) + hunk.new_len,
        changes=[list(c) for c in hunk.changes],
        text=visible(_body(hunk)) if with_text else "",
        old="",
        new="",
        language="",
        notes=[],
    )


def _body(hunk: Hunk) -> str:
    # a text hunk's first line repeats its header; the widget shows the header once
    first, _, rest = hunk.text.partition("\n")
    return rest if hunk.kind == "text" and first == hunk.header else hunk.text


def _notebook_hunks(change: FileChange) -> list[HunkState] | None:
    try:
        before = notebooks.load(change.before or b"", change.path)[0]
        after = notebooks.load(change.after or b"", change.path)[0]
    except ToolError:
        return None
    bkeys, akeys = pair_keys(before["cells"], after["cells"])
    old_cells = dict(zip(bkeys, before["cells"], strict=True))
    new_cells = dict(zip(akeys, after["cells"], strict=True))
    kernel_language = _kernel_language(after)
    out = []
    for hunk in change.hunks:
        state = _hunk(hunk, with_text=True)
        key = hunk.id.rsplit("#", 1)[1].removeprefix("cell-")
        if hunk.kind == "cell":
            old, new = old_cells.get(key), new_cells.get(key)
            cell = new or old or {}
            state["language"] = _cell_language(cell, kernel_language)
            state["old"] = _cell_source(old)
            state["new"] = _cell_source(new)
            state["notes"] = output_notes(old or {}, new or {})
            state["changes"] = line_changes(state["old"], state["new"])
            state["text"] = ""
        out.append(state)
    return out


def _cell_source(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return ""
    text = visible(source_text(cell))
    if text and not text.endswith("\n"):
        text += "\n"  # whole lines on both sides: an added cell is all insertion
    if len(text) > MAX_CELL_CHARS:
        cut = text.rfind("\n", 0, MAX_CELL_CHARS) + 1 or MAX_CELL_CHARS
        text = text[:cut] + f"[{len(text) - cut:,} more characters of this cell not shown]\n"
    return text


def _kernel_language(nb: dict[str, Any]) -> str:
    meta = nb.get("metadata") or {}
    name = (meta.get("kernelspec") or {}).get("language") or (meta.get("language_info") or {}).get(
        "name"
    )
    return "python" if not name or str(name).lower() == "python" else "text"


def _cell_language(cell: dict[str, Any], kernel_language: str) -> str:
    kind = cell.get("cell_type")
    if kind == "markdown":
        return "markdown"
    return kernel_language if kind == "code" else "text"


def line_changes(old: str, new: str) -> list[list[int]]:
    """The changed line ranges ``[old_from, old_to, new_from, new_to]`` between two texts."""
    matcher = difflib.SequenceMatcher(None, lines_of(old), lines_of(new), autojunk=False)
    return [[i1, i2, j1, j2] for op, i1, i2, j1, j2 in matcher.get_opcodes() if op != "equal"]


def _count(state: FileState) -> None:
    for hunk in state["hunks"]:
        if hunk["kind"] == "cell":
            for i1, i2, j1, j2 in hunk["changes"]:
                state["removed"] += i2 - i1
                state["added"] += j2 - j1
            continue
        for line in hunk["text"].splitlines():
            if line.startswith("+"):
                state["added"] += 1
            elif line.startswith("-"):
                state["removed"] += 1


def _line_drawn(file: FileState, line: int) -> bool:
    # lines outside every hunk sit in folded unchanged regions: the file's top shows those
    if file["view"] != "text" or file["status"] == "deleted":
        return False
    return any(h["kind"] == "text" and h["new_start"] < line <= h["new_end"] for h in file["hunks"])
