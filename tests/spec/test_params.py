"""Spec parameters (netspec.spec.params): declarations, typed defaults and overrides."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import netspec
from netspec.errors import NetspecError, SpecError
from netspec.spec.load import load_text
from netspec.spec.params import Param, bind, check, declared, parse_assignment, parse_value

HEAD = "netspec: 1\nname: t\ninput: [4]\nlayers: [relu]\n"
PARAMS = """params:
  depth:
    default: 16
    choices: [11, 13, 16, 19]
    doc: weight layers
  rate: 0.5
  bn: false
  mode: fast
  widths: [8, 16]
  ratios: [0.5, 1.0]
  mixed: [1, 'a']
  empty: []
  act:
    default: relu
    choices: [relu, gelu]
  nested: [[1, 2], [3]]
"""
LITERAL_HINT = "values are literals: 10, 0.5, true, none (YAML's null), [3, 4, 6, 3], 'text'"


@pytest.fixture(scope="module")
def params() -> dict[str, Param]:
    return declared(load_text(HEAD + PARAMS, "p.yaml"))


def set_(params: dict[str, Param], *items: str) -> dict[str, Any]:
    """Bind ``--set`` items the way the CLI does."""
    return bind(params, dict(parse_assignment(item, params) for item in items), "--set")


def set_error(params: dict[str, Param], *items: str) -> NetspecError:
    with pytest.raises(NetspecError) as info:
        set_(params, *items)
    return info.value


# ---------------------------------------------------------------------------------------------
# declarations


def test_declared_kinds_defaults_and_order(params: dict[str, Param]) -> None:
    assert list(params) == [
        "depth",
        "rate",
        "bn",
        "mode",
        "widths",
        "ratios",
        "mixed",
        "empty",
        "act",
        "nested",
    ]
    kinds = {name: (p.kind, p.default) for name, p in params.items()}
    assert kinds == {
        "depth": ("int", 16),
        "rate": ("float", 0.5),
        "bn": ("bool", False),
        "mode": ("str", "fast"),
        "widths": ("list", (8, 16)),
        "ratios": ("list", (0.5, 1.0)),
        "mixed": ("list", (1, "a")),
        "empty": ("list", ()),
        "act": ("str", "relu"),
        "nested": ("list", ((1, 2), (3,))),
    }
    assert params["depth"].choices == (11, 13, 16, 19) and params["depth"].doc == "weight layers"
    assert params["rate"].choices is None and params["rate"].doc is None


def test_declared_spans_point_at_the_parameter_keys(params: dict[str, Param]) -> None:
    spans = {name: (p.span.line, p.span.col) for name, p in params.items() if p.span}
    assert spans["depth"] == (6, 3)  # a declaration: its key
    assert spans["rate"] == (10, 3)  # a plain default: its key
    assert spans["nested"] == (20, 3)
    assert all(p.span is not None and p.span.file == "p.yaml" for p in params.values())


def test_default_outside_its_choices() -> None:
    text = HEAD + "params:\n  act:\n    default: elu\n    choices: [relu, gelu]\n"
    with pytest.raises(SpecError) as info:
        declared(load_text(text, "p.yaml"))
    error = info.value
    assert error.message == "the default 'elu' of 'act' is not one of its choices 'relu', 'gelu'"
    assert error.where == "params.act"
    assert error.span is not None and (error.span.line, error.span.col) == (6, 3)


def test_list_defaults_and_choices_compare_frozen() -> None:
    text = HEAD + "params:\n  shape:\n    default: [1, 2]\n    choices: [[1, 2], [3]]\n"
    shape = declared(load_text(text))["shape"]
    assert shape.default == (1, 2) and shape.choices == ((1, 2), (3,))
    assert check(shape, [3], "keyword shape") == (3,)
    with pytest.raises(NetspecError, match=r"shape must be one of \[1, 2\], \[3\], found \[4\]"):
        check(shape, [4], "keyword shape")


def test_float_default_among_integer_choices() -> None:
    text = HEAD + "params:\n  p:\n    default: 1.0\n    choices: [1, 2]\n"
    p = declared(load_text(text))["p"]
    assert p.kind == "float"
    assert check(p, 2, "keyword p") == 2.0 and isinstance(check(p, 2, "keyword p"), float)


def test_a_list_default_of_numbers_holds_floats() -> None:
    """``[2, 0.5]`` is bound as (2.0, 0.5), as a value given for it is (and as the generated
    class reads it): the default gave 8 // r[0] = 4, the same value given 4.0."""
    spec = load_text(HEAD + "params:\n  r: [2, 0.5]\n  n: [1, 2]\n")
    params = declared(spec)
    assert params["r"].default == (2.0, 0.5) and type(params["r"].default[0]) is float
    assert type(params["n"].default[0]) is int


def test_no_params_declared() -> None:
    assert declared(load_text(HEAD)) == {}
    with pytest.raises(NetspecError) as info:
        bind({}, {"depth": 3})
    assert info.value.message == "the spec has no parameter 'depth'"
    assert info.value.hint == "no parameters are defined"


# ---------------------------------------------------------------------------------------------
# --set overrides


@pytest.mark.parametrize(
    ("item", "name", "value"),
    [
        ("depth=19", "depth", 19),
        ("depth = 13 ", "depth", 13),
        ("  depth  =11", "depth", 11),
        ("depth=2*8", "depth", 16),
        ("depth=max(11, 13)", "depth", 13),
        ("rate=1", "rate", 1.0),
        ("rate=1e-3", "rate", 0.001),
        ("rate=-0.5", "rate", -0.5),
        ("bn=true", "bn", True),
        ("bn=True", "bn", True),
        ("mode=slow", "mode", "slow"),  # a bare word is text for a text parameter
        ("mode='true'", "mode", "true"),
        ('mode="a b"', "mode", "a b"),
        ("mode=if", "mode", "if"),
        ("mode=fast-x", "mode", "fast-x"),  # text that is no literal, as written
        ("mode=a b", "mode", "a b"),
        ("mode=x(1", "mode", "x(1"),
        ("widths=[3,4]", "widths", (3, 4)),
        ("widths=[]", "widths", ()),
        ("widths=range(3)", "widths", (0, 1, 2)),
        ("mixed=[2, 2]", "mixed", (2, 2)),  # a mixed default leaves items unchecked
        ("empty=[1, 'x']", "empty", (1, "x")),
        ("act=gelu", "act", "gelu"),
        ("nested=[[1]]", "nested", ((1,),)),
    ],
)
def test_good_set_values(params: dict[str, Param], item: str, name: str, value: Any) -> None:
    values = set_(params, item)
    assert values[name] == value and type(values[name]) is type(value)
    assert {k: v for k, v in values.items() if k != name} == {
        k: p.default for k, p in params.items() if k != name
    }


@pytest.mark.parametrize(
    ("item", "message", "hint"),
    [
        ("depth=abc", "depth: undefined name 'abc'", LITERAL_HINT),
        ("depth=12", "depth must be one of 11, 13, 16, 19, found 12", "weight layers"),
        ("depth=True", "depth expects an integer (like its default 16), found true", None),
        ("depth=1.5", "depth expects an integer (like its default 16), found 1.5", None),
        ("depth=1/0", "depth: division by zero", LITERAL_HINT),
        ("depth=10**100", "depth: the result is too large", LITERAL_HINT),
        ("depth=", "depth: invalid value: the expression is empty", None),
        ("depth=16 16", "depth: invalid value: unexpected '16'", None),
        ("depth=(", "depth: invalid value: the text ends too early", "unclosed bracket"),
        ("depth==16", "depth: invalid value: unexpected '='", "compare with '=='"),
        ("rate=true", "rate expects a number (like its default 0.5), found true", None),
        ("rate=[1]", "rate expects a number (like its default 0.5), found [1]", None),
        ("rate=inf", "rate: undefined name 'inf'", LITERAL_HINT),
        ("bn=1", "bn expects true or false (like its default false), found 1", None),
        ("mode=true", "mode expects text (like its default 'fast'), found true", None),
        ("mode=none", "mode expects text (like its default 'fast'), found none", None),
        ("mode=3", "mode expects text (like its default 'fast'), found 3", None),
        ("mode='fast-x", "mode: invalid value", "a string is not closed"),  # a literal meant
        ("mode=[fast]", "mode: undefined name 'fast'", LITERAL_HINT),
        ("widths=3", "widths expects a list (like its default [8, 16]), found 3", None),
        ("act=elu", "act must be one of 'relu', 'gelu', found 'elu'", None),
    ],
)
def test_bad_set_values(
    params: dict[str, Param], item: str, message: str, hint: str | None
) -> None:
    error = set_error(params, item)
    name = item.partition("=")[0].strip()
    assert error.message.startswith(message), error.message
    assert error.where == f"--set {name}"
    assert error.span is None
    if hint is None:
        assert error.hint in (None, params[name].doc)
    else:
        assert error.hint is not None and hint in error.hint


def test_choice_errors_carry_the_doc_as_hint(params: dict[str, Param]) -> None:
    assert set_error(params, "depth=12").hint == "weight layers"
    assert set_error(params, "depth='x'").hint == "weight layers"


@pytest.mark.parametrize("item", ["depth", "=3", " = 3", ""])
def test_set_needs_name_equals_value(params: dict[str, Param], item: str) -> None:
    error = set_error(params, item)
    assert error.message == f"--set expects NAME=VALUE, found {item!r}"
    assert error.hint == "e.g. --set num_classes=10"


def test_unknown_parameter_suggests_the_closest(params: dict[str, Param]) -> None:
    error = set_error(params, "dpeth=3")
    assert error.message == "the spec has no parameter 'dpeth'"
    assert error.where == "--set dpeth"
    assert error.hint == (
        "did you mean 'depth'? parameters: act, bn, depth, empty, mixed, mode, nested, rate, "
        "ratios, widths"
    )
    error = set_error(params, "zzz=1")
    assert error.hint is not None and not error.hint.startswith("did you mean")


def test_misspelt_text_parameter_is_reported_as_unknown(params: dict[str, Param]) -> None:
    # BUG: the value is read before the name is checked, so `--set mdoe=slow` (a typo of the
    # text parameter `mode`) fails with "mdoe: undefined name 'slow'" and the literals hint,
    # never mentioning that `mdoe` is not a parameter.
    error = set_error(params, "mdoe=slow")
    assert error.message == "the spec has no parameter 'mdoe'"
    assert error.hint is not None and error.hint.startswith("did you mean 'mode'?")


def test_later_set_wins(params: dict[str, Param]) -> None:
    assert set_(params, "depth=11", "depth=19")["depth"] == 19


def test_bare_words_need_a_text_parameter() -> None:
    with pytest.raises(NetspecError) as info:
        parse_value("fast", "mode")
    assert info.value.message == "mode: undefined name 'fast'"
    assert info.value.where == "--set mode"
    assert parse_value("'fast'", "mode") == "fast"


@pytest.mark.parametrize("word", ["true", "false", "none", "True", "False", "None"])
def test_constant_words_are_not_bare_text(params: dict[str, Param], word: str) -> None:
    assert parse_value(word, "mode", params["mode"]) == {"true": True, "false": False}.get(
        word.lower()
    )


# ---------------------------------------------------------------------------------------------
# keyword overrides (the Python API)


def test_keyword_overrides(params: dict[str, Param]) -> None:
    values = bind(params, {"depth": 11, "rate": 2, "widths": (1, 2), "bn": True}, "keyword")
    assert values["depth"] == 11 and values["bn"] is True
    assert values["rate"] == 2.0 and isinstance(values["rate"], float)
    assert values["widths"] == (1, 2)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("depth", "16", "depth expects an integer (like its default 16), found '16'"),
        ("depth", True, "depth expects an integer (like its default 16), found true"),
        ("rate", None, "rate expects a number (like its default 0.5), found none"),
        ("mode", None, "mode expects text (like its default 'fast'), found none"),
        ("act", ["relu"], "act expects text (like its default 'relu'), found ['relu']"),
        ("widths", [1, "a"], "found 'a' in [1, 'a']"),
    ],
)
def test_bad_keyword_values(params: dict[str, Param], name: str, value: Any, message: str) -> None:
    with pytest.raises(NetspecError) as info:
        bind(params, {name: value}, "keyword")
    assert message in info.value.message
    assert info.value.where == f"keyword {name}"


def test_keyword_errors_through_the_api() -> None:
    text = HEAD + PARAMS
    with pytest.raises(NetspecError) as info:
        netspec.loads(text, dpth=3)
    assert info.value.where == "keyword dpth" and "did you mean 'depth'?" in (info.value.hint or "")
    spec = netspec.loads(text, depth=11)
    assert spec.params["depth"] == 11
    assert spec.replace(mode="slow").params == {**spec.params, "mode": "slow"}
    with pytest.raises(NetspecError, match="act must be one of 'relu', 'gelu', found 'tanh'"):
        spec.replace(act="tanh")


# ---------------------------------------------------------------------------------------------
# list parameters: item types; None and mappings


def test_list_items_must_match_a_uniform_default(params: dict[str, Param]) -> None:
    error = set_error(params, "widths=[3, 4.5]")
    assert "found 4.5 in [3, 4.5]" in error.message
    assert error.message.startswith("widths is a list of ")
    # BUG: the message reads "widths is a list of an integer values".
    assert "a list of an integer values" not in error.message, error.message


def test_list_of_lists_message(params: dict[str, Param]) -> None:
    error = set_error(params, "nested=[1]")
    assert "found 1 in [1]" in error.message
    assert error.message.startswith("nested is a list of ")
    # BUG: the message reads "nested is a list of a list values".
    assert "a list of a list values" not in error.message, error.message


def test_integer_items_widen_for_a_list_of_numbers(params: dict[str, Param]) -> None:
    # A number parameter widens integers (rate=1 gives 1.0) but a list of numbers does not.
    values = set_(params, "ratios=[1, 2]")
    assert values["ratios"] == (1, 2)
    # BUG (inconsistency): the items stay integers.
    assert [type(v) for v in values["ratios"]] == [float, float]


def test_none_for_a_list_parameter_is_a_clean_error(params: dict[str, Param]) -> None:
    # BUG: `--set widths=none` raises TypeError ('NoneType' object is not iterable): the CLI
    # reports an internal error (exit 1) instead of a type error (exit 2).
    error = set_error(params, "widths=none")
    assert error.message == "widths expects a list (like its default [8, 16]), found none"


def test_none_for_an_empty_list_parameter_is_refused(params: dict[str, Param]) -> None:
    # BUG: accepted; the parameter's value becomes None.
    error = set_error(params, "empty=none")
    assert error.message == "empty expects a list (like its default []), found none"


def test_mapping_for_a_list_parameter_is_refused(params: dict[str, Param]) -> None:
    # BUG: a dict counts as a list: for `widths` it fails on its keys ("found 'a' in
    # {'a': 1}"), for `empty` it is accepted as is.
    with pytest.raises(NetspecError) as info:
        bind(params, {"empty": {"a": 1}}, "keyword")
    assert "expects a list" in info.value.message


# ---------------------------------------------------------------------------------------------
# properties


@given(st.integers(min_value=-(2**62), max_value=2**62))
def test_integers_round_trip_through_set(value: int) -> None:
    p = Param("n", 0, "int")
    name, parsed = parse_assignment(f"n={value}", {"n": p})
    assert name == "n" and bind({"n": p}, {name: parsed}) == {"n": value}


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_round_trip_through_set(value: float) -> None:
    p = Param("r", 0.5, "float")
    (bound,) = bind({"r": p}, dict([parse_assignment(f"r={value!r}", {"r": p})])).values()
    assert bound == value and isinstance(bound, float)


_WORD = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)


@given(_WORD)
def test_any_identifier_is_text_for_a_text_parameter(word: str) -> None:
    p = Param("mode", "fast", "str")
    try:
        value = parse_value(word, "mode", p)
    except NetspecError:
        raise AssertionError(f"{word!r} refused") from None
    if word in ("true", "false", "none", "True", "False", "None"):
        assert value in (True, False, None)
    else:
        assert value == word


@given(st.text(alphabet=string.ascii_letters + string.digits + " _-.,!?", max_size=20))
def test_quoted_text_round_trips(text: str) -> None:
    p = Param("mode", "fast", "str")
    assert bind({"mode": p}, dict([parse_assignment(f"mode='{text}'", {"mode": p})])) == {
        "mode": text
    }


@given(st.lists(st.integers(min_value=-1000, max_value=1000), max_size=8))
def test_integer_lists_round_trip(items: list[int]) -> None:
    p = Param("widths", (8, 16), "list")
    assert bind({"widths": p}, {"widths": parse_value(str(items), "widths", p)}) == {
        "widths": tuple(items)
    }


@given(_WORD)
def test_unknown_names_are_refused_with_the_declared_list(word: str) -> None:
    declared_params = {"depth": Param("depth", 16, "int"), "width": Param("width", 8, "int")}
    if word in declared_params:
        return
    with pytest.raises(NetspecError) as info:
        bind(declared_params, {word: 1})
    assert info.value.message == f"the spec has no parameter {word!r}"
    assert info.value.hint is not None and info.value.hint.endswith("parameters: depth, width")


_KIND_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "text",
    "list": "a list",
}


@given(st.sampled_from(["int", "float", "bool", "str", "list"]), st.data())
def test_check_accepts_exactly_the_declared_kind(kind: str, data: st.DataObject) -> None:
    defaults = {"int": 3, "float": 0.5, "bool": False, "str": "a", "list": [1]}
    values = st.one_of(
        st.integers(-50, 50),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.text(max_size=4),
        st.lists(st.integers(-5, 5), max_size=3),
    )
    value = data.draw(values)
    p = Param("p", defaults[kind], kind)
    kind_of = {bool: "bool", int: "int", float: "float", str: "str", list: "list"}[type(value)]
    if kind_of == kind or (kind == "float" and kind_of == "int"):
        assert check(p, value, "keyword p") == (tuple(value) if kind == "list" else value)
    else:
        with pytest.raises(NetspecError) as info:
            check(p, value, "keyword p")
        assert info.value.message.startswith(f"p expects {_KIND_WORDS[kind]} (like its default")
        assert info.value.where == "keyword p"


# -- require: a condition on the values given -------------------------------------------------

REQUIRE = """netspec: 1
name: t
input: [4]
params:
  rates:
    default: [1, 2, 3]
    doc: one per branch, three written out
    require: len(rates) == 3
  dim:
    default: 8
    require: dim % heads == 0
  heads: 2
layers: [relu]
"""


def test_require_holds_at_the_defaults_and_at_good_values() -> None:
    assert netspec.loads(REQUIRE, name="r.yaml").params["rates"] == (1, 2, 3)
    assert netspec.loads(REQUIRE, name="r.yaml", dim=12, heads=4).params["dim"] == 12


def test_require_refuses_at_the_condition_naming_the_values_it_read() -> None:
    with pytest.raises(SpecError) as info:
        netspec.loads(REQUIRE, name="r.yaml", rates=[1, 2, 3, 4])
    error = info.value
    assert error.message == "rates requires len(rates) == 3, found rates = [1, 2, 3, 4]"
    assert error.where == "params.rates.require"
    assert error.span is not None
    assert (error.span.line, error.span.col) == (8, 14)
    assert error.hint == "one per branch, three written out"
    with pytest.raises(SpecError, match=r"dim requires dim % heads == 0, found dim = 8, heads = 3"):
        netspec.loads(REQUIRE, name="r.yaml", heads=3)


def test_require_is_checked_after_every_value_is_bound() -> None:
    # dim=9 fails with heads=2 (the default), holds with heads=3 given after it
    assert netspec.loads(REQUIRE, name="r.yaml", dim=9, heads=3).params["dim"] == 9


def test_require_that_is_not_a_condition() -> None:
    text = REQUIRE.replace("require: len(rates) == 3", "require: len(rates)")
    with pytest.raises(SpecError) as info:
        netspec.loads(text, name="r.yaml")
    assert info.value.message == "require is a condition, true or false, found 3"
    assert info.value.hint == "compare, as in require: len(rates) == 3"


def test_require_reads_params_only() -> None:
    text = REQUIRE.replace("require: len(rates) == 3", "require: len(ratez) == 3")
    with pytest.raises(NetspecError) as info:
        netspec.loads(text, name="r.yaml")
    assert "ratez" in info.value.message
    assert info.value.span is not None and info.value.span.line == 8


def test_require_through_set_exits_2_at_the_condition(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from netspec.cli import app

    path = tmp_path / "r.yaml"
    path.write_text(REQUIRE)
    result = CliRunner().invoke(app, ["check", str(path), "--set", "rates=[1,2]"])
    assert result.exit_code == 2
    assert "r.yaml:8:14: params.rates.require: rates requires len(rates) == 3" in result.output
    assert "found rates = [1, 2]" in result.output


def test_require_in_both_formats() -> None:
    from netspec.spec.format import to_ns, to_yaml

    spec = load_text(REQUIRE, "r.yaml")
    ns = to_ns(spec)
    assert "rates = [1, 2, 3] require len(rates) == 3" in ns
    again = load_text(ns, "r.ns")
    assert to_yaml(again) == to_yaml(spec)
    with pytest.raises(SpecError, match="rates requires len"):
        netspec.loads(ns, name="r.ns", rates=[1])


def test_a_require_that_reads_no_param_is_refused() -> None:
    text = REQUIRE.replace("require: len(rates) == 3", "require: len([1, 2]) == 2")
    with pytest.raises(SpecError) as info:
        netspec.loads(text, name="r.yaml")
    assert info.value.message == (
        "require is a condition on the params' values, and this one reads none"
    )
    assert info.value.where == "params.rates.require"
    assert info.value.hint == "compare the param, as in require: len(rates) == 3"


def test_a_variant_that_declares_a_param_again_keeps_what_it_does_not_say(tmp_path: Any) -> None:
    """A declaration over the base's merges key by key, like params and let: a variant that
    only documents the param, or sets its default, keeps the base's choices and require."""
    (tmp_path / "base.yaml").write_text(REQUIRE)
    (tmp_path / "child.yaml").write_text(
        "netspec: 1\nname: child\nextends: base\nparams:\n  rates:\n    default: [2, 4, 6]\n"
        "    doc: other rates\n"
    )
    spec = netspec.load(tmp_path / "child.yaml")
    assert spec.params["rates"] == (2, 4, 6)
    with pytest.raises(SpecError) as info:
        netspec.load(tmp_path / "child.yaml", rates=[1, 2, 3, 4])
    assert info.value.message.startswith("rates requires len(rates) == 3")
    assert info.value.hint == "other rates"
