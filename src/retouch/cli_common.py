"""Helpers shared by every ``retouch`` subcommand: output checks, atomic
writes and the one-line error contract (see :mod:`retouch.cli` for exit codes).

The contract: a failed command prints exactly one line on stderr
(``retouch: error: ...``) and exits with its documented code; a successful one
prints nothing on stderr but ``retouch: warning: ...`` lines. Native libraries
(MediaPipe/TFLite, libpng, libtiff, OpenCV) write log lines straight to file
descriptor 2 and Python libraries emit warnings; :func:`quiet_process` routes
both away for the command-line process (``RETOUCH_DEBUG=1`` keeps them).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import stat
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

from .atomic import atomic_write
from .errors import InvalidInputError, OutputError, RetouchError
from .types import ImageData

#: Environment variable that keeps native log lines and Python warnings on stderr.
DEBUG_ENV = "RETOUCH_DEBUG"


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one ``retouch: error:`` line (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print one line and exit with code 2 (argparse prints the usage first)."""
        self.exit(2, f"retouch: error: {message} (see '{self.prog} --help')\n")


def check_output_dir(path: Path, what: str) -> None:
    """Raise :class:`OutputError` unless ``path``'s folder exists and is writable."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{path}: {what} folder does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{path}: {what} folder is not writable")


def check_destinations(source: str | os.PathLike[str] | None, dests: dict[str, Path],
                       overwrite: str | None = None) -> None:
    """Refuse destinations that would overwrite the input or each other.

    ``dests`` maps a label (``"output"``, ``"report"``, ``"masks/acne.png"``...)
    to a path; ``overwrite`` names the one label allowed to be the input
    (``--overwrite``). Call it before any work, so a refusal leaves nothing behind.

    Raises:
        OutputError: two destinations are one file, or one is the input.
    """
    from .imageio import is_same_file

    items = list(dests.items())
    src = Path(os.fspath(source)) if source is not None else None
    if src is not None and src.exists():
        for label, path in items:
            if label != overwrite and is_same_file(path, src):
                hint = " (pass --overwrite to allow it)" if label == "output" else ""
                raise OutputError(f"{path}: refusing to overwrite the input with the "
                                  f"{label}{hint}")
    for i, (la, pa) in enumerate(items):
        for lb, pb in items[i + 1:]:
            if is_same_file(pa, pb):
                raise OutputError(f"{pa}: the {la} and the {lb} would be the same file")


def read_small_file(path: str | os.PathLike[str], what: str, limit: int = 1 << 20) -> bytes:
    """Read at most ``limit`` bytes of a regular file given as an option (a plan...).

    Raises:
        InvalidInputError: missing, not a regular file, unreadable or larger than ``limit``.
    """
    p = Path(os.fspath(path))
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer.
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise InvalidInputError(f"{p}: the {what} is not a regular file")
            data = f.read(limit + 1)
    except (OSError, ValueError) as exc:
        msg = getattr(exc, "strerror", None) or str(exc)
        raise InvalidInputError(f"{p}: cannot read the {what} ({msg})") from None
    if len(data) > limit:
        raise InvalidInputError(f"{p}: the {what} is larger than {limit:,} bytes")
    return data


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``.

    Raises:
        OutputError: the file cannot be written.
    """
    try:
        atomic_write(path, lambda fp: fp.write(data))
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None


class Terminated(BaseException):
    """Raised by the ``SIGTERM`` handler: a ``BaseException``, so cleanups run and
    nothing swallows it."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def quiet_process() -> None:
    """Prepare the command-line process for the one-line error contract.

    * File descriptor 2 is pointed at ``/dev/null`` while ``sys.stderr`` keeps
      writing to the original stderr (a duplicate descriptor), so native log
      lines disappear and ``retouch``'s own messages stay.
    * Python warnings are ignored.
    * stdout/stderr replace characters they cannot encode (file names and
      instructions from ``argv`` may hold undecodable bytes).
    * ``SIGTERM`` raises :class:`Terminated` (exit code 143 from :func:`guarded`),
      so in-flight temporary files are removed on the way out (``SIGKILL`` cannot be caught; see
      :mod:`retouch.atomic` for how its leftovers are recognized and cleaned).

    With ``RETOUCH_DEBUG=1`` the first two are skipped.
    """
    with contextlib.suppress(ValueError, OSError):  # not the main thread / unsupported
        signal.signal(signal.SIGTERM, _raise_terminated)
    for stream in (sys.stdout, sys.stderr):  # never fail on printing an odd file name
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        return
    warnings.simplefilter("ignore")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (OSError, AttributeError, ValueError):
        return
    try:
        os.set_inheritable(saved, False)
        os.dup2(devnull, 2)
    finally:
        os.close(devnull)
    sys.stderr = io.TextIOWrapper(io.FileIO(saved, "w", closefd=True), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True)


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
    except Terminated:
        print("retouch: terminated", file=sys.stderr)
        return 143
    except MemoryError:
        print(f"retouch: error: {label}: not enough memory for this image (lower "
              "--max-pixels to refuse such images before decoding)", file=sys.stderr)
        return 2
    except Exception as exc:  # last resort: still one line, never a traceback
        print(f"retouch: error: {label}: unexpected {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 1


def add_closeup_options(p: argparse.ArgumentParser, *, many: bool = False) -> None:
    """``--closeup`` and ``--face-size`` (one photo, or every photo of a batch)."""
    photo = "every photo is" if many else "the photo is"
    scale = "the photos' scale" if many else "this photo's scale"
    side = "each photo's longer side" if many else "the longer side"
    p.add_argument("--closeup", action="store_true",
                   help=f"{photo} a skin close-up without a whole face (a chin, a cheek): "
                   "treat the skin of the whole frame instead of looking for faces")
    p.add_argument("--face-size", type=float, metavar="PX",
                   help=f"with --closeup: how wide a whole face would be at {scale}, in "
                   f"pixels (default: 0.7 x {side}); sets the spot sizes looked for")


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


def output_paths(args: argparse.Namespace) -> dict[str, Path]:
    """``{"output": ..., "report": ...}`` of a command, their folders checked.

    Raises :class:`OutputError` for a missing or read-only folder; call it before
    any work, so a failure leaves nothing behind.
    """
    dests = {"output": Path(args.output)}
    if getattr(args, "report", None):
        dests["report"] = Path(args.report)
    for label, path in dests.items():
        check_output_dir(path, label)
    return dests


def check_outputs(args: argparse.Namespace) -> Path:
    """:func:`output_paths` plus :func:`check_destinations` against ``args.input``
    (``--overwrite`` allows the output to be the input). Returns the output path."""
    dests = output_paths(args)
    check_destinations(args.input, dests, overwrite="output" if args.overwrite else None)
    return dests["output"]


def load_input(args: argparse.Namespace) -> ImageData:
    """Decode ``args.input`` under ``args.max_pixels`` (destinations checked already)."""
    from .imageio import load_image

    return load_image(args.input, max_pixels=args.max_pixels)
