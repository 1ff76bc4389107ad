"""The search tool's answer the slow, obvious way: every line of every readable file tried.

The search's first passes (``analysis.grep``) must give exactly this; tests and the search
fuzzer (``benchmarks/search_fuzz.py``) hold them to it.
"""

from __future__ import annotations

import regex

from agent_magic.errors import AgentMagicError
from agent_magic.staging import Staging
from agent_magic.staging.edits import numbered_lines
from agent_magic.staging.nbview import cell_lines
from agent_magic.staging.notebooks import is_notebook
from agent_magic.tools import MAX_SEARCH_HITS


def every_line(staging: Staging, files: list[str], pattern: str) -> str:
    """The search's answer when every line of every readable file is tried (no time bound)."""
    compiled = regex.compile(pattern)
    hits: list[str] = []
    total = 0
    for rel in files:
        try:
            if is_notebook(rel):
                nb = staging.read_notebook(rel)
                lines = [(f" [{label}]", n, line) for label, n, line in cell_lines(nb)]
            else:
                text = staging.read_text(rel)
                lines = [("", n, line) for n, line in enumerate(numbered_lines(text), 1)]
        except (AgentMagicError, OSError):
            continue
        for where, n, line in lines:
            if compiled.search(line):
                total += 1
                if len(hits) < MAX_SEARCH_HITS:
                    hits.append(f"{rel}{where}:{n}: {line.strip()[:200]}")
    if not hits:
        return f"no matches for {pattern!r}"
    more = f"\n[{total - len(hits)} more matches not shown; narrow the search]"
    return "\n".join(hits) + (more if total > len(hits) else "")
