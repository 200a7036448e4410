"""The project's own standards, enforced by the test suite: ruff and mypy (strict) are clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize(
    "args",
    [
        ["ruff", "check", "netspec", "tests", "benchmarks"],
        ["ruff", "format", "--check", "netspec", "tests", "benchmarks"],
        ["mypy", "netspec"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_tool_is_clean(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
