"""exportlint's on-disk caches (converter decisions, captured graphs): one location, JSON only.

Everything lives under `$EXPORTLINT_CACHE_DIR` (default `~/.cache/exportlint`), one subdirectory per
kind. Files are JSON that exportlint wrote (nothing is ever unpickled), replaced atomically: a
temporary file in the same directory renamed into place, so a concurrent reader sees the old file or
the new one, never half of one, and concurrent writers at worst redo each other's work.
`EXPORTLINT_NO_CACHE=1` (or `--no-cache`) turns every cache off.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import cache
from typing import Any


def enabled() -> bool:
    return not os.environ.get("EXPORTLINT_NO_CACHE")


def cache_file(kind: str, key: str) -> str:
    """The file of `key` in the cache of `kind` ("decisions", "captures")."""
    root = os.environ.get("EXPORTLINT_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "exportlint")
    return os.path.join(root, kind, f"{key}.json")


def read_json(path: str) -> Any:
    """The JSON in `path`, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def write_json(path: str, data: Any) -> None:
    """Write `data` to `path` atomically; a cache that cannot be written is only slower."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=os.path.basename(path), suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, sort_keys=True)
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared CI cache from other users
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def file_digest(path: str) -> str | None:
    """The sha256 of a file's content, None when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


@cache
def code_digest(*paths: str) -> str:
    """exportlint's own code that produced an entry (files or directories of .py files): an entry
    made by other code is not reused."""
    parts = []
    for path in paths:
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".py")) \
            if os.path.isdir(path) else [path]
        parts += [f"{f}:{file_digest(f)}" for f in files]
    return digest("\n".join(p.rpartition(os.sep)[2] for p in parts))[:16]
