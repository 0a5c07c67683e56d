"""Front-end neutral IR."""

from exportlint.ir.graph import CaptureInfo, Location, NodeKind, OpGraph, OpNode, TensorMeta

__all__ = ["CaptureInfo", "Location", "NodeKind", "OpGraph", "OpNode", "TensorMeta"]
