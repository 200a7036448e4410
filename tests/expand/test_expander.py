"""Expansion: how a spec becomes one concrete network — names, paths, loops, conditions."""

from __future__ import annotations

import pytest

import netspec
from netspec.errors import NetspecError, SpecError
from netspec.expand.expander import MAX_LAYERS, Memo, class_name, container_kind, expand
from netspec.expand.ir import (
    BlockNode,
    JoinRun,
    LintError,
    Node,
    OpNode,
    PathRun,
    SeqNode,
    leaves,
    lint,
    modules,
    walk,
)
from netspec.spec import models as m
from netspec.spec.load import bundled_names
from tests.conftest import spec_text


def network(layers: list[str], shape: tuple[int, ...] = (3, 16, 16), **extra: str) -> SeqNode:
    net = netspec.loads(spec_text(layers, shape, **extra)).network
    lint(net.root)
    return net.root


def paths(root: SeqNode) -> list[tuple[str, str, bool]]:
    return [(leaf.path, leaf.op.name, leaf.functional) for leaf in leaves(root)]


def test_unnamed_list_is_sequential_indexed_through_loops() -> None:
    root = network(
        [
            "- conv2d(4, 3)",
            "- repeat: 2",
            "  do: [relu, 'conv2d(4, 3, padding=1)']",
            "- if: false",
            "  then: [batchnorm2d]",
            "  else: [identity]",
        ]
    )
    assert root.kind == "sequential"
    assert [(p, o) for p, o, _ in paths(root)] == [
        ("0", "conv2d"),
        ("1", "relu"),
        ("2", "conv2d"),
        ("3", "relu"),
        ("4", "conv2d"),
        ("5", "identity"),
    ]


def test_named_top_level_is_a_class_with_functional_calls() -> None:
    root = network(
        ["- conv1: conv2d(4, 3)", "- relu", "- pool: maxpool2d(2)", "- flatten", "- fc: linear(10)"]
    )
    assert root.kind == "class"
    assert paths(root) == [
        ("conv1", "conv2d", False),
        ("relu", "relu", True),
        ("pool", "maxpool2d", False),
        ("flatten", "flatten", True),
        ("fc", "linear", False),
    ]
    assert list(modules(root)) == ["conv1", "pool", "fc"]


def test_a_stateless_name_may_repeat_as_one_shared_module() -> None:
    root = network(
        [
            "- conv1: conv2d(4, 3)",
            "- act: relu(inplace=true)",
            "- conv2: conv2d(4, 3)",
            "- act: relu(inplace=true)",
        ]
    )
    assert [p for p, _, _ in paths(root)] == ["conv1", "act", "conv2", "act"]
    assert list(modules(root)) == ["conv1", "act", "conv2"]


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (["- act: relu", "- act: relu(inplace=true)"], "used twice"),
        (["- c: conv2d(4, 1)", "- c: conv2d(4, 1)"], "used twice"),
        (["- blocks:", "    - a: relu", "    - a: relu"], "used twice"),
        (["- conv2d(4, 3)", "- fc: linear(2)"], "needs a name"),
        (
            ["- n: relu", "- batchnorm2d(affine=false, track_running_stats=false)"],
            "has no functional form",
        ),
        (["- s:", "    - a: relu", "    - relu"], "has no name, but other layers in s have names"),
        (["- a: relu", "- for: i in range(2)", "  do:", "    - c: conv2d(4, 1)"], "used twice"),
        (["- a: relu", "- for: i in range(2)", "  do:", "    - conv2d(4, 1)"], "needs a name"),
    ],
)
def test_naming_rules(layers: list[str], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        netspec.loads(spec_text(layers, (3, 8, 8))).check()


def test_a_loop_in_a_class_gives_it_attributes_by_template() -> None:
    """A loop directly in a model that names its layers: each iteration's names are the
    model's attributes (no container between), unnamed stateless layers calls in forward."""
    root = network(
        [
            "- stem: conv2d(4, 1)",
            "- for: i in range(1, 3)",
            "  do:",
            '    - "conv{i}": conv2d(4, 3, padding=1)',
            "    - relu",
            "    - act: relu",
        ]
    )
    assert root.kind == "class"
    assert [(p, f) for p, _, f in paths(root)] == [
        ("stem", False),
        ("conv1", False),
        ("relu", True),
        ("act", False),
        ("conv2", False),
        ("relu", True),
        ("act", False),
    ]
    assert list(modules(root)) == ["stem", "conv1", "act", "conv2"]


def test_named_nested_list_keeps_names_and_templates() -> None:
    root = network(
        [
            "- blocks:",
            "    - stem: conv2d(4, 3)",
            "    - for: i, w in enumerate([8, 16])",
            "      do:",
            "        - 'conv{i + 1}': conv2d(w, 3, padding=1)",
            "        - 'act{i + 1}': relu",
        ]
    )
    blocks = root.children[0]
    assert isinstance(blocks, SeqNode) and blocks.kind == "module"
    assert [c.name for c in blocks.children] == ["stem", "conv1", "act1", "conv2", "act2"]
    assert blocks.output == (16, 14, 14)


def test_loop_variables_unpack_and_repeat_counts() -> None:
    root = network(
        [
            "- for: c, k in zip([4, 8], [3, 1])",
            "  do: ['conv2d(c, k)']",
            "- repeat: n",
            "  as: i",
            "  do: ['conv2d(8 + i, 1)']",
        ],
        params="{n: 3}",
    )
    calls = [leaf.call for leaf in leaves(root)]
    assert calls == [
        "conv2d(4, 3)",
        "conv2d(8, 1)",
        "conv2d(8, 1)",
        "conv2d(9, 1)",
        "conv2d(10, 1)",
    ]


def test_conditional_layer_choice() -> None:
    layers = ["- act: 'relu if kind == \"relu\" else silu'"]
    assert paths(network(layers, params="{kind: relu}"))[0][1] == "relu"
    assert paths(network(layers, params="{kind: silu}"))[0][1] == "silu"


def test_parameters_and_let_drive_shapes() -> None:
    text = spec_text(
        ["- conv: conv2d(width, k, padding=k // 2)"], (3, 10, 10), params="{width: 8}", let="{k: 5}"
    )
    assert netspec.loads(text).network.output == (8, 10, 10)
    assert netspec.loads(text, width=2).network.output == (2, 10, 10)


def test_let_is_evaluated_in_order() -> None:
    text = spec_text(["- relu"], (1,), let="{a: b, b: 1}")
    with pytest.raises(NetspecError, match="undefined name 'b'"):
        netspec.loads(text).check()


def test_expansion_limit() -> None:
    text = spec_text(["- repeat: n", "  do: [relu]"], (1,), params=f"{{n: {MAX_LAYERS + 1}}}")
    with pytest.raises(SpecError, match="more than 100,000 layers"):
        netspec.loads(text).check()


def test_container_kind() -> None:
    named = m.NamedEntry.model_validate({"a": "relu"})
    call = m.LayerRef("relu")
    loop = m.ForEntry.model_validate({"for": "i in x", "do": [{"a": "relu"}]})
    assert container_kind([call, call], top=True) == "sequential"
    assert container_kind([call, named], top=True) == "class"
    assert container_kind([call, named], top=False) == "module"
    assert container_kind([loop], top=False) == "module"


@pytest.mark.parametrize(
    ("name", "explicit", "expected"),
    [
        ("vgg16_bn", None, "Vgg16Bn"),
        ("lenet5", None, "Lenet5"),
        ("x", "MyNet", "MyNet"),
        ("_private", None, "Private"),
        ("a__b", None, "AB"),
    ],
)
def test_class_name(name: str, explicit: str | None, expected: str) -> None:
    assert class_name(m.SpecFile(name=name, class_name=explicit)) == expected


def test_lint_catches_broken_invariants() -> None:
    root = network(["- conv2d(4, 3)", "- relu"])
    first = root.children[0]
    assert isinstance(first, OpNode)
    first.output = (99,)
    with pytest.raises(LintError):
        lint(root)


def test_walk_visits_parents_before_children() -> None:
    root = network(["- a:", "    - relu", "    - relu", "- b: relu"])
    assert [n.path for n in walk(root)] == ["", "a", "a.0", "a.1", "b"]


def test_errors_name_the_layer_path() -> None:
    text = spec_text(["- features:", "    - conv2d(4, 3)", "    - conv2d(4, 20)"], (3, 16, 16))
    with pytest.raises(NetspecError) as info:
        netspec.loads(text).check()
    assert info.value.where == "features.1"
    assert info.value.span is not None and info.value.span.line == 7
    assert "the input 4×14×14 comes from `features.0`" in (info.value.hint or "")


def test_identical_blocks_are_expanded_once_and_copied_to_their_own_paths() -> None:
    net = netspec.load("resnet152", depths=[1, 1, 5, 1]).network
    lint(net.root)
    stage = next(c for c in net.root.children if c.name == "layer3")
    assert isinstance(stage, SeqNode)
    blocks = stage.children
    assert [b.path for b in blocks] == [f"layer3.{i}" for i in range(5)]
    # the copies are distinct objects with their own paths, down to every leaf
    second, third = blocks[1], blocks[2]
    pairs = list(zip(walk(second), walk(third), strict=True))
    assert all(a is not b for a, b in pairs)
    assert all(b.path == a.path.replace("layer3.1", "layer3.2", 1) for a, b in pairs)
    assert [leaf.path for leaf in leaves(third)][:2] == ["layer3.2.conv1", "layer3.2.bn1"]
    # and a block with other arguments or another input is expanded anew
    first = blocks[0]
    assert len(list(leaves(first))) == len(list(leaves(second))) + 2  # the downsample


def test_block_copies_count_toward_the_layer_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from netspec.expand import expander

    monkeypatch.setattr(expander, "MAX_LAYERS", 100)
    with pytest.raises(SpecError, match="more than 100 layers"):
        netspec.load("resnet152").check()


def _dump(node: Node) -> list[tuple[object, ...]]:
    """Everything the back ends read of an expanded tree, node by node."""
    out: list[tuple[object, ...]] = []
    for item in walk(node):
        row: tuple[object, ...] = (type(item).__name__, item.path, item.name, item.span)
        row += (item.input, item.output)
        if isinstance(item, OpNode):
            row += (item.op.name, item.attrs, item.functional, item.tensors, item.macs)
            row += (item.extra_ops,)
        if isinstance(item, BlockNode):
            row += (item.block, item.args, item.own, item.merge, item.kind)
            for run in item.flow:
                if isinstance(run, PathRun):
                    row += (run.step, run.input, run.output, [c.path for c in run.nodes])
                    row += (run.exists,)
                elif isinstance(run, JoinRun):
                    row += (run.step, run.output, run.applied, run.ops)
                else:
                    row += (run.step, run.input, run.outputs, run.applied)
        out.append(row)
    return out


@pytest.mark.parametrize("name", bundled_names())
def test_copied_blocks_equal_blocks_expanded_afresh(name: str) -> None:
    """Blocks copied from an earlier expansion (identical calls, and calls differing only in
    arguments that reach operator arguments) are exactly what expanding them again gives."""
    spec = netspec.load(name)
    fresh = expand(spec.spec, spec.params, reuse=False)
    assert _dump(spec.network.root) == _dump(fresh.root)
    assert spec.network.totals == fresh.totals


REBIND = """
netspec: 1
name: rebind
input: [8, 8, 8]
params:
  inplace: false
blocks:
  Unit:
    params: [p, width = 8, act = 'relu']
    residual: true
    body:
      - conv: conv2d(width, 3, padding=1)
      - drop: dropout(p, inplace=inplace)
layers:
  - for: i in range(4)
    do:
      - Unit(0.1 * i)
  - Unit(0.5)
  - flatten
"""


def _instantiated(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the blocks expanded anew from here on (not copied)."""
    from netspec.expand.expander import _Expander

    made: list[str] = []
    instantiate = _Expander._instantiate

    def counted(self: _Expander, path: str, *args: object) -> BlockNode:
        made.append(path)
        return instantiate(self, path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(_Expander, "_instantiate", counted)
    return made


def test_a_block_differing_only_in_layer_arguments_is_copied_and_bound_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = _instantiated(monkeypatch)
    net = netspec.loads(REBIND).network
    assert made == ["0"]  # the other four are copies, their dropout bound again
    drops = [leaf for leaf in leaves(net.root) if leaf.op.name == "dropout"]
    assert [d.attrs.p for d in drops] == [0.0, 0.1, 0.2, pytest.approx(0.3), 0.5]
    assert [d.path for d in drops] == [f"{i}.drop" for i in range(5)]
    # a width that changes a layer's output is structural: expanded anew, and the residual
    # add that no longer fits is the error it is without copies
    with pytest.raises(NetspecError, match="added together"):
        netspec.loads(REBIND.replace("Unit(0.5)", "Unit(0.5, 4)")).check()


@pytest.mark.parametrize(
    "change",
    [
        ("      - drop:", "      - if: p > 0.15\n        then: [relu]\n      - drop:"),
        ("Unit(0.1 * i)", "Unit(0.1 * i, 8 + 0 * i)"),
        ("inplace=inplace", "inplace=p > 0.15"),
        ("conv2d(width, 3, padding=1)", "conv2d(width, 3, padding=1, bias=p > 0.15)"),
    ],
    ids=["condition", "default-given", "in-place", "tensors"],
)
def test_arguments_read_structurally_are_never_bound_again(change: tuple[str, str]) -> None:
    text = REBIND.replace(*change)
    assert text != REBIND
    spec = netspec.loads(text)
    fresh = expand(spec.spec, spec.params, reuse=False)
    assert _dump(spec.network.root) == _dump(fresh.root)


def test_a_copied_block_bound_again_reports_errors_at_its_own_path() -> None:
    text = REBIND.replace("Unit(0.5)", "Unit(1.5)")
    with pytest.raises(NetspecError) as info:
        netspec.loads(text).check()
    assert info.value.where == "4.drop"
    span = info.value.span
    assert span is not None and (span.line, span.col) == (13, 23)  # at `p`


FREE = """
netspec: 1
name: free
input: [3, 32, 32]
blocks:
  Conv:
    params: [width, stride = 1, groups = 1]
    body:
      - conv2d(width, 3, stride=stride, padding=1, groups=groups, bias=false)
      - batchnorm2d
      - relu(inplace=true)
  Gate:
    params: [squeeze]
    residual: true
    merge: mul
    body:
      - pool: adaptive_avgpool2d(1)
      - fc1: conv2d(squeeze, 1)
      - act: relu
      - fc2: conv2d(in.channels, 1)
      - gate: sigmoid
layers:
  - a: Conv(16, 2)
  - b: Conv(16)
  - c: Conv(32, 2, 4)
  - g1: Gate(4)
  - d: Conv(24)
  - g2: Gate(4)
  - flatten
"""


def test_a_block_reading_nothing_of_its_input_is_copied_to_inputs_of_any_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A block whose expressions read nothing of ``in`` but in its layers' own arguments
    makes the same tree on any input: a call on an input of other sizes and channels is a
    copy, its layers that read what changed bound again (``groups``; the gate's ``fc2``
    reads ``in.channels``) and its rules run again, equal to expanding it anew."""
    made = _instantiated(monkeypatch)
    spec = netspec.loads(FREE)
    net = spec.network
    assert made == ["a", "g1"]
    fresh = expand(spec.spec, spec.params, reuse=False)
    assert _dump(net.root) == _dump(fresh.root)
    assert net.totals == fresh.totals
    fc2 = {leaf.path: leaf for leaf in leaves(net.root) if leaf.name == "fc2"}
    assert [fc2[p].output[0] for p in ("g1.fc2", "g2.fc2")] == [32, 24]
    assert [b.input for b in net.root.children[:3]] == [(3, 32, 32), (16, 16, 16), (16, 16, 16)]
    assert net.input_reads == frozenset({"channels"})  # the gate's, still the tree's for reinfer


@pytest.mark.parametrize(
    "change",
    [
        ("      - batchnorm2d\n", "      - if: in.height > 8\n        then: [batchnorm2d]\n"),
        (
            "params: [width, stride = 1, groups = 1]",
            "params: [width, stride = 1, groups = 1]\n    let:\n      half: in.channels // 2",
        ),
    ],
    ids=["condition", "let"],
)
def test_a_block_whose_tree_reads_its_input_is_expanded_for_each_input(
    monkeypatch: pytest.MonkeyPatch, change: tuple[str, str]
) -> None:
    text = FREE.replace(*change)
    assert text != FREE
    made = _instantiated(monkeypatch)
    spec = netspec.loads(text)
    net = spec.network
    assert {"a", "b", "c", "d"} <= set(made)
    fresh = expand(spec.spec, spec.params, reuse=False)
    assert _dump(net.root) == _dump(fresh.root)


def test_a_copy_that_a_rule_refuses_on_its_input_is_the_error_of_expanding_it() -> None:
    """``groups=3`` fits the template's 3 input channels, not the copy's 16: the block is
    expanded anew, so the error is the one expanding without copies reports."""
    text = FREE.replace("- b: Conv(16)", "- b: Conv(16, 1, 3)")
    spec = netspec.loads(text)
    with pytest.raises(NetspecError) as copied:
        spec.check()
    with pytest.raises(NetspecError) as fresh:
        expand(spec.spec, spec.params, reuse=False)
    assert "groups=3 must divide the 16 input channels" in copied.value.message
    assert str(copied.value) == str(fresh.value)
    assert (copied.value.where, copied.value.span) == (fresh.value.where, fresh.value.span)


COPIES_AS_FRESH = {
    # a copy whose default reads `in` reads it: a block calling only that copy is no template
    # for inputs of any size (its inner block would keep the old input's width)
    "default reads in": """
blocks:
  B:
    params: [w = in.height]
    body:
      - conv2d(w, 1)
  O:
    body:
      - B()
layers:
  - a: B(8)
  - b: B()
  - o: O()
    from: a
  - p: maxpool2d(2)
    from: a
  - o2: O()
""",
    # which layers write in place changed: the block is expanded anew, and the in-place write
    # into a tensor its `from:` reads later is refused (a copy at the same input took it too)
    "in place on a copy": """
blocks:
  B:
    params: [ip]
    body:
      - a: conv2d(4, 1)
      - r: relu(inplace=ip)
      - j: add
        from: [r, a]
layers:
  - p: B(false)
  - c: conv2d(6, 1)
  - y: B(true)
""",
    # what a copy's layers read of `in` is what binding them again read, not the original's
    "arguments read in on some values": """
blocks:
  B:
    params: [k]
    body:
      - conv2d(in.channels if k > 0 else 4, 1)
layers:
  - a: B(0)
  - b: B(1)
""",
}


COPIES_AS_FRESH["in place on a copy at the same input"] = COPIES_AS_FRESH[
    "in place on a copy"
].replace("  - c: conv2d(6, 1)\n", "")


@pytest.mark.parametrize("case", COPIES_AS_FRESH)
def test_copies_give_what_expanding_anew_gives(case: str) -> None:
    """The tree, the totals and what the tree read of the blocks' inputs, or the error."""
    head = "netspec: 1\nname: m\ninput: [4, 16, 16]\n"
    spec = netspec.loads(head + COPIES_AS_FRESH[case].lstrip())
    got: list[object] = []
    for reuse in (True, False):
        try:
            net = expand(spec.spec, spec.params, reuse=reuse)
        except NetspecError as exc:
            got.append((str(exc), exc.where, exc.span))
        else:
            got.append((_dump(net.root), net.totals, net.input_reads))
    assert got[0] == got[1]
    if "in place" in case:
        assert "writes in place into 'a', which 'y.j' also reads" in str(got[0])


@pytest.mark.parametrize("name", ["mobilenet_v2", "efficientnet_b0", "regnet_x_400mf"])
def test_expansions_sharing_a_memo_equal_expansions_alone(name: str) -> None:
    """What expansions of one spec at other values share (operator rules' results, validated
    attributes, call spans: netspec sweep's rows) changes nothing in any of them."""
    spec = netspec.load(name)
    memo = Memo()
    for width, size in [(0.5, 96), (1.0, 128), (0.5, 128), (1.0, 96), (0.5, 96)]:
        params = {**spec.params}
        if "width_mult" in params:
            params["width_mult"] = width
        shared = expand(spec.spec, params, (3, size, size), memo=memo)
        alone = expand(spec.spec, params, (3, size, size))
        assert _dump(shared.root) == _dump(alone.root)
        assert shared.totals == alone.totals
    assert memo.applied and memo.validated and memo.spans


INPUT_BY_PARAMS = """netspec: 1
name: t
input: [channels, size, size]
params:
  channels: 3
  size: 32
layers:
  - c: conv2d(8, 3, stride=2, padding=1)
  - flatten
  - fc: linear(10)
"""


def test_an_input_shape_given_apart_agrees_with_the_sizes_the_params_give() -> None:
    """`--set size=16 --input 3,64,64` analysed 64 and left `size` unread (the generated
    class took a size it ignored): refused, naming the param to set."""
    with pytest.raises(SpecError) as caught:
        netspec.loads(INPUT_BY_PARAMS, size=16, input_shape=[3, 64, 64]).check()
    assert caught.value.message == (
        "the input's height (dimension 1) is `size` = 16 at these params, and the input shape "
        "given (3×64×64) says 64"
    )
    assert caught.value.hint == "set size rather than the input shape (the params read it)"
    assert caught.value.span is not None and caught.value.span.line == 3
    agreed = netspec.loads(INPUT_BY_PARAMS, size=64, input_shape=[3, 64, 64]).check()
    assert agreed.input == (3, 64, 64)
    with pytest.raises(SpecError, match="the input's shape is"):  # another rank: as a whole
        netspec.loads(INPUT_BY_PARAMS, input_shape=[3, 32]).check()
