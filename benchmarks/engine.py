"""Engine speed on synthetic graphs (25k/50k/100k ops, 8 targets) and `exportlint --help` cold start.

    python benchmarks/engine.py [--nodes 100000]

Prints seconds per run and the per-node cost at each size (near-constant = linear).
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time

from exportlint.options import Options
from exportlint.engine.engine import run_rules
from exportlint.engine.registry import all_rules
from exportlint.engine.rule import Context
from exportlint.ir import CaptureInfo, Location, NodeKind, OpGraph, OpNode, TensorMeta
from exportlint.targets import parse_target

TARGETS = ["onnx:13", "onnx:17", "onnx:18", "coreml:iOS16", "tflite", "tflite:gpu", "tensorrt:8.6", "tensorrt:10"]
OPS = ["aten.conv2d.default", "aten.relu.default", "aten.add.Tensor", "aten.batch_norm.default",
       "aten.hardsigmoid.default", "aten.hardswish.default", "aten.linear.default", "aten.view.default",
       "aten.mul.Tensor", "aten.grid_sampler.default", "aten.avg_pool2d.default", "aten.cat.default",
       "aten.layer_norm.default", "aten.softmax.int", "aten.gelu.default", "aten.nonzero.default"]


def synthetic(n: int, seed: int = 0) -> OpGraph:
    rng = random.Random(seed)
    graph = OpGraph(f"synthetic-{n}", "aten", CaptureInfo(method="synthetic"))
    t = TensorMeta("float32", (1, 16, 32, 32))
    graph.add_node(OpNode("x", "input", "aten", NodeKind.INPUT, outputs=(t,)))
    prev = "x"
    for i in range(n):
        name = f"n{i}"
        graph.add_node(OpNode(name, rng.choice(OPS), "aten", inputs=(t,), outputs=(t,),
                              module=f"block{i // 50}.op{i % 50}", location=Location("model.py", 10 + i % 500, 9)))
        graph.add_edge(prev, name, t)
        prev = name
    return graph


def time_engine(n: int, repeat: int = 3) -> tuple[float, int]:
    """Best of `repeat` runs, each on a fresh graph (so indexes are rebuilt); tables loaded once."""
    options = Options(targets=[parse_target(t) for t in TARGETS])
    rules = list(all_rules().values())
    run_rules(synthetic(100), rules, Context(options.targets, options))  # load the tables
    times, found = [], 0
    for _ in range(repeat):
        graph = synthetic(n)
        start = time.perf_counter()
        found = len(run_rules(graph, rules, Context(options.targets, options)))
        times.append(time.perf_counter() - start)
    return min(times), found


def cold_help(repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "exportlint", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=100_000)
    args = parser.parse_args()
    print(f"rules: {len(all_rules())}, targets: {len(TARGETS)} ({', '.join(TARGETS)})")
    for n in (args.nodes // 4, args.nodes // 2, args.nodes):
        seconds, found = time_engine(n)
        print(f"engine {n:>7} ops x {len(TARGETS)} targets: {seconds:.3f} s  ({seconds / n * 1e6:.2f} us/op, "
              f"{found} findings)")
    print(f"exportlint --help cold start: {cold_help() * 1000:.0f} ms (median of 5)")


if __name__ == "__main__":
    main()
