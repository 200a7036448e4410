"""Writing output files: atomically, and never over a user's file unless asked to."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from netspec.errors import NetspecError


def check_writable(path: Path, force: bool, option: str = "--out") -> None:
    """Refuse to replace an existing file unless ``force``.

    Args:
        option: the command-line option that named the file, for messages.

    Raises:
        NetspecError: the file exists (or the path is a folder, or its folder is missing).
    """
    if path.is_dir():
        raise NetspecError(f"{path} is a folder", where=option, hint="give a file name")
    if path.exists() and not force:
        raise NetspecError(
            f"{path} exists; netspec does not replace files unless asked",
            where=option,
            hint="add --force to replace it",
        )
    if not path.parent.exists():
        raise NetspecError(f"the folder {path.parent} does not exist", where=option)


def write_atomic(path: Path, data: str | bytes, force: bool = False, option: str = "--out") -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, so a failure
    (or an interrupted run) leaves either the old file or none, never half a file."""
    raw = data.encode("utf-8") if isinstance(data, str) else data

    def produce(tmp: Path) -> None:
        tmp.write_bytes(raw)

    write_with(path, produce, force, option)


def write_with(
    path: Path, produce: Callable[[Path], None], force: bool = False, option: str = "--out"
) -> None:
    """Like :func:`write_atomic` for writers that take a path (``torch.onnx.export``)."""
    check_writable(path, force, option)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        produce(tmp)
        os.chmod(tmp, _mode(path))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _mode(path: Path) -> int:
    """The replaced file's permissions, or the usual ones for a new file (umask applied)."""
    if path.exists():
        return path.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
