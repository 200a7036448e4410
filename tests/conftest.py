"""Shared test set-up: hypothesis profiles and small helpers."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# "ci" is the default, with the same examples on every run (CI passes or fails for the code, not
# the draw); run `pytest --hypothesis-profile=thorough` for a deliberate, long, random run.
settings.register_profile(
    "ci",
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REFERENCE = Path(__file__).parent / "reference"


def reference(name: str) -> dict[str, Any]:
    """A torchvision reference manifest (see tests/reference/README.md)."""
    return _json(REFERENCE / "torchvision" / f"{name}.json")


def fingerprint(name: str) -> dict[str, Any]:
    """A torchvision output fingerprint under the deterministic weight fill (see
    tests/reference/README.md)."""
    return _json(REFERENCE / "fingerprints" / f"{name}.json")


def manifest_names() -> list[str]:
    """The models with a reference manifest."""
    return sorted(path.stem for path in (REFERENCE / "torchvision").glob("*.json"))


def fingerprint_names() -> list[str]:
    """The models with a reference fingerprint."""
    return sorted(path.stem for path in (REFERENCE / "fingerprints").glob("*.json"))


def zoo() -> dict[str, dict[str, Any]]:
    """tests/reference/zoo.md's table: for each torchvision builder, its `input` and `output`
    shapes (lists of ints), `parameters` and `macs`."""
    rows: dict[str, dict[str, Any]] = {}
    for line in (REFERENCE / "zoo.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 6 or not cells[0].startswith("`"):
            continue
        builder, input_shape, output_shape, parameters, macs, _ = cells
        rows[builder.strip("`")] = {
            "input": [int(d) for d in input_shape.split("×")],
            "output": [int(d) for d in output_shape.split("×")],
            "parameters": int(parameters.replace(",", "")),
            "macs": int(macs.replace(",", "")),
        }
    return rows


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def spec_text(layers: list[str], input_shape: tuple[int, ...], **extra: Any) -> str:
    """A minimal spec around some layer lines (each already `- ...` formatted)."""
    head = ["netspec: 1", "name: t", f"input: {list(input_shape)}"]
    for key, value in extra.items():
        head.append(f"{key}: {value}")
    return "\n".join(head + ["layers:"] + [f"  {line}" for line in layers]) + "\n"


@pytest.fixture
def tmp_spec(tmp_path: Path) -> Iterator[Any]:
    """Write spec text to a file and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    yield write


def assert_codegen_refuses(text: str, headline: str, hint: str) -> None:
    """``check`` accepts the spec ``text`` (read as ``spec.yaml``), and ``codegen`` refuses it
    with an error whose rendering starts with ``headline`` and whose hint says ``hint``."""
    import netspec  # noqa: PLC0415
    from netspec.errors import NetspecError  # noqa: PLC0415

    spec = netspec.loads(text, name="spec.yaml")
    spec.check()
    with pytest.raises(NetspecError) as info:
        spec.source()
    assert info.value.render().startswith(headline), info.value.render()
    assert hint in (info.value.hint or ""), info.value.hint
