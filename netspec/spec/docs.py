"""Field documentation from attribute docstrings, attached when documentation is wanted.

Spec models and operator attributes document each field with a docstring under it. pydantic can
read those itself (``use_attribute_docstrings``), but only by parsing each class's source as the
class is created — a cost every ``netspec`` process would pay. Here the same docstrings are read
once per source file, and only by the commands that show them (the JSON Schema, the docs).
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Iterable

from pydantic import BaseModel


@functools.cache
def _module_docstrings(path: str) -> dict[tuple[str, str], str]:
    """``(class name, attribute) → docstring`` for every class in one source file."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    out: dict[tuple[str, str], str] = {}
    for cls in ast.walk(tree):
        if not isinstance(cls, ast.ClassDef):
            continue
        body = cls.body
        for stmt, following in zip(body, body[1:], strict=False):
            target = None
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                target = stmt.target.id
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                if isinstance(stmt.targets[0], ast.Name):
                    target = stmt.targets[0].id
            if (
                target is not None
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                out[(cls.name, target)] = inspect.cleandoc(following.value.value)
    return out


def docstrings(model: type[BaseModel]) -> dict[str, str]:
    """The attribute docstrings of ``model``'s fields (its bases' included)."""
    out: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        try:
            path = inspect.getsourcefile(cls)
        except TypeError:  # pragma: no cover - built-in or dynamic classes
            continue
        if path is None:  # pragma: no cover
            continue
        table = _module_docstrings(path)
        for name in cls.__dict__.get("__annotations__", {}):
            doc = table.get((cls.__name__, name))
            if doc:
                out[name] = doc
    return out


def document(models: Iterable[type[BaseModel]]) -> None:
    """Set each field's ``description`` from its docstring, where it has none yet."""
    for model in models:
        docs = docstrings(model)
        changed = False
        for name, info in model.model_fields.items():
            if info.description is None and name in docs:
                info.description = textwrap.dedent(docs[name]).strip()
                changed = True
        if changed:
            model.model_rebuild(force=True)
