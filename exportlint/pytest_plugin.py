"""pytest plugin (entry point `pytest11`): exportability as a test assertion. See docs/pytest.md.

    from exportlint.pytest_plugin import assert_exportable

    def test_model_exports():
        assert_exportable(MyNet().eval(), (torch.randn(1, 3, 224, 224),), targets=["onnx:17", "coreml:iOS16"])

    @pytest.mark.exportable(targets=["onnx:17"])
    def test_mynet():
        return MyNet(), (torch.randn(1, 3, 224, 224),)   # the plugin checks what the test returns

Targets default to `targets` of `[tool.exportlint]` in pyproject.toml (else onnx:18); its ignore,
per-file-ignores and suppression comments apply. A model passes when every target converts through
one of its paths (`require_default_path=True`: through the converter's default path). `--exportlint-confirm`
(or `confirm=True`) runs every installed converter on each path: their answer is the verdict.
"""

from __future__ import annotations

import contextlib
import io
import logging
from typing import Any, Iterator, Sequence

import pytest

_CONFIRM: list[bool] = [False]  # --exportlint-confirm of the innermost session (pytester nests them)


class NotExportable(AssertionError):
    """Raised by `assert_exportable`: the message lists each blocking finding."""


def assert_exportable(model: Any, example_inputs: Any, targets: Sequence[str] | None = None,
                      ignore: Sequence[str] = (), *, select: Sequence[str] = (), confirm: bool | None = None,
                      require_default_path: bool | None = None, name: str | None = None):
    """Fail with every blocking finding (`path:line:col: CODE [target] message`) unless `model`
    exports to all `targets` (through some conversion path; through the default one with
    `require_default_path`, default: the config's). `confirm` (default: `--exportlint-confirm`) runs
    every installed converter on each path: their answer is the verdict. Returns the report."""
    from exportlint.config import check_codes, check_targets, find_config, load_config
    from exportlint.report import Report
    from exportlint.report.text import finding_line
    from exportlint.run import capture_module, check_captured

    __tracebackhide__ = True
    options = load_config(find_config()).options()
    if targets is not None:
        options.targets = check_targets([targets] if isinstance(targets, str) else targets,
                                        "assert_exportable targets")
    options.ignore += check_codes(ignore, "assert_exportable ignore")
    if select:
        options.select = check_codes(select, "assert_exportable select")
    if _CONFIRM[-1] if confirm is None else confirm:
        options.decide = "confirm"
    if require_default_path is not None:
        options.require_default_path = require_default_path
    inputs = example_inputs if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    name = name or type(model).__name__
    report = Report()
    with _quiet(), _modes_kept(model):
        check_captured(*capture_module(model, tuple(inputs), name, options), options, report)
    confirmations = report.models[-1].confirmations
    if report.blocking:
        blocked = [t.target for t in report.models[-1].targets
                   if not (t.default_path_exportable if options.require_default_path else t.exportable)]
        errors = [f for f in report.findings if f.severity.value == "error"]
        lines = [f"{name} does not export to {', '.join(blocked)} "
                 f"({len(errors)} blocking finding{'s' * (len(errors) != 1)}):"]
        lines += [f"  {finding_line(f)}" for f in errors]
        if confirmations:
            lines += ["real converters:"] + [f"  {c.line()}" for c in confirmations]
        raise NotExportable("\n".join(lines))
    return report


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch logs and prints its capture attempts (trace artifacts, graph dumps): a failure shows the
    findings only."""
    disabled = logging.root.manager.disable
    trace = logging.getLogger("torch.__trace")  # torch makes it ignore logging.disable
    trace_disabled, trace.disabled = trace.disabled, True
    logging.disable(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logging.disable(disabled)
        trace.disabled = trace_disabled


@contextlib.contextmanager
def _modes_kept(model: Any) -> Iterator[None]:
    """The capture sets train/eval: give each submodule of the caller's model its own flag back."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("exportlint")
    group.addoption("--exportlint-confirm", action="store_true", default=False,
                    help="assert_exportable and @pytest.mark.exportable also run the real converters "
                         "(ONNX + onnxruntime, coremltools, litert-torch) when installed")


def pytest_configure(config: pytest.Config) -> None:
    _CONFIRM.append(bool(config.getoption("exportlint_confirm", False)))
    config.addinivalue_line(
        "markers", "exportable(targets=None, ignore=(), confirm=None): the test returns "
                   "(model, example_inputs); exportlint checks that it exports to the targets")


def pytest_unconfigure(config: pytest.Config) -> None:
    if len(_CONFIRM) > 1:
        _CONFIRM.pop()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run a test marked `exportable` and check the (model, inputs) it returns."""
    marker = pyfuncitem.get_closest_marker("exportable")
    if marker is None:
        return None
    if marker.args:
        raise pytest.UsageError(f"{pyfuncitem.nodeid}: @pytest.mark.exportable takes keyword arguments only "
                                "(targets=[...], ignore=[...], confirm=...)")
    names = pyfuncitem._fixtureinfo.argnames
    made = pyfuncitem.obj(**{n: pyfuncitem.funcargs[n] for n in names})
    if made is None and "exportlint_check" in names:
        return True  # the test asserted through the fixture itself
    if not (isinstance(made, tuple) and len(made) == 2):
        raise TypeError(f"a test marked @pytest.mark.exportable must return (model, example_inputs), "
                        f"got {type(made).__name__}")
    __tracebackhide__ = True
    assert_exportable(made[0], made[1], name=pyfuncitem.name, **marker.kwargs)
    return True


@pytest.fixture
def exportlint_check(request: pytest.FixtureRequest):
    """`assert_exportable`, with the keyword arguments of the test's `exportable` marker as defaults."""
    from functools import partial

    marker = request.node.get_closest_marker("exportable")
    return partial(assert_exportable, **(marker.kwargs if marker else {}))
