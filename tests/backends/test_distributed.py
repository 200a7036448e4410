"""Generated modules train under torch.distributed: two processes on CPU (gloo), each with
half of a fixed batch, end two SGD steps with the parameters and gradients that one process
training on the whole batch ends with — under DistributedDataParallel, and under FSDP
(``fully_shard``) where this torch supports it on CPU (a skip, with the reason, otherwise).

The models are the classes of `netspec codegen`, executed from :meth:`netspec.Spec.source`:
LeNet-5, and ResNet-18 at 3×32×32 with one block per stage (generated block classes, identity
and projected shortcuts; under FSDP each block is its own unit). ResNet-18's BatchNorm runs in
eval mode: in train mode each process normalises with its own half's statistics
(SyncBatchNorm, which would share them, runs on GPUs only), so no data-parallel run could
equal one process.

Gradients: each rank's loss is the mean over its half and the collectives average the ranks'
gradients, so with equal halves the result is the gradient of the mean over the whole batch.

All runs share one pair of processes, started once for the module, to pay torch's start-up
once.
"""

from __future__ import annotations

import datetime
import functools
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

import netspec  # noqa: E402 - after the skips

WORLD = 2
BATCH = 8
STEPS = 2
LR = 0.1
RTOL, ATOL = 1e-4, 1e-6
MODELS: dict[str, tuple[str, dict[str, Any], tuple[int, ...] | None]] = {
    # name: (bundled spec, params, input)
    "lenet5": ("lenet5", {}, None),
    # ResNet-18's blocks (identity and projected shortcuts), one per stage: 4.9 M parameters
    "resnet18": ("resnet18", {"num_classes": 10, "depths": [1, 1, 1, 1]}, (3, 32, 32)),
}
CASES = {f"{model}-{how}": (model, how) for how in ("ddp", "fsdp") for model in MODELS}
UNSUPPORTED = re.compile(
    r"not (yet )?(implemented|supported)|unsupported|does not support|no fully_shard", re.I
)


def _model(source: str, class_name: str, frozen_norm: bool) -> Any:
    """A fresh model from the generated source, initialised from one seed (every process
    makes the same one)."""
    namespace: dict[str, Any] = {"__name__": f"netspec_generated_{class_name}"}
    exec(compile(source, f"<netspec {class_name}>", "exec"), namespace)  # noqa: S102
    torch.manual_seed(0)
    model = namespace[class_name]()
    if frozen_norm:
        model.eval()  # BatchNorm from its running statistics, the same in every process
    return model


def _train(model: Any, parameters: Any, x: Any, y: Any) -> None:
    optimizer = torch.optim.SGD(parameters, lr=LR)
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()


def _full(tensor: Any) -> Any:
    """A plain tensor of a parameter or gradient, gathered if FSDP shards it (a DTensor)."""
    full = getattr(tensor, "full_tensor", None)
    return (full() if full is not None else tensor).detach().clone()


def _worker(rank: int, port: int, jobs: dict[str, Any], out: str) -> None:
    """One rank: every case in turn, its parameters and gradients saved to ``out``."""
    if sys.platform.startswith("linux"):
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    torch.set_num_threads(1)
    timeout = datetime.timedelta(seconds=60)
    store = dist.TCPStore("127.0.0.1", port, WORLD, False, timeout=timeout)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=WORLD, timeout=timeout)
    half = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
    try:
        for case, (source, class_name, frozen_norm, how, x, y) in jobs.items():
            model = _model(source, class_name, frozen_norm)
            try:
                if how == "ddp":
                    from torch.nn.parallel import DistributedDataParallel

                    wrapped = DistributedDataParallel(model)
                    _train(wrapped, wrapped.parameters(), x[half], y[half])
                else:
                    _fsdp(model, x[half], y[half])
            except Exception as exc:  # noqa: BLE001 - reported to the test, which decides
                Path(out, f"{case}.error.{rank}").write_text(f"{type(exc).__name__}: {exc}")
                continue
            result = {
                "parameters": {n: _full(p) for n, p in model.named_parameters()},
                "gradients": {n: _full(p.grad) for n, p in model.named_parameters()},
            }
            torch.save(result, Path(out, f"{case}.{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _fsdp(model: Any, x: Any, y: Any) -> None:
    try:
        from torch.distributed.fsdp import fully_shard
    except ImportError:
        try:  # torch 2.4 and 2.5
            from torch.distributed._composable.fsdp import fully_shard
        except ImportError:
            raise NotImplementedError(f"no fully_shard in torch {torch.__version__}") from None
    from torch.distributed.device_mesh import init_device_mesh

    mesh = init_device_mesh("cpu", (WORLD,))
    for module in model.modules():  # each block its own unit, as FSDP is used on a ResNet
        if module is not model and type(module).__name__ in ("BasicBlock", "Bottleneck"):
            fully_shard(module, mesh=mesh)
    fully_shard(model, mesh=mesh)
    _train(model, model.parameters(), x, y)


def _data(shape: tuple[int, ...]) -> tuple[Any, Any]:
    generator = torch.Generator().manual_seed(1234)
    x = torch.randn(BATCH, *shape, generator=generator)
    y = torch.randint(0, 10, (BATCH,), generator=generator)
    return x, y


@functools.cache
def _spec(model: str) -> tuple[str, str, tuple[int, ...]]:
    """The generated source of a model, its class name and its input shape."""
    name, params, input_shape = MODELS[model]
    spec = netspec.load(name, input_shape=input_shape, **params)
    return spec.source(), spec.class_name, tuple(spec.network.input)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case trained by two processes; ``{case: [each rank's result] or an error}``."""
    if not (dist.is_available() and dist.is_gloo_available()):
        pytest.skip("this torch has no gloo backend for torch.distributed")
    import torch.multiprocessing as mp

    out = tmp_path_factory.mktemp("distributed")
    jobs = {}
    for case, (model, how) in CASES.items():
        source, class_name, shape = _spec(model)
        jobs[case] = (source, class_name, model == "resnet18", how, *_data(shape))
    # The store lives here, on a port the system picks: no race for a free port.
    store = dist.TCPStore(
        "127.0.0.1", 0, WORLD, True, timeout=datetime.timedelta(seconds=60), wait_for_workers=False
    )
    context = mp.start_processes(
        _worker, args=(store.port, jobs, str(out)), nprocs=WORLD, join=False, start_method="spawn"
    )
    deadline = time.monotonic() + 180
    failure = None
    try:
        while not context.join(timeout=1):
            if time.monotonic() > deadline:
                failure = "the processes did not finish in 180 s"
                break
    except Exception as exc:  # noqa: BLE001 - a rank died; its cases say so below
        failure = f"{type(exc).__name__}: {exc}"
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
                process.join()
        del store
    results: dict[str, Any] = {}
    for case in jobs:
        files = [out / f"{case}.{rank}.pt" for rank in range(WORLD)]
        errors = sorted(out.glob(f"{case}.error.*"))
        if all(f.exists() for f in files):
            results[case] = [torch.load(f) for f in files]
        else:
            results[case] = "; ".join(e.read_text() for e in errors) or failure or "no result"
    return results


@functools.cache
def _single(name: str, half: bool = False) -> dict[str, Any]:
    """The same training in this process, on the whole batch (or the first rank's half)."""
    source, class_name, shape = _spec(name)
    model = _model(source, class_name, name == "resnet18")
    x, y = _data(shape)
    if half:
        x, y = x[: BATCH // WORLD], y[: BATCH // WORLD]
    _train(model, model.parameters(), x, y)
    return {
        "parameters": {n: p.detach().clone() for n, p in model.named_parameters()},
        "gradients": {n: p.grad.detach().clone() for n, p in model.named_parameters()},
    }


def _assert_close(found: dict[str, Any], expected: dict[str, Any], what: str) -> None:
    assert list(found) == list(expected), what
    for key in expected:  # allclose first: assert_close's report is slow on big tensors
        if not torch.allclose(found[key], expected[key], rtol=RTOL, atol=ATOL):
            torch.testing.assert_close(
                found[key],
                expected[key],
                rtol=RTOL,
                atol=ATOL,
                msg=lambda m, k=key: f"{what} {k}: {m}",
            )


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """Torch on one thread here, as in the ranks: these models are small, and threads that
    spin-wait on a busy machine (CI's workers) only slow them down."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c][1] == "ddp"])
def test_ddp_equals_one_process_on_the_whole_batch(runs: dict[str, Any], case: str) -> None:
    found = runs[case]
    assert not isinstance(found, str), found
    expected = _single(CASES[case][0])
    for rank, result in enumerate(found):
        for what in ("parameters", "gradients"):
            _assert_close(result[what], expected[what], f"{case} rank {rank} {what}")


def test_the_comparison_has_teeth(runs: dict[str, Any]) -> None:
    # One rank's half alone trains to other gradients: the ranks end equal to the whole
    # batch's training only because their gradients were averaged.
    alone = _single("lenet5", half=True)["gradients"]
    found = runs["lenet5-ddp"][0]["gradients"]
    assert all(not torch.allclose(alone[k], found[k], rtol=1e-3, atol=1e-5) for k in alone)


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c][1] == "fsdp"])
def test_fsdp_equals_one_process_on_the_whole_batch(runs: dict[str, Any], case: str) -> None:
    found = runs[case]
    if isinstance(found, str) and UNSUPPORTED.search(found):
        pytest.skip(f"FSDP on CPU with gloo is not supported by torch {torch.__version__}: {found}")
    assert not isinstance(found, str), found
    expected = _single(CASES[case][0])
    for rank, result in enumerate(found):
        for what in ("parameters", "gradients"):
            _assert_close(result[what], expected[what], f"{case} rank {rank} {what}")
