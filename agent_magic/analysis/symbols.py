"""Outlines of files for the repo map: python via ast, notebooks per cell, text by headings."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from agent_magic.analysis.scan import headings, notebook_cells, notebook_code


@dataclass
class Symbol:
    """A class, function or method: its kind, dotted name within the file, signature, line, doc."""

    kind: str  # class | function | method
    name: str
    signature: str
    line: int
    doc: str = ""
    cell: int | None = None


@dataclass
class Outline:
    """What a file defines, in source order, plus its module doc and headings."""

    path: str
    doc: str = ""
    symbols: list[Symbol] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    error: str = ""


def outline_file(path: str, text: str) -> Outline:
    """The outline of one file given its text."""
    if path.endswith((".py", ".pyi")):
        return outline_python(path, text)
    if path.endswith(".ipynb"):
        return outline_notebook(path, text)
    return Outline(path, headings=headings(path, text))


def outline_python(path: str, text: str, cell: int | None = None) -> Outline:
    """Classes, functions and methods of python source, with signatures and first doc lines."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError) as exc:
        return Outline(path, error=f"cannot parse: {exc}")
    out = Outline(path, doc=_first_line(ast.get_docstring(tree)))
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.imports += _import_names(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.symbols.append(_func(node, "function", "", cell))
        elif isinstance(node, ast.ClassDef):
            bases = ", ".join(ast.unparse(b) for b in node.bases)
            out.symbols.append(
                Symbol(
                    "class",
                    node.name,
                    f"class {node.name}({bases})" if bases else f"class {node.name}",
                    node.lineno,
                    _first_line(ast.get_docstring(node)),
                    cell,
                )
            )
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    out.symbols.append(_func(sub, "method", node.name + ".", cell))
    return out


def outline_notebook(path: str, text: str) -> Outline:
    """Per-cell outline of a notebook: definitions in code cells, headings in markdown cells."""
    cells = notebook_cells(text)
    if not cells and not text.lstrip().startswith("{"):
        return Outline(path, error="not a valid notebook")
    out = Outline(path)
    for i, (kind, src) in enumerate(cells):
        if kind == "markdown":
            out.headings += [f"[cell {i}] {h}" for h in headings("x.md", src)]
        elif kind == "code":
            sub = outline_python(path, notebook_code(src), cell=i)
            out.symbols += sub.symbols
            out.imports += sub.imports
    return out


def _func(
    node: ast.FunctionDef | ast.AsyncFunctionDef, kind: str, prefix: str, cell: int | None
) -> Symbol:
    a = node.args
    params = [p.arg for p in a.posonlyargs + a.args]
    if a.vararg:
        params.append("*" + a.vararg.arg)
    elif a.kwonlyargs:
        params.append("*")
    params += [p.arg for p in a.kwonlyargs]
    if a.kwarg:
        params.append("**" + a.kwarg.arg)
    ret = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    head = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    return Symbol(
        kind,
        prefix + node.name,
        f"{head} {node.name}({', '.join(params)}){ret}",
        node.lineno,
        _first_line(ast.get_docstring(node)),
        cell,
    )


def _import_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = "." * node.level + (node.module or "")
    return [base]


def _first_line(doc: str | None) -> str:
    return doc.strip().splitlines()[0][:120] if doc and doc.strip() else ""
