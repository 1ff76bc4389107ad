"""The project root and the rules every path must pass before it is read or written."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from pathlib import Path, PurePosixPath

from agent_magic.errors import PathError, UserError
from agent_magic.secrets import SECRET_PATTERNS

INTERNAL_DIRS = (".git", ".agent_magic")
STATE_DIR = ".agent_magic"
# The most a tool reads of one file; larger files are refused before a byte is read.
MAX_READ_BYTES = 64_000_000


def is_internal(part: str) -> bool:
    """Whether one path component names .git or .agent_magic as some file system could see it.

    Case-insensitive (macOS, Windows), trailing dots and spaces ignored (Windows drops them), and
    the 8.3 short name GIT~1 (Windows) counts too.
    """
    name = part.lower().rstrip(". ")
    return name in INTERNAL_DIRS or name.startswith("git~")


def read_regular(
    path: str | os.PathLike[str], max_bytes: int = MAX_READ_BYTES, *, name: str = ""
) -> bytes:
    """The bytes of a regular file, checked before reading: never a FIFO or device, never huge.

    Raises OSError (ENAMETOOLONG, ELOOP, EACCES, ...) or PathError for what is not a regular file
    or is over ``max_bytes``; the file is opened non-blocking so a FIFO cannot hang the caller.
    """
    label = name or os.fspath(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PathError(f"{label} is not a regular file (a device, FIFO or socket); not read")
        if st.st_size > max_bytes:
            raise PathError(f"{label} is {st.st_size:,} bytes, over the {max_bytes:,}-byte limit")
        chunks, left = [], max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:  # it grew while being read
            raise PathError(f"{label} is over the {max_bytes:,}-byte limit")
        return data
    finally:
        os.close(fd)


class Project:
    """A project root; turns relative paths into safe absolute ones."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        path = Path(root).expanduser()
        if not path.exists():
            raise UserError(f"project directory {path} does not exist")
        if not path.is_dir():
            raise UserError(f"project path {path} is not a directory")
        self.root = path.resolve()
        self._root_text = str(self.root)
        self._root_id = _identity(self._root_text)
        self._extra_secrets = _read_agentignore(self.root)
        # One regex for all patterns: indexing a large repo asks this for every file. Names are
        # compared lowercased, so the patterns are too (a "Prod.cfg" entry also covers prod.cfg).
        self._secret_name = re.compile(
            "|".join(fnmatch.translate(p.lower()) for p in SECRET_PATTERNS + self._extra_secrets)
        )

    def __repr__(self) -> str:
        return f"Project({str(self.root)!r})"

    @property
    def state_dir(self) -> Path:
        """Where agent_magic keeps sessions, checkpoints and caches; PathError if it is a link."""
        state = self.root / STATE_DIR
        # A committed `.agent_magic -> /elsewhere` would send transcripts, checkpoints and caches
        # out of the project; such a state directory is not used at all.
        if state.is_symlink() or (state.exists() and not state.is_dir()):
            raise PathError(
                f"{state} is a symbolic link or not a directory; agent_magic keeps its "
                "state only in a real .agent_magic/ directory (remove or rename it)"
            )
        return state

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
        parts = [p for p in text.split("/") if p not in ("", ".")]  # not absolute: as pathlib
        joined = "/".join(parts)
        if len(joined) > 1 and joined[1] == ":":  # "./C:" is "C:" when normalized again
            raise PathError(f"{rel!r} is absolute; use a path relative to the project root")
        if any(p == ".." for p in parts):
            raise PathError(f"{rel!r} leaves the project root ('..' is not allowed)")
        if not parts:
            return "."
        for part in parts:
            if is_internal(part):
                raise PathError(f"{rel!r} is inside {part}/, which the agent may not touch")
        if any(p != p.strip() for p in parts):
            # The text is stripped first, so "nb.ipynb/\n/\n" would name nb.ipynb/\n when
            # normalized again (apply re-checks each path): a different file than was read.
            raise PathError(f"{rel!r} has a name that is whitespace or starts or ends with it")
        if any(len(p.encode("utf-8", "surrogateescape")) > 255 for p in parts):
            raise PathError(f"{rel[:80]!r}... has a name longer than 255 bytes")
        return joined

    def resolve(self, rel: str, *, allow_secret: bool = False) -> Path:
        """The absolute path of ``rel``; raises PathError if it escapes the root or is off limits."""
        norm = self.normalize(rel)
        if not allow_secret and norm != "." and self.is_secret(norm):
            raise PathError(
                f"{rel!r} looks like a secret file; agent_magic never reads or writes it"
            )
        if norm != "." and self._no_link_below_root(norm):
            # Nothing to follow: the path is inside and names itself (a search resolves
            # thousands of files; this is a third of the general way's cost).
            target = Path(self._root_text, norm)
            _refuse_shared_inode(target, rel)
            return target
        target = self.root / norm
        # Resolve links of every existing ancestor so a symlink cannot lead outside the root.
        try:
            real = Path(os.path.realpath(target, strict=False))
            linked = target.is_symlink()
            dangling = linked and not target.exists()
        except OSError as exc:  # ENAMETOOLONG and friends
            raise PathError(f"{rel[:80]!r} cannot be used: {exc.strerror or exc}") from None
        if real != self.root and self.root not in real.parents:
            raise PathError(f"{rel!r} resolves outside the project root")
        if dangling:
            raise PathError(f"{rel!r} is a broken or looping symbolic link")
        inner = real.relative_to(self.root).parts if real != self.root else ()
        for part in inner:
            if is_internal(part):
                raise PathError(f"{rel!r} points inside {part}/")
        inner_rel = "/".join(inner)
        # An alias (settings.txt -> .env) is judged by what it points to, not by its own name.
        if not allow_secret and inner_rel and inner_rel != norm and self.is_secret(inner_rel):
            raise PathError(
                f"{rel!r} points to a secret file; agent_magic never reads or writes it"
            )
        _refuse_shared_inode(target, rel)
        return target

    def _no_link_below_root(self, norm: str) -> bool:
        """Whether every component of ``norm`` below the root exists and none is a symbolic
        link, and the root's path still leads to the directory it was made from."""
        # The root was resolved once; since then it (or a directory above it) may have been
        # replaced by a link to elsewhere, which the general way's realpath sees.
        if _identity(self._root_text) != self._root_id:
            return False
        here = self._root_text
        for part in norm.split("/"):
            here = os.path.join(here, part)
            try:
                if stat.S_ISLNK(os.lstat(here).st_mode):
                    return False
            except OSError:
                return False  # missing or unreadable: the general way says what it is
        return True

    def check_writable(self, rel: str) -> Path:
        """``resolve`` plus: no component of the path is a symbolic link (edits never go through one)."""
        target = self.resolve(rel)
        here = self.root
        for part in self.normalize(rel).split("/"):
            here = here / part
            try:
                st = os.lstat(here)
            except FileNotFoundError:
                break
            except OSError as exc:
                raise PathError(f"{rel[:80]!r} cannot be used: {exc.strerror or exc}") from None
            if stat.S_ISLNK(st.st_mode):
                shown = here.relative_to(self.root).as_posix()
                raise PathError(
                    f"{shown!r} is a symbolic link; agent_magic does not edit through "
                    "links (edit the file it points to instead)"
                )
            if here == target or not stat.S_ISDIR(st.st_mode):
                break
            if os.path.lexists(here / ".git"):
                # A submodule or nested repository: its history is not the project's, and an
                # apply here could not be committed, checkpointed or reverted with the project.
                shown = here.relative_to(self.root).as_posix()
                raise PathError(
                    f"{rel!r} is inside {shown}/, a git submodule or nested "
                    "repository; agent_magic does not edit there"
                )
        return target

    def is_secret(self, rel: str) -> bool:
        """Whether a relative path names a secret file (built-in patterns or .agentignore)."""
        parts = PurePosixPath(rel.replace("\\", "/")).parts
        if any(self._secret_name.match(part.lower()) for part in parts):
            return True
        return any(fnmatch.fnmatch(rel, pat) for pat in self._extra_secrets)


def _identity(path: str) -> tuple[int, int] | None:
    """The device and inode of the directory ``path`` leads to (None if it leads nowhere)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _refuse_shared_inode(target: Path, rel: str) -> None:
    # A hard link's other names may be anywhere on the file system (a key file outside the
    # project, say) and nothing tells where, so a file with several links is not used at all.
    try:
        st = os.stat(target)
    except OSError:
        return
    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
        raise PathError(
            f"{rel!r} has {st.st_nlink} hard links; agent_magic cannot tell whether the "
            "others are outside the project, so it does not use it"
        )


def _read_agentignore(root: Path) -> tuple[str, ...]:
    try:
        lines = read_regular(root / ".agentignore", 1_000_000).decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError, PathError):
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
