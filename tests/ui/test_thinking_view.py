"""Thinking deltas reach both views: the widget's folded output area and the terminal (dimmed)."""

from __future__ import annotations

import io

from agent_magic import events as ev
from agent_magic.ui.live import WidgetController
from agent_magic.ui.text import TextView


def test_text_view_prints_thinking_dimmed_and_text_plain():
    out = io.StringIO()
    view = TextView(out, color=True)
    view.handle(ev.ThinkingDelta("checking the parser"))
    view.handle(ev.TextDelta("Fixing it."))
    assert out.getvalue() == "\x1b[2mchecking the parser\x1b[0m\nFixing it."
    plain = io.StringIO()
    TextView(plain).handle(ev.ThinkingDelta("checking"))
    assert plain.getvalue() == "checking"


def test_widget_folded_output_shows_thinking():
    controller = WidgetController("fix it")
    controller.handle(ev.ThinkingDelta("the test feeds 1,234.50"))
    controller.handle(ev.TextDelta("Fixing it."))
    controller.panel.append_text("", flush=True)
    assert controller.panel.streamed == "the test feeds 1,234.50\nFixing it."
    # thinking is set apart (dimmed, italic) from the model's text
    assert (
        "<span class='agent-thinking'>the test feeds 1,234.50</span>\nFixing it."
        in controller.panel.stream.value
    )
