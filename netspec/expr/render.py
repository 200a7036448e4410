"""Rendering expressions back to text: Python source for generated code, spec syntax for
messages. Parentheses are added only where Python's precedence needs them."""

from __future__ import annotations

from netspec.expr import nodes as n
from netspec.expr.evaluate import BUILTINS

# Python's precedence, loosest first
_IF, _OR, _AND, _NOT, _CMP, _ADD, _MUL, _UNARY, _POW, _POSTFIX, _ATOM = range(11)
_BINARY = {"+": _ADD, "-": _ADD, "*": _MUL, "/": _MUL, "//": _MUL, "%": _MUL, "**": _POW}


def _precedence(node: n.Expr) -> int:
    node = n.strip(node)
    if isinstance(node, n.IfExp):
        return _IF
    if isinstance(node, n.BoolOp):
        return _OR if node.op == "or" else _AND
    if isinstance(node, n.Not):
        return _NOT
    if isinstance(node, n.Compare):
        return _CMP
    if isinstance(node, n.Binary):
        return _BINARY[node.op]
    if isinstance(node, n.OpChain):
        return _BINARY[node.ops[0]]
    if isinstance(node, n.Unary):
        return _UNARY
    if isinstance(node, n.Const) and isinstance(node.value, int | float) and node.value < 0:
        return _UNARY
    if isinstance(node, n.Attr | n.Index | n.Call):
        return _POSTFIX
    return _ATOM


_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def python_string(value: str) -> str:
    """A string literal the way ruff/black would write it (double quotes preferred), with
    every character that is not printable escaped."""
    quote = "'" if value.count('"') > value.count("'") else '"'
    out = [quote]
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == quote:
            out.append("\\" + ch)
        elif not ch.isprintable():
            out.append(repr(ch)[1:-1])
        else:
            out.append(ch)
    out.append(quote)
    return "".join(out)


def _simple(node: n.Expr, right: bool = False) -> bool:
    """Ruff's "simple power operand": a name, a number, an attribute chain of names, -x of
    those, and on the right a power whose operands are simple (``a**b**c``)."""
    node = n.strip(node)
    if isinstance(node, n.Const) and isinstance(node.value, int | float) and node.value < 0:
        return right  # -2 on the right; on the left it is parenthesised: (-2) ** 2
    if isinstance(node, n.Unary):
        if not right or node.op != "-" or _is_power(node.operand):
            return False  # parenthesised: (-a) ** 2, a ** -(b**c)
        node = n.strip(node.operand)
    if isinstance(node, n.Const):
        return _number(node.value) or node.value is None or isinstance(node.value, bool)
    if isinstance(node, n.Attr):
        return _simple(node.value) and not isinstance(n.strip(node.value), n.Const)
    if right and isinstance(node, n.Binary) and node.op == "**":
        return _hugged(node)
    return isinstance(node, n.Name)


def _plain(node: n.Expr) -> bool:
    """A slice part ruff writes without spaces around the colons: a name, a literal, or a sign
    applied to one of those."""
    node = n.strip(node)
    if isinstance(node, n.Unary):
        return _plain(node.operand)
    return isinstance(node, n.Name | n.Const)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _hugged(node: n.Binary) -> bool:
    return _simple(node.left) and _simple(node.right, right=True)


def _is_power(node: n.Expr) -> bool:
    node = n.strip(node)
    return isinstance(node, n.Binary) and node.op == "**"


_ITERATORS = frozenset(name for name, b in BUILTINS.items() if b.iterator)
"""Built-ins that give lists in netspec and iterators in Python: called from generated code
through ``tuple(...)``, except as the iterable of a loop."""


def python_function(name: str) -> str:
    """What generated code calls for the function ``name`` of a spec: ``math.ceil`` for
    ``ceil``, the name itself for Python's built-ins and for layers."""
    builtin = BUILTINS.get(name)
    return builtin.python if builtin is not None and builtin.python else name


def needs_tuple(name: str) -> bool:
    """Whether generated code calls the function ``name`` through ``tuple(...)`` (it gives a
    list in netspec, an iterator or a Python list in Python)."""
    return name in _ITERATORS


def comprehension_parts(node: n.ListComp) -> tuple[str, list[str]]:
    """A comprehension as generated code writes it inside ``tuple(…)``: its element, then each
    ``for …`` and ``if …`` — the pieces ruff puts on lines of their own when it is too long."""
    return Renderer(True).comprehension(node)


def render_iterable(node: n.Expr) -> str:
    """``node`` as the Python iterable of a ``for`` loop: ``range(n)``, not ``tuple(range(n))``."""
    return Renderer(True).iterable(node, _IF)


def render(node: n.Expr, python: bool = False) -> str:
    """``node`` as text.

    Args:
        node: the expression.
        python: write Python source (``True``, tuples ``(1, 2)``, double-quoted strings)
            instead of spec syntax (``true``, lists ``[1, 2]``).
    """
    return Renderer(python).run(node)


class Renderer:
    """Writes expressions as text (see :func:`render`), each part once: an expression may share
    a part among several of its parts (a size that one arm of a condition leaves alone is the
    same object in the size after it), and written as a tree each would be written once per
    path to it. One renderer keeps what it wrote, to write several expressions sharing parts
    (the code generator's layout of one expression)."""

    def __init__(self, python: bool) -> None:
        self.python = python
        self.parts: dict[tuple[int, int], tuple[n.Expr, str]] = {}
        """By part (its identity) and the precedence it needs: the part (kept, so that no
        other takes its identity) and its text."""

    def run(self, node: n.Expr, need: int = _IF) -> str:
        key = (id(node), need)
        done = self.parts.get(key)
        if done is None:
            text = self._node(n.strip(node))
            done = self.parts[key] = (node, f"({text})" if _precedence(node) < need else text)
        return done[1]

    def _node(self, node: n.Expr) -> str:
        if isinstance(node, n.Const):
            return self._const(node.value)
        if isinstance(node, n.Name):
            return node.id
        if isinstance(node, n.InputRef):
            return "in"
        if isinstance(node, n.Attr):
            value = n.strip(node.value)
            if isinstance(value, n.Const) and _number(value.value):
                # 3.real is a syntax error; ruff writes (0.5).real too
                if self.python or isinstance(value.value, int):
                    return f"({self._node(value)}).{node.attr}"
            return f"{self.run(node.value, _POSTFIX)}.{node.attr}"
        if isinstance(node, n.Index):
            index = n.strip(node.index)
            inner = self._slice(index) if isinstance(index, n.Slice) else self.run(index)
            return f"{self.run(node.value, _POSTFIX)}[{inner}]"
        if isinstance(node, n.Call):
            return self.call(node)
        if isinstance(node, n.Unary):
            if self.python and _is_power(node.operand):
                return f"{node.op}({self.run(node.operand)})"  # -(2**2), not -2**2
            return f"{node.op}{self.run(node.operand, _UNARY)}"
        if isinstance(node, n.Binary):
            p = _BINARY[node.op]
            if node.op == "**":  # right-associative, and binds tighter than a unary on its left
                left, right = self.run(node.left, _POW + 1), self.run(node.right, _UNARY)
                if self.python and _hugged(node):
                    return f"{left}**{right}"  # black/ruff hug simple power operands
                return f"{left} ** {right}"
            return f"{self.run(node.left, p)} {node.op} {self.run(node.right, p + 1)}"
        if isinstance(node, n.OpChain):  # as the nested operations it stands for are written
            p = _BINARY[node.ops[0]]
            parts = [self.run(node.values[0], p)]
            for op, value in zip(node.ops, node.values[1:], strict=True):
                parts += [op, self.run(value, p + 1)]
            return " ".join(parts)
        if isinstance(node, n.Not):
            if self.python and _is_power(node.operand):
                return f"not ({self.run(node.operand)})"
            return f"not {self.run(node.operand, _NOT)}"
        if isinstance(node, n.BoolOp):
            p = _OR if node.op == "or" else _AND
            return f" {node.op} ".join(self.run(v, p + 1) for v in node.values)
        if isinstance(node, n.Compare):
            text = self.run(node.left, _CMP + 1)
            for op, rhs in zip(node.ops, node.comparators, strict=True):
                none = isinstance(rhs, n.Const) and rhs.value is None
                if self.python and none and op in ("==", "!="):
                    op = "is" if op == "==" else "is not"  # the same test, as Python writes it
                text += f" {op} {self.run(rhs, _CMP + 1)}"
            return text
        if isinstance(node, n.IfExp):
            body = self.run(node.body, _IF + 1)
            test = self.run(node.test, _IF + 1)
            return f"{body} if {test} else {self.run(node.orelse, _IF)}"
        if isinstance(node, n.ListExpr):
            items = [self.run(i) for i in node.items]
            if self.python:
                return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
            return "[" + ", ".join(items) + "]"
        if isinstance(node, n.ListComp):
            element, parts = self.comprehension(node)
            inner = " ".join([element, *parts])
            return f"tuple({inner})" if self.python else f"[{inner}]"  # a list is a tuple
        if isinstance(node, n.Slice):  # only ever inside an Index; rendered there
            return self._slice(node)
        if isinstance(node, n.DictExpr):
            pairs = [
                f"{self.run(k)}: {self.run(v)}" for k, v in zip(node.keys, node.values, strict=True)
            ]
            return "{" + ", ".join(pairs) + "}"
        raise TypeError(f"cannot render {node!r}")  # pragma: no cover

    def call(self, node: n.Call, as_tuple: bool = True) -> str:
        """A call; in Python, ``range``/``zip``/``enumerate``/… through ``tuple(...)`` (lists
        in specs) unless ``as_tuple`` is false (a loop's iterable), and ``ceil`` as
        ``math.ceil``."""
        parts = [self.run(a) for a in node.args]
        parts += [f"{k}={self.run(v)}" for k, v in node.kwargs]
        func = n.strip(node.func)
        name = self.run(node.func, _POSTFIX)
        if self.python and isinstance(func, n.Name):
            name = python_function(func.id)
        text = f"{name}({', '.join(parts)})"
        if as_tuple and self.python and isinstance(func, n.Name) and needs_tuple(func.id):
            return f"tuple({text})"
        return text

    def iterable(self, node: n.Expr, need: int) -> str:
        """What a ``for`` iterates over: in Python, ``range(n)`` rather than
        ``tuple(range(n))``."""
        call = n.strip(node)
        if self.python and isinstance(call, n.Call):
            return self.call(call, as_tuple=False)
        return self.run(node, need)

    def comprehension(self, node: n.ListComp) -> tuple[str, list[str]]:
        """The element of a comprehension, and its ``for …`` and ``if …`` parts."""
        parts = []
        for clause in node.clauses:
            # the iterable and the conditions are or_tests: a conditional needs brackets there
            iterable = self.iterable(clause.iterable, _OR)
            parts.append(f"for {', '.join(clause.targets)} in {iterable}")
            parts += [f"if {self.run(c, _OR)}" for c in clause.conditions]
        return self.run(node.element), parts

    def _slice(self, node: n.Slice) -> str:
        """``a:b:c`` as ruff writes it: colons spaced like a binary operator (no space where a
        part is left out) unless every part is a name or a literal, signed or not."""
        parts = [node.lower, node.upper, node.step]
        texts = ["" if p is None else self.run(p) for p in parts]
        if node.step is None:
            texts = texts[:2]
        if all(p is None or _plain(p) for p in parts):
            return ":".join(texts)
        out = texts[0]
        for before, after in zip(texts, texts[1:], strict=False):
            out += (" :" if before else ":") + (f" {after}" if after else "")
        return out

    def _const(self, value: object) -> str:
        if isinstance(value, bool):
            return repr(value) if self.python else ("true" if value else "false")
        if value is None:
            return "None" if self.python else "none"
        if isinstance(value, str):
            return python_string(value) if self.python else repr(value)
        if isinstance(value, float):
            text = repr(value)
            return text.replace("e+", "e") if self.python else text  # ruff writes 1e16
        if isinstance(value, tuple | list):
            return self._node(n.ListExpr(tuple(n.Const(v) for v in value)))
        return str(value)


def literal(value: object, python: bool = True) -> str:
    """A concrete value (int, float, bool, str, None, tuple, dict) as source text."""
    from netspec.expr.evaluate import as_expr

    return render(as_expr(value), python)
