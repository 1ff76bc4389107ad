"""The tools the model sees, their documented schemas, and their dispatch onto the staging area.

Control tools (``submit_understanding``, ``submit_plan``, ``report_finding``, ``finish``) change the
state of the run, so the agent handles them; this module validates their input like any other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent_magic.analysis.grep import (
    TAME_LINE,
    LineFinder,
    Needles,
    is_tame,
    line_finder,
    line_starts,
    lines_with,
    needles,
    numbered_at,
)
from agent_magic.analysis.outline import Outline, outline
from agent_magic.analysis.regexparse import required_copies
from agent_magic.errors import AgentMagicError, ToolError
from agent_magic.records import SEVERITIES
from agent_magic.staging.edits import numbered_lines
from agent_magic.staging.nbview import cell_lines
from agent_magic.staging.notebooks import is_notebook

if TYPE_CHECKING:
    from agent_magic.staging import Staging

MAX_VIEW_LINES = 400
MAX_SEARCH_HITS = 60
# Parts the regex engine may lay out to compile a search pattern (see required_copies): some
# milliseconds. Its compile holds the GIL, so more would freeze the kernel, past any time bound.
MAX_PATTERN_COPIES = 50_000
MAX_RESULT_CHARS = 20_000
SEARCH_SECONDS = 5.0  # a search (a catastrophic regex, a huge tree) stops here with what it found

_STR = {"type": "string"}
_INT = {"type": "integer"}
_STRS = {"type": "array", "items": {"type": "string"}}


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict:
    return {
        "name": name,
        "description": description,
        "input_schema": {"type": "object", "properties": properties, "required": required},
    }


READ_TOOLS = [
    _tool(
        "view",
        "Show a file with line numbers (optionally a line range). Notebooks (.ipynb) "
        "are shown as numbered cells with their ids, outputs trimmed; `start_cell`/`end_cell` "
        "pick a range of cells (0-based, inclusive), and with a single cell `start_line`/"
        "`end_line` pick lines of its source. A view that is cut says how to see the rest.",
        {"path": _STR, "start_line": _INT, "end_line": _INT, "start_cell": _INT, "end_cell": _INT},
        ["path"],
    ),
    _tool(
        "list_dir",
        "List a directory of the project (directories end with '/').",
        {"path": _STR},
        [],
    ),
    _tool(
        "search",
        "Search project files for a Python regular expression; returns path:line: text "
        f"for at most {MAX_SEARCH_HITS} hits (in notebooks, path [cell N id=ID]:line: text, the "
        "line counted within the cell's source). `path` limits the search to a directory or "
        "file, `glob` to file names (e.g. '*.py').",
        {"pattern": _STR, "path": _STR, "glob": _STR},
        ["pattern"],
    ),
]

EDIT_TOOLS = [
    _tool(
        "replace",
        "Replace one occurrence of `old` with `new` in a file. `old` must match a "
        "unique region; include a few lines of context to make it unique. Optional `line`: "
        "the line where `old` starts (as view numbers lines), only to choose among the places "
        "a refusal lists.",
        {"path": _STR, "old": _STR, "new": _STR, "line": _INT},
        ["path", "old", "new"],
    ),
    _tool(
        "insert",
        "Insert `text` after line `line` of a file (0 inserts at the top).",
        {"path": _STR, "line": _INT, "text": _STR},
        ["path", "line", "text"],
    ),
    _tool(
        "create",
        "Create a new file with the given content (set overwrite to replace a file).",
        {"path": _STR, "content": _STR, "overwrite": {"type": "boolean"}},
        ["path", "content"],
    ),
    _tool("delete", "Delete a file.", {"path": _STR}, ["path"]),
    _tool(
        "rename", "Rename or move a file.", {"path": _STR, "new_path": _STR}, ["path", "new_path"]
    ),
    _tool(
        "notebook_edit",
        "Edit a notebook by cells, never as JSON. action: replace | insert | "
        "delete | move | set_type. `cell` is a cell id, or an index written '@3' (from view); "
        "insert puts the new cell at `index`; move takes `to_index`; cell_type is code, "
        "markdown or raw.",
        {
            "path": _STR,
            "action": {
                "type": "string",
                "enum": ["replace", "insert", "delete", "move", "set_type"],
            },
            "cell": _STR,
            "index": _INT,
            "source": _STR,
            "cell_type": _STR,
            "to_index": _INT,
        },
        ["path", "action"],
    ),
]

EXEC_TOOLS = [
    _tool(
        "run",
        "Run a shell command (`sh -c`) in a sandboxed scratch copy of the project with "
        "your staged changes applied: reproduce a bug, run one test, try a script. Each call "
        "starts from a fresh copy; there is no network and only the copy and /tmp are "
        "writable. Files the command writes are NOT staged and are thrown away: change files "
        "only with the edit tools. Returns the exit code, the duration and the output (its "
        "head and tail when long). `timeout` in seconds: default 60, at most 600.",
        {"command": _STR, "timeout": _INT},
        ["command"],
    ),
]

CONTROL_TOOLS = [
    _tool(
        "submit_understanding",
        "Restate the task, list acceptance criteria and the assumptions "
        "you made where the task is open.",
        {"restatement": _STR, "acceptance_criteria": _STRS, "assumptions": _STRS},
        ["restatement", "acceptance_criteria"],
    ),
    _tool(
        "submit_plan",
        "Submit the plan: a summary, ordered steps (each with the files it "
        "touches), all files to change, risks and edge cases.",
        {
            "summary": _STR,
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"description": _STR, "files": _STRS},
                    "required": ["description"],
                },
            },
            "files": _STRS,
            "risks": _STRS,
        },
        ["summary", "steps"],
    ),
    _tool(
        "report_finding",
        "Report a problem in the change: severity blocker | major | minor | "
        "nit, the file and line range, what is wrong and a suggested fix.",
        {
            "severity": {"type": "string", "enum": list(SEVERITIES)},
            "message": _STR,
            "path": _STR,
            "line_start": _INT,
            "line_end": _INT,
            "suggestion": _STR,
        },
        ["severity", "message"],
    ),
    _tool(
        "finish",
        "Say you are done with the current phase, with a short summary.",
        {"summary": _STR},
        [],
    ),
]

ALL_TOOLS = READ_TOOLS + EDIT_TOOLS + EXEC_TOOLS + CONTROL_TOOLS
SCHEMAS = {t["name"]: t["input_schema"] for t in ALL_TOOLS}
READ_NAMES = frozenset(t["name"] for t in READ_TOOLS)
EDIT_NAMES = frozenset(t["name"] for t in EDIT_TOOLS)
EXEC_NAMES = frozenset(t["name"] for t in EXEC_TOOLS)
CONTROL_NAMES = frozenset(t["name"] for t in CONTROL_TOOLS)

_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict}
_NAMED = {"string": "a string", "integer": "an integer", "boolean": "true or false"}
_NAMED |= {"array": "an array", "object": "an object"}


def validate(name: str, data: Any) -> dict[str, Any]:
    """Check a tool call's input against its schema; raise ToolError saying what is wrong."""
    if name not in SCHEMAS:
        raise ToolError(f"unknown tool {name!r}; available: {', '.join(sorted(SCHEMAS))}")
    if not isinstance(data, dict):
        raise ToolError(f"{name}: input must be a JSON object")
    if "__invalid_json__" in data:
        raise ToolError(f"{name}: the tool input was not valid JSON; send it again as an object")
    schema = SCHEMAS[name]
    # A null for an optional field is how many models say "not given" (JSON has no other way).
    data = {k: v for k, v in data.items() if v is not None or k in schema["required"]}
    missing = [k for k in schema["required"] if k not in data]
    if missing:
        raise ToolError(f"{name}: missing required field(s): {', '.join(missing)}")
    for key, value in data.items():
        spec = schema["properties"].get(key)
        if spec is None:
            raise ToolError(
                f"{name}: unknown field {key!r}; fields: {', '.join(schema['properties'])}"
            )
        expected = _TYPES[spec["type"]]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ToolError(f"{name}: field {key!r} must be {_NAMED[spec['type']]}")
        if "enum" in spec and value not in spec["enum"]:
            raise ToolError(f"{name}: field {key!r} must be one of {', '.join(spec['enum'])}")
    return data


@dataclass
class Toolbox:
    """Runs file tools against a staging area; ``files`` lists the project's searchable files.

    ``runner(command, timeout)`` runs the ``run`` tool (in a sandboxed copy); None: unavailable.
    """

    staging: Staging
    files: Callable[[], list[str]]
    readonly: Callable[[str], bool] = lambda path: False
    runner: Callable[[str, int | None], str] | None = None
    search_seconds: float = SEARCH_SECONDS
    # Given texts every matching line holds (see Needles) and the seconds it may take, the
    # project files known to lack them (git grep); the search skips those, unless staged or a
    # notebook. None: read every file.
    absent: Callable[[Needles | Outline, float], set[str] | None] | None = None
    # Given an exact outline (see Outline.exact) and the seconds it may take, the lines it
    # matches in each plain file on disk (git grep -c); None: count by reading.
    line_counts: Callable[[Outline, float], dict[str, int] | None] | None = None

    def run(self, name: str, data: dict[str, Any]) -> str:
        """Run one read or edit tool; raise ToolError (or another AgentMagicError) on failure."""
        handler = getattr(self, f"_{name}", None)
        if handler is None or name in CONTROL_NAMES:
            raise ToolError(f"{name} is not a file tool")
        if name in EDIT_NAMES:
            for key in ("path", "new_path"):
                if key in data and self.readonly(data[key]):
                    raise ToolError(f"{data[key]} is read-only for this task; change other files")
        try:
            result = handler(**data)
        except ToolError:
            raise
        except AgentMagicError as exc:  # path and staging refusals become tool errors too
            raise ToolError(str(exc)) from None
        except OSError as exc:  # ENAMETOOLONG, ELOOP, EACCES, ...: the model's problem, not a crash
            where = f" ({exc.filename})" if exc.filename else ""
            raise ToolError(f"{name}: {exc.strerror or exc}{where}") from None
        return _clip(result)

    def _view(
        self,
        path: str,
        start_line: int | None = None,
        end_line: int | None = None,
        start_cell: int | None = None,
        end_cell: int | None = None,
    ) -> str:
        if is_notebook(path):
            return self.staging.notebook_view(path, start_cell, end_cell, start_line, end_line)
        if start_cell is not None or end_cell is not None:
            raise ToolError(f"{path} is not a notebook; start_cell/end_cell are for .ipynb files")
        # Numbered as edits number them (LF only), so a `line` for replace agrees with the view.
        lines = numbered_lines(self.staging.read_text(path))  # a directory: "use list_dir"
        start = max(1, start_line or 1)
        end = min(len(lines), end_line or start + MAX_VIEW_LINES - 1, start + MAX_VIEW_LINES - 1)
        if lines and start > len(lines):
            raise ToolError(f"{path} has {len(lines)} lines; start_line {start} is past the end")
        body = "\n".join(f"{n:>5}  {lines[n - 1]}" for n in range(start, end + 1))
        more = (
            f"\n[lines {end + 1}-{len(lines)} not shown; view with start_line={end + 1}]"
            if end < len(lines)
            else ""
        )
        return f"{path} ({len(lines)} lines)\n{body}{more}"

    def _list_dir(self, path: str = ".") -> str:
        entries = self.staging.list_dir(path)
        return "\n".join(entries) if entries else "(empty)"

    def _search(self, pattern: str, path: str = ".", glob: str | None = None) -> str:
        try:
            return self._search_files(pattern, path, glob)
        except RuntimeError as exc:  # the regex engine's own fault on an odd pattern
            raise ToolError(
                f"search: the regular expression engine failed on {pattern!r} ({exc}); "
                "use a simpler pattern"
            ) from None

    def _search_files(self, pattern: str, path: str, glob: str | None) -> str:
        # The `regex` engine takes a timeout, so a catastrophic pattern ends with partial results.
        import fnmatch

        import regex

        copies = required_copies(pattern)
        if copies > MAX_PATTERN_COPIES:
            raise ToolError(
                f"search: {pattern!r} repeats its parts {copies:,} times in all (counts of "
                f"nested repeats multiply); over {MAX_PATTERN_COPIES:,} the regular expression "
                "engine takes seconds to compile it: use smaller repeat counts"
            )
        try:
            compiled = regex.compile(pattern)
        except (regex.error, ValueError, OverflowError) as exc:
            raise ToolError(f"search: bad regular expression: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the engine's own fault, e.g. on (?i)[^\s\S]
            raise ToolError(
                f"search: the regular expression engine failed on {pattern!r} "
                f"({type(exc).__name__}: {exc}); use a simpler pattern"
            ) from None
        prefix = "" if path in (".", "") else path.rstrip("/")
        held = needles(pattern)
        tame = is_tame(pattern)
        shape = outline(pattern)
        # Without texts to look for, a pattern that sees no further than its line is run over
        # each whole file at once (in C) to find the lines it matches.
        finder = line_finder(pattern) if held is None else None
        # the first pass counts against the search's time too
        deadline = time.monotonic() + self.search_seconds
        # With an exact outline git grep counts the matching lines of plain files itself: only
        # the files that give the first hits, and those it cannot answer for, are read.
        counts = self._counted(shape, self.search_seconds)
        skip = set() if counts is not None else self._without(held or shape, self.search_seconds)
        hits: list[str] = []
        total = 0
        per_line = self.search_seconds / 10  # one pathological line does not eat the whole budget

        def out_of_time(rel: str) -> str:
            return f"[search stopped after {self.search_seconds:g} s at {rel}: results are partial]"

        slow: list[str] = []
        stopped = ""
        for rel in self.files():
            if prefix and not (rel == prefix or rel.startswith(prefix + "/")):
                continue
            if rel in skip or (glob and not fnmatch.fnmatch(rel.rsplit("/", 1)[-1], glob)):
                continue
            known = counts.get(rel, -1) if counts is not None else -1
            if known == 0:
                continue  # no matching line in its bytes on disk, which are what it holds
            if known > 0 and len(hits) >= MAX_SEARCH_HITS and self.staging.reads_disk(rel):
                total += known  # its lines are counted, and there is no room to show them
                continue
            if time.monotonic() >= deadline:
                stopped = out_of_time(rel)
                break
            try:
                # Only the lines that can match are tried (see _searchable).
                lines = self._searchable(rel, held, finder, deadline, per_line)
            except (AgentMagicError, OSError):
                continue  # binary, secret, deleted, unreadable: not searchable
            if isinstance(lines, Matched):  # found in the whole file: nothing to try again
                total += len(lines.starts)
                room = MAX_SEARCH_HITS - len(hits)
                for n, line in numbered_at(lines.text, lines.starts[:room]):
                    hits.append(f"{rel}:{n}: {line.strip()[:200]}")
                continue
            for count, (where, n, line) in enumerate(lines):
                if tame and len(line) <= TAME_LINE:
                    # Milliseconds at worst, and a timed search costs six untimed ones: the
                    # clock is read every 64 lines instead.
                    if count % 64 == 0 and time.monotonic() >= deadline:
                        stopped = out_of_time(rel)
                        break
                    found = compiled.search(line)
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        stopped = out_of_time(rel)
                        break
                    try:
                        found = compiled.search(line, timeout=min(left, per_line))
                    except TimeoutError:
                        slow.append(f"{rel}{where}:{n}")
                        continue
                if found:
                    total += 1
                    if len(hits) < MAX_SEARCH_HITS:
                        hits.append(f"{rel}{where}:{n}: {line.strip()[:200]}")
            if stopped:  # the time ran out inside this file: say so even if it was the last
                break
        notes = [stopped] if stopped else []
        if slow:
            notes.append(
                f"[the pattern took too long on {len(slow)} line(s), skipped ("
                + ", ".join(slow[:5])
                + "); results are partial: use a simpler pattern]"
            )
        tail = "".join("\n" + n for n in notes)
        if not hits:
            return f"no matches for {pattern!r}" + tail
        more = (
            f"\n[{total - len(hits)} more matches not shown; narrow the search]"
            if total > len(hits)
            else ""
        )
        return "\n".join(hits) + more + tail

    def _counted(self, shape: Outline | None, seconds: float) -> dict[str, int] | None:
        """Matching lines per plain file on disk, by git grep (see count_lines), for the files
        the search reads from disk (not staged; notebooks are searched cell by cell)."""
        if shape is None or not shape.exact or self.line_counts is None:
            return None
        found = self.line_counts(shape, seconds)
        if found is None:
            return None
        on_disk = self._read_from_disk(found)
        return {p: n for p, n in found.items() if p in on_disk}

    def _without(self, first: Needles | Outline | None, seconds: float) -> set[str]:
        """Files the search need not read: on disk (not staged) they lack the texts, or hold
        no line of the outline and only plain bytes."""
        if first is None or self.absent is None:
            return set()
        return self._read_from_disk(self.absent(first, seconds) or set())

    def _read_from_disk(self, paths: Iterable[str]) -> set[str]:
        """Those of ``paths`` whose search text is the file git grep read: staged files and
        notebooks (read from an open document when one is attached, and searched cell by
        cell) may differ from it."""
        staged = set(self.staging.staged_paths())
        return {p for p in paths if p not in staged and not is_notebook(p)}

    def _searchable(
        self,
        rel: str,
        held: Needles | None,
        finder: LineFinder | None,
        deadline: float,
        per_line: float,
    ) -> list[tuple[str, int, str]] | Matched:
        """(where, line number, line) of the lines of a file that can match (see lines_with),
        a notebook's cell sources, each cell named; or, with a ``finder`` that can tell, the
        lines that do match (see line_starts)."""
        if is_notebook(rel):
            nb = self.staging.read_notebook(rel)
            return [
                (f" [{label}]", n, line)
                for label, n, line in cell_lines(nb)
                if held is None or held.may_match(line)
            ]
        text = self.staging.read_text(rel)
        left = min(per_line, deadline - time.monotonic())
        if finder is not None and left > 0:
            # Bounded like one line of the search: a pathological line falls back to every
            # line, where it is skipped after per_line as it would be alone.
            starts = line_starts(text, finder, timeout=left)
            if starts is not None:
                return Matched(text, starts)
        return [("", n, line) for n, line in lines_with(text, held)]

    def _replace(self, path: str, old: str, new: str, line: int | None = None) -> str:
        return self.staging.replace(path, old, new, line)

    def _insert(self, path: str, line: int, text: str) -> str:
        return self.staging.insert(path, line, text)

    def _create(self, path: str, content: str, overwrite: bool = False) -> str:
        return self.staging.create(path, content, overwrite=overwrite)

    def _delete(self, path: str) -> str:
        return self.staging.delete(path)

    def _rename(self, path: str, new_path: str) -> str:
        return self.staging.rename(path, new_path)

    def _run(self, command: str, timeout: int | None = None) -> str:
        if self.runner is None:
            raise ToolError("run is not available in this session")
        return self.runner(command, timeout)

    def _notebook_edit(self, path: str, action: str, **kwargs: Any) -> str:
        # `cell` stays a string: a cell id may be all digits, and notebooks tell ids from indexes.
        return self.staging.notebook_edit(path, action, **kwargs)


@dataclass(frozen=True)
class Matched:
    """The lines of a file the pattern matches, as offsets into its text (see line_starts)."""

    text: str
    starts: list[int]


def _clip(text: str) -> str:
    if len(text) <= MAX_RESULT_CHARS:
        return text
    return text[:MAX_RESULT_CHARS] + (
        f"\n[output clipped at {MAX_RESULT_CHARS:,} of {len(text):,} "
        "characters; ask for less: a line or cell range, a narrower "
        "search]"
    )
