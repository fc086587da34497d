"""``retouch restore INPUT -o OUTPUT [--fidelity F] [--background] [--report R]``.

Blind face restoration with the built-in CPU engine (see ``docs/restore.md``).
Same error contract as the main command (:mod:`retouch.cli`): one line on
stderr, a non-zero exit code, the input untouched and no partial output.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ._version import __version__
from .cli_common import (
    OneLineParser,
    atomic_write_bytes,
    check_destinations,
    check_output_dir,
    guarded,
)
from .errors import InvalidInputError


def _build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="retouch restore",
        description="Restore old, blurry, noisy, low-resolution or JPEG-damaged faces. "
        "Degradations are measured per face; only the steps they call for are applied, "
        "so a clean photo comes back unchanged.",
    )
    p.add_argument("input", help="input photo (JPEG, PNG, TIFF, WebP, BMP...)")
    p.add_argument("-o", "--output", required=True, help="output file; format from extension")
    p.add_argument("--fidelity", type=float, default=0.5,
                   help="0..1: 0 stays closest to the input, 1 cleans and sharpens more "
                   "(default 0.5)")
    p.add_argument("--background", action="store_true",
                   help="also restore the whole image, not only the faces")
    p.add_argument("--report", metavar="PATH",
                   help="write a JSON report (estimated degradations, steps applied)")
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality (default 95)")
    p.add_argument("--overwrite", action="store_true",
                   help="allow OUTPUT to be the same file as INPUT")
    p.add_argument("--max-pixels", type=int, default=200_000_000,
                   help="refuse images with more pixels than this (decompression bombs)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.add_argument("--version", action="version", version=f"retouch {__version__}")
    return p


def _command(args: argparse.Namespace) -> int:
    from .imageio import load_image, save_image
    from .restore import restore

    if not 0.0 <= args.fidelity <= 1.0:
        raise InvalidInputError(f"--fidelity must be in [0, 1]; got {args.fidelity}")
    out_path = Path(args.output)
    check_output_dir(out_path, "output")
    if args.report:
        check_output_dir(Path(args.report), "report")
    dests = {"output": out_path, **({"report": Path(args.report)} if args.report else {})}
    check_destinations(args.input, dests, overwrite="output" if args.overwrite else None)
    data = load_image(args.input, max_pixels=args.max_pixels)
    t0 = time.perf_counter()
    result = restore(data, args.fidelity, background=args.background)
    t1 = time.perf_counter()
    save_image(out_path, result.image, source=data, quality=args.quality,
               overwrite_input=args.overwrite)
    result.report["output"] = str(out_path)
    if args.report:
        atomic_write_bytes(Path(args.report),
                           json.dumps(result.report, indent=2).encode("utf-8"))
    if not args.quiet:
        rep = result.report
        parts = []
        for f in rep["faces"]:
            steps = ", ".join(s["step"] for s in f["steps"]) or "nothing needed"
            parts.append(f"face {f['index']}: {steps}")
        msg = f"{out_path}: " + ("; ".join(parts) if parts else "no face found")
        if rep["background"] is not None:
            steps = ", ".join(s["step"] for s in rep["background"]["steps"]) or "nothing needed"
            msg += f"; background: {steps}"
        msg += f" ({(t1 - t0) * 1000:.0f} ms)"
        print(msg)
    return 0


def main(argv: list[str]) -> int:
    """Run ``retouch restore``; returns the exit code (see :mod:`retouch.cli`)."""
    args = _build_parser().parse_args(argv)
    return guarded(lambda: _command(args), str(args.input))
