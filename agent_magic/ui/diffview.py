"""The diff review widget (anywidget + CodeMirror merge view) and text helpers for diffs."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from importlib import resources
from typing import Any, Literal, cast

import anywidget
import traitlets

from agent_magic.records import Finding
from agent_magic.staging.changeset import Changeset
from agent_magic.staging.diff import visible
from agent_magic.ui import reviewsnapshot, reviewstate

BUNDLE = "static/review.js"  # built from js/src/review by esbuild (npm run build)
MISSING_BUNDLE = """export default { render({ el }) {
  el.textContent = "agent_magic's review widget is not built: run `npm run build` in js/ "
    + "(pip install -e . does it when npm is installed).";
} };
"""
Choice = Literal["accepted", "rejected", "pending"]  # pending: undecided again
CHOICES: dict[str, Choice] = {"accepted": "accepted", "rejected": "rejected", "pending": "pending"}
_HUNK_RANGE = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def diff_html(diff: str) -> str:
    """A unified diff as syntax-highlighted HTML with inline styles (no stylesheet needed)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import DiffLexer

    formatter = HtmlFormatter(noclasses=True, nowrap=False, style="default")
    return highlight(diff, DiffLexer(), formatter)


def hunk_text(hunk: Any) -> str:
    """The hunk's text with its header line first."""
    text = hunk.text
    header = (getattr(hunk, "header", "") or "").rstrip("\n")
    if header and not text.startswith(header):
        # cell and file hunks carry a label, not a unified-diff header line
        text = (header if header.startswith("@@") else f"@@ {header} @@") + "\n" + text
    return visible(text)


def bundle() -> str:
    """The front end's ES module, or one that says how to build it."""
    path = resources.files("agent_magic.ui").joinpath(BUNDLE)
    return path.read_text(encoding="utf-8") if path.is_file() else MISSING_BUNDLE


def hunk_for_line(change: Any, line: int | None) -> str | None:
    """The id of the hunk of ``change`` whose new-side range holds ``line`` (else its first)."""
    hunks = list(change.hunks)
    if not hunks:
        return None
    if line is not None:
        for hunk in hunks:
            start, length = getattr(hunk, "new_start", 0), getattr(hunk, "new_len", 0)
            match = _HUNK_RANGE.match(hunk_text(hunk))
            if not start and match:
                start = int(match.group(1))
                length = int(match.group(2)) if match.group(2) is not None else 1
            if start and start <= line < start + max(length, 1):
                return hunk.id
    return hunks[0].id


class DiffView(anywidget.AnyWidget):
    """The review of a changeset: CodeMirror merge views per file, per-hunk Accept / Reject,
    findings on their lines; ``selection()`` is every hunk not rejected.

    The front end only asks (a ``decide`` message); this side checks the ids and owns
    ``decisions``, so a stale or kernel-less page cannot change what Apply writes. Its cell
    output also carries a read-only copy of the review (``reviewsnapshot``), which the notebook
    saves and agent_magic's JupyterLab extension draws when no kernel holds the widget.
    """

    _esm = bundle()
    files = traitlets.List(traitlets.Dict()).tag(sync=True)
    findings = traitlets.List(traitlets.Dict()).tag(sync=True)
    decisions = traitlets.Dict(traitlets.Unicode()).tag(sync=True)  # hunk id -> accepted|rejected
    enabled = traitlets.Bool(True).tag(sync=True)
    mode = traitlets.Unicode("unified").tag(sync=True)  # unified | split
    focus = traitlets.Unicode("").tag(sync=True)  # a hunk id the front end scrolls to
    apply_label = traitlets.Unicode("Apply").tag(sync=True)  # what Apply writes, in words

    def __init__(
        self,
        changeset: Changeset | None,
        findings: Sequence[Finding] = (),
        *,
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        files = reviewstate.file_states(changeset)
        super().__init__(files=files, findings=reviewstate.finding_states(list(findings), files))
        self.add_class("agent-diff")
        self._changeset = changeset
        self._findings = list(findings)
        self._root = root  # the project's paths leave the saved copy
        self._hunk_ids = {h["id"]: f["path"] for f in files for h in f["hunks"]}
        self.on_msg(self._on_message)
        self.observe(lambda _change: self._label(), "decisions")
        self._label()

    def snapshot(self, session: str = "", applied: str = "") -> reviewsnapshot.ReviewSnapshot:
        """The review as the notebook saves it: bounded, no secrets, no local paths."""
        return reviewsnapshot.snapshot(
            self._changeset,
            self._findings,
            self.decisions,
            root=self._root,
            session=session,
            applied=applied,
        )

    def _repr_mimebundle_(self, **kwargs: dict) -> tuple[dict, dict] | None:
        return reviewsnapshot.with_review(super()._repr_mimebundle_(**kwargs), self.snapshot())

    def hunk_ids(self) -> list[str]:
        """Every hunk id, file by file."""
        return list(self._hunk_ids)

    def selection(self) -> set[str]:
        """Ids of the hunks Apply writes: all but the rejected ones."""
        return reviewstate.selection(
            cast("list[reviewstate.FileState]", self.files), self.decisions
        )

    def tally(self) -> reviewstate.Tally:
        """How many hunks are accepted, rejected and not reviewed."""
        return reviewstate.tally(cast("list[reviewstate.FileState]", self.files), self.decisions)

    def _label(self) -> None:
        self.apply_label = self.tally().label()

    def decide(self, ids: Sequence[str], decision: Choice) -> None:
        """Mark hunks accepted, rejected or (``"pending"``) undecided; unknown ids are ignored."""
        if not self.enabled or decision not in CHOICES:
            return
        decisions = dict(self.decisions)
        for hid in ids:
            if hid not in self._hunk_ids:
                continue
            if decision == "pending":
                decisions.pop(hid, None)
            else:
                decisions[hid] = decision
        self.decisions = decisions

    def decide_file(self, path: str, decision: Choice) -> None:
        """Accept or reject every hunk of one file."""
        self.decide([h for h, p in self._hunk_ids.items() if p == path], decision)

    def set_enabled(self, enabled: bool) -> None:
        """Freeze the decisions (after apply or reject) or thaw them."""
        self.enabled = enabled

    def reveal(self, path: str, line: int | None = None) -> str | None:
        """Scroll the front end to the hunk of ``path`` holding ``line``; returns its id."""
        file = next((f for f in self.files if f["path"] == path), None)
        hid = reviewstate.hunk_at(cast("reviewstate.FileState", file), line) if file else None
        if hid is not None:
            self.focus = ""  # a second reveal of the same hunk scrolls again
            self.focus = hid
        return hid

    def _on_message(self, _widget: object, content: object, _buffers: object) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "decide":
            ids = content.get("ids")
            decision = CHOICES.get(str(content.get("decision")))
            if isinstance(ids, list) and decision is not None:
                self.decide([i for i in ids if isinstance(i, str)], decision)
        elif kind == "mode" and content.get("mode") in ("unified", "split"):
            self.mode = str(content["mode"])
