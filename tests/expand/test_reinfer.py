"""An expanded network inferred again for another input size equals the network expanding
again gives, node by node, wherever ``reinfer`` gives one; where expanding fails, it gives
none (expansion reports the error)."""

from __future__ import annotations

import dataclasses
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st

import netspec
from netspec.errors import NetspecError
from netspec.expand.expander import MAX_RANK, expand
from netspec.expand.ir import CHANNEL_READS, Node, OpNode, SeqNode, lint, walk
from netspec.expand.memo import Memo
from netspec.expand.reinfer import reinfer
from netspec.infer import Network
from netspec.ops.base import Shape
from netspec.spec.format import to_ns
from netspec.spec.load import bundled_names, read_text
from tests.expand.test_expander import _dump
from tests.strategies import Example, examples


def _sizes(shape: Shape) -> list[Shape]:
    """Other inputs of the same rank and channels: smaller, larger, tiny (often refused)."""
    channels, *rest = shape
    if not rest:
        return []
    out: list[Shape] = []
    for size in (lambda d: max(1, d // 2), lambda d: d + 16, lambda d: 3, lambda d: 1):
        out.append((channels, *(size(d) for d in rest)))
    out.append((channels, *rest[:-1], rest[-1] + 7))  # not square
    return out


def _expand(spec: Any, params: dict[str, Any], shape: Shape) -> Any:
    try:
        return expand(spec, params, shape)
    except NetspecError as exc:
        return exc


def _fields(root: Node) -> list[tuple[object, ...]]:
    """Every field of every node (children and a path's nodes by their paths): what
    :func:`_dump` reads and the rest (``sources``, ``others``, ``inputs``…)."""
    out: list[tuple[object, ...]] = []
    for node in walk(root):
        row: list[object] = [type(node).__name__]
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if f.name == "children":
                value = [child.path for child in value]
            elif f.name == "flow":
                value = [
                    tuple(
                        [c.path for c in getattr(run, g.name)]
                        if g.name == "nodes"
                        else getattr(run, g.name)
                        for g in dataclasses.fields(run)
                    )
                    for run in value
                ]
            row.append((f.name, value))
        out.append(tuple(row))
    return out


def _agrees(what: str, again: Network | None, fresh: Network | NetspecError, shape: Shape) -> None:
    """``again`` (``reinfer``'s network at ``shape``) is ``fresh`` (expansion's) node by node,
    or ``None``; ``None`` where expansion fails."""
    if isinstance(fresh, NetspecError):
        assert again is None, f"{what} at {shape}: expansion fails ({fresh.message})"
        return
    if again is None:
        return
    lint(again.root)
    assert _dump(again.root) == _dump(fresh.root), f"{what} at {shape}"
    assert _fields(again.root) == _fields(fresh.root), f"{what} at {shape}"
    assert (again.totals, again.output, again.input) == (fresh.totals, fresh.output, shape)
    assert (again.params, again.lets) == (fresh.params, fresh.lets)
    assert (again.name, again.description, again.class_name, again.input_dtype) == (
        fresh.name,
        fresh.description,
        fresh.class_name,
        fresh.input_dtype,
    )


@pytest.mark.parametrize("name", bundled_names())
def test_inferred_again_equals_expanded_again(name: str) -> None:
    spec = netspec.load(name)
    net = expand(spec.spec, spec.params)
    for shape in _sizes(net.input):
        again = reinfer(net, shape, Memo().applied)  # (None: its tree read other sizes)
        _agrees(name, again, _expand(spec.spec, spec.params, shape), shape)


def _drawn_sizes(draw: Callable[[Any], Any], shape: Shape) -> list[Shape]:
    """:func:`_sizes`, one size of each dimension drawn, two inputs of other channels and one
    of another rank (which ``reinfer`` refuses: what a block reads of its input's channels and
    rank decides its tree)."""
    out = _sizes(shape)
    channels, *rest = shape
    if rest:
        out.append((channels, *(draw(st.integers(1, 24)) for _ in rest)))
    out += [(channels + 1, *rest), (max(1, channels - 1), *rest)]
    out.append((*shape, 2) if len(shape) < MAX_RANK else shape[:-1])
    return out


def _load(ex: Example, folder: Path) -> netspec.Spec:
    """The example's spec at its params (the overrides), in its own format, from a file where
    it says so (its base, for ``extends``, written in both formats), else from its text."""
    for stem, text in ex.yaml_texts().items():
        (folder / f"{stem}.yaml").write_text(text)
        (folder / f"{stem}.ns").write_text(to_ns(read_text(text, f"{stem}.yaml").spec))
    path = folder / ("main.ns" if ex.fmt == "ns" else "main.yaml")
    if ex.by_path:
        return netspec.load(path, **ex.overrides)
    return netspec.loads(path.read_text(), name=path.name, **ex.overrides)


@given(ex=examples(), data=st.data())
def test_drawn_specs_inferred_again_equal_expanded_again(ex: Example, data: Any) -> None:
    """Over the whole language (``tests/strategies.py``: every key of the schema, both
    formats, ``extends``, drawn params and input): a spec expanded at its params, with blocks
    reading of ``in`` only what :mod:`netspec.expand.reinfer` keeps, then inferred again for
    other inputs — smaller, larger, tiny (often refused), not square, one size of each
    dimension drawn, other channels and another rank (refused) — gives, wherever ``reinfer``
    gives a network, the network expanding the spec afresh at that input gives: node by node
    (``_dump``: every node's path, span, shapes, operator, attributes, form, tensors, MACs, a
    block's dataflow; and every other field of every node), with the same totals, output,
    params, ``let`` values and names, passing ``lint``. Wherever expanding afresh fails,
    ``reinfer`` gives none (expansion reports the error, positioned).

    So a sweep row inferred again is the row ``check`` gives (``tests/backends/test_sweep.py``
    checks the rows themselves). The first expansion and ``reinfer`` share a memo, as the
    rows of a sweep do; the fresh expansions use none, so a memo keyed too coarsely shows as a
    difference too."""
    note(repr(ex))
    with tempfile.TemporaryDirectory() as folder:
        spec = _load(ex, Path(folder))
    memo = Memo()
    first = None if ex.input_override is None else tuple(ex.input_override)
    net = expand(spec.spec, spec.params, first, memo=memo)
    if not net.input_reads <= CHANNEL_READS:  # reinfer gives none: blocks read other sizes
        event("reinfer: blocks read other sizes of their input")
    if any(isinstance(node, OpNode) and node.again for node in walk(net.root)):
        event("reinfer: a layer's arguments read its block's input sizes")
    for shape in _drawn_sizes(data.draw, net.input):
        again = reinfer(net, shape, memo.applied)
        fresh = _expand(spec.spec, spec.params, shape)
        if shape[0] != net.input[0] or len(shape) != len(net.input):
            event("reinfer: none, other channels or rank")
        elif again is not None:
            event("reinfer: a network")
        elif isinstance(fresh, NetspecError):
            event("reinfer: none, expansion fails")
        else:
            event("reinfer: none, expansion gives one")
        _agrees("the drawn spec", again, fresh, shape)


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet50", "vgg16", "efficientnet_b0"])
def test_common_networks_are_inferred_again(name: str) -> None:
    """The cases the sweep relies on are taken, not refused."""
    spec = netspec.load(name)
    net = expand(spec.spec, spec.params)
    assert net.input_reads <= CHANNEL_READS
    again = reinfer(net, (3, 160, 160))
    assert again is not None
    assert _dump(again.root) == _dump(expand(spec.spec, spec.params, (3, 160, 160)).root)


@pytest.mark.parametrize(
    "name", ["unet", "unet_recursive", "fcn_resnet50", "lraspp_mobilenet_v3_large"]
)
def test_networks_reading_tensors_by_name_are_inferred_again(name: str) -> None:
    """``from:`` children — U-Net's crops and concats, a head reading ``backbone.4``, a
    block of two inputs, a resize to ``input`` — read the tensors they name in the new tree."""
    spec = netspec.load(name)
    net = expand(spec.spec, spec.params)
    assert any(isinstance(node, SeqNode) and node.sources for node in walk(net.root))
    for size in (192, 256, 600):
        shape = (net.input[0], size, size + 8)
        again = reinfer(net, shape)
        assert again is not None, f"{name} at {shape}"
        _agrees(name, again, expand(spec.spec, spec.params, shape), shape)


TWICE = """
netspec: 1
name: twice
input: [4, 16, 16]
layers:
  - act: relu
  - pool: maxpool2d(2)
  - act: relu
  - up: resize(mode='nearest')
    from: [act, input]
"""


def test_a_name_two_calls_share_is_left_to_expansion() -> None:
    """One stateless module called twice under one name: which call's output ``from:``
    reads is expansion's to say (the later one), so the tree is not inferred again."""
    spec = netspec.loads(TWICE)
    net = expand(spec.spec, spec.params)
    assert net.root.children[-1].attrs.shapes == ((4, 8, 8), (4, 16, 16))
    assert reinfer(net, (4, 32, 32)) is None


BLOCK = """
netspec: 1
name: reads
input: [4, 16, 16]
blocks:
  Unit:
    params: [width]
    body:
      - if: READ
        then:
          - conv2d(width, 3, padding=1)
        else:
          - conv2d(width, 1)
layers:
  - a: Unit(8)
  - b: Unit(8)
"""


@pytest.mark.parametrize(
    ("read", "taken"),
    [
        ("in.channels == 4", True),
        ("in.height > 8", False),
        ("in.shape[0] == 4", False),
        ("len(in.shape) == 3", False),
        ("true", True),
    ],
)
def test_what_blocks_read_of_their_input_is_recorded(read: str, taken: bool) -> None:
    spec = netspec.loads(BLOCK.replace("READ", read))
    net = expand(spec.spec, spec.params)
    assert (net.input_reads <= CHANNEL_READS) is taken


SIZED = """
netspec: 1
name: sized
input: [4, 16, 16]
blocks:
  Unit:
    params: [width]
    body:
      - conv: conv2d(width, 1, padding=in.height % 2)
      - pool: adaptive_avgpool2d(1)
      - up: upsample(size=[in.height, in.width + 1])
LAYERS
"""


@pytest.mark.parametrize(
    ("layers", "taken"),
    [
        ("layers:\n  - a: Unit(8)\n  - b: Unit(8)", True),
        # a block's arguments decide its tree: structural
        ("  Outer:\n    body:\n      - u: Unit(in.height)\nlayers:\n  - o: Outer", False),
    ],
)
def test_a_layer_reading_its_blocks_input_sizes_is_bound_again(layers: str, taken: bool) -> None:
    """A layer's arguments reading sizes of its block's input (``in.height``) do not decide
    the tree: the layer notes its call, and ``reinfer`` binds it again with the block's new
    input. Sizes read anywhere else (here a block's arguments) decide it: no ``reinfer``."""
    spec = netspec.loads(SIZED.replace("LAYERS", layers))
    net = expand(spec.spec, spec.params)
    assert (net.input_reads <= CHANNEL_READS) is taken
    assert {
        node.again.reads for node in walk(net.root) if isinstance(node, OpNode) and node.again
    } == {
        frozenset({"height"}),
        frozenset({"height", "width"}),
    }
    for shape in [(4, 15, 16), (4, 9, 30), (4, 1, 1), (4, 64, 7)]:
        again = reinfer(net, shape, Memo().applied)
        assert (again is not None) is taken
        _agrees("sized", again, _expand(spec.spec, spec.params, shape), shape)
    if taken:
        again = reinfer(net, (4, 9, 30))
        assert again is not None
        up = again.root.children[0].children[-1]
        assert up.name == "up" and up.output == (8, 9, 31)  # a's input, one wider


@pytest.mark.parametrize("name", ["deeplabv3_resnet50", "deeplabv3_mobilenet_v3_large"])
def test_deeplabv3_is_inferred_again(name: str) -> None:
    """ASPP's image pooling resizes back to its block's input (``upsample(size=[in.height,
    in.width])``): bound again at each size, the rest of the tree inferred again."""
    spec = netspec.load(name)
    net = expand(spec.spec, spec.params)
    for size in (192, 257, 600):
        shape = (3, size, size + 8)
        again = reinfer(net, shape)
        assert again is not None, f"{name} at {shape}"
        _agrees(name, again, expand(spec.spec, spec.params, shape), shape)
        pooling = [n for n in walk(again.root) if isinstance(n, OpNode) and n.again]
        assert [n.path for n in pooling] == ["classifier.0.convs.4.4"]
        aspp_input = again.root.children[1].input  # the classifier's: the backbone's output
        assert pooling[0].output[1:] == tuple(pooling[0].attrs.size) == aspp_input[1:]


@pytest.mark.parametrize(
    "layer",
    [
        "conv2d(3, 1, padding=in.height % 2 if in.height > 8 else in.width % 2)",
        "conv2d(3, 1, padding=in.height % 2 if in.height > 8 else [in][0].width % 2)",
        "{conv2d: {out_channels: 3, kernel_size: 1, padding: in.height % 2}}",
    ],
)
def test_what_a_layer_reads_of_its_blocks_input_may_depend_on_the_size(layer: str) -> None:
    """A layer's arguments may read other sizes, or ``in`` itself, at another size (a
    condition on a size picks what else is read); a mapping call's arguments are read too."""
    spec = netspec.loads(
        f"netspec: 1\nname: t\ninput: [3, 16, 16]\nblocks:\n  B:\n    body:\n"
        f"      - c: {layer}\nlayers:\n  - b: B()\n"
    )
    net = expand(spec.spec, spec.params)
    assert net.input_reads == frozenset()
    for shape in [(3, 8, 8), (3, 4, 5), (3, 9, 9), (3, 33, 2)]:
        again = reinfer(net, shape)
        assert again is not None
        _agrees("t", again, expand(spec.spec, spec.params, shape), shape)


def test_expansions_in_other_threads_keep_their_own_reads() -> None:
    """What a tree reads of ``in`` is recorded per expansion, whatever runs beside it."""
    reading = netspec.loads(BLOCK.replace("READ", "in.height > 8"))
    plain = netspec.loads(
        "netspec: 1\nname: p\ninput: [3, 8, 8]\nblocks:\n  U:\n    body:\n"
        "      - c: conv2d(3, 1, padding=in.height % 2)\n"
        "layers:\n" + "".join(f"  - u{i}: U()\n" for i in range(40))
    )
    found: dict[str, set[frozenset[str] | None]] = {"reading": set(), "plain": set()}

    def run(name: str, spec: netspec.Spec) -> None:
        for _ in range(60):
            found[name].add(expand(spec.spec, spec.params).input_reads)

    threads = [
        threading.Thread(target=run, args=("reading", reading)),
        threading.Thread(target=run, args=("plain", plain)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == {"reading": {frozenset({"height"})}, "plain": {frozenset()}}


def test_a_layer_whose_input_sizes_decide_in_place_writing_is_left_to_expansion() -> None:
    """Which layers write in place decides what expansion checks of a block (a residual
    block's input must survive its body): a size that changes it gives no ``reinfer``."""
    spec = netspec.loads(
        "netspec: 1\nname: ip\ninput: [4, 8, 8]\nblocks:\n  Res:\n    params: [width]\n"
        "    residual: true\n    body:\n      - act: relu(inplace=in.height > 8)\n"
        "      - conv: conv2d(width, 3, padding=1)\nlayers:\n  - a: Res(4)\n"
    )
    net = expand(spec.spec, spec.params)
    assert net.input_reads == frozenset()
    with pytest.raises(NetspecError, match="writes in place"):
        expand(spec.spec, spec.params, (4, 16, 16))
    assert reinfer(net, (4, 16, 16)) is None
    again = reinfer(net, (4, 5, 7))
    _agrees("ip", again, expand(spec.spec, spec.params, (4, 5, 7)), (4, 5, 7))
    assert again is not None


def test_a_name_two_layers_share_reading_input_sizes_is_left_to_expansion() -> None:
    """One stateless module called twice must be the same layer at every input: where its
    arguments read the block's input sizes, they decide whether the name may repeat."""
    body = "      - up: upsample(size=[in.height, in.width])\n      - pool: maxpool2d(2)\n"
    head, _, _ = SIZED.partition("      - pool:")
    spec = netspec.loads(head + body * 2 + "layers:\n  - a: Unit(4)\n")
    net = expand(spec.spec, spec.params)
    assert net.input_reads == {"height", "width"}
    assert reinfer(net, (4, 20, 20)) is None


def test_a_block_whose_input_channels_change_is_not_inferred_again() -> None:
    text = (
        BLOCK.replace("READ", "in.channels == 4")
        .replace("  - a: Unit(8)", "  - flatten\n  - a: Unit(8)")
        .replace("input: [4, 16, 16]", "input: [4, 2, 2]")
    )
    text = text.replace("conv2d(width, 3, padding=1)", "linear(width)").replace(
        "conv2d(width, 1)", "linear(width + 1)"
    )
    spec = netspec.loads(text)
    net = expand(spec.spec, spec.params)
    assert reinfer(net, (4, 3, 3)) is None  # a's input has 36 features, not 16


def test_an_input_expansion_refuses_for_its_size_is_not_inferred_again() -> None:
    """An input of more elements than PyTorch's sizes hold is refused by expansion; a sweep
    row gets that refusal, not a network inferred from an earlier row."""
    net = netspec.loads(
        "netspec: 1\nname: t\ninput: [3, 8, 8]\nlayers:\n  - conv2d(4, 1)\n"
    ).network
    assert reinfer(net, (3, 2**40, 2**40)) is None
    assert reinfer(net, (3, 16, 16)) is not None
