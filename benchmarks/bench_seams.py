#!/usr/bin/env python
"""Seam check on real photos: the largest step of the change at the changed area's edge.

A fill that is smooth at its rim changes the pixels next to unchanged ones by a
few code values; a fill cut by a hard edge, or a false detection on a structure
that goes on past the spot (an eyelash, a crease, a contour), changes them by
tens. For every photo of ``FACES/{blemish,clean,multi}`` this runs
:func:`retouch.retouch` at default settings and reports, over the pixels that
changed (any channel) and have an unchanged 8-neighbour, the largest and the
10th-largest change (max over channels, 8-bit code values), and how many such
pixels changed by 8 or more.

Usage::

    python benchmarks/bench_seams.py [--faces ../shared/faces] [--json PATH]

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

DEFAULT_FACES = Path(os.environ.get("RETOUCH_FACES", REPO.parent / "shared" / "faces"))
FOLDERS = ("blemish", "clean", "multi")
SUFFIXES = {".jpg", ".jpeg", ".png"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faces", type=Path, default=DEFAULT_FACES)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = ap.parse_args()
    paths = sorted(p for f in FOLDERS if (args.faces / f).is_dir()
                   for p in (args.faces / f).iterdir() if p.suffix.lower() in SUFFIXES)
    if not paths:
        sys.exit(f"bench_seams: no photos under {args.faces}/{{{','.join(FOLDERS)}}}; "
                 "pass --faces PATH or set RETOUCH_FACES.")
    rows = []
    print("| photo | largest step | 10th largest | edge pixels changed >= 8 |")
    print("|---|---:|---:|---:|")
    for p in paths:
        res = retouch(str(p))
        src = res.source.pixels
        if src.dtype != np.uint8:
            continue  # the shared photos are 8-bit; steps are in 8-bit code values
        steps = edge_steps(src, res.image)
        top = int(steps[0]) if steps.size else 0
        tenth = int(steps[9]) if steps.size > 9 else 0
        n8 = int(np.sum(steps >= 8))
        rows.append({"photo": f"{p.parent.name}/{p.name}", "max": top, "tenth": tenth,
                     "n_ge_8": n8})
        print(f"| {p.parent.name}/{p.name} | {top} | {tenth} | {n8} |", flush=True)
    worst = max(rows, key=lambda r: r["max"]) if rows else None
    if worst:
        over = sum(r["max"] >= 50 for r in rows)
        print(f"\n{len(rows)} photos; largest step {worst['max']} ({worst['photo']}); "
              f"{over} photos with a step >= 50")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
