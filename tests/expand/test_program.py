"""A network compiled into a program of its input sizes gives, wherever it gives figures, the
figures expanding the spec afresh at that input gives; where expanding fails, it gives none."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st

import netspec
from netspec.errors import NetspecError
from netspec.expand.expander import expand
from netspec.expand.ir import CHANNEL_READS
from netspec.expand.memo import Memo
from netspec.expand.program import Figures, compile_params, compile_sizes
from netspec.expr import nodes as n
from netspec.expr.evaluate import Sym, tracing
from netspec.ops.base import Shape
from netspec.spec.load import bundled_names
from tests.expand.test_reinfer import _drawn_sizes, _load, _sizes
from tests.strategies import Example, examples


def _fresh(spec: Any, params: dict[str, Any], shape: Shape) -> Figures | NetspecError:
    try:
        return Figures.of(expand(spec, params, shape))
    except NetspecError as exc:
        return exc


def _agrees(what: str, got: Figures | None, fresh: Figures | NetspecError, shape: Shape) -> None:
    if isinstance(fresh, NetspecError):
        assert got is None, f"{what} at {shape}: expansion fails ({fresh.message})"
    elif got is not None:
        assert got == fresh, f"{what} at {shape}"


def _more_sizes(shape: Shape) -> list[Shape]:
    """:func:`_sizes` and a spread of squares around the input's own."""
    channels, *rest = shape
    out = _sizes(shape)
    for size in (2, 5, 17, 31, 64, 97, 128, 200, 255, 300):
        out.append((channels, *([size] * len(rest))))
    return out


@pytest.mark.parametrize("name", bundled_names())
def test_compiled_figures_equal_expanded_again(name: str) -> None:
    spec = netspec.load(name)
    net = expand(spec.spec, spec.params)
    program = compile_sizes(net)  # (None: its tree read other sizes of its blocks' inputs)
    if program is None:
        return
    assert program(net.input) == Figures.of(net)
    for shape in _more_sizes(net.input):
        _agrees(name, program(shape), _fresh(spec.spec, spec.params, shape), shape)


@pytest.mark.parametrize(
    "name",
    [
        "mobilenet_v2",
        "resnet50",
        "vgg16",
        "efficientnet_b0",
        "densenet121",
        "c3d",
        "fcn_resnet50",  # `from:` children: a resize to the input
        "lraspp_mobilenet_v3_large",  # and a head of two inputs, one `backbone.4`
    ],
)
def test_common_networks_compile_and_hold_for_other_sizes(name: str) -> None:
    """The sweep's speed rests on these: a program is made, and holds at sizes whose decisions
    are the input's own (every layer's output at least 2 wide, as at 224)."""
    spec = netspec.load(name)
    net = expand(spec.spec, spec.params)
    program = compile_sizes(net)
    assert program is not None
    channels, *rest = net.input
    for size in (160, 192, 256, 288):
        shape = (channels, *([size] * len(rest)))
        got = program(shape)
        assert got is not None, f"{name} at {shape}"
        assert got == Figures.of(expand(spec.spec, spec.params, shape))


@given(ex=examples(), data=st.data())
def test_drawn_specs_compiled_equal_expanded_again(ex: Example, data: Any) -> None:
    """Over the whole language (``tests/strategies.py``), as
    ``test_drawn_specs_inferred_again_equal_expanded_again``: a spec expanded at its params,
    compiled into a program of its input sizes, gives at other inputs — smaller, larger, tiny,
    not square, drawn, of other channels or rank — the figures expanding afresh gives, or none;
    none wherever expanding fails."""
    note(repr(ex))
    with tempfile.TemporaryDirectory() as folder:
        spec = _load(ex, Path(folder))
    first = None if ex.input_override is None else tuple(ex.input_override)
    net = expand(spec.spec, spec.params, first, memo=Memo())
    if not net.input_reads <= CHANNEL_READS:  # compile_sizes gives none
        event("program: blocks read other sizes of their input")
    program = compile_sizes(net)
    if program is None:
        event("program: none")
        return
    assert program(net.input) == Figures.of(net)
    for shape in _drawn_sizes(data.draw, net.input):
        got = program(shape)
        event("program: figures" if got is not None else "program: none at a size")
        _agrees("the drawn spec", got, _fresh(spec.spec, spec.params, shape), shape)


def test_decisions_are_guards_and_value_reads_pin() -> None:
    """While tracing, a comparison on a known ``Sym`` is recorded with its outcome, and a read
    of its value (``int()``, ``.value``) pins it; arithmetic records nothing."""
    h = Sym(n.Name("d1"), 7)
    with tracing() as trace:
        twice = h * 2 - 1
        assert twice > 10
        assert not (twice < 3)
        assert trace.guards and len(trace.guards) == 2
        count = len(trace.guards)
        assert int(twice) == 13
        assert len(trace.guards) == count + 1
        op, left, right, truth = trace.guards[-1]
        assert (op, right, truth) == ("==", n.Const(13), True)
        assert (twice == 13) is True and (twice != 13) is False
        assert trace.guards[-1][0] == "!="
        with pytest.raises(TypeError, match="not hashable"):
            hash(twice)  # a lookup by it would decide, unrecorded
    outside = Sym(n.Name("d1"), 7)
    assert outside > 3  # no trace: nothing recorded, nothing raised
    assert outside != 7  # without a trace, a Sym is compared as any object is: by identity
    assert {outside: 1}[outside] == 1


def test_a_program_refuses_what_it_was_not_traced_for() -> None:
    spec = netspec.load("mobilenet_v2")
    net = expand(spec.spec, spec.params)
    program = compile_sizes(net)
    assert program is not None
    assert program((4, 224, 224)) is None  # other channels
    assert program((3, 224)) is None  # other rank
    assert program((3, 0, 224)) is None  # not a size
    assert "def figures(d1, d2):" in program.code


def _around(value: Any) -> list[Any]:
    """Values of a numeric param near and far from ``value``, of its type."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return sorted({value, value + 1, max(1, value // 2), 2 * value, 3})
    return [value, value * 0.5, value * 0.75, value * 1.3, value * 2.0, 0.01]


@pytest.mark.parametrize("name", bundled_names())
def test_programs_of_params_equal_expanded_again(name: str) -> None:
    """A bundled spec compiled into a program of every numeric param and the input's sizes
    (:func:`compile_params`) gives, for each param moved alone and another input size, the
    figures a fresh expansion gives, or none where that fails or decides otherwise."""
    spec = netspec.load(name)
    numeric = [k for k, v in spec.params.items() if type(v) in (int, float)]
    x = spec.network.input
    program = compile_params(spec.spec, spec.params, numeric, x)
    if program is None:
        return
    assert program(x, spec.params) == Figures.of(spec.network)
    other = (x[0], *(d + 32 for d in x[1:]))
    for key in numeric:
        for value in _around(spec.params[key]):
            params = {**spec.params, key: value}
            for shape in (x, other):
                try:
                    fresh: Figures | NetspecError = Figures.of(expand(spec.spec, params, shape))
                except NetspecError as exc:
                    fresh = exc
                _agrees(f"{name} {key}={value}", program(shape, params), fresh, shape)


def test_every_bundled_spec_compiles_over_its_numeric_params() -> None:
    """The trace of a whole expansion runs on every bundled spec (what it cannot keep as an
    expression it pins, rather than fail): a sweep over their params is compiled, not expanded
    row by row."""
    missed = []
    for name in bundled_names():
        spec = netspec.load(name)
        numeric = [k for k, v in spec.params.items() if type(v) in (int, float)]
        if compile_params(spec.spec, spec.params, numeric, spec.network.input) is None:
            missed.append(name)
    assert missed == []


def test_a_traced_width_stays_an_expression_through_the_spec_and_the_rules() -> None:
    """MobileNetV2's channels are `make_divisible(c * width_mult, 8)`: traced, the call stays in
    the program, which then holds at other widths (the figures of a fresh expansion there), and
    gives none where the tree would differ: at width 0.1 the first two stages' channels are
    equal (both 8), so a block that had no residual has one."""
    spec = netspec.load("mobilenet_v2")
    x = spec.network.input
    program = compile_params(spec.spec, spec.params, ["width_mult"], x)
    assert program is not None
    assert "make_divisible(" in program.code and "def figures(p0, d1, d2):" in program.code
    for width in (0.5, 0.75, 1.3):
        params = {**spec.params, "width_mult": width}
        for shape in (x, (3, 160, 160)):
            assert program(shape, params) == Figures.of(expand(spec.spec, params, shape))
    assert program(x, {**spec.params, "width_mult": 0.1}) is None
    assert program(x, {**spec.params, "width_mult": 1}) is None  # traced as a float
    assert program(x, {**spec.params, "num_classes": 10}) is None  # untraced: held as traced


def test_a_count_is_a_guard_and_what_the_tree_takes_by_value_pins() -> None:
    """A layer's count argument stays symbolic, its test `> 0` recorded; a `repeat` count is
    read (its value pins the program: another depth is another tree)."""
    text = """
netspec: 1
name: counted
input: [3, 8, 8]
params: {width: 4, depth: 2}
layers:
  - repeat: depth
    do:
      - conv2d(width * 2, 3, padding=1)
  - flatten
  - linear(10)
"""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.yaml"
        path.write_text(text)
        spec = netspec.load(path)
        program = compile_params(spec.spec, spec.params, ["width", "depth"], (3, 8, 8))
        assert program is not None
        for width in (1, 4, 7):
            params = {**spec.params, "width": width}
            assert program((3, 8, 8), params) == Figures.of(expand(spec.spec, params))
        assert program((3, 8, 8), {**spec.params, "depth": 3}) is None
        assert program((3, 8, 8), {**spec.params, "width": 0}) is None  # conv2d refuses 0
        with pytest.raises(NetspecError, match="out_channels"):
            expand(spec.spec, {**spec.params, "width": 0})
