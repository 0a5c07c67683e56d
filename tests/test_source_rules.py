"""The source-only pass: every source rule's examples, alias resolution, isolation, and no torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from exportlint.options import Options
from exportlint.engine.registry import all_rules
from exportlint.errors import UsageError
from exportlint.source import check_files
from exportlint.source.rule import SourceRule
from exportlint.source.walker import check_source, source_rules

SOURCE_RULES = source_rules()
EXAMPLES = [
    (rule, example, kind)
    for rule in SOURCE_RULES
    for kind in ("invalid", "valid")
    for example in getattr(rule, kind)
]


def test_every_source_rule_is_registered_with_source_examples():
    codes = [r.code for r in SOURCE_RULES]
    assert codes == sorted(codes) and all(c.startswith("EXL5") for c in codes)
    assert {c for c, r in all_rules().items() if issubclass(r, SourceRule)} == set(codes)
    for rule in SOURCE_RULES:
        assert rule.source_only
        assert all(e.source for e in rule.invalid + rule.valid), rule.code


@pytest.mark.parametrize(
    "rule, example, kind", EXAMPLES, ids=[f"{r.code}-{k}-{i}" for i, (r, _, k) in enumerate(EXAMPLES)]
)
def test_source_rule_examples(rule, example, kind):
    # All rules run together, as in a real run: a rule must not depend on running alone.
    findings = check_source(example.source.encode(), "<example>", SOURCE_RULES).findings
    assert not [f for f in findings if f.code == "EXL000"], findings
    lines = {f.location.line for f in findings if f.code == rule.code}
    _, expected = example.expected_lines(rule.code)
    if kind == "valid":
        assert not lines, f"{rule.code} fired on a valid example at lines {sorted(lines)}"
    else:
        assert expected, f"an invalid example of {rule.code} marks no `# expect:` line"
        assert lines == expected


def _check(tmp_path: Path, code: str, name: str = "model.py", **options) -> list:
    path = tmp_path / name
    path.write_text(textwrap.dedent(code))
    return check_files([path], Options(**options))


@pytest.mark.parametrize(
    "imports, call",
    [
        ("import torch.nn.functional as F", "F.hardsigmoid(x)"),
        ("from torch.nn import functional", "functional.hardsigmoid(x)"),
        ("from torch.nn import functional as fn", "fn.hardsigmoid(x)"),
        ("import torch", "torch.nn.functional.hardsigmoid(x)"),
        ("from torch import nn", "nn.functional.hardsigmoid(x)"),
        ("from torch.nn.functional import hardsigmoid as hs", "hs(x)"),
        ("from torch import nn", "nn.Hardsigmoid()(x)"),
        ("import torch.nn as tnn", "tnn.modules.activation.Hardsigmoid()(x)"),
    ],
)
def test_import_aliases_resolve(tmp_path, imports, call):
    findings = _check(tmp_path, f"{imports}\n\ndef f(x):\n    return {call}\n")
    assert [(f.code, f.location.line, f.location.column) for f in findings] == [("EXL501", 4, 12)]


def test_lookalikes_that_are_not_torch_are_not_flagged(tmp_path):
    findings = _check(tmp_path, """\
        import torch
        import mylib as F

        def hardsigmoid(x):  # a local function, not torch's
            return x

        def f(x):
            return F.hardsigmoid(x) + hardsigmoid(x)
        """)
    assert findings == []


def test_finding_fields_and_fix_marks(tmp_path):
    (finding,) = _check(tmp_path, "import torch\nfrom torch import nn\ngate = nn.Hardsigmoid()\n")
    assert finding.model == str(tmp_path / "model.py") and finding.target is None
    assert str(finding.location) == f"{tmp_path / 'model.py'}:3:8"
    assert finding.fixable and finding.fix.applicability.value == "unsafe"
    (display,) = _check(tmp_path, """\
        import torch
        from torch.nn.utils.rnn import pack_sequence
        class M(torch.nn.Module):
            def forward(self, xs):
                return pack_sequence(xs)
        """)
    assert display.code == "EXL503" and display.fix is not None and not display.fixable


def test_files_without_torch_are_not_parsed(tmp_path):
    # Invalid Python, but no "torch": skipped before parsing, so no EXL500.
    assert _check(tmp_path, "def broken(:\n    pass\n") == []


def test_unparsable_file_is_a_finding_at_the_error(tmp_path):
    findings = _check(tmp_path, "import torch\n\nx = (1 +\ndef f(:\n")
    assert [f.code for f in findings] == ["EXL500"]
    assert findings[0].location.line >= 3 and "cannot parse" in findings[0].message


def test_crashing_rule_becomes_a_finding_and_others_run(tmp_path):
    class Exploding(SourceRule):
        code, slug, summary = "EXL599", "exploding-test-rule", "test only"

        def visit_Call(self, node):
            raise KeyError("boom")

    try:
        path = tmp_path / "m.py"
        path.write_text("import torch\nfrom torch import nn\na = nn.Mish()\nb = nn.SELU()\n")
        findings = check_source(path.read_bytes(), str(path), [*SOURCE_RULES, Exploding]).findings
    finally:
        Exploding.code = None  # unregister from the discovery walk (registry looks at `code`)
    crashes = [f for f in findings if f.code == "EXL000"]
    assert len(crashes) == 1 and "EXL599" in crashes[0].message and "KeyError" in crashes[0].message
    assert [f.location.line for f in findings if f.code == "EXL501"] == [3, 4]


def test_select_and_ignore(tmp_path):
    code = "import torch\nfrom torch import nn\na = nn.Mish()\nb = torch.zeros(1).double()\n"
    assert {f.code for f in _check(tmp_path, code)} == {"EXL501", "EXL505"}
    assert {f.code for f in _check(tmp_path, code, select=["EXL505"])} == {"EXL505"}
    assert {f.code for f in _check(tmp_path, code, ignore=["EXL50"])} == set()


def test_directories_are_walked_and_missing_paths_are_usage_errors(tmp_path):
    (tmp_path / "pkg" / ".hidden").mkdir(parents=True)
    (tmp_path / "pkg" / "a.py").write_text("import torch\nx = torch.float64\n")
    (tmp_path / "pkg" / ".hidden" / "b.py").write_text("import torch\nx = torch.float64\n")
    (tmp_path / "pkg" / "notes.txt").write_text("torch.float64\n")
    findings = check_files([tmp_path / "pkg"], Options())
    assert [Path(f.location.path).name for f in findings] == ["a.py"]
    with pytest.raises(UsageError, match="no such file"):
        check_files([tmp_path / "missing.py"], Options())


def test_training_only_branches_are_not_exported(tmp_path):
    findings = _check(tmp_path, """\
        import torch
        class M(torch.nn.Module):
            def forward(self, x):
                if not torch.onnx.is_in_onnx_export():
                    print(x.sum().item())
                if torch.jit.is_scripting():
                    pass
                else:
                    y = x.tolist()  # traced: the else of is_scripting
                return x
        """)
    assert [(f.code, f.location.line) for f in findings] == [("EXL504", 9)]


def test_source_pass_imports_no_framework(tmp_path):
    """A source-only run must not import torch, tensorflow or networkx (they cost seconds)."""
    path = tmp_path / "m.py"
    path.write_text("import torch\nimport torch.nn.functional as F\ny = F.hardsigmoid(torch.ones(1))\n")
    script = (
        "import sys; from pathlib import Path\n"
        "from exportlint.source import check_files, fix_files\n"
        f"assert check_files([Path({str(path)!r})])\n"
        f"fix_files([Path({str(path)!r})], unsafe=True, diff=True)\n"
        "print(sorted(m for m in ('torch', 'tensorflow', 'networkx', 'numpy', 'onnx')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_exit_codes_on_source_files(tmp_path, capsys):
    """`exportlint check|fix FILE.py`: 0 clean, 1 findings (or changes with fix --diff), 2 usage."""
    from exportlint.cli import main

    clean, bad = tmp_path / "clean.py", tmp_path / "bad.py"
    clean.write_text("import torch\nx = torch.ones(2)\n")
    bad.write_text("import torch\nx = torch.ones(2, 3)\ny = x.view(x.size(0), -1)\n")
    assert main(["check", str(clean)]) == 0
    assert main(["check", str(clean), str(bad)]) == 1
    assert f"{bad}:3:5: EXL502 [*] " in capsys.readouterr().out
    assert main(["check", str(tmp_path / "missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["fix", "--diff", str(bad)]) == 1 and "+y = torch.flatten(x, 1)" in capsys.readouterr().out
    assert main(["fix", str(bad)]) == 0 and main(["check", str(bad)]) == 0


def _modules_after(script: str) -> list[str]:
    probe = "; import sys; print(sorted(m for m in ('libcst', 'torch', 'networkx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", script + probe], capture_output=True, text=True, check=True)
    return eval(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("script", [
    "from exportlint.engine.registry import all_rules; all_rules()",
    "from exportlint.cli import main; main(['explain', 'EXL501'])",
    "from exportlint.cli import main; main(['rules'])",
])
def test_registry_and_rule_docs_do_not_import_libcst(script):
    assert _modules_after(script) == []


def test_libcst_is_imported_only_for_files_a_rule_may_match(tmp_path):
    plain = tmp_path / "plain.py"
    plain.write_text("import torch\n\n\ndef make(n):\n    return torch.zeros(n)\n")
    matched = tmp_path / "matched.py"
    matched.write_text("import torch\nx = torch.zeros(2).double()\n")
    run = "from exportlint.cli import main; main(['check', {!r}])"
    assert _modules_after(run.format(str(plain))) == []
    assert _modules_after(run.format(str(matched))) == ["libcst"]


@pytest.mark.parametrize("rule", [r for r in SOURCE_RULES if r.code != "EXL500"], ids=lambda r: r.code)
def test_needles_let_every_flagged_example_through(rule):
    """The byte prefilter must not miss: each rule's flagged examples contain its needles."""
    assert rule.needles, f"{rule.code} declares no needles: it would never run"
    for example in rule.invalid:
        assert rule.wants(example.source.encode()), example.source


def test_files_no_rule_matches_are_still_syntax_checked(tmp_path):
    findings = _check(tmp_path, "import torch\n\ndef f(x:\n    return x\n")
    assert [(f.code, f.location.line) for f in findings] == [("EXL500", 3)]
    assert _check(tmp_path, "import torch\n\ndef f(x:\n    return x\n", ignore=["EXL500"]) == []


def test_activation_formulas_match_pytorch():
    """The shared activation table's replacements compute the activation: bit-identical when
    marked exact (EXL501's safe rewrite relies on it), within rounding otherwise."""
    import torch
    import torch.nn.functional as F

    from exportlint.checks.exotic_activations import ACTIVATIONS

    x = torch.randn(100_000) * 5
    args = {"alpha": 2.0, "min_val": -0.5, "max_val": 4.0}
    for activation in ACTIVATIONS.values():
        function = getattr(F, activation.function)
        used = {k: v for k, v in args.items() if k in activation.same}
        expected = function(x, *used.values())
        got = eval(activation.same, {"torch": torch, "F": F, "x": x, **used})
        if activation.exact:
            assert torch.equal(got, expected), activation.function
        else:
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_hardtanh_bounds_agree_with_the_graph_rule(tmp_path):
    """EXL501 and EXL302 share the table: ReLU6-style Hardtanh(0, 6) passes both."""
    findings = _check(tmp_path, """\
        import torch
        from torch import nn
        import torch.nn.functional as F
        a = nn.Hardtanh(0, 6)
        b = F.hardtanh(torch.ones(1), 0.0, 1.0)
        c = nn.Hardtanh(min_val=0.0, max_val=4.0)
        d = nn.Hardtanh(lo, hi)
        e = F.softsign(torch.ones(1))
        """)
    assert [(f.code, f.location.line) for f in findings] == [("EXL501", 6), ("EXL501", 7)]
    assert "Core ML" not in findings[0].message and "torch.clamp(x, min_val, max_val)" in findings[0].message


@pytest.mark.parametrize("before, after", [
    ("y = F.hardsigmoid(x)", "y = torch.clamp(x + 3, 0, 6) / 6"),
    ("y = F.hardsigmoid(input=x, inplace=False)", "y = torch.clamp(x + 3, 0, 6) / 6"),
    ("y = F.hardsigmoid(a - b)", "y = torch.clamp(a - b + 3, 0, 6) / 6"),
    ("y = F.hardsigmoid(a << b)", "y = torch.clamp((a << b) + 3, 0, 6) / 6"),
    ("y = F.hardsigmoid(x) + 1", "y = torch.clamp(x + 3, 0, 6) / 6 + 1"),
    ("y = w * F.hardsigmoid(x)", "y = w * (torch.clamp(x + 3, 0, 6) / 6)"),
    ("y = F.hardsigmoid(x) ** 2", "y = (torch.clamp(x + 3, 0, 6) / 6) ** 2"),
    ("y = -F.hardsigmoid(x)", "y = -(torch.clamp(x + 3, 0, 6) / 6)"),
    ("y = F.hardsigmoid(x).sum()", "y = (torch.clamp(x + 3, 0, 6) / 6).sum()"),
    ("y = f(F.hardsigmoid(x), 1)", "y = f(torch.clamp(x + 3, 0, 6) / 6, 1)"),
])
def test_exact_hardsigmoid_rewrite_keeps_precedence(tmp_path, before, after):
    from exportlint.source import fix_files

    path = tmp_path / "m.py"
    path.write_text(f"import torch\nimport torch.nn.functional as F\n{before}\n")
    report = fix_files([path])
    assert [f.applicability.value for f in report.applied] == ["safe"]
    assert path.read_text().splitlines()[-1] == after


def test_hardsigmoid_rewrite_safety(tmp_path):
    from exportlint.engine.rule import Applicability

    findings = _check(tmp_path, """\
        import torch
        from torch import nn
        import torch.nn.functional as F
        a = F.hardsigmoid(x, inplace=True)
        b = F.hardsigmoid(*xs)
        c = nn.Hardsigmoid()
        """)
    assert [f.fix and f.fix.applicability for f in findings] == [
        Applicability.UNSAFE, None, Applicability.UNSAFE]
    assert "in place" in findings[0].fix.description and "no module" in findings[2].fix.description
    # without `import torch` the exact form cannot be written
    (finding,) = _check(tmp_path, "import torch.nn.functional as F\ny = F.hardsigmoid(x)\n")
    assert finding.fix is None
