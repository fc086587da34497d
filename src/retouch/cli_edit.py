"""``retouch edit``: region-confined face edits from the command line.

Usage::

    retouch edit INPUT -o OUTPUT --set double_chin=-0.8 --set eyes.size=0.3 \\
        --set lipstick=#b0303a:0.6
    retouch edit --list
    retouch edit INPUT -o grid.jpg --grid eyes.size

``--set NAME=PART[:PART...]``: one PART is the amount (a number); the others
are a colour name or ``#rrggbb``, a finish (``matte``/``satin``/``gloss``) or
``key=value`` with key ``size``, ``color``, ``finish`` or ``faces`` (indices
joined by ``+``). See ``docs/edits.md``.

Exit codes are those of the main command (see :mod:`retouch.cli`): 2 for a bad
input or option, 3 when the output cannot be written, 4 for a missing
dependency, 1 otherwise. Every destination is checked before any work and
files are written atomically, so a failure leaves no partial output and the
input is never touched.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ._version import __version__
from .cli_common import (
    OneLineParser,
    add_output_options,
    atomic_write_bytes,
    check_outputs,
    guarded,
    load_input,
)
from .errors import InvalidInputError

GRID_AMOUNTS = (-1.0, -0.5, 0.0, 0.5, 1.0)


def _parser() -> argparse.ArgumentParser:
    from .edit import EDITS

    p = OneLineParser(
        prog="retouch edit",
        description="Edit faces inside their parsed regions (structure warps and "
        "colour/tone changes); every pixel outside an edit's region is kept bit-identical.",
        epilog="Edits: " + ", ".join(EDITS) + ". Syntax: --set NAME=AMOUNT[:COLOR][:FINISH]"
        "[:size=S][:faces=0+1], e.g. --set double_chin=-0.8 --set lipstick=#b0303a:0.6. "
        "Run `retouch edit --list` for every edit and its parameters.",
    )
    p.add_argument("input", nargs="?", help="input photo")
    p.add_argument("-o", "--output", help="output file; format from extension")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=SPEC",
                   help="one edit (repeatable); applied per face, structure edits first")
    p.add_argument("--list", action="store_true", help="print the edits and exit")
    p.add_argument("--json", action="store_true", help="with --list: print JSON")
    p.add_argument("--grid", metavar="NAME[=SPEC]",
                   help="render a labelled before/after grid of one edit over amounts "
                   "(-1, -0.5, 0, 0.5, 1; 0..1 for one-sided edits) into OUTPUT")
    add_output_options(p, report_help='write a JSON report here')
    return p


def main(argv: list[str]) -> int:
    """Run ``retouch edit``; returns the exit code."""
    args = _parser().parse_args(argv)
    return guarded(lambda: _run(args), str(args.input))


def _run(args: argparse.Namespace) -> int:
    from .edit import format_edit_list, list_edits, parse_set

    if args.list:
        if args.json:
            print(json.dumps([s.to_dict() for s in list_edits()], indent=2))
        else:
            print(format_edit_list())
        return 0
    if not args.input:
        raise InvalidInputError("an INPUT photo is required (or --list)")
    if not args.output:
        raise InvalidInputError("-o/--output is required")
    if args.grid and args.sets:
        raise InvalidInputError("use either --grid or --set, not both")
    if not args.grid and not args.sets:
        raise InvalidInputError("nothing to do: give at least one --set NAME=AMOUNT (or --grid)")
    # Validate every option and destination before any work.
    requests = [parse_set(s) for s in args.sets]
    grid_req = _grid_request(args.grid) if args.grid else None
    out_path = check_outputs(args)
    data = load_input(args)
    if grid_req is not None:
        return _grid(args, data, grid_req, out_path)
    return _edit(args, data, requests, out_path)


def _grid_request(spec: str) -> Any:
    from .edit import EDITS, parse_set

    name = spec.partition("=")[0].strip()
    if name not in EDITS:
        raise InvalidInputError(f"--grid: unknown edit {name!r}; valid edits: " + ", ".join(EDITS))
    # The amount varies over the grid; parse the rest with a placeholder amount.
    rest = spec.partition("=")[2]
    return parse_set(f"{name}=1" + (f":{rest}" if rest else ""))


def _edit(args: argparse.Namespace, data: Any, requests: list, out_path: Path) -> int:
    from .edit import apply_edits
    from .imageio import save_image
    from .pipeline import RetouchPipeline

    t0 = time.perf_counter()
    faces, analyses = RetouchPipeline().analyze(data)
    t1 = time.perf_counter()
    res = apply_edits(data, analyses, requests)
    t2 = time.perf_counter()
    save_image(out_path, res.image, source=data, alpha=data.alpha, quality=args.quality,
               overwrite_input=args.overwrite)
    report = {
        "retouch_version": __version__,
        "input": str(data.path) if data.path else None,
        "output": str(out_path),
        "faces": [{"index": f.index, "bbox": [round(v, 1) for v in f.bbox_xywh],
                   "edited": f.skip_reason is None, "skip_reason": f.skip_reason}
                  for f in faces],
        "no_face": not analyses,
        "edits": res.report,
        "changed_px": int(res.changed.sum()),
        "timings_ms": {"analyze": round((t1 - t0) * 1000, 2),
                       "edit": round((t2 - t1) * 1000, 2)},
    }
    if args.report:
        atomic_write_bytes(Path(args.report), json.dumps(report, indent=2).encode("utf-8"))
    if not args.quiet:
        if not analyses:
            print(f"{out_path}: no face found, image unchanged")
        else:
            done = sorted({r["edit"] for r in res.report if r["applied"]})
            print(f"{out_path}: {len(analyses)} face(s); applied {', '.join(done) or 'nothing'} "
                  f"({(t2 - t1) * 1000:.0f} ms edit, {(t1 - t0) * 1000:.0f} ms analysis)")
    return 0


def _grid(args: argparse.Namespace, data: Any, req: Any, out_path: Path) -> int:
    from .edit.grid import render_grid
    from .imageio import save_image
    from .pipeline import RetouchPipeline

    faces, analyses = RetouchPipeline().analyze(data)
    if not analyses:
        raise InvalidInputError(f"{args.input}: no face found to render a grid of")
    amounts = GRID_AMOUNTS if req.spec.amount_min < 0 else (0.0, 0.25, 0.5, 0.75, 1.0)
    grid = render_grid(data, analyses[0], req, amounts)
    save_image(out_path, grid, quality=args.quality)
    if not args.quiet:
        print(f"{out_path}: {req.name} at amounts {', '.join(f'{a:g}' for a in amounts)}")
    return 0
