"""Render the repo map text: signatures for the top files, bare names for the rest, in a budget."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent_magic.analysis.symbols import Outline


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters per token) good enough for budgeting."""
    return (len(text) + 3) // 4


def render_outline(outline: Outline) -> str:
    """One file's block: path, doc, then indented signatures with first doc lines."""
    lines = [outline.path + (f"  # {outline.doc}" if outline.doc else "")]
    for h in outline.headings[:12]:
        lines.append(f"  ## {h}")
    for sym in outline.symbols:
        indent = "    " if sym.kind == "method" else "  "
        where = f"[cell {sym.cell}] " if sym.cell is not None else ""
        doc = f"  # {sym.doc}" if sym.doc else ""
        lines.append(f"{indent}{where}{sym.signature}{doc}")
    return "\n".join(lines)


def render_repo_map(
    top: Sequence[str],
    outlines: Mapping[str, Outline],
    all_files: Sequence[str],
    budget_tokens: int,
) -> str:
    """The map: detailed blocks for ranked files while they fit, then other file names while they fit."""
    parts: list[str] = []
    used = 0
    shown: set[str] = set()
    for path in top:
        outline = outlines.get(path)
        block = render_outline(outline) if outline else path
        cost = estimate_tokens(block) + 1
        if used + cost > budget_tokens:
            # A huge file still gets its first signatures rather than nothing.
            block = _truncate(block, (budget_tokens - used) * 4)
            cost = estimate_tokens(block) + 1
            if not block or used + cost > budget_tokens:
                continue
        parts.append(block)
        used += cost
        shown.add(path)
    rest = [p for p in all_files if p not in shown]
    if rest:
        header = "\nOther files:"
        names: list[str] = []
        used += estimate_tokens(header)
        for p in rest:
            cost = estimate_tokens(p) + 1
            if used + cost > budget_tokens:
                names.append(f"... and {len(rest) - len(names)} more")
                break
            names.append(p)
            used += cost
        if names and used <= budget_tokens + 10:
            parts.append(header.strip() + "\n" + "\n".join(names))
    return "\n\n".join(parts)


def _truncate(block: str, chars: int) -> str:
    if chars < 80:
        return ""
    lines, out, n = block.splitlines(), [], 0
    for ln in lines:
        if n + len(ln) + 1 > chars - 20:
            out.append("  ...")
            break
        out.append(ln)
        n += len(ln) + 1
    return "\n".join(out) if len(out) > 1 else ""
