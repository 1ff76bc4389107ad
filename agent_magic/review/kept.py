"""A scratch copy kept between a session's review rounds and brought up to date, not remade.

Copying a big project (2,000 files, 33 MB) costs seconds per round and deleting it as many;
bringing a kept copy up to date costs a stat per file. A file is copied again when the project's
file changed (size, mtime, inode) or the copy's did (size, mtime, ctime, inode: a check wrote
it, and no process can set a ctime back); what is in the copy but not wanted (written by a
check, or deleted in the project) is removed, links included, so each round starts from exactly the
project plus the staged changes, as a fresh copy would. The one exception is bytecode the checks
wrote for a project file the copy has not rewritten since (see ``review.bytecode``): the next
round imports it instead of compiling the package again.

A kernel that restarts adopts the copies its dead predecessor left (see ``review.manifest``):
the same stat per file instead of a full copy, and none of the dead checks' bytecode.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import tempfile
import threading
import weakref

try:
    import fcntl
except ImportError:  # not on Windows: copies of a killed process stay behind there
    fcntl = None  # type: ignore[assignment]
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agent_magic.errors import PathError
from agent_magic.review import manifest
from agent_magic.review.bytecode import matches, source_of
from agent_magic.review.clone import FileCopier

Kind = Literal["file", "bytes", "other"]
Role = Literal["changed", "unchanged"]  # the copy with the staged change, or the project as is
Signature = tuple[int, int, int]  # a project file's size, mtime_ns, inode
CopySignature = tuple[int, int, int, int]  # a copy file's size, mtime_ns, ctime_ns, inode
Copied = dict[str, tuple[Signature | str | None, CopySignature]]


@dataclass
class Wanted:
    """What one path of the copy should hold: a project file, staged bytes, or a link/dir."""

    kind: Kind
    source: Signature | str | None  # the project file's signature or the bytes' digest
    content: bytes | None = None


@dataclass
class KeptTree:
    """One reusable copy (``base/tree``); a session's checks use it one at a time.

    ``close()`` deletes it; so does garbage collection. At the interpreter's exit it is left
    for the next process on the project to adopt (``adopt``), or to sweep (``remove_dead``).
    """

    parent: Path | None = None
    base: Path | None = None
    root: Path | None = None  # the project it mirrors
    copied: Copied = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    syncs: int = 0  # rounds that reused the copy
    role: Role = "changed"  # which of a project's two copies: a dead process's is adopted by role
    adopted: bool = False  # taken over from a dead process and not synced since
    copies: int = 0  # files the last sync wrote (copied or staged): the rest were up to date
    # whose checks wrote the bytecode the copy may hold (a session's CheckMemo), weakly: another
    # run's checks never import code a check of an earlier run planted there
    owner: weakref.ref[object] | None = None
    _cleanup: weakref.finalize | None = None

    def start(self, root: Path, parent: Path | None) -> Path:
        """The copy's base directory for ``root``: the kept one, one a dead process left (its
        map from the manifest: the sync then copies only what changed), or a new empty one."""
        if self.base is not None and self.root == root and (self.base / "tree").is_dir():
            self.syncs += 1
            return self.base
        self.close()
        folder = parent if parent is not None else Path(tempfile.gettempdir())
        folder.mkdir(parents=True, exist_ok=True)
        found = adopt(folder, root, self.role)
        alive: int | None
        if found is not None:
            base, alive, self.copied = found
            self.adopted = True
        else:
            base = Path(tempfile.mkdtemp(prefix=PREFIX, dir=folder))
            alive = hold_alive(base)
        self._cleanup = weakref.finalize(self, _release, base, alive)
        # Left at the interpreter's exit, as a killed kernel's: the restarted kernel adopts it
        # (without flock nothing would ever sweep it: deleted then)
        self._cleanup.atexit = fcntl is None
        remove_dead(folder, taken=(str(root), self.role))
        if found is None:
            (base / "tree").mkdir()
        self.base, self.root = base, root
        return base

    def close(self) -> None:
        """Delete the copy (safe to call twice)."""
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None
        self.base = None
        self.root = None
        self.copied = {}
        self.adopted = False


PREFIX = "agent_magic_scratch_"
# In a scratch copy's base: locked while its process lives. A kernel that was killed runs no exit
# handler; the next process that keeps a copy adopts or deletes what it left.
ALIVE = ".alive"
# A dead process's kept copy waits this long for a process on its project to adopt it.
ADOPT_SECONDS = 24 * 3600


def hold_alive(base: Path) -> int | None:
    """Lock ``base``'s ALIVE file for this process's life; its descriptor (None: no flock)."""
    if fcntl is None:
        return None
    # locked under another name first: a sweeper never sees an ALIVE nobody holds yet
    try:
        fd = os.open(base / f"{ALIVE}.new", os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
    except OSError:
        return None  # kept all the same: only a sweep after a crash will not find it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(base / f"{ALIVE}.new", base / ALIVE)
    except OSError:
        os.close(fd)
        return None
    return fd


def release_alive(alive: int | None) -> None:
    """Let go of ``hold_alive``'s lock (after the copy is deleted)."""
    if alive is not None:
        os.close(alive)


def _release(base: Path, alive: int | None) -> None:
    _remove(base)
    release_alive(alive)


def remove_dead(folder: Path, taken: tuple[str, Role] | None = None) -> None:
    """Delete the scratch copies in ``folder`` whose process is gone (their ALIVE is not held).

    A dead process's kept copy of a project that still exists waits ``ADOPT_SECONDS`` after
    its last sync for a process to adopt it, unless it is for ``taken`` (the project and role
    the caller keeps a copy of now).
    """
    for base in _copies(folder):
        head = manifest.header(base)
        if (
            head is not None
            and (head.root, head.role) != taken
            and head.age <= ADOPT_SECONDS
            and os.path.isdir(head.root)
        ):
            continue  # not even locked: a process adopting it now must not find it busy
        alive = _lock_dead(base)
        if alive is not None:  # else its process lives (or it is no scratch copy)
            _release(base, alive)


def adopt(folder: Path, root: Path, role: Role) -> tuple[Path, int, Copied] | None:
    """A dead process's kept copy of ``root`` for ``role`` in ``folder``, now held by this one:
    its base, its ALIVE descriptor and the map its last sync left; None if there is none.

    Two processes never adopt the same copy: ALIVE's lock is taken before anything is read.
    """
    found: list[tuple[float, Path]] = []
    for base in _copies(folder):
        head = manifest.header(base)
        if head is not None and (head.root, head.role) == (str(root), role):
            found.append((head.age, base))
    for _, base in sorted(found):  # the most recently synced first
        alive = _lock_dead(base)
        if alive is None:
            continue
        copied = manifest.load(base, root, role)
        if copied is not None and _own_dir(base / "tree"):
            return base, alive, copied
        _release(base, alive)  # odd: a fresh copy is made instead
    return None


def _copies(folder: Path) -> list[Path]:
    """This user's scratch copies in ``folder``: private real directories named PREFIX*."""
    if fcntl is None:
        return []
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(PREFIX)]
    except OSError:
        return []
    return [Path(e.path) for e in entries if _private_dir(Path(e.path))]


def _private_dir(path: Path) -> bool:
    # only this user's own directories (a shared /tmp holds anyone's), which nobody else may
    # write (mkdtemp makes them 0700)
    return _own_dir(path, private=True)


def _own_dir(path: Path, *, private: bool = False) -> bool:
    # a real directory of this user's (``tree`` may be 0775 under umask 002: its base is 0700)
    try:
        info = path.lstat()
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and not (private and info.st_mode & 0o022)
    )


def _lock_dead(base: Path) -> int | None:
    """``base``'s ALIVE locked by this process when its own process is gone; None if it lives."""
    if fcntl is None:
        return None
    try:
        fd = os.open(base / ALIVE, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:
        return None  # not a scratch copy (or not ours to see)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # a sweeper that deleted the copy let go of the lock only then: this is a stale file
        held, now = os.fstat(fd), (base / ALIVE).lstat()
        if (held.st_dev, held.st_ino) != (now.st_dev, now.st_ino):
            raise OSError("the copy was deleted meanwhile")
    except OSError:
        os.close(fd)
        return None
    return fd


class KeptTrees:
    """This process's kept copies, two per project, shared by its runs one after the other.

    A run brings the copy the last run left up to date (a stat per file) instead of copying the
    project again: only a project's first run pays for a full copy. Each project has one copy
    for the change and one for the unchanged project (the baseline runs beside the changed copy's
    checks). At most ``limit`` projects keep theirs; the least recently used idle ones go first.
    """

    def __init__(self, limit: int = 2) -> None:
        self.limit = limit
        self._trees: dict[tuple[Path, Role], KeptTree] = {}
        self._lock = threading.Lock()

    def for_project(self, root: Path, role: Role = "changed") -> KeptTree:
        """The kept copy of ``root`` for ``role`` (empty until its first use)."""
        with self._lock:
            tree = self._trees.pop((root, role), None) or KeptTree(role=role)
            self._trees[(root, role)] = tree  # last: the most recently used; the oldest first
            roots = list(dict.fromkeys(r for r, _ in reversed(self._trees)))
            for old in roots[self.limit :]:
                for key in [k for k in self._trees if k[0] == old]:
                    self._drop(key)
            return tree

    def close(self) -> None:
        """Delete every idle copy."""
        with self._lock:
            for key in list(self._trees):
                self._drop(key)

    def _drop(self, key: tuple[Path, Role]) -> None:
        tree = self._trees[key]
        if tree.lock.acquire(blocking=False):  # a copy in use stays until it is idle
            try:
                tree.close()
            finally:
                tree.lock.release()
            del self._trees[key]


# One per process: the runs of every Agent (each %%agent cell builds one) share it.
KEPT = KeptTrees()


def wanted_files(
    root: Path,
    listed: Iterable[str],
    changes: Mapping[str, bytes | None],
    max_file_size: int,
) -> tuple[dict[str, Wanted], list[str]]:
    """What the copy should hold (path -> Wanted, bytecode included) and the files skipped."""
    wanted: dict[str, Wanted] = {}
    skipped: list[str] = []
    by_dir: dict[str, list[str]] = {}
    # A changed source's cached bytecode (listed when __pycache__ is not ignored) stays out.
    stale = tuple(_cache_prefix(rel) for rel in changes if rel.endswith(".py"))
    for rel in listed:
        if rel in changes or (stale and rel.startswith(stale)):
            continue
        try:
            info = (root / rel).lstat()
        except OSError:
            continue  # tracked but deleted in the working tree
        if stat.S_ISREG(info.st_mode):
            if info.st_size > max_file_size:
                skipped.append(rel)
                continue
            wanted[rel] = Wanted("file", _signature(info))
            if rel.endswith(".py"):
                by_dir.setdefault(rel.rpartition("/")[0], []).append(rel)
        elif stat.S_ISLNK(info.st_mode) or stat.S_ISDIR(info.st_mode):
            wanted[rel] = Wanted("other", None)
    for rel, content in changes.items():
        if content is not None:
            wanted[rel] = Wanted("bytes", hashlib.blake2b(content).hexdigest(), content)
    wanted.update(_bytecode(root, by_dir))
    return wanted, skipped


def _cache_prefix(source: str) -> str:
    folder, _, name = source.rpartition("/")
    return f"{folder}/__pycache__/{name[:-3]}." if folder else f"__pycache__/{name[:-3]}."


def _bytecode(root: Path, by_dir: Mapping[str, list[str]]) -> dict[str, Wanted]:
    # This interpreter's .pyc of unchanged sources: imports skip compiling; a .pyc is checked
    # against its source's size and mtime, which the copy keeps.
    tag = sys.implementation.cache_tag
    out: dict[str, Wanted] = {}
    if not tag:
        return out
    for folder, sources in by_dir.items():
        cache = f"{folder}/__pycache__" if folder else "__pycache__"
        try:
            entries = {e.name: e for e in os.scandir(root / cache)}
        except OSError:
            continue
        for rel in sources:
            name = f"{rel.rpartition('/')[2][:-3]}.{tag}.pyc"
            entry = entries.get(name)
            if entry is None or entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                continue
            try:
                current = matches(Path(entry.path), (root / rel).stat())
            except OSError:
                continue
            if current:  # a stale one would be compiled anew in every round anyway
                out[f"{cache}/{name}"] = Wanted(
                    "file", _signature(entry.stat(follow_symlinks=False))
                )
    return out


def sync(
    kept: KeptTree,
    root: Path,
    wanted: Mapping[str, Wanted],
    copy_other: Callable[[str], list[str]],
    owner: object | None = None,
    *,
    clear: bool = True,
) -> list[str]:
    """Make ``base/tree`` hold exactly ``wanted``; returns the project files not copied.

    ``copy_other(rel)`` copies a link or directory entry the way a fresh copy does and returns
    what it skipped. Bytecode the checks wrote is kept only for the ``owner`` whose checks ran
    last (a .pyc header names only its source's mtime and size: a check can forge one).
    ``clear`` also removes what the last round left beside the tree (logs, HOME, TMPDIR).
    """
    assert kept.base is not None
    tree = kept.base / "tree"
    if clear:
        _clear_beside(kept.base)
    last = kept.owner() if kept.owner is not None else None
    # not a dead owner's, nor a dead process's
    same = not kept.adopted and last is owner and (owner is not None or kept.owner is None)
    untouched = _untouched_sources(kept, tree, wanted) if same else {}
    kept.owner = weakref.ref(owner) if owner is not None else None
    kept.adopted = False
    kept.copies = 0
    before = dict(kept.copied)
    _writable_dirs(tree)
    _remove_unwanted(tree, wanted, untouched)
    failed: list[str] = []
    copier = FileCopier()
    safe_dirs: set[Path] = set()
    made: set[Path] = set()
    real_tree = Path(os.path.realpath(tree))
    for rel, want in wanted.items():
        target = tree / rel
        known = kept.copied.get(rel)
        fresh = want.kind != "other" and known is not None and known[0] == want.source
        if fresh and known is not None and _current(target) == known[1]:
            continue
        _make_room(target, made)
        _check_parent(target.parent, real_tree, safe_dirs)
        try:
            if want.kind == "file":
                copier.copy(root / rel, target)
            elif want.kind == "bytes":
                target.write_bytes(want.content or b"")
            else:
                failed += copy_other(rel)
        except OSError:
            kept.copied.pop(rel, None)
            if want.kind == "file" and "/__pycache__/" not in f"/{rel}":
                failed.append(rel)
            continue
        kept.copies += 1
        now = _current(target)
        if now is not None:
            kept.copied[rel] = (want.source, now)
    for rel in [r for r in kept.copied if r not in wanted]:
        del kept.copied[rel]
    if kept.copied != before or kept.syncs == 0 or not (kept.base / manifest.NAME).exists():
        _save(kept)
    return failed


def _save(kept: KeptTree) -> None:
    # before any check runs: what the checks change later differs from it (ctime, inode)
    assert kept.base is not None and kept.root is not None
    try:
        manifest.save(kept.base, kept.root, kept.role, kept.copied)
    except OSError:
        (kept.base / manifest.NAME).unlink(missing_ok=True)  # never a stale one


def _signature(info: os.stat_result) -> Signature:
    return (info.st_size, info.st_mtime_ns, info.st_ino)


def _current(path: Path) -> CopySignature | None:
    try:
        info = path.lstat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return _copy_signature(info)


def _copy_signature(info: os.stat_result) -> CopySignature:
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def _clear_beside(base: Path) -> None:
    # Logs, HOME and TMPDIR of the last round live next to the tree: each round starts without.
    for entry in os.scandir(base):
        if entry.name not in ("tree", ALIVE, manifest.NAME):
            _remove(Path(entry.path))


def _untouched_sources(
    kept: KeptTree, tree: Path, wanted: Mapping[str, Wanted]
) -> dict[str, os.stat_result]:
    """Project sources this sync leaves as they are (and their stat): their bytecode may stay."""
    out: dict[str, os.stat_result] = {}
    for rel, want in wanted.items():
        known = kept.copied.get(rel)
        if not rel.endswith(".py") or want.kind != "file" or known is None:
            continue
        try:
            info = (tree / rel).lstat()
        except OSError:
            continue
        if (
            known[0] == want.source
            and stat.S_ISREG(info.st_mode)
            and _copy_signature(info) == known[1]
        ):
            out[rel] = info
    return out


def _writable_dirs(tree: Path) -> None:
    # A check may take the copy's directories' rights away (chmod 555): what it wrote there
    # (a conftest.py that passes every test) could not be removed, nor a change written.
    _own(tree)
    for dirpath, dirnames, _ in os.walk(tree):  # top down: each is listed after its chmod
        for name in dirnames:
            _own(Path(dirpath) / name)


def _own(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode) and mode & stat.S_IRWXU != stat.S_IRWXU:  # never through a link
            path.chmod(stat.S_IMODE(mode) | stat.S_IRWXU)
    except OSError:
        pass


def _remove_unwanted(
    tree: Path, wanted: Mapping[str, Wanted], untouched: Mapping[str, os.stat_result]
) -> None:
    dirs = {"."}
    for rel in wanted:
        parts = rel.split("/")
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
    for dirpath, dirnames, filenames in os.walk(tree, topdown=False):
        here = Path(dirpath)
        base = here.relative_to(tree).as_posix()
        prefix = "" if base == "." else base + "/"
        for name in filenames:
            rel = prefix + name
            want = wanted.get(rel)
            if want is None and _bytecode_to_keep(tree, rel, untouched):
                dirs.add(base)
            elif want is None or want.kind == "other":
                _remove(here / name)
        for name in dirnames:
            rel = prefix + name
            path = here / name
            want = wanted.get(rel)
            if path.is_symlink():  # a link a check made, or one to rebuild: never followed
                path.unlink()
            elif rel not in dirs or (want is not None and want.kind == "other"):
                _remove(path)


def _bytecode_to_keep(tree: Path, rel: str, untouched: Mapping[str, os.stat_result]) -> bool:
    # A check's own .pyc of a source nobody rewrote since, still matching it: Python would use
    # it as is, and so may the next round.
    source = source_of(rel)
    info = untouched.get(source) if source is not None else None
    return info is not None and not (tree / rel).is_symlink() and matches(tree / rel, info)


def _make_room(target: Path, made: set[Path]) -> None:
    # One lstat per file: the first round fills the whole copy through here.
    try:
        mode = target.lstat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        _remove(target)
    elif mode is not None:
        target.unlink()
    if target.parent not in made:
        target.parent.mkdir(parents=True, exist_ok=True)
        made.add(target.parent)


def _check_parent(folder: Path, real_tree: Path, safe: set[Path]) -> None:
    # Every link a check made was removed above; this is the last word before writing.
    if folder in safe:
        return
    real = Path(os.path.realpath(folder))
    if real != real_tree and real_tree not in real.parents:
        raise PathError(f"{folder} resolves outside the scratch copy")
    safe.add(folder)


def _remove(path: Path) -> None:
    try:
        if path.is_symlink() or not path.is_dir():
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path, onerror=force_remove)
    except OSError:
        pass


def force_remove(func: Callable[..., object], path: str, _exc: object, depth: int = 0) -> None:
    """rmtree's error handler: give the owner rights back and retry (best effort).

    Read-only files and dirs (tests sometimes chmod them) would stop rmtree. A directory it
    could not open (``func`` is ``os.open``, which takes more than a path) is removed whole,
    as are those it holds (down to a depth: whatever happens, this ends).
    """
    try:
        os.chmod(os.path.dirname(path), stat.S_IRWXU)
        if not os.path.islink(path):  # chmod follows links: never onto a file outside
            os.chmod(path, stat.S_IRWXU)
        if func in (os.rmdir, os.unlink, os.remove):
            func(path)
        elif depth < 100 and os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, onerror=lambda f, p, e: force_remove(f, p, e, depth + 1))
    except OSError:
        pass
