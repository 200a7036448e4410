"""Writing a spec back as text: canonical YAML and canonical ``.ns``.

Both writers print the AST of one spec file (``extends`` stays a reference) in a fixed key order
and layout, with every expression re-rendered from its parsed tree, so formatting is
canonical and idempotent, and YAML → ``.ns`` → YAML gives the same AST. Comments are kept:
each one is attached, by position, to the key or layer it precedes or ends the line of, and
written back there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from netspec.errors import NetspecError, Span, lines_of
from netspec.expr import nodes as n
from netspec.expr.render import render
from netspec.source.ns import KEYWORDS, word_as_name
from netspec.spec import models as m

INDENT = "  "
_PLAIN = re.compile(r"^[A-Za-z_(][^\n]*$")
_YAML_SPECIAL = re.compile(r"(: |\s#|^[-?:,\[\]{}#&*!|>'\"%@`])|[:]$")
_RESERVED_SCALARS = re.compile(
    r"^(~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|no|on|off|Yes|No|On|Off|YES|NO|ON|OFF"
    r"|[-+]?[0-9][0-9_]*(\.[0-9]*)?([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF|nan|NaN|NAN))$"
)


class Comments:
    """Comments of a source text, by line: a spec's comments survive a round of formatting."""

    def __init__(self, text: str, ns: bool) -> None:
        self.ns = ns
        self.full: dict[int, list[str]] = {}
        self.trailing: dict[int, str] = {}
        self.used: set[int] = set()
        self.held: set[int] = set()  # lines whose first comment is taken, the rest is kept
        block: int | None = None  # the indentation of the line that opened a block scalar
        for number, line in enumerate(lines_of(text, ns), 1):
            indent = len(line) - len(line.lstrip(" "))
            if block is not None:
                if not line.strip() or indent > block:
                    continue  # a line of the block scalar's text, `#` included
                block = None
            at = _comment_at(line, ns)
            code = line if at is None else line[:at]
            if not ns and _BLOCK_SCALAR.search(code):
                block = indent
            if at is None:
                continue
            comment = line[at:].rstrip()
            if line[:at].strip():
                self.trailing[number] = comment
            else:
                self.full[number] = [comment]

    def before(self, span: Span | None, through: int | None = None) -> list[str]:
        """Whole-line comments between the previous taken line and ``span``'s line; with
        ``through``, those on the lines after it up to ``through`` too (what one line writes
        that took several)."""
        if span is None:
            return []
        return self.before_line(span.line, through)

    def before_line(self, line: int, through: int | None = None) -> list[str]:
        """Whole-line comments between the previous taken line and ``line`` (and, with
        ``through``, those after it up to ``through``)."""
        out = []
        earlier = [k for k in set(self.full) | set(self.trailing) if k < line]
        inside = [k for k in self.full if line < k <= (through or 0)]
        for number in sorted(k for k in earlier + inside if k not in self.used | self.held):
            self.used.add(number)
            # a comment that ended a line with nothing of its own to attach to stays, on a
            # line of its own, where it was
            out += self.full.get(number) or [self.trailing[number]]
        return out

    def after(
        self,
        span: Span | None,
        through: int | None = None,
        also: tuple[Span | None, ...] = (),
        first: bool = False,
    ) -> str:
        """The comment ending ``span``'s line; with ``through``, those ending each line from
        it to ``through`` too, and with ``also`` those ending the lines of these spans (what
        one line writes that took several), one after another. With ``first``, only the first
        of several comments ending ``span``'s line (``.ns`` joined them): a later line written
        from the same source line takes the rest."""
        if span is None:
            return ""
        lines = {*range(span.line, max(span.line, through or 0) + 1)}
        lines |= {s.line for s in also if s is not None}
        found = []
        for line in sorted(lines):
            comment = self.trailing.get(line, "")
            if not comment or line in self.used:
                continue
            head, joined, rest = comment.partition("  #")
            if first and line == span.line and joined:
                self.trailing[line] = "#" + rest
                self.held.add(line)
                found.append(head)
                continue
            self.used.add(line)
            self.held.discard(line)
            found.append(comment)
        return "  ".join(found)

    def closing(self, span: Span | None) -> tuple[list[str], str]:
        """For the ``}`` that ends ``span`` (a section of ``.ns`` text): the whole-line comments
        before it, which stay inside the braces, and the comment ending its line."""
        if span is None or not self.ns or not span.end_line or span.end_line == span.line:
            return [], ""
        inside = self.before_line(span.end_line)
        end = self.trailing.get(span.end_line, "")
        if end and span.end_line not in self.used:
            self.used.add(span.end_line)
            return inside, end
        return inside, ""

    def rest(self) -> list[str]:
        earlier = sorted((set(self.full) | set(self.trailing)) - self.used)
        return [c for k in earlier for c in self.full.get(k) or [self.trailing[k]]]


_BLOCK_SCALAR = re.compile(r"(^|[\s:-])[|>][-+0-9]*\s*$")
"""The end of a line that opens a YAML block scalar (``description: |``, ``- >-``)."""


def _comment_at(line: str, ns: bool) -> int | None:
    """Where a comment starts on ``line`` (outside quotes), or ``None``."""
    quote = ""
    escaped = False
    for i, ch in enumerate(line):
        if escaped:
            escaped = False
        elif quote:
            # a backslash escapes the next character in .ns strings and YAML's double quotes;
            # in YAML's single quotes a quote is doubled (`''`), which closes and reopens here
            if ch == "\\" and (ns or quote == '"'):
                escaped = True
            elif ch == quote:
                quote = ""
                if not ns and ch == "'" and line[i + 1 : i + 2] == "'":
                    quote, escaped = ch, True
        elif ch in "\"'":
            before = line[i - 1] if i else " "
            # in YAML a quote opens a string only where a scalar starts; in .ns always
            if ns or before in " :[,{-" or i == 0:
                quote = ch
        elif ch == "#" and (ns or i == 0 or line[i - 1] in " \t"):
            return i
    return None


def _no_comments() -> Comments:
    return Comments("", False)


_SCHEMA_COMMENT = "# yaml-language-server:"
"""The comment that points YAML editors at the schema; it means nothing in ``.ns`` text."""


def comments_of(spec: m.SpecFile, ns: bool = False) -> Comments:
    """The comments of the file ``spec`` was read from (its own, not those it extends), for
    writing as ``.ns`` text if ``ns``."""
    if not spec._sources:
        return _no_comments()
    source = spec._sources[0]
    comments = Comments(source.text, source.name.endswith(".ns"))
    if ns:
        for line, texts in list(comments.full.items()):
            if texts[0].startswith(_SCHEMA_COMMENT):
                del comments.full[line]
    return comments


def _key(owner: m.Node, key: str, default: Span | None) -> Span | None:
    """Where ``key`` of ``owner`` was written (comments attach there), else ``default``."""
    spans = owner.__pydantic_private__ or {}
    found: Span | None = spans.get("_key_spans", {}).get(key)
    return found or default


def _expr(code: m.Code) -> str:
    """An expression in spec syntax, as its parsed tree renders it."""
    if code.node is None:
        return str(code.raw)
    return render(code.node)


# -- YAML --------------------------------------------------------------------------------------


def _scalar(value: Any, flow: bool = False) -> str:
    """A YAML scalar: plain where YAML reads it back as the same text, quoted otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    plain = (
        text == text.strip()
        and text
        and text.isprintable()
        and not _YAML_SPECIAL.search(text)
        and not _RESERVED_SCALARS.match(text)
        and not (flow and any(ch in text for ch in ",[]{}"))
    )
    return text if plain else quoted(text)


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quoted(text: str) -> str:
    """``text`` in double quotes, readable alike as a YAML double-quoted scalar and as an
    expression string: backslash escapes for quotes and every character that is not
    printable (``\\x1b``, ``\\u2028``), so no text can break a line or the file."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _flow(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{_scalar(k, flow=True)}: {_flow(v)}" for k, v in value.items()) + "}"
        )
    return _scalar(value, flow=True)


def _bare(decl: m.ParamDecl) -> bool:
    """A declared param with nothing but its default (``k: {default: 3}`` is ``k: 3``)."""
    return decl.doc is None and decl.choices is None and decl.require is None


def _value_yaml(code: m.Code) -> Any:
    """The YAML value of an expression: its literal structure, with text for the rest."""
    if code.node is None:
        return code.raw
    return _expr_value(code.node)


def _expr_value(node: n.Expr) -> Any:
    node = n.strip(node)
    if isinstance(node, n.Const) and not isinstance(node.value, str):
        return node.value
    if isinstance(node, n.Unary) and node.op == "-" and isinstance(n.strip(node.operand), n.Const):
        inner = n.strip(node.operand)
        assert isinstance(inner, n.Const)
        if isinstance(inner.value, int | float) and not isinstance(inner.value, bool):
            return -inner.value
    if isinstance(node, n.ListExpr):
        return [_expr_value(i) for i in node.items]
    if isinstance(node, n.DictExpr):
        return {_key_value(k): _expr_value(v) for k, v in zip(node.keys, node.values, strict=True)}
    return render(node)


def _key_value(node: n.Expr) -> Any:
    """A mapping key: a literal (``a`` in ``{a: 1}`` is the text "a", not a name)."""
    node = n.strip(node)
    return node.value if isinstance(node, n.Const) else _expr_value(node)


class _Writer:
    """Lines of text at an indentation depth, each with the comments that belong to it."""

    indent = INDENT

    def __init__(self, comments: Comments) -> None:
        self.lines: list[str] = []
        self.comments = comments

    def emit(
        self,
        depth: int,
        text: str,
        span: Span | None = None,
        through: int | None = None,
        also: tuple[Span | None, ...] = (),
        first: bool = False,
        own: bool = True,
    ) -> None:
        """``text`` at ``depth``, after the comments before ``span``'s line and with the one
        ending it (and those of the lines up to ``through``, and the comments ending the lines
        of ``also``: keys that ``text`` also writes). ``first``: another line written after
        this one comes from the same source line, and takes the rest of its comments; not
        ``own``: what follows was written on ``span``'s line and takes its comment."""
        pad = self.indent * depth
        for comment in self.comments.before(span, through):
            self.lines.append(pad + comment)
        trailing = self.comments.after(span, through, also, first) if own else ""
        self.lines.append(pad + text + (f"  {trailing}" if trailing else ""))

    def close(self, depth: int, span: Span | None, text: str = "}") -> None:
        """``text`` (a ``}``) ending the section ``span`` opened: the comments before that
        line in the source stay inside the braces, and the one ending it stays on it."""
        inside, end = self.comments.closing(span)
        pad = self.indent * depth
        self.lines += [pad + self.indent + comment for comment in inside]
        self.lines.append(pad + text + (f"  {end}" if end else ""))


def _on_line(span: Span | None, *others: Span | None) -> bool:
    """Whether one of ``others`` was written on ``span``'s line (``.ns`` writes one line where
    YAML writes several)."""
    return span is not None and any(o is not None and o.line == span.line for o in others)


class _YamlWriter(_Writer):
    def value(
        self, depth: int, key: str, value: Any, span: Span | None = None, first: bool = False
    ) -> None:
        """``key: value``; mappings and long lists go on the following lines."""
        if isinstance(value, dict) and not value:
            self.emit(depth, f"{key}: {{}}", span, first=first)
        elif isinstance(value, dict):
            self.emit(depth, f"{key}:", span, first=first)
            for k, v in value.items():
                self.value(depth + 1, _scalar(k), v)
        elif isinstance(value, list) and (len(_flow(value)) + len(key) + 2 * depth > 90):
            self.emit(depth, f"{key}:", span, first=first)
            for item in value:
                self.emit(depth + 1, f"- {_flow(item)}")
        elif isinstance(value, list):
            self.emit(depth, f"{key}: {_flow(value)}", span, first=first)
        else:
            self.emit(depth, f"{key}: {_scalar(value)}", span, first=first)

    def entries(self, depth: int, entries: list[Any]) -> None:
        for entry in entries:
            self.entry(depth, entry)

    def entry(self, depth: int, entry: Any) -> None:
        pad = depth
        if isinstance(entry, m.LayerRef):
            self.emit(pad, f"- {_scalar(_expr(entry))}", entry.span)
        elif isinstance(entry, m.MappingCall):
            op, args = next(iter(entry.root.items()))
            inner = ", ".join(f"{k}: {_flow(_value_yaml(v))}" for k, v in args.items())
            self.emit(pad, f"- {{{_scalar(op)}: {{{inner}}}}}", entry.span)
        elif isinstance(entry, m.NamedEntry):
            self.named(pad, entry.name.text, entry.value, entry.span, prefix="- ")
            if entry.sources is not None:
                self.emit(pad + 1, f"from: {_flow(entry.sources.raw)}", entry.sources.span)
        elif isinstance(entry, m.ForEntry):
            header = f"{', '.join(entry.for_.names)} in {_expr(entry.for_)}"
            do = _key(entry, "do", None)
            self.emit(pad, f"- for: {_scalar(header)}", entry.span, first=_on_line(entry.span, do))
            self.steps(pad + 1, "do", entry.do, do)
        elif isinstance(entry, m.RepeatEntry):
            as_, do = _key(entry, "as", None), _key(entry, "do", None)
            text = f"- repeat: {_scalar(_value_yaml(entry.repeat))}"
            self.emit(pad, text, entry.span, first=_on_line(entry.span, as_, do))
            if entry.as_:
                self.emit(pad + 1, f"as: {entry.as_}", as_, first=_on_line(as_, do))
            self.steps(pad + 1, "do", entry.do, do)
        elif isinstance(entry, m.IfEntry):
            then, else_ = _key(entry, "then", None), _key(entry, "else", None)
            text = f"- if: {_scalar(_value_yaml(entry.if_))}"
            self.emit(pad, text, entry.span, first=_on_line(entry.span, then))
            self.steps(pad + 1, "then", entry.then, then)
            if entry.else_:
                self.steps(pad + 1, "else", entry.else_, else_)
        elif isinstance(entry, m.ParallelEntry):
            self.emit(pad, "- parallel:", entry.span)
            for path in entry.parallel:
                if path:
                    self.emit(pad + 2, "-")
                    self.entries(pad + 3, path)
                else:
                    self.emit(pad + 2, "- []")
            if entry.merge is not None:
                self.emit(pad + 1, f"merge: {entry.merge}", entry.key_span("merge"))
            if entry.split is not None:
                self.value(pad + 1, "split", _value_yaml(entry.split), entry.key_span("split"))
        else:  # pragma: no cover
            raise TypeError(entry)

    def named(self, depth: int, name: str, value: Any, span: Span | None, prefix: str = "") -> None:
        key = f"{prefix}{_scalar(name)}"
        if isinstance(value, m.LayerRef):
            self.emit(depth, f"{key}: {_scalar(_expr(value))}", span)
        elif isinstance(value, m.MappingCall):
            op, args = next(iter(value.root.items()))
            inner = ", ".join(f"{k}: {_flow(_value_yaml(v))}" for k, v in args.items())
            self.emit(depth, f"{key}: {{{_scalar(op)}: {{{inner}}}}}", span)
        else:
            items = value if isinstance(value, list) else [value]
            self.emit(depth, f"{key}:" if items else f"{key}: []", span)
            self.entries(depth + 2 if prefix else depth + 1, items)

    def steps(self, depth: int, key: str, entries: list[Any], span: Span | None = None) -> None:
        """``key:`` and its layers; the comment ending a line that also wrote the first layer
        (``.ns`` text, a flow list) stays with that layer."""
        shared = bool(entries) and _on_line(span, entries[0].span)
        self.emit(depth, f"{key}:" if entries else f"{key}: []", span, own=not shared)
        self.entries(depth + 1, entries)


def to_yaml(spec: m.SpecFile, header: str = "") -> str:
    """``spec`` (one file's AST) as canonical YAML."""
    w = _YamlWriter(comments_of(spec))
    if header:
        w.lines.append(header)
    k = spec.key_span
    for key in ("netspec", "name", "class_name", "description", "extends"):
        value = getattr(spec, key)
        if value is not None:
            w.value(0, key, value, k(key))
    if spec.input is not None:
        w.value(0, "input", _value_yaml(spec.input), k("input"))
    if spec.input_dtype is not None:
        w.value(0, "input_dtype", spec.input_dtype, k("input_dtype"))
    if spec.params:
        w.emit(0, "params:", k("params"))
        for name, decl in spec.params.items():
            span = k(f"params.{name}")
            if isinstance(decl, m.ParamDecl) and _bare(decl):
                w.value(1, _scalar(name), decl.default, span)  # `k: {default: 3}` is `k: 3`
            elif isinstance(decl, m.ParamDecl):
                w.emit(1, f"{_scalar(name)}:", span)
                w.value(2, "default", decl.default, decl.key_span("default"))
                if decl.doc is not None:
                    w.value(2, "doc", decl.doc, decl.key_span("doc"))
                if decl.choices is not None:
                    w.value(2, "choices", decl.choices, decl.key_span("choices"))
                if decl.require is not None:
                    w.value(2, "require", _value_yaml(decl.require), decl.key_span("require"))
            else:
                w.value(1, _scalar(name), decl, span)
    if spec.let:
        w.emit(0, "let:", k("let"))
        for name, code in spec.let.items():
            w.value(1, _scalar(name), _value_yaml(code), _key(spec, f"let.{name}", code.span))
    if spec.tensors:
        w.emit(0, "tensors:", k("tensors"))
        for tensor, code in spec.tensors.items():
            span = _key(spec, f"tensors.{tensor}", code.span)
            w.value(1, _scalar(tensor), _value_yaml(code), span)
    if spec.blocks:
        w.emit(0, "blocks:", _yaml_only(w, k("blocks")))
        for name, block in spec.blocks.items():
            _yaml_block(w, name, block)
    if spec.layers is not None:
        w.steps(0, "layers", spec.layers, k("layers"))
    for comment in w.comments.rest():
        w.lines.append(comment)
    return "\n".join(w.lines) + "\n"


def _yaml_only(w: _Writer, span: Span | None) -> Span | None:
    """Where a key that ``.ns`` does not write (``blocks``, ``body``) was written: read from
    ``.ns`` text, its span is that of what it holds, which takes the comments there."""
    return None if w.comments.ns else span


def _yaml_block(w: _YamlWriter, name: str, block: m.BlockDef) -> None:
    k = block.key_span
    w.emit(
        1, f"{_scalar(name)}:", block.span, first=_on_line(block.span, _key(block, "params", None))
    )
    if block.doc is not None:
        w.value(2, "doc", block.doc, k("doc"))
    if block.params:
        params = ", ".join(_flow_text(_param_text(p)) for p in block.params)
        w.emit(2, f"params: [{params}]", k("params"))
    if block.expansion is not None:
        w.value(2, "expansion", _value_yaml(block.expansion), k("expansion"))
    if block.let:
        w.emit(2, "let:", k("let"))
        for let_name, code in block.let.items():
            span = _key(block, f"let.{let_name}", code.span)
            w.value(3, _scalar(let_name), _value_yaml(code), span)
    if block.inputs:
        w.value(2, "inputs", list(block.inputs), k("inputs"))
    if block.tensors:
        w.emit(2, "tensors:", k("tensors"))
        for tensor, code in block.tensors.items():
            span = _key(block, f"tensors.{tensor}", code.span)
            w.value(3, _scalar(tensor), _value_yaml(code), span)
    if block.residual is not None:
        w.value(2, "residual", _value_yaml(block.residual), k("residual"))
    if block.body:
        w.steps(2, "body", block.body, _yaml_only(w, k("body")))
    if block.branches is not None:
        w.emit(2, "branches:", k("branches"))
        if isinstance(block.branches, list):  # numbered paths, each a list, like parallel's
            for i, path in enumerate(block.branches):
                if path:
                    w.emit(3, "-", _key(block, f"branches.{i}", None))
                    w.entries(4, path)
                else:
                    w.emit(3, "- []", _key(block, f"branches.{i}", None))
        else:
            for branch, value in block.branches.items():
                w.named(3, branch, value, _key(block, f"branches.{branch}", None))
    if block.shortcut is not None:
        sc = block.shortcut
        fields = []
        if sc.when is not None:
            fields.append(("when", _value_yaml(sc.when)))
        if sc.name != "downsample":
            fields.append(("name", sc.name))
        if not fields and sc.project is None:
            w.emit(2, "shortcut: {}", k("shortcut"))
        else:
            keys = [_key(sc, key, None) for key, _ in fields] + [_key(sc, "project", None)]
            w.emit(2, "shortcut:", k("shortcut"), first=_on_line(k("shortcut"), *keys))
            for i, (key, value) in enumerate(fields):
                w.value(3, key, value, keys[i], first=_on_line(keys[i], *keys[i + 1 :]))
            if sc.project is not None:
                w.steps(3, "project", sc.project, keys[-1])
    if block.merge is not None:
        w.value(2, "merge", block.merge, k("merge"))
    if block.split is not None:
        w.value(2, "split", _value_yaml(block.split), k("split"))
    if block.then:
        w.steps(2, "then", block.then, k("then"))
    if block.first_only != ["stride"]:
        w.value(2, "first_only", list(block.first_only), k("first_only"))


def _flow_text(text: str) -> str:
    """Text as an item of a YAML flow list: quoted where brackets or commas would split it."""
    return _scalar(text, flow=True)


def _param_text(p: m.BlockParam) -> str:
    return p.name if p.node is None else f"{p.name} = {render(p.node)}"


# -- .ns -----------------------------------------------------------------------------------------


def _string(text: str) -> str:
    return quoted(text)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)


def _name(name: str, where: str, what: str) -> str:
    """The name of ``what`` (a param, a let value, a block, a block parameter), which ``.ns``
    cannot quote."""
    if name in KEYWORDS:
        message, hint = word_as_name(name, what)
        raise NetspecError(message, where=where, hint=hint)
    return name


def _layer_name(name: str, template: bool = False) -> str:
    """A layer's name: quoted where it is a template or a word of the format."""
    return _string(name) if template or name in KEYWORDS or not name.isidentifier() else name


class _NsWriter(_Writer):
    indent = "    "

    def entries(self, depth: int, entries: list[Any], where: str) -> None:
        for entry in entries:
            self.entry(depth, entry, where)

    def entry(self, depth: int, entry: Any, where: str) -> None:
        if isinstance(entry, m.LayerRef):
            self.emit(depth, _expr(entry), entry.span)
        elif isinstance(entry, m.MappingCall):
            self.emit(depth, _mapping_call(entry), entry.span)
        elif isinstance(entry, m.NamedEntry):
            name = entry.name
            key = _layer_name(name.text, name.is_template)
            sources = entry.sources
            tail = ""
            if sources is not None:
                tail = f" from {sources.names[0]}"
                if sources.merged:
                    tail = f" from [{', '.join(sources.names)}]"
            self.value(depth, key, entry.value, entry.span, f"{where}.{name.text}", tail)
        elif isinstance(entry, m.ForEntry):
            header = f"for {', '.join(entry.for_.names)} in {_expr(entry.for_)} {{"
            do = (_key(entry, "do", None),)
            self.block(depth, header, entry.do, entry.span, where, also=do)
        elif isinstance(entry, m.RepeatEntry):
            header = f"repeat {_expr(entry.repeat)}" + (f" as {entry.as_}" if entry.as_ else "")
            also = (_key(entry, "as", None), _key(entry, "do", None))
            self.block(depth, header + " {", entry.do, entry.span, where, also=also)
        elif isinstance(entry, m.IfEntry):
            else_ = _key(entry, "else", None)
            self.block(
                depth,
                f"if {_expr(entry.if_)} {{",
                entry.then,
                entry.span,
                where,
                close=not entry.else_,
                also=(_key(entry, "then", None),),
            )
            if entry.else_:
                # the comments before `} else {` stay inside the `if` part
                self.lines += [self.indent * (depth + 1) + c for c in self.comments.before(else_)]
                self.block(depth, "} else {", entry.else_, else_, where, end=entry.span)
        elif isinstance(entry, m.ParallelEntry):
            header = "parallel"
            if entry.merge is not None:
                header += f" merge {entry.merge}"
            if entry.split is not None:
                header += f" split {_expr(entry.split)}"
            keys = (_key(entry, "merge", None), _key(entry, "split", None))
            self.emit(depth, header + " {", entry.span, also=keys)
            for path in entry.parallel:
                if path:
                    self.block(depth + 1, "{", path, None, where)
                else:  # the input itself (a residual sub-layer's identity path)
                    self.emit(depth + 1, "{}")
            self.close(depth, entry.span)

    def value(
        self, depth: int, key: str, value: Any, span: Span | None, where: str, tail: str = ""
    ) -> None:
        """``key: value`` (``tail``: what follows the value, ``from …``)."""
        if isinstance(value, m.LayerRef):
            self.emit(depth, f"{key}: {_expr(value)}{tail}", span)
        elif isinstance(value, m.MappingCall):
            self.emit(depth, f"{key}: {_mapping_call(value)}{tail}", span)
        else:
            items = value if isinstance(value, list) else [value]
            self.block(depth, f"{key}: {{", items, span, where, close=not tail)
            if tail:
                self.close(depth, span, "}" + tail)

    def block(
        self,
        depth: int,
        header: str,
        entries: list[Any],
        span: Span | None,
        where: str,
        close: bool = True,
        also: tuple[Span | None, ...] = (),
        end: Span | None = None,
    ) -> None:
        """``header``, the layers, and the ``}`` that ends ``end`` (else ``span``) if
        ``close``; ``also``: keys that the header writes too."""
        self.emit(depth, header, span, also=also)
        self.entries(depth + 1, entries, where)
        if close:
            self.close(depth, end or span)


def _mapping_call(call: m.MappingCall) -> str:
    op, args = next(iter(call.root.items()))
    inner = ", ".join(f"{k}: {_expr(v)}" for k, v in args.items())
    return f"{op} {{{inner}}}"


_NS_HEADER = (
    ("netspec", "netspec", False),
    ("name", "name", False),
    ("class_name", "class", False),
    ("description", "description", True),
    ("extends", "extends", True),
)
"""The header keys of a spec: (field, its word in ``.ns``, written as a quoted string)."""


def to_ns(spec: m.SpecFile) -> str:
    """``spec`` (one file's AST) as canonical ``.ns``.

    Raises:
        NetspecError: a name is a word of the ``.ns`` format where it stands.
    """
    w = _NsWriter(comments_of(spec, ns=True))
    k = spec.key_span
    for key, word, quote in _NS_HEADER:
        value = getattr(spec, key)
        if value is not None:
            w.emit(0, f"{word} {_string(value) if quote else value}", k(key))
    if spec.input is not None:
        w.emit(0, f"input {_expr(spec.input)}", k("input"))
    if spec.input_dtype is not None:
        w.emit(0, f"input_dtype {spec.input_dtype}", k("input_dtype"))
    if spec.params:
        w.emit(0, "params {", k("params"))
        for name, decl in spec.params.items():
            _name(name, f"params.{name}", "a parameter")
            span = k(f"params.{name}")
            if isinstance(decl, m.ParamDecl):
                text = f"{name} = {_literal(decl.default)}"
                if decl.choices is not None:
                    text += f" choices {_literal(decl.choices)}"
                if decl.require is not None:
                    text += f" require {_expr(decl.require)}"
                if decl.doc is not None:
                    text += f" {_string(decl.doc)}"
                w.emit(1, text, span, _last_line(decl))
            else:
                w.emit(1, f"{name} = {_literal(decl)}", span)
        w.close(0, k("params"))
    if spec.let:
        _ns_let(w, 0, spec, spec.let, k("let"))
    if spec.tensors:
        w.emit(0, "tensors {", k("tensors"))
        for tensor, code in spec.tensors.items():
            _name(tensor, f"tensors.{tensor}", "a tensor")
            w.emit(1, f"{tensor} = {_expr(code)}", _key(spec, f"tensors.{tensor}", code.span))
        w.close(0, k("tensors"))
    for name, block in spec.blocks.items():
        _ns_block(w, name, block)
    if spec.layers is not None:
        w.block(0, "layers {", spec.layers, k("layers"), "layers")
    for comment in w.comments.rest():
        w.lines.append(comment)
    return "\n".join(w.lines) + "\n"


def _last_line(decl: m.ParamDecl) -> int | None:
    """The last line a YAML param declaration takes (its keys, and its ``require``, which
    may be wrapped): .ns writes it on one line, with their comments."""
    spans = [*(decl.__pydantic_private__ or {}).get("_key_spans", {}).values()]
    if decl.require is not None:
        spans.append(decl.require.span)
    lines = [s.end_line or s.line for s in spans if s is not None]
    return max(lines) if lines else None


def _ns_let(
    w: _NsWriter, depth: int, owner: m.Node, let: dict[str, m.Expression], span: Span | None
) -> None:
    w.emit(depth, "let {", span)
    for name, code in let.items():
        _name(name, f"let.{name}", "a let value")
        value = _value_yaml(code)
        at = _key(owner, f"let.{name}", code.span)
        if isinstance(value, dict):
            _ns_mapping(w, depth + 1, name, value, at)
        else:
            _ns_value(value)  # refuses what .ns cannot write
            w.emit(depth + 1, f"{name} = {_expr(code)}", at)
    w.close(depth, span)


def _ns_mapping(
    w: _NsWriter, depth: int, key: str, value: dict[Any, Any], span: Span | None
) -> None:
    w.emit(depth, f"{key} {{", span)
    for k, v in value.items():
        plain = isinstance(k, str) and k.isidentifier() and k not in KEYWORDS
        text_key = k if plain else _literal(k)
        if isinstance(v, dict):
            _ns_mapping(w, depth + 1, text_key, v, None)
        else:
            w.emit(depth + 1, f"{text_key}: {_ns_value(v)}")
    w.emit(depth, "}")


def _ns_value(value: Any) -> str:
    """A value from a ``let`` mapping: literals as literals, text as the expression it is."""
    if isinstance(value, list):
        return "[" + ", ".join(_ns_value(v) for v in value) + "]"
    if isinstance(value, dict):
        raise NetspecError(
            "a `let` list that holds a mapping has no .ns form (an .ns mapping is a `let` "
            "section of its own, not a value)",
            hint="keep this spec in YAML, or make the mapping a `let` of its own and list its name",
        )
    if isinstance(value, str):
        return value
    return _literal(value)


def _ns_block(w: _NsWriter, name: str, block: m.BlockDef) -> None:
    _name(name, f"blocks.{name}", "a block")
    for param in block.params:
        _name(param.name, f"blocks.{name}.params", "a block parameter")
    params = f"({', '.join(_param_text(p) for p in block.params)})" if block.params else ""
    k = block.key_span
    w.emit(0, f"block {name}{params} {{", block.span, also=(_key(block, "params", None),))
    where = f"blocks.{name}"
    if block.doc is not None:
        w.emit(1, f"doc {_string(block.doc)}", k("doc"))
    if block.expansion is not None:
        w.emit(1, f"expansion {_expr(block.expansion)}", k("expansion"))
    if block.let:
        _ns_let(w, 1, block, block.let, k("let"))
    if block.inputs:
        w.emit(1, f"inputs {', '.join(block.inputs)}", k("inputs"))
    if block.tensors:
        w.emit(1, "tensors {", k("tensors"))
        for tensor, code in block.tensors.items():
            _name(tensor, f"{where}.tensors.{tensor}", "a tensor")
            w.emit(2, f"{tensor} = {_expr(code)}", _key(block, f"tensors.{tensor}", code.span))
        w.close(1, k("tensors"))
    if block.residual is not None:
        w.emit(1, f"residual {_expr(block.residual)}", k("residual"))
    for entry in block.body:
        w.entry(1, entry, where)
    if block.branches is not None:
        w.emit(1, "branches {", k("branches"))
        if isinstance(block.branches, list):  # numbered paths: `{ … }` each, like parallel's
            for i, path in enumerate(block.branches):
                at = _key(block, f"branches.{i}", None)
                if path:
                    w.block(2, "{", path, at, f"{where}.{i}")
                else:
                    w.emit(2, "{}", at)
        else:
            for branch, value in block.branches.items():
                at = _key(block, f"branches.{branch}", None)
                w.value(2, _layer_name(branch), value, at, f"{where}.{branch}")
        w.close(1, k("branches"))
    if block.shortcut is not None:
        sc = block.shortcut
        text = "shortcut"
        if sc.when is not None:
            text += f" when {_expr(sc.when)}"
        if sc.name != "downsample":
            text += f" as {sc.name}"
        also = (_key(sc, "when", None), _key(sc, "name", None), _key(sc, "project", None))
        if sc.project is not None:
            w.block(1, text + " {", sc.project, k("shortcut"), where, also=also)
        else:
            w.emit(1, text, k("shortcut"), also=also)
    if block.merge is not None:
        w.emit(1, f"merge {block.merge}", k("merge"))
    if block.split is not None:
        w.emit(1, f"split {_expr(block.split)}", k("split"))
    if block.then:
        w.block(1, "then {", block.then, k("then"), where)
    if block.first_only != ["stride"]:
        w.emit(1, f"first_only {', '.join(block.first_only)}".rstrip(), k("first_only"))
    w.emit(0, "}")


def formatted(path: Path, target: str | None = None) -> tuple[str, bool]:
    """The canonical text of the spec file at ``path``, and whether it is ``.ns`` text.

    Args:
        target: ``"yaml"`` or ``"ns"`` to convert; ``None`` keeps the file's own format.

    Raises:
        NetspecError: the file is not a valid spec (each format is validated in full), or a
            name cannot be written in the target format.
    """
    from netspec.spec.load import is_ns, read_file

    spec = read_file(path).spec
    ns = is_ns(path) if target is None else target == "ns"
    return (to_ns(spec) if ns else to_yaml(spec)), ns
