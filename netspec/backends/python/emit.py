"""Compiling a spec into the classes of a PyTorch module file.

The spec is compiled, not its expansion: params become constructor arguments, ``let`` values
locals, loops Python loops and conditions ``if`` statements, and each block one class whose
constructor takes the block's params, so that the generated classes build the right network for
*any* parameter values, like hand-written ones. Every argument is written as the spec wrote it;
sizes the spec never writes — input channels and features — come from a symbolic run of the same
operator rules the static analysis uses, over values that are
:class:`~netspec.expr.evaluate.Sym` (an expression in the generated code, plus its value when it
is known without running it).

Sizes that change inside a loop or a condition are carried by local variables (``channels``,
``height``…), assigned right after the statement that changes them, exactly the way torchvision's
``make_layers`` tracks ``in_channels``; assignments nobody reads are pruned afterwards.
"""

from __future__ import annotations

import ast
import functools
import keyword
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from netspec.errors import CodegenError, ExprError, NetspecError, ShapeError, Span, SpecError
from netspec.expand import calls
from netspec.expand.expander import check_choice, unnamed_layer
from netspec.expand.ir import BlockNode, SeqNode, walk
from netspec.expand.lower import (
    IDENTITY,
    IN,
    INPUT,
    OUT,
    REPEAT_COUNT,
    STAGE_DEPTH,
    Join,
    Lowered,
    Path,
    Split,
    block_calls,
    block_layer_names,
    container_kind,
    count_refusal,
    inputs_block,
    layer_names,
    lower_block,
    merge_call,
    missing_child,
    numbered_branches,
    read_names,
    stage_arguments,
    taps,
)
from netspec.expr import nodes as n
from netspec.expr.evaluate import (
    BUILTINS,
    FIELD_END,
    FIELD_START,
    UNKNOWN,
    InputShape,
    Scope,
    Sym,
    SymbolicError,
    SymEither,
    SymList,
    SymText,
    as_expr,
    concrete,
    evaluate,
    iterate,
    known,
    show,
    sym_like,
    sym_of,
)
from netspec.expr.render import (
    _IF,
    Renderer,
    _precedence,
    literal,
    needs_tuple,
    python_function,
    python_string,
    render,
    render_iterable,
)
from netspec.infer import Network
from netspec.ops.base import HELPERS, TRAINING, Deferred, OpError, PyCall, Shape, X, deferring
from netspec.ops.learned import TensorRef, declare
from netspec.ops.merge import MERGES, split_channels, split_code
from netspec.spec import models as m
from netspec.spec.names import GENERATED, check_layer_name
from netspec.spec.params import Param, choices_message, item_kind, requirement_message

from .format import Atom, Bracket, Chain, Item, PyExpr, Stmt, call, lay_out, prune

_DIM_NAMES = {
    1: ("features",),
    2: ("channels", "length"),
    3: ("channels", "height", "width"),
    4: ("channels", "depth", "height", "width"),
}
_FORWARD_NAMES = {"x", "out", "identity", "self"}
_RESERVED_VARS = _FORWARD_NAMES | {"torch", "nn", "F", "math", "OrderedDict", "Any"} | set(HELPERS)
"""Names a ``forward`` reads besides its own variables."""
RECURSIVE_SIZE = "_recursive_size"
"""The prefix of a size of a recursive block's output that has no closed form (see
:meth:`Module.closed_form`), numbered and named after the block: generated code that would
read it is refused."""
RECURSIVE_IN = "_recursive_in"
"""The input sizes of a recursive block in its closed form (numbered)."""
ClosedKey = tuple[str, int, tuple[int, ...]]
"""A closed form's key: the block, its (first) input's rank and the other inputs' ranks."""


def _other_in(k: int, i: int) -> str:
    """Size ``i`` of other input ``k`` (after the first) of a recursive block of several
    inputs, in its closed form."""
    return f"{RECURSIVE_IN}_other{k}_{i}"


MAX_UNROLL = 32
"""Most iterations of a loop in a class body (of loops inside each other, all together) that the
generated code writes out one by one (``self.conv1 = …``, ``self.conv2 = …``); a longer loop,
like one whose iterations depend on the constructor's arguments, stays a loop
(``setattr``/``getattr``)."""


class Namespace:
    """Fresh names that never shadow the spec's names or generated code's."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = set(taken) | set(GENERATED) | set(BUILTINS) | set(keyword.kwlist)
        self.patterns: list[re.Pattern[str]] = []
        """Names made when the code runs (``n_{i}``), which a fresh name must not be."""

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.taken or self._made(name):
            if self._made(name) and not base.startswith("_"):
                # a template may make it: a name with `_` first, which no layer has
                return self.fresh(f"_{base}")
            name = f"{base}_{i}"
            i += 1
        self.taken.add(name)
        return name

    def _made(self, name: str) -> bool:
        """Whether a template may make ``name`` (never one with `_` first: no layer has it)."""
        return not name.startswith("_") and any(p.fullmatch(name) for p in self.patterns)

    def snapshot(self) -> set[str]:
        return set(self.taken)

    def restore(self, snapshot: set[str]) -> None:
        self.taken = snapshot


@dataclass
class State:
    """Where code generation is: the symbolic shape, and which dimensions are variables."""

    shape: Shape
    tracked: dict[int, str] = field(default_factory=dict)
    dead: bool = False
    """The code so far always raises (a layer that fails whatever the params), so nothing after
    it runs."""

    def copy(self) -> State:
        return State(tuple(self.shape), dict(self.tracked), self.dead)


class _Dead(Exception):
    """A layer fails for every parameter value: the generated code raises its error instead."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def stmt(self) -> Stmt:
        return Stmt("raise ", call("ValueError", Atom(literal(self.message))))


@dataclass
class Flow:
    """The tensor variables of a ``forward``: each call reads ``src`` and writes ``dst``."""

    src: str = "x"
    dst: str = "x"

    def line(self, expr: PyExpr) -> Stmt:
        stmt = Stmt(f"{self.dst} = ", expr)
        self.src = self.dst
        return stmt


@dataclass
class ClassCode:
    """A generated class: name, base, class attributes, signature, ``__init__`` and ``forward``."""

    name: str
    base: str
    signature: list[Item]
    init: list[Stmt]
    forward: list[Stmt] | None
    docstring: str
    attributes: list[str] = field(default_factory=list)
    """Class-level lines (``expansion = 4``)."""
    in_dims: list[tuple[int, str]] = field(default_factory=list)
    """For block classes: which input dimensions the constructor takes first, and their names."""
    globals: list[str] = field(default_factory=list)
    """For block classes: the spec names the constructor takes as keywords."""
    inputs: list[str] = field(default_factory=list)
    """A block of several inputs: ``forward``'s arguments after ``x`` (the first)."""
    other_dims: list[tuple[int, int, str]] = field(default_factory=list)
    """Its other inputs' dimensions the constructor takes next: (input, dimension, name)."""


def _text(node: n.Expr) -> str:
    """``node`` as Python source (each shared part written once: see
    :class:`~netspec.expr.render.Renderer`)."""
    return render(node, python=True)


def _py(value: Any, x: str = "x") -> PyExpr:
    """A value or symbolic expression as a layout-able Python expression."""
    if value is X:
        return Atom(x)
    if value is TRAINING:
        return Atom("self.training")
    if isinstance(value, tuple):
        return Bracket("(", tuple(Item(_py(v, x)) for v in value), ")", tuple_like=True)
    if isinstance(value, PyCall):
        return _py_call(value, x)
    return _expr(as_expr(value))


_CHAINED = ({"+", "-"}, {"*", "/", "//", "%"})
"""Operators of one precedence, which a long expression splits before (as black does)."""


def _expr(node: n.Expr) -> PyExpr:
    """``node`` as a layout-able expression: calls and displays as brackets, comprehensions,
    conditional expressions and operator chains as parts that split where a line is too long
    (checked against the one-line rendering, which stays the reference)."""
    return _Layout().expr(node)


def _laid_out(node: n.Expr) -> PyExpr | None:
    """``node``'s own layout (see :meth:`_Layout.laid_out`), ``None`` where it has none."""
    return _Layout().laid_out(node)


class _Layout:
    """Laying out one expression (:func:`_expr`), each of its parts once.

    A size shares its parts with the sizes it is made from: a size that one arm of a
    condition (or of a choice, or one path of a ``parallel``) leaves alone is the same object
    in the expression after it, so that conditions and blocks nested in each other make sizes
    that are small as graphs of objects and many times larger as trees, every level of
    nesting multiplying them. Laid out as a tree, a part was laid out (and written, to check
    the layout against the text) once per path to it, and again at each level above it; here
    once, by identity (hashing an expression walks its tree), for the one expression.
    """

    def __init__(self) -> None:
        self.text = Renderer(python=True)
        self.laid: dict[int, tuple[n.Expr, PyExpr]] = {}
        """By part (its identity): the part (kept, so that no other takes its identity) and
        its layout."""

    def expr(self, node: n.Expr) -> PyExpr:
        """:func:`_expr`."""
        if id(node) not in self.laid:
            laid = self.laid_out(n.strip(node))
            if laid is None or laid.flat() != self.text.run(node):
                laid = self.plain(node)
            self.laid[id(node)] = (node, laid)
        return self.laid[id(node)][1]

    def laid_out(self, node: n.Expr) -> PyExpr | None:
        """A conditional expression, a comprehension, a chain of operators or a call split
        where it does not fit; ``None`` for any other expression."""
        if isinstance(node, n.IfExp):
            test = self.text.run(node.test)
            test = f"({test})" if _precedence(node.test) <= _IF else test
            return Chain(
                (
                    self.operand(node.body, _IF + 1),
                    Atom(f"if {test}"),
                    self.prefixed("else ", node.orelse),
                )
            )
        if isinstance(node, n.ListComp):
            parts: list[PyExpr] = [self.expr(node.element)]
            for clause in node.clauses:
                iterable = self.text.run(n.ListComp(n.Name("_"), (clause,)))
                parts.append(Atom(iterable[len("tuple(_ ") : -1].split(" if ")[0]))
                parts += [Atom(f"if {self.text.run(c)}") for c in clause.conditions]
            return Bracket("tuple(", (Item(Chain(tuple(parts))),), ")", commas=False)
        if isinstance(node, n.Binary):
            group = next((g for g in _CHAINED if node.op in g), None)
            if group is None:
                return None
            operands: list[tuple[str, n.Expr]] = []
            left: n.Expr = node
            while isinstance(left, n.Binary) and left.op in group:
                operands.insert(0, (left.op, left.right))
                left = n.strip(left.left)
            if isinstance(left, n.OpChain) and left.ops[0] in group:  # a long chain, extended
                operands[:0] = list(zip(left.ops, left.values[1:], strict=True))
                left = n.strip(left.values[0])
            p = _precedence(node)
            parts = [self.operand(left, p)]
            parts += [self.prefixed(f"{op} ", right, p + 1) for op, right in operands]
            return Chain(tuple(parts))
        call, close = node, ")"
        if isinstance(node, n.Index) and isinstance(node.index, n.Const):  # `f(a, b)[1]`
            call, close = n.strip(node.value), f")[{self.text.run(node.index)}]"
        if isinstance(call, n.Call) and isinstance(call.func, n.Name) and not call.kwargs:
            args = tuple(Item(self.expr(a)) for a in call.args)
            return Bracket(f"{call.func.id}(", args, close)
        if isinstance(node, n.BoolOp):  # black splits before each `and`/`or`
            p = _precedence(node)
            parts = [self.operand(node.values[0], p + 1)]
            parts += [self.prefixed(f"{node.op} ", v, p + 1) for v in node.values[1:]]
            return Chain(tuple(parts))
        if isinstance(node, n.OpChain):  # split across lines like a short chain
            p = _precedence(node)
            parts = [self.operand(node.values[0], p)]
            parts += [
                self.prefixed(f"{op} ", value, p + 1)
                for op, value in zip(node.ops, node.values[1:], strict=True)
            ]
            return Chain(tuple(parts))
        return None

    def operand(self, node: n.Expr, need: int) -> PyExpr:
        """``node`` as an operand that binds at least as tightly as ``need``: bracketed where it
        does not (``(a + b) // 2``), split inside its brackets where it is too long."""
        inner = self.expr(node)
        if _precedence(node) < need:
            return Bracket("(", (Item(inner),), ")", commas=False)
        return inner

    def prefixed(self, text: str, node: n.Expr, need: int = _IF) -> PyExpr:
        return _with_prefix(text, self.operand(node, need))

    def plain(self, node: n.Expr) -> PyExpr:
        node = n.strip(node)
        if isinstance(node, n.ListExpr):
            return Bracket("(", tuple(Item(self.expr(i)) for i in node.items), ")", tuple_like=True)
        if isinstance(node, n.DictExpr):
            items = tuple(
                Item(self.expr(v), self.text.run(k), ": ")
                for k, v in zip(node.keys, node.values, strict=True)
            )
            return Bracket("{", items, "}")
        if isinstance(node, n.Call) and isinstance(node.func, n.Name):
            args = tuple(Item(self.expr(a)) for a in node.args)
            kwargs = tuple(Item(self.expr(v), k, "=") for k, v in node.kwargs)
            made = Bracket(f"{python_function(node.func.id)}(", args + kwargs, ")")
            return Bracket("tuple(", (Item(made),), ")") if needs_tuple(node.func.id) else made
        return Atom(self.text.run(node))


def _for_header(header: str) -> PyExpr | None:
    """A ``for a, b in x:`` header that black would split: its names bracketed, one per line."""
    names, sep, rest = header[len("for ") :].partition(" in ")
    if not sep or ", " not in names:
        return None
    items = tuple(Item(Atom(name)) for name in names.split(", "))
    return Bracket("for (", items, f") in {rest}", text=header)


def _with_prefix(text: str, inner: PyExpr) -> PyExpr:
    """``text`` + ``inner``, split where ``inner`` splits (``else a`` / ``+ b``)."""
    if isinstance(inner, Bracket) and inner.text is None:
        return Bracket(text + inner.head, inner.items, inner.close, inner.tuple_like, inner.commas)
    if isinstance(inner, Chain):
        return Chain((_with_prefix(text, inner.parts[0]), *inner.parts[1:]))
    return Atom(text + inner.flat())


def _py_call(pc: PyCall, x: str = "x") -> Bracket:
    args = tuple(Item(_py(a, x)) for a in pc.args)
    kwargs = tuple(Item(_py(v, x), k, "=") for k, v in pc.kwargs)
    return Bracket(f"{pc.func}(", args + kwargs, ")")


def _raise_if(test: n.Expr, error: NetspecError) -> Stmt:
    """``if <test>: raise ValueError("<error>")``: where check refuses values the class is
    given (its error, positioned in the spec)."""
    return _if(test, [_Dead(error.headline()).stmt()])


def _raise_formatted(text: str) -> Stmt:
    """``raise ValueError(f"<text>")``: ``text`` holds the f-string's replacement fields."""
    return Stmt("raise ", call("ValueError", Atom("f" + python_string(text))))


def _refuse(test: n.Expr, message: str, found: str) -> Stmt:
    """``if <test>: raise ValueError(f"<message>, found <found>")``, where ``found`` holds
    replacement fields (``{depth!r}``): check's refusal of a param's value, in its words."""
    text = message.replace("{", "{{").replace("}", "}}") + ", found " + found
    return _if(test, [_raise_formatted(text)])


def _refuse_deferred(check: Deferred, error: ShapeError) -> Stmt:
    """``if <test>: raise ValueError(f"<error>")``: an operator's check of values the class
    learns only when constructed (:func:`~netspec.ops.base.refuse_where`), check's error with
    the values written as replacement fields (``{shift_size!r}``; where a value's text
    cannot stand in an f-string, the message joined with its ``repr``)."""
    parts = re.split(f"{FIELD_START}([0-9]+){FIELD_END}", error.headline())
    # (a field cut by the shortening of a very long message is left out)
    texts = [text.replace(FIELD_START, "").replace(FIELD_END, "") for text in parts[0::2]]
    used = [check.fields[int(k)] for k in parts[1::2]]
    fields = [_field_text(expr) for expr in used] + [""]
    if not used:  # no value to write: the headline as it is
        raised = _Dead(texts[0]).stmt()
    elif all(_in_f_string(value) for value in fields):
        body = "".join(
            text.replace("{", "{{").replace("}", "}}") + (f"{{{value}!r}}" if value else "")
            for text, value in zip(texts, fields, strict=True)
        )
        raised = _raise_formatted(body)
    else:
        values = [_field_text(expr, False) for expr in used] + [""]
        pieces = [
            piece
            for text, value in zip(texts, values, strict=True)
            for piece in (python_string(text) if text else "", f"repr({value})" if value else "")
            if piece
        ]
        raised = Stmt("raise ", call("ValueError", _sum_of(pieces)))
    reads = _reads(check.test, *used)
    return replace(_if(check.test, [raised]), reads=reads, refuses=True, test=check.test)


def _in_f_string(text: str) -> bool:
    """Whether an expression's text may stand in an f-string's replacement field (before
    Python 3.12: no quote, backslash, brace, ``#`` or line break)."""
    return not set(text) & set("'\"\\{}#\n")


def _field_text(expr: n.Expr, bracketed: bool = True) -> str:
    """A replacement field's expression, in brackets unless it is one term
    (``{(0 if j % 2 == 0 else w // 2)!r}``; ``bracketed`` false: never, for an argument of
    ``repr``); a list written out as a list, as check shows it (``{[a, 2, 3, 1]!r}``, where
    Python's text of the list is a tuple)."""
    inner = n.strip(expr)
    if isinstance(inner, n.ListExpr):
        return "[" + ", ".join(_text(item) for item in inner.items) + "]"
    text = _text(expr)
    one = isinstance(inner, n.Name | n.Attr | n.Index | n.Call | n.Const)
    return text if one or not bracketed else f"({text})"


def _sum_of(pieces: Sequence[str]) -> PyExpr:
    """``a + b + c``, split one operand a line where it does not fit (as ruff splits it)."""
    return Chain((Atom(pieces[0]), *(Atom(f"+ {piece}") for piece in pieces[1:])))


def _arms_checks(test: n.Expr, pre: tuple[list[Stmt], list[Stmt]]) -> list[Stmt]:
    """The checks of values (:func:`_refuse_deferred`) among the statements of a choice's two
    arms, taken out of them: ``if <test>:`` the first arm's, ``else:`` the second's (check
    makes an arm's checks only where the values choose it), itself such a check of an
    enclosing choice."""
    checks = [[stmt for stmt in arm if stmt.refuses] for arm in pre]
    if not checks[0] and not checks[1]:
        return []
    for arm in pre:
        arm[:] = [stmt for stmt in arm if not stmt.refuses]
    if checks[0] and checks[1]:
        return [replace(_if(test, checks[0]), orelse=checks[1], refuses=True)]
    chosen, (check, *more) = (test, checks[0]) if checks[0] else (_negated(test), checks[1])
    if more or check.test is None or check.orelse:
        return [replace(_if(chosen, [check, *more]), refuses=True)]
    both = n.BoolOp("and", (chosen, check.test))  # one test, not an `if` in an `if`
    reads = check.reads | _reads(chosen)
    return [replace(_if(both, check.body), reads=reads, refuses=True, test=both)]


def _negated(test: n.Expr) -> n.Expr:
    """``not <test>``, a comparison that has a negation written as that (``a not in b``, not
    ``not a in b``, which ruff refuses)."""
    inner = n.strip(test)
    if isinstance(inner, n.Compare) and len(inner.ops) == 1 and inner.ops[0] in _INVERSE:
        return n.Compare(inner.left, (_INVERSE[inner.ops[0]],), inner.comparators)
    return n.Not(test)


def _refuse_count(count: n.Expr, least: int, message: str) -> Stmt:
    """``if <count> < least: raise ValueError(f"<message>, found {<count>!r}")``: a count the
    params give (a repeat's, a stage's depth), refused as check refuses it."""
    text = _text(count)
    test = n.Compare(count, ("<",), (n.Const(least),))
    if _in_f_string(text):
        return _refuse(test, message, f"{{{text}!r}}")
    # an f-string cannot hold the expression's text: the message added to its repr
    found = _sum_of([python_string(message + ", found "), f"repr({text})"])
    return _if(test, [Stmt("raise ", call("ValueError", found))])


def _if(test: n.Expr, body: list[Stmt]) -> Stmt:
    """``if <test>:`` and ``body``; a long test of ``and``/``or`` split one operand a line
    in brackets, as black splits it."""
    header = f"if {_text(test)}:"
    inner = n.strip(test)
    negated = isinstance(inner, n.Not) and isinstance(n.strip(inner.operand), n.BoolOp)
    chain = n.strip(inner.operand) if isinstance(inner, n.Not) else inner
    laid = _laid_out(chain) if negated or isinstance(chain, n.BoolOp) else None
    expr = None
    if laid is not None and laid.flat() == _text(chain):
        head = "if not (" if negated else "if ("
        expr = Bracket(head, (Item(laid),), "):", commas=False, text=header)
    elif isinstance(chain, n.Call):  # a long call split at its brackets: `if not all(\n…\n):`
        called = _expr(chain)
        if isinstance(called, Bracket) and called.flat() == _text(chain):
            head = ("if not " if isinstance(inner, n.Not) else "if ") + called.head
            expr = replace(called, head=head, close=called.close + ":", text=None)
    return Stmt(header, expr, reads=_reads(test), body=body, block=True)


_RANKS_HINT = (
    "the class writes the sizes after it once, for every value of the params: give both the "
    "same rank (a flatten or a reshape in one)"
)


def _may_collide(entries: Sequence[Any]) -> set[int]:
    """The templated names of a layer list (through its loops and conditions, not into the
    lists its entries hold, each a list of its own) that may make a name twice at values the
    class is given, by ``id`` of their entries: the class tests those where it makes them, as
    check does (``conv{k}`` over a list param ``[1, 1]``; ``conv{i}`` over ``range(start, 4)``
    beside a ``conv1``). A name is made once where the part reading the loop's variable is
    injective in it, the one loop around it counting (``range``, an ``enumerate``'s index, a
    ``repeat``'s ``as``) — ``denselayer{j + 1}`` — and no other name of the list can be it."""
    named: list[tuple[m.NamedEntry, list[Any]]] = []

    def walk(items: Sequence[Any], loops: list[Any]) -> None:
        for entry in items:
            if isinstance(entry, m.NamedEntry):
                named.append((entry, loops))
            elif isinstance(entry, m.ForEntry | m.RepeatEntry):
                walk(entry.do, [*loops, entry])
            elif isinstance(entry, m.IfEntry):
                walk(entry.then, loops)
                walk(entry.else_, loops)

    walk(list(entries), [])
    patterns = [_name_pattern(entry.name, loops) for entry, loops in named]
    out: set[int] = set()
    for i, (entry, loops) in enumerate(named):
        template = entry.name
        if not template.is_template:
            continue
        if not _made_once(template, loops) or any(
            _may_name_alike(patterns[i], template, other.name)
            for j, (other, _) in enumerate(named)
            if j != i
        ):
            out.add(id(entry))
    return out


def _counter(loop: Any) -> str | None:
    """The variable of a loop that differs on every run: ``range``'s, an ``enumerate``'s
    index, a ``repeat``'s ``as`` (an integer each time)."""
    if isinstance(loop, m.RepeatEntry):
        return loop.as_
    iterable, names = n.strip(loop.for_.expr), loop.for_.names
    func = iterable.func if isinstance(iterable, n.Call) else None
    called = func.id if isinstance(func, n.Name) else None
    if (called == "range" and len(names) == 1) or (called == "enumerate" and len(names) == 2):
        return str(names[0])
    return None


def _counted(part: n.Expr, counter: str | None) -> bool:
    """Whether ``part`` is ``counter``, or it plus or minus a number (injective in it)."""
    part = n.strip(part)
    if isinstance(part, n.Binary) and part.op in "+-":
        left, right = n.strip(part.left), n.strip(part.right)
        if isinstance(right, n.Const) and isinstance(right.value, int):
            part = left
        elif part.op == "+" and isinstance(left, n.Const) and isinstance(left.value, int):
            part = right
    return counter is not None and isinstance(part, n.Name) and part.id == counter


def _made_once(template: m.NameTemplate, loops: list[Any]) -> bool:
    """Whether ``template`` gives each run of the loops around it a name of its own: one
    part reads the loop's variable, injectively; the others read no variable of it (the
    values they read are the same on every run: ``block{i + 1}-{j}`` in a ``repeat … as j``
    inside the list ``block{i + 1}``)."""
    if not loops:
        return True
    if len(loops) != 1:
        return False
    loop = loops[0]
    variables = {loop.as_} if isinstance(loop, m.RepeatEntry) else set(loop.for_.names)
    varying = [p for p in template.parts if not isinstance(p, str) and n.free_names(p) & variables]
    return len(varying) == 1 and _counted(varying[0], _counter(loop))


def _name_pattern(template: m.NameTemplate, loops: list[Any]) -> str:
    """A regular expression of the names ``template`` may give: its text, an integer for a
    part counting a loop's runs, anything for another part."""
    counters = {_counter(loop) for loop in loops} - {None}
    return template.pattern(lambda p: "-?[0-9]+" if any(_counted(p, c) for c in counters) else ".+")


def _may_name_alike(pattern: str, template: m.NameTemplate, other: m.NameTemplate) -> bool:
    """Whether ``other`` (a name or a template) may give a name ``template`` gives: a name its
    pattern matches; a template whose text before its first part and after its last is not
    told apart from this one's."""
    if not other.is_template:
        return re.fullmatch(pattern, other.text) is not None

    def ends(t: m.NameTemplate) -> tuple[str, str]:
        head = t.parts[0] if isinstance(t.parts[0], str) else ""
        tail = t.parts[-1] if isinstance(t.parts[-1], str) else ""
        return head, tail

    (head, tail), (other_head, other_tail) = ends(template), ends(other)
    apart = not (head.startswith(other_head) or other_head.startswith(head))
    apart = apart or not (tail.endswith(other_tail) or other_tail.endswith(tail))
    return not apart


def _varies(value: Any) -> bool:
    """Whether a layer list's length may follow the params: a loop or a condition at its
    top."""
    entries = value if isinstance(value, list) else [value]
    return any(isinstance(e, m.ForEntry | m.RepeatEntry | m.IfEntry) for e in entries)


def _short_sequence_guard(name: str, target: str, k: int) -> Stmt:
    """``if len(self.<name>) <= k: raise ValueError(…)``: ``from: name.k`` reads a child the
    sequence may not have (its length follows the params), which check refuses."""
    text = (missing_child(name, k) + " ").replace("{", "{{").replace("}", "}}")
    raise_ = _raise_formatted(text + f"{{len({target})}}")
    return Stmt(f"if len({target}) <= {k}:", reads=frozenset(), body=[raise_], block=True)


_INVERSE = {"==": "!=", "!=": "==", "in": "not in", "not in": "in"}
"""Comparisons whose negation is another (``a < b`` is not: NaN)."""

HELPERS["may_share"] = '''
def _may_share(new: nn.Module, old: nn.Module | None) -> bool:
    """Whether a module made again may be the one made before under its name, to be called
    twice: none made yet, or one of the same class and settings with nothing of its own to
    learn or keep."""
    if old is None:
        return True
    if not isinstance(old, nn.Module):  # an attribute of another kind (`training`)
        return False
    owns = [*new.state_dict(), *new.children(), *old.state_dict(), *old.children()]
    settings = [{k: v for k, v in vars(m).items() if k[0] != "_"} for m in (new, old)]
    return type(new) is type(old) and not owns and settings[0] == settings[1]
'''

HELPERS["as_tuples"] = '''
def _as_tuples(value: Any) -> Any:
    """Lists as tuples at every depth, as netspec reads a param's value."""
    if isinstance(value, list | tuple):
        return tuple(_as_tuples(item) for item in value)
    return value
'''


def _fails(node: n.Expr, truth: Callable[[n.Expr], bool]) -> n.Expr:
    """A test true exactly where condition ``node`` is not ``True`` (check refuses another
    value than ``true``): ``a != b`` for ``a == b``, ``not c`` for a condition that is true
    or false by its form (``truth``), ``(c) is not True`` for another."""
    inner = n.strip(node)
    negated = _negated(inner)
    if isinstance(negated, n.Compare):  # a comparison that has a negation
        return negated
    if not truth(inner):
        return n.Compare(inner, ("is not",), (n.Const(True),))
    if isinstance(inner, n.Not):
        return inner.operand
    return negated


def _is_scalar(value: Any) -> bool:
    """A number, a truth value, text or ``None`` (what ``!=`` compares as check's does)."""
    return value is None or isinstance(value, bool | int | float | str)


def _reads(*values: Any) -> frozenset[str]:
    out: set[str] = set()
    for value in values:
        if isinstance(value, PyCall):
            out |= _reads(*value.args, *(v for _, v in value.kwargs))
        elif isinstance(value, tuple):
            out |= _reads(*value)
        elif isinstance(value, Sym):
            out |= n.free_names(value.expr)
        elif isinstance(value, n.Expr):
            out |= n.free_names(value)
    return frozenset(out)


def _reads_items(expr: PyExpr) -> frozenset[str]:
    """Names read by laid-out code (a conservative scan of its identifiers)."""
    return frozenset(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expr.flat()))


class Module:
    """One generated file: the top class and a class per block it uses."""

    def __init__(self, spec: m.SpecFile, net: Network, params: dict[str, Param]) -> None:
        self.spec = spec
        self.net = net
        self.params = params
        self.helpers: set[str] = set()
        self.uses_ordered_dict = False
        self.blocks: dict[str, ClassCode] = {}
        """Block classes in the order they must be defined (dependencies first)."""
        self.generating: list[str] = []
        self.needs = _block_needs(spec)
        self.top_name = net.class_name
        self.arg_types = _arg_types(net)
        """Python types of each block's arguments, as the network instantiates them."""
        self.arg_kinds = _arg_kinds(net)
        """The kinds (a number, a list, text…) each block's arguments have in its calls."""
        self.kinds: dict[str, frozenset[str]] = {
            name: frozenset({_PARAM_KINDS.get(p.kind, p.kind)}) for name, p in params.items()
        }
        """The kinds each of the spec's params and ``let`` values may have, whatever the
        params' values (a ``let`` may be a number or a list, as a param decides)."""
        self.probes = 0
        """Symbolic starts made so far (each dry run of a loop from any size has names of its
        own: one nested in another, through a block's dry run, must not confuse the two)."""
        self.sizing: list[str] = []
        """Blocks whose output is being computed by a dry run (a recursive block calls itself
        in its own dry run: that call's output is its closed form, see :meth:`closed_form`)."""
        self.closed: dict[ClosedKey, tuple[n.Expr | None, ...]] = {}
        """Each recursive block's output sizes in its own terms (assumed, while computed), by
        block and the ranks of its inputs."""
        self.size_functions: dict[ClosedKey, str] = {}
        """The function computing a recursive block's output sizes that have no closed form
        (its name, by block and the ranks of its inputs), see :meth:`size_function`."""
        self.size_texts: dict[ClosedKey, str] = {}
        """Their definitions, once written."""
        self.locals_: frozenset[str] | None = None
        """Every name the spec gives a value to (see :meth:`_spec_locals`), once asked."""
        self.inducting: list[set[ClosedKey]] = []
        """Per closed form being found, innermost last: the closed forms found while it was
        assumed (in mutual recursion, one block's form is found inside the other's
        induction: it holds only as long as the assumption it was found under)."""
        self.recursive_in: dict[str, tuple[list[int], list[tuple[int, int]]]] = {}
        """For a block whose class calls itself: the input sizes its constructor takes (of its
        first input, and of the others of a block of several), as assumed for that call while
        its class is generated (generated again until it holds)."""

    def top(self, input_override: Shape | None) -> ClassCode:
        spec = self.spec
        assert spec.layers is not None
        entries = spec.layers
        kind = container_kind(entries, top=True, tensors=bool(spec.tensors))
        em = Emitter(
            self,
            set(self.params) | set(spec.let) | _spec_names(entries),
            layer_names(entries) | set(spec.tensors),
        )
        scope = Scope({p: self.spec_sym(p) for p in self.params})
        init: list[Stmt] = [] if kind == "sequential" else [Stmt("super().__init__()")]
        # a number param given an integer is a float, as check binds it (2 // 1 is 2, 2.0 // 1
        # is 2.0, which no size takes): the class computes with what check computes with
        floats = [p.name for p in self.params.values() if p.kind == "float"]
        for name in floats:
            init.append(
                Stmt(f"{name} = ", Atom(f"float({name})"), reads=frozenset({name}), writes=name)
            )
        init += self._params_as_checked()
        lets = scope.child()
        for name, code in spec.let.items():
            value = calls.evaluate_at(code.expr, None, lets, f"let.{name}")
            init.append(
                Stmt(
                    f"{name} = ",
                    _expr(code.expr),
                    reads=_reads(code.expr.node),
                    writes=name,
                    checks=_checks(code.expr.node),
                )
            )
            kinds = _kinds(as_expr(value), self.kinds.get)
            if kinds is not None:
                self.kinds[name] = kinds
            lets.names[name] = (
                Sym(n.Name(name), concrete(value)) if known(value) else self.spec_sym(name)
            )
        em.kinds = dict(self.kinds)
        em.defaults = Scope(  # values of the language already (lists are tuples)
            {
                **{p: self.net.params.get(p, self.params[p].default) for p in self.params},
                **{k: v for k, (_, v) in self.net.lets.items()},
            }
        )
        if spec.tensors:  # the model's own: blocks, which see the spec's names, have none
            lets = lets.child()
            init += self._tensors(spec.tensors, lets, "tensors")
        state = State(em.input_dims(lets, input_override))
        signature = [Item(Atom("self"))] + [self._param_item(p) for p in self.params.values()]
        if kind == "sequential":
            pre, expr = em.sequential(entries, lets, state, "sequential", "layers")
            body = init + pre
            assert isinstance(expr, Bracket)
            args = expr.items if expr.head == "nn.Sequential(" else (Item(expr),)
            body.append(Stmt("super().__init__", Bracket("(", args, ")"), reads=_reads_items(expr)))
            forward = None
            base = "nn.Sequential"
        else:
            fwd: list[Stmt] = []
            em.first, em.early = init, set(self.params) | set(spec.let)
            em.reserve(entries, lets)
            em.reading([entries], state, fwd)
            em.class_body(entries, lets, state, init, fwd, Flow(), self.net.root)
            em.settle_tests(fwd)
            body = init
            forward = fwd + [Stmt("return x")]
            base = "nn.Module"
        body = prune(body, em.tracked_names | set(spec.let) | set(floats))
        return ClassCode(self.top_name, base, signature, body, forward, "")

    def _params_as_checked(self) -> list[Stmt]:
        """The params as check reads them — lists as tuples (in Python ``[4, 8] == (4, 8)`` is
        false, and ``[4, 8] + (1,)`` fails) — then refused where check refuses them: a value
        outside its choices, values failing a ``require``."""
        out: list[Stmt] = []
        for p in self.params.values():
            if p.kind != "list":
                continue
            if item_kind(p.default) == "float":  # items given as integers are floats, as
                # check binds them (`8 // 2` is 4, `8 // 2.0` is 4.0, which no size takes)
                value = f"tuple(float(item) for item in {p.name})"
            elif item_kind(p.default) in ("int", "bool", "str"):
                value = f"tuple({p.name})"  # check refuses items of another kind
            else:  # lists in it, or items of any kind: lists at any depth
                self.helpers.add("as_tuples")
                value = f"_as_tuples({p.name})"
            out.append(Stmt(f"{p.name} = ", Atom(value), reads=frozenset({p.name}), writes=p.name))
        for p in self.params.values():
            if p.choices is not None:
                outside = n.Compare(n.Name(p.name), ("not in",), (as_expr(p.choices),))
                out.append(_refuse(outside, choices_message(p), f"{{{p.name}!r}}"))
        for p in self.params.values():
            if p.require is not None:
                read = n.value_names(p.require.expr)
                found = ", ".join(f"{k} = {{{k}!r}}" for k in self.params if k in read)
                test = _fails(p.require.expr, self._truth)
                out.append(_refuse(test, requirement_message(p), found))
        return out

    def _truth(self, node: n.Expr) -> bool:
        """Whether an expression is true or false by its form: a comparison, ``not``, ``and``
        and ``or`` of such, a truth value, a truth-valued param."""
        node = n.strip(node)
        if isinstance(node, n.Compare | n.Not):
            return True
        if isinstance(node, n.Call) and isinstance(node.func, n.Name):
            builtin = BUILTINS.get(node.func.id)
            return builtin is not None and builtin.truth
        if isinstance(node, n.BoolOp):
            return all(self._truth(v) for v in node.values)
        if isinstance(node, n.Const):
            return isinstance(node.value, bool)
        if isinstance(node, n.Name) and node.id in self.params:
            return self.params[node.id].kind == "bool"
        return False

    def _param_item(self, p: Param) -> Item:
        value = self.net.params.get(p.name, p.default)
        return Item(_py(value), f"{p.name}: {_annotation(p.kind, p.default)}", " = ")

    # -- blocks ------------------------------------------------------------------------------------

    def block_class(
        self, name: str, rank: int, where: str, others: tuple[int, ...] = ()
    ) -> ClassCode:
        """The class of block ``name`` (generated on first use, its dependencies first)."""
        if name in self.blocks:
            return self.blocks[name]
        if name in self.generating:  # a recursive call: the constructor's inputs as assumed
            first, rest = self.recursive_in.setdefault(name, ([], []))
            stub = ClassCode(name, "nn.Module", [], [], None, "", in_dims=[(i, "") for i in first])
            stub.other_dims = [(j, i, "") for j, i in rest]
            return stub
        if name == self.top_name:
            raise CodegenError(
                f"block {name} has the name of the model's class",
                self.spec.blocks[name].span,
                where,
                hint="set `class_name:` to another name",
            )
        self.generating.append(name)
        try:
            for _ in range(rank + sum(others) + 1):
                before = list(self.blocks)
                code = self._block_class(name, rank, others)
                taken = ([i for i, _ in code.in_dims], [(j, i) for j, i, _ in code.other_dims])
                if name not in self.recursive_in or taken == self.recursive_in[name]:
                    break
                # its own call passed other sizes than the class takes: again, assuming these
                # (and the classes generated inside it again, which call it too)
                self.recursive_in[name] = taken
                for other in set(self.blocks) - set(before):
                    del self.blocks[other]
            else:  # pragma: no cover - the sizes taken only grow, at most to the rank
                raise CodegenError(f"block {name}'s inputs do not settle", None, where)
        finally:
            self.generating.pop()
        self.blocks[name] = code
        return code

    def _block_class(self, name: str, rank: int, others: tuple[int, ...]) -> ClassCode:
        block = self.spec.blocks[name]
        dims = _DIM_NAMES.get(rank, tuple(f"dim{i}" for i in range(rank)))
        params = [p.name for p in block.params]
        globals_ = self.needs[name]
        taken = _block_values(block) | set(globals_)
        first = block.inputs[0] if block.inputs else "in"  # `low_channels` where it is named
        in_names = {i: _fresh_in(f"{first}_{d}", taken) for i, d in enumerate(dims)}
        # a block of several inputs: the sizes of the others, named after them (`high_channels`)
        other_names: dict[tuple[int, int], str] = {}
        for j, other_rank in enumerate(others):
            given = block.inputs[j + 1]
            for i, d in enumerate(_DIM_NAMES.get(other_rank, tuple(range(other_rank)))):
                other_names[j, i] = _fresh_in(f"{given}_{d}", taken | set(in_names.values()))
                taken.add(other_names[j, i])
        em = Emitter(
            self, taken | set(in_names.values()), block_layer_names(block) | set(block.tensors)
        )
        em.take_inputs(
            block,
            [tuple(Sym(n.Name(other_names[j, i])) for i in range(r)) for j, r in enumerate(others)],
        )
        renames: dict[str, n.Expr] = {}
        for local in taken - set(globals_):  # the block's names hide the spec's
            em.kinds.pop(local, None)
        for p in params:
            if p in self.arg_kinds.get(name, {}):
                em.kinds[p] = frozenset(self.arg_kinds[name][p])
        scope = Scope({g: self.spec_sym(g) for g in globals_})
        x = tuple(Sym(n.Name(in_names[i])) for i in range(rank))
        frame = scope.child({p: self.block_param_sym(name, p) for p in params}, input=InputShape(x))
        attributes: list[str] = []
        init: list[Stmt] = []
        if block.expansion is not None:
            value = calls.evaluate_at(block.expansion.expr, None, frame, f"blocks.{name}")
            if known(value):
                attributes.append(f"expansion = {literal(concrete(value))}")
                renames["expansion"] = n.Attr(n.Name("self"), "expansion")
                frame.names["expansion"] = Sym(renames["expansion"], concrete(value))
            else:
                init.append(Stmt("expansion = ", em.py_code(block.expansion.expr, renames)))
                frame.names["expansion"] = Sym(n.Name("expansion"))
        em.renames = renames
        em.input_names = {dims[i]: in_names[i] for i in range(rank)}
        for let_name, code in block.let.items():
            value = calls.evaluate_at(code.expr, None, frame, f"blocks.{name}.let.{let_name}")
            init.append(
                Stmt(
                    f"{let_name} = ",
                    em.py_code(code.expr),
                    writes=let_name,
                    reads=_reads(em.subst(code.expr)),
                    checks=_checks(code.expr),
                )
            )
            kinds = _kinds(as_expr(value), em.kinds.get)
            em.kinds.pop(let_name, None)
            if kinds is not None:
                em.kinds[let_name] = kinds
            if _mixed(kinds):
                frame.names[let_name] = SymEither(n.Name(let_name))
            elif kinds == frozenset({"list"}) and not known(value):
                frame.names[let_name] = SymList(n.Name(let_name))
            else:
                frame.names[let_name] = Sym(n.Name(let_name), concrete(value))
        learned = self._tensors(block.tensors, frame, f"blocks.{name}")
        state = State(x)
        lowered = lower_block(block)
        if lowered.kind == "sequential":
            entries = _sequential_entries(lowered)
            pre, expr = em.sequential(entries, frame, state, "sequential", "layers")
            assert isinstance(expr, Bracket)
            body = (
                init
                + pre
                + [
                    Stmt(
                        "super().__init__", Bracket("(", expr.items, ")"), reads=_reads_items(expr)
                    )
                ]
            )
            forward = None
            base = "nn.Sequential"
        else:
            body = [Stmt("super().__init__()"), *init, *learned]
            em.first = body
            em.early = {*params, *block.let, *globals_, *in_names.values()}
            em.early |= {"expansion"} if block.expansion is not None else set()
            for step in lowered.steps:
                if isinstance(step, Path) and step.module is None:
                    em.reserve(step.entries, frame)
            forward = em.block_body(lowered, frame, state, body, [block.body, block.then])
            em.settle_tests(forward)
            # numbered branches are the items of an nn.ModuleList (appended first, in order)
            base = "nn.ModuleList" if numbered_branches(block) else "nn.Module"
        body = prune(body, em.tracked_names | set(block.let))
        reads: set[str] = set()
        for stmt in _flatten(body):
            reads |= stmt.reads | set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", stmt.prefix))
        used_dims = [(i, in_names[i]) for i in range(rank) if in_names[i] in reads]
        other_dims = [(j, i, v) for (j, i), v in other_names.items() if v in reads]
        signature = [Item(Atom("self"))]
        signature += [Item(Atom(f"{v}: int")) for _, v in used_dims]
        signature += [Item(Atom(f"{v}: int")) for _, _, v in other_dims]
        defaults = self._literal_defaults(block)
        types = self.arg_types.get(name, {})
        signature += [
            Item(Atom(f"{p.name}: {types.get(p.name, 'Any')}"))
            for p in block.params
            if p.name not in defaults
        ]
        signature += [
            Item(_py(defaults[p.name]), f"{p.name}: {_annotation_of(p, defaults, types)}", " = ")
            for p in block.params
            if p.name in defaults
        ]
        if globals_:  # the spec's names: keyword-only, since a `let` value has no default
            signature.append(Item(Atom("*")))
        for g in globals_:
            signature.append(self._global_item(g))
        doc = f"{name}: {block.doc.strip().rstrip('.')}." if block.doc else f"The {name} block."
        made = ClassCode(
            name, base, signature, body, forward, doc, attributes, used_dims, list(globals_)
        )
        made.inputs, made.other_dims = list(block.inputs[1:]), other_dims
        return made

    @staticmethod
    def _tensors(tensors: dict[str, m.Expression], frame: Scope, where: str) -> list[Stmt]:
        """A block's or the model's learned tensors: ``self.<name> = nn.Parameter(…)``, and
        their names bound in ``frame`` for the layers that apply them."""
        out = []
        for tensor_name, code in tensors.items():
            at = f"{where}.tensors.{tensor_name}"
            try:
                decl = declare(code.expr, functools.partial(_evaluate_in, frame=frame, where=at))
            except OpError as exc:
                raise ShapeError(exc.message, code.span, at, exc.hint) from None
            text = decl.value(lambda v: _text(as_expr(v)))
            reads = _reads(*decl.shape, *decl.args)
            param = Bracket("nn.Parameter(", (Item(Atom(text)),), ")")
            out.append(Stmt(f"self.{tensor_name} = ", param, reads=reads))
            frame.names[tensor_name] = TensorRef(tensor_name, decl.shape)
        return out

    def spec_sym(self, name: str) -> Sym:
        """A param or ``let`` value of the spec, unknown until the class is constructed, of
        the kind (a list, text or a number) its value is at the defaults."""
        if name in self.params:
            return sym_of(n.Name(name), self.net.params.get(name, self.params[name].default))
        if _mixed(self.kinds.get(name)):
            return SymEither(n.Name(name))
        return sym_of(n.Name(name), self.net.lets.get(name, ("", None))[1])

    def block_param_sym(self, block: str, name: str) -> Sym:
        """A block's param, of the kind (a list, text or a number) every call gives it."""
        if _mixed(self.arg_kinds.get(block, {}).get(name)):
            return SymEither(n.Name(name))
        kind = self.arg_types.get(block, {}).get(name, "Any")
        if kind.startswith("tuple["):
            return SymList(n.Name(name))
        return SymText(n.Name(name)) if kind == "str" else Sym(n.Name(name))

    def _literal_defaults(self, block: m.BlockDef) -> dict[str, Any]:
        """Block params whose default is a constant (the class signature can hold it)."""
        out: dict[str, Any] = {}
        for p in block.params:
            if p.node is not None and not n.value_names(p.node) and not _uses_input(p.node):
                out[p.name] = calls.evaluate_at(p.node, None, Scope(), p.name)
        return out

    def _global_item(self, name: str) -> Item:
        if name in self.params:
            p = self.params[name]
            value = self.net.params.get(name, p.default)
            return Item(_py(value), f"{name}: {_annotation(p.kind, p.default)}", " = ")
        return Item(Atom(f"{name}: Any"))  # a `let` value: always passed by the caller

    def block_output(
        self,
        name: str,
        args: dict[str, Any],
        names: dict[str, Any],
        x: Shape,
        ns: Namespace,
        others: tuple[Shape, ...] = (),
    ) -> tuple[Shape, list[Stmt]]:
        """A block instance's output shape, in the caller's terms (a dry run of its class), and
        the statements the caller runs first to compute the sizes that cannot be written
        without a loop inside the block (none where every size can): that loop again, in the
        caller's terms, computing the sizes only. Their variables are taken from ``ns``, the
        caller's names."""
        if name in self.sizing:  # a recursive call, inside its own dry run
            return self._recursive_output(name, args, names, x, others), []
        self.sizing.append(name)
        try:
            return self._dry_output(name, args, names, x, ns, others)
        finally:
            self.sizing.pop()

    def _recursive_output(
        self,
        name: str,
        args: dict[str, Any],
        names: dict[str, Any],
        x: Shape,
        others: tuple[Shape, ...] = (),
    ) -> Shape:
        """The output of a block calling itself (directly or through others): its closed form
        with these arguments; a size without one is :data:`RECURSIVE_SIZE`, which the
        generated code may not read (see :func:`generate_module`)."""
        dims = self.closed_form(name, len(x), tuple(len(o) for o in others))
        mapping: dict[str, n.Expr] = {f"{RECURSIVE_IN}{i}": as_expr(d) for i, d in enumerate(x)}
        for k, shape in enumerate(others):
            mapping |= {_other_in(k, i): as_expr(d) for i, d in enumerate(shape)}
        mapping |= {k: as_expr(v) for k, v in (names | args).items()}
        sizes = None
        if any(d is None for d in dims):
            sizes = self._size_call(name, args, names, x, others)
        return tuple(
            Sym(_tidy(n.substitute(d, mapping)))
            if d is not None
            else Sym(n.Index(sizes, n.Const(i)))
            if sizes is not None
            else Sym(n.Name(f"{RECURSIVE_SIZE}_{len(dims)}_{i}_{name}"))
            for i, d in enumerate(dims)
        )

    def _size_call(
        self,
        name: str,
        args: dict[str, Any],
        names: dict[str, Any],
        x: Shape,
        others: tuple[Shape, ...] = (),
    ) -> n.Expr | None:
        """The call of block ``name``'s size function for these arguments and inputs (see
        :meth:`size_function`), or ``None`` where it has none: a block given values its cache
        cannot key on (see :meth:`_size_kinds`)."""
        block = self.spec.blocks[name]
        params = [p.name for p in block.params]
        if any(p not in args for p in params):
            return None
        kinds = self._size_kinds(name)
        if kinds is None:
            return None
        key = (name, len(x), tuple(len(o) for o in others))
        if key not in self.size_functions:
            # a module-level function: no local of any class that calls it may shadow it
            taken = {*self.spec.blocks, self.top_name, *self.size_functions.values()}
            taken |= self._spec_locals()
            base = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower() + "_sizes"
            self.size_functions[key] = Namespace(taken).fresh(base)
        sizes = [*x, *(d for shape in others for d in shape)]
        values = [as_expr(v) for v in [*sizes, *(args[p] for p in params)]]
        values += [as_expr(names[g]) for g in self.needs[name]]
        given = tuple(  # a list as a tuple: the cache keys on it
            _as_tuples(v, kind)
            for v, kind in zip(values, ["int"] * len(sizes) + kinds, strict=True)
        )
        return n.Call(n.Name(self.size_functions[key]), given, ())

    def _spec_locals(self) -> frozenset[str]:
        """Every name the spec gives a value to — params, ``let`` names, blocks' params,
        inputs and ``let`` names, loop variables — which are locals of the generated code."""
        if self.locals_ is not None:
            return self.locals_
        spec = self.spec
        out = set(self.params) | set(spec.let) | _spec_names(spec.layers or [])
        for block in spec.blocks.values():
            out |= _block_values(block)
        self.locals_ = frozenset(out)
        return self.locals_

    def _size_kinds(self, name: str) -> list[str] | None:
        """The types of block ``name``'s arguments and of the spec's names it reads, as its
        size function takes them (a list as a tuple, of tuples for a list of lists, passed as
        one); ``None`` where one may be a value its cache cannot key on (values of several
        types, a list of mixed items)."""
        types = self.arg_types.get(name, {})
        kinds = [types.get(p.name, "Any") for p in self.spec.blocks[name].params]
        for g in self.needs[name]:
            p = self.params.get(g)
            kinds.append(_annotation(p.kind, p.default) if p is not None else "Any")
        return kinds if all(_keyable(kind) for kind in kinds) else None

    def size_function(self, name: str, rank: int, other_ranks: tuple[int, ...] = ()) -> str:
        """The definition of block ``name``'s size function: its output sizes from its inputs'
        sizes (the first of rank ``rank``, the others of a block of several of
        ``other_ranks``), its arguments and the spec's names it reads, computed as its layers
        compute them, its recursive call through the function itself. Where a size changes
        level by level (valid convolutions in a U-Net level), no formula can be written
        without the recursion: this is the recursion, of the sizes alone. Cached by its
        arguments, so a level's sizes are computed once however many of its sizes the caller
        reads."""
        block = self.spec.blocks[name]
        params = [p.name for p in block.params]
        needs = list(self.needs[name])
        taken = {*params, *needs, *_block_local_names(block), *block.let, *block.inputs}
        prefixes = ["in", *block.inputs[1 : 1 + len(other_ranks)]]
        shapes: list[tuple[Sym, ...]] = []
        inputs: list[str] = []
        for prefix, r in zip(prefixes, (rank, *other_ranks), strict=True):
            dims = _DIM_NAMES.get(r, tuple(f"dim{i}" for i in range(r)))
            given = [_fresh_in(f"{prefix}_{d}", taken) for d in dims]
            taken |= set(given)
            inputs += given
            shapes.append(tuple(Sym(n.Name(v)) for v in given))
        own = {p: Sym(n.Name(p)) for p in params}
        names = {g: Sym(n.Name(g)) for g in needs}
        x, *others = shapes
        self.sizing.append(name)
        try:
            shape, made = self._dry_output(name, own, names, x, Namespace(taken), tuple(others))
        finally:
            self.sizing.pop()
        types = self._size_kinds(name)
        assert types is not None  # (else there is no call of the function)
        kinds = [f"{v}: int" for v in inputs]
        kinds += [f"{p}: {t}" for p, t in zip([*params, *needs], types, strict=True)]
        fn = self.size_functions[name, rank, other_ranks]
        lines = ["@functools.cache"]
        lines += lay_out(
            f"def {fn}",
            Bracket("(", tuple(Item(Atom(k)) for k in kinds), ")"),
            f" -> tuple[{', '.join(['int'] * rank)}]:",
            0,
        )
        lines.append(
            f'    """The output sizes of a {name} block, which its recursive call changes level '
            'by level."""'
        )
        for stmt in made:
            lines += stmt.lines(1)
        result = Bracket("(", tuple(Item(_py(d)) for d in shape), ")", tuple_like=True)
        lines += Stmt("return ", result).lines(1)
        return "\n".join(lines)

    def closed_form(
        self, name: str, rank: int, other_ranks: tuple[int, ...] = ()
    ) -> tuple[n.Expr | None, ...]:
        """The output sizes of a recursive block in terms of its arguments (its parameters'
        names) and input sizes (``RECURSIVE_IN`` numbered; a block of several inputs, the
        others' of ranks ``other_ranks`` too, see :func:`_other_in`), ``None`` for a size
        without one.

        Found by induction over the recursion: dry runs of the block in which its recursive
        call gives the sizes assumed so far (at first its input's sizes), each assumption
        replaced by what the run gave, until the run gives what it assumed — then, whether the
        call is taken or not, the output is that (a U-Net level gives its own ``channels``
        and, with padded convolutions, its input's spatial sizes). A size that keeps changing
        (valid convolutions trim a level's size by what its inner level trims) has none.
        While they are computed, :meth:`_recursive_output` reads the assumptions."""
        key = (name, rank, other_ranks)
        done = self.closed.get(key)
        if done is not None:
            return done
        block = self.spec.blocks[name]
        params = [p.name for p in block.params]
        own = {p: Sym(n.Name(p)) for p in params}
        names = {g: Sym(n.Name(g)) for g in self.needs[name]}
        inputs = [f"{RECURSIVE_IN}{i}" for i in range(rank)]
        x = tuple(Sym(n.Name(v)) for v in inputs)
        other_names = [[_other_in(k, i) for i in range(r)] for k, r in enumerate(other_ranks)]
        others = tuple(tuple(Sym(n.Name(v)) for v in names_) for names_ in other_names)
        known_names = {*params, *names, *inputs, *(v for names_ in other_names for v in names_)}
        assumed: list[n.Expr | None] = [n.Name(v) for v in inputs]
        changes = [0] * rank
        result: tuple[n.Expr | None, ...] | None = None
        self.inducting.append(set())
        try:
            for _ in range(3 * rank + 2):
                # the forms found under the last assumption go with it
                for found_key in self.inducting[-1]:
                    self.closed.pop(found_key, None)
                self.inducting[-1].clear()
                self.closed[key] = tuple(assumed)
                self.sizing.append(name)
                try:
                    shape, _ = self._dry_output(name, own, names, x, Namespace(known_names), others)
                except _Dead:
                    shape = ()
                finally:
                    self.sizing.pop()
                if len(shape) != rank:
                    break
                found = [_tidy(as_expr(d)) for d in shape]
                # Python's max and min may stand in a form (a merge of sizes known only when
                # the code runs, e.g. max(in_channels, other_channels)); no other call may
                given = [
                    d if n.free_names(d) - {"max", "min"} <= known_names else None for d in found
                ]
                if given == assumed:
                    result = tuple(assumed)
                    break
                for i, d in enumerate(given):
                    if d != assumed[i] and assumed[i] is not None:
                        # a size that keeps changing has no formula (the others may still)
                        changes[i] += 1
                        assumed[i] = d if changes[i] < 3 else None
        finally:
            nested = self.inducting.pop()
        if result is None:  # no formula: what was found under an assumption that did not hold
            for found_key in nested:
                self.closed.pop(found_key, None)
            nested = set()
            result = tuple(None for _ in range(rank))
        self.closed[key] = result
        if self.inducting:  # found under the assumptions of the inductions around it
            self.inducting[-1] |= nested | {key}
        return result

    def _dry_output(
        self,
        name: str,
        args: dict[str, Any],
        names: dict[str, Any],
        x: Shape,
        ns: Namespace,
        others: tuple[Shape, ...] = (),
    ) -> tuple[Shape, list[Stmt]]:
        block = self.spec.blocks[name]
        # sizes the dry run tracks get names of their own, apart from the caller's
        values = [*x, *(d for shape in others for d in shape), *args.values(), *names.values()]
        caller = set().union(*(n.free_names(as_expr(v)) for v in values))
        em = Emitter(self, caller | ns.taken, block_layer_names(block))
        em.dry = 1
        em.caller_terms = True
        em.take_inputs(block, others)
        frame = Scope(names).child(args, input=InputShape(x))
        if block.expansion is not None:
            frame.names["expansion"] = calls.evaluate_at(block.expansion.expr, None, frame, name)
        for let_name, code in block.let.items():
            frame.names[let_name] = calls.evaluate_at(code.expr, None, frame, let_name)
        self._tensors(block.tensors, frame, f"blocks.{name}")
        state = State(tuple(x))
        helpers, ordered = set(self.helpers), self.uses_ordered_dict
        made: list[Stmt] = []
        try:
            lowered = lower_block(block)
            if lowered.kind == "sequential":
                made, _ = em.sequential(
                    _sequential_entries(lowered), frame, state, "sequential", "layers"
                )
            else:
                em.block_body(lowered, frame, state, made, [block.body, block.then])
        finally:
            self.helpers, self.uses_ordered_dict = helpers, ordered
        if state.dead:
            raise _Dead(f"{name} cannot be built with these arguments")
        inner = set().union(*(n.free_names(as_expr(d)) for d in state.shape)) & em.tracked_names
        if not inner:
            return state.shape, []
        # a size a loop inside the block computes, which cannot be written without the loop:
        # the caller runs the loop too, for the sizes only (the block's own variables are
        # tracked the same way in its class)
        reader = Stmt("", reads=frozenset(inner))
        sizes = prune([*_size_code(made, em.tracked_names), reader], em.tracked_names)[:-1]
        ns.taken |= _identifiers(sizes) & (em.ns.taken - ns.taken)
        return state.shape, sizes


class Emitter:
    """Compiles layer lists into the ``__init__`` and ``forward`` of one class."""

    def __init__(self, module: Module, local_names: set[str], layer_names: set[str]) -> None:
        self.mod = module
        self.spec = module.spec
        self.ns = Namespace(local_names)
        self.attrs = Namespace(layer_names | _FORWARD_NAMES)
        """Attribute names of the class (layers, then captured values and flags)."""
        self.captured: dict[str, str] = {}
        self.stored: set[str] = set()
        self.first: list[Stmt] | None = None
        """The class's ``__init__`` at its top level, where values known from the start
        (:attr:`early`) are stored for ``forward``."""
        self.early: set[str] = set()
        self.stored_first: set[str] = set()
        self.flags: list[tuple[list[Stmt], Stmt, str]] = []
        """Conditions stored as flags in ``__init__`` (dropped where forward reads none)."""
        self.module_tests: list[tuple[str, Stmt, str]] = []
        """Forward's ``if self.<module> is not None:`` tests, with the flag test to use where
        the module turns out to be assigned again."""
        self.reassigned: set[str] = set()
        self.present: set[str] = set()
        """Modules assigned on every path of ``__init__`` to the current point."""
        self.made_as: dict[str, tuple[str, Any]] = {}
        """The module each attribute was first made as (its expression), by name, with its
        operator layer's ``(op, attrs, input shape)`` (``None`` for a block or a sequence)."""
        self.made_layer: Any = None
        """The ``(module expression, op, attrs, input shape)`` of the operator layer made last
        as a module (what a name given twice compares)."""
        """Captured names whose ``self.<attr> = name`` runs on every path to this point (one
        stored inside a branch of ``__init__`` is stored again after it, where needed)."""
        """Locals that ``forward`` reads, and the attribute each is stored in."""
        self.tracked_names: set[str] = set()
        """Size variables this emitter introduced: candidates for pruning when unread."""
        self.renames: dict[str, n.Expr] = {}
        """Names the class spells differently (a block's ``expansion`` is ``self.expansion``)."""
        self.input_names: dict[str, str] = {}
        """``in.channels`` → the constructor argument holding it (``in_channels``)."""
        self.assigned: set[str] = set()
        """Attributes ``__init__`` has assigned (a shared module is assigned once)."""
        self.caller_terms = False
        self.dry = 0
        self.call_forms: list[str] = []
        """How ``forward`` calls each operator module made so far (``Op.call_form``)."""
        self.conditional: set[str] = set()
        """Attributes assigned only under a condition (``None`` otherwise), so far."""
        self.forward_vars: dict[str, str] = {}
        """Branch name → the ``forward`` variable holding its output."""
        self.unrolled: set[str] = set()
        """Variables of the loops written out one iteration at a time around the current point
        (in :attr:`renames`, as their values: the generated code has no such variable)."""
        self.loop_vars: dict[str, str] = {}
        """Variables of the loops that stay loops around the current point, and the names
        ``forward``'s own loop gives them."""
        self.loops = 0
        """How many loops that stay loops enclose the current point of a class body."""
        self.collide: set[int] = set()
        """The class bodies' templated names that may make a name twice (by ``id`` of their
        entries, see :func:`_may_collide`)."""
        self.loop_conditions = 0
        """How many conditions decided when the code runs enclose it inside such a loop."""
        self.defaults: Scope | None = None
        """In the model's class, the spec's names at its defaults (and the variables of the
        loops around the current point at their first item there): the kind — a list, text or a
        number — that an expression of the params has, which the rules need to know."""
        self.unrolling = 1
        """How many times the current point is written out (the product of the iteration
        counts of the loops written out around it)."""
        self.reads: frozenset[str] = frozenset()
        """The tensors the ``from:`` entries of the class's layers read (see ``lower``)."""
        self.named: dict[str, tuple[str, State]] = {}
        """Those tensors so far: the ``forward`` variable holding each, and its shape."""
        self.given: dict[str, State] = {}
        """In a block of several inputs: those after the first (``forward``'s arguments of
        their names), and their shapes."""
        self.first_input: str | None = None
        """The name of a block's first input where it has several (``x`` in ``forward``)."""
        self.pending: list[tuple[str, State]] = []
        """The other inputs of the block of several inputs being called: variables, shapes."""
        self.kinds: dict[str, frozenset[str]] = dict(module.kinds)
        """The kinds the names of the class's expressions may have, where known whatever the
        params are (see :func:`_kinds`): the spec's params and ``let`` values, a block's."""

    # -- expressions ---------------------------------------------------------------------------

    def subst(self, node: n.Expr, extra: dict[str, n.Expr] | None = None) -> n.Expr:
        """A spec expression in this class's terms (renames, ``in.x`` → ``in_x``)."""
        mapping = {**self.renames, **(extra or {})}
        for dim, var in self.input_names.items():
            mapping[f"in.{dim}"] = n.Name(var)
        if self.input_names:
            names = tuple(n.Name(var) for var in self.input_names.values())
            mapping["in.shape"] = n.ListExpr(names)
            mapping["in.rank"] = n.Const(len(names))
        return n.substitute(node, mapping) if mapping else n.strip(node)

    def py_code(self, node: n.Expr, renames: dict[str, n.Expr] | None = None) -> PyExpr:
        return _expr(self.subst(node, renames))

    def wrap(self, expr: n.Expr, value: Any) -> Any:
        """An argument's attribute value: its own expression (in this class's terms) and value.

        In a dry run for a caller (``caller_terms``) the value itself is kept: it is already in
        the caller's terms, and the block's own spelling would name the block's locals.
        """
        if self.caller_terms or (self.unrolled and n.value_names(expr) & self.unrolled):
            # (or an argument reading the variable of a loop written out iteration by
            # iteration: its value, folded, is the one the code of the iteration needs)
            if self._either(value):
                return SymEither(value.expr)
            return (
                value
                if isinstance(value, Sym)
                or not isinstance(value, int | float)
                or isinstance(value, bool)
                else Sym(n.Const(value), value)
            )
        written = expr
        expr = self.subst(expr)
        if self._either(value):
            return SymEither(expr)  # `3 if n == 0 else [3, 5]`
        if isinstance(value, Sym) and not value.known:
            if type(value) is Sym and self.defaults is not None:
                return sym_of(expr, self._at_defaults(written))
            return sym_like(value, expr)
        plain = concrete(value)
        if isinstance(plain, bool | str) or plain is None:
            return plain
        if isinstance(plain, tuple):
            if isinstance(expr, n.ListExpr) and len(expr.items) == len(plain):
                return tuple(self.wrap(e, v) for e, v in zip(expr.items, plain, strict=True))
            return Sym(expr, plain)
        return Sym(expr, plain)

    def _either(self, value: Any) -> bool:
        """Whether ``value`` is unknown and, by its expression's form, a number for some
        values of the params and a list for others (see :func:`_kinds`)."""
        return type(value) is Sym and not value.known and _mixed(_kinds(value.expr, self.kinds.get))

    def _at_defaults(self, expr: n.Expr) -> Any:
        """``expr``'s value at the spec's defaults, or ``None`` where it reads what they do
        not give (the input, a loop's variable over nothing)."""
        assert self.defaults is not None
        try:
            return evaluate(expr, self.defaults)
        except (NetspecError, SymbolicError):
            return None

    def input_dims(self, scope: Scope, override: Shape | None) -> Shape:
        if override is not None:
            return tuple(Sym(n.Const(d), d) for d in override)
        assert self.spec.input is not None
        node = n.strip(self.spec.input.expr)
        value = calls.evaluate_at(self.spec.input.expr, None, scope, "input")
        if isinstance(node, n.ListExpr):
            values = concrete(value)
            if values is UNKNOWN:
                return tuple(Sym(e) for e in node.items)
            return tuple(self.wrap(e, v) for e, v in zip(node.items, values, strict=True))
        return tuple(Sym(n.Index(node, n.Const(i))) for i in range(len(self.mod.net.input)))

    def capture(self, value: Any, init: list[Stmt]) -> Any:
        """``value`` for use in ``forward``: locals it reads become ``self.<attr>``.

        ``forward`` cannot see ``__init__``'s locals, so each one it needs is stored once, in
        ``__init__``, as an attribute of the same name where that name is free.
        """
        if isinstance(value, tuple):
            return tuple(self.capture(v, init) for v in value)
        if not isinstance(value, Sym):
            return value
        mapping: dict[str, n.Expr] = {}
        for name in sorted(n.value_names(value.expr)):
            if name == "self":
                continue
            if name in self.loop_vars:  # forward's own loop binds it
                mapping[name] = n.Name(self.loop_vars[name])
                continue
            if name not in self.captured:
                self.captured[name] = self.attrs.fresh(name)
            if name not in self.stored and name not in self.stored_first:
                attr = self.captured[name]
                stmt = Stmt(f"self.{attr} = {name}", reads=frozenset({name}))
                if self.first is not None and name in self.early and not self.dry:
                    # a parameter or `let` value: stored first thing, on every path (TorchScript
                    # compiles both branches of forward's tests)
                    self.stored_first.add(name)
                    self.first.append(stmt)
                else:
                    self.stored.add(name)
                    init.append(stmt)
            mapping[name] = n.Attr(n.Name("self"), self.captured[name])
        expr = n.substitute(value.expr, mapping)
        return Sym(expr, value.value) if value.known else sym_like(value, expr)

    # -- one layer ---------------------------------------------------------------------------------

    def layer(
        self,
        ref: m.LayerRef,
        scope: Scope,
        state: State,
        where: str,
        stmts: list[Stmt],
        module: bool = True,
        x: str = "x",
    ) -> PyExpr:
        """The module (or, with ``module=False``, the functional call on ``x``) for one layer
        call; advances ``state``."""
        located = ref.expr
        if isinstance(located.node, n.IfExp):  # in a branch the defaults do not take, too
            check_choice(located.node, located.origin, where)
        return self._choice(located.node, located.origin, scope, state, where, stmts, module, x)

    def _choice(
        self,
        node: n.Expr,
        origin: n.Origin,
        scope: Scope,
        state: State,
        where: str,
        stmts: list[Stmt],
        module: bool,
        x: str,
    ) -> PyExpr:
        if isinstance(node, n.IfExp):
            test = calls.evaluate_at(node.test, origin, scope, where)
            if known(test):
                branch = node.body if concrete(test) else node.orelse
                return self._choice(branch, origin, scope, state, where, stmts, module, x)
            first, second = state.copy(), state.copy()
            pre: tuple[list[Stmt], list[Stmt]] = ([], [])
            arms: dict[int, PyExpr] = {}
            dead: dict[int, _Dead] = {}  # refused where the values choose it (check, too)
            for k, (arm, arm_state) in enumerate(((node.body, first), (node.orelse, second))):
                try:
                    arms[k] = self._choice(arm, origin, scope, arm_state, where, pre[k], module, x)
                except CodegenError:
                    raise  # what the generator cannot write is an error for every value
                except _Dead as refused:
                    dead[k] = refused
                except NetspecError as exc:
                    dead[k] = _Dead(exc.headline())
            if len(dead) == 2:
                raise dead[0]
            if dead:  # the class raises where the test chooses the arm that fails, as check
                ((failing, refusal),) = dead.items()
                live = 1 - failing
                chosen = as_expr(test) if failing == 0 else _negated(as_expr(test))
                stmts.append(_if(chosen, [refusal.stmt()]))
                state.shape = (first, second)[live].shape
                stmts += pre[live]
                return arms[live]
            body, orelse = arms[0], arms[1]
            if len(first.shape) != len(second.shape):
                raise CodegenError(
                    "the two choices of a conditional layer give outputs of different rank "
                    f"({len(first.shape) + 1} and {len(second.shape) + 1} with the batch), "
                    "which a generated class cannot follow",
                    origin.span_at(node.start, node.end),
                    where,
                    hint=_RANKS_HINT,
                )
            self._merge_choice(state, first, second, as_expr(test))
            stmts += _arms_checks(as_expr(test), pre)
            sizes = {t for stmt in _flatten(pre[0] + pre[1]) for t in _targets(stmt)}
            if module and sizes & self.tracked_names:  # a block's sizes, computed where it is made
                stmts.append(
                    Stmt(
                        f"if {_text(as_expr(test))}:",
                        reads=_reads(as_expr(test)),
                        body=pre[0],
                        orelse=pre[1] or None,
                        block=True,
                    )
                )
            else:
                stmts += pre[0] + pre[1]
            test_expr: Any = Sym(self.subst(node.test))
            if not module:
                test_expr = self.capture(test_expr, stmts)
            cond = _text(test_expr.expr)
            cond = f"({cond})" if _precedence(test_expr.expr) <= _IF else cond
            # a choice that is the identity in forward is the input itself; laid out as a
            # conditional expression, split where it does not fit on a line
            then_part = body if body.flat() else Atom(x)
            if isinstance(then_part, Chain):  # a choice in a choice's value
                then_part = Atom(f"({then_part.flat()})")
            else_part = _with_prefix("else ", orelse if orelse.flat() else Atom(x))
            # a choice in the other's place: one chain, split at each `if` and `else` (as ruff)
            rest = else_part.parts if isinstance(else_part, Chain) else (else_part,)
            return Chain((then_part, Atom(f"if {cond}"), *rest))
        func = calls.func_name(node)
        if func.id == "stage":
            return self._stage(node, origin, scope, state, where, stmts)
        if func.id in self.spec.blocks:
            block = self.spec.blocks[func.id]
            values, _ = calls.bind_names(
                func.id, [p.name for p in block.params], node, origin, scope, where, wrap=self.wrap
            )
            for param, value in values.items():
                if isinstance(value, SymEither) and not _mixed(
                    self.mod.arg_kinds.get(func.id, {}).get(param)
                ):
                    raise CodegenError(
                        f"{func.id}: its argument {param} is `{render(value.expr)}`, a number "
                        "for some values of the params and a list for others, but its calls "
                        f"give {func.id} one kind only at the defaults, which its class is "
                        "written for",
                        origin.span_at(node.start, node.end),
                        where,
                        hint=f"give {func.id} a number in one call and a list in another "
                        "(its class then takes either), or make the argument one kind",
                    )
            return self._block_call(func.id, values, scope, state, where, stmts)
        op = calls.resolve(node, origin, where, self.spec.blocks)
        values, spans = calls.bind(op, node, origin, scope, where, wrap=self.wrap)
        invalid = op.refusal(values)
        if invalid is not None:  # (in code the analysis did not reach, as below)
            at = (spans.key if invalid.key else spans.get)(invalid.attr or "")
            span = at or origin.span_at(node.start, node.end)
            raise _Dead(ShapeError(invalid.message, span, where, invalid.hint).headline())
        attrs = op.construct(values)
        shape = state.shape
        try:
            with deferring() as checks:
                y = op.infer(attrs, shape)
        except SymbolicError as exc:
            raise CodegenError(
                f"{op.name}: the shape of its output depends on `{render(exc.sym.expr)}`, which "
                "the generated class is given only when constructed (check analyses one value "
                "of it; generated code cannot size the layers after it for every value)",
                origin.span_at(node.start, node.end),
                where,
                hint=exc.hint or "make this argument a constant (or derived from constants only)",
            ) from None
        except OpError as exc:
            # Only code the default parameters do not reach can fail here (the static analysis
            # checked the rest), and it fails for any values: the class raises that error.
            error = ShapeError(exc.message, origin.span_at(node.start, node.end), where)
            raise _Dead(error.headline()) from None
        for check in [*op.deferred(values), *checks]:
            span = spans.get(check.error.attr or "") or origin.span_at(node.start, node.end)
            stmts.append(_refuse_deferred(check, ShapeError(check.error.message, span, where)))
        try:
            pc = op.module(attrs, shape) if module else op.functional(attrs, shape)
            owns = pc is None and bool(op.tensors(attrs, shape))
        except SymbolicError as exc:  # only an unnamed layer's form can depend on a value
            span = origin.span_at(node.start, node.end)
            attrs, pc = self._form_at_defaults(op, attrs, shape, exc.sym, span, where, stmts)
            owns = False
        if module:
            self.call_forms.append(op.call_form)
        if pc is None:  # an unnamed layer with state, in a branch the defaults do not take
            raise unnamed_layer(op, attrs, owns, origin.span_at(node.start, node.end), where)
        if not module:
            dims = self._forward_dims(shape, x)
            pc = PyCall(
                pc.func,
                tuple(self._forward_value(a, stmts, dims) for a in pc.args),
                tuple((k, self._forward_value(v, stmts, dims)) for k, v in pc.kwargs),
                pc.helpers,
            )
        if not self.dry:
            self.mod.helpers.update(pc.helpers)
        self._advance(state, y)
        made = _py_call(pc, x) if pc.func else Atom("")
        if module:
            self.made_layer = (made, op, attrs, shape)
        return made

    def _form_at_defaults(
        self,
        op: Any,
        attrs: Any,
        shape: Shape,
        sym: Sym,
        span: Span | None,
        where: str,
        init: list[Stmt],
    ) -> tuple[Any, PyCall]:
        """An unnamed layer of the model's class whose form depends on a truth-valued param
        (``layer_norm(8, elementwise_affine=flag)``): a call in ``forward`` at the param's
        default, which check accepted, and an error at the other value, where it owns
        parameters and needs a name. The class is written for the default and raises check's
        error at the other (``init`` gains the test). Refused where the form depends on
        anything else, or both values give a call."""
        refusal = CodegenError(
            f"whether this {op.name} is a call in forward or a module depends on "
            f"`{render(sym.expr)}`, which the generated class is given only when "
            "constructed (check decides it at one value: a call where it owns no "
            "parameters, an error where it does)",
            span,
            where,
            hint=f"name it (e.g. `{op.name}1: …`), which makes it a module at every value",
        )
        default = self._at_defaults(sym.expr) if self.defaults is not None else None
        fields = [
            key
            for key in type(attrs).model_fields
            if isinstance(getattr(attrs, key), Sym) and getattr(attrs, key).expr == sym.expr
        ]
        if type(default) is not bool or not fields:
            raise refusal
        taken = attrs.model_copy(update=dict.fromkeys(fields, default))
        other = attrs.model_copy(update=dict.fromkeys(fields, not default))
        try:
            pc = op.functional(taken, shape)
            if pc is None or op.functional(other, shape) is not None:
                raise refusal
            owns = bool(op.tensors(other, shape))
        except SymbolicError:
            raise refusal from None
        error = unnamed_layer(op, other, owns, span, op.name)  # check's path: the model's
        init.append(_raise_if(n.Not(sym.expr) if default else sym.expr, error))
        return taken, pc

    def _forward_dims(self, shape: Shape, x: str) -> dict[n.Expr, n.Expr]:
        """Inside a loop that stays a loop: the sizes of the input that ``__init__`` tracks in
        variables (they change from one iteration to the next), read from the tensor
        (``x.shape[1]``) by ``forward``, which has no such variable."""
        if not self.loops:
            return {}
        out: dict[n.Expr, n.Expr] = {}
        for i, dim in enumerate(shape):
            expr = as_expr(dim)
            if isinstance(dim, Sym) and n.free_names(expr) & self.tracked_names:
                out[expr] = n.Index(n.Attr(n.Name(x), "shape"), n.Const(i + 1))
        return out

    def _forward_value(self, value: Any, init: list[Stmt], dims: dict[n.Expr, n.Expr]) -> Any:
        """An argument of a call in ``forward``: a size of its input, or a captured value."""
        if isinstance(value, tuple):
            return tuple(self._forward_value(v, init, dims) for v in value)
        if isinstance(value, Sym) and dims and as_expr(value) in dims:
            return Sym(dims[as_expr(value)], value.value)
        return self.capture(value, init)

    def _block_call(
        self,
        name: str,
        values: dict[str, Any],
        scope: Scope,
        state: State,
        where: str,
        stmts: list[Stmt],
    ) -> PyExpr:
        """``Block(in_channels, args…, spec_names…)``; the state advances by a dry run (whose
        statements computing sizes, where a loop inside the block computes them, are appended
        to ``stmts``: they run before the statement that makes the block)."""
        block = self.spec.blocks[name]
        rank = len(state.shape)
        others, self.pending = [s for _, s in self.pending], []  # a block of several inputs
        ranks = tuple(len(s.shape) for s in others)
        cls = self.mod.block_class(name, rank, where, ranks) if not self.dry else None
        outer = scope.child(input=InputShape(state.shape))
        args: dict[str, Any] = {}
        items: list[Item] = []
        literal_defaults = self.mod._literal_defaults(block)
        for i, _ in cls.in_dims if cls is not None else []:
            items.append(Item(_py(state.shape[i])))
        for j, i, _ in cls.other_dims if cls is not None else []:
            items.append(Item(_py(others[j].shape[i])))
        # the signature puts the params without a constant default first, in order: once one
        # of them is left to its default (a keyword in the caller's terms), or a param with a
        # constant default is given (a keyword: it comes after them), the later ones are
        # keywords too (`B(4, stride=2, e=3)` for `params: [out, stride = 1, e = t]`)
        keywords = False
        for p in block.params:
            if p.name in values:
                value = values[p.name]
                args[p.name] = value
                if p.name in literal_defaults:
                    if known(value) and concrete(value) == literal_defaults[p.name]:
                        continue
                    items.append(Item(_py(value), p.name, "="))
                    keywords = True
                elif keywords:
                    items.append(Item(_py(value), p.name, "="))
                else:
                    items.append(Item(_py(value)))
            elif p.node is not None:
                value = calls.evaluate_at(p.node, None, outer, where)
                args[p.name] = value
                if p.name not in literal_defaults:  # a default in the caller's terms
                    wrapped = self.wrap(self._in_caller(p.node, state), value)
                    items.append(Item(_py(wrapped), p.name, "="))
                    keywords = True
            else:  # pragma: no cover - the static analysis reports missing arguments
                raise CodegenError(f"{name} needs {p.name!r}", None, where)
        names: dict[str, Any] = {}
        for g in self.mod.needs[name]:
            names[g] = scope.lookup(g)
            items.append(Item(_py(names[g]), g, "="))
        shapes = tuple(s.shape for s in others)
        y, sizes = self.mod.block_output(name, args, names, state.shape, self.ns, shapes)
        if sizes:
            stmts.extend(sizes)
            self.tracked_names |= {t for stmt in _flatten(sizes) for t in _targets(stmt)}
        self._advance(state, y)
        return Bracket(f"{name}(", tuple(items), ")")

    def _in_caller(self, node: n.Expr, state: State) -> n.Expr:
        """A block-parameter default in the caller's terms: ``in.channels`` is its size."""
        dims = _DIM_NAMES.get(len(state.shape), ())
        mapping = {f"in.{d}": as_expr(state.shape[i]) for i, d in enumerate(dims)}
        return n.substitute(self.subst(node), mapping)

    def _stage(
        self,
        node: n.Expr,
        origin: n.Origin,
        scope: Scope,
        state: State,
        where: str,
        stmts: list[Stmt],
    ) -> PyExpr:
        """``stage(Block, depth=n, …)``: the first block, then a loop appending the rest."""
        assert isinstance(node, n.Call)
        block_ref = node.args[0]
        assert isinstance(block_ref, n.Name)
        block = self.spec.blocks.get(block_ref.id)
        if block is None:  # in a branch the defaults do not take
            raise SpecError(f"unknown block {block_ref.id!r}", origin.span, where)
        depth = next(v for k, v in node.kwargs if k == "depth")
        rest = n.Call(node.func, node.args, tuple((k, v) for k, v in node.kwargs if k != "depth"))
        values, _ = calls.bind_names(
            block_ref.id,
            [p.name for p in block.params],
            rest,
            origin,
            scope,
            where,
            wrap=self.wrap,
            skip=1,
        )
        given = self.subst(n.strip(depth))
        if self.caller_terms:
            given = as_expr(calls.evaluate_at(depth, origin, scope, where))
        if not isinstance(n.strip(given), n.Const):  # the params give it: check refuses < 1
            stmts.append(_refuse_count(given, 1, STAGE_DEPTH))
        var = self.ns.fresh(_stage_label(where))
        first = self._block_call(block_ref.id, values, scope, state, where, stmts)
        stmts.append(
            Stmt(
                f"{var}: list[nn.Module] = ",
                Bracket("[", (Item(first),), "]"),
                reads=_reads_items(first),
                writes=var,
            )
        )
        self._sync(state, stmts)
        later = stage_arguments(block, values, 1)

        def run(s: State, out: list[Stmt]) -> None:
            try:
                item = self._block_call(block_ref.id, later, scope, s, where, out)
            except _Dead as dead:  # later blocks cannot be built: only depth 1 gets past
                out.append(dead.stmt())
                s.dead = True
                return
            out.append(Stmt("", call(f"{var}.append", item), reads=_reads_items(item) | {var}))
            self._sync(s, out)

        count = n.Binary("-", given, n.Const(1))
        header = f"for _ in range({_text(count)}):"
        if self.caller_terms:
            self._caller_loop(count, {}, header, _reads(count), state, stmts, run)
        else:
            self._loop_body(header, _reads(count), state, stmts, run)
        return call("nn.Sequential", Atom(f"*{var}"))

    # -- sizes -------------------------------------------------------------------------------------

    def _advance(self, state: State, y: Shape) -> None:
        """Move to output shape ``y`` (variables are re-assigned at the next :meth:`_sync`)."""
        if len(y) != len(state.shape):
            state.tracked = {}
        if self.caller_terms:  # sizes the caller may compute: tests their text decides folded
            y = tuple(Sym(_tidy(d.expr), d.value) if isinstance(d, Sym) else d for d in y)
        state.shape = tuple(y)

    def _sync(self, state: State, stmts: list[Stmt]) -> None:
        """After a statement: re-assign every tracked dimension that changed in it.

        Inside one statement (a nested ``nn.Sequential(...)``) later layers must see the new
        size as an expression, since the variable is only re-assigned afterwards.
        """
        new = list(state.shape)
        pending = []
        for index, var in sorted(state.tracked.items()):
            dim = new[index]
            if isinstance(dim, Sym) and dim.expr == n.Name(var):
                continue
            pending.append((index, var, dim))
            new[index] = Sym(n.Name(var))
        # a size that is not a variable of its own but reads one assigned again here (a
        # permute moved a tracked size to another dimension) keeps the old value in a copy
        assigned = {var for _, var, _ in pending}
        for index, dim in enumerate(new):
            if index in state.tracked or not isinstance(dim, Sym):
                continue
            if _reads(dim) & assigned:
                copy = self.ns.fresh("size")
                self.tracked_names.add(copy)
                stmts.append(Stmt(f"{copy} = ", _py(dim), reads=_reads(dim), writes=copy))
                new[index] = Sym(n.Name(copy), dim.value)
        state.shape = tuple(new)
        # each new size is computed from the old ones: a variable is assigned after every
        # other new size that reads it (a pool's size may depend on the channels before it)
        while pending:
            for item in pending:
                _, var, _ = item
                if not any(var in _reads(other[2]) for other in pending if other is not item):
                    pending.remove(item)
                    stmts.append(Stmt(f"{var} = ", _py(item[2]), reads=_reads(item[2]), writes=var))
                    break
            else:  # they read each other: one assignment of them all
                targets = ", ".join(var for _, var, _ in pending)
                values = Bracket("(", tuple(Item(_py(dim)) for _, _, dim in pending), ")", True)
                reads = _reads(*(dim for _, _, dim in pending))
                stmts.append(Stmt(f"{targets} = ", values, reads=reads))
                pending = []

    def _track(self, state: State, indices: Sequence[int], stmts: list[Stmt]) -> None:
        """Give dimensions ``indices`` variables, assigned their current values."""
        names = _DIM_NAMES.get(len(state.shape), ())
        new = list(state.shape)
        for index in indices:
            if index in state.tracked:
                continue
            base = names[index] if index < len(names) else f"dim{index}"
            var = self.ns.fresh(base)
            self.tracked_names.add(var)
            stmts.append(Stmt(f"{var} = ", _py(new[index]), reads=_reads(new[index]), writes=var))
            state.tracked[index] = var
            new[index] = Sym(n.Name(var))
        state.shape = tuple(new)

    @staticmethod
    def _merge_choice(state: State, first: State, second: State, test: n.Expr) -> None:
        """The shape after ``a if test else b``: equal dims stay, others become conditional."""
        if len(first.shape) != len(second.shape):
            raise CodegenError(
                "the two choices of a conditional layer give outputs of different rank", None
            )
        state.shape = _either(n.strip(test), first, second).shape

    # -- loops and conditions ----------------------------------------------------------------------

    def _dry(self, run: Callable[[State, list[Stmt]], None], state: State) -> State:
        """Run ``run(state, stmts)`` on a copy without keeping anything it emits or names."""
        probe = state.copy()
        snapshot, attrs = self.ns.snapshot(), self.attrs.snapshot()
        stored, made_as = set(self.stored), dict(self.made_as)
        helpers, ordered = set(self.mod.helpers), self.mod.uses_ordered_dict
        # what a class body's statements record (a loop's body is run dry first)
        books = (
            set(self.present),
            set(self.assigned),
            set(self.conditional),
            set(self.reassigned),
            list(self.module_tests),
            list(self.flags),
            dict(self.captured),
        )
        self.dry += 1
        try:
            run(probe, [])
        finally:
            self.dry -= 1
            self.ns.restore(snapshot)
            self.attrs.restore(attrs)
            self.stored, self.made_as = stored, made_as
            self.mod.helpers, self.mod.uses_ordered_dict = helpers, ordered
            self.present, self.assigned, self.conditional, self.reassigned = (
                set(books[0]),
                set(books[1]),
                set(books[2]),
                set(books[3]),
            )
            self.module_tests, self.flags, self.captured = (
                list(books[4]),
                list(books[5]),
                dict(books[6]),
            )
        return probe

    def _start_names(self, rank: int) -> list[str]:
        """Names for the sizes a loop body starts from, in a dry run from any size."""
        self.mod.probes += 1
        return [f"__dim{self.mod.probes}_{i}" for i in range(rank)]

    def _varying(self, state: State, run: Callable[[State, list[Stmt]], None]) -> list[int]:
        """Which dimensions a loop body changes, from any starting shape or from this one."""
        names = self._start_names(len(state.shape))
        start = State(tuple(Sym(n.Name(name)) for name in names))
        probe = self._dry(run, start)
        if len(probe.shape) != len(state.shape):
            return list(range(len(state.shape)))
        fixed = self._dry(run, state)  # a body that always gives the size it starts from
        starts = set(names)
        varying = []
        for i, dim in enumerate(probe.shape):
            same = as_expr(fixed.shape[i]) == as_expr(state.shape[i])
            # the body keeps any size it starts from, and this one in the same terms (a size
            # the body rewrites, even to an equal value, needs a variable set before the loop,
            # or a loop that runs no time leaves it unset)
            kept = isinstance(dim, Sym) and dim.expr == n.Name(names[i]) and (same or fixed.dead)
            constant = same and not fixed.dead and not (n.free_names(as_expr(dim)) & starts)
            if not (kept or constant):
                varying.append(i)
        return varying

    def _loop_body(
        self,
        header: str,
        reads: frozenset[str],
        state: State,
        stmts: list[Stmt],
        run: Callable[[State, list[Stmt]], None],
    ) -> set[str]:
        """The loop, its varying sizes carried by variables (assigned before it and at the end
        of each iteration); returns the variables it assigns."""
        outer = dict(state.tracked)
        varying = self._varying(state, run)
        self._track(state, varying, stmts)
        assigned = set(state.tracked.values())
        # a size the body keeps (and no variable carries) that reads a variable the body
        # assigns keeps its value in a copy, so that after the loop it can be read as it was
        # before it (below)
        carried = set(state.tracked)
        kept = list(state.shape)
        for i, dim in enumerate(kept):
            if i not in varying and i not in carried and _reads(dim) & assigned:
                copy = self.ns.fresh("size")
                self.tracked_names.add(copy)
                stmts.append(Stmt(f"{copy} = ", _py(dim), reads=_reads(dim), writes=copy))
                kept[i] = Sym(n.Name(copy), getattr(dim, "value", None))
        state.shape = tuple(kept)
        start = state.copy()
        body: list[Stmt] = []
        run(state, body)
        # the next iteration starts from the variables (a dry run's inner loop or condition
        # leaves its sizes as expressions)
        self._sync(state, body)
        stmts.append(Stmt(header, _for_header(header), reads=reads, body=body, block=True))
        state.tracked = outer  # after the loop its variables hold the final sizes
        if state.dead:  # the body always raises: only a loop that runs no time gets past it
            state.shape, state.dead = start.shape, start.dead
        elif len(state.shape) == len(start.shape):
            # a size the body keeps is after the loop what it was before, however many times
            # the loop ran: the body may give it back in a variable of its own (a permute in
            # one branch of a condition), which a loop that runs no time leaves unset
            state.shape = tuple(
                start.shape[i] if i not in varying and i not in carried else dim
                for i, dim in enumerate(state.shape)
            )
        return assigned

    def _loop(
        self,
        entry: m.ForEntry | m.RepeatEntry,
        scope: Scope,
        state: State,
        where: str,
        stmts: list[Stmt],
        body_fn: Any,
    ) -> None:
        names = [entry.as_] if isinstance(entry, m.RepeatEntry) and entry.as_ else []
        names = list(entry.for_.names) if isinstance(entry, m.ForEntry) else names
        if self.caller_terms:
            # a dry run for a block's caller: the loop in the caller's terms, its variables
            # named apart from the caller's (the caller runs it where its sizes cannot be
            # written without it)
            own = {name: self.ns.fresh(name) for name in names}
            count, last = _loop_count(entry, scope)
            if isinstance(entry, m.RepeatEntry):
                iterable: n.Expr = n.Call(n.Name("range"), (count,), ())
            else:
                iterable = as_expr(calls.evaluate_at(entry.for_.expr, None, scope, "for"))
            last = {own[name]: value for name, value in last.items()}
            header = f"for {', '.join(own.values()) or '_'} in {render_iterable(iterable)}:"
        else:
            own = {name: name for name in names}
            if isinstance(entry, m.RepeatEntry):
                given = self.subst(entry.repeat.expr)
                if not isinstance(n.strip(given), n.Const):  # check refuses a count < 0
                    stmts.append(_refuse_count(given, 0, REPEAT_COUNT))
                header = f"for {entry.as_ or '_'} in range({_text(given)}):"
                iterable = given
            else:
                iterable = self.subst(entry.for_.expr)
                header = f"for {', '.join(names)} in {render_iterable(iterable)}:"
        frame = scope.child({name: Sym(n.Name(var)) for name, var in own.items()})
        reads = _reads(iterable)

        outer = self.defaults
        examples = None if outer is None or self.caller_terms else self._first_item(entry, names)

        def run(s: State, out: list[Stmt]) -> None:
            self.defaults = outer if examples is None else outer.child(examples)  # type: ignore[union-attr]
            try:
                body_fn(entry.do, frame, s, out)
            finally:
                self.defaults = outer

        if self.caller_terms:
            self._caller_loop(count, last, header, reads, state, stmts, run)
            return
        self._loop_body(header, reads, state, stmts, run)

    def _first_item(
        self, entry: m.ForEntry | m.RepeatEntry, names: list[str]
    ) -> dict[str, Any] | None:
        """A loop's variables at their first item at the spec's defaults (``None`` where the
        loop runs no item there, or its items are not known)."""
        if isinstance(entry, m.RepeatEntry):
            return {name: 0 for name in names}
        items = self._at_defaults(entry.for_.expr)
        if not isinstance(items, tuple | dict | str) or not items:
            return None
        first = next(iter(items))
        if len(names) == 1:
            return {names[0]: first}
        if not isinstance(first, tuple) or len(first) != len(names):
            return None
        return dict(zip(names, first, strict=True))

    def _caller_loop(
        self,
        count: n.Expr,
        last: dict[str, n.Expr],
        header: str,
        reads: frozenset[str],
        state: State,
        stmts: list[Stmt],
        run: Callable[[State, list[Stmt]], None],
    ) -> None:
        """A loop in a dry run for a block's caller, run ``count`` times (its variables at
        their last iteration: ``last``): the sizes after it in the caller's terms, written
        without the loop where each can be (see :func:`_after_loop`); otherwise the loop
        itself, in the caller's terms (``header``), carrying the sizes that cannot — which the
        caller runs before it makes the block (see :meth:`Module.block_output`)."""
        forms = self._loop_in_caller(count, last, state, run)
        if all(f is not None for f in forms):
            return
        assigned = self._loop_body(header, reads, state, stmts, run)
        # a size that can be written without the loop is, where the loop changes nothing
        # it reads
        state.shape = tuple(
            d if f is None or n.free_names(as_expr(f)) & assigned else f
            for f, d in zip(forms, state.shape, strict=True)
        )

    def _loop_in_caller(
        self,
        count: n.Expr,
        last: dict[str, n.Expr],
        state: State,
        run: Callable[[State, list[Stmt]], None],
    ) -> list[Any]:
        """Each size after a loop in a dry run for a block's caller (see :meth:`_caller_loop`)
        where it can be written without the loop, else ``None``; where every one can, the
        state moves to them."""
        rank = len(state.shape)
        names = self._start_names(rank)
        start = State(tuple(Sym(n.Name(name)) for name in names))
        probe = self._dry(run, start)
        if probe.dead or len(probe.shape) != rank:
            return [None] * rank
        dims: list[Any] = []
        for i, (before, anywhere) in enumerate(zip(state.shape, probe.shape, strict=True)):
            after = None
            # (not a size the iteration computes with a loop of its own)
            if not n.free_names(as_expr(anywhere)) & self.tracked_names:
                after = _after_loop(as_expr(anywhere), names, i, as_expr(before), count, last)
            dims.append(
                None if after is None else before if after == as_expr(before) else Sym(after)
            )
        if all(d is not None for d in dims):
            state.shape = tuple(dims)
            return dims
        runtime = set().union(*(n.free_names(as_expr(d)) for d in probe.shape))
        if not runtime & self.tracked_names and self._settled_loop(
            count, last, state, probe, names, self._sample_values()
        ):
            return list(state.shape)
        return dims

    def _sample_values(self) -> dict[str, tuple[Any, ...]]:
        """Values of the spec's params of each kind to try sizes on (an integer otherwise):
        its choices, or both truth values, or the default and another list or text."""
        out: dict[str, tuple[Any, ...]] = {}
        for name, p in self.mod.params.items():
            if p.kind == "int":
                continue
            if p.choices:
                out[name] = tuple(p.choices)
            elif p.kind == "bool":
                out[name] = (False, True)
            elif p.kind == "list":
                default = tuple(p.default)
                out[name] = (default, default[:1], default + default[-1:])
            elif p.kind == "str":
                out[name] = (p.default, f"{p.default}_")
            else:
                out[name] = (p.default, 0.5, 1.0)
        return out

    @staticmethod
    def _settled_loop(
        count: n.Expr,
        last: dict[str, n.Expr],
        state: State,
        probe: State,
        names: list[str],
        samples: dict[str, tuple[Any, ...]],
    ) -> bool:
        """A loop whose iteration maps the sizes to sizes it keeps — a residual block that
        keeps its shape once it has it, repeated — leaves the sizes of one iteration, if any
        ran (checked on sample values of every name the sizes read; ``names``: the sizes it
        starts from). False otherwise."""
        step = [as_expr(d) for d in probe.shape]
        if set().union(*(n.free_names(e) for e in step)) & set(last) or not _idempotent(
            step, names, samples
        ):
            return False
        start = dict(zip(names, (as_expr(d) for d in state.shape), strict=True))
        ran = n.Compare(count, (">",), (n.Const(0),))
        dims = []
        for before, expr in zip(state.shape, step, strict=True):
            after = n.substitute(expr, start)
            dims.append(
                before if after == as_expr(before) else Sym(n.IfExp(ran, after, as_expr(before)))
            )
        state.shape = tuple(dims)
        return True

    def _if(
        self,
        entry: m.IfEntry,
        scope: Scope,
        state: State,
        where: str,
        stmts: list[Stmt],
        body_fn: Any,
    ) -> None:
        cond = calls.evaluate_at(entry.if_.expr, None, scope, where)
        if known(cond):
            body_fn(entry.then if concrete(cond) else entry.else_, scope, state, stmts)
            return
        before = set(self.tracked_names)
        then_state, else_state = state.copy(), state.copy()
        then: list[Stmt] = []
        orelse: list[Stmt] = []
        made_before = set(self.made_as)
        branch_made: dict[str, set[str]] = {}
        failed = [
            self._branch(body_fn, entry.then, scope, then_state, then, branch_made),
            self._branch(body_fn, entry.else_, scope, else_state, orelse, branch_made),
        ]
        for name, forms in branch_made.items():  # made under the condition, or made otherwise
            if name not in made_before:  # after it: a later use written otherwise is refused
                self.made_as[name] = (next(iter(forms)) if len(forms) == 1 else "", None)
        if all(failed):
            raise failed[0]  # type: ignore[misc]
        introduced = self.tracked_names - before
        if then_state.dead or else_state.dead:
            live = else_state if then_state.dead else then_state
            state.shape, state.dead = live.shape, then_state.dead and else_state.dead
            stmts.append(self._if_stmt(entry, then, orelse, cond))
            return
        if len(then_state.shape) != len(else_state.shape):
            raise CodegenError(
                "the two branches of this condition give outputs of different rank "
                f"({len(then_state.shape) + 1} and {len(else_state.shape) + 1} with the batch), "
                "which a generated class cannot follow",
                entry.span,
                where,
                hint=_RANKS_HINT,
            )
        # Each size both branches agree on, in names that exist either way, stays; any other
        # is carried by one variable assigned at the end of each branch.
        names = _DIM_NAMES.get(len(state.shape), ())
        merged = list(then_state.shape)
        then_only, else_only = (
            _assigned(then) - _assigned(orelse),
            _assigned(orelse) - _assigned(then),
        )
        for i, (a, b) in enumerate(zip(then_state.shape, else_state.shape, strict=True)):
            ea, eb = as_expr(a), as_expr(b)
            if ea == eb and not (n.free_names(ea) & introduced):
                continue
            if self.caller_terms:  # the caller sees the size as an expression of its own
                merged[i] = Sym(n.IfExp(as_expr(cond), ea, eb))
                # a variable one branch assigns is given the other's size in the other, so
                # that the caller may store it for forward on either path (the test picks)
                for expr, unset, other, size in (
                    (ea, then_only, orelse, b),
                    (eb, else_only, then, a),
                ):
                    for var in sorted(n.free_names(expr) & introduced & unset):
                        other.append(Stmt(f"{var} = ", _py(size), reads=_reads(size), writes=var))
                        unset.discard(var)
                continue
            var = state.tracked.get(i) or self.ns.fresh(names[i] if i < len(names) else f"dim{i}")
            self.tracked_names.add(var)
            then.append(Stmt(f"{var} = ", _py(a), reads=_reads(a), writes=var))
            orelse.append(Stmt(f"{var} = ", _py(b), reads=_reads(b), writes=var))
            merged[i] = Sym(n.Name(var))
        state.shape = tuple(merged)
        stmts.append(self._if_stmt(entry, then, orelse, cond))

    def _branch(
        self,
        body_fn: Any,
        entries: list[Any],
        scope: Scope,
        state: State,
        out: list[Stmt],
        made: dict[str, set[str]],
    ) -> NetspecError | None:
        """Compile one branch of a condition on the params. A branch the default params do
        not take has not been checked; if it cannot be compiled, the generated code raises
        its error there (for values that take it) instead of failing the whole model.
        ``made`` gains the modules the branch first makes, by name."""
        snapshot = len(out)
        stored, present, made_as = set(self.stored), set(self.present), dict(self.made_as)
        try:
            body_fn(entries, scope, state, out)
        except CodegenError:
            raise  # what the generator cannot write is an error for every value
        except NetspecError as exc:
            del out[snapshot:]
            out.append(_Dead(exc.headline()).stmt())
            state.dead = True
            return exc
        finally:
            for name in set(self.made_as) - set(made_as):
                made.setdefault(name, set()).add(self.made_as[name][0])
            # a name made in one branch may be made otherwise in the other (they never meet)
            self.stored, self.present, self.made_as = stored, present, made_as
        return None

    def _if_stmt(self, entry: m.IfEntry, then: list[Stmt], orelse: list[Stmt], cond: Any) -> Stmt:
        # the spec's test in this class's terms; in a dry run for a block's caller, its value
        # in the caller's
        test = as_expr(cond) if self.caller_terms else self.subst(entry.if_.expr)
        return Stmt(
            f"if {_text(test)}:",
            reads=_reads(test),
            body=then,
            orelse=orelse or None,
            block=True,
        )

    # -- nn.Sequential containers ------------------------------------------------------------------

    def sequential(
        self,
        entries: Sequence[Any],
        scope: Scope,
        state: State,
        kind: str,
        label: str,
        taps: dict[int, State] | None = None,
    ) -> tuple[list[Stmt], PyExpr]:
        """Statements to run first, and the ``nn.Sequential`` expression of a layer list;
        ``taps`` (children's indices) are given the shapes of those children's outputs."""
        pre: list[Stmt] = []
        collide = _may_collide(entries) if kind == "module" else set()
        if not _has_control(entries) and not collide:
            items: list[Item] = []
            for i, entry in enumerate(entries):
                items.append(Item(self._item(entry, scope, state, kind, pre)))
                if taps is not None and i in taps:
                    taps[i] = self._kept(state, pre, f"{label}_{i}")
            return pre, self._sequential_expr(items, kind)
        var = self.ns.fresh(label)
        element = "tuple[str, nn.Module]" if kind == "module" else "nn.Module"
        pre.append(Stmt(f"{var}: list[{element}] = []", writes=var))
        # a child's index is known until a loop or a condition; after, `len(var)` tells it
        position: list[int | None] = [0]
        depth = [0]
        sizes: dict[int, list[str]] = {}
        known_at: set[int] = set()  # children captured where their index is known

        def tap(s: State, out: list[Stmt]) -> None:
            if not taps:
                return
            at = position[0] if depth[0] == 0 else None
            if at is not None:
                position[0] = at + 1
                if at in taps:
                    taps[at] = self._kept(s, out, f"{label}_{at}")
                    known_at.add(at)
                return
            for k in sorted(set(taps) - known_at):  # sizes when the child appended is child k
                dims = _DIM_NAMES.get(len(s.shape), tuple(range(len(s.shape))))
                names = sizes.setdefault(k, [self.ns.fresh(f"{label}_{k}_{d}") for d in dims])
                self.tracked_names.update(names)
                body = [
                    Stmt(f"{name} = ", _py(size), reads=_reads(as_expr(size)), writes=name)
                    for name, size in zip(names, s.shape, strict=True)
                ]
                test = f"if len({var}) == {k + 1}:"
                out.append(Stmt(test, reads=frozenset({var}), body=body, block=True))
                taps[k] = State(tuple(Sym(n.Name(name)) for name in names))

        def fill(entries: Sequence[Any], frame: Scope, s: State, out: list[Stmt]) -> None:
            for entry in entries:
                if s.dead:
                    return
                if isinstance(entry, m.ForEntry | m.RepeatEntry | m.IfEntry):
                    depth[0] += 1
                    position[0] = None
                    try:
                        if isinstance(entry, m.IfEntry):
                            self._if(entry, frame, s, label, out, fill)
                        else:
                            self._loop(entry, frame, s, label, out, fill)
                    finally:
                        depth[0] -= 1
                else:
                    try:
                        if id(entry) in collide:
                            item = self._unique_item(entry, frame, s, var, label, out)
                        else:
                            item = self._item(entry, frame, s, kind, out)
                    except _Dead as dead:
                        out.append(dead.stmt())
                        s.dead = True
                        return
                    out.append(
                        Stmt("", call(f"{var}.append", item), reads=_reads_items(item) | {var})
                    )
                    self._sync(s, out)
                    tap(s, out)

        fill(entries, scope, state, pre)
        if kind == "module":
            self.mod.uses_ordered_dict = True
            return pre, call("nn.Sequential", call("OrderedDict", Atom(var)))
        return pre, call("nn.Sequential", Atom(f"*{var}"))

    def _sequential_expr(self, items: list[Item], kind: str) -> PyExpr:
        if kind == "module":
            self.mod.uses_ordered_dict = True
            return call("nn.Sequential", call("OrderedDict", Bracket("[", tuple(items), "]")))
        return Bracket("nn.Sequential(", tuple(items), ")")

    def _item(self, entry: Any, scope: Scope, state: State, kind: str, pre: list[Stmt]) -> PyExpr:
        """One element of a Sequential: a module, or ``("name", module)`` in a named one."""
        if isinstance(entry, m.LayerRef):
            return self.layer(entry, scope, state, "layers", pre)
        if isinstance(entry, m.MappingCall):
            assert entry.call is not None
            return self.layer(entry.call, scope, state, "layers", pre)
        assert isinstance(entry, m.NamedEntry), entry
        name = self._name_expr(entry.name)
        module = self._named_value(entry, scope, state, pre)
        if kind == "module":
            return Bracket("(", (Item(name), Item(module)), ")", tuple_like=True)
        return module

    def _unique_item(
        self,
        entry: m.NamedEntry,
        scope: Scope,
        state: State,
        var: str,
        label: str,
        pre: list[Stmt],
    ) -> PyExpr:
        """``("name", module)`` of a named sequence whose name is made when the code runs and
        may be one made before (see :func:`_may_collide`): the name in a variable, refused
        where the pairs in ``var`` hold it already, as check refuses it (``nn.Sequential``
        would keep the last module of the name, silently)."""
        pieces = self._name_pieces(entry.name)
        if all(isinstance(p, str) for p in pieces):  # known here: check tested it
            return self._item(entry, scope, state, "module", pre)
        made = _format(pieces)
        name = self.ns.fresh("name")
        pre.append(Stmt(f"{name} = ", made, reads=_reads_items(made), writes=name))
        raise_ = _raise_formatted(f"the name {{{name}!r}} is used twice in {label}")
        test = f"if {name} in dict({var}):"
        pre.append(Stmt(test, reads=frozenset({name, var}), body=[raise_], block=True))
        module = self._named_value(entry, scope, state, pre)
        return Bracket("(", (Item(Atom(name)), Item(module)), ")", tuple_like=True)

    def _named_value(
        self,
        entry: m.NamedEntry,
        scope: Scope,
        state: State,
        pre: list[Stmt],
        taps: dict[int, State] | None = None,
    ) -> PyExpr:
        value = entry.value
        if isinstance(value, m.LayerRef | m.MappingCall):
            ref = value if isinstance(value, m.LayerRef) else value.call
            assert ref is not None
            return self.layer(ref, scope, state, entry.name.text, pre)
        inner = value if isinstance(value, list) else [value]
        sub_pre, module = self.sequential(
            inner, scope, state, container_kind(inner, top=False), _label(entry), taps
        )
        pre.extend(sub_pre)
        return module

    def _name_expr(self, template: m.NameTemplate) -> PyExpr:
        return _format(self._name_pieces(template))

    def _name_pieces(self, template: m.NameTemplate) -> list[str | n.Expr]:
        """A name's text and the expressions of the parts known only when the code runs."""
        if not template.is_template:
            return [template.text]
        pieces: list[str | n.Expr] = []
        for part in template.parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            expr = self.subst(part)
            value = _constant(expr)
            # a part that reads only the variables of loops written out: its value
            known_part = isinstance(value, int | str) and not isinstance(value, bool)
            pieces.append(str(value) if known_part else expr)
        return pieces

    # -- class bodies ------------------------------------------------------------------------------

    def class_body(
        self,
        entries: Sequence[Any],
        scope: Scope,
        state: State,
        init: list[Stmt],
        fwd: list[Stmt],
        flow: Flow,
        tree: SeqNode | None = None,
    ) -> None:
        """Entries of a class: ``self.name = …`` in ``__init__``, calls in ``forward``."""
        shapes = {c.name: c.output for c in tree.children} if tree is not None else {}
        self.collide |= _may_collide(entries)
        self._class_entries(entries, scope, state, init, fwd, flow, shapes)

    def _class_entries(
        self,
        entries: Sequence[Any],
        scope: Scope,
        state: State,
        init: list[Stmt],
        fwd: list[Stmt],
        flow: Flow,
        shapes: dict[str, Shape],
    ) -> None:
        for entry in entries:
            if state.dead:
                return
            try:
                self._class_entry(entry, scope, state, init, fwd, flow, shapes)
            except _Dead as dead:
                init.append(dead.stmt())
                state.dead = True

    def _class_entry(
        self,
        entry: Any,
        scope: Scope,
        state: State,
        init: list[Stmt],
        fwd: list[Stmt],
        flow: Flow,
        shapes: dict[str, Shape],
    ) -> None:
        if isinstance(entry, m.IfEntry):
            self._class_if(entry, scope, state, init, fwd, flow)
            return
        if isinstance(entry, m.ForEntry | m.RepeatEntry):
            self._class_loop(entry, scope, state, init, fwd, flow, shapes)
            return
        if isinstance(entry, m.LayerRef | m.MappingCall):
            ref = entry if isinstance(entry, m.LayerRef) else entry.call
            assert ref is not None
            expr = self.layer(ref, scope, state, "layers", init, module=False, x=flow.src)
            if expr.flat():
                fwd.append(flow.line(expr))
            self._sync(state, init)
            return
        assert isinstance(entry, m.NamedEntry)
        sources = entry.sources
        if (
            sources is not None
            and sources.merged
            and inputs_block(entry.value, self.spec.blocks) is None
        ):
            self._merge_entry(entry, sources, state, fwd, flow)
            return
        if sources is not None:  # reads an earlier tensor (lower.check_sources checked it)
            var, saved = self.named[sources.names[0]]
            flow.src = var
            state.shape, state.tracked = saved.shape, dict(saved.tracked)
            # a block of several inputs is given the others
            self.pending = [self.named[t] for t in sources.names[1:]]
        keep = entry.name.text if entry.name.text in self.reads else None
        goes_to = flow.dst
        if keep is not None:  # a tensor a later `from:` reads: a variable of its own
            flow.dst = self._fresh_var(f"tensor {keep}", keep)
        self._named_entry(entry, scope, state, init, fwd, flow, shapes)
        if keep is not None:
            flow.dst = goes_to
            self.named[keep] = (flow.src, self._kept(state, init, keep))

    def take_inputs(self, block: m.BlockDef, others: Sequence[Shape]) -> None:
        """A block of several inputs: its first input's name, and the others' shapes."""
        self.first_input = block.inputs[0] if block.inputs else None
        self.given = {
            name: State(tuple(shape)) for name, shape in zip(block.inputs[1:], others, strict=True)
        }

    def reading(self, lists: Sequence[Sequence[Any]], state: State, fwd: list[Stmt]) -> None:
        """Before a class's layers: which tensors its ``from:``s read; the input, if one of
        them, in a variable of its own (``x`` changes as layers run)."""
        self.reads = frozenset().union(*(read_names(entries) for entries in lists))
        if INPUT in self.reads:
            var = self._fresh_var(f"tensor {INPUT}", "x_in")
            fwd.append(Stmt(f"{var} = x"))
            self.named[INPUT] = (var, state.copy())

    def _kept(self, state: State, init: list[Stmt], name: str) -> State:
        """The shape of a tensor kept for a later ``from:``: sizes that variables carry are
        copied into variables of its own (later layers may assign those again)."""
        kept = state.copy()
        shape = list(kept.shape)
        for index, var in sorted(kept.tracked.items()):
            copy = self.ns.fresh(f"{name}_{var}")
            self.tracked_names.add(copy)
            init.append(Stmt(f"{copy} = {var}", reads=frozenset({var}), writes=copy))
            shape[index] = Sym(n.Name(copy))
        kept.shape, kept.tracked = tuple(shape), {}
        return kept

    def _merge_entry(
        self, entry: m.NamedEntry, sources: m.Sources, state: State, fwd: list[Stmt], flow: Flow
    ) -> None:
        """``name: merge`` with ``from: [a, b, …]``: one line of ``forward``."""
        name = entry.name.text
        assert isinstance(entry.value, m.LayerRef)
        merge, options = merge_call(entry.value, sources, name)
        inputs = [self.named[t] for t in sources.names]
        try:
            shape = merge.infer([s.shape for _, s in inputs], options)
        except OpError as exc:  # only in code the default values do not reach
            raise _Dead(exc.message) from None
        var = self._fresh_var(f"tensor {name}", name) if name in self.reads else flow.dst
        fwd.append(Stmt(f"{var} = ", merge_expr(merge.code([v for v, _ in inputs], options))))
        self.mod.helpers.update(merge.helpers)
        state.shape, state.tracked = tuple(shape), {}
        flow.src = var
        if name in self.reads:
            self.named[name] = (var, state.copy())

    def _named_entry(
        self,
        entry: m.NamedEntry,
        scope: Scope,
        state: State,
        init: list[Stmt],
        fwd: list[Stmt],
        flow: Flow,
        shapes: dict[str, Shape],
    ) -> None:
        name = self._class_name(entry, scope, init)
        count = len(self.call_forms)
        given = list(self.pending)  # the other inputs of a block of several
        tapped = (
            dict.fromkeys(taps(self.reads, entry.name.text), state)
            if not entry.name.is_template
            else {}
        )
        module = self._named_value(entry, scope, state, init, tapped)
        form = self._call_form(entry, count)
        if isinstance(name, str):
            choice = isinstance(entry.value, m.LayerRef) and isinstance(
                n.strip(entry.value.expr), n.IfExp
            )
            # in a loop that stays a loop, made perhaps differently on each run: a choice,
            # a layer reading the loop's variables or its input, or under a condition
            varies = isinstance(entry.value, m.LayerRef) and (
                choice
                or self.loop_conditions > 0
                or bool(n.free_names(entry.value.expr) & {*self.loop_vars, "in"})
            )
            self._assign(name, module, init, shapes, entry.span, choice, varies)
            target = f"self.{name}"
        else:  # a name known only when the code runs: an attribute set and got by name
            made, got = name
            if id(entry) in self.collide:  # it may be made twice: tested, as check tests it
                made, module = self._unique_attribute(made, module, init)
            reads = _reads_items(made) | _reads_items(module)
            init.append(Stmt("", call("setattr", Atom("self"), made, module), reads=reads))
            target = f"getattr(self, {got.flat()})"
        self._sync(state, init)
        if tapped and _varies(entry.value):  # its length may follow the params
            init.append(_short_sequence_guard(entry.name.text, target, max(tapped)))
        if tapped:
            self._tapped_call(entry.name.text, target, tapped, fwd, flow)
            return
        args = ", ".join([flow.src, *(var for var, _ in given)])
        fwd.append(flow.line(Atom(form.format(module=target, x=args))))

    def _unique_attribute(
        self, made: PyExpr, module: PyExpr, init: list[Stmt]
    ) -> tuple[PyExpr, PyExpr]:
        """The name and the module of a layer whose name is made when the code runs and may
        be one made before (see :func:`_may_collide`), in variables, and the test that one
        name is two modules only where check shares it: the same layer without parameters
        (``_may_share``; a class that set it again called one module twice, or the last)."""
        self.mod.helpers.add("may_share")
        name, new = self.ns.fresh("name"), self.ns.fresh("layer")
        init.append(Stmt(f"{name} = ", made, reads=_reads_items(made), writes=name))
        init.append(Stmt(f"{new} = ", module, reads=_reads_items(module), writes=new))
        raise_ = _raise_formatted(f"the name {{{name}!r}} is used twice")
        test = f"if not _may_share({new}, getattr(self, {name}, None)):"
        init.append(Stmt(test, reads=frozenset({name, new}), body=[raise_], block=True))
        return Atom(name), Atom(new)

    def _tapped_call(
        self, name: str, target: str, tapped: dict[int, State], fwd: list[Stmt], flow: Flow
    ) -> None:
        """A sequence whose children's outputs ``from:``s read (``backbone.4``): its children
        run one after the other, each read output kept in a variable of its own (TorchScript
        wants the variable set before the loop)."""
        if flow.src != flow.dst:
            fwd.append(flow.line(Atom(flow.src)))
        index = self._fresh_var(f"index {name}", "i")
        layer = self._fresh_var(f"layer {name}", "layer")
        tests: list[Stmt] = []
        for k, kept in tapped.items():
            var = self._fresh_var(f"tensor {name}.{k}", f"{name}_{k}")
            fwd.append(Stmt(f"{var} = {flow.dst}", comment="set in the loop below"))
            tests.append(
                Stmt(f"if {index} == {k}:", body=[Stmt(f"{var} = {flow.dst}")], block=True)
            )
            self.named[f"{name}.{k}"] = (var, kept)
        body = [Stmt(f"{flow.dst} = {layer}({flow.dst})"), *tests]
        header = f"for {index}, {layer} in enumerate({target}):"
        fwd.append(Stmt(header, body=body, block=True))
        flow.src = flow.dst

    def _call_form(self, entry: m.NamedEntry, made: int) -> str:
        """How ``forward`` calls the module a named entry made (``Op.call_form``); the forms
        recorded since ``made`` are dropped."""
        forms = set(self.call_forms[made:])
        del self.call_forms[made:]
        if isinstance(entry.value, list) or not forms:  # a sequence calls its layers itself
            return "{module}({x})"
        assert len(forms) == 1, "check_choice refuses a choice between two forms"
        return forms.pop()

    def _class_name(
        self, entry: m.NamedEntry, scope: Scope, init: list[Stmt]
    ) -> str | tuple[PyExpr, PyExpr]:
        """A layer's attribute name in a class: the name, where its template's parts are
        known here (a loop written out gives its variables' values); otherwise the f-strings
        ``__init__`` and ``forward`` compute it with."""
        template = entry.name
        if not template.is_template:
            return template.text
        made: list[str | n.Expr] = []
        got: list[str | n.Expr] = []
        for part in template.parts:
            if isinstance(part, str):
                made.append(part)
                got.append(part)
                continue
            value = calls.evaluate_at(part, None, scope, template.text)
            if known(value):
                value = concrete(value)
                if isinstance(value, bool) or not isinstance(value, int | str):
                    raise SpecError(
                        f"a name template part must be an integer or text, found {show(value)}",
                        template.span,
                        template.text,
                    )
                made.append(str(value))
                got.append(str(value))
                continue
            residual = Sym(as_expr(value))
            made.append(residual.expr)
            got.append(self.capture(residual, init).expr)
        text = "".join(p for p in made if isinstance(p, str))
        if any(not isinstance(p, str) for p in made):
            return _format(made), _format(got)
        check_layer_name(text, template.span, text)
        if not text.isidentifier():
            raise SpecError(
                f"layer name {text!r} is not an identifier, so it cannot be an attribute of "
                "the class",
                template.span,
                text,
            )
        return text

    def reserve(self, entries: Sequence[Any], scope: Scope) -> None:
        """Keep the names that a class body's templates give where they are known here
        (``conv1``, ``conv2``…) from the attributes that store values for ``forward``."""
        for entry in entries:
            if isinstance(entry, m.NamedEntry) and entry.name.is_template:
                text = ""
                for part in entry.name.parts:
                    try:
                        value = part if isinstance(part, str) else evaluate(part, scope)
                    except (NetspecError, SymbolicError):
                        value = UNKNOWN
                    if not known(value):
                        self.attrs.patterns.append(re.compile(entry.name.pattern()))
                        break
                    text += str(concrete(value))
                else:
                    self.attrs.taken.add(text)
            elif isinstance(entry, m.ForEntry | m.RepeatEntry):
                try:
                    frames = self._iterations(entry, scope)
                except (NetspecError, SymbolicError):
                    frames = None
                if frames is None:
                    names = entry.for_.names if isinstance(entry, m.ForEntry) else [entry.as_]
                    frames = [{name: Sym(n.Name(name)) for name in names if name}]
                for values in frames:
                    self.reserve(entry.do, scope.child(values))
            elif isinstance(entry, m.IfEntry):
                self.reserve(entry.then, scope)
                self.reserve(entry.else_, scope)

    def _class_loop(
        self,
        entry: m.ForEntry | m.RepeatEntry,
        scope: Scope,
        state: State,
        init: list[Stmt],
        fwd: list[Stmt],
        flow: Flow,
        shapes: dict[str, Shape],
    ) -> None:
        """A loop directly in a class body. Where its iterations are known here (they do not
        depend on the constructor's arguments), it is written out, one iteration after the
        other, with its variables' values in the code; otherwise it stays a loop in
        ``__init__`` and in ``forward``, whose attributes are set and got by name."""
        frames = self._iterations(entry, scope)
        if frames is None:
            self._runtime_loop(entry, scope, state, init, fwd, flow)
            return
        for values in frames:
            saved = dict(self.renames), set(self.unrolled), dict(self.loop_vars), self.unrolling
            for var, value in values.items():
                self.renames[var] = as_expr(value)
                self.unrolled.add(var)
                self.loop_vars.pop(var, None)
            self.unrolling *= len(frames)
            try:
                self._class_entries(entry.do, scope.child(values), state, init, fwd, flow, shapes)
            finally:
                self.renames, self.unrolled, self.loop_vars, self.unrolling = saved
            if state.dead:
                return

    def _iterations(
        self, entry: m.ForEntry | m.RepeatEntry, scope: Scope
    ) -> list[dict[str, Any]] | None:
        """The variables of each iteration of a loop, where their number (and how they
        unpack) is known here and small enough to write out; ``None`` otherwise."""
        if isinstance(entry, m.RepeatEntry):
            count = calls.evaluate_at(entry.repeat.expr, None, scope, "layers")
            if not known(count):
                return None
            count = concrete(count)
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise SpecError(
                    count_refusal(REPEAT_COUNT, count),
                    entry.repeat.span,
                    "layers",
                )
            if count * self.unrolling > MAX_UNROLL:
                return None
            return [{entry.as_: i} if entry.as_ else {} for i in range(count)]
        header = entry.for_
        iterable = calls.evaluate_at(header.expr, None, scope, "layers")
        if not known(iterable):
            return None
        try:
            items = list(iterate(concrete(iterable)))
        except ExprError as exc:
            raise exc.locate(header.span, "layers") from None
        if len(items) * self.unrolling > MAX_UNROLL:
            return None
        names = header.names
        if len(names) == 1:
            return [{names[0]: item} for item in items]
        frames = []
        for item in items:
            if not known(item):
                return None  # what it unpacks into is known when the code runs
            item = concrete(item)
            if not isinstance(item, tuple) or len(item) != len(names):
                raise SpecError(
                    f"cannot unpack {show(item)} into {len(names)} names ({', '.join(names)})",
                    header.span,
                    "layers",
                )
            frames.append(dict(zip(names, item, strict=True)))
        return frames

    def _runtime_loop(
        self,
        entry: m.ForEntry | m.RepeatEntry,
        scope: Scope,
        state: State,
        init: list[Stmt],
        fwd: list[Stmt],
        flow: Flow,
    ) -> None:
        """A loop in a class body that stays a loop: the same ``for`` in ``__init__`` (making
        the modules, named by ``setattr``) and in ``forward`` (calling them, by ``getattr``)."""
        if flow.src != flow.dst:  # every iteration continues from the same variable
            fwd.append(flow.line(Atom(flow.src)))
        var = flow.dst
        if isinstance(entry, m.RepeatEntry):
            names = [entry.as_] if entry.as_ else []
            count = self.capture(Sym(self.subst(entry.repeat.expr)), init)
            iterable = n.Call(n.Name("range"), (count.expr,), ())
        else:
            names = list(entry.for_.names)
            iterable = self.capture(Sym(self.subst(entry.for_.expr)), init).expr
        taken = set(self.forward_vars.values()) | set(self.loop_vars.values())
        own = {}
        for name in names:
            fwd_name = name
            while fwd_name in _RESERVED_VARS or fwd_name in taken:
                fwd_name += "_"
            own[name] = fwd_name
            taken.add(fwd_name)
        bodies: list[list[Stmt]] = []

        def body(entries: Sequence[Any], frame: Scope, s: State, out: list[Stmt]) -> None:
            f: list[Stmt] = []
            bodies.append(f)
            self._class_entries(entries, frame, s, out, f, Flow(var, var), {})

        saved = dict(self.renames), set(self.unrolled), dict(self.loop_vars)
        # modules made in the loop exist only where it runs: nothing after it relies on them
        present, stored = set(self.present), set(self.stored)
        for name in names:
            self.renames.pop(name, None)
            self.unrolled.discard(name)
        self.loop_vars.update(own)
        self.loops += 1
        try:
            self._loop(entry, scope, state, "layers", init, body)
        finally:
            self.loops -= 1
            self.renames, self.unrolled, self.loop_vars = saved
            self.present, self.stored = present, stored
        loop_fwd = bodies[-1] if bodies else []
        if loop_fwd and not self.dry:
            targets = ", ".join(own[name] for name in names) or "_"
            header = f"for {targets} in {render_iterable(iterable)}:"
            fwd.append(Stmt(header, _for_header(header), body=loop_fwd, block=True))

    def _assign(
        self,
        name: str,
        module: PyExpr,
        init: list[Stmt],
        shapes: dict[str, Shape],
        span: Span | None = None,
        choice: bool = False,
        varies: bool = False,
    ) -> None:
        if any(tested == name for tested, _, _ in self.module_tests):
            self.reassigned.add(name)  # forward cannot tell its condition by its presence
        last, self.made_layer = self.made_layer, None
        made_here = module  # what `self.<name> = ` is given (a variable, where tested first)
        if self.loops and self._owns_modules(module, last, choice):
            # made on each run of a loop that stays a loop: check refuses a second making
            init.append(self._made_again_guard(name, span))
        elif self.loops and varies and name not in self.present:
            # one stateless module on every run where check finds them the same layer
            made_here = Atom(self.ns.fresh(f"new_{name}"))
            init.append(
                Stmt(
                    f"{made_here.flat()} = ",
                    module,
                    reads=_reads_items(module),
                    writes=made_here.flat(),
                )
            )
            init.append(self._made_differently_guard(name, made_here.flat(), span))
        # a layer made in a loop that stays a loop is made as often as it runs (perhaps
        # never), with its variables' values: not a test the class can make once
        made = last[1:] if last is not None and last[0] is module and not self.loops else None
        first, first_layer = self.made_as.setdefault(name, (module.flat(), made))
        if first != module.flat():
            # check shares a name between stateless layers equal at the values it is given;
            # written differently, they may differ at other values: the class refuses those
            guard = self._same_layer_guard(name, first, first_layer, module.flat(), made, span)
            if guard is not None:
                init.append(guard)
        if name in self.present:
            return  # a shared module, made on every path to here: called again
        self.present.add(name)
        self.assigned.add(name)
        self.conditional.discard(name)  # assigned here whatever the condition said
        comment = f"-> {list(shapes[name])}" if name in shapes and not self.dry else ""
        init.append(
            Stmt(f"self.{name} = ", made_here, comment=comment, reads=_reads_items(made_here))
        )

    @staticmethod
    def _owns_modules(module: PyExpr, made: Any, choice: bool) -> bool:
        """Whether a layer is a module check never shares under one name: an operator with
        parameters, a block or a sequence. (A stateless operator, or a choice between
        layers, check shares where the two makings are the same layer: the class calls the
        last one made, as the same module.)"""
        if choice:
            return False
        if made is None or made[0] is not module:
            return True  # a block or a sequence
        _, op, attrs, shape = made
        try:
            return bool(op.tensors(attrs, shape))
        except SymbolicError:
            return True

    def _made_again_guard(self, name: str, span: Span | None) -> Stmt:
        """``if hasattr(self, "<name>"): raise ValueError(…)``: a module of this name was made
        before (on an earlier run of the loop, or before it), which check refuses: one name
        for two modules (a class that assigned it again would call one module twice, sharing
        its weights, or only the last)."""
        error = SpecError(
            f"the name {name!r} is used twice (a loop makes it on each run)",
            span,
            name,
            hint="name it from the loop's variable (`conv{i}`), or move it out of the loop",
        )
        test = n.Call(n.Name("hasattr"), (n.Name("self"), n.Const(name)), ())
        return _raise_if(test, error)

    def _made_differently_guard(self, name: str, var: str, span: Span | None) -> Stmt:
        """``if not _may_share(<var>, getattr(self, "<name>", None)): raise …``:
        a layer a loop makes on each run, perhaps differently (a choice, a layer reading the
        loop's variables, under a condition), is one module called on every run where each
        making is the same layer without parameters (its class and settings equal) — as
        check decides (``expander._claim``) — and refused where two differ."""
        self.mod.helpers.add("may_share")
        error = SpecError(
            f"the name {name!r} is used twice (a loop makes it differently on two runs)",
            span,
            name,
            hint="name it from the loop's variable (`act{i}`), or make it the same on each run",
        )
        before = n.Call(n.Name("getattr"), (n.Name("self"), n.Const(name), n.Const(None)), ())
        return _raise_if(n.Not(n.Call(n.Name("_may_share"), (n.Name(var), before), ())), error)

    def _same_layer_guard(
        self, name: str, first: str, made: Any, second: str, again: Any, span: Span | None
    ) -> Stmt | None:
        """``if <the two layers differ>: raise ValueError(…)``: one name given to two operator
        layers without parameters, written differently (``relu``, then
        ``relu(inplace=flag)``), is one module called twice where their attributes are equal
        — as check decides at the values it is given (``expander._claim``) — and an error
        elsewhere. Refused where that cannot be written as one test of the params: a block or
        a sequence, another operator, parameters, a list- or text-valued attribute, a use in
        a loop that stays a loop or after a condition that made the name. ``None``
        where the two are equal at every value (``leaky_relu(0.5)``, ``leaky_relu(1 / 2)``)."""
        # (a dry run of a loop's body names the sizes it starts from: `…` to the reader)
        first, second = (re.sub(r"\b__dim\d+_\d+\b", "…", t) for t in (first, second))
        refusal = CodegenError(
            f"the name {name!r} is given to {first} and to {second}, which differ for some "
            "values of the params (check accepts one module called twice only where they are "
            "equal)",
            span,
            name,
            hint="give each layer its own name, or write both calls alike",
        )
        if made is None or again is None or made[0] is not again[0]:
            raise refusal
        (op, a, x), (_, b, y) = made, again
        tests: list[n.Expr] = []
        try:
            if op.tensors(a, x) or op.tensors(b, y):
                raise refusal
            for key in type(a).model_fields:
                u, v = getattr(a, key), getattr(b, key)
                if known(u) and known(v):
                    if concrete(u) != concrete(v):  # different at every value
                        raise refusal
                    continue
                if not all(type(w) is Sym or _is_scalar(w) for w in (u, v)):
                    raise refusal
                if known(u):  # the value written in the spec on the right
                    u, v = v, u
                w = concrete(v) if known(v) else None
                if type(w) is bool:  # `flag`, `not flag`
                    tests.append(as_expr(u) if w is False else n.Not(as_expr(u)))
                else:
                    tests.append(n.Compare(as_expr(u), ("!=",), (as_expr(v),)))
        except SymbolicError:
            raise refusal from None
        if not tests:
            return None
        error = SpecError(
            f"the name {name!r} is used twice, for {first} and {second}, which differ at these "
            "values",
            span,
            name,
            hint="a name may repeat only for the same layer without parameters (one module "
            "called twice)",
        )
        return _raise_if(tests[0] if len(tests) == 1 else n.BoolOp("or", tuple(tests)), error)

    def _class_if(
        self,
        entry: m.IfEntry,
        scope: Scope,
        state: State,
        init: list[Stmt],
        fwd: list[Stmt],
        flow: Flow,
    ) -> None:
        cond = calls.evaluate_at(entry.if_.expr, None, scope, "if")
        if known(cond):
            branch = entry.then if concrete(cond) else entry.else_
            self.class_body(branch, scope, state, init, fwd, flow)
            return
        if self.loops:
            self._loop_if(entry, scope, state, init, fwd, flow)
            return
        flag = self.attrs.fresh(_flag_name(entry.if_.expr))
        flag_stmt = Stmt(
            f"self.{flag} = ",
            self.py_code(entry.if_.expr),
            reads=_reads(self.subst(entry.if_.expr)),
        )
        init.append(flag_stmt)
        if flow.src != flow.dst:  # both branches must continue from the same variable
            fwd.append(flow.line(Atom(flow.src)))
        bodies = []

        def run(branch: Sequence[Any], frame: Scope, s: State, out: list[Stmt]) -> None:
            f: list[Stmt] = []
            bodies.append(f)
            try:
                self.class_body(branch, frame, s, out, f, Flow(flow.dst, flow.dst))
            except NetspecError:
                f.clear()  # the branch raises in __init__: forward never gets there
                raise

        earlier = set(self.assigned)
        self._if(entry, scope, state, "if", init, run)
        then_fwd, else_fwd = bodies[-2], bodies[-1]
        block = init[-1]
        then_names, else_names = _attrs(block.body), _attrs(block.orelse or [])
        # a module made in one branch only is None in the other, typed so (for mypy) where
        # first assigned; not one that an earlier condition made (and set to None where it
        # did not): forward may call what that one made (a shared stateless module)
        self.conditional |= then_names ^ else_names
        block.body += [Stmt(f"self.{a} = None") for a in sorted(else_names - then_names - earlier)]
        if then_names - else_names - earlier:
            block.orelse = (block.orelse or []) + [
                Stmt(f"self.{a} = None") for a in sorted(then_names - else_names - earlier)
            ]
        # a module forward can test for: made on every path of one branch, on none of the other
        then_sure, else_sure = _attrs(block.body, False), _attrs(block.orelse or [], False)
        then_mods = sorted((then_sure - else_names - earlier) & self.assigned)
        else_mods = sorted((else_sure - then_names - earlier) & self.assigned)
        for name in then_mods + else_mods:
            _annotate_first(block.body, name)
        # a module both branches make, of other classes (nn.Sequential, nn.Identity): typed as
        # any module where first assigned, for mypy
        for name in sorted((then_names & else_names) - earlier):
            if _made(block.body, name) != _made(block.orelse or [], name):
                _annotate_first(block.body, name, "nn.Module")
        # forward tests the module itself where a branch has modules of its own, so that
        # TorchScript (which compiles the branch only where the test may hold) and mypy follow
        self.flags.append((init, flag_stmt, flag))
        # (each module the branch calls is tested, so that mypy knows none of them is None)
        then_mods, else_mods = _called(then_mods, then_fwd), _called(else_mods, else_fwd)
        if then_mods:
            orelse = else_fwd or None
            if else_mods and else_fwd:
                inner = _present(else_mods, else_fwd, None)
                self.module_tests += [(a, inner, f"if not self.{flag}:") for a in else_mods]
                orelse = [inner]
            test = _present(then_mods, then_fwd, orelse)
            self.module_tests += [(a, test, f"if self.{flag}:") for a in then_mods]
        elif else_mods:
            test = _present(else_mods, else_fwd, then_fwd or None)
            self.module_tests += [(a, test, f"if not self.{flag}:") for a in else_mods]
        elif _same_calls(then_fwd, else_fwd):
            # both branches call the same (a module made either way, nn.Identity in one):
            # forward calls it unconditionally, and the flag nothing reads is not stored
            fwd.extend(then_fwd)
            return
        else:
            test = Stmt(f"if self.{flag}:", body=then_fwd, orelse=else_fwd or None, block=True)
        fwd.append(test)

    def _loop_if(
        self,
        entry: m.IfEntry,
        scope: Scope,
        state: State,
        init: list[Stmt],
        fwd: list[Stmt],
        flow: Flow,
    ) -> None:
        """A condition decided when the code runs, inside a loop that stays a loop: it may
        read the loop's variables, so ``forward`` tests it again (no flag stored once), and
        a module made in one branch is not set to ``None`` in the other (a later iteration
        would undo an earlier one's)."""
        if flow.src != flow.dst:  # both branches must continue from the same variable
            fwd.append(flow.line(Atom(flow.src)))
        bodies: list[list[Stmt]] = []

        def run(branch: Sequence[Any], frame: Scope, s: State, out: list[Stmt]) -> None:
            f: list[Stmt] = []
            bodies.append(f)
            try:
                self._class_entries(branch, frame, s, out, f, Flow(flow.dst, flow.dst), {})
            except NetspecError:
                f.clear()  # the branch raises in __init__: forward never gets there
                raise

        self.loop_conditions += 1
        try:
            self._if(entry, scope, state, "if", init, run)
        finally:
            self.loop_conditions -= 1
        then_fwd, else_fwd = bodies[-2], bodies[-1]
        if not then_fwd and not else_fwd:
            return
        test = _text(self.capture(Sym(self.subst(entry.if_.expr)), init).expr)
        if not then_fwd:
            fwd.append(Stmt(f"if not ({test}):", body=else_fwd, block=True))
            return
        fwd.append(Stmt(f"if {test}:", body=then_fwd, orelse=else_fwd or None, block=True))

    def settle_tests(self, forward: list[Stmt]) -> None:
        """Forward tests a module made under a condition for ``None`` where nothing assigns it
        again (a shared stateless module made after the condition too); otherwise it tests the
        condition's flag. Flags nothing reads are not stored."""
        for name, stmt, flagged in self.module_tests:
            if name in self.reassigned or (name in self.assigned and name not in self.conditional):
                stmt.prefix = flagged  # assigned again elsewhere: its presence says nothing
                stmt.expr = None
        text = "\n".join(line for stmt in forward for line in stmt.lines(0))
        for stmts, flag_stmt, flag in self.flags:
            if f"self.{flag}" not in text and flag_stmt in stmts:
                stmts.remove(flag_stmt)

    # -- blocks ------------------------------------------------------------------------------------

    def block_body(
        self,
        lowered: Lowered,
        scope: Scope,
        state: State,
        init: list[Stmt],
        lists: Sequence[Sequence[Any]] = (),
    ) -> list[Stmt]:
        """A block's ``__init__`` statements (appended to ``init``) and its ``forward``: the
        block's lowered steps printed (see :mod:`netspec.expand.lower`)."""
        fwd: list[Stmt] = []
        self.reading(lists, state, fwd)
        for given, shape in self.given.items():  # forward's arguments after x
            self.forward_vars[f"input {given}"] = given
            self.named[given] = (given, shape)
        first = self.first_input
        if first is not None and first in self.reads:  # the first input, read by its name
            var = self._fresh_var(f"tensor {first}", first)
            fwd.append(Stmt(f"{var} = x"))
            self.named[first] = (var, state.copy())
        tensors: dict[str, tuple[str, State]] = {IN: ("x", state.copy())}
        last = IN
        for step in lowered.steps:
            if isinstance(step, Path):
                self._path(step, scope, tensors, init, fwd)
            elif isinstance(step, Split):
                self._split(step, scope, tensors, init, fwd)
                continue
            else:
                self._join(step, scope, tensors, init, fwd)
            last = step.dst
            if tensors[step.dst][1].dead:
                state.dead = True
                break
        var, final = tensors[lowered.output] if not state.dead else tensors[last]
        state.shape, state.tracked = final.shape, final.tracked
        return fwd + [Stmt(f"return {var}")]

    def _var(self, step: Path | Join) -> str:
        """The ``forward`` variable holding a step's result: the block's tensor names, or a
        branch's own name (its module's, or its first layer's) where that is free in
        ``forward``."""
        if step.dst in (IN, OUT, IDENTITY):
            return step.dst
        name = "branch"
        if isinstance(step, Path):
            name = step.module or step.var or name
            name = f"branch{name}" if name.isdigit() else name  # a numbered branch's result
        return self._fresh_var(step.dst, name)

    def _fresh_var(self, tensor: str, name: str) -> str:
        """The variable of a lowered tensor: ``name``, or ``name_`` where that is taken."""
        if tensor not in self.forward_vars:
            var = name
            while var in _RESERVED_VARS or var in self.forward_vars.values():
                var += "_"
            self.forward_vars[tensor] = var
        return self.forward_vars[tensor]

    def _split(
        self,
        step: Split,
        scope: Scope,
        tensors: dict[str, tuple[str, State]],
        init: list[Stmt],
        fwd: list[Stmt],
    ) -> None:
        src, start = tensors[step.src]
        cond = self._condition(step.when, scope)
        if cond is False:
            tensors.update(dict.fromkeys(step.dsts, (src, start)))
            return
        names = [self._fresh_var(t, f"{src}{i + 1}") for i, t in enumerate(step.dsts)]
        try:
            shapes = split_channels(start.shape, len(names))
        except OpError as exc:  # only in code the default values do not reach
            if cond is True:
                raise _Dead(exc.message) from None
            shapes = (start.shape,) * len(names)
        line = Stmt(split_code(src, names))
        states = []
        for shape in shapes:
            s = start.copy()
            s.shape = shape
            states.append(s if cond is True else _either(cond, s, start))
        if cond is True:
            fwd.append(line)
        else:
            flag = self.attrs.fresh("use_split")
            init.append(Stmt(f"self.{flag} = ", _expr(cond), reads=_reads(cond)))
            fwd.append(
                Stmt(
                    f"if self.{flag}:",
                    body=[line],
                    orelse=[Stmt(f"{' = '.join(names)} = {src}")],
                    block=True,
                )
            )
        tensors.update(zip(step.dsts, zip(names, states, strict=True), strict=True))

    def _condition(self, when: tuple[tuple[str, m.Expression], ...], scope: Scope) -> Any:
        """``True``/``False`` where a step's conditions are known, else their expression."""
        unknown: list[n.Expr] = []
        for key, code in when:
            value = calls.evaluate_at(code.expr, None, scope, key)
            if known(value):
                if not concrete(value):
                    return False
                continue
            # the residual of the evaluation: in the terms of whoever is compiling (the block's
            # class, or its caller in a dry run)
            unknown.append(as_expr(value))
        if not unknown:
            return True
        return unknown[0] if len(unknown) == 1 else n.BoolOp("and", tuple(unknown))

    def _path(
        self,
        step: Path,
        scope: Scope,
        tensors: dict[str, tuple[str, State]],
        init: list[Stmt],
        fwd: list[Stmt],
    ) -> None:
        src, start = tensors[step.src]
        cond = self._condition(step.when, scope)
        if cond is False:
            tensors[step.dst] = (src, start)
            return
        s = start.copy()
        if step.module is None:
            assert cond is True  # the lowering guards only module paths
            flow = Flow(src, self._var(step))
            self.class_body(step.entries, scope, s, init, fwd, flow)
            tensors[step.dst] = (flow.src, s)
            return
        name = step.module
        entry = m.NamedEntry.model_construct({name: step.value})
        entry._name = m.NameTemplate(name)
        dst = self._var(step)
        if cond is True:
            count = len(self.call_forms)
            module = self._named_value(entry, scope, s, init)
            form = self._call_form(entry, count)
            if name.isdigit():  # a numbered branch: the next item of the block's nn.ModuleList
                init.append(
                    Stmt(
                        "self.append",
                        Bracket("(", (Item(module),), ")"),
                        reads=_reads_items(module),
                    )
                )
                self.assigned.add(name)
                fwd.append(Stmt(f"{dst} = {form.format(module=f'self[{name}]', x=src)}"))
            else:
                self._assign(name, module, init, {})
                fwd.append(Stmt(f"{dst} = {form.format(module=f'self.{name}', x=src)}"))
        else:
            made: list[Stmt] = []
            # sizes decided by the condition the module is made under (a split not taken)
            s.shape = tuple(_assuming(d, cond) for d in s.shape)
            count = len(self.call_forms)
            module = self._named_value(entry, scope, s, made)
            form = self._call_form(entry, count)
            # typed as what the other branch leaves, so the file type-checks
            made.append(
                Stmt(f"self.{name}: nn.Module | None = ", module, reads=_reads_items(module))
            )
            init.append(
                Stmt(
                    f"if {_text(cond)}:",
                    reads=_reads(cond),
                    body=made,
                    orelse=[Stmt(f"self.{name} = None")],
                    block=True,
                )
            )
            self.assigned.add(name)
            s = _either(cond, s, start)
            fwd += [
                Stmt(f"{dst} = {src}"),
                Stmt(
                    f"if self.{name} is not None:",
                    body=[Stmt(f"{dst} = {form.format(module=f'self.{name}', x=src)}")],
                    block=True,
                ),
            ]
        tensors[step.dst] = (dst, s)

    def _join(
        self,
        step: Join,
        scope: Scope,
        tensors: dict[str, tuple[str, State]],
        init: list[Stmt],
        fwd: list[Stmt],
    ) -> None:
        cond = self._condition(step.when, scope)
        if cond is False:
            tensors[step.dst] = tensors[step.otherwise]
            return
        merge = MERGES[step.merge]
        try:
            shape = merge.infer([tensors[t][1].shape for t in step.inputs])
        except OpError as exc:  # only in code the default values do not reach
            if cond is True:
                raise _Dead(exc.message) from None
            # the shapes cannot merge, so wherever the code runs the condition is false (or
            # PyTorch raises there, as the spec would)
            shape = tensors[step.otherwise][1].shape
        dst = self._var(step)
        line = Stmt(f"{dst} = ", merge_expr(merge.code([tensors[t][0] for t in step.inputs])))
        s = tensors[step.inputs[0]][1].copy()
        s.shape = shape
        if cond is True:
            fwd.append(line)
        else:
            s = _either(cond, s, tensors[step.otherwise][1])
            flag = self.attrs.fresh(f"use_{step.when[0][0].split('.')[0]}")
            init.append(Stmt(f"self.{flag} = ", _expr(cond), reads=_reads(cond)))
            otherwise = tensors[step.otherwise][0]
            if dst != otherwise:
                fwd.append(Stmt(f"{dst} = {otherwise}"))
            fwd.append(Stmt(f"if self.{flag}:", body=[line], block=True))
        tensors[step.dst] = (dst, s)


def _called(mods: list[str], fwd: list[Stmt]) -> list[str]:
    """Of the modules a branch of ``__init__`` makes, those its ``forward`` calls (the first
    where it calls none)."""
    text = "\n".join(line for stmt in fwd for line in stmt.lines(0))
    found = {a: re.search(rf"\bself\.{a}\b", text) for a in mods}
    called = sorted((a for a in mods if found[a]), key=lambda a: found[a].start())  # type: ignore[union-attr]
    return called or mods[:1]


def _present(mods: list[str], body: list[Stmt], orelse: list[Stmt] | None) -> Stmt:
    """``if self.a is not None and self.b is not None:`` over ``body`` (split one test per
    line where it is long, as black does)."""
    tests = [f"self.{a} is not None" for a in mods]
    header = f"if {' and '.join(tests)}:"
    if len(tests) == 1:
        return Stmt(header, body=body, orelse=orelse, block=True)
    chain = Chain((Atom(tests[0]), *(Atom(f"and {t}") for t in tests[1:])))
    expr = Bracket("if (", (Item(chain),), "):", commas=False, text=header)
    return Stmt(header, expr, body=body, orelse=orelse, block=True)


def merge_expr(code: str) -> PyExpr:
    """A merge's Python expression (:meth:`Merge.code`), laid out like any call: a call's
    arguments may go one per line where the line is long (``F.interpolate(…)``)."""
    tree = ast.parse(code, mode="eval").body
    if not isinstance(tree, ast.Call):
        return Atom(code)
    args = [Item(Atom(ast.get_source_segment(code, a) or "")) for a in tree.args]
    kwargs = [
        Item(Atom(ast.get_source_segment(code, k.value) or ""), k.arg or "", "=")
        for k in tree.keywords
    ]
    head = ast.get_source_segment(code, tree.func) or ""
    return Bracket(f"{head}(", tuple(args + kwargs), ")")


def _evaluate_in(node: n.Expr, frame: Scope, where: str) -> Any:
    return calls.evaluate_at(node, None, frame, where)


def _either(cond: n.Expr, then: State, orelse: State) -> State:
    """The state after ``then if cond else orelse`` (a choice or a step decided when the generated
    code runs): sizes the two outcomes agree on stay, others become ``a if cond else b``."""
    if len(then.shape) != len(orelse.shape):
        raise CodegenError(
            "a connection that exists only for some values would change the rank of the tensor",
            None,
        )
    equal = _equalities(cond)
    out = then.copy()
    dims = []
    for a, b in zip(then.shape, orelse.shape, strict=True):
        ea, eb = _given(as_expr(a), equal), as_expr(b)
        dims.append(b if ea == eb else Sym(n.IfExp(cond, ea, eb)))
    out.shape = tuple(dims)
    out.dead = then.dead and orelse.dead
    return out


def _identity(size: Any, name: str) -> bool:
    """Whether a size computed from a start size ``name`` alone is that size, whatever it is
    (a 1×1 convolution's ``(h - 1) // 1 + 1``): checked on sample sizes."""
    expr = size if isinstance(size, n.Expr) else as_expr(size)
    if n.free_names(expr) != {name}:
        return expr == n.Name(name)
    try:
        return all(evaluate(expr, Scope({name: v})) == v for v in (1, 2, 3, 7, 16, 101))
    except Exception:  # noqa: BLE001 - a size that fails for some start is no identity
        return False


def _loop_count(
    entry: m.ForEntry | m.RepeatEntry, scope: Scope
) -> tuple[n.Expr, dict[str, n.Expr]]:
    """How many times a loop runs, and its variables at the last iteration, as expressions in
    the terms of ``scope``."""
    last: dict[str, n.Expr] = {}
    if isinstance(entry, m.RepeatEntry):
        count = as_expr(calls.evaluate_at(entry.repeat.expr, None, scope, "repeat"))
        if entry.as_:
            last[entry.as_] = n.Binary("-", count, n.Const(1))
        return count, last
    iterable = as_expr(calls.evaluate_at(entry.for_.expr, None, scope, "for"))
    items = n.Call(n.Name("tuple"), (iterable,), ())
    item = n.Index(items, n.Const(-1))
    names = entry.for_.names
    for k, name in enumerate(names):
        last[name] = item if len(names) == 1 else n.Index(item, n.Const(k))
    return n.Call(n.Name("len"), (items,), ()), last


def _after_loop(
    expr: n.Expr,
    starts: list[str],
    index: int,
    before: n.Expr,
    count: n.Expr,
    last: dict[str, n.Expr],
) -> n.Expr | None:
    """A size after a loop run ``count`` times, from ``expr``, the size one iteration makes of
    start sizes ``starts`` (this one ``starts[index]``); ``None`` where it cannot be written
    without the loop."""
    name = starts[index]
    expr = n.strip(expr)
    free = n.free_names(expr)
    if any(f in starts and f != name for f in free):
        return None
    ran = n.Compare(count, (">",), (n.Const(0),))
    if name not in free:  # the same whatever the start: the last iteration's, if any ran
        value = n.substitute(expr, last)
        return before if value == before else n.IfExp(ran, value, before)
    if _identity(expr, name):
        return before
    if isinstance(expr, n.IfExp) and not n.free_names(expr.test) & ({name} | set(last)):
        then = _after_loop(expr.body, starts, index, before, count, last)
        orelse = _after_loop(expr.orelse, starts, index, before, count, last)
        if then is None or orelse is None:
            return None
        return then if then == orelse else n.IfExp(expr.test, then, orelse)
    step = _linear_step(expr, name)
    if step is None or n.free_names(step) & set(last):
        return None
    return n.Binary("+", before, n.Binary("*", count, step))


def _others(
    names: list[str], samples: dict[str, tuple[Any, ...]], count: int, low: int, spread: int
) -> Iterator[dict[str, Any]]:
    """``count`` sets of values of ``names`` to try sizes on: values of each name's kind from
    ``samples``, else ``spread`` integers from ``low``; then as many again drawn from two values
    each, one bit of the set's number a name, so that every pattern of equal and unequal names
    comes up (an equality test such as ``in.channels == out`` goes both ways: names of the first
    sets never meet)."""
    for sample in range(count):
        yield {
            o: samples[o][(sample * 7 + j * 3) % len(samples[o])]
            if o in samples
            else low + (sample * 7 + j * 3) % spread
            for j, o in enumerate(names)
        }
    for sample in range(count):
        yield {
            o: samples[o][((sample >> j) & 1) % len(samples[o])]
            if o in samples
            else low + ((sample >> j) & 1)
            for j, o in enumerate(names)
        }


def _idempotent(exprs: list[n.Expr], names: list[str], samples: dict[str, tuple[Any, ...]]) -> bool:
    """Whether sizes ``exprs`` of start sizes ``names`` map sizes they made to themselves
    (one more iteration changes nothing), on small sample values of every name they read
    (:func:`_others`; so that a condition on a boolean param goes both ways too)."""
    others = sorted(set().union(*(n.free_names(e) for e in exprs)) - set(names))
    for sample, values in enumerate(_others(others, samples, 24, 1, 4)):
        start = {name: 1 + (sample * 5 + i * 2) % 4 for i, name in enumerate(names)}
        try:
            once = [evaluate(e, Scope({**values, **start})) for e in exprs]
            again = dict(zip(names, once, strict=True))
            if [evaluate(e, Scope({**values, **again})) for e in exprs] != once:
                return False
        except Exception:  # noqa: BLE001 - not computable for these values: not shown to settle
            return False
    return True


def _linear_step(size: Any, name: str) -> n.Expr | None:
    """``d`` where a size computed from a start size ``name`` is ``name + d`` for every start
    (a padded convolution adds the same amount each time), checked on sample values of every
    name it reads (:func:`_others`); ``None`` otherwise."""
    expr = size if isinstance(size, n.Expr) else as_expr(size)
    step = n.substitute(expr, {name: n.Const(0)})
    others = sorted(n.free_names(expr) - {name})
    if name in n.free_names(step):
        return None
    for sample, values in enumerate(_others(others, {}, 12, 0, 10)):
        start = 1 + sample * 5
        try:
            grown = evaluate(expr, Scope({**values, name: start}))
            if grown != start + evaluate(step, Scope(values)):
                return None
        except Exception:  # noqa: BLE001 - not computable for these values: not linear
            return None
    return step


_HOLDS = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _implied(test: n.Expr, cond: n.Expr) -> bool | None:
    """What ``test`` is where ``cond`` holds, when that follows from their text: the same
    comparison, or ``x == j`` (``x != j``) where ``cond`` is ``x op k`` that ``j`` fails."""
    test, cond = n.strip(test), n.strip(cond)
    if test == cond:
        return True
    if isinstance(cond, n.BoolOp) and cond.op == "and":
        for value in cond.values:
            found = _implied(test, value)
            if found is not None:
                return found
        return None
    if not (isinstance(test, n.Compare) and isinstance(cond, n.Compare)):
        return None
    if len(test.ops) != 1 or len(cond.ops) != 1 or test.ops[0] not in ("==", "!="):
        return None
    if n.strip(test.left) != n.strip(cond.left) or cond.ops[0] not in _HOLDS:
        return None
    j, k = n.strip(test.comparators[0]), n.strip(cond.comparators[0])
    if not (isinstance(j, n.Const) and isinstance(k, n.Const)):
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (j.value, k.value)):
        return None
    if _HOLDS[cond.ops[0]](j.value, k.value):
        return None  # x may equal j
    return test.ops[0] == "!="


def _assuming(size: Any, cond: Any) -> Any:
    """``size`` where ``cond`` holds: ``a if t else b`` decided where ``cond`` decides ``t``."""
    if not isinstance(size, Sym) or not isinstance(cond, n.Expr):
        return size
    expr = n.strip(size.expr)
    while isinstance(expr, n.IfExp):
        decided = _implied(expr.test, cond)
        if decided is None:
            break
        expr = n.strip(expr.body if decided else expr.orelse)
    return size if expr == n.strip(size.expr) else Sym(expr, size.value)


def _equalities(cond: n.Expr) -> list[tuple[n.Expr, n.Expr]]:
    """The ``a == b`` that ``cond`` implies (its ``==`` conjuncts)."""
    cond = n.strip(cond)
    if isinstance(cond, n.BoolOp) and cond.op == "and":
        return [pair for value in cond.values for pair in _equalities(value)]
    if isinstance(cond, n.Compare) and cond.ops == ("==",):
        return [(n.strip(cond.left), n.strip(cond.comparators[0]))]
    return []


def _given(expr: n.Expr, equal: list[tuple[n.Expr, n.Expr]]) -> n.Expr:
    """``max(a, b)`` is ``a`` where ``a == b`` is known to hold (a residual add whose condition
    says the sizes match: MobileNetV2's ``in.channels == out``)."""
    if isinstance(expr, n.Call) and expr.func == n.Name("max") and len(expr.args) == 2:
        a, b = expr.args
        if (a, b) in equal or (b, a) in equal:
            return a
    return expr


def _sequential_entries(lowered: Lowered) -> list[Any]:
    """The layers of a block that is an ``nn.Sequential``: its paths' layers in order."""
    return [e for step in lowered.steps if isinstance(step, Path) for e in step.entries]


def _format(pieces: Sequence[str | n.Expr]) -> PyExpr:
    """A name made of text and expressions: a literal where it is all text, an f-string
    (``f"conv{i}"``), or ``"conv{}".format(…)`` where an expression holds a quote (which an
    f-string cannot before Python 3.12)."""
    if all(isinstance(p, str) for p in pieces):
        return Atom(literal("".join(p for p in pieces if isinstance(p, str))))
    fstring, template, args = "", "", []
    for piece in pieces:
        if isinstance(piece, str):
            text = piece.replace("{", "{{").replace("}", "}}")
            fstring, template = fstring + text, template + text
        else:
            arg = _text(piece)
            args.append(arg)
            fstring, template = fstring + "{" + arg + "}", template + "{}"
    if not any(c in arg for arg in args for c in "\\\"'{}#"):
        return Atom(f'f"{fstring}"')
    return Atom(f'"{template}".format({", ".join(args)})')


def _constant(expr: n.Expr) -> Any:
    """The value of an expression that reads no names (``UNKNOWN`` for any other)."""
    if n.value_names(expr) or _uses_input(expr):
        return UNKNOWN
    try:
        return evaluate(expr, Scope())
    except NetspecError:
        return UNKNOWN


def _tidy(
    node: n.Expr, test: bool = False, done: dict[tuple[int, bool], n.Expr] | None = None
) -> n.Expr:
    """A size expression with what its own text decides folded: ``a == a``, a test found true
    or false, ``x if c else x``, ``max(a, a)``. (``test``: ``node`` is a condition, where
    ``c and True`` is ``c``.)

    Each part is tidied once (``done``: the parts tidied so far, by identity, which ``node``
    keeps theirs, and ``test``), and a part nothing in which changes is itself: a size tidied
    in each arm of a condition shares with the other arm the parts neither arm changed (see
    :class:`_Layout`), where copies of them doubled the parts with each condition."""
    done = {} if done is None else done
    key = (id(node), test)
    if key in done:
        return done[key]
    node = n.strip(node)
    out = node
    if isinstance(node, n.IfExp):
        cond = _tidy(node.test, True, done)
        body, orelse = _tidy(node.body, False, done), _tidy(node.orelse, False, done)
        if isinstance(cond, n.Const) and isinstance(cond.value, bool):
            out = body if cond.value else orelse
        elif body == orelse:
            out = body
        elif not _same((cond, body, orelse), (node.test, node.body, node.orelse)):
            out = n.IfExp(cond, body, orelse)
    elif isinstance(node, n.Compare):
        left = _tidy(node.left, False, done)
        others = tuple(_tidy(c, False, done) for c in node.comparators)
        if len(node.ops) == 1 and left == others[0] and node.ops[0] in _HOLDS:
            out = n.Const(node.ops[0] in ("==", "<=", ">="))
        elif not _same((left, *others), (node.left, *node.comparators)):
            out = n.Compare(left, node.ops, others)
    elif isinstance(node, n.BoolOp) and test:
        values = [_tidy(v, True, done) for v in node.values]
        decided = [v for v in values if isinstance(v, n.Const) and isinstance(v.value, bool)]
        values = [v for v in values if v not in decided]
        if any(v.value is (node.op == "or") for v in decided if isinstance(v, n.Const)):
            out = n.Const(node.op == "or")
        elif not values:
            out = n.Const(node.op == "and")
        elif len(values) == 1:
            out = values[0]
        elif not _same(values, node.values):
            out = n.BoolOp(node.op, tuple(values))
    elif isinstance(node, n.Not) and test:
        operand = _tidy(node.operand, True, done)
        if isinstance(operand, n.Const) and isinstance(operand.value, bool):
            out = n.Const(not operand.value)
        elif operand is not node.operand:
            out = n.Not(operand)
    elif isinstance(node, n.Binary):
        left, right = _tidy(node.left, False, done), _tidy(node.right, False, done)
        if not _same((left, right), (node.left, node.right)):
            out = n.Binary(node.op, left, right)
    elif isinstance(node, n.Call):
        args = tuple(_tidy(a, False, done) for a in node.args)
        kwargs = tuple((k, _tidy(v, False, done)) for k, v in node.kwargs)
        flat: list[n.Expr] = list(args)
        if node.func in (n.Name("max"), n.Name("min")) and len(args) > 1 and not node.kwargs:
            # max(max(a, b), b) is max(a, b): nested alike, each argument once, in order
            flat = []
            for a in args:
                inner = a.args if isinstance(a, n.Call) and a.func == node.func else (a,)
                flat += [b for b in inner if b not in flat]
        if len(flat) == 1 and len(args) > 1:
            out = flat[0]
        elif not _same(
            [*flat, *(v for _, v in kwargs)], [*node.args, *(v for _, v in node.kwargs)]
        ):
            out = n.Call(node.func, tuple(flat), kwargs)
    done[key] = out
    return out


def _same(new: Sequence[n.Expr], old: Sequence[n.Expr]) -> bool:
    """Whether the parts :func:`_tidy` made are the parts it was given, the same objects."""
    return len(new) == len(old) and all(a is b for a, b in zip(new, old, strict=True))


def _assigned(stmts: list[Stmt]) -> set[str]:
    """The local names ``stmts`` assign, in blocks too (on some path)."""
    out: set[str] = set()
    for stmt in stmts:
        out |= _targets(stmt)
        if stmt.block:
            out |= _assigned(stmt.body) | _assigned(stmt.orelse or [])
    return out


def _targets(stmt: Stmt) -> set[str]:
    """The local names an assignment statement assigns (``a = …``, ``a, b = …``)."""
    if stmt.block:
        return set()
    if stmt.writes:
        return {stmt.writes}
    head, sep, rest = stmt.prefix.rpartition(" = ")
    names = head.split(", ")
    return set(names) if sep and not rest and all(v.isidentifier() for v in names) else set()


def _size_code(stmts: list[Stmt], sizes: set[str]) -> list[Stmt]:
    """Of the statements of a dry run, those computing sizes (assignments to ``sizes``, and
    the loops and conditions around them), without the modules it made."""
    out: list[Stmt] = []
    for stmt in stmts:
        if stmt.block:
            body = _size_code(stmt.body, sizes)
            orelse = _size_code(stmt.orelse or [], sizes)
            if body or orelse:
                out.append(
                    Stmt(
                        stmt.prefix,
                        stmt.expr,
                        reads=stmt.reads,
                        body=body,
                        orelse=orelse or None,
                        block=True,
                    )
                )
        elif (targets := _targets(stmt)) and targets <= sizes:
            out.append(stmt)
    return out


def _identifiers(stmts: list[Stmt]) -> set[str]:
    """The identifiers of the statements' code (and comments), found in each statement's
    one-line text: laying a statement out splits it only between tokens, and adds keywords
    (``else``, ``pass``) and brackets, but measures a long expression again at each level it
    splits."""
    out: set[str] = set()
    for stmt in stmts:
        flat = stmt.expr.flat() if stmt.expr is not None else ""
        if stmt.block:  # (its header, written by its expression where it has one)
            line = flat if stmt.expr is not None else stmt.prefix
            out |= _identifiers(stmt.body) | _identifiers(stmt.orelse or [])
        else:
            line = f"{stmt.prefix}{flat}{stmt.suffix} {stmt.comment}"
        out |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", line))
    return out


def _flatten(stmts: list[Stmt]) -> list[Stmt]:
    out: list[Stmt] = []
    for stmt in stmts:
        out.append(stmt)
        out += _flatten(stmt.body)
        out += _flatten(stmt.orelse or [])
    return out


def _annotation(kind: str, default: Any) -> str:
    simple = {"int": "int", "float": "float", "bool": "bool", "str": "str"}.get(kind)
    if simple is not None:
        return simple
    kinds = {_item_annotation(v) for v in default} if default else {"int"}
    if len(kinds) == 1:
        inner = kinds.pop()
    elif all(k.startswith("tuple[") for k in kinds):
        inner = "tuple[Any, ...]"  # lists of items of other types
    elif len(kinds) == 2 and "None" in kinds and kinds - {"None"} <= {"int", "float", "str"}:
        inner = f"{(kinds - {'None'}).pop()} | None"
    else:
        inner = "Any"
    return f"tuple[{inner}, ...]"


def _item_annotation(value: Any) -> str:
    """The annotation of one item of a list: its type, a list's the type of its items."""
    if value is None:
        return "None"
    if isinstance(value, tuple):
        return _annotation("list", value)
    return type(value).__name__


_SCALARS = ("int", "float", "bool", "str")


def _keyable(kind: str) -> bool:
    """Whether values of annotation ``kind`` can key a cache once lists are tuples: numbers,
    truth values, text, and lists of them (of any depth)."""
    if kind in _SCALARS:
        return True
    return kind.startswith("tuple[") and kind.endswith(", ...]") and _keyable(kind[6:-6])


def _as_tuples(value: n.Expr, kind: str, depth: int = 0) -> n.Expr:
    """``value``, of annotation ``kind``, with every list a tuple (``tuple(ws)``, and
    ``tuple(tuple(item0) for item0 in ws)`` for a list of lists): what a cache keys on."""
    if kind in _SCALARS:
        return value
    inner = kind[6:-6]
    if inner in _SCALARS:
        return n.Call(n.Name("tuple"), (value,), ())
    item = f"item{depth}"  # local to the comprehension, whose iterable is read outside it
    # a comprehension is a list, which generated code writes as a tuple
    return n.ListComp(_as_tuples(n.Name(item), inner, depth + 1), (n.CompFor((item,), value),))


def _annotation_of(p: m.BlockParam, defaults: dict[str, Any], passed: dict[str, str]) -> str:
    """A defaulted parameter's annotation: its default's type, or ``Any`` where the calls
    pass values of another type (``padding = 0`` given ``[0, 3]``)."""
    out = "Any"
    if p.name in defaults:
        value = defaults[p.name]
        if isinstance(value, bool):
            out = "bool"
        elif isinstance(value, int | float | str):
            out = type(value).__name__
        elif isinstance(value, tuple):
            out = _annotation("list", value)
    if passed.get(p.name, out) != out:
        return "Any"
    return out


def _uses_input(node: n.Expr) -> bool:
    stack = [node]
    while stack:
        item = n.strip(stack.pop())
        if isinstance(item, n.InputRef):
            return True
        for slot in getattr(item, "__slots__", ()):
            child = getattr(item, slot, None)
            if isinstance(child, n.Expr):
                stack.append(child)
            elif isinstance(child, tuple):
                stack += [c for c in child if isinstance(c, n.Expr)]
                stack += [c[1] for c in child if isinstance(c, tuple) and len(c) == 2]
    return False


def _fresh_in(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    return name


def _stage_label(where: str) -> str:
    label = where.rsplit(".", 1)[-1]
    return label if label.isidentifier() else "stage"


def _code_names(entries: Sequence[Any]) -> set[str]:
    """Every name the expressions of a layer list read (operators and blocks excluded)."""
    out: set[str] = set()
    for entry in entries:
        if isinstance(entry, m.LayerRef):
            out |= _call_names(entry.expr)
        elif isinstance(entry, m.MappingCall) and entry.call is not None:
            out |= _call_names(entry.call.expr)
        elif isinstance(entry, m.NamedEntry):
            for part in entry.name.parts:
                if not isinstance(part, str):
                    out |= n.value_names(part)
            value = entry.value
            out |= _code_names(value if isinstance(value, list) else [value])
        elif isinstance(entry, m.ForEntry):
            out |= n.value_names(entry.for_.expr) | (_code_names(entry.do) - set(entry.for_.names))
        elif isinstance(entry, m.RepeatEntry):
            out |= n.value_names(entry.repeat.expr)
            out |= _code_names(entry.do) - ({entry.as_} if entry.as_ else set())
        elif isinstance(entry, m.IfEntry):
            out |= (
                n.value_names(entry.if_.expr) | _code_names(entry.then) | _code_names(entry.else_)
            )
    return out


def _checks(node: n.Expr) -> bool:
    """Whether a value refuses some inputs (it calls a builtin that raises for them)."""
    return any(BUILTINS[f].refuses for f in n.free_names(node) if f in BUILTINS)


def _call_names(node: n.Expr) -> set[str]:
    inner = n.strip(node)
    if isinstance(inner, n.IfExp):
        return n.value_names(inner.test) | _call_names(inner.body) | _call_names(inner.orelse)
    if isinstance(inner, n.Call):
        args = [
            a
            for a in inner.args
            if not isinstance(a, n.Name) or inner.func != n.Name("stage") or a is not inner.args[0]
        ]
        out: set[str] = set()
        for a in args:
            out |= n.value_names(a)
        for _, v in inner.kwargs:
            out |= n.value_names(v)
        return out
    return set()


def _block_entries(block: m.BlockDef) -> list[Any]:
    """Every layer entry of a block, through its lowered paths."""
    return [e for step in lower_block(block).steps if isinstance(step, Path) for e in step.entries]


def _block_conditions(block: m.BlockDef) -> list[m.Expression]:
    """Every condition of a block's lowered steps (``residual``, ``shortcut.when``)."""
    return [code for step in lower_block(block).steps for _, code in step.when]


def _block_needs(spec: m.SpecFile) -> dict[str, list[str]]:
    """For each block, the spec-level names (params, ``let``) its class must be given.

    A block reads the spec's names in its expressions, and passes on those its own blocks need;
    defaults of the blocks it calls are evaluated in its scope too.
    """
    spec_names = set(spec.params) | set(spec.let)
    direct: dict[str, set[str]] = {}
    calls_of: dict[str, set[str]] = {}
    for name, block in spec.blocks.items():
        local = {p.name for p in block.params} | set(block.let) | {"expansion"}
        local |= set(block.tensors)
        local |= _block_local_names(block)
        names: set[str] = set()
        codes = [block.expansion, *block.let.values(), *block.tensors.values()]
        for code in codes + _block_conditions(block):
            if code is not None:
                names |= n.value_names(code.expr)
        names |= _code_names(_block_entries(block))
        callees = {call.callee for call in block_calls(name, block, spec.blocks)}
        for callee in callees:
            for p in spec.blocks[callee].params:
                if p.node is not None:
                    names |= n.value_names(p.node)
        direct[name] = (names - local) & spec_names
        calls_of[name] = callees
    needs = {name: set(v) for name, v in direct.items()}
    changed = True
    while changed:
        changed = False
        for name in needs:
            for callee in calls_of[name]:
                extra = needs[callee] - needs[name]
                if extra:
                    needs[name] |= extra
                    changed = True
    order = list(spec.params) + list(spec.let)
    return {name: sorted(v, key=order.index) for name, v in needs.items()}


def _block_local_names(block: m.BlockDef) -> set[str]:
    return _spec_names(_block_entries(block))


def _block_values(block: m.BlockDef) -> set[str]:
    """The names a block gives values to: its params, inputs, ``let`` names and loop
    variables (the locals of its class)."""
    return (
        {p.name for p in block.params}
        | set(block.let)
        | set(block.inputs)
        | (_block_local_names(block))
    )


def _spec_names(entries: Sequence[Any]) -> set[str]:
    """Every loop variable a layer list binds (generated locals must not clash with them)."""
    out: set[str] = set()
    for entry in entries:
        if isinstance(entry, m.ForEntry):
            out.update(entry.for_.names)
            out |= _spec_names(entry.do)
        elif isinstance(entry, m.RepeatEntry):
            out.update([entry.as_] if entry.as_ else [])
            out |= _spec_names(entry.do)
        elif isinstance(entry, m.IfEntry):
            out |= _spec_names(entry.then) | _spec_names(entry.else_)
        elif isinstance(entry, m.NamedEntry) and not isinstance(entry.value, m.LayerRef):
            value = entry.value
            out |= _spec_names(value if isinstance(value, list) else [value])
    return out


def _same_calls(a: list[Stmt], b: list[Stmt]) -> bool:
    """Whether two branches of ``forward`` are the same plain statements (no nested blocks,
    which later passes may still rewrite), so one copy of them needs no condition."""
    if not a or any(s.body or s.orelse or s.block for s in [*a, *b]):
        return False
    return [line for s in a for line in s.lines(0)] == [line for s in b for line in s.lines(0)]


def _flag_name(code: n.Expr) -> str:
    inner = n.strip(code)
    if isinstance(inner, n.Name):
        return f"use_{inner.id}" if not inner.id.startswith(("use_", "with_", "has_")) else inner.id
    return "flag"


def _annotate_first(stmts: list[Stmt], name: str, kind: str = "nn.Module | None") -> bool:
    """Type the first assignment of ``self.<name>`` in ``stmts`` (depth first) as ``kind``;
    True when found."""
    for stmt in stmts:
        if stmt.prefix == f"self.{name} = ":
            stmt.prefix = f"self.{name}: {kind} = "
            return True
        if stmt.prefix.startswith(f"self.{name}: "):
            return True
        if _annotate_first(stmt.body, name, kind) or _annotate_first(stmt.orelse or [], name, kind):
            return True
    return False


def _made(stmts: list[Stmt], name: str) -> str | None:
    """What the first assignment of ``self.<name>`` in ``stmts`` calls (``nn.Sequential``),
    depth first."""
    for stmt in stmts:
        if stmt.prefix.startswith(f"self.{name}") and stmt.prefix.endswith(" = "):
            text = stmt.expr.flat() if stmt.expr is not None else stmt.suffix
            return text.split("(", 1)[0]
        found = _made(stmt.body, name) or _made(stmt.orelse or [], name)
        if found is not None:
            return found
    return None


def _attrs(stmts: list[Stmt], nested: bool = True) -> set[str]:
    """Attributes ``stmts`` assign on some path through them (``nested``), or on every path
    (their own statements, outside conditions)."""
    out = set()
    for stmt in stmts:
        if stmt.prefix.startswith("self.") and stmt.prefix.endswith(" = "):
            out.add(stmt.prefix[5:-3].split(":")[0])
        if nested:
            out |= _attrs(stmt.body) | _attrs(stmt.orelse or [])
    return out


def _has_control(entries: Sequence[Any]) -> bool:
    return any(isinstance(e, m.ForEntry | m.RepeatEntry | m.IfEntry) for e in entries)


def _label(entry: m.NamedEntry) -> str:
    text = entry.name.text
    return text if text.isidentifier() and not entry.name.is_template else "layers"


_PARAM_KINDS = {"int": "number", "float": "number"}
"""A param's kind (``spec.params.Param.kind``) as :func:`_kinds` names it."""


def _value_kind(value: Any) -> str:
    """``number``, ``list``, ``str`` or ``bool``; ``other`` for anything else (none, a
    mapping, a learned tensor)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, tuple | list):
        return "list"
    return "str" if isinstance(value, str) else "other"


def _kinds(expr: n.Expr, names: Callable[[str], frozenset[str] | None]) -> frozenset[str] | None:
    """The kinds (:func:`_value_kind`) the value of a residual expression may have, where its
    form says so whatever the names it reads are (a literal, a list, a choice between them, a
    name whose kinds ``names`` gives); ``None`` where it does not."""
    expr = n.strip(expr)
    if isinstance(expr, n.Const):
        return frozenset({_value_kind(expr.value)})
    if isinstance(expr, n.ListExpr | n.ListComp):
        return frozenset({"list"})
    if isinstance(expr, n.Name):
        return names(expr.id)
    parts: tuple[n.Expr, ...] = ()
    if isinstance(expr, n.IfExp):
        parts = (expr.body, expr.orelse)
    elif isinstance(expr, n.BoolOp):  # `a or b` is one of its operands
        parts = expr.values
    found: set[str] = set()
    for part in parts:
        kinds = _kinds(part, names)
        if kinds is None:
            return None
        found |= kinds
    return frozenset(found) if found else None


def _mixed(kinds: frozenset[str] | set[str] | None) -> bool:
    """Whether a value is a number for some values of the params and a list for others."""
    return kinds is not None and kinds == {"number", "list"}


def _arg_sets(net: Network, classify: Callable[[Any], str]) -> dict[str, dict[str, set[str]]]:
    """What ``classify`` says of each block's arguments in its calls, by block and argument."""
    seen: dict[str, dict[str, set[str]]] = {}
    for node in walk(net.root):
        if isinstance(node, BlockNode):
            for key, value in node.args.items():
                seen.setdefault(node.block, {}).setdefault(key, set()).add(classify(value))
    return seen


def _arg_kinds(net: Network) -> dict[str, dict[str, set[str]]]:
    """The kinds (:func:`_value_kind`) each block's arguments have in its calls."""
    return _arg_sets(net, _value_kind)


def _type_name(value: Any) -> str:
    """A block argument's annotation."""
    if isinstance(value, tuple):
        return _annotation("list", value)
    return "float" if isinstance(value, float) else type(value).__name__


def _arg_types(net: Network) -> dict[str, dict[str, str]]:
    """Each block argument's annotation: its calls' one type, else ``Any``."""
    return {
        block: {k: next(iter(v)) if len(v) == 1 else "Any" for k, v in args.items()}
        for block, args in _arg_sets(net, _type_name).items()
    }


def generate_module(
    spec: m.SpecFile, net: Network, params: dict[str, Param], input_override: Shape | None
) -> tuple[list[ClassCode], Module]:
    """Compile ``spec``: its block classes (dependencies first), then the model's class.

    Raises:
        NetspecError: the spec cannot be compiled (positioned).
    """
    module = Module(spec, net, params)
    try:
        top = module.top(input_override)
    except NetspecError:
        raise
    except OpError as exc:  # pragma: no cover - rules failing symbolically
        raise CodegenError(exc.message, None, hint=exc.hint) from None
    classes = [*module.blocks.values(), top]
    while len(module.size_texts) < len(module.size_functions):  # one may call another
        for key in list(module.size_functions):
            if key not in module.size_texts:
                module.size_texts[key] = module.size_function(*key)
    # the functions the classes call, and those these call (a size nothing reads needs none)
    text = "\n".join(
        line for c in classes for s in [*c.init, *(c.forward or [])] for line in s.lines(0)
    )
    called: set[ClosedKey] = set()
    while True:
        more = {
            key
            for key, fn in module.size_functions.items()
            if key not in called and re.search(rf"\b{fn}\(", text)
        }
        if not more:
            break
        called |= more
        text = "\n".join(module.size_texts[key] for key in more)
    module.size_texts = {k: v for k, v in module.size_texts.items() if k in called}
    marker = re.compile(rf"\b{RECURSIVE_SIZE}_(\d+)_(\d+)_(\w+)")
    texts = [
        ("the model" if code is top else code.name, stmt.lines(0))
        for code in classes
        for stmt in [*code.init, *(code.forward or [])]
    ]
    texts += [(f"{key[0]}'s size function", t.split("\n")) for key, t in module.size_texts.items()]
    for where, lines in texts:
        found = next(filter(None, (marker.search(line) for line in lines)), None)
        if found is None:
            continue
        rank, index, name = int(found.group(1)), int(found.group(2)), found.group(3)
        dims = _DIM_NAMES.get(rank, ())
        size = dims[index] if index < len(dims) else f"dimension {index + 1}"
        raise CodegenError(
            f"{where} needs the {size} of {name}'s output, which {name}'s recursive call "
            f"decides level by level, and {name} takes an argument whose values are of "
            "several types, which the function computing its sizes cannot take: the generated "
            "code has no formula for it",
            spec.blocks[name].span,
            f"blocks.{name}",
            hint="a recursive block whose sizes change level by level gets a function "
            "computing them, for arguments that are numbers, truth values, text or lists of "
            "them; give it those, or keep the size the same whatever its inner call gives",
        )
    return classes, module
