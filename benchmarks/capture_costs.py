"""What EXL201's ways of finding frozen sizes cost, per public model (benchmarks/public_models.py): a
static torch.export (warm: a second one in the process), one with every input dim `Dim.AUTO` (sizes as
symbols, from one capture), and one fake-tensor forward pass (`exportlint.capture.sizes` runs two).

    PYTHONPATH=.:/work/corpus-site python benchmarks/capture_costs.py [--models mobilenet_v3_small ...]

Seconds are wall time in this process, best of two after a warm-up export.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import public_models  # noqa: E402
import torch  # noqa: E402

from exportlint.capture.sizes import fake_failure  # noqa: E402
from versus_converters import MODELS  # noqa: E402


def best(run) -> float:
    times = []
    for _ in range(2):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=MODELS)
    for name in parser.parse_args().models:
        model, inputs = getattr(public_models, name)()
        torch.export.export(model, inputs, strict=False)  # warm-up
        auto = torch.utils._pytree.tree_map(
            lambda t: {d: torch.export.Dim.AUTO for d in range(t.dim())} if isinstance(t, torch.Tensor) else None,
            inputs)
        if any(p.kind is p.VAR_POSITIONAL for p in inspect.signature(model.forward).parameters.values()):
            auto = (auto,)  # forward(*args): the specs of `args`, one entry
        static = best(lambda: torch.export.export(model, inputs, strict=False))
        dynamic = best(lambda: torch.export.export(model, inputs, dynamic_shapes=auto, strict=False))
        fake = best(lambda: fake_failure(model, inputs))
        print(f"{name}: static export {static:.2f} s, every dim Dim.AUTO {dynamic:.2f} s ({dynamic / static:.1f}x), "
              f"one fake-tensor forward pass {fake:.2f} s ({fake / static:.2f}x)")


if __name__ == "__main__":
    main()
