"""The analysis refuses a tensor PyTorch could never make (netspec/infer/infer.py
``_check_sizes``), with the usual positioned exit-2 error, however large the tensor: one
whose element count is past float's range too (an upsampling by 1e300)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import netspec
from netspec.cli import app
from netspec.errors import ShapeError
from tests.conftest import spec_text

runner = CliRunner()


@pytest.mark.parametrize(
    ("shape", "call", "count", "dims"),
    [
        ((3, 8, 8), "upsample(scale_factor=1e300)", "1.92e+602", "3×8e+300×8e+300"),
        ((3, 8, 8, 8), "upsample(scale_factor=1e300)", "1.54e+903", "3×8e+300×8e+300×8e+300"),
        ((3, 8), "upsample(scale_factor=1.7e308)", "4.08e+309", "3×1.36e+309"),
        ((3, 8, 8), "upsample(scale_factor=1e18)", "1.92e+38", "3×8000000000000000000×"),
    ],
    ids=["2d", "3d", "1d", "in-float-range"],
)
def test_a_size_beyond_floats_is_a_positioned_error(
    tmp_path: Path, shape: tuple[int, ...], call: str, count: str, dims: str
) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(spec_text([f"- up: {call}"], shape))
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"error: {path}:5:5: up: upsample: its output {dims}"), first
    assert f"has {count} elements, more than PyTorch's int64 sizes hold" in first
    assert "internal error" not in result.output and "Traceback" not in result.output
    with pytest.raises(ShapeError, match="int64"):
        netspec.loads(spec_text([f"- up: {call}"], shape)).check()


def test_a_size_within_int64_is_accepted() -> None:
    spec = netspec.loads(spec_text(["- upsample(scale_factor=2**20)"], (1, 8, 8)))
    assert tuple(spec.network.root.output) == (1, 8 * 2**20, 8 * 2**20)


@pytest.mark.parametrize(
    "count",
    [1, 12, 999, 1000, 1234, 99_950, 2**63, 10**21, 999_500_000_000_000_000_000, 3 * 2**120]
    + [m * 10**e for m in (1000, 1004, 1236, 4500, 9994, 9996) for e in (17, 97, 297)],
    ids=lambda count: f"{float(count):.4g}",
)
def test_element_counts_read_as_floats_do(count: int) -> None:
    """Within float's range, ``_about`` writes what ``{:.3g}`` writes for the float (the
    message is unchanged there; a count halfway between two roundings aside, which the float
    itself may have moved)."""
    from netspec.infer.infer import _about

    assert _about(count) == f"{float(count):.3g}"


def test_element_counts_past_floats() -> None:
    from netspec.infer.infer import _about

    assert _about(10**400) == "1e+400"
    assert _about(123456 * 10**1000) == "1.23e+1005"
    assert _about(10**5000 - 1) == "1e+5000"  # rounded up, the exponent carried
