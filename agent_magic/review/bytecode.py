"""Cached bytecode in a scratch copy: which ``.pyc`` may be kept or copied, and which must go.

Python trusts a timestamp ``.pyc`` whose header names its source's mtime (whole seconds) and
size; a source rewritten within the same second at the same size would import the old code.
So every file the copy's owner writes loses its cached bytecode at once, and a cached file is
only kept or copied when it is a timestamp ``.pyc`` that matches its source now (a hash-based
"unchecked" one would be trusted without any check).
"""

from __future__ import annotations

import contextlib
import os
import struct
from pathlib import Path

CACHE_DIR = "__pycache__"
HEADER = struct.Struct("<4sIII")  # magic, flags, source mtime, source size


def source_of(rel: str) -> str | None:
    """The source a cached ``dir/__pycache__/name.<tag>.pyc`` belongs to (``dir/name.py``)."""
    folder, _, name = rel.rpartition("/")
    parent, _, cache = folder.rpartition("/")
    if cache != CACHE_DIR or not name.endswith(".pyc"):
        return None
    stem = name.split(".", 1)[0]
    return f"{parent}/{stem}.py" if parent else f"{stem}.py"


def matches(pyc: Path, source: os.stat_result) -> bool:
    """Whether ``pyc`` is a timestamp ``.pyc`` recorded for a source with ``source``'s stat."""
    try:
        with open(pyc, "rb") as handle:
            header = handle.read(HEADER.size)
    except OSError:
        return False
    if len(header) < HEADER.size:
        return False
    _magic, flags, mtime, size = HEADER.unpack(header)
    return (
        flags == 0
        and mtime == int(source.st_mtime) & 0xFFFFFFFF
        and size == source.st_size & 0xFFFFFFFF
    )


def untrusted_cache(root: Path, rel: str) -> bool:
    """Whether ``rel`` (a project file) is cached bytecode that does not match its source now.

    A project that does not ignore ``__pycache__`` lists its bytecode among its files; only
    what Python would check and accept is copied, never an unchecked or orphaned ``.pyc``.
    """
    source = source_of(rel)
    if source is None:
        return False
    try:
        return not matches(root / rel, (root / source).stat())
    except OSError:
        return True


def drop_cached(tree: Path, rel: str) -> None:
    """Remove every cached ``.pyc`` of the source ``rel`` in ``tree`` (any interpreter, pytest's)."""
    if not rel.endswith(".py"):
        return
    folder, _, name = rel.rpartition("/")
    cache = tree / folder / CACHE_DIR if folder else tree / CACHE_DIR
    if cache.is_symlink():  # a check made it: never look through it
        return
    prefix = name[:-3] + "."  # module names hold no dots: every "name.*.pyc" is this source's
    try:
        entries = [e.path for e in os.scandir(cache) if e.name.startswith(prefix)]
    except OSError:
        return
    for path in entries:
        if path.endswith(".pyc"):
            with contextlib.suppress(OSError):
                os.unlink(path)
