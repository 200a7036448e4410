"""Random specs over the whole netspec language, for ``tests/test_agreement.py``.

One generator writes a spec as YAML data: top-level params (plain and declared, with docs and
choices), ``let`` (expressions, lists, a mapping), blocks of every kind (plain bodies, projected
and identity shortcuts, ``residual`` conditions, branches merged by ``add`` or ``concat``,
``then``, ``expansion``, ``first_only``, blocks calling blocks, stages), layer lists in every
container kind (unnamed ``nn.Sequential``, named nested lists, the named top level), loops,
conditions, conditional layer choices, name templates, the mapping form of calls, every operator
with every attribute, and the call: parameter overrides, an input-shape override, ``extends``.

It is driven either by hypothesis (:func:`examples`, which shrinks) or by a seeded
``random.Random`` (:func:`generate`), so that the coverage test can draw a fixed sample without
``strategy.example()``.

Shapes are valid by construction where the test needs them valid. Four scenarios are tracked:
``A`` the declared defaults at the spec's input, ``B`` the overrides at the call's input,
``C`` the overrides at the spec's input, ``D`` the defaults at the call's input. Sizes must stay
valid in ``A``, ``B`` and ``C``; ``D`` may fail (the test then checks that the generated class
refuses those values too). Inside loops, conditions and blocks only operators that cannot make a
size smaller than 1 are used; operators that can (``maxpool2d(2)``, a convolution without
padding, a crop) appear only in straight-line code at the top, where every scenario's smallest
size is known.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from hypothesis import strategies as st

import netspec
import netspec.ops

T = TypeVar("T")

SCHEMA_PATH = Path(netspec.__file__).parent / "zoo" / "netspec.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
OPS: dict[str, list[str]] = {
    op: list(body.get("properties", {}))
    for op, body in SCHEMA["$defs"]["MappingCall"]["properties"].items()
}
"""Every operator and its attributes in positional order (the schema keeps the model's order)."""
KW_ONLY = {
    attr
    for name in netspec.ops.names()
    for attr in netspec.ops.REGISTRY[name].Attrs.model_fields
    if attr not in netspec.ops.REGISTRY[name].positional()
}
"""Attributes given by keyword only (the declared sizes: in_channels, num_channels, …)."""

REQUIRED = ("A", "B", "C")
BIG = 1 << 20

KEEPS_OUTPUT = frozenset(
    {"relu", "sigmoid", "tanh", "softmax", "log_softmax", "leaky_relu", "lstm", "gru"}
)
"""Layers whose gradient PyTorch computes from their output (``derivatives.yaml``; the fused
recurrent kernels; ``leaky_relu`` where it runs in place): an in-place layer writing into it
makes ``backward()`` fail, which netspec refuses."""
PASSES_ON = frozenset(
    {"identity", "flatten", "reshape", "permute", "select", "dropout", "dropout2d"}
    | {"channel_shuffle", "stochastic_depth"}
)
"""Layers whose output may be their input or a view of it."""


# -- choosers: hypothesis or a seeded Random --------------------------------------------------


class Chooser(Protocol):
    def pick(self, options: Sequence[T]) -> T: ...

    def integer(self, lo: int, hi: int) -> int: ...

    def chance(self, p: float) -> bool: ...


class RandomChooser:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p


class DrawChooser:
    """Hypothesis draws; every choice shrinks towards the first option, ``lo`` and ``False``."""

    def __init__(self, draw: Callable[[Any], Any]) -> None:
        self.draw = draw

    def pick(self, options: Sequence[T]) -> T:
        return options[self.draw(st.integers(0, len(options) - 1))]

    def integer(self, lo: int, hi: int) -> int:
        return int(self.draw(st.integers(lo, hi)))

    def chance(self, p: float) -> bool:
        return bool(self.draw(st.integers(0, 99)) >= 100 - round(p * 100))


# -- values -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class E:
    """An expression, written as text (a value that is not a literal)."""

    text: str


def literal(value: Any) -> str:
    """A value as netspec expression text."""
    if isinstance(value, E):
        return value.text
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return repr(value)


def yaml_value(value: Any) -> Any:
    """A value in the mapping form of a call (text there is an expression)."""
    if isinstance(value, E):
        return value.text
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list | tuple) and any(isinstance(v, E) for v in value):
        return literal(value)  # a list with an expression in it: the list's expression
    if isinstance(value, tuple):
        return list(value)
    return value


@dataclass
class Call:
    op: str
    attrs: list[tuple[str, Any]]
    npos: int = 0


PARAM_VALUES: dict[str, list[Any]] = {
    "width": [1, 2, 3, 4, 5, 6],
    "depth": [1, 2, 3],
    "use_bn": [False, True],
    "act": ["relu", "silu", "gelu"],
    "widths": [[2], [3, 4], [1, 2, 3], [4, 2], [5, 1]],
    "drop": [0.0, 0.1, 0.25, 0.5],
    "k": [1, 3, 5],
    "n_down": [0, 1, 2],
    "classes": [1, 2, 3, 4, 5],
    "eps": [1e-5, 1e-3, 0.5],
}
REQUIRES: dict[str, tuple[str, Any]] = {
    # a condition every value of PARAM_VALUES meets (with any other params'), and a value of
    # the param's kind that fails it
    "width": ("width <= 6 * depth", 99),
    "depth": ("depth in [1, 2, 3]", 4),
    "use_bn": ("use_bn or depth > 0", None),
    "act": ("act != 'tanh'", "tanh"),
    "widths": ("len(widths) <= 3 and widths != [9]", [9]),
    "drop": ("0 <= drop < 1", 1.0),
    "k": ("k % 2 == 1", 2),
    "n_down": ("not n_down < 0", -1),
    "classes": ("classes >= 1", 0),
    "eps": ("eps < 1", 1.0),
}
"""A ``require`` per param, and a value it refuses (``None``: none of the param's kind)."""
DOCS = [
    "channels of the first layer",
    'a "quoted" doc — with × and ü',
    "back\\slash, # hash and a colon: here",
    'triple """ quotes',
    "it's",
]
DESCRIPTIONS = [*DOCS, "a random network", "line one\\nstill one line"]
COND_TOP = [
    "use_bn",
    "not use_bn",
    "depth > 1",
    "act == 'relu'",
    "len(widths) > 1 and use_bn",
    "widths != [4, 2]",  # a list param is a tuple in generated code, whatever it is given
    "n_down == 0 or depth < 3",
]


# -- the data flowing through a layer list ------------------------------------------------------


SIZE_ATTR = {"1d": "in.length", "2d": "in.height", "3d": "in.depth"}
"""A spatial size of a block's input, by its kind of data (``in.…``)."""


@dataclass
class Flow:
    """What reaches the next layer: its kind of data and what is known of its sizes.

    ``tracked``: straight-line code at the top, where ``lo`` is each scenario's smallest spatial
    size (0: that scenario already failed). Otherwise (loops, conditions, blocks) only operators
    that keep every size ≥ 1 are used, and ``h`` counts the halvings and ``cap`` the smallest
    fixed size that may have happened, so that the caller can bound the sizes afterwards.
    ``fixed``: the spatial size must not change at all (a residual body, a branch).
    """

    world: str  # "3d": C×D×H×W, "2d": C×H×W, "1d": C×L, "flat": F
    chan: str | None = None
    tracked: bool = False
    lo: dict[str, int] = field(default_factory=dict)
    h: int = 0
    cap: int = BIG
    fixed: bool = False
    inplace_ok: bool = True
    """False where another path reads the tensors (a residual block, branches): netspec refuses
    an in-place layer there."""

    def sub(self, fixed: bool | None = None) -> Flow:
        fixed = self.fixed if fixed is None else fixed
        return Flow(self.world, None, False, {}, 0, BIG, fixed, self.inplace_ok)

    def absorb(self, other: Flow, times: int = 1) -> None:
        """Sizes after ``other`` (a region of untracked code) ran up to ``times`` times."""
        if self.tracked:
            for s, v in self.lo.items():
                if v > 0:
                    self.lo[s] = -(-min(v, other.cap) // 2 ** (other.h * times))
        else:
            self.h += other.h * times
            self.cap = min(self.cap, other.cap)

    def allows(self, need: int) -> bool:
        return self.tracked and all(self.lo[s] >= need for s in REQUIRED)

    def apply(self, kind: str, n: int = 0, need: int = 1) -> None:
        if kind == "keep":
            return
        if not self.tracked:
            assert kind in ("halve", "cap", "grow"), kind
            if kind == "halve":
                self.h += 1
            elif kind == "cap":
                self.cap = min(self.cap, n)
            return
        for s, v in self.lo.items():
            if v <= 0:
                continue
            if v < need:
                self.lo[s] = 0
            elif kind == "halve":
                self.lo[s] = (v + 1) // 2
            elif kind == "cap":
                self.lo[s] = min(v, n)
            elif kind == "grow":
                self.lo[s] = v + n
            elif kind == "pool2":
                self.lo[s] = v // 2
            elif kind == "valid":
                self.lo[s] = v - n + 1
            elif kind == "set":
                self.lo[s] = n


@dataclass
class Ctx:
    """What names an expression may use where a layer is written."""

    chans: list[str]
    counts: list[tuple[str, int]]
    conds: list[str]
    index_vars: list[str] = field(default_factory=list)
    """Loop indices of the current container's enclosing loops (for name templates)."""
    used_vars: frozenset[str] = frozenset()
    block: Block | None = None
    depth: int = 0
    in_loop: bool = False
    in_branch: bool = False
    """Inside a branch of a condition."""


@dataclass
class Block:
    name: str
    world: str
    params: list[tuple[str, str | None]]
    data: dict[str, Any]
    h: int = 0
    cap: int = BIG
    has_loop: bool = False
    kind: str = ""
    heavy: bool = False
    """Calls blocks, loops, or may grow the channels it gets: never called inside a loop."""


_KEYWORDS = {"for", "repeat", "if", "parallel"}


def _has_names(entries: list[Any]) -> bool:
    """Whether a layer list names a layer at its top (so it is a class's): a mapping that is
    no loop or condition, and no operator called with its arguments by name (``identity:
    {}``, ``conv2d: {out_channels: 4}``: one key, whose arguments hold no mapping)."""

    def mapping_call(e: dict[str, Any]) -> bool:
        value = next(iter(e.values()))
        return (
            len(e) == 1
            and isinstance(value, dict)
            and not any(isinstance(v, dict) for v in value.values())
        )

    return any(
        isinstance(e, dict) and not (_KEYWORDS & set(e)) and not mapping_call(e) for e in entries
    )


def spatial(world: str) -> str:
    """The suffix of a world's spatial operators: ``conv3d``, ``conv2d``, ``conv1d``."""
    return world if world in ("2d", "3d") else "1d"


class Names:
    """Unique module names of one container; templates inside loops."""

    def __init__(self, taken: set[str] | None = None) -> None:
        self.taken: set[str] = set(taken or ())
        self.stateless: dict[str, str] = {}
        self.straight: set[str] = set()
        """Stateless names made outside loops and conditions."""

    def new(self, prefix: str, ctx: Ctx, gen: SpecGen) -> str:
        n = 0
        while f"{prefix}{n}" in self.taken:
            n += 1
        base = f"{prefix}{n}"
        self.taken.add(base)
        if not ctx.index_vars:
            return base
        parts = []
        for var in ctx.index_vars:
            # (a part reading a param: in a loop written out, a name known only at run time)
            parts.append(
                "{" + gen.c.pick([var, f"{var} + 1", f"{var} * 2", f"{var} + width"]) + "}"
            )
        gen.tag("name-template")
        return base + "_" + "_".join(parts)


# -- the generator ------------------------------------------------------------------------------


@dataclass
class Example:
    """One drawn example: spec files as YAML data, and how to load them."""

    files: dict[str, dict[str, Any]]
    """``main`` and, with ``extends``, ``base`` (stems; written as .yaml and .ns)."""
    fmt: str
    defaults: dict[str, Any]
    overrides: dict[str, Any]
    input_override: list[int] | None
    by_path: bool
    cli: bool
    tags: set[str]
    refused: list[tuple[str, Any]] = field(default_factory=list)
    """Values of declared params that their choices or ``require`` refuse (one at a time)."""
    probes: list[tuple[str, Any]] = field(default_factory=list)
    """Values of params that an operator reading them refuses where the values reach it (a
    negative ``eps``): check refuses one exactly where the class does."""

    def yaml_texts(self) -> dict[str, str]:
        return {stem: dump(data) for stem, data in self.files.items()}

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def __repr__(self) -> str:
        parts = [f"--- {stem}.yaml\n{text}" for stem, text in self.yaml_texts().items()]
        parts.append(
            f"format={self.fmt} overrides={self.overrides!r} "
            f"input_override={self.input_override!r} by_path={self.by_path} cli={self.cli}"
        )
        return "\n".join(parts)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)


class SpecGen:
    def __init__(self, chooser: Chooser) -> None:
        self.c = chooser
        self.tags: set[str] = set()
        self.refused: list[tuple[str, Any]] = []
        self.probes: list[tuple[str, Any]] = []
        self.blocks: dict[str, Block] = {}
        self.lets: dict[str, Any] = {}
        self.current_block_has_loop = False
        self.calls_block = False
        self.block_names = Names()
        self.grown = 0
        """Operators drawn that multiply a size (at most two: the tensors stay small)."""
        self.taps = 0
        """Tensors kept for ``from:`` entries so far (their names are numbered)."""
        self.in_place = False
        """Whether a layer that writes in place was drawn (however its call is written)."""
        self.model_tensors: dict[str, str] = {}
        """The model's own learned tensors (``tensors:`` at the top), drawn as its layers
        apply them."""

    def tag(self, *names: str) -> None:
        self.tags.update(names)

    # -- the spec -------------------------------------------------------------------------------

    def example(self) -> Example:
        c = self.c
        world = c.pick(["2d", "2d", "1d", "3d"])
        self.tag(f"world:{world}")
        # integer token ids: a sequence an embedding turns into sequence × features (1-d data)
        ids = world == "1d" and c.chance(0.2)
        if ids:
            self.tag("input:ids")
            shape = [c.integer(2, 12)]
        elif world == "2d":
            shape = [c.integer(1, 4), c.integer(4, 12), c.integer(4, 12)]
        elif world == "3d":
            shape = [c.integer(1, 3), c.integer(4, 8), c.integer(4, 8), c.integer(4, 8)]
        else:
            shape = [c.integer(1, 4), c.integer(4, 16)]
        defaults = {name: c.pick(values) for name, values in PARAM_VALUES.items()}
        overrides: dict[str, Any] = {}
        for name, values in PARAM_VALUES.items():
            if c.chance(0.35):
                overrides[name] = c.pick([v for v in values if v != defaults[name]])
        call_input = None
        deep = not ids and c.chance(0.15)
        if deep:
            # the defaults pool more than the call's input allows, the overrides do not
            defaults["n_down"], overrides["n_down"] = 2, c.pick([0, 1])
            call_input = [c.integer(1, 4)] + [c.integer(2, 3) for _ in shape[1:]]
            self.tag("call:input", "call:input+params")
        elif c.chance(0.35):
            call_input = [c.integer(1, 4)] + [c.integer(2, 12) for _ in shape[1:]]
            self.tag("call:input")
            if overrides:
                self.tag("call:input+params")
        if overrides:
            self.tag("call:params")
        self.env = {
            "A": (defaults, shape),
            "B": ({**defaults, **overrides}, call_input or shape),
            "C": ({**defaults, **overrides}, shape),
            "D": (defaults, call_input or shape),
        }
        params = self.params(defaults, overrides)
        self.lets = self.top_lets()
        for i in range(c.integer(0, 3)):
            block = self.block(i, world)
            self.blocks[block.name] = block
        kind = c.pick(["class", "class", "seq"])
        self.tag(f"top:{kind}")
        ctx = self.top_ctx()
        names = Names()
        if ids:
            dim = c.pick([4, 6, 8, 16])
            flow = Flow(world, tracked=True, lo=dict.fromkeys(self.env, dim))
            attrs: list[tuple[str, Any]] = [("num_embeddings", c.pick([3, 50, 1000]))]
            attrs.append(("embedding_dim", dim))
            if c.chance(0.3):
                attrs.append(("padding_idx", c.pick([0, -1, 2])))
            embed = self.render(Call("embedding", attrs))
            layers = [self.named(kind, names, ctx, "embed", embed, True)]
            if c.chance(0.4):  # a recurrent layer straight on the embeddings: features known
                rnn = self.render(self.recurrent(flow, features=dim))
                layers.append(self.named(kind, names, ctx, "rnn", rnn, True))
        else:
            lo = {s: min(env[1][1:]) for s, env in self.env.items()}
            flow = Flow(world, tracked=True, lo=lo)
            layers = [self.n_down(ctx, flow, kind, names)] if deep else []
            if world == "1d" and kind == "class" and c.chance(0.2):
                # channels known here: a class token (the model's own tensor) may be prepended
                conv = self.render(
                    Call("conv1d", [("out_channels", E("width")), ("kernel_size", 1)])
                )
                layers.append({names.new("proj", ctx, self): conv})
                flow.chan = "width"
                layers.append(self.model_tensor(ctx, flow))
        layers += self.layer_list(ctx, flow, kind, names, c.integer(1, 5))
        if kind == "class" and not ids and c.chance(0.35):  # (relu reads no token ids)
            self.dataflow(layers, flow, world, shape)
        if flow.lo["D"] <= 0:
            self.tag("call:defaults-fail-at-call-input")
        if c.chance(0.5):
            layers += self.head(ctx, flow, kind)
        spec: dict[str, Any] = {"netspec": 1}
        spec["name"] = c.pick(["net", "tiny_model", "m3", "Random_Net"])
        if c.chance(0.3):
            spec["class_name"] = c.pick(["MyNet", "Net2", "the_model"])
        if c.chance(0.4):
            spec["description"] = c.pick(DESCRIPTIONS)
        spec["input"] = shape
        if ids:
            spec["input_dtype"] = "int64"
        elif c.chance(0.05):
            spec["input_dtype"] = "float32"
        spec["params"] = params
        if self.lets:
            spec["let"] = self.lets
        if self.model_tensors:
            spec["tensors"] = self.model_tensors
        if self.blocks:
            spec["blocks"] = {name: b.data for name, b in self.blocks.items()}
        spec["layers"] = layers
        calm_in_place(spec)
        files = self.split(spec) if c.chance(0.25) else {"main": spec}
        fmt = c.pick(["yaml", "ns"])
        self.tag(f"format:{fmt}")
        by_path = "base" in files or c.chance(0.5)
        cli = c.chance(0.25)
        if cli:
            self.tag("cli")
        effective = {k: v["default"] if isinstance(v, dict) else v for k, v in params.items()}
        return Example(
            files,
            fmt,
            effective,
            overrides,
            call_input,
            by_path,
            cli,
            self.tags,
            self.refused,
            self.probes,
        )

    def params(self, defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in defaults.items():
            if not self.c.chance(0.4):
                out[name] = value
                continue
            decl: dict[str, Any] = {"default": value}
            if self.c.chance(0.6):
                decl["doc"] = self.c.pick(DOCS)
            if self.c.chance(0.6):
                keep = {json.dumps(value), json.dumps(overrides.get(name, value))}
                decl["choices"] = [
                    v for v in PARAM_VALUES[name] if json.dumps(v) in keep or self.c.chance(0.5)
                ]
            if self.c.chance(0.4):
                decl["require"], bad = REQUIRES[name]
                self.tag("param:require")
                if bad is not None:
                    self.refused.append((name, bad))
                    self.tag("param:refused")
            elif decl.get("choices"):
                left = [v for v in PARAM_VALUES[name] if v not in decl["choices"]]
                if left:
                    self.refused.append((name, self.c.pick(left)))
                    self.tag("param:refused")
            out[name] = decl
            self.tag("param:declared")
        return out

    def top_lets(self) -> dict[str, Any]:
        c = self.c
        lets: dict[str, Any] = {}
        if c.chance(0.6):
            # the last: more than eight operands, one flat chain (parsed, evaluated, generated)
            lets["wide"] = c.pick(
                ["width * 2", "width + width", "width + width + width - width + 0 + 0 + 0 + 0 + 0"]
            )
            if lets["wide"].count("+") > 4:
                self.tag("expr:long-chain")
        if c.chance(0.5):
            lets["half"] = "max(width // 2, 1)"
        if c.chance(0.5):
            lets["chans"] = c.pick(
                ["[width, width + 1]", *(["[width, wide]"] if "wide" in lets else [])]
            )
            if "wide" in lets["chans"]:
                self.tag("let:reads-let")
        if c.chance(0.5):
            lets["mom"] = c.pick(["0.1 if use_bn else 0.2", 0.3, "drop / 2 + 0.1"])
        if c.chance(0.4):
            a, b, d = (c.integer(1, 5) for _ in range(3))
            lets["table"] = {1: [a], 2: [a, b], 3: [a, b, d]}
            self.tag("let:mapping")
        if c.chance(0.3):
            lets["pad"] = "k // 2"
        return lets

    def top_ctx(self) -> Ctx:
        chans = ["width", "4", "2", "width + 1", "max(width, 3)", "make_divisible(width * 3, 2)"]
        for name, text in (("wide", "wide"), ("half", "half"), ("chans", "chans[-1]")):
            if name in self.lets:
                chans.append(text)
        counts = [("depth", 3), ("2", 2), ("len(widths)", 3), ("depth - 1", 2), ("1", 1)]
        return Ctx(chans, counts, list(COND_TOP))

    def split(self, spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The spec as a base file and a file that extends it (merged, they are ``spec``)."""
        c = self.c
        self.tag("extends")
        base: dict[str, Any] = {"netspec": 1, "name": "base_net"}
        main: dict[str, Any] = {"netspec": 1}
        main["name"] = spec["name"]
        ref = c.pick(["base", "base.yaml", "base.ns"])
        if ref == "base":
            self.tag("extends:no-suffix")
        main["extends"] = ref
        for key in ("class_name", "description"):
            if key in spec:
                (main if c.chance(0.5) else base)[key] = spec[key]
        if c.chance(0.5):
            base["input"] = spec["input"]
        else:
            main["input"] = spec["input"]
            if c.chance(0.5):
                base["input"] = [1] + [3] * (len(spec["input"]) - 1)
        if "input_dtype" in spec:
            (main if c.chance(0.5) else base)["input_dtype"] = spec["input_dtype"]
        base_params: dict[str, Any] = {}
        main_params: dict[str, Any] = {}
        for name, decl in spec["params"].items():
            # a file extending another may override its params, not add new ones
            if c.chance(0.5):
                value = decl["default"] if isinstance(decl, dict) else decl
                base_params[name] = c.pick([v for v in PARAM_VALUES[name] if v != value])
                main_params[name] = decl
                self.tag("extends:override-param")
            else:
                base_params[name] = decl
        base["params"] = base_params
        if main_params:
            main["params"] = main_params
        lets = list(spec.get("let", {}).items())
        cut = c.integer(0, len(lets))
        if lets[:cut]:
            base["let"] = dict(lets[:cut])
        if lets[cut:]:
            main["let"] = dict(lets[cut:])
        if "tensors" in spec:
            (base if c.chance(0.5) else main)["tensors"] = spec["tensors"]
        for name, block in spec.get("blocks", {}).items():
            where = c.pick(["base", "main", "both"])
            if where == "both":
                base.setdefault("blocks", {})[name] = {"body": ["identity"]}
                self.tag("extends:override-block")
            target = base if where == "base" else main
            target.setdefault("blocks", {})[name] = block
        where = c.pick(["base", "main", "both"])
        if where == "both":
            base["layers"] = ["identity"]
        (base if where == "base" else main)["layers"] = spec["layers"]
        return {"base": base, "main": main}

    # -- layer lists ------------------------------------------------------------------------------

    def wrap(self, entries: list[Any], single_ok: bool = True) -> Any:
        """A list, or its only entry (a single layer is accepted where a list of one is)."""
        if single_ok and len(entries) == 1 and self.c.chance(0.5):
            self.tag("single-entry")
            return entries[0]
        return entries

    # -- dataflow: `from:` --------------------------------------------------------------------

    def _tap(self) -> tuple[str, str, str]:
        """Fresh names for a tapped tensor, its gate and their merge."""
        self.taps += 1
        return f"tap{self.taps}", f"gate{self.taps}", f"join{self.taps}"

    def _gated(self, spatial: bool) -> list[Any]:
        """A tensor kept (``tapN``), a gate of the same shape after it, and one entry reading
        the two: a merge that keeps the shape (a crop where the data is known to have spatial
        dimensions), or a layer reading the kept tensor again."""
        c = self.c
        tap, gate, join = self._tap()
        out: list[Any] = [{tap: "relu"}, {gate: "sigmoid"}]
        how = c.pick(["add", "mul", "crop", "single"] if spatial else ["add", "mul", "single"])
        self.tag(f"from:{how}")
        if how == "single":
            out.append({join: "tanh", "from": tap})
        elif how == "crop":  # the kept tensor cut to the gate's size (the same)
            out.append({join: "crop", "from": [tap, gate]})
        else:
            out.append({join: how, "from": [gate, tap]})
        return out

    def _child_read(self) -> list[Any]:
        """A sequence (``tapN``, sometimes with a loop, which the generated class runs when it
        is made), and one entry reading a child of it with its output (they have the same
        shape): an ``add``, or a block of two inputs."""
        c = self.c
        tap, _, join = self._tap()
        loop = c.integer(1, 2) if c.chance(0.5) else 0
        if loop:
            children: list[Any] = ["relu", {"repeat": loop, "do": ["tanh"]}, "sigmoid"]
            self.tag("from:child-in-loop")
        else:
            children = ["relu", "tanh", "sigmoid"]
        k = c.integer(0, len(children) + max(loop - 1, 0) - 1)
        self.tag("from:child")
        reads = [f"{tap}.{k}", tap]
        if c.chance(0.5):
            pair = f"Pair{self.taps}"
            body = [
                {"g": "sigmoid", "from": "b"},
                {"s": c.pick(["add", "mul"]), "from": ["a", "g"]},
            ]
            data: dict[str, Any] = {"inputs": ["a", "b"], "body": body}
            params: list[tuple[str, str | None]] = []
            call = f"{pair}()"
            self.tag("from:block-inputs")
            if c.chance(0.4):  # calling itself under a condition, given its own other input
                data["params"], params = ["d"], [("d", None)]
                inner = {"inner": f"{pair}(d - 1)", "from": ["s", c.pick(["b", "g"])]}
                body.append({"if": "d > 0", "then": [inner]})
                call = f"{pair}({c.integer(0, 3)})"
                self.tag("from:block-inputs-recursive")
            self.blocks[pair] = Block(pair, "pair", params, data, heavy=bool(params))
            return [{tap: children}, {join: call, "from": reads}]
        return [{tap: children}, {join: "add", "from": reads}]

    def dataflow(self, layers: list[Any], flow: Flow, world: str, shape: list[int]) -> None:
        """``from:`` entries in the model's layers: a gated tap anywhere (it keeps the shape),
        and at the end sometimes one that changes it (a concat, a resize to the input's size,
        a layer reading the input)."""
        c = self.c
        at = c.integer(0, len(layers))
        if c.chance(0.3):
            layers[at:at] = self._child_read()
        else:
            layers[at:at] = self._gated(spatial=at == 0)  # (later, the data may be flat)
        if not c.chance(0.5):
            return
        # the input is read again only where no layer may write into it: the first that
        # runs may come after entries that pass it on (a condition false at these values, a
        # group it leaves empty), so any in-place layer rules it out (`inplace=true`, or
        # given by position: `dropout(0.5, true)`)
        writes = self.in_place or "inplace" in json.dumps(layers)
        end = c.pick(["concat"] if writes else ["concat", "resize", "input"])
        if end != "concat" and flow.world != world:
            return  # flattened: the input's rank is no longer the data's
        self.tag(f"from:{end}")
        tap, gate, join = self._tap()
        if end == "concat":
            layers += [{tap: "relu"}, {gate: "sigmoid"}, {join: "concat", "from": [gate, tap]}]
        elif end == "resize":
            layers += [{tap: "relu"}, {join: "resize", "from": [tap, "input"]}]
        else:
            layers.append({join: c.pick(["relu", "sigmoid"]), "from": "input"})
        flow.chan = None
        if end != "concat":  # the input's spatial size again
            for s, env in self.env.items():
                if flow.lo[s] > 0:
                    flow.lo[s] = min(env[1][1:])

    def block_dataflow(self, body: list[Any], world: str) -> None:
        """``from:`` in a block's body: the block's input gated first, or a gated tap."""
        if self.c.chance(0.5):
            tap, _, join = self._tap()
            self.tag("from:block-input")
            body[0:0] = [{tap: "relu"}, {join: "mul", "from": [tap, "input"]}]
            return
        at = self.c.integer(0, len(body))
        body[at:at] = self._gated(spatial=world != "flat")
        self.tag("from:in-block")

    def layer_list(self, ctx: Ctx, flow: Flow, kind: str, names: Names, n: int) -> list[Any]:
        """``n`` entries of a container of ``kind``: ``seq`` (no names), ``module`` (a named
        nested list: every entry named) or ``class`` (the named top level, a block body: layers
        with parameters named; a loop's names are templates, so each iteration's differ)."""
        out: list[Any] = []
        for _ in range(n):
            if kind == "class" and flow.world == "1d" and self.c.chance(0.15):
                out += self.attention(ctx, flow, names)
            elif kind == "class" and flow.world == "2d" and self.c.chance(0.08):
                if self.c.chance(0.5):
                    out += self.windows(ctx, flow, names)
                else:
                    out += self.partitions(ctx, flow, names)
            elif (
                kind == "class"
                and ctx.block is None
                and ctx.depth == 0
                and self.c.chance(0.25 if flow.world == "1d" and flow.chan is not None else 0.1)
            ):
                out.append(self.model_tensor(ctx, flow))
            else:
                out.append(self.entry(ctx, flow, kind, names))
        return out

    def attention(self, ctx: Ctx, flow: Flow, names: Names) -> list[Any]:
        """Self-attention over C×L read as L tokens of C (named: a class's forward calls it),
        between two permutes."""
        c = self.c
        attrs: list[tuple[str, Any]] = []
        heads: list[Any] = [1, 1] + ([E(flow.chan)] if flow.chan is not None else [])
        attrs.append(("num_heads", c.pick(heads)))  # 1 or one head per dimension: they divide
        if c.chance(0.3):
            attrs.append(("dropout", c.pick([0.0, E("drop")])))
        if c.chance(0.3):
            attrs.append(("bias", c.pick([False, True])))
        if flow.chan is not None and c.chance(0.5):
            attrs.append(("embed_dim", E(flow.chan)))
            self.tag("declared-size-check")
        self.tag("attention")
        swap: list[Any] = [0, 2, 1]
        if c.chance(0.3):  # the same permutation, an entry of it chosen when built
            swap = [0, E("2 if use_bn else -1"), 1]
            self.tag("permute:dims-param")
        turn = self.render(Call("permute", [("dims", swap)]))
        attn = {names.new("attn", ctx, self): self.render(Call("multihead_attention", attrs))}
        return [turn, attn, turn]

    def windows(self, ctx: Ctx, flow: Flow, names: Names) -> list[Any]:
        """Swin's operators on C×H×W read channels last, between two permutes: window
        attention (v1, v2, V2's whole block) over any map size (a window the map does not
        divide pads it), and sometimes, outside blocks, a patch merging (⌈H / 2⌉ × ⌈W / 2⌉ ×
        2C). In loops too: a loop that may run no time and permutes the channels away and
        back in one branch of a condition once left the generated constructor's channels
        unset after it."""
        c = self.c
        heads: list[Any] = [1, 1] + ([E(flow.chan)] if flow.chan is not None else [])
        op = c.pick(["shifted_window_attention", "shifted_window_attention_v2", "swin_block_v2"])
        window = c.pick([2, 3, 4, 7])
        attrs: list[tuple[str, Any]] = [("num_heads", c.pick(heads)), ("window_size", window)]
        if c.chance(0.6):
            attrs.append(("shift_size", c.pick([0, window // 2, window - 1])))
        options = [("attention_dropout", [0.0, E("drop")]), ("dropout", [0.0, 0.1])]
        if op == "swin_block_v2":
            options += [
                ("mlp_ratio", [1.0, 2.0, E("drop + 1.5"), E("drop + 1.0")]),
                ("stochastic_depth_prob", [0.0, 0.2]),
            ]
        for name, values in options:
            if c.chance(0.3):
                attrs.append((name, c.pick(values)))
                if name == "mlp_ratio" and isinstance(attrs[-1][1], E):
                    self.tag("swin_block_v2:mlp-ratio-param")
        self.tag("windows", *(["windows-in-loop"] if ctx.in_loop else []))
        out: list[Any] = [
            self.render(Call("permute", [("dims", [0, 2, 3, 1])])),
            {names.new("win", ctx, self): self.render(Call(op, attrs))},
        ]
        # it doubles the channels: never where it could run again and again (a block, a loop)
        if not flow.fixed and ctx.block is None and not ctx.in_loop and c.chance(0.5):
            merge = c.pick(["patch_merging", "patch_merging_v2"])
            # (the mapping form more often than other calls': this call is a rare one)
            form = {merge: {}} if c.chance(0.3) else self.render(Call(merge, []))
            out.append({names.new("merge", ctx, self): form})
            flow.apply("halve")
            flow.chan = None  # twice the channels
            self.tag("patch-merging")
        out.append(self.render(Call("permute", [("dims", [0, 3, 1, 2])])))
        return out

    def partitions(self, ctx: Ctx, flow: Flow, names: Names) -> list[Any]:
        """MaxViT's partition attention on C×H×W: windows or a grid of s × s tokens, where s
        divides the map (MaxViT does not pad): s = 1 on any map, or, where the size may
        change, the map pooled to 4×4 first and s = 2 or 4. One head, or heads of one
        channel."""
        c = self.c
        out: list[Any] = []
        size = 1
        if not flow.fixed and c.chance(0.6):
            out.append(self.render(Call("adaptive_avgpool2d", [("output_size", 4)])))
            flow.apply("set" if flow.tracked else "cap", 4)
            size = c.pick([2, 4])
        dims: list[Any] = [1, 1] + ([E(flow.chan)] if flow.chan is not None else [])
        attrs: list[tuple[str, Any]] = [("head_dim", c.pick(dims)), ("partition_size", size)]
        options = [
            ("partition_type", ["window", "grid"]),
            ("mlp_ratio", [1, 2]),
            ("attention_dropout", [0.0, E("drop")]),
            ("mlp_dropout", [0.0, 0.1]),
            ("stochastic_depth_prob", [0.0, 0.2]),
        ]
        for name, values in options:
            if c.chance(0.4):
                attrs.append((name, c.pick(values)))
        self.tag("partitions", *(["partitions-in-loop"] if ctx.in_loop else []))
        out.append({names.new("part", ctx, self): self.render(Call("partition_attention", attrs))})
        return out

    def model_tensor(self, ctx: Ctx, flow: Flow) -> Any:
        """A learned tensor of the model applied by its own layers: a class token prepended
        along the length of C×L data (its channels known), or a broadcast scale or shift."""
        c = self.c
        name = f"t{len(self.model_tensors)}"
        init = c.pick(["zeros", "ones", "full", "normal"])
        extra = {"full": f", {c.pick([0.5, 'drop'])}", "normal": ", 0.02"}.get(init, "")
        self.tag("model:tensors", f"tensor:{init}")
        if flow.world == "1d" and flow.chan is not None and c.chance(0.6):
            k = c.integer(1, 2)
            self.model_tensors[name] = f"{init}([1, {flow.chan}, {k}]{extra})"
            flow.apply("grow", k)
            self.tag("prepend")
            dim = c.pick([2, -1, E("2 if use_bn else -1")])
            if isinstance(dim, E):  # the length either way, chosen when built
                self.tag("prepend:dim-param")
            if c.chance(0.5):
                self.tag("mapping-call")
                return {"prepend": {"other": name, "dim": yaml_value(dim)}}
            return f"prepend({name}, dim={literal(dim)})"  # (the default, 1, is the channels)
        rank = {"3d": 4, "2d": 3, "1d": 2, "flat": 1}[flow.world]
        self.model_tensors[name] = f"{init}({[1] * c.integer(1, rank + 1)}{extra})"
        op = c.pick(["mul", "add"])
        return f"{op}({name})"

    def some(self, ctx: Ctx, flow: Flow, kind: str, names: Names, most: int) -> list[Any]:
        """One to ``most`` entries; sometimes a lone loop (a list may be just a loop)."""
        if ctx.depth < 3 and self.c.chance(0.25):
            self.tag("lone-loop")
            return [self.loop(ctx, flow, kind, names)]
        return self.layer_list(ctx, flow, kind, names, self.c.integer(1, most))

    def entry(self, ctx: Ctx, flow: Flow, kind: str, names: Names) -> Any:
        c = self.c
        options = ["op", "op", "op", "choice", "if"]
        if self.usable_blocks(ctx, flow):
            options += ["block", "block"]
            if not ctx.in_loop:
                options += ["stage"]
        if ctx.depth < 2:
            if kind != "seq":
                options += ["nested", "named-control"]
            options += ["loop", "loop"]
        if flow.tracked:
            options += ["transition"]
            if flow.world != "flat" and "n_down" not in self.tags:
                options += ["n_down"]
        what = c.pick(options)
        if what == "op":
            return self.op_entry(ctx, flow, kind, names)
        if what == "choice":
            return self.choice(ctx, flow, kind, names)
        if what == "if":
            return self.if_entry(ctx, flow, kind, names)
        if what == "block":
            return self.block_call(ctx, flow, kind, names)
        if what == "stage":
            return self.stage_call(ctx, flow, kind, names)
        if what == "nested":
            return self.nested(ctx, flow, names)
        if what == "named-control":
            return self.named_control(ctx, flow, names)
        if what == "loop":
            return self.loop(ctx, flow, kind, names)
        if what == "n_down":
            return self.n_down(ctx, flow, kind, names)
        return self.transition(ctx, flow, kind, names)

    def named(self, kind: str, names: Names, ctx: Ctx, prefix: str, value: Any, stateful: bool):
        """``value`` as an entry of a container of ``kind`` (named where it must or may be)."""
        if kind == "module" or (kind == "class" and (stateful or self.c.chance(0.5))):
            return {names.new(prefix, ctx, self): value}
        if kind == "class":
            self.tag("functional-call")
        return value

    def op_entry(self, ctx: Ctx, flow: Flow, kind: str, names: Names) -> Any:
        c = self.c
        plain = kind == "class" and not (ctx.in_loop or ctx.in_branch)
        rewritable = [
            (name, text.removesuffix("()"))
            for name, text in sorted(names.stateless.items())
            if plain
            and name in names.straight
            and "inplace" in OPS.get(text.removesuffix("()"), ())
        ]
        if rewritable and c.chance(0.6):
            # written otherwise, equal at every value drawn: the class tests depth > 3
            self.tag("shared-stateless-name", "shared-stateless-name:differently-written")
            name, op = c.pick(rewritable)
            return {name: f"{op}(inplace=depth > 3)"}
        if kind == "class" and names.stateless and c.chance(0.3):
            self.tag("shared-stateless-name")
            return dict([c.pick(sorted(names.stateless.items()))])
        call, stateful = self.op(ctx, flow)
        value = self.render(call)
        entry = self.named(kind, names, ctx, call.op[:4], value, stateful)
        if (
            kind == "class"
            and isinstance(entry, dict)
            and call.op in ACTIVATIONS
            and isinstance(value, str)
            and not ctx.index_vars
        ):
            names.stateless[next(iter(entry))] = value
            if not (ctx.in_loop or ctx.in_branch):
                names.straight.add(next(iter(entry)))
        return entry

    def render(self, call: Call) -> Any:
        """A call as text (positional, then keywords; bare when without attributes) or in the
        mapping form."""
        if self.c.chance(0.3):
            self.tag("mapping-call")
            return {call.op: {k: yaml_value(v) for k, v in call.attrs}}
        if not call.attrs and self.c.chance(0.7):
            return call.op
        order = OPS[call.op]
        given = dict(call.attrs)
        npos = 0
        while npos < len(order) and order[npos] in given and order[npos] not in KW_ONLY:
            npos += 1
        npos = min(npos, call.npos if call.npos else self.c.integer(0, npos))
        pos = [literal(given[name]) for name in order[:npos]]
        kws = [f"{k}={literal(v)}" for k, v in call.attrs if k not in order[:npos]]
        if pos and kws:
            self.tag("call:positional+keyword")
        return f"{call.op}({', '.join(pos + kws)})"

    def choice(self, ctx: Ctx, flow: Flow, kind: str, names: Names) -> Any:
        """``a if cond else b``: two operators (or a block and an operator)."""
        c = self.c
        self.tag("layer-choice")
        cond = c.pick(ctx.conds)
        one, two = flow.sub(), flow.sub()
        left, s1 = self.op(ctx, one)
        right, s2 = self.op(ctx, two)
        left_text = self.render_text(left)
        blocks = self.usable_blocks(ctx, flow)
        if blocks and c.chance(0.3):
            block = c.pick(blocks)
            self.calls_block = True
            left_text = self.block_text(ctx, block)
            one.h, one.cap, s1 = block.h, block.cap, True
            self.tag("layer-choice:block")
        flow.absorb(one)
        flow.absorb(two)
        flow.chan = None
        text = f"{left_text} if {cond} else {self.render_text(right)}"
        return self.named(kind, names, ctx, "pick", text, s1 or s2)

    def render_text(self, call: Call) -> str:
        order = OPS[call.op]
        if not call.attrs:
            return call.op
        given = dict(call.attrs)
        pos = []
        for name in order:
            if name in given and name not in KW_ONLY and len(pos) < 1:
                pos.append(name)
            else:
                break
        args = [literal(given[n]) for n in pos]
        args += [f"{k}={literal(v)}" for k, v in call.attrs if k not in pos]
        return f"{call.op}({', '.join(args)})"

    def if_entry(self, ctx: Ctx, flow: Flow, kind: str, names: Names) -> Any:
        c = self.c
        cond = c.pick(ctx.conds)
        sub_ctx = replace(ctx, depth=ctx.depth + 1, in_branch=True)
        one = flow.sub()
        then = self.some(sub_ctx, one, kind, names, 2)
        if kind == "class" and ctx.depth == 0 and not ctx.in_loop and c.chance(0.3):
            # a tensor kept inside the branch and read later in it (a branch's names are
            # its own, as a recursive level's skip connection is)
            then = self._gated(spatial=False) + then
            self.tag("from:in-if-branch")
        entry: dict[str, Any] = {"if": cond, "then": self.wrap(then)}
        two = flow.sub()
        if c.chance(0.6):
            other = self.some(sub_ctx, two, kind, names, 2)
            entry["else"] = self.wrap(other)
            self.tag("if-else")
        flow.absorb(one)
        flow.absorb(two)
        flow.chan = None
        return entry

    def nested(self, ctx: Ctx, flow: Flow, names: Names) -> Any:
        """A named nested list: named (module) or not (sequential)."""
        c = self.c
        inner_kind = c.pick(["module", "seq"])
        self.tag(f"nested:{inner_kind}")
        sub_ctx = replace(ctx, depth=ctx.depth + 1, index_vars=[])
        entries = self.layer_list(sub_ctx, flow, inner_kind, Names(), c.integer(1, 3))
        return {names.new("seq", ctx, self): entries}

    def named_control(self, ctx: Ctx, flow: Flow, names: Names) -> Any:
        """A named entry whose value is a loop, a condition or one mapping-form call."""
        c = self.c
        inner_kind = c.pick(["seq", "module"])
        sub_ctx = replace(ctx, depth=ctx.depth + 1, index_vars=[])
        what = c.pick(["loop", "if"])
        if what == "loop":
            value = self.loop(sub_ctx, flow, inner_kind, Names())
        else:
            value = self.if_entry(sub_ctx, flow, inner_kind, Names())
        self.tag(f"named-{what}")
        return {names.new("grp", ctx, self): value}

    def loop_header(self, ctx: Ctx, need_index: bool) -> tuple[dict[str, Any], Ctx, int]:
        """A ``for`` or ``repeat`` header, the scope of its body and its largest count."""
        c = self.c
        free = [v for v in ("i", "j", "n") if v not in ctx.used_vars]
        var = free[0]
        chans = list(ctx.chans)
        index = None
        form = c.pick(["repeat", "repeat-as", "range", "enumerate", "in", "zip", "table"])
        if need_index and form in ("repeat", "in", "zip"):
            form = c.pick(["repeat-as", "range", "enumerate"])
        if form == "table" and "table" not in self.lets:
            form = "repeat-as"
        used = {var}
        if form in ("repeat", "repeat-as", "table"):
            count, most = c.pick(ctx.counts) if form != "table" else ("depth", 3)
            header: dict[str, Any] = {"repeat": count}
            if form != "repeat":
                header["as"] = var
                index = var
                chans += [f"width + {var}"]
            if form == "table":
                chans += [f"table[depth][{var}]"]
                self.tag("let:table-lookup")
        elif form == "range":
            count, most = c.pick(ctx.counts)
            header = {"for": f"{var} in range({count})"}
            index = var
        elif form == "enumerate":
            w = "w" if "w" not in ctx.used_vars else "v"
            header = {"for": f"{var}, {w} in enumerate(widths)"}
            index, most = var, 3
            chans += [w, f"{w} + {var}"]
            used.add(w)
        elif form == "in":
            w = "w" if "w" not in ctx.used_vars else "v"
            src = c.pick(["widths", *(["chans"] if "chans" in self.lets else [])])
            header = {"for": f"{w} in {src}"}
            most = 3
            chans += [w]
            used = {w}
        else:
            header = {"for": "a, b in zip(widths, [width, 2, 3])"}
            most = 3
            chans += ["a", "b", "a + b"]
            used = {"a", "b"}
            if "a" in ctx.used_vars:
                header = {"for": f"{var} in widths"}
                chans = [*ctx.chans, var]
                used = {var}
        index_vars = ctx.index_vars + ([index] if index else [])
        conds = ctx.conds
        if index and c.chance(0.5):  # conditions on the iteration (decided per iteration)
            conds = [*conds, f"{index} > 0", f"{index} % 2 == 0 or use_bn"]
            self.tag("cond:loop-index")
        body_ctx = replace(
            ctx,
            chans=chans,
            conds=conds,
            index_vars=index_vars,
            used_vars=ctx.used_vars | used,
            depth=ctx.depth + 1,
            in_loop=True,
        )
        self.tag(f"loop:{form}")
        return header, body_ctx, most

    def loop(self, ctx: Ctx, flow: Flow, kind: str, names: Names) -> Any:
        header, body_ctx, most = self.loop_header(ctx, need_index=kind != "seq")
        if kind == "module":
            self.tag("loop:in-named-list")
        if kind == "class":  # directly in a class: the top level, a block's own layers
            self.tag("loop:in-class" if ctx.block is None else "loop:in-block-class")
        if ctx.block is not None:
            self.tag("loop:in-block")
            self.current_block_has_loop = True
        # a loop may change sizes in a block too: where no loop-free form exists, the caller's
        # generated code runs the block's loop again for them
        body = flow.sub()
        do = self.some(body_ctx, body, kind, names, 2)
        flow.absorb(body, most)
        flow.chan = None
        return {**header, "do": self.wrap(do)}

    def n_down(self, ctx: Ctx, flow: Flow, kind: str, names: Names) -> Any:
        """``repeat: n_down`` of a 2-pooling: a size that depends on a parameter exactly."""
        rank = spatial(flow.world)
        new = {}
        for s, (params, _) in self.env.items():
            v = flow.lo[s]
            new[s] = v // 2 ** params["n_down"] if v > 0 else 0
        if any(new[s] < 1 for s in REQUIRED):
            return self.op_entry(ctx, flow, kind, names)
        flow.lo = new
        self.tag("n_down")
        pool = self.c.pick([f"maxpool{rank}(2)", f"avgpool{rank}(2)"])
        if kind == "seq":
            return {"repeat": "n_down", "do": [pool]}
        if kind == "module":
            return {"repeat": "n_down", "as": "i", "do": [{"pool{i}": pool}]}
        return {names.new("down", ctx, self): {"repeat": "n_down", "do": pool}}

    def transition(self, ctx: Ctx, flow: Flow, kind: str, names: Names) -> Any:
        """Straight-line code changing the kind of data (flatten) or an unsafe reduction."""
        c = self.c
        if flow.world == "2d":
            form = c.pick(["flat", "1d", "unsafe", "unsafe"])
        elif flow.world == "3d":
            form = c.pick(["flat", "2d", "1d", "unsafe", "unsafe"])
        elif flow.world == "1d":
            form = c.pick(["flat", "unsafe", "unsafe", "linear", "select", "rnn", "rnn"])
        else:
            form = "op"
        if form == "unsafe":
            call = self.unsafe(flow)
            if call is None:
                return self.op_entry(ctx, flow, kind, names)
            stateful = call.op.startswith("conv")
            return self.named(kind, names, ctx, "cut", self.render(call), stateful)
        if form == "op":
            return self.op_entry(ctx, flow, kind, names)
        if form == "rnn":
            return self.named(kind, names, ctx, "rnn", self.render(self.recurrent(flow)), True)
        if form == "linear":
            out = E(c.pick(ctx.chans))
            flow.apply("set", 1)
            self.tag("linear-on-1d")
            call = Call("linear", [("out_features", out)])
            return self.named(kind, names, ctx, "proj", self.render(call), True)
        if form == "select":  # C×L → C (a position of the length) or L (a channel)
            dim = c.pick([2, -1, 1, E("2 if use_bn else -1")])
            if isinstance(dim, E):  # a position of the length either way, chosen when built
                self.tag("select:dim-param")
            index = c.pick([0, -1])
            flow.world = "flat"
            flow.chan = flow.chan if dim != 1 else None
            self.tag("select:1d-to-flat")
            call = Call("select", [("dim", dim), ("index", index)])
            return self.named(kind, names, ctx, "pick", self.render(call), False)
        if form == "flat":
            attrs = c.pick(
                [
                    [],
                    [("start_dim", 1)],
                    [("end_dim", -1)],
                    [("start_dim", {"1d": -2, "2d": -3, "3d": -4}[flow.world])],
                ]
            )
            flow.world, flow.chan = "flat", None
            self.tag("flatten:flat")
            call = Call("flatten", attrs)
            if c.chance(0.3):  # the same, as a reshape
                call = Call("reshape", [("shape", [-1])])
            return self.named(kind, names, ctx, "flat", self.render(call), False)
        if form == "2d":  # C×D×H×W → C×(D·H)×W, C×D×(H·W) or (C·D)×H×W
            attrs = c.pick(
                [
                    [("start_dim", 2), ("end_dim", 3)],
                    [("start_dim", -2)],
                    [("start_dim", 1), ("end_dim", 2)],
                ]
            )
            if attrs[0] == ("start_dim", 1):
                flow.chan = None
            flow.world = "2d"  # the smallest size stays a lower bound
            self.tag("flatten:3d-to-2d")
            return self.named(kind, names, ctx, "flat", self.render(Call("flatten", attrs)), False)
        if flow.world == "3d":
            flow.lo = {s: v * v * v for s, v in flow.lo.items()}
            flow.world = "1d"
            self.tag("flatten:3d-to-1d")
            call = Call("flatten", [("start_dim", c.pick([2, -3]))])
            return self.named(kind, names, ctx, "flat", self.render(call), False)
        attrs = c.pick(
            [
                [("start_dim", 2)],
                [("start_dim", 2), ("end_dim", 3)],
                [("start_dim", -2)],
                [("start_dim", 1), ("end_dim", 2)],
            ]
        )
        if attrs == [("start_dim", 1), ("end_dim", 2)]:
            flow.chan = None
        else:
            flow.lo = {s: v * v for s, v in flow.lo.items()}
        flow.world = "1d"
        self.tag("flatten:2d-to-1d")
        return self.named(kind, names, ctx, "flat", self.render(Call("flatten", attrs)), False)

    def recurrent(self, flow: Flow, features: int | None = None) -> Call:
        """An LSTM or GRU over channels × length read as sequence × features: every step's
        output (the length becomes its features) or the last step's (flat data)."""
        c = self.c
        op = c.pick(["lstm", "gru"])
        self.tag(f"rnn:{op}")
        projected = op == "lstm" and c.chance(0.35)  # proj_size below hidden_size
        hidden = c.pick(["4", "width + 1"] if projected else self.top_ctx().chans)
        attrs: list[tuple[str, Any]] = [("hidden_size", E(hidden))]
        if c.chance(0.4):
            attrs.append(("num_layers", c.pick([1, 2])))
        if c.chance(0.3):
            attrs.append(("bias", c.pick([False, True])))
        if c.chance(0.2):
            attrs.append(("dropout", 0.25))
        if c.chance(0.5):
            both = c.pick([True, False, E("use_bn")])
            attrs.append(("bidirectional", both))
            if isinstance(both, E):
                self.tag("rnn:bidirectional-param")
        if projected:  # width + 1 may be 2
            attrs.append(("proj_size", c.pick([1, 2]) if hidden == "4" else 1))
            self.tag("rnn:proj")
        if features is not None and c.chance(0.5):
            attrs.append(("input_size", features))
            self.tag("declared-size-check")
        if c.chance(0.6):
            output = c.pick(["sequence", "last"])
            attrs.append(("output", output))
            if output == "last":
                self.tag("rnn:last")
                flow.world, flow.chan = "flat", None
                return Call(op, attrs)
        flow.apply("set", 1)  # the length becomes the features: at least 1
        return Call(op, attrs)

    def unsafe(self, flow: Flow) -> Call | None:
        """An operator that needs a minimum input size (checked in every required scenario)."""
        c = self.c
        r = spatial(flow.world)
        options = []
        if flow.allows(2):
            options += ["pool", "crop"] if r != "3d" else ["pool"]
        if flow.allows(3):
            options += ["valid"]
        if not options:
            return None
        what = c.pick(options)
        self.tag(f"unsafe:{what}")
        if what == "pool":
            op = c.pick([f"maxpool{r}", f"avgpool{r}"])
            attrs: list[tuple[str, Any]] = [("kernel_size", 2)]
            if c.chance(0.4):
                attrs.append(("stride", 2))
            if c.chance(0.3):
                attrs.append(("ceil_mode", True))
            flow.apply("pool2", need=2)
            return Call(op, attrs)
        if what == "crop":
            amount = [-1, 0, 0, 0] if r == "2d" else [0, -1]
            flow.apply("valid", 2, need=2)
            return Call(f"zeropad{r}", [("padding", amount)])
        k = c.pick([2, 3])
        flow.apply("valid", k, need=k)
        out = E(self.c.pick(self.top_ctx().chans))
        flow.chan = out.text
        return Call(f"conv{r}", [("out_channels", out), ("kernel_size", k)])

    def head(self, ctx: Ctx, flow: Flow, kind: str) -> list[Any]:
        """Pool, flatten and a classifier."""
        c = self.c
        out: list[Any] = []
        if flow.world != "flat":
            if c.chance(0.5):
                r = spatial(flow.world)
                pool = c.pick([f"adaptive_avgpool{r}(1)", f"adaptive_maxpool{r}(1)"])
                out.append({"pool": pool} if kind == "class" else pool)
            out.append("flatten")
            flow.world = "flat"
        hidden = c.pick([None, *self.top_ctx().chans])
        if hidden is not None:
            out.append({"hidden": f"linear({hidden})"} if kind == "class" else f"linear({hidden})")
            if c.chance(0.15):  # the features, or -1, as a param says (PyTorch's choice)
                out.append(
                    self.render(Call("reshape", [("shape", [E(f"-1 if use_bn else {hidden}")])]))
                )
                self.tag("reshape:size-param")
            if c.chance(0.3):  # normalised over the features it knows
                norm = self.render(Call("layer_norm", [("normalized_shape", E(hidden))]))
                out.append({"ln": norm} if kind == "class" else norm)
            out.append("relu")
        attrs: list[tuple[str, Any]] = [("out_features", E("classes"))]
        if c.chance(0.3):
            attrs.append(("bias", False))
        if hidden is not None and c.chance(0.5):
            attrs.append(("in_features", E(hidden)))
            self.tag("declared-size-check")
        fc = self.render(Call("linear", attrs))
        out.append({"fc": fc} if kind == "class" else fc)
        self.tag("head:flatten+linear")
        return out

    # -- operators --------------------------------------------------------------------------------

    def op(self, ctx: Ctx, flow: Flow) -> tuple[Call, bool]:
        """One operator that keeps the kind of data; returns it and whether it owns tensors."""
        c = self.c
        w = flow.world
        options = ["act", "act", "dropout", "identity", "norm", "layer_norm", "shape"]
        options += ["group_norm"]
        if w != "flat":
            options += ["conv", "conv", "conv", "pool", "pool", "lrn", "deconv", "upsample"]
            options += ["pad"] if w != "3d" else ["conv"]
            if not flow.fixed:
                options += ["adaptive"]
            # one value per channel would normalise to 0: every scenario keeps 2 or more
            # (only in straight-line code, so drawn more often there)
            if flow.tracked and all(v >= 2 for v in flow.lo.values()):
                options += ["instance_norm"] * (20 if flow.chan is not None else 3)
            if w == "2d":  # (a growing shuffle needs known channels: drawn more often then)
                options += ["pixel"] * (4 if flow.chan is not None and self.grows(flow) else 1)
        else:
            options += ["linear", "linear", "flatten"]
        what = c.pick(options)
        r = spatial(w)
        chan = flow.chan
        if what == "act":
            return self.activation(ctx, flow), False
        if what == "deconv":
            return self.conv_transpose(ctx, flow, r), True
        if what == "upsample":
            return self.upsample(flow, r), False
        if what == "pixel":
            return self.pixel(flow), False
        if what == "group_norm":
            return self.group_norm(flow)
        if what == "instance_norm":
            return self.instance_norm(flow, r)
        if what == "dropout":
            op = "dropout2d" if w == "2d" and c.chance(0.5) else "dropout"
            attrs: list[tuple[str, Any]] = []
            if c.chance(0.7):
                attrs.append(("p", c.pick([0.5, 0.0, E("drop"), 0.25])))
            if c.chance(0.3):
                attrs.append(("inplace", c.pick([False, True]) and flow.inplace_ok))
                self.in_place |= attrs[-1][1]
            return Call(op, attrs), False
        if what == "identity":
            return Call("identity", []), False
        if what == "layer_norm":
            if w == "2d" and c.chance(0.5):  # channels-first, over C
                attrs = [("eps", self.eps([1e-6, 1e-5]))] if c.chance(0.5) else []
                return Call("layer_norm2d", attrs), True
            attrs = []
            if w == "flat" and chan is not None:
                attrs.append(("normalized_shape", E(chan)))
            for name, values in (
                ("eps", [1e-6, 1e-5]),
                ("elementwise_affine", [True, False]),
                ("bias", [True, False]),
            ):
                if c.chance(0.3):
                    attrs.append((name, self.eps(values) if name == "eps" else c.pick(values)))
            if ctx.block is None and "elementwise_affine" not in dict(attrs) and c.chance(0.2):
                # without parameters at every value drawn (depth is at most 3): a call in the
                # model's forward where unnamed, whose class raises where depth > 3
                self.tag("layer_norm:affine-param")
                return Call("layer_norm", [*attrs, ("elementwise_affine", E("depth > 3"))]), False
            return Call("layer_norm", attrs), True
        if what == "shape":  # shape operators that keep the shape (their rules are tested alone)
            rank = {"3d": 5, "2d": 4, "1d": 3, "flat": 2}[w]
            form = c.pick(["permute", "shuffle", "depth", "reshape"])
            if form == "reshape" and w == "flat":
                return Call("reshape", [("shape", [-1])]), False
            if form == "permute" or form == "reshape":
                return Call("permute", [("dims", list(range(rank)))]), False
            if form == "shuffle" and w != "flat":
                return Call("channel_shuffle", [("groups", 1)]), False
            attrs = [("p", c.pick([0.0, 0.0, 0.5]))]
            if c.chance(0.5):
                attrs.append(("mode", c.pick(["row", "batch"])))
            return Call("stochastic_depth", attrs), False
        if what == "flatten":
            attrs = c.pick(
                [[], [("start_dim", 1)], [("end_dim", -1)], [("start_dim", 1), ("end_dim", 1)]]
            )
            return Call("flatten", attrs), False
        if what == "norm":
            op = {"2d": "batchnorm2d", "3d": "batchnorm3d"}.get(w, "batchnorm1d")
            attrs = []
            if c.chance(0.3):
                attrs.append(("eps", self.eps([1e-3, 0.0001])))
            if c.chance(0.3):
                mom = [0.2, None, *([E("mom")] if "mom" in self.lets else [])]
                attrs.append(("momentum", c.pick(mom)))
                if "mom" in self.lets and ctx.block is not None:
                    self.tag("block:reads-let")
            if c.chance(0.3):
                attrs.append(("affine", c.pick([False, True])))
            if c.chance(0.3):
                attrs.append(("track_running_stats", c.pick([False, True])))
            if chan is not None and c.chance(0.6):
                attrs.append(("num_features", E(chan)))
                self.tag("declared-size-check")
            return Call(op, attrs), True  # without tensors, still no functional form
        if what == "linear":
            out = c.pick(ctx.chans)
            attrs = [("out_features", E(out))]
            if c.chance(0.3):
                attrs.append(("bias", c.pick([False, True, E("not use_bn")])))
            if chan is not None and c.chance(0.4):
                attrs.append(("in_features", E(chan)))
                self.tag("declared-size-check")
            flow.chan = out
            return Call("linear", attrs), True
        if what == "lrn":
            attrs = [("size", c.integer(1, 3))]
            for name, values in (("alpha", [1e-3, 0.0002]), ("beta", [0.5, 0.75]), ("k", [2.0, 1])):
                if c.chance(0.3):
                    attrs.append((name, c.pick(values)))
            return Call("local_response_norm", attrs), False
        if what == "pad":
            amount = c.pick([1, [1, 0, 2, 0], [0, 1, 1, 0]] if r == "2d" else [1, [2, 0], [1, 2]])
            if flow.fixed:
                return Call("identity", []), False
            flow.apply("grow", 1)
            return Call(f"zeropad{r}", [("padding", amount)]), False
        if what == "adaptive":
            op = c.pick([f"adaptive_avgpool{r}", f"adaptive_maxpool{r}"])
            sizes = {
                "3d": [1, 2, [2, None, 1], [None, 1, None]],
                "2d": [1, 2, [2, None], [None, 1]],
            }
            size: Any = c.pick(sizes.get(r, [1, 2, 3]))
            if isinstance(size, list) and None in size:
                flow.apply("cap", 1 if 1 in size else 2)
            else:
                flow.apply("cap", size if isinstance(size, int) else 1)
            return Call(op, [("output_size", size)]), False
        if what == "pool":
            return self.pool(ctx, flow, r), False
        return self.conv(ctx, flow, r), True

    def activation(self, ctx: Ctx, flow: Flow) -> Call:
        c = self.c
        op = c.pick(sorted(ACTIVATIONS))
        attrs: list[tuple[str, Any]] = []
        if op == "leaky_relu" and c.chance(0.6):
            attrs.append(("negative_slope", c.pick([0.2, 0.01])))
        if op == "gelu" and c.chance(0.6):
            attrs.append(("approximate", c.pick(["tanh", "none"])))
        if op in ("softmax", "log_softmax") and c.chance(0.8):
            attrs.append(("dim", c.pick([1, -1, E("1 if use_bn else -1")])))
            if isinstance(attrs[-1][1], E):
                self.tag("softmax:dim-param")
        if "inplace" in OPS[op] and c.chance(0.4):
            attrs.append(("inplace", c.pick([True, False]) and flow.inplace_ok))
            self.in_place |= attrs[-1][1]
        return Call(op, attrs)

    def pool(self, ctx: Ctx, flow: Flow, r: str) -> Call:
        c = self.c
        op = c.pick([f"maxpool{r}", f"avgpool{r}"])
        shrink = not flow.fixed and c.chance(0.5)
        attrs: list[tuple[str, Any]] = [("kernel_size", 3)]
        attrs.append(("stride", 2 if shrink else 1))
        if op.startswith("max") and not shrink and c.chance(0.3):
            attrs = [("kernel_size", 2), ("stride", 1), ("padding", 1), ("dilation", 2)]
        elif op == "avgpool3d" and not flow.allows(3):
            # 3-d average pooling wants the input at least the kernel's size, padding or not
            attrs = [("kernel_size", 1), ("stride", 2 if shrink else 1)]
        else:
            attrs.append(("padding", 1))
        if c.chance(0.3):
            attrs.append(("ceil_mode", c.pick([True, False])))
        if op.startswith("avg"):
            if c.chance(0.4):
                attrs.append(("count_include_pad", c.pick([False, True])))
            if r != "1d" and c.chance(0.3):
                attrs.append(("divisor_override", c.pick([2, 9])))
        flow.apply("halve" if shrink else "keep")
        return Call(op, attrs, npos=c.integer(1, 2))

    def grows(self, flow: Flow) -> bool:
        """Whether a size may be multiplied here: in straight-line code, a few times at most."""
        return flow.tracked and not flow.fixed and self.grown < 2

    def grouped(self, chan: str) -> tuple[str, list[tuple[str, Any]]]:
        """A grouped 3×3 (transposed) convolution's output channels and attributes: one group
        per input channel, as many or twice as many output channels."""
        out = self.c.pick([chan, f"({chan}) * 2"])
        attrs: list[tuple[str, Any]] = [
            ("out_channels", E(out)),
            ("kernel_size", 3),
            ("padding", 1),
            ("groups", E(chan)),
        ]
        return out, attrs

    def declare(self, attrs: list[tuple[str, Any]], chan: str | None) -> None:
        """Sometimes give a (transposed) convolution's in_channels, to have it checked."""
        if chan is not None and self.c.chance(0.4):
            attrs.append(("in_channels", E(chan)))
            self.tag("declared-size-check")

    def conv_transpose(self, ctx: Ctx, flow: Flow, r: str) -> Call:
        """A transposed convolution that keeps the size, or doubles it (DCGAN's 4/2/1, a 3×3
        with output_padding, a 2×2), or grows it by one (output_padding below the dilation)."""
        c = self.c
        chan = flow.chan
        out = c.pick(ctx.chans)
        modes = ["keep", "keep", "dilated"]
        if self.grows(flow):
            modes += ["double", "double"]
        if chan is not None:
            modes += ["depthwise"]
        mode = c.pick(modes)
        attrs: list[tuple[str, Any]]
        if mode == "keep":  # (n − 1) − 2·(k // 2) + (k − 1) + 1 = n for odd k
            if r != "1d" and c.chance(0.1):  # a number or a list, as a param decides
                rest = int(r[0]) - 1
                kernel = E(f"3 if use_bn else {[3] + [1] * rest}")
                pad = E(f"1 if use_bn else {[1] + [0] * rest}")
                attrs = [("kernel_size", kernel), ("padding", pad)]
                self.tag("kernel:either-kind")
            elif r != "1d" and c.chance(0.3):
                ks = [c.pick([1, 3]) for _ in range(int(r[0]))]
                attrs = [("kernel_size", ks), ("padding", [k // 2 for k in ks])]
            else:
                k = c.pick([1, 3, 5, E("k")])
                attrs = [("kernel_size", k), ("padding", E("k // 2") if k == E("k") else k // 2)]
            attrs.insert(0, ("out_channels", E(out)))
            for name, value in (("stride", 1), ("output_padding", 0), ("groups", 1)):
                if c.chance(0.25):
                    attrs.append((name, value))
        elif mode == "dilated":  # (n − 1) − 2·2 + 2·(3 − 1) + 1 = n
            attrs = [("out_channels", E(out)), ("kernel_size", 3), ("padding", 2), ("dilation", 2)]
            if self.grows(flow) and c.chance(0.4):
                attrs.append(("output_padding", 1))  # below the dilation: one more
        elif mode == "double":
            self.grown += 1
            k, p, extra = c.pick([(4, 1, 0), (3, 1, 1), (2, 0, 0)])
            attrs = [("out_channels", E(out)), ("kernel_size", k), ("stride", 2)]
            if p:
                attrs.append(("padding", p))
            if extra:
                attrs.append(("output_padding", extra))
            self.tag("grows:conv_transpose")
        else:
            assert chan is not None
            out, attrs = self.grouped(chan)
            self.tag("conv_transpose:groups")
        if c.chance(0.3):
            attrs.append(("bias", c.pick([False, True, E("not use_bn")])))
        self.declare(attrs, chan)
        flow.chan = out
        return Call(f"conv_transpose{r}", attrs)

    def upsample(self, flow: Flow, r: str) -> Call:
        """Interpolation in the world's modes: by 1 (any size), to a fixed size, by a factor
        that grows (literal, per dimension, or a parameter's), or by 0.5."""
        c = self.c
        dims = int(r[0])
        modes = {"1d": ["linear"], "2d": ["bilinear", "bicubic"], "3d": ["trilinear"]}[r]
        mode = c.pick(["nearest", "nearest", *modes, "nearest-exact", "area"])
        forms = ["keep"]
        if not flow.fixed:
            forms += ["size"]
            if flow.allows(2):
                forms += ["shrink"]
        if self.grows(flow):
            forms += ["grow", "grow"]
        form = c.pick(forms)
        attrs: list[tuple[str, Any]] = []
        if form == "keep":
            attrs.append(("scale_factor", c.pick([1, 1.0, [1] * dims])))
        elif form == "size":
            n = c.integer(2, 6)
            attrs.append(("size", n if c.chance(0.5) else [n] * dims))
            flow.apply("set" if flow.tracked else "cap", n)
        elif form == "grow":
            self.grown += 1
            factor = c.pick([2, 2.0, 1.5, E("drop + 1"), [2, *[1] * (dims - 1)]])
            attrs.append(("scale_factor", factor))
            if c.chance(0.5):
                attrs.append(("recompute_scale_factor", c.pick([True, False])))
            self.tag("grows:upsample")
        else:
            attrs.append(("scale_factor", 0.5))
            flow.apply("pool2", need=2)
        if mode != "nearest" or c.chance(0.3):
            attrs.append(("mode", mode))
        if mode in ("linear", "bilinear", "bicubic", "trilinear") and c.chance(0.5):
            attrs.append(("align_corners", c.pick([True, False])))
        return Call("upsample", attrs)

    def pixel(self, flow: Flow) -> Call:
        """``pixel_shuffle`` by 2 where the channels divide by 4 (a condition on the known
        channel count), else by 1; ``pixel_unshuffle`` by 1 (a factor that divides every
        size cannot be told from the sizes' lower bounds)."""
        c = self.c
        chan = flow.chan
        if chan is not None and self.grows(flow) and c.chance(0.6):
            self.grown += 1
            flow.chan = None
            self.tag("grows:pixel_shuffle")
            return Call("pixel_shuffle", [("upscale_factor", E(f"2 if ({chan}) % 4 == 0 else 1"))])
        if c.chance(0.5):
            return Call("pixel_shuffle", [("upscale_factor", 1)])
        return Call("pixel_unshuffle", [("downscale_factor", 1)])

    def eps(self, values: list[float]) -> Any:
        """A normalisation's ``eps``: one of ``values``, or the param ``eps``, which PyTorch
        would take at any value: a value of it check refuses (0, negative) is probed."""
        if not self.c.chance(0.25):
            return self.c.pick(values)
        self.tag("norm:eps-param")
        self.probes.append(("eps", self.c.pick([0.0, -1.0])))
        return E("eps")

    def group_norm(self, flow: Flow) -> tuple[Call, bool]:
        c = self.c
        chan = flow.chan
        groups: list[Any] = [1]
        if chan is not None:
            groups += [E(chan), E(f"2 if ({chan}) % 2 == 0 else 1")]
        attrs: list[tuple[str, Any]] = [("num_groups", c.pick(groups))]
        if c.chance(0.3):
            attrs.append(("eps", self.eps([1e-3, 1e-6])))
        affine = True
        if c.chance(0.4):
            affine = c.pick([False, True])
            attrs.append(("affine", affine))
        if c.chance(0.3):
            attrs.append(("bias", c.pick([False, True])))
        if chan is not None and c.chance(0.4):
            attrs.append(("num_channels", E(chan)))
            self.tag("declared-size-check")
        return Call("group_norm", attrs), affine

    def instance_norm(self, flow: Flow, r: str) -> tuple[Call, bool]:
        c = self.c
        attrs: list[tuple[str, Any]] = []
        if c.chance(0.3):
            attrs.append(("eps", self.eps([1e-3, 1e-6])))
        if c.chance(0.3):
            attrs.append(("momentum", c.pick([0.2, None])))
        affine = track = False
        if c.chance(0.4):
            affine = c.pick([True, False])
            attrs.append(("affine", affine))
        if c.chance(0.4):
            track = c.pick([True, False])
            attrs.append(("track_running_stats", track))
        if flow.chan is not None and c.chance(0.8):
            attrs.append(("num_features", E(flow.chan)))
            self.tag("declared-size-check")
        return Call(f"instance_norm{r}", attrs), affine or track

    def conv(self, ctx: Ctx, flow: Flow, r: str) -> Call:
        c = self.c
        chan = flow.chan
        out = c.pick(ctx.chans)
        modes = ["same", "same", "dilated"]
        if not flow.fixed:
            modes += ["strided", "strided"]
        if chan is not None:
            modes += ["depthwise", "depthwise"]
        if ctx.block is not None and not flow.fixed and flow.world in SIZE_ATTR:
            modes += ["sized", "sized"]
        mode = c.pick(modes)
        attrs: list[tuple[str, Any]] = []
        pad: Any = 0
        if mode == "same":
            kernels: list[Any] = [1, 3, 5, E("k")]
            if ctx.block is not None and any(p == "kk" for p, _ in ctx.block.params):
                kernels.append(E("kk"))
            k = c.pick(kernels)
            if k == E("kk"):
                pad = E("kk // 2")
            elif isinstance(k, E):
                pad = E(c.pick(["k // 2", *(["pad"] if "pad" in self.lets else [])]))
            else:
                pad = k // 2
            if c.chance(0.2):
                pad = "same"
                self.tag("padding:same")
            attrs = [("out_channels", E(out)), ("kernel_size", k), ("padding", pad)]
        elif mode == "dilated":
            attrs = [("out_channels", E(out)), ("kernel_size", 3), ("padding", 2), ("dilation", 2)]
            pad = 2
        elif mode == "sized":  # an argument reads the block's input size: bound per input
            size = SIZE_ATTR[flow.world]
            pad = E(f"{size} % 2")  # (0 or 1: the size may not grow, and reflect may not fit)
            attrs = [("out_channels", E(out)), ("kernel_size", 1), ("padding", pad)]
            self.tag("conv:padding-reads-in")
        elif mode == "strided":
            stride: Any = 2
            block = ctx.block
            if block is not None and any(p == "stride" for p, _ in block.params):
                stride = E("stride")
                self.tag("block:stride-param")
            attrs = [
                ("out_channels", E(out)),
                ("kernel_size", 3),
                ("stride", stride),
                ("padding", 1),
            ]
            pad = 1
            flow.apply("halve")
        else:
            assert chan is not None
            out, attrs = self.grouped(chan)
            pad = 1
            self.tag("conv:groups")
        if c.chance(0.3):
            attrs.append(("bias", c.pick([False, True, E("not use_bn")])))
        if c.chance(0.25):
            modes_ok = ["zeros", "replicate"]
            if isinstance(pad, int) and (flow.allows(pad + 1) or pad == 0):
                modes_ok += ["reflect", "circular"]
            attrs.append(("padding_mode", c.pick(modes_ok)))
        self.declare(attrs, chan)
        flow.chan = out
        return Call(f"conv{r}", attrs)

    # -- blocks -----------------------------------------------------------------------------------

    def block(self, index: int, world: str) -> Block:
        c = self.c
        earlier = [b for b in self.blocks.values() if b.world == world]
        kinds = ["plain", "proj", "ident", "branches", "parallel", "recursive"]
        if earlier:
            kinds.append("nested")
        kind = c.pick(kinds)
        name = c.pick(["Unit", "Cell", "Res", "Mix"]) + str(index)
        self.tag(f"block:{kind}")
        if kind == "recursive":
            return self.recursive_block(name, world)
        params: list[tuple[str, str | None]] = [("c", None if c.chance(0.8) else "4")]
        if kind in ("proj", "ident") or c.chance(0.4):
            params.append(("stride", "1"))
        if c.chance(0.3):
            params.append(("kk", c.pick(["3", "1"])))
        if c.chance(0.3):
            params.append(("m", "1"))
        block = Block(name, world, params, {}, kind=kind)
        data: dict[str, Any] = {}
        if c.chance(0.4):
            data["doc"] = c.pick(DOCS)
        data["params"] = [p if d is None else f"{p} = {d}" for p, d in params]
        if any(d is not None for _, d in params):
            self.tag("block:default-param")
        chans = ["c", "in.channels", "width"]
        expansion = None
        if kind == "proj" or c.chance(0.3):
            expansion = c.pick([1, 2, "2 if use_bn else 1", "1 + 1"])
            data["expansion"] = expansion
            chans.append("c * expansion")
            self.tag("block:expansion")
        let: dict[str, Any] = {}
        if c.chance(0.5):
            let["mid"] = c.pick(["max(in.channels // 2, 1)", "min(in.channels, c)"])
            chans.append("mid")
            self.tag("block:let-in.channels")
        if kind in ("proj", "ident") or c.chance(0.3):
            let["out"] = "c * expansion" if expansion is not None else c.pick(["c", "c * 2"])
            chans.append("out")
        if any(p == "m" for p, _ in params):
            chans.append("c * m")
        if let:
            data["let"] = let
        conds = ["use_bn", "c > 2", "in.channels == c", "depth > 1"]
        if world in SIZE_ATTR and c.chance(0.3):  # the tree decided from the input's size
            conds.append(f"{SIZE_ATTR[world]} > 6")
            self.tag("block:if-reads-in-size")
        if any(p == "stride" for p, _ in params):
            conds.append("stride == 1")
        ctx = Ctx(
            chans,
            [("depth", 3), ("2", 2), ("len(widths)", 3), ("1", 1)],
            conds,
            block=block,
            depth=1,
        )
        self.current_block_has_loop = False
        self.calls_block = False
        self.block_names = Names({"x", "downsample", "proj", "skip", "down"})
        flow = Flow(world, inplace_ok=kind in ("plain", "nested"))
        out_chan = "out" if "out" in let else "c"
        if kind == "plain":
            style = c.pick(["class", "seq"])
            flow.chan = "in.channels"
            names = self.block_names if style == "class" else Names()
            if c.chance(0.35):
                data["body"] = self.entry(ctx, flow, style, names)  # one layer, not a list
                self.tag("single-entry")
            else:
                data["body"] = self.wrap(self.some(ctx, flow, style, names, 3))
            if style == "class" and c.chance(0.3):
                self.learned(data, flow)
            if style == "class" and c.chance(0.4):
                data["then"] = self.then(ctx, flow)
        elif kind == "nested":
            flow.chan = "in.channels"
            inner = c.pick(earlier)
            names = self.block_names
            body = self.layer_list(ctx, flow, "class", names, c.integer(0, 1))
            if c.chance(0.5):
                body.append({names.new("inner", ctx, self): self.block_text(ctx, inner)})
                flow.h, flow.cap = flow.h + inner.h, min(flow.cap, inner.cap)
            else:
                body.append({names.new("stg", ctx, self): self.stage_text(ctx, inner)})
                flow.h, flow.cap = flow.h + inner.h * 3, min(flow.cap, inner.cap)
                self.tag("block:stage-in-block")
            self.tag("block:calls-block")
            flow.chan = None
            body += self.layer_list(ctx, flow, "class", names, c.integer(0, 1))
            data["body"] = self.wrap(body)
            if c.chance(0.3):
                data["then"] = self.then(ctx, flow)
        elif kind == "proj":
            self.residual_projected(ctx, flow, data, out_chan)
        elif kind == "ident":
            self.residual_identity(ctx, flow, data, out_chan)
        elif kind == "parallel":
            self.parallel_body(ctx, flow, data)
        else:
            self.branches(ctx, flow, data)
        if c.chance(0.3):
            defaulted = [p for p, d in params if d is not None]
            data["first_only"] = c.pick(
                [[], ["stride"] if "stride" in dict(params) else [], defaulted]
            )
            self.tag("block:first_only")
        body = data.get("body")
        if isinstance(body, list) and _has_names(body) and c.chance(0.35):
            self.block_dataflow(body, world)
        block.data = data
        block.h, block.cap = flow.h, flow.cap
        block.has_loop = self.current_block_has_loop
        grows = data.get("merge") == "concat" or (kind == "branches" and "merge" not in data)
        grows = grows or (kind == "parallel" and flow.chan is None)
        block.heavy = block.has_loop or self.calls_block or grows or kind == "nested"
        if (
            "mom" in self.lets
            and any(d is not None for _, d in params)
            and "mom" in json.dumps(data)
        ):
            self.tag("block:default-param+top-let")
        text = json.dumps(data)
        for top in PARAM_VALUES:
            if re.search(rf"\b{top}\b", text):
                self.tag("block:reads-param")
        return block

    def recursive_block(self, name: str, world: str) -> Block:
        """A block that calls itself under a condition on its depth argument (a U-Net level),
        sometimes through a partner block: its layers keep the spatial size; its output's
        channels are ``c`` (a closed form) or, where the innermost level doubles them, change
        level by level (a size function); inside the branch a ``from:`` may read the tensor
        given before the condition."""
        c = self.c
        conv = f"conv{spatial(world)}"
        block = Block(name, world, [("c", None), ("d", None)], {}, kind="recursive")
        callee = name
        if c.chance(0.3):  # mutual recursion: through a partner that calls this block back
            callee = f"{name}x"
            back = f"{name}(c, d - 1)"
            partner: dict[str, Any] = {
                "params": ["c", "d"],
                "body": [
                    {"pre": f"{conv}(c, 1)"},
                    {"if": "d > 0", "then": [{"back": back}]},
                    {"post": f"{conv}(c, 1)"},
                ],
            }
            if c.chance(0.5):  # the partner's own output depends on the recursion's
                partner["body"] = partner["body"][:2]
            self.blocks[callee] = Block(
                callee, world, [("c", None), ("d", None)], partner, kind="recursive", heavy=True
            )
            self.tag("block:mutual-recursion")
        call = f"{callee}(c, d - 1)" if c.chance(0.7) else f"{callee}(c=c, d=d - 1)"
        data: dict[str, Any] = {"params": ["c", "d"]}
        if c.chance(0.25):  # the condition as a choice: the inner level or nothing
            data["body"] = [
                {"first": f"{conv}(c, 1)"},
                {"inner": f"{call} if d > 0 else identity"},
            ]
            self.tag("block:recursive-choice")
        else:
            then: list[Any] = [{"inner": call}]
            merge = c.pick([None, "add", "concat", "mul"])
            if merge is not None:  # the skip connection, inside the branch
                then.append(
                    {"join": merge, "from": c.pick([["first", "inner"], ["inner", "first"]])}
                )
                self.tag("block:recursive-from-in-branch")
            last = merge == "concat" or c.chance(0.4)
            if last:
                then.append({"last": f"{conv}(c, 1)"})
            entry: dict[str, Any] = {"if": c.pick(["d > 0", "d >= 1", "0 < d"]), "then": then}
            if c.chance(0.3):
                others = ["relu", f"{conv}(c, 1)"]
                if merge is None:  # (a merge adds or multiplies the inner level's output)
                    others.append(f"{conv}(c * 2, 1)")
                other = c.pick(others)
                entry["else"] = [{"other": other}]
                if "c * 2" in other and not last:  # the channels change level by level
                    self.tag("block:recursive-size-function")
            data["body"] = [{"first": f"{conv}(c, 1)"}, entry]
        block.data = data
        block.heavy = True
        return block

    def then(self, ctx: Ctx, flow: Flow) -> Any:
        self.tag("block:then")
        if self.c.chance(0.15):
            entries = self.parallel_entry(ctx, flow, self.block_names, nested=False)
            if len(entries) == 1 and self.c.chance(0.5):
                self.tag("single-entry")
                return entries[0]
            return self.wrap(entries)
        if self.c.chance(0.3):
            self.tag("single-entry")
            return self.entry(ctx, flow, "class", self.block_names)
        entries = self.layer_list(ctx, flow, "class", self.block_names, self.c.integer(1, 2))
        return self.wrap(entries)

    def body_to(self, ctx: Ctx, flow: Flow, target: str, first_stride: bool) -> list[Any]:
        """A class-style body: (a strided conv,) layers that keep the size, a conv to
        ``target`` channels last."""
        c = self.c
        names = self.block_names
        r = spatial(flow.world)
        body: list[Any] = []
        flow.chan = "in.channels"
        if first_stride:
            k = c.pick([1, 3])
            conv = Call(
                f"conv{r}",
                [
                    ("out_channels", E(c.pick(ctx.chans))),
                    ("kernel_size", k),
                    ("stride", E("stride")),
                    ("padding", k // 2),
                ],
            )
            flow.apply("halve")
            flow.chan = None
            body.append({names.new("conv", ctx, self): self.render(conv)})
        flow.fixed = True
        body += self.layer_list(ctx, flow, "class", names, c.integer(0, 2))
        last = Call(f"conv{r}", [("out_channels", E(target)), ("kernel_size", 1)])
        if c.chance(0.4):
            last.attrs.append(("bias", False))
        body.append({names.new("last", ctx, self): self.render(last)})
        flow.fixed = False
        flow.chan = target
        return body

    def merge(self, data: dict[str, Any], what: str, flow: Flow) -> str:
        """Choose how the paths join; ``flow.chan`` becomes what is known after the merge."""
        merge = self.c.pick(["add", "mul", "concat", None])
        if merge is not None:
            data["merge"] = merge
        self.tag(f"merge:{merge or 'default'}+{what}")
        merge = merge or ("add" if what == "residual" else "concat")
        if merge == "concat":
            flow.chan = None
        elif what == "branches":
            flow.chan = "c"
        return merge

    def residual_projected(self, ctx: Ctx, flow: Flow, data: dict[str, Any], out: str) -> None:
        c = self.c
        data["body"] = self.wrap(self.body_to(ctx, flow, out, first_stride=True))
        r = spatial(flow.world)
        project = [
            self.render(
                Call(
                    f"conv{r}",
                    [("out_channels", E(out)), ("kernel_size", 1), ("stride", E("stride"))],
                )
            )
        ]
        if c.chance(0.5):
            project.append(c.pick([f"batchnorm{r}", "dropout(0.0)"]))
        if c.chance(0.2):
            project = [{f"p{i}": entry} for i, entry in enumerate(project)]
            self.tag("shortcut:named-project")
        elif c.chance(0.4):
            project.append(self.keeping_control(ctx, r))
            self.tag("shortcut:project-control")
        shortcut: dict[str, Any] = {}
        if c.chance(0.7):
            shortcut["when"] = c.pick(
                [f"stride != 1 or in.channels != {out}", f"in.channels != {out} or stride > 1"]
            )
            self.tag("shortcut:when")
        shortcut["project"] = project
        if c.chance(0.4):
            shortcut["name"] = c.pick(["proj", "skip", "down"])
            self.tag("shortcut:name")
        data["shortcut"] = shortcut
        self.tag("shortcut:project")
        self.merge(data, "residual", flow)
        if c.chance(0.4):
            data["then"] = self.then(ctx, flow)

    def keeping_control(self, ctx: Ctx, r: str) -> Any:
        """A loop or condition of layers that keep the shape (for a projection's end)."""
        c = self.c
        pool = f"avgpool{r}(3, 1, 1)" if r != "3d" else "maxpool3d(3, 1, 1)"  # any size
        keep = [f"batchnorm{r}", "relu", "dropout(0.0)", "identity", pool]
        do = self.wrap([c.pick(keep) for _ in range(c.integer(1, 2))])
        form = c.pick(["if", "repeat", "for"])
        if form == "if":
            entry: dict[str, Any] = {"if": c.pick(ctx.conds), "then": do}
            if c.chance(0.5):
                entry["else"] = self.wrap([c.pick(keep)])
            return entry
        if form == "repeat":
            return {"repeat": c.pick(["depth", "2", "depth - 1"]), "do": do}
        return {"for": "w in widths", "do": do}

    def residual_identity(self, ctx: Ctx, flow: Flow, data: dict[str, Any], out: str) -> None:
        c = self.c
        form = c.pick(["true", "false", "expr", "param", "shortcut", "when"])
        self.tag(f"residual:{form}")
        if form == "true":
            data["residual"] = True
            body = self.body_to(ctx, flow, "in.channels", first_stride=False)
        elif form == "false":
            data["residual"] = False
            body = self.body_to(ctx, flow, out, first_stride=c.chance(0.5))
        elif form == "expr":
            data["residual"] = c.pick(
                [f"stride == 1 and in.channels == {out}", f"in.channels == {out} and stride < 2"]
            )
            body = self.body_to(ctx, flow, out, first_stride=True)
        elif form == "param":
            data["residual"] = c.pick(["use_bn", "depth > 1"])
            body = self.body_to(ctx, flow, "in.channels", first_stride=False)
        elif form == "shortcut":
            data["shortcut"] = {}
            body = self.body_to(ctx, flow, "in.channels", first_stride=False)
        else:
            r = spatial(flow.world)
            data["shortcut"] = {
                "when": "stride != 1",
                "project": [f"conv{r}(in.channels, 1, stride=stride)"],
            }
            body = self.body_to(ctx, flow, "in.channels", first_stride=True)
        data["body"] = self.wrap(body)
        self.merge(data, "residual", flow)
        if c.chance(0.3):
            data["then"] = self.then(ctx, flow)

    def branches(self, ctx: Ctx, flow: Flow, data: dict[str, Any]) -> None:
        c = self.c
        data["branches"] = {}
        merge = self.merge(data, "branches", flow)
        add = merge in ("add", "mul")
        r = spatial(flow.world)
        count = c.integer(2, 3)
        split = count == 2 and c.chance(0.3)
        if split:  # a condition that holds exactly where the channels split evenly
            data["split"] = c.pick(["in.channels % 2 == 0", "in.channels % 2 == 0 and use_bn"])
            self.tag("branches:split")
        for name in ["left", "right", "extra"][:count]:
            sub = flow.sub(fixed=True)
            sub.chan = None if split else "in.channels"
            form = c.pick(["string", "list", "named-list", "for", "repeat", "if", "mapping"])
            self.tag(f"branch:{form}")
            last = f"conv{r}(c, 1)"
            if form == "string":
                value: Any = last if add else c.pick([last, f"maxpool{r}(3, stride=1, padding=1)"])
            elif form == "mapping":
                value = {f"conv{r}": {"out_channels": "c", "kernel_size": 3, "padding": 1}}
            elif form in ("list", "named-list"):
                kind = "seq" if form == "list" else "module"
                names = Names()
                value = self.layer_list(ctx, sub, kind, names, c.integer(1, 2))
                if add:
                    value.append(last if kind == "seq" else {names.new("last", ctx, self): last})
            elif form in ("for", "repeat"):
                header, body_ctx, _ = self.loop_header(ctx, need_index=False)
                if form == "repeat" or "repeat" in header:
                    header = {"repeat": c.pick(["depth", "2"] if add else ["depth", "depth - 1"])}
                    body_ctx = replace(ctx, depth=ctx.depth + 1, in_loop=True)
                do = self.layer_list(body_ctx, sub.sub(fixed=True), "seq", Names(), 1)
                if add:
                    do.append(last)
                value = {**header, "do": self.wrap(do)}
                self.current_block_has_loop = True
            else:
                then = self.layer_list(ctx, sub.sub(fixed=True), "seq", Names(), 1)
                value = {"if": c.pick(ctx.conds)}
                if add:
                    value["then"] = self.wrap([*then, last])
                    value["else"] = self.wrap([last])
                else:
                    value["then"] = self.wrap(then)
                    if c.chance(0.5):
                        value["else"] = self.wrap(
                            self.layer_list(ctx, sub.sub(fixed=True), "seq", Names(), 1)
                        )
            data["branches"][name] = value
        if c.chance(0.3):
            self.numbered_branches(data)
        if c.chance(0.4):
            data["then"] = self.then(ctx, flow)

    def numbered_branches(self, data: dict[str, Any]) -> None:
        """The same paths as a list (children 0, 1, … of an nn.ModuleList), each a list."""
        paths = data["branches"].values()
        data["branches"] = [value if isinstance(value, list) else [value] for value in paths]
        self.tag("branches:numbered")

    def learned(self, data: dict[str, Any], flow: Flow) -> None:
        """Learned tensors of the block (shapes of ones, so they broadcast against any input
        of the world's rank), applied at the end of the body."""
        c = self.c
        rank = {"3d": 4, "2d": 3, "1d": 2, "flat": 1}[flow.world]
        tensors = {}
        for name in ("gain", "shift")[: c.integer(1, 2)]:
            dims = [1] * c.integer(1, rank)
            init = c.pick(["zeros", "ones", "full", "normal"])
            args = f"{dims}" + (f", {c.pick([0.5, 2, 'drop'])}" if init == "full" else "")
            args += f", {c.pick([0.02, 1])}" if init == "normal" else ""
            tensors[name] = f"{init}({args})"
            self.tag(f"tensor:{init}")
        data["tensors"] = tensors
        body = data["body"] if isinstance(data["body"], list) else [data["body"]]
        for name in tensors:
            op = c.pick(["mul", "add"])
            mapping = c.chance(0.3)
            body.append({op: {"other": name}} if mapping else f"{op}({name})")
            if mapping:
                self.tag("mapping-call")
        data["body"] = body
        self.tag("block:tensors")

    def parallel_body(self, ctx: Ctx, flow: Flow, data: dict[str, Any]) -> None:
        """A class-style body that splits into ``parallel`` paths (the block's own layers)."""
        c = self.c
        names = self.block_names
        flow.chan = "in.channels"
        body = self.layer_list(ctx, flow, "class", names, c.integer(0, 1))
        body += self.parallel_entry(ctx, flow, names, nested=False)
        if c.chance(0.4):
            body += self.layer_list(ctx, flow, "class", names, 1)
        data["body"] = self.wrap(body)
        if c.chance(0.3):
            data["then"] = self.then(ctx, flow)

    def parallel_entry(self, ctx: Ctx, flow: Flow, names: Names, nested: bool) -> list[Any]:
        """A ``parallel`` entry (and the layer before it that a channel split needs); leaves
        ``flow.chan`` at what is known after the merge."""
        c = self.c
        r = spatial(flow.world)
        merge = c.pick(["add", "mul", "concat", None])
        self.tag(f"merge:{merge or 'default'}+parallel")
        joins = merge in ("add", "mul")
        split = c.chance(0.3)
        entries: list[Any] = []
        if split:  # two paths over halves of an even number of channels
            conv = Call(f"conv{r}", [("out_channels", E("c * 2")), ("kernel_size", 1)])
            entries.append({names.new("pre", ctx, self): self.render(conv)})
            self.tag("parallel:split")
        paths = []
        for _ in range(2 if split else c.integer(1, 3)):
            sub = flow.sub(fixed=True)
            sub.inplace_ok = False  # the paths read the same tensor
            sub.chan = None if split else flow.chan
            path = self.layer_list(ctx, sub, "class", names, c.integer(0, 2))
            if not nested and c.chance(0.3):
                path += self.parallel_entry(ctx, sub, names, nested=True)
                self.tag("parallel:nested")
            if joins:
                last = Call(f"conv{r}", [("out_channels", E("c")), ("kernel_size", 1)])
                path.append({names.new("last", ctx, self): self.render(last)})
            paths.append(path)
        entry: dict[str, Any] = {"parallel": paths}
        if merge is not None:
            entry["merge"] = merge
        if split:
            entry["split"] = c.pick(ctx.conds)
        entries.append(entry)
        flow.chan = "c" if joins else None
        self.tag("block:parallel")
        return entries

    # -- calling blocks -----------------------------------------------------------------------

    def block_args(self, ctx: Ctx, block: Block, keyword_only: bool = False) -> list[str]:
        c = self.c
        args = []
        keyword = keyword_only
        for name, default in block.params:
            if default is not None and c.chance(0.5):
                keyword = True
                continue
            if name == "c":
                small = ["c", "width", "2"] if ctx.block is not None else ctx.chans
                value = c.pick(small)
            elif name == "stride":
                value = c.pick(["1", "2", "1 if use_bn else 2"])
            elif name == "kk":
                value = c.pick(["1", "3", "k"])
            else:
                value = c.pick(["1", "2"])
            if keyword or (default is not None and c.chance(0.5)):
                keyword = True
                args.append(f"{name}={value}")
                self.tag("block:keyword-arg")
            else:
                args.append(value)
        return args

    def block_text(self, ctx: Ctx, block: Block) -> str:
        return f"{block.name}({', '.join(self.block_args(ctx, block))})"

    def stage_text(self, ctx: Ctx, block: Block) -> str:
        depth = self.c.pick(["depth", "2", "1", "len(widths)"])
        args = self.block_args(ctx, block, keyword_only=True)
        self.tag("stage")
        if block.has_loop:
            self.tag("loop:in-stage")
        return f"stage({', '.join([block.name, f'depth={depth}', *args])})"

    def usable_blocks(self, ctx: Ctx, flow: Flow) -> list[Block]:
        if flow.world == "flat" or flow.fixed:
            return []
        blocks = [b for b in self.blocks.values() if b.world == flow.world]
        return [b for b in blocks if not (ctx.in_loop and b.heavy)]

    def block_call(self, ctx: Ctx, flow: Flow, kind: str, names: Names) -> Any:
        c = self.c
        block = c.pick(self.usable_blocks(ctx, flow))
        self.calls_block = True
        if c.chance(0.25):
            value: Any = {block.name: {}}
            for arg in self.block_args(ctx, block, keyword_only=True):
                k, v = arg.split("=", 1)
                value[block.name][k] = int(v) if v.isdigit() else v
            self.tag("block:mapping-call")
        else:
            value = self.block_text(ctx, block)
        sub = Flow(flow.world, h=block.h, cap=block.cap)
        flow.absorb(sub)
        flow.chan = None
        self.tag("block:call")
        return self.named(kind, names, ctx, "blk", value, True)

    def stage_call(self, ctx: Ctx, flow: Flow, kind: str, names: Names) -> Any:
        block = self.c.pick(self.usable_blocks(ctx, flow))
        self.calls_block = True
        sub = Flow(flow.world, h=block.h, cap=block.cap)
        flow.absorb(sub, 3)
        flow.chan = None
        return self.named(kind, names, ctx, "stage", self.stage_text(ctx, block), True)


ACTIVATIONS = {
    "relu",
    "relu6",
    "leaky_relu",
    "gelu",
    "silu",
    "sigmoid",
    "tanh",
    "hardswish",
    "hardsigmoid",
    "softmax",
    "log_softmax",
}


@st.composite
def examples(draw: Callable[[Any], Any]) -> Example:
    """Hypothesis strategy: one random example (shrinks towards small, plain specs)."""
    return SpecGen(DrawChooser(draw)).example()


def generate(seed: int) -> Example:
    """The same generator, driven by a seeded ``random.Random``."""
    return SpecGen(RandomChooser(seed)).example()


# -- what the schema says, and what a spec uses ------------------------------------------------


def _alternatives(node: dict[str, Any]) -> list[dict[str, Any]]:
    if "anyOf" in node:
        out = []
        for alt in node["anyOf"]:
            out += _alternatives(alt)
        return [a for a in out if a.get("type") != "null"]
    return [node]


def _is_expression(alts: list[dict[str, Any]]) -> bool:
    """The generic "expression or literal value" union: no structure to cover."""
    types = {a.get("type") for a in alts}
    return {"string", "number", "boolean", "array", "object"} <= types


def _alt_name(alt: dict[str, Any]) -> str:
    if "$ref" in alt:
        return str(alt["$ref"].rsplit("/", 1)[1])
    if "const" in alt:
        return f"const:{alt['const']}"
    return str(alt.get("type", "any"))


def schema_constructs(schema: dict[str, Any] = SCHEMA) -> set[str]:
    """Every construct of the schema: each key of each object definition reachable from the
    root (``BlockDef.shortcut``), each enum value (``BlockDef.merge=concat``), each alternative
    of each structural union (``IfEntry.else:RepeatEntry``, ``BlockDef.body[]:ForEntry``,
    ``spec.params.*:ParamDecl``), each operator in the mapping form (``MappingCall.conv2d``)
    and each operator attribute (``op:conv2d.padding_mode``)."""
    defs = schema["$defs"]
    out: set[str] = set()
    visited: set[str] = set()

    def node(n: dict[str, Any], loc: str) -> None:
        alts = _alternatives(n)
        if _is_expression(alts):
            return
        if len(alts) > 1:
            out.update(f"{loc}:{_alt_name(a)}" for a in alts)
        for alt in alts:
            if "$ref" in alt:
                definition(_alt_name(alt))
            elif alt.get("type") == "array" and alt.get("items"):
                node(alt["items"], f"{loc}[]")
            elif alt.get("type") == "object":
                obj(alt, loc)
            for value in alt.get("enum", []):
                out.add(f"{loc}={value}")

    def obj(n: dict[str, Any], loc: str) -> None:
        for key, sub in n.get("properties", {}).items():
            out.add(f"{loc}.{key}")
            node(sub, f"{loc}.{key}")
        extra = n.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            node(extra, f"{loc}.*")

    def definition(name: str) -> None:
        if name in visited:
            return
        visited.add(name)
        if name == "MappingCall":
            for op, body in defs[name]["properties"].items():
                out.add(f"MappingCall.{op}")
                out.update(f"op:{op}.{attr}" for attr in body.get("properties", {}))
            return
        obj(defs[name], name)

    obj(schema, "spec")
    return out


def _split_top(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside brackets and quotes."""
    parts, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return parts


def call_constructs(text: str) -> set[str]:
    """The operator attributes a layer-call string uses (``op:conv2d.stride``)."""
    out: set[str] = set()
    choice = _split_top(text, " if ")
    if len(choice) == 2:
        out.add("layer-choice")
        first = choice[0]
        rest = _split_top(choice[1], " else ")
        return out | call_constructs(first) | call_constructs(rest[-1])
    m = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*", text, re.S)
    if m is None or m.group(1) not in OPS:
        return out
    op, args = m.group(1), m.group(2)
    out.add(f"op:{op}")
    if not args or not args.strip():
        return out
    order = [a for a in OPS[op] if a not in KW_ONLY]
    for index, arg in enumerate(_split_top(args, ",")):
        kw = re.match(r"\s*([A-Za-z_]\w*)\s*=(?!=)", arg)
        if kw:
            out.add(f"op:{op}.{kw.group(1)}")
        elif index < len(order):
            out.add(f"op:{op}.{order[index]}")
    return out


def spec_constructs(data: Any, schema: dict[str, Any] = SCHEMA) -> set[str]:
    """The constructs (as :func:`schema_constructs` names them) one spec file uses."""
    defs = schema["$defs"]
    blocks = set((data.get("blocks") or {}) if isinstance(data, dict) else ())
    out: set[str] = set()

    def kind_of(value: Any) -> str | None:
        if isinstance(value, dict):
            if "for" in value:
                return "ForEntry"
            if "repeat" in value:
                return "RepeatEntry"
            if "if" in value:
                return "IfEntry"
            if "parallel" in value:
                return "ParallelEntry"
            if len(value) == 1 and next(iter(value)) in set(OPS) | blocks:
                return "MappingCall"
        return None

    def matches(alt: dict[str, Any], value: Any) -> bool:
        if "$ref" in alt:
            name = _alt_name(alt)
            if name in ("ForEntry", "RepeatEntry", "IfEntry", "ParallelEntry", "MappingCall"):
                return kind_of(value) == name
            if name == "NamedEntry":
                named = isinstance(value, dict) and kind_of(value) is None
                return named and (len(value) == 1 or (len(value) == 2 and "from" in value))
            if name == "ParamDecl":
                return isinstance(value, dict) and "default" in value
            return isinstance(value, dict)
        if "const" in alt:
            return bool(value == alt["const"])
        t = alt.get("type")
        if t == "string":
            return isinstance(value, str)
        if t == "boolean":
            return isinstance(value, bool)
        if t == "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        if t == "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        if t == "array":
            return isinstance(value, list)
        if t == "object":
            return isinstance(value, dict)
        return True

    def node(n: dict[str, Any], value: Any, loc: str) -> None:
        alts = _alternatives(n)
        if _is_expression(alts):
            return
        alt = next((a for a in alts if matches(a, value)), None)
        if alt is None:
            return
        if len(alts) > 1:
            out.add(f"{loc}:{_alt_name(alt)}")
        if "$ref" in alt:
            name = _alt_name(alt)
            if name == "MappingCall":
                ((op, attrs),) = value.items()
                if op in OPS:
                    out.add(f"MappingCall.{op}")
                    out.update(f"op:{op}.{a}" for a in (attrs or {}))
                    out.add(f"op:{op}")
                return
            obj(defs[name], value, name)
        elif alt.get("type") == "array" and alt.get("items"):
            for item in value:
                node(alt["items"], item, f"{loc}[]")
        elif alt.get("type") == "object":
            obj(alt, value, loc)
        elif alt.get("type") == "string" and "A layer call" in alt.get("description", ""):
            out.update(call_constructs(value))
        if "enum" in alt:
            out.add(f"{loc}={value}")

    def obj(n: dict[str, Any], value: dict[str, Any], loc: str) -> None:
        props = n.get("properties", {})
        extra = n.get("additionalProperties")
        for key, sub in value.items():
            if key in props:
                out.add(f"{loc}.{key}")
                node(props[key], sub, f"{loc}.{key}")
            elif isinstance(extra, dict) and extra:
                node(extra, sub, f"{loc}.*")

    obj(schema, data, "spec")
    return out


# -- in-place writes into kept outputs ----------------------------------------------------------


def calm_in_place(spec: dict[str, Any]) -> None:
    """Turn ``inplace`` off in every layer whose input may be an output autograd keeps
    (:data:`KEEPS_OUTPUT`), reached directly or through layers that pass it on. netspec
    refuses such a layer, rightly; the generator draws in-place layers freely and keeps only
    those it can tell are safe, by a simpler, more cautious reading of the spec than netspec's:
    what may be kept after each entry of a list, where a block's body, a read by ``from:``, a
    choice of two layers or a block's result (unless its last step is a merge making a new
    tensor) may be. A name given to several layers is turned off in all of them (they stay
    written alike)."""
    blocks: dict[str, Any] = spec.get("blocks", {})
    names: set[str] = set()

    def run(entries: Any, kept: bool) -> tuple[Any, bool]:
        """``entries`` calmed, and whether what they end with may be kept."""
        if not isinstance(entries, list):
            [entry], kept = run([entries], kept)
            return entry, kept
        out = []
        for entry in entries:
            entry, kept = step(entry, kept)
            out.append(entry)
        entries[:] = out
        return entries, kept

    def step(entry: Any, kept: bool) -> tuple[Any, bool]:
        if isinstance(entry, list):  # a path of a parallel entry
            return run(entry, kept)
        name, value, plain = _layer_of(entry)
        if value is not None:
            kept = kept or not plain  # (a read by name: any tensor)
            if kept and _writes(value):
                entry = _calmed(entry)  # (out of place now: what it keeps, as below)
                if name is not None:
                    names.add(name)
            op = _op_of(value)
            if op in OPS:
                return entry, op in KEEPS_OUTPUT or (op in PASSES_ON and kept)
            if op in ("add", "mul", "concat", "resize"):  # a merge: a new tensor
                return entry, False
            return entry, True  # a choice, a crop (a view), a block
        if not isinstance(entry, dict):
            return entry, True
        if "if" in entry:
            entry["then"], after = run(entry.get("then", []), kept)
            entry["else"], other = run(entry.get("else", []), kept)
            if not entry["else"]:
                del entry["else"]
            return entry, after or other
        if "repeat" in entry or "for" in entry:  # none, one or more times round
            entry["do"], once = run(entry["do"], kept)
            entry["do"], again = run(entry["do"], once or kept)
            return entry, kept or once or again
        keys = [k for k in entry if k != "from"]
        if len(keys) == 1 and isinstance(entry[keys[0]], list):  # a named sequence
            entry[keys[0]], kept = run(entry[keys[0]], kept or "from" in entry)
            return entry, kept
        for key, inner in entry.items():  # (a parallel entry, …): every list from anything
            if isinstance(inner, list | dict) and key != "from":
                run_all(inner)
        return entry, True

    def run_all(obj: Any) -> None:
        """Every list and entry in ``obj``, each from anything."""
        if isinstance(obj, list):
            run(obj, True)
        elif isinstance(obj, dict):
            for key, value in obj.items():
                if isinstance(value, list):
                    run(value, True)
                elif key != "from" and (isinstance(value, str) or _layer_of(value)[1]):
                    obj[key] = run(value, True)[0]
                else:
                    run_all(value)

    run(spec["layers"], False)  # (the network's input is kept by nothing)
    for block in blocks.values():
        merged = "branches" in block or block.get("residual") is True or "shortcut" in block
        one = isinstance(block.get("branches"), dict) and len(block["branches"]) == 1
        new = merged and not (one and block.get("merge", "concat") in ("add", "mul"))
        for key, value in block.items():
            if key == "then":
                block[key], _ = run(value, not new)
            elif key in ("body", "branches", "shortcut"):
                if isinstance(value, dict) and _layer_of(value)[1] is None:
                    run_all(value)
                else:
                    block[key], _ = run(value, True)

    def calm_named(obj: Any) -> None:
        if isinstance(obj, dict):
            for value in obj.values():
                calm_named(value)
        elif isinstance(obj, list):
            for i, entry in enumerate(obj):
                if _layer_of(entry)[0] in names:
                    obj[i] = _calmed(entry)
                calm_named(entry)

    if names:
        calm_named(spec["layers"])
        calm_named(blocks)


def _layer_of(entry: Any) -> tuple[str | None, Any, bool]:
    """A layer entry's name (or ``None``), its call (text or mapping form; ``None`` where the
    entry is no layer call), and whether it reads the previous entry's output (no ``from:``)."""
    if isinstance(entry, str):
        return None, entry, True
    if not isinstance(entry, dict):
        return None, None, False
    keys = [k for k in entry if k != "from"]
    if len(keys) != 1:
        return None, None, False
    key = keys[0]
    value = entry[key]
    if _mapping_call(entry):  # unnamed
        return None, entry, "from" not in entry
    if isinstance(value, str) or _mapping_call(value):
        return key, value, "from" not in entry
    return None, None, False


def _mapping_call(value: Any) -> bool:
    """Whether ``value`` is a call in the mapping form (``{relu: {inplace: true}}``)."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    op, attrs = next(iter(value.items()))
    return op in OPS and isinstance(attrs, dict) and all(k in OPS[op] for k in attrs)


def _op_of(value: Any) -> str | None:
    """The operator a call names; ``None`` for a choice (``a if c else b``)."""
    if isinstance(value, dict):
        return next(iter(value))
    if " if " in value:
        return None
    found = re.match(r"[A-Za-z_]\w*", value)
    return found.group(0) if found else None


def _args(text: str) -> tuple[str, list[str]] | None:
    """``op(a, b=c)`` → ``('op', ['a', 'b=c'])`` (commas outside brackets separate)."""
    found = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*\((.*)\)\s*", text, re.S)
    if found is None:
        return None
    args: list[str] = []
    depth, start, body = 0, 0, found.group(2)
    for i, ch in enumerate(body):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(body[start:i].strip())
            start = i + 1
    if body.strip():
        args.append(body[start:].strip())
    return found.group(1), args


def _in_place_arg(op: str, args: list[str]) -> int | None:
    """The index of the argument giving ``inplace``, by keyword or position."""
    order = OPS.get(op, [])
    for i, arg in enumerate(args):
        key, eq, _ = arg.partition("=")
        named = key.strip() if eq and re.fullmatch(r"\s*\w+\s*", key) else None
        if (named or (order[i] if i < len(order) else None)) == "inplace":
            return i
    return None


def _writes(value: Any) -> bool:
    """Whether a call may write in place (``inplace`` given, not ``false``)."""
    if isinstance(value, dict):
        attrs = next(iter(value.values()))
        return isinstance(attrs, dict) and attrs.get("inplace", False) is not False
    parts = value.split(" if ", 1)
    if len(parts) == 2:
        return any(_writes(p) for p in (parts[0], parts[1].split(" else ", 1)[-1]))
    parsed = _args(value)
    if parsed is None:
        return False
    op, args = parsed
    at = _in_place_arg(op, args)
    return at is not None and args[at].rpartition("=")[2].strip() != "false"


def _calmed(entry: Any) -> Any:
    """``entry`` with ``inplace`` false."""
    if _mapping_call(entry):
        op, attrs = next(iter(entry.items()))
        return {op: {**attrs, "inplace": False}} if "inplace" in attrs else entry
    if isinstance(entry, dict):
        return {k: v if k == "from" else _calmed(v) for k, v in entry.items()}
    if not isinstance(entry, str):
        return entry
    if " if " in entry:
        left, _, rest = entry.partition(" if ")
        cond, _, right = rest.partition(" else ")
        return f"{_calmed(left)} if {cond} else {_calmed(right)}"
    parsed = _args(entry)
    if parsed is None:
        return entry
    op, args = parsed
    at = _in_place_arg(op, args)
    if at is None:
        return entry
    args[at] = "inplace=false" if "=" in args[at] and "inplace" in args[at] else "false"
    return f"{op}({', '.join(args)})"
