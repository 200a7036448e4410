"""Name rules (netspec.spec.names): value, layer, block and class names.

Names in a spec become Python names in generated source, so each check must accept only
ASCII identifiers that cannot shadow, break or be confused with anything generated code uses,
and every rejection must say why.
"""

from __future__ import annotations

import keyword
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netspec import ops
from netspec.errors import Source, Span, SpecError
from netspec.expr.evaluate import BUILTINS
from netspec.spec.load import load_text
from netspec.spec.names import (
    CONSTANTS,
    GENERATED,
    MODULE_ATTRIBUTES,
    check_block_name,
    check_layer_name,
    check_value_name,
    class_name_problem,
    is_identifier,
)

SPAN = Span(Source("names.yaml", "x: 1\n"), 3, 7)
HEAD = "netspec: 1\nname: t\ninput: [3, 8, 8]\n"

VALUE_REASONS = (
    "is not a valid name (ASCII letters, digits and _, not starting with a digit)",
    "is a Python keyword",
    "is a constant of the expression language",
    "would hide the built-in function ",
    "is reserved for generated code",
    "starts with a double underscore",
)
LAYER_REASONS = (
    "is a number",
    "is not a valid layer name (ASCII letters, digits and _, not starting with a digit",
    "is a Python keyword",
    "starts with an underscore (reserved for PyTorch internals)",
    "is an attribute of torch.nn.Module and would break the model",
    "is reserved",
)
BLOCK_REASONS = (
    "is not a valid block name (a Python identifier, CamelCase by convention)",
    "is the name of an operator",
    "is reserved",
    "is the name of a class generated code defines",
    "starts with an underscore",
)

# Letters that look like ASCII but are not: Cyrillic a/e/o, Greek omicron, fullwidth A, the
# "fi" ligature (NFKC-normalised by Python to "fi"), a zero-width space, a non-breaking space.
LOOK_ALIKES = [
    "\u0430lpha",  # Cyrillic а
    "d\u0435pth",  # Cyrillic е
    "c\u043env",  # Cyrillic о
    "p\u03bfol",  # Greek ο
    "\uff21",  # fullwidth Ａ
    "\ufb01lter",  # ﬁ ligature: Python would read it as `filter`
    "x\u200b",  # zero-width space
    "a\u00a0b",  # no-break space
    "caf\u00e9",  # é: a valid Python identifier, but not ASCII
]


def value_error(name: str, what: str = "parameter") -> SpecError:
    with pytest.raises(SpecError) as info:
        check_value_name(name, what, SPAN, f"params.{name}")
    return info.value


def layer_error(name: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        check_layer_name(name, SPAN, "features.conv")
    return info.value


def block_error(name: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        check_block_name(name, SPAN)
    return info.value


def load_error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_text(text, "n.yaml")
    return info.value


# ---------------------------------------------------------------------------------------------
# value names: parameters, let names, loop variables, block parameters


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("1a", "is not a valid name (ASCII letters, digits and _, not starting with a digit)"),
        ("a-b", "is not a valid name"),
        ("a b", "is not a valid name"),
        ("", "is not a valid name"),
        ("a\n", "is not a valid name"),
        ("lambda", "is a Python keyword"),
        ("None", "is a Python keyword"),
        ("True", "is a Python keyword"),
        ("true", "is a constant of the expression language"),
        ("none", "is a constant of the expression language"),
        ("max", "would hide the built-in function max()"),
        ("make_divisible", "would hide the built-in function make_divisible()"),
        ("self", "is reserved for generated code"),
        ("x", "is reserved for generated code"),
        ("OrderedDict", "is reserved for generated code"),
        # built-in functions the generated class calls: `tuple = tuple(tuple)` failed
        ("tuple", "is reserved for generated code"),
        ("setattr", "is reserved for generated code"),
        ("__depth", "starts with a double underscore"),
        ("__init__", "starts with a double underscore"),
    ],
)
def test_value_name_rejections_say_why(name: str, reason: str) -> None:
    error = value_error(name)
    assert error.message.startswith(f"parameter {name!r} {reason}")
    assert error.hint == "choose another name"
    assert error.span is SPAN and error.where == f"params.{name}"


@pytest.mark.parametrize("what", ["parameter", "let name", "loop variable", "block parameter"])
def test_value_name_message_names_what_it_is(what: str) -> None:
    assert value_error("class", what).message == f"{what} 'class' is a Python keyword"


@pytest.mark.parametrize(
    "name", ["depth", "_private", "_", "a1", "num_classes", "X", "stage", "relu", "in_", "F1"]
)
def test_value_names_accepted(name: str) -> None:
    check_value_name(name, "parameter", None, "params")  # no exception


def test_every_builtin_constant_and_generated_name_is_refused_as_a_value_name() -> None:
    for name in BUILTINS:
        assert value_error(name).message.endswith(f"would hide the built-in function {name}()")
    for name in CONSTANTS - set(keyword.kwlist):
        assert value_error(name).message.endswith("is a constant of the expression language")
    for name in GENERATED - set(keyword.kwlist):
        assert value_error(name).message.endswith("is reserved for generated code")


@pytest.mark.parametrize("name", LOOK_ALIKES)
def test_unicode_look_alikes_are_refused_everywhere(name: str) -> None:
    assert "is not a valid name" in value_error(name).message
    assert "is not a valid layer name" in layer_error(name).message
    assert "is not a valid block name" in block_error(name).message
    assert class_name_problem(name) == "is not a Python identifier"
    assert not is_identifier(name)


_NAME_CHARS = string.ascii_letters + string.digits + "_"
names_like = st.one_of(
    st.text(alphabet=_NAME_CHARS, max_size=12),
    st.text(max_size=8),
    st.sampled_from(
        sorted(
            set(keyword.kwlist)
            | set(keyword.softkwlist)
            | CONSTANTS
            | GENERATED
            | set(BUILTINS)
            | MODULE_ATTRIBUTES
            | {"__x", "__init__", "_", "_x", "stage", "0", "12"}
        )
    ),
    st.sampled_from(LOOK_ALIKES),
)


@given(names_like)
def test_value_name_property(name: str) -> None:
    """An accepted value name is an ASCII identifier that Python and the expression language
    both read as a plain name; a refused one gets a message giving the reason."""
    try:
        check_value_name(name, "let name", SPAN, "let")
    except SpecError as exc:
        assert exc.message.startswith(f"let name {name!r} ")
        assert any(reason in exc.message for reason in VALUE_REASONS), exc.message
        assert exc.hint == "choose another name" and exc.span is SPAN and exc.where == "let"
        return
    assert name.isidentifier() and name.isascii()
    assert not keyword.iskeyword(name)
    assert name not in CONSTANTS and name not in BUILTINS and name not in GENERATED
    assert not name.startswith("__")
    assert is_identifier(name)
    compile(f"{name} = 1", "<name>", "exec")  # usable as a Python local


# ---------------------------------------------------------------------------------------------
# layer names


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("0", "is a number"),
        ("12", "is a number"),
        ("0conv", "is not a valid layer name (ASCII letters, digits and _, not starting with a"),
        ("conv-", "is not a valid layer name"),
        ("-conv", "is not a valid layer name"),
        ("conv.1", "is not a valid layer name"),
        ("def", "is a Python keyword"),
        ("_conv", "starts with an underscore (reserved for PyTorch internals)"),
        ("__dict__", "starts with an underscore"),
        ("forward", "is an attribute of torch.nn.Module and would break the model"),
        ("parameters", "is an attribute of torch.nn.Module"),
        ("T_destination", "is an attribute of torch.nn.Module"),
        ("none", "is reserved"),
        ("true", "is reserved"),
        ("self", "is reserved"),
        ("torch", "is reserved"),
        ("F", "is reserved"),
    ],
)
def test_layer_name_rejections_say_why(name: str, reason: str) -> None:
    error = layer_error(name)
    assert error.message.startswith(f"layer name {name!r} {reason}")
    assert error.span is SPAN and error.where == "features.conv"
    if reason == "is a number":
        assert error.hint == "leave the layers of a list unnamed to have them numbered 0, 1, 2…"
    else:
        assert error.hint == "choose another name"


@pytest.mark.parametrize("name", ["conv1", "features", "fc", "layer4", "x1", "max", "stage"])
def test_layer_names_accepted(name: str) -> None:
    check_layer_name(name, None, name)


@pytest.mark.parametrize("name", ["\u00b2", "\u0663"])  # superscript two, Arabic-Indic three
def test_non_ascii_digits_are_not_called_numbers(name: str) -> None:
    # BUG: str.isdigit() is true for these, so the message calls them numbers and hints that
    # unnamed layers are numbered 0, 1, 2…, though they are simply not valid names.
    assert "is not a valid layer name" in layer_error(name).message


def test_module_attributes_cover_torch_nn_module() -> None:
    torch = pytest.importorskip("torch")
    public = {a for a in dir(torch.nn.Module()) if not a.startswith("_")}
    assert public <= MODULE_ATTRIBUTES, sorted(public - MODULE_ATTRIBUTES)
    for name in sorted(public):
        assert "torch.nn.Module" in layer_error(name).message


@given(names_like)
def test_layer_name_property(name: str) -> None:
    try:
        check_layer_name(name, SPAN, "net")
    except SpecError as exc:
        assert exc.message.startswith(f"layer name {name!r} ")
        assert any(reason in exc.message for reason in LAYER_REASONS), exc.message
        assert exc.span is SPAN and exc.where == "net" and exc.hint
        return
    # an identifier, or a key of a named sequence: identifiers joined by - (block1-0)
    assert all(part.isidentifier() or part.isalnum() for part in name.split("-"))
    assert name.isascii() and name[0].isidentifier() and not keyword.iskeyword(name)
    assert not name.startswith("_")
    assert name not in MODULE_ATTRIBUTES and name not in CONSTANTS and name not in GENERATED


@given(st.text(alphabet=_NAME_CHARS, min_size=1, max_size=12))
def test_accepted_layer_names_are_safe_module_attributes(name: str) -> None:
    """Registering a submodule under an accepted name neither fails nor replaces anything
    that nn.Module defines."""
    torch = pytest.importorskip("torch")
    try:
        check_layer_name(name, None, name)
    except SpecError:
        return
    module = torch.nn.Module()
    assert not hasattr(module, name)
    child = torch.nn.Identity()
    module.add_module(name, child)
    assert getattr(module, name) is child
    assert dict(module.named_children()) == {name: child}


# ---------------------------------------------------------------------------------------------
# block names


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("1Block", "is not a valid block name (a Python identifier, CamelCase by convention)"),
        ("My-Block", "is not a valid block name"),
        ("class", "is not a valid block name"),
        ("None", "is not a valid block name"),
        ("conv2d", "is the name of an operator"),
        ("relu", "is the name of an operator"),
        ("stage", "is reserved"),
        ("none", "is reserved"),
        ("torch", "is reserved"),
        ("len", "is reserved"),
        ("OrderedDict", "is reserved"),
        ("_Block", "starts with an underscore"),
    ],
)
def test_block_name_rejections_say_why(name: str, reason: str) -> None:
    error = block_error(name)
    assert error.message.startswith(f"block name {name!r} {reason}")
    assert error.span is SPAN and error.where == f"blocks.{name}"
    assert error.hint == "choose another name"


def test_every_operator_name_is_refused_as_a_block_name() -> None:
    names = ops.names()
    assert len(names) > 10
    for name in names:
        assert block_error(name).message.endswith("is the name of an operator")


@pytest.mark.parametrize("name", ["Bottleneck", "BasicBlock", "Conv2d", "Inception", "B"])
def test_block_names_accepted(name: str) -> None:
    check_block_name(name, None)


@given(names_like)
def test_block_name_property(name: str) -> None:
    try:
        check_block_name(name, SPAN)
    except SpecError as exc:
        assert exc.message.startswith(f"block name {name!r} ")
        assert any(reason in exc.message for reason in BLOCK_REASONS), exc.message
        return
    assert name.isidentifier() and name.isascii() and not keyword.iskeyword(name)
    assert ops.get(name) is None and not name.startswith("_")
    assert name not in CONSTANTS | GENERATED and name not in BUILTINS and name != "stage"


# ---------------------------------------------------------------------------------------------
# class names


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("1Net", "is not a Python identifier"),
        ("My Net", "is not a Python identifier"),
        ("class", "is a Python keyword"),
        ("True", "is a Python keyword"),
        ("torch", "is a name generated code uses"),
        ("OrderedDict", "is a name generated code uses"),
        ("ValueError", "is a name generated code uses"),
        ("range", "is a name generated code uses"),
        ("none", "is a name generated code uses"),
        ("MyNet", None),
        ("VGG16", None),
        ("_Net", None),
    ],
)
def test_class_name_problem(name: str, problem: str | None) -> None:
    assert class_name_problem(name) == problem


@given(names_like)
def test_accepted_class_names_define_a_class(name: str) -> None:
    if class_name_problem(name) is not None:
        return
    scope: dict[str, object] = {}
    exec(f"class {name}:\n    pass\n", scope)
    assert isinstance(scope[name], type)


# ---------------------------------------------------------------------------------------------
# the rules as the loader applies them: each position reports where and line:col


@pytest.mark.parametrize(
    ("body", "line", "col", "where", "message"),
    [
        ("params:\n  1depth: 3\n", 5, 3, "params.1depth", "parameter '1depth' is not a valid"),
        ("params:\n  __x: 3\n", 5, 3, "params.__x", "starts with a double underscore"),
        ("params:\n  x: 3\n", 5, 3, "params.x", "parameter 'x' is reserved for generated"),
        ("params:\n  \u0430: 3\n", 5, 3, "params.\u0430", "parameter '\u0430' is not a valid"),
        ("let:\n  a: 1\n  true_: 2\n  len: 3\n", 7, 3, "let.len", "hide the built-in function"),
        ("let:\n  F: 1\n", 5, 3, "let.F", "let name 'F' is reserved for generated code"),
        ("blocks:\n  torch:\n    body: [relu]\n", 5, 3, "blocks.torch", "block name 'torch'"),
        ("blocks:\n  B_:\n    params: [nn]\n    body: [relu]\n", 6, 14, "blocks.B_.0", "'nn'"),
    ],
)
def test_name_rules_in_a_spec(body: str, line: int, col: int, where: str, message: str) -> None:
    error = load_error(HEAD + body + "layers: [relu]\n")
    assert error.span is not None and (error.span.line, error.span.col) == (line, col)
    assert error.where == where
    assert message in error.message
    assert error.hint == "choose another name"


def test_loop_variables_are_value_names() -> None:
    error = load_error(
        HEAD + "layers:\n  - s:\n      - for: i, self in enumerate([1])\n        do: [relu]\n"
    )
    assert error.message == "loop variable 'self' is reserved for generated code"
    assert error.where == "for" and error.span is not None
    assert (error.span.line, error.span.col) == (6, 14)
    error = load_error(
        HEAD + "layers:\n  - s:\n      - repeat: 2\n        as: none\n        do: [relu]\n"
    )
    assert error.message == "loop variable 'none' is a constant of the expression language"
    assert error.where == "as" and error.span is not None
    assert (error.span.line, error.span.col) == (7, 9)


def test_layer_names_in_a_spec() -> None:
    error = load_error(HEAD + "layers:\n  - conv: conv2d(8, 3)\n  - '7': relu\n")
    assert error.message == "layer name '7' is a number"
    assert error.span is not None and (error.span.line, error.span.col) == (6, 5)
    assert error.hint and "numbered 0, 1, 2" in error.hint
    error = load_error(HEAD + "layers:\n  - features:\n      - _c: conv2d(8, 3)\n")
    assert error.message.startswith("layer name '_c' starts with an underscore")
    assert error.span is not None and (error.span.line, error.span.col) == (6, 9)


def test_nested_layer_name_error_has_the_full_path() -> None:
    # BUG: the path stops at the layer's own name ('_c'); other errors inside a named list
    # report the full layer path (`features._c`), as branch names in blocks do.
    error = load_error(HEAD + "layers:\n  - features:\n      - _c: conv2d(8, 3)\n")
    assert error.where == "features._c"


def test_shortcut_projection_name_is_a_layer_name() -> None:
    error = load_error(
        HEAD + "blocks:\n  R:\n    body: [relu]\n    shortcut:\n      name: eval\nlayers: [relu]\n"
    )
    assert error.message.startswith("layer name 'eval' is an attribute of torch.nn.Module")
    assert error.where == "blocks.R"
    assert error.span is not None and (error.span.line, error.span.col) == (8, 13)


def test_class_name_rule_in_a_spec() -> None:
    error = load_error(HEAD + "class_name: range\nlayers: [relu]\n")
    assert error.message == "class_name 'range' is a name generated code uses"
    assert error.where == "class_name" and error.hint == "choose another name, e.g. MyNet"
    assert error.span is not None and (error.span.line, error.span.col) == (4, 1)
