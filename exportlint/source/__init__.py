"""The source-only pass: LibCST rules over `.py` files, with no model execution and no torch import.

`check_files(paths, options)` returns findings; `fix_files(paths, unsafe, diff)` applies the fixes
they carry. LibCST itself is imported only once a file contains what some selected rule looks for
(see `SourceRule.needles`).
"""

from typing import TYPE_CHECKING, Any

from exportlint.source.walker import check_files

if TYPE_CHECKING:
    from exportlint.source.fix import AppliedFix, FileFix, FixReport, fix_files

__all__ = ["AppliedFix", "FileFix", "FixReport", "check_files", "fix_files"]


def __getattr__(name: str) -> Any:
    """The fix side (difflib, tempfile) loads on first use: `check` never needs it."""
    if name in __all__:
        from exportlint.source import fix

        return getattr(fix, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
