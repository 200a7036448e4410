"""Sequences: ``embedding`` (``nn.Embedding``: integer token ids to vectors) and the recurrent
layers ``lstm`` and ``gru`` (``nn.LSTM``/``nn.GRU``: layers, both directions, projections), which
return either every step's output or only the last step's.

netspec's tensors are batch-first (a spec describes one sample), so a recurrent layer reads
``sequence × features`` and the generated module is built with ``batch_first=True``. PyTorch's
recurrent modules return ``(output, state)``; the generated code uses ``LSTMOutput``/``GRUOutput``,
subclasses of ``nn.LSTM``/``nn.GRU`` (the same state_dict) whose ``forward`` returns the output
alone — every step's, or the last step's (``output='last'``, ``y[:, -1]``) — so a recurrent
layer is a layer like any other, in an ``nn.Sequential`` too.

MACs are the gate matrix products, per sample: for every step, layer and direction,
G·H·(I + H_out) (G gates: 4 for an LSTM, 3 for a GRU; I the layer's input features; H_out the
hidden size, or ``proj_size``), plus H·proj_size for an LSTM's projection. That is what
``FlopCounterMode`` counts where PyTorch runs the cells as matrix products (a GRU, an LSTM with
``proj_size``, any LSTM with oneDNN off); PyTorch's default CPU LSTM is one fused oneDNN kernel
that ``FlopCounterMode`` has no formula for, and counts as 0.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from netspec.expr import nodes as n
from netspec.expr.evaluate import Sym, SymbolicError, as_expr, concrete, known, whole
from netspec.ops.base import (
    HELPERS,
    Attrs,
    Expect,
    Op,
    OpError,
    PyCall,
    Shape,
    Tensor,
    fmt_shape,
    register,
)
from netspec.ops.fields import Count, Declared, Flag, Int, NonNegInt, Probability

MAX_STACKED = 100_000
"""Most stacked layers of one recurrent layer: as many as a whole network may expand to."""

Output = Annotated[
    Literal["sequence", "last"],
    Expect("'sequence' (every step's output) or 'last' (the last step's)"),
]
OptIndex = Annotated[Int | None, Expect("an integer or none")]


class EmbeddingAttrs(Attrs):
    num_embeddings: Count
    """The vocabulary size: the ids the input may hold are 0 to num_embeddings − 1."""
    embedding_dim: Count
    """The size of each id's vector."""
    padding_idx: OptIndex = None
    """An id whose vector is not trained (kept at zero from the start); negative counts from
    the end, as in PyTorch."""


@register
class Embedding(Op):
    """Look up a learned vector for every integer id of the input (a table of num_embeddings
    vectors): ``… → … × embedding_dim``. Its input is integer token ids (``input_dtype:
    int64``)."""

    name = "embedding"
    Attrs = EmbeddingAttrs
    category = "sequence"
    module_name = "nn.Embedding"
    reads_ids = True

    def infer(self, a: Any, x: Shape) -> Shape:
        p, num = a.padding_idx, a.num_embeddings
        if known(p, num) and p is not None and not -num <= p < num:
            raise OpError(
                f"embedding: padding_idx must be an id of the table, -{num} to {num - 1}, "
                f"found {p}",
                hint=f"the table holds ids 0 to {num - 1} (negative: counted from the end)",
                attr="padding_idx",
            )
        return (*x, a.embedding_dim)

    def tensors(self, a: Any, x: Shape) -> list[Tensor]:
        return [Tensor("weight", (a.num_embeddings, a.embedding_dim), True)]

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall("nn.Embedding", (a.num_embeddings, a.embedding_dim), self.kwargs(a))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        return [
            f"shape: {fmt_shape(x)} ids → {fmt_shape(y)} (each id's row of the table)",
            f"params: {a.num_embeddings}·{a.embedding_dim} = "
            f"{a.num_embeddings * a.embedding_dim:,}",
            "MACs: 0 (a table lookup multiplies nothing; FlopCounterMode counts none)",
        ]


class _RecurrentAttrs(Attrs):
    hidden_size: Count
    """H: the features of the hidden state (of each direction)."""
    num_layers: Count = 1
    """Recurrent layers stacked, each reading the sequence the one before outputs."""
    bias: Flag = True
    """Whether the gates learn biases (``bias_ih``, ``bias_hh``)."""
    dropout: Probability = 0.0
    """Dropout on the outputs of every layer but the last, in training."""
    bidirectional: Flag = False
    """Also run the sequence backwards (``_reverse`` tensors); the output holds both
    directions' features, forward first."""


class LSTMAttrs(_RecurrentAttrs):
    proj_size: NonNegInt = 0
    """With a positive value, the hidden state is projected to this many features
    (``weight_hr``); it must be smaller than hidden_size."""
    output: Output = "sequence"
    """What the layer returns: ``'sequence'``, every step's output (sequence × features), or
    ``'last'``, the last step's (features: ``y[:, -1]``)."""
    input_size: Declared = None
    """Input features, inferred; give it (by keyword) only to have it checked."""


class GRUAttrs(_RecurrentAttrs):
    output: Output = "sequence"
    """What the layer returns: ``'sequence'``, every step's output (sequence × features), or
    ``'last'``, the last step's (features: ``y[:, -1]``)."""
    input_size: Declared = None
    """Input features, inferred; give it (by keyword) only to have it checked."""


_HELPER = '''
class {cls}Output(nn.{cls}):
    """nn.{cls} that returns only its output: every step's, or the last step's (last=True)."""

    def __init__(self, *args: Any, last: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        y, _ = super().forward(x)
        return y[:, -1] if self.last else y

    def extra_repr(self) -> str:
        return super().extra_repr() + (", last=True" if self.last else "")
'''


class _Recurrent(Op):
    """``lstm`` and ``gru``: ``gates`` gate matrices per layer and direction."""

    category = "sequence"
    gates: ClassVar[int]
    cls: ClassVar[str]

    def keeps_output(self, a: Any) -> bool:
        # the fused kernels (cuDNN's, and the CPU's LSTM) read the output in backward
        return True

    def _out(self, a: Any) -> Any:
        """H_out: the features of each direction's output (``proj_size or hidden_size``)."""
        proj = getattr(a, "proj_size", 0)
        return _either(proj, proj, a.hidden_size)

    def _directions(self, a: Any) -> Any:
        return _either(a.bidirectional, 2, 1)

    def infer(self, a: Any, x: Shape) -> Shape:
        if len(x) != 2:
            raise OpError(
                f"{self.name} expects a 2-d input (sequence × features), found {fmt_shape(x)} "
                f"({len(x)}-d)",
                hint="a recurrent layer reads one feature vector per step: "
                + (
                    "merge each step's features first (e.g. flatten(2))"
                    if len(x) > 2
                    else "an embedding turns a sequence of ids into sequence × features"
                ),
            )
        self.check_declared(a.input_size, x[-1], "input features", x)
        if known(a.num_layers) and concrete(a.num_layers) > MAX_STACKED:
            raise OpError(
                f"{self.name}: num_layers={a.num_layers} is more than the {MAX_STACKED:,} layers "
                "a network may have",
                hint="each stacked layer has its own tensors (weight_ih_l0, weight_ih_l1, …)",
                attr="num_layers",
            )
        proj = getattr(a, "proj_size", 0)
        if known(proj, a.hidden_size) and proj >= a.hidden_size:
            raise OpError(
                f"{self.name}: proj_size must be smaller than hidden_size ({a.hidden_size}), "
                f"found {proj}",
                hint="the projection shrinks the hidden state; 0 means none",
                attr="proj_size",
            )
        features = self._directions(a) * self._out(a)
        return (features,) if _last(a) else (x[0], features)

    def _layer_inputs(self, a: Any, x: Shape) -> list[Any]:
        d = self._directions(a)
        return [x[-1] if k == 0 else d * self._out(a) for k in range(a.num_layers)]

    def tensors(self, a: Any, x: Shape) -> list[Tensor]:
        g, h, out = self.gates, a.hidden_size, self._out(a)
        proj = getattr(a, "proj_size", 0)
        found: list[Tensor] = []
        for k, features in enumerate(self._layer_inputs(a, x)):
            for suffix in ("", "_reverse")[: self._directions(a)]:
                found.append(Tensor(f"weight_ih_l{k}{suffix}", (g * h, features), True))
                found.append(Tensor(f"weight_hh_l{k}{suffix}", (g * h, out), True))
                if a.bias:
                    found.append(Tensor(f"bias_ih_l{k}{suffix}", (g * h,), True))
                    found.append(Tensor(f"bias_hh_l{k}{suffix}", (g * h,), True))
                if _positive(proj):
                    found.append(Tensor(f"weight_hr_l{k}{suffix}", (proj, h), True))
        return found

    def _step_macs(self, a: Any, x: Shape) -> int:
        """Multiply-adds of one step of every layer and direction."""
        g, h, out = self.gates, a.hidden_size, self._out(a)
        proj = getattr(a, "proj_size", 0)
        per = sum(g * h * (features + out) for features in self._layer_inputs(a, x))
        if _positive(proj):
            per += a.num_layers * h * proj
        return whole(per * self._directions(a))

    def macs(self, a: Any, x: Shape, y: Shape) -> int:
        return whole(x[0]) * self._step_macs(a, x)

    def _state_ops(self, h: int) -> int:
        """Element-wise operations of one cell's state update (besides the gate activations)."""
        raise NotImplementedError

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        g, h = self.gates, a.hidden_size
        per = g * h + self._state_ops(h) + (2 * g * h if a.bias else 0)
        return whole(x[0] * a.num_layers * self._directions(a) * per)

    def module(self, a: Any, x: Shape) -> PyCall:
        kwargs = [(k, v) for k, v in self.kwargs(a) if k != "output"]
        kwargs.append(("batch_first", True))
        if _last(a):
            kwargs.append(("last", True))
        return PyCall(
            f"{self.cls}Output", (x[-1], a.hidden_size), tuple(kwargs), (f"{self.cls}Output",)
        )

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        g, h, out = self.gates, a.hidden_size, self._out(a)
        d = self._directions(a)
        proj = getattr(a, "proj_size", 0)
        lines = [
            f"{x[0]} steps of {x[-1]} features; {a.num_layers} layer"
            f"{'s' if a.num_layers != 1 else ''} × {d} direction{'s' if d != 1 else ''}, "
            f"{g} gates of H = {h}" + (f", projected to {proj}" if _positive(proj) else "")
        ]
        bias = f" + 2·{g}·{h}" if a.bias else ""
        hr = f" + {proj}·{h}" if _positive(proj) else ""
        total = 0
        for k, features in enumerate(self._layer_inputs(a, x)):
            count = g * h * (features + out) + (2 * g * h if a.bias else 0)
            count += proj * h if _positive(proj) else 0
            total += count * d
            times = f"{d}·" if d != 1 else ""
            lines.append(
                f"layer {k} params: {times}({g}·{h}·({features} + {out}){bias}{hr}) = {count * d:,}"
            )
        lines.append(f"params: {total:,}")
        step = self._step_macs(a, x)
        lines.append(
            f"MACs: {x[0]} steps · {step:,} (Σ over layers and directions of "
            f"{g}·{h}·(in + {out}){' + ' + str(proj) + '·' + str(h) if _positive(proj) else ''}"
            f") = {self.macs(a, x, y):,}"
        )
        last = "the last step's" if _last(a) else "every step's"
        lines.append(f"output: {last} {d}·{out} = {d * out} features → {fmt_shape(y)}")
        return lines


def _positive(value: Any) -> bool:
    """Whether an optional size is set (for the analysis and the tensors it lists, where
    values are concrete)."""
    return bool(concrete(value))


def _either(flag: Any, yes: Any, no: Any) -> Any:
    """``yes if flag else no``; in generated code, where the flag is an expression of the
    model's parameters, that expression (the sizes must follow the flag for any value)."""
    if isinstance(flag, Sym) and not isinstance(n.strip(flag.expr), n.Const):
        value = (concrete(yes) if flag.value else concrete(no)) if flag.known else None
        expr = n.IfExp(flag.expr, as_expr(yes), as_expr(no))
        return Sym(expr, value) if flag.known and known(yes, no) else Sym(expr)
    return yes if concrete(flag) else no


def _last(a: Any) -> bool:
    """Whether the layer returns only the last step (``output='last'``). It decides the
    output's rank, so generated code needs it written out (a literal, not a parameter)."""
    value = a.output
    if isinstance(value, Sym):
        if not isinstance(n.strip(value.expr), n.Const):
            raise SymbolicError(
                value,
                hint="write output='sequence' or output='last': which one decides the rank of "
                "the output (sequence × features, or features), which the layers after it "
                "are sized for",
            )
        value = value.value
    return bool(value == "last")


@register
class LSTM(_Recurrent):
    """Long short-term memory over a ``sequence × features`` input (4 gates), in one or both
    directions, optionally with a projection; every step's output or the last step's."""

    name = "lstm"
    Attrs = LSTMAttrs
    module_name = "nn.LSTM"
    gates = 4
    cls = "LSTM"

    def _state_ops(self, h: int) -> int:
        return 5 * h  # c = f·c + i·g (3), h = o·tanh(c) (2)


@register
class GRU(_Recurrent):
    """Gated recurrent unit over a ``sequence × features`` input (3 gates), in one or both
    directions; every step's output or the last step's."""

    name = "gru"
    Attrs = GRUAttrs
    module_name = "nn.GRU"
    gates = 3
    cls = "GRU"

    def _state_ops(self, h: int) -> int:
        return 4 * h  # r·(W_hn·h), h = (1 − z)·n + z·h (3)


HELPERS["LSTMOutput"] = _HELPER.format(cls="LSTM")
HELPERS["GRUOutput"] = _HELPER.format(cls="GRU")
