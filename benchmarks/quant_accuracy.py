"""exportlint's per-op int8 predictions (EXL610-EXL612) against what the real quantizers and backends do.

    PYTHONPATH=/work/corpus-site:. HF_HUB_OFFLINE=1 python benchmarks/quant_accuracy.py          # the default models
    python benchmarks/quant_accuracy.py --models vision.resnet18 hf.bert --json benchmarks/quant_accuracy.json
    python benchmarks/quant_accuracy.py --targets onnx:17+qdq --redo     # rerun one target, keep the other's

For each model (one subprocess each, with a timeout), per target:
- `executorch:xnnpack+int8`: PT2E with XNNPACKQuantizer, convert_pt2e, to_edge_transform_and_lower(XnnpackPartitioner),
  to_executorch, the .pte run in executorch.runtime; per node of torch.export's graph: quantized (inside the delegate
  with its inputs dequantized, an int8 kernel) or float (`exportlint.families.executorch.int8_outcome`);
- `onnx:17+qdq`: torch.onnx.export(dynamo=True, opset 17), quantize_static(QDQ), ONNX Runtime CPU; per node: the ONNX
  nodes `node_<name>` the exporter names after the nodes of its decomposed program that come from it (`from_node`),
  quantized when they sit between DequantizeLinear and QuantizeLinear (`exportlint.families.onnx.qdq_outcome`).
- `tflite+int8`: PT2E with litert-torch's PT2EQuantizer, convert_pt2e, litert_torch.convert(quant_config=...), the
  .tflite run in the LiteRT interpreter; per node: quantized when every TFLite op made from it (its tensors named after
  it while converting) computes on int8 activations (`exportlint.families.tflite.int8_outcome`).
- `openvino:cpu+int8`: ov.convert_model, nncf.quantize, compiled and run on the CPU plugin; per node: quantized when
  every runtime layer made from it runs at u8/i8 (`exportlint.families.openvino.int8_outcome`).
- `coreml:iOS17+w8`: ct.convert, linear_quantize_weights (coremltools' defaults); per node that reads a weight:
  quantized when a constexpr dequantize op holds it in the MIL program (`exportlint.families.coreml.int8_outcome`;
  not run: Core ML predicts on macOS only).
A failed quantization, lowering or run makes every node "fails", and the prediction agrees on all of them when it
predicts some op to fail, or the float target to block (on none otherwise). Nodes with no counterpart (folded:
batch_norm into conv, relu into the QDQ conv; or renamed by the ONNX optimizer) are not compared; `coverage` says
how many were.
The prediction is `exportlint.checks.quantization.predict` on exportlint's own capture. Results are kept per model
in the JSON file: a rerun skips models already there (`--redo` to rerun).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = ("executorch:xnnpack+int8", "onnx:17+qdq", "tflite+int8", "openvino:cpu+int8", "coreml:iOS17+w8")
MODELS = ("vision.resnet18", "vision.mobilenet_v2", "vision.mobilenet_v3_small", "vision.squeezenet",
          "vision.shufflenet_v2", "hf.bert", "hf.distilbert", "hf.vit", "hf.gpt2", "hf.resnet", "hf.convnext",
          "hf.mobilevit", "vision.mnasnet", "vision.regnet_y_400mf")
OUT = HERE / "quant_accuracy.json"


def spec_of(name: str) -> str:
    """`vision.resnet18` -> benchmarks/corpus/vision.py:resnet18; a `FILE.py:FACTORY` spec as is."""
    if ":" in name:
        return name
    corpus, factory = name.split(".", 1)
    return f"{HERE / 'corpus' / corpus}.py:{factory}"


def actual(model, inputs, target: str, program) -> dict[str, str]:
    """{node name: "quantized" | "float"} from the real quantizer and backend (absent: not comparable). Raises
    when quantization, lowering or the run fails."""
    import importlib

    import torch

    from exportlint.targets import parse_target

    with torch.no_grad():
        expected = [t for t in torch.utils._pytree.tree_leaves(model(*inputs)) if isinstance(t, torch.Tensor)]
    unit = importlib.import_module(parse_target(target).unit.__module__)
    if hasattr(unit, "int8_outcome"):  # the family module's real quantizer, converter and runtime
        artifact, outcome = unit.int8_outcome(model, inputs)
        problem = unit.run_int8(artifact, inputs, expected)
        names = {name: status for name, (status, _) in outcome.items()}
    else:
        from exportlint.families.onnx import QDQ_OPSET, qdq_outcome, quantize_qdq, run_qdq
        from exportlint.tables.probe.harness import source_node

        onnx_program = torch.onnx.export(program, (), dynamo=True, opset_version=int(QDQ_OPSET), verbose=False)
        # the exporter names the ONNX value (and node, `node_<name>`) that ends a node of its decomposed program
        # after it; the ONNX optimizer's fusions (batch_norm into Conv) keep the value name, not the node name
        root = {n.name: source_node(n) or n.name for n in onnx_program.exported_program.graph.nodes}
        quantized = quantize_qdq(onnx_program.model_proto, inputs)
        problem = run_qdq(quantized, inputs, expected)
        owner = _owners(quantized, root)
        names = {}
        for name, (status, _) in qdq_outcome(quantized).items():
            user = owner.get(name)
            if user and names.get(user) != "float":  # one float part makes the node float
                names[user] = status
        # a Relu / Clip quantize_static removed (QDQRemovableActivation) runs fused into the quantized op before it
        kept = {n.name for n in quantized.graph.node}
        for n in onnx_program.model_proto.graph.node:
            if n.op_type in ("Relu", "Clip") and n.name not in kept and root.get(n.output[0]):
                names.setdefault(root[n.output[0]], "quantized")
    if problem:
        raise RuntimeError(problem)
    return names


def _owners(model, root: dict[str, str]) -> dict[str, str]:
    """ONNX node name -> the user's node it computes: the node whose output value the exporter named after a node
    of its decomposed program (the optimizer keeps value names through fusions); a node inside a decomposition
    (gelu's Erf) belongs to the first such node downstream of it (through Q/DQ)."""
    users: dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    owner: dict[str, str] = {}

    def find(node, seen: frozenset = frozenset()) -> str | None:
        if node.name in owner or node.name in seen:
            return owner.get(node.name)
        for value in node.output:
            if value in root:
                return root[value]
        for value in node.output:
            for nxt in users.get(value, []):
                found = find(nxt, seen | {node.name})
                if found:
                    return found
        return None

    for n in model.graph.node:
        if n.op_type not in ("QuantizeLinear", "DequantizeLinear") and (found := find(n)):
            owner[n.name] = found
    return owner


def one(name: str, targets: list[str]) -> dict:
    """Predict and measure one model for `targets` (run in a subprocess)."""
    import contextlib

    from exportlint.capture.pytorch import capture_torch, load_spec
    from exportlint.checks.quantization import FAILS, UNDECIDED, predict, summarize
    from exportlint.options import Options
    from exportlint.tables import support
    from exportlint.targets import parse_target

    model, inputs = load_spec(spec_of(name), [], [])
    start = time.monotonic()
    graph = capture_torch(model, inputs, Options(), name)
    result: dict = {"model": name, "targets": {}}
    for target in targets:
        outcomes = predict(graph, parse_target(target))
        predicted = {o.node.name: o.status for o in outcomes}
        t0 = time.monotonic()
        try:
            with contextlib.redirect_stdout(sys.stderr):
                real = actual(model, inputs, target, graph.source)
            error = ""
        except Exception as exc:  # noqa: BLE001 - a failure is the measured outcome
            real, error = dict.fromkeys(predicted, FAILS), f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        both = [n for n in predicted if n in real]
        agree = [n for n in both if predicted[n] == real[n]]
        if error:  # the model fails as a whole: the prediction agrees when it names an op that fails, quantized
            # or already in float (an op the tables say the base target cannot convert)
            base = parse_target(target).base
            blocked = any(support(n.op, base, graph.dialect, n).blocks for n in graph.nodes())
            agree = both if FAILS in predicted.values() or blocked else []
        result["targets"][target] = {
            "nodes": len(predicted), "compared": len(both), "agree": len(agree),
            "undecided": sum(predicted[n] == UNDECIDED for n in predicted),
            "predicted_quantized": sum(predicted[n] == "quantized" for n in both),
            "actual_quantized": sum(real[n] == "quantized" for n in both),
            "disagreements": sorted({f"{graph.node(n).op}: predicted {predicted[n]}, was {real[n]}"
                                     for n in both if predicted[n] != real[n]})[:12],
            "summary": summarize(outcomes),
            "error": error, "seconds": round(time.monotonic() - t0, 1)}
    result["seconds"] = round(time.monotonic() - start, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--targets", nargs="*", default=list(TARGETS), choices=TARGETS)
    parser.add_argument("--json", type=Path, default=OUT)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--redo", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.targets)))
        return 0
    done = json.loads(args.json.read_text())["models"] if args.json.is_file() else {}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(HERE.parent), "/work/corpus-site", os.environ.get("PYTHONPATH", "")])}
    for name in args.models:
        have = done.get(name, {}).get("targets", {})
        if all(t in have for t in args.targets) and not args.redo:
            continue
        try:
            proc = subprocess.run([sys.executable, __file__, "--one", name, "--targets", *args.targets],
                                  capture_output=True, text=True, timeout=args.timeout, env=env, cwd=HERE.parent)
            lines = proc.stdout.strip().splitlines()
            result = json.loads(lines[-1]) if proc.returncode == 0 and lines else {
                "model": name, "error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]}
        except subprocess.TimeoutExpired:
            result = {"model": name, "error": f"timed out after {args.timeout:.0f} s"}
        if "targets" in result and have:  # keep the other targets' results
            result["targets"] = {**have, **result["targets"]}
        done[name] = result
        args.json.write_text(json.dumps({"targets": list(TARGETS), "models": done, "totals": totals(done)},
                                        indent=1, sort_keys=True) + "\n")
        print(f"{name}: {json.dumps(done[name].get('targets', done[name].get('error')))[:400]}", flush=True)
    report(done)
    return 0


def totals(done: dict) -> dict:
    out = {}
    for target in TARGETS:
        rows = [m["targets"][target] for m in done.values() if target in m.get("targets", {})]
        compared, agree = sum(r["compared"] for r in rows), sum(r["agree"] for r in rows)
        nodes = sum(r["nodes"] for r in rows)
        out[target] = {"models": len(rows), "nodes": nodes, "compared": compared, "agree": agree,
                       "agreement": round(agree / compared, 4) if compared else None,
                       "coverage": round(compared / nodes, 4) if nodes else None,
                       "models_failed": sum(bool(r["error"]) for r in rows)}
    return out


def report(done: dict) -> None:
    for target, t in totals(done).items():
        print(f"{target}: {t['agree']} of {t['compared']} compared nodes agree ({t['agreement']}) on {t['models']} "
              f"models; coverage {t['coverage']}; {t['models_failed']} models failed to quantize/lower/run")


if __name__ == "__main__":
    raise SystemExit(main())
