"""torchvision's parameter formulas, written as a spec's ``let`` values.

Specs compute stage widths and depths the way torchvision's builders do instead of pasting
their results: RegNet's quantized linear widths (``BlockParams.from_init_params`` and
``_adjust_widths_groups_compatibilty``), EfficientNet's width and depth multipliers and its
stochastic-depth schedule, MNASNet's rounded depths. Each formula is evaluated by netspec and,
rendered as Python, by Python itself (as generated code runs it), and compared with
torchvision's own computation, transcribed below (torchvision itself is not a dependency).

RegNet computes in float32 torch tensors where a spec computes in Python floats (float64); the
test checks that every one of the fifteen torchvision configurations gives the same stages.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from netspec.expr import nodes as n
from netspec.expr.evaluate import BUILTINS, Scope, Sym, evaluate
from netspec.expr.render import render
from netspec.source.parser import parse_expr


def evaluate_lets(lets: list[tuple[str, str]], names: dict[str, Any]) -> dict[str, Any]:
    """Each ``let`` in order, as the analysis evaluates them; checked against Python running
    the same lets rendered as generated code renders them."""
    scope = Scope(dict(names))
    python: dict[str, Any] = {"math": math}
    exec(BUILTINS["make_divisible"].source, python)
    python.update(names)
    for name, text in lets:
        tree = parse_expr(text)
        scope.names[name] = evaluate(tree, scope)
        python[name] = eval(render(tree, python=True), python)
        assert python[name] == scope.names[name], (name, python[name], scope.names[name])
        assert type(python[name]) is type(scope.names[name]), name
    return scope.names


def torchvision_make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision.models._utils._make_divisible, verbatim."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


# -- RegNet --------------------------------------------------------------------------------------

REGNETS: dict[str, tuple[int, int, float, float, int]] = {
    # builder: (depth, w_0, w_a, w_m, group_width), as torchvision's regnet.py passes them
    "regnet_y_400mf": (16, 48, 27.89, 2.09, 8),
    "regnet_y_800mf": (14, 56, 38.84, 2.4, 16),
    "regnet_y_1_6gf": (27, 48, 20.71, 2.65, 24),
    "regnet_y_3_2gf": (21, 80, 42.63, 2.66, 24),
    "regnet_y_8gf": (17, 192, 76.82, 2.19, 56),
    "regnet_y_16gf": (18, 200, 106.23, 2.48, 112),
    "regnet_y_32gf": (20, 232, 115.89, 2.53, 232),
    "regnet_y_128gf": (27, 456, 160.83, 2.52, 264),
    "regnet_x_400mf": (22, 24, 24.48, 2.54, 16),
    "regnet_x_800mf": (16, 56, 35.73, 2.28, 16),
    "regnet_x_1_6gf": (18, 80, 34.01, 2.25, 24),
    "regnet_x_3_2gf": (25, 88, 26.31, 2.25, 48),
    "regnet_x_8gf": (23, 80, 49.56, 2.88, 120),
    "regnet_x_16gf": (22, 216, 55.59, 2.1, 128),
    "regnet_x_32gf": (23, 320, 69.86, 2.0, 168),
}

REGNET_LETS = [
    # the quantized linear widths, one per block
    ("widths_cont", "[i * w_a + w_0 for i in range(depth)]"),
    ("block_capacity", "[round(log(w / w_0) / log(w_m)) for w in widths_cont]"),
    ("block_widths", "[int(round(w_0 * w_m ** c / 8) * 8) for c in block_capacity]"),
    # stages: runs of equal widths
    ("splits", "[w != p for w, p in zip(block_widths + [0], [0] + block_widths)]"),
    ("starts", "[d for d, t in enumerate(splits) if t]"),
    ("stage_depths", "[b - a for a, b in zip(starts[:-1], starts[1:])]"),
    ("widths", "[w for w, t in zip(block_widths, splits[:-1]) if t]"),
    # widths and group widths made compatible
    ("bottleneck_widths", "[int(w * bottleneck_multiplier) for w in widths]"),
    ("group_widths", "[min(group_width, w) for w in bottleneck_widths]"),
    (
        "stage_widths",
        "[int(make_divisible(w, g) / bottleneck_multiplier)"
        " for w, g in zip(bottleneck_widths, group_widths)]",
    ),
]

REGNET_STAGES: dict[str, tuple[list[int], list[int], list[int]]] = {
    # builder: (stage widths, stage depths, group widths), as the formulas above give them
    "regnet_y_400mf": ([48, 104, 208, 440], [1, 3, 6, 6], [8, 8, 8, 8]),
    "regnet_y_800mf": ([64, 144, 320, 784], [1, 3, 8, 2], [16, 16, 16, 16]),
    "regnet_y_1_6gf": ([48, 120, 336, 888], [2, 6, 17, 2], [24, 24, 24, 24]),
    "regnet_y_3_2gf": ([72, 216, 576, 1512], [2, 5, 13, 1], [24, 24, 24, 24]),
    "regnet_y_8gf": ([224, 448, 896, 2016], [2, 4, 10, 1], [56, 56, 56, 56]),
    "regnet_y_16gf": ([224, 448, 1232, 3024], [2, 4, 11, 1], [112, 112, 112, 112]),
    "regnet_y_32gf": ([232, 696, 1392, 3712], [2, 5, 12, 1], [232, 232, 232, 232]),
    "regnet_y_128gf": ([528, 1056, 2904, 7392], [2, 7, 17, 1], [264, 264, 264, 264]),
    "regnet_x_400mf": ([32, 64, 160, 400], [1, 2, 7, 12], [16, 16, 16, 16]),
    "regnet_x_800mf": ([64, 128, 288, 672], [1, 3, 7, 5], [16, 16, 16, 16]),
    "regnet_x_1_6gf": ([72, 168, 408, 912], [2, 4, 10, 2], [24, 24, 24, 24]),
    "regnet_x_3_2gf": ([96, 192, 432, 1008], [2, 6, 15, 2], [48, 48, 48, 48]),
    "regnet_x_8gf": ([80, 240, 720, 1920], [2, 5, 15, 1], [80, 120, 120, 120]),
    "regnet_x_16gf": ([256, 512, 896, 2048], [2, 6, 13, 1], [128, 128, 128, 128]),
    "regnet_x_32gf": ([336, 672, 1344, 2520], [2, 7, 13, 1], [168, 168, 168, 168]),
}


def torchvision_regnet(
    depth: int, w_0: int, w_a: float, w_m: float, group_width: int, bottleneck: float = 1.0
) -> tuple[list[int], list[int], list[int]]:
    """torchvision's BlockParams.from_init_params and _adjust_widths_groups_compatibilty,
    transcribed: float32 tensors, as torchvision computes them."""
    quant = 8
    widths_cont = torch.arange(depth) * w_a + w_0
    block_capacity = torch.round(torch.log(widths_cont / w_0) / math.log(w_m))
    block_widths = (
        (torch.round(torch.divide(w_0 * torch.pow(w_m, block_capacity), quant)) * quant)
        .int()
        .tolist()
    )
    num_stages = len(set(block_widths))
    split_helper = zip(
        block_widths + [0], [0] + block_widths, block_widths + [0], [0] + block_widths, strict=True
    )
    splits = [w != wp or r != rp for w, wp, r, rp in split_helper]
    stage_widths = [w for w, t in zip(block_widths, splits[:-1], strict=True) if t]
    stage_depths = torch.diff(torch.tensor([d for d, t in enumerate(splits) if t])).int().tolist()
    bottleneck_multipliers = [bottleneck] * num_stages
    group_widths = [group_width] * num_stages
    widths = [int(w * b) for w, b in zip(stage_widths, bottleneck_multipliers, strict=True)]
    group_widths_min = [min(g, w_bot) for g, w_bot in zip(group_widths, widths, strict=True)]
    ws_bot = [
        torchvision_make_divisible(w_bot, g)
        for w_bot, g in zip(widths, group_widths_min, strict=True)
    ]
    stage_widths = [int(w_bot / b) for w_bot, b in zip(ws_bot, bottleneck_multipliers, strict=True)]
    return stage_widths, stage_depths, group_widths_min


def regnet_lets(depth: int, w_0: int, w_a: float, w_m: float, group_width: int) -> dict[str, Any]:
    names = {
        "depth": depth,
        "w_0": w_0,
        "w_a": w_a,
        "w_m": w_m,
        "group_width": group_width,
        "bottleneck_multiplier": 1.0,
    }
    return evaluate_lets(REGNET_LETS, names)


@pytest.mark.parametrize("builder", sorted(REGNETS))
def test_regnet_stages_in_float64_are_torchvisions_in_float32(builder: str) -> None:
    values = regnet_lets(*REGNETS[builder])
    got = (list(values["stage_widths"]), list(values["stage_depths"]), list(values["group_widths"]))
    assert got == torchvision_regnet(*REGNETS[builder])
    assert got == REGNET_STAGES[builder]
    assert sum(got[1]) == REGNETS[builder][0]  # every block is in a stage


def test_regnet_has_no_rounding_close_enough_to_differ_in_float32() -> None:
    """Why float64 and float32 agree: no value rounded is nearer a half than float32 can
    blur, except exact halves (22.5 in regnet_x_1_6gf), which both round half to even."""
    nearest = 1.0
    for depth, w_0, w_a, w_m, _ in REGNETS.values():
        for i in range(depth):
            capacity = math.log((i * w_a + w_0) / w_0) / math.log(w_m)
            quantized = w_0 * w_m ** round(capacity) / 8
            for x in (capacity, quantized):
                distance = abs(x - math.floor(x) - 0.5)
                if distance:
                    nearest = min(nearest, distance)
    assert nearest > 1e-3
    assert evaluate(parse_expr("round(80 * 2.25 / 8)"), Scope()) == 22  # half to even, like torch
    assert torch.round(torch.tensor(22.5)).item() == 22


# -- EfficientNet --------------------------------------------------------------------------------

EFFICIENTNETS = {
    # builder: (width_mult, depth_mult), as torchvision's efficientnet.py passes them
    "efficientnet_b0": (1.0, 1.0),
    "efficientnet_b1": (1.0, 1.1),
    "efficientnet_b2": (1.1, 1.2),
    "efficientnet_b3": (1.2, 1.4),
    "efficientnet_b4": (1.4, 1.8),
    "efficientnet_b5": (1.6, 2.2),
    "efficientnet_b6": (1.8, 2.6),
    "efficientnet_b7": (2.0, 3.1),
}
MB_CHANNELS = [32, 16, 24, 40, 80, 112, 192, 320]  # the stem's, then each stage's output
MB_LAYERS = [1, 2, 2, 3, 3, 4, 1]

EFFICIENTNET_LETS = [
    ("channels", f"[make_divisible(c * width_mult, 8) for c in {MB_CHANNELS}]"),
    ("depths", f"[ceil(n * depth_mult) for n in {MB_LAYERS}]"),
    ("last_channels", "4 * channels[-1]"),
    ("total_blocks", "sum(depths)"),
    # block_id counts blocks across stages: the first block of stage s is sum(depths[:s])
    (
        "sd_probs",
        "[0.2 * (sum(depths[:s]) + i) / total_blocks"
        " for s in range(len(depths)) for i in range(depths[s])]",
    ),
]


def torchvision_efficientnet(width_mult: float, depth_mult: float) -> dict[str, Any]:
    """torchvision's _MBConvConfig.adjust_channels / adjust_depth and the stochastic-depth
    probability of EfficientNet.__init__, transcribed."""
    channels = [torchvision_make_divisible(c * width_mult, 8, None) for c in MB_CHANNELS]
    depths = [int(math.ceil(n * depth_mult)) for n in MB_LAYERS]
    total_stage_blocks = sum(depths)
    probs = []
    stage_block_id = 0
    for num_layers in depths:
        for _ in range(num_layers):
            probs.append(0.2 * float(stage_block_id) / total_stage_blocks)
            stage_block_id += 1
    return {
        "channels": channels,
        "depths": depths,
        "last_channels": 4 * channels[-1],
        "sd_probs": probs,
    }


@pytest.mark.parametrize("builder", sorted(EFFICIENTNETS))
def test_efficientnet_formulas_are_torchvisions(builder: str) -> None:
    width_mult, depth_mult = EFFICIENTNETS[builder]
    values = evaluate_lets(EFFICIENTNET_LETS, {"width_mult": width_mult, "depth_mult": depth_mult})
    expected = torchvision_efficientnet(width_mult, depth_mult)
    for name in ("channels", "depths", "sd_probs"):
        assert list(values[name]) == expected[name], name  # floats exactly equal
    assert values["last_channels"] == expected["last_channels"]


def test_efficientnet_b7_values() -> None:
    values = evaluate_lets(EFFICIENTNET_LETS, {"width_mult": 2.0, "depth_mult": 3.1})
    assert values["channels"] == (64, 32, 48, 80, 160, 224, 384, 640)
    assert values["depths"] == (4, 7, 7, 10, 10, 13, 4)
    assert values["total_blocks"] == 55 and values["sd_probs"][-1] == 0.2 * 54 / 55


# -- MNASNet -------------------------------------------------------------------------------------

MNASNET_DEPTHS = [32, 16, 24, 40, 80, 96, 192, 320]
MNASNET_LETS = [
    # torchvision's _round_to_multiple_of(depth * alpha, 8), written out with max/int/if-else
    ("rounded", f"[max(8, int(d * alpha + 8 / 2) // 8 * 8) for d in {MNASNET_DEPTHS}]"),
    (
        "depths",
        f"[r if r >= 0.9 * (d * alpha) else r + 8 for d, r in zip({MNASNET_DEPTHS}, rounded)]",
    ),
    ("same", f"[make_divisible(d * alpha, 8) for d in {MNASNET_DEPTHS}]"),
]


def torchvision_round_to_multiple_of(val: float, divisor: int, round_up_bias: float = 0.9) -> int:
    """torchvision.models.mnasnet._round_to_multiple_of, verbatim."""
    assert 0.0 < round_up_bias < 1.0
    new_val = max(divisor, int(val + divisor / 2) // divisor * divisor)
    return new_val if new_val >= round_up_bias * val else new_val + divisor


@pytest.mark.parametrize(
    ("alpha", "depths"),
    [
        (0.5, [16, 8, 16, 24, 40, 48, 96, 160]),
        (0.75, [24, 16, 24, 32, 64, 72, 144, 240]),
        (1.0, [32, 16, 24, 40, 80, 96, 192, 320]),
        (1.3, [40, 24, 32, 56, 104, 128, 248, 416]),
    ],
)
def test_mnasnet_depths_are_torchvisions(alpha: float, depths: list[int]) -> None:
    values = evaluate_lets(MNASNET_LETS, {"alpha": alpha})
    expected = [torchvision_round_to_multiple_of(d * alpha, 8) for d in MNASNET_DEPTHS]
    assert list(values["depths"]) == expected == depths
    assert values["same"] == values["depths"]  # the rule is MobileNet's make_divisible


# -- generated code --------------------------------------------------------------------------------


def test_the_formulas_render_as_python_comprehensions() -> None:
    rendered = {name: render(parse_expr(text), python=True) for name, text in REGNET_LETS}
    assert rendered["block_capacity"] == (
        "tuple(round(math.log(w / w_0) / math.log(w_m)) for w in widths_cont)"
    )
    assert rendered["stage_depths"] == "tuple(b - a for a, b in zip(starts[:-1], starts[1:]))"
    assert render(parse_expr(EFFICIENTNET_LETS[1][1]), python=True) == (
        "tuple(math.ceil(n * depth_mult) for n in (1, 2, 2, 3, 3, 4, 1))"
    )


def test_the_formulas_stay_comprehensions_for_parameters_known_at_run_time() -> None:
    """With the builder's arguments unknown (constructor parameters of generated code), each
    let is the same comprehension, computing torchvision's values when run."""
    names = ("depth", "w_0", "w_a", "w_m", "group_width", "bottleneck_multiplier")
    scope = Scope({name: Sym(n.Name(name)) for name in names})
    for name, text in REGNET_LETS:
        value = evaluate(parse_expr(text), scope)
        scope.names[name] = Sym(n.Name(name))
        assert isinstance(value, Sym) and not value.known
        assert render(value.expr) == render(parse_expr(text)), name
