"""Core ML: `coremltools.convert` of the ExportedProgram or of a `torch.jit.trace` (conversion only:
prediction needs macOS).

`coreml:iOS16..18+w8`: int8 weights (`ct.optimize.coreml.linear_quantize_weights`, coremltools' defaults), float16
compute. coremltools compresses every float constant of rank >= 2 with more elements than `weight_threshold`
(`need_compress_const`), whatever reads it; the weight probes (`generate_w8_table`) prove it per op.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exportlint.family import EXPORT_GRAPH, TRACE_GRAPH, ConversionPath, Family, Precision

W8 = Precision("w8", ("iOS16", "iOS17", "iOS18"),
               "ct.optimize.coreml.linear_quantize_weights(ct.convert(...), OptimizationConfig("
               "global_config=OpLinearQuantizerConfig()))", "aten-coreml-w8", ("torch", "coremltools"),
               weights_only=True)


class CoreML(Family):
    name = "coreml"
    title = "Core ML"
    versions = ("iOS15", "iOS16", "iOS17", "iOS18")
    default = "iOS16"
    paths = (ConversionPath("export", EXPORT_GRAPH, "ct.convert(ExportedProgram.run_decompositions({}))"),
             ConversionPath("trace", TRACE_GRAPH, "ct.convert(torch.jit.trace(model, inputs))"))
    libraries = ("torch", "coremltools")
    generators = ("aten_coreml", "torchscript_coreml")
    docs = ("`ct.convert` of the ExportedProgram and of `torch.jit.trace` at the deployment target "
            "(conversion only: prediction needs macOS).")

    # An ML Program (every version here) computes in float16 unless told otherwise.
    fp16 = {v: "convert with compute_precision=ct.precision.FLOAT32 (or ct.transform.FP16ComputePrecision("
               "op_selector=...) to keep only this op in float32)" for v in versions}
    precisions = {"w8": W8}
    unbounded_dims = ("warning", "Core ML runs unbounded flexible shapes on the CPU only; give a range "
                              "({hint}, ct.RangeDim(MIN, MAX))")

    @classmethod
    def runner(cls, path: str):
        return (lambda subject, target: _convert(path, subject, target)) if path in ("export", "trace") else None


def _convert(path: str, subject, target) -> tuple[bool, str]:
    import coremltools as ct
    import torch

    if path == "export":
        program = subject.program if subject.program is not None else torch.export.export(
            subject.model, subject.inputs)
        source, kwargs = program.run_decompositions({}), {}
    else:
        from exportlint.tables.probe.coreml import tensor_type

        source = subject.user_trace()
        kwargs = {"inputs": [tensor_type(t) for t in subject.inputs]}  # int64 declared int32, as a user must
    ct.convert(source, convert_to="mlprogram", skip_model_load=True,
               minimum_deployment_target=getattr(ct.target, target.version), **kwargs)
    return True, f"coremltools.convert at {target.version} (conversion only: prediction needs macOS)"


# --- w8: int8 weights ------------------------------------------------------------------------------

def _compress(program: Any, version: str) -> Any:
    """Convert an ExportedProgram at `version` and compress its weights with coremltools' defaults: the MIL program."""
    import coremltools as ct
    import coremltools.optimize as cto

    model = ct.convert(program.run_decompositions({}), convert_to="mlprogram", skip_model_load=True,
                       minimum_deployment_target=getattr(ct.target, version))
    config = cto.coreml.OptimizationConfig(global_config=cto.coreml.OpLinearQuantizerConfig())
    return cto.coreml.linear_quantize_weights(model, config=config)._mil_program


def _weight_probes(threshold: int) -> list[tuple[str, Any, tuple]]:
    """One-weight models (name, module, inputs) at `threshold` elements (kept) and just above it (compressed), per
    kind of op that reads a weight, a rank-1 weight above it (kept) and a conv whose batch_norm folds into it."""
    import torch
    from torch import nn

    class Use(nn.Module):  # a model input times / plus / @ a weight of `shape`
        def __init__(self, fn, shape):
            super().__init__()
            self.fn, self.w = fn, nn.Parameter(torch.randn(*shape))

        def forward(self, x):
            return self.fn(x, self.w)

    half = threshold // 32  # a (half, 32) weight holds `threshold` elements
    out = []
    for above, suffix in ((False, "at"), (True, "above")):
        n = half + above  # rows
        out += [(f"linear_{suffix}", nn.Linear(32, n), (torch.randn(2, 32),)),
                (f"conv2d_{suffix}", nn.Conv2d(2, n, 4), (torch.randn(1, 2, 8, 8),)),
                (f"conv1d_{suffix}", nn.Conv1d(8, n, 4), (torch.randn(1, 8, 16),)),
                (f"depthwise_{suffix}", nn.Conv2d(n, n, (4, 8), groups=n), (torch.randn(1, n, 8, 8),)),
                (f"conv_transpose2d_{suffix}", nn.ConvTranspose2d(2, n, 4), (torch.randn(1, 2, 8, 8),)),
                (f"embedding_{suffix}", nn.Embedding(n, 32), (torch.randint(0, half, (1, 4)),)),
                (f"matmul_{suffix}", Use(torch.matmul, (32, n)), (torch.randn(2, 32),)),
                (f"addmm_{suffix}", Use(lambda x, w: torch.addmm(x[:, :1], x, w), (32, n)), (torch.randn(2, 32),)),
                (f"mul_{suffix}", Use(torch.mul, (n, 32)), (torch.randn(1, n, 32),)),
                (f"sub_{suffix}", Use(torch.sub, (n, 32)), (torch.randn(1, n, 32),)),
                (f"div_{suffix}", Use(torch.div, (n, 32)), (torch.randn(1, n, 32),)),
                (f"bmm_{suffix}", Use(torch.bmm, (1, 32, n)), (torch.randn(1, 2, 32),)),
                (f"cat_{suffix}", Use(lambda x, w: torch.cat([x, w]), (n, 32)), (torch.randn(2, 32),)),
                (f"index_select_{suffix}", Use(lambda x, w: torch.index_select(w, 0, x), (n, 32)),
                 (torch.tensor([0, 2]),)),
                (f"add_{suffix}", Use(torch.add, (n, 32)), (torch.randn(1, n, 32),))]
    out += [("mul_rank1", Use(torch.mul, (2 * threshold,)), (torch.randn(1, 2 * threshold),)),
            ("conv2d_bn", nn.Sequential(nn.Conv2d(2, half + 1, 4), nn.BatchNorm2d(half + 1)),
             (torch.randn(1, 2, 8, 8),))]
    return out


def _read_weight(program: Any) -> tuple[str, int, int]:
    """(the ATen op of the first node that reads a parameter, that parameter's elements and rank)."""
    sig = program.graph_signature
    weights = {**sig.inputs_to_parameters, **sig.inputs_to_buffers}
    state = program.state_dict
    for node in program.graph.nodes:
        read = [a.name for a in node.all_input_nodes if a.name in weights]
        if node.op == "call_function" and read:
            tensor = state[weights[read[0]]]
            return str(node.target), tensor.numel(), tensor.dim()
    raise ValueError("no node reads a parameter")


def probe_w8(threshold: int) -> list[dict[str, Any]]:
    """Run the weight probes at every w8 version: per probe its op, weight size and, per version, "int8" (a
    constexpr dequantize op feeds it after compression), "float16", or the converter's error."""
    import torch

    from exportlint.tables.probe.harness import first_line

    records = []
    for name, module, inputs in _weight_probes(threshold):
        program = torch.export.export(module.eval(), inputs)
        op, elements, rank = _read_weight(program)
        results = {}
        for version in W8.versions:
            try:
                mil = _compress(program, version)
                ops = [o.op_type for f in mil.functions.values() for o in f.operations]
                results[version] = "int8" if any(t.startswith("constexpr_") for t in ops) else "float16"
            except Exception as exc:  # noqa: BLE001 - the converter's error is the result
                results[version] = first_line(exc)
        records.append({"name": name, "op": op, "elements": elements, "rank": rank, "results": results})
    return records


def generate_w8_table(out_dir: Path, probe: bool) -> Path:
    """Write `aten-coreml-w8.json`: coremltools' rule (its default `weight_threshold`, the rank below which it never
    compresses) and, per ATen op the probes read a weight with, whether every probe of it followed the rule. The
    probe results live in `rules/probes/aten-coreml-w8.json` (re-run with `probe`)."""
    import datetime
    import json

    import coremltools.optimize as cto

    from exportlint.tables.generate import write_table
    from exportlint.tables.probe.harness import library_versions

    threshold, min_rank = cto.coreml.OpLinearQuantizerConfig().weight_threshold, 2
    libraries = library_versions(*W8.libraries)
    path = Path(__file__).resolve().parents[2] / "rules" / "probes" / f"{W8.table}.json"
    if probe:
        path.write_text(json.dumps({"generated": datetime.date.today().isoformat(), "libraries": libraries,
                                    "probes": probe_w8(threshold)}, indent=1, sort_keys=True) + "\n")
    meta = json.loads(path.read_text())
    ops: dict[str, dict[str, Any]] = {}
    for record in meta["probes"]:
        expected = "int8" if record["elements"] > threshold and record["rank"] >= min_rank else "float16"
        for version, result in record["results"].items():
            entry = ops.setdefault(record["op"], {}).setdefault(version, {
                "status": "supported", "evidence": "probe", "probe": ""})
            entry["probe"] = ", ".join(filter(None, [entry["probe"], record["name"]]))
            if result != expected:  # the rule does not hold for this op: its weights are not predicted int8
                entry.update(status="fallback" if result in ("int8", "float16") else "unsupported",
                             reason=f"probe {record['name']} ({record['elements']} elements): {result}")
    table = {"schema_version": 1, "dialect": "aten", "family": "coreml-w8", "versions": list(W8.versions),
             "provenance": {
                 "generator": __name__, "generator_version": "1", "generated": meta["generated"],
                 "libraries": libraries, "probe_libraries": meta["libraries"],
                 "sources": [f"registry: coremltools OpLinearQuantizerConfig().weight_threshold ({threshold}) and "
                             "linear_quantize_weights.need_compress_const (no rank-1 constant, none with inf)",
                             f"probes: one-weight models at and above the threshold, torch.export, {W8.call}; int8 "
                             "when a constexpr dequantize op feeds the op"],
                 "registry": {"weight_threshold": threshold, "min_rank": min_rank}},
             "ops": ops}
    return write_table(Path(out_dir), table)


def int8_outcome(module: Any, inputs: tuple) -> tuple[None, dict[str, tuple[str, str]]]:
    """The `+w8` outcome (named as the other families' int8 outcome, which benchmarks/quant_accuracy.py calls).
    Convert `module` at iOS17 and compress its weights for real: (None: Core ML runs on macOS only, {name of a node
    of `torch.export`'s graph: ("quantized" | "float", why)}) for each node that reads a weight (a parameter, buffer
    or constant, or a constant subgraph of them) with a model input. A MIL constant is the weight it is named after
    (`p_fc_weight_to_fp16`); one coremltools made itself (a batch_norm folded into a conv) is matched by its size,
    where that size tells compressed from kept."""
    from math import prod

    import torch

    from exportlint.tables.probe.harness import source_node

    program = torch.export.export(module, inputs).run_decompositions({})
    mil = _compress(program, "iOS17")
    compressed = {o.name: prod(o.outputs[0].shape) for f in mil.functions.values() for o in f.operations
                  if o.op_type.startswith("constexpr_")}
    kept = {o.name: o.outputs[0].val.size for f in mil.functions.values() for o in f.operations
            if o.op_type == "const" and o.outputs[0].rank >= 2 and o.outputs[0].val is not None}
    sizes = {"int8": set(compressed.values()), "float16": set(kept.values()) - set(compressed.values())}

    def status(placeholder: str, elements: int) -> str | None:
        for name, found in (("int8", compressed), ("float16", kept)):
            if any(n == placeholder or n.startswith(f"{placeholder}_") for n in found):
                return name
        by_size = [name for name in ("int8", "float16") if elements in sizes[name]]
        return by_size[0] if len(by_size) == 1 else None

    sig = program.graph_signature
    weights = {**sig.inputs_to_parameters, **sig.inputs_to_buffers, **sig.inputs_to_lifted_tensor_constants}
    state = {**program.state_dict, **program.constants}
    derived: dict[str, set[str]] = {}  # node -> the weights a constant subgraph node is computed from
    out: dict[str, tuple[str, str]] = {}
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in weights:
            tensor = state[weights[node.name]]
            if tensor.is_floating_point() and tensor.dim() >= 2:
                derived[node.name] = {node.name}
            continue
        if node.op != "call_function":
            continue
        args = node.all_input_nodes
        read = set().union(*(derived.get(a.name, set()) for a in args))
        if args and all(a.name in derived or a.name in weights for a in args):
            derived[node.name] = read
        elif read:
            found = {status(p, state[weights[p]].numel()) for p in read} - {None}
            if found:
                name = source_node(node) or node.name
                out[name] = ("quantized", "") if "int8" in found else ("float", "weights kept in float16")
    return None, out


def run_int8(artifact: None, inputs: tuple, expected: list) -> None:
    """Nothing to run: a Core ML model predicts on macOS only."""
    return None
