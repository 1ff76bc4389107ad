"""Fast per-file facts for ranking: terms, defined names, imports, headings (no full parse)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from agent_magic.analysis.text import term_counts

_DEF_RE = re.compile(r"^[ \t]*(?:async[ \t]+)?(def|class)[ \t]+([A-Za-z_]\w*)", re.MULTILINE)
_ASSIGN_RE = re.compile(r"^([A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=(?!=)", re.MULTILINE)
_FROM_RE = re.compile(
    r"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)", re.MULTILINE
)
_IMPORT_RE = re.compile(r"^[ \t]*import[ \t]+([^\n#;]+)", re.MULTILINE)
_MD_HEADING_RE = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_RST_HEADING_RE = re.compile(r"^([^\n]+)\n([=\-~^\"'`#*+]{3,})[ \t]*$", re.MULTILINE)
_DOC_RE = re.compile(r'^\s*(?:#[^\n]*\n\s*)*[rRbBuU]?("""|\'\'\')\s*([^\n]*)', re.DOTALL)

_BASE64_RE = re.compile(r'"[A-Za-z0-9+/=]{256,}(?:\\n[A-Za-z0-9+/=]*)*"')
_BIG_NOTEBOOK = 1_000_000

PY_EXTS = (".py", ".pyi", ".pyx")


@dataclass
class FileFacts:
    """What the ranker needs to know about one file; JSON-able for the on-disk cache."""

    path: str
    sha: str
    kind: str  # python | notebook | text
    terms: dict[str, int] = field(default_factory=dict)
    defs: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)
    doc: str = ""
    lines: int = 0

    def to_json(self) -> dict:
        """A plain dict for json.dump (built by hand: asdict deep-copies and is slow)."""
        return {
            "path": self.path,
            "sha": self.sha,
            "kind": self.kind,
            "terms": self.terms,
            "defs": self.defs,
            "imports": self.imports,
            "headings": self.headings,
            "doc": self.doc,
            "lines": self.lines,
        }

    @classmethod
    def from_json(cls, data: dict) -> FileFacts:
        """The inverse of to_json."""
        return cls(**data)


def content_hash(data: bytes) -> str:
    """A short stable hash of file content (the cache key when mtime/size changed)."""
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def scan_file(path: str, data: bytes) -> FileFacts:
    """Facts about one file from its path and raw bytes."""
    sha = content_hash(data)
    text = data.decode("utf-8", "replace")
    if path.endswith(PY_EXTS):
        return _scan_python(path, sha, text)
    if path.endswith(".ipynb"):
        return _scan_notebook(path, sha, text)
    return FileFacts(
        path,
        sha,
        "text",
        terms=dict(term_counts(text)),
        headings=headings(path, text),
        lines=text.count("\n") + 1,
    )


def _scan_python(path: str, sha: str, text: str) -> FileFacts:
    defs, imports = python_defs(text), python_imports(text, module_of(path))
    m = _DOC_RE.match(text)
    doc = m.group(2).strip().strip("\"'") if m else ""
    return FileFacts(
        path,
        sha,
        "python",
        terms=dict(term_counts(text)),
        defs=defs,
        imports=imports,
        doc=doc[:200],
        lines=text.count("\n") + 1,
    )


def notebook_cells(text: str) -> list[tuple[str, str]]:
    """(cell type, source) of every cell of a v4 or v3 notebook; [] if it is not one.

    Outputs and attachments are never looked at, so a notebook's size is mostly images that cost
    the index nothing but the JSON parse. v3 heading cells become markdown headings.
    """
    if len(text) > _BIG_NOTEBOOK:
        # Images are most of a big notebook: dropping their base64 before parsing halves the time
        # and spares memory. Only strings of base64 characters alone match; code has spaces.
        text = _BASE64_RE.sub('""', text)
    try:
        nb = json.loads(text)
    except ValueError:
        return []
    if not isinstance(nb, dict):
        return []
    cells = nb.get("cells")
    if nb.get("nbformat") == 3 or cells is None:
        sheets = nb.get("worksheets") or [{}]
        cells = sheets[0].get("cells", []) if isinstance(sheets[0], dict) else []
    out: list[tuple[str, str]] = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict):
            continue
        kind = str(cell.get("cell_type", ""))
        src = cell.get("source", cell.get("input", ""))
        src = "".join(map(str, src)) if isinstance(src, list) else str(src)
        if kind == "heading":
            kind, src = "markdown", "#" * int(cell.get("level", 1) or 1) + " " + src
        out.append((kind, src))
    return out


def notebook_code(src: str) -> str:
    """A code cell's source without magics and shell escapes, which are not Python."""
    return "\n".join(ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!")))


def _scan_notebook(path: str, sha: str, text: str) -> FileFacts:
    code, prose, heads = [], [], []
    cells = notebook_cells(text)
    for i, (kind, src) in enumerate(cells):
        if kind == "code":
            code.append(notebook_code(src))
        elif kind in ("markdown", "raw"):
            # Tutorials are written in prose: its words say what the notebook is about.
            prose.append(src)
            if kind == "markdown":
                heads += [f"[cell {i}] {h}" for h in _MD_HEADING_RE.findall(src)]
    joined = "\n".join(code)
    words = joined + "\n" + "\n".join(prose)
    doc = heads[0].split("] ", 1)[1] if heads else ""
    return FileFacts(
        path,
        sha,
        "notebook",
        terms=dict(term_counts(words)),
        defs=python_defs(joined),
        imports=python_imports(joined, module_of(path)),
        headings=heads[:50],
        doc=doc[:200],
        lines=len(cells),
    )


def python_defs(text: str) -> list[str]:
    """Names of classes, functions/methods and module-level assignments, in order, unique."""
    seen: dict[str, None] = {}
    for _kind, name in _DEF_RE.findall(text):
        seen.setdefault(name, None)
    for name in _ASSIGN_RE.findall(text):
        seen.setdefault(name, None)
    return list(seen)


def python_imports(text: str, module: str) -> list[str]:
    """Absolute dotted names imported by a module (relative imports resolved; both pkg and pkg.name)."""
    package = module.rsplit(".", 1)[0] if "." in module else ""
    out: dict[str, None] = {}
    for base, names in _FROM_RE.findall(text):
        dots = len(base) - len(base.lstrip("."))
        base = base[dots:]
        if dots:
            parts = package.split(".") if package else []
            if module.endswith("__init__") or dots > 1:
                parts = parts[: len(parts) - (dots - 1)] if dots > 1 else parts
            base = ".".join([*parts, base] if base else parts)
        if not base:
            continue
        out.setdefault(base, None)
        for name in names.strip("()").split(","):
            name = name.split(" as ")[0].strip()
            if name and name != "*" and name.isidentifier():
                out.setdefault(f"{base}.{name}", None)
    for names in _IMPORT_RE.findall(text):
        for part in names.split(","):
            name = part.strip().split(" as ")[0].strip()
            if name and all(p.isidentifier() for p in name.split(".")):
                out.setdefault(name, None)
    return list(out)


def module_of(path: str) -> str:
    """The dotted module name of a python file path (``src/`` and ``lib/`` prefixes dropped)."""
    stem = path.rsplit(".", 1)[0]
    parts = stem.split("/")
    if parts and parts[0] in ("src", "lib") and len(parts) > 1:
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = [*parts[:-1], "__init__"]
    return ".".join(parts)


def headings(path: str, text: str) -> list[str]:
    """Section headings of a markdown or reStructuredText file (bounded)."""
    if path.endswith((".md", ".markdown")):
        return _MD_HEADING_RE.findall(text)[:50]
    if path.endswith((".rst", ".txt")):
        return [
            t.strip() for t, u in _RST_HEADING_RE.findall(text) if len(u) >= len(t.strip()) - 2
        ][:50]
    return []
