"""A kept scratch copy's manifest: what its files were copied from, so another process can adopt it.

A kernel that restarts finds the copies its dead predecessor kept; with this record (the
project root, the copy's role, and per file the project file's signature and the copy file's
signature just after the last sync) it brings one up to date with a stat per file instead of
copying the project again. The manifest lives in the copy's base, beside ``tree``, where no
check can write: bubblewrap binds only ``tree`` writable (its /tmp is a private tmpfs, so the
base's path inside is an empty directory of that tmpfs), sandbox-exec allows ``tree`` and
``base/tmp`` (unconfined runs, the user's opt-in, can write anything of the user's anyway).
Only the copy's own process writes it (whole, then renamed), after a sync and before any check
runs, so a file a check changed later no longer matches it. What is read back is checked field
by field; anything unexpected and the copy is not adopted. (Not in the project's state dir:
a repository can ship its own ``.agent_magic/``, and the manifest goes with its copy.)
"""

from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from agent_magic.paths import INTERNAL_DIRS

if TYPE_CHECKING:
    from agent_magic.review.kept import Copied, Role

NAME = ".kept.json"
VERSION = 1
MAX_BYTES = 64 * 1024 * 1024  # a manifest of 300,000 files; anything bigger is not ours
HEADER_BYTES = 64 * 1024
ROLES = ("changed", "unchanged")


@dataclass(frozen=True)
class Header:
    """Whose copy a manifest describes, and when it was last written (seconds ago)."""

    root: str
    role: Role
    age: float


def save(base: Path, root: Path, role: Role, copied: Copied) -> None:
    """Write ``base``'s manifest whole, then rename it into place (best effort: OSError passes)."""
    head = json.dumps({"version": VERSION, "root": str(root), "role": role})
    body = json.dumps({rel: [src, list(now)] for rel, (src, now) in copied.items()})
    new = base / f"{NAME}.new"
    new.unlink(missing_ok=True)
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"{head}\n{body}\n")
    os.replace(new, base / NAME)


def header(base: Path) -> Header | None:
    """The manifest's first line (cheap: the sweep reads it for every dead copy), or None."""
    text = _read(base, HEADER_BYTES, whole=False)
    if text is None:
        return None
    found = _header(text[0].split("\n", 1)[0])
    if found is None:
        return None
    root, role = found
    return Header(root, role, max(0.0, time.time() - text[1]))


def load(base: Path, root: Path, role: Role) -> Copied | None:
    """The map a copy of ``root`` for ``role`` was last synced to; None if anything is off."""
    read = _read(base, MAX_BYTES, whole=True)
    if read is None:
        return None
    first, _, rest = read[0].partition("\n")
    if _header(first) != (str(root), role):
        return None
    try:
        body = json.loads(rest)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    out: Copied = {}
    for rel, entry in body.items():
        if not _inside(rel) or not isinstance(entry, list) or len(entry) != 2:
            return None
        source, now = entry
        if source is None:
            pass
        elif isinstance(source, str):
            if not 0 < len(source) <= 128 or not all(c in "0123456789abcdef" for c in source):
                return None
        elif _ints(source, 3):
            source = tuple(source)
        else:
            return None
        if not _ints(now, 4):
            return None
        out[rel] = (source, cast("tuple[int, int, int, int]", tuple(now)))
    return out


def _read(base: Path, limit: int, *, whole: bool) -> tuple[str, float] | None:
    """The manifest's text (all of it, or its first ``limit`` bytes) and its mtime; None when
    it is missing, a link, not this user's, writable by others, shared or too big."""
    try:
        fd = os.open(base / NAME, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_uid != os.getuid()
            or info.st_nlink != 1
            or info.st_mode & 0o022
            or (whole and info.st_size > limit)
        ):
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(limit)
        return data.decode("utf-8"), info.st_mtime
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)


def _header(line: str) -> tuple[str, Role] | None:
    try:
        head = json.loads(line)
    except ValueError:
        return None
    if not isinstance(head, dict) or head.get("version") != VERSION:
        return None
    root, role = head.get("root"), head.get("role")
    if not isinstance(root, str) or not os.path.isabs(root) or role not in ROLES:
        return None
    return root, cast("Role", role)


def _inside(rel: object) -> bool:
    """Whether ``rel`` is a plain relative path that stays inside the tree."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\0" in rel:
        return False
    parts = rel.split("/")
    return all(p not in ("", ".", "..") for p in parts) and parts[0] not in INTERNAL_DIRS


def _ints(value: object, count: int) -> bool:
    return isinstance(value, list) and len(value) == count and all(type(v) is int for v in value)
