"""litert-torch's own layout pass run on the captured program, for the broadcasts it moves into NHWC: a fact of
the capture (`CaptureInfo.litert_layout`, kept by the capture cache), read by EXL112.

`litert_torch.convert` rewrites the program to channels-last around convolutions (its
OptimizeLayoutTransposesPass) before lowering to MLIR. An `expand` it leaves in NCHW and transposes afterwards
(`tensor_to_nhwc(expand(...))`: the broadcast feeds an op inside an NHWC region, such as `x * y.expand_as(x)`
between two convolutions) makes the converter's MLIR passes fail ("'tfl.mul' op operands don't have
broadcast-compatible shapes"). Only a program with a 4-d broadcasting `expand` and a convolution can have one,
so only such a program pays for importing litert-torch (seconds) and running its passes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exportlint.options import Options

RULE = "EXL112"  # the rule that reads the result
_EXPANDS = ("expand", "expand_as", "expand_copy", "broadcast_to")  # op stems of the captured program


def wanted(options: Options) -> bool:
    return options.enabled(RULE) and any(t.family == "tflite" for t in options.targets)


def _broadcasts(program: Any) -> set[str]:
    """The `expand`-like nodes of `program` that broadcast to 4 dims, when it has a convolution too. An
    attention mask read by attention alone is left out: the pass keeps attention out of its NHWC regions
    (transformers' masks, which a ViT's patch convolution would otherwise make it import litert-torch for)."""
    from exportlint.tables import op_stem

    nodes = [n for n in program.graph.nodes if n.op == "call_function"]
    if not any(op_stem(str(n.target)).startswith("conv") for n in nodes):
        return set()
    return {n.name for n in nodes if op_stem(str(n.target)) in _EXPANDS and _widens(n) and not all(
        op_stem(str(u.target)) == "scaled_dot_product_attention" for u in n.users)}


def _widens(node: Any) -> bool:
    out, src = node.meta.get("val"), getattr(node.args[0], "meta", {}).get("val") if node.args else None
    return getattr(out, "ndim", 0) == 4 and src is not None and tuple(src.shape) != tuple(out.shape)


def transposed_broadcasts(program: Any) -> tuple[tuple[str, ...] | None, str | None]:
    """((names of the user's broadcasting expand nodes the pass transposes to NHWC), None), or (None, why the pass
    could not run)."""
    wide = _broadcasts(program)
    if not wide:
        return (), None
    try:
        return tuple(n for n in _run(program) if n in wide), None
    except ImportError:
        return None, "litert-torch is not installed"
    except Exception as exc:  # noqa: BLE001 - reported by EXL112
        from exportlint.decide import first_line

        return None, first_line(exc)


def _run(program: Any) -> tuple[str, ...]:
    """The user's nodes whose `expand` the converter's layout pass transposes to NHWC, after the converter's
    pre-convert decompositions and the fx passes before it."""
    import torch
    from litert_torch import fx_infra
    from litert_torch._convert import fx_passes
    from litert_torch._convert.fx_passes.optimize_layout_transposes_pass import utils
    from litert_torch.generative import fx_passes as generative_fx_passes

    from exportlint.tables.probe.harness import source_node

    kept = {n: n.meta.get("from_node") for n in program.graph.nodes}  # the converter resets them in place
    try:
        lowered = fx_infra.safe_run_decompositions(fx_infra.graph_utils.reset_from_node_meta(program),
                                                   fx_infra.decomp.pre_convert_decomp(), can_skip=False)
    finally:
        for node, history in kept.items():
            node.meta["from_node"] = history
    # litert_torch._convert.core._run_convert_passes up to the layout pass (the next one lowers its transposes)
    lowered = fx_infra.run_passes(generative_fx_passes.run_generative_passes(lowered), [
        fx_passes.LowerTorchAOPass(), fx_passes.EliminateDeadCodePass(), fx_passes.OptimizeLayoutTransposesPass()])
    found = []
    for node in lowered.graph.nodes:
        inner = node.args[0] if node.target is utils.tensor_to_nhwc and node.args else None
        if isinstance(inner, torch.fx.Node) and inner.target is torch.ops.aten.expand.default:
            found.append(source_node(inner) or inner.name)
    return tuple(dict.fromkeys(found))
