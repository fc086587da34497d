"""Helpers shared by every ``retouch`` subcommand: output checks, atomic
writes and the one-line error contract (see :mod:`retouch.cli` for exit codes)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import OutputError, RetouchError
from .types import ImageData


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


def add_output_options(p: argparse.ArgumentParser, *, report_help: str) -> None:
    """Options every image-writing subcommand shares: report, quality, overwrite,
    pixel limit, quiet, version. (``input`` and ``-o`` stay with each command.)"""
    from ._version import __version__

    p.add_argument("--report", metavar="PATH", help=report_help)
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality (default 95)")
    p.add_argument("--overwrite", action="store_true",
                   help="allow OUTPUT to be the same file as INPUT")
    p.add_argument("--max-pixels", type=int, default=200_000_000,
                   help="refuse images with more pixels than this (decompression bombs)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.add_argument("--version", action="version", version=f"retouch {__version__}")


def check_destinations(args: argparse.Namespace) -> Path:
    """Check ``args.output`` (and ``args.report`` when given) before any work.

    Returns the output path. Raises :class:`OutputError` for a missing or
    read-only folder, so a failure leaves nothing behind.
    """
    out_path = Path(args.output)
    check_output_dir(out_path, "output")
    if getattr(args, "report", None):
        check_output_dir(Path(args.report), "report")
    return out_path


def load_input(args: argparse.Namespace, out_path: Path) -> ImageData:
    """Decode ``args.input`` under ``args.max_pixels``; refuse to overwrite it
    with ``out_path`` unless ``args.overwrite``."""
    from .imageio import load_image

    data = load_image(args.input, max_pixels=args.max_pixels)
    if data.path is not None and out_path.exists() and not args.overwrite \
            and out_path.resolve() == data.path.resolve():
        raise OutputError(f"{out_path}: refusing to overwrite the input "
                          "(pass --overwrite to allow it)")
    return data
