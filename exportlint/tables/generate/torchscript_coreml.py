"""`torchscript-coreml.json`: which TorchScript node kinds coremltools converts on the trace path,
`ct.convert(torch.jit.trace(m, args), inputs=[ct.TensorType(shape=...)])`, per deployment target.

The trace path sees the TorchScript graph (`exportlint.capture.pytorch.trace_graph`), not
torch.export's ATen graph: keys are node kinds (`aten::relu_`, `aten::_convolution`, `prim::If`).

Claims come from the same registry as `aten-coreml` (`_TORCH_OPS_REGISTRY`), looked up the way the
TorchScript frontend looks a node up: `InternalTorchIRNode.from_torchscript_node` sanitizes the node
kind (`aten::relu_` -> `relu_`, but `aten::__and__` -> `__and__`: the dunder strip runs before the
namespace strip), then `get_func` sanitizes again (`__and__` -> `and`) and folds the in-place `_` into
the functional name. Calling `get_func` on the raw kind misses every dunder op. A kind with no converter function is "unsupported" (evidence
"registry": the frontend raises "PyTorch convert function for op 'X' not implemented"); a
registered one is "unverified" until a probe converts it. Proof comes from the committed probe
records `rules/probes/torchscript-coreml.json` (`--probe` re-runs them, resumably: every catalogue
probe jit-traced and converted to an mlprogram at iOS15..iOS18; the record's ops are the traced
node kinds, and a failure is blamed on the op the error names when it names one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exportlint.tables.generate import aten_coreml
from exportlint.tables.probe import harness

GENERATOR_VERSION = "1"
VERSIONS = aten_coreml.VERSIONS
LIBRARIES = aten_coreml.LIBRARIES
NAME = "torchscript-coreml"
PROBE_FN = "exportlint.tables.probe.coreml:probe_trace_case"


def registry_entries() -> dict[str, dict[str, dict[str, Any]]]:
    """Entries for every TorchScript node kind from coremltools' torch frontend registry."""
    from coremltools.converters.mil.frontend.torch.torch_op_registry import _TORCH_OPS_REGISTRY
    from coremltools.converters.mil.frontend.torch.utils import sanitize_op_kind

    mil_first = aten_coreml.mil_min_targets()
    ops: dict[str, dict[str, dict[str, Any]]] = {}
    for kind in harness.torchscript_kinds():
        node_kind = sanitize_op_kind(kind)  # InternalTorchIRNode.from_torchscript_node
        func = _TORCH_OPS_REGISTRY.get_func(node_kind)  # which sanitizes again: `__and__` -> `and`
        if func is None:
            ops[kind] = {"*": {"status": "unsupported", "evidence": "registry", "reason": (
                f"coremltools' TorchScript frontend has no convert function for '{node_kind}' "
                f"(it raises \"PyTorch convert function for op '{node_kind}' not implemented\")")}}
        else:
            ops[kind] = aten_coreml.converter_claim(func, mil_first)
    return ops


def build_table(records: list[harness.ProbeRecord], probe_meta: dict[str, Any]) -> dict[str, Any]:
    return harness.assemble(
        "coreml", VERSIONS, registry_entries(), harness.merge(records, VERSIONS, "mil_ops"), records, probe_meta,
        generator=__name__, generator_version=GENERATOR_VERSION, libraries=LIBRARIES, sources=[
            "coremltools.converters.mil.frontend.torch.torch_op_registry._TORCH_OPS_REGISTRY.get_func",
            "coremltools.converters.mil.mil.ops.registry.SSAOpRegistry.core_ops",
            "torch._C._jit_get_all_schemas (the aten:: and prim:: node kinds)",
            f"rules/probes/{NAME}.json (probes: coremltools.convert(torch.jit.trace(m, args), "
            "inputs=[ct.TensorType(shape=...)], convert_to='mlprogram', skip_model_load=True, "
            "minimum_deployment_target=iOS15..iOS18); conversion only (prediction needs macOS)",
        ],
        registry=aten_coreml.registry_counts(), dtypes=aten_coreml.DTYPES, dialect="torchscript")


def generate(out_dir: Path, probe: bool) -> list[Path]:
    return [harness.generate_table(out_dir, NAME, PROBE_FN if probe else None, LIBRARIES, build_table)]
