"""exportlint against the real converters on public models, the cached re-check, and a 70B-parameter
Llama checked on the meta device. Whole processes, as a user runs them:

    PYTHONPATH=.:/work/corpus-site python benchmarks/versus_converters.py [--skip-converters] [--skip-70b]
    PYTHONPATH=. python benchmarks/versus_converters.py --skip-models   # the Llama part only

(`/work/corpus-site`'s CUDA-built torchvision breaks transformers' imports unless
`corpus/_torchvision_cpu.py` runs first, which a config.json spec does not do: the Llama part
needs a PYTHONPATH without it.)

Per model (benchmarks/public_models.py: mobilenet_v3_small, resnet50, tiny BERT, ViT) and the
targets onnx:17, coreml:iOS16, tflite, tensorrt:10: `exportlint check` in the default mode and with
`--static` (caches off), with its peak RSS and the share of its CPU time on top of what any export
check pays (importing the model's module, building it, one torch.export), the three real converters on every conversion path (`exportlint.decide` in
confirm mode: torch.onnx.export + checker + ONNX Runtime, coremltools.convert, litert_torch.convert;
TensorRT needs a GPU), their ratio, and `exportlint check` again on a warm capture cache. Then a
Llama config of 80 layers, hidden 8192 (70B parameters) as a `config.json` spec, against a 2-layer
config of the same architecture: time, peak RSS, and whether their distinct findings agree.

Times are wall seconds and CPU seconds (user+sys) of the child processes; on a loaded machine compare
the CPU seconds and the ratios, which are measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = ["mobilenet_v3_small", "resnet50", "bert", "vit"]
TARGETS = ["onnx:17", "coreml:iOS16", "tflite", "tensorrt:10"]
LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu", "rms_norm_eps": 1e-5,
         "rope_theta": 500000.0, "max_position_embeddings": 131072, "tie_word_embeddings": False}
LLAMA_70B = {**LLAMA, "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
             "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256}
LLAMA_TINY = {**LLAMA, "hidden_size": 64, "intermediate_size": 224, "num_hidden_layers": 2,
              "num_attention_heads": 8, "num_key_value_heads": 1, "vocab_size": 256}
CONVERT = """
import sys
from exportlint.capture.pytorch import load_spec
from exportlint.decide import Subject, decide
from exportlint.targets import parse_target
subject = Subject(*load_spec(sys.argv[1], [], []))
for target in sys.argv[2:]:
    print(target, [(d.path, d.converted) for d in decide(subject, [parse_target(target)], "confirm", cache=False)])
"""

# The floor of any export check: import the model's module, build it, one torch.export.
EXPORT_ONCE = """
import sys, torch
from exportlint.capture.pytorch import load_spec
model, inputs = load_spec(sys.argv[1], [], [])
torch.export.export(model, inputs, strict=False)
"""


# Runs a command, then prints its peak RSS (KB) on stderr: RUSAGE_CHILDREN of this process alone.
MEASURED = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")


def run(args: list[str], **env: str) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (user+sys), peak RSS (MB) and stdout of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURED, *args], capture_output=True, text=True,
                          env={**os.environ, **env})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return wall, cpu, int(done.stderr.split()[-1]) // 1024, done.stdout


def check(spec: str, *flags: str, **env: str) -> tuple[float, float, int, str]:
    targets = [a for t in TARGETS for a in ("-t", t)]
    return run([sys.executable, "-m", "exportlint", "check", spec, *targets, "-q", "--format", "json", *flags], **env)


def distinct_findings(report: str) -> set[tuple]:
    return {(f["code"], f["target"], f["op"], f["severity"], json.dumps(f["location"])) for f in json.loads(report)["findings"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-converters", action="store_true")
    parser.add_argument("--skip-70b", action="store_true")
    parser.add_argument("--skip-models", action="store_true", help="only the Llama configs")
    args = parser.parse_args()
    cold = {"EXPORTLINT_NO_CACHE": "1", "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as cache:
        for name in [] if args.skip_models else MODELS:
            spec = f"{HERE / 'public_models.py'}:{name}"
            print(f"{name}:")
            default, static = check(spec, **cold), check(spec, "--static", **cold)
            floor = run([sys.executable, "-c", EXPORT_ONCE, spec], **cold)
            print(f"  import + one torch.export: {floor[0]:.1f} s wall, {floor[1]:.1f} s CPU, peak RSS {floor[2]} MB")
            for label, (wall, cpu, rss, _) in (("default", default), ("--static", static)):
                print(f"  exportlint check {label}: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss} MB, "
                      f"{(cpu - floor[1]) / cpu:.0%} of the CPU time on top of import + one torch.export")
            if not args.skip_converters:
                wall, cpu, _, out = run([sys.executable, "-c", CONVERT, spec, *TARGETS[:3]], **cold)
                print(f"  real converters: {wall:.1f} s wall, {cpu:.1f} s CPU ({out.strip().replace(chr(10), '; ')})")
                print(f"  ratio exportlint/converters (CPU): default {default[1] / cpu:.2f}, "
                      f"--static {static[1] / cpu:.2f}"
                      f" (import + one torch.export alone: {floor[1] / cpu:.2f})")
            warm = {"EXPORTLINT_CACHE_DIR": cache, "HF_HUB_OFFLINE": "1"}
            check(spec, **warm)
            wall, cpu, _, _ = check(spec, **warm)
            print(f"  re-check, capture cache warm: {wall:.2f} s wall, {cpu:.2f} s CPU")
    if args.skip_70b:
        return
    with tempfile.TemporaryDirectory() as tmp:
        reports = {}
        for name, config in (("tiny", LLAMA_TINY), ("70B", LLAMA_70B)):
            path = Path(tmp, name, "config.json")
            path.parent.mkdir()
            path.write_text(json.dumps(config))
            wall, cpu, rss, reports[name] = check(str(path), **cold)
            print(f"Llama {name} (meta device), {len(TARGETS)} targets: {wall:.1f} s wall, {cpu:.1f} s CPU, "
                  f"peak RSS {rss} MB")
        same = distinct_findings(reports["tiny"]) == distinct_findings(reports["70B"])
        print(f"  same distinct findings as the tiny config: {same}")


if __name__ == "__main__":
    main()
