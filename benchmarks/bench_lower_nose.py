#!/usr/bin/env python
"""Lower-nose benchmark: one planted pimple at a time on the nose tip and the wings.

The blemish benchmark (``bench_blemish.py``) plants nothing on the lower nose (its
planting mask, :func:`retouch.synth.face_skin_mask`, leaves the tip's underside, the
wings and the nostrils out), so its figures cannot show how spots there fare. Here,
for every photo in ``FACES/clean``, one spot at a time is planted with
:func:`retouch.synth.plant_blemishes` inside a disk of ``0.07`` face sizes around

* ``tip``: the midpoint of mesh points 4 and 1 (the tip, between its top and its
  lower edge);
* ``wing``: the centre of each nostril wing (points 48, 64, 115 and 278, 294, 344),

three times per site (seed 0 acne, seed 1 red spot, seed 2 acne), and
``retouch(planted, only=["acne", "red_spot", "dark_spot"])`` is scored:

* ``found``: a report matches the spot (as in ``bench_blemish.py``);
* ``removed``: a report marked removed matches the spot (the same matching);
* ``PSNR gain``: PSNR inside the spot's mask against the clean photo, output minus
  planted input (dB; 0 when nothing was done).

Usage::

    python benchmarks/bench_lower_nose.py [--faces ../shared/faces] [--json PATH]

The photos are read, never copied.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_blemish import (  # noqa: E402
    DEFAULT_FACES,
    list_clean,
    load_rgb,
    match_detections,
    psnr,
)

from retouch import retouch  # noqa: E402
from retouch.imageio import load_image  # noqa: E402
from retouch.pipeline import RetouchPipeline  # noqa: E402
from retouch.synth import SYNTH_TYPES, face_skin_mask, plant_blemishes  # noqa: E402

#: Planting sites: mesh points whose mean is each site's centre.
SITES: dict[str, tuple[tuple[int, ...], ...]] = {
    "tip": ((4, 1),),
    "wing": ((48, 64, 115), (278, 294, 344)),
}
#: ``(seed, type)`` of the three plantings per site.
PLANTINGS = ((0, "acne"), (1, "red_spot"), (2, "acne"))
#: Radius of the planting disk around a site's centre, in face sizes.
SITE_RADIUS = 0.07


def run(faces: Path) -> list[dict[str, Any]]:
    """One row per planted spot: image, site, type, found, removed, PSNR gain."""
    rows = []
    for path in list_clean(faces, None):
        clean = load_rgb(path)
        _, u = face_skin_mask(clean)
        dets = RetouchPipeline().detect(load_image(clean))
        p = max(dets, key=lambda f: f.bbox_xywh[2] * f.bbox_xywh[3]).landmarks_xy
        yy, xx = np.mgrid[:clean.shape[0], :clean.shape[1]]
        for site, centres in SITES.items():
            for ids in centres:
                c = p[list(ids)].mean(axis=0)
                where = np.hypot(xx - c[0], yy - c[1]) <= SITE_RADIUS * u
                for seed, kind in PLANTINGS:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        pl = plant_blemishes(clean, where, face_size_px=u, counts={kind: 1},
                                             rng=seed)
                    if len(pl.instances) != 1:
                        continue
                    res = retouch(pl.image, only=list(SYNTH_TYPES))
                    rep = [d for d in res.report["imperfections"] if d["type"] in SYNTH_TYPES]
                    removed = [d for d in rep if d["removed"]]
                    mask = pl.instances[0].mask
                    gain = psnr(np.asarray(res.image), clean, mask) - psnr(pl.image, clean, mask)
                    rows.append(dict(image=path.name, site=site, type=kind,
                                     found=match_detections(pl, rep).planted_found == 1,
                                     removed=match_detections(pl, removed).planted_found == 1,
                                     psnr_gain=round(float(gain), 2)))
    return rows


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per site: planted, found, removed, mean PSNR gain (dB)."""
    out = []
    for site in SITES:
        r = [x for x in rows if x["site"] == site]
        if r:
            out.append(dict(site=site, planted=len(r), found=sum(x["found"] for x in r),
                            removed=sum(x["removed"] for x in r),
                            psnr_gain=round(float(np.mean([x["psnr_gain"] for x in r])), 2)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--faces", type=Path, default=DEFAULT_FACES, help="the shared faces folder")
    ap.add_argument("--json", type=Path, help="write every row and the summary here")
    args = ap.parse_args(argv)
    if not (args.faces / "clean").is_dir():
        print(f"bench_lower_nose: {args.faces}/clean not found", file=sys.stderr)
        return 2
    rows = run(args.faces)
    table = summary(rows)
    print("| site | planted | found | removed | PSNR gain in the spot (dB) |")
    print("|---|---:|---:|---:|---:|")
    for s in table:
        print(f"| {s['site']} | {s['planted']} | {s['found']} | {s['removed']} "
              f"| {s['psnr_gain']:.2f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(dict(rows=rows, summary=table), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
