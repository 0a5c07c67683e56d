"""`exportlint fix SPEC --output fixed.pt2|fixed.onnx`: capture, check, rewrite pass by pass with each
pass's numeric effect measured (`fix.loop`), write the fixed model, capture it again and check what was
cleared. This module picks the driver (PyTorch: `torch_passes.fix_torch`; ONNX: `onnx_passes.fix_onnx`) and
renders the result as text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from exportlint.errors import UsageError
from exportlint.fix.loop import FixResult
from exportlint.options import Options

OUTPUT_SUFFIXES = (".pt2", ".onnx")


def fix_model(spec: str, options: Options, output: Path, unsafe: bool = False, shapes: Sequence[str] = (),
              dtypes: Sequence[str] = (), inputs_file: Path | None = None,
              select: Sequence[str] = ()) -> FixResult:
    """Rewrite the model named by `spec` (file.py:factory, or a .onnx file), write it to `output`
    (.pt2 via torch.export.save, or .onnx), re-check it. `select` names passes to run (default: all
    that apply); `inputs_file` is a .pt of tensors used for measuring besides random inputs."""
    from exportlint.capture.onnx_file import is_onnx_spec

    output = Path(output)
    if is_onnx_spec(spec):
        if output.suffix != ".onnx":
            raise UsageError(f"--output {output}: an ONNX model is written as .onnx")
        from exportlint.fix.onnx_passes import fix_onnx

        return fix_onnx(Path(spec), options, output, unsafe, inputs_file, select)
    if output.suffix not in OUTPUT_SUFFIXES:
        raise UsageError(f"--output {output}: expected a .pt2 or .onnx file")
    from exportlint.fix.torch_passes import fix_torch

    return fix_torch(spec, options, output, unsafe, list(shapes), list(dtypes), inputs_file, select)


def render_fix_result(result: FixResult) -> str:
    out = [f"== {result.model} -> {result.output}"]
    width = max((len(f.name) for f in result.fixes), default=0)
    for fix in result.fixes:
        line = f"  [{fix.applicability.value:<6}] {fix.name:<{width}}  {fix.status.value}"
        if fix.rewritten:
            line += f" ({len(fix.rewritten)} node{'s' * (len(fix.rewritten) > 1)})"
        out.append(line)
        if fix.effect is not None:
            out.append(f"           effect: {fix.effect}")
        for refusal in fix.refused:
            out.append(f"           {refusal.node}: not rewritten: {refusal.reason}")
    if result.total is not None:
        out.append(f"  fixed vs original: {result.total}")
    if result.cleared:
        out.append("  cleared: " + ", ".join(f"{k} x{n}" for k, n in result.cleared.items()))
    if result.introduced:
        out.append("  new after fixing: " + ", ".join(f"{k} x{n}" for k, n in result.introduced.items()))
    out.extend(f"  note: {n}" for n in result.notes)
    out.append(f"  findings: {len(result.before)} before, {len(result.after)} after")
    return "\n".join(out)
