"""Where is user code: pick the user's frames out of stack traces, for every front end.

A frame is the user's unless it lies in the standard library, in an installed package or in
exportlint's own machinery. A frame in an installed package other than the frameworks (torch,
tensorflow, keras, ...) is a library's: `transformers/models/bert/modeling_bert.py`, `timm/...`.
A finding is at the innermost user frame; at the innermost library frame instead when the op belongs
to a module defined in a library (`BertSelfAttention`) or no frame is the user's, and then the user's
frames name the call site. Packages are found with `find_spec`, never imported.
"""

from __future__ import annotations

import importlib.util
import linecache
import os
import re
import sysconfig
import traceback
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Iterable

from exportlint.ir import Location

FRAMEWORK_PACKAGES = ("torch", "tensorflow", "keras", "tf_keras", "tf2onnx", "absl", "numpy", "onnx",
                      "onnxscript")
EXPORTLINT_DIR = Path(__file__).resolve().parents[1]
_OWN_EXAMPLES = f"{EXPORTLINT_DIR / 'checks'}/"  # rule examples are user code; the rest of exportlint is not


def _dirs(paths: Iterable[Path | str]) -> tuple[str, ...]:
    return tuple(f"{Path(p).resolve()}/" for p in paths)


@cache
def _framework_roots() -> tuple[str, ...]:
    roots = [EXPORTLINT_DIR]
    for package in FRAMEWORK_PACKAGES:
        found = importlib.util.find_spec(package)
        roots += (found.submodule_search_locations or []) if found else []
    return _dirs(roots)


@cache
def _installed_roots() -> tuple[str, ...]:
    return _dirs(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib", "scripts"))


@cache
def _library_roots() -> tuple[str, ...]:
    return _dirs({sysconfig.get_paths()[k] for k in ("purelib", "platlib")})


@cache  # every op of a 100k-op graph names a frame: one realpath (lstat per component) per file
def _resolved(path: str) -> str:
    return os.path.realpath(path)  # not Path.resolve(): it raises on a symlink loop


def is_user_file(path: str) -> bool:
    if path.startswith("<"):
        return path in ("<stdin>", "<string>")  # not <eval_with_key>, <frozen ...>
    real = _resolved(path)
    if real.startswith(_OWN_EXAMPLES):
        return True
    return not real.startswith(_installed_roots()) and not real.startswith(_framework_roots())


def is_framework_file(path: str) -> bool:
    """In a framework's package (torch, tensorflow, ...) or in exportlint's own machinery."""
    return _resolved(path).startswith(_framework_roots())


def is_library_file(path: str) -> bool:
    """In an installed package that is no framework (transformers, timm, torchvision)."""
    real = _resolved(path)
    return real.startswith(_library_roots()) and not real.startswith(_framework_roots())


_FRAME = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>\S+))?\n(?P<code>[^\n]*)?')
_JIT_FRAME = re.compile(r"^(?P<path>.+)\((?P<line>\d+)\): (?P<func>\S+)$", re.M)


@dataclass(frozen=True)
class Frame:
    path: str
    line: int
    code: str = ""


def frames_from_text(text: str) -> list[Frame]:
    """Frames named in a formatted stack trace or exception message, outermost first."""
    return [Frame(m["path"], int(m["line"]), (m["code"] or "").strip()) for m in _FRAME.finditer(text or "")]


def exception_frames(exc: BaseException) -> list[Frame]:
    """The frames of `exc`'s traceback, then those its message names, outermost first."""
    tb = [Frame(f.filename, f.lineno, f.line or "") for f in traceback.extract_tb(exc.__traceback__)]
    return tb + frames_from_text(str(exc))


def jit_frames(text: str) -> list[Frame]:
    """Frames of a TorchScript source range (innermost first in the text): outermost first."""
    return [Frame(m["path"], int(m["line"])) for m in _JIT_FRAME.finditer(text or "")][::-1]


def locate(frames: Iterable[Frame], hints: Iterable[str] = (), library_first: bool = False
           ) -> tuple[Location | None, tuple[Location, ...]]:
    """(location, all user locations outermost first). The location is the innermost user frame;
    the innermost library frame when it is deeper and `library_first` (the op's module is a
    library's), or when no frame is the user's. Column: where the dotted expression holding the
    first hint found on the source line (the op's or attribute's name) starts, else the first
    non-blank character."""
    frames = list(frames)
    user = [f for f in frames if is_user_file(f.path)]
    stack = tuple(Location(f.path, f.line, _column(f, ())) for f in user)
    if library_first or not user:
        candidates = [f for f in frames if f in user or is_library_file(f.path)]
    else:
        candidates = user
    if not candidates:
        return None, stack
    inner = candidates[-1]
    return Location(inner.path, inner.line, _column(inner, tuple(hints))), stack


def call_site(location: Location | None, stack: tuple[Location, ...]) -> Location | None:
    """The user's innermost line when `location` is a library's, else None."""
    if location is None or not stack or is_user_file(location.path):
        return None
    return stack[-1]


@cache  # layers repeat: the same lines with the same hints, once per op
def _column(frame: Frame, hints: tuple[str, ...]) -> int:
    text = linecache.getline(frame.path, frame.line) or frame.code
    for hint in hints:
        match = re.search(rf"\b{re.escape(hint)}\b", text) if hint else None
        if match:  # the start of the dotted expression it ends: `F.avg_pool2d`, `self.gate`
            return re.search(r"[\w.]*$", text[:match.start()]).start() + 1
    stripped = text.lstrip()
    return len(text) - len(stripped) + 1 if stripped else 1
