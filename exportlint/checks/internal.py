"""EXL000: a rule crashed. Made by the engine and the source pass, never by a check."""

from __future__ import annotations

from exportlint.engine.rule import Finding, Rule, Severity
from exportlint.ir import Location


class RuleCrashed(Rule):
    """
    ## What it does
    Reports a rule that raised an exception while checking a model. The rule is skipped for that
    model; every other rule still runs.

    ## Why is this bad?
    A crashed rule checked nothing: the model may carry the problem that rule looks for. It is an
    exportlint bug; please report it with the message.

    ## Example
    `EXL000 rule EXL101 (unsupported-operator) crashed and was skipped: KeyError: 'val'`

    ## Use instead
    Nothing to change in the model. Upgrade exportlint, or ignore the crashed rule's code meanwhile.

    ## Fix safety
    No fix.
    """

    code = "EXL000"
    slug = "rule-crashed"
    summary = "An exportlint rule crashed; it was skipped and the other rules ran."
    severity = Severity.ERROR

    @classmethod
    def at(cls, model: str, rule: type[Rule], exc: BaseException, location: Location | None = None
           ) -> Finding:
        """The finding for `rule` raising `exc` on `model` (a graph's model, or a source file)."""
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return Finding(code=cls.code, rule=cls.slug, severity=cls.severity, model=model, location=location,
                       message=f"rule {rule.code} ({rule.slug}) crashed and was skipped: {detail}")
