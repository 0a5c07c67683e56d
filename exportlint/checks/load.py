"""EXL003: a model or file that could not be loaded. Made by the run, never by a check."""

from __future__ import annotations

from exportlint.engine.rule import Example, Finding, Rule, Severity
from exportlint.errors import LoadError
from exportlint.ir import Location


class InputNotLoaded(Rule):
    """
    ## What it does
    Reports a model or file that exportlint could not load, and so did not check: a factory whose
    module fails to import, that raises, exits (`sys.exit`) or returns something that is not a model;
    a model that fails on its example inputs; an `.onnx`, `.keras` or SavedModel that does not load; in
    the source pass, a file that is not a readable regular file (a broken symlink, a symlink loop, a
    FIFO, no read permission) or too deeply nested to parse safely. The other inputs of the run are
    still checked and reported. The finding is at the user's line where loading failed when a
    traceback names one, else at the input itself.

    ## Why is this bad?
    Nothing in that input was checked: it may carry any of the problems the other rules look for.
    A run that skipped it silently would report a false green.

    ## Example
    ```python
    def build():
        raise RuntimeError("weights not found")
    ```

    ## Use instead
    ```python
    def build():
        return Net(), (torch.randn(1, 3, 224, 224),)
    ```

    ## Fix safety
    No fix.

    ## Known problems
    `--select`/`--ignore` and suppression comments do not turn it off: an input that was not loaded
    was not checked.
    """

    code = "EXL003"
    slug = "input-not-loaded"
    summary = "A model or file could not be loaded, so nothing in it was checked."
    severity = Severity.ERROR
    invalid = (
        Example(source="""\
import torch

def build():
    raise RuntimeError("weights not found")  # expect: EXL003
"""),
        Example(source="""\
import torch
import package_that_is_not_installed  # expect: EXL003

def build():
    return torch.nn.ReLU(), (torch.randn(2),)
"""),
    )
    valid = (Example(source="""\
import torch

def build():
    return torch.nn.ReLU(), (torch.randn(2),)
"""),)

    @classmethod
    def at(cls, model: str, error: LoadError, where: Location | None = None) -> Finding:
        """The finding for `model`, at the error's location, else at `where`."""
        return Finding(code=cls.code, rule=cls.slug, severity=cls.severity, model=model,
                       message=str(error).splitlines()[0], location=error.location or where)
