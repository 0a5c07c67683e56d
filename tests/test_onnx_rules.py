"""EXL110 (version converter) and EXL111 (ONNX Runtime CPU kernels) on tiny ONNX models, checked
against the real converter and real `onnxruntime.InferenceSession`s."""

from __future__ import annotations

import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

from exportlint.checks.onnx_opset import convert, tiny_model  # noqa: E402
from exportlint.checks.onnx_runtime import CpuKernels, Value  # noqa: E402
from exportlint.tables import load_table  # noqa: E402

ort.set_default_logger_severity(4)  # ORT logs every missing kernel at error level


def findings(model, targets, tmp_path, code):
    from conftest import check

    from exportlint.capture.onnx_file import capture_onnx

    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    return [f for f in check(capture_onnx(path), targets) if f.code == code]


def one_op(op, elem, opset, n_inputs=1, **attrs):
    shape = [1, 1, 4, 4] if op == "GridSample" else [2, 3]
    inputs = [("x", elem, shape)] + ([("grid", elem, [1, 4, 4, 2])] if op == "GridSample" else []) + \
        [(f"x{i}", elem, shape) for i in range(1, n_inputs)]
    node = helper.make_node(op, [i[0] for i in inputs], ["y"], name="n", **attrs)
    return tiny_model([node], inputs, [("y", elem, shape)], opset=opset)


def ort_loads(model) -> bool:
    try:
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return True
    except Exception as exc:  # noqa: BLE001
        assert "implementation" in str(exc), exc  # only kernel failures are expected here
        return False


# (op, elem type, opset, ORT loads it): float64 GridSample only from 20; Relu has no int64 kernel at 14
# and no body for Relu-14 there; float16 Sqrt runs through inserted casts; Mish has only a body.
CASES = [
    ("GridSample", TensorProto.DOUBLE, 16, False),
    ("GridSample", TensorProto.DOUBLE, 20, True),
    ("GridSample", TensorProto.FLOAT, 16, True),
    ("Relu", TensorProto.INT64, 14, False),
    ("Relu", TensorProto.FLOAT, 18, True),
    ("Gelu", TensorProto.FLOAT, 20, True),
    ("Sqrt", TensorProto.FLOAT16, 18, True),
    ("Mish", TensorProto.FLOAT, 18, True),
]


@pytest.mark.parametrize("op, elem, opset, loads", CASES,
                         ids=[f"{c[0]}-{TensorProto.DataType.Name(c[1])}-{c[2]}" for c in CASES])
def test_exl111_agrees_with_inference_session(op, elem, opset, loads, tmp_path):
    model = one_op(op, elem, opset)
    assert ort_loads(model) is loads
    found = findings(model, [f"onnx:{opset}"], tmp_path, "EXL111")
    certain_failure = [f for f in found if "fails to load the model" in f.message and "only if" not in f.message]
    if loads:
        assert not certain_failure, [f.message for f in found]
    else:  # flagged; certainly failing where the op has no function body at all (GridSample)
        assert found and found[0].node == "n" and found[0].severity.value == "warning"
        assert bool(certain_failure) is (op == "GridSample")
    if op == "Mish":  # no kernel: runs through its function body (Softplus, Tanh, Mul)
        assert len(found) == 1 and "function body (Softplus, Tanh, Mul) only if" in found[0].message


def test_exl111_certain_verdicts_agree_with_ort_on_unary_ops():
    """Every unary elementwise op at opset 18 with 4 types: where EXL111 is sure (a kernel, or certainly
    no way to run), ONNX Runtime agrees."""
    import onnx.defs

    kernels = CpuKernels(load_table("onnx", "onnxruntime"))
    checked = 0
    for schema in onnx.defs.get_all_schemas():
        if (schema.domain or len(schema.inputs) != 1 or len(schema.outputs) != 1 or schema.inputs[0].type_str != "T"
                or schema.outputs[0].type_str != "T" or any(a.required for a in schema.attributes.values())
                or schema.deprecated or schema.since_version > 18):
            continue
        for elem in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64, TensorProto.INT16):
            model = one_op(schema.name, elem, 18)
            try:
                onnx.checker.check_model(model, full_check=True)
            except onnx.checker.ValidationError:
                continue  # the type is not allowed for this op
            except onnx.shape_inference.InferenceError:
                continue
            result = kernels.check(model.graph.node[0], 18, [Value(elem, (2, 3))], [Value(elem, (2, 3))])
            if result.kernel or result.fails:
                assert ort_loads(model) is result.kernel, (schema.name, elem, result)
                checked += 1
    assert checked >= 50  # 57 with onnx 1.23.2 and onnxruntime 1.31.1


def test_exl111_uses_the_lower_of_model_and_target_opset(tmp_path):
    model = one_op("GridSample", TensorProto.DOUBLE, 20)  # float64 kernel from 20 only
    assert not findings(model, ["onnx:20"], tmp_path, "EXL111")
    assert [f.target for f in findings(model, ["onnx:17"], tmp_path, "EXL111")] == ["onnx:17"]


def test_onnxruntime_table_matches_installed_runtime():
    from exportlint.tables.generate import onnx_onnxruntime

    table = load_table("onnx", "onnxruntime")
    assert table["provenance"]["libraries"]["onnxruntime"] == ort.__version__
    assert onnx_onnxruntime.build_table()["ops"] == table["ops"]
    assert table["ops"]["ai.onnx::GridSample"]["16"]["kernels"] == [{"T1": ["tensor(float)"], "T2": ["tensor(float)"]}]


def test_exl110_converter_error_names_the_op_and_leaves_the_model_alone(tmp_path):
    model = one_op("Relu", TensorProto.FLOAT, 18)  # Relu changed in 14: no adapter back to 13
    before = model.SerializeToString()
    first = convert(model, 13)
    assert not first.ok and first.error == "No Adapter From Version $14 for Relu"
    assert convert(model, 13) is first  # cached per (model, opset)
    assert model.SerializeToString() == before
    found = findings(model, ["onnx:13"], tmp_path, "EXL110")
    assert len(found) == 1 and found[0].severity.value == "error" and found[0].node == "n"
    assert found[0].message.startswith("the model is at opset 18 and onnx.version_converter cannot bring it to 13")
    assert "Relu (changed in 14)" in found[0].message
    assert convert(model, 14).ok
    assert not findings(model, ["onnx:18", "onnx:20"], tmp_path, "EXL110")


def test_exl110_leaves_ops_absent_at_the_target_to_exl101(tmp_path):
    model = one_op("GridSample", TensorProto.FLOAT, 18)
    assert not convert(model, 13).ok
    from conftest import check

    from exportlint.capture.onnx_file import capture_onnx

    onnx.save(model, tmp_path / "g.onnx")
    codes = {f.code for f in check(capture_onnx(tmp_path / "g.onnx"), ["onnx:13"])}
    assert "EXL101" in codes and "EXL110" not in codes
