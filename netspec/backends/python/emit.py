"""Compiling a spec into the statements of a PyTorch class.

The spec is compiled, not its expansion: params become constructor arguments, ``let`` values
locals, loops Python loops and conditions ``if`` statements, so that the generated class
builds the right network for *any* parameter values, like a hand-written one. Every argument
is written as the spec wrote it; sizes the spec never writes — input channels and features —
come from a symbolic run of the same operator rules the static analysis uses, over values that
are :class:`~netspec.expr.evaluate.Sym` (an expression in the generated code, plus its value
when it is known without running it).

Sizes that change inside a loop or a condition are carried by local variables (``channels``,
``height``…), assigned right after the layer that changes them, exactly the way torchvision's
``make_layers`` tracks ``in_channels``; assignments nobody reads are pruned afterwards.
"""

from __future__ import annotations

import keyword
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from netspec.errors import CodegenError, NetspecError, ShapeError
from netspec.expand import calls
from netspec.expand.expander import container_kind
from netspec.expand.ir import SeqNode
from netspec.expr import nodes as n
from netspec.expr.evaluate import (
    BUILTINS,
    UNKNOWN,
    Scope,
    Sym,
    SymbolicError,
    as_expr,
    concrete,
    known,
)
from netspec.expr.render import literal, render
from netspec.infer import Network
from netspec.ops.base import TRAINING, OpError, PyCall, Shape, X
from netspec.spec import models as m
from netspec.spec.names import GENERATED
from netspec.spec.params import Param

from .format import Atom, Bracket, Item, PyExpr, Stmt, call, prune

_DIM_NAMES = {
    1: ("features",),
    2: ("channels", "length"),
    3: ("channels", "height", "width"),
    4: ("channels", "depth", "height", "width"),
}


class Namespace:
    """Fresh local names that never shadow the spec's names or generated code's."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = set(taken) | set(GENERATED) | set(BUILTINS) | set(keyword.kwlist)

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.taken:
            name = f"{base}_{i}"
            i += 1
        self.taken.add(name)
        return name

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
class ClassCode:
    """A generated class: name, base, signature, ``__init__`` and ``forward`` bodies."""

    name: str
    base: str
    signature: list[Item]
    init: list[Stmt]
    forward: list[Stmt] | None
    docstring: str


def _py(value: Any) -> PyExpr:
    """A value or symbolic expression as a layout-able Python expression."""
    if value is X:
        return Atom("x")
    if value is TRAINING:
        return Atom("self.training")
    if isinstance(value, tuple):
        return Bracket("(", tuple(Item(_py(v)) for v in value), ")", tuple_like=True)
    if isinstance(value, PyCall):
        return _py_call(value)
    return _expr(as_expr(value))


def _expr(node: n.Expr) -> PyExpr:
    node = n.strip(node)
    if isinstance(node, n.ListExpr):
        return Bracket("(", tuple(Item(_expr(i)) for i in node.items), ")", tuple_like=True)
    if isinstance(node, n.DictExpr):
        items = tuple(
            Item(_expr(v), render(k, python=True), ": ")
            for k, v in zip(node.keys, node.values, strict=True)
        )
        return Bracket("{", items, "}")
    if isinstance(node, n.Call) and isinstance(node.func, n.Name):
        args = tuple(Item(_expr(a)) for a in node.args)
        kwargs = tuple(Item(_expr(v), k, "=") for k, v in node.kwargs)
        return Bracket(f"{node.func.id}(", args + kwargs, ")")
    return Atom(render(node, python=True))


def _py_call(pc: PyCall) -> Bracket:
    args = tuple(Item(_py(a)) for a in pc.args)
    kwargs = tuple(Item(_py(v), k, "=") for k, v in pc.kwargs)
    return Bracket(f"{pc.func}(", args + kwargs, ")")


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


def _wrap(expr: n.Expr, value: Any) -> Any:
    """An argument's attribute value in generated code: its own expression, and its value."""
    expr = n.strip(expr)
    if isinstance(value, Sym) and not value.known:
        return Sym(expr, UNKNOWN)
    plain = concrete(value)
    if isinstance(plain, bool | str) or plain is None:
        return plain
    if isinstance(plain, tuple):
        if isinstance(expr, n.ListExpr) and len(expr.items) == len(plain):
            return tuple(_wrap(e, v) for e, v in zip(expr.items, plain, strict=True))
        return Sym(expr, plain)
    return Sym(expr, plain)


class Emitter:
    """Compiles one spec into :class:`ClassCode` (see the module docstring)."""

    def __init__(self, spec: m.SpecFile, net: Network, params: dict[str, Param]) -> None:
        self.spec = spec
        self.net = net
        self.params = params
        self.ns = Namespace(set(params) | set(spec.let) | _spec_names(spec.layers or []))
        self.helpers: set[str] = set()
        self.uses_ordered_dict = False
        self.dry = 0
        self.tracked_names: set[str] = set()
        """Size variables the emitter introduced: candidates for pruning when unread."""
        self.attrs = Namespace(_layer_names(spec.layers or []))
        """Attribute names of the top class (layers, then captured values and flags)."""
        self.captured: dict[str, str] = {}
        """Locals that ``forward`` reads, and the attribute each is stored in."""

    # -- the class ---------------------------------------------------------------------------------

    def run(self, input_override: Shape | None) -> ClassCode:
        scope = Scope({p: Sym(n.Name(p)) for p in self.params})
        assert self.spec.layers is not None
        entries = self.spec.layers
        kind = container_kind(entries, top=True)
        init: list[Stmt] = [] if kind == "sequential" else [Stmt("super().__init__()")]
        lets = scope.child()
        for name, code in self.spec.let.items():
            value = calls.evaluate_at(code.expr, None, lets, f"let.{name}")
            init.append(
                Stmt(f"{name} = ", _expr(code.expr), reads=_reads(code.expr.node), writes=name)
            )
            lets.names[name] = Sym(n.Name(name), concrete(value))
        state = State(self._input(lets, input_override))
        signature = [Item(Atom("self"))] + [self._param_item(p) for p in self.params.values()]
        if kind == "sequential":
            pre, expr = self._sequential(entries, lets, state, "sequential", "layers")
            body = init + pre
            if isinstance(expr, Bracket) and expr.head == "nn.Sequential(":
                body.append(
                    Stmt(
                        "super().__init__", Bracket("(", expr.items, ")"), reads=_reads_items(expr)
                    )
                )
            forward = None
            base = "nn.Sequential"
        else:
            body = init
            fwd: list[Stmt] = []
            self._class_body(entries, lets, state, body, fwd, self.net.root)
            forward = fwd + [Stmt("return x")]
            base = "nn.Module"
        body = prune(body, self.tracked_names)
        return ClassCode(self.net.class_name, base, signature, body, forward, "")

    def _param_item(self, p: Param) -> Item:
        value = self.net.params.get(p.name, p.default)
        annotation = {"int": "int", "float": "float", "bool": "bool", "str": "str"}.get(p.kind)
        if annotation is None:
            kinds = {type(v).__name__ for v in p.default} if p.default else {"int"}
            inner = kinds.pop() if len(kinds) == 1 else "Any"
            annotation = f"tuple[{inner}, ...]"
        return Item(_py(value), f"{p.name}: {annotation}", " = ")

    def _input(self, scope: Scope, override: Shape | None) -> Shape:
        if override is not None:
            return tuple(Sym(n.Const(d), d) for d in override)
        assert self.spec.input is not None
        node = n.strip(self.spec.input.expr)
        value = calls.evaluate_at(self.spec.input.expr, None, scope, "input")
        if isinstance(node, n.ListExpr):
            values = concrete(value)
            return tuple(
                _wrap(e, v if values is not UNKNOWN else Sym(e))
                for e, v in zip(
                    node.items, values if values is not UNKNOWN else node.items, strict=True
                )
            )
        return tuple(Sym(n.Index(node, n.Const(i))) for i in range(len(self.net.input)))

    # -- one layer ---------------------------------------------------------------------------------

    def _capture(self, value: Any, init: list[Stmt]) -> Any:
        """``value`` for use in ``forward``: locals it reads become ``self.<attr>``.

        ``forward`` cannot see ``__init__``'s locals, so each one it needs is stored once, in
        ``__init__``, as an attribute of the same name where that name is free.
        """
        if isinstance(value, tuple):
            return tuple(self._capture(v, init) for v in value)
        if not isinstance(value, Sym):
            return value
        mapping: dict[str, n.Expr] = {}
        for name in sorted(n.value_names(value.expr)):
            if name not in self.captured:
                attr = self.attrs.fresh(name)
                self.captured[name] = attr
                init.append(Stmt(f"self.{attr} = {name}", reads=frozenset({name})))
            mapping[name] = n.Attr(n.Name("self"), self.captured[name])
        return Sym(n.substitute(value.expr, mapping), value.value)

    def _layer(
        self,
        ref: m.LayerRef,
        scope: Scope,
        state: State,
        where: str,
        stmts: list[Stmt],
        module: bool = True,
    ) -> PyExpr:
        """The module (or functional call) for one layer call; advances ``state``."""
        located = ref.expr
        origin = located.origin
        return self._choice(located.node, origin, scope, state, where, stmts, module)

    def _choice(
        self,
        node: n.Expr,
        origin: n.Origin,
        scope: Scope,
        state: State,
        where: str,
        stmts: list[Stmt],
        module: bool,
    ) -> PyExpr:
        if isinstance(node, n.IfExp):
            test = calls.evaluate_at(node.test, origin, scope, where)
            if known(test):
                branch = node.body if concrete(test) else node.orelse
                return self._choice(branch, origin, scope, state, where, stmts, module)
            first, second = state.copy(), state.copy()
            body = self._choice(node.body, origin, scope, first, where, stmts, module)
            orelse = self._choice(node.orelse, origin, scope, second, where, stmts, module)
            self._merge(state, first, second, node.test, stmts)
            test_expr: Any = Sym(n.strip(node.test))
            if not module:
                test_expr = self._capture(test_expr, stmts)
            cond = render(test_expr.expr, python=True)
            return Atom(f"{body.flat()} if {cond} else {orelse.flat()}")
        op = calls.resolve(node, origin, where)
        values, _ = calls.bind(op, node, origin, scope, where, wrap=_wrap)
        attrs = op.construct(values)
        x = state.shape
        try:
            y = op.infer(attrs, x)
        except SymbolicError as exc:
            raise CodegenError(
                f"{op.name}: {exc} — the output shape depends on it",
                origin.span_at(node.start, node.end),
                where,
                hint="make this argument a constant (or derived from constants only)",
            ) from None
        except OpError as exc:
            # Only code the default parameters do not reach can fail here (the static analysis
            # checked the rest), and it fails for any values: the class raises that error.
            error = ShapeError(exc.message, origin.span_at(node.start, node.end), where)
            raise _Dead(error.headline()) from None
        pc = op.module(attrs, x) if module else op.functional(attrs, x)
        assert pc is not None
        if not module:
            pc = PyCall(
                pc.func,
                tuple(self._capture(a, stmts) for a in pc.args),
                tuple((k, self._capture(v, stmts)) for k, v in pc.kwargs),
                pc.helpers,
            )
        self.helpers.update(pc.helpers)
        self._advance(state, y)
        return _py_call(pc) if pc.func else Atom("")

    @staticmethod
    def _advance(state: State, y: Shape) -> None:
        """Move to output shape ``y`` (variables are re-assigned at the next :meth:`_sync`)."""
        if len(y) != len(state.shape):
            state.tracked = {}
        state.shape = tuple(y)

    @staticmethod
    def _sync(state: State, stmts: list[Stmt]) -> None:
        """After a statement: re-assign every tracked dimension that changed in it.

        Inside one statement (a nested ``nn.Sequential(...)``) later layers must see the new
        size as an expression, since the variable is only re-assigned afterwards.
        """
        new = list(state.shape)
        for index, var in sorted(state.tracked.items()):
            dim = new[index]
            if isinstance(dim, Sym) and dim.expr == n.Name(var):
                continue
            stmts.append(Stmt(f"{var} = ", _py(dim), reads=_reads(dim), writes=var))
            new[index] = Sym(n.Name(var))
        state.shape = tuple(new)

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

    def _merge(
        self, state: State, first: State, second: State, test: n.Expr, stmts: list[Stmt]
    ) -> None:
        """The shape after ``a if test else b``: equal dims stay, others become conditional."""
        out = []
        for a, b in zip(first.shape, second.shape, strict=False):
            if as_expr(a) == as_expr(b):
                out.append(a)
            else:
                out.append(Sym(n.IfExp(n.strip(test), as_expr(a), as_expr(b))))
        if len(first.shape) != len(second.shape):
            raise CodegenError(
                "the two choices of a conditional layer give outputs of different rank", None
            )
        state.shape = tuple(out)

    # -- loops and conditions ----------------------------------------------------------------------

    def _dry(self, run: Any, state: State) -> State:
        """Run ``run(state, stmts)`` on a copy without keeping anything it emits or names."""
        probe = state.copy()
        snapshot, helpers, ordered = self.ns.snapshot(), set(self.helpers), self.uses_ordered_dict
        self.dry += 1
        try:
            run(probe, [])
        finally:
            self.dry -= 1
            self.ns.restore(snapshot)
            self.helpers, self.uses_ordered_dict = helpers, ordered
        return probe

    def _varying(self, state: State, run: Any) -> list[int]:
        """Which dimensions a loop body changes, whatever shape it starts from."""
        start = State(tuple(Sym(n.Name(f"__dim{i}")) for i in range(len(state.shape))))
        probe = self._dry(run, start)
        if len(probe.shape) != len(state.shape):
            return list(range(len(state.shape)))
        return [
            i
            for i, dim in enumerate(probe.shape)
            if not (isinstance(dim, Sym) and dim.expr == n.Name(f"__dim{i}"))
        ]

    def _loop(
        self,
        entry: m.ForEntry | m.RepeatEntry,
        scope: Scope,
        state: State,
        where: str,
        stmts: list[Stmt],
        body_fn: Any,
    ) -> None:
        if isinstance(entry, m.RepeatEntry):
            count = render(entry.repeat.expr, python=True)
            var = entry.as_ or "_"
            header = f"for {var} in range({count}):"
            frame = scope.child({entry.as_: Sym(n.Name(entry.as_))} if entry.as_ else {})
            reads = _reads(entry.repeat.expr.node)
        else:
            names = entry.for_.names
            header = f"for {', '.join(names)} in {render(entry.for_.expr, python=True)}:"
            frame = scope.child({name: Sym(n.Name(name)) for name in names})
            reads = _reads(entry.for_.expr.node)

        def run(s: State, out: list[Stmt]) -> None:
            body_fn(entry.do, frame, s, out)

        outer = dict(state.tracked)
        self._track(state, self._varying(state, run), stmts)
        body: list[Stmt] = []
        start = state.copy()
        run(state, body)
        stmts.append(Stmt(header, reads=reads, body=body, block=True))
        state.tracked = outer  # after the loop its variables hold the final sizes
        if state.dead:  # the body always raises: only a loop that runs no time gets past it
            state.shape, state.dead = start.shape, start.dead

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
        body_fn(entry.then, scope, then_state, then)
        body_fn(entry.else_, scope, else_state, orelse)
        introduced = self.tracked_names - before
        if then_state.dead or else_state.dead:
            live = else_state if then_state.dead else then_state
            state.shape, state.dead = live.shape, then_state.dead and else_state.dead
            stmts.append(self._if_stmt(entry, then, orelse))
            return
        # Each size both branches agree on, in names that exist either way, stays; any other
        # is carried by one variable assigned at the end of each branch.
        names = _DIM_NAMES.get(len(state.shape), ())
        merged = list(then_state.shape)
        if len(then_state.shape) != len(else_state.shape):
            raise CodegenError(
                "the two branches of this condition give outputs of different rank",
                entry.span,
                where,
            )
        for i, (a, b) in enumerate(zip(then_state.shape, else_state.shape, strict=True)):
            ea, eb = as_expr(a), as_expr(b)
            if ea == eb and not (n.free_names(ea) & introduced):
                continue
            var = state.tracked.get(i) or self.ns.fresh(names[i] if i < len(names) else f"dim{i}")
            self.tracked_names.add(var)
            then.append(Stmt(f"{var} = ", _py(a), reads=_reads(a), writes=var))
            orelse.append(Stmt(f"{var} = ", _py(b), reads=_reads(b), writes=var))
            merged[i] = Sym(n.Name(var))
        state.shape = tuple(merged)
        stmts.append(self._if_stmt(entry, then, orelse))

    @staticmethod
    def _if_stmt(entry: m.IfEntry, then: list[Stmt], orelse: list[Stmt]) -> Stmt:
        return Stmt(
            f"if {render(entry.if_.expr, python=True)}:",
            reads=_reads(entry.if_.expr.node),
            body=then,
            orelse=orelse or None,
            block=True,
        )

    # -- nn.Sequential containers ------------------------------------------------------------------

    def _sequential(
        self, entries: Sequence[Any], scope: Scope, state: State, kind: str, label: str
    ) -> tuple[list[Stmt], PyExpr]:
        """Statements to run first, and the ``nn.Sequential`` expression of a layer list."""
        pre: list[Stmt] = []
        if not _has_control(entries):
            items: list[Item] = []
            for entry in entries:
                items.append(Item(self._item(entry, scope, state, kind, pre)))
            return pre, self._sequential_expr(items, kind)
        var = self.ns.fresh(label)
        element = "tuple[str, nn.Module]" if kind == "module" else "nn.Module"
        pre.append(Stmt(f"{var}: list[{element}] = []", writes=var))

        def fill(entries: Sequence[Any], frame: Scope, s: State, out: list[Stmt]) -> None:
            for entry in entries:
                if s.dead:
                    return
                if isinstance(entry, m.ForEntry | m.RepeatEntry):
                    self._loop(entry, frame, s, label, out, fill)
                elif isinstance(entry, m.IfEntry):
                    self._if(entry, frame, s, label, out, fill)
                else:
                    try:
                        item = self._item(entry, frame, s, kind, out)
                    except _Dead as dead:
                        out.append(dead.stmt())
                        s.dead = True
                        return
                    out.append(
                        Stmt("", call(f"{var}.append", item), reads=_reads_items(item) | {var})
                    )
                    self._sync(s, out)

        fill(entries, scope, state, pre)
        arg = Atom(f"*{var}") if kind == "sequential" else call("OrderedDict", Atom(var))
        if kind == "module":
            self.uses_ordered_dict = True
        return pre, call("nn.Sequential", arg)

    def _sequential_expr(self, items: list[Item], kind: str) -> PyExpr:
        if kind == "module":
            self.uses_ordered_dict = True
            return call("nn.Sequential", call("OrderedDict", Bracket("[", tuple(items), "]")))
        return Bracket("nn.Sequential(", tuple(items), ")")

    def _item(self, entry: Any, scope: Scope, state: State, kind: str, pre: list[Stmt]) -> PyExpr:
        """One element of a Sequential: a module, or ``("name", module)`` in a named one."""
        if isinstance(entry, m.LayerRef):
            return self._layer(entry, scope, state, "layers", pre)
        if isinstance(entry, m.MappingCall):
            assert entry._call is not None
            return self._layer(entry._call, scope, state, "layers", pre)
        assert isinstance(entry, m.NamedEntry), entry
        name = self._name_expr(entry.name)
        value = entry.value
        if isinstance(value, m.LayerRef | m.MappingCall):
            ref = value if isinstance(value, m.LayerRef) else value._call
            assert ref is not None
            module = self._layer(ref, scope, state, entry.name.text, pre)
        else:
            inner = value if isinstance(value, list) else [value]
            inner_kind = container_kind(inner, top=False)
            sub_pre, module = self._sequential(inner, scope, state, inner_kind, _label(entry))
            pre.extend(sub_pre)
        if kind == "module":
            return Bracket("(", (Item(name), Item(module)), ")", tuple_like=True)
        return module

    def _name_expr(self, template: m.NameTemplate) -> PyExpr:
        if not template.is_template:
            return Atom(literal(template.text))
        body = ""
        for part in template.parts:
            if isinstance(part, str):
                body += part.replace("{", "{{").replace("}", "}}")
            else:
                body += "{" + render(part, python=True) + "}"
        return Atom(f'f"{body}"')

    # -- class bodies ------------------------------------------------------------------------------

    def _class_body(
        self,
        entries: Sequence[Any],
        scope: Scope,
        state: State,
        init: list[Stmt],
        fwd: list[Stmt],
        tree: SeqNode | None,
    ) -> None:
        assigned: set[str] = set()
        shapes = {c.name: c.output for c in tree.children} if tree is not None else {}
        for entry in entries:
            if state.dead:
                return
            try:
                self._class_entry(entry, scope, state, init, fwd, assigned, shapes)
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
        assigned: set[str],
        shapes: dict[str, Shape],
    ) -> None:
        """One entry of a class body: ``__init__`` statements and ``forward`` lines."""
        if isinstance(entry, m.IfEntry):
            self._class_if(entry, scope, state, init, fwd, assigned, shapes)
            return
        if isinstance(entry, m.ForEntry | m.RepeatEntry):  # pragma: no cover - expand rejects
            raise CodegenError("a loop at the top level of a model", entry.span)
        if isinstance(entry, m.LayerRef | m.MappingCall):
            ref = entry if isinstance(entry, m.LayerRef) else entry._call
            assert ref is not None
            expr = self._layer(ref, scope, state, "layers", init, module=False)
            if expr.flat():
                fwd.append(Stmt("x = ", expr, reads=frozenset({"x"})))
            self._sync(state, init)
            return
        assert isinstance(entry, m.NamedEntry)
        if entry.name.is_template:
            raise CodegenError("a name template outside a loop", entry.span, entry.name.text)
        name = entry.name.text
        value = entry.value
        if isinstance(value, m.LayerRef | m.MappingCall):
            ref = value if isinstance(value, m.LayerRef) else value._call
            assert ref is not None
            module = self._layer(ref, scope, state, name, init)
        else:
            inner = value if isinstance(value, list) else [value]
            pre, module = self._sequential(
                inner, scope, state, container_kind(inner, False), _label(entry)
            )
            init.extend(pre)
        if name not in assigned:
            assigned.add(name)
            comment = ""
            if name in shapes and not self.dry:
                comment = f"-> {list(shapes[name])}"
            init.append(
                Stmt(f"self.{name} = ", module, comment=comment, reads=_reads_items(module))
            )
        self._sync(state, init)
        fwd.append(Stmt(f"x = self.{name}(x)"))

    def _class_if(
        self,
        entry: m.IfEntry,
        scope: Scope,
        state: State,
        init: list[Stmt],
        fwd: list[Stmt],
        assigned: set[str],
        shapes: dict[str, Shape],
    ) -> None:
        cond = calls.evaluate_at(entry.if_.expr, None, scope, "if")
        if known(cond):
            branch = entry.then if concrete(cond) else entry.else_
            self._class_body(branch, scope, state, init, fwd, None)
            return
        flag = self.attrs.fresh(_flag_name(entry.if_.expr))
        init.append(
            Stmt(f"self.{flag} = ", _expr(entry.if_.expr), reads=_reads(entry.if_.expr.node))
        )
        bodies = []

        def run(branch: Sequence[Any], frame: Scope, s: State, out: list[Stmt]) -> None:
            f: list[Stmt] = []
            self._class_body(branch, frame, s, out, f, None)
            bodies.append(f)

        self._if(entry, scope, state, "if", init, run)
        then_fwd, else_fwd = bodies[-2], bodies[-1]
        block = init[-1]
        then_names, else_names = _attrs(block.body), _attrs(block.orelse or [])
        # a module made in one branch only is None in the other (checked in forward via the flag)
        block.body += [Stmt(f"self.{a} = None") for a in sorted(else_names - then_names)]
        if then_names - else_names:
            block.orelse = (block.orelse or []) + [
                Stmt(f"self.{a} = None") for a in sorted(then_names - else_names)
            ]
        assigned |= then_names | else_names
        fwd.append(Stmt(f"if self.{flag}:", body=then_fwd, orelse=else_fwd or None, block=True))


def _layer_names(entries: Sequence[Any]) -> set[str]:
    """The names a layer list gives (through loops and conditions, not nested lists)."""
    out: set[str] = set()
    for entry in entries:
        if isinstance(entry, m.NamedEntry):
            out.add(entry.name.text)
        elif isinstance(entry, m.ForEntry | m.RepeatEntry):
            out |= _layer_names(entry.do)
        elif isinstance(entry, m.IfEntry):
            out |= _layer_names(entry.then) | _layer_names(entry.else_)
    return out


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


def _flag_name(code: n.Expr) -> str:
    inner = n.strip(code)
    if isinstance(inner, n.Name):
        return f"use_{inner.id}" if not inner.id.startswith(("use_", "with_", "has_")) else inner.id
    return "flag"


def _attrs(stmts: list[Stmt]) -> set[str]:
    out = set()
    for stmt in stmts:
        if stmt.prefix.startswith("self.") and stmt.prefix.endswith(" = "):
            out.add(stmt.prefix[5:-3])
    return out


def _reads_items(expr: PyExpr) -> frozenset[str]:
    """Names read by laid-out code (a conservative scan of its identifiers)."""
    import re

    return frozenset(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expr.flat()))


def _has_control(entries: Sequence[Any]) -> bool:
    return any(isinstance(e, m.ForEntry | m.RepeatEntry | m.IfEntry) for e in entries)


def _label(entry: m.NamedEntry) -> str:
    text = entry.name.text
    return text if text.isidentifier() and not entry.name.is_template else "layers"


def generate_class(
    spec: m.SpecFile, net: Network, params: dict[str, Param], input_override: Shape | None
) -> tuple[ClassCode, Emitter]:
    """Compile ``spec`` (see :class:`Emitter`).

    Raises:
        NetspecError: the spec cannot be compiled (positioned).
    """
    emitter = Emitter(spec, net, params)
    try:
        return emitter.run(input_override), emitter
    except NetspecError:
        raise
    except OpError as exc:  # pragma: no cover - rules failing symbolically
        raise CodegenError(exc.message, None, hint=exc.hint) from None
