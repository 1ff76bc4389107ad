"""The little markdown our reports use, rendered as HTML (widgets) and as terminal text.

Reports are written once, in markdown: headings, ``- `` bullets, ``**bold**``, ``code``
spans and fenced blocks. A widget shows them as HTML; a terminal shows them as plain text
with the markup taken off (bold, optionally, as ANSI bold). Anything else passes through
as text, escaped for HTML.
"""

from __future__ import annotations

import html
import re

BOLD = "\x1b[1m"
DIM = "\x1b[2m"
RESET = "\x1b[0m"

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^(\s*)[-*]\s+(.*)$")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


def inline_html(text: str) -> str:
    """One line of markdown as HTML: ``**bold**`` and ``code`` spans; the rest escaped."""
    out: list[str] = []
    last = 0
    for match in _CODE.finditer(text):
        out.append(_strong_html(text[last : match.start()]))
        out.append(f"<code>{html.escape(match.group(1))}</code>")
        last = match.end()
    out.append(_strong_html(text[last:]))
    return "".join(out)


def _strong_html(text: str) -> str:
    parts = _STRONG.split(text)  # odd items are the bold ones
    return "".join(
        f"<b>{html.escape(p)}</b>" if i % 2 else html.escape(p) for i, p in enumerate(parts)
    )


def markdown_html(text: str) -> str:
    """Headings, bullets, fenced blocks and paragraphs of a report as HTML."""
    out: list[str] = []
    in_list = in_fence = False
    fence: list[str] = []
    for line in text.splitlines():
        if line.startswith("```"):
            if in_fence:
                out.append(
                    "<pre style='white-space:pre-wrap'>" + html.escape("\n".join(fence)) + "</pre>"
                )
                fence, in_fence = [], False
            else:
                if in_list:
                    out.append("</ul>")
                    in_list = False
                in_fence = True
            continue
        if in_fence:
            fence.append(line)
            continue
        bullet = _BULLET.match(line)
        if bullet and not in_list:
            out.append("<ul style='margin:0.2em 0'>")
            in_list = True
        elif not bullet and in_list:
            out.append("</ul>")
            in_list = False
        heading = _HEADING.match(line)
        if bullet:
            out.append(f"<li>{inline_html(bullet.group(2))}</li>")
        elif heading:
            level = min(6, len(heading.group(1)) + 2)  # nested in a widget: small headings
            out.append(
                f"<h{level} style='margin:0.4em 0 0.2em'>{inline_html(heading.group(2))}</h{level}>"
            )
        elif line.strip():
            out.append(f"<div>{inline_html(line)}</div>")
    if in_fence:
        out.append("<pre style='white-space:pre-wrap'>" + html.escape("\n".join(fence)) + "</pre>")
    if in_list:
        out.append("</ul>")
    return "".join(out)


def markdown_plain(text: str, *, color: bool = False) -> str:
    """A report for a terminal: markup taken off, headings (bold with ``color``) on their own."""
    out: list[str] = []
    in_fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            out.append("    " + line)
            continue
        heading = _HEADING.match(line)
        if heading:
            title = _plain_inline(heading.group(2), color)
            out.append(f"{BOLD}{title}{RESET}" if color else title)
            continue
        bullet = _BULLET.match(line)
        if bullet:
            out.append(f"{bullet.group(1)}- {_plain_inline(bullet.group(2), color)}")
            continue
        out.append(_plain_inline(line, color))
    return "\n".join(out).rstrip() + ("\n" if text.endswith("\n") else "")


def _plain_inline(text: str, color: bool) -> str:
    text = _CODE.sub(r"\1", text)
    return _STRONG.sub(rf"{BOLD}\1{RESET}" if color else r"\1", text)
