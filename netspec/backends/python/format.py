"""Laying out generated statements the way black (and ``ruff format``) would.

Generated code is built from a few expression shapes — atoms and bracketed lists (calls,
tuples, mappings) — so the layout rules of black for them are all we need: a statement that
fits in the line length stays on one line; otherwise its last bracket opens, and the contents
go on one indented line if they fit there, or one item per line with a trailing comma, each
item laid out the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LINE_LENGTH = 88
INDENT = "    "


@dataclass(frozen=True)
class Atom:
    """Text that is never split."""

    text: str

    def flat(self) -> str:
        return self.text


@dataclass(frozen=True)
class Item:
    """``key=value`` (``sep='='``), ``key: value`` (``sep=': '``) or a plain value."""

    value: PyExpr
    key: str = ""
    sep: str = ""

    def flat(self) -> str:
        return f"{self.key}{self.sep}{self.value.flat()}"


@dataclass(frozen=True)
class Bracket:
    """``head`` + items + ``close``: a call ``f(a, b)``, a tuple ``(a,)``, a dict ``{k: v}``."""

    head: str
    items: tuple[Item, ...] = ()
    close: str = ")"
    tuple_like: bool = False
    """A one-item tuple keeps its trailing comma: ``(a,)``."""
    commas: bool = True
    """Whether split items end with commas (not a call's lone generator argument)."""
    text: str | None = None
    """The flat form where it is not head + items + close (``for a, b in x:``, whose split
    form brackets the names)."""

    def flat(self) -> str:
        if self.text is not None:
            return self.text
        inner = ", ".join(i.flat() for i in self.items)
        if self.tuple_like and len(self.items) == 1:
            inner += ","
        return f"{self.head}{inner}{self.close}"

    @property
    def literal(self) -> bool:
        """A tuple, list or dict display: split, it has one item per line (black's rule)."""
        return self.tuple_like or self.head in ("[", "{")


@dataclass(frozen=True)
class Chain:
    """Parts split one per line where they do not fit: a generator's element and its
    clauses, a conditional expression's value, ``if`` and ``else``, the operands of a chain
    of operators (each after the first starting with its operator)."""

    parts: tuple[PyExpr, ...]

    def flat(self) -> str:
        return " ".join(p.flat() for p in self.parts)


PyExpr = Atom | Bracket | Chain


def call(func: str, *args: PyExpr, **kwargs: PyExpr) -> Bracket:
    items = tuple(Item(a) for a in args) + tuple(Item(v, k, "=") for k, v in kwargs.items())
    return Bracket(f"{func}(", items, ")")


def lay_out(
    prefix: str, expr: PyExpr, suffix: str = "", depth: int = 0, statement: bool = True
) -> list[str]:
    """The lines of ``prefix + expr + suffix`` at ``depth`` indentation: a statement, or
    (``statement`` false) an item inside brackets."""
    indent = INDENT * depth
    flat = f"{indent}{prefix}{expr.flat()}{suffix}"
    if len(flat) <= LINE_LENGTH:
        return [flat]
    if isinstance(expr, Chain):
        if statement:  # black brackets the right-hand side: x = (\n    a if c else b\n)
            wrapped = lay_out("", expr, "", depth + 1, statement=False)
            return [f"{indent}{prefix}(", *wrapped, f"{indent}){suffix}"]
        lines: list[str] = []
        last = len(expr.parts) - 1
        for i, part in enumerate(expr.parts):
            lines += lay_out(
                prefix if i == 0 else "", part, suffix if i == last else "", depth, False
            )
        return lines
    if not isinstance(expr, Bracket) or not expr.items:
        return [flat]
    head = f"{indent}{prefix}{expr.head}"
    tail = f"{indent}{expr.close}{suffix}"
    inner = ", ".join(i.flat() for i in expr.items)
    if expr.tuple_like and len(expr.items) == 1:
        inner += ","
    one_line = f"{indent}{INDENT}{inner}"
    if len(one_line) <= LINE_LENGTH and not (expr.literal and len(expr.items) > 1):
        return [head, one_line, tail]
    lines = [head]
    for item in expr.items:
        comma = "," if expr.commas else ""
        lines += lay_out(f"{item.key}{item.sep}", item.value, comma, depth + 1, False)
    lines.append(tail)
    return lines


@dataclass
class Stmt:
    """A statement of generated code.

    ``reads`` are the local names the statement uses and ``writes`` the one it assigns, so that
    assignments nobody reads (tracked sizes that turn out unused) can be dropped.
    """

    prefix: str = ""
    expr: PyExpr | None = None
    suffix: str = ""
    comment: str = ""
    reads: frozenset[str] = frozenset()
    writes: str | None = None
    body: list[Stmt] = field(default_factory=list)
    orelse: list[Stmt] | None = None
    """For ``if`` statements: the ``else`` body (``None``: no else)."""
    block: bool = False
    """``prefix`` is a block header (``for …:``/``if …:``) and ``body`` its statements."""
    checks: bool = False
    """The assigned value refuses some inputs (``exact_div``): unread, the statement stays as
    the bare expression, still refusing them."""
    refuses: bool = False
    """An operator's check of values the class is given (``if <test>: raise …``): in an arm
    of a conditional layer, made only where the values choose that arm."""
    test: Any = None
    """Such a check's test (an expression), for a choice to join with its own."""

    def lines(self, depth: int) -> list[str]:
        indent = INDENT * depth
        if self.block:
            out = [f"{indent}{self.prefix}"]
            if self.expr is not None:  # a header that may need splitting (a long `for`)
                out = lay_out("", self.expr, "", depth)
            for stmt in self.body or [Stmt("pass")]:
                out += stmt.lines(depth + 1)
            if self.orelse:
                out.append(f"{indent}else:")
                for stmt in self.orelse:
                    out += stmt.lines(depth + 1)
            return out
        if self.expr is None:
            text = f"{indent}{self.prefix}{self.suffix}"
            return [text + (f"  # {self.comment}" if self.comment else "")]
        if self.comment:
            with_comment = lay_out(
                self.prefix, self.expr, f"{self.suffix}  # {self.comment}", depth
            )
            if len(with_comment) == 1:
                return with_comment
            return [f"{indent}# {self.comment}"] + lay_out(
                self.prefix, self.expr, self.suffix, depth
            )
        return lay_out(self.prefix, self.expr, self.suffix, depth)


def prune(stmts: list[Stmt], candidates: set[str]) -> list[Stmt]:
    """Drop assignments to ``candidates`` whose value nothing needs: no statement reads it
    other than an assignment that is itself dropped (sizes carried through a loop in two
    variables, each read only by the other's assignment, go together; ``let`` values the
    code does not use)."""
    live: set[str] = set()
    while True:
        needed = set(live)
        _mark(stmts, candidates, needed)
        if needed == live:
            break
        live = needed
    return _drop(stmts, candidates - live)


def _mark(stmts: list[Stmt], candidates: set[str], live: set[str]) -> bool:
    """Add to ``live`` what the statements that stay read; whether any stays."""
    stays = False
    for stmt in stmts:
        if stmt.block:
            inner = _mark(stmt.body, candidates, live)
            inner = _mark(stmt.orelse or [], candidates, live) or inner
            if not inner:
                continue
        elif stmt.writes in candidates:
            if stmt.writes not in live and not stmt.checks:
                continue
        live |= stmt.reads
        stays = True
    return stays


def _drop(stmts: list[Stmt], dead: set[str]) -> list[Stmt]:
    out: list[Stmt] = []
    for stmt in stmts:
        if stmt.writes in dead and not stmt.block:
            if stmt.checks:
                out.append(Stmt("", stmt.expr, reads=stmt.reads))
            continue
        if stmt.block:
            body = _drop(stmt.body, dead)
            orelse = _drop(stmt.orelse, dead) if stmt.orelse is not None else None
            if not body and not orelse:
                continue
            if not body:  # `if c: <nothing> else: x` → `if not (c): x`
                header = stmt.prefix
                if header.startswith("if ") and orelse:
                    cond = header[3:-1]
                    stmt = Stmt(f"if not ({cond}):", reads=stmt.reads, body=orelse, block=True)
                    out.append(stmt)
                    continue
            stmt = Stmt(
                stmt.prefix,
                stmt.expr,
                reads=stmt.reads,
                body=body,
                orelse=orelse or None,
                block=True,
            )
        out.append(stmt)
    return out
