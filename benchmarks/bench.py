"""netspec's speed, side by side with the alternatives, in one process and one run.

For each model it times (medians over repeats):

- **static**: netspec's static analysis — read and validate the spec, expand it and infer the
  per-layer table (expression parse caches cleared each time, so every text is parsed again);
  and, for comparison, the analysis of a spec already loaded (expand → table), which is what
  the PyTorch routes below time of their model (its class is imported once, outside them);
- **meta**: the cheapest PyTorch route to the same table — build the reference module on the
  meta device, run a meta forward with hooks on every leaf, count parameters;
- **torchinfo**: ``torchinfo.summary`` on the meta device, when torchinfo is installed;
- **build**: constructing the module on the CPU with netspec vs the reference constructor
  (torchvision's when it imports, else the equivalent hand-written module kept here);
- **forward**: one CPU forward pass of the netspec module vs the reference, same weights;

and, once, ``netspec check`` as a whole process (it must not import torch), a 99,990-layer
chain (the analysis, the whole table, and the build against a plain ``nn.Sequential``), and
``netspec sweep``'s rate: configurations of mobilenet_v2 analysed per second over grids of
widths and input sizes (a few sizes a width: each width expanded, each other size inferred
again; many: each width's network compiled into a program of its input sizes).

The static analysis, the analysis of the loaded spec and the meta route are timed in turn
within each repeat (as the two builds are), so their ratios hold on a shared machine whose
speed drifts from minute to minute.

Run: ``python benchmarks/bench.py [--models vgg16 alexnet] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

import netspec
from netspec.source import parser

# -- reference modules: torchvision's when importable, else written here ------------------------


class _VGG(nn.Module):
    def __init__(self, config: list[int | str], batch_norm: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for v in config:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            assert isinstance(v, int)
            layers.append(nn.Conv2d(channels, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            channels = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(0.5),
            nn.Linear(4096, 1000),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)  # type: ignore[no-any-return]


class _AlexNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(0.5),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 1000),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)  # type: ignore[no-any-return]


class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * 4),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)  # type: ignore[no-any-return]


class _ResNet(nn.Module):
    def __init__(self, depths: list[int]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = 64
        stages = []
        for i, (depth, planes) in enumerate(zip(depths, (64, 128, 256, 512), strict=True)):
            blocks = [_Bottleneck(inplanes, planes, 1 if i == 0 else 2)]
            inplanes = planes * 4
            blocks += [_Bottleneck(inplanes, planes) for _ in range(depth - 1)]
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)  # type: ignore[no-any-return]


_CFG_D: list[int | str] = [
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    "M",
]

HAND_WRITTEN: dict[str, Callable[[], nn.Module]] = {
    "resnet50": lambda: _ResNet([3, 4, 6, 3]),
    "resnet152": lambda: _ResNet([3, 8, 36, 3]),
    "vgg16": lambda: _VGG(_CFG_D),
    "vgg16_bn": lambda: _VGG(_CFG_D, batch_norm=True),
    "alexnet": _AlexNet,
}


def reference(name: str) -> tuple[str, Callable[[], nn.Module]]:
    """The module the PyTorch routes time: torchvision's builder where it imports, a
    hand-written one, or else netspec's generated class (compiled once, outside the timings:
    the meta route then times what any PyTorch class costs there)."""
    try:
        import torchvision.models as tv  # noqa: PLC0415

        factory = getattr(tv, name)
        with torch.device("meta"):
            factory()  # the C extension may fail to load only when used
        return "torchvision", factory  # type: ignore[no-any-return]
    except Exception:  # noqa: BLE001 - torchvision missing or broken: use ours
        if name in HAND_WRITTEN:
            return "hand-written", HAND_WRITTEN[name]
    with torch.device("meta"):
        cls = type(netspec.load(name).build())
    return "generated", cls


# -- timing -------------------------------------------------------------------------------------


def median_time(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_times(fns: list[Callable[[], Any]], repeat: int) -> list[float]:
    """Medians of each of ``fns``, timed in turn within every round and in a rotated order
    from round to round, so that a slow spell of a shared machine, or the state of the
    allocator and caches, favours none of them: a ratio of two of them is then stable where
    two medians timed a minute apart are not (building a large model is dominated by
    allocating and initialising its weights, which the order of runs otherwise skews)."""
    for fn in fns:  # warm up each
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for i in range(repeat):
        for k in range(len(fns)):
            j = (i + k) % len(fns)
            start = time.perf_counter()
            fns[j]()
            times[j].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def paired_times(
    first: Callable[[], Any], second: Callable[[], Any], repeat: int
) -> tuple[float, float]:
    """Medians of ``first`` and ``second`` timed alternately (see :func:`interleaved_times`)."""
    a, b = interleaved_times([first, second], repeat)
    return a, b


def static(name: str) -> None:
    parser._parse_cached.cache_clear()
    netspec.load(name).summary()


def analysed(spec: netspec.Spec) -> None:
    """The analysis of a loaded spec: expanded and tabled again (a fresh ``Spec``, so nothing
    of an earlier analysis is reused)."""
    netspec.Spec(spec.spec).summary()


def meta_route(factory: Callable[[], nn.Module], shape: tuple[int, ...]) -> None:
    with torch.device("meta"):
        model = factory()
    rows: list[tuple[int, ...]] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: rows.append(tuple(out.shape)))
        for m in model.modules()
        if next(m.children(), None) is None
    ]
    with torch.no_grad():
        model(torch.empty(1, *shape, device="meta"))
    sum(p.numel() for p in model.parameters())
    for h in hooks:
        h.remove()


def torchinfo_route(factory: Callable[[], nn.Module], shape: tuple[int, ...]) -> bool:
    try:
        import torchinfo  # noqa: PLC0415
    except ImportError:
        return False
    with torch.device("meta"):
        model = factory()
    torchinfo.summary(model, input_size=(1, *shape), device="meta", verbose=0)
    return True


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:9.2f} ms"


def main() -> None:
    parser_ = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser_.add_argument(
        "--models",
        nargs="+",
        default=["resnet50", "resnet152", "vgg16", "efficientnet_b7", "regnet_y_128gf", "vit_h_14"],
    )
    parser_.add_argument("--repeat", type=int, default=5)
    parser_.add_argument("--batch", type=int, default=8, help="batch of the forward timing")
    args = parser_.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    netspec.load("lenet5").summary()  # compile the grammar once, outside the timings

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{args.repeat} repeats (medians)\n"
    )
    for name in args.models:
        kind, factory = reference(name)
        spec = netspec.load(name)
        shape = spec.network.input
        t_static, t_loaded, t_meta = interleaved_times(
            [
                lambda n=name: static(n),
                lambda s=spec: analysed(s),
                lambda f=factory, s=shape: meta_route(f, s),
            ],
            args.repeat,
        )
        has_torchinfo = torchinfo_route(factory, shape)
        t_info = (
            median_time(lambda f=factory, s=shape: torchinfo_route(f, s), args.repeat)
            if has_torchinfo
            else float("nan")
        )
        print(f"{name} ({spec.network.totals.parameters:,} parameters; reference: {kind})")
        print(f"  static analysis (netspec)      {fmt(t_static)}")
        ratio = f"{t_meta / t_loaded:7.1f}x that"
        print(f"  ... of the spec loaded         {fmt(t_loaded)}   (the meta route is {ratio})")
        ratio = f"{t_meta / t_static:7.1f}x the static time"
        print(f"  meta build + forward + hooks   {fmt(t_meta)}   {ratio}")
        if has_torchinfo:
            ratio = f"{t_info / t_static:7.1f}x the static time"
            print(f"  torchinfo.summary (meta)       {fmt(t_info)}   {ratio}")
        if kind == "generated":  # no independent module to compare building and running with
            print()
            continue
        t_build, t_ref_build = paired_times(spec.build, factory, args.repeat)

        ours, ref = spec.build().eval(), factory().eval()
        ref.load_state_dict(ours.state_dict())
        x = torch.randn(args.batch, *shape)
        with torch.no_grad():
            assert torch.equal(ours(x), ref(x)), "netspec and reference outputs differ"
            ours(x), ref(x)  # warm up
            t_fwd = median_time(lambda m=ours, t=x: m(t), args.repeat)
            t_ref_fwd = median_time(lambda m=ref, t=x: m(t), args.repeat)

        print(f"  build: netspec                 {fmt(t_build)}")
        print(
            f"  build: {kind:<23} {fmt(t_ref_build)}   netspec/reference "
            f"{t_build / t_ref_build:5.2f}"
        )
        print(f"  forward (batch {args.batch}): netspec      {fmt(t_fwd)}")
        print(
            f"  forward (batch {args.batch}): {kind:<12}  {fmt(t_ref_fwd)}   "
            f"netspec/reference {t_fwd / t_ref_fwd:5.2f}\n"
        )

    chain()
    sweep()
    check = [sys.executable, "-m", "netspec", "check", args.models[-1]]
    t_proc = median_time(
        lambda: subprocess.run(check, capture_output=True, check=True), args.repeat
    )
    probe = "import sys, netspec.cli; print('torch' in sys.modules)"
    imports_torch = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True
    ).stdout.strip()
    print(
        f"`netspec check {args.models[-1]}` as a process: {fmt(t_proc)} "
        f"(imports torch: {imports_torch})"
    )


CHAIN = "netspec: 1\nname: chain\ninput: [3, 8, 8]\nlayers:\n  - repeat: 99990\n    do: [relu]\n"
"""The longest network the limits allow (100,000 layers): analysis must stay linear."""


def chain() -> None:
    """A 99,990-layer chain: the analysis, the whole table (``--depth 0``) and the build, with
    a plain ``nn.Sequential`` of as many ``nn.ReLU`` for the build."""
    from rich.console import Console  # noqa: PLC0415

    from netspec.backends import summary  # noqa: PLC0415

    def table() -> None:
        net = netspec.loads(CHAIN).network
        Console(file=open(os.devnull, "w"), width=1000).print(summary.table(net, depth=0))  # noqa: SIM115

    t_check = median_time(lambda: netspec.loads(CHAIN).summary(), 3)
    t_table = median_time(table, 3)
    t_build = median_time(lambda: netspec.loads(CHAIN).build(), 1)
    t_ref = median_time(lambda: nn.Sequential(*[nn.ReLU() for _ in range(99990)]), 1)
    print("chain of 99,990 layers")
    print(f"  static analysis (netspec)      {fmt(t_check)}")
    print(f"  ... and the whole table        {fmt(t_table)}")
    print(f"  build: netspec                 {fmt(t_build)}")
    ratio = f"netspec/reference {t_build / t_ref:5.2f}"
    print(f"  build: nn.Sequential of ReLUs  {fmt(t_ref)}   {ratio}\n")


def sweep() -> None:
    """``netspec sweep SPEC --grid …`` without printing: the spec read once, every
    combination analysed (what the command does per row)."""

    def sizes(numbers: range) -> str:
        return "input=" + ",".join(str(size) for size in numbers)

    def widths(first: float, count: int) -> str:
        return "width_mult=" + ",".join(f"{first + 0.05 * i:.2f}" for i in range(count))

    grids: list[tuple[str, str | None, str | None]] = [
        ("mobilenet_v2", "width_mult=0.5,0.75,1.0,1.25,1.4", "input=96,128,160,192,224"),
        ("mobilenet_v2", "width_mult=0.5,0.75,1.0", "input=160,192,224"),  # the README's
        # 65 sizes a width: compiled
        ("mobilenet_v2", "width_mult=0.5,0.75,1.0,1.25,1.4", sizes(range(64, 321, 4))),
        # 24 widths: the spec compiled once into a program of the width and the sizes
        ("mobilenet_v2", widths(0.3, 24), "input=96,128,160,192,224"),
        ("mobilenet_v2", widths(0.3, 24), None),
        # an encoder-decoder: its crops and concats read earlier tensors by name (`from:`)
        ("unet", None, sizes(range(188, 700, 8))),
        # a layer's arguments read its block's input size (ASPP's pooling resized back)
        ("deeplabv3_resnet50", None, sizes(range(160, 672, 8))),
    ]

    def brief(axis: str | None) -> str | None:
        parts = (axis or "").split(",")
        return axis if len(parts) < 6 else f"{parts[0]},{parts[1]},…,{parts[-1]}"

    for name, across, inputs in grids:
        over = " × ".join(shown for shown in (brief(across), brief(inputs)) if shown)
        rows, seconds = timed_sweep(name, [g for g in (across, inputs) if g])
        print(f"sweep of {name} over {over}")
        rate = f"{rows / seconds:7.0f} per second"
        print(f"  {rows} configurations, analysed  {fmt(seconds)}   {rate}\n")


def timed_sweep(name: str, grid: list[str]) -> tuple[int, float]:
    """The rows of ``netspec sweep NAME --grid …`` and the median seconds a sweep takes."""
    from netspec.backends import sweep as sweeping  # noqa: PLC0415
    from netspec.spec.load import load_spec  # noqa: PLC0415
    from netspec.spec.params import declared  # noqa: PLC0415

    model = load_spec(name)
    sweeper = sweeping.Sweeper(model, declared(model), {}, None)
    axes = sweeping.parse_grid(grid, declared(model))
    rows = len(sweeper.run(axes))
    return rows, median_time(lambda: sweeper.run(axes), 5)


if __name__ == "__main__":
    main()
