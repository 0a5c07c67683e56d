"""Cold start of the command line: `exportlint --help`, `--version`, `rules` and `explain`.

    python benchmarks/cli_start.py [--repeat 7]

Each command runs in a fresh interpreter (what a shell, an IDE or a pre-commit hook pays). Prints the
median and minimum wall time, the bare interpreter's start for comparison, and any heavy framework
a command imported (there must be none).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

HEAVY = ("torch", "tensorflow", "coremltools", "onnxruntime", "networkx", "onnx", "libcst")
COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "exportlint --help": ["-m", "exportlint", "--help"],
    "exportlint --version": ["-m", "exportlint", "--version"],
    "exportlint rules": ["-m", "exportlint", "rules"],
    "exportlint explain EXL101": ["-m", "exportlint", "explain", "EXL101"],
}
PROBE = ("import runpy, sys; sys.argv = ['exportlint', *sys.argv[1:]]\n"
         "try: runpy.run_module('exportlint', run_name='__main__')\n"
         "except SystemExit: pass\n"
         "print('HEAVY=' + ','.join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)")


def timed(args: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def heavy_imports(args: list[str]) -> str:
    if args[:2] != ["-m", "exportlint"]:
        return ""
    out = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args[2:]],
                         capture_output=True, text=True, check=True).stderr
    return next(l for l in out.splitlines() if l.startswith("HEAVY=")).removeprefix("HEAVY=")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"{'command':<28} {'median':>8} {'min':>8}  heavy imports")
    for label, argv in COMMANDS.items():
        times = timed(argv, args.repeat)
        print(f"{label:<28} {statistics.median(times) * 1000:>6.0f}ms {min(times) * 1000:>6.0f}ms  "
              f"{heavy_imports(argv) or '-'}")


if __name__ == "__main__":
    main()
