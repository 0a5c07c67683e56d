"""EXL111: an ONNX op that ONNX Runtime's CPU provider has no kernel for, at the model's opset and types."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Iterable

from exportlint.checks.onnx_opset import DEFAULT_DOMAIN, model_opset, onnx_targets, op_type, tiny_model
from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import OpGraph, TensorMeta
from exportlint.tables import load_table, support

if TYPE_CHECKING:
    import onnx

MAX_DEPTH = 4  # function bodies whose ops have function bodies, ...
FLOAT, FLOAT16 = 1, 10  # TensorProto.FLOAT, TensorProto.FLOAT16


@dataclass(frozen=True)
class Value:
    """What the kernel lookup knows of a node's input or output: ONNX elem type (0: unknown) and shape."""

    elem_type: int = 0
    shape: tuple | None = None


@dataclass(frozen=True)
class KernelCheck:
    """Whether ORT's CPU provider runs a node: by a kernel; not at all (`gap` says why); or, without a
    kernel, through its function body if ORT's own function registry (that of the onnx it bundles, looked
    up by the op's since-version) has one, which cannot be told from here."""

    kernel: bool
    since: int = 0  # the node's schema version
    types: tuple[str, ...] = ()  # the node's type-constraint bindings, `tensor(double)`
    body: tuple[str, ...] = ()  # ops of the function body ORT expands the node into
    gap: str = ""  # why ORT cannot load it; empty when it can

    @property
    def fails(self) -> bool:
        return bool(self.gap)


def type_string(elem_type: int) -> str:
    from onnx import TensorProto

    return f"tensor({TensorProto.DataType.Name(elem_type).lower()})"


@cache
def elem_types() -> dict[str, int]:
    """IR dtype names (as the ONNX front end writes them) -> ONNX elem types."""
    from onnx import TensorProto, helper

    from exportlint.capture.onnx_file import dtype_name

    out: dict[str, int] = {}
    for value in TensorProto.DataType.values():
        try:
            out.setdefault(dtype_name(helper.tensor_dtype_to_np_dtype(value).name), value)
        except (KeyError, ValueError, TypeError):  # UNDEFINED and types numpy cannot hold
            continue
    return out


def _value(meta: TensorMeta) -> Value:
    return Value(elem_types().get(meta.dtype or "", 0), meta.shape)


class CpuKernels:
    """Kernel lookups against the onnx-onnxruntime table, by ORT's own rules, memoised per signature."""

    def __init__(self, table: dict[str, Any]):
        self.table = table
        self._seen: dict[tuple, KernelCheck] = {}

    def check(self, node: onnx.NodeProto, opset: int, inputs: list[Value], outputs: list[Value],
              depth: int = 0) -> KernelCheck:
        key = (node.op_type, opset, tuple(v.elem_type for v in inputs), tuple(v.elem_type for v in outputs),
               tuple(a.SerializeToString() for a in node.attribute))
        if key not in self._seen:
            self._seen[key] = self._check(node, opset, inputs, outputs, depth)
        return self._seen[key]

    def _check(self, node, opset, inputs, outputs, depth) -> KernelCheck:
        import onnx.defs

        per_version = self.table["ops"].get(f"{DEFAULT_DOMAIN}::{node.op_type}", {})
        entry = per_version.get(str(opset)) or per_version.get("*") or {}
        try:
            schema = onnx.defs.get_schema(node.op_type, opset, "")
        except onnx.defs.SchemaError:
            return KernelCheck(True)  # not an op at this opset: EXL101's business
        bound = _bindings(schema, inputs, outputs)
        types = tuple(sorted({type_string(t) for t in bound.values()}))
        since = schema.since_version
        if entry.get("since_version") != since:  # the table was made with another onnx: no verdict
            return KernelCheck(True)
        kernels = entry.get("kernels", ())
        if _matches(kernels, bound) or _matches(kernels, {c: FLOAT if t == FLOAT16 else t for c, t in bound.items()}):
            return KernelCheck(True, since, types)  # float16 without a kernel: ORT casts it to float around the op
        body = _function_body(schema, since, node, inputs)  # ORT: `op_->GetFunction(SinceVersion())`
        if body is None and (schema.has_function or schema.has_context_dependent_function):
            return KernelCheck(False, since, types)  # bodies for later versions only: ORT's bundled onnx decides
        if body is None:
            return KernelCheck(False, since, types, gap="the op has no function body either")
        expanded, body_opset = _expand(node, body, opset, inputs, outputs)
        ops = tuple(dict.fromkeys(n.op_type for n, _, _ in expanded))
        if depth >= MAX_DEPTH:
            return KernelCheck(False, since, types, ops)
        for inner, ins, outs in expanded:
            result = self.check(inner, body_opset, ins, outs, depth + 1)
            if result.fails:
                with_types = f" with {', '.join(result.types)}" if result.types else ""
                return KernelCheck(False, since, types, ops, gap=(
                    f"its function body needs {inner.op_type}-{result.since}{with_types}, which has no CPU "
                    "kernel either"))
        return KernelCheck(False, since, types, ops)


def _matches(kernels: list[dict[str, list[str]]], bound: dict[str, int]) -> bool:
    """ORT's type match: every constraint a kernel declares accepts the type bound to it."""
    return any(all(c not in bound or type_string(bound[c]) in allowed for c, allowed in k.items()) for k in kernels)


def _bindings(schema, inputs: list[Value], outputs: list[Value]) -> dict[str, int]:
    """Type constraint -> the elem type of the first known argument bound to it (inputs, then outputs)."""
    import onnx.defs

    variadic = onnx.defs.OpSchema.FormalParameterOption.Variadic
    constraints = {tc.type_param_str for tc in schema.type_constraints}
    bound: dict[str, int] = {}
    for formals, actuals in ((schema.inputs, inputs), (schema.outputs, outputs)):
        for index, value in enumerate(actuals):
            if not formals or not value.elem_type:
                continue
            if index >= len(formals) and formals[-1].option != variadic:
                continue
            formal = formals[min(index, len(formals) - 1)]
            if formal.type_str in constraints:
                bound.setdefault(formal.type_str, value.elem_type)
    return bound


def _function_body(schema, opset: int, node: onnx.NodeProto, inputs: list[Value]) -> onnx.FunctionProto | None:
    """The function body ORT expands a kernel-less node into at `opset` (context-dependent ones are
    built for this node and its input types); None when the schema has none."""
    import onnx
    from onnx import helper

    data = schema.get_function_with_opset_version(opset) if schema.has_function else b""  # latest <= opset
    versions = [v for v in schema.context_dependent_function_opset_versions if v <= opset]
    if not data and schema.has_context_dependent_function and versions:  # looked up by exact version
        types = [helper.make_tensor_type_proto(v.elem_type, v.shape).SerializeToString() for v in inputs]
        try:
            data = schema.get_context_dependent_function_with_opset_version(
                max(versions), node.SerializeToString(), types)
        except Exception:  # noqa: BLE001 - the builder rejects these attributes or types
            data = b""
    if not data:
        return None
    body = onnx.FunctionProto()
    body.ParseFromString(data)
    return body


def _expand(node: onnx.NodeProto, body: onnx.FunctionProto, opset: int, inputs: list[Value],
            outputs: list[Value]):
    """The body's nodes for this node (attributes substituted by ONNX's inliner), each with its input
    and output values after shape inference, and the body's opset."""
    import onnx
    from onnx import helper, inliner, shape_inference

    body_opset = next((o.version for o in body.opset_import if o.domain in ("", DEFAULT_DOMAIN)), opset)
    call = onnx.NodeProto()
    call.CopyFrom(node)
    call.domain = ""
    names = [f"in{i}" if name else "" for i, name in enumerate(call.input)]
    call.ClearField("input")
    call.input.extend(names)
    call.ClearField("output")
    call.output.extend(f"out{i}" if name else "" for i, name in enumerate(node.output))
    graph_inputs = [helper.make_tensor_value_info(n, v.elem_type, v.shape) for n, v in zip(names, inputs) if n]
    graph_outputs = [helper.make_value_info(n, onnx.TypeProto()) for n in call.output if n]
    graph = helper.make_graph([call], "expand", graph_inputs, graph_outputs)
    model = helper.make_model(graph, opset_imports=list(body.opset_import), functions=[body])
    inlined = shape_inference.infer_shapes(inliner.inline_local_functions(model), strict_mode=False)
    values = {v.name: Value(v.type.tensor_type.elem_type) for v in
              (*inlined.graph.input, *inlined.graph.value_info, *inlined.graph.output)}
    return [(n, [values.get(i, Value()) for i in n.input], [values.get(o, Value()) for o in n.output])
            for n in inlined.graph.node if n.domain in ("", DEFAULT_DOMAIN)], body_opset


def _grid_sample_double(opset: int = 16):
    from onnx import TensorProto, helper

    node = helper.make_node("GridSample", ["x", "grid"], ["y"], name="expect_grid")  # float64 in and out
    return tiny_model([node], [("x", TensorProto.DOUBLE, [1, 1, 4, 4]), ("grid", TensorProto.DOUBLE, [1, 4, 4, 2])],
                      [("y", TensorProto.DOUBLE, [1, 1, 4, 4])], opset=opset)


def _relu_int16():
    from onnx import TensorProto, helper

    node = helper.make_node("Relu", ["x"], ["y"], name="expect_relu")  # Relu's body: Max, no int16 kernel
    return tiny_model([node], [("x", TensorProto.INT16, [2, 3])], [("y", TensorProto.INT16, [2, 3])], opset=18)


def _grid_sample_float():
    from onnx import TensorProto, helper

    node = helper.make_node("GridSample", ["x", "grid"], ["y"], name="grid")
    return tiny_model([node], [("x", TensorProto.FLOAT, [1, 1, 4, 4]), ("grid", TensorProto.FLOAT, [1, 4, 4, 2])],
                      [("y", TensorProto.FLOAT, [1, 1, 4, 4])], opset=16)


def _grid_sample_double_20():
    return _grid_sample_double(opset=20)  # GridSample-20 has a float64 CPU kernel


class NoCpuKernel(GraphRule):
    """
    ## What it does
    For an `.onnx` file and each `onnx:N` target, looks every default-domain node up in ONNX Runtime's
    CPU kernel registry (table `onnx-onnxruntime.json`, from `get_all_opkernel_def()`) at the opset the
    model runs at (its own, or N when N is lower), with the node's input and output types, by ORT's own
    matching rule (exact since-version or a closed version range; float16 falls back to float kernels
    through inserted casts). A node without a kernel can only run through its ONNX function body,
    looked up by the op's since-version as ORT does, expanded with ONNX's inliner and checked the same
    way. The warning says whether ORT certainly fails to load the model (no body, or a body op without a
    kernel) or runs it only if ORT's own function registry has a body.

    ## Why is this bad?
    ONNX Runtime is the reference runtime, and its CPU provider implements many ops only for some types
    and opsets: `GridSample` takes float64 from opset 20 only, `Relu` has no int16 kernel. A valid ONNX
    model then fails in `InferenceSession` with "Could not find an implementation for GridSample(16)".

    ## Example
    A `GridSample` with float64 inputs at opset 16, checked with `--target onnx:16`.

    ## Use instead
    Cast to float32 around the op, or raise the opset to one where ORT has a kernel for the type.

    ## Fix safety
    No automatic fix: casting changes the numbers.

    ## Known problems
    The table is ONNX Runtime's CPU provider of the version in its provenance; other execution
    providers differ. ORT expands function bodies from the onnx it bundles, which this check cannot
    see: for ops that have a body but no kernel (e.g. `Mish`, `HardSwish`, `Selu` on float64) the warning
    cannot say which way it goes (in a sweep of 1,184 one-op models, 18 of 151 such cases loaded). ORT's graph optimisations may fuse nodes before the lookup. Only the default
    domain (`ai.onnx`) is checked.
    """

    code = "EXL111"
    slug = "onnxruntime-cpu-kernel-missing"
    summary = "An ONNX node that ONNX Runtime's CPU provider has no kernel for at the model's opset and types."
    severity = Severity.WARNING
    dialects = ("onnx",)
    invalid = (Example(build=_grid_sample_double, targets=("onnx:16",)),
               Example(build=_relu_int16, targets=("onnx:18",)))
    valid = (Example(build=_grid_sample_float, targets=("onnx:16",)),
             Example(build=_grid_sample_double_20, targets=("onnx:20",)))

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        from exportlint.capture.onnx_file import node_names

        opset = model_opset(graph)
        table = load_table("onnx", "onnxruntime")
        if opset is None or table is None:
            return
        protos = dict(zip(node_names(graph.source.graph), graph.source.graph.node))
        kernels = CpuKernels(table)
        runtime = table["provenance"]["libraries"].get("onnxruntime", "")
        for target in onnx_targets(ctx):
            at = min(opset, int(target.version))
            if str(at) not in table["versions"]:
                continue
            for op, nodes in graph.by_op.items():
                if op_type(nodes[0]) is None or support(op, target, "onnx").blocks:
                    continue  # other domains: not in the table; ops absent at N: EXL101
                for node in nodes:
                    result = kernels.check(protos[node.name], at, [_value(m) for m in node.inputs],
                                           [_value(m) for m in node.outputs])
                    if not result.kernel:
                        yield self._finding(graph, node, target, at, runtime, result)

    def _finding(self, graph, node, target, opset, runtime, result: KernelCheck) -> Finding:
        name = op_type(node)
        types = f" with {', '.join(result.types)}" if result.types else ""
        message = (f"ONNX Runtime {runtime}'s CPU provider has no kernel for {name}-{result.since} at opset "
                   f"{opset}{types}")
        if not result.fails:
            body = f" ({', '.join(result.body)})" if result.body else ""
            return self.finding(graph, f"{message}: it runs through its function body{body} only if ONNX "
                                f"Runtime's own function registry has one for {name}-{result.since}, else "
                                "InferenceSession fails to load the model", node=node, target=target)
        return self.finding(graph, f"{message}, and {result.gap}: InferenceSession fails to load the model",
                            node=node, target=target)
