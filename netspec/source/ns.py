"""Reading the ``.ns`` text format into the same positioned tree YAML gives.

A ``.ns`` file says what a YAML spec says, with braces and one statement per line::

    netspec 1
    name lenet5
    input [1, 32, 32]
    params {
        num_classes = 10
    }
    layers {
        c1: conv2d(6, 5)
        tanh
        ...
    }

The lark grammar (``ns.lark``) imports the expression rules of ``grammar.lark``, so layer calls
and expressions are the same text in both formats. The reader turns the parse tree into the
:mod:`netspec.source.yaml` node tree the YAML reader produces — ``layers`` a sequence, a named
layer a one-key mapping, an expression a scalar holding its text — so validation, error
positions and everything after are shared by the two formats.
"""

from __future__ import annotations

import ast
import functools
import keyword
import re
import warnings
from importlib import resources
from typing import Any

from lark import Token

from netspec.errors import Source, SourceError, Span, did_you_mean
from netspec.source.parser import (
    _CONSTANTS,
    NS_KEYWORDS,
    friendly_syntax_error,
    kinds,
    number,
    open_bracket,
    surrogate_problem,
)
from netspec.source.yaml import MAX_BYTES, MAX_DEPTH, YMap, YNode, YScalar, YSeq

KEYWORDS = NS_KEYWORDS
"""Words with a meaning in ``.ns`` statements; a layer or name cannot be one of them there."""


def word_as_name(word: str, what: str, quotable: bool = False) -> tuple[str, str]:
    """What to say of ``word``, a word of the ``.ns`` format (:data:`KEYWORDS`), written as
    the name of ``what`` (``"a parameter"``, ``"a layer"``…): ``(message, hint)``.

    The reader says it where such a name stands unquoted, and ``netspec fmt`` where it cannot
    write one. ``quotable``: ``.ns`` reads the name quoted there (a layer, a branch, a key), as
    fmt writes it; a parameter, ``let`` value or block name has no quoted form.
    """
    entry_key = what == "a layer" and word in ("for", "repeat", "if")
    quotable = quotable and not entry_key
    if quotable:
        message = f"{word!r} is a word of the .ns format and cannot name {what} there unquoted"
    else:
        message = f"{word!r} is a word of the .ns format and cannot name {what} there"
    if keyword.iskeyword(word) and what != "a key":
        hint = "rename it: it is a Python keyword as well, which no spec can use as a name"
    elif entry_key:  # `{repeat: …}` in a layer list is a repeat, however its key is written
        hint = f"rename it: in a layer list, `{word}:` starts a {word} in YAML as well"
    elif quotable:
        hint = f'quote it, as `netspec fmt` writes it: "{word}": …'
    else:
        hint = "rename it, or keep this spec in YAML"
    return message, hint


class _PostLex:
    """Drops new lines inside (...) and [...], where a statement continues."""

    always_accept = ("_NL",)

    def process(self, stream: Any) -> Any:
        depth = 0
        for tok in stream:
            kind = tok.type.rsplit("__", 1)[-1]
            if kind in ("LPAR", "LSQB"):
                depth += 1
            elif kind in ("RPAR", "RSQB"):
                depth = max(0, depth - 1)
            if tok.type == "_NL" and depth > 0:
                continue
            yield tok


@functools.cache
def _parser() -> Any:
    from lark import Lark

    path = resources.files("netspec.source").joinpath("ns.lark")
    return Lark.open(
        str(path),
        start="module",
        parser="lalr",
        postlex=_PostLex(),
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
    )


def compose(text: str, name: str) -> YNode:
    """Parse ``.ns`` text into a positioned tree, as :func:`netspec.source.yaml.compose` does.

    Raises:
        SourceError: a syntax error (positioned, in words), an empty file, or a limit.
    """
    from lark.exceptions import LarkError

    # a byte-order mark some editors write: not text, as YAML has it (and columns count from
    # after it, as editors show them)
    text = text.removeprefix("\ufeff")
    source = Source(name, text, ns=True)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise SourceError(
            f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB",
            Span(source, 1, 1),
            "document",
        )
    _check_depth(text, source)
    if not _has_statement(text):
        raise SourceError(
            "the file is empty",
            Span(source, 1, 1),
            "document",
            hint="a spec starts with `netspec 1`, `name …`, `input […]` and `layers { … }`",
        )
    try:
        tree = _parser().parse(text)
    except LarkError as exc:
        named = _word_as_name(exc, text)
        if named is not None:  # not a syntax error: a name the format keeps for itself
            at, word, word_message, word_hint = named
            raise SourceError(
                word_message, _span_at(source, at, len(word)), "document", word_hint
            ) from None
        offset, message, hint = friendly_syntax_error(exc, text, ns=True)
        message, hint = _in_context(exc, text, offset, message, hint)
        offset = min(offset, len(text.rstrip()))  # the end of the file: after its last word
        raise SourceError(
            f"invalid .ns syntax: {message}", _span_at(source, offset), "document", hint
        ) from None
    return _Reader(source).module(tree)


def _span_at(source: Source, offset: int, width: int = 0) -> Span:
    """The position of ``offset`` in the text (and of the ``width`` characters from it)."""
    text = source.text
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Span(source, line, col, line, col + width) if width else Span(source, line, col)


_KEY_CONSTANTS = _CONSTANTS
"""Mapping keys that are constants, spelt as in expressions (``true``, ``none``…)."""

_TOP_WORDS = (
    *("netspec", "name", "class", "description", "extends", "input", "input_dtype"),
    *("params", "let", "tensors", "block", "layers"),
)

_STATEMENT_WORDS = frozenset(
    {"for", "repeat", "if", "shortcut", "doc", "expansion", "residual", "merge", "first_only"}
    | {"inputs"}
    | {"branches", "then"}
)
"""Words that start a statement inside a section (a YAML habit writes them with a ':')."""

_FIRST_WORD = re.compile(r"[ \t]*([A-Za-z_]\w*)[ \t]*([=:{])?")


def _statement_start(text: str, offset: int, code: str) -> int:
    """Where the statement holding ``offset`` starts: after a new line, ';' or '{'."""
    for i in range(offset - 1, -1, -1):
        if code[i] == "c" and text[i] in "\n;{":
            return i + 1
    return 0


def _sections(text: str, offset: int, code: str) -> list[tuple[str, int]]:
    """The '{' still open at ``offset``, outermost first: the first word of the statement
    that opens each (``params``, ``let``, ``branches``, a layer's name…) and its position."""
    stack: list[tuple[str, int]] = []
    for i in range(offset):
        if code[i] != "c":
            continue
        if text[i] == "{":
            first = _FIRST_WORD.match(text, _statement_start(text, i, code))
            stack.append((first.group(1) if first else "", i))
        elif text[i] == "}" and stack:
            stack.pop()
    return stack


def _is_closed(text: str, opener: int, code: str) -> bool:
    """Whether the '{' at ``opener`` is closed somewhere after it."""
    depth = 0
    for i in range(opener, len(text)):
        if code[i] != "c":
            continue
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return True
    return False


def _word_as_name(exc: Exception, text: str) -> tuple[int, str, str, str] | None:
    """``(offset, word, message, hint)`` where the parser stopped at a word of the format
    written as a name (``params { layers = 2 }``, ``layers { for: relu }``): the lexer takes
    the word for the statement it starts, so the parser's own complaint would be beside the
    point."""
    from lark.exceptions import UnexpectedToken

    if not isinstance(exc, UnexpectedToken) or exc.token.type == "$END":
        return None
    offset = int(exc.token.start_pos or 0)
    code = kinds(text)
    start = _statement_start(text, offset, code)
    first = _FIRST_WORD.match(text, start)
    if first is None or first.group(1) not in KEYWORDS or first.group(2) is None:
        return None
    word, follow, at = first.group(1), first.group(2), first.start(1)
    if offset > first.start(2):
        return None  # the statement went wrong after its name, not at it
    sections = _sections(text, offset, code)
    if not sections or (open_bracket(text, offset) or ("", 0))[0] != "{":
        return None
    inner, opener = sections[-1]
    in_let = any(section == "let" for section, _ in sections)
    if follow == "{":  # a let mapping, or a section word after a section left open
        if not in_let or not _is_closed(text, opener, code):
            return None
        what, quotable = ("a let value", False) if inner == "let" else ("a key", True)
    elif follow == "=":
        what = {"params": "a parameter", "let": "a let value"}.get(inner, "a value")
        quotable = False
    elif inner in ("params", "let"):  # `name: value`, as YAML writes it
        what, quotable = ("a parameter" if inner == "params" else "a let value"), False
    elif in_let:
        what, quotable = "a key", True
    else:
        what, quotable = ("a branch" if inner == "branches" else "a layer"), True
    message, hint = word_as_name(word, what, quotable)
    if follow == ":" and word in _STATEMENT_WORDS and what in ("a layer", "a branch"):
        hint += f"; the `{word}` statement takes no ':'"
    return at, word, message, hint


_FORMS = {
    "for": ("a loop", "`for NAME in EXPR { … }` or `for A, B in EXPR { … }`"),
    "repeat": ("a repeat", "`repeat EXPR { … }` or `repeat EXPR as NAME { … }`"),
    "if": ("a condition", "`if EXPR { … }` or `if EXPR { … } else { … }`"),
    "shortcut": ("a shortcut", "`shortcut [when EXPR] [as NAME] [{ … }]`"),
    "block": ("a block", "`block Name(param, param = default) { … }`"),
}


_FROM_CHILD = re.compile(r"\bfrom\s*(?:\[[^\]]*[\[,]\s*)?([A-Za-z_]\w*)\s*\.\s*$")
"""The text of a line up to a ``from`` name's ``.``: what follows must be an index."""


def _in_context(
    exc: Exception, text: str, offset: int, message: str, hint: str | None
) -> tuple[str, str | None]:
    """A clearer message where the parser's expectations are too broad to say much: inside an
    unclosed bracket, after a complete statement, or at a misspelt statement word."""
    from lark.exceptions import UnexpectedEOF, UnexpectedToken

    opener = open_bracket(text, offset)
    where = ""
    if opener is not None:
        line = text.count("\n", 0, opener[1]) + 1
        col = opener[1] - (text.rfind("\n", 0, opener[1]) + 1) + 1
        where = f"the '{opener[0]}' at line {line}, column {col} is not closed"
    at_end = isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    )
    if at_end:
        return message, where or hint
    if not isinstance(exc, UnexpectedToken):
        return message, hint
    token = str(exc.token)
    expected = {str(e).rsplit("__", 1)[-1] for e in exc.expected}
    tap = _FROM_CHILD.search(text[text.rfind("\n", 0, offset) + 1 : offset])
    if tap is not None:  # `from [s, s.x1]`: a sequence's child is read by its position
        seq = tap.group(1)
        return (
            "`from` names a tensor by a layer's name (an identifier), or a child of a sequence "
            f"by its index (`backbone.4`), found '{seq}.{token}'",
            f"write {seq}.0, {seq}.1, … (the child's index in {seq}), or a layer's name",
        )
    inside = {"RPAR", "RSQB", "COMMA", "_IF", "FOR", "COLON"}
    if opener is not None and opener[0] in "([" and inside & expected:
        close = ")" if opener[0] == "(" else "]"
        return f"unexpected {token!r}: expected ',' or '{close}' or an operator", where
    if opener is not None and opener[0] == "{" and expected == {"LBRACE", "RBRACE"}:
        # between the paths of a `parallel`, which are `{ … }` sections only
        return (
            f"unexpected {token!r}: a parallel holds its paths only, each in {{ … }}",
            f"{where}; close it with '}}' before this line",
        )
    at_line_start = not text[text.rfind("\n", 0, offset) + 1 : offset].strip()
    if opener is not None and opener[0] == "{" and token in _TOP_WORDS and at_line_start:
        if not _is_closed(text, opener[1], kinds(text)):
            return f"unexpected {token!r}: a section before it is not closed", where
        return (
            f"unexpected {token!r} inside a section: it is a statement of the top level",
            f"move it out of the section opened by {where.removesuffix(' is not closed')}",
        )
    start = text.rfind("\n", 0, offset) + 1
    first = re.match(r"\s*(\w+)", text[start:offset])
    word = first.group(1) if first else ""
    if word in _FORMS and token != word:
        return f"unexpected {token!r} in {_FORMS[word][0]}", f"it reads {_FORMS[word][1]}"
    if exc.token.type == "NAME" and "_NL" not in expected:
        guess = did_you_mean(token, list(_TOP_WORDS))
        if guess:
            return message, guess
    stop = text.find("\n", offset)
    line_text = text[start : len(text) if stop < 0 else stop]
    if token == ":" and opener is None and re.match(r"\s*netspec\s*:", line_text):
        return (
            "unexpected ':': this is YAML (`netspec: 1`), not .ns text (`netspec 1`)",
            "rename it to FILE.yaml (then `netspec fmt FILE.yaml --out FILE.ns` converts it)",
        )
    quoted = re.match(r"\s*(extends|description)\s+([^\s\"'].*?)\s*(#.*)?$", line_text)
    if opener is None and quoted is not None and offset >= start + quoted.start(2):
        return (
            f"unexpected {token!r}: `{quoted.group(1)}` takes a quoted string",
            f'write {quoted.group(1)} "{quoted.group(2)}"',
        )
    template = re.match(r"\s*([A-Za-z_]\w*\{[^{}\"'\n]*\}[\w{}]*)\s*:\s*(.*?)\s*(#.*)?$", line_text)
    if template is not None and offset >= start + template.start(1):
        return (
            f"unexpected {token!r}: a name template is quoted in .ns",
            f'write "{template.group(1)}": {template.group(2) or "…"}',
        )
    section = None
    if opener is not None and opener[0] == "{":
        opened = text[text.rfind("\n", 0, opener[1]) + 1 : opener[1]].split()
        section = opened[0] if opened else None
    declared = re.match(r"\s*([A-Za-z_]\w*)\s*(:?)\s*(.*?)\s*(#.*)?$", line_text)
    if (
        section == "params"
        and declared is not None
        and "=" not in declared.group(3)
        and declared.group(3)  # a value to show (a name alone: the parser's words)
        and (token == ":" or not declared.group(2))
    ):
        value = declared.group(3)
        return (
            f"unexpected {token!r}: a parameter is declared with '=' in .ns",
            f"write {declared.group(1)} = {value}",
        )
    if "_NL" in expected and hint is None:
        return (
            f"unexpected {token!r}: expected an operator or the end of the statement",
            "one statement per line (or separate them with ';')",
        )
    return message, hint


def _blank_comments(text: str) -> str:
    """``text`` with its comments (in a call wrapped over lines) turned to spaces, so the
    expression parser sees code only and every column stays where it was."""
    if "#" not in text:
        return text
    return "".join(" " if kind == "#" else ch for ch, kind in zip(text, kinds(text), strict=True))


def _has_statement(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].strip()
        if stripped and stripped != ";":
            return True
    return False


def _check_depth(text: str, source: Source) -> None:
    level = 0
    line, col = 1, 0
    for ch in text:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
        elif ch in "{([":
            level += 1
            if level > MAX_DEPTH:
                raise SourceError(
                    f"nesting deeper than {MAX_DEPTH} levels", Span(source, line, col), "document"
                )
        elif ch in "})]":
            level -= 1


class _Reader:
    """Parse tree → YAML-shaped node tree, with spans into the ``.ns`` text."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.text = source.text

    # -- positions ---------------------------------------------------------------------------

    def span(self, item: Any) -> Span:
        meta = getattr(item, "meta", None)
        if meta is not None and not getattr(meta, "empty", True):
            return Span(self.source, meta.line, meta.column, meta.end_line, meta.end_column)
        line = getattr(item, "line", None) or 1
        col = getattr(item, "column", None) or 1
        return Span(
            self.source,
            line,
            col,
            getattr(item, "end_line", None),
            getattr(item, "end_column", None),
        )

    def slice(self, tree: Any) -> str:
        meta = tree.meta
        return _blank_comments(str(self.text[meta.start_pos : meta.end_pos]))

    def unquote(self, token: Any, text: str | None = None) -> str:
        """The text of a string literal, or a positioned error."""
        try:
            with warnings.catch_warnings():
                # '\c' is a backslash and a c, as Python reads it: never a warning on the
                # user's terminal, nor an exception where warnings are errors (-W error)
                warnings.simplefilter("ignore")
                value = ast.literal_eval(str(token) if text is None else text)
        except (ValueError, SyntaxError) as exc:
            reason = "it holds a NUL character" if "\x00" in str(token) else str(exc.args[0])
            raise SourceError(
                f"invalid string literal: {reason}", self.span(token), "document"
            ) from None
        problem = surrogate_problem(str(value))
        if problem:
            raise SourceError(f"invalid string literal: {problem}", self.span(token), "document")
        return str(value)

    def name(self, token: Any, what: str, quotable: bool = False) -> YScalar:
        """A name written unquoted: never a word of the format (the lexer reads some as names
        where no statement can start, as in ``block layers``), as ``netspec fmt`` never
        writes one."""
        if str(token) in KEYWORDS:
            message, hint = word_as_name(str(token), what, quotable)
            raise SourceError(message, self.span(token), "document", hint)
        return self.key(token)

    def source_name(self, tree: Any) -> YScalar:
        """A tensor ``from`` reads: a name, or a sequence's child (``backbone.4``)."""
        name, index = tree.children
        if index is None:
            return self.key(name)
        return YScalar(self.span(tree), 1, f"{name}.{index}", "")

    def key(self, token: Any, value: Any = None) -> YScalar:
        return YScalar(self.span(token), 1, str(token) if value is None else value, "")

    def pair(self, mapping: YMap, key: YScalar, value: YNode) -> None:
        for existing, _ in mapping.items:
            if existing.value == key.value:
                raise SourceError(
                    f"{key.value!r} is given twice (first at line {existing.span.line})",
                    key.span,
                    "document",
                    hint="each key may appear once in a section",
                )
        mapping.items.append((key, value))
        mapping.size += value.size

    # -- values --------------------------------------------------------------------------------

    def expr(self, tree: Any) -> YNode:
        """An expression, as YAML would hold it: literals typed, lists as sequences, the rest
        as text (parsed again, with its position, by the loader)."""
        kind = _kind(tree)
        if kind in ("int_", "float_"):
            try:
                value = number(str(tree.children[0]))
            except ValueError as exc:
                raise SourceError(str(exc), self.span(tree), "document") from None
            return YScalar(self.span(tree), 1, value, "")
        if kind == "name" and str(tree.children[0]) in _CONSTANTS:
            return YScalar(self.span(tree), 1, _CONSTANTS[str(tree.children[0])], "")
        if (
            kind == "unary"
            and str(tree.children[0]) == "-"
            and _kind(tree.children[1])
            in (
                "int_",
                "float_",
            )
        ):
            inner = self.expr(tree.children[1])
            assert isinstance(inner, YScalar) and isinstance(inner.value, int | float)
            return YScalar(self.span(tree), 1, -inner.value, "")
        if kind == "list_":
            items = [self.expr(c) for c in _items(tree)]
            return YSeq(self.span(tree), 1 + sum(i.size for i in items), items)
        return YScalar(self.span(tree), 1, self.slice(tree), "")

    def literal(self, tree: Any, what: str) -> YNode:
        """A value that must be a literal (a parameter's default, its choices)."""
        kind = _kind(tree)
        if kind == "string":
            return YScalar(self.span(tree), 1, self.unquote(tree.children[0]), '"')
        if kind == "list_":
            items = [self.literal(c, what) for c in _items(tree)]
            return YSeq(self.span(tree), 1 + sum(i.size for i in items), items)
        node = self.expr(tree)
        if isinstance(node, YScalar) and not isinstance(node.value, str):
            return node
        raise SourceError(
            f"{what} is a value (a number, text, true/false or a list), not an expression",
            self.span(tree),
            "document",
            hint="derived values go under `let`",
        )

    def string(self, token: Any) -> YScalar:
        return YScalar(self.span(token), 1, self.unquote(token), '"')

    # -- the module ------------------------------------------------------------------------------

    def module(self, tree: Any) -> YMap:
        root = YMap(Span(self.source, 1, 1))
        blocks: YMap | None = None
        for item in tree.children:
            if item is None:
                continue
            kind = _kind(item)
            if kind == "block":
                if blocks is None:
                    blocks = YMap(self.span(item))
                    self.pair(root, YScalar(self.span(item), 1, "blocks", ""), blocks)
                name_token = item.children[0]
                self.pair(blocks, self.name(name_token, "a block"), self.block(item))
            elif kind == "params":
                self.pair(root, self.key(item, "params"), self.params(item))
            elif kind == "let":
                self.pair(root, self.key(item, "let"), self.let(item))
            elif kind == "model_tensors":
                self.pair(root, self.key(item, "tensors"), self.let(item, "a tensor"))
            elif kind == "layers":
                self.pair(root, self.key(item, "layers"), self.entries(item.children[0]))
            else:
                key, value = self.header(kind, item)
                self.pair(root, key, value)
        root.size = 1 + sum(v.size for _, v in root.items)
        return root

    def header(self, kind: str, item: Any) -> tuple[YScalar, YNode]:
        key = {"version": "netspec", "class_name": "class_name"}.get(kind, kind)
        child = item.children[0]
        if kind in ("version",):
            value: YNode = YScalar(self.span(child), 1, int(child), "")
        elif kind in ("name", "class_name", "input_dtype"):
            value = YScalar(self.span(child), 1, str(child), "")
        elif kind in ("description", "extends"):
            value = self.string(child)
        else:  # input
            value = self.expr(child)
        return YScalar(self.span(item), 1, key, ""), value

    def params(self, tree: Any) -> YMap:
        out = YMap(self.span(tree))
        for param in tree.children:
            if param is None:
                continue
            name, default, choices, require, doc = param.children
            key = self.name(name, "a parameter")
            value = self.literal(default, f"the default of {name}")
            if choices is None and require is None and doc is None:
                self.pair(out, key, value)
                continue
            decl = YMap(self.span(param))
            self.pair(decl, YScalar(self.span(default), 1, "default", ""), value)
            if choices is not None:
                self.pair(
                    decl,
                    YScalar(self.span(choices), 1, "choices", ""),
                    self.literal(choices, f"the choices of {name}"),
                )
            if require is not None:
                self.pair(decl, YScalar(self.span(require), 1, "require", ""), self.expr(require))
            if doc is not None:
                self.pair(decl, YScalar(self.span(doc), 1, "doc", ""), self.string(doc))
            self.pair(out, key, decl)
        return out

    def let(self, tree: Any, what: str = "a let value") -> YMap:
        out = YMap(self.span(tree))
        for item in tree.children:
            if item is None:
                continue
            name, value = item.children
            key = self.name(name, what)
            node = self.mapping(value) if _kind(item) == "let_mapping" else self.expr(value)
            self.pair(out, key, node)
        return out

    def mapping(self, tree: Any) -> YMap:
        out = YMap(self.span(tree))
        for entry in tree.children:
            if entry is None:
                continue
            key_tree, value = entry.children
            key = self.map_key(key_tree)
            node = self.mapping(value) if _kind(entry) == "map_mapping" else self.expr(value)
            self.pair(out, key, node)
        return out

    def map_key(self, key: Any) -> YScalar:
        if _kind(key) == "negative":
            (token,) = key.children
            number = float(token) if token.type.endswith("FLOAT") else int(token)
            return YScalar(self.span(key), 1, -number, "")
        token = key
        text = str(token)
        if token.type.endswith("INT"):
            return YScalar(self.span(token), 1, int(text), "")
        if token.type.endswith("FLOAT"):
            return YScalar(self.span(token), 1, float(text), "")
        if text in _KEY_CONSTANTS:  # as in YAML: `true: 8` is keyed by the boolean
            return YScalar(self.span(token), 1, _KEY_CONSTANTS[text], "")
        if token.type.endswith("STRING"):
            return YScalar(self.span(token), 1, self.unquote(token, text), '"')
        return YScalar(self.span(token), 1, text, "")

    # -- blocks ----------------------------------------------------------------------------------

    def block(self, tree: Any) -> YMap:
        name, params, *items = tree.children
        out = YMap(self.span(tree))
        if params is not None:
            seq = YSeq(self.span(params))
            for p in params.children:
                if p is not None:
                    self.name(p.children[0], "a block parameter")
                    seq.items.append(YScalar(self.span(p), 1, self.slice(p), ""))
            self.pair(out, YScalar(self.span(params), 1, "params", ""), seq)
        body = YSeq(self.span(tree))
        for item in items:
            if item is None:
                continue
            kind = _kind(item)
            key = YScalar(self.span(item), 1, kind, "")
            if kind == "doc":
                self.pair(out, key, self.string(item.children[0]))
            elif kind in ("expansion", "residual", "split"):
                self.pair(out, key, self.expr(item.children[0]))
            elif kind == "merge":
                self.pair(out, key, self.key(item.children[0]))
            elif kind in ("first_only", "inputs"):
                names = [self.key(t) for t in item.children if t is not None]
                self.pair(out, key, YSeq(self.span(item), 1 + len(names), list(names)))
            elif kind == "let":
                self.pair(out, YScalar(self.span(item), 1, "let", ""), self.let(item))
            elif kind == "tensors":
                self.pair(out, key, self.let(item, "a tensor"))
            elif kind == "shortcut":
                self.pair(out, key, self.shortcut(item))
            elif kind == "branches":
                numbered = [
                    b for b in item.children if b is not None and b.data == "numbered_branch"
                ]
                if numbered:  # `branches { {…} {…} }`: numbered paths, as a list
                    if len(numbered) != len([b for b in item.children if b is not None]):
                        raise SourceError(
                            "branches are all named (`name: …`) or all numbered (`{ … }`)",
                            self.span(item),
                            "document",
                            "name every branch, or write each as `{ layers }` to number them",
                        )
                    paths = YSeq(self.span(item))
                    for branch in numbered:
                        paths.items.append(self.entries(branch.children[0].children[0]))
                    paths.size = 1 + sum(p.size for p in paths.items)
                    self.pair(out, key, paths)
                    continue
                branches = YMap(self.span(item))
                for branch in item.children:
                    if branch is not None:
                        bname, value = branch.children
                        if bname.type.endswith("STRING"):
                            label = self.key(bname, self.unquote(bname))
                        else:
                            label = self.name(bname, "a branch", quotable=True)
                        self.pair(branches, label, self.value(value))
                self.pair(out, key, branches)
            elif kind == "then":
                self.pair(out, key, self.entries(item.children[0]))
            else:
                body.items.append(self.entry(item))
        if body.items:
            self.pair(out, YScalar(body.items[0].span, 1, "body", ""), body)
        return out

    def shortcut(self, tree: Any) -> YMap:
        when, name, layers = tree.children
        out = YMap(self.span(tree))
        if when is not None:
            self.pair(out, YScalar(self.span(when), 1, "when", ""), self.expr(when))
        if layers is not None:
            self.pair(
                out, YScalar(self.span(layers), 1, "project", ""), self.entries(layers.children[0])
            )
        if name is not None:
            self.pair(out, YScalar(self.span(name), 1, "name", ""), self.key(name))
        return out

    # -- layers ----------------------------------------------------------------------------------

    def entries(self, tree: Any) -> YSeq:
        items = [self.entry(e) for e in tree.children if e is not None]
        return YSeq(self.span(tree), 1 + sum(i.size for i in items), items)

    def entry(self, tree: Any) -> YNode:
        kind = _kind(tree)
        span = self.span(tree)
        if kind == "call":
            return YScalar(span, 1, self.slice(tree.children[0]), "")
        if kind in ("named", "named_template"):
            token, value, sources = tree.children
            if kind == "named_template":
                key = YScalar(self.span(token), 1, self.unquote(token), "")
            else:
                key = self.name(token, "a layer", quotable=True)
            if key.value in ("for", "repeat", "if"):  # quoted: still a loop's or a condition's key
                message, hint = word_as_name(str(key.value), "a layer", quotable=True)
                raise SourceError(message, key.span, "document", hint)
            out = YMap(span)
            self.pair(out, key, self.value(value))
            if sources is not None:
                names = [self.source_name(t) for t in sources.children]
                node: YNode = names[0]
                if _kind(sources) == "source_list":
                    node = YSeq(self.span(sources), 1 + len(names), list(names))
                self.pair(out, YScalar(self.span(sources), 1, "from", ""), node)
            return out
        if kind == "mapping_entry":
            return self.mapping_call(tree)
        out = YMap(span)
        if kind == "for_":
            *names, iterable, body = tree.children
            start = names[0].start_pos
            header = self.text[start : iterable.meta.end_pos]
            self.pair(out, YScalar(span, 1, "for", ""), YScalar(self.span(names[0]), 1, header, ""))
            self.pair(out, YScalar(span, 1, "do", ""), self.entries(body))
        elif kind == "repeat":
            count, as_name, body = tree.children
            self.pair(out, YScalar(span, 1, "repeat", ""), self.expr(count))
            if as_name is not None:
                self.pair(out, YScalar(self.span(as_name), 1, "as", ""), self.key(as_name))
            self.pair(out, YScalar(span, 1, "do", ""), self.entries(body))
        elif kind == "parallel":
            merge, split, *paths = tree.children
            seq = YSeq(span)
            for path in paths:
                if path is not None:
                    seq.items.append(self.entries(path.children[0]))
            seq.size = 1 + sum(p.size for p in seq.items)
            self.pair(out, YScalar(span, 1, "parallel", ""), seq)
            if merge is not None:
                self.pair(out, YScalar(self.span(merge), 1, "merge", ""), self.key(merge))
            if split is not None:
                self.pair(out, YScalar(self.span(split), 1, "split", ""), self.expr(split))
        else:  # if_
            test, then, orelse = tree.children
            self.pair(out, YScalar(span, 1, "if", ""), self.expr(test))
            self.pair(out, YScalar(self.span(then), 1, "then", ""), self.entries(then))
            if orelse is not None:
                self.pair(out, YScalar(self.span(orelse), 1, "else", ""), self.entries(orelse))
        return out

    def value(self, tree: Any) -> YNode:
        kind = _kind(tree)
        if kind == "value_seq":
            return self.entries(tree.children[0])
        if kind == "value_mapping":
            return self.mapping_call(tree)
        return YScalar(self.span(tree), 1, self.slice(tree.children[0]), "")

    def mapping_call(self, tree: Any) -> YMap:
        op, call = tree.children
        args = YMap(self.span(call))
        for arg in call.children:
            if arg is not None:
                key, value = arg.children
                self.pair(args, self.key(key), self.expr(value))
        out = YMap(self.span(tree))
        self.pair(out, self.key(op), args)
        return out


def _items(tree: Any) -> list[Any]:
    """The items of a list: its children without the brackets."""
    return [c for c in tree.children if c is not None and not isinstance(c, Token)]


def _kind(tree: Any) -> str:
    data = getattr(tree, "data", None)
    if data is None:
        return ""
    return str(data).rsplit("__", 1)[-1]
