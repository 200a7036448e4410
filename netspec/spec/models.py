"""The spec language as pydantic models: what a spec may say.

These models validate the plain data of a YAML spec (unknown keys are errors) and are the
AST the rest of netspec reads. Code inside a spec — expressions and layer calls — is held by
:class:`Expression` and :class:`LayerRef` leaves, which the loader binds to their position in
the file and parses with the grammar. Every field's docstring is its documentation (and its
description in the JSON Schema).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ModelWrapValidatorHandler,
    PrivateAttr,
    RootModel,
    Tag,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from netspec.errors import Span
from netspec.expr.nodes import Located

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Code:
    """Code in a spec: the raw YAML value and, once bound, its parsed expression and span."""

    __slots__ = ("raw", "node", "span")
    kind = "expression"

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.node: Located | None = None
        self.span: Span | None = None

    @property
    def expr(self) -> Located:
        if self.node is None:  # pragma: no cover - the loader binds every Code
            raise RuntimeError(f"{self.kind} {self.raw!r} was never bound")
        return self.node

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.raw!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Code) and type(other) is type(self) and self.raw == other.raw

    def __hash__(self) -> int:
        return hash(repr(self.raw))

    @classmethod
    def _validate(cls, value: Any) -> Code:
        return value if isinstance(value, cls) else cls(value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda v: v.raw),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: Any, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return cls.json_schema()

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return {
            "description": "An expression (`planes * 4`, `depths[0]`, `64 if wide else 32`) "
            "or a literal value.",
            "anyOf": [
                {"type": "string"},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "array"},
                {"type": "object"},
                {"type": "null"},
            ],
        }


class Expression(Code):
    """An expression: a string is parsed, numbers/booleans/lists/mappings are literals."""


class LayerRef(Code):
    """A layer call as text: ``conv2d(64, 3, padding=1)``, ``relu``, or ``a if c else b``."""

    kind = "layer"

    @classmethod
    def _validate(cls, value: Any) -> Code:
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise ValueError("a layer call is text, as in conv2d(64, 3)")
        return cls(value)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return {
            "type": "string",
            "description": "A layer call: `conv2d(64, 3, padding=1)`, `relu`, or a block call.",
            "pattern": r"^\s*[A-Za-z_]",
        }


class LoopHeader(Code):
    """``name in expression`` (or ``i, x in enumerate(xs)``); ``node`` is the iterable."""

    __slots__ = ("names",)
    kind = "loop header"

    def __init__(self, raw: Any) -> None:
        super().__init__(raw)
        self.names: tuple[str, ...] = ()

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return {"type": "string", "description": "`name in expression`, e.g. `width in widths`."}


class NameTemplate(Code):
    """A layer name, possibly with ``{expression}`` parts: ``conv1``, ``block{i + 1}``.

    ``parts`` alternates literal text and parsed expressions; a plain name is one part.
    """

    __slots__ = ("_parts", "is_template")
    kind = "layer name"

    def __init__(self, raw: Any) -> None:
        super().__init__(raw)
        self.parts = (str(raw),)

    @property
    def parts(self) -> tuple[str | Located, ...]:
        return self._parts

    @parts.setter
    def parts(self, parts: tuple[str | Located, ...]) -> None:
        self._parts = parts
        self.is_template: bool = any(not isinstance(p, str) for p in parts)
        """Whether a part is an expression (the name is made where the layer is)."""

    @property
    def text(self) -> str:
        return str(self.raw)

    def pattern(self, part: Callable[[Located], str] = lambda _: ".+") -> str:
        """A regular expression of the names this template may give: its text as written,
        ``part(expression)`` for each ``{…}`` (anything, unless told)."""
        return "".join(re.escape(p) if isinstance(p, str) else part(p) for p in self.parts)


class BlockParam(Code):
    """A block parameter: ``planes`` (required) or ``stride = 1`` (default evaluated where the
    block is used); ``node`` is the default, if any."""

    __slots__ = ("name",)
    kind = "block parameter"

    def __init__(self, raw: Any) -> None:
        super().__init__(raw)
        self.name: str = str(raw).partition("=")[0].strip()

    @classmethod
    def _validate(cls, value: Any) -> Code:
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise ValueError("a block parameter is text: `name` or `name = default`")
        return cls(value)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return {"type": "string", "description": "`name` or `name = default`, e.g. `stride = 1`."}


class Node(BaseModel):
    """Base of spec models: unknown keys are errors; positions are kept privately."""

    model_config = ConfigDict(
        extra="forbid",
        arbitrary_types_allowed=True,
        validate_default=False,
        defer_build=True,  # built once, on the first validation, not for every class at import
    )
    _span: Span | None = PrivateAttr(default=None)
    _key_spans: dict[str, Span] = PrivateAttr(default_factory=dict)

    # Private attributes are read from ``__pydantic_private__`` directly: going through
    # pydantic's ``__getattr__`` costs a slow path on every layer of every expansion.

    @property
    def span(self) -> Span | None:
        return self.__pydantic_private__["_span"]  # type: ignore[index,no-any-return]

    def key_span(self, key: str) -> Span | None:
        """The span of ``key`` in this mapping (falls back to the mapping's own span)."""
        private = self.__pydantic_private__
        assert private is not None
        return private["_key_spans"].get(key, private["_span"])  # type: ignore[no-any-return]


def _as_list(value: Any) -> Any:
    """A single layer entry where a list is expected is a list of one."""
    return value if isinstance(value, list) else [value]


def _entry_kind(value: Any) -> str | None:
    """Classify a raw layer entry (see :data:`LayerEntry`)."""
    if isinstance(value, str | LayerRef):
        return "call"
    if isinstance(value, dict):  # (first: what a spec holds, and a cheap test)
        for key in ("for", "repeat", "if"):
            if key in value:
                return key
        if _is_parallel(value):
            return "parallel"
        if len(value) == 2 and FROM in value:
            return "named"
        if len(value) == 1:
            inner = next(iter(value.values()))
            if isinstance(inner, dict) and not any(isinstance(v, dict) for v in inner.values()):
                if not any(k in inner for k in ("for", "repeat", "if")):
                    return "mapping"
            return "named"
        return None
    entries = (ForEntry, RepeatEntry, IfEntry, ParallelEntry, NamedEntry, MappingCall)
    if isinstance(value, entries):
        return {
            ForEntry: "for",
            RepeatEntry: "repeat",
            IfEntry: "if",
            ParallelEntry: "parallel",
            NamedEntry: "named",
            MappingCall: "mapping",
        }[type(value)]
    return None


def _is_parallel(value: dict[Any, Any]) -> bool:
    """Whether a raw mapping is a ``parallel`` entry rather than a layer named ``parallel``: it
    has the entry's other keys, or its paths are lists (a named sequence holds no bare lists)."""
    paths = value.get("parallel")
    if paths is None:
        return False
    if len(value) > 1:
        return True
    return isinstance(paths, list) and bool(paths) and all(isinstance(p, list) for p in paths)


def _tag(kind: str | None, named: bool = True) -> str | None:
    """The union tag of an entry kind; tags are bracketed so they never look like YAML keys."""
    if kind is None or (kind == "named" and not named):
        return None
    return f"<{kind}>"


Steps = Annotated[list["LayerEntry"], BeforeValidator(_as_list)]


class ForEntry(Node):
    """Repeat the ``do`` layers once per item of a list."""

    for_: LoopHeader = Field(alias="for")
    """``name in expression``: the loop variable(s) and the list, e.g. ``width in widths``."""
    do: Steps
    """The layers of one iteration (may use the loop variable)."""


class RepeatEntry(Node):
    """Repeat the ``do`` layers a number of times."""

    repeat: Expression
    """How many times (an integer expression, ≥ 0)."""
    as_: str | None = Field(default=None, alias="as", pattern=IDENTIFIER)
    """Optional name of the 0-based iteration index."""
    do: Steps
    """The layers of one iteration."""


class IfEntry(Node):
    """Include ``then`` or ``else`` layers depending on a condition."""

    if_: Expression = Field(alias="if")
    """The condition."""
    then: Steps
    """Layers included when the condition holds."""
    else_: Steps = Field(default_factory=list, alias="else")
    """Layers included otherwise (none by default)."""


class ParallelEntry(Node):
    """Paths over the current tensor, side by side, merged into one: a split inside a block.

    Each path's layers are the block's own children (``Mixed_5b.branch5x5_1``), so the entry
    is written in a block's layers (its body, ``then``, or a path of another ``parallel``)."""

    parallel: list[Steps]
    """The paths, each a list of layers applied to the entry's input (or, with ``split``, to
    its own part of the input's channels)."""
    merge: Literal["add", "mul", "concat"] | None = None
    """How the paths join: ``concat`` along channels (default), ``add`` or ``mul``."""
    split: Expression | None = None
    """When this holds, the input's channels are split into as many equal parts as there are
    paths (``x.chunk(n, 1)``), path ``i`` reading part ``i`` (ShuffleNetV2)."""


class MappingCall(RootModel[dict[str, dict[str, Expression]]]):
    """The mapping form of a layer call: ``{conv2d: {out_channels: 64, kernel_size: 3}}``."""

    _span: Span | None = PrivateAttr(default=None)
    _call: LayerRef | None = PrivateAttr(default=None)

    @property
    def span(self) -> Span | None:
        return self.__pydantic_private__["_span"]  # type: ignore[index,no-any-return]

    @property
    def call(self) -> LayerRef | None:
        """The equivalent text-form call, once bound."""
        return self.__pydantic_private__["_call"]  # type: ignore[index,no-any-return]


LayerValue = Annotated[
    Annotated[LayerRef, Tag("<call>")]
    | Annotated[list["LayerEntry"], Tag("<list>")]
    | Annotated[ForEntry, Tag("<for>")]
    | Annotated[RepeatEntry, Tag("<repeat>")]
    | Annotated[IfEntry, Tag("<if>")]
    | Annotated[MappingCall, Tag("<mapping>")],
    Discriminator(
        lambda v: "<list>" if isinstance(v, list) else _tag(_entry_kind(v), named=False),
        custom_error_type="layer_value",
        custom_error_message="expected a layer call, a list of layers, or a for/repeat/if block",
    ),
]


class Sources:
    """The tensors a named entry reads (``from:``): one name, or a list of names merged.

    The loader binds each name to its position; :mod:`netspec.expand.lower` decides what the
    names may refer to."""

    __slots__ = ("names", "spans", "span", "merged", "invalid")

    def __init__(
        self,
        names: tuple[str, ...],
        merged: bool,
        spans: tuple[Span | None, ...] = (),
        span: Span | None = None,
        invalid: Any = None,
    ) -> None:
        self.invalid = invalid
        """What ``from:`` held where it is neither a name nor a list of names."""
        self.names = names
        self.merged = merged
        """Whether ``from:`` is a list (the entry's layer is a merge of the tensors)."""
        self.spans = spans or (None,) * len(names)
        self.span = span

    @property
    def raw(self) -> str | list[str]:
        return list(self.names) if self.merged else self.names[0]

    def __repr__(self) -> str:
        return f"Sources({self.raw!r})"


FROM = "from"
"""The key of a named entry that names the tensors it reads."""


class NamedEntry(RootModel[dict[str, LayerValue]]):
    """A named layer (``conv1: conv2d(64, 7)``) or named sequence (``features: [...]``),
    optionally with ``from:``, the earlier tensors it reads."""

    _span: Span | None = PrivateAttr(default=None)
    _name: NameTemplate | None = PrivateAttr(default=None)
    _from: Sources | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _sources(cls, value: Any, handler: ModelWrapValidatorHandler[NamedEntry]) -> NamedEntry:
        """``{name: layer, from: …}``: the layer, and the names it reads."""
        if not (isinstance(value, dict) and len(value) == 2 and FROM in value):
            return handler(value)
        raw = value[FROM]
        if isinstance(raw, str):
            sources = Sources((raw,), merged=False)
        elif isinstance(raw, list) and raw and all(isinstance(v, str) for v in raw):
            sources = Sources(tuple(raw), merged=True)
        else:  # the loader reports it at its position
            sources = Sources((), merged=False, invalid=raw)
        entry = handler({k: v for k, v in value.items() if k != FROM})
        entry._from = sources
        return entry

    @property
    def sources(self) -> Sources | None:
        """What ``from:`` says (``None``: the entry reads the previous layer's output)."""
        return self.__pydantic_private__["_from"]  # type: ignore[index,no-any-return]

    @property
    def span(self) -> Span | None:
        return self.__pydantic_private__["_span"]  # type: ignore[index,no-any-return]

    @property
    def name(self) -> NameTemplate:
        private = self.__pydantic_private__
        assert private is not None
        if private["_name"] is None:  # pragma: no cover - bound by the loader
            private["_name"] = NameTemplate(next(iter(self.root)))
        name: NameTemplate = private["_name"]
        return name

    @property
    def value(self) -> Any:
        return next(iter(self.root.values()))


LayerEntry = Annotated[
    Annotated[LayerRef, Tag("<call>")]
    | Annotated[NamedEntry, Tag("<named>")]
    | Annotated[MappingCall, Tag("<mapping>")]
    | Annotated[ForEntry, Tag("<for>")]
    | Annotated[RepeatEntry, Tag("<repeat>")]
    | Annotated[IfEntry, Tag("<if>")]
    | Annotated[ParallelEntry, Tag("<parallel>")],
    Discriminator(
        lambda v: _tag(_entry_kind(v)),
        custom_error_type="layer_entry",
        custom_error_message=(
            "expected a layer: `op(args)`, `name: op(args)`, `name: [layers]`, "
            "a for/repeat/if block, or parallel paths"
        ),
    ),
]


class ShortcutDef(Node):
    """The identity path of a residual block, projected when its shape would not match."""

    when: Expression | None = None
    """Project only when this holds (e.g. ``stride != 1 or in.channels != out``); otherwise the
    input passes unchanged. Default: always project, if ``project`` is given."""
    project: Steps | None = None
    """The projection applied to the block input (e.g. a 1×1 convolution and batch norm)."""
    name: str = Field(default="downsample", pattern=IDENTIFIER)
    """The projection's module name (torchvision's ``downsample``)."""


class BlockDef(Node):
    """A reusable, parameterised block: a body, optionally a residual connection, or parallel
    branches; used like an operator (``Bottleneck(64, stride=2)``) or repeated by ``stage``."""

    doc: str | None = None
    """What the block is."""
    params: list[BlockParam] = Field(default_factory=list)
    """Parameters in call order: ``name`` or ``name = default``."""
    inputs: list[Annotated[str, Field(pattern=IDENTIFIER)]] = Field(default_factory=list)
    """The names of the block's inputs, where it takes two or more tensors (LRASPP's head:
    ``[low, high]``): its layers read them with ``from:``, its layers' chain starts from the
    first, and a caller passes them in order, ``from: [a, b]``."""
    expansion: Expression | None = None
    """Output channels per ``planes`` (ResNet's Bottleneck: 4), a name in the block's scope."""
    let: dict[str, Expression] = Field(default_factory=dict)
    """Values derived from the params and the input shape (``in.channels``…), in order."""
    tensors: dict[str, Expression] = Field(default_factory=dict)
    """Learned tensors the block owns — its own parameters, first in its state_dict — each an
    initialiser call: ``zeros([…])``, ``ones([…])``, ``full([…], value)`` or ``normal([…],
    std)``. In the layers, ``mul(name)``, ``add(name)`` and ``prepend(name)`` apply one
    (ConvNeXt's ``layer_scale``, ViT's ``pos_embedding``)."""
    body: Steps = Field(default_factory=list)
    """The layers of the block's main path."""
    branches: (
        Annotated[
            Annotated[dict[str, LayerValue], Tag("<named>")]
            | Annotated[list[Steps], Tag("<numbered>")],
            Discriminator(lambda v: "<numbered>" if isinstance(v, list) else "<named>"),
        ]
        | None
    ) = None
    """Parallel paths over the block's input, each a child module: by name (Inception), or,
    given as a list of layer lists, numbered ``0, 1, 2…`` like an ``nn.ModuleList``'s (ASPP's
    ``convs``)."""
    shortcut: ShortcutDef | None = None
    """The residual connection's identity path (and its projection)."""
    residual: Expression | None = None
    """Whether the residual connection exists (MobileNetV2: ``stride == 1 and in.channels ==
    out``). Default: true when ``shortcut`` is given."""
    merge: Literal["add", "mul", "concat"] | None = None
    """How paths join: ``add`` (residual default), ``mul`` (a gate: ``body(x) * x``) or
    ``concat`` along channels (branch default)."""
    split: Expression | None = None
    """With ``branches``: when this holds, the input's channels are split into as many equal
    parts as there are branches (``x.chunk(n, 1)``), branch ``i`` reading part ``i``
    (ShuffleNetV2)."""
    then: Steps = Field(default_factory=list)
    """Layers applied after the merge (ResNet's final ReLU)."""
    first_only: list[str] = Field(default_factory=lambda: ["stride"])
    """Arguments a ``stage`` passes to its first block only; the others get their defaults."""


ParamValue = int | float | bool | str | list[Any]


class ParamDecl(Node):
    """A parameter with documentation and allowed values."""

    default: ParamValue
    """The value used unless overridden (``--set``, keyword arguments)."""
    doc: str | None = None
    """What the parameter means."""
    choices: list[ParamValue] | None = None
    """The only values allowed, if any."""
    require: Expression | None = None
    """A condition the values given must meet, reading this and the other params: ``len(rates)
    == 3``. ``check`` refuses values that fail it, and the generated class raises."""


class SpecFile(Node):
    """A netspec architecture spec."""

    netspec: Literal[1] | None = None
    """The language version; ``1``."""
    name: str | None = Field(default=None, pattern=IDENTIFIER)
    """The model's name (a Python identifier, e.g. ``resnet50``)."""
    description: str | None = None
    """One line saying what the model is."""
    class_name: str | None = Field(default=None, pattern=IDENTIFIER)
    """The generated PyTorch class's name (default: the name in CamelCase)."""
    extends: str | None = None
    """A spec this one is based on: a path relative to this file, or a bundled spec's name.
    Keys given here replace the base's; ``params`` and ``let`` are merged key by key (and a
    param declared again, key by key of its declaration)."""
    input: Expression | None = None
    """One sample's shape without the batch dimension, e.g. ``[3, 224, 224]`` (C × H × W)."""
    input_dtype: Literal["float32", "int64"] | None = None
    """The input's data type: ``float32`` (the default) or ``int64``, integer token ids, which
    only an ``embedding`` reads (a sample input holds ids it accepts)."""
    params: dict[str, ParamValue | ParamDecl] = Field(default_factory=dict)
    """Parameters with their defaults; overridable with ``--set name=value``."""
    let: dict[str, Expression] = Field(default_factory=dict)
    """Derived values, evaluated in order; each may use the params and earlier ``let`` names."""
    tensors: dict[str, Expression] = Field(default_factory=dict)
    """Learned tensors the model owns — its own parameters, first in its state_dict (ViT's
    ``class_token``) — each an initialiser call, as a block's: ``zeros([…])``, ``ones([…])``,
    ``full([…], value)`` or ``normal([…], std)``. The model's own layers apply one (unnamed):
    ``mul(name)``, ``add(name)``, ``prepend(name)``."""
    blocks: dict[str, BlockDef] = Field(default_factory=dict)
    """Reusable blocks by name (CamelCase by convention), usable as layers."""
    layers: list[LayerEntry] | None = None
    """The network, first layer first."""

    _sources: list[Any] = PrivateAttr(default_factory=list)
    """The texts this spec was read from (its own, then those it extends)."""

    def digest(self) -> str:
        """A SHA-256 of the spec's text and the texts it extends (hex, first 12 digits)."""
        import hashlib

        h = hashlib.sha256()
        for source in self._sources:
            h.update(source.text.encode("utf-8"))
            h.update(b"\0")
        return h.hexdigest()[:12]


def canonical(obj: Any) -> Any:
    """A position-free, comparable form of a spec's AST: two specs are the same spec (whatever
    their format or layout) exactly when their canonical forms are equal.

    Code is compared as its parsed expression (``[3, 224]`` and ``"[3, 224]"`` are the same
    list), so formatting and quoting do not matter; field order, values and names do.
    """
    from netspec.expr import nodes as n

    if isinstance(obj, Code):
        node = _negatives(n.substitute(obj.node, {})) if obj.node is not None else obj.raw
        extra: Any = ()
        if isinstance(obj, LoopHeader):
            extra = obj.names
        elif isinstance(obj, BlockParam):
            extra = obj.name
        elif isinstance(obj, NameTemplate):
            extra = tuple(p if isinstance(p, str) else n.substitute(p, {}) for p in obj.parts)
        return (type(obj).__name__, node, extra)
    if isinstance(obj, ParamDecl) and obj.doc is None and obj.choices is None:
        return canonical(obj.default)  # `k: {default: 3}` is `k: 3`
    if isinstance(obj, NamedEntry) and obj.sources is not None:
        return (type(obj).__name__, canonical(obj.root), obj.sources.raw)
    if isinstance(obj, RootModel):
        return (type(obj).__name__, canonical(obj.root))
    if isinstance(obj, BaseModel):
        return (
            type(obj).__name__,
            tuple((name, canonical(getattr(obj, name))) for name in type(obj).model_fields),
        )
    if isinstance(obj, list | tuple):
        return tuple(canonical(v) for v in obj)
    if isinstance(obj, dict):
        return tuple((k, canonical(v)) for k, v in obj.items())
    return obj


def _negatives(node: Any) -> Any:
    """``-3`` as the literal it is: YAML reads an unquoted ``-3`` as a number, while ``'-3'``
    parses as ``-`` applied to ``3``; the two are the same value."""
    from dataclasses import fields, is_dataclass, replace

    from netspec.expr import nodes as n

    if isinstance(node, n.Unary) and node.op == "-":
        inner = _negatives(node.operand)
        value = inner.value if isinstance(inner, n.Const) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return n.Const(-value)
        return replace(node, operand=inner)
    if isinstance(node, tuple):
        return tuple(_negatives(item) for item in node)
    if is_dataclass(node) and not isinstance(node, type):
        changes = {f.name: _negatives(getattr(node, f.name)) for f in fields(node) if f.init}
        return replace(node, **changes)
    return node
