"""Where is user code: pick the user's frames out of stack traces, for every front end.

A frame is the user's unless it lies in the standard library, in a framework package (torch,
tensorflow, keras, ...) or in exportlint's own machinery. Frameworks are found with `find_spec`,
never imported.
"""

from __future__ import annotations

import importlib.util
import linecache
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
_OWN_INTERNALS = ("capture", "engine", "ir", "report", "fix", "tables")  # not `checks`: rule examples


@cache
def _internal_roots() -> tuple[str, ...]:
    own = Path(__file__).resolve().parents[1]
    roots = [own / d for d in _OWN_INTERNALS]
    roots += [Path(sysconfig.get_paths()[k]).resolve() for k in ("stdlib", "platstdlib")]
    for package in FRAMEWORK_PACKAGES:
        found = importlib.util.find_spec(package)
        roots += [Path(p).resolve() for p in ((found.submodule_search_locations or []) if found else [])]
    return tuple(str(r) + "/" for r in roots)


def is_user_file(path: str) -> bool:
    if path.startswith("<"):
        return path in ("<stdin>", "<string>")  # not <eval_with_key>, <frozen ...>
    return not str(Path(path).resolve()).startswith(_internal_roots())


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


def locate(frames: Iterable[Frame], hints: Iterable[str] = ()) -> tuple[Location | None, tuple[Location, ...]]:
    """(innermost user location, all user locations outermost first). Column: where the dotted
    expression holding the first hint found on the source line (the op's or attribute's name)
    starts, else the first non-blank character."""
    user = [f for f in frames if is_user_file(f.path)]
    stack = tuple(Location(f.path, f.line, _column(f, ())) for f in user)
    if not user:
        return None, stack
    inner = user[-1]
    return Location(inner.path, inner.line, _column(inner, hints)), stack


def _column(frame: Frame, hints: Iterable[str]) -> int:
    text = linecache.getline(frame.path, frame.line) or frame.code
    for hint in hints:
        match = re.search(rf"\b{re.escape(hint)}\b", text) if hint else None
        if match:  # the start of the dotted expression it ends: `F.avg_pool2d`, `self.gate`
            return re.search(r"[\w.]*$", text[:match.start()]).start() + 1
    stripped = text.lstrip()
    return len(text) - len(stripped) + 1 if stripped else 1
