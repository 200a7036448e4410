"""The summary back end: the table's layout, small and very large."""

from __future__ import annotations

import io

from rich.console import Console

import netspec
from netspec.backends import summary

CHAIN = "netspec: 1\nname: chain\ninput: [3, 8, 8]\nlayers:\n  - repeat: {n}\n    do: [relu]\n"


def _render(n: int, depth: int | None) -> list[str]:
    net = netspec.loads(CHAIN.format(n=n)).network
    out = io.StringIO()
    Console(file=out, width=1000, highlight=False, markup=False).print(
        summary.table(net, depth=depth)
    )
    return out.getvalue().splitlines()


def test_a_long_table_is_printed_as_aligned_lines() -> None:
    rows = summary.MAX_RICH_ROWS + 500
    lines = _render(rows, 0)
    header = next(i for i, line in enumerate(lines) if line.startswith("Layer"))
    assert lines[header].split() == ["Layer", "Operator", "Output", "Params", "MACs"]
    body = lines[header + 2 : header + 2 + rows]
    assert [line.split() for line in body[:2]] == [["0", "relu", "3×8×8"], ["1", "relu", "3×8×8"]]
    assert len({line.index("relu") for line in body}) == 1  # one column for every row
    assert lines[header + 1 + rows].split()[0] == str(rows - 1)


def test_a_short_table_keeps_rich_layout() -> None:
    lines = _render(3, 0)
    header = next(line for line in lines if line.startswith("Layer"))
    assert header.split() == ["Layer", "Operator", "Output", "Params", "MACs"]
    assert sum(line.split()[1:2] == ["relu"] for line in lines) == 3


def test_every_let_name_is_shown_with_its_value() -> None:
    """A literal as itself, a computed one with how it is computed, a value too long for the
    line counted and left to the JSON report."""
    text = (
        "netspec: 1\nname: l\ninput: [3, 8, 8]\nlet:\n  r: 4\n  s: r + 1\n  t: [1, 2]\n"
        '  u: "[i for i in range(40)]"\nlayers:\n  - c: conv2d(r * s, 1)\n'
    )
    net = netspec.loads(text).network
    out = io.StringIO()
    Console(file=out, width=1000, highlight=False, markup=False).print(summary.table(net))
    line = next(x for x in out.getvalue().splitlines() if x.startswith("let"))
    assert (
        line.split(None, 1)[1] == "r = 4 · s = r + 1 = 5 · t = [1, 2] · 1 more with --format json"
    )
