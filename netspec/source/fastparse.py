"""A hand-written parser for ``grammar.lark``, the fast path of :mod:`netspec.source.parser`.

lark's LALR parser with its inline transformer costs about 100 µs an expression, a large part of
the static analysis of a large model. This module parses the same grammar by recursive descent
(a regex tokenizer, then precedence climbing with explicit stacks) and builds the same nodes,
with the same offsets, through the builders the transformer uses (``number_node``,
``call_node``…), so both refuse the same texts for the same reasons.

It reports no error of the text itself (only, where asked, that its tree nests deeper than
the entry point's limit): on anything it does not take — a syntax error, a character or
token it does not expect, a check of a builder that fails, a keyword where lark's contextual
lexer would read a name (``f(if=1)``, ``x.in``) — :func:`parse` returns ``None`` and the caller
parses the text with lark, the reference, whose errors (message, position, hint) are the ones
users see. The tests hold the two to the same trees (``tests/source/test_fastparse.py``).

Recursion: one level of brackets costs a handful of frames; operator chains (``1+1+…``,
``- - x``, ``not not x``, ``a ** b ** c``, ``a if b else c if …``, ``x.a.b``, ``x[0][0]``) are
loops, so nesting is bounded by the bracket depth :func:`~netspec.source.parser._precheck`
bounds. A chain of one precedence (``1+1+…``, ``a*b/c``) is built whole once its last operand
is read, through :func:`netspec.expr.nodes.chain` as lark's transformer builds it.
"""

from __future__ import annotations

import re

from netspec.expr import nodes as n
from netspec.source.parser import (
    Argument,
    ForHeader,
    ParamDecl,
    _depth,
    _Syntax,
    attr_node,
    call_node,
    check_target,
    name_node,
    number_node,
    string_node,
    too_deep,
)

# grammar.lark's terminals, each with the whitespace before it (lark's %ignore); the text ends
# with an empty token, and a character no terminal takes is a token of its own. Terminals that
# can begin with the same character are tried in lark's order of preference (FLOAT before INT
# and before the operator `.`, `**` before `*`, longer operators first); the rest in the order
# they are frequent in, names first (no terminal gives back what it matched: `*+`, `++`).
_TOKEN = re.compile(
    r"([ \t\f\r\n]*+)("
    r"[A-Za-z_][A-Za-z0-9_]*+"  # NAME
    r"|[(),\[\]+\-:]"  # the operators of one character that begin no other
    r"|\*\*|//|==|>=|<=|!=|[*/%<>=]"  # the other operators
    r"|(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+"  # FLOAT
    r"|[0-9]++"  # INT
    r"|\."
    r"|'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\""  # STRING
    r"|\Z|[\s\S])"
)
_OPERATORS = frozenset("** // == >= <= != - + * / % < > = ( ) , . : [ ]".split())
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NUMBER = frozenset("0123456789.")

_WORDS = frozenset({"if", "else", "or", "and", "not", "in", "for"})
"""The grammar's keywords: tokens of their own, never a ``NAME`` here (see the module notes)."""

_END = "$END"

_LEVEL = {"or": 1, "and": 2, "+": 5, "-": 5, "*": 6, "/": 6, "//": 6, "%": 6}
_LEVEL |= dict.fromkeys(["<", ">", "==", ">=", "<=", "!=", "in", "not"], 4)
"""Binary operators by precedence, loosest first: ``or``, ``and``, (``not`` is 3), comparisons
(``not`` there starts ``not in``), ``+ -``, ``* / // %``. ``**`` and signs bind tighter still."""

_NOT = 3


class _Unhandled(Exception):
    """The text is not one this parser takes: lark decides."""


def _tokens(text: str) -> tuple[list[str], list[str], list[int], list[int]]:
    """Kinds, texts, starts and ends of the tokens of ``text``, ending with ``$END``.

    A kind is ``NAME``, ``INT``, ``FLOAT``, ``STRING``, or the token's own text for keywords
    and operators.
    """
    kinds: list[str] = []
    texts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    end = 0
    for space, word in _TOKEN.findall(text):  # each match starts where the last one ended
        if not word:
            break
        start = end + len(space)
        end = start + len(word)
        # a terminal is told by its first character (a number's `.` alone is the operator)
        if word[0] in _LETTERS:
            kind = word if word in _WORDS else "NAME"
        elif word in _OPERATORS:
            kind = word
        elif word[0] in _NUMBER:
            kind = "INT" if word.isdigit() else "FLOAT"
        elif word[0] in "'\"" and len(word) > 1:
            kind = "STRING"
        else:
            raise _Unhandled
        kinds.append(kind)
        texts.append(word)
        starts.append(start)
        ends.append(end)
    kinds.append(_END)
    texts.append("")
    starts.append(len(text))
    ends.append(len(text))
    return kinds, texts, starts, ends


class _Parser:
    __slots__ = ("kinds", "texts", "starts", "ends", "i")

    def __init__(self, text: str) -> None:
        self.kinds, self.texts, self.starts, self.ends = _tokens(text)
        self.i = 0

    def expect(self, kind: str) -> int:
        """Consume a token of ``kind``; its index."""
        i = self.i
        if self.kinds[i] != kind:
            raise _Unhandled
        self.i = i + 1
        return i

    def name(self) -> str:
        return self.texts[self.expect("NAME")]

    # -- start symbols ----------------------------------------------------------------------

    def for_header(self) -> ForHeader:
        """``NAME ("," NAME)* "in" expr``"""
        names = [self.name()]
        while self.kinds[self.i] == ",":
            self.i += 1
            names.append(self.name())
        self.expect("in")
        return ForHeader(tuple(names), self.test())

    def param_decl(self) -> ParamDecl:
        """``NAME ["=" expr]``"""
        name = self.name()
        if self.kinds[self.i] != "=":
            return ParamDecl(name, None)
        self.i += 1
        return ParamDecl(name, self.test())

    # -- expressions ------------------------------------------------------------------------

    def test(self) -> n.Expr:
        """``or_test ["if" or_test "else" test]``; a chain of conditionals in a loop."""
        body = self.or_test()
        if self.kinds[self.i] != "if":
            return body
        pending: list[tuple[n.Expr, n.Expr]] = []  # (body, test) waiting for their `else`
        while True:
            self.i += 1
            test = self.or_test()
            self.expect("else")
            pending.append((body, test))
            body = self.or_test()
            if self.kinds[self.i] != "if":
                break
        node = body
        while pending:
            body, test = pending.pop()
            node = n.IfExp(test, body, node, start=body.start, end=node.end)
        return node

    def or_test(self) -> n.Expr:
        """``or``, ``and``, ``not``, comparisons, ``+ -`` and ``* / // %`` by precedence climbing
        on explicit stacks: operands, and operators waiting for their right side — ``(level,
        op, data)``, where ``data`` is the first operand's index for the n-ary ``or``, ``and``,
        comparisons and chains of ``+ -`` or ``* / // %`` (whose ``op`` is then the list of
        their operators: a chain is built once, whole, by :func:`~netspec.expr.nodes.chain`),
        the offset of the word for ``not``."""
        kinds = self.kinds
        waiting: list[tuple[int, str | list[str], int]] = []
        if kinds[self.i] == "not":
            self.nots(waiting)
            operands = [self.factor()]
        else:
            first = self.factor()
            if kinds[self.i] not in _LEVEL:  # most often one operand alone
                return first
            operands = [first]
        while True:
            i = self.i
            op = kinds[i]
            level = _LEVEL.get(op)
            if level is None:
                break
            if op == "not":
                if kinds[i + 1] != "in":
                    break
                op = "not in"
                i += 1
            self.i = i + 1
            while waiting and waiting[-1][0] > level:
                _reduce(waiting.pop(), operands)
            if waiting and waiting[-1][0] == level:  # one more operand of an n-ary operator
                if level >= 4:
                    chained = waiting[-1][1]
                    assert isinstance(chained, list)
                    chained.append(op)
            elif level >= 4:
                waiting.append((level, [op], len(operands) - 1))
            else:
                waiting.append((level, op, len(operands) - 1))
            if kinds[self.i] == "not":
                self.nots(waiting)
            operands.append(self.factor())
        while waiting:
            _reduce(waiting.pop(), operands)
        return operands[0]

    def nots(self, waiting: list[tuple[int, str | list[str], int]]) -> None:
        """The ``not`` words before an operand, where a not_test starts (at the start, after
        ``and``, ``or`` or ``not``; not after ``==`` or ``+``, where lark refuses them)."""
        while self.kinds[self.i] == "not" and (not waiting or waiting[-1][0] <= _NOT):
            waiting.append((_NOT, "not", self.starts[self.i]))
            self.i += 1

    def factor(self) -> n.Expr:
        """``("+"|"-")* postfix ["**" factor]``, the chain of powers in a loop."""
        kinds = self.kinds
        # (first sign, end of signs, base) of each operand before a `**`
        powers: list[tuple[int, int, n.Expr]]
        if kinds[self.i] != "+" and kinds[self.i] != "-":  # most often a lone postfix
            base = self.postfix()
            if kinds[self.i] != "**":
                return base
            powers = [(0, 0, base)]
            self.i += 1
        else:
            powers = []
        while True:
            signs = self.i
            while kinds[self.i] == "+" or kinds[self.i] == "-":
                self.i += 1
            signed = self.i
            base = self.postfix()
            if kinds[self.i] != "**":
                break
            powers.append((signs, signed, base))
            self.i += 1
        node = self.signed(base, signs, signed)
        while powers:
            signs, signed, base = powers.pop()
            node = n.Binary("**", base, node, start=base.start, end=node.end)
            node = self.signed(node, signs, signed)
        return node

    def signed(self, node: n.Expr, first: int, last: int) -> n.Expr:
        """``node`` under the signs of tokens ``first`` to ``last`` (exclusive)."""
        for k in range(last - 1, first - 1, -1):
            node = n.Unary(self.texts[k], node, start=self.starts[k], end=node.end)
        return node

    def postfix(self) -> n.Expr:
        """An atom and its calls, indexes and attributes, in a loop."""
        node = self.atom()
        kinds = self.kinds
        while True:
            kind = kinds[self.i]
            if kind == "(":
                self.i += 1
                arguments = self.arguments()
                node = call_node(node, arguments, self.ends[self.expect(")")])
            elif kind == "[":
                self.i += 1
                index = self.subscript()
                node = n.Index(node, index, start=node.start, end=self.ends[self.expect("]")])
            elif kind == ".":
                self.i += 1
                i = self.expect("NAME")
                node = attr_node(node, self.texts[i], self.starts[i], self.ends[i])
            else:
                return node

    def arguments(self) -> list[Argument]:
        """``[argument ("," argument)* [","]]`` before a ``)``."""
        kinds = self.kinds
        out: list[Argument] = []
        while kinds[self.i] != ")":
            i = self.i
            if kinds[i] == "NAME" and kinds[i + 1] == "=":
                self.i = i + 2
                out.append((self.texts[i], self.test(), self.starts[i]))
            else:
                out.append(self.test())
            if kinds[self.i] != ",":
                break
            self.i += 1
        return out

    def subscript(self) -> n.Expr:
        """``expr``, or a slice ``[expr] ":" [expr] [":" [expr]]``."""
        kinds = self.kinds
        lower = upper = step = None
        if kinds[self.i] != ":":
            lower = self.test()
            if kinds[self.i] != ":":
                return lower
        colon = self.i
        self.i += 1
        end = self.ends[colon]
        if kinds[self.i] != ":" and kinds[self.i] != "]":
            upper = self.test()
            end = upper.end
        if kinds[self.i] == ":":
            end = self.ends[self.i]
            self.i += 1
            if kinds[self.i] != "]":
                step = self.test()
                end = step.end
        start = self.starts[colon] if lower is None else lower.start
        return n.Slice(lower, upper, step, start=start, end=end)

    def atom(self) -> n.Expr:
        i = self.i
        kind = self.kinds[i]
        if kind == "NAME":
            self.i = i + 1
            return name_node(self.texts[i], self.starts[i], self.ends[i])
        if kind == "INT" or kind == "FLOAT":
            self.i = i + 1
            return number_node(self.texts[i], self.starts[i], self.ends[i])
        if kind == "STRING":
            self.i = i + 1
            return string_node(self.texts[i], self.starts[i], self.ends[i])
        if kind == "in":
            self.i = i + 1
            return n.InputRef(start=self.starts[i], end=self.ends[i])
        if kind == "[" or kind == "(":
            return self.bracketed()
        raise _Unhandled

    def bracketed(self) -> n.Expr:
        """A list ``[a, b]``, a comprehension ``[element for … in … if …]``, a tuple ``()``,
        ``(a,)``, ``(a, b)``, or an expression in brackets ``(a)`` (the expression itself)."""
        kinds = self.kinds
        start = self.starts[self.i]
        close = "]" if kinds[self.i] == "[" else ")"
        self.i += 1
        if kinds[self.i] == close:
            return n.ListExpr((), start=start, end=self.ends[self.expect(close)])
        first = self.test()
        if close == "]" and kinds[self.i] == "for":
            clauses: list[n.CompFor] = []
            while kinds[self.i] == "for":
                clauses.append(self.comp_for())
            end = self.ends[self.expect("]")]
            return n.ListComp(first, tuple(clauses), start=start, end=end)
        if close == ")" and kinds[self.i] != ",":
            self.expect(")")
            return first
        items = self.items(first, close)
        return n.ListExpr(items, start=start, end=self.ends[self.expect(close)])

    def items(self, first: n.Expr, close: str) -> tuple[n.Expr, ...]:
        """``first ("," expr)* [","]`` up to (not past) ``close``."""
        items = [first]
        while self.kinds[self.i] == ",":
            self.i += 1
            if self.kinds[self.i] == close:
                break
            items.append(self.test())
        return tuple(items)

    def comp_for(self) -> n.CompFor:
        """``for NAME ("," NAME)* in or_test ("if" or_test)*``"""
        start = self.starts[self.expect("for")]
        targets: list[str] = []
        while True:
            i = self.expect("NAME")
            check_target(self.texts[i], self.starts[i])
            targets.append(self.texts[i])
            if self.kinds[self.i] != ",":
                break
            self.i += 1
        self.expect("in")
        iterable = self.or_test()
        conditions: list[n.Expr] = []
        while self.kinds[self.i] == "if":
            self.i += 1
            conditions.append(self.or_test())
        end = (conditions[-1] if conditions else iterable).end
        return n.CompFor(tuple(targets), iterable, tuple(conditions), start=start, end=end)


def _reduce(entry: tuple[int, str | list[str], int], operands: list[n.Expr]) -> None:
    """Apply a waiting operator of :meth:`_Parser.or_test` to the operands on top."""
    level, op, data = entry
    if level == _NOT:
        operand = operands.pop()
        operands.append(n.Not(operand, start=data, end=operand.end))
    else:
        values = operands[data:]
        del operands[data:]
        start, end = values[0].start, values[-1].end
        if level > 4:
            assert isinstance(op, list)
            operands.append(n.chain(values, op))
        elif isinstance(op, list):
            operands.append(
                n.Compare(values[0], tuple(op), tuple(values[1:]), start=start, end=end)
            )
        else:
            operands.append(n.BoolOp(op, tuple(values), start=start, end=end))


def parse(
    text: str, start: str, deepest: int | None = None
) -> n.Expr | ForHeader | ParamDecl | None:
    """``text`` parsed from the grammar rule ``start`` (``expr``, ``for_header`` or
    ``param_decl``) as lark's parser in :mod:`netspec.source.parser` parses it, or ``None``
    where this parser leaves the text to lark (an error, or anything unusual).

    Raises:
        _Syntax: the tree nests deeper than ``deepest`` (where given): the entry point's
            limit, checked here where the tokens are known — every node owns a token of its
            own (an operator, a bracket, a name…), so only a text of more tokens can.
    """
    try:
        parser = _Parser(text)
        result: n.Expr | ForHeader | ParamDecl
        if start == "expr":
            result = parser.test()
        elif start == "for_header":
            result = parser.for_header()
        elif start == "param_decl":
            result = parser.param_decl()
        else:
            return None
        if parser.kinds[parser.i] != _END:
            return None
    except (_Unhandled, _Syntax, RecursionError):
        return None
    if deepest is not None and len(parser.kinds) - 1 > deepest and _depth(result) > deepest:
        raise too_deep()
    return result
