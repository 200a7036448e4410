"""Hostile and odd input: what netspec promises when a spec, a path or an API argument is
not what it expects — a positioned exit-2 error (or ``NetspecError`` / a one-line
``TypeError`` from the API), never a traceback, never a file replaced against the rules.

The write rule (README, "Files"): a symbolic link is followed and its target written; a link
counts as an existing file even when its target is missing; only regular files are replaced —
never a folder, a pipe, a device or anything under ``/dev`` or ``/proc``.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import netspec
from netspec.cli import app
from netspec.errors import NetspecError, printable
from netspec.source.yaml import MAX_BYTES

runner = CliRunner()

TINY = "netspec: 1\nname: tiny\ninput: [3, 8, 8]\nlayers:\n  - conv2d(4, 3)\n  - relu\n"


def run(*args: str) -> Any:
    return runner.invoke(app, list(args))


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


# -- files -----------------------------------------------------------------------------------


def test_a_link_is_an_existing_file_and_force_writes_its_target(tiny: Path) -> None:
    target = tiny.parent / "model.py"
    target.write_text("# mine\n")
    link = tiny.parent / "link.py"
    link.symlink_to("model.py")
    result = run("codegen", str(tiny), "--out", str(link))
    assert result.exit_code == 2 and "a link to model.py" in result.output
    assert target.read_text() == "# mine\n"
    result = run("codegen", str(tiny), "--out", str(link), "--force")
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == "model.py"  # the link stays a link
    assert "class Tiny" in target.read_text()


def test_a_dangling_link_is_not_replaced_without_force(tiny: Path) -> None:
    link = tiny.parent / "dangling.py"
    link.symlink_to("missing.py")
    result = run("codegen", str(tiny), "--out", str(link))
    assert result.exit_code == 2 and "exists" in result.output
    assert link.is_symlink() and not (tiny.parent / "missing.py").exists()
    assert run("codegen", str(tiny), "--out", str(link), "--force").exit_code == 0
    assert link.is_symlink() and "class Tiny" in (tiny.parent / "missing.py").read_text()


@pytest.mark.parametrize("kind", ["fifo", "stdout-link", "dev-stdout", "link-loop"])
def test_streams_devices_and_link_loops_are_never_replaced(tiny: Path, kind: str) -> None:
    out = tiny.parent / "out.py"
    if kind == "fifo":
        os.mkfifo(out)
    elif kind == "stdout-link":
        out.symlink_to("/dev/stdout")
    elif kind == "dev-stdout":
        out = Path("/dev/stdout")
    else:
        (tiny.parent / "other.py").symlink_to("out.py")
        out.symlink_to("other.py")
    before = os.lstat(out)
    result = run("codegen", str(tiny), "--out", str(out), "--force")
    assert result.exit_code == 2, result.output
    assert "error: --out:" in result.output and "Traceback" not in result.output
    if kind in ("stdout-link", "dev-stdout"):  # no hint that --force would write it
        plain = run("codegen", str(tiny), "--out", str(out))
        assert plain.exit_code == 2 and "not a regular file" in plain.output
        assert "--force" not in plain.output
    after = os.lstat(out)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)


@pytest.mark.parametrize(
    "out", ["/proc/netspec-test.py", "b" * 260 + ".py", "missing-folder/model.py"]
)
def test_files_that_cannot_be_written_are_a_clean_error(tiny: Path, out: str) -> None:
    result = run("codegen", str(tiny), "--out", out)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: --out:")
    assert [p.name for p in tiny.parent.iterdir()] == ["tiny.yaml"]  # no temporary left


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_a_file_size_limit_is_a_clean_error(tiny: Path) -> None:
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))\n"
        "from netspec.cli import main\n"
        "sys.argv = ['netspec', 'codegen', sys.argv[1], '--out', 'model.py']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tiny)],
        capture_output=True,
        text=True,
        cwd=tiny.parent,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "cannot write model.py: File too large" in done.stderr
    assert not (tiny.parent / "model.py").exists()


# -- reading -----------------------------------------------------------------------------------


def test_a_large_file_is_refused_before_it_is_read(tiny: Path) -> None:
    big = tiny.parent / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(64 * MAX_BYTES)  # sparse: nothing is allocated
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run("check", str(big))
    assert result.exit_code == 2 and "larger than 4 MiB" in result.output
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown_kib < 64 * 1024  # far below the file's 256 MiB


def test_a_pipe_is_read_up_to_the_limit(tiny: Path) -> None:
    result = run("check", "/dev/zero")
    assert result.exit_code == 2 and "larger than 4 MiB" in result.output


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ("/etc/passwd", "is not a spec file (.yaml, .yml or .ns)"),
        ("/proc/self/environ", "is not a spec file"),
        ("secrets.yaml", "is not a netspec spec (no `netspec:` key)"),
    ],
)
def test_extends_reaches_specs_only_and_never_shows_another_file(
    tiny: Path, base: str, message: str
) -> None:
    (tiny.parent / "secrets.yaml").write_text("password: hunter2\n")
    spec = tiny.parent / "child.yaml"
    spec.write_text(f"netspec: 1\nname: child\nextends: {base}\n")
    result = run("check", str(spec))
    assert result.exit_code == 2
    assert result.output.startswith("error: child.yaml:3:1: extends:")
    assert message in result.output
    assert "hunter2" not in result.output and "root:" not in result.output


def test_names_too_long_for_the_system_are_not_found_cleanly(tiny: Path) -> None:
    long = "a" * 5000
    result = run("check", long)
    assert result.exit_code == 2 and "no spec file 'aaaa" in result.output
    assert len(result.output.splitlines()[0]) < 200
    spec = tiny.parent / "child.yaml"
    spec.write_text(f"netspec: 1\nname: child\nextends: {long}\n")
    result = run("check", str(spec))
    assert result.exit_code == 2 and "child.yaml:3:1: extends: no spec file" in result.output


def test_a_file_that_is_not_a_spec_is_quoted_briefly(tmp_path: Path) -> None:
    path = tmp_path / "notes.yaml"
    path.write_text("x" * 5000 + "\n")
    result = run("check", str(path))
    assert result.exit_code == 2 and "found the text 'xxx" in result.output
    assert "x" * 100 not in result.output.splitlines()[0]


# -- sizes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer", "input_shape"),
    [
        ("conv2d(2**62, 3)", "[3, 8, 8]"),
        ("linear(3 * 10**15)", "[10**6]"),
        ("relu", "[3, 10**14, 10**14]"),
    ],
)
def test_tensors_beyond_int64_are_refused_by_check(layer: str, input_shape: str) -> None:
    text = f"netspec: 1\nname: t\ninput: {input_shape}\nlayers:\n  - {layer}\n"
    with pytest.raises(NetspecError, match="int64"):
        netspec.loads(text).check()


def test_the_api_refuses_an_input_beyond_int64() -> None:
    with pytest.raises(NetspecError, match="int64"):
        netspec.loads(TINY, input_shape=[10**30, 3, 3]).check()


def test_a_model_the_machine_cannot_allocate_is_a_clean_error(tiny: Path) -> None:
    tiny.write_text(TINY.replace("conv2d(4, 3)", "conv2d(2**40, 3)"))
    assert run("check", str(tiny)).exit_code == 0  # analysed without allocating
    result = run("build", str(tiny))
    assert result.exit_code == 2, result.output
    assert "cannot allocate the model" in result.output


# -- the API -----------------------------------------------------------------------------------


def test_loads_takes_text_or_utf8_bytes() -> None:
    assert netspec.loads(TINY.encode()).summary()["parameters"] == 112
    with pytest.raises(NetspecError, match="not UTF-8"):
        netspec.loads(b"\xff\xfe")


@pytest.mark.parametrize("value", [None, 123, ["netspec: 1"]])
def test_loads_and_load_refuse_other_types_in_one_line(value: Any) -> None:
    with pytest.raises(TypeError, match=r"^loads\(\) takes the spec's text, found"):
        netspec.loads(value)
    with pytest.raises(TypeError, match=r"^load\(\) takes a path or a bundled spec's name"):
        netspec.load(value)


# -- the terminal ----------------------------------------------------------------------------


def test_spec_text_reaches_the_terminal_escaped(tmp_path: Path) -> None:
    path = tmp_path / "esc.yaml"
    path.write_text(TINY.replace("name: tiny", 'name: tiny\ndescription: "\\e[31mred \\u202eabc"'))
    result = run("check", str(path))
    assert result.exit_code == 0
    first = result.output.splitlines()[0]
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "\\x1b[31mred \\u202eabc" in first


def test_printable_keeps_text_and_escapes_what_hides_or_controls() -> None:
    assert printable("ResNet-50 — 3×224×224 é 中\n\tx") == "ResNet-50 — 3×224×224 é 中\n\tx"
    assert printable("a\x1bb\u202ec\ud800d\u2028e") == "a\\x1bb\\u202ec\\ud800d\\u2028e"


# -- values --------------------------------------------------------------------------------------


def _bomb(levels: int) -> str:
    lets = ["  a1: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]"]
    lets += [f"  a{i}: [{', '.join([f'a{i - 1}'] * 10)}]" for i in range(2, levels + 1)]
    return (
        "netspec: 1\nname: bomb\ninput: [3, 8, 8]\nlet:\n"
        + "\n".join(lets)
        + "\nlayers:\n  - relu\n"
    )


def test_a_list_of_lists_is_bounded_by_everything_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb(10))  # 10¹⁰ items if it were allowed
    for args in (["check", str(path)], ["check", str(path), "--format", "json"]):
        result = run(*args)
        assert result.exit_code == 2
        assert "bomb.yaml:9:7: let.a5: the value holds more than 100,000 items" in result.output
    assert netspec.loads(_bomb(4)).check() is not None  # 11,110 items: fine


def test_a_set_value_is_bounded_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(TINY.replace("name: tiny", "name: tiny\nparams:\n  widths: [1]"))
    big = "[[0] * 400 for _ in range(300)]"
    result = run("check", str(path), "--set", f"widths={big}")
    assert result.exit_code == 2 and "more than 100,000 items" in result.output


# -- fmt: lossless and idempotent over every YAML value kind -----------------------------------

_KEYS = st.one_of(
    st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True),
    st.integers(-50, 50),
    st.floats(-100, 100, allow_nan=False).filter(lambda f: f != int(f)),
    st.booleans(),
    st.none(),
)
_LEAVES = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


def _lets(text: str, name: str) -> Any:
    return netspec.loads(text, name=name).summary()["let"]


@given(st.dictionaries(st.from_regex(r"v[a-z0-9]{0,5}", fullmatch=True), _VALUES, max_size=4))
def test_fmt_keeps_every_value_and_is_idempotent(
    tmp_path_factory: Any, lets: dict[str, Any]
) -> None:
    import yaml

    from netspec.spec.format import formatted

    folder = tmp_path_factory.mktemp("fmt")
    text = yaml.safe_dump(
        {"netspec": 1, "name": "f", "input": [3, 8, 8], "let": lets, "layers": ["relu"]},
        sort_keys=False,
    )
    path = folder / "spec.yaml"
    path.write_text(text)
    before = _lets(text, "spec.yaml")
    once, _ = formatted(path)
    assert _lets(once, "spec.yaml") == before
    path.write_text(once)
    assert formatted(path)[0] == once  # idempotent
    try:
        ns, _ = formatted(path, "ns")
    except NetspecError as exc:  # only lists holding mappings have no .ns form
        assert "has no .ns form" in exc.message
        return
    assert _lets(ns, "spec.ns") == before
    (folder / "spec.ns").write_text(ns)
    back, _ = formatted(folder / "spec.ns", "yaml")
    assert _lets(back, "spec.yaml") == before


def test_a_line_separator_in_an_ns_comment_does_not_shift_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "ls.ns"
    path.write_text(
        "netspec 1\nname c  # a\u2028b\ninput [3, 8, 8]\nlayers {\n    conv2e(4, 3)\n}\n"
    )
    result = run("check", str(path))
    assert result.exit_code == 2
    assert result.output.splitlines()[:2] == [
        "error: ls.ns:5:5: 0: unknown operator 'conv2e'",
        " 5 |     conv2e(4, 3)",
    ]


@pytest.mark.parametrize(
    "value", ["²", "3,²,8", "3," + "9" * 39 + ",8", "3,10000000000000000000,8"]
)
def test_odd_input_sizes_are_clean_errors(tiny: Path, value: str) -> None:
    result = run("check", str(tiny), "--input", value)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "s.ns",
            'netspec 1\nname x\ndescription "a\\ud800b"\ninput [3, 8, 8]\nlayers {\n    relu\n}\n',
        ),
        (
            "s.yaml",
            "netspec: 1\nname: x\ninput: [3, 8, 8]\nlet:\n  s: \"'a\\\\udc00'\"\n"
            "layers:\n  - relu\n",
        ),
    ],
)
def test_a_lone_surrogate_is_refused_in_both_formats(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    result = run("check", str(path))
    assert result.exit_code == 2, result.output
    assert "half of a UTF-16 surrogate pair, not a character" in result.output


FMT_TRAPS = (
    "netspec: 1\nname: b\ndescription: |\n  first\n  # not a comment\ninput: [3, 8, 8]\n"
    "let:\n  s: \"\\\"a\\\\\\\" # x\\\"\"  # a real one\n  t: '''it # not'''\nlayers:\n  - relu\n"
)


def test_fmt_leaves_hashes_in_strings_alone(tmp_path: Path) -> None:
    from netspec.spec.format import formatted

    path = tmp_path / "traps.yaml"
    path.write_text(FMT_TRAPS)
    before = netspec.loads(FMT_TRAPS, name="traps.yaml").summary()
    once, _ = formatted(path)
    assert once.count("# not a comment") == 1 and once.count("# a real one") == 1
    assert once.count("# x") == 1 and once.count("# not") == 2
    path.write_text(once)
    assert formatted(path)[0] == once
    after = netspec.loads(once, name="traps.yaml").summary()
    assert (after["description"], after["let"]) == (before["description"], before["let"])


# -- recursion ---------------------------------------------------------------------------------

RECURSIVE_NS = """netspec 1
name rec
input [3, 16, 16]
params {
    depth = 3
}
block Even(d) {
    conv: conv2d(3, 1)
    if d > 0 {
        odd: Odd(d - 1)
        both: add from [conv, odd]
    }
}
block Odd(d) {
    inner: Even(d)
}
layers {
    top: Even(depth)
}
"""


@pytest.mark.parametrize("command", ["check", "build", "codegen"])
def test_a_recursive_block_with_a_terminating_condition_is_valid(tiny: Path, command: str) -> None:
    path = tiny.parent / "rec.ns"
    path.write_text(RECURSIVE_NS)
    result = run(command, str(path))
    assert result.exit_code == 0, result.output
    if command == "codegen":
        assert "self.odd: nn.Module | None = Odd(3, d - 1)" in result.output


@pytest.mark.parametrize("depth", ["40", "10**9", "2**62"])
def test_a_recursion_too_deep_is_an_error_at_once(tiny: Path, depth: str) -> None:
    path = tiny.parent / "rec.ns"
    path.write_text(RECURSIVE_NS)
    result = run("check", str(path), "--set", f"depth={depth}")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and "Traceback" not in result.output
    assert "unbounded recursion: Even is still calling itself 32 blocks deep" in result.output
    assert "rec.ns:15:5: " in result.output.splitlines()[0]  # Odd's call of Even


# -- regressions found by tests/test_fuzz.py ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "first"),
    [
        (["check", "x.yaml", "--foo"], "error: netspec check: No such option: --foo"),
        (["check", "x.yaml", "--format", "xml"], "error: netspec check: Invalid value for"),
        (["bogus"], "error: netspec: No such command 'bogus'."),
        ([], "error: netspec: a command is needed"),
        # click's error for a flag given a value has no context: the command is found
        (["check", "x.yaml", "--explain=yes"], "error: netspec check: Option '--explain' does"),
        (["--bogus", "check", "x.yaml"], "error: netspec: No such option: --bogus"),  # the group's
        (["chek", "list"], "error: netspec: No such command 'chek'."),
    ],
)
def test_command_line_mistakes_start_with_error(args: list[str], first: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith(first), result.stderr


class _CodeRepr(int):
    def __repr__(self) -> str:
        return '__import__("os").getcwd()'

    __str__ = __repr__


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([[float("nan")]], "nan is not a finite number"),
        ([[object()]], "a value of type object is not one of the language's"),
        ([1] * 200_000, "more than 100,000 items in all"),
        ("a" * 20_000, "longer than 10,000 characters"),
        ("\ud800", "half of a UTF-16 surrogate pair"),
        (10**100, "the integer is too large"),
    ],
)
def test_keyword_values_are_the_languages_values(value: Any, message: str) -> None:
    text = TINY.replace("name: tiny", "name: tiny\nparams:\n  v: [[1]]\n  s: x\n  n: 4")
    name = "s" if isinstance(value, str) else "n" if isinstance(value, int) else "v"
    with pytest.raises(NetspecError, match=message):
        netspec.loads(text, **{name: value})


def test_a_keyword_value_never_writes_its_repr() -> None:
    text = TINY.replace("name: tiny", "name: tiny\nparams:\n  n: 4").replace("(4, 3)", "(n, 3)")
    source = netspec.loads(text, n=_CodeRepr(4)).source()
    assert "getcwd" not in source and "n: int = 4" in source


@pytest.mark.parametrize(
    "call",
    [
        lambda: netspec.loads(TINY, name=None),
        lambda: netspec.loads(TINY, input_shape=b"abc"),
        lambda: netspec.loads(TINY).summary(None),
        lambda: netspec.loads(TINY).build(verify="yes"),
    ],
)
def test_api_arguments_of_the_wrong_type_are_type_errors(call: Any) -> None:
    with pytest.raises(TypeError):
        call()


def test_summary_refuses_an_unknown_mac_convention() -> None:
    with pytest.raises(NetspecError, match="macs must be 'torchvision' or 'all'"):
        netspec.loads(TINY).summary("none")  # type: ignore[arg-type]


def test_a_tab_error_counts_lines_as_yaml_does(tmp_path: Path) -> None:
    path = tmp_path / "tab.yaml"
    path.write_text("netspec: 1\n# a\x1cb\nname: t\n\tinput: [3]\n")
    result = run("check", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}:4:1: document: a tab in the indentation")


def test_an_ns_file_may_start_with_a_byte_order_mark() -> None:
    text = "\ufeffnetspec 1\nname t\ninput [3, 8, 8]\nlayers {\n    conv2e(4, 3)\n}\n"
    with pytest.raises(NetspecError) as caught:
        netspec.loads(text, name="b.ns").check()
    assert str(caught.value).startswith("b.ns:5:5: 0: unknown operator 'conv2e'")
    assert netspec.loads(text.replace("conv2e", "conv2d"), name="b.ns").check() is not None


def test_pooling_arithmetic_past_the_language_bounds_compiles() -> None:
    text = TINY.replace("conv2d(4, 3)", "p: maxpool2d(3, ceil_mode=true, stride=2**62)")
    spec = netspec.loads(text.replace("  - relu\n", ""))
    assert "stride=2**62" in spec.source()
    assert spec.build() is not None


@pytest.mark.parametrize(
    ("extra", "layer", "message"),
    [
        ("params:\n  PaddedConv2d: 4\n", "conv2d(PaddedConv2d, 3)", "generated code defines"),
        (
            "params:\n  B: 4\n" + "blocks:\n  B:\n    body: [relu]\n",
            "b: B",
            "has the name of block",
        ),
        ("blocks:\n  Tiny:\n    body: [relu]\n", "b: Tiny", "has the name of the model's class"),
    ],
)
def test_names_that_would_hide_a_class_in_generated_code(
    extra: str, layer: str, message: str
) -> None:
    text = TINY.replace("layers:\n  - conv2d(4, 3)\n  - relu\n", extra + f"layers:\n  - {layer}\n")
    with pytest.raises(NetspecError, match=message) as caught:
        netspec.loads(text)
    assert caught.value.span is not None


def test_a_dunder_class_name_is_refused() -> None:
    with pytest.raises(NetspecError, match="starts with a double underscore"):
        netspec.loads(TINY.replace("name: tiny", "name: tiny\nclass_name: __builtins__"))


@pytest.mark.parametrize("out", ["tiny.yaml/", "model\x00.py"])
def test_out_names_that_cannot_be_a_file(tiny: Path, out: str) -> None:
    result = run("codegen", str(tiny), "--out", out, "--force")
    assert result.exit_code == 2 and result.stderr.startswith("error: --out:"), result.output
    assert tiny.read_text() == TINY


@pytest.mark.parametrize(
    ("value", "message"),
    [("3," * 5000 + "3", "--input expects 1 to 4 sizes, found 5001"), ("9" * 30 + ",9", "int64")],
)
def test_input_option_shapes_are_checked_as_an_option(tiny: Path, value: str, message: str) -> None:
    result = run("check", str(tiny), "--input", value)
    assert result.exit_code == 2 and result.stderr.startswith("error: --input:")
    assert message in result.stderr


def test_a_long_message_is_shortened(tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    path.write_text(TINY.replace("[3, 8, 8]", '"[1] * 100000"'))
    result = run("check", str(path))
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()[0]) < 1200 and "characters in all" in result.stderr


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("round(1, -10**9)", "at most 40 digits before the point"),  # Python: 10**10**9
        ("9223372036854775808 * ''", "the repeat count is too large"),  # Python: OverflowError
    ],
)
def test_expressions_python_cannot_finish_are_refused(expression: str, message: str) -> None:
    text = TINY.replace("layers:", f'let:\n  v: "{expression}"\nlayers:')
    with pytest.raises(NetspecError, match=message):
        netspec.loads(text).check()
