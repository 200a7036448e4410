"""YAML with positions, loaded safely.

PyYAML's event stream (its C parser where available) is composed here, iteratively, into a
small tree of :class:`YNode` that remembers the line and column of every key and value. The
composer is ours rather than PyYAML's so that the limits hold before anything recursive runs:
nesting depth, document size and the number of nodes aliases expand to (a "billion laughs"
document fails at its first alias over budget, not after filling memory). The first problem in
the text is the one reported, whichever PyYAML is installed: one that PyYAML finds further on,
reading ahead of its events (or at its own nesting limit), does not hide it (see ``_events``).

The part of YAML that specs are written in (block mappings and sequences, a scalar or flow list
on each line) is read line by line by :mod:`netspec.source.fastyaml` instead, into the same tree
(libyaml's marks included); it leaves everything else, errors included, to the events.

Plain scalars are resolved with YAML 1.2's core schema (``true``/``false``, ``null``, decimal
integers and floats); ``yes``/``no``/``on``/``off`` stay strings. Tags other than the standard
``!!str``-style ones are refused, as are duplicate keys and multi-document streams.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from netspec.errors import Source, SourceError, Span, lines_of

MAX_DEPTH = 100
"""Deepest nesting of mappings and sequences a spec may have."""
MAX_NODES = 200_000
"""Most nodes a document may have, counting every expansion of an alias."""
MAX_BYTES = 4 * 1024 * 1024
"""Largest spec file, in bytes of UTF-8."""

Scalar = str | int | float | bool | None

_STANDARD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
}
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_SURROGATE = re.compile("[\ud800-\udfff]")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")

try:  # the C parser is ~10x faster; the pure-Python one is a fallback, not a requirement
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


@dataclass(slots=True, eq=False)
class YNode:
    """A node of the document, with the span of its text."""

    span: Span
    size: int = 1
    """Nodes in this subtree, aliases expanded (what converting it to data would visit)."""


@dataclass(slots=True, eq=False)
class YScalar(YNode):
    value: Scalar = None
    style: str = ""
    """``''`` for plain scalars, ``'`` or ``"`` for quoted ones, ``|``/``>`` for block ones."""


@dataclass(slots=True, eq=False)
class YSeq(YNode):
    items: list[YNode] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class YMap(YNode):
    items: list[tuple[YScalar, YNode]] = field(default_factory=list)

    def get(self, key: Scalar) -> YNode | None:
        for k, v in self.items:
            if k.value == key:
                return v
        return None

    def key_node(self, key: Scalar) -> YScalar | None:
        for k, _ in self.items:
            if k.value == key:
                return k
        return None


def _span(source: Source, event: Any) -> Span:
    start, end = event.start_mark, event.end_mark
    return Span(source, start.line + 1, start.column + 1, end.line + 1, end.column + 1)


def _resolve(event: Any, source: Source) -> Scalar:
    """The value of a scalar event under the core schema (and its standard tags); a number
    too large for a float is refused, as in expressions."""
    value = _resolve_tagged(event, source)
    if isinstance(value, float) and not math.isfinite(value):
        raise SourceError(
            f"the number {event.value} is too large",
            _span(source, event),
            hint="numbers in a spec are finite (at most about 1.8e308)",
        )
    return value


def _resolve_tagged(event: Any, source: Source) -> Scalar:
    text: str = event.value
    tag = event.tag
    if tag is not None and tag != "!":
        if tag not in _STANDARD_TAGS:
            raise SourceError(
                f"YAML tag {tag!r} is not allowed in a spec",
                _span(source, event),
                hint="specs are plain data; remove the tag",
            )
        kind = tag.rsplit(":", 1)[1]
        if kind == "str":
            return text
        plain = _resolve_plain(text)
        expected: dict[str, tuple[type, ...]] = {
            "int": (int,),
            "float": (int, float),
            "bool": (bool,),
            "null": (type(None),),
        }
        if isinstance(plain, bool) and kind != "bool" or not isinstance(plain, expected[kind]):
            raise SourceError(f"{text!r} is not a valid !!{kind}", _span(source, event))
        return float(plain) if kind == "float" and plain is not None else plain
    if event.style or tag == "!":  # quoted, block or non-specific: always a string
        return text
    return _resolve_plain(text)


def _resolve_plain(text: str) -> Scalar:
    if text in _NULLS:
        return None
    if text in _BOOL:
        return _BOOL[text]
    if text[0].isalpha():  # a name or an expression: no number starts with a letter
        return text
    if _INT.match(text):
        if len(text) > 40:
            return text  # absurdly long; leave it to the consumer to reject as a string
        return int(text)
    if _FLOAT.match(text) and any(ch.isdigit() for ch in text):
        return float(text)
    return text


def compose(text: str, name: str) -> YNode:
    """Parse ``text`` (the content of file ``name``) into a positioned tree.

    Raises:
        SourceError: malformed YAML, an empty document, or a limit exceeded.
    """
    source = Source(name, text)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise SourceError(
            f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB",
            Span(source, 1, 1),
            where="document",
        )
    if "\t" in text:  # PyYAML's message for tabs is obscure; say it plainly
        for number, line in enumerate(lines_of(text, ns=False), 1):  # as YAML counts lines
            indent = line[: len(line) - len(line.lstrip(" \t"))]
            if "\t" in indent:
                raise SourceError(
                    "a tab in the indentation; YAML indents with spaces only",
                    Span(source, number, indent.index("\t") + 1),
                    where="document",
                )
    surrogate = _SURROGATE.search(text)
    if surrogate is not None:
        raise SourceError(
            "the text holds an unpaired surrogate (not a character)",
            _at(source, surrogate.start()),
            where="document",
        )
    from netspec.source import fastyaml

    # the same tree, read faster, from the YAML that specs are written in (libyaml's marks)
    root = fastyaml.compose(source) if _Loader is getattr(yaml, "CSafeLoader", None) else None
    if root is None:
        root = _compose_events(_events(source), source)
    if root is None or (isinstance(root, YScalar) and root.value is None):
        raise SourceError(
            "the file is empty",
            Span(source, 1, 1),
            where="document",
            hint="a spec is a mapping with at least `netspec: 1`, `name`, `input` and `layers`",
        )
    return root


def _events(source: Source) -> Iterator[Any]:
    """PyYAML's events for the text of ``source``; where PyYAML finds a problem, the events
    before it that it has not handed on yet, then the first problem in the text.

    PyYAML's scanner reads ahead of the events it hands on (the rest of a line, up to 1,024
    characters, to learn whether what it read is a mapping key), and since libyaml 0.2.6
    (bundled with PyYAML 6.0.4) it refuses to nest deeper than 1,000 levels itself. So the
    problem PyYAML raises may lie beyond one that comes first: ``[[[[...`` thousands deep fails
    in PyYAML's scanner before the event of the first bracket arrives, where netspec's depth
    limit fails at bracket ``MAX_DEPTH + 1``. The text before PyYAML's problem is therefore
    parsed again and the events not handed on yet follow, so that netspec's own checks see
    them (too deep, a duplicate key, ...); an earlier problem of PyYAML's that its read-ahead
    overtook is the one raised. What is reported does not depend on the PyYAML version, nor on
    its parser (C or Python).

    Only events that start before the cut count: those after it come from the end of the
    shortened text, not from the spec. Where the shortened text ends inside a token (a quoted
    scalar cut short, say), PyYAML's complaint about that end is not the spec's: the text is cut
    again before the token. A few rounds at most, each cut shorter than the last.
    """
    text = source.text
    handed = 0  # events handed on (and composed without error)
    loader = _Loader(text)
    try:  # yaml.parse's loop, without its generator: the parser's events until None
        event = loader.get_event()
        while event is not None:
            handed += 1
            yield event
            event = loader.get_event()
        return
    except yaml.YAMLError as exc:
        offset, problem = _problem(exc, text)
    finally:
        loader.dispose()
    cut = offset
    for _ in range(4):
        if cut <= 0:
            break
        try:
            for number, event in enumerate(_events_before(text, cut)):
                if number >= handed:  # the same events as before, up to here
                    handed += 1
                    yield event
        except yaml.YAMLError as earlier:
            at, what = _problem(earlier, text)
            if at < cut:  # a problem of the spec before the cut, overtaken by the read-ahead
                offset, problem, cut = at, what, at
                continue
            context = getattr(earlier, "context_mark", None)
            if context is not None and context.index < cut:  # a token cut short
                cut = context.index
                continue
        break
    raise SourceError(f"malformed YAML: {problem}", _at(source, offset), where="document")


def _problem(exc: yaml.YAMLError, text: str) -> tuple[int, str]:
    """Where in ``text`` PyYAML's error is (a character offset), and what it says."""
    if isinstance(exc, yaml.reader.ReaderError):
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return max(text.find(char), 0), f"unacceptable character #x{ord(char):04x}: {exc.reason}"
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "malformed YAML"
        if exc.context and exc.problem:
            problem += f" {exc.context}"
        return (mark.index if mark else 0), problem
    return 0, str(exc)  # pragma: no cover - PyYAML's errors carry a mark or a character


def _events_before(text: str, cut: int) -> Iterator[Any]:
    """PyYAML's events for ``text[:cut]`` that start before the cut."""
    for event in yaml.parse(text[:cut], Loader=_Loader):
        if event.start_mark is not None and event.start_mark.index >= cut:
            return
        yield event


def _at(source: Source, offset: int) -> Span:
    """The span of character ``offset``, kept on a line that exists (the end of the text is
    the end of its last line, where an unclosed bracket is reported)."""
    text = source.text
    offset = min(offset, len(text.rstrip("\r\n")))
    lines = text[:offset].splitlines(keepends=True)  # the line breaks errors count
    if not lines:
        return Span(source, 1, 1)
    if lines[-1].splitlines()[0] != lines[-1]:  # ends with a line break
        return Span(source, len(lines) + 1, 1)
    return Span(source, len(lines), len(lines[-1]) + 1)


def _compose_events(events: Iterator[Any], source: Source) -> YNode | None:
    """Compose ``events`` into a tree; ``None`` when they hold no node."""
    # (container, pending mapping key, the nodes counted before it, its keys so far)
    stack: list[tuple[YNode, YScalar | None, int, dict[Any, YScalar] | None]] = []
    anchors: dict[str, YNode] = {}
    root: YNode | None = None
    documents = 0
    # Nodes so far, aliases expanded: a container's size is the count at its end less the
    # count before it, so an alias bomb fails at its first expansion over the limit.
    total = 0

    def attach(node: YNode, at: Span | None = None) -> None:
        nonlocal root
        if not stack:
            root = node
            return
        parent, key, before, seen = stack[-1]
        if type(parent) is YSeq:
            parent.items.append(node)
        elif key is None:
            if type(node) is not YScalar:
                raise SourceError(
                    "a mapping key must be a plain value, not a list or mapping",
                    at or node.span,
                    where="document",
                )
            assert seen is not None
            existing = seen.get(node.value)  # as a dict would: 1, 1.0 and true collide
            if existing is not None:
                raise SourceError(
                    f"duplicate key {node.value!r} (first at line {existing.span.line})",
                    at or node.span,
                    where="document",
                    hint="each key may appear once in a mapping",
                )
            seen[node.value] = node
            stack[-1] = (parent, node, before, seen)
        else:
            parent.items.append((key, node))  # type: ignore[attr-defined]
            stack[-1] = (parent, None, before, seen)

    def grow(size: int, node: YNode, at: Span | None = None) -> None:
        nonlocal total
        total += size
        if stack and total > MAX_NODES:
            raise SourceError(
                f"the document expands to more than {MAX_NODES:,} nodes",
                at or node.span,
                where="document",
                hint="YAML aliases (*name) may not multiply the document beyond this limit",
            )

    for event in events:
        kind = type(event)
        if kind is yaml.ScalarEvent:
            start, end = event.start_mark, event.end_mark
            span = Span(source, start.line + 1, start.column + 1, end.line + 1, end.column + 1)
            if event.tag is None and not event.style:  # plain: most scalars of a spec
                value = _resolve_plain(event.value)
                if type(value) is float and not math.isfinite(value):
                    value = _resolve(event, source)  # raises: too large
            else:
                value = _resolve(event, source)
            node: YNode = YScalar(span, 1, value, event.style or "")
            if event.anchor:
                anchors[event.anchor] = node
            grow(1, node)
            attach(node)
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            _check_tag(event, source)
            if len(stack) >= MAX_DEPTH:
                raise SourceError(
                    f"nesting deeper than {MAX_DEPTH} levels",
                    _span(source, event),
                    where="document",
                    hint="a spec this deep is almost certainly generated by mistake",
                )
            span = _span(source, event)
            node = YSeq(span) if kind is yaml.SequenceStartEvent else YMap(span)
            if event.anchor:
                anchors[event.anchor] = node
            if stack and type(stack[-1][0]) is YMap and stack[-1][1] is None:
                raise SourceError(
                    "a mapping key must be a plain value, not a list or mapping",
                    span,
                    where="document",
                )
            grow(1, node)
            stack.append((node, None, total - 1, {} if kind is yaml.MappingStartEvent else None))
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            node, _, before, _ = stack.pop()
            node.size = total - before
            end = event.end_mark
            if end is not None:
                node.span = Span(
                    source, node.span.line, node.span.col, end.line + 1, end.column + 1
                )
            attach(node)
        elif kind is yaml.AliasEvent:
            target = anchors.get(event.anchor or "")
            if target is None:  # pragma: no cover - the parser rejects unknown anchors itself
                raise SourceError(f"unknown alias *{event.anchor}", _span(source, event))
            at = _span(source, event)
            if any(target is container for container, _, _, _ in stack):
                raise SourceError(
                    f"the alias *{event.anchor} is inside the node it names (a cycle)",
                    at,
                    where="document",
                )
            grow(target.size, target, at)
            attach(target, at)
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise SourceError(
                    "a spec file holds one YAML document; found a second '---'",
                    _span(source, event),
                    where="document",
                )
    return root


def _check_tag(event: Any, source: Source) -> None:
    if event.tag is not None and event.tag not in _STANDARD_TAGS and event.tag != "!":
        raise SourceError(
            f"YAML tag {event.tag!r} is not allowed in a spec",
            _span(source, event),
            where="document",
            hint="specs are plain data; remove the tag",
        )


def to_data(node: YNode) -> Any:
    """The plain Python value of ``node``: dicts, lists and scalars (aliases copied)."""
    if isinstance(node, YScalar):
        return node.value
    if isinstance(node, YSeq):
        return [to_data(item) for item in node.items]
    if isinstance(node, YMap):
        return {key.value: to_data(value) for key, value in node.items}
    raise TypeError(node)  # pragma: no cover


def locate(root: YNode, loc: tuple[int | str, ...]) -> tuple[YNode, list[str]]:
    """Follow a validation ``loc`` path into the tree.

    Components that do not name a key or index at the current node (union tags that pydantic
    inserts, for example) are skipped. Returns the deepest node reached and the keys followed.
    """
    node = root
    keys: list[str] = []
    for part in loc:
        if isinstance(node, YMap):
            key: Any = part
            child = node.get(part)
            if child is None and isinstance(part, str) and part.endswith("_"):
                key = part[:-1]  # python-safe field names like `for_`
                child = node.get(key)
            if child is None and isinstance(part, str) and part.isdigit():
                key = int(part)
                child = node.get(key)
            if child is not None:
                node = child
                keys.append(str(key))
        elif isinstance(node, YSeq) and isinstance(part, int) and 0 <= part < len(node.items):
            node = node.items[part]
            keys.append(str(part))
    return node, keys
