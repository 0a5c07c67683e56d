"""EXL500: a Python file the source pass cannot parse."""

from __future__ import annotations

from exportlint.engine.rule import Example, Finding, Severity
from exportlint.ir import Location
from exportlint.source.rule import SourceRule


class UnparsableSource(SourceRule):
    """
    ## What it does
    Reports a Python file that mentions torch but does not parse, at the parser's error position.
    No other source rule can check such a file, and `exportlint fix` leaves it byte-identical.

    ## Why is this bad?
    A file that does not parse cannot be imported, so the model cannot be built, let alone exported.
    It is also unchecked: every other source rule skipped it.

    ## Example
    ```python
    import torch
    def forward(self, x:
        return x
    ```

    ## Use instead
    ```python
    import torch
    def forward(self, x):
        return x
    ```

    ## Fix safety
    No fix: exportlint never rewrites a file it cannot parse.
    """

    code = "EXL500"
    slug = "unparsable-source"
    summary = "The file does not parse, so no source rule could check it."
    severity = Severity.ERROR
    invalid = (Example(source="import torch\ndef forward(self, x:  # expect: EXL500\n    return x\n"),)
    valid = (Example(source="import torch\ndef forward(self, x):\n    return x\n"),)

    @classmethod
    def at(cls, path: str, line: int, column: int, message: str) -> Finding:
        return Finding(
            code=cls.code,
            rule=cls.slug,
            severity=cls.severity,
            message=f"cannot parse: {message.splitlines()[0]}",
            model=path,
            location=Location(path, line, column),
        )
