"""`cst` and `cst_metadata`: LibCST, imported at the first attribute read.

The source rules and the registry import without LibCST (it costs ~130 ms): the rule classes use
`cst.Call`, `cst.Attribute`, ... only inside their hooks, which run after a file was parsed. Type
checkers see the real modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any


class _LazyModule:
    """Stands for a module until an attribute is read; each attribute read is then cached here."""

    def __init__(self, name: str):
        self._module_name = name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self._module_name), attr)
        setattr(self, attr, value)  # the next read is a plain attribute lookup
        return value


if TYPE_CHECKING:
    import libcst as cst
    import libcst.metadata as cst_metadata
else:
    cst = _LazyModule("libcst")
    cst_metadata = _LazyModule("libcst.metadata")
