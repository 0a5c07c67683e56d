"""The source-only pass: find the files, parse each once, run every source rule in one traversal."""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper

from exportlint.engine.rule import Finding
from exportlint.errors import UsageError
from exportlint.source.rule import SourceRule, SourceUnit

if TYPE_CHECKING:
    from exportlint.config import Options

_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "build", "dist"}


def python_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given, and `*.py` under directories (hidden and build directories skipped)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
                found.extend(Path(root, f) for f in sorted(files) if f.endswith(".py"))
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"no such file or directory: {path}")
    return found


def source_rules(options: "Options | None" = None) -> list[type[SourceRule]]:
    """The registry's source rules, after the options' select/ignore."""
    from exportlint.engine.registry import all_rules, select

    rules = {c: r for c, r in all_rules().items() if issubclass(r, SourceRule)}
    if options is None:
        return list(rules.values())
    return select(rules, options.select, options.ignore)


@dataclass
class Checked:
    """One file after the pass: its findings, the fixes they carry, and its tree (None: not parsed)."""

    findings: list[Finding]
    unit: SourceUnit | None = None


def check_source(data: bytes, path: str, rules: Sequence[type[SourceRule]]) -> Checked:
    """Parse `data` and run `rules`; a parse failure or a crashing rule becomes a finding."""
    from exportlint.checks.source_syntax import UnparsableSource

    try:
        module = cst.parse_module(data)
    except cst.ParserSyntaxError as exc:
        try:  # CPython's parser places the error more precisely than LibCST's
            compile(data, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        except SyntaxError as err:
            line, column, message = err.lineno or 1, err.offset or 1, err.msg
        else:
            line, column, message = exc.editor_line, exc.editor_column, exc.message
        return Checked([UnparsableSource.at(path, line, column, message)])
    except (UnicodeDecodeError, SyntaxError, RecursionError) as exc:
        return Checked([UnparsableSource.at(path, 1, 1, f"{type(exc).__name__}: {exc}")])
    unit = SourceUnit(path, MetadataWrapper(module, unsafe_skip_copy=True))
    module.visit(_Dispatch(unit, [rule(unit) for rule in rules]))
    return Checked(unit.findings, unit)


def check_file(path: Path, rules: Sequence[type[SourceRule]]) -> Checked:
    data = path.read_bytes()
    if b"torch" not in data:  # cheap before expensive: no parse for files without torch
        return Checked([])
    return check_source(data, str(path), rules)


def check_files(paths: list[Path], options: "Options | None" = None) -> list[Finding]:
    """Findings of the source rules over `paths` (files or directories), in file/line order."""
    from exportlint.engine.engine import _order

    rules = source_rules(options)
    findings: list[Finding] = []
    for path in python_files(paths):
        findings.extend(check_file(path, rules).findings)
    return sorted(findings, key=_order)


Hook = Callable[[cst.CSTNode], object]


class _Dispatch(cst.CSTVisitor):
    """One traversal for all rules: keeps the unit's position facts, calls each rule's hooks."""

    def __init__(self, unit: SourceUnit, rules: list[SourceRule]):
        super().__init__()
        self.unit = unit
        self.hooks: dict[str, list[tuple[SourceRule, Hook]]] = {}
        for rule in rules:
            for name in dir(type(rule)):
                if name.startswith(("visit_", "leave_")):
                    self.hooks.setdefault(name, []).append((rule, getattr(rule, name)))
        self.crashed: set[str] = set()
        self.block_exclusions: list[int] = []  # per open block: branches excluded by early returns

    def _run(self, name: str, node: cst.CSTNode) -> None:
        for rule, hook in self.hooks.get(name, ()):
            if rule.code in self.crashed:
                continue
            try:
                hook(node)
            except Exception as exc:  # noqa: BLE001 - one rule's bug must not stop the others
                self.crashed.add(rule.code)
                self.unit.findings.append(_crash(self.unit, rule, node, exc))

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.FunctionDef):
            self.unit.functions.append(node.name.value)
        elif isinstance(node, cst.IndentedBlock):
            self.block_exclusions.append(0)
        elif isinstance(node, cst.ImportAlias):
            bound = node.asname.name if node.asname else node.name
            while isinstance(bound, cst.Attribute):  # `import torch.nn` binds `torch`
                bound = bound.value
            name = cst.ensure_type(bound, cst.Name).value
            self.unit.imported.add(name)
            if node.asname:
                self.unit.renamed.add(name)
        self._run(f"visit_{type(node).__name__}", node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self._run(f"leave_{type(original_node).__name__}", original_node)
        unit = self.unit
        if isinstance(original_node, cst.FunctionDef):
            unit.functions.pop()
        elif isinstance(original_node, cst.IndentedBlock):
            unit.excluded -= self.block_exclusions.pop()
        elif (
            isinstance(original_node, cst.If)
            and self.block_exclusions
            and _early_exit(original_node)
            and unit.traced_only_when_true(original_node.test)
        ):  # `if not self.training: return ...`: the rest of the block is training-only
            self.block_exclusions[-1] += 1
            unit.excluded += 1

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        if isinstance(node, cst.If) and self._excludes(node, attribute):
            self.unit.excluded += 1
        self._run(f"visit_{type(node).__name__}_{attribute}", node)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        self._run(f"leave_{type(original_node).__name__}_{attribute}", original_node)
        if isinstance(original_node, cst.If) and self._excludes(original_node, attribute):
            self.unit.excluded -= 1

    def _excludes(self, node: cst.If, attribute: str) -> bool:
        if attribute == "body":
            return self.unit.not_traced_when_true(node.test)
        return attribute == "orelse" and self.unit.traced_only_when_true(node.test)


def _early_exit(node: cst.If) -> bool:
    """An `if` without `else` whose body ends in `return` or `raise`."""
    if node.orelse is not None or not isinstance(node.body, cst.IndentedBlock):
        return False
    last = node.body.body[-1] if node.body.body else None
    return isinstance(last, cst.SimpleStatementLine) and isinstance(
        last.body[-1], (cst.Return, cst.Raise)
    )


def _crash(unit: SourceUnit, rule: SourceRule, node: cst.CSTNode, exc: Exception) -> Finding:
    from exportlint.checks.internal import RuleCrashed

    detail = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return Finding(
        code=RuleCrashed.code,
        rule=RuleCrashed.slug,
        severity=RuleCrashed.severity,
        message=f"rule {rule.code} ({rule.slug}) crashed and was skipped: {detail}",
        model=unit.path,
        location=unit.location(node),
    )
