"""``retouch restore INPUT -o OUTPUT [--fidelity F] [--background] [--report R] [--checkpoint CK]``.

Blind face restoration with the built-in CPU engine, or with a trained learned
restorer given by ``--checkpoint`` (see ``docs/restore.md``).
Same error contract as the main command (:mod:`retouch.cli`): one line on
stderr, a non-zero exit code, the input untouched and no partial output.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .cli_common import (
    OneLineParser,
    add_output_options,
    atomic_write_bytes,
    check_outputs,
    guarded,
    load_input,
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
    p.add_argument("--checkpoint", metavar="PATH",
                   help="restore faces with a learned restorer trained by `retouch train restore` "
                   "(.pt; needs retouch[learn]); without it the built-in engine runs")
    p.add_argument("--device", default="auto",
                   help="with --checkpoint: auto (default), cpu, cuda, cuda:1...")
    p.add_argument("--seed", type=int, default=0,
                   help="with --checkpoint: seed of the diffusion sampler's noise (default 0)")
    p.add_argument("--sample-steps", type=int,
                   help="with --checkpoint: DDIM steps (default: the checkpoint's)")
    add_output_options(p, report_help='write a JSON report (estimated degradations, steps applied)')
    return p


def _command(args: argparse.Namespace) -> int:
    from .imageio import save_image
    from .restore import restore

    if not 0.0 <= args.fidelity <= 1.0:
        raise InvalidInputError(f"--fidelity must be in [0, 1]; got {args.fidelity}")
    out_path = check_outputs(args)
    if args.checkpoint is None and (args.sample_steps is not None or args.seed != 0
                                    or args.device != "auto"):
        raise InvalidInputError("--device, --seed and --sample-steps need --checkpoint")
    engine = None  # loaded before the photo, so a missing model fails fast
    if args.checkpoint is not None:
        from .learn.restore.engine import LearnedRestorer

        engine = LearnedRestorer.load(args.checkpoint, device=args.device, seed=args.seed,
                                      steps=args.sample_steps)
    data = load_input(args)
    t0 = time.perf_counter()
    result = restore(data, args.fidelity, background=args.background, engine=engine)
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
        msg = f"{out_path}: [{rep['engine']} engine] " + ("; ".join(parts) if parts
                                                          else "no face found")
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
