"""Pure extraction of what a task text points at: paths, traceback frames, modules, identifiers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent_magic.analysis.text import STOPWORDS

_FRAME_RE = re.compile(r'File "([^"\n]+)", line (\d+)(?:, in ([\w<>.]+))?')
# pytest / compiler style "path/to/x.py:12: in func" or "x.py:12:3: message"
_COLON_FRAME_RE = re.compile(r"([\w./\\-]+\.py):(\d+)(?::\d+)?:(?: in ([\w<>]+))?")
_PATH_RE = re.compile(
    r"(?<![\w/.-])((?:[\w.-]+[/\\])*[\w.-]+\.(?:py|pyi|ipynb|pyx|cfg|toml|ini|rst|md|txt|json|yaml|yml|c|h|js|ts|css|html))\b"
)
_SLASH_PATH_RE = re.compile(r"(?<![\w/.-])((?:[A-Za-z_][\w.-]*/)+[A-Za-z_][\w-]*)(?![\w(])")
_DOTTED_RE = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)")
_IMPORT_RE = re.compile(
    r"^\s*(?:>>>\s*|\.\.\.\s*)?(?:from\s+([\w.]+)\s+import\s+([\w, ()*]+)|import\s+([\w., ]+))",
    re.MULTILINE,
)
_CODE_SPAN_RE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
_IDENT_RE = re.compile(r"(?<![\w.])([A-Za-z_]\w*)")
_CALL_RE = re.compile(r"([A-Za-z_]\w*)\s*\(")
_ATTR_RE = re.compile(r"\.([A-Za-z_]\w*)")
# Lowercase words joined by hyphens (`import-mode`, `--ignore-paths`): how options and config keys
# are spelled on a command line or in a config file, while the code spells them `import_mode`.
_HYPHENATED_RE = re.compile(r"(?<![\w-])-{0,2}([a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)+)(?![\w-])")


# Text an issue carries whatever the bug: template comments and checklists, interpreter banners,
# `pip list` rows. Its words match files that have nothing to do with the task.
_BOILERPLATE_RES = (
    re.compile(r"<!--.*?-->", re.DOTALL),
    re.compile(r"(?m)^[ \t]*- \[[ xX]\] .*$"),
    re.compile(
        r"(?m)^[ \t]*(?:>>> )?(?:Python \d+\.\d+\.\d+\S*[ \t]+[(|]|IPython \d+\.\d+|"
        r"\[(?:GCC|Clang|MSC) |Type ['\"](?:help|copyright)['\"]).*$"
    ),
    re.compile(r"(?m)^[ \t]*(?:\?|%quickref|help|object\?)[ \t]+->.*$"),
    re.compile(r"(?m)^[ \t]*[A-Za-z][\w.-]*[ \t]+v?\d+(?:\.\w+)+\S*(?:[ \t]+\S+)?[ \t]*$"),
)


def strip_boilerplate(text: str) -> str:
    """``text`` without issue-template comments, checklists, interpreter banners and version rows."""
    for pattern in _BOILERPLATE_RES:
        text = pattern.sub("", text)
    return text


@dataclass(frozen=True)
class Frame:
    """One traceback frame: the file as written, its line and function if given."""

    path: str
    line: int
    function: str | None


@dataclass
class Mentions:
    """Everything a task names explicitly; weights are per identifier (higher = more code-like)."""

    paths: list[str] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    identifiers: dict[str, float] = field(default_factory=dict)
    hyphenated: list[str] = field(default_factory=list)  # `a-b` as code spells it: a_b, AB


def extract_mentions(text: str) -> Mentions:
    """Find the paths, frames, dotted modules and code identifiers a task text mentions."""
    frames = [Frame(_norm(p), int(n), f) for p, n, f in _FRAME_RE.findall(text)]
    frames += [Frame(_norm(p), int(n), f or None) for p, n, f in _COLON_FRAME_RE.findall(text)]
    paths: list[str] = []
    for p in _PATH_RE.findall(text) + _SLASH_PATH_RE.findall(text):
        p = _norm(p)
        if p and p not in paths and not p.startswith(("http", "www.")):
            paths.append(p)
    modules: list[str] = []
    for m in _DOTTED_RE.findall(text):
        if not _looks_like_filename(m) and m not in modules:
            modules.append(m)
    for frm, names, imp in _IMPORT_RE.findall(text):
        for mod in ([frm] if frm else []) + [s.strip() for s in imp.split(",") if s.strip()]:
            mod = mod.split(" as ")[0].strip()
            if mod and mod not in modules:
                modules.append(mod)
        if frm:
            for name in re.split(r"[,()\s]+", names):
                if name and name != "*" and f"{frm}.{name}" not in modules:
                    modules.append(f"{frm}.{name}")
    return Mentions(paths, frames, modules, _identifiers(text), hyphenated_names(text))


def hyphenated_names(text: str) -> list[str]:
    """Identifier spellings of the hyphenated words in ``text``: ``import-mode`` gives
    ``import_mode`` and ``ImportMode``."""
    out: dict[str, None] = {}
    for word in _HYPHENATED_RE.findall(text):
        parts = word.split("-")
        out.setdefault("_".join(parts), None)
        out.setdefault("".join(p.capitalize() for p in parts), None)
    return list(out)


def _identifiers(text: str) -> dict[str, float]:
    weights: dict[str, float] = {}

    def add(name: str, w: float) -> None:
        if len(name) < 3 or name.lower() in STOPWORDS:
            return
        weights[name] = max(weights.get(name, 0.0), w)

    code = " ".join(m.group(0) for m in _CODE_SPAN_RE.finditer(text))
    for name in _IDENT_RE.findall(code):
        add(name, 1.0)
    for name in _CALL_RE.findall(text):
        add(name, 1.0)
    for name in _ATTR_RE.findall(text):
        add(name, 0.8)
    for mod in _DOTTED_RE.findall(text):
        for name in mod.split("."):
            add(name, 0.8)
    for name in _IDENT_RE.findall(text):
        if "_" in name.strip("_") or _is_camel(name):
            add(name, 0.9)
    return weights


def _is_camel(name: str) -> bool:
    return bool(re.search(r"[a-z][A-Z]", name)) or bool(re.match(r"[A-Z][a-z]+[A-Z]", name))


def _looks_like_filename(name: str) -> bool:
    return name.rsplit(".", 1)[-1] in {
        "py",
        "pyi",
        "ipynb",
        "txt",
        "md",
        "rst",
        "cfg",
        "toml",
        "ini",
        "json",
        "yaml",
        "yml",
        "html",
        "css",
        "js",
        "ts",
        "com",
        "org",
        "io",
        "net",
    }


def _norm(path: str) -> str:
    path = path.replace("\\", "/").strip()
    while path.startswith("./"):
        path = path[2:]
    return path
