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
