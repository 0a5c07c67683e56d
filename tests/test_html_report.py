"""The HTML report in a real headless browser (Chromium, from the system packages): the number of drawn
nodes and their colours, read from the DOM after the page's script has laid out the graph."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT
from exportlint.config import Options
from exportlint.report import render
from exportlint.run import check_specs
from exportlint.targets import parse_target

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
# Skipped without Chromium on a developer's machine; CI (.ci/run installs it) fails instead.
pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                reason="needs Chromium on PATH: apt-get install chromium")
PALETTE = {"s": "#3a9d4a", "w": "#e3a21a", "b": "#d43d3d", "u": "#9aa0a6"}  # report.css
TARGETS = ("onnx:13", "coreml:iOS16")
EXAMPLE_SPECS = [str(EXAMPLES / s) for s in ("mobilenet_block.py:build", "packed_lstm.py:build",
                                             "shape_head.py:build", "shape_head.py:build_warp")]
DEFAULT_PATH = {"onnx:13": "dynamo", "coreml:iOS16": "export"}  # the paths that see torch.export's graph


class _Nodes(HTMLParser):
    """The drawn graph nodes: each `<g class="node">` with its data attributes and its rect's fill."""

    def __init__(self):
        super().__init__()
        self.nodes: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "g" and "node" in (attrs.get("class") or "").split():
            self.nodes.append(attrs)
        elif tag == "rect" and self.nodes and "fill" not in self.nodes[-1]:
            self.nodes[-1]["fill"] = attrs.get("fill")


def drawn(page: Path, fragment: str = "") -> list[dict]:
    assert CHROMIUM, "no Chromium on PATH: .ci/run installs the Debian package"
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          page.as_uri() + fragment], capture_output=True, text=True, timeout=180, check=True).stdout
    assert 'data-ready="1"' in dom, "the page's script did not finish"
    parser = _Nodes()
    parser.feed(dom)
    return parser.nodes


def payload(page: Path) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', page.read_text(),
                                re.S)[1].replace("<\\/", "</"))


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    """The report of examples/ (every model, two targets, tables only): the page and the JSON report."""
    report = check_specs(EXAMPLE_SPECS, Options(targets=[parse_target(t) for t in TARGETS], decide="static"), [], [])
    page = tmp_path_factory.mktemp("html") / "examples.html"
    page.write_text(render(report, "html"), encoding="utf-8")
    return page, report, json.loads(render(report, "json"))


@pytest.mark.parametrize("target", TARGETS)
def test_every_node_is_drawn_in_its_colour(examples, target):
    page, report, doc = examples
    for i, model in enumerate(report.models):
        nodes = drawn(page, f"#model={i}&target={target}&expand=all")
        names = [n["name"] for n in payload(page)["models"][i]["nodes"]]
        assert len(nodes) == len(model.graph) == len(names), model.model
        assert all(n["fill"] == PALETTE[n["data-status"]] for n in nodes)
        red = {names[int(n["data-id"])] for n in nodes if n["fill"] == PALETTE["b"]}
        errors = {f["node"] for f in doc["findings"] if f["model"] == model.model and f["severity"] == "error"
                  and f["target"] in (None, target) and f["node"] in names
                  and (not f["paths"] or DEFAULT_PATH[target] in f["paths"])}
        assert red == errors, model.model


def test_modules_collapse_except_around_the_blocked_nodes(examples):
    page, report, _ = examples
    block = EXAMPLE_SPECS.index(str(EXAMPLES / "mobilenet_block.py:build"))
    nodes = drawn(page, f"#model={block}&target=onnx:13&budget=1")
    top = Counter(n.module.split(".")[0] for n in report.models[block].graph.nodes() if n.module)
    # stem and features collapse; the one-node classifier is drawn as its node
    assert sorted(n["data-module"] for n in nodes if n.get("data-module")) == sorted(m for m, k in top.items() if k > 1)
    warp = EXAMPLE_SPECS.index(str(EXAMPLES / "shape_head.py:build_warp"))
    nodes = drawn(page, f"#model={warp}&target=onnx:13&budget=1")
    blocked = [n for n in nodes if n.get("data-id") and n["data-status"] == "b"]
    assert len(blocked) == 4  # relu, view, linear (in `head`), grid_sampler: dynamo reaches no opset below 14


def test_a_transformers_model(tmp_path):
    """A real model (a tiny BERT of the corpus) opens with every node drawn and coloured."""
    pytest.importorskip("transformers")
    page = tmp_path / "bert.html"
    done = subprocess.run([sys.executable, "-m", "exportlint", "check", "benchmarks/corpus/hf.py:bert", "-t", "onnx:18",
                           "-t", "tflite", "--static", "--format", "html", "-o", str(page), "--exit-zero", "-q"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout == "", done.stderr
    model = payload(page)["models"][0]
    assert len(model["nodes"]) > 50
    for k, target in enumerate(model["targets"]):
        nodes = drawn(page, f"#target={target}&expand=all")
        assert len(nodes) == len(model["nodes"])
        assert sorted(n["fill"] for n in nodes) == sorted(PALETTE[n["st"][k]] for n in model["nodes"])
        collapsed = drawn(page, f"#target={target}&budget=20")
        assert any(n.get("data-module") for n in collapsed) and len(collapsed) < len(nodes)
        assert (sum(n["data-status"] == "b" for n in collapsed if n.get("data-id"))
                == sum(n["st"][k] == "b" for n in model["nodes"]))  # the blocked nodes are drawn one by one
