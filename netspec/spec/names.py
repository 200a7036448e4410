"""Which names a spec may give: parameters, ``let`` values and layers.

Names in a spec become Python names in generated source (constructor arguments, locals,
module attributes), so they must be identifiers that cannot shadow or break anything there.
"""

from __future__ import annotations

import keyword
import re

from netspec.errors import Span, SpecError
from netspec.expr.evaluate import BUILTINS

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

CONSTANTS = frozenset({"true", "false", "none", "True", "False", "None"})
"""Names the expression language reads as constants."""

GENERATED = frozenset(
    {"self", "x", "nn", "F", "torch", "math", "super", "in", "Any", "OrderedDict", "ValueError"}
    # Python's built-in functions generated source calls (those expressions call are BUILTINS)
    | {"tuple", "list", "dict", "set", "str", "bool", "type", "repr", "vars", "isinstance"}
    | {"setattr", "getattr", "hasattr", "iter", "next", "slice", "object", "print"}
)
"""Names generated source uses itself."""

MODULE_ATTRIBUTES = frozenset(
    """T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda
    double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
    get_submodule half ipu load_state_dict modules mtia named_buffers named_children
    named_modules named_parameters parameters register_backward_hook register_buffer
    register_forward_hook register_forward_pre_hook register_full_backward_hook
    register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state
    set_submodule share_memory state_dict to to_empty train training type xpu zero_grad""".split()
)
"""Attributes of ``torch.nn.Module``; a layer with one of these names would break the model."""


def is_identifier(name: str) -> bool:
    return bool(_IDENTIFIER.fullmatch(name)) and not keyword.iskeyword(name)


def check_value_name(name: str, what: str, span: Span | None, where: str) -> None:
    """Check the name of a parameter, ``let`` value or loop variable.

    Raises:
        SpecError: the name is not an identifier, or is reserved.
    """
    problem = None
    if not _IDENTIFIER.fullmatch(name):
        problem = "is not a valid name (ASCII letters, digits and _, not starting with a digit)"
    elif keyword.iskeyword(name):
        problem = "is a Python keyword"
    elif name in CONSTANTS:
        problem = "is a constant of the expression language"
    elif name in BUILTINS:
        problem = f"would hide the built-in function {name}()"
    elif name in GENERATED:
        problem = "is reserved for generated code"
    elif name.startswith("__"):
        problem = "starts with a double underscore"
    else:
        from netspec import ops

        if name in ops.HELPERS:  # a constructor argument or local would hide the helper
            problem = "is the name of a class or function generated code defines"
    if problem:
        raise SpecError(f"{what} {name!r} {problem}", span, where, hint="choose another name")


_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*")
"""A layer name of a named sequence, where it is a key of ``nn.Sequential(OrderedDict)`` and
may hold ``-`` (RegNet's ``block1-0``); a class's layers are attributes: identifiers."""


def check_layer_name(name: str, span: Span | None, where: str) -> None:
    """Check a layer name (a module attribute in the built model, or a key of a named
    sequence: ``-`` is allowed here, and refused by the expander in a class).

    Raises:
        SpecError: the name cannot be a module attribute.
    """
    problem = None
    if name.isascii() and name.isdigit():
        raise SpecError(
            f"layer name {name!r} is a number",
            span,
            where,
            hint="leave the layers of a list unnamed to have them numbered 0, 1, 2…",
        )
    if not _IDENTIFIER.fullmatch(name) and not _KEY.fullmatch(name):
        problem = (
            "is not a valid layer name (ASCII letters, digits and _, not starting with a digit; "
            "- between them in a named sequence)"
        )
    elif keyword.iskeyword(name):
        problem = "is a Python keyword"
    elif name.startswith("_"):
        problem = "starts with an underscore (reserved for PyTorch internals)"
    elif name in MODULE_ATTRIBUTES:
        problem = "is an attribute of torch.nn.Module and would break the model"
    elif name in CONSTANTS or name in GENERATED:
        problem = "is reserved"
    if problem:
        raise SpecError(f"layer name {name!r} {problem}", span, where, hint="choose another name")


def check_block_name(name: str, span: Span | None) -> None:
    """Check a block's name: an identifier that is neither an operator nor reserved.

    Raises:
        SpecError: the name cannot name a block.
    """
    from netspec import ops

    problem = None
    if not _IDENTIFIER.fullmatch(name) or keyword.iskeyword(name):
        problem = "is not a valid block name (a Python identifier, CamelCase by convention)"
    elif ops.get(name) is not None:
        problem = "is the name of an operator"
    elif name in ("stage",) or name in CONSTANTS or name in GENERATED or name in BUILTINS:
        problem = "is reserved"
    elif name in ops.HELPERS:
        problem = "is the name of a class generated code defines"
    elif name.startswith("_"):
        problem = "starts with an underscore"
    if problem:
        raise SpecError(
            f"block name {name!r} {problem}", span, f"blocks.{name}", hint="choose another name"
        )


def class_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a generated class (``None``: it can)."""
    if not _IDENTIFIER.fullmatch(name):
        return "is not a Python identifier"
    if keyword.iskeyword(name):
        return "is a Python keyword"
    if name in GENERATED or name in BUILTINS or name in CONSTANTS:
        return "is a name generated code uses"
    if name.startswith("__"):  # `class __builtins__` or `__name__` would break the module
        return "starts with a double underscore"
    from netspec import ops

    if name in ops.HELPERS:
        return "is the name of a class generated code defines"
    return None
