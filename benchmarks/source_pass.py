"""Time the source-only pass as pre-commit runs it: a cold process per hook call.

    .venv/bin/python benchmarks/source_pass.py [--runs N] [FILE.py ...]

Prints, averaged over N cold runs: `exportlint check FILE.py` per file (interpreter start included),
the per-file cost when one call gets many files (as pre-commit batches them), `exportlint rules` and
`exportlint --help`. Without FILE arguments it uses the golden test models plus a torch file that no
rule's needles match (skipped before LibCST is imported). Then the figure: the slowest file's cold
wall time against the goal of < 300 ms per changed file, with what LibCST's import and the bare
interpreter take of it (the rest is exportlint: its imports, the parse and the rules).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILES = sorted((ROOT / "tests" / "golden").glob("*.before.py"))
BIN = Path(sys.executable).parent
NO_MATCH = '''\
"""Data helpers: they use torch, but nothing a source rule looks for."""
import torch


def batch(items: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack(items).to(torch.float32)
'''


def _run(command: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall and CPU (user + system) seconds of one cold subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, done


def _average(command: list[str], runs: int) -> tuple[float, float]:
    _run(command)  # warm the OS file cache; .pyc files are written once
    times = [_run(command)[:2] for _ in range(runs)]
    return sum(t[0] for t in times) / runs, sum(t[1] for t in times) / runs


def _check_command() -> list[str]:
    return [shutil.which("exportlint", path=str(BIN)) or "exportlint", "check"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp())
    if args.files:
        files = args.files
    else:
        (scratch / "no_match.py").write_text(NO_MATCH)
        files = [*DEFAULT_FILES, scratch / "no_match.py"]
    check = _check_command()
    print(f"command: {' '.join(Path(c).name for c in check)}   runs: {args.runs}   "
          f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    per_file = []
    for path in files:
        wall, cpu = _average([*check, str(path)], args.runs)
        per_file.append((wall, cpu, path.name))
        lines = len(path.read_text().splitlines())
        print(f"  {path.name:<32} {lines:>5} lines  {wall * 1000:7.1f} ms wall  {cpu * 1000:7.1f} ms cpu")
    with tempfile.TemporaryDirectory() as tmp:
        batch = [Path(tmp, f"m{i}_{p.name}") for i in range(10) for p in files]
        for i, path in enumerate(batch):
            shutil.copyfile(files[i % len(files)], path)
        wall, cpu = _average([*check, *map(str, batch)], max(1, args.runs // 2))
        print(f"  one call, {len(batch)} files: {wall * 1000 / len(batch):7.1f} ms wall per file"
              f"  ({wall * 1000:.0f} ms in all)")
    shutil.rmtree(scratch)
    cli = shutil.which("exportlint", path=str(BIN))
    if cli:
        for command in ("rules", "--help"):
            wall, cpu = _average([cli, command], args.runs)
            print(f"exportlint {command + ':':<7} {wall * 1000:.1f} ms wall  {cpu * 1000:.1f} ms cpu")
    bare = _average([sys.executable, "-c", "pass"], args.runs)
    print(f"bare interpreter:  {bare[0] * 1000:.1f} ms wall  {bare[1] * 1000:.1f} ms cpu")
    libcst = _average([sys.executable, "-c", "import libcst"], args.runs)
    print(f"import libcst:     {libcst[0] * 1000:.1f} ms wall  {libcst[1] * 1000:.1f} ms cpu (interpreter included)")
    wall, cpu, name = max(per_file)
    verdict = "met" if wall < 0.3 else "NOT met"
    print(f"figure: {wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms cpu per file, cold ({name}); goal < 300 ms: "
          f"{verdict}; of the cpu, LibCST's import {(libcst[1] - bare[1]) * 1000:.0f} ms, the interpreter "
          f"{bare[1] * 1000:.0f} ms, exportlint {(cpu - libcst[1]) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
