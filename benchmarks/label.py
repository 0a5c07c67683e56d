"""Label the accuracy corpus by running the real converters, one subprocess per (model, family).

    python benchmarks/label.py                      # label what is missing in benchmarks/labels.json
    python benchmarks/label.py --families onnx --models hf.bert risky.unique --relabel
    python benchmarks/label.py --corpus tf          # the TensorFlow / Keras corpus into benchmarks/labels_tf.json

Families, each target x conversion path (label: {"ok", "error": first line or "", "seconds"}):
  onnx    onnx:13/17/18 x dynamo|torchscript: torch.onnx.export(dynamo=True|False, opset_version=N); ok iff the
          model's ai.onnx opset is N, onnx.checker (full_check) passes and ONNX Runtime (CPU) runs it.
  coreml  coreml:iOS15/iOS16 x export|trace: ct.convert of ExportedProgram.run_decompositions({}) or of
          torch.jit.trace(...), mlprogram, skip_model_load (prediction needs macOS).
  tflite  tflite x litert: litert_torch.convert, then the LiteRT interpreter runs it; ok iff builtin ops only.
  executorch  executorch:xnnpack|portable x export: to_edge_transform_and_lower(ExportedProgram,
          partitioner=[XnnpackPartitioner()] or none), to_executorch(), then executorch.runtime runs the .pte.
  openvino  openvino:cpu x export: ov.convert_model(ExportedProgram), compile_model(CPU), one inference.
The TF corpus (`--corpus tf`: keras.applications, stock Keras layers, tf.Modules around one TF op) is converted
from a ConcreteFunction with the model's input signature, as Keras 3 and SavedModel users convert; path "direct":
  tflite  tflite (builtins only) and tflite:select (plus SELECT_TF_OPS): TFLiteConverter.from_keras_model for a Keras
          model, from_concrete_functions([fn], module) for a tf.Module,
          then TF's interpreter allocates and runs it (not when Flex ops are left: it has no Flex delegate);
          ok iff builtin ops only for tflite.
  coreml  coreml:iOS16: ct.convert([fn], source="tensorflow", convert_to="mlprogram", skip_model_load=True).
  onnx    onnx:13/17: tf2onnx.convert.from_graph_def of the frozen function; ok iff the model's ai.onnx opset is N,
          onnx.checker (full_check) passes and ONNX Runtime (CPU) runs it.
A timeout or a crash of the subprocess is a failure label with its reason; a model that does not build (a
missing corpus package) is skipped, not labelled. Resumable: labelled pairs are kept. Runs over other families
or models may go at once: each merges its labels into the file as it finds it.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
LABELS = HERE / "labels.json"
LABELS_TF = HERE / "labels_tf.json"
MODULES = ("risky", "ops", "hf", "vision", "zoo")
TF_MODULES = ("keras_apps", "keras_layers", "tf_ops")
PAIRS = {
    "onnx": [(f"onnx:{n}", p) for n in (13, 17, 18) for p in ("dynamo", "torchscript")],
    "coreml": [(f"coreml:{t}", p) for t in ("iOS15", "iOS16") for p in ("export", "trace")],
    "tflite": [("tflite", "litert")],
    "executorch": [("executorch:xnnpack", "export"), ("executorch:portable", "export")],
    "openvino": [("openvino:cpu", "export")],
}
TF_PAIRS = {
    "onnx": [("onnx:13", "direct"), ("onnx:17", "direct")],
    "coreml": [("coreml:iOS16", "direct")],
    "tflite": [("tflite", "direct"), ("tflite:select", "direct")],
}
VERSIONS = {
    "onnx": ["torch", "onnx", "onnxscript", "onnxruntime"],
    "coreml": ["torch", "coremltools", "numpy"],
    "tflite": ["torch", "litert-torch", "ai-edge-litert", "tensorflow-cpu"],
    "executorch": ["torch", "executorch"],
    "openvino": ["torch", "openvino"],
}
TF_VERSIONS = {
    "onnx": ["tensorflow-cpu", "keras", "tf2onnx", "onnx", "onnxruntime"],
    "coreml": ["tensorflow-cpu", "keras", "coremltools"],
    "tflite": ["tensorflow-cpu", "keras"],
}
CORPUS_VERSIONS = ["transformers", "torchvision", "timm"]
NOT_BUILT = 3  # worker exit status: the corpus model does not build here
ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
       "CUDA_VISIBLE_DEVICES": ""}


def spec_of(model_id: str) -> str:
    module, factory = model_id.split(".", 1)
    return f"benchmarks/corpus/{module}.py:{factory}"


def _load(module: str):
    sys.path.insert(0, str(CORPUS))
    spec = importlib.util.spec_from_file_location(f"corpus_{module}", CORPUS / f"{module}.py")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def is_tf(model_id: str) -> bool:
    return model_id.split(".", 1)[0] in TF_MODULES


def corpus_ids(modules: tuple[str, ...] = MODULES) -> list[str]:
    """Every factory of the corpus, as MODULE.FACTORY (read from the source: no model is imported)."""
    import ast

    ids = []
    for module in modules:
        tree = ast.parse((CORPUS / f"{module}.py").read_text())
        ids += [f"{module}.{node.name}" for node in tree.body
                if isinstance(node, ast.FunctionDef) and not node.name.startswith("_") and not node.args.args
                and not node.decorator_list]
    return ids


def first_line(exc: BaseException) -> str:
    """`Type: first line`, ANSI colours removed, followed by the first line of its cause (torch.onnx wraps)."""
    parts = []
    while exc is not None and len(parts) < 3:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
        parts.append(f"{type(exc).__name__}: {next((ln.strip() for ln in text.splitlines() if ln.strip()), '')}")
        exc = exc.__cause__
    return " <- ".join(parts)[:400]


# ---- worker side (in the subprocess) ----

def _onnx(model, args, target: str, path: str) -> None:
    import io

    import onnx
    import onnxruntime as ort
    import torch

    opset = int(target.split(":")[1])
    if path == "dynamo":
        proto = torch.onnx.export(model, args, dynamo=True, opset_version=opset).model_proto
    else:
        buf = io.BytesIO()
        torch.onnx.export(model, args, buf, dynamo=False, opset_version=opset)
        proto = onnx.load_from_string(buf.getvalue())
    got = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if got != opset:
        raise RuntimeError(f"exporter returned an opset-{got} model")
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    flat = [a for a in args if isinstance(a, torch.Tensor)]
    session.run(None, {i.name: a.numpy() for i, a in zip(session.get_inputs(), flat)})


def _coreml(model, args, target: str, path: str) -> None:
    import coremltools as ct
    import numpy as np
    import torch

    deployment = getattr(ct.target, target.split(":")[1])
    if path == "export":
        ct.convert(torch.export.export(model, args).run_decompositions({}), convert_to="mlprogram",
                   minimum_deployment_target=deployment, skip_model_load=True)
        return
    # Integer inputs are declared int32 (Core ML has no int64), as a user must.
    inputs = [ct.TensorType(shape=a.shape, dtype=np.int32 if not a.is_floating_point() else np.float32) for a in args]
    ct.convert(torch.jit.trace(model, args), inputs=inputs, convert_to="mlprogram",
               minimum_deployment_target=deployment, skip_model_load=True)


def _tflite(model, args, target: str, path: str) -> None:
    import litert_torch
    from ai_edge_litert.interpreter import Interpreter

    content = litert_torch.convert(model, args).model_content()
    interpreter = Interpreter(model_content=content)
    # Builtin operators are named like CONV_2D; Flex and custom operators by their custom code.
    extra = sorted({op["op_name"] for op in interpreter._get_ops_details() if not re.fullmatch(r"[A-Z0-9_]+", op["op_name"])})
    if extra:
        raise RuntimeError(f"needs non-builtin ops: {', '.join(extra)}")
    interpreter.allocate_tensors()
    for detail, arg in zip(sorted(interpreter.get_input_details(), key=lambda d: d["index"]), args):
        interpreter.set_tensor(detail["index"], arg.numpy().astype(detail["dtype"]))
    interpreter.invoke()


def _executorch(model, args, target: str, path: str) -> None:
    import torch
    from executorch.exir import to_edge_transform_and_lower
    from executorch.runtime import Runtime

    partitioner = []
    if target == "executorch:xnnpack":
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        partitioner = [XnnpackPartitioner()]
    program = to_edge_transform_and_lower(torch.export.export(model, args), partitioner=partitioner).to_executorch()
    flat = [a for a in args if isinstance(a, torch.Tensor)]
    Runtime.get().load_program(program.buffer).load_method("forward").execute(flat)


def _openvino(model, args, target: str, path: str) -> None:
    import openvino as ov
    import torch

    compiled = ov.compile_model(ov.convert_model(torch.export.export(model, args)), "CPU")
    compiled([a.numpy() for a in args if isinstance(a, torch.Tensor)])


def _tf_tflite(fn, made, target: str) -> None:
    import tensorflow as tf

    from exportlint.decide_tf import example_inputs, run_interpreter, tflite_converter

    converter = tflite_converter(fn, made)  # from_keras_model, or from_concrete_functions([fn], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + (
        [tf.lite.OpsSet.SELECT_TF_OPS] if target == "tflite:select" else [])
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    extra = sorted({op["op_name"] for op in interpreter._get_ops_details() if not re.fullmatch(r"[A-Z0-9_]+", op["op_name"])})
    if extra and target == "tflite":
        raise RuntimeError(f"needs non-builtin ops: {', '.join(extra)}")
    if extra:  # this interpreter has no Flex delegate: select-TF ops are labelled by the conversion
        return
    run_interpreter(interpreter, example_inputs(fn))


def _tf_coreml(fn, made, target: str) -> None:
    import coremltools as ct

    ct.convert([fn], source="tensorflow", convert_to="mlprogram", skip_model_load=True,
               minimum_deployment_target=getattr(ct.target, target.split(":")[1]))


def _tf_onnx(fn, made, target: str) -> None:
    import onnx
    import onnxruntime as ort

    from exportlint.decide_tf import example_inputs
    from exportlint.tables.generate.tf_tables import tf2onnx_model  # tf2onnx.convert.from_graph_def of the frozen fn

    opset = int(target.split(":")[1])
    proto = tf2onnx_model(fn, opset)
    got = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if got != opset:
        raise RuntimeError(f"tf2onnx returned an opset-{got} model")
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    session.run(None, {i.name: a for i, a in zip(session.get_inputs(), example_inputs(fn))})


def _tf_make(make):
    """(made, converted-from) per pair: the ConcreteFunction of the factory's model, with its input signature."""
    from exportlint.capture.tensorflow import to_concrete_function

    made = make()
    return made, to_concrete_function(made, make.__name__)[0]


def worker(family: str, model_id: str, out: str) -> None:
    import contextlib

    module, factory = model_id.split(".", 1)
    try:
        make = getattr(_load(module), factory)
        make()
    except Exception:  # noqa: BLE001 - a corpus model that does not build here is no label
        traceback.print_exc()
        sys.exit(NOT_BUILT)
    if is_tf(model_id):
        pairs = TF_PAIRS[family]
        convert = {"onnx": _tf_onnx, "coreml": _tf_coreml, "tflite": _tf_tflite}[family]
        build = lambda: _tf_make(make)  # noqa: E731
        call = lambda built, target, path: convert(built[1], built[0], target)  # noqa: E731
    else:
        import torch

        torch.set_num_threads(1)
        pairs = PAIRS[family]
        convert = {"onnx": _onnx, "coreml": _coreml, "tflite": _tflite, "executorch": _executorch,
                   "openvino": _openvino}[family]
        build = make
        call = lambda built, target, path: convert(built[0], tuple(built[1]), target, path)  # noqa: E731
    for target, path in pairs:
        built = build()
        start = time.perf_counter()
        try:
            with contextlib.redirect_stdout(sys.stderr):
                call(built, target, path)
            label = {"ok": True, "error": ""}
        except Exception as exc:  # noqa: BLE001 - any converter failure is the label
            label = {"ok": False, "error": first_line(exc)}
            traceback.print_exc()
        label["seconds"] = round(time.perf_counter() - start, 2)
        with open(out, "a") as f:
            f.write(json.dumps({"target": target, "path": path, **label}) + "\n")


# ---- driver side ----

def load_labels(path: Path = LABELS) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    return {"provenance": {}, "labels": {}}


def save_labels(data: dict, file: Path = LABELS) -> None:
    """Sorted, one (target, path) label per line, so that a relabel diffs per pair."""
    lines = ["{", f' "provenance": {json.dumps(data["provenance"], sort_keys=True)},', ' "labels": {']
    models = sorted(data["labels"])
    for i, model_id in enumerate(models):
        targets = data["labels"][model_id]
        lines.append(f"  {json.dumps(model_id)}: {{")
        names = sorted(targets)
        for j, target in enumerate(names):
            paths = targets[target]
            lines.append(f"   {json.dumps(target)}: {{")
            for k, path in enumerate(sorted(paths)):
                comma = "," if k < len(paths) - 1 else ""
                lines.append(f"    {json.dumps(path)}: {json.dumps(paths[path], sort_keys=True)}{comma}")
            lines.append("   }" + ("," if j < len(names) - 1 else ""))
        lines.append("  }" + ("," if i < len(models) - 1 else ""))
    lines += [" }", "}"]
    tmp = file.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(file)


class NotBuilt(Exception):
    """The corpus model could not be built in the worker (a missing corpus package): no label."""


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def pairs_of(model_id: str) -> dict[str, list[tuple[str, str]]]:
    return TF_PAIRS if is_tf(model_id) else PAIRS


def run_one(family: str, model_id: str, timeout: float) -> dict:
    """Labels of one (model, family) from a subprocess; the pairs it did not reach get its failure."""
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, __file__, "--worker", family, model_id, out.name],
                                  stdout=subprocess.DEVNULL, stderr=err, timeout=timeout,
                                  env={**os.environ, **ENV}, cwd=HERE.parent)
            err.seek(0)
            tail = [ln for ln in err.read().splitlines() if ln.strip()]
            reason = f"worker exited {proc.returncode}: {tail[-1][:250] if tail else 'no output'}"
            if proc.returncode == NOT_BUILT:
                raise NotBuilt(reason)
        except subprocess.TimeoutExpired:
            reason = f"timeout after {timeout:.0f} s"
        done = [json.loads(line) for line in Path(out.name).read_text().splitlines()]
        elapsed = time.perf_counter() - start
    labels = {}
    for item in done:
        labels.setdefault(item.pop("target"), {})[item.pop("path")] = item
    spent = sum(lab["seconds"] for paths in labels.values() for lab in paths.values())
    for target, path in pairs_of(model_id)[family]:
        if path not in labels.get(target, {}):
            labels.setdefault(target, {})[path] = {"ok": False, "error": reason,
                                                   "seconds": round(max(elapsed - spent, 0.0), 2)}
            spent = elapsed
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=("torch", "tf"), default="torch",
                        help="the PyTorch corpus (labels.json) or the TensorFlow / Keras one (labels_tf.json)")
    parser.add_argument("--families", nargs="+", choices=list(PAIRS), default=list(PAIRS))
    parser.add_argument("--models", nargs="+", metavar="ID", help="corpus ids (MODULE.FACTORY); default: all")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per (model, family) subprocess")
    parser.add_argument("--relabel", action="store_true", help="label again the selected pairs already labelled")
    parser.add_argument("--worker", nargs=3, metavar=("FAMILY", "ID", "OUT"), help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.worker:
        worker(*opts.worker)
        return 0
    tf_corpus = opts.corpus == "tf"
    ids = corpus_ids(TF_MODULES if tf_corpus else MODULES)
    unknown = set(opts.models or []) - set(ids)
    if unknown:
        parser.error(f"not in the {opts.corpus} corpus: {', '.join(sorted(unknown))}")
    pairs, versions = (TF_PAIRS, TF_VERSIONS) if tf_corpus else (PAIRS, VERSIONS)
    labels_path = LABELS_TF if tf_corpus else LABELS
    for family in opts.families:
        for model_id in opts.models or ids:
            have = load_labels(labels_path)["labels"].get(model_id, {})
            if not opts.relabel and all(p in have.get(t, {}) for t, p in pairs[family]):
                continue
            start = time.perf_counter()
            try:
                labels = run_one(family, model_id, opts.timeout)
            except NotBuilt as exc:
                print(f"{family:6} {model_id:32} skipped: the model does not build here ({exc})", flush=True)
                continue
            data = load_labels(labels_path)  # as other label runs (other families, models) left it
            for target, paths in labels.items():
                data["labels"].setdefault(model_id, {}).setdefault(target, {}).update(paths)
            data["provenance"][family] = {
                "command": " ".join(["python benchmarks/label.py", *(argv if argv is not None else sys.argv[1:])]),
                "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
                "python": sys.version.split()[0],
                "versions": {name: _version(name) for name in versions[family] + ([] if tf_corpus else CORPUS_VERSIONS)},
            }
            save_labels(data, labels_path)
            verdicts = " ".join(f"{t}/{p}={'ok' if labels[t][p]['ok'] else 'FAIL'}" for t, p in pairs[family])
            print(f"{family:6} {model_id:32} {time.perf_counter() - start:6.1f}s  {verdicts}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
