"""`[tool.exportlint]` in pyproject.toml: discovery, typed loading, one-line errors, CLI overrides."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from conftest import run_cli
from exportlint.config import find_config, load_config
from exportlint.errors import UsageError
from exportlint.targets import parse_target


def _project(root: Path, config: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n\n" + textwrap.dedent(config))
    return root / "pyproject.toml"


def test_found_walking_up_and_loaded_typed(tmp_path):
    path = _project(tmp_path, """\
        [tool.exportlint]
        targets = ["onnx:13", "coreml:ios16"]
        select = ["EXL0", "EXL1"]
        ignore = ["EXL002"]
        mean = [0.485, 0.456, 0.406]
        std = [0.229, 0.224, 0.225]

        [tool.exportlint.per-file-ignores]
        "tests/*" = ["EXL5"]

        [[tool.exportlint.models]]
        spec = "src/net.py:build"
        input-shapes = ["1,3,224,224"]
        dynamic = ["0:0=batch"]
        targets = ["tflite"]
    """)
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    _project(tmp_path / "src", "")  # a pyproject.toml without [tool.exportlint] is skipped
    assert find_config([deep]) == path
    cfg = load_config(path)
    assert cfg.targets == [parse_target("onnx:13"), parse_target("coreml:iOS16")]
    opts = cfg.options()
    assert opts.enabled("EXL101") and not opts.enabled("EXL002") and not opts.enabled("EXL301")
    assert opts.mean == (0.485, 0.456, 0.406)
    assert opts.ignored_in("EXL501", str(tmp_path / "tests" / "test_x.py"))
    assert not opts.ignored_in("EXL501", str(tmp_path / "src" / "net.py"))
    (model,) = cfg.models
    assert model.input_shapes == ["1,3,224,224"] and model.dynamic[0].name == "batch"
    assert Path(model.spec.rpartition(":")[0]).resolve() == tmp_path / "src" / "net.py"
    assert model.options(opts).targets == [parse_target("tflite")] and model.options(opts).mean == opts.mean


@pytest.mark.parametrize("config, message", [
    ("[tool.exportlint]\ntarget = ['onnx:13']\n", "unknown key 'target' in [tool.exportlint]; did you mean 'targets'?"),
    ("[tool.exportlint]\nper_file_ignores = {}\n", "did you mean 'per-file-ignores'?"),
    ("[tool.exportlint]\nwhatever = 1\n", "unknown key 'whatever' in [tool.exportlint]; valid keys: targets,"),
    ("[tool.exportlint]\ntargets = 'onnx:13'\n", "targets must be a list of strings, got 'onnx:13'"),
    ("[tool.exportlint]\ntargets = ['onnx:99']\n", "targets: unknown target 'onnx:99'"),
    ("[tool.exportlint]\nselect = ['E501']\n", "select 'E501' is not a rule code or prefix"),
    ("[tool.exportlint]\nselect = ['EXL-101']\n", "select 'EXL-101' is not a rule code or prefix"),
    ("[tool.exportlint]\nselect = ['EXL9']\n", "select 'EXL9' matches no rule"),
    ("[tool.exportlint]\nignore = ['FOO1']\n", "ignore 'FOO1' is not a rule code or prefix"),
    ("[tool.exportlint]\nper-file-ignores = {'t/*' = ['EXL9']}\n", "per-file-ignores.'t/*' 'EXL9' matches no rule"),
    ("[tool.exportlint]\ntargets = []\n", "targets: no target given"),
    ("[tool.exportlint]\ntrain = 'yes'\n", "train must be a boolean, got 'yes'"),
    ("[tool.exportlint]\nmean = [0.5]\n", "mean and std go together"),
    ("[tool.exportlint]\nmean = [0.5, 1]\nstd = ['a', 'b']\n", "std must be a non-empty list of numbers"),
    ("[[tool.exportlint.models]]\ninput-shapes = ['1,3']\n", "#1 needs a 'spec'"),
    ("[[tool.exportlint.models]]\nspec = 'a:b'\ninput_shape = ['1,3']\n", "did you mean 'input-shapes'?"),
    ("[[tool.exportlint.models]]\nspec = 'a:b'\ndynamic = ['0']\n", "dynamic '0': expected IN:DIM"),
    ("[tool.exportlint\n", "cannot read"),
])
def test_bad_config_is_a_one_line_usage_error(tmp_path, config, message):
    path = tmp_path / "pyproject.toml"
    path.write_text(config)
    with pytest.raises(UsageError) as err:
        load_config(path)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith(str(path))


MODEL = '''\
import torch


class Gate(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return torch.relu(x)
        return x * 2


def build():
    return Gate(), (torch.ones(2, 3),)
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "models").mkdir()
    (root / "models" / "gate.py").write_text(MODEL)
    _project(root, """\
        [tool.exportlint]
        targets = ["onnx:17"]

        [[tool.exportlint.models]]
        spec = "models/gate.py:build"
        input-shapes = ["4,5"]
    """)
    return root


def test_check_without_spec_runs_the_configured_models(project):
    result = run_cli("check", "--format", "json", cwd=project)
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    (model,) = doc["models"]
    assert model["model"] == "models/gate.py:build"
    assert [t["target"] for t in model["targets"]] == ["onnx:17"]  # the config's target
    assert "EXL001" in [f["code"] for f in doc["findings"] if f["severity"] == "error"]
    # the command line overrides: --target and --select replace the config's, --ignore adds to its list
    result = run_cli("check", "models/gate.py:build", "--target", "coreml:iOS16", "--select", "EXL0",
                     "--ignore", "EXL001", "--format", "json", cwd=project)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [t["target"] for t in doc["models"][0]["targets"]] == ["coreml:iOS16"]


def test_no_spec_and_no_models_is_a_usage_error(tmp_path):
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 2 and "no SPEC given" in result.stderr
    _project(tmp_path, "[tool.exportlint]\ntargetz = []\n")
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 2 and "did you mean 'targets'?" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_command_line_overrides_the_config(tmp_path):
    from exportlint.cli import _options, _parser

    path = _project(tmp_path, """\
        [tool.exportlint]
        targets = ["onnx:13"]
        select = ["EXL1"]
        ignore = ["EXL102"]
        mean = [0.5]
        std = [0.25]
    """)
    config = load_config(path)
    args = _parser().parse_args(["check", "m.py:build", "--ignore", "EXL101", "--mean", "0.1", "--std", "0.2"])
    opts = _options(args, config)
    assert opts.targets == [parse_target("onnx:13")] and opts.select == ["EXL1"]
    assert opts.ignore == ["EXL102", "EXL101"] and (opts.mean, opts.std) == ((0.1,), (0.2,))
    args = _parser().parse_args(["check", "m.py:build", "-t", "tflite", "--select", "EXL2"])
    opts = _options(args, config)
    assert opts.targets == [parse_target("tflite")] and opts.select == ["EXL2"] and opts.mean == (0.5,)


def test_with_models_captures_the_configured_models_of_changed_files(project):
    """The pre-commit form: `exportlint check --with-models CHANGED.py` adds the models defined there."""
    (project / "models" / "other.py").write_text("import torch\n")
    result = run_cli("check", "--with-models", "models/gate.py", "models/other.py", "--format", "json",
                     cwd=project)
    doc = json.loads(result.stdout)
    assert [m["model"] for m in doc["models"]] == ["models/gate.py", "models/other.py", "models/gate.py:build"]
    result = run_cli("check", "--with-models", "models/other.py", "--format", "json", cwd=project)
    assert [m["model"] for m in json.loads(result.stdout)["models"]] == ["models/other.py"]


def test_lower_case_codes_are_read_as_on_the_command_line(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.exportlint]\nselect = ['exl1']\nper-file-ignores = {'t/*' = ['exl501']}\n")
    cfg = load_config(path)
    assert cfg.select == ["EXL1"] and cfg.per_file_ignores[0].codes == ("EXL501",)
