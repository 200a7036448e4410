"""Shared test set-up: hypothesis profiles and small helpers."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# "ci" is the default; run `pytest --hypothesis-profile=thorough` for a deliberate, long run.
settings.register_profile(
    "ci",
    max_examples=60,
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

REFERENCE = Path(__file__).parent / "reference" / "torchvision"


def reference(name: str) -> dict[str, Any]:
    """A torchvision reference manifest (see tests/reference/README.md)."""
    return json.loads((REFERENCE / f"{name}.json").read_text())  # type: ignore[no-any-return]


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
