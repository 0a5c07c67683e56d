"""Front-end neutral IR."""

from exportlint.ir.graph import CaptureInfo, HalfRun, Location, NodeKind, OpGraph, OpNode, SizeRun, TensorMeta

__all__ = ["CaptureInfo", "HalfRun", "Location", "NodeKind", "OpGraph", "OpNode", "SizeRun", "TensorMeta"]
