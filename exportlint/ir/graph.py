"""The front-end neutral IR: a networkx multigraph of located operators.

Nodes are operators (plus graph inputs and outputs), edges are tensors. A node's data lives in one
typed `OpNode` stored under the node attribute `"op"`; an edge's tensor under `"tensor"`. Front ends
(torch, ONNX, TensorFlow) fill the same fields with their own op dialect.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True, order=True)
class Location:
    """A place in the user's source: 1-based line and column."""

    path: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


Dim = int | str  # a static size, or the name of a symbolic dimension ("s0", "batch")


@dataclass(frozen=True)
class TensorMeta:
    dtype: str | None = None  # "float32", "int64", ... (dialect-neutral names)
    shape: tuple[Dim, ...] | None = None

    @property
    def is_dynamic(self) -> bool:
        return self.shape is not None and any(isinstance(d, str) for d in self.shape)


class NodeKind(str, Enum):
    OP = "op"
    INPUT = "input"
    OUTPUT = "output"


@dataclass
class OpNode:
    """One operator of the captured graph.

    `op` is the qualified name in the front end's dialect: `aten.hardsigmoid.default` (torch),
    `ai.onnx::Resize` (ONNX), `tf.Unique` (TensorFlow).
    """

    name: str
    op: str
    dialect: str
    kind: NodeKind = NodeKind.OP
    args: dict[str, Any] = field(default_factory=dict)  # constant (non-tensor) arguments
    inputs: tuple[TensorMeta, ...] = ()
    outputs: tuple[TensorMeta, ...] = ()
    # Per tensor input (same order as `inputs`): True when the tensor is a parameter, buffer or lifted
    # constant, or computed from those alone (not from the user's inputs); False when it depends on a
    # user input. Empty when the front end does not say (torch.jit.trace, ONNX, TF graphs).
    const_inputs: tuple[bool, ...] = ()
    module: str | None = None  # module path, e.g. "backbone.features.3.act"
    module_type: str | None = None  # e.g. "torch.nn.modules.activation.Hardsigmoid"
    location: Location | None = None  # innermost frame in user code (or in a library: `call_site`)
    stack: tuple[Location, ...] = ()  # user frames, outermost first

    @property
    def call_site(self) -> Location | None:
        """The user's innermost line when `location` is in a library (transformers, timm), else None."""
        if self.location is None or not self.stack:
            return None
        inner = self.stack[-1]
        return None if (inner.path, inner.line) == (self.location.path, self.location.line) else inner

    @property
    def base_op(self) -> str:
        """The op without its overload: `aten.hardsigmoid.default` -> `aten.hardsigmoid`."""
        if self.dialect == "aten" and self.op.count(".") >= 2:
            return self.op.rsplit(".", 1)[0]
        return self.op


@dataclass
class HalfRun:
    """The captured program run on its example inputs in float16 beside float32, node by node
    (`exportlint.capture.fp16`, read by EXL602). Nodes by name."""

    overflow: tuple[str, str, int, float] | None = None  # first (node, "inf"|"NaN", values, largest |float32|)
    first_nan: str | None = None  # first node with NaN where float32 has none
    outputs_bad: bool = False  # an output has inf/NaN where float32's is finite
    drift: tuple[str, float] | None = None  # first (node, relative error) beyond the tolerance, before any overflow
    output_drift: float = 0.0  # largest relative error of an output


@dataclass
class SizeRun:
    """The model's torch calls at the captured input sizes against a pass at grown ones
    (`exportlint.capture.sizes`, read by EXL201): what changed with the size."""

    here: str  # the captured input sizes, "1x3x224x224"
    there: str  # the grown ones
    # A call run another number of times: (call, where, the user's call site of a library's line, times
    # here, times there).
    loop: tuple[str, Location | None, Location | None, int, int] | None = None
    # Calls whose int-like arguments changed: (call, where, call site, ((argument, here, there), ...)).
    changed: tuple[tuple[str, Location | None, Location | None, tuple[tuple[str, Any, Any], ...]], ...] = ()


@dataclass
class CaptureInfo:
    """How the graph was obtained, and why earlier methods failed."""

    method: str  # "torch.export(non-strict)", "torch.jit.trace", "onnx", ...
    ok: bool = True
    attempts: list[tuple[str, str]] = field(default_factory=list)  # (method, one-line failure)
    failure_location: Location | None = None  # user line of the first failure
    training: bool = False  # model was in training mode when captured
    specialized: dict[str, int] = field(default_factory=dict)  # dim requested dynamic -> frozen value
    specialization_location: dict[str, Location] = field(default_factory=dict)
    opsets: dict[str, int] = field(default_factory=dict)  # ONNX models: domain -> opset imported
    # The forward pass at the captured sizes against one with some input dims doubled: arguments that
    # differ were computed from input sizes and frozen at capture.
    sizes: SizeRun | None = None
    sizes_skipped: str | None = None  # why there is no pass at grown sizes
    # The program run in float16 beside float32, when a target computes in float16; or why it failed.
    fp16: HalfRun | None = None
    fp16_error: str | None = None
    # The broadcasting expand nodes litert-torch's layout pass transposes to NHWC, when a TFLite target is
    # checked (`exportlint.capture.litert_layout`); or why the pass could not run.
    litert_layout: tuple[str, ...] | None = None
    litert_layout_error: str | None = None
    # The model as the TorchScript conversion paths see it (torch.jit.trace), or why it failed.
    traced: "OpGraph | None" = None
    trace_error: str | None = None
    trace_failure_location: Location | None = None


class OpGraph:
    """A captured model: `nx.MultiDiGraph` of `OpNode`s plus capture facts.

    `by_op` indexes operator nodes by qualified op name once, so that rules that look at op kinds
    cost O(distinct ops) per target instead of O(nodes).
    """

    def __init__(self, model: str, dialect: str, capture: CaptureInfo, source: Any = None):
        import networkx  # lazily: the source-only path never builds a graph

        self.model = model
        self.dialect = dialect
        self.capture = capture
        self.nx: nx.MultiDiGraph = networkx.MultiDiGraph()
        self.source = source  # the front end's own object (ExportedProgram, ModelProto, ...)
        self._by_op: dict[str, list[OpNode]] | None = None

    def add_node(self, node: OpNode) -> OpNode:
        self.nx.add_node(node.name, op=node)
        self._by_op = None
        return node

    def add_edge(self, src: str, dst: str, tensor: TensorMeta, index: int = 0) -> None:
        self.nx.add_edge(src, dst, key=index, tensor=tensor)

    def node(self, name: str) -> OpNode:
        return self.nx.nodes[name]["op"]

    def nodes(self, kind: NodeKind | None = NodeKind.OP) -> Iterator[OpNode]:
        for _, data in self.nx.nodes(data="op"):
            if kind is None or data.kind is kind:
                yield data

    @property
    def by_op(self) -> dict[str, list[OpNode]]:
        if self._by_op is None:
            index: dict[str, list[OpNode]] = defaultdict(list)
            for node in self.nodes():
                index[node.op].append(node)
            self._by_op = dict(index)
        return self._by_op

    def inputs(self) -> list[OpNode]:
        return list(self.nodes(NodeKind.INPUT))

    def successors(self, node: OpNode) -> list[OpNode]:
        return [self.node(n) for n in self.nx.successors(node.name)]

    def use_location(self, node: OpNode) -> Location | None:
        """Where the first located consumer of `node` is written: graph inputs and ops without a user
        frame (a tensor made inside torch) point there."""
        return next((s.location for s in self.successors(node) if s.location), None)

    def predecessors(self, node: OpNode) -> list[OpNode]:
        return [self.node(n) for n in self.nx.predecessors(node.name)]

    def __len__(self) -> int:
        return self.nx.number_of_nodes()
