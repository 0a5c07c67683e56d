"""The base of source-only rules: LibCST hooks over one parsed file, with no torch import.

A `SourceRule` defines LibCST-style hooks (`visit_Call`, `leave_If`, `visit_If_body`, ...) that the
walker batches into one traversal per file. A hook reports with `self.report(node, ...)`; a fixable
finding also passes `rewrite`, a function from the (already rewritten) node to its replacement, so that
the detection and the fix share one pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from typing import Callable, ClassVar, Iterator, Mapping

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider, QualifiedNameProvider

from exportlint.engine.rule import Finding, Fix, Rule, Severity
from exportlint.ir import Location

Rewrite = Callable[[cst.CSTNode], cst.CSTNode]

# Calls whose truth says "this branch is traced by an exporter" (the other branch is not).
_EXPORTING = frozenset(
    {"torch.onnx.is_in_onnx_export", "torch.compiler.is_exporting", "torch.jit.is_tracing"}
)
_SCRIPTING = frozenset({"torch.jit.is_scripting"})


@dataclass(frozen=True)
class Edit:
    """A fix attached to a finding: replace `node` (of the unit's tree) by `rewrite(node)`."""

    finding: Finding
    node: cst.CSTNode
    rewrite: Rewrite


class SourceUnit:
    """One parsed file, plus where the walk currently is (in `forward`? in a training-only branch?)."""

    def __init__(self, path: str, wrapper: MetadataWrapper):
        self.path = path
        self.module = wrapper.module
        self._wrapper = wrapper
        self.functions: list[str] = []  # names of the enclosing defs, outermost first
        self.excluded = 0  # depth of branches an exporter does not trace (`if self.training:`)
        self.imported: set[str] = set()  # names bound by the imports seen so far
        self.renamed: set[str] = set()  # those bound with `as`
        self.findings: list[Finding] = []
        self.edits: list[Edit] = []
        self.imports_torch = any(
            isinstance(stmt, cst.SimpleStatementLine)
            and any(
                isinstance(s, cst.Import)
                and any(a.asname is None and dotted(a.name) == "torch" for a in s.names)
                for s in stmt.body
            )
            for stmt in self.module.body
        )

    # Metadata is resolved on first use: most files have no candidate node, and each provider costs
    # a traversal (scope analysis for qualified names, code generation for positions).
    @cached_property
    def _names(self) -> Mapping[cst.CSTNode, object]:
        return self._wrapper.resolve(QualifiedNameProvider)

    @cached_property
    def _positions(self) -> Mapping[cst.CSTNode, CodeRange]:
        return self._wrapper.resolve(PositionProvider)

    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        """Import-resolved names (`F.hardsigmoid` -> `torch.nn.functional.hardsigmoid`).

        Costs a scope analysis of the file on first use: call it after a cheap syntactic filter.
        """
        value = self._names.get(node, ())
        return {q.name for q in (value() if callable(value) else value)}

    def resolve(self, node: cst.CSTNode, candidates: frozenset[str]) -> set[str]:
        """Those of `candidates` that `node` names. Skips the scope analysis unless `node` is an
        imported name or an attribute chain from one, whose last name matches a candidate's or was
        renamed by `import ... as`."""
        root = node
        while isinstance(root, cst.Attribute):
            root = root.value
        if not isinstance(root, cst.Name) or root.value not in self.imported:
            return set()
        last = node.attr.value if isinstance(node, cst.Attribute) else root.value
        if last not in _tails(candidates) and not (root is node and last in self.renamed):
            return set()
        return self.qualified_names(node) & candidates

    def location(self, node: cst.CSTNode) -> Location:
        start = self._positions[node].start
        return Location(self.path, start.line, start.column + 1)

    @property
    def in_forward(self) -> bool:
        return "forward" in self.functions

    @property
    def exported(self) -> bool:
        """In `forward`, outside a branch that exporters do not trace."""
        return self.in_forward and self.excluded == 0

    def not_traced_when_true(self, test: cst.BaseExpression) -> bool:
        """`self.training`, `torch.jit.is_scripting()`, `not torch.onnx.is_in_onnx_export()`, `a and b`."""
        if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
            return self.not_traced_when_true(test.left) or self.not_traced_when_true(test.right)
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            return self.traced_only_when_true(test.expression)
        if isinstance(test, cst.Call):
            return bool(self.resolve(test.func, _SCRIPTING))
        return dotted(test) == "self.training"

    def traced_only_when_true(self, test: cst.BaseExpression) -> bool:
        """`not self.training`, `torch.onnx.is_in_onnx_export()`, `a or b`."""
        if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.Or):
            return self.traced_only_when_true(test.left) or self.traced_only_when_true(test.right)
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            return self.not_traced_when_true(test.expression)
        return isinstance(test, cst.Call) and bool(self.resolve(test.func, _EXPORTING))


class SourceRule(Rule):
    """A rule over source text: LibCST hooks, run by `exportlint.source.check_files`."""

    source_only: ClassVar[bool] = True

    def __init__(self, unit: SourceUnit):
        self.unit = unit

    def report(
        self,
        node: cst.CSTNode,
        message: str,
        *,
        fix: Fix | None = None,
        rewrite: Rewrite | None = None,
        severity: Severity | None = None,
    ) -> None:
        if rewrite is not None and _comments(rewrite(node)) != _comments(node):
            fix, rewrite = None, None  # never offer a fix that would drop a comment
        unit = self.unit
        finding = Finding(
            code=self.code,
            rule=self.slug,
            severity=severity or self.severity,
            message=message,
            model=unit.path,
            location=unit.location(node),
            fix=fix,
        )
        unit.findings.append(finding)
        if rewrite is not None:
            unit.edits.append(Edit(finding, node, rewrite))


# Syntactic helpers shared by the rules.


def dotted(node: cst.CSTNode) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


@cache
def _tails(names: frozenset[str]) -> frozenset[str]:
    return frozenset(n.rpartition(".")[2] for n in names)


def method_call(node: cst.CSTNode, *names: str) -> bool:
    """`<expr>.name(...)` for one of `names`."""
    return (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value in names
    )


def shape_of(node: cst.CSTNode) -> cst.BaseExpression | None:
    """The tensor `X` of `X.size()`, `X.size(i)`, `X.shape`, or a subscript of one of these."""
    if isinstance(node, cst.Subscript):
        node = node.value
    if method_call(node, "size"):
        return node.func.value
    if isinstance(node, cst.Attribute) and node.attr.value == "shape":
        return node.value
    return None


def mentions_shape(node: cst.CSTNode) -> bool:
    return shape_of(node) is not None or any(mentions_shape(c) for c in node.children)


def descendants(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    yield node
    for child in node.children:
        yield from descendants(child)


def _comments(node: cst.CSTNode) -> list[str]:
    return sorted(n.value for n in descendants(node) if isinstance(n, cst.Comment))


def argument(call: cst.Call, index: int, keyword: str) -> cst.Arg | None:
    """The argument at positional `index` or named `keyword`."""
    positional = [a for a in call.args if a.keyword is None and not a.star]
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg
    return positional[index] if index < len(positional) else None


def number(node: cst.CSTNode) -> float | None:
    """The value of a numeric literal such as `6`, `-1.0`, else None."""
    if isinstance(node, (cst.Integer, cst.Float)):
        return float(node.evaluated_value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = number(node.expression)
        return -inner if inner is not None else None
    return None
