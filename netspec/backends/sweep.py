"""The sweep back end: one spec analysed statically for every combination of a grid of values.

A grid is a list of axes, each a name and its values: a spec param, or ``input`` (the input
shape: ``N`` sets every spatial size to ``N``, keeping the channels; ``CxHxW`` gives the whole
shape). The rows are the cartesian product of the axes in the order given, the last axis
varying fastest. Each row is what ``netspec check`` reports for those values — parameters,
MACs, the output shape — and the activation memory: every layer's output, in elements × 4
bytes (float32, batch 1). A combination the spec refuses is a row with the error instead.

The spec is read and validated once; each row binds its values and expands it again, sharing
with the other rows of the sweep what is a function of its key alone (operator rules' results by
operator, attributes and input; validated attributes). A row that differs from an earlier one
only in the input size is, where :func:`~netspec.expand.reinfer.reinfer` can promise the same
tree, the earlier row's network with its shapes inferred again. Nothing here imports torch.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netspec.backends.summary import MacsConvention, jsonable
from netspec.errors import NetspecError, printable
from netspec.expand.expander import expand, input_shape_of
from netspec.expand.memo import Memo, cache, cached, freeze
from netspec.expand.program import Figures, Program, compile_params, compile_sizes
from netspec.expand.reinfer import inferable_again, reinfer
from netspec.infer import Network
from netspec.ops.base import Shape
from netspec.pause import collector_paused
from netspec.spec import models as m
from netspec.spec.params import Param, bind, parse_assignment

INPUT = "input"
"""The axis name of the input shape."""

MAX_ROWS = 10_000
"""Most combinations one sweep analyses."""

BYTES_PER_ELEMENT = 4
"""float32."""

KEPT_NETWORKS = 64
"""Most networks a sweep keeps to infer again for other input sizes (the latest; with
``input`` the last axis, one is enough)."""


@dataclass(frozen=True, slots=True)
class Axis:
    """One ``--grid NAME=V1,V2,…``: the values as written and as read."""

    name: str
    texts: tuple[str, ...]
    values: tuple[Any, ...]
    """Param values; for ``input``, an ``int`` (every spatial size) or a shape tuple."""


@dataclass(frozen=True, slots=True)
class Row:
    """One combination of the grid and what the analysis gives for it."""

    values: tuple[Any, ...]
    """The axes' values, in the axes' order."""
    texts: tuple[str, ...]
    input: Shape | None = None
    output: Shape | None = None
    parameters: int | None = None
    macs: int | None = None
    activation_bytes: int | None = None
    error: str | None = None
    hint: str | None = None
    """The error's hint (what check prints under it), where it has one."""


def _one_line(text: str) -> str:
    """``text`` printable, its lines joined: a cell of a row."""
    return " ".join(printable(text).split("\n"))


def split_values(text: str) -> list[str]:
    """``0.5,0.75,[1, 2]`` → ``['0.5', '0.75', '[1, 2]']``: commas outside brackets and
    quotes separate values."""
    out: list[str] = []
    depth = 0
    quote: str | None = None
    start = 0
    for index, ch in enumerate(text):
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            out.append(text[start:index].strip())
            start = index + 1
    out.append(text[start:].strip())
    return out


_SIZE = re.compile(r"[0-9]{1,30}")


def _input_value(text: str) -> int | tuple[int, ...]:
    """``160`` (every spatial size) or ``3x160x160`` (the whole shape)."""
    parts = [p.strip() for p in re.split(r"[x×]", text)]
    if all(_SIZE.fullmatch(p) for p in parts) and all(int(p) > 0 for p in parts):
        sizes = tuple(int(p) for p in parts)
        return sizes[0] if len(parts) == 1 else sizes
    raise NetspecError(
        f"--grid input expects a positive size or a shape such as 3x160x160, found {text!r}",
        where="--grid input",
        hint="e.g. --grid input=160,192,224 (square, keeping the channels) or "
        "--grid input=3x160x160,3x224x224",
    )


def parse_grid(items: Sequence[str], params: Mapping[str, Param]) -> list[Axis]:
    """The axes of ``--grid`` options, each ``NAME=V1,V2,…``.

    Raises:
        NetspecError: no ``=``, no values, an unknown param, a name given twice, a value
            that is not a literal, or one an axis gives twice.
    """
    axes: list[Axis] = []
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise NetspecError(
                f"--grid expects NAME=V1,V2,…, found {item!r}",
                where="--grid",
                hint="e.g. --grid width_mult=0.5,0.75,1.0 --grid input=160,192,224",
            )
        if any(axis.name == name for axis in axes):
            raise NetspecError(
                f"--grid {name} is given twice", where=f"--grid {name}", hint="give its values once"
            )
        texts = tuple(split_values(raw))
        if any(not t for t in texts):
            raise NetspecError(
                f"--grid {name} has an empty value in {raw!r}",
                where=f"--grid {name}",
                hint="separate values with single commas: --grid width_mult=0.5,1.0",
            )
        if name == INPUT:
            values: tuple[Any, ...] = tuple(_input_value(t) for t in texts)
        else:
            try:
                values = tuple(parse_assignment(f"{name}={t}", params)[1] for t in texts)
            except NetspecError as exc:
                exc.where = f"--grid {name}"
                raise
        _check_distinct(name, texts, values)
        axes.append(Axis(name, texts, values))
    if math.prod(len(axis.values) for axis in axes) > MAX_ROWS:
        count = math.prod(len(axis.values) for axis in axes)
        raise NetspecError(
            f"the grid has {count:,} combinations, more than the {MAX_ROWS:,} a sweep analyses",
            where="--grid",
            hint="sweep fewer values, or split the sweep",
        )
    return axes


def _check_distinct(name: str, texts: Sequence[str], values: Sequence[Any]) -> None:
    """Refuse a value an axis gives twice (rows that say the same twice); for ``input``, the
    ``--input C,H,W`` habit (``input=1,32,32`` is three input sizes) says how to write a shape.

    Raises:
        NetspecError: the first value given again.
    """
    seen: dict[Any, str] = {}
    for text, value in zip(texts, values, strict=True):
        key = freeze(value)
        if key in seen:
            hint = "give each value once"
            if name == INPUT:
                hint = (
                    "input=N sets every spatial size to N; a whole shape is written with x: "
                    f"input={'x'.join(texts)}"
                )
            first = f" (first as {seen[key]})" if seen[key] != text else ""
            raise NetspecError(
                f"the value {text} is given twice{first}",
                where=f"--grid {name}",
                hint=hint,
            )
        seen[key] = text


@dataclass
class Shared:
    """What the rows of one sweep share."""

    memo: Memo = field(default_factory=Memo)
    """Operator rules' results, validated attributes and call spans (functions of their keys
    alone, see :class:`~netspec.expand.memo.Memo`)."""
    networks: dict[Any, Network] = field(default_factory=dict)
    """Networks :func:`~netspec.expand.reinfer.reinfer` may take, by their frozen params (to
    infer them again for other input sizes; see
    :func:`~netspec.expand.reinfer.inferable_again`)."""
    sizes: int = 1
    """Rows of the grid at each combination of params (the input axis's values)."""
    left: dict[Any, int] = field(default_factory=dict)
    """By frozen params: rows still to come, once a row at those params has been analysed."""
    programs: dict[Any, list[Program]] = field(default_factory=dict)
    """By frozen params: networks' figures as programs of the input sizes
    (:mod:`~netspec.expand.program`), compiled where enough rows are left to repay it."""
    served: dict[Any, int] = field(default_factory=dict)
    """By frozen params: rows the programs gave (a third is compiled only where one has)."""
    tried: dict[Any, int] = field(default_factory=dict)
    """By frozen params: networks compiled, programs made or not."""

    traced: tuple[str, ...] = ()
    """The params the grid varies: a program of them (and the input's sizes) is compiled where
    the grid is large enough to repay it (:func:`~netspec.expand.program.compile_params`)."""
    rows: int = 0
    """Rows of the grid still to analyse (the one being analysed among them)."""
    whole: list[Program] = field(default_factory=list)
    """Programs of the traced params and the input's sizes."""
    whole_tried: int = 0
    """Programs of the traced params compiled, made or not."""
    whole_served: int = 0
    """Rows they gave."""

    def may_compile(self) -> bool:
        """Whether a program of the traced params may be compiled now: enough rows are left to
        repay it (:data:`TRACE_FROM`), and fewer than :data:`PROGRAMS` were (a third only where
        one has given a row)."""
        tried = self.whole_tried
        if not self.traced or self.rows < TRACE_FROM or tried >= PROGRAMS:
            return False
        return tried < 2 or self.whole_served > 0

    def compile_whole(self, spec: m.SpecFile, params: dict[str, Any], x: Shape) -> Program | None:
        """A program of the traced params compiled at ``params`` and ``x`` where one may be
        (:meth:`may_compile`), else ``None``."""
        if not self.may_compile():
            return None
        self.whole_tried += 1
        made = compile_params(spec, params, self.traced, x)
        if made is not None:
            self.whole.append(made)
        return made

    def compile(self, key: Any, net: Network, left: int) -> None:
        """Compile ``net`` for the ``left`` rows to come at its params, where that may pay
        (see :data:`COMPILE_FROM`, :data:`PROGRAMS`)."""
        tried = self.tried.get(key, 0)
        if left < COMPILE_FROM or tried >= PROGRAMS or (tried >= 2 and key not in self.served):
            return
        self.tried[key] = tried + 1
        made = compile_sizes(net)
        if made is not None:
            self.programs.setdefault(key, []).append(made)


COMPILE_FROM = 12
"""Fewest rows left at the same params for which a network is compiled into a program of its
input sizes (compiling costs about ten inferences again; each row then about a hundredth)."""
TRACE_FROM = 16
"""Fewest rows left for which the spec is compiled into a program of the params the grid
varies and the input's sizes (compiling costs about seven expansions; each row then about
one two-hundredth of one)."""
PROGRAMS = 3
"""Most programs kept per params (a program holds where the rules decide as they did at the
input it was traced at: a very small input may decide otherwise). A second is compiled where
the first does not hold, a third only where one of them has given a row (a rule that reads a
size's value pins its program to that size)."""


class Sweeper:
    """One spec, read once, analysed for many values."""

    def __init__(
        self,
        spec: m.SpecFile,
        declared: Mapping[str, Param],
        overrides: Mapping[str, Any],
        input_shape: Shape | None,
        macs: MacsConvention = "torchvision",
    ) -> None:
        self.spec = spec
        self.declared = declared
        self.overrides = dict(overrides)
        self.input = input_shape
        self.macs = macs
        self._inputs: dict[Any, Shape] = {}
        """The spec's own input shape, by frozen params (``input=N`` keeps its channels)."""

    def _shape(self, value: int | tuple[int, ...], params: dict[str, Any]) -> Shape:
        """``input=N``: every spatial size of the input (``--input``, or the spec's own at
        these values) N, its channels kept; ``input=CxHxW`` the whole shape."""
        if isinstance(value, tuple):
            return value
        base = self.input or self._own_input(params)
        return (base[0], *([value] * (len(base) - 1))) if len(base) > 1 else (value,)

    def _own_input(self, params: dict[str, Any]) -> Shape:
        """The spec's own input shape at ``params``."""
        key = freeze(params)
        base: Shape | None = cached(self._inputs, key)
        if base is None:
            base = input_shape_of(self.spec, params)
            cache(self._inputs, key, base)
        return base

    @collector_paused  # as expansion is (see netspec.pause); reinfer allocates as much
    def row(self, axes: Sequence[Axis], picks: Sequence[int], shared: Shared | None = None) -> Row:
        """The analysis for one combination: value number ``picks[i]`` of axis ``i``
        (``shared``: what the rows of one sweep share)."""
        values = tuple(axis.values[i] for axis, i in zip(axes, picks, strict=True))
        texts = tuple(axis.texts[i] for axis, i in zip(axes, picks, strict=True))
        overrides = dict(self.overrides)
        shaped: int | tuple[int, ...] | None = None
        for axis, value in zip(axes, values, strict=True):
            if axis.name == INPUT:
                shaped = value
            else:
                overrides[axis.name] = value
        try:
            params = bind(self.declared, overrides, "--grid")
            shape = self.input if shaped is None else self._shape(shaped, params)
            x, f = self._analyse(params, shape, shared)
        except NetspecError as exc:
            hint = _one_line(exc.hint) if exc.hint else None
            return Row(values, texts, error=_one_line(exc.headline()), hint=hint)
        return Row(
            values,
            texts,
            x,
            f.output,
            f.parameters,
            f.macs + (f.extra_ops if self.macs == "all" else 0),
            BYTES_PER_ELEMENT * f.activations,
        )

    def _analyse(
        self, params: dict[str, Any], shape: Shape | None, shared: Shared | None
    ) -> tuple[Shape, Figures]:
        """The input and figures at ``params`` and ``shape``: an earlier row's network at the
        same params, compiled (:mod:`~netspec.expand.program`) or inferred again
        (:mod:`~netspec.expand.reinfer`) for this input where it can be, else expanded (and
        kept for the next rows at these params)."""
        if shared is None:
            net = expand(self.spec, params, shape)
            return net.input, Figures.of(net)
        programmed = self._programmed(params, shape, shared)
        shared.rows -= 1
        if programmed is not None:
            return programmed
        key = freeze(params)
        left = shared.left[key] = shared.left.get(key, shared.sizes) - 1
        earlier = cached(shared.networks, key)
        if earlier is not None and shape is not None:
            for program in shared.programs.get(key, ()):
                got = program(shape)
                if got is not None:
                    shared.served[key] = shared.served.get(key, 0) + 1
                    return shape, got
            again = reinfer(earlier, shape, shared.memo.applied)
            if again is not None:
                shared.compile(key, again, left)  # the programs decide otherwise here
                return again.input, Figures.of(again)
        net = expand(self.spec, params, shape, memo=shared.memo)
        if shape is not None and inferable_again(net):
            if len(shared.networks) >= KEPT_NETWORKS:  # the oldest goes: memory stays bounded
                oldest = next(iter(shared.networks))
                del shared.networks[oldest]
                shared.programs.pop(oldest, None)
            cache(shared.networks, key, net)
            shared.compile(key, net, left)
        return net.input, Figures.of(net)

    def _programmed(
        self, params: dict[str, Any], shape: Shape | None, shared: Shared
    ) -> tuple[Shape, Figures] | None:
        """The input and figures at ``params`` and ``shape`` from a program of the params the
        grid varies (compiled here where none holds and enough rows are left), or ``None``."""
        if not shared.traced or not (shared.whole or shared.may_compile()):
            return None
        try:
            x = shape if shape is not None else self._own_input(params)
        except NetspecError:  # (expanding reports it, after what it finds first)
            return None
        for program in shared.whole:
            got = program(x, params)
            if got is not None:
                shared.whole_served += 1
                return x, got
        made = shared.compile_whole(self.spec, params, x)
        got = made(x, params) if made is not None else None
        if got is None:
            return None
        shared.whole_served += 1
        return x, got

    def run(self, axes: Sequence[Axis]) -> list[Row]:
        """Every combination, the last axis varying fastest; the rows share operator rules'
        results, validated attributes and call spans (functions of their keys alone), and a
        row that differs from an earlier one only in the input size is that row's network
        inferred again where it can be (:mod:`~netspec.expand.reinfer`)."""
        ranges = (range(len(axis.values)) for axis in axes)
        sizes = [len(axis.values) for axis in axes if axis.name == INPUT]
        shared = Shared(sizes=sizes[0] if sizes else 1)
        shared.traced = tuple(axis.name for axis in axes if axis.name != INPUT)
        shared.rows = math.prod(len(axis.values) for axis in axes)
        return [self.row(axes, picks, shared) for picks in itertools.product(*ranges)]


# -- output ----------------------------------------------------------------------------------


def _dims(shape: Shape | None) -> str:
    return "x".join(str(d) for d in shape) if shape is not None else ""


COLUMNS = (
    "input_shape",
    "output_shape",
    "parameters",
    "macs",
    "activation_bytes",
    "error",
    "hint",
)
"""The columns after the axes' (CSV)."""


def to_csv(axes: Sequence[Axis], rows: Sequence[Row]) -> str:
    """One header line (the axes' names, then :data:`COLUMNS`) and one line per row; shapes
    as ``3x224x224``, failed rows with empty figures, the error and its hint."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*(axis.name for axis in axes), *COLUMNS])
    for row in rows:
        writer.writerow(
            [
                *row.texts,
                _dims(row.input),
                _dims(row.output),
                "" if row.parameters is None else row.parameters,
                "" if row.macs is None else row.macs,
                "" if row.activation_bytes is None else row.activation_bytes,
                row.error or "",
                row.hint or "",
            ]
        )
    return out.getvalue()


def data(
    name: str, axes: Sequence[Axis], rows: Sequence[Row], macs: MacsConvention
) -> dict[str, Any]:
    """The sweep as plain data (what ``--format json`` prints)."""

    def value(axis: Axis, v: Any) -> Any:
        return list(v) if axis.name == INPUT and isinstance(v, tuple) else jsonable(v)

    return {
        "spec": name,
        "macs_convention": macs,
        "activation_bytes": "every layer's output elements × 4 (float32, batch 1)",
        "grid": {axis.name: [value(axis, v) for v in axis.values] for axis in axes},
        "rows": [
            {
                "values": {
                    axis.name: value(axis, v) for axis, v in zip(axes, row.values, strict=True)
                },
                "input": list(row.input) if row.input is not None else None,
                "output": list(row.output) if row.output is not None else None,
                "parameters": row.parameters,
                "macs": row.macs,
                "activation_bytes": row.activation_bytes,
                "error": row.error,
                "hint": row.hint,
            }
            for row in rows
        ],
    }


def to_json(name: str, axes: Sequence[Axis], rows: Sequence[Row], macs: MacsConvention) -> str:
    return json.dumps(data(name, axes, rows, macs), indent=2) + "\n"


def table(axes: Sequence[Axis], rows: Sequence[Row]) -> Any:
    """A rich table: one line per combination."""
    from rich.table import Table
    from rich.text import Text

    from netspec.ops.base import fmt_shape

    grid = Table(header_style="bold", pad_edge=False, box=None)
    for axis in axes:
        grid.add_column(printable(axis.name), no_wrap=True)
    grid.add_column("Input", no_wrap=True)
    grid.add_column("Output", no_wrap=True)
    grid.add_column("Params", justify="right", no_wrap=True)
    grid.add_column("MACs", justify="right", no_wrap=True)
    grid.add_column("Activations", justify="right", no_wrap=True)
    failed = any(row.error is not None for row in rows)
    if failed:
        grid.add_column("Error")
    for row in rows:
        cells = [printable(t) for t in row.texts]
        if row.error is not None:
            error = Text(row.error, style="red")
            if row.hint:
                error.append(f"\nhint: {row.hint}", style="dim")
            grid.add_row(*cells, "", "", "", "", "", error)
            continue
        assert row.input is not None and row.output is not None
        assert row.parameters is not None and row.macs is not None
        assert row.activation_bytes is not None
        grid.add_row(
            *cells,
            fmt_shape(row.input),
            fmt_shape(row.output),
            f"{row.parameters:,}",
            f"{row.macs:,}",
            f"{row.activation_bytes / 2**20:,.2f} MiB",
            *([""] if failed else []),
        )
    return grid
