"""The project root and the rules every path must pass before it is read or written."""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path, PurePosixPath

from agent_magic.errors import PathError, UserError
from agent_magic.secrets import SECRET_PATTERNS

INTERNAL_DIRS = (".git", ".agent_magic")
STATE_DIR = ".agent_magic"


class Project:
    """A project root; turns relative paths into safe absolute ones."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        path = Path(root).expanduser()
        if not path.exists():
            raise UserError(f"project directory {path} does not exist")
        if not path.is_dir():
            raise UserError(f"project path {path} is not a directory")
        self.root = path.resolve()
        self._extra_secrets = _read_agentignore(self.root)
        # One regex for all patterns: indexing a large repo asks this for every file. Names are
        # compared lowercased, so the patterns are too (a "Prod.cfg" entry also covers prod.cfg).
        self._secret_name = re.compile("|".join(
            fnmatch.translate(p.lower()) for p in SECRET_PATTERNS + self._extra_secrets))

    def __repr__(self) -> str:
        return f"Project({str(self.root)!r})"

    @property
    def state_dir(self) -> Path:
        """Where agent_magic keeps sessions, checkpoints and caches for this project."""
        return self.root / STATE_DIR

    @property
    def is_git(self) -> bool:
        """Whether the root is inside a git work tree."""
        return (self.root / ".git").exists() or _git_toplevel(self.root) is not None

    def normalize(self, rel: str) -> str:
        """Check a relative path's text and return it in posix form, without resolving links."""
        if not isinstance(rel, str) or not rel.strip():
            raise PathError("path is empty")
        if "\x00" in rel:
            raise PathError("path contains a NUL byte")
        text = rel.replace("\\", "/").strip()
        if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
            raise PathError(f"{rel!r} is absolute; use a path relative to the project root")
        parts = [p for p in PurePosixPath(text).parts if p not in ("", ".")]
        if any(p == ".." for p in parts):
            raise PathError(f"{rel!r} leaves the project root ('..' is not allowed)")
        if not parts:
            return "."
        if parts[0] in INTERNAL_DIRS:
            raise PathError(f"{rel!r} is inside {parts[0]}/, which the agent may not touch")
        return "/".join(parts)

    def resolve(self, rel: str, *, allow_secret: bool = False) -> Path:
        """The absolute path of ``rel``; raises PathError if it escapes the root or is off limits."""
        norm = self.normalize(rel)
        if not allow_secret and norm != "." and self.is_secret(norm):
            raise PathError(f"{rel!r} looks like a secret file; agent_magic never reads or writes it")
        target = self.root / norm
        # Resolve links of every existing ancestor so a symlink cannot lead outside the root.
        real = Path(os.path.realpath(target))
        if real != self.root and self.root not in real.parents:
            raise PathError(f"{rel!r} resolves outside the project root")
        if target.is_symlink() and not target.exists():
            raise PathError(f"{rel!r} is a broken or looping symbolic link")
        inner = real.relative_to(self.root).parts if real != self.root else ()
        if inner and inner[0] in INTERNAL_DIRS:
            raise PathError(f"{rel!r} points inside {inner[0]}/")
        return target

    def relative(self, path: str | os.PathLike[str]) -> str:
        """The posix path of an absolute path below the root."""
        return Path(path).resolve().relative_to(self.root).as_posix()

    def is_secret(self, rel: str) -> bool:
        """Whether a relative path names a secret file (built-in patterns or .agentignore)."""
        parts = PurePosixPath(rel.replace("\\", "/")).parts
        if any(self._secret_name.match(part.lower()) for part in parts):
            return True
        return any(fnmatch.fnmatch(rel, pat) for pat in self._extra_secrets)


def _read_agentignore(root: Path) -> tuple[str, ...]:
    path = root / ".agentignore"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ()
    return tuple(ln.strip().rstrip("/") for ln in lines if ln.strip() and not ln.startswith("#"))


def _git_toplevel(path: Path) -> Path | None:
    for parent in (path, *path.parents):
        if (parent / ".git").exists():
            return parent
    return None


def find_project_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The git root containing ``start`` (default: cwd), else ``start`` itself."""
    base = Path(start or os.getcwd()).expanduser().resolve()
    return _git_toplevel(base) or base
