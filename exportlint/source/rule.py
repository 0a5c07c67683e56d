"""The base of source-only rules: LibCST hooks over one parsed file, with no torch import.

A `SourceRule` defines LibCST-style hooks (`visit_Call`, `leave_If`, `visit_If_body`, ...) that the
walker batches into one traversal per file. A hook reports with `self.report(node, ...)`; a fixable
finding also passes `rewrite`, a function from the (already rewritten) node to its replacement, so that
the detection and the fix share one pattern.

This module and the rule modules import without LibCST (`cst` is imported at its first use, in a
hook): the registry, `exportlint rules|explain` and a run over files that no rule's `needles` match
never pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Callable, ClassVar, Iterator, Mapping

from exportlint.engine.rule import Finding, Fix, Rule, Severity
from exportlint.ir import Location
from exportlint.source.lazy import cst, cst_metadata

if TYPE_CHECKING:
    from libcst.metadata import CodeRange, MetadataWrapper

Rewrite = Callable[["cst.CSTNode"], "cst.CSTNode"]

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
        self.ancestors: list[cst.CSTNode] = []  # of the node a hook sees, innermost last
        self.functions: list[str] = []  # names of the enclosing defs, outermost first
        self.excluded = 0  # depth of branches an exporter does not trace (`if self.training:`)
        self.imports: dict[str, set[str]] = {}  # name bound by the imports seen so far -> what it names
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

    # Positions are resolved on first use (a code-generation pass): most files have no finding.
    @cached_property
    def _positions(self) -> Mapping[cst.CSTNode, CodeRange]:
        return self._wrapper.resolve(cst_metadata.PositionProvider)

    def bind(self, node: cst.Import | cst.ImportFrom) -> None:
        """Record the names an import binds: `import torch.nn as nn` binds `nn` to `torch.nn`,
        `import torch.nn` binds `torch`, `from torch.nn import functional as F` binds `F` to
        `torch.nn.functional`. Relative and star imports bind nothing that resolves to torch."""
        if isinstance(node, cst.Import):
            for alias in node.names:
                name = dotted(alias.name)
                if alias.asname is not None:
                    self.imports.setdefault(dotted(alias.asname.name), set()).add(name)
                else:
                    root = name.partition(".")[0]
                    self.imports.setdefault(root, set()).add(root)
        elif not node.relative and node.module is not None and not isinstance(node.names, cst.ImportStar):
            module = dotted(node.module)
            for alias in node.names:
                bound = alias.asname.name if alias.asname is not None else alias.name
                self.imports.setdefault(dotted(bound), set()).add(f"{module}.{dotted(alias.name)}")

    def resolve(self, node: cst.CSTNode, candidates: frozenset[str]) -> set[str]:
        """Those of `candidates` that `node`, a name or attribute chain, names through the imports
        seen so far: `F.hardsigmoid` is `torch.nn.functional.hardsigmoid` after
        `import torch.nn.functional as F`. A syntactic resolution (no scope analysis, which would
        cost more than the rest of the pass): a local that shadows an imported name is not seen."""
        name = dotted(node)
        if name is None:
            return set()
        root, _, rest = name.partition(".")
        targets = self.imports.get(root)
        if not targets:
            return set()
        return {f"{t}.{rest}" if rest else t for t in targets} & candidates

    def location(self, node: cst.CSTNode) -> Location:
        start = self._positions[node].start
        return Location(self.path, start.line, start.column + 1)

    @property
    def parent(self) -> cst.CSTNode | None:
        return self.ancestors[-1] if self.ancestors else None

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
    """A rule over source text: LibCST hooks, run by `exportlint.source.check_files`.

    `needles` are byte strings the pattern cannot match without (any one of them): a file is parsed
    only when one of them occurs for some selected rule (and `b"forward"` too for `forward_only`
    rules). They must not miss: the generic test runs every rule's flagged examples through them.
    """

    source_only: ClassVar[bool] = True
    needles: ClassVar[tuple[bytes, ...]] = ()
    forward_only: ClassVar[bool] = False  # flags code in `forward` only

    @classmethod
    def wants(cls, data: bytes) -> bool:
        """Whether `data` (a file's bytes) may hold this rule's pattern: cheap, before parsing."""
        return (not cls.forward_only or b"forward" in data) and any(n in data for n in cls.needles)

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


def needs_parentheses(parent: cst.CSTNode | None, node: cst.CSTNode) -> bool:
    """Whether `node`, replaced by a division `a / b`, needs parentheses to keep its meaning in `parent`."""
    if isinstance(parent, cst.BinaryOperation):  # `a / b * y` is `(a / b) * y`; `y * a / b` is not
        return parent.left is not node or isinstance(parent.operator, cst.Power)
    return (
        isinstance(parent, (cst.UnaryOperation, cst.Await))
        or isinstance(parent, (cst.Attribute, cst.Subscript)) and parent.value is node
        or isinstance(parent, cst.Call) and parent.func is node
    )


def sum_operand(node: cst.BaseExpression) -> cst.BaseExpression:
    """`node` as the left operand of `+`: in parentheses unless it binds at least as tightly."""
    tight = node.lpar or isinstance(
        node, (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float, cst.Await)
    ) or (
        isinstance(node, cst.UnaryOperation) and not isinstance(node.operator, cst.Not)
    ) or (
        isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (
            cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo,
            cst.MatrixMultiply, cst.Power))
    )
    return node if tight else node.with_changes(lpar=(cst.LeftParen(),), rpar=(cst.RightParen(),))


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
