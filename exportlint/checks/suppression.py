"""EXL002: a suppression comment that suppresses nothing. Made by `exportlint.suppress`, not by a check."""

from __future__ import annotations

from exportlint.engine.rule import Example, Finding, Rule, Severity
from exportlint.ir import Location


class UnusedSuppression(Rule):
    """
    ## What it does
    Reports an `# exportlint: ignore[...]` comment that suppressed no finding in this run: no finding
    of the named codes on that line, a code that no rule has, or a bare `# exportlint: ignore` on a
    line without findings. Codes of rules that did not run are not reported: rules the run did not
    select, and rules of the other pass (source rules EXL5xx during a model check, graph rules
    during the source-only pass). For a
    captured model only the lines the model runs through count, since one file may hold several
    models.

    ## Why is this bad?
    A stale suppression hides the next real problem written on that line, and tells the reader that
    the line has an export problem that it no longer has.

    ## Example
    ```python
    y = torch.sigmoid(x)  # exportlint: ignore[EXL501]
    ```

    ## Use instead
    ```python
    y = torch.sigmoid(x)
    ```
    Delete the comment, or name the code that really fires on the line.

    ## Fix safety
    No automatic fix.
    """

    code = "EXL002"
    slug = "unused-suppression"
    summary = "A `# exportlint: ignore[...]` comment that suppressed no finding."
    severity = Severity.WARNING
    invalid = (
        Example(source="""\
import torch
import torch.nn.functional as F

class Head(torch.nn.Module):
    def forward(self, x):
        y = torch.sigmoid(x)  # exportlint: ignore[EXL501]  # expect: EXL002
        return F.hardswish(y)  # exportlint: ignore[EXL501, EXL999]  # expect: EXL002
"""),
    )
    valid = (
        Example(source="""\
import torch
import torch.nn.functional as F

class Head(torch.nn.Module):
    def forward(self, x):
        return F.hardswish(x)  # exportlint: ignore[EXL501]
"""),
    )

    @classmethod
    def at(cls, location: Location, message: str, model: str) -> Finding:
        return Finding(code=cls.code, rule=cls.slug, severity=cls.severity, message=message, model=model,
                       location=location)
