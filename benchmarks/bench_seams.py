#!/usr/bin/env python
"""Seam check on real photos: the largest step of the change at the changed area's edge.

A fill that is smooth at its rim changes the pixels next to unchanged ones by a
few code values; a fill cut by a hard edge, or a false detection on a structure
that goes on past the spot (an eyelash, a crease, a contour), changes them by
tens. For every photo of ``FACES/{blemish,clean,multi}`` this runs
:func:`retouch.retouch` at default settings (or at ``--sensitivity``) and reports,
over the pixels that changed (any channel) and have an unchanged 8-neighbour, the
largest and the 10th-largest change (max over channels, 8-bit code values), how many
such pixels changed by 8 or more, and how many acne / red / dark spots were found and
how many of them were left because their fill was not contained
(``kept_reason == "not contained"``, :func:`retouch.inpaint.fill_containment`).

Usage::

    python benchmarks/bench_seams.py [--faces ../shared/faces] [--json PATH]
                                     [--sensitivity 0.7]

The photos are read, never copied.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO / "src"))

from retouch import retouch  # noqa: E402
from retouch.learn.metrics import edge_steps  # noqa: E402
from retouch.types import NOT_CONTAINED  # noqa: E402

DEFAULT_FACES = Path(os.environ.get("RETOUCH_FACES", REPO.parent / "shared" / "faces"))
FOLDERS = ("blemish", "clean", "multi")
SUFFIXES = {".jpg", ".jpeg", ".png"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faces", type=Path, default=DEFAULT_FACES)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    ap.add_argument("--sensitivity", type=float, default=None,
                    help="the localizer's sensitivity in [0, 1] (retouch --sensitivity; "
                         "default the package's own default)")
    args = ap.parse_args()
    kw = {} if args.sensitivity is None else {"sensitivity": args.sensitivity}
    paths = sorted(p for f in FOLDERS if (args.faces / f).is_dir()
                   for p in (args.faces / f).iterdir() if p.suffix.lower() in SUFFIXES)
    if not paths:
        sys.exit(f"bench_seams: no photos under {args.faces}/{{{','.join(FOLDERS)}}}; "
                 "pass --faces PATH or set RETOUCH_FACES.")
    rows = []
    print("| photo | largest step | 10th largest | edge pixels changed >= 8 | spots found "
          "| not contained |")
    print("|---|---:|---:|---:|---:|---:|")
    for p in paths:
        res = retouch(str(p), **kw)
        src = res.source.pixels
        if src.dtype != np.uint8:
            continue  # the shared photos are 8-bit; steps are in 8-bit code values
        steps = edge_steps(src, res.image)
        top = int(steps[0]) if steps.size else 0
        tenth = int(steps[9]) if steps.size > 9 else 0
        n8 = int(np.sum(steps >= 8))
        spots = [im for im in res.report["imperfections"]
                 if im["type"] in ("acne", "red_spot", "dark_spot")]
        loose = sum(im.get("kept_reason") == NOT_CONTAINED for im in spots)
        rows.append({"photo": f"{p.parent.name}/{p.name}", "max": top, "tenth": tenth,
                     "n_ge_8": n8, "spots": len(spots), "not_contained": loose})
        print(f"| {p.parent.name}/{p.name} | {top} | {tenth} | {n8} | {len(spots)} | {loose} |",
              flush=True)
    worst = max(rows, key=lambda r: r["max"]) if rows else None
    if worst:
        over = sum(r["max"] >= 50 for r in rows)
        print(f"\n{len(rows)} photos; largest step {worst['max']} ({worst['photo']}); "
              f"{over} photos with a step >= 50; {sum(r['not_contained'] for r in rows)} of "
              f"{sum(r['spots'] for r in rows)} spots found were left as not contained")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
