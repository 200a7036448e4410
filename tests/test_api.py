"""The Python API: netspec.load / loads and the Spec they return."""

from __future__ import annotations

import pytest

import netspec
from netspec.errors import NetspecError
from tests.conftest import spec_text


def test_load_by_name_and_path() -> None:
    by_name = netspec.load("lenet5")
    by_path = netspec.load(netspec.spec.load.bundled_dir() / "lenet5.yaml")
    assert by_name.summary() == by_path.summary()
    assert by_name.name == "lenet5" and by_name.class_name == "LeNet5"
    assert by_name.description and "LeNet-5" in by_name.description


def test_keyword_params_and_replace() -> None:
    vgg = netspec.load("vgg16", num_classes=10)
    assert vgg.params["num_classes"] == 10
    assert vgg.summary()["parameters"] == 134_301_514
    deeper = vgg.replace(depth=19)
    assert deeper.params == {**vgg.params, "depth": 19}
    assert deeper.summary()["parameters"] == 139_611_210


def test_bad_keyword_params() -> None:
    with pytest.raises(NetspecError, match="no parameter 'classes'"):
        netspec.load("vgg16", classes=10)
    with pytest.raises(NetspecError, match="depth must be one of"):
        netspec.load("vgg16", depth=12)
    with pytest.raises(NetspecError, match="expects an integer"):
        netspec.load("vgg16", num_classes="ten")


def test_input_shape_override() -> None:
    spec = netspec.load("alexnet", input_shape=(3, 256, 256))
    assert spec.summary()["input"] == [3, 256, 256]
    assert spec.summary()["output"] == [1000]


def test_loads_and_summary_contents() -> None:
    spec = netspec.loads(spec_text(["- fc: linear(4)"], (8,)))
    summary = spec.summary()
    assert summary["layers"] == [
        {
            "path": "fc",
            "op": "linear",
            "call": "linear(4)",
            "module": True,
            "input": [8],
            "output": [4],
            "parameters": 36,
            "macs": 32,
        }
    ]
    assert summary["macs_convention"] == "torchvision"
    assert spec.summary("all")["macs"] == 36  # + 4 bias additions


def test_summary_explain() -> None:
    """``summary(explain=True)``: each layer's arithmetic, as ``check --explain`` prints it."""
    layers = netspec.load("lenet5").summary(explain=True)["layers"]
    assert layers[0]["explain"][0] == "H: (32 − 5 + 2·0) / 1 + 1 = 28"
    with pytest.raises(TypeError, match="explain=True or False, found"):
        netspec.load("lenet5").summary(explain="yes")  # type: ignore[arg-type]


def test_static_analysis_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, netspec; netspec.load('vgg16').summary(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_error_attributes() -> None:
    with pytest.raises(NetspecError) as info:
        netspec.loads(spec_text(["- fc: linaer(4)"], (8,)), name="x.yaml").check()
    error = info.value
    assert error.span is not None and (error.span.file, error.span.line) == ("x.yaml", 5)
    assert error.where == "fc"
    assert error.hint and "linear" in error.hint
    assert repr(netspec.load("lenet5")).startswith("<netspec.Spec lenet5")


def test_loads_tells_the_formats_apart_without_a_file_name() -> None:
    from netspec.spec.load import bundled_dir

    for suffix in (".yaml", ".ns"):
        text = (bundled_dir() / f"lenet5{suffix}").read_text("utf-8")
        assert netspec.loads(text).summary()["parameters"] == 61_706
    assert netspec.loads("# c\nnetspec: 1\nname: a\ninput: [1, 4, 4]\nlayers: [relu]\n")
    assert netspec.loads("# c\nnetspec 1\nname a\ninput [1, 4, 4]\nlayers { relu }\n")
