"""Positions in spec text and the errors that point at them.

Every problem with a user's spec is a :class:`NetspecError`. It knows where it happened (a
:class:`Span` in a :class:`Source`), where in the network (the layer path, or the key path
outside the layers), what was expected and found, and, where one exists, a hint. The CLI prints
it as ``file:line:col: where: message`` followed by the source line and a caret, and exits 2.

Each pipeline stage raises its own subclass, so a test or a caller can tell a syntax error
from a shape error without parsing messages. A bug netspec detects in itself (a built module
that disagrees with the static analysis) is an :class:`InternalError` instead: the CLI exits 1.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class Source:
    """The text of one spec file (or of a ``--set`` value), shared by all spans into it."""

    __slots__ = ("name", "text", "ns", "_lines")

    def __init__(self, name: str, text: str, ns: bool = False) -> None:
        self.name = name
        self.text = text
        self.ns = ns  # .ns lines end at \n only; YAML's also at \r, NEL, U+2028 and U+2029
        self._lines: list[str] | None = None

    def line(self, number: int) -> str:
        """The text of 1-based line ``number`` without its newline ('' if out of range)."""
        if self._lines is None:
            self._lines = lines_of(self.text, self.ns)
        if 1 <= number <= len(self._lines):
            return self._lines[number - 1]
        return ""

    def __repr__(self) -> str:
        return f"Source({self.name!r})"


_YAML_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def lines_of(text: str, ns: bool) -> list[str]:
    """The lines of a spec text as its parser counts them (``str.splitlines`` would also
    break at form feeds and separators that neither format counts)."""
    if ns:
        return [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]
    return _YAML_BREAKS.split(re.sub(_YAML_BREAKS, "\n", text).removesuffix("\n"))


@dataclass(frozen=True, slots=True)
class Span:
    """A 1-based line/column range in a :class:`Source`."""

    source: Source
    line: int
    col: int
    end_line: int | None = None
    end_col: int | None = None

    @property
    def file(self) -> str:
        return self.source.name

    def __str__(self) -> str:
        return f"{self.source.name}:{self.line}:{self.col}"

    def shifted(self, columns: int, width: int | None = None) -> Span:
        """The span ``columns`` to the right on the same line, ``width`` columns wide."""
        col = self.col + columns
        end = col + width if width is not None else None
        return Span(self.source, self.line, col, self.line if end else None, end)


_WINDOW = 100
"""Longest stretch of a source line shown under an error."""

_LONGEST = 1000
"""Longest message (or path, or hint) an error reports in full; a value in it can be long (a
list of 100,000 items), and an error is read, not scrolled."""


def _brief(text: str) -> str:
    if len(text) <= _LONGEST:
        return text
    return f"{text[: _LONGEST - 100]} … {text[-60:]} ({len(text):,} characters in all)"


class NetspecError(Exception):
    """A problem with a spec, its parameters or its input: the user's to fix.

    Args:
        message: what was expected and what was found.
        span: where in the spec text; ``None`` when the problem has no position
            (a ``--set`` for an unknown parameter, say).
        where: the layer path (``features.3``) or key path (``params.depth``).
        hint: how to fix it, when there is something useful to say.
    """

    kind = "error"

    def __init__(
        self,
        message: str,
        span: Span | None = None,
        where: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.where = where
        self.hint = hint

    def locate(self, span: Span | None = None, where: str | None = None) -> NetspecError:
        """Fill in a position and path this error does not have yet; returns ``self``."""
        if self.span is None:
            self.span = span
        if self.where is None:
            self.where = where
        return self

    def headline(self) -> str:
        """``file:line:col: where: message`` — the first line of the report."""
        parts = []
        if self.span is not None:
            parts.append(str(self.span))
        if self.where:
            parts.append(_brief(self.where))
        parts.append(_brief(self.message))
        return ": ".join(parts)

    def render(self) -> str:
        """The full report: headline, the source line with a caret, and the hint."""
        lines = [self.headline()]
        if self.span is not None:
            text = self.span.source.line(self.span.line).rstrip()
            if text.strip():
                number = str(self.span.line)
                gutter = " " * len(number)
                width = 1
                if self.span.end_col is not None and self.span.end_line == self.span.line:
                    width = max(1, self.span.end_col - self.span.col)
                start = self.span.col - 1
                if len(text) > _WINDOW:  # show a window of a very long line around the column
                    left = max(0, start - _WINDOW // 2)
                    shown = text[left : left + _WINDOW]
                    prefix = "…" if left else ""
                    suffix = "…" if left + _WINDOW < len(text) else ""
                    text = prefix + shown + suffix
                    start = start - left + len(prefix)
                    width = min(width, _WINDOW - (start - len(prefix)))
                caret = " " * start + "^" * max(1, width)
                lines.append(f" {number} | {text}")
                lines.append(f" {gutter} | {caret}")
        if self.hint:
            lines.append(f"hint: {_brief(self.hint)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.headline()


class SourceError(NetspecError):
    """The text cannot be read: malformed YAML, a syntax error in an expression, limits."""

    kind = "syntax error"


class SpecError(NetspecError):
    """The spec is well-formed text but says something the language does not allow."""

    kind = "spec error"


class ExprError(NetspecError):
    """An expression cannot be evaluated: undefined name, wrong type, division by zero."""

    kind = "expression error"


class ShapeError(NetspecError):
    """A layer cannot take the shape that reaches it, or its attributes are invalid."""

    kind = "shape error"


class CodegenError(NetspecError):
    """The spec is valid but cannot be written as PyTorch source."""

    kind = "codegen error"


class InternalError(RuntimeError):
    """A bug in netspec, never a problem with the user's spec — deliberately not a
    :class:`NetspecError`, so ``except NetspecError`` never catches it.

    Raised when netspec catches itself out: a built module whose state_dict, parameter count
    or forward shapes differ from the static analysis. The CLI reports it and exits 1.

    Args:
        message: what disagrees; the first difference comes first.
        details: every difference found (the first is the one the message names).
    """

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)

    def __str__(self) -> str:
        rest = self.details[1:]
        return "\n  ".join([self.message, *rest]) if rest else self.message


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The one of ``choices`` ``word`` is likeliest a misspelling of, or ``None``."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return close[0]
    return {c.lower(): c for c in options}.get(word.lower())


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A ``did you mean 'x'?`` phrase for the closest of ``choices``, or ``None``."""
    close = closest(word, choices)
    return f"did you mean '{close}'?" if close else None


def choices_hint(word: str, choices: Iterable[str], what: str, limit: int = 12) -> str:
    """A hint naming the closest choice and listing the valid ones."""
    options = sorted(set(choices))
    guess = did_you_mean(word, options)
    shown = ", ".join(options[:limit]) + (", …" if len(options) > limit else "")
    listing = f"{what}: {shown}" if options else f"no {what} are defined"
    return f"{guess} {listing}" if guess else listing


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control characters (ANSI escape sequences start
    with one), invisible formatting characters (bidi overrides that reorder what a reader
    sees) and lone surrogates are shown escaped, as Python writes them (``\\x1b``,
    ``\\u202e``); line breaks and tabs stay."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch in "\n\t" or unicodedata.category(ch) not in _HIDDEN else ascii(ch)[1:-1]
        for ch in text
    )


_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Unicode categories never printed raw: controls, formatting, surrogates, private use,
unassigned, line and paragraph separators."""
