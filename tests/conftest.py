"""Shared fixtures: captures are expensive (torch.export ~1 s), so each example is captured once."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Every test decides afresh (tests/test_decide.py checks the cache itself); CLI subprocesses inherit it.
os.environ["EXPORTLINT_NO_CACHE"] = "1"
EXAMPLES = ROOT / "examples"


@cache
def capture_example(spec: str, train: bool = False):
    """The OpGraph of `examples/<spec>` (file.py:factory), captured once per session."""
    from exportlint.options import Options

    return capture_path(str(EXAMPLES / spec), Options(train=train))


def capture_path(spec: str, options):
    """Capture a `file.py:factory` spec (inputs from the factory) with `options`."""
    from exportlint.capture.pytorch import capture_torch, load_spec

    return capture_torch(*load_spec(spec, [], []), options, spec)


def check(graph, targets, **options):
    """Findings of every rule on `graph` for `targets` (strings)."""
    from exportlint.options import Options
    from exportlint.engine.registry import all_rules
    from exportlint.engine.engine import run_rules
    from exportlint.engine.rule import Context
    from exportlint.targets import parse_target

    opts = Options(targets=[parse_target(t) for t in targets], **options)
    return run_rules(graph, list(all_rules().values()), Context(opts.targets, opts))


def run_cli(*args: str, cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exportlint", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES
