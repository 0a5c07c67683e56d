"""What a rule is: code, slug, severity, doc, examples and a check. One class = one rule."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Sequence

from exportlint.ir import Location, OpGraph, OpNode
from exportlint.targets import Target

if TYPE_CHECKING:
    from exportlint.options import Options


class Severity(str, Enum):
    ERROR = "error"  # blocks export to the target
    WARNING = "warning"  # exports, at a risk (wrong numbers for other sizes, slow path, ...)
    INFO = "info"


class Applicability(str, Enum):
    SAFE = "safe"  # keeps the meaning exactly; applied by default
    UNSAFE = "unsafe"  # may change the numbers; applied only with --unsafe-fixes
    DISPLAY = "display"  # a suggestion to read, never applied


@dataclass(frozen=True)
class Fix:
    applicability: Applicability
    description: str


@dataclass(frozen=True)
class Finding:
    code: str
    rule: str
    severity: Severity
    message: str
    model: str
    target: str | None = None  # None: every requested target
    op: str | None = None
    module: str | None = None
    location: Location | None = None
    node: str | None = None
    fix: Fix | None = None
    # The conversion paths (targets.ConversionPath names) the finding is about; () = every path.
    paths: tuple[str, ...] = ()
    # An error shown as a warning because another path of its target converts (`verdict.settle`).
    blocks: bool = False
    # Structured numbers behind the message, as (key, value) pairs (the JSON report's "data"), e.g. the
    # quantization summary's MAC and parameter shares.
    data: tuple[tuple[str, Any], ...] = ()

    @property
    def blocking(self) -> bool:
        """Stops the conversion paths it is about."""
        return self.blocks or self.severity is Severity.ERROR
    called_from: Location | None = None  # the user's line, when `location` is in a library

    @property
    def fixable(self) -> bool:
        return self.fix is not None and self.fix.applicability is not Applicability.DISPLAY


@dataclass(frozen=True)
class Example:
    """A failing or passing example run by the generic rule test.

    Graph rules: `build` returns `(module, example_inputs)`; lines that must carry a finding are marked
    with a trailing `# expect: CODE` comment. ONNX-dialect rules: `build` returns an `onnx.ModelProto`
    whose flagged nodes are named `expect_...`. Source rules: `source` is code text, marked like torch.
    """

    build: Callable[[], tuple[Any, tuple]] | None = None
    source: str | None = None
    targets: tuple[str, ...] = ("onnx:18",)
    options: dict[str, Any] = field(default_factory=dict)  # Options fields (dynamic dims, mean/std)

    def expected_lines(self, code: str) -> tuple[str, set[int]]:
        """(file, lines) marked `# expect: CODE` in the example's text."""
        marker = re.compile(rf"#\s*expect:.*\b{code}\b")
        if self.source is not None:
            lines, start, path = self.source.splitlines(), 1, "<example>"
        else:
            raw, start = inspect.getsourcelines(self.build)
            lines, path = raw, inspect.getsourcefile(self.build)
        return path, {start + i for i, text in enumerate(lines) if marker.search(text)}


DOC_SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "Fix safety")


@dataclass
class Context:
    """What a rule sees besides the graph: the requested targets and the run's options."""

    targets: Sequence[Target]
    options: "Options"
    # Paths decided by running the real translation or converter (`exportlint.decide.Decision`).
    decisions: list = field(default_factory=list)


class Rule:
    """Base of every rule. Subclasses set the class attributes and implement `check`.

    The class docstring is the rule's doc, with the sections in `DOC_SECTIONS` as `## Heading`s.
    """

    code: ClassVar[str]
    slug: ClassVar[str]
    summary: ClassVar[str]  # one line: what the rule flags
    severity: ClassVar[Severity] = Severity.ERROR  # default; a rule may choose per target
    fix: ClassVar[Applicability | None] = None  # strongest fix the rule offers, if any
    source_only: ClassVar[bool] = False  # runs on source text, without model execution
    invalid: ClassVar[tuple[Example, ...]] = ()
    valid: ClassVar[tuple[Example, ...]] = ()

    @classmethod
    def doc(cls) -> dict[str, str]:
        text = inspect.cleandoc(cls.__doc__ or "")
        parts = re.split(r"^## (.+)$", text, flags=re.M)
        return {title.strip(): body.strip() for title, body in zip(parts[1::2], parts[2::2])}

    def finding(
        self,
        graph: OpGraph,
        message: str,
        *,
        node: OpNode | None = None,
        target: Target | None = None,
        severity: Severity | None = None,
        location: Location | None = None,
        fix: Fix | None = None,
        paths: tuple[str, ...] = (),
        data: tuple[tuple[str, Any], ...] = (),
        called_from: Location | None = None,
    ) -> Finding:
        return Finding(
            code=self.code,
            rule=self.slug,
            severity=severity or self.severity,
            message=message,
            model=graph.model,
            target=str(target) if target is not None else None,
            op=node.op if node else None,
            module=node.module if node else None,
            location=location or (node.location if node else None),
            node=node.name if node else None,
            fix=fix,
            paths=paths,
            called_from=called_from or (node.call_site if node and location is None else None),
            data=data,
        )


class GraphRule(Rule):
    """A rule over a captured `OpGraph`."""

    dialects: ClassVar[tuple[str, ...]] = ("aten",)  # op dialects the rule understands
    # The source rule whose fix rewrites the construct this rule finds: a finding of this rule on a
    # line where that source rule offers a fix carries it (`[*]`, `exportlint fix FILE`).
    source_fix: ClassVar[str | None] = None

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        raise NotImplementedError
