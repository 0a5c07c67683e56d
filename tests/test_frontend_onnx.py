"""ONNX-file front end: IR from a torch export, source lines from its metadata, safe loading."""

from __future__ import annotations

import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from exportlint.capture.onnx_file import capture_onnx, is_onnx_spec, load_model, opset_imports  # noqa: E402
from exportlint.errors import LoadError, UsageError  # noqa: E402
from exportlint.ir import NodeKind  # noqa: E402
from exportlint.tables import load_table, support  # noqa: E402


def build_grid_model():
    import torch
    import torch.nn.functional as F

    class Warp(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x, grid):
            y = F.hardsigmoid(self.conv(x))
            return F.grid_sample(y, grid, align_corners=False)  # the op that needs opset 16

    return Warp().eval(), (torch.randn(1, 3, 8, 8), torch.rand(1, 8, 8, 2) * 2 - 1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    pytest.importorskip("torch")
    import torch

    model, inputs = build_grid_model()
    path = tmp_path_factory.mktemp("onnx") / "warp.onnx"
    torch.onnx.export(model, inputs, str(path), dynamo=True, opset_version=18)
    return path


def test_capture_ops_metadata_and_edges(exported):
    graph = capture_onnx(exported)
    assert graph.dialect == "onnx" and graph.capture.method == "onnx"
    assert graph.capture.opsets == {"ai.onnx": 18} == opset_imports(graph.source)
    assert set(graph.by_op) == {"ai.onnx::Conv", "ai.onnx::HardSigmoid", "ai.onnx::GridSample"}
    grid = graph.by_op["ai.onnx::GridSample"][0]
    assert grid.args["mode"] == "bilinear" and grid.args["align_corners"] == 0
    assert grid.inputs[1].shape == (1, 8, 8, 2) and grid.outputs[0].dtype == "float32"
    assert grid.location.path == __file__
    assert "grid_sample" in open(__file__).read().splitlines()[grid.location.line - 1]
    conv = graph.by_op["ai.onnx::Conv"][0]
    assert conv.module == "conv" and conv.module_type == "torch.nn.modules.conv.Conv2d"
    assert [n.name for n in graph.predecessors(grid)] == ["node_hardsigmoid", "input:grid"] or \
        {n.kind for n in graph.predecessors(grid)} == {NodeKind.OP, NodeKind.INPUT}
    assert len(graph.inputs()) == 2 and len(list(graph.nodes(NodeKind.OUTPUT))) == 1


def test_onnx_blocking_ops_match_pytorch(exported):
    """At onnx:13 the file and the PyTorch model block on the same op, at the same user line."""
    if load_table("onnx", "onnx") is None or load_table("aten", "onnx") is None:
        pytest.skip("onnx-onnx / aten-onnx tables not generated")
    from exportlint.capture.pytorch import capture_torch
    from exportlint.options import Options
    from exportlint.tables import Status

    if support("aten.grid_sampler.default", "onnx:13").status is Status.UNVERIFIED:
        pytest.skip("aten-onnx table has no decisive verdict for grid_sampler at opset 13 yet")

    def blocked(graph):
        return {(n.location.line if n.location else None)
                for op, nodes in graph.by_op.items() if support(op, "onnx:13", graph.dialect).blocks
                for n in nodes}

    model, inputs = build_grid_model()
    from_torch = capture_torch(model, inputs, Options(), "warp")
    from_onnx = capture_onnx(exported)
    assert blocked(from_onnx) == blocked(from_torch) != set()
    assert support("ai.onnx::GridSample", "onnx:13", "onnx").since == "16"


def test_unnamed_nodes_and_symbolic_dims(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["t"]), helper.make_node("Relu", ["t"], ["y"])],
                              "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "plain.onnx"
    onnx.save(model, path)
    captured = capture_onnx(path)
    relus = captured.by_op["ai.onnx::Relu"]
    assert [n.name for n in relus] == ["Relu_0", "Relu_1"]
    assert relus[0].outputs[0].shape == ("batch", 4) and relus[0].outputs[0].dtype == "float32"
    assert relus[0].location is None
    assert captured.successors(relus[0]) == [relus[1]]


def _model_with_initializer() -> onnx.ModelProto:
    import numpy as np
    from onnx import numpy_helper

    w = numpy_helper.from_array(np.ones(64, np.float32), "w")  # raw_data: can move to external data
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [64])
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _one_line_error(path, match, error=LoadError):
    """A file that does not load is a LoadError (an EXL003 finding); a wrong or missing path a UsageError."""
    with pytest.raises(error, match=match) as err:
        capture_onnx(path)
    assert "\n" not in str(err.value)


def test_external_data_inside_directory_is_accepted(tmp_path):
    onnx.save(_model_with_initializer(), tmp_path / "ok.onnx", save_as_external_data=True,
              location="ok.bin", size_threshold=0)
    assert "ai.onnx::Add" in capture_onnx(tmp_path / "ok.onnx").by_op


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "sub/../../outside.bin"])
def test_external_data_outside_is_rejected(tmp_path, location):
    from onnx.external_data_helper import set_external_data

    model = _model_with_initializer()
    tensor = model.graph.initializer[0]
    set_external_data(tensor, location=location)
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    (tmp_path / "models").mkdir()
    path = tmp_path / "models" / "evil.onnx"
    path.write_bytes(model.SerializeToString())
    (tmp_path / "outside.bin").write_bytes(b"\0" * 256)
    _one_line_error(path, "outside the model's directory")


def test_missing_external_data(tmp_path):
    onnx.save(_model_with_initializer(), tmp_path / "m.onnx", save_as_external_data=True,
              location="m.bin", size_threshold=0)
    (tmp_path / "m.bin").unlink()
    _one_line_error(tmp_path / "m.onnx", "is missing")


def test_truncated_and_garbage_files(tmp_path, exported):
    data = exported.read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 3])
    _one_line_error(tmp_path / "cut.onnx", "not a valid ONNX")
    (tmp_path / "junk.onnx").write_bytes(b"\xff" * 100)
    _one_line_error(tmp_path / "junk.onnx", "not a valid ONNX")


def test_wrong_extension_and_missing_file(tmp_path, exported):
    wrong = tmp_path / "model.pt"
    wrong.write_bytes(exported.read_bytes())
    _one_line_error(wrong, "expected an .onnx file", UsageError)
    _one_line_error(tmp_path / "absent.onnx", "no such file", UsageError)
    assert is_onnx_spec("a/b.ONNX") and not is_onnx_spec("a/b.py:make")
    assert load_model(exported).graph.node
