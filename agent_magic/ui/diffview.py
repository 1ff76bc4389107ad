"""The diff view: per file collapsible, highlighted hunks, a checkbox per file and per hunk."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from agent_magic.staging.diff import visible
from agent_magic.ui.report import diff_stats, file_label

if TYPE_CHECKING:
    from agent_magic.staging.changeset import Changeset, FileChange
    from agent_magic.staging.diff import Hunk

COLLAPSE_LINES = 200  # files with longer diffs start collapsed and are highlighted when opened
_HUNK_RANGE = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def diff_html(diff: str) -> str:
    """A unified diff as syntax-highlighted HTML with inline styles (no stylesheet needed)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import DiffLexer

    formatter = HtmlFormatter(noclasses=True, nowrap=False, style="default")
    return highlight(diff, DiffLexer(), formatter)


def hunk_text(hunk: Hunk) -> str:
    """The hunk's text with its header line first."""
    text = hunk.text
    header = hunk.header.rstrip("\n")
    if header and not text.startswith(header):
        # cell and file hunks carry a label, not a unified-diff header line
        text = (header if header.startswith("@@") else f"@@ {header} @@") + "\n" + text
    return visible(text)


def hunk_for_line(change: FileChange, line: int | None) -> str | None:
    """The id of the hunk of ``change`` whose new-side range holds ``line`` (else its first)."""
    hunks = list(change.hunks)
    if not hunks:
        return None
    if line is not None:
        for hunk in hunks:
            start, length = hunk.new_start, hunk.new_len
            match = _HUNK_RANGE.match(hunk_text(hunk))
            if not start and match:
                start = int(match.group(1))
                length = int(match.group(2)) if match.group(2) is not None else 1
            if start and start <= line < start + max(length, 1):
                return hunk.id
    return hunks[0].id


class DiffView(widgets.VBox):
    """Every changed file of a changeset; ``selection()`` is the set of ticked hunk ids."""

    def __init__(
        self, changeset: Changeset | None, *, collapse_lines: int = COLLAPSE_LINES
    ) -> None:
        super().__init__()
        self.add_class("agent-diff")
        self.file_boxes: dict[str, widgets.Checkbox] = {}
        self.hunk_boxes: dict[str, widgets.Checkbox] = {}
        self.sections: dict[str, widgets.Accordion] = {}
        self._hunks_of: dict[str, list[str]] = {}
        self._syncing = False
        self.changes = list(changeset.files) if changeset is not None else []
        rows = [self._file_row(c, collapse_lines) for c in self.changes]
        if not rows:
            rows = [widgets.HTML("<i>No file changes.</i>")]
        self.children = rows

    def selection(self) -> set[str]:
        """Ids of the ticked hunks."""
        return {hid for hid, box in self.hunk_boxes.items() if box.value}

    def set_enabled(self, enabled: bool) -> None:
        """Freeze the checkboxes (after apply) or thaw them."""
        for box in (*self.file_boxes.values(), *self.hunk_boxes.values()):
            box.disabled = not enabled

    def reveal(self, path: str, line: int | None = None) -> str | None:
        """Open the file's section and mark the hunk holding ``line``; returns its id."""
        change = next((c for c in self.changes if c.path == path), None)
        if change is None:
            return None
        self.sections[path].selected_index = 0
        hid = hunk_for_line(change, line)
        for other, box in self.hunk_boxes.items():
            if other == hid:
                box.add_class("agent-hunk-focus")
            else:
                box.remove_class("agent-hunk-focus")
        return hid

    def _file_row(self, change: FileChange, collapse_lines: int) -> widgets.Widget:
        diff = change.diff()
        added, removed = diff_stats(diff)
        box = widgets.Checkbox(
            value=True,
            description=file_label(change),
            indent=False,
            layout=widgets.Layout(width="auto"),
        )
        box.add_class("agent-file-checkbox")
        self.file_boxes[change.path] = box
        ids = [h.id for h in change.hunks]
        self._hunks_of[change.path] = ids
        hunk_rows = []
        for hunk in change.hunks:
            hbox = widgets.Checkbox(
                value=True,
                description=_hunk_title(hunk),
                indent=False,
                layout=widgets.Layout(width="auto"),
            )
            hbox.add_class("agent-hunk-checkbox")
            hbox.observe(lambda _c, path=change.path: self._hunk_changed(path), "value")
            self.hunk_boxes[hunk.id] = hbox
            hunk_rows.append((hbox, hunk))
        box.observe(lambda c, path=change.path: self._file_changed(path, c["new"]), "value")
        body = widgets.VBox()
        section = widgets.Accordion(children=[body])
        section.set_title(
            0,
            f"{file_label(change)}  +{added} −{removed}"
            + ("  (notebook, per cell)" if change.is_notebook else ""),
        )
        self.sections[change.path] = section
        lines = len(diff.splitlines())
        rendered = False

        def fill(_change: Any = None) -> None:
            # highlighting is the slow part, so a collapsed file is rendered when first opened
            nonlocal rendered
            if rendered or section.selected_index is None:
                return
            rendered = True
            body.children = [
                widgets.VBox([hbox, widgets.HTML(diff_html(hunk_text(hunk)))])
                for hbox, hunk in hunk_rows
            ] or [widgets.HTML(f"<pre>{html.escape(diff)}</pre>")]

        if lines > collapse_lines:
            body.children = [widgets.HTML(f"<i>{lines} diff lines; open to view the hunks</i>")]
        section.observe(fill, "selected_index")
        section.selected_index = None if lines > collapse_lines else 0
        return widgets.VBox([box, section])

    def _file_changed(self, path: str, value: bool) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            for hid in self._hunks_of[path]:
                self.hunk_boxes[hid].value = value
        finally:
            self._syncing = False

    def _hunk_changed(self, path: str) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.file_boxes[path].value = any(
                self.hunk_boxes[h].value for h in self._hunks_of[path]
            )
        finally:
            self._syncing = False


def _hunk_title(hunk: Hunk) -> str:
    header = (hunk.header or hunk_text(hunk).splitlines()[0]).strip()
    return header[:100] or str(hunk.id)
