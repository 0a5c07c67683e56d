"""Each graph rewrite, tested three ways: the op list, the validator, numerics against the original."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from exportlint.fix import onnx_passes as op  # noqa: E402
from exportlint.fix import torch_passes as tp  # noqa: E402
from exportlint.fix.measure import ATOL, RTOL, diff  # noqa: E402


def _gm(module, *inputs):
    torch.manual_seed(0)
    return tp.editable(torch.export.export(module.eval(), inputs))


def _three_ways(pass_, module, inputs, gone, present, exact=True, transform=None):
    gm = _gm(module, *inputs)
    before = tp.op_names(gm)
    result = pass_(gm)
    assert result.modified, result.refused
    assert tp.op_names(gm) == before  # the caller's graph is untouched
    ops = tp.op_names(result.model)
    assert not set(gone) & set(ops) and set(present) <= set(ops), ops
    result.model.graph.lint()
    x = tuple(torch.randn(t.shape) for t in inputs)
    ref = module(*(transform(x) if transform else x))
    new = result.model(*x)
    close = torch.allclose(new, ref, rtol=RTOL, atol=ATOL)
    assert close if exact else not close
    return result


def _bn_conv():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8))
    with torch.no_grad():  # non-trivial statistics
        m[1].running_mean.uniform_(-1, 1)
        m[1].running_var.uniform_(0.5, 2)
        m[1].weight.uniform_(0.5, 2)
        m[1].bias.uniform_(-1, 1)
    return m


def test_fold_batchnorm_conv_and_linear():
    _three_ways(tp.FoldBatchNorm(), _bn_conv(), (torch.randn(2, 3, 16, 16),), ["aten.batch_norm.default"],
                ["aten.conv2d.default"])
    lin = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6))
    lin[1].running_mean.fill_(0.3)
    _three_ways(tp.FoldBatchNorm(), lin, (torch.randn(3, 4),), ["aten.batch_norm.default"], ["aten.linear.default"])


def test_fold_batchnorm_refuses_shared_conv_output():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)

        def forward(self, x):
            y = self.conv(x)
            return self.bn(y) + y

    result = tp.FoldBatchNorm()(_gm(Shared(), torch.randn(1, 3, 4, 4)))
    assert not result.modified
    assert "also used elsewhere" in result.refused[0].reason


def test_hardsigmoid_exact_and_unsafe():
    m = nn.Hardsigmoid()
    x = (torch.randn(2, 8) * 4,)
    _three_ways(tp.HardSigmoidToClamp(), m, x, ["aten.hardsigmoid.default"], ["aten.clamp.default"])
    _three_ways(tp.HardSigmoidToSigmoid(), m, x, ["aten.hardsigmoid.default"], ["aten.sigmoid.default"], exact=False)


def test_hardswish_decompose():
    _three_ways(tp.HardSwishDecompose(), nn.Hardswish(), (torch.randn(2, 8) * 4,), ["aten.hardswish.default"],
                ["aten.clamp.default", "aten.mul.Tensor"])


class _ShapeHead(nn.Module):
    def forward(self, x):
        x = F.avg_pool2d(x, x.size()[2:])
        return x.view(x.size(0), -1)


def test_pool_and_flatten_then_any_size():
    x = (torch.randn(2, 4, 8, 8),)
    pooled = _three_ways(tp.GlobalAvgPool(), _ShapeHead(), x, ["aten.avg_pool2d.default"],
                         ["aten.adaptive_avg_pool2d.default"])
    flat = _three_ways(tp.ViewToFlatten(), _ShapeHead(), x, ["aten.view.default"], ["aten.flatten.using_ints"])
    both = tp.ViewToFlatten()(pooled.model).model
    assert flat.modified and {"aten.avg_pool2d.default", "aten.view.default"}.isdisjoint(tp.op_names(both))
    big = torch.randn(3, 4, 12, 10)  # another batch and size: the frozen constants are gone
    assert torch.allclose(both(big), big.mean(dim=(2, 3)), atol=1e-6)


def test_pool_refuses_a_real_window():
    class Pool(nn.Module):
        def forward(self, x):
            return F.avg_pool2d(x, 2)

    result = tp.GlobalAvgPool()(_gm(Pool(), torch.randn(1, 2, 8, 8)))
    assert not result.modified and "not the input's spatial size" in result.refused[0].reason


class _Normalised(nn.Module):
    def __init__(self, padding):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=padding)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x):
        return self.conv((x - self.mean) / self.std)


def test_fold_normalization_without_padding():
    _three_ways(tp.FoldNormalization(), _Normalised(0), (torch.rand(1, 3, 8, 8),),
                ["aten.sub.Tensor", "aten.div.Tensor"], ["aten.conv2d.default"])


def test_fold_normalization_refuses_zero_padding():
    result = tp.FoldNormalization()(_gm(_Normalised(1), torch.rand(1, 3, 8, 8)))
    assert not result.modified
    assert "zero-pads its input" in result.refused[0].reason


def test_include_preprocessing_then_fold():
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    pre = tp.IncludePreprocessing(mean, std)
    conv = nn.Conv2d(3, 4, 3)
    result = _three_ways(pre, conv, (torch.rand(1, 3, 8, 8),), [], ["aten.sub.Tensor", "aten.div.Tensor"],
                         transform=pre.transform_inputs)
    folded = tp.FoldNormalization()(result.model)
    assert folded.modified and tp.op_names(folded.model) == ["aten.conv2d.default"]
    x = torch.rand(1, 3, 8, 8)
    assert torch.allclose(folded.model(x), conv(*pre.transform_inputs((x,))), rtol=RTOL, atol=ATOL)


def test_diff_matches_definition():
    ref = np.array([1.0, -2.0, 0.0, 4.0])
    new = np.array([1.0, -2.2, 1e-7, 4.0])
    d = diff(new, ref)
    assert d.max_abs == pytest.approx(0.2) and d.max_rel == pytest.approx(0.1) and not d.within


def test_inputs_file_is_tensors_only(tmp_path):
    from exportlint.errors import UsageError
    from exportlint.fix.measure import load_inputs

    torch.save((torch.ones(2),), tmp_path / "ok.pt")
    assert load_inputs(tmp_path / "ok.pt", 1)[0].sum() == 2
    torch.save({"not": object()}, tmp_path / "bad.pt")  # an arbitrary object: refused by weights_only
    with pytest.raises(UsageError):
        load_inputs(tmp_path / "bad.pt", 1)


# --- ONNX ---------------------------------------------------------------------------------------------

def _onnx(module, *inputs):
    import logging

    import onnx_ir as ir

    logging.disable(logging.WARNING)
    try:
        program = torch.onnx.export(module.eval(), inputs, dynamo=True, opset_version=18, verbose=False)
    finally:
        logging.disable(logging.NOTSET)
    return ir.serde.deserialize_model(program.model_proto)


def _onnx_three_ways(pass_, model, gone, present, exact=True):
    import onnx
    import onnx_ir as ir

    before = [n.op_type for n in model.graph]
    result = pass_(model)
    assert result.modified, result.refused
    assert [n.op_type for n in model.graph] == before
    ops = {n.op_type for n in result.model.graph}
    assert not set(gone) & ops and set(present) <= ops, ops
    onnx.checker.check_model(ir.serde.serialize_model(result.model), full_check=True)
    rng = np.random.default_rng(0)
    xs = [(rng.standard_normal([d if isinstance(d, int) else 1 for d in v.shape]) * 3).astype(np.float32)
          for v in model.graph.inputs]
    ref = op.run_onnx(model, pass_.transform_inputs(xs))[0]
    close = np.allclose(op.run_onnx(result.model, xs)[0], ref, rtol=RTOL, atol=ATOL)
    assert close if exact else not close
    return result


def _onnx_conv_bn():
    """Conv -> BatchNormalization, built by hand: torch's exporter already folds BatchNorm itself."""
    import onnx
    import onnx_ir as ir
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = {"w": rng.standard_normal((8, 3, 3, 3)), "scale": rng.uniform(0.5, 2, 8), "bias": rng.uniform(-1, 1, 8),
             "mean": rng.uniform(-1, 1, 8), "var": rng.uniform(0.5, 2, 8)}
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["y"])],
        "conv_bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)
    onnx.checker.check_model(model, full_check=True)
    return ir.serde.deserialize_model(model)


def test_onnx_batchnorm_and_activations():
    _onnx_three_ways(op.FoldBatchNorm(), _onnx_conv_bn(), ["BatchNormalization"], ["Conv"])
    model = _onnx(nn.Sequential(nn.Conv2d(3, 4, 1), nn.Hardswish(), nn.Hardsigmoid()), torch.randn(1, 3, 8, 8))
    _onnx_three_ways(op.HardSwishDecompose(), model, ["HardSwish"], ["Clip"])
    _onnx_three_ways(op.HardSigmoidToClip(), model, ["HardSigmoid"], ["Clip"])
    _onnx_three_ways(op.HardSigmoidToSigmoid(), model, ["HardSigmoid"], ["Sigmoid"], exact=False)


def test_onnx_pool_flatten_and_normalization():
    model = _onnx(_ShapeHead(), torch.randn(2, 4, 8, 8))
    _onnx_three_ways(op.GlobalAvgPool(), model, ["AveragePool"], ["GlobalAveragePool"])
    _onnx_three_ways(op.ReshapeToFlatten(), model, ["Reshape"], ["Flatten"])
    _onnx_three_ways(op.FoldNormalization(), _onnx(_Normalised(0), torch.rand(1, 3, 8, 8)), ["Sub", "Div"], ["Conv"])
    refused = op.FoldNormalization()(_onnx(_Normalised(1), torch.rand(1, 3, 8, 8)))
    assert not refused.modified and "zero-pads its input" in refused.refused[0].reason


def test_onnx_include_preprocessing():
    pre = op.IncludePreprocessing((0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    result = _onnx_three_ways(pre, _onnx(nn.Conv2d(3, 4, 3, padding=1), torch.rand(1, 3, 8, 8)), [], ["Sub", "Div"])
    assert [n.op_type for n in result.model.graph][:2] == ["Sub", "Div"]
