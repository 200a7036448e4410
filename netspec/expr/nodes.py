"""The expression AST: a small, closed set of immutable nodes.

Nodes carry ``start``/``end`` character offsets into the text they were parsed from; a
:class:`Located` node marks where one text ends and says which text that is, so an error deep
inside a ``let`` list can still be reported at the right line and column. Parsed trees are
cached by text and shared, which is why positions are offsets rather than absolute spans.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from netspec.errors import Span


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a parsed text lives: its span in the spec and how the scalar was quoted."""

    text: str
    span: Span | None
    style: str = ""

    def span_at(self, start: int, end: int) -> Span | None:
        """The span of ``text[start:end]``: exact on one-line scalars, the scalar otherwise."""
        if self.span is None:
            return None
        if start < 0 or "\n" in self.text or self.style in ("|", ">"):
            return self.span
        quote = 1 if self.style in ("'", '"') else 0
        width = max(1, end - start) if end > start else 1
        return self.span.shifted(start + quote, width)


@dataclass(frozen=True, slots=True)
class Expr:
    """Base class of expression nodes."""

    start: int = field(default=-1, compare=False, kw_only=True, repr=False)
    end: int = field(default=-1, compare=False, kw_only=True, repr=False)


@dataclass(frozen=True, slots=True)
class Const(Expr):
    """A literal: int, float, bool, str or None."""

    value: int | float | bool | str | None


@dataclass(frozen=True, slots=True)
class Name(Expr):
    """A name in scope: a param, a ``let``, a loop variable or a built-in function."""

    id: str


@dataclass(frozen=True, slots=True)
class InputRef(Expr):
    """``in``: the shape entering the current block (``in.channels``)."""


@dataclass(frozen=True, slots=True)
class Attr(Expr):
    value: Expr
    attr: str


@dataclass(frozen=True, slots=True)
class Index(Expr):
    """``value[index]``; ``index`` is a :class:`Slice` for ``value[a:b:c]``."""

    value: Expr
    index: Expr


@dataclass(frozen=True, slots=True)
class Slice(Expr):
    """``lower:upper:step`` between brackets, every part optional: only ever an index."""

    lower: Expr | None = None
    upper: Expr | None = None
    step: Expr | None = None


@dataclass(frozen=True, slots=True)
class Call(Expr):
    func: Expr
    args: tuple[Expr, ...] = ()
    kwargs: tuple[tuple[str, Expr], ...] = ()


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    op: str  # "+" or "-"
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    """``left op right``. A chain of the left-associative operators of one precedence
    (``a + b - c``) nests to the left, as Python's ``ast`` has it, up to :data:`NESTED`
    operands; a longer chain is an :class:`OpChain` (:func:`chain` builds either)."""

    op: str  # + - * / // % **
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class OpChain(Expr):
    """``a + b - c + …`` or ``a * b // c * …`` of more than :data:`NESTED` operands: one flat
    node, so that a sum of 10,000 terms is not a tree 10,000 levels deep along which every walk
    of it (evaluating, rendering, comparing) would recurse. ``ops[i]`` applies to what the
    operators before it computed and ``values[i + 1]``: left to right, ``(a + b) - c``."""

    values: tuple[Expr, ...]
    ops: tuple[str, ...]  # one precedence: all of + -, or all of * / // %


@dataclass(frozen=True, slots=True)
class Not(Expr):
    operand: Expr


@dataclass(frozen=True, slots=True)
class BoolOp(Expr):
    op: str  # "and" or "or"
    values: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Compare(Expr):
    left: Expr
    ops: tuple[str, ...]  # < > == >= <= != in "not in"
    comparators: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class IfExp(Expr):
    test: Expr
    body: Expr
    orelse: Expr


@dataclass(frozen=True, slots=True)
class ListExpr(Expr):
    """A list literal; it evaluates to a tuple (values in specs are immutable)."""

    items: tuple[Expr, ...] = ()


@dataclass(frozen=True, slots=True)
class CompFor(Expr):
    """One clause of a comprehension: ``for a, b in iterable if condition…``.

    The targets are local to the comprehension: they are bound for the clauses after this one
    and for the element, never outside (Python's scoping).
    """

    targets: tuple[str, ...]
    iterable: Expr
    conditions: tuple[Expr, ...] = ()


@dataclass(frozen=True, slots=True)
class ListComp(Expr):
    """``[element for … in … if …]``; a list (a tuple) like :class:`ListExpr`."""

    element: Expr
    clauses: tuple[CompFor, ...]


@dataclass(frozen=True, slots=True)
class DictExpr(Expr):
    """A mapping literal (from a YAML mapping under ``let``)."""

    keys: tuple[Expr, ...] = ()
    values: tuple[Expr, ...] = ()


@dataclass(frozen=True, slots=True)
class Located(Expr):
    """The root of one text: errors inside ``node`` are positioned through ``origin``."""

    node: Expr
    origin: Origin


NESTED = 8
"""Most operands of a chain of one precedence written as nested :class:`Binary` nodes: the
chains people write (``h + 2 * p - k``), which stay the trees they always were, which generated
code lays out and splits at their operators, and whose depth the parser's nesting limit counts.
A longer chain is one :class:`OpChain`, of any length and one level deep."""

CHAINED = {"+": 0, "-": 0, "*": 1, "/": 1, "//": 1, "%": 1}
"""The left-associative binary operators, by precedence (``**`` is right-associative)."""


def chain(values: Sequence[Expr], ops: Sequence[str], positioned: bool = True) -> Expr:
    """``values[0] ops[0] values[1] ops[1] …``, operators of one precedence applied left to
    right, in the one shape such a chain has: the operand alone, :class:`Binary` nodes nested
    to the left for up to :data:`NESTED` operands, or one :class:`OpChain`.

    A first operand that is itself a chain of that precedence (``(a + b) + c``, or a residual)
    counts as its operands: ``(a + b) + c`` is ``a + b + c``, as in Python.

    Args:
        positioned: each new node spans its operands, first to last, as a parser's do;
            otherwise it has no position (a residual, whose operands come from anywhere).
    """
    first = values[0]
    if not ops:
        return first
    group = CHAINED[ops[0]]
    if _operand_count(first, group) + len(ops) <= NESTED:
        node = first
        for op, value in zip(ops, values[1:], strict=True):
            if positioned:
                node = Binary(op, node, value, start=node.start, end=value.end)
            else:
                node = Binary(op, node, value)
        return node
    inner_values, inner_ops = _operands(first, group)
    all_values = (*inner_values, *values[1:])
    if not positioned:
        return OpChain(all_values, (*inner_ops, *ops))
    start, end = all_values[0].start, all_values[-1].end
    return OpChain(all_values, (*inner_ops, *ops), start=start, end=end)


def _operand_count(node: Expr, group: int) -> int:
    """How many operands ``node`` has as a chain of the precedence ``group`` (1: not one)."""
    count = 1
    while isinstance(node, Binary) and CHAINED.get(node.op) == group:
        count += 1
        node = node.left
    if isinstance(node, OpChain) and CHAINED[node.ops[0]] == group:
        count += len(node.ops)
    return count


def _operands(node: Expr, group: int) -> tuple[tuple[Expr, ...], tuple[str, ...]]:
    """The operands and operators of ``node`` as a chain of the precedence ``group``."""
    values: list[Expr] = []
    ops: list[str] = []
    while isinstance(node, Binary) and CHAINED.get(node.op) == group:
        values.append(node.right)
        ops.append(node.op)
        node = node.left
    values.reverse()
    ops.reverse()
    if isinstance(node, OpChain) and CHAINED[node.ops[0]] == group:
        return (*node.values, *values), (*node.ops, *ops)
    return (node, *values), tuple(ops)


def strip(node: Expr) -> Expr:
    """``node`` without a :class:`Located` wrapper."""
    while isinstance(node, Located):
        node = node.node
    return node


def substitute(node: Expr, mapping: dict[str, Expr]) -> Expr:
    """``node`` with every :class:`Name` in ``mapping`` replaced (called functions excepted).

    A comprehension's targets shadow the mapping inside it; a target that a replacement reads
    is renamed (``w`` → ``w_1``), so that no replacement is captured.
    """
    node = strip(node)
    if isinstance(node, Name):
        return mapping.get(node.id, node)
    if isinstance(node, Attr):
        if isinstance(strip(node.value), InputRef) and f"in.{node.attr}" in mapping:
            return mapping[f"in.{node.attr}"]  # `in.channels` → what the caller calls it
        return Attr(substitute(node.value, mapping), node.attr)
    if isinstance(node, Index):
        return Index(substitute(node.value, mapping), substitute(node.index, mapping))
    if isinstance(node, Slice):
        return Slice(*(None if p is None else substitute(p, mapping) for p in _parts(node)))
    if isinstance(node, Call):
        return Call(
            node.func,
            tuple(substitute(a, mapping) for a in node.args),
            tuple((k, substitute(v, mapping)) for k, v in node.kwargs),
        )
    if isinstance(node, Unary):
        return Unary(node.op, substitute(node.operand, mapping))
    if isinstance(node, Not):
        return Not(substitute(node.operand, mapping))
    if isinstance(node, Binary):
        return Binary(node.op, substitute(node.left, mapping), substitute(node.right, mapping))
    if isinstance(node, OpChain):
        return OpChain(tuple(substitute(v, mapping) for v in node.values), node.ops)
    if isinstance(node, BoolOp):
        return BoolOp(node.op, tuple(substitute(v, mapping) for v in node.values))
    if isinstance(node, Compare):
        return Compare(
            substitute(node.left, mapping),
            node.ops,
            tuple(substitute(c, mapping) for c in node.comparators),
        )
    if isinstance(node, IfExp):
        return IfExp(*(substitute(x, mapping) for x in (node.test, node.body, node.orelse)))
    if isinstance(node, ListExpr):
        return ListExpr(tuple(substitute(i, mapping) for i in node.items))
    if isinstance(node, ListComp):
        return _substitute_comprehension(node, mapping)
    if isinstance(node, DictExpr):
        return DictExpr(
            tuple(substitute(k, mapping) for k in node.keys),
            tuple(substitute(v, mapping) for v in node.values),
        )
    return node


def _parts(node: Slice) -> tuple[Expr | None, Expr | None, Expr | None]:
    return node.lower, node.upper, node.step


def _substitute_comprehension(node: ListComp, mapping: dict[str, Expr]) -> ListComp:
    inner = dict(mapping)
    taken: set[str] | None = None
    clauses = []
    for clause in node.clauses:
        iterable = substitute(clause.iterable, inner)
        targets = []
        for target in clause.targets:
            inner.pop(target, None)  # the target hides the outer name
            if any(target in free_names(value) for value in inner.values()):
                if taken is None:
                    taken = free_names(node) | _bound(node)
                    taken |= set().union(*(free_names(v) for v in mapping.values()))
                fresh = _fresh(target, taken)
                taken.add(fresh)
                inner[target] = Name(fresh)
                target = fresh
            targets.append(target)
        conditions = tuple(substitute(c, inner) for c in clause.conditions)
        clauses.append(CompFor(tuple(targets), iterable, conditions))
    return ListComp(substitute(node.element, inner), tuple(clauses))


def _fresh(name: str, taken: set[str]) -> str:
    i = 1
    while f"{name}_{i}" in taken:
        i += 1
    return f"{name}_{i}"


def _bound(node: ListComp) -> set[str]:
    """The targets of ``node``'s clauses."""
    return {t for clause in node.clauses for t in clause.targets}


def _comprehension_names(node: ListComp, names: Callable[[Expr], set[str]]) -> set[str]:
    """``names`` of each part of ``node`` less the targets bound where that part is."""
    out: set[str] = set()
    bound: set[str] = set()
    for clause in node.clauses:
        out |= names(clause.iterable) - bound
        bound |= set(clause.targets)
        for condition in clause.conditions:
            out |= names(condition) - bound
    return out | (names(node.element) - bound)


def value_names(node: Expr) -> set[str]:
    """The names ``node`` reads as values (the names of called functions excluded)."""
    out: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        # (exact types rather than isinstance, and the leaves first: every spec's checks walk
        # every expression here)
        if type(item) is Name:
            out.add(item.id)
        elif type(item) is Const:
            continue
        elif type(item) is Located:
            stack.append(item.node)
        elif type(item) is Call:
            stack += item.args
            stack += [v for _, v in item.kwargs]
        elif type(item) is ListComp:
            out |= _comprehension_names(item, value_names)
        else:
            for slot in getattr(item, "__slots__", ()):
                child = getattr(item, slot, None)
                if isinstance(child, Expr):
                    stack.append(child)
                elif isinstance(child, tuple):
                    stack += [c for c in child if isinstance(c, Expr)]
    return out


def free_names(node: Expr) -> set[str]:
    """Every :class:`Name` that ``node`` reads, each part of it visited once (a size shares
    parts among its parts: walked as a tree, each would be walked once per path to it)."""
    out: set[str] = set()
    seen: set[int] = set()  # (parts of ``node``, which keeps them: no other takes their id)
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, Name):
            out.add(n.id)
        elif isinstance(n, Located):
            stack.append(n.node)
        elif isinstance(n, Attr):
            stack.append(n.value)
        elif isinstance(n, Index):
            stack += [n.value, n.index]
        elif isinstance(n, Slice):
            stack += [p for p in _parts(n) if p is not None]
        elif isinstance(n, ListComp):
            out |= _comprehension_names(n, free_names)
        elif isinstance(n, Call):
            stack.append(n.func)
            stack += n.args
            stack += [v for _, v in n.kwargs]
        elif isinstance(n, Unary | Not):
            stack.append(n.operand)
        elif isinstance(n, Binary):
            stack += [n.left, n.right]
        elif isinstance(n, OpChain):
            stack += n.values
        elif isinstance(n, BoolOp):
            stack += n.values
        elif isinstance(n, Compare):
            stack.append(n.left)
            stack += n.comparators
        elif isinstance(n, IfExp):
            stack += [n.test, n.body, n.orelse]
        elif isinstance(n, ListExpr):
            stack += n.items
        elif isinstance(n, DictExpr):
            stack += n.keys
            stack += n.values
    return out


def bound_names(node: Expr) -> set[str]:
    """The variables of every comprehension inside ``node``."""
    out: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, CompFor):
            out.update(item.targets)
        for slot in getattr(item, "__slots__", ()):
            child = getattr(item, slot, None)
            if isinstance(child, Expr):
                stack.append(child)
            elif isinstance(child, tuple):
                stack += [c for c in child if isinstance(c, Expr)]
                stack += [c[1] for c in child if isinstance(c, tuple) and len(c) == 2]
    return out
