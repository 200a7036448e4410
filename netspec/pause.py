"""Python's cyclic garbage collector paused while netspec builds its trees.

Loading and expanding a spec allocates tens of thousands of small objects that all live until
the analysis returns. CPython's collector counts allocations, not garbage, so it runs again and
again over objects that are still in use — about a tenth of the analysis of a large model, more
in a process that has imported torch, whose objects the older generations hold. The work is
bounded (the limits of ``netspec.spec.load`` and ``MAX_LAYERS``), so netspec pauses the
collector for its length and restores it after, as mypy raises its thresholds for a build.
Reference counting frees everything as usual meanwhile; only cycles wait for the next
collection.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def collector_paused(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` run with the cyclic collector disabled, and enabled again afterwards (whether
    ``fn`` returns or raises) unless it was already disabled: nested calls, and a caller that
    disabled it, are left as they are."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return run
