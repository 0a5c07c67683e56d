"""The source-only pass: LibCST rules over `.py` files, with no model execution and no torch import.

`check_files(paths, options)` returns findings; `fix_files(paths, unsafe, diff)` applies the fixes
they carry. LibCST itself is imported only once a file contains what some selected rule looks for
(see `SourceRule.needles`).
"""

from exportlint.source.fix import AppliedFix, FileFix, FixReport, fix_files
from exportlint.source.walker import check_files

__all__ = ["AppliedFix", "FileFix", "FixReport", "check_files", "fix_files"]
