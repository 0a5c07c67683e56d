"""TFLite/LiteRT probe: convert a one-op model with litert-torch, read the TFLite ops it became from the
flatbuffer, run it in the LiteRT interpreter (ai_edge_litert) and compare with PyTorch.

Results per capability level: `builtins` (only builtin ops, ran and matched), `select` (select-TF/flex
ops allowed: such models convert but cannot run here, no flex delegate is linked), `gpu` (derived at
table generation from the recorded nodes with `gpu_blockers`: no GPU here, a static estimate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from exportlint.tables.probe.harness import ProbeRecord, begin_probe, compare_outputs, first_line

if TYPE_CHECKING:
    from exportlint.tables.probe.catalog import OneOp

GPU_SOURCE = ("google-ai-edge/LiteRT@f67457790c9c2ab67347d6fe53270e8d3df20868 "
              "tflite/tools/versioning/gpu_compatibility.cc (CheckGpuDelegateCompatibility)")
# Builtin ops the GPU delegate accepts, with the argument checks gpu_compatibility.cc makes on each
# (messages as in the source). Extracted from GPU_SOURCE.
GPU_OPS: dict[str, tuple[str, ...]] = {
    "ABS": (),
    "ADD": ('ADD requires two input tensors.',),
    "ADD_N": ('ADD_N only supports 2 inputs.',),
    "ATAN2": (),
    "AVERAGE_POOL_2D": (),
    "BATCH_MATMUL": (),
    "BITCAST": ('Could not parse input type', 'Could not parse output type', 'Shapes must match in all but last dim'),
    "CAST": (),
    "CEIL": (),
    "CONCATENATION": (),
    "CONV_2D": (),
    "COS": (),
    "CUMSUM": (),
    "CUSTOM": (),
    "DENSIFY": (),
    "DEPTHWISE_CONV_2D": (),
    "DEPTH_TO_SPACE": (),
    "DEQUANTIZE": ('Unsupported dequantization type.',),
    "DIV": (),
    "DYNAMIC_UPDATE_SLICE": (),
    "ELU": (),
    "EMBEDDING_LOOKUP": (),
    "EQUAL": (),
    "EXP": (),
    "FLOOR": (),
    "FLOOR_DIV": (),
    "FLOOR_MOD": (),
    "FULLY_CONNECTED": ('Expected at least 1 input', 'Expected at least 1 output'),
    "GATHER": ('Only accept INT32 indices', 'Only support 1D indices'),
    "GELU": (),
    "GREATER": (),
    "GREATER_EQUAL": (),
    "HARD_SWISH": (),
    "LEAKY_RELU": (),
    "LESS": (),
    "LESS_EQUAL": (),
    "LOG": (),
    "LOGICAL_AND": (),
    "LOGICAL_NOT": (),
    "LOGICAL_OR": (),
    "LOGISTIC": (),
    "LSTM": ('cell_clip is not supported.', 'proj_clip is not supported.'),
    "MAXIMUM": (),
    "MAX_POOL_2D": (),
    "MEAN": (),
    "MINIMUM": (),
    "MIRROR_PAD": (),
    "MUL": ('MUL requires two input tensors.',),
    "NEG": (),
    "NOT_EQUAL": (),
    "ONE_HOT": (),
    "PACK": (),
    "PAD": (),
    "PADV2": (),
    "POW": (),
    "PRELU": (),
    "QUANTIZE": (),
    "REDUCE_ALL": (),
    "REDUCE_ANY": (),
    "REDUCE_MAX": (),
    "REDUCE_MIN": (),
    "REDUCE_PROD": (),
    "RELU": (),
    "RELU6": (),
    "RELU_N1_TO_1": (),
    "RESHAPE": (),
    "RESIZE_BILINEAR": (),
    "RESIZE_NEAREST_NEIGHBOR": (),
    "REVERSE_V2": (),
    "RIGHT_SHIFT": (),
    "ROUND": (),
    "RSQRT": (),
    "SELECT": (),
    "SELECT_V2": (),
    "SIGN": (),
    "SIN": (),
    "SLICE": (),
    "SOFTMAX": ('Softmax.beta != 1 is not supported.',),
    "SPACE_TO_DEPTH": (),
    "SPLIT": (),
    "SPLIT_V": (),
    "SQRT": (),
    "SQUARE": (),
    "SQUARED_DIFFERENCE": (),
    "STABLEHLO_BROADCAST_IN_DIM": ('Only support 1D indices', 'Only support int32 indices'),
    "STABLEHLO_CBRT": ('Input and output types must match', 'Only support float inputs'),
    "STABLEHLO_CLAMP": (),
    "STABLEHLO_REMAINDER": (),
    "STABLEHLO_SHIFT_LEFT": (),
    "STRIDED_SLICE": ('STRIDED_SLICE requires 4 inputs.',),
    "SUB": (),
    "SUM": (),
    "TANH": (),
    "TILE": (),
    "TOPK_V2": (),
    "TRANSPOSE": (),
    "TRANSPOSE_CONV": (),
}
GPU_CUSTOM_OPS = frozenset({"Convolution2DTransposeBias", "MaxPoolingWithArgmax2D", "MaxUnpooling2D",
                            "Resampler"})
# Runtime (non-constant) tensors the delegate computes on are float; int32 is accepted where the
# source checks for int32 index/axis tensors or handles integer casts, bool for conditions/logic.
GPU_FLOAT = frozenset({"FLOAT32", "FLOAT16"})
GPU_INT32_OPS = frozenset({"CAST", "GATHER", "ONE_HOT", "CUMSUM", "EMBEDDING_LOOKUP",
                           "STABLEHLO_BROADCAST_IN_DIM"})
GPU_BOOL_OPS = frozenset({"CAST", "SELECT", "SELECT_V2", "LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT",
                          "REDUCE_ALL", "REDUCE_ANY"})


def gpu_blockers(nodes: list[list[Any]]) -> list[str]:
    """Why the GPU delegate would not take these TFLite nodes ([op, [runtime input dtypes]])."""
    out = []
    for op, dtypes in nodes:
        name = op.removeprefix("CUSTOM:")
        if op.startswith("CUSTOM:") and name not in GPU_CUSTOM_OPS:
            out.append(f"{name}: custom op not supported by the GPU delegate")
        elif not op.startswith("CUSTOM:") and op not in GPU_OPS:
            out.append(f"{op}: not supported by the GPU delegate")
        else:
            allowed = GPU_FLOAT | ({"INT32"} if op in GPU_INT32_OPS else set()) | (
                {"BOOL"} if op in GPU_BOOL_OPS else set())
            bad = sorted(set(dtypes) - allowed)
            if bad:
                out.append(f"{op}: {'/'.join(bad)} tensors not supported by the GPU delegate")
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: str  # TensorType name: "FLOAT32", "INT8", ...
    const: bool  # backed by a buffer (a weight or constant), not computed at run time


@dataclass(frozen=True)
class Operator:
    op: str  # builtin op name, or "CUSTOM:<code>"
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]


def read_operators(model: bytes) -> tuple[list[str], list[Operator], list[str]]:
    """(op codes used, every operator of every subgraph in order, the main subgraph's output tensor names) of a
    .tflite flatbuffer: the one reader, for litert-torch's models and TensorFlow's converter's (its schema module
    where LiteRT's is not installed)."""
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        from tensorflow.lite.python import schema_py_generated as schema

    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    type_names = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    root = schema.Model.GetRootAsModel(model, 0)
    codes = []
    for i in range(root.OperatorCodesLength()):
        oc = root.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        codes.append(f"CUSTOM:{oc.CustomCode().decode()}" if code == schema.BuiltinOperator.CUSTOM
                     else op_names.get(code, str(code)))
    operators, outputs = [], []
    for s in range(root.SubgraphsLength()):
        graph = root.Subgraphs(s)

        def tensor(t: int) -> Tensor:
            spec = graph.Tensors(t)
            return Tensor(spec.Name().decode(), type_names[spec.Type()], root.Buffers(spec.Buffer()).DataLength() > 0)

        if s == 0:
            outputs = [tensor(graph.Outputs(k)).name for k in range(graph.OutputsLength())]
        for j in range(graph.OperatorsLength()):
            node = graph.Operators(j)
            inputs = [node.Inputs(k) for k in range(node.InputsLength())]
            operators.append(Operator(codes[node.OpcodeIndex()], tuple(tensor(t) for t in inputs if t >= 0),
                                      tuple(tensor(node.Outputs(k)) for k in range(node.OutputsLength()))))
    return sorted(set(codes)), operators, outputs


def read_tflite(model: bytes) -> tuple[list[str], list[list[Any]]]:
    """(op codes used, [op, [runtime input dtypes]] per node) of a .tflite flatbuffer (`read_operators`)."""
    codes, operators, _ = read_operators(model)
    return codes, [[o.op, sorted({t.dtype for t in o.inputs if not t.const})] for o in operators]


def run_signature(model: bytes, inputs: tuple) -> tuple[dict[str, Any], list[str]]:
    """Run the flatbuffer's signature in the LiteRT interpreter: (its outputs by name, the input casts it needed).
    Inputs are cast to the types the model declares (litert-torch makes 64-bit inputs 32-bit); an int8 input (a
    quantized model's) is quantized with its scale and zero point."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=model).get_signature_runner()
    details = runner.get_input_details()
    names = sorted(details, key=lambda k: int(k.rsplit("_", 1)[-1]))
    feed = {n: t.detach().numpy() for n, t in zip(names, inputs)}
    narrowed = sorted({f"{a.dtype}->{details[n]['dtype'].__name__}" for n, a in feed.items()
                       if a.dtype != details[n]["dtype"]})
    for n, a in feed.items():
        scale, zero = details[n]["quantization"]
        if scale and a.dtype.kind == "f":
            info = np.iinfo(details[n]["dtype"])
            feed[n] = np.clip(np.round(a / scale) + zero, info.min, info.max)
    return runner(**{n: a.astype(details[n]["dtype"]) for n, a in feed.items()}), narrowed


def compare_signature(expected: Any, got: dict[str, Any], compare_values: bool) -> str | None:
    """None when the interpreter's outputs (by signature name, `output_N`) match PyTorch's, else why not."""
    import torch

    flat = [expected] if isinstance(expected, torch.Tensor) else [
        t for t in torch.utils._pytree.tree_leaves(expected) if isinstance(t, torch.Tensor)]
    outs = [got[k] for k in sorted(got, key=lambda k: int(k.rsplit("_", 1)[-1]))]
    return compare_outputs(flat, outs, compare_values, "LiteRT")


def probe_case(case: OneOp) -> ProbeRecord:
    import litert_torch

    record, module, program, inputs, expected = begin_probe(case)
    if program is None:  # not exportable: the probe says nothing about TFLite
        return record
    try:
        model = litert_torch.convert(module, inputs).model_content()
    except Exception as exc:  # noqa: BLE001 - the converter's error is the result
        record.results = dict.fromkeys(("builtins", "select"), first_line(exc))
        return record
    record.produced, record.nodes = read_tflite(model)
    custom = [op.removeprefix("CUSTOM:") for op in record.produced if op.startswith("CUSTOM:")]
    flex = [op for op in custom if op.startswith("Flex")]
    if custom:
        record.results["builtins"] = f"needs non-builtin ops: {', '.join(custom)}"
        record.results["select"] = (None if flex == custom else
                                    f"needs custom ops: {', '.join(sorted(set(custom) - set(flex)))}")
        record.note = "select-TF ops: converted, not run (no flex delegate here)"
        return record
    try:
        got, narrowed = run_signature(model, inputs)
        if narrowed:  # litert-torch gives 64-bit inputs 32-bit model inputs: feed what the model takes
            record.note = f"model inputs narrowed: {', '.join(narrowed)}"
        outcome = compare_signature(expected, got, case.deterministic)
    except Exception as exc:  # noqa: BLE001 - the runtime's error is the result
        outcome = f"LiteRT interpreter: {first_line(exc)}"
    record.results = dict.fromkeys(("builtins", "select"), outcome)
    return record
