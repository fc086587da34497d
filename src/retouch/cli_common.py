"""Helpers shared by every ``retouch`` subcommand: output checks, atomic
writes and the one-line error contract (see :mod:`retouch.cli` for exit codes)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import OutputError, RetouchError


def check_output_dir(path: Path, what: str) -> None:
    """Raise :class:`OutputError` unless ``path``'s folder exists and is writable."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{path}: {what} folder does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{path}: {what} folder is not writable")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def guarded(body: Callable[[], int], label: str) -> int:
    """Run ``body`` and map every failure to one stderr line and an exit code.

    ``label`` (usually the input path) prefixes unexpected errors.
    """
    try:
        return body()
    except RetouchError as exc:
        print(f"retouch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("retouch: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: still one line, never a traceback
        print(f"retouch: error: {label}: unexpected {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 1
