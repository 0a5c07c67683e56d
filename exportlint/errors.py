"""Errors that end a run (`UsageError`, exit 2) or one input of it (`LoadError`, an EXL003 finding)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class UsageError(Exception):
    """Bad command line, option or configuration: reported in one line, exit 2."""


class LoadError(Exception):
    """A model or file that cannot be loaded (its message names it): an EXL003 finding for that
    input, at `location` when known; the run goes on with the other inputs."""

    def __init__(self, message: str, location=None):
        super().__init__(message)
        self.location = location  # exportlint.ir.Location | None


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def check_regular_file(path: Path) -> None:
    """LoadError naming what `path` is unless it is a regular file (checked before opening: reading a
    FIFO would block forever)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LoadError(f"{path}: symlink loop") from None
        if exc.errno == errno.ENOENT and os.path.islink(path):
            raise LoadError(f"{path}: broken symlink to {os.readlink(path)}") from None
        raise LoadError(f"{path}: {exc.strerror.lower()}") from None
    kind = next((name for test, name in _KINDS if test(mode)), None)
    if kind is not None:
        raise LoadError(f"{path}: {kind}, not a regular file")


def read_regular_file(path: Path) -> bytes:
    """The bytes of `path`, or a LoadError that says why not."""
    check_regular_file(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{path}: cannot read: {exc.strerror.lower()}") from None
