"""Writing output files: atomically, and never over a user's file unless asked to."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from netspec.errors import NetspecError


def check_writable(path: Path, force: bool, option: str = "--out") -> Path:
    """The file to write for ``path``, refusing to replace an existing one unless ``force``.

    The rule, as editors have it: a symbolic link is followed and its *target* written (the
    link stays a link); a link counts as an existing file even when its target does not exist
    yet. Only a regular file is ever replaced: a folder, a pipe or a device (``/dev/stdout``)
    is refused, with ``--force`` too.

    Args:
        option: the command-line option that named the file, for messages.

    Raises:
        NetspecError: the file exists (or the path is a folder, a pipe or a device, or its
            folder is missing).
    """
    target = path
    try:
        if path.is_symlink():
            followed = _follow(path)
            if _special(followed):  # /dev/stdout: --force would not write it either
                linked = "" if followed == path else f" (a link to {followed})"
                raise NetspecError(
                    f"{path}{linked} is not a regular file (a stream, a device or a file of "
                    "the system)",
                    where=option,
                    hint="netspec writes only regular files; leave out the option to print "
                    "to standard output",
                )
            if not force:
                raise NetspecError(
                    f"{path} exists (a link to {os.readlink(path)}); netspec does not replace "
                    "files unless asked",
                    where=option,
                    hint="add --force to write the file it links to",
                )
            target = _follow(path)
        if target.is_dir():
            raise NetspecError(f"{path} is a folder", where=option, hint="give a file name")
        if _special(target) or (target.exists() and not target.is_file()):
            raise NetspecError(
                f"{path} is not a regular file (a pipe, a device or a socket)",
                where=option,
                hint="netspec writes only regular files; give a file name",
            )
        if target.exists() and not force:
            raise NetspecError(
                f"{path} exists; netspec does not replace files unless asked",
                where=option,
                hint="add --force to replace it",
            )
        if not target.parent.is_dir():
            raise NetspecError(f"the folder {target.parent} does not exist", where=option)
    except OSError as exc:
        raise _cannot(path, exc, option) from None
    return target


def _special(path: Path) -> bool:
    """Under ``/dev`` or ``/proc``: streams and the system's files, not files to replace."""
    return path.is_absolute() and path.parts[1:2] in (("dev",), ("proc",))


def _follow(path: Path) -> Path:
    """The file a chain of links ends at; a hop into ``/dev`` or ``/proc`` (``/dev/stdout`` →
    ``/proc/self/fd/1`` → wherever the output goes) ends there."""
    for _ in range(40):
        if _special(path) or not path.is_symlink():
            return path
        path = path.parent / os.readlink(path)
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))


def _cannot(path: Path, exc: OSError, option: str) -> NetspecError:
    reason = exc.strerror or str(exc)
    shown = str(path) if len(str(path)) <= 80 else str(path)[:77] + "…"
    return NetspecError(
        f"cannot write {shown}: {reason}",
        where=option,
        hint="check the folder exists, is writable and has space, and that the name is valid",
    )


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
    target = check_writable(path, force, option)
    try:
        fd, name = tempfile.mkstemp(prefix=".netspec.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _cannot(path, exc, option) from None
    os.close(fd)
    tmp = Path(name)
    try:
        produce(tmp)
        os.chmod(tmp, _mode(target))
        os.replace(tmp, target)
    except OSError as exc:
        raise _cannot(path, exc, option) from None
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
