"""Capture an `.onnx` file into an ONNX-dialect `OpGraph` (op names `ai.onnx::Resize`, `com.microsoft::X`).

Nodes carry their constant attributes in `args`, dtypes and shapes from the graph's value infos (after
ONNX shape inference; symbolic dims kept as names), edges are tensors. Where torch's exporter wrote
source metadata (`pkg.torch.onnx.stack_trace`, `pkg.torch.onnx.name_scopes`, ...) into a node's
`metadata_props`, the node points at the user's line and module; otherwise the node name is all there is.

Safety: the file is parsed as protobuf only (never unpickled); external data must resolve inside the
model's directory; a truncated or malformed file is a one-line LoadError (EXL003). Limits: one protobuf message
is at most 2 GB (larger models keep their weights in external data files, which are checked for location
and existence but never read: the linter needs no weights).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exportlint.options import Options
from exportlint.errors import LoadError, UsageError, check_regular_file
from exportlint.ir import CaptureInfo, NodeKind, OpGraph, OpNode, TensorMeta

if TYPE_CHECKING:
    import onnx

METHOD = "onnx"
DEFAULT_DOMAIN = "ai.onnx"
MAX_PROTOBUF_BYTES = 2**31 - 1  # protobuf's hard limit for one serialized message
# Keys torch's exporter (dynamo=True) writes into NodeProto.metadata_props.
STACK_TRACE_KEY = "pkg.torch.onnx.stack_trace"
NAME_SCOPES_KEY = "pkg.torch.onnx.name_scopes"
CLASS_HIERARCHY_KEY = "pkg.torch.onnx.class_hierarchy"


def is_onnx_spec(spec: str) -> bool:
    return spec.lower().endswith(".onnx")


def qualified_op(domain: str, op_type: str) -> str:
    return f"{domain or DEFAULT_DOMAIN}::{op_type}"


def opset_imports(model: onnx.ModelProto) -> dict[str, int]:
    """The model's opset per domain, default domain written `ai.onnx`."""
    return {(o.domain or DEFAULT_DOMAIN): o.version for o in model.opset_import}


def load_model(path: Path) -> onnx.ModelProto:
    """Parse `path` as an ONNX ModelProto without loading external data, after the safety checks."""
    import onnx

    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise UsageError(f"{path}: expected an .onnx file (got {path.suffix or 'no extension'!r})")
    if not os.path.lexists(path):
        raise UsageError(f"{path}: no such file")
    check_regular_file(path)
    size = path.stat().st_size
    if size > MAX_PROTOBUF_BYTES:
        raise LoadError(f"{path}: {size} bytes exceeds protobuf's 2 GB limit; store weights as external data")
    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - DecodeError, ValueError, ...: any failure is the file's
        raise LoadError(f"{path}: not a valid ONNX protobuf ({type(exc).__name__}: {_first_line(exc)})") from None
    if not model.graph.node and not model.graph.input:
        raise LoadError(f"{path}: not a valid ONNX model (empty graph)")
    _check_external_data(model, path)
    return model


def _check_external_data(model: onnx.ModelProto, path: Path) -> None:
    from onnx.external_data_helper import ExternalDataInfo, _get_all_tensors, uses_external_data

    base = path.resolve().parent
    for tensor in _get_all_tensors(model):
        if not uses_external_data(tensor):
            continue
        location = ExternalDataInfo(tensor).location
        resolved = (base / location).resolve()
        if Path(location).is_absolute() or not resolved.is_relative_to(base):
            raise LoadError(f"{path}: external data {location!r} of tensor {tensor.name!r} "
                            "points outside the model's directory")
        if not resolved.is_file():
            raise LoadError(f"{path}: external data file {location!r} of tensor {tensor.name!r} is missing")


def capture_onnx(path: Path, options: Options | None = None) -> OpGraph:
    """The OpGraph of an ONNX file. `graph.source` is the ModelProto; `graph.capture.opsets` its imports."""
    import onnx

    path = Path(path)
    model = load_model(path)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:  # noqa: BLE001 - inference is a bonus: fall back to the declared value infos
        inferred = model
    graph = OpGraph(str(path), "onnx", CaptureInfo(method=METHOD, opsets=opset_imports(model)), source=model)
    metas = _tensor_metas(inferred.graph)
    initializers = {t.name for t in model.graph.initializer}
    producer: dict[str, tuple[str, int]] = {}  # tensor name -> (node name, output index)

    for value in model.graph.input:
        if value.name in initializers:
            continue
        meta = metas.get(value.name, TensorMeta())
        graph.add_node(OpNode(name=f"input:{value.name}", op="input", dialect="onnx", kind=NodeKind.INPUT,
                              outputs=(meta,)))
        producer[value.name] = (f"input:{value.name}", 0)

    names = node_names(model.graph)
    for node, name in zip(model.graph.node, names):
        location, stack, module, module_type = _torch_metadata(node)
        graph.add_node(OpNode(
            name=name,
            op=qualified_op(node.domain, node.op_type),
            dialect="onnx",
            args={a.name: _attribute(a) for a in node.attribute},
            inputs=tuple(metas.get(i, TensorMeta()) for i in node.input),
            outputs=tuple(metas.get(o, TensorMeta()) for o in node.output),
            module=module,
            module_type=module_type,
            location=location,
            stack=stack,
        ))
        for index, tensor in enumerate(node.input):
            if tensor in producer:
                graph.add_edge(producer[tensor][0], name, metas.get(tensor, TensorMeta()), index)
        for index, tensor in enumerate(node.output):
            if tensor:
                producer[tensor] = (name, index)

    for value in model.graph.output:
        out = f"output:{value.name}"
        meta = metas.get(value.name, TensorMeta())
        graph.add_node(OpNode(name=out, op="output", dialect="onnx", kind=NodeKind.OUTPUT, inputs=(meta,)))
        if value.name in producer:
            graph.add_edge(producer[value.name][0], out, meta)
    return graph


def node_names(graph: onnx.GraphProto) -> list[str]:
    """Node names, made unique and non-empty (`Resize_3` for an unnamed 4th node)."""
    seen: set[str] = set()
    names = []
    for index, node in enumerate(graph.node):
        name = node.name or f"{node.op_type}_{index}"
        while name in seen or name.startswith(("input:", "output:")):
            name = f"{name}_{index}"
        seen.add(name)
        names.append(name)
    return names


def _tensor_metas(graph: onnx.GraphProto) -> dict[str, TensorMeta]:
    from onnx import helper

    metas: dict[str, TensorMeta] = {}
    for value in (*graph.input, *graph.value_info, *graph.output):
        if not value.type.HasField("tensor_type"):
            continue
        tensor_type = value.type.tensor_type
        dtype = helper.tensor_dtype_to_np_dtype(tensor_type.elem_type).name if tensor_type.elem_type else None
        shape = None
        if tensor_type.HasField("shape"):
            shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                          for d in tensor_type.shape.dim)
        metas[value.name] = TensorMeta(dtype=dtype_name(dtype), shape=shape)
    for init in graph.initializer:
        dtype = helper.tensor_dtype_to_np_dtype(init.data_type).name
        metas[init.name] = TensorMeta(dtype=dtype_name(dtype), shape=tuple(init.dims))
    return metas


def dtype_name(numpy_name: str | None) -> str | None:
    # onnx maps bfloat16 / float8 types to numpy's custom dtypes named e.g. "bfloat16" already
    return {"bool_": "bool", "object": "string"}.get(numpy_name, numpy_name) if numpy_name else None


def _attribute(attr: onnx.AttributeProto) -> Any:
    """An attribute's value; tensors and graphs are summarised, not copied."""
    from onnx import AttributeProto, helper

    if attr.type == AttributeProto.TENSOR:
        t = attr.t
        if len(t.dims) == 0 or (len(t.dims) == 1 and t.dims[0] <= 16):
            return onnx_numpy(t).tolist()
        return {"tensor": helper.tensor_dtype_to_np_dtype(t.data_type).name, "shape": list(t.dims)}
    if attr.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS):
        return "<subgraph>"
    value = helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value]
    return value


def onnx_numpy(tensor: onnx.TensorProto):
    from onnx import numpy_helper

    return numpy_helper.to_array(tensor)


def _torch_metadata(node: onnx.NodeProto):
    """(location, stack, module, module_type) from torch exporter metadata; Nones when absent."""
    props = {p.key: p.value for p in node.metadata_props}
    location, stack, module, module_type = None, (), None, None
    if STACK_TRACE_KEY in props:
        from exportlint.capture.locate import frames_from_text, locate

        location, stack = locate(frames_from_text(props[STACK_TRACE_KEY]), (node.op_type.lower(),))
    scopes = _literal_list(props.get(NAME_SCOPES_KEY))
    if len(scopes) > 1:
        module = ".".join(s for s in scopes[1:-1] if s) or None  # drop the root '' and the op's own name
    classes = _literal_list(props.get(CLASS_HIERARCHY_KEY))
    if module and len(classes) >= 2:
        module_type = classes[-2]
    return location, stack, module, module_type


def _literal_list(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        value = ast.literal_eval(text)  # a repr'd list of strings: literals only, nothing executed
    except (ValueError, SyntaxError):
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
