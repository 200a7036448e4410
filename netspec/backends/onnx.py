"""The ONNX back end: the built module exported with ``torch.onnx.export``, batch dynamic.

Needs the optional ``onnx`` extra (``pip install 'netspec[onnx]'``: onnx and onnxscript).
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from netspec.errors import NetspecError
from netspec.files import write_with

if TYPE_CHECKING:
    from netspec.api import Spec


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's progress lines and warnings (netspec reports the outcome)."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "torch.export")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def export(spec: Spec, path: Path, force: bool = False, opset: int | None = None) -> None:
    """Build ``spec``'s module and write it to ``path`` as ONNX, with a dynamic batch axis.

    Raises:
        NetspecError: the onnx extra is missing, or the file exists and ``force`` is false.
    """
    if opset is not None and opset < 1:
        raise NetspecError(f"expects a positive version, found {opset}", where="--opset")
    try:
        import onnx
        import onnxscript  # noqa: F401 - torch's exporter needs it
    except ImportError:
        raise NetspecError(
            "ONNX export needs the onnx and onnxscript packages",
            hint="pip install 'netspec[onnx]'",
        ) from None
    newest = onnx.defs.onnx_opset_version()
    if opset is not None and opset > newest:  # refused before building and exporting
        raise NetspecError(
            f"onnx {onnx.__version__} knows opsets up to {newest}, found {opset}",
            where="--opset",
            hint="leave --opset out for the exporter's own, or ask for an older one",
        )
    import torch

    from netspec.backends.module import sample_input

    model = spec.build().eval()
    example = sample_input(spec.network)
    batch = torch.export.Dim("batch")

    def produce(tmp: Path) -> None:
        with _quiet():
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                input_names=["input"],
                output_names=["output"],
                dynamic_shapes=({0: batch},),
                opset_version=opset,
            )
            assert program is not None
            program.save(str(tmp))
        onnx.checker.check_model(str(tmp))
        if opset is not None:  # torch's exporter falls back to its own opset, warning only
            model_proto = onnx.load(str(tmp), load_external_data=False)
            written = [o.version for o in model_proto.opset_import if o.domain in ("", "ai.onnx")]
            if written != [opset]:
                later = all(version > opset for version in written)
                raise NetspecError(
                    f"torch's exporter wrote opset {', '.join(map(str, written))}, not {opset} "
                    "(it cannot convert this model to that opset)",
                    where="--opset",
                    hint="leave --opset out for the exporter's own, or ask for a "
                    f"{'newer' if later else 'older'} one",
                )

    write_with(path, produce, force, "--onnx")
