"""A reader for the YAML that specs are written in, the fast path of :mod:`netspec.source.yaml`.

PyYAML's C parser hands its events on as Python objects (an event and two marks each), and
composing them costs as much again: together most of the time a spec takes to read. Specs are
written in a small part of YAML — block mappings and sequences, one scalar or flow list per
line — which this module reads line by line, building the same tree as
:func:`netspec.source.yaml.compose` does (node types, values, quoting styles, sizes, and every
span, exactly as libyaml marks it).

It never reports an error itself: on anything else — a flow mapping, a block or multi-line
scalar, an anchor, alias or tag, a key written in quotes, an escape, a tab, a line break other
than ``\\n``, a character Python does not print, a duplicate key, a limit approached, or any
text that is not valid YAML — :func:`compose` returns ``None`` and the caller composes PyYAML's
events, the reference, whose errors are the ones users see. The tests hold the two to the
same trees (``tests/source/test_fastyaml.py``).

The marks libyaml gives, followed here: a scalar spans its text (a plain one without the
spaces and comment after it, a quoted one with its quotes); a flow list spans its brackets; a
block mapping starts at its first key and a block sequence at its first ``-``, and both end
where the next token starts (the first character of the next line that is not a comment and
is indented less), or at the end of the text: where it ends, for a container indented more
than the last line (after its last line break) is long, else at the start of the line after.
"""

from __future__ import annotations

import math
import re

from netspec.errors import Source, Span
from netspec.source import yaml as ysrc
from netspec.source.yaml import MAX_DEPTH, Scalar, YMap, YNode, YScalar, YSeq, _resolve_plain

_DEEPEST = MAX_DEPTH // 2
"""Deepest nesting taken here; a deeper document is the reference's to compose (and refuse)."""

_LONGEST_KEY = 1000
"""Longest key taken here: libyaml looks no further than 1,024 characters for a key's ``:``."""

_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@`")
"""Characters that do not start a plain scalar (or do only in some places: left alone)."""

_SINGLE = re.compile(r"'(?:[^']|'')*'")
"""A single-quoted scalar on one line (``''`` is a quote)."""

_FLOW_STOP = re.compile(r"[,\[\]{}#:]")
"""What ends a plain scalar in a flow list here: the end of the item (``,`` or ``]``), or an
indicator where this reader gives up."""


class _Untaken(Exception):
    """The text is not one this reader takes: the reference composes it."""


def compose(source: Source) -> YNode | None:
    """The tree of ``source``'s text as :func:`netspec.source.yaml.compose` builds it, or
    ``None`` where this reader leaves the text to PyYAML (see the module notes)."""
    try:
        return _Reader(source).read()
    except _Untaken:
        return None


_Open = tuple[YMap | YSeq, int, int, int, dict[Scalar, YScalar] | None]
"""A block container open at a line: the node, the line it starts on, its indentation (the
column of its first key or ``-``, 0-based), the nodes counted before it, and its keys so far
(a mapping) or ``None`` (a sequence)."""

_OPEN = Span(Source("", ""), 0, 0)
"""The span of a container until it ends (then its span is known, and set)."""


class _Reader:
    """Reads the lines of a text in order, with the block containers open at each line."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.stack: list[_Open] = []  # the open block containers, innermost last
        self.total = 0  # nodes so far, as the reference counts them (keys included)
        self.most = ysrc.MAX_NODES

    def read(self) -> YNode:
        source = self.source
        text = source.text
        stack = self.stack
        lines = text.split("\n")
        # whether the value of the last key or item is the block on the next lines, and the key
        # (None: an item)
        pending, key = False, None
        for number, line in enumerate(lines, 1):
            # a tab, a line break but \n, a byte order mark, a character YAML refuses: all
            # are characters Python does not print
            if not line.isprintable():
                raise _Untaken
            content = line.lstrip(" ")
            if not content or content[0] == "#":
                continue  # a blank line or a comment, whatever its indentation
            indent = len(line) - len(content)
            if not indent and line.startswith(("---", "...", "%")):
                raise _Untaken  # document markers, directives
            if self.total > self.most:
                raise _Untaken  # the reference says so
            entry = content[0] == "-" and content[1:2] in ("", " ")
            if pending:  # the value of the key or item before: a block indented more
                parent = stack[-1][0]
                if indent <= stack[-1][2]:
                    raise _Untaken  # an empty value, or a sequence as indented as its key
                node = self._open(number, indent, entry)
                if isinstance(parent, YMap):
                    assert key is not None
                    parent.items.append((key, node))
                else:
                    parent.items.append(node)
            elif stack:
                # the containers indented more end where this line's first token starts (the
                # document, at 0, is never one)
                while stack[-1][2] > indent:
                    self._close(stack.pop(), number, indent + 1)
                if stack[-1][2] != indent or (stack[-1][4] is None) != entry:
                    raise _Untaken  # a continued scalar, an entry of no container open here…
            elif indent or entry:
                raise _Untaken  # a document that is not a mapping, or one indented
            else:
                self._open(number, indent, False)
            if entry:
                pending, key = self._item(line, number, indent)
            else:
                pending, key = self._entry(line, number, indent)
        if pending or not stack or self.total > self.most:
            raise _Untaken  # an empty value at the end, no document, or too many nodes
        # the end of the text, where the containers indented more than it end; then the
        # others, at the start of the line after it (unless it is at the start of one)
        column = len(lines[-1])
        while stack[-1][2] > column:
            self._close(stack.pop(), len(lines), column + 1)
        while stack:
            root = stack.pop()
            self._close(root, len(lines) + (1 if column else 0), 1)
        return root[0]

    def _open(self, number: int, column: int, sequence: bool) -> YMap | YSeq:
        """A block sequence, or mapping, whose first ``-`` or key is at ``column`` (0-based)
        of line ``number``."""
        if len(self.stack) >= _DEEPEST:
            raise _Untaken
        node = YSeq(_OPEN) if sequence else YMap(_OPEN)
        self.total += 1
        self.stack.append((node, number, column, self.total - 1, None if sequence else {}))
        return node

    def _close(self, open_: _Open, line: int, col: int) -> None:
        """End a block container where the token at ``line`` and ``col`` (1-based) starts."""
        node, start, column, before, _ = open_
        node.size = self.total - before
        node.span = Span(self.source, start, column + 1, line, col)

    def _entry(self, line: str, number: int, column: int) -> tuple[bool, YScalar | None]:
        """``key: value`` at ``column`` of ``line`` into the mapping open there; whether the
        value is the block on the next lines, and the key."""
        mapping, _, _, _, keys = self.stack[-1]
        assert isinstance(mapping, YMap) and keys is not None
        colon = line.find(": ", column)
        if colon < 0:
            if not line.endswith(":"):
                raise _Untaken  # a plain scalar, or a comment after the colon
            colon = len(line) - 1
        text = line[column:colon].rstrip(" ")
        if not text or (text[0] in _FIRST and not _plain_start(text)) or "#" in text:
            raise _Untaken
        if len(text) > _LONGEST_KEY:
            raise _Untaken
        key = self._plain(text, number, column)
        if key.value in keys:  # as a dict would: 1, 1.0 and true collide
            raise _Untaken  # a duplicate: the reference says so
        keys[key.value] = key
        rest = line[colon + 1 :].lstrip(" ")
        if not rest or rest[0] == "#":
            return True, key
        mapping.items.append((key, self._value(line, number, len(line) - len(rest))))
        return False, None

    def _item(self, line: str, number: int, column: int) -> tuple[bool, YScalar | None]:
        """``- value`` at ``column`` of ``line`` into the sequence open there: a value on the
        line, a mapping that starts there (``- name: conv2d(…)``), or the block on the next
        lines; whether a value is that block, and the key it is of (``None``: the item's)."""
        sequence = self.stack[-1][0]
        assert isinstance(sequence, YSeq)
        rest = line[column + 1 :].lstrip(" ")
        at = len(line) - len(rest)
        if not rest or rest[0] == "#":
            return True, None
        if rest[0] == "-" and rest[1:2] in ("", " "):
            raise _Untaken  # a sequence in a sequence on one line
        if rest[0] not in "\"'[":  # (a quoted or flow value has no key after it here)
            comment = rest.find(" #")
            text = rest if comment < 0 else rest[:comment].rstrip(" ")
            if ": " in text or text.endswith(":"):
                sequence.items.append(self._open(number, at, False))
                return self._entry(line, number, at)
        sequence.items.append(self._value(line, number, at))
        return False, None

    def _value(self, line: str, number: int, column: int) -> YNode:
        """The value that starts at ``column`` of ``line`` and ends it (but for a comment)."""
        first = line[column]
        node: YNode
        if first == "[":
            node, end = self._flow(line, number, column, len(self.stack) + 1)
        elif first == '"' or first == "'":
            node, end = self._quoted(line, number, column)
        else:
            comment = line.find(" #", column)
            text = (line if comment < 0 else line[:comment]).rstrip(" ")[column:]
            if (first in _FIRST and not _plain_start(text)) or ": " in text or text[-1] == ":":
                raise _Untaken
            return self._plain(text, number, column)
        rest = line[end:].lstrip(" ")
        if rest and not (rest[0] == "#" and line[end] == " "):
            raise _Untaken  # more on the line (a key in quotes…), or a comment not after a space
        return node

    def _plain(self, text: str, number: int, column: int) -> YScalar:
        """A plain scalar ``text`` at ``column``, its value by YAML 1.2's core schema."""
        value = _resolve_plain(text)
        if type(value) is float and not math.isfinite(value):
            raise _Untaken  # too large: the reference says so
        self.total += 1
        end = column + len(text) + 1
        return YScalar(Span(self.source, number, column + 1, number, end), 1, value, "")

    def _quoted(self, line: str, number: int, column: int) -> tuple[YScalar, int]:
        """The quoted scalar at ``column`` and the column after it."""
        if line[column] == '"':
            close = line.find('"', column + 1)
            if close < 0 or "\\" in line[column:close]:
                raise _Untaken  # on several lines, or with an escape
            value = line[column + 1 : close]
            end = close + 1
        else:
            match = _SINGLE.match(line, column)
            if match is None:
                raise _Untaken  # on several lines
            end = match.end()
            value = line[column + 1 : end - 1].replace("''", "'")
        self.total += 1
        span = Span(self.source, number, column + 1, number, end + 1)
        return YScalar(span, 1, value, line[column]), end

    def _flow(self, line: str, number: int, column: int, depth: int) -> tuple[YSeq, int]:
        """The flow list ``[…]`` whose ``[`` is at ``column``, and the column after it."""
        if depth >= _DEEPEST:
            raise _Untaken
        self.total += 1
        before = self.total - 1
        node = YSeq(_OPEN)
        items = node.items
        at = column + 1
        item: YNode
        while True:
            at = _skip(line, at)
            first = line[at : at + 1]
            if first == "]":
                break  # (after the opening bracket, or a comma: a trailing one is allowed)
            if first == "[":
                item, at = self._flow(line, number, at, depth + 1)
            elif first == '"' or first == "'":
                item, at = self._quoted(line, number, at)
            else:
                stop = _FLOW_STOP.search(line, at)
                end = stop.start() if stop is not None else len(line)
                text = line[at:end].rstrip(" ")
                if not _plain_start(text) or line[end : end + 1] not in (",", "]"):
                    raise _Untaken
                item = self._plain(text, number, at)
                at += len(text)
            items.append(item)
            at = _skip(line, at)
            separator = line[at : at + 1]
            if separator == "]":
                break
            if separator != ",":
                raise _Untaken
            at += 1
        node.size = self.total - before
        node.span = Span(self.source, number, column + 1, number, at + 2)
        return node, at + 1


def _plain_start(text: str) -> bool:
    """Whether ``text`` starts as a plain scalar does: not with an indicator, but for a ``-``
    before a character that makes it no entry (``-1``)."""
    if not text:
        return False
    first = text[0]
    return first not in _FIRST or (first == "-" and text[1:2] not in ("", " ", ",", "[", "]"))


def _skip(line: str, at: int) -> int:
    """The column of the first character at or after ``at`` that is not a space."""
    while line[at : at + 1] == " ":
        at += 1
    return at
