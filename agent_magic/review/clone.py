"""Copying a project file into a scratch copy: a copy-on-write clone where the filesystem has
them (btrfs, XFS: FICLONE), else an ordinary copy. Never a hard link: a check may rewrite a
file in place, and a shared inode would carry that write into the user's tree."""

from __future__ import annotations

import errno
import os
import shutil
import sys
from pathlib import Path

FICLONE = 0x40049409  # _IOW(0x94, 9, int), linux/fs.h
_NO_CLONE = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS}
# (source device, target device) pairs whose filesystem said it cannot clone: asked only once
_unclonable: set[tuple[int, int]] = set()


def copy_file(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` with its mode and times (as ``shutil.copy2``); clone if possible."""
    if sys.platform == "linux" and _clone(src, dst):
        shutil.copystat(src, dst)
        return
    shutil.copy2(src, dst)


def _clone(src: Path, dst: Path) -> bool:
    import fcntl

    with open(src, "rb") as source:
        key = (os.fstat(source.fileno()).st_dev, os.stat(dst.parent).st_dev)
        if key in _unclonable:
            return False
        with open(dst, "wb") as target:
            try:
                fcntl.ioctl(target.fileno(), FICLONE, source.fileno())
            except OSError as exc:
                if exc.errno not in _NO_CLONE:
                    raise
                _unclonable.add(key)
                return False
    return True
