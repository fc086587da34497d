"""Paths and URLs through fsspec: a local folder, a shared mount or an object store.

Every write is atomic: the bytes go to a hidden temporary name beside the
target, then are renamed over it (object stores write whole objects anyway),
so a killed run never leaves a partial file under a final name.
"""

from __future__ import annotations

import posixpath
import uuid
from typing import Any

from ..errors import MissingDependencyError

#: Name of the hidden folder (inside OUT_DIR) holding resume markers and the log.
STATE_DIR = ".retouch-batch"


def open_fs(url: str) -> tuple[Any, str]:
    """``(filesystem, path)`` for a local path or an fsspec URL (``s3://``, ``file://``...)."""
    try:
        from fsspec.core import url_to_fs
    except ImportError:  # pragma: no cover - depends on the environment
        raise MissingDependencyError("retouch batch needs fsspec: pip install "
                                     "'retouch[batch]'") from None
    fs, path = url_to_fs(url)
    return fs, path.rstrip("/") or "/"


def is_local(fs: Any) -> bool:
    """True for fsspec's local file system (files can be handed to Pillow by path)."""
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def join(root: str, rel: str) -> str:
    """``root/rel`` with ``/`` separators (fsspec paths are POSIX-like)."""
    return posixpath.join(root, rel)


def atomic_put_bytes(fs: Any, path: str, data: bytes) -> None:
    """Write ``data`` to ``path``: a temporary object beside it, then a rename.

    On a local folder this is :func:`retouch.atomic.atomic_write` (fsync'ed,
    temporary files of killed runs recognizable and removed by the next write).
    """
    if is_local(fs):
        from pathlib import Path

        from ..atomic import atomic_write

        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, lambda fp: fp.write(data))
        return
    parent = posixpath.dirname(path)
    fs.makedirs(parent, exist_ok=True)
    tmp = posixpath.join(parent, f".{posixpath.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with fs.open(tmp, "wb") as f:
            f.write(data)
        fs.mv(tmp, path)
    except BaseException:
        try:
            if fs.exists(tmp):
                fs.rm(tmp)
        finally:
            raise


def read_input(fs: Any, path: str) -> bytes:
    """The bytes of one input file; a local one must be a regular file.

    Opening a FIFO (or a device) named like a photo would block or read without
    end: it is refused instead (``O_NONBLOCK``, then ``fstat``).

    Raises:
        InvalidInputError: a local path that is not a regular file.
    """
    if not is_local(fs):
        return fs.cat_file(path)
    import os
    import stat

    from ..errors import InvalidInputError

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise InvalidInputError("not a regular file (a FIFO, socket or device)")
        return f.read()


def atomic_put_file(fs: Any, local_path: str, path: str) -> None:
    """Upload a finished local file to ``path`` atomically (temporary name, then rename)."""
    parent = posixpath.dirname(path)
    fs.makedirs(parent, exist_ok=True)
    tmp = posixpath.join(parent, f".{posixpath.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        fs.put_file(local_path, tmp)
        fs.mv(tmp, path)
    except BaseException:
        try:
            if fs.exists(tmp):
                fs.rm(tmp)
        finally:
            raise
