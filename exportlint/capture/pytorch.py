"""Capture a PyTorch model into an ATen-level `OpGraph` with user source locations.

Methods, in order: torch.export (non-strict), torch.export (strict), torch.fx.symbolic_trace lowered to
ATen by make_fx, torch.jit.trace. The first that works gives the graph; the failures of the earlier ones
are kept in `CaptureInfo.attempts`, with the user's line where the exception names one.

The TorchScript conversion paths (`torch.onnx.export(dynamo=False)`, `ct.convert` of a
`torch.jit.trace` module) see another graph: `trace_graph` / `script_graph` capture it in the
`torchscript` dialect (op names are node kinds such as `aten::relu_`). One converter,
`graph_from_torchscript`, builds both those graphs and the ladder's `torch.jit.trace` fallback.
"""

from __future__ import annotations

import re
import sys
from typing import Any, Callable, Iterator

from exportlint.capture import fp16, litert_layout, sizes
from exportlint.options import DynamicDim, Options
from exportlint.capture.spec import quiet
from exportlint.capture.locate import exception_frames, frames_from_text, is_library_file, jit_frames, locate
from exportlint.errors import LoadError, UsageError
from exportlint.ir import CaptureInfo, Location, NodeKind, OpGraph, OpNode, TensorMeta
from exportlint.progress import step
from exportlint.tables import op_stem

EXPORT_NON_STRICT = "torch.export(non-strict)"
EXPORT_STRICT = "torch.export(strict)"
FX_SYMBOLIC = "torch.fx.symbolic_trace"
JIT_TRACE = "torch.jit.trace"


def _hints(op: str, module: str | None) -> list[str]:
    """Names that a source line calling `op` (ATen name) or module `module` is likely to contain."""
    base = op_stem(op).rstrip("_")
    no_dims = re.sub(r"_?\d+d$", "", base)  # avg_pool2d -> avg_pool, grid_sampler_2d -> grid_sampler
    hints = [base, re.sub(r"_(forward|default)$", "", base), no_dims, no_dims.removesuffix("r")]
    if module:
        hints.insert(0, module.rsplit(".", 1)[-1])
    return hints


# --- the capture ladder ----------------------------------------------------------------------------

def capture_torch(model: Any, inputs: tuple, options: Options, name: str) -> OpGraph:
    import torch

    if not isinstance(model, torch.nn.Module):
        raise LoadError(f"{name}: the factory returned {type(model).__name__}, not a torch.nn.Module")
    model.train(options.train)
    # On the meta device the check is a fake-tensor run, as costly as an export: made only if every capture fails.
    meta = on_meta_device(model, inputs)
    if not meta:
        _check_inputs(model, inputs, name)
    dynamic = _dynamic_shapes(inputs, options.dynamic) if options.dynamic else None
    info = CaptureInfo(method="", training=options.train)
    methods: list[tuple[str, Callable[[], OpGraph]]] = [
        (EXPORT_NON_STRICT, lambda: _export(model, inputs, dynamic, options, name, info, strict=False)),
        (EXPORT_STRICT, lambda: _export(model, inputs, dynamic, options, name, info, strict=True)),
        (FX_SYMBOLIC, lambda: _symbolic(model, inputs, name, info)),
        (JIT_TRACE, lambda: _jit(model, inputs, name, info)),
    ]
    for method, run in methods:
        try:
            with step(f"capturing with {method}"), quiet():
                graph = run()
        except Exception as exc:  # noqa: BLE001 - each failure is a reported fact
            info.attempts.append((method, _summary(exc)))
            if info.failure_location is None:
                info.failure_location = _failure_location(exc)
            continue
        info.method = method
        if method in (EXPORT_NON_STRICT, EXPORT_STRICT):
            with step("fake-tensor passes at the example and doubled input sizes"):
                info.sizes, info.sizes_skipped = (sizes.size_run(model, inputs) if options.recapture
                                                  else (None, "skipped with --no-recapture"))
            if fp16.wanted(options) and not meta:
                with step("a float16 run beside float32"):
                    info.fp16, info.fp16_error = fp16.half_run(graph.source)
            if litert_layout.wanted(options) and not meta:
                with step("litert-torch's layout pass"), quiet():
                    info.litert_layout, info.litert_layout_error = litert_layout.transposed_broadcasts(graph.source)
        return graph
    if meta:
        _check_inputs(model, inputs, name)
    info.ok = False
    info.method = "none"
    return OpGraph(name, "aten", info)


def _check_inputs(model: Any, inputs: tuple, name: str) -> None:
    """Run the model once, so that a wrong input shape is a usage error, not a capture finding.
    In training mode on a copy: a forward pass would move batch-norm statistics."""
    import copy

    model = copy.deepcopy(model) if model.training else model
    fails = sizes.fake_failure if on_meta_device(model, inputs) else sizes.forward_failure
    error = fails(model, inputs)
    if error is not None:
        where, _ = locate(exception_frames(error))
        raise LoadError(f"{name}: the model fails on the example inputs: {type(error).__name__}: "
                        f"{_summary(error)}", where)


def _summary(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _failure_location(exc: BaseException) -> Location | None:
    # Strict export names the user's frames in its message ("from user code: ..."); non-strict export
    # runs user code directly, so its traceback has them.
    return locate(frames_from_text(str(exc)))[0] or locate(exception_frames(exc))[0]


def _dynamic_shapes(inputs: tuple, dims: list[DynamicDim]):
    from torch.export import Dim

    spec: list[dict[int, Any] | None] = [None] * len(inputs)
    for d in dims:
        if d.input >= len(inputs):
            raise UsageError(f"--dynamic {d.input}:{d.dim}: input {d.input} does not exist "
                             f"(the model has {len(inputs)} input(s), numbered from 0)")
        if d.dim >= inputs[d.input].dim():
            raise UsageError(f"--dynamic {d.input}:{d.dim}: input {d.input} has {inputs[d.input].dim()} dims, "
                             f"numbered from 0")
        spec[d.input] = {**(spec[d.input] or {}), d.dim: Dim.AUTO(min=d.min, max=d.max)}
    return tuple(spec)


def _export(model, inputs, dynamic, options: Options, name: str, info: CaptureInfo, strict: bool) -> OpGraph:
    import torch

    ep = torch.export.export(model, inputs, dynamic_shapes=dynamic, strict=strict)
    graph = graph_from_fx(ep.graph, name, info, source=ep, user_inputs=_user_inputs(ep))
    _record_dynamic(graph, options.dynamic, info)
    return graph


def _user_inputs(ep) -> set[str]:
    from torch.export.graph_signature import InputKind

    return {s.arg.name for s in ep.graph_signature.input_specs if s.kind is InputKind.USER_INPUT}


def _record_dynamic(graph: OpGraph, dims: list[DynamicDim], info: CaptureInfo) -> None:
    """Name the symbols of dims marked dynamic; a dim that came out static was specialised."""
    placeholders = graph.inputs()
    rename: dict[str, str] = {}
    for d in dims:
        size = placeholders[d.input].outputs[0].shape[d.dim]
        if isinstance(size, int):
            info.specialized[d.name] = size
            where = _first_use_as_constant(graph, size)
            if where is not None:
                info.specialization_location[d.name] = where
        else:
            rename[size] = d.name
    if rename:
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, rename)) + r")\b")
        for node in graph.nodes(None):
            node.inputs = tuple(_rename(t, pattern, rename) for t in node.inputs)
            node.outputs = tuple(_rename(t, pattern, rename) for t in node.outputs)


def _first_use_as_constant(graph: OpGraph, size: int) -> Location | None:
    """Where a specialised size first appears as a constant argument of an op whose input has a dim
    of that size (e.g. the avg_pool2d kernel that froze the height): the likely specialising line."""

    def ints(value) -> Iterator[int]:
        if isinstance(value, list):
            for v in value:
                yield from ints(v)
        elif isinstance(value, int) and not isinstance(value, bool):
            yield value

    for node in graph.nodes():
        if node.location and any(size == v for a in node.args.values() for v in ints(a)) and any(
                size in (t.shape or ()) for t in node.inputs):
            return node.location
    return None


def _rename(t: TensorMeta, pattern: re.Pattern, names: dict[str, str]) -> TensorMeta:
    if not t.is_dynamic:
        return t
    shape = tuple(pattern.sub(lambda m: names[m[1]], d) if isinstance(d, str) else d for d in t.shape)
    return TensorMeta(t.dtype, shape)


def _symbolic(model, inputs, name: str, info: CaptureInfo) -> OpGraph:
    """torch.fx.symbolic_trace (with stack traces), then lowered to ATen by make_fx over the graph."""
    import torch.fx as fx
    from torch.fx import traceback as fx_traceback
    from torch.fx.experimental.proxy_tensor import make_fx

    tracer = fx.Tracer()
    tracer.record_stack_traces = True
    fx_graph = tracer.trace(model)
    gm = fx.GraphModule(tracer.root, fx_graph)
    with fx_traceback.preserve_node_meta():
        aten = make_fx(lambda *a: fx.Interpreter(gm).run(*a), record_stack_traces=True)(*inputs)
    return graph_from_fx(aten.graph, name, info, source=gm, user_inputs=None)


# --- fx graph -> OpGraph -----------------------------------------------------------------------

def _tensor_meta(value: Any) -> TensorMeta:
    import torch

    if isinstance(value, torch.Tensor):
        from torch.fx.experimental.symbolic_shapes import is_concrete_int

        shape = tuple(int(d) if is_concrete_int(d) else str(d) for d in value.shape)
        return TensorMeta(str(value.dtype).removeprefix("torch."), shape)
    return TensorMeta()


def _metas(value: Any) -> tuple[TensorMeta, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(_tensor_meta(v) for v in value)
    return (_tensor_meta(value),) if value is not None else ()


def _constant(arg: Any) -> Any:
    """A JSON-friendly form of a constant argument; tensors/nodes are not constants."""
    import torch

    if isinstance(arg, (bool, int, float, str)) or arg is None:
        return arg
    if isinstance(arg, (list, tuple)):
        items = [_constant(a) for a in arg]
        return _NOT_CONST if any(i is _NOT_CONST for i in items) else items
    if isinstance(arg, (torch.dtype, torch.device, torch.memory_format, torch.layout)):
        return str(arg)
    if isinstance(arg, torch.SymInt):
        return str(arg)
    return _NOT_CONST


_NOT_CONST = object()


def _module_path(meta: dict) -> tuple[str | None, str | None]:
    stack = meta.get("nn_module_stack") or {}
    if not stack:
        return None, None
    path, cls = list(stack.values())[-1]
    cls_name = cls if isinstance(cls, str) else f"{cls.__module__}.{cls.__qualname__}"
    # torch.export writes paths like "backbone.features.3.act" (sometimes with L['self'] prefixes)
    path = re.sub(r"^L\['self'\]\.?", "", str(path)).replace("._modules['", ".").replace("']", "")
    return path or None, cls_name


def _library_class(module_type: str | None) -> bool:
    """The op's module class is a library's (transformers' BertSelfAttention), not the user's."""
    module = sys.modules.get((module_type or "").rpartition(".")[0])
    path = getattr(module, "__file__", None)
    return path is not None and is_library_file(path)


def graph_from_fx(fx_graph, name: str, info: CaptureInfo, source: Any, user_inputs: set[str] | None) -> OpGraph:
    """Build the IR from an ATen-level fx graph. Parameters, buffers and lifted constants (placeholders
    that are not user inputs, per the ExportedProgram's signature; `get_attr` nodes) are no graph nodes:
    their users record them as constant inputs (`OpNode.const_inputs`); user inputs become INPUT nodes."""
    import torch

    graph = OpGraph(name, "aten", info, source=source)
    producers: dict[str, str] = {}
    const: dict[str, bool] = {}  # fx node name -> its value does not depend on a user input
    for node in fx_graph.nodes:
        meta = node.meta
        if node.op == "get_attr":
            const[node.name] = True
        elif node.op == "placeholder":
            if user_inputs is not None and node.name not in user_inputs:
                const[node.name] = True
                continue
            const[node.name] = False
            graph.add_node(OpNode(node.name, "input", "aten", NodeKind.INPUT, outputs=_metas(meta.get("val"))))
            producers[node.name] = node.name
        elif node.op == "call_function" and isinstance(node.target, torch._ops.OpOverload | torch._ops.OpOverloadPacket):
            op = str(node.target)
            module, module_type = _module_path(meta)
            location, stack = locate(frames_from_text(meta.get("stack_trace") or ""), _hints(op, module),
                                     library_first=_library_class(module_type))
            tensor_args = node.all_input_nodes
            args = {}
            for arg, schema_arg in zip(node.args, _schema_args(node.target)):
                value = _constant(arg)
                if value is not _NOT_CONST:
                    args[schema_arg] = value
            for key, arg in node.kwargs.items():
                value = _constant(arg)
                if value is not _NOT_CONST:
                    args[key] = value
            const_inputs = tuple(const.get(a.name, False) for a in tensor_args)
            const[node.name] = all(const_inputs)
            graph.add_node(OpNode(
                node.name, op, "aten", args=args,
                inputs=tuple(_tensor_meta(a.meta.get("val")) for a in tensor_args),
                outputs=_metas(meta.get("val")), const_inputs=const_inputs,
                module=module, module_type=module_type, location=location, stack=stack,
            ))
            producers[node.name] = node.name
            for index, src in enumerate(tensor_args):
                if src.name in producers:
                    graph.add_edge(producers[src.name], node.name, _tensor_meta(src.meta.get("val")), index)
        elif node.op == "call_function" and node.target.__name__ == "getitem" and node.args[0].name in producers:
            producers[node.name] = producers[node.args[0].name]  # tuple output of a multi-output op
            const[node.name] = const.get(node.args[0].name, False)
        elif node.op == "output":
            graph.add_node(OpNode("output", "output", "aten", NodeKind.OUTPUT))
            flat = node.args[0] if isinstance(node.args[0], (tuple, list)) else (node.args[0],)
            for index, src in enumerate(a for a in flat if hasattr(a, "name")):
                if src.name in producers:
                    graph.add_edge(producers[src.name], "output", _tensor_meta(src.meta.get("val")), index)
    return graph


def _schema_args(target) -> list[str]:
    schema = getattr(target, "_schema", None)
    return [a.name for a in schema.arguments] if schema is not None else []


# --- TorchScript graph (torch.jit.trace / torch.jit.script) -> OpGraph -------------------------

_JIT_DTYPES = {"Float": "float32", "Double": "float64", "Long": "int64", "Int": "int32", "Bool": "bool",
               "Half": "float16", "BFloat16": "bfloat16", "Byte": "uint8", "Char": "int8", "Short": "int16",
               "ComplexFloat": "complex64", "ComplexDouble": "complex128", "ComplexHalf": "complex32"}
TORCHSCRIPT = "torchscript"  # dialect of graphs whose op names are TorchScript node kinds (`aten::relu_`)
JIT_SCRIPT = "torch.jit.script"
# TorchScript plumbing with no computation for a converter: values flow through them to their users.
# Every other node kind, `prim::` ones included (`prim::PythonOp`, `prim::If`, `prim::Loop`), is an op.
TORCHSCRIPT_BOOKKEEPING = frozenset({
    "prim::Constant", "prim::ListConstruct", "prim::TupleConstruct", "prim::ListUnpack",
    "prim::TupleUnpack", "prim::GetAttr", "prim::NumToTensor",
})


# c10::ScalarType codes, as TorchScript stores a dtype argument
_SCALAR_TYPES = {0: "torch.uint8", 1: "torch.int8", 2: "torch.int16", 3: "torch.int32", 4: "torch.int64",
                 5: "torch.float16", 6: "torch.float32", 7: "torch.float64", 9: "torch.complex64",
                 10: "torch.complex128", 11: "torch.bool", 15: "torch.bfloat16"}


def _jit_meta(value) -> TensorMeta:
    t = value.type()
    if t.kind() != "TensorType":
        return TensorMeta()
    dtype = t.scalarType()
    sizes = t.sizes() if t.sizes() is not None else None
    return TensorMeta(_JIT_DTYPES.get(dtype, dtype), tuple(sizes) if sizes is not None else None)


def _aten_packet(kind: str) -> str | None:
    """The ladder's ATen dialect: `aten::relu_` -> `aten.relu_` (traces carry no overload); other
    namespaces are dropped."""
    return "aten." + kind.removeprefix("aten::") if kind.startswith("aten::") else None


def _node_kind(kind: str) -> str | None:
    """The TorchScript dialect: the node kind verbatim, bookkeeping nodes dropped."""
    return None if kind in TORCHSCRIPT_BOOKKEEPING else kind


def _jit_constant(value) -> Any:
    """The constant a TorchScript value holds (prim::Constant, or a list/tuple of them), else _NOT_CONST."""
    node = value.node()
    if node.kind() == "prim::Constant":
        try:
            return _constant(value.toIValue())
        except RuntimeError:  # e.g. a constant tensor or object
            return _NOT_CONST
    if node.kind() in ("prim::ListConstruct", "prim::TupleConstruct"):
        return _constant([_jit_constant(v) for v in node.inputs()])
    return _NOT_CONST


def _jit_args(node) -> dict[str, Any]:
    """The node's constant arguments, by schema argument name (positions without a schema)."""
    import torch

    schema = node.schema()
    params = torch._C.parse_schema(schema).arguments if schema != "(no schema)" else []
    args = {}
    for index, value in enumerate(node.inputs()):
        constant = _jit_constant(value)
        if constant is _NOT_CONST:
            continue
        if index < len(params) and "ScalarType" in str(params[index].real_type) and isinstance(constant, int):
            constant = _SCALAR_TYPES.get(constant, constant)  # as torch.export writes it: "torch.float16"
        args[params[index].name if index < len(params) else str(index)] = constant
    if node.kind() == "prim::PythonOp":
        args["name"] = node.pyname()
    return args


def _jit_module_path(node) -> str | None:
    """`body.0` from the node's module hierarchy `body(Sequential).0(Linear)`."""
    names = [n for n in re.findall(r"([^.()]+)\([^()]*\)", node.getModuleHierarchy()) if n != "UNKNOWN_INSTANCE"]
    return ".".join(names) or None


def graph_from_torchscript(ts_graph, name: str, info: CaptureInfo, source: Any, dialect: str,
                           op_name: Callable[[str], str | None], module_types: dict[str, str]) -> OpGraph:
    """Build the IR from a TorchScript graph (a traced or scripted module's `inlined_graph`).

    `op_name` maps a node kind to the IR op name, or None for a node that only moves values (its
    outputs then count as produced by whatever produced its inputs). Sub-blocks of prim::If /
    prim::Loop are walked after their node (the block's parameters count as produced by it).
    `module_types` maps a module path (`backbone.0`) to its class, for the nodes it ran."""
    graph = OpGraph(name, dialect, info, source=source)
    producers: dict[int, tuple[str, ...]] = {}

    def sources(value) -> tuple[str, ...]:
        return producers.get(value.unique(), ())

    for i, value in enumerate(list(ts_graph.inputs())[1:]):  # [0] is self
        node_name = f"input_{i}"
        graph.add_node(OpNode(node_name, "input", dialect, NodeKind.INPUT, outputs=(_jit_meta(value),)))
        producers[value.unique()] = (node_name,)
    count = 0
    located: dict[tuple[str, tuple[str, ...]], tuple] = {}  # a layer repeated N times has N equal stacks

    def walk(block_nodes) -> None:
        nonlocal count
        for node in block_nodes:
            kind, index = node.kind(), count
            count += 1
            op = op_name(kind)
            if op is None:
                passed = tuple(dict.fromkeys(p for v in node.inputs() for p in sources(v)))
                for value in node.outputs():
                    producers[value.unique()] = passed
                continue
            scope = _jit_module_path(node)
            key = (node.sourceRange(), tuple(_hints(op, scope)))  # a trace's Python stack, or a script's excerpt
            if key not in located:
                located[key] = locate(jit_frames(key[0]) or frames_from_text(key[0]), key[1])
            location, stack = located[key]
            node_name = f"{kind.replace('::', '_')}_{index}"
            graph.add_node(OpNode(
                node_name, op, dialect, args=_jit_args(node),
                inputs=tuple(_jit_meta(v) for v in node.inputs()),
                outputs=tuple(_jit_meta(v) for v in node.outputs()),
                module=scope, module_type=module_types.get(scope) if scope else None, location=location,
                stack=stack))
            for arg_index, value in enumerate(node.inputs()):
                for src in sources(value):
                    graph.add_edge(src, node_name, _jit_meta(value), arg_index)
            for value in node.outputs():
                producers[value.unique()] = (node_name,)
            for block in node.blocks():
                for value in block.inputs():
                    producers[value.unique()] = (node_name,)
                walk(block.nodes())

    walk(ts_graph.nodes())
    graph.add_node(OpNode("output", "output", dialect, NodeKind.OUTPUT))
    for index, value in enumerate(ts_graph.outputs()):
        for src in sources(value):
            graph.add_edge(src, "output", _jit_meta(value), index)
    return graph


def _module_types(model) -> dict[str, str]:
    return {path: f"{type(m).__module__}.{type(m).__qualname__}" for path, m in model.named_modules()}


def _traced(model, inputs, strict: bool = True):
    import torch

    with quiet():
        return torch.jit.trace(model, inputs, check_trace=False, strict=strict)


def _jit(model, inputs, name: str, info: CaptureInfo) -> OpGraph:
    """The ladder's last fallback: the trace in the ATen dialect (packet names, `aten.relu_`)."""
    traced = _traced(model, inputs)
    return graph_from_torchscript(traced.inlined_graph, name, info, traced, "aten", _aten_packet,
                                  _module_types(model))


def trace_graph(model, inputs: tuple, name: str, strict: bool = True) -> OpGraph:
    """The graph the TorchScript conversion paths see (`torch.onnx.export(dynamo=False)`,
    `ct.convert(torch.jit.trace(...))`): `torch.jit.trace` of the model, op names the node kinds
    (`aten::relu_`, `aten::_convolution`, `mylib::op`, `prim::PythonOp`). `strict=False` is how the
    TorchScript ONNX exporter traces (dict and list outputs allowed); `torch.jit.trace`'s default,
    what a user passes to `ct.convert`, is strict."""
    traced = _traced(model, inputs, strict)
    info = CaptureInfo(method=JIT_TRACE, training=model.training)
    return graph_from_torchscript(traced.inlined_graph, name, info, traced, TORCHSCRIPT, _node_kind,
                                  _module_types(model))


def capture_trace(graph: OpGraph, model, inputs: tuple, script: bool = False) -> None:
    """Record the TorchScript paths' graph in `graph.capture.traced`, or why it failed: a non-strict
    trace, as the TorchScript ONNX exporter makes (a dict output stays a `prim::DictConstruct`, which
    Core ML's frontend lacks, as a strict `torch.jit.trace` for `ct.convert` would fail). With `script`,
    `torch.jit.script` first (it keeps data-dependent control flow that tracing freezes), then
    tracing if scripting fails."""
    if script:
        try:
            graph.capture.traced = script_graph(model, graph.model)
            return
        except Exception as exc:  # noqa: BLE001 - listed with the capture attempts; tracing follows
            graph.capture.attempts.append((JIT_SCRIPT, _summary(exc)))
    try:
        graph.capture.traced = trace_graph(model, inputs, graph.model, strict=False)
        return
    except Exception as exc:  # noqa: BLE001 - a failed trace blocks the TorchScript paths (EXL001)
        graph.capture.trace_error = _summary(exc)
        graph.capture.trace_failure_location = _failure_location(exc)
    real = _materialised(model, inputs) if on_meta_device(model, inputs) else None
    if real is not None:  # meta kernels refuse to be traced (a convolution's shape checks): on the copy
        graph.capture.trace_error = graph.capture.trace_failure_location = None
        capture_trace(graph, *real)  # scripting, if asked for, needs no tensors: it was tried


MATERIALISE_LIMIT = 2**30  # bytes of weights a meta-device model may take on the CPU to be traced
COPY_LIMIT = 2**32  # bytes of weights above which the converters get the module itself, not an unrun copy


def _weight_bytes(model) -> int:
    import itertools

    return sum(t.numel() * t.element_size() for t in itertools.chain(model.parameters(), model.buffers()))


def unrun_copy(model) -> Any:
    """A copy of the module before anything runs it, for the conversion paths that take the module itself
    (`decide.Subject.fresh`); None on the meta device (no state to keep), above COPY_LIMIT, or when it does
    not copy."""
    import copy

    import torch

    if not isinstance(model, torch.nn.Module) or on_meta_device(model, ()) or _weight_bytes(model) > COPY_LIMIT:
        return None
    try:
        return copy.deepcopy(model)
    except Exception:  # noqa: BLE001 - an uncopyable module is converted as it is
        return None


def _materialised(model, inputs: tuple) -> tuple[Any, tuple] | None:
    """A CPU copy of a meta-device model with uninitialised weights and zero inputs (a trace needs
    shapes, not values), when its weights fit in MATERIALISE_LIMIT; else None."""
    import copy

    import torch

    if _weight_bytes(model) > MATERIALISE_LIMIT:
        return None
    return copy.deepcopy(model).to_empty(device="cpu"), tuple(
        torch.zeros(t.shape, dtype=t.dtype) if isinstance(t, torch.Tensor) and t.is_meta else t for t in inputs)


def data_dependent_branch(info: CaptureInfo) -> bool:
    """torch.export stopped at control flow on a tensor's value: tracing would freeze the branch."""
    return any(m.startswith("torch.export") and ("data-dependent" in why.lower() or "data dependent" in why.lower())
               for m, why in info.attempts)


def script_graph(model, name: str) -> OpGraph:
    """`torch.jit.script` of the model in the TorchScript dialect: control flow stays as prim::If /
    prim::Loop nodes (their blocks' ops follow them); no example inputs, so shapes are unknown. A
    script's source ranges name only the innermost frame: ops inside torch.nn modules get no user
    location (their module path says where they are)."""
    import torch

    with quiet():
        scripted = torch.jit.script(model)
    info = CaptureInfo(method=JIT_SCRIPT, training=model.training)
    return graph_from_torchscript(scripted.inlined_graph, name, info, scripted, TORCHSCRIPT, _node_kind,
                                  _module_types(model))


def load_spec(spec: str, shapes: list[str], dtypes: list[str]) -> tuple[Any, tuple]:
    """The model of `spec` and its example inputs (from the factory, or built from `shapes`)."""
    import torch

    from exportlint.capture.hf_config import is_hf_config_spec, load_hf_config
    from exportlint.capture.spec import call_factory, describe, make_inputs

    if is_hf_config_spec(spec):
        return load_hf_config(spec, shapes, dtypes)
    model, inputs = call_factory(spec)
    if shapes:
        with torch.device("meta" if on_meta_device(model, ()) else "cpu"):
            inputs = make_inputs(shapes, dtypes)
    elif inputs is None:
        raise LoadError(f"{spec}: the factory returned {describe(model)} without example inputs; return "
                        "(model, example_inputs) or pass --input-shape (e.g. 1,3,224,224)")
    return model, inputs



def on_meta_device(model, inputs: tuple) -> bool:
    """The model's weights or its example inputs are on the meta device (shapes without data: a model
    too large to materialise): it captures, but nothing can run it on numbers."""
    import torch

    tensors = [t for t in inputs if isinstance(t, torch.Tensor)]
    if isinstance(model, torch.nn.Module):
        tensors += [next(model.parameters(), None), next(model.buffers(), None)]
    return any(isinstance(t, torch.Tensor) and t.is_meta for t in tensors)
