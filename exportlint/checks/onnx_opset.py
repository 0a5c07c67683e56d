"""EXL110: an `.onnx` file above the target opset that ONNX's version converter cannot bring down."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import OpGraph, OpNode
from exportlint.tables import support
from exportlint.targets import Target

if TYPE_CHECKING:
    import onnx

DEFAULT_DOMAIN = "ai.onnx"
_CACHE_SIZE = 64


def tiny_model(nodes, inputs, outputs, initializers=(), opset: int = 18) -> onnx.ModelProto:
    """A one-graph model for rule examples: `inputs`/`outputs` are (name, onnx elem type, shape)."""
    from onnx import helper

    value = helper.make_tensor_value_info
    graph = helper.make_graph(nodes, "example", [value(*i) for i in inputs], [value(*o) for o in outputs],
                              list(initializers))
    opsets = [helper.make_opsetid("", opset)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))


def model_opset(graph: OpGraph) -> int | None:
    """The default-domain opset of an ONNX-dialect graph captured from a file (None otherwise)."""
    if graph.dialect != "onnx" or graph.source is None:
        return None
    return graph.capture.opsets.get(DEFAULT_DOMAIN)


def onnx_targets(ctx: Context) -> list[Target]:
    return [t for t in ctx.targets if t.family == "onnx"]


def op_type(node: OpNode) -> str | None:
    """`Relu` for a default-domain node (`ai.onnx::Relu`), None for other domains."""
    domain, _, name = node.op.partition("::")
    return name if domain == DEFAULT_DOMAIN else None


@dataclass(frozen=True)
class Conversion:
    """The result of `onnx.version_converter.convert_version(model, opset)` plus `onnx.checker`."""

    ok: bool
    error: str = ""  # the converter's (or checker's) first error line, without the C++ assertion prefix


_conversions: dict[tuple[str, int], Conversion] = {}


def convert(model: onnx.ModelProto, opset: int) -> Conversion:
    """Convert a copy of `model` to `opset` and check it; cached per (model bytes, opset)."""
    import onnx
    from onnx import version_converter

    data = model.SerializeToString()
    key = (hashlib.sha256(data).hexdigest(), opset)
    if key not in _conversions:
        try:  # convert_version works on a serialized copy: `model` is left untouched
            onnx.checker.check_model(version_converter.convert_version(model, opset))
            result = Conversion(True)
        except Exception as exc:  # noqa: BLE001 - the converter raises RuntimeError, the checker ValidationError
            result = Conversion(False, _clean(exc))
        if len(_conversions) >= _CACHE_SIZE:
            _conversions.pop(next(iter(_conversions)))
        _conversions[key] = result
    return _conversions[key]


def _clean(exc: BaseException) -> str:
    """`.../BaseConverter.h:63: adapter_lookup: Assertion `false` failed: No Adapter ...` -> `No Adapter ...`."""
    lines = str(exc).strip().splitlines()
    line = lines[0] if lines else type(exc).__name__
    return line.split(" failed: ", 1)[1] if " failed: " in line else line


def changed_ops(graph: OpGraph, opset: int, target_opset: int) -> list[tuple[str, int]]:
    """(op type, since_version) of the graph's default-domain ops whose schema in effect at `opset` was
    introduced after `target_opset`: each needs a version adapter. Newest first (the converter steps
    down one opset at a time, so the newest schemas are adapted first)."""
    import onnx.defs

    out = set()
    for node in graph.nodes():
        name = op_type(node)
        if name is None:
            continue
        try:
            since = onnx.defs.get_schema(name, opset, "").since_version
        except onnx.defs.SchemaError:
            continue
        if since > target_opset:
            out.add((name, since))
    return sorted(out, key=lambda c: (-c[1], c[0]))


def _mean_runtime_axes():
    from onnx import TensorProto, helper

    node = helper.make_node("ReduceMean", ["x", "axes"], ["y"], name="expect_mean")  # axes: an input since 18
    return tiny_model([node], [("x", TensorProto.FLOAT, [2, 3]), ("axes", TensorProto.INT64, [1])],
                      [("y", TensorProto.FLOAT, None)], opset=18)  # axes known only at run time


def _mean_constant_axes():
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node("ReduceMean", ["x", "axes"], ["y"], name="expect_mean")
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")  # constant: foldable into an attribute
    return tiny_model([node], [("x", TensorProto.FLOAT, [2, 3])], [("y", TensorProto.FLOAT, None)], [axes],
                      opset=18)


def _grid_sample():
    from onnx import TensorProto, helper

    node = helper.make_node("GridSample", ["x", "grid"], ["y"], name="grid")  # no opset 13: EXL101's
    return tiny_model([node], [("x", TensorProto.FLOAT, [1, 1, 4, 4]), ("grid", TensorProto.FLOAT, [1, 4, 4, 2])],
                      [("y", TensorProto.FLOAT, None)], opset=18)


class OnnxOpsetConversion(GraphRule):
    """
    ## What it does
    For an `.onnx` file whose default-domain opset is above a requested `onnx:N` target, runs ONNX's
    own version converter (`onnx.version_converter.convert_version(model, N)`, then `onnx.checker`) on
    a copy of the model. When it fails: an error with the converter's message and the ops whose schema
    changed after opset N (the ones it must adapt). When it works: a warning that the file must be
    converted before a runtime limited to opset N can load it.

    ## Why is this bad?
    A runtime limited to opset N refuses a model that imports a later opset, even when every op exists
    at N. The version converter has no adapter for many schema changes: with onnx 1.23, an opset-18
    model with `Relu` (changed in 14), `Pad` (changed in 18), `Split` with `num_outputs`, or `ReduceMean`
    with run-time `axes` cannot be brought to opset 13. torch's exporter hits the same wall and then
    silently returns an opset-18 model.

    ## Example
    A `ReduceMean` at opset 18 whose `axes` is a graph input, checked with `--target onnx:13`.

    ## Use instead
    Re-export the model at opset N from its source (`torch.onnx.export(..., opset_version=N,
    dynamo=False)`), make the converter's inputs constant (`axes` as an initializer), or target the
    model's own opset.

    ## Fix safety
    No automatic fix. `convert_version` is the fix when it works; its result is not checked numerically.

    ## Known problems
    The converter stops at its first failure, and ops that do not exist at all at opset N (reported by
    EXL101) are not reported again: a clean run may reveal the next failing op. Only the default domain
    (`ai.onnx`) is converted.
    """

    code = "EXL110"
    slug = "onnx-opset-conversion"
    summary = "An .onnx file above the target opset that onnx.version_converter cannot bring down."
    severity = Severity.ERROR
    dialects = ("onnx",)
    invalid = (Example(build=_mean_runtime_axes, targets=("onnx:13",)),
               Example(build=_mean_constant_axes, targets=("onnx:13",)))
    valid = (Example(build=_mean_runtime_axes, targets=("onnx:18",)),
             Example(build=_grid_sample, targets=("onnx:13",)))

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        opset = model_opset(graph)
        if opset is None:
            return
        for target in onnx_targets(ctx):
            n = int(target.version)
            if opset > n:
                yield from self._check_at(graph, opset, target, n)

    def _check_at(self, graph: OpGraph, opset: int, target: Target, n: int) -> Iterable[Finding]:
        changed = changed_ops(graph, opset, n)
        blocked = {op for op, nodes in graph.by_op.items() if support(op, target, "onnx").blocks}
        conversion = convert(graph.source, n)
        named = _named_op(conversion, graph)
        if named and f"{DEFAULT_DOMAIN}::{named}" in blocked:
            return  # an op that does not exist at opset N: EXL101's error already says so
        adapted = [(op, since) for op, since in changed if f"{DEFAULT_DOMAIN}::{op}" not in blocked]
        listing = ", ".join(f"{op} (changed in {since})" for op, since in adapted)
        first = named or (adapted[0][0] if adapted else None)
        node = graph.by_op[f"{DEFAULT_DOMAIN}::{first}"][0] if first else None
        if conversion.ok:
            adapts = f"; it adapts {listing}" if listing else ""
            yield self.finding(
                graph, f"the model is at opset {opset}: convert it first, "
                f"onnx.version_converter.convert_version(model, {n}) works{adapts}",
                node=node, target=target, severity=Severity.WARNING)
            return
        culprit = f"; ops whose schema changed after opset {n}: {listing}" if listing else ""
        yield self.finding(
            graph, f"the model is at opset {opset} and onnx.version_converter cannot bring it to {n}: "
            f"{conversion.error}{culprit}", node=node, target=target)


def _named_op(conversion: Conversion, graph: OpGraph) -> str | None:
    """The op type the converter's error names (`No Adapter To Version $17 for Pad` -> `Pad`)."""
    words = set(re.findall(r"\w+", conversion.error))
    names = sorted(n for n in (op_type(nodes[0]) for nodes in graph.by_op.values()) if n in words)
    return names[0] if names else None
