"""The collector is paused during loading and expansion, and always given back."""

from __future__ import annotations

import gc

import pytest

import netspec
from netspec.errors import NetspecError
from netspec.pause import collector_paused


def test_paused_while_running_and_enabled_after() -> None:
    seen: list[bool] = []

    @collector_paused
    def work() -> int:
        seen.append(gc.isenabled())
        return 7

    assert gc.isenabled()
    assert work() == 7
    assert seen == [False]
    assert gc.isenabled()


def test_enabled_again_after_an_error() -> None:
    @collector_paused
    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        fail()
    assert gc.isenabled()


def test_a_collector_disabled_by_the_caller_stays_disabled() -> None:
    @collector_paused
    def work() -> bool:
        return gc.isenabled()

    gc.disable()
    try:
        assert work() is False
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_nested_calls_leave_it_to_the_outermost() -> None:
    @collector_paused
    def inner() -> bool:
        return gc.isenabled()

    @collector_paused
    def outer() -> tuple[bool, bool]:
        return inner(), gc.isenabled()

    assert outer() == (False, False)
    assert gc.isenabled()


def test_loading_expanding_and_errors_give_it_back() -> None:
    spec = netspec.load("resnet18")
    assert spec.summary()["parameters"] == 11_689_512
    assert gc.isenabled()
    with pytest.raises(NetspecError):
        netspec.loads("netspec: 1\nname: x\ninput: [3, 8, 8]\nlayers:\n  - conv2d(0, 3)\n").check()
    assert gc.isenabled()
    with pytest.raises(NetspecError):
        netspec.loads("netspec: 1\nlayers: [")
    assert gc.isenabled()
