"""``retouch batch IN_DIR OUT_DIR``: retouch a whole folder tree.

Keeps the folder structure and file formats, shows a progress bar with ETA,
logs every file to a JSON-lines log, resumes where it stopped (content hash +
settings), and runs on local worker processes (``--workers N``) or on a Dask
cluster (``--scheduler tcp://HOST:PORT``). See ``docs/batch.md``.

Exit codes: ``0`` every file retouched or skipped, ``1`` some files failed (the
others were done; see the log), ``2`` unusable input folder or option, ``3``
output folder cannot be written, ``4`` missing dependency (fsspec, Dask).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_common import add_closeup_options, guarded
from .errors import InvalidInputError
from .types import IMPERFECTION_TYPES


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="retouch batch",
        description="Retouch every photo under IN_DIR into the same tree under OUT_DIR "
        "(same names and formats). Rerunning skips what is already done.",
        epilog="Imperfection types: " + ", ".join(IMPERFECTION_TYPES) + ". Folders may be "
        "fsspec URLs (s3://bucket/shoot, gs://..., file:///mnt/share/...).")
    p.add_argument("in_dir", metavar="IN_DIR", help="input folder (searched recursively)")
    p.add_argument("out_dir", metavar="OUT_DIR", help="output folder (created if missing)")
    p.add_argument("-i", "--instruction", metavar="TEXT",
                   help="what to do, in words (replaces --strength/--only/--keep)")
    p.add_argument("--plan", metavar="JSON_FILE", help="apply a Plan written as JSON")
    p.add_argument("--strength", type=float, default=0.8, help="0..1 (default 0.8)")
    p.add_argument("--only", help="comma list: treat only these types")
    p.add_argument("--keep", help="comma list: leave these types untouched")
    p.add_argument("--sensitivity", type=float, default=0.5, help="0..1 (default 0.5)")
    add_closeup_options(p, many=True)
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality (default 95)")
    p.add_argument("--max-pixels", type=int, default=200_000_000,
                   help="refuse images with more pixels than this (checked before decoding)")
    p.add_argument("-w", "--workers", type=int, default=1,
                   help="local worker processes (default 1; each holds its own models, "
                   "~0.3-0.6 GB)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on this Dask distributed scheduler instead of local workers")
    p.add_argument("--log", metavar="PATH", help="JSON-lines log (default "
                   "OUT_DIR/.retouch-batch/log.jsonl)")
    p.add_argument("--force", action="store_true", help="redo files already done")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``retouch batch``; returns the exit code (see the module docstring)."""
    args = _build_parser().parse_args(argv)
    return guarded(lambda: _batch(args), str(args.in_dir))


def _batch(args: argparse.Namespace) -> int:
    from .batch import BatchSettings, run_batch

    if args.scheduler and args.workers != 1:
        raise InvalidInputError("--workers is for local runs; with --scheduler the cluster's "
                                "workers are used")
    plan_json = None
    if args.plan is not None:
        try:
            plan_json = Path(args.plan).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"{args.plan}: cannot read the plan ({exc.strerror})") \
                from None
    settings = BatchSettings(
        instruction=args.instruction, plan_json=plan_json, strength=args.strength,
        only=tuple(t for t in args.only.split(",") if t.strip()) if args.only else None,
        keep=tuple(t for t in args.keep.split(",") if t.strip()) if args.keep else None,
        sensitivity=args.sensitivity, quality=args.quality, max_pixels=args.max_pixels,
        closeup=args.closeup, face_size=args.face_size)
    summary = run_batch(args.in_dir, args.out_dir, settings, workers=args.workers,
                        scheduler=args.scheduler, log_path=args.log, force=args.force,
                        progress=not (args.quiet or args.no_progress))
    if not args.quiet:
        print(summary.format(), file=sys.stderr)
    return 1 if summary.failed else 0
