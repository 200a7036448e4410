"""What an operator declaration is made of.

An operator is one subclass of :class:`Op` in one file of this package. It carries everything
netspec knows about it: the attribute schema (a pydantic model whose field order is the
positional-argument order), the shape rule, the tensors it owns (hence its parameter count and
state_dict entries), its MACs, the PyTorch expression that builds it, the functional call that
replaces it when it needs no module, and the textbook arithmetic that explains its output.

Rules are pure functions of attributes and the input shape (batch dimension excluded). They are
written with ordinary arithmetic so that they also run on symbolic dimensions (``Sym``) when the
code generator needs a size as an expression of the model's parameters; every check on a value
is guarded with :func:`known`, since a symbolic value cannot be checked until the generated code
runs.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, Strict, ValidationError

from netspec.errors import NetspecError
from netspec.expr import nodes as n
from netspec.expr.evaluate import (
    UNKNOWN,
    Scope,
    Sym,
    SymbolicError,
    SymText,
    as_fields,
    concrete,
    counted,
    evaluate,
    known,
    product,
    show,
    unread,
)

Dim = Any  # int, or a Sym in generated code
Shape = tuple[Dim, ...]


class Ids(tuple[Any, ...]):
    """The shape of a tensor of integer ids (the network's input where the spec says
    ``input_dtype: int64``): a shape like any other, marked so that the analysis can refuse an
    integer tensor to every operator but those that read ids (``Op.reads_ids``), and a float
    one to those. Rules that make a new shape make an ordinary (float) one."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Ids({tuple(self)!r})"


def is_ids(shape: Any) -> bool:
    """Whether ``shape`` is the shape of integer ids."""
    return isinstance(shape, Ids)


class OpError(Exception):
    """A rule's failure: what was expected and found. ``infer`` adds the span and path."""

    def __init__(
        self, message: str, hint: str | None = None, attr: str | None = None, key: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.attr = attr
        self.key = key
        """Whether the attribute's name is at fault (a misspelt keyword), not its value."""


@dataclass(frozen=True, slots=True)
class Expect:
    """Field metadata: the expected value in words, for error messages."""

    words: str


@dataclass(frozen=True, slots=True)
class KwOnly:
    """Field metadata: the attribute can only be given by keyword (``in_channels=64``)."""


@dataclass(frozen=True, slots=True)
class CheckedByClass:
    """Field metadata: PyTorch takes values of this attribute that check refuses, without a
    word (``eps`` ≤ 0 divides by zero or a negative, ``divisor_override`` −1 negates), so
    where a param gives the value, the generated class checks it: it refuses what check
    refuses, in check's words (see :meth:`Op.deferred`)."""


@dataclass(frozen=True, slots=True)
class Deferred:
    """A check of values the generated class learns only when constructed: where ``test``
    holds, the class raises ``error``, whose message writes those values as fields (see
    :class:`~netspec.expr.evaluate.as_fields`). Check makes the same check of the values it
    has (:func:`refuse_where`, :meth:`Op.refusal`)."""

    test: n.Expr
    error: OpError
    fields: tuple[n.Expr, ...]
    """The values the message writes as fields, by number."""


_DEFERRED: ContextVar[list[Deferred] | None] = ContextVar("netspec_deferred", default=None)
"""Where :func:`refuse_where` hands its checks of unknown values (see :class:`deferring`)."""


class deferring:  # noqa: N801 (a context manager, used as ``with deferring() as checks``)
    """Collect the checks operator rules make of values the generated class learns only when
    constructed, while the block runs (in this thread or task): the code generator writes
    each where it makes the layer."""

    def __enter__(self) -> list[Deferred]:
        checks: list[Deferred] = []
        self._token = _DEFERRED.set(checks)
        return checks

    def __exit__(self, *exc: object) -> None:
        _DEFERRED.reset(self._token)


def refuse_where(test: Any, error: Callable[[], OpError]) -> None:
    """Raise ``error()`` where ``test`` holds — a truth value, or a symbolic test of values the
    generated class learns only when constructed (:func:`~netspec.expr.evaluate.compare`,
    :func:`~netspec.expr.evaluate.outside`), which is handed to the class (see
    :class:`deferring`): a check PyTorch does not make, made by check and by the class alike.
    ``error`` is called only where the check fails, or is handed on. Outside
    :class:`deferring` a symbolic test is dropped: only the code generator, which runs the
    rules on values the class is given, makes one (check knows every value)."""
    if not isinstance(test, Sym) or test.known:
        if test:
            raise error()
        return
    checks = _DEFERRED.get()
    if checks is not None:
        with as_fields() as fields:
            failure = error()
        checks.append(Deferred(test.expr, failure, tuple(fields)))


@dataclass(frozen=True, slots=True)
class Tensor:
    """A parameter or buffer an operator owns (a state_dict entry, minus the prefix)."""

    name: str
    shape: tuple[int, ...]
    trainable: bool

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


class Input:
    """Placeholder for the input tensor in a functional call."""

    def __repr__(self) -> str:
        return "x"


class Training:
    """Placeholder for ``self.training`` in a functional call (dropout)."""

    def __repr__(self) -> str:
        return "self.training"


X = Input()
TRAINING = Training()


@dataclass(frozen=True, slots=True)
class PyCall:
    """A call in generated source: ``func(*args, **kwargs)``.

    Values are Python literals, :class:`Sym` (symbolic expressions), :data:`X` or
    :data:`TRAINING`. ``helpers`` names definitions of :data:`HELPERS` the call needs.
    An empty ``func`` on a functional call means "no code": the input passes through.
    """

    func: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    helpers: tuple[str, ...] = ()


HELPERS: dict[str, str] = {}
"""Source of helper definitions generated code may need, by name (registered by op files)."""


class Attrs(BaseModel):
    """Base of operator attribute models: unknown attributes are errors, and each field's
    docstring becomes its description in the docs and the JSON Schema (attached on demand by
    :func:`netspec.spec.docs.document`, so importing netspec never parses its own source)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        defer_build=True,
        arbitrary_types_allowed=True,
    )


def _plain(value: Any) -> Any:
    """``value`` with every :class:`Sym` in it (in lists and mappings too) replaced by its
    value, or ``UNKNOWN`` where one is not known."""
    if isinstance(value, Sym):
        return value.value if value.known else UNKNOWN
    if isinstance(value, tuple | list):
        items = [_plain(v) for v in value]
        return UNKNOWN if any(i is UNKNOWN for i in items) else type(value)(items)
    if isinstance(value, dict):
        pairs = [(_plain(k), _plain(v)) for k, v in value.items()]
        return UNKNOWN if any(UNKNOWN in pair for pair in pairs) else dict(pairs)
    return value


_COUNTS: dict[type, frozenset[str]] = {}
"""The fields of an attribute model that take a positive integer, by class."""


def _counts(cls: type[BaseModel]) -> frozenset[str]:
    """The fields of ``cls`` declared a positive integer alone (a count of channels, features
    or groups): strict ``int`` and ``> 0``, nothing else admitted."""
    known_ = _COUNTS.get(cls)
    if known_ is None:
        made = set()
        for name, info in cls.model_fields.items():
            marks = info.metadata
            strict = any(isinstance(m, Strict) and m.strict for m in marks)
            positive = any(isinstance(m, Gt) and m.gt == 0 for m in marks)
            if info.annotation is int and strict and positive:
                made.add(name)
        known_ = _COUNTS[cls] = frozenset(made)
    return known_


_HAS_INPLACE: dict[type, bool] = {}
"""Whether an attribute model has an ``inplace`` field, by class (see :meth:`Op.in_place`)."""


class Op:
    """An operator. Subclasses set the class attributes and override the rules they need."""

    name: ClassVar[str]
    """The name specs use: ``conv2d``."""
    Attrs: ClassVar[type[Attrs]]
    """The attribute model; field order is the positional order."""
    category: ClassVar[str] = "other"
    """Family, for docs and listings: conv, linear, norm, activation, pool, shape…"""
    module_name: ClassVar[str] = ""
    """The PyTorch class it builds, for docs (``nn.Conv2d``)."""
    module_form: ClassVar[bool] = True
    """Whether it can be a module; ``False``: only a call in a block's ``forward`` (``mul`` of
    a block's learned tensor)."""
    call_form: ClassVar[str] = "{module}({x})"
    """How ``forward`` calls the module on ``x``. Another form (``nn.MultiheadAttention``'s
    ``{module}({x}, {x}, {x}, need_weights=False)[0]``: it returns a tuple) is one an
    ``nn.Sequential`` cannot make, so such a layer stands named in a class's layers."""
    leaf: ClassVar[bool] = True
    """Whether the module has no child modules (``nn.MultiheadAttention`` holds
    ``out_proj``): PyTorch's leaf modules are those without children."""
    aliases_input: ClassVar[bool] = False
    """Whether its output may be its input or a view of it (identity, flatten, dropout in
    eval mode): an in-place operation after it writes into its input."""
    reads_ids: ClassVar[bool] = False
    """Whether its input is integer ids (``embedding``), rather than a floating-point tensor;
    the analysis refuses the other kind (``infer.apply``)."""
    keeps_ids: ClassVar[bool] = False
    """Whether it moves integer ids as they are (identity, views: flatten, reshape, permute),
    so that integer ids in are integer ids out; other operators compute on floats only."""

    def in_place(self, a: Any) -> bool:
        """Whether it overwrites its input (``inplace=true``)."""
        # asked of the attributes' class first, once per class: a lookup that fails on a
        # pydantic model raises and catches inside pydantic, and even `model_fields` goes
        # through a descriptor, at a cost every in-place check paid
        cls = type(a)
        has = _HAS_INPLACE.get(cls)
        if has is None:
            fields = getattr(cls, "model_fields", None)
            if fields is None:
                return bool(getattr(a, "inplace", False))
            has = _HAS_INPLACE[cls] = "inplace" in fields
        return has and bool(a.inplace)

    def passes_on(self, a: Any, training: bool) -> bool:
        """Whether, in training (or eval) mode, its output is its input or a view of it: an
        in-place layer after it writes into its input. :data:`aliases_input` is this in
        either mode; dropout passes its input on only in eval mode, or with ``p = 0``."""
        return self.aliases_input

    def writes_in_place(self, a: Any, training: bool) -> bool:
        """Whether, in training (or eval) mode, it overwrites its input: :meth:`in_place`,
        except where the mode makes it pass the input on untouched (in-place dropout writes
        only while training, with ``p > 0``)."""
        return self.in_place(a)

    def keeps_output(self, a: Any) -> bool:
        """Whether autograd keeps its output for the backward pass (``relu``'s gradient is
        read off its output, ``sigmoid``'s and ``softmax``'s computed from it): a layer after
        it that writes into that output in place makes training fail."""
        return False

    def keeps_input(self, a: Any) -> bool:
        """Whether autograd may keep its input for the backward pass (a convolution's weight
        gradient is computed from it): a later layer writing into that input in place makes
        training fail. True unless known otherwise (an activation whose gradient is read off
        its output, dropout, which keeps its mask)."""
        return True

    # -- rules ---------------------------------------------------------------------------------

    def infer(self, a: Any, x: Shape) -> Shape:
        """The output shape for input shape ``x``, or :class:`OpError`."""
        return x

    def tensors(self, a: Any, x: Shape) -> list[Tensor]:
        """The parameters and buffers the module owns, in state_dict order."""
        return []

    def macs(self, a: Any, x: Shape, y: Shape) -> int:
        """Multiply-adds in torchvision's convention: convolutions and matmuls only."""
        return 0

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        """Other arithmetic (bias, normalisation, activation, pooling), for ``--macs all``."""
        return 0

    def module(self, a: Any, x: Shape) -> PyCall:
        """The expression that constructs the PyTorch module."""
        raise NotImplementedError

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        """A call that replaces the module in a forward function, if the op needs no state."""
        return None

    def calls(self, a: Any, x: Shape, y: Shape) -> list[tuple[str, Shape]]:
        """For a module with children (``leaf`` false): the leaf modules its ``forward`` calls,
        each as its path under the module and its output shape (batch excluded), in call order
        (Swin's ``PatchMerging`` calls ``norm``, then ``reduction``). Children whose weights
        are used without calling them (``nn.MultiheadAttention``'s ``out_proj``) are not
        calls."""
        return []

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        """The textbook arithmetic behind the output shape and parameter count."""
        return []

    # -- derived ---------------------------------------------------------------------------------

    def positional(self) -> list[str]:
        """Attributes that may be given positionally, in order."""
        cached: list[str] | None = self.__dict__.get("_positional")
        if cached is None:
            cached = [
                name
                for name, info in self.Attrs.model_fields.items()
                if not any(isinstance(meta, KwOnly) for meta in info.metadata)
            ]
            self.__dict__["_positional"] = cached
        return cached

    def check_declared(self, declared: Any, found: Dim, what: str, x: Shape) -> None:
        """Fail if the spec states an input size (``in_channels=…``) the input does not have."""
        if (
            declared is not None
            and known(declared, found)
            and concrete(declared) != concrete(found)
        ):
            raise OpError(
                f"{self.name} expects {declared} {what}, but its input has {found}",
                hint=f"the input is {fmt_shape(x)}; {what} are inferred, so the layer before "
                "is not what this one expects",
            )

    def stateful(self, a: Any, x: Shape) -> bool:
        """Whether the module owns tensors (and so must be a named module, not a call)."""
        return bool(self.tensors(a, x))

    def validate(self, values: dict[str, Any]) -> Any:
        """Concrete attribute values → the validated attribute model, or :class:`OpError`."""
        try:
            return self.Attrs.model_validate(values)
        except ValidationError as exc:
            raise self._friendly(exc, values) from None

    def validate_traced(self, values: dict[str, Any]) -> Any:
        """:meth:`validate` for values among which are traced :class:`Sym`\\ s (known
        values, while :func:`~netspec.expr.evaluate.tracing`): a positive count stays
        symbolic, its tests recorded as guards (an integer, ``out_channels > 0``: see
        :func:`~netspec.expr.evaluate.counted`); any other traced value is read, which pins it
        to its value."""
        counts = _counts(self.Attrs)
        raw: dict[str, Any] = {}
        kept: dict[str, Any] = {}
        for key, value in values.items():
            if isinstance(value, Sym) and key in counts and value.known:
                if counted(value):  # (false: validate refuses it below)
                    kept[key] = value
                raw[key] = unread(value)
            else:
                raw[key] = _plain(value)
        attrs = self.validate(raw)
        return attrs.model_copy(update=kept) if kept else attrs

    def construct(self, values: dict[str, Any]) -> Any:
        """Attribute values that may be symbolic → an unvalidated attribute model."""
        return self.Attrs.model_construct(**values)

    def refusal(self, values: dict[str, Any]) -> OpError | None:
        """The error :meth:`validate` gives for the known values among ``values`` (symbolic
        ones, which generated code learns only when constructed, left out), or ``None``: what
        code the analysis did not reach at its values is refused for (a zero stride in a
        branch not taken)."""
        given = {}
        for key, value in values.items():
            plain = _plain(value)
            if plain is not UNKNOWN:
                given[key] = plain
        try:
            self.Attrs.model_validate(given)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                field_name = str(err["loc"][0]) if err["loc"] else ""
                if err["type"] == "missing" and field_name not in values:  # not given at all
                    return self._friendly_error(err, given)
                # a field known here, or a rule of several fields where every one is
                if err["type"] != "missing" and (
                    field_name in given or given.keys() == values.keys()
                ):
                    return self._friendly_error(err, given)
        return None

    def deferred(self, values: dict[str, Any]) -> list[Deferred]:
        """The checks of :class:`CheckedByClass` attributes among ``values`` that the generated
        class learns only when constructed (:meth:`refusal` leaves them out): each refused
        where check refuses it (the attribute's bounds, its choices), in check's words."""
        out = []
        for key, value in values.items():
            if isinstance(value, Sym) and not value.known:
                check = self._class_check(key, value)
                if check is not None:
                    out.append(check)
        return out

    def _class_check(self, key: str, value: Sym) -> Deferred | None:
        info = self.Attrs.model_fields.get(key)
        if info is None or not any(isinstance(meta, CheckedByClass) for meta in info.metadata):
            return None
        arms = _arms(info.annotation, tuple(info.metadata))
        none = any(base is type(None) for base, _ in arms)
        expr = value.expr
        test: n.Expr | None = None
        sample: Any = None
        words = [a for base, _ in arms if get_origin(base) is Literal for a in get_args(base)]
        if isinstance(value, SymText) and words:
            test = n.Compare(expr, ("not in",), (n.ListExpr(tuple(n.Const(w) for w in words)),))
            sample = "\x02"
        elif type(value) is Sym:
            for base, metadata in arms:
                if base in (int, float):
                    test, sample = _outside(expr, base, metadata)
                    break
        if test is None:
            return None
        if none and not isinstance(n.strip(expr), n.Binary | n.Unary | n.OpChain):
            # (arithmetic is never none)
            test = n.BoolOp("and", (n.Compare(expr, ("!=",), (n.Const(None),)), test))
        try:
            self.Attrs.model_validate({key: sample})
        except ValidationError as exc:
            errors = [e for e in exc.errors(include_url=False) if e["loc"][:1] == (key,)]
            error = self._friendly_error(errors[0], {key: sample})
        else:  # pragma: no cover - the sample fails the bounds it was made from
            return None
        found = ", found " + show(sample)
        if not error.message.endswith(found):  # pragma: no cover - every message ends so
            return None
        with as_fields() as fields:
            message = error.message.removesuffix(show(sample)) + show(value)
        return Deferred(test, OpError(message, error.hint, key), tuple(fields))

    def _friendly(self, exc: ValidationError, values: dict[str, Any]) -> OpError:
        return self._friendly_error(exc.errors(include_url=False)[0], values)

    def _friendly_error(self, err: Any, values: dict[str, Any]) -> OpError:
        field_name = str(err["loc"][0]) if err["loc"] else ""
        info = self.Attrs.model_fields.get(field_name)
        if err["type"] == "extra_forbidden":
            from netspec.errors import choices_hint

            return OpError(
                f"{self.name} has no attribute {field_name!r}",
                hint=choices_hint(field_name, self.Attrs.model_fields, "attributes"),
                attr=field_name,
                key=True,
            )
        if err["type"] == "missing":
            return OpError(
                f"{self.name} needs {field_name} ({_expect(info)})",
                hint=f"e.g. {self.name}({', '.join(self._required())})",
                attr=field_name,
            )
        value = values.get(field_name, err.get("input"))
        message = err.get("msg", "")
        if err["type"] in ("value_error", "assertion_error"):
            detail = str(message).removeprefix("Value error, ").removeprefix("Assertion failed, ")
            return OpError(
                f"{self.name}: {field_name} {detail}, found {show(value)}", attr=field_name
            )
        if (
            err["type"] == "literal_error"
            and isinstance(value, str)
            and _expect(info) == "a valid value"  # a word of a few, said no other way
        ):
            from netspec.errors import choices_hint

            options = [a for a in get_args(info.annotation) if isinstance(a, str)] if info else []
            return OpError(
                f"{self.name}: {field_name} expects {err['ctx']['expected']}, found {show(value)}",
                hint=choices_hint(value, options, "values"),
                attr=field_name,
            )
        return OpError(
            f"{self.name}: {field_name} expects {_expect(info)}, found {show(value)}",
            attr=field_name,
        )

    def _required(self) -> list[str]:
        return [name for name, required, _ in self._fields() if required]

    def describe(self, a: Any) -> str:
        """The call as a spec would write it, defaults left out: ``conv2d(64, 3, padding=1)``."""
        from netspec.expr.evaluate import show as show_value

        parts: list[str] = []
        for name, required, default in self._fields():
            value = getattr(a, name)
            if required:
                parts.append(show_value(value))
            elif value != default or isinstance(value, bool) != isinstance(default, bool):
                parts.append(f"{name}={show_value(value)}")
        return f"{self.name}({', '.join(parts)})" if parts else self.name

    def _fields(self) -> list[tuple[str, bool, Any]]:
        """The attributes in declaration order: name, whether required, default."""
        cached: list[tuple[str, bool, Any]] | None = self.__dict__.get("_field_table")
        if cached is None:
            cached = [
                (name, info.is_required(), info.default)
                for name, info in self.Attrs.model_fields.items()
            ]
            self.__dict__["_field_table"] = cached
        return cached

    def kwargs(self, a: Any, skip: Sequence[str] = ()) -> tuple[tuple[str, Any], ...]:
        """Non-default attributes as keyword arguments, in declaration order."""
        out: list[tuple[str, Any]] = []
        for name, info in self.Attrs.model_fields.items():
            if (
                name in skip
                or info.is_required()
                or any(isinstance(x, KwOnly) for x in info.metadata)
            ):
                continue
            value = getattr(a, name)
            if (
                isinstance(value, Sym)
                or value != info.default
                or type(value) is not type(info.default)
            ):
                if not (isinstance(value, Sym) and value.known and value.value == info.default):
                    out.append((name, value))
        return tuple(out)


def _arms(annotation: Any, metadata: tuple[Any, ...]) -> list[tuple[Any, tuple[Any, ...]]]:
    """The kinds of value an attribute's annotation admits, each with its metadata: ``int``
    with ``Gt(0)``, ``NoneType``, ``Literal['a', 'b']``, ``tuple[...]``."""
    if get_origin(annotation) is Annotated:
        base, *more = get_args(annotation)
        return _arms(base, (*metadata, *more))
    if get_origin(annotation) in (Union, UnionType):
        return [arm for a in get_args(annotation) for arm in _arms(a, metadata)]
    return [(annotation, metadata)]


_FAILS = {Gt: "<=", Ge: "<", Lt: ">=", Le: ">"}
"""Each bound's test of the values it refuses."""
_HOLDS = {Gt: ">", Ge: ">=", Lt: "<", Le: "<="}
"""Each bound's test of the values it takes."""


def _outside(expr: n.Expr, base: type, metadata: tuple[Any, ...]) -> tuple[n.Expr | None, Any]:
    """A test true exactly where ``base``'s bounds in ``metadata`` refuse the value ``expr``
    (an integer's bounds inverted, a number's negated: ``not eps > 0`` refuses NaN, as check
    does), and a value they refuse; ``None`` where there are no bounds."""
    bounds = [(type(m), m) for m in metadata if type(m) in _FAILS]
    if not bounds:
        return None, None
    kind, first = bounds[0]
    limit = base(getattr(first, kind.__name__.lower()))
    sample = limit - 1 if kind is Ge else limit + 1 if kind is Le else limit
    if base is int:
        tests = [
            n.Compare(expr, (_FAILS[k],), (n.Const(getattr(m, k.__name__.lower())),))
            for k, m in bounds
        ]
        return (tests[0] if len(tests) == 1 else n.BoolOp("or", tuple(tests))), sample
    holds = [
        n.Compare(expr, (_HOLDS[k],), (n.Const(float(getattr(m, k.__name__.lower()))),))
        for k, m in bounds
    ]
    return n.Not(holds[0] if len(holds) == 1 else n.BoolOp("and", tuple(holds))), sample


def _expect(info: Any) -> str:
    if info is None:
        return "a valid value"
    for meta in info.metadata:
        if isinstance(meta, Expect):
            return meta.words
    ann = info.annotation
    words = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return words.get(ann, "a valid value")


REGISTRY: dict[str, Op] = {}


def register(cls: type[Op]) -> type[Op]:
    """Class decorator: add an operator to the registry under ``cls.name``."""
    if cls.name in REGISTRY:  # pragma: no cover - a programming error caught by the tests
        raise RuntimeError(f"operator {cls.name!r} is declared twice")
    REGISTRY[cls.name] = cls()
    return cls


# -- small helpers the rules share --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dims:
    """How an op names the dimensions it expects, for messages: ``channels × height × width``."""

    names: tuple[str, ...]
    labels: dict[int, str] = field(default_factory=dict)

    def words(self) -> str:
        return " × ".join(self.names)


def numel(shape: Shape) -> Any:
    """The number of elements of ``shape`` (a visible product when symbolic)."""
    return product(shape)


def fmt_shape(shape: Shape) -> str:
    """``3×224×224`` (symbolic dimensions rendered as expressions)."""
    return "×".join(show(d) for d in shape) if shape else "scalar"


def require_rank(op: str, x: Shape, ranks: Sequence[int], layout: str) -> None:
    """Fail unless ``x`` has one of ``ranks`` dimensions (batch excluded)."""
    if len(x) not in ranks:
        want = " or ".join(f"{r}-d" for r in ranks)
        raise OpError(
            f"{op} expects a {want} input ({layout}), found {fmt_shape(x)} ({len(x)}-d)",
            hint=_rank_hint(op, len(x), ranks),
        )


def _rank_hint(op: str, found: int, ranks: Sequence[int]) -> str | None:
    """What a layer given a tensor of the wrong rank may have meant: the same operator for
    that many spatial dimensions (``conv3d`` for C×D×H×W), else a ``flatten`` missing or too
    early."""
    variant = re.sub(r"[123]d$", f"{found - 1}d", op) if re.search(r"[123]d$", op) else None
    if variant is not None and variant != op and variant in REGISTRY:
        return f"for a {found}-d input use {variant}"
    if found < min(ranks):
        early = "; is a flatten too early?" if found == 1 else ""
        return f"the input has fewer dimensions than this layer needs{early}"
    if found > max(ranks):
        return "flatten the input first (e.g. `flatten` before a linear layer)"
    return None


def positive(value: Any) -> bool:
    return not known(value) or (value if not isinstance(value, Sym) else value.value) > 0


def require_divides(op: str, attr: str, part: Any, whole: Any, what: str, note: str = "") -> None:
    """Attribute ``attr`` (``part``) must divide ``whole``, the input's ``what`` (attention
    heads the channels), where both are known: else an error with ``whole``'s divisors
    (``note`` added to the hint)."""
    if known(whole, part) and whole % part:  # (a traced size's remainder is decided)
        raise OpError(
            f"{op}: {attr}={concrete(part)} must divide the {what} {concrete(whole)}",
            hint=divisors_hint(concrete(whole)) + note,
            attr=attr,
        )


def divisors_hint(c: int) -> str:
    """``divisors of 12: 1, 2, 3, 4, 6, 12`` (the first sixteen), for a ``groups`` error."""
    divisors = [d for d in range(1, min(c, 4096) + 1) if c % d == 0]
    shown = ", ".join(str(d) for d in divisors[:16]) + (", …" if len(divisors) > 16 else "")
    return f"divisors of {c}: {shown}"


def items(value: Any) -> tuple[Any, ...]:
    """The entries of a list attribute (``dims``, ``shape``), each symbolic where the list is.

    A list whose length is not known (a symbolic value that is not a list literal) raises
    :class:`SymbolicError`: the rank of the result depends on it.
    """
    if isinstance(value, Sym):
        inner = concrete(value)
        if isinstance(value.expr, n.ListExpr):
            if isinstance(inner, tuple):
                return tuple(Sym(e, v) for e, v in zip(value.expr.items, inner, strict=True))
            # the list is partly unknown: its literal entries are still known
            return tuple(_entry(e) for e in value.expr.items)
        if isinstance(inner, tuple):
            return tuple(Sym(n.Index(value.expr, n.Const(i)), v) for i, v in enumerate(inner))
        raise SymbolicError(value)
    if isinstance(value, tuple | list):
        return tuple(value)
    return (value,)


def _entry(expr: n.Expr) -> Any:
    """An entry of a partly unknown list: its value where it reads no names (``-1``)."""
    if n.free_names(expr):
        return Sym(expr)
    try:
        value = evaluate(expr, Scope({}))
    except NetspecError:  # it reads the input shape, say
        return Sym(expr)
    return value if isinstance(value, Sym) else Sym(expr, value)


def indices(value: Any) -> tuple[int, ...]:
    """The entries of a list attribute as integers (:class:`SymbolicError` if one is unknown)."""
    return tuple(operator.index(v) for v in items(value))


def known_int(value: Any) -> int:
    """An integer attribute whose value a rule needs (a dimension to index): its value, or
    :class:`SymbolicError` where generated code cannot know it before it runs."""
    if not known(value):
        raise SymbolicError(value)
    return operator.index(concrete(value))
