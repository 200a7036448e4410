"""Parsing expression and layer-call text with netspec's lark grammar.

The grammar (``grammar.lark``) is compiled once per process into an LALR parser with an
inline transformer, so no ``lark.Tree`` ever leaves this module: callers get the typed nodes of
:mod:`netspec.expr.nodes`. Parses are cached by text, because the same call
(``batchnorm2d``, ``relu(inplace=true)``) appears many times in a spec.

A text is parsed first by the hand-written parser of :mod:`netspec.source.fastparse`, which
builds the same trees through the same node builders (below) several times faster; it leaves
every text it does not take, errors included, to lark, the reference.

Syntax errors say what was expected in words, never in lark's terminal names, and point at
the offending column of the spec line.
"""

from __future__ import annotations

import ast
import functools
import keyword
import math
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from lark import Token

from netspec.errors import SourceError
from netspec.expr import nodes as n

MAX_LENGTH = 100_000
"""Longest expression text, in characters (a spec file holds at most 4 MiB): a sum of 10,000
terms is a valid expression. Nothing about it recurses along its length — the parsers read
chains in loops, a long chain of one precedence is one flat node (``nodes.OpChain``), and every
walk of a tree recurses only along its depth, which :data:`MAX_DEPTH` bounds."""
MAX_DEPTH = 64
"""Deepest nesting of an expression's tree: brackets, calls, indexes, attributes, signs,
``not``, powers, conditionals, and operators of different precedences inside each other. A
chain of one precedence counts as the nested operations it is up to ``nodes.NESTED`` operands
(``a + b - c``: two levels); a longer one is one flat node, one level, however long."""
MAX_DIGITS = 30
"""Longest integer literal."""
_CACHED_LENGTH = 4000
"""Longest text whose tree is kept in the parse cache: a longer one is parsed each time it is
read (rarely more than once), so that the cache of 8,192 texts cannot hold gigabytes."""

NS_KEYWORDS = frozenset(
    """netspec name class description extends input params let block layers choices require doc
    expansion residual merge first_only shortcut when as branches then for in repeat if
    else parallel split tensors""".split()
)
"""Words with a meaning in ``.ns`` statements; a layer or name cannot be one of them there."""

_KEYWORDS = frozenset(
    {"not", "and", "or", "if", "else", "in", "is", "for", "lambda", "def", "import", "class"}
)
"""Words that are never names in an expression (``in`` alone is the block's input)."""

_CONSTANTS: dict[str, bool | None] = {
    "true": True,
    "True": True,
    "false": False,
    "False": False,
    "none": None,
    "None": None,
}

_WORDS = {
    "NAME": "a name",
    "INT": "a number",
    "FLOAT": "a number",
    "STRING": "a quoted string",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "COLON": "':'",
    "DOT": "'.'",
    "EQUAL": "'='",
    "ADD_OP": "'+' or '-'",
    "MUL_OP": "an operator",
    "POW": "'**'",
    "IF": "'if'",
    "FOR": "'for'",
    "ELSE": "'else'",
    "IN": "'in'",
    "NOT": "'not'",
    "AND": "'and'",
    "OR": "'or'",
    "LESSTHAN": "a comparison",
    "MORETHAN": "a comparison",
    "__ANON_0": "a comparison",
    "$END": "the end of the expression",
}


class _Syntax(Exception):
    def __init__(self, offset: int, message: str, hint: str | None = None, width: int = 1):
        super().__init__(message)
        self.offset = offset
        self.message = message
        self.hint = hint
        self.width = width


@dataclass(frozen=True, slots=True)
class ParamDecl:
    """``stride = 1``: a block parameter and its default (``None``: required)."""

    name: str
    default: n.Expr | None


@dataclass(frozen=True, slots=True)
class ForHeader:
    """``i, w in enumerate(widths)``: the loop variables and the iterable."""

    names: tuple[str, ...]
    iterable: n.Expr


def _start(child: Any) -> int:
    if isinstance(child, n.Expr):
        return child.start
    return int(getattr(child, "start_pos", -1) or 0)


def _end(child: Any) -> int:
    if isinstance(child, n.Expr):
        return child.end
    return int(getattr(child, "end_pos", -1) or 0)


def _span(children: list[Any]) -> dict[str, int]:
    real = [c for c in children if c is not None]
    if not real:
        return {}
    return {"start": _start(real[0]), "end": _end(real[-1])}


def number(text: str) -> int | float:
    """The value of a number literal (``12``, ``1.5e3``), within the language's bounds.

    Raises:
        ValueError: with the message for a number too long or too large.
    """
    if "." in text or "e" in text or "E" in text:
        if len(text) > MAX_DIGITS + 10:
            raise ValueError(f"the number {text[:12]}… is too long")
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"the number {text} is too large")
        return value
    if len(text) > MAX_DIGITS:
        raise ValueError(f"the number {text[:12]}… is too large")
    return int(text)


# The nodes of the grammar's leaves and of its rules that check something, shared by lark's
# transformer (below) and the hand-written parser (fastparse.py), so that both build the same
# trees and refuse the same texts: each takes the text and offsets of what it builds.


def number_node(text: str, start: int, end: int) -> n.Const:
    """An ``INT`` or ``FLOAT`` literal."""
    try:
        value = number(text)
    except ValueError as exc:
        raise _Syntax(start, str(exc), width=len(text)) from None
    return n.Const(value, start=start, end=end)


def string_node(text: str, start: int, end: int) -> n.Const:
    """A ``STRING`` literal, quotes included in ``text``."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise _Syntax(start, f"invalid string literal {text}") from None
    problem = surrogate_problem(str(value))
    if problem:
        raise _Syntax(start, f"invalid string literal {text}: {problem}", width=end - start)
    return n.Const(str(value), start=start, end=end)


def surrogate_problem(text: str) -> str | None:
    """Why ``text`` cannot be a spec's text, if it holds a lone surrogate (``\\ud800``): no
    character, so no UTF-8 file can hold it, and YAML refuses it."""
    bad = next((ch for ch in text if "\ud800" <= ch <= "\udfff"), None)
    if bad is None:
        return None
    return f"{ascii(bad)[1:-1]} is half of a UTF-16 surrogate pair, not a character"


def name_node(text: str, start: int, end: int) -> n.Expr:
    """A ``NAME`` as an operand: a constant (``true``…), or a name that is not a keyword."""
    if text in _KEYWORDS:  # lark's lexer takes a keyword for a name where one fits
        raise _Syntax(start, f"unexpected {text!r}: expected a value", width=len(text))
    if text in _CONSTANTS:
        return n.Const(_CONSTANTS[text], start=start, end=end)
    return n.Name(text, start=start, end=end)


def attr_node(value: n.Expr, name: str, name_start: int, name_end: int) -> n.Attr:
    """``value.name``."""
    start = value.start if value.start >= 0 else name_start
    return n.Attr(value, name, start=start, end=name_end)


Argument = n.Expr | tuple[str, n.Expr, int]
"""A call's argument: positional, or ``(keyword, value, offset of the keyword)``."""


def call_node(func: n.Expr, arguments: list[Argument], end: int) -> n.Call:
    """``func(arguments)``, ``end`` past its ``)``: keywords once each, after the positionals."""
    args: list[n.Expr] = []
    kwargs: list[tuple[str, n.Expr]] = []
    for a in arguments:
        if isinstance(a, tuple):
            key, value, pos = a
            if any(k == key for k, _ in kwargs):
                raise _Syntax(pos, f"keyword argument {key!r} is given twice", width=len(key))
            kwargs.append((key, value))
        else:
            if kwargs:
                raise _Syntax(
                    a.start,
                    "a positional argument follows a keyword argument",
                    hint="write positional arguments first, as in conv2d(64, 3, padding=1)",
                )
            args.append(a)
    return n.Call(func, tuple(args), tuple(kwargs), start=func.start, end=end)


class _ToNodes:
    """Inline LALR transformer: grammar rule aliases map to these methods."""

    # lark looks methods up by rule name and calls them with the list of children

    def int_(self, c: list[Any]) -> n.Expr:
        return number_node(str(c[0]), _start(c[0]), _end(c[0]))

    def float_(self, c: list[Any]) -> n.Expr:
        return number_node(str(c[0]), _start(c[0]), _end(c[0]))

    def string(self, c: list[Any]) -> n.Expr:
        return string_node(str(c[0]), _start(c[0]), _end(c[0]))

    def name(self, c: list[Any]) -> n.Expr:
        return name_node(str(c[0]), _start(c[0]), _end(c[0]))

    def input_(self, c: list[Any]) -> n.Expr:
        return n.InputRef(**_span(c))

    def attr(self, c: list[Any]) -> n.Expr:
        value, name = c
        return attr_node(value, str(name), name.start_pos, name.end_pos)

    def index(self, c: list[Any]) -> n.Expr:
        return n.Index(c[0], c[1], start=c[0].start, end=c[2].end_pos)

    def slice(self, c: list[Any]) -> n.Expr:
        parts = [x for x in c if not isinstance(x, Token)]  # lower, upper[, step]
        lower, upper, step = (parts + [None])[:3]
        return n.Slice(lower, upper, step, **_span(c))

    def listcomp(self, c: list[Any]) -> n.Expr:
        element, *clauses = c[1:-1]
        return n.ListComp(element, tuple(clauses), **_span(c))

    def comp_for(self, c: list[Any]) -> n.Expr:
        names = [t for t in c[1:] if isinstance(t, Token)]
        for token in names:
            check_target(str(token), int(token.start_pos or 0))
        rest = c[1 + len(names) :]
        targets = tuple(str(t) for t in names)
        return n.CompFor(targets, rest[0], tuple(rest[1:]), **_span(c))

    def arguments(self, c: list[Any]) -> list[Any]:
        return [x for x in c if x is not None]

    def keyword(self, c: list[Any]) -> tuple[str, n.Expr, int]:
        return (str(c[0]), c[1], c[0].start_pos)

    def call(self, c: list[Any]) -> n.Expr:
        return call_node(c[0], c[1] or [], c[2].end_pos)

    def chain(self, c: list[Any]) -> n.Expr:
        return n.chain(c[0::2], [str(op) for op in c[1::2]])

    def power(self, c: list[Any]) -> n.Expr:
        return n.Binary("**", c[0], c[2], **_span(c))

    def unary(self, c: list[Any]) -> n.Expr:
        return n.Unary(str(c[0]), c[1], **_span(c))

    def not_(self, c: list[Any]) -> n.Expr:
        return n.Not(c[1], **_span(c))

    def and_(self, c: list[Any]) -> n.Expr:
        return n.BoolOp("and", tuple(c), **_span(c))

    def or_(self, c: list[Any]) -> n.Expr:
        return n.BoolOp("or", tuple(c), **_span(c))

    def comp_op(self, c: list[Any]) -> str:
        return " ".join(str(t) for t in c)

    def compare(self, c: list[Any]) -> n.Expr:
        ops = tuple(c[1::2])
        return n.Compare(c[0], ops, tuple(c[2::2]), **_span(c))

    def ifexp(self, c: list[Any]) -> n.Expr:
        body, test, orelse = c
        return n.IfExp(test, body, orelse, **_span(c))

    def list_(self, c: list[Any]) -> n.Expr:
        # the brackets are kept (named terminals) so that the span covers them
        items = tuple(x for x in c if x is not None and not isinstance(x, Token))
        return n.ListExpr(items, **_span(c))

    def for_header(self, c: list[Any]) -> ForHeader:
        return ForHeader(tuple(str(t) for t in c[:-1]), c[-1])

    def param_decl(self, c: list[Any]) -> ParamDecl:
        return ParamDecl(str(c[0]), c[1])


def check_target(name: str, start: int) -> None:
    """A comprehension variable (at offset ``start``) is a name that generated Python can bind,
    hiding nothing."""
    from netspec.expr.evaluate import BUILTINS
    from netspec.spec.names import CONSTANTS, GENERATED

    problem = None
    if name in CONSTANTS:
        problem = "is a constant of the expression language"
    elif name in _KEYWORDS or keyword.iskeyword(name):
        problem = "is a keyword"
    elif name in BUILTINS:
        problem = f"would hide the built-in function {name}()"
    elif name in (GENERATED | _GENERATED_TOO) - {"x"}:
        problem = "is reserved for generated code"
    elif name.startswith("__"):
        problem = "starts with a double underscore"
    if problem:
        raise _Syntax(
            start,
            f"the comprehension variable {name!r} {problem}",
            hint="choose another name",
            width=len(name),
        )


_GENERATED_TOO = frozenset({"math"})
"""Names generated code uses that a comprehension variable must not hide (``math.ceil``),
besides those :data:`netspec.spec.names.GENERATED` lists. ``x`` (``forward``'s tensor) is
free: a comprehension's variable is local to it in Python, and no residual reads the tensor."""


@functools.cache
def _parser() -> Any:
    from lark import Lark, Transformer

    class _T(Transformer, _ToNodes):  # type: ignore[type-arg]
        pass

    grammar = resources.files("netspec.source").joinpath("grammar.lark").read_text("utf-8")
    return Lark(
        grammar,
        start=["expr", "for_header", "param_decl"],
        parser="lalr",
        maybe_placeholders=True,
        transformer=_T(),
        cache=True,
    )


def _depth(node: Any) -> int:
    """Nesting depth of a parsed tree, measured without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(node, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, ForHeader):
            stack.append((item.iterable, level))
        elif isinstance(item, ParamDecl):
            if item.default is not None:
                stack.append((item.default, level))
        elif isinstance(item, n.Expr):
            for name in item.__slots__:
                child = getattr(item, name, None)
                if isinstance(child, n.Expr):
                    stack.append((child, level + 1))
                elif isinstance(child, tuple):
                    for sub in child:
                        if isinstance(sub, n.Expr):
                            stack.append((sub, level + 1))
                        elif isinstance(sub, tuple) and len(sub) == 2:
                            stack.append((sub[1], level + 1))
    return deepest


_NS_WORDS = {
    "_NL": "a new line",
    "SEMICOLON": "';'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COLON": "':'",
    "$END": "the end of the file",
}


_OPERATORS = frozenset(
    {
        "ADD_OP",
        "MUL_OP",
        "POW",
        "LESSTHAN",
        "MORETHAN",
        "AND",
        "OR",
        "IF",
        "NOT",
        "DOT",
        "LSQB",
        "LPAR",
        "IS",
    }
)
_STATEMENT_WORDS = frozenset({"FOR", "REPEAT", "NETSPEC", "PARAMS", "LAYERS", "BLOCK", "LET"})


def kinds(text: str) -> str:
    """What each character of ``text`` is: ``c`` code, ``s`` inside a string, ``#`` comment."""
    out = []
    quote = ""
    escaped = comment = False
    for ch in text:
        if comment:
            comment = ch != "\n"
            out.append("#" if comment else "c")
        elif quote:
            out.append("s")
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            out.append("s")
        elif ch == "#":
            comment = True
            out.append("#")
        else:
            out.append("c")
    return "".join(out)


def open_bracket(text: str, offset: int) -> tuple[str, int] | None:
    """The innermost bracket still open at ``offset`` (strings and comments skipped)."""
    stack: list[tuple[str, int]] = []
    for i, (ch, kind) in enumerate(zip(text[:offset], kinds(text[:offset]), strict=True)):
        if kind != "c":
            continue
        if ch in "([{":
            stack.append((ch, i))
        elif ch in ")]}" and stack:
            stack.pop()
    return stack[-1] if stack else None


def _possible(
    expected: set[str], text: str, offset: int, start: str = "", ns: bool = False
) -> set[str]:
    """``expected`` without the closing brackets (and commas) that cannot come at ``offset``:
    LALR merges states, so its lists offer a ')' where no '(' is open."""
    opener = open_bracket(text, offset)
    inner = opener[0] if opener else ""
    drop = {"RPAR", "RSQB"}
    if inner == "(":
        drop = {"RSQB"}
    elif inner == "[":
        drop = {"RPAR"}
    if inner != "[":  # a comprehension's `for` and a slice's ':' are written in brackets
        drop.add("FOR")
        if not ns:  # the .ns format writes `name: value` with the same ':'
            drop.add("COLON")
    if not re.search(r"\bif\b", text[:offset]):
        drop.add("ELSE")  # an 'else' needs an 'if' before it
    # outside brackets, a comma only separates loop variables (before the `in`)
    if not inner and (start in ("expr", "param_decl") or re.search(r"\bin\b", text[:offset])):
        drop.add("COMMA")
    return {e for e in expected if e.rsplit("__", 1)[-1] not in drop}


def _words(expected: set[str], ns: bool = False) -> str:
    """The tokens a parser expected, in words: operators as one word, statements as one."""
    table = {**_WORDS, **_NS_WORDS} if ns else _WORDS
    names = {name.rsplit("__", 1)[-1] for name in expected}  # grammar.lark's are namespaced
    own = {name.strip("_") for name in expected if "__" not in name.strip("_")}
    words = set()
    if ns and own & _STATEMENT_WORDS:  # ns.lark's `for`, not a comprehension's
        words.add("a statement")
        names = {n for n in names if n in ("RBRACE", "$END")}
    if {"NAME", "INT"} <= names:  # an operand: a name, number, string, bracket or sign
        words.add("a value")
        names -= {"NAME", "INT", "FLOAT", "STRING", "LSQB", "LPAR", "ADD_OP", "NOT", "IN"}
    for name in names:
        if name in _OPERATORS or name.startswith("ANON"):
            words.add("an operator")
            continue
        word = table.get(name)
        if word is None:
            word = f"'{name.strip('_').lower()}'" if name.strip("_").isalpha() else name.lower()
        words.add(word)
    ordered = sorted(words or {"the end of the file" if ns else "the end of the expression"})
    if len(ordered) > 5:
        return "a statement" if ns else "an operand or operator"
    return " or ".join(ordered)


def friendly_syntax_error(
    exc: Exception, text: str, ns: bool = False, start: str = ""
) -> tuple[int, str, str | None]:
    """A lark syntax error in words: ``(offset, message, hint)``.

    Args:
        ns: the text is a whole ``.ns`` file, not one expression.
        start: the grammar rule parsed (``expr``, ``for_header``, ``param_decl``), if known.
    """
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    end = "the file" if ns else "the text"
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        ch = text[pos] if pos < len(text) else ""
        hint = None
        if ch == "=":
            hint = "compare with '=='; '=' only gives a keyword argument, as in padding=1"
        elif ch == '"' or ch == "'":
            hint = "a string is not closed"
        elif ch in "{}" and not ns:
            hint = "mappings are written as YAML under `let`, not inside an expression"
        return pos, f"unexpected character {ch!r}", hint
    if isinstance(exc, UnexpectedEOF):
        expected = _possible({str(e) for e in exc.expected}, text, len(text), start, ns)
        return len(text), f"{end} ends too early: expected {_words(expected, ns)}", None
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        offset = int(tok.start_pos or 0)
        expected = _possible({str(e) for e in exc.expected}, text, offset, start, ns)
        if tok.type == "$END":
            message = f"{end} ends too early: expected {_words(expected, ns)}"
            hint = "check for an unclosed bracket or a trailing operator" if text.strip() else None
            if ns and text.count("{") > text.count("}"):
                hint = "a '{' is not closed"
            return len(text), message, hint
        value = "a new line" if tok.type == "_NL" else repr(str(tok))
        message = f"unexpected {value}: expected {_words(expected, ns)}"
        hint = None
        if str(tok) == "=":
            hint = "compare with '=='; '=' only gives a keyword argument, as in padding=1"
        elif str(tok) == "for" and (open_bracket(text, offset) or ("",))[0] == "(":
            hint = "a comprehension is written in square brackets, as in sum([d for d in xs])"
        elif ns and tok.type == "_NL" and "_NL" not in expected:
            hint = "a statement is not complete on this line"
        elif ns and str(tok) in NS_KEYWORDS:
            hint = f"'{tok}' is a word of the .ns format; a name cannot be it here"
        return int(tok.start_pos or 0), message, hint
    return 0, f"cannot parse: {exc}", None


def _friendly(exc: Exception, text: str, start: str) -> _Syntax:
    offset, message, hint = friendly_syntax_error(exc, text, start=start)
    width = 1
    token = getattr(exc, "token", None)
    if token is not None and getattr(token, "type", "") != "$END":
        width = max(1, len(str(token)))
    return _Syntax(offset, message, hint, width=width)


def _precheck(text: str) -> None:
    if len(text) > MAX_LENGTH:
        raise _Syntax(0, f"the expression is longer than {MAX_LENGTH} characters")
    if len(text) <= MAX_DEPTH:  # too few characters to open MAX_DEPTH + 1 brackets
        return
    if text.count("(") + text.count("[") + text.count("{") <= MAX_DEPTH:  # a long chain
        return
    level = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            level += 1
            if level > MAX_DEPTH:
                raise _Syntax(i, f"brackets nested deeper than {MAX_DEPTH} levels")
        elif ch in ")]}":
            level -= 1


def _parse_lark(text: str, start: str) -> Any:
    """``text`` parsed by lark from the rule ``start``: the reference parse, and the one whose
    errors users see (the fast parser leaves every text it does not take to it)."""
    from lark.exceptions import LarkError, VisitError

    try:
        return _parser().parse(text, start=start)
    except VisitError as exc:
        if isinstance(exc.orig_exc, _Syntax):
            raise exc.orig_exc from None
        raise
    except _Syntax:
        raise
    except LarkError as exc:
        raise _friendly(exc, text, start) from None


def _parse(text: str, start: str) -> Any:
    """``text`` parsed from the rule ``start``, through the cache up to :data:`_CACHED_LENGTH`.

    Raises:
        _Syntax: the text is not one of the rule, or is longer or deeper than the limits.
    """
    if len(text) > _CACHED_LENGTH:
        return _parse_text(text, start)
    return _parse_cached(text, start)


def _parse_text(text: str, start: str) -> Any:
    """``text`` parsed from the rule ``start`` by the fast parser or else by lark, within the
    limits of length and depth (uncached: see :func:`_parse`)."""
    _precheck(text)
    if not text.strip():
        raise _Syntax(0, "the expression is empty")
    # the same tree as lark's, several times faster, its depth checked; or None
    tree = fastparse.parse(text, start, MAX_DEPTH)
    if tree is None:
        tree = _parse_lark(text, start)
        # every node owns a token of its own (an operator, a bracket, a name…), so a tree is
        # no deeper than its text is long
        if len(text) > MAX_DEPTH and _depth(tree) > MAX_DEPTH:
            raise too_deep()
    return tree


def too_deep() -> _Syntax:
    """The error of a text whose tree nests deeper than :data:`MAX_DEPTH`."""
    return _Syntax(0, f"the expression nests deeper than {MAX_DEPTH} levels")


_parse_cached = functools.lru_cache(maxsize=8192)(_parse_text)
""":func:`_parse_text`, its trees kept by text (the same call appears many times in a spec)."""


def _raise(exc: _Syntax, origin: n.Origin, what: str) -> SourceError:
    span = origin.span_at(exc.offset, exc.offset + exc.width)
    return SourceError(f"invalid {what}: {exc.message}", span, hint=exc.hint)


def parse_expr(text: str, origin: n.Origin | None = None, what: str = "expression") -> n.Located:
    """Parse an expression or layer call; the result is wrapped in its :class:`Origin`.

    Raises:
        SourceError: the text is not an expression; positioned at the offending column.
    """
    origin = origin or n.Origin(text, None)
    try:
        node = _parse(text, "expr")
    except _Syntax as exc:
        raise _raise(exc, origin, what) from None
    return n.Located(node, origin, start=node.start, end=node.end)


def parse_for_header(
    text: str, origin: n.Origin | None = None
) -> tuple[tuple[str, ...], n.Located]:
    """Parse a loop header ``name[, name…] in iterable``.

    Raises:
        SourceError: the text is not a loop header.
    """
    origin = origin or n.Origin(text, None)
    try:
        header: ForHeader = _parse(text, "for_header")
    except _Syntax as exc:
        if "expected" in exc.message and " in " not in f" {text} ":
            exc.hint = "a loop is written `for: name in expression`, e.g. `for: width in widths`"
        raise _raise(exc, origin, "loop header") from None
    it = header.iterable
    return header.names, n.Located(it, origin, start=it.start, end=it.end)


def parse_param(text: str, origin: n.Origin | None = None) -> tuple[str, n.Located | None]:
    """Parse a block parameter declaration ``name`` or ``name = default``.

    Raises:
        SourceError: the text is not a parameter declaration.
    """
    origin = origin or n.Origin(text, None)
    try:
        decl: ParamDecl = _parse(text, "param_decl")
    except _Syntax as exc:
        exc.hint = exc.hint or "a block parameter is `name` or `name = default`, e.g. `stride = 1`"
        raise _raise(exc, origin, "block parameter") from None
    if decl.default is None:
        return decl.name, None
    d = decl.default
    return decl.name, n.Located(d, origin, start=d.start, end=d.end)


# the fast parser builds its trees through this module's node builders: imported once they are
from netspec.source import fastparse  # noqa: E402
