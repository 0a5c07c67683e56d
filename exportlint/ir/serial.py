"""`OpGraph` to and from JSON-ready data, for the capture cache: every typed field round-trips
(nodes in order, edges with their keys, `CaptureInfo` with its traced graph and forward passes). The front
end's own object (`OpGraph.source`: an ExportedProgram) is not kept: rules on a PyTorch graph read
the IR only.

Values are plain JSON except tagged ones, a one-key object: {"@tuple": [...]}, {"@loc": [path, line,
column]}, {"@tensor": [dtype, shape]}, {"@graph": {...}}, {"@half": {...}}, {"@sizes": {...}}, and non-string
dict keys never occur.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from exportlint.ir.graph import CaptureInfo, HalfRun, Location, NodeKind, OpGraph, OpNode, SizeRun, TensorMeta


def graph_to_data(graph: OpGraph) -> dict[str, Any]:
    return {
        "model": graph.model, "dialect": graph.dialect, "capture": _encode_fields(graph.capture),
        "nodes": [_encode_fields(n) for n in graph.nodes(None)],
        "edges": [[u, v, k, _encode(t)] for u, v, k, t in graph.nx.edges(keys=True, data="tensor")],
    }


def graph_from_data(data: dict[str, Any]) -> OpGraph:
    graph = OpGraph(data["model"], data["dialect"], CaptureInfo(**_decode_fields(data["capture"])))
    for node in data["nodes"]:
        values = _decode_fields(node)
        graph.add_node(OpNode(**{**values, "kind": NodeKind(values["kind"])}))
    for u, v, k, t in data["edges"]:
        graph.add_edge(u, v, _decode(t), k)
    return graph


def _encode_fields(obj: Any) -> dict[str, Any]:
    return {f.name: _encode(getattr(obj, f.name)) for f in fields(obj)}


def _decode_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {name: _decode(value) for name, value in data.items()}


def _encode(value: Any) -> Any:
    if isinstance(value, NodeKind):
        return value.value
    if isinstance(value, Location):
        return {"@loc": [value.path, value.line, value.column]}
    if isinstance(value, TensorMeta):
        return {"@tensor": [value.dtype, _encode(value.shape)]}
    if isinstance(value, OpGraph):
        return {"@graph": graph_to_data(value)}
    if isinstance(value, HalfRun):
        return {"@half": _encode_fields(value)}
    if isinstance(value, SizeRun):
        return {"@sizes": _encode_fields(value)}
    if isinstance(value, tuple):
        return {"@tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (tag, inner), = value.items()
        if tag == "@tuple":
            return tuple(_decode(v) for v in inner)
        if tag == "@loc":
            return Location(*inner)
        if tag == "@tensor":
            return TensorMeta(inner[0], _decode(inner[1]))
        if tag == "@graph":
            return graph_from_data(inner)
        if tag == "@half":
            return HalfRun(**_decode_fields(inner))
        if tag == "@sizes":
            return SizeRun(**_decode_fields(inner))
    return {k: _decode(v) for k, v in value.items()}
