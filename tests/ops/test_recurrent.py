"""Sequences (netspec/ops/recurrent.py): ``embedding`` against ``nn.Embedding``, ``lstm`` and
``gru`` against ``nn.LSTM``/``nn.GRU`` (layers, both directions, projections, every step or the
last) — state_dict entries, values, MACs (FlopCounterMode with the cells as matrix products),
the textbook cell equations, integer inputs, the generated code, the explanation and the
errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec.errors import NetspecError
from netspec.spec import format as fmt
from netspec.spec.load import load_text
from tests.conftest import assert_codegen_refuses, spec_text
from tests.ops.oracles import agree, explanations, flop_macs

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


class Returning(nn.Module):
    """The reference: PyTorch's module, batch first, and the output a user takes from it
    (``y, _ = rnn(x)``, then ``y[:, -1]`` for the last step). The module is the wrapper's
    only child, so its state_dict is the recurrent module's with a prefix: ``agree`` compares
    ``rnn``'s own."""

    def __init__(self, rnn: nn.RNNBase, last: bool) -> None:
        super().__init__()
        self.rnn = rnn
        self.last = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.rnn(x)
        return y[:, -1] if self.last else y

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return self.rnn.state_dict(*args, **kwargs)


@st.composite
def recurrent_case(draw: st.DrawFn, proj: bool) -> tuple[dict[str, Any], tuple[int, ...]]:
    hidden = draw(st.integers(1, 6))
    attrs: dict[str, Any] = {"hidden_size": hidden}
    for key, values in (
        ("num_layers", st.integers(1, 3)),
        ("bias", st.booleans()),
        ("bidirectional", st.booleans()),
        ("output", st.sampled_from(["sequence", "last"])),
    ):
        if draw(st.booleans()):
            attrs[key] = draw(values)
    if proj and hidden > 1 and draw(st.booleans()):
        attrs["proj_size"] = draw(st.integers(1, hidden - 1))
    return attrs, (draw(st.integers(1, 5)), draw(st.integers(1, 5)))


def _reference(cls: type[nn.RNNBase], attrs: dict[str, Any], features: int) -> Returning:
    kw = {k: v for k, v in attrs.items() if k != "output"}
    return Returning(cls(features, batch_first=True, **kw), attrs.get("output") == "last")


@given(recurrent_case(proj=True))
def test_lstm_equals_nn_lstm(case: tuple[dict[str, Any], tuple[int, ...]]) -> None:
    """Output shape, state_dict (weight_ih_l0 … _reverse, weight_hr with a projection),
    values (the same kernels: exactly) and MACs: FlopCounterMode's count of the gate
    matrix products."""
    attrs, shape = case
    agree("lstm", attrs, shape, _reference(nn.LSTM, attrs, shape[-1]))


@given(recurrent_case(proj=False))
def test_gru_equals_nn_gru(case: tuple[dict[str, Any], tuple[int, ...]]) -> None:
    attrs, shape = case
    agree("gru", attrs, shape, _reference(nn.GRU, attrs, shape[-1]))


@given(
    num=st.integers(1, 30),
    dim=st.integers(1, 6),
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    padding=st.one_of(st.none(), st.integers(-30, 29)),
)
def test_embedding_equals_nn_embedding(
    num: int, dim: int, shape: tuple[int, ...], padding: int | None
) -> None:
    attrs: dict[str, Any] = {"num_embeddings": num, "embedding_dim": dim}
    if padding is not None and -num <= padding < num:
        attrs["padding_idx"] = padding
    agree("embedding", attrs, shape, nn.Embedding(**attrs))


def _lstm_by_hand(model: nn.LSTM, x: torch.Tensor) -> torch.Tensor:
    """One layer, one direction, the textbook equations: i, f, g, o = σ, σ, tanh, σ of
    W_ih·x + b_ih + W_hh·h + b_hh; c = f·c + i·g; h = o·tanh(c)."""
    h = x.new_zeros(x.shape[0], model.hidden_size)
    c = torch.zeros_like(h)
    out = []
    for t in range(x.shape[1]):
        gates = x[:, t] @ model.weight_ih_l0.T + model.bias_ih_l0
        gates = gates + h @ model.weight_hh_l0.T + model.bias_hh_l0
        i, f, g, o = gates.chunk(4, 1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        out.append(h)
    return torch.stack(out, 1)


def _gru_by_hand(model: nn.GRU, x: torch.Tensor) -> torch.Tensor:
    """r, z = σ(W_i·x + b_i + W_h·h + b_h); n = tanh(W_in·x + b_in + r·(W_hn·h + b_hn));
    h = (1 − z)·n + z·h."""
    h = x.new_zeros(x.shape[0], model.hidden_size)
    out = []
    for t in range(x.shape[1]):
        gi = x[:, t] @ model.weight_ih_l0.T + model.bias_ih_l0
        gh = h @ model.weight_hh_l0.T + model.bias_hh_l0
        ir, iz, in_ = gi.chunk(3, 1)
        hr, hz, hn = gh.chunk(3, 1)
        r, z = (ir + hr).sigmoid(), (iz + hz).sigmoid()
        n = (in_ + r * hn).tanh()
        h = (1 - z) * n + z * h
        out.append(h)
    return torch.stack(out, 1)


@pytest.mark.parametrize(("op", "by_hand"), [("lstm", _lstm_by_hand), ("gru", _gru_by_hand)])
def test_the_built_layer_computes_the_textbook_cell(op: str, by_hand: Any) -> None:
    """The arithmetic, not only the layout: the built layer's output equals the cell equations
    written out, every step and the last."""
    torch.manual_seed(0)
    x = torch.randn(3, 7, 5)
    for output in ("sequence", "last"):
        spec = netspec.loads(spec_text([f"- rnn: {op}(6, output='{output}')"], (7, 5)))
        model = spec.build(verify=True).eval()
        with torch.no_grad():
            expected = by_hand(model.rnn, x)
            got = model(x)
        if output == "last":
            expected = expected[:, -1]
        torch.testing.assert_close(got, expected)


def test_flop_counter_cannot_see_the_fused_lstm() -> None:
    """Why the counts are the gate matrix products, taken with oneDNN off: PyTorch's default
    CPU LSTM is one fused kernel FlopCounterMode counts as 0, while a GRU (and an LSTM with a
    projection) runs as matrix products it counts — the same formula netspec uses for both."""
    lstm = nn.LSTM(8, 16, batch_first=True)
    x = torch.randn(2, 5, 8)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        lstm(x)
    fused = counter.get_total_flops()
    spec = netspec.loads(spec_text(["- rnn: lstm(16)"], (5, 8)))
    assert spec.network.totals.macs == 5 * 4 * 16 * (8 + 16) == flop_macs(lstm, x)
    if torch.backends.mkldnn.is_available():
        assert fused in (0, 2 * 2 * spec.network.totals.macs)
    gru = nn.GRU(8, 16, batch_first=True)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        gru(x)
    gru_spec = netspec.loads(spec_text(["- rnn: gru(16)"], (5, 8)))
    assert counter.get_total_flops() == 2 * 2 * gru_spec.network.totals.macs


TEXT = """netspec: 1
name: classifier
input: [12]
input_dtype: int64
params:
  vocab: 50
  hidden: 8
  both: true
layers:
  - embedding: embedding(vocab, 6, padding_idx=0)
  - lstm: lstm(hidden, num_layers=2, bidirectional=both, output='last')
  - fc: linear(3)
"""


def test_integer_input_through_the_three_outputs(tmp_path: Path) -> None:
    """A spec of integer token ids: the analysis, the built module and the generated file
    agree, and the generated file runs on ids at other parameter values."""
    spec = netspec.loads(TEXT)
    net = spec.network
    assert net.input_dtype == "int64" and net.id_limit == 50
    assert net.output == (3,)
    assert (
        net.totals.parameters
        == 50 * 6
        + 2 * (4 * 8 * (6 + 8) + 2 * 4 * 8)
        + 2 * (4 * 8 * (16 + 8) + 2 * 4 * 8)
        + 16 * 3
        + 3
    )
    source = spec.source()
    assert "Input 12 (int64 ids) → output 3" in source
    assert "nn.Embedding(vocab, 6, padding_idx=0)" in source
    assert "LSTMOutput(" in source and "batch_first=True" in source
    assert "class LSTMOutput(nn.LSTM):" in source
    model = spec.build(verify=True).eval()
    x = torch.randint(0, 50, (4, 12))
    path = tmp_path / "classifier.py"
    path.write_text(source)
    namespace: dict[str, Any] = {}
    exec(compile(source, str(path), "exec"), namespace)
    generated = namespace["Classifier"]().eval()
    generated.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(generated(x), model(x))
    for both in (True, False):
        other = namespace["Classifier"](vocab=80, hidden=5, both=both).eval()
        again = spec.replace(vocab=80, hidden=5, both=both)
        assert [(k, tuple(v.shape)) for k, v in other.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in again.build().state_dict().items()
        ]
        assert tuple(other(torch.randint(0, 80, (2, 12))).shape[1:]) == again.network.output
    # the export route PyTorch supports for recurrent layers
    with torch.no_grad():
        exported = torch.export.export(model, (x,)).module()
        torch.testing.assert_close(exported(x), model(x))


def test_sequence_output_feeds_a_per_step_layer() -> None:
    spec = netspec.loads(
        spec_text(
            ["- embedding(30, 4)", "- gru(5, bidirectional=true)", "- linear(2)"],
            (9,),
            input_dtype="int64",
        )
    )
    assert [tuple(n.output) for n in spec.network.root.children] == [(9, 4), (9, 10), (9, 2)]
    model = spec.build(verify=True)  # an nn.Sequential: the helper returns a tensor
    assert isinstance(model, nn.Sequential)
    assert model(torch.randint(0, 30, (2, 9))).shape == (2, 9, 2)


def test_explanations() -> None:
    spec = netspec.loads(
        spec_text(
            [
                "- e: embedding(100, 8)",
                "- a: lstm(16, num_layers=2, bidirectional=true, proj_size=4)",
                "- b: gru(5, bias=false, output='last')",
            ],
            (12,),
            input_dtype="int64",
        )
    )
    lines = explanations(spec)
    assert lines["e"] == [
        "shape: 12 ids → 12×8 (each id's row of the table)",
        "params: 100·8 = 800",
        "MACs: 0 (a table lookup multiplies nothing; FlopCounterMode counts none)",
    ]
    assert lines["a"] == [
        "12 steps of 8 features; 2 layers × 2 directions, 4 gates of H = 16, projected to 4",
        "layer 0 params: 2·(4·16·(8 + 4) + 2·4·16 + 4·16) = 1,920",
        "layer 1 params: 2·(4·16·(8 + 4) + 2·4·16 + 4·16) = 1,920",
        "params: 3,840",
        "MACs: 12 steps · 3,328 (Σ over layers and directions of 4·16·(in + 4) + 4·16) = 39,936",
        "output: every step's 2·4 = 8 features → 12×8",
    ]
    assert lines["b"] == [
        "12 steps of 8 features; 1 layer × 1 direction, 3 gates of H = 5",
        "layer 0 params: (3·5·(8 + 5)) = 195",
        "params: 195",
        "MACs: 12 steps · 195 (Σ over layers and directions of 3·5·(in + 5)) = 2,340",
        "output: the last step's 1·5 = 5 features → 5",
    ]
    node = spec.network.root.children[1]
    assert node.parameters == 3_840
    assert node.macs == 39_936


def test_macs_all_counts_biases_gates_and_state() -> None:
    spec = netspec.loads(spec_text(["- r: lstm(4)"], (3, 2)))
    assert spec.summary()["macs"] == 3 * 4 * 4 * (2 + 4)
    # per step: 16 gate activations, 5·4 state updates, 2·16 bias additions
    assert spec.summary("all")["macs"] == 3 * 4 * 4 * (2 + 4) + 3 * (16 + 20 + 32)


@pytest.mark.parametrize(
    ("layers", "shape", "extra", "message", "hint"),
    [
        (
            ["- r: lstm(0)"],
            (3, 4),
            {},
            "lstm: hidden_size expects a positive integer, found 0",
            None,
        ),
        (
            ["- r: gru(4)"],
            (3, 4, 5),
            {},
            "gru expects a 2-d input (sequence × features), found 3×4×5 (3-d)",
            "merge each step's features first",
        ),
        (
            ["- r: lstm(4)"],
            (7,),
            {},
            "lstm expects a 2-d input (sequence × features), found 7 (1-d)",
            "an embedding turns a sequence of ids",
        ),
        (
            ["- r: lstm(4, proj_size=4)"],
            (3, 4),
            {},
            "lstm: proj_size must be smaller than hidden_size (4), found 4",
            "0 means none",
        ),
        (
            ["- r: gru(4, num_layers=10**9)"],
            (3, 4),
            {},
            "gru: num_layers=1000000000 is more than the 100,000 layers a network may have",
            "its own tensors",
        ),
        (
            ["- r: lstm(4, input_size=5)"],
            (3, 4),
            {},
            "lstm expects 5 input features, but its input has 4",
            None,
        ),
        (
            ["- r: lstm(4, output='first')"],
            (3, 4),
            {},
            "lstm: output expects 'sequence' (every step's output) or 'last' (the last "
            "step's), found 'first'",
            None,
        ),
        (
            ["- e: embedding(10, 4)"],
            (3,),
            {},
            "embedding expects integer ids (token ids, input_dtype: int64), found a "
            "floating-point 3 tensor from the network input",
            "input_dtype: int64",
        ),
        (
            ["- e: embedding(10, 4)", "- f: embedding(10, 4)"],
            (3,),
            {"input_dtype": "int64"},
            "embedding expects integer ids (token ids, input_dtype: int64), found a "
            "floating-point 3×4 tensor from `e`",
            None,
        ),
        (
            ["- c: conv1d(4, 3)"],
            (3, 8),
            {"input_dtype": "int64"},
            "conv1d expects a floating-point input, found integer ids 3×8 from the network "
            "input (input_dtype: int64)",
            "embedding(10000, 128) first",
        ),
        (
            ["- e: embedding(10, 4, padding_idx=10)"],
            (3,),
            {"input_dtype": "int64"},
            "embedding: padding_idx must be an id of the table, -10 to 9, found 10",
            "ids 0 to 9",
        ),
        (
            ["- e: embedding(10, 4.5)"],
            (3,),
            {"input_dtype": "int64"},
            "embedding: embedding_dim expects a positive integer, found 4.5",
            None,
        ),
    ],
)
def test_errors(
    layers: list[str],
    shape: tuple[int, ...],
    extra: dict[str, str],
    message: str,
    hint: str | None,
) -> None:
    with pytest.raises(NetspecError) as info:
        netspec.loads(spec_text(layers, shape, **extra)).check()
    assert info.value.message == message
    if hint is not None:
        assert hint in (info.value.hint or "")


def test_input_dtype_errors_are_positioned_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(spec_text(["- e: embedding(10, 4)"], (3,), input_dtype="int8"))
    proc = subprocess.run(
        [sys.executable, "-m", "netspec", "check", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert f"{bad}:4:14: input_dtype: expected 'float32' or 'int64', found the text 'int8'" in (
        proc.stderr
    )
    assert "Traceback" not in proc.stderr
    float_in = tmp_path / "float.yaml"
    float_in.write_text(spec_text(["- e: embedding(10, 4)"], (3,)))
    proc = subprocess.run(
        [sys.executable, "-m", "netspec", "check", str(float_in)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert f"{float_in}:5:5: e: embedding expects integer ids" in proc.stderr
    assert "`input_dtype: int64` beside `input`" in proc.stderr


def test_ids_pass_through_a_block_and_merge_as_ids() -> None:
    """An integer tensor keeps its kind where PyTorch keeps it: a path that passes the block's
    input on, and a merge of ids only."""
    text = spec_text(
        ["- b: Ids", "- e: embedding(10, 3)", "- flatten", "- fc: linear(2)"],
        (4,),
        input_dtype="int64",
    ).replace(
        "layers:",
        "blocks:\n  Ids:\n    body: [identity]\n    residual: true\n    merge: concat\nlayers:",
    )
    spec = netspec.loads(text)
    assert spec.network.root.children[1].output == (8, 3)
    spec.build(verify=True)


def test_the_mapping_form_and_the_ns_format() -> None:
    """``input_dtype`` in both formats (``input_dtype int64`` in ``.ns``), and the recurrent
    layers in the mapping form."""
    yaml_text = TEXT.replace(
        "- lstm: lstm(hidden, num_layers=2, bidirectional=both, output='last')",
        "- lstm: {lstm: {hidden_size: hidden, num_layers: 2, bidirectional: both, "
        "output: \"'last'\"}}",
    )
    spec = netspec.loads(yaml_text)
    ns = fmt.to_ns(load_text(yaml_text, "classifier.yaml"))
    assert "\ninput_dtype int64\n" in ns
    again = netspec.loads(ns, name="classifier.ns")
    assert again.network.input_dtype == "int64"
    assert again.summary() == spec.summary() == netspec.loads(TEXT).summary()
    assert json.loads(json.dumps(spec.summary()))["input_dtype"] == "int64"


def test_ids_read_from_earlier_layers_and_merged() -> None:
    """``from:`` merges keep PyTorch's kinds: a concatenation of ids is ids (an embedding reads
    it), and interpolating ids (``resize``) is refused, as PyTorch refuses it."""
    text = spec_text(
        ["- a: identity", "- b: flatten", "- s: concat", "  from: [a, b]"]
        + ["- e: embedding(10, 3)", "- fc: linear(2)"],
        (6,),
        input_dtype="int64",
    )
    spec = netspec.loads(text)
    assert spec.network.output == (12, 2)
    model = spec.build(verify=True)
    assert model(torch.randint(0, 10, (2, 6))).shape == (2, 12, 2)
    text = spec_text(
        ["- a: identity", "- r: resize", "  from: [a, a]"], (2, 6), input_dtype="int64"
    )
    with pytest.raises(NetspecError) as info:
        netspec.loads(text).check()
    assert info.value.message.startswith(
        "resize: resize interpolates floating-point tensors, found integer ids"
    )


@pytest.mark.parametrize("op", ["lstm", "gru"])
def test_a_boolean_dropout_is_refused_as_pytorch_refuses_it(op: str) -> None:
    """``dropout=true``: check took it for 1.0, then build() failed with PyTorch's ValueError
    (its recurrent layers refuse a boolean). Booleans are not numbers: a number attribute
    refuses them at the argument, as a positioned error."""
    text = f"netspec: 1\nname: t\ninput: [6, 8]\nlayers:\n  - r: {op}(4, dropout=true)\n"
    with pytest.raises(NetspecError, match=r"dropout expects a number \(true and false"):
        netspec.loads(text, name="spec.yaml").check()
    ok = netspec.loads(text.replace("true", "1"), name="spec.yaml")
    assert ok.network.totals.parameters > 0


def test_output_given_as_a_param_is_refused_by_codegen_with_what_compiles() -> None:
    """``output`` decides the rank of the output (sequence × features, or features), which the
    layers after it are sized for: codegen refuses a param there at the layer, and says what
    compiles (check analyses it at its value)."""
    text = (
        "netspec: 1\nname: t\ninput: [3, 8]\nparams:\n  o: last\nlayers:\n"
        "  - rnn: lstm(6, output=o)\n  - fc: linear(3)\n"
    )
    assert_codegen_refuses(
        text,
        "spec.yaml:7:10: rnn: lstm: the shape of its output",
        "write output='sequence' or output='last'",
    )
