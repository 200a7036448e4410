"""A dimension given as a param compiles where the shapes allow it: ``softmax(d)`` and
``log_softmax(dim=d)`` keep the shape whatever ``d`` is; ``select(d, i)`` drops dimension
``d``, so each later size is the input's size before or after it, and the generated class
writes that choice (``h if d > 1 else w``) where a later layer reads it. The file generated at
the defaults is checked, at every value of ``d`` PyTorch accepts, against the static analysis
at that value: every state_dict entry, every module's output in a forward pass, the output."""

from __future__ import annotations

import pytest

import netspec
from netspec.backends.module import compare_forward, compare_state, compile_source

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def _spec(layer: str, shape: tuple[int, ...], default: int) -> netspec.Spec:
    text = (
        f"netspec: 1\nname: t\ninput: {list(shape)}\nparams:\n  d: {default}\nlayers:\n"
        f"  - l: {layer}\n  - flatten\n  - fc: linear(3)\n"
    )
    return netspec.loads(text, name="spec.yaml")


def _agrees(spec: netspec.Spec, values: range | list[int]) -> None:
    module = compile_source(spec.source())
    for d in values:
        network = spec.replace(d=d).network
        model = getattr(module, spec.class_name)(d=d)
        assert compare_state(model, network) == [], d
        assert compare_forward(model, network) == [], d


@pytest.mark.parametrize("layer", ["softmax(d)", "log_softmax(dim=d)", "softmax(-d)"])
def test_a_softmax_dimension_param_compiles(layer: str) -> None:
    spec = _spec(layer, (4, 5, 6), 1)
    assert "dim=d" in spec.source() or "dim=-d" in spec.source()
    _agrees(spec, range(1, 4))


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        ("select(d, 0)", (4, 5, 6)),
        ("select(-d, 1)", (4, 5, 6)),
        ("select(d, 0)", (3, 4, 5, 6)),
        ("select(d, 0)", (4, 4, 6)),  # two sizes alike: no choice to write between them
    ],
)
def test_a_select_dimension_param_compiles(layer: str, shape: tuple[int, ...]) -> None:
    spec = _spec(layer, shape, 1)
    _agrees(spec, range(1, len(shape) + 1))


def test_the_choice_is_written_only_where_the_sizes_differ() -> None:
    source = _spec("select(d, 0)", (4, 4, 6), 1).source()
    assert "nn.Linear(4 * (4 if" in source  # the first size is 4 either way
    assert "else 6" in source


def test_a_select_dimension_out_of_range_is_still_refused_by_check() -> None:
    spec = _spec("select(d, 0)", (4, 5, 6), 9)
    with pytest.raises(netspec.NetspecError, match="dim=9 is out of range"):
        spec.check()


def test_a_prepend_dimension_param_compiles() -> None:
    """``prepend(t, dim=d)`` keeps the rank: each size is the input's, plus the tensor's where
    ``d`` counts to it (``d % rank``, so -1 is the last), written as that choice."""
    text = (
        "netspec: 1\nname: t\ninput: [3, 3]\nparams:\n  d: 1\ntensors:\n  cls: zeros([1, 3, 3])\n"
        "layers:\n  - prepend(cls, dim=d)\n  - flatten\n  - fc: linear(3)\n"
    )
    spec = netspec.loads(text, name="spec.yaml")
    assert "(6 if d % 3 == 1 else 3) * (6 if d % 3 == 2 else 3)" in spec.source()
    _agrees(spec, [-2, -1, 1, 2])


def test_a_prepend_dimension_param_still_needs_a_batch_of_one() -> None:
    """What no value of the dimension mends is refused where the defaults do not reach it
    too: the generated class raises check's error."""
    text = (
        "netspec: 1\nname: t\ninput: [3, 3]\nparams:\n  d: 1\n  f: false\ntensors:\n"
        "  cls: zeros([2, 3, 3])\nlayers:\n  - if: f\n    then:\n      - prepend(cls, dim=d)\n"
    )
    spec = netspec.loads(text, name="spec.yaml")
    module = compile_source(spec.source())
    with pytest.raises(ValueError, match="is not a batch of one"):
        module.T(f=True)


PERMUTATIONS = [[0, 1, 2, 3], [0, 2, 1, 3], [0, 3, 1, 2], [0, 2, 3, 1], [0, -1, -3, -2]]


@pytest.mark.parametrize("layer", ["permute(p)", "permute([0, p[1], p[2], p[3]])"])
def test_permute_dims_given_as_a_list_param_compile(layer: str) -> None:
    """A list param has as many entries as the input has dimensions (PyTorch refuses another
    length, as check does), so the rank is known; each size after it is the input's size its
    entry picks, ``(c, h, w)[p[1] % 4 - 1]``, where a later layer reads it."""
    text = (
        "netspec: 1\nname: t\ninput: [3, 4, 5]\nparams:\n  p: [0, 2, 1, 3]\nlayers:\n"
        f"  - {layer}\n  - norm: layer_norm\n  - flatten\n  - fc: linear(3)\n"
    )
    spec = netspec.loads(text, name="spec.yaml")
    assert "(3, 4, 5)[p[3] % 4 - 1]" in spec.source()
    module = compile_source(spec.source())
    for p in PERMUTATIONS:
        network = spec.replace(p=p).network
        model = module.T(p=tuple(p))
        assert compare_state(model, network) == [], p
        assert compare_forward(model, network) == [], p


def test_permute_dims_given_as_params_compile() -> None:
    text = (
        "netspec: 1\nname: t\ninput: [3, 4]\nparams:\n  a: 2\n  b: 1\nlayers:\n"
        "  - permute([0, a, b])\n  - conv: conv1d(2, 3)\n  - flatten\n  - fc: linear(3)\n"
    )
    spec = netspec.loads(text, name="spec.yaml")
    source = spec.source()
    assert "nn.Conv1d((3, 4)[a % 3 - 1], 2, 3)" in source
    module = compile_source(source)
    for a, b in [(2, 1), (1, 2), (-1, -2)]:
        network = spec.replace(a=a, b=b).network
        model = module.T(a=a, b=b)
        assert compare_state(model, network) == [], (a, b)
        assert compare_forward(model, network) == [], (a, b)
