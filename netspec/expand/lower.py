"""Lowering: what each construct of a block means, decided once.

A block in a spec is written with keys — ``body``, ``shortcut`` (``when``, ``project``),
``residual``, ``branches``, ``merge``, ``then`` — whose meaning is a small dataflow program
over named tensors: *paths* (layer lists applied to one tensor, giving another) and *merges*
(an operator from :data:`~netspec.ops.merge.MERGES` joining several tensors), each optionally
guarded by conditions on the block's values. :func:`lower_block` writes that program, and
:func:`block_kind` the container a block becomes.

Both back ends consume the lowered form and nothing else of a block's keys: the expander
(:mod:`netspec.expand.expander`) interprets it at concrete values — the static analysis — and
the Python back end (:mod:`netspec.backends.python.emit`) prints it as ``__init__`` and
``forward``. So a residual ``merge: concat`` (a dense connection, ``cat([x, body(x)])``) means
the same to ``check``, ``build`` and ``codegen``, because it is written here only.

Tensors are named by the variables generated code uses for them: ``x`` the block's input,
``out`` the output of the body and of the merge in a block with a merge (a block without one
carries ``x`` through), ``identity`` the projected shortcut, a branch by its name. A name may
be assigned again (``out``), so consumers that track values number them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from netspec.spec import models as m

IN = "x"
"""The block's input tensor."""
OUT = "out"
"""The tensor the body (and a merge) produce in a block with paths."""
IDENTITY = "identity"
"""The projected shortcut."""

Role = Literal["body", "shortcut", "branch", "then"]
ContainerKind = Literal["sequential", "module", "class"]
"""How a layer list is built:

- ``sequential``: ``nn.Sequential`` of unnamed layers, children named ``0, 1, 2…``;
- ``module``: ``nn.Sequential`` of named layers (an ``OrderedDict``), every child named;
- ``class``: a module class with a ``forward`` — the top of a network that names its layers —
  where unnamed stateless layers are function calls and a stateless layer may be called twice.
"""


def has_names(entries: Sequence[Any]) -> bool:
    """Whether a layer list names any of its layers (looking through loops and conditions)."""
    return bool(layer_names(entries))


def layer_names(entries: Sequence[Any]) -> set[str]:
    """The names a layer list gives (through loops and conditions, not nested lists)."""
    out: set[str] = set()
    for entry in entries:
        if isinstance(entry, m.NamedEntry):
            out.add(entry.name.text)
        elif isinstance(entry, m.ForEntry | m.RepeatEntry):
            out |= layer_names(entry.do)
        elif isinstance(entry, m.IfEntry):
            out |= layer_names(entry.then) | layer_names(entry.else_)
    return out


def container_kind(entries: Sequence[Any], top: bool) -> ContainerKind:
    """The kind of container a layer list becomes (see :data:`ContainerKind`), decided from
    the spec's text so that every parameter value builds the same kind."""
    if not has_names(entries):
        return "sequential"
    return "class" if top else "module"


@dataclass(frozen=True, slots=True)
class Path:
    """Layers applied to tensor ``src``, giving tensor ``dst``.

    With ``module`` ``None`` the layers are the block's own children (their names are the
    block's attributes); otherwise they form one child module of that name (a branch, the
    shortcut's projection). Where a condition of ``when`` is false, the path does not exist
    (no module) and ``dst`` is ``src``.
    """

    role: Role
    src: str
    dst: str
    entries: Sequence[Any]
    module: str | None = None
    value: Any = None
    """The spec's value for a ``module`` path (a layer or a list of layers)."""
    when: tuple[tuple[str, m.Expression], ...] = ()
    """Conditions, each with the key it is written under (for messages)."""
    anchor: m.Node | None = None
    key: str = "body"
    """Where the path is written: ``anchor.key_span(key)``."""


@dataclass(frozen=True, slots=True)
class Join:
    """``dst = merge(inputs…)``; where a condition of ``when`` is false, ``dst`` is
    ``otherwise``."""

    merge: str
    """A name in :data:`~netspec.ops.merge.MERGES`."""
    inputs: tuple[str, ...]
    labels: tuple[str, ...]
    """What each input is, for messages (``body``, ``shortcut``, a branch's name)."""
    dst: str
    otherwise: str
    when: tuple[tuple[str, m.Expression], ...] = ()
    key: str = "shortcut"
    """The block key an error in the merge is reported at."""
    hint: str | None = None
    """What to do when the shapes do not merge (``None``: the merge's own hint)."""


Step = Path | Join


@dataclass(frozen=True, slots=True)
class Lowered:
    """A block as a dataflow program: its steps in order and the tensor it returns."""

    kind: Literal["sequential", "class"]
    """``sequential``: a plain list of unnamed layers (an ``nn.Sequential``, children ``0, 1,
    2…``); ``class``: a module class with a ``forward``."""
    steps: tuple[Step, ...]
    output: str


def stage_arguments(block: m.BlockDef, values: dict[str, Any], index: int) -> dict[str, Any]:
    """The arguments ``stage(Block, depth=n, **values)`` gives its block number ``index``: all
    of them to the first, those not in ``first_only`` to the rest."""
    if index == 0:
        return values
    return {k: v for k, v in values.items() if k not in block.first_only}


def block_kind(block: m.BlockDef) -> Literal["sequential", "class"]:
    """A block is an ``nn.Sequential`` exactly when it is an unnamed list of layers with no
    paths to join; decided from the spec's text, so every parameter value builds the same
    kind of container."""
    joined = block.branches is not None or block.shortcut is not None
    if joined or block.residual is not None or has_names(block.body) or has_names(block.then):
        return "class"
    return "sequential"


def lower_block(block: m.BlockDef) -> Lowered:
    """The dataflow program of ``block`` (see the module docstring)."""
    kind = block_kind(block)
    steps: list[Step] = []
    if block.branches is not None:
        names = tuple(block.branches)
        tensors: list[str] = []
        for name, value in block.branches.items():
            entries = value if isinstance(value, list) else [value]
            tensor = f"branch {name}"  # never one of the names above
            steps.append(Path("branch", IN, tensor, entries, name, value, (), block, "branches"))
            tensors.append(tensor)
        merge = block.merge or "concat"
        steps.append(Join(merge, tuple(tensors), names, OUT, OUT, key="branches"))
        current = OUT
    elif block.shortcut is not None or block.residual is not None:
        residual = (("residual", block.residual),) if block.residual is not None else ()
        steps.append(Path("body", IN, OUT, block.body))
        identity = IN
        sc = block.shortcut
        if sc is not None and sc.project is not None:
            when = residual + ((("shortcut.when", sc.when),) if sc.when is not None else ())
            steps.append(
                Path("shortcut", IN, IDENTITY, sc.project, sc.name, sc.project, when, sc, "project")
            )
            identity = IDENTITY
        merge = block.merge or "add"
        key, side = ("shortcut", "shortcut") if sc is not None else ("residual", "input")
        # a dense connection keeps the input's channels first, as torch.cat([x, f(x)], 1)
        pair = ((identity, OUT), (side, "body"))
        if merge != "concat":
            pair = ((OUT, identity), ("body", side))
        hint = None
        if merge == "add":
            hint = (
                "project the shortcut (shortcut: {when: …, project: [conv2d(…, 1), "
                "batchnorm2d]}) or fix the body"
            )
        steps.append(Join(merge, pair[0], pair[1], OUT, OUT, residual, key, hint))
        current = OUT
    else:
        steps.append(Path("body", IN, IN, block.body))
        current = IN
    if block.then:
        steps.append(Path("then", current, current, block.then, anchor=block, key="then"))
    return Lowered(kind, tuple(steps), current)
