"""The LibCST side of the source pass: one traversal that runs every rule's hooks, and the
transformation that applies their rewrites. Imported only once a file is to be parsed."""

from __future__ import annotations

from typing import Callable, Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper

from exportlint.source.rule import Rewrite, SourceRule, SourceUnit

Hook = Callable[[cst.CSTNode], object]


def walk(module: cst.Module, path: str, rules: Sequence[type[SourceRule]]) -> SourceUnit:
    """Run `rules` over the parsed `module` of `path`: the unit holds the findings and edits."""
    unit = SourceUnit(path, MetadataWrapper(module, unsafe_skip_copy=True))
    module.visit(_Dispatch(unit, [rule(unit) for rule in rules]))
    return unit


def apply_rewrites(module: cst.Module, rewrites: dict[int, Rewrite]) -> cst.Module:
    """`module` with each node whose id is a key of `rewrites` replaced by its rewrite."""
    return module.visit(_Apply(rewrites))


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
                from exportlint.checks.internal import RuleCrashed

                self.crashed.add(rule.code)
                self.unit.findings.append(
                    RuleCrashed.at(self.unit.path, type(rule), exc, self.unit.location(node)))

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.FunctionDef):
            self.unit.functions.append(node.name.value)
        elif isinstance(node, cst.IndentedBlock):
            self.block_exclusions.append(0)
        self._run(f"visit_{type(node).__name__}", node)
        self.unit.ancestors.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        unit = self.unit
        unit.ancestors.pop()
        self._run(f"leave_{type(original_node).__name__}", original_node)
        if isinstance(original_node, (cst.Import, cst.ImportFrom)):
            unit.bind(original_node)  # after its names were visited: they are not uses
        elif isinstance(original_node, cst.FunctionDef):
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


class _Apply(cst.CSTTransformer):
    """Replaces each edited node (by identity in the checked tree) by its rewrite."""

    def __init__(self, rewrites: dict[int, Rewrite]):
        super().__init__()
        self.rewrites = rewrites

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> cst.CSTNode:
        rewrite = self.rewrites.get(id(original_node))
        return rewrite(updated_node) if rewrite else updated_node
