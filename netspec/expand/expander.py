"""Expansion: a spec plus parameter values becomes the IR of one concrete network.

The expander evaluates ``let`` values, unrolls ``for``/``repeat`` loops, picks ``if``
branches, resolves each layer call to an operator, binds its arguments to the operator's
attributes and names every module. It carries the current shape along and asks
:func:`netspec.infer.apply` for each layer's output, because later layers (and blocks) may
depend on it.

Naming follows one rule per container (see :data:`~netspec.expand.lower.ContainerKind`): a list
with no names is an ``nn.Sequential`` indexed from 0; a nested list with names names every
layer; the top of a network that names its layers is a class whose unnamed stateless layers
become function calls in ``forward``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netspec import ops
from netspec.errors import (
    ExprError,
    NetspecError,
    ShapeError,
    Span,
    SpecError,
    choices_hint,
    did_you_mean,
)
from netspec.expand import calls
from netspec.expand.ir import (
    CHANNEL_READS,
    Again,
    BlockNode,
    JoinRun,
    Node,
    OpNode,
    PathRun,
    Run,
    SeqNode,
    SplitRun,
)
from netspec.expand.lower import (
    IN,
    INPUT,
    REPEAT_COUNT,
    STAGE_DEPTH,
    ContainerKind,
    Join,
    Lowered,
    Path,
    Split,
    container_kind,
    count_refusal,
    inputs_block,
    lower_block,
    merge_call,
    missing_child,
    read_names,
    stage_arguments,
    unnamed_problem,
)
from netspec.expand.memo import Memo, cache, cached, freeze, frozen_dict
from netspec.expand.reinfer import block_again
from netspec.expr import nodes as n
from netspec.expr.evaluate import (
    INPUT_READS,
    InputShape,
    Scope,
    Sym,
    concrete,
    counted,
    evaluate,
    iterate,
    show,
    traced,
)
from netspec.expr.render import render
from netspec.infer import Network, apply
from netspec.infer.infer import MAX_ELEMENTS, join
from netspec.ops.base import Ids, Op, OpError, Shape, Tensor, fmt_shape, is_ids
from netspec.ops.learned import TensorRef, declare
from netspec.ops.merge import JOINS, MERGES, JoinAttrs, split_channels
from netspec.ops.spatial import LAYOUTS
from netspec.pause import collector_paused
from netspec.spec import models as m
from netspec.spec.names import check_layer_name, class_name_problem

MAX_LAYERS = 100_000
"""Most layers one network may expand to, blocks and named sequences counted (so that blocks
calling each other twice, level after level, cannot grow a tree without layers)."""
MAX_RANK = 4
"""Most dimensions of a sample (C × D × H × W)."""
MAX_BLOCK_DEPTH = 32
"""Deepest nesting of blocks inside blocks."""


def class_name(spec: m.SpecFile) -> str:
    """The generated class's name: ``class_name`` or the name in CamelCase (``vgg16_bn`` →
    ``Vgg16Bn``)."""
    if spec.class_name:
        return spec.class_name
    name = spec.name or "model"
    parts = [p for p in re.split(r"_+", name) if p]
    camel = "".join(p[:1].upper() + p[1:] for p in parts) or "Model"
    camel = camel if camel[0].isalpha() else f"Net{camel}"
    return camel if class_name_problem(camel) is None else f"{camel}Net"


@collector_paused
def expand(
    spec: m.SpecFile,
    params: dict[str, Any],
    input_shape: Shape | None = None,
    *,
    reuse: bool = True,
    memo: Memo | None = None,
) -> Network:
    """Expand ``spec`` for ``params`` (already bound and checked) and an optional input
    shape override. With ``reuse`` false every block is expanded afresh, never copied from
    an earlier expansion of it (the tests compare both ways). ``memo`` carries what
    expansions of this same spec share (see :class:`Memo`). The network records what the
    expressions making its tree read of the blocks' input shapes (``in``; see
    :data:`~netspec.expr.evaluate.INPUT_READS`), for :mod:`~netspec.expand.reinfer`.

    Raises:
        NetspecError: any problem of the spec at these parameter values, positioned.
    """
    expander = _Expander(spec, params, reuse, memo)
    reads: set[str] = set()
    token = INPUT_READS.set(reads)
    try:
        net = expander.run(input_shape)
    finally:
        INPUT_READS.reset(token)
    net.input_reads = frozenset(reads)
    return net


def input_shape_of(spec: m.SpecFile, params: dict[str, Any]) -> Shape:
    """The input shape ``spec`` declares, at ``params`` (its expression may read params and
    ``let``), checked as :func:`expand` checks it.

    Raises:
        NetspecError: the shape or a ``let`` it needs is invalid at these values, positioned.
    """
    expander = _Expander(spec, params)
    return expander._input(expander._scope())


_TEMPLATES = 8
"""Templates kept per block and input shape (the most recent first)."""


class _Reads(dict[str, Any]):
    """A block's scope names that record each read: into ``structural`` unless an operator's
    arguments are being bound (then into that layer's own log)."""

    def __init__(self) -> None:
        super().__init__()
        self.structural: list[str] = []
        self.log = self.structural
        self.scope: Scope | None = None

    def __getitem__(self, key: str) -> Any:
        self.log.append(key)
        return dict.__getitem__(self, key)

    @property
    def read(self) -> set[str]:
        return set(self.structural)


@dataclass(frozen=True, slots=True)
class _Leaf:
    """A layer a block made itself, with what binding its call again needs."""

    node: OpNode
    call: n.Expr
    origin: n.Origin
    scope: Scope
    read: frozenset[str]
    """The block's names its arguments read."""
    inputs: frozenset[str]
    """What its arguments read of the block's input (``in``)."""
    producer: str | None


@dataclass(frozen=True, slots=True)
class _Template:
    node: BlockNode
    varying: frozenset[str]
    """The block's parameters nothing structural read (only its layers' arguments)."""
    fixed: Any
    """The frozen values of the other arguments given."""
    scope: Scope
    leaves: list[_Leaf]
    tree: frozenset[str]
    """What its tree's expressions read of its input (``in``; see :data:`INPUT_READS`): its
    conditions, loops, ``let`` values, arguments' defaults, the blocks inside it — all but its
    own layers' arguments. Nothing: its tree is the same on an input of any size and channels
    (see :meth:`_Expander._rebind`)."""


def _observe(reads: set[str] | frozenset[str]) -> None:
    """Tell the observer of the enclosing block (or expansion) what a block read of its input
    (a block copied reads what its original read)."""
    outer = INPUT_READS.get()
    if outer is not None:
        outer.update(reads)


def _moved(path: str | None, old: str, new: str) -> str | None:
    """``path`` under ``new`` where it is under ``old``."""
    if path is not None and (path == old or path.startswith(old + ".")):
        return new + path[len(old) :]
    return path


def _frames(scope: Scope, old: Scope, new: Scope) -> Scope:
    """``scope`` (``old`` or a loop frame under it) with ``old`` replaced by ``new``."""
    if scope is old:
        return new
    assert scope.parent is not None
    return Scope(scope.names, _frames(scope.parent, old, new))


def _bind_in_block(
    op: Op, call: n.Expr, origin: n.Origin, scope: Scope, where: str
) -> tuple[dict[str, Any], calls.Spans, Again | None, frozenset[str]]:
    """:func:`~netspec.expand.calls.bind` for a layer of a block, and what its arguments read
    of the block's input (``in``): every size read, and where that is more than the channels
    (``upsample(size=[in.height, in.width])``), the :class:`~netspec.expand.ir.Again` that
    binds the call again for another input (:mod:`~netspec.expand.reinfer`). Reads of the
    channels count as the tree's reads (``reinfer`` keeps them): the caller tells the
    expansion's observer."""
    if "in." not in origin.text and origin.text.endswith(")"):
        # (most calls: their text reads no `in.`; a mapping call's arguments have their own)
        values, spans = calls.bind(op, call, origin, scope, where)
        return values, spans, None, frozenset()
    seen: set[str] = set()
    token = INPUT_READS.set(seen)
    try:
        values, spans = calls.bind(op, call, origin, scope, where)
    finally:
        INPUT_READS.reset(token)
    again = None
    if not seen <= CHANNEL_READS:
        again = Again(call, origin, scope, frozenset(seen - CHANNEL_READS))
    return values, spans, again, frozenset(seen)


def _validate(op: Op, values: dict[str, Any], spans: Any, where: str, fallback: Any) -> Any:
    """``op``'s attributes from ``values``; an invalid one is an error at its argument."""
    try:
        if traced():
            return op.validate_traced(values)
        return op.validate(values)
    except OpError as exc:
        find = spans.key if exc.key else spans.get
        at = find(exc.attr or "") or fallback()
        raise ShapeError(exc.message, at, where, exc.hint) from None


@dataclass
class _Container:
    node: SeqNode
    kind: ContainerKind
    names: dict[str, OpNode | SeqNode] = field(default_factory=dict)
    reads: frozenset[str] = frozenset()
    """The names the ``from:`` entries of this class's layers read (see ``lower``)."""
    tensors: dict[str, tuple[Shape, int]] = field(default_factory=dict)
    """Those tensors so far: shape, and the index among the children of the layer making it
    (``-1``: the input; for ``seq.k``, a child of a sequence, the sequence's)."""

    def child_path(self, name: str) -> str:
        return f"{self.node.path}.{name}" if self.node.path else name


class _Expander:
    def __init__(
        self,
        spec: m.SpecFile,
        params: dict[str, Any],
        reuse: bool = True,
        memo: Memo | None = None,
    ) -> None:
        self.spec = spec
        self.params = params
        self.reuse = reuse
        self.count = 0
        self.producer: str | None = None
        self.globals = Scope()
        """The spec's params and ``let`` values: where blocks and their defaults see names."""
        self.calls: list[tuple[str, dict[str, Any]]] = []
        """Blocks being instantiated, outermost first, and the arguments each was given (to
        bound their nesting, and show a recursion that does not end)."""
        self.block_cache: dict[tuple[Any, ...], tuple[BlockNode, frozenset[str]]] = {}
        """Expanded blocks by (block, arguments, input shape), each with what it read of its
        input (``in``; a copy reads it too)."""
        self.lets: dict[str, tuple[str, Any]] = {}
        self.lowered: dict[str, Lowered] = {}
        """Each block's dataflow program (a function of its text alone), by name."""
        self.kinds: dict[int, ContainerKind] = {}
        """The container kind of each named entry's layers, by the ``id`` of its value."""
        self.modules: dict[int, m.NamedEntry] = {}
        """The entry of each path that is one child module (a branch, a projection), by the
        ``id`` of its step (the steps live as long as :attr:`lowered`)."""
        self.templates: dict[tuple[str, Shape, bool], list[_Template]] = {}
        """Expanded blocks that calls varying only in arguments its layers' own arguments
        read can be copied from (see :meth:`_rebind`), by (block, input shape)."""
        self.free: dict[tuple[str, bool, int], list[_Template]] = {}
        """Templates of blocks that read nothing of their input (``in``), by (block, integer
        ids, rank): copied for an input of any size (see :meth:`_rebind`)."""
        self.reads: list[_Reads] = []
        self.arguments_read: list[set[str]] = []
        """Per block being instantiated: what its layers' arguments read of its input's
        channels (the tree's reads, but not what decides its tree: see :meth:`_rebind`)."""
        self.leaves: list[list[_Leaf]] = []
        """Per block being instantiated: what its scope was read for, and the layers it made
        itself (for its template)."""
        self.shared = 0
        """Stateless modules reused under one name so far (a block that reuses one is no
        template: its copies' layers must stay the same)."""
        memo = Memo() if memo is None else memo
        self.applied = memo.applied
        self.validated = memo.validated
        self.spans = memo.spans

    # -- top level ---------------------------------------------------------------------------

    def run(self, input_shape: Shape | None) -> Network:
        scope = self.globals = self._scope()
        if input_shape is None:
            x = self._input(scope)
        else:
            x = _check_input(input_shape, None)
            self._given_input(scope, x)
        dtype = self.spec.input_dtype or "float32"
        if dtype != "float32":
            x = Ids(x)
        assert self.spec.layers is not None
        kind = container_kind(self.spec.layers, top=True, tensors=bool(self.spec.tensors))
        root = SeqNode("", "", self.spec.span, x, x, kind=kind)
        if self.spec.tensors:
            # the model's own: blocks (which see the globals) have no such attribute
            scope = scope.child()
            root.own = self._tensors(self.spec.tensors, scope, "")
        box = self._box(root, kind, frozenset(read_names(self.spec.layers)), x)
        root.output = self._fill(box, self.spec.layers, scope, x)
        _check_reads(box)
        _check_kept(root)
        return Network(
            name=self.spec.name or "model",
            description=self.spec.description,
            class_name=class_name(self.spec),
            input=x,
            params=dict(self.params),
            root=root,
            lets=self.lets,
            input_dtype=dtype,
            input_reads_params=self._input_reads_params(),
        )

    @staticmethod
    def _box(node: SeqNode, kind: ContainerKind, reads: frozenset[str], x: Shape) -> _Container:
        """The container of a class's layers, knowing the tensors its ``from:``s read."""
        box = _Container(node, kind, reads=reads)
        if reads:
            box.tensors[INPUT] = (x, -1)
        return box

    def _scope(self) -> Scope:
        scope = Scope(self.params)
        lets = scope.child()
        for name, code in self.spec.let.items():
            lets.names[name] = self._eval(code.expr, lets, f"let.{name}")
            text = code.raw if isinstance(code.raw, str) else None
            self.lets[name] = (text or show(lets.names[name]), lets.names[name])
        return lets

    def _input(self, scope: Scope) -> Shape:
        code = self.spec.input
        assert code is not None
        value = self._eval(code.expr, scope, "input")
        return _check_input(value, code.span)

    def _params_read(self, expr: n.Expr) -> list[str]:
        """The params and ``let`` values ``expr`` reads."""
        return sorted(n.value_names(expr) & (set(self.params) | set(self.spec.let)))

    def _input_reads_params(self) -> bool:
        return self.spec.input is not None and bool(self._params_read(self.spec.input.expr))

    def _given_input(self, scope: Scope, x: Shape) -> None:
        """Refuse an input shape given apart from the spec whose size differs from one the
        spec's params give (``input: [3, size, size]``): the params would no longer reach the
        input (``--set size=16 --input 3,64,64`` analysed 64; the generated class took a
        ``size`` it did not read)."""
        code = self.spec.input
        if code is None:
            return
        expr = n.strip(code.expr)
        apart = isinstance(expr, n.ListExpr) and len(expr.items) == len(x)  # size by size
        items = expr.items if isinstance(expr, n.ListExpr) and apart else (expr,)
        for i, item in enumerate(items):
            names = self._params_read(item)
            if not names:
                continue
            value = self._eval(item, scope, "input")
            given = x[i] if apart else x
            if value == given:
                continue
            # the size's name where the input is an image or a volume (a rank-2 input may be
            # channels × length or a sequence of features: unnamed)
            named = LAYOUTS[len(x) - 1].split(" × ") if len(x) in (3, 4) else None
            what = (
                (f"{named[i]} (dimension {i})" if named else f"dimension {i}") if apart else "shape"
            )
            raise SpecError(
                f"the input's {what} is `{render(item)}` = {show(value)} at these params, and the "
                f"input shape given ({'×'.join(map(str, x))}) says {show(given)}",
                code.span,
                "input",
                hint=f"set {', '.join(names)} rather than the input shape (the params read it)",
            )

    @staticmethod
    def _eval(node: n.Expr, scope: Scope, where: str | None) -> Any:
        try:
            return evaluate(node, scope)
        except ExprError as exc:
            raise exc.locate(None, where) from None

    # -- layer lists ---------------------------------------------------------------------------

    def _fill(self, box: _Container, entries: Sequence[Any], scope: Scope, x: Shape) -> Shape:
        for entry in entries:
            x = self._entry(box, entry, scope, x)
        return x

    def _entry(self, box: _Container, entry: Any, scope: Scope, x: Shape) -> Shape:
        if isinstance(entry, m.LayerRef):
            return self._layer(box, entry, None, scope, x)
        if isinstance(entry, m.MappingCall):
            assert entry.call is not None
            return self._layer(box, entry.call, None, scope, x)
        if isinstance(entry, m.NamedEntry):
            return self._named(box, entry, scope, x)
        if isinstance(entry, m.ForEntry | m.RepeatEntry):
            # in every kind of container, a loop's layers are the container's own: in a class
            # (the top of a model that names its layers, a block's layers) its names are
            # attributes, checked like any other (identifiers, each given once)
            return self._loop(box, entry, scope, x)
        if isinstance(entry, m.IfEntry):
            cond = self._eval(entry.if_.expr, scope, box.node.path or "if")
            return self._fill(box, entry.then if _truth(cond) else entry.else_, scope, x)
        raise AssertionError(f"unknown layer entry {entry!r}")  # pragma: no cover

    def _loop(
        self, box: _Container, entry: m.ForEntry | m.RepeatEntry, scope: Scope, x: Shape
    ) -> Shape:
        where = box.node.path or "layers"
        if isinstance(entry, m.RepeatEntry):
            count = concrete(self._eval(entry.repeat.expr, scope, where))  # (traced: pinned)
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise SpecError(
                    count_refusal(REPEAT_COUNT, count),
                    entry.repeat.span,
                    where,
                )
            for i in range(count):
                frame = scope.child({entry.as_: i} if entry.as_ else {})
                x = self._fill(box, entry.do, frame, x)
            return x
        header = entry.for_
        iterable = self._eval(header.expr, scope, where)
        try:
            items = list(iterate(iterable))
        except ExprError as exc:
            raise exc.locate(header.span, where) from None
        names = header.names
        for item in items:
            if len(names) == 1:
                frame = scope.child({names[0]: item})
            else:
                if not isinstance(item, tuple) or len(item) != len(names):
                    raise SpecError(
                        f"cannot unpack {show(item)} into {len(names)} names ({', '.join(names)})",
                        header.span,
                        where,
                    )
                frame = scope.child(dict(zip(names, item, strict=True)))
            x = self._fill(box, entry.do, frame, x)
        return x

    def _named(self, box: _Container, entry: m.NamedEntry, scope: Scope, x: Shape) -> Shape:
        sources = entry.sources
        others: tuple[Shape, ...] = ()
        if sources is not None:  # `from:` (lower.check_sources has checked what it reads)
            if sources.merged and inputs_block(entry.value, self.spec.blocks) is None:
                return self._merge_entry(box, entry, sources, scope)
            # one tensor, or the inputs of a block of several (in order)
            at = box.child_path(entry.name.text)
            x, index = self._read(box, sources, 0, at)
            others = tuple(self._read(box, sources, i, at)[0] for i in range(1, len(sources.names)))
            self.producer = box.node.children[index].path if index >= 0 else None
            box.node.sources[len(box.node.children)] = sources.names
        y = self._named_layer(box, entry, scope, x, others)
        if box.reads and entry.name.text in box.reads and not entry.name.is_template:
            box.tensors[entry.name.text] = (y, len(box.node.children) - 1)
        return y

    @staticmethod
    def _read(box: _Container, sources: m.Sources, i: int, at: str) -> tuple[Shape, int]:
        """The shape of the ``i``-th tensor ``from:`` names, and the index of the layer making
        it; a child of a sequence (``backbone.4``) is looked up in the sequence when first
        read (lower.check_sources has checked that the sequence comes earlier)."""
        read = sources.names[i]
        found = box.tensors.get(read)
        if found is None:
            name, _, k = read.partition(".")
            seq = box.names[name]
            count = len(seq.children) if isinstance(seq, SeqNode) else 0
            if not isinstance(seq, SeqNode) or int(k) >= count:
                raise SpecError(
                    f"{missing_child(name, k)} {count} "
                    f"({'none' if not count else f'0 … {count - 1}'})",
                    sources.spans[i],
                    at,
                    hint=f"read a child from 0 to {count - 1}" if count else f"read {name!r}",
                )
            found = box.tensors[read] = (
                seq.children[int(k)].output,
                box.node.children.index(seq),
            )
        return found

    def _merge_entry(
        self, box: _Container, entry: m.NamedEntry, sources: m.Sources, scope: Scope
    ) -> Shape:
        """``name: merge`` with ``from: [a, b, …]``: a call over earlier tensors."""
        name = self._name(entry.name, scope, box)
        path = box.child_path(name)
        self._grow(1, entry.span, path)
        value = entry.value
        if not isinstance(value, m.LayerRef):
            raise SpecError(
                "an entry with `from: [...]` is a merge of those tensors, found layers",
                entry.span,
                path,
                hint=f"write a merge: {', '.join(MERGES)}",
            )
        merge, options = merge_call(value, sources, path)
        shapes = tuple(self._read(box, sources, i, path)[0] for i in range(len(sources.names)))
        attrs = JoinAttrs(sources.names, shapes, tuple(options.items()))
        try:
            node = join(JOINS[merge.name], attrs, path=path, name=name, span=entry.span)
        except OpError as exc:
            listing = ", ".join(
                f"{t} {fmt_shape(s)}" for t, s in zip(sources.names, shapes, strict=True)
            )
            raise ShapeError(
                f"{merge.name}: {exc.message}; from: {listing}",
                value.span or entry.span,
                path,
                hint=exc.hint or merge.hint,
            ) from None
        y = node.output
        self._claim(box, name, None, entry.span)
        box.names[name] = node
        box.node.sources[len(box.node.children)] = sources.names
        box.node.children.append(node)
        if name in box.reads:
            box.tensors[name] = (y, len(box.node.children) - 1)
        self.producer = path
        return y

    def _named_layer(
        self,
        box: _Container,
        entry: m.NamedEntry,
        scope: Scope,
        x: Shape,
        others: tuple[Shape, ...] = (),
    ) -> Shape:
        name = self._name(entry.name, scope, box)
        value = entry.value
        if isinstance(value, m.LayerRef):
            return self._layer(box, value, name, scope, x, entry.span, others)
        if isinstance(value, m.MappingCall):
            assert value.call is not None
            return self._layer(box, value.call, name, scope, x, entry.span)
        entries = value if isinstance(value, list) else [value]
        kind = self.kinds.get(id(value))
        if kind is None:
            kind = self.kinds[id(value)] = container_kind(entries, top=False)
        path = box.child_path(name)
        self._claim(box, name, None, entry.span)
        self._grow(1, entry.span, path)
        child = SeqNode(path, name, entry.span, x, x, kind=kind)
        box.names[name] = child
        child.output = self._fill(_Container(child, kind), entries, scope, x)
        box.node.children.append(child)
        self.producer = path
        return child.output

    def _name(self, template: m.NameTemplate, scope: Scope, box: _Container) -> str:
        if not template.is_template:
            return template.text
        text = ""
        for part in template.parts:
            if isinstance(part, str):
                text += part
                continue
            value = self._eval(part, scope, box.node.path or None)
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise SpecError(
                    f"a name template part must be an integer or text, found {show(value)}",
                    template.span,
                    box.node.path or None,
                )
            text += str(value)
        check_layer_name(text, template.span, box.child_path(text))
        return text

    def _claim(self, box: _Container, name: str, node: OpNode | None, span: Span | None) -> bool:
        """Register ``name`` in ``box``; True if it already names the same stateless module."""
        # digits: a numbered branch (the spec's own names are never numbers)
        if box.kind == "class" and not name.isidentifier() and not name.isdigit():
            raise SpecError(
                f"layer name {name!r} is not an identifier, so it cannot be an attribute of "
                f"{box.node.path or 'the model'}'s class",
                span,
                box.child_path(name),
                hint="a name with - is a key of a named sequence (name: [layers]); here use _",
            )
        other = box.names.get(name)
        if other is None:
            return False
        shareable = (
            box.kind == "class"
            and node is not None
            and isinstance(other, OpNode)
            and not other.tensors
            and not node.tensors
            and other.op is node.op
            and other.attrs == node.attrs
        )
        if shareable:
            return True
        hint = None
        if box.kind == "class" and isinstance(other, OpNode) and node is not None:
            hint = (
                "a name may repeat only for the same layer without parameters "
                "(one module called twice)"
            )
        raise SpecError(
            f"the name {name!r} is used twice in {box.node.path or 'the model'}",
            span,
            box.child_path(name),
            hint=hint or "give each layer its own name",
        )

    # -- one layer -----------------------------------------------------------------------------

    def _layer(
        self,
        box: _Container,
        ref: m.LayerRef,
        name: str | None,
        scope: Scope,
        x: Shape,
        entry_span: Span | None = None,
        others: tuple[Shape, ...] = (),
    ) -> Shape:
        """A layer, block or stage on ``x`` (and, for a block of several inputs, ``others``)."""
        self._grow(1, ref.span, box.node.path or None)
        located = ref.expr
        origin = located.origin
        if isinstance(located.node, n.IfExp):
            check_choice(located.node, origin, box.node.path or "layers")
        call = self._pick(located.node, origin, scope, box)
        func = calls.func_name(call)
        # a named layer's own position is its entry's; an unnamed one's, its call's
        span = entry_span
        if span is None:
            key = (id(ref), id(func))
            if key in self.spans:
                span = self.spans[key]
            else:
                span = self.spans[key] = origin.span_at(func.start, func.end) or ref.span
        index_name = str(len(box.node.children))
        where = box.child_path(name) if name else box.child_path(index_name)
        if func.id == "stage" or func.id in self.spec.blocks:
            if box.kind == "sequential":
                name = index_name
            elif name is None:  # (lower.check_names refuses it from the text)
                raise _unnamed(call, box, self.spec.blocks, origin)
            if func.id == "stage":
                node: Node = self._stage(box, call, origin, name, scope, x, entry_span or span)
            else:
                values, _ = calls.bind_names(
                    func.id,
                    [p.name for p in self.spec.blocks[func.id].params],
                    call,
                    origin,
                    scope,
                    where,
                )
                node = self._block(
                    box.child_path(name),
                    name,
                    func.id,
                    values,
                    entry_span or span,
                    x,
                    where,
                    others,
                )
            self._claim(box, name, None, entry_span or span)
            box.names[name] = node  # type: ignore[assignment]
            box.node.children.append(node)
            self.producer = node.path
            return node.output
        op = calls.resolve(call, origin, where, self.spec.blocks)
        reads = self.reads[-1] if self.reads else None
        again = None
        if reads is None:
            values, attr_spans = calls.bind(op, call, origin, scope, where)
        else:  # what the arguments read is recorded for the block's template (_rebind)
            read: list[str] = []
            reads.log = read
            try:
                values, attr_spans, again, inputs = _bind_in_block(op, call, origin, scope, where)
            finally:
                reads.log = reads.structural
            self.arguments_read[-1].update(inputs & CHANNEL_READS)
        _check_tensor_use(op, values, box, name, span, where)
        frozen = (op, freeze(values))
        attrs = cached(self.validated, frozen)
        if attrs is None:
            attrs = _validate(
                op, values, attr_spans, where, lambda: origin.span_at(func.start, func.end) or span
            )
            cache(self.validated, frozen, attrs)

        if op.call_form != Op.call_form and box.kind != "class":
            raise SpecError(
                f"{op.name}'s module is called as {op.call_form.format(module='m', x='x')} in "
                "forward, which an nn.Sequential cannot do",
                span,
                where,
                hint="name it directly in a block's layers or the model's, whose forward calls it",
            )
        unnamed_call = False
        if box.kind == "sequential":
            name = index_name
        elif name is None:
            if box.kind == "module":  # (lower.check_names refuses it from the text)
                raise _unnamed(call, box, self.spec.blocks, origin)
            unnamed_call = True
            name = op.name
        path = box.child_path(name)
        node = apply(
            op,
            attrs,
            x,
            path=path,
            name=name,
            span=entry_span or span,
            attr_spans=attr_spans,
            producer=self.producer,
            memo=self.applied,
        )
        node.again = again
        if unnamed_call:
            if not node.is_callable:
                raise unnamed_layer(node.op, node.attrs, bool(node.tensors), node.span, node.path)
            node.functional = True
        elif self._claim(box, name, node, entry_span or span):
            self.shared += 1
            first = box.names[name]
            tree = INPUT_READS.get()
            for taken in (again, first.again if isinstance(first, OpNode) else None):
                if taken is not None and tree is not None:  # the two calls' attributes must
                    tree.update(taken.reads)  # agree: the tree depends on those sizes
        else:
            box.names[name] = node
        if reads is not None:
            made = _Leaf(node, call, origin, scope, frozenset(read), inputs, self.producer)
            self.leaves[-1].append(made)
        box.node.children.append(node)
        self.producer = path if not node.functional else f"{path} ({op.name})"
        return node.output

    # -- blocks ----------------------------------------------------------------------------------

    def _stage(
        self,
        box: _Container,
        call: n.Expr,
        origin: n.Origin,
        name: str,
        scope: Scope,
        x: Shape,
        span: Span | None,
    ) -> SeqNode:
        """``stage(Block, depth=n, **args)``: n blocks, the first-only args to the first."""
        where = box.child_path(name)
        first = call.args[0] if isinstance(call, n.Call) and call.args else None
        if not isinstance(first, n.Name):
            raise SpecError(
                "stage takes a block name first, as in stage(Bottleneck, depth=3, planes=64)",
                origin.span_at(call.start, call.end) or span,
                where,
            )
        block = self.spec.blocks.get(first.id)
        if block is None:
            hint = choices_hint(first.id, self.spec.blocks, "blocks")
            if ops.get(first.id) is not None:
                hint = (
                    f"{first.id} is an operator; stage repeats a block (define one under `blocks:`)"
                )
            raise SpecError(
                f"unknown block {first.id!r}",
                origin.span_at(first.start, first.end),
                where,
                hint=hint,
            )
        positional = [p.name for p in block.params]
        assert isinstance(call, n.Call)
        depth_arg = dict(call.kwargs).get("depth")
        if depth_arg is None:
            misspelt = [
                k for k, _ in call.kwargs if k not in positional and did_you_mean(k, ["depth"])
            ]
            raise SpecError(
                "stage needs depth=…, the number of blocks",
                origin.span_at(call.start, call.end),
                where,
                hint=f"{misspelt[0]!r}: did you mean 'depth'?" if misspelt else None,
            )
        depth = concrete(calls.evaluate_at(depth_arg, origin, scope, where))  # (traced: pinned)
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise SpecError(
                count_refusal(STAGE_DEPTH, depth),
                origin.span_at(depth_arg.start, depth_arg.end),
                where,
            )
        rest = n.Call(call.func, call.args, tuple((k, v) for k, v in call.kwargs if k != "depth"))
        values, _ = calls.bind_names(
            f"stage of {first.id}", positional, rest, origin, scope, where, skip=1
        )
        path = box.child_path(name)
        seq = SeqNode(path, name, span, x, x, kind="sequential")
        for i in range(depth):
            args = stage_arguments(block, values, i)
            node = self._block(f"{path}.{i}", str(i), first.id, args, span, x, f"{path}.{i}")
            seq.children.append(node)
            x = node.output
        seq.output = x
        return seq

    def _block(
        self,
        path: str,
        name: str,
        block_name: str,
        values: dict[str, Any],
        span: Span | None,
        x: Shape,
        where: str,
        others: tuple[Shape, ...] = (),
    ) -> BlockNode:
        """Instantiate a block for ``values`` on input ``x`` (and ``others``, the other inputs
        of a block of several)."""
        block = self.spec.blocks[block_name]
        if len(block.inputs or [x]) != 1 + len(others):
            raise _arity_error(block_name, block, 1 + len(others), span, where)
        if len(self.calls) >= MAX_BLOCK_DEPTH:
            if any(b == block_name for b, _ in self.calls):  # a recursion not yet ended
                raise _unbounded(block_name, values, self.calls, span, where)
            raise SpecError(f"blocks nested deeper than {MAX_BLOCK_DEPTH}", span, where)
        # A block is a function of its arguments and input shape: a stage's identical blocks
        # (ResNet-152's 35 in a row) are expanded once and copied.
        frozen = {k: freeze(v) for k, v in values.items()}
        key = (block_name, frozen_dict(frozen), tuple(x), is_ids(x), others)
        earlier = self.block_cache.get(key) if self.reuse else None
        if earlier is None and self.reuse and not others:
            found = self._rebind(path, name, block_name, block, values, frozen, span, x, where)
            if found is not None:
                self.block_cache[key] = found
                _observe(found[1])
                return found[0]
        if earlier is not None:
            memo: dict[int, Node] = {}
            original, read = earlier
            node = _clone(original, original.path, path, name, span, memo)
            self._counted(memo, span)
            _observe(read)
            return node
        self._grow(1, span, where)
        self.calls.append((block_name, values))
        shared = self.shared
        self.reads.append(_Reads())
        self.arguments_read.append(set())
        self.leaves.append([])
        seen: set[str] = set()  # what its tree's expressions read of its input
        token = INPUT_READS.set(seen)
        try:
            node = self._instantiate(path, name, block_name, block, values, span, x, where, others)
        finally:
            INPUT_READS.reset(token)
            taken = frozenset(seen | self.arguments_read.pop())
            _observe(taken)
            self.calls.pop()
            reads = self.reads.pop()
            made = self.leaves.pop()
        if not self.reuse:
            return node
        self.block_cache[key] = (node, taken)  # nothing changes a node once its block returns it
        if self.shared == shared and reads.scope is not None and not others:
            varying = frozenset(p.name for p in block.params) - reads.read
            fixed = frozen_dict(frozen, varying)
            template = _Template(node, varying, fixed, reads.scope, made, frozenset(seen))
            templates = self.templates.setdefault((block_name, tuple(x), is_ids(x)), [])
            templates.insert(0, template)
            del templates[_TEMPLATES:]
            if not template.tree:  # the same tree for an input of any size: see _rebind
                free = self.free.setdefault((block_name, is_ids(x), len(x)), [])
                free.insert(0, template)
                del free[_TEMPLATES:]
        return node

    def _grow(self, nodes: int, span: Span | None, where: str | None = None) -> None:
        """Count ``nodes`` more nodes of the tree (layers, blocks, sequences) against
        :data:`MAX_LAYERS`."""
        self.count += nodes
        if self.count > MAX_LAYERS:
            raise SpecError(
                f"the network expands to more than {MAX_LAYERS:,} layers and blocks",
                span,
                where,
                hint="a loop or a block repeats what it contains (a block that calls another "
                "twice doubles the tree at each level)",
            )

    def _counted(self, copies: dict[int, Node], span: Span | None) -> None:
        """Count the nodes of a copied block (``copies``: its nodes)."""
        self._grow(len(copies), span)

    def _rebind(
        self,
        path: str,
        name: str,
        block_name: str,
        block: m.BlockDef,
        values: dict[str, Any],
        frozen: dict[str, Any],
        span: Span | None,
        x: Shape,
        where: str,
    ) -> tuple[BlockNode, frozenset[str]] | None:
        """The block for ``values`` copied from an expansion of it at other values of
        arguments that only its own layers' arguments read (EfficientNet's stochastic-depth
        probability grows from block to block; nothing else differs), its layers that read
        them bound again; ``None`` where no template fits, or a layer's output would change.
        With the block, what it read of its input.

        A template knows which arguments anything structural read — a condition, a loop, a
        ``let``, a name, a block's or a tensor's arguments: those must be equal. The others
        reach only operator arguments, re-evaluated here as :meth:`_layer` would.

        A block that read nothing of its input (``in``) makes the same tree on an input of any
        size and channels (a convolution, its norm and activation, at every width of a
        network): its copy is inferred again for ``x``
        (:func:`~netspec.expand.reinfer.block_again`), or ``None`` where a rule refuses it
        (expanding reports the error, positioned) or a block inside it changes channels.
        """
        same = self.templates.get((block_name, tuple(x), is_ids(x)), ())
        free = self.free.get((block_name, is_ids(x), len(x)), ())
        for template, other_input in (*((t, False) for t in same), *((t, True) for t in free)):
            if frozen_dict(frozen, template.varying) != template.fixed:
                continue
            taken: set[str] = set(template.tree)  # what a fresh expansion would read of `in`
            token = INPUT_READS.set(taken)  # (a default may read it: `w = in.height`)
            try:
                args = self._arguments(block_name, block, values, span, x, where)
            finally:
                INPUT_READS.reset(token)
            old = template.node.args
            changed = {k for k in template.varying if freeze(args.get(k)) != freeze(old.get(k))}
            # (as _instantiate makes it; `in` the new input where it differs)
            frame = (
                self.globals.child(input=InputShape(x)) if other_input else template.scope.parent
            )
            scope = Scope(parent=frame)
            scope.names = dict(template.scope.names)
            scope.names.update({k: args[k] for k in template.varying if k in args})
            memo: dict[int, Node] = {}
            old_path = template.node.path
            node = _clone(template.node, old_path, path, name, span, memo)
            for leaf in template.leaves:
                if not (leaf.read & changed or (other_input and leaf.inputs)):
                    taken |= leaf.inputs & CHANNEL_READS
                    continue
                twin = memo[id(leaf.node)]
                assert isinstance(twin, OpNode)
                before = twin.op.in_place(twin.attrs)
                at = _frames(leaf.scope, template.scope, scope)
                producer = _moved(leaf.producer, old_path, path)
                inputs = self._bind_again(twin, leaf, at, producer, same_input=not other_input)
                if inputs is None or twin.op.in_place(twin.attrs) != before:
                    return None  # (which layers write in place decides the block's checks)
                taken |= inputs & CHANNEL_READS
            node.args = args
            if other_input:
                inferred = block_again(node, x, self.applied)
                if inferred is None:
                    return None
                node = inferred
            self._counted(memo, span)
            return node, frozenset(taken)
        return None

    def _bind_again(
        self,
        node: OpNode,
        leaf: _Leaf,
        scope: Scope,
        producer: str | None,
        same_input: bool = True,
    ) -> frozenset[str] | None:
        """Bind ``node``'s call again in ``scope``, and give what its arguments read of the
        block's input; ``None`` where its output or its form (module or function call) would
        change. Without ``same_input`` the block is inferred again on another input
        (:func:`~netspec.expand.reinfer.block_again`), which applies the rule: only the
        attributes are bound here, and ``None`` where they are refused (expanding reports it
        where it would)."""
        op, where = node.op, node.path
        func = calls.func_name(leaf.call)
        if not same_input:
            try:
                bound = _bind_in_block(op, leaf.call, leaf.origin, scope, where)
                values, spans, node.again, inputs = bound
                node.attrs = _validate(op, values, spans, where, lambda: None)
            except NetspecError:
                return None
            node.input = ()  # no input is this shape: its old results are not taken for it
            return inputs
        values, attr_spans, node.again, inputs = _bind_in_block(
            op, leaf.call, leaf.origin, scope, where
        )
        attrs = _validate(
            op, values, attr_spans, where, lambda: leaf.origin.span_at(func.start, func.end)
        )
        again = apply(
            op,
            attrs,
            node.input,
            path=node.path,
            name=node.name,
            span=node.span,
            attr_spans=attr_spans,
            producer=producer,
            memo=self.applied,
        )
        if again.output != node.output:
            return None
        if node.functional and not again.is_callable:
            return None
        node.attrs, node.tensors = again.attrs, again.tensors
        node.macs, node.extra_ops = again.macs, again.extra_ops
        return inputs

    def _arguments(
        self,
        block_name: str,
        block: m.BlockDef,
        values: dict[str, Any],
        span: Span | None,
        x: Shape,
        where: str,
    ) -> dict[str, Any]:
        """A block's arguments: ``values`` and the defaults of the others."""
        known_params = {p.name for p in block.params}
        for key, value in values.items():
            if isinstance(value, TensorRef):
                raise SpecError(
                    f"{block_name}'s {key!r} is given the learned tensor {value.name!r}, "
                    "which belongs to the block that declares it",
                    span,
                    where,
                    hint="apply the tensor where it is declared, with mul(…) or add(…)",
                )
            if key not in known_params:
                raise SpecError(
                    f"{block_name} has no parameter {key!r}",
                    span,
                    where,
                    hint=choices_hint(key, known_params, "parameters"),
                )
        # defaults see the spec's names and the block's input, like Python defaults do
        outer: Scope | None = None
        args: dict[str, Any] = {}
        for param in block.params:
            if param.name in values:
                args[param.name] = values[param.name]
            elif param.node is not None:
                outer = outer or self.globals.child(input=InputShape(x))
                args[param.name] = self._eval(param.node, outer, f"blocks.{block_name}")
            else:
                raise SpecError(
                    f"{block_name} needs {param.name!r}",
                    span,
                    where,
                    hint=f"{block_name} takes ({', '.join(p.raw for p in block.params)})",
                )
        return args

    def _instantiate(
        self,
        path: str,
        name: str,
        block_name: str,
        block: m.BlockDef,
        values: dict[str, Any],
        span: Span | None,
        x: Shape,
        where: str,
        others: tuple[Shape, ...] = (),
    ) -> BlockNode:
        args = self._arguments(block_name, block, values, span, x, where)
        scope = Scope(parent=self.globals.child(input=InputShape(x)))
        if self.reads:  # record what reads the scope (for the block's template)
            reads = self.reads[-1]
            reads.update(args)
            reads.scope = scope
            scope.names = reads
        else:
            scope.names = args
        if block.expansion is not None:
            scope.names["expansion"] = self._eval(
                block.expansion.expr, scope, f"blocks.{block_name}.expansion"
            )
        for let_name, code in block.let.items():
            scope.names[let_name] = self._eval(code.expr, scope, f"{where} (let {let_name})")
        own = self._tensors(block.tensors, scope, where)
        lowered = self.lowered.get(block_name)
        if lowered is None:
            lowered = self.lowered[block_name] = lower_block(block)
        node = BlockNode(path, name, span, x, x, kind=lowered.kind, block=block_name, args=args)
        node.own = own
        box = self._box(node, lowered.kind, lowered.reads, x)
        for i, (given, shape) in enumerate(zip(block.inputs, (x, *others), strict=False)):
            box.tensors[given] = (shape, -1 if i == 0 else OTHER_INPUT)
        node.others, node.inputs = others, tuple(block.inputs)
        tensors: dict[str, Shape] = {IN: x}
        for step in lowered.steps:
            if isinstance(step, Path):
                node.flow.append(self._path(box, step, scope, tensors, where))
            elif isinstance(step, Split):
                node.flow.append(self._split(block_name, step, scope, tensors, where))
            else:
                node.flow.append(self._join(block, block_name, step, scope, tensors, where))
        node.output = tensors[lowered.output]
        node.merge = next(
            (run.step.merge for run in node.flow if isinstance(run, JoinRun) and run.applied), None
        )
        _check_shared_writes(node)
        _check_reads(box)
        return node

    def _tensors(self, tensors: dict[str, m.Expression], scope: Scope, where: str) -> list[Tensor]:
        """The learned tensors of a block (at ``where``) or the model (``where`` empty), their
        names bound in ``scope``."""
        own: list[Tensor] = []
        for tensor_name, code in tensors.items():
            at = f"{where} (tensors.{tensor_name})" if where else f"tensors.{tensor_name}"
            try:
                decl = declare(code.expr, functools.partial(self._eval, scope=scope, where=at))
            except OpError as exc:
                raise ShapeError(exc.message, code.span, at, exc.hint) from None
            shape = tuple(int(d) for d in decl.shape)
            own.append(Tensor(tensor_name, shape, True))
            scope.names[tensor_name] = TensorRef(tensor_name, shape)
        return own

    def _when(
        self, conditions: tuple[tuple[str, m.Expression], ...], scope: Scope, where: str
    ) -> bool:
        """Whether every condition of a step holds."""
        for key, code in conditions:
            if not _truth(self._eval(code.expr, scope, f"{where} ({key})")):
                return False
        return True

    def _path(
        self, box: _Container, step: Path, scope: Scope, tensors: dict[str, Shape], where: str
    ) -> PathRun:
        """Apply a path's layers to its source tensor (see :mod:`netspec.expand.lower`)."""
        x = tensors[step.src]
        if not self._when(step.when, scope, where):
            tensors[step.dst] = x
            return PathRun(step, x, x, [], exists=False)
        before = len(box.node.children)
        if step.module is None:
            y = self._fill(box, step.entries, scope, x)
        else:
            entry = self.modules.get(id(step))
            if entry is None:
                entry = m.NamedEntry.model_construct({step.module: step.value})
                entry._name = m.NameTemplate(step.module)
                entry._span = step.anchor.key_span(step.key) if step.anchor is not None else None
                self.modules[id(step)] = entry
            y = self._named(box, entry, scope, x)
        tensors[step.dst] = y
        return PathRun(step, x, y, box.node.children[before:])

    def _split(
        self,
        block_name: str,
        step: Split,
        scope: Scope,
        tensors: dict[str, Shape],
        where: str,
    ) -> SplitRun:
        """Split the channels into equal parts, one per path."""
        x = tensors[step.src]
        parts = len(step.dsts)
        if not self._when(step.when, scope, where):
            tensors.update(dict.fromkeys(step.dsts, x))
            return SplitRun(step, x, (x,) * parts, applied=False)
        try:
            shapes = split_channels(x, parts)
        except OpError as exc:
            raise ShapeError(
                f"{block_name}: {exc.message}",
                step.anchor.key_span(step.key) or step.anchor.span,
                where,
                hint=exc.hint,
            ) from None
        tensors.update(zip(step.dsts, shapes, strict=True))
        return SplitRun(step, x, shapes)

    def _join(
        self,
        block: m.BlockDef,
        block_name: str,
        step: Join,
        scope: Scope,
        tensors: dict[str, Shape],
        where: str,
    ) -> JoinRun:
        """Merge tensors; a mismatch is an error naming every path's shape."""
        if not self._when(step.when, scope, where):
            tensors[step.dst] = tensors[step.otherwise]
            return JoinRun(step, tensors[step.dst], applied=False)
        merge = MERGES[step.merge]
        shapes = [tensors[t] for t in step.inputs]
        try:
            y = merge.infer(shapes)
        except OpError as exc:
            listing = ", ".join(
                f"{label} {fmt_shape(shape)}"
                for label, shape in zip(step.labels, shapes, strict=True)
            )
            raise ShapeError(
                f"{block_name}: {exc.message}, found {listing}",
                block.key_span(step.key) or block.span,
                where,
                hint=exc.hint or step.hint or merge.hint,
            ) from None
        tensors[step.dst] = y
        return JoinRun(step, y, ops=merge.ops(y, len(shapes)))

    def _pick(self, node: n.Expr, origin: n.Origin, scope: Scope, box: _Container) -> n.Expr:
        """Resolve ``a if cond else b`` layer choices down to a call or name."""
        while isinstance(node, n.IfExp):
            test = calls.evaluate_at(node.test, origin, scope, box.node.path or None)
            node = node.body if _truth(test) else node.orelse
        return node


def _unbounded(
    block_name: str,
    values: dict[str, Any],
    calls: list[tuple[str, dict[str, Any]]],
    span: Span | None,
    where: str,
) -> SpecError:
    """The error for a recursion still going at :data:`MAX_BLOCK_DEPTH` blocks deep: the
    chain of calls (the first two and the last two, with their arguments)."""

    def shown(args: dict[str, Any]) -> str:
        text = ", ".join(f"{k}={show(v)}" for k, v in args.items())
        return text if len(text) <= 60 else text[:57] + "…"

    chain = [f"{name}({shown(args)})" for name, args in [*calls, (block_name, values)]]
    if len(chain) > 4:
        chain = [*chain[:2], "…", *chain[-2:]]
    steps = " → ".join(chain)
    return SpecError(
        f"unbounded recursion: {block_name} is still calling itself {MAX_BLOCK_DEPTH} blocks "
        f"deep ({steps})",
        span,
        where,
        hint=f"the condition around the call must become false within {MAX_BLOCK_DEPTH} levels: "
        "give a smaller depth, or make each call's argument move towards it (depth - 1)",
    )


def check_choice(node: n.Expr, origin: n.Origin, where: str) -> None:
    """A choice ``a if cond else b`` is one call in ``forward`` whichever side is taken, so
    neither side may be an operator ``forward`` calls in a form of its own (``Op.call_form``:
    ``nn.MultiheadAttention``'s); the generated code could not write it for every value."""
    if isinstance(node, n.IfExp):
        check_choice(node.body, origin, where)
        check_choice(node.orelse, origin, where)
        return
    op = ops.get(calls.func_name(node).id)
    if op is not None and op.call_form != Op.call_form:
        raise SpecError(
            f"{op.name} cannot be one side of a choice (`a if cond else b`): forward calls "
            f"it as {op.call_form.format(module='m', x='x')}",
            origin.span_at(node.start, node.end),
            where,
            hint="write the two layers under an `if:`/`else:` entry instead",
        )


def _check_tensor_use(
    op: Op, values: dict[str, Any], box: _Container, name: str | None, span: Span | None, where: str
) -> None:
    """A block's learned tensor is read only by ``mul``/``add`` calls in the block's own
    layers (where ``self.<tensor>`` is the block's attribute), and those read nothing else."""
    refs = [v for v in values.values() if isinstance(v, TensorRef)]
    applies = not op.module_form
    if not refs and not applies:
        return
    if refs and not applies:
        raise SpecError(
            f"{op.name} takes no learned tensor ({refs[0].name!r} is one)",
            span,
            where,
            hint=f"apply a tensor with mul({refs[0].name}), add({refs[0].name}) or "
            f"prepend({refs[0].name})",
        )
    owner = isinstance(box.node, BlockNode) or box.node.path == ""
    if name is not None or not owner or box.kind != "class":
        raise SpecError(
            f"{op.name}(…) applies a learned tensor of the block or model: it is a call in "
            "its forward, so it stands unnamed among the block's (or the model's) own layers",
            span,
            where,
            hint="move it out of the nested list, and leave it unnamed",
        )


def _unnamed(
    call: n.Expr, box: _Container, blocks: Mapping[str, m.BlockDef], origin: n.Origin
) -> SpecError:
    """The error of a layer written without a name where ``box`` needs one."""
    problem = unnamed_problem(call, box.kind, blocks, origin, box.node.path)
    assert problem is not None, "only a layer needing a name gets here"
    return problem


def unnamed_layer(op: Op, attrs: Any, owns: bool, span: Span | None, where: str) -> SpecError:
    """The error for an unnamed layer in a class body that needs a module (it owns tensors,
    or has no functional form): it must be named."""
    what = "owns parameters" if owns else "has no functional form"
    return SpecError(
        f"this {op.name} {what}, so it needs a name (its module attribute"
        f"{' and state_dict key' if owns else ''})",
        span,
        where,
        hint=f"e.g. `{op.name}1: {op.describe(attrs)}`; or leave every layer of the list unnamed "
        "for nn.Sequential indices",
    )


def _aliases(nodes: Sequence[Node]) -> bool:
    """Whether ``nodes`` return the tensor they start from (or a view of it)."""
    for node in nodes:
        if isinstance(node, OpNode):
            # an in-place operation makes a new version of the tensor (its readers come after)
            if not node.op.aliases_input or node.op.in_place(node.attrs):
                return False
        elif isinstance(node, BlockNode):
            values, _ = _dataflow(node)
            if values[_block_output(node)] != 0:
                return False
        elif isinstance(node, SeqNode) and not _aliases(node.children):
            return False
    return True


def _block_output(node: BlockNode) -> str:
    """The tensor a block returns: the destination of its last step."""
    last = node.flow[-1]
    assert not isinstance(last, SplitRun)  # a split is always followed by its paths
    return last.step.dst


def _dataflow(
    node: BlockNode,
) -> tuple[dict[str, int], list[tuple[Run, list[int]]]]:
    """The block's tensors numbered by value (``0``: the block's input; a path that passes its
    input on, or one that does not exist, gives the same value), and each step with the values
    it reads. Steps whose conditions are false still read (they would, at other values: the
    in-place rule is decided from the text)."""
    values: dict[str, int] = {IN: 0}
    count = 1
    steps: list[tuple[Run, list[int]]] = []
    for run in node.flow:
        if isinstance(run, SplitRun):
            src = values[run.step.src]
            steps.append((run, [src]))
            made = run.applied and len(run.step.dsts) > 1  # (one part is the input itself)
            for part in run.step.dsts:
                values[part] = count if made else src
                count += 1 if made else 0
            continue
        step = run.step
        if isinstance(run, PathRun):
            src = values[run.step.src]
            steps.append((run, [src]))
            if not run.exists or _aliases(run.nodes):
                values[step.dst] = src
                continue
        else:
            inputs = [values[t] for t in run.step.inputs]
            steps.append((run, inputs))
            if not run.applied:
                values[step.dst] = values[run.step.otherwise]
                continue
            if len(inputs) == 1:
                values[step.dst] = inputs[0]
                continue
        values[step.dst] = count
        count += 1
    return values, steps


def _readers(
    node: BlockNode, steps: list[tuple[Run, list[int]]] | None = None
) -> dict[int, list[tuple[PathRun | None, str]]]:
    """Who reads each value of a block: paths (with their runs) and merges, by label
    (``steps``: the block's :func:`_dataflow`, where known)."""
    if steps is None:
        _, steps = _dataflow(node)
    out: dict[int, list[tuple[PathRun | None, str]]] = {}
    chained = _chained(steps)
    for i, (run, reads) in enumerate(steps):
        if isinstance(run, PathRun):
            step = run.step
            name = step.module or step.var
            label = f"the {step.role}"
            if step.role == "branch":
                label = f"branch {name!r}" if name else "a parallel path"
            if (run.nodes or not run.exists) and not (i in chained and _aliases(run.nodes)):
                out.setdefault(reads[0], []).append((run, label))
        elif isinstance(run, SplitRun):
            out.setdefault(reads[0], []).append((None, "the split"))
        else:
            passed = _passed_on(run)
            for tensor, value in zip(run.step.inputs, reads, strict=True):
                if not (i in chained and tensor == passed):
                    out.setdefault(value, []).append((None, f"the {run.step.merge}"))
    return out


def _passed_on(run: JoinRun) -> str | None:
    """The input a merge passes on unchanged (its only one; or, where a condition of it is
    false, ``otherwise``), if any."""
    if not run.applied:
        return run.step.otherwise
    return run.step.inputs[0] if len(run.step.inputs) == 1 else None


def _chained(steps: list[tuple[Run, list[int]]]) -> set[int]:
    """The steps whose result later layers of the block read (a path's input), directly or
    through merges passing it on. Where such a step passes its input on (a body left empty,
    identity, a merge of one path or one not made), those layers read the very same value:
    they, not the step, are its readers; counting the step too would pit a layer against the
    step feeding it (an in-place ``then`` after an empty body)."""
    out: set[int] = set()
    read: set[str] = set()
    for i in range(len(steps) - 1, -1, -1):
        run = steps[i][0]
        if isinstance(run, SplitRun):
            continue
        if run.step.dst in read:
            out.add(i)
        if isinstance(run, PathRun):
            read.add(run.step.src)
        elif i in out and (passed := _passed_on(run)) is not None:
            read.add(passed)
    return out


def _overwrites(nodes: Sequence[Node]) -> OpNode | None:
    """The operation that writes in place into the tensor ``nodes`` start from, if any: the
    first layer, or the first after layers that pass their input on (identity, a view)."""
    for node in nodes:
        if isinstance(node, OpNode):
            if node.op.in_place(node.attrs):
                return node
            if not node.op.aliases_input:
                return None
        elif isinstance(node, BlockNode):
            for run, _ in _readers(node).get(0, []):
                found = _overwrites(run.nodes) if run is not None else None
                if found is not None:
                    return found
            if not _aliases([node]):
                return None
        elif isinstance(node, SeqNode):
            found = _overwrites(node.children)
            if found is not None or not _aliases(node.children):
                return found
    return None


OTHER_INPUT = -2
"""The index of a block's other inputs among its children: before them, and not the first."""


def _arity_error(
    block_name: str, block: m.BlockDef, given: int, span: Span | None, where: str
) -> SpecError:
    if not block.inputs:
        return SpecError(
            f"{block_name} takes one input, found {given} in `from:`",
            span,
            where,
            hint="a merge (concat, add…) joins tensors first; or give the block `inputs:`",
        )
    names = ", ".join(block.inputs)
    return SpecError(
        f"{block_name} takes {len(block.inputs)} inputs ({names}), found {given}",
        span,
        where,
        hint=f"call it in a named entry with `from: [{', '.join('…' for _ in block.inputs)}]`, "
        "its inputs in order",
    )


def _check_reads(box: _Container) -> None:
    """Refuse an in-place operation on a tensor another layer also reads: each tensor's
    readers are the layers right after the one making it and the entries naming it. Only the
    last may write into it (a later reader would see the change), and only where no earlier
    one may keep it for its gradient (a convolution keeps its input: backward would fail;
    :meth:`~netspec.ops.base.Op.keeps_input`)."""
    if not box.reads:
        return
    children = box.node.children
    starts = sorted(box.node.sources)
    for tensor, (_, index) in box.tensors.items():
        first = index + 1 if index != OTHER_INPUT else len(children)  # not the chain's
        end = next((i for i in starts if i >= first), len(children))
        readers: list[tuple[int, Sequence[Node]]] = []
        _, dot, k = tensor.partition(".")
        rest: Sequence[Node] = ()
        if dot:  # a sequence's child: the sequence's next children read it first
            seq = children[index]
            assert isinstance(seq, SeqNode)
            rest = seq.children[int(k) + 1 :]
            if rest:
                readers.append((index, rest))
        if first < end and not (dot and rest):
            readers.append((first, children[first:end]))
        for i, read in box.node.sources.items():  # with the layers after it (a crop's view)
            if tensor in read:
                readers.append((i, children[i : next((k for k in starts if k > i), None)]))
        if len(readers) < 2:
            continue
        readers.sort(key=lambda r: r[0])
        for j, (_, nodes) in enumerate(readers):
            found = _overwrites(nodes)
            if found is None:
                continue
            if j + 1 < len(readers):
                other = readers[j + 1][1][0]
                raise _in_place_error(found, repr(tensor), f"{other.path!r}")
            keeper = next((read[0] for _, read in readers[:j] if _keeps_start(read)), None)
            if keeper is not None:
                raise SpecError(
                    f"{found.call} writes in place into {tensor!r}, which "
                    f"{keeper.path!r} reads before it and may keep to compute its "
                    "gradient: backward() would fail while training",
                    found.span,
                    found.path,
                    hint="drop inplace=true here: an in-place layer is safe only where nothing "
                    "else reads its input",
                )


def _check_shared_writes(node: BlockNode) -> None:
    """Refuse an in-place operation on a tensor another step of the block also reads (it would
    silently change what that step sees), and one on a part of a channel split: the parts are
    views of one tensor (``chunk``), which autograd refuses to let a layer write into."""
    parts = {part for run in node.flow if isinstance(run, SplitRun) for part in run.step.dsts}
    for step in node.flow:
        if isinstance(step, PathRun) and step.step.src in parts:
            found = _overwrites(step.nodes)
            if found is not None:
                raise SpecError(
                    f"{found.call} writes in place into a part of {node.block}'s channel split, "
                    "which PyTorch refuses while training (the parts are views of one tensor)",
                    found.span,
                    found.path,
                    hint="drop inplace=true here, or begin the path with a layer that makes a "
                    "new tensor",
                )
    values, steps = _dataflow(node)
    for value, readers in _readers(node, steps).items():
        if len(readers) < 2:
            continue
        for run, _ in readers:
            first = _overwrites(run.nodes) if run is not None else None
            if first is None:
                continue
            other = next(lab for r, lab in readers if r is not run)
            names = {v: k for k, v in reversed(values.items())}
            tensor = names.get(value, IN)
            what = f"{node.block}'s input" if value == 0 else f"{node.block}'s {tensor!r}"
            raise _in_place_error(first, what, other)


def _check_kept(root: SeqNode) -> None:
    """Refuse an in-place layer that writes into a tensor autograd keeps for the backward
    pass: the output of a layer whose gradient is computed from its output (``relu``,
    ``sigmoid``, ``softmax``, an LSTM: :meth:`~netspec.ops.base.Op.keeps_output`), reached
    directly or through layers that pass it on (identity, a view; dropout in eval mode).
    PyTorch runs such a model forward and fails in ``backward()`` ("a variable needed for
    gradient computation has been modified by an inplace operation").

    The tensors are followed in the order the network runs them, into blocks (their paths,
    splits and merges) and ``from:`` reads, in training and in eval mode at once (a pair:
    what keeps the tensor in each; dropout passes its input on in one mode only); a block's
    other inputs are not followed."""
    _container_kept(root, _NOT_KEPT)


_Kept = tuple[OpNode | None, OpNode | None]
"""What keeps a tensor for backward in training mode, and in eval mode (``None``: nothing)."""
_NOT_KEPT: _Kept = (None, None)
_MODES = (True, False)
"""Training, eval."""


def _container_kept(node: SeqNode, kept: _Kept, made: dict[str, _Kept] | None = None) -> _Kept:
    """Run a container's children from a tensor ``kept`` keeps; give what keeps its result.
    ``made``, where given, receives what keeps each child's output, as ``from:`` names it
    (``seq.k``)."""
    own = {INPUT: kept} if node.sources else None
    return _run_kept(node.children, kept, node, own, 0, made)


def _run_kept(
    children: Sequence[Node],
    kept: _Kept,
    owner: SeqNode,
    own: dict[str, _Kept] | None,
    at: int,
    made: dict[str, _Kept] | None = None,
) -> _Kept:
    """Run ``children`` as a chain from a tensor ``kept`` keeps: the ``i``-th is child
    ``at + i`` of ``owner``, whose ``sources`` say which read earlier tensors by name
    (``own``: what keeps each, by name; ``None`` where nothing reads by name). ``made``
    receives what keeps each child's output as ``seq.k``."""
    for i, child in enumerate(children):
        others: tuple[_Kept, ...] = ()
        if own is not None:
            read = owner.sources.get(at + i)
            if read is not None:
                kept = own.get(read[0], _NOT_KEPT)
                others = tuple(own.get(name, _NOT_KEPT) for name in read[1:])
            if type(child) is SeqNode:  # its children may be read by name: `seq.k`
                kept = _container_kept(child, kept, own)
            else:
                kept = _kept_through(child, kept, others)
            own[child.name] = kept
        else:
            kept = _kept_through(child, kept)
        if made is not None:
            made[f"{owner.name}.{i}"] = kept
    return kept


def _kept_through(node: Node, kept: _Kept, others: tuple[_Kept, ...] = ()) -> _Kept:
    """What keeps ``node``'s output for backward, given what keeps its input (and the other
    inputs of a block of several; see :func:`_check_kept`)."""
    if type(node) is OpNode:
        op, attrs = node.op, node.attrs
        if kept is not _NOT_KEPT and op.in_place(attrs):  # written into, in some mode
            for training, keeper in zip(_MODES, kept, strict=True):
                if keeper is not None and op.writes_in_place(attrs, training):
                    raise _kept_error(node, keeper, training)
        made = node if op.keeps_output(attrs) else None
        if not op.aliases_input:  # (most layers) a new tensor, or its input written into
            return (made, made) if made is not None else _NOT_KEPT
        passed = [  # in each mode: its input passed on untouched, or its own output
            keeper
            if op.passes_on(attrs, training) and not op.writes_in_place(attrs, training)
            else made
            for training, keeper in zip(_MODES, kept, strict=True)
        ]
        return _NOT_KEPT if passed[0] is None and passed[1] is None else (passed[0], passed[1])
    if isinstance(node, BlockNode):
        return _block_kept(node, kept, others)
    if isinstance(node, SeqNode):
        return _container_kept(node, kept)
    return _NOT_KEPT  # pragma: no cover - every node is one of the above


def _block_kept(node: BlockNode, kept: _Kept, others: tuple[_Kept, ...]) -> _Kept:
    """:func:`_kept_through` for a block: its dataflow, tensor by tensor."""
    tensors: dict[str, _Kept] = {IN: kept}
    named: dict[str, _Kept] | None = None
    if node.sources:  # `from:` in its body: by index among its children
        named = {INPUT: kept}
        named.update(zip(node.inputs, (kept, *others), strict=False))
    at = 0
    for run in node.flow:
        if isinstance(run, SplitRun):
            made = run.applied and len(run.step.dsts) > 1  # (one part is the input itself)
            for part in run.step.dsts:  # views of the input (written into: refused already)
                tensors[part] = _NOT_KEPT if made else tensors[run.step.src]
        elif isinstance(run, PathRun):
            x = _run_kept(run.nodes, tensors[run.step.src], node, named, at)
            at += len(run.nodes)
            tensors[run.step.dst] = x
        elif not run.applied:
            tensors[run.step.dst] = tensors[run.step.otherwise]
        else:
            inputs = run.step.inputs
            passes = MERGES[run.step.merge].passes_on(len(inputs))
            tensors[run.step.dst] = tensors[inputs[0]] if passes else _NOT_KEPT
    return tensors[_block_output(node)]


def _kept_error(node: OpNode, kept: OpNode, training: bool) -> SpecError:
    mode = (
        "while training"
        if training
        else "in eval mode (where dropout and stochastic depth pass their input on)"
    )
    name = kept.op.name
    return SpecError(
        f"{node.call} writes in place into the output of {kept.call} ({kept.path!r}), which "
        f"PyTorch keeps to compute its gradient: backward() would fail {mode}",
        node.span,
        node.path,
        hint=f"drop inplace=true here ({'an' if name[0] in 'aeiou' else 'a'} {name} keeps its "
        "output for the backward pass), or put a layer that makes a new tensor between them",
    )


def _keeps_start(nodes: Sequence[Node]) -> bool:
    """Whether the first of ``nodes`` may keep the tensor it reads for backward
    (:meth:`~netspec.ops.base.Op.keeps_input`; a view of it, a block or a sequence may)."""
    first = nodes[0]
    if type(first) is not OpNode or first.op.aliases_input:
        return True
    return first.op.keeps_input(first.attrs)


def _in_place_error(node: OpNode, tensor: str, reader: str) -> SpecError:
    return SpecError(
        f"{node.call} writes in place into {tensor}, which {reader} also reads",
        node.span,
        node.path,
        hint="drop inplace=true here: an in-place layer is safe only where nothing else reads "
        "its input",
    )


_COPIERS: dict[type, Any] = {}


def _copier(cls: type) -> Any:
    """A function making a shallow copy of a ``cls`` node (a slotted dataclass), generated
    once per class: direct slot assignments, much cheaper than ``copy.copy`` or a loop of
    ``setattr``."""
    copier = _COPIERS.get(cls)
    if copier is None:
        names = [f.name for f in dataclasses.fields(cls)]
        body = "".join(f"    twin.{a} = item.{a}\n" for a in names)
        code = f"def copy(item):\n    twin = new(cls)\n{body}    return twin\n"
        namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
        exec(code, namespace)  # noqa: S102 - the field names of our own dataclasses
        copier = _COPIERS[cls] = namespace["copy"]
    return copier


def _clone(
    node: BlockNode,
    old: str,
    new: str,
    name: str,
    span: Span | None,
    memo: dict[int, Node] | None = None,
) -> BlockNode:
    """A copy of an expanded block at another path (``old`` → ``new``), under ``name``;
    ``memo`` receives each copy by the ``id`` of its original.

    The copies' children are copied from a worklist rather than by a function calling itself:
    a nested function that calls itself is a reference cycle, and every copy of a block would
    leave one (with its table of copies) to the cyclic collector."""
    memo = {} if memo is None else memo
    cut = len(old)
    prefix = old + "."
    copiers: dict[type, Any] = {cls: _copier(cls) for cls in (OpNode, SeqNode, BlockNode)}
    containers: list[Node] = []  # copies whose children are still the originals

    def copy_of(item: Node) -> Node:
        done = memo.get(id(item))
        if done is not None:
            return done
        kind = type(item)
        twin: Node = (copiers.get(kind) or _copier(kind))(item)
        memo[id(item)] = twin
        path = item.path
        if path == old or path.startswith(prefix):
            twin.path = new + path[cut:]
        if kind is not OpNode:  # a sequence or a block
            containers.append(twin)
        return twin

    top = copy_of(node)
    while containers:
        twin = containers.pop()
        assert isinstance(twin, SeqNode)
        twin.children = [copy_of(c) for c in twin.children]
        if isinstance(twin, BlockNode):
            twin.args = dict(twin.args)
            twin.flow = [
                PathRun(
                    run.step, run.input, run.output, [copy_of(c) for c in run.nodes], run.exists
                )
                if type(run) is PathRun
                else run
                for run in twin.flow
            ]
    assert isinstance(top, BlockNode)
    top.name, top.span = name, span
    return top


def _truth(value: Any) -> bool:
    return bool(value)


def _size(d: Any) -> bool:
    """Whether ``d`` is a positive integer (a traced one decided so, see
    :func:`~netspec.expr.evaluate.tracing`)."""
    if isinstance(d, Sym):
        return counted(d)
    return isinstance(d, int) and not isinstance(d, bool) and d > 0


def _check_input(value: Any, span: Span | None) -> Shape:
    shape = value if isinstance(value, tuple) else (value,)
    ok = 1 <= len(shape) <= MAX_RANK and all(_size(d) for d in shape)
    if ok and math.prod(shape) > MAX_ELEMENTS:
        raise NetspecError(
            f"the input {fmt_shape(shape)} has {math.prod(shape):.3g} elements, more than "
            "PyTorch's int64 sizes hold (2⁶³ − 1)",
            span,
            "input",
            hint="one sample's size, e.g. input: [3, 224, 224]",
        )
    if not ok:
        raise NetspecError(
            f"input must be a list of 1 to {MAX_RANK} positive integers (one sample, no batch "
            f"dimension), found {show(value)}",
            span,
            "input",
            hint="e.g. input: [3, 224, 224] for an RGB image",
        )
    return shape
