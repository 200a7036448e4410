"""The operator registry: one declaration per operator, one file per family.

Every module of this package is imported here, so adding an operator means adding (or
editing) one file; nothing else in netspec names an operator.
"""

from __future__ import annotations

import importlib
import pkgutil

from netspec.ops.base import HELPERS, REGISTRY, Op, OpError, PyCall, Shape, Tensor

_SUPPORT = {"base", "fields", "spatial"}

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name not in _SUPPORT:
        importlib.import_module(f"{__name__}.{_info.name}")


def get(name: str) -> Op | None:
    """The operator called ``name``, or ``None``."""
    return REGISTRY.get(name)


def names() -> list[str]:
    """Every operator name, sorted."""
    return sorted(REGISTRY)


__all__ = ["HELPERS", "REGISTRY", "Op", "OpError", "PyCall", "Shape", "Tensor", "get", "names"]
