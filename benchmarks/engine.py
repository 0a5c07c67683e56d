"""Engine speed on synthetic graphs (25k/50k/100k ops, 8 targets), the whole path after the capture
at the largest size, and `exportlint --help` cold start.

    python benchmarks/engine.py [--nodes 100000]

Prints seconds per run and the per-node cost at each size (near-constant = linear); then, per stage
of the whole path (the IR built from an ATen fx graph, the rules with suppressions and verdicts,
every output format), CPU seconds (steadier than wall time on a shared machine) and the peak of
Python allocations (tracemalloc, a second run).
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Callable

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


def fx_chain(n: int, source: Path):
    """An ATen fx graph of `n` ops in a chain, with the meta torch.export writes (values, module
    stacks, stack traces at the lines of `source`, written here): what `graph_from_fx` reads."""
    import torch
    import torch.fx as fx

    source.write_text("".join(f"    x = torch.relu(x)  # line {i}\n" for i in range(1, 511)))
    ops = [torch.ops.aten.relu.default, torch.ops.aten.hardswish.default, torch.ops.aten.gelu.default]
    graph, value = fx.Graph(), torch.zeros(1, 16, 8, 8)
    prev = graph.placeholder("x")
    prev.meta["val"] = value
    for i in range(n):
        prev = graph.call_function(ops[i % len(ops)], (prev,))
        prev.meta.update(val=value, nn_module_stack={"L__self__": (f"block{i // 50}", "model.Block")},
                         stack_trace=f'  File "{source}", line {10 + i % 500}, in forward\n    x = torch.relu(x)\n')
    graph.output((prev,))
    return graph


def whole_path(n: int, source: Path) -> list[tuple[str, Callable[[], object]]]:
    """The stages after the capture, each run after the one before (`state` carries their results)."""
    from exportlint.capture.pytorch import graph_from_fx
    from exportlint.report import Report, render
    from exportlint.run import check_graph

    options = Options(targets=[parse_target(t) for t in TARGETS], decide="static")
    fx_graph, state = fx_chain(n, source), {}

    def build():
        state["graph"] = graph_from_fx(fx_graph, f"chain-{n}", CaptureInfo(method="synthetic"), None, None)

    def check():
        state["report"] = Report()
        check_graph(state["graph"], options, state["report"])

    return [("IR build", build), ("rules, suppressions, verdicts", check)] + [
        (f"output {fmt}", lambda fmt=fmt: render(state["report"], fmt)) for fmt in ("text", "json", "sarif", "github", "html")]


def time_whole_path(n: int) -> None:
    """CPU seconds per stage (after a small run: imports, tables), then the stages again under
    tracemalloc: the peak of each above what was allocated when it started."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "model.py")
        for _, run in whole_path(100, source):
            run()
        seconds = []
        for _, run in whole_path(n, source):
            start = time.process_time()
            run()
            seconds.append(time.process_time() - start)
        tracemalloc.start()
        for (name, run), took in zip(whole_path(n, source), seconds):
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            run()
            peak = (tracemalloc.get_traced_memory()[1] - before) / 2**20
            print(f"  {name:<30} {took:7.2f} s CPU  {took / n * 1e6:6.1f} us/op  peak {peak:7.1f} MB")
        tracemalloc.stop()


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
    print(f"whole path after the capture, {args.nodes} ops x {len(TARGETS)} targets:")
    time_whole_path(args.nodes)
    print(f"exportlint --help cold start: {cold_help() * 1000:.0f} ms (median of 5)")


if __name__ == "__main__":
    main()
