"""End to end with the real `pre-commit`: a commit fails on a finding, passes after the fix hook.

The hooks repository is a temporary git copy of this repo's `.pre-commit-hooks.yaml` with the same
ids, names and file types, but `language: system` running this interpreter: `language: python`
would make pre-commit build a venv and pip-install exportlint and its dependencies from an index,
which needs the network and minutes. What the hooks run is otherwise the same.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PRE_COMMIT = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
COMMAND = str(Path(sys.executable).parent / "exportlint")  # the hooks' `entry`

pytestmark = pytest.mark.skipif(
    PRE_COMMIT is None or shutil.which("git") is None, reason="needs git and pre-commit"
)


def _git(cwd: Path, *args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=check, timeout=300)


@pytest.fixture
def env(tmp_path) -> dict:
    (tmp_path / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n")
    return {
        **os.environ,
        "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"),
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def _hooks_repo(tmp_path: Path, env: dict) -> tuple[Path, str]:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"exportlint", "exportlint-fix"}
    for hook in hooks:
        assert hook["language"] == "python" and hook["types"] == ["python"]
        command = hook["entry"].split()
        assert command[0] == "exportlint" and command[1] in ("check", "fix")
        hook.update(language="system", entry=f"{COMMAND} {command[1]}")
    repo = tmp_path / "hooks"
    repo.mkdir()
    (repo / ".pre-commit-hooks.yaml").write_text(yaml.safe_dump(hooks))
    _git(repo, "init", "-q", env=env)
    _git(repo, "add", ".", env=env)
    _git(repo, "commit", "-qm", "hooks", env=env)
    return repo, _git(repo, "rev-parse", "HEAD", env=env).stdout.strip()


MODEL = """\
import torch
import torch.nn.functional as F


class Head(torch.nn.Module):
    def forward(self, x):
        x = F.avg_pool2d(x, x.size()[2:])
        return x.view(x.size(0), -1)  # flatten
"""


def _project(tmp_path: Path, env: dict, files: dict[str, str], config: str | None = None) -> Path:
    """A git project using both hooks at the hooks repository's commit (or by `config`, where the
    hooks repository is `{hooks}`), with `files` staged."""
    hooks, rev = _hooks_repo(tmp_path, env)
    project = tmp_path / "project"
    project.mkdir()
    _git(project, "init", "-q", env=env)
    config = config or (f"repos:\n- repo: {{hooks}}\n  rev: {rev}\n"
                        "  hooks:\n  - id: exportlint\n  - id: exportlint-fix\n")
    (project / ".pre-commit-config.yaml").write_text(config.replace("{hooks}", str(hooks)))
    for name, text in files.items():
        (project / name).write_text(text)
    subprocess.run([PRE_COMMIT, "install"], cwd=project, env=env, check=True, capture_output=True)
    _git(project, "add", ".", env=env)
    return project


def test_commit_fails_with_the_finding_then_passes_after_the_fix(tmp_path, env):
    project = _project(tmp_path, env, {"model.py": MODEL,
                                       "README.md": "torch.float64 here is not Python: not checked\n"})

    first = _git(project, "commit", "-m", "add model", env=env, check=False)
    output = first.stdout + first.stderr
    assert first.returncode != 0, output
    assert "model.py:7:13: EXL502 [*]" in output and "model.py:8:16: EXL502 [*]" in output
    assert "files were modified by this hook" in output  # the fix hook rewrote model.py
    fixed = (project / "model.py").read_text()
    assert "F.adaptive_avg_pool2d(x, 1)" in fixed and "torch.flatten(x, 1)  # flatten" in fixed

    _git(project, "add", "model.py", env=env)
    second = _git(project, "commit", "-m", "add model", env=env, check=False)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "exportlint (source-only export checks)...." in second.stdout + second.stderr
    assert _git(project, "log", "--oneline", env=env).stdout.count("\n") == 1


def test_a_suppressed_line_passes_both_hooks_untouched(tmp_path, env):
    """The fix hook honours `# exportlint: ignore[...]` as the check hook does: no rewrite of the line,
    hence no EXL002 (unused suppression) from the check hook, and the commit goes through."""
    model = MODEL.replace("x.size()[2:])", "x.size()[2:])  # exportlint: ignore[EXL502]").replace(
        "        return x.view(x.size(0), -1)  # flatten\n",
        "        x = torch.nn.functional.hardsigmoid(x)  # exportlint: ignore[EXL501]\n"
        "        return torch.nn.SELU()(x)  # exportlint: ignore[EXL501]\n")
    project = _project(tmp_path, env, {"model.py": model})
    done = _git(project, "commit", "-m", "add model", env=env, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (project / "model.py").read_text() == model


def test_the_documented_setup_works_as_written(tmp_path, env):
    """docs/pre-commit.md's YAML (the repository URL aside) and its `pre-commit autoupdate` step:
    `rev: main` is pinned to a commit, then the hooks run on a commit."""
    import re

    doc = (ROOT / "docs" / "pre-commit.md").read_text()
    setup = doc[doc.index("## Setup"):doc.index("## What the hooks check")]
    yaml_block = textwrap.dedent(re.search(r"```yaml\n(.*?)```", setup, re.S)[1])
    config = yaml_block.replace("https://github.com/<org>/exportlint", "{hooks}")
    project = _project(tmp_path, env, {"model.py": MODEL}, config=config)
    for step in ("as written", "after autoupdate"):
        run = subprocess.run([PRE_COMMIT, "run", "--all-files"], cwd=project, env=env, capture_output=True,
                             text=True, timeout=300)
        assert run.returncode == 1 and "model.py:7:13: EXL502 [*]" in run.stdout, (step, run.stdout + run.stderr)
        (project / "model.py").write_text(MODEL)  # undo the fix hook's rewrite
        if step == "as written":
            assert "pre-commit autoupdate" in setup
            subprocess.run([PRE_COMMIT, "autoupdate"], cwd=project, env=env, check=True, capture_output=True)
            assert re.search(r"rev: [0-9a-f]{40}\b", (project / ".pre-commit-config.yaml").read_text())
