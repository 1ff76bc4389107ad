"""Copying project files into a scratch copy: copy-on-write clones where the filesystem has them
(btrfs, XFS: FICLONE), else ordinary copies. Never hard links: a check may rewrite a file in
place, and a shared inode would carry that write into the user's tree."""

from __future__ import annotations

import errno
import shutil
import sys
from pathlib import Path

FICLONE = 0x40049409  # _IOW(0x94, 9, int), linux/fs.h
# The filesystem (or the pair: EXDEV) cannot clone: copy this file and every later one.
_NO_CLONE = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS}


class FileCopier:
    """Copies the files of one scratch copy, as ``shutil.copy2`` (content, mode, times).

    It tries a clone first and, once the filesystem has said it cannot, copies without asking
    again: one failed ioctl per scratch copy where clones are not available.
    """

    def __init__(self) -> None:
        self.clones = sys.platform == "linux"  # still trying clones
        self.cloned = 0  # files cloned, not copied

    def copy(self, src: Path, dst: Path) -> None:
        """Copy ``src`` to ``dst`` (which must not be a link) with its mode and times."""
        if self.clones and self._clone(src, dst):
            shutil.copystat(src, dst)
            self.cloned += 1
            return
        shutil.copy2(src, dst)

    def _clone(self, src: Path, dst: Path) -> bool:
        import fcntl

        with open(src, "rb") as source, open(dst, "wb") as target:
            try:
                fcntl.ioctl(target.fileno(), FICLONE, source.fileno())
            except OSError as exc:
                if exc.errno not in _NO_CLONE:
                    raise
                self.clones = False
                return False
        return True
