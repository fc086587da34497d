#!/usr/bin/env python
"""How far could a tone test go on the synthetic-blemish benchmark? An upper-bound probe.

The planted photos of ``bench_blemish.py`` (same seeds) are scanned, inside the
planting's own skin mask (:func:`retouch.synth.face_skin_mask`), with the whitened
matched filter of :mod:`retouch.matched`. The filter takes the centre-surround
response ``F`` of L*, a*, b* at the three radii of :data:`retouch.matched.MF_RADII`
and tests a brown and a red shift through the inverse of the 3x3 covariance of ``F``
around each pixel. Local maxima (within 0.008 face sizes) are reports; a report
inside a planted blemish's mask is correct, any other is false, as in
``bench_blemish.py``'s pooled figures. For each variant the script prints the best
recall at pooled precision >= 0.7, and the recall at 4 sigmas:

* ``oracle``: the covariance measured on the *clean* photo, so no spot inflates it;
  an upper bound for this family of tests;
* ``window``: measured on the planted photo, over a Gaussian window of
  :data:`~retouch.matched.MF_WINDOWS` face sizes (per radius);
* ``ring``: the same window with a hole of :data:`~retouch.matched.MF_HOLE` centre
  widths (what the localizer uses), so a spot does not count as its own texture.

It uses neither the localizer's rules nor its skin parse: it says what the colour
evidence alone holds, on the planting's domain.

Usage::

    python benchmarks/oracle_blemish.py [--faces ../shared/faces] [--seeds 0 1 2]

The photos are read, never copied.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy.ndimage import maximum_filter

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_blemish import DEFAULT_FACES, list_clean, load_rgb  # noqa: E402

from retouch.matched import (  # noqa: E402
    BROWN_LAB,
    MF_HOLE,
    MF_RADII,
    MF_WINDOWS,
    RED_LAB,
    _Grid,
    _inverse_cov,
    project,
)
from retouch.synth import face_skin_mask, plant_blemishes  # noqa: E402
from retouch.synth.blemishes import srgb_to_lab  # noqa: E402

VARIANTS = ("oracle", "window", "ring")


def significance(lab_p: np.ndarray, lab_c: np.ndarray, skin: np.ndarray, u: float,
                 variant: str) -> np.ndarray:
    """``(H, W) float32``: the best brown/red significance over the radii (noise sigmas)."""
    w = skin.astype(np.float32)
    gp, gc = _Grid(lab_p, w, 1), _Grid(lab_c, w, 1)
    best = np.full(skin.shape, -np.inf, np.float32)
    for rf, win in zip(MF_RADII, MF_WINDOWS, strict=True):
        s = max(0.6, rf * u / 1.6)
        Fp, Fc = gp.response(s), gc.response(s)
        hole = MF_HOLE * s if variant == "ring" else 0.0
        inv = _inverse_cov(Fc if variant == "oracle" else Fp, w, win * u, hole)
        best = np.maximum(best, project(inv, Fp, (BROWN_LAB, RED_LAB)))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faces", type=Path, default=DEFAULT_FACES)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    peaks: dict[str, list[np.ndarray]] = {v: [] for v in VARIANTS}  # rows (T, run, id)
    n_planted, run = 0, 0
    for path in list_clean(args.faces, None):
        clean = load_rgb(path)
        skin, u = face_skin_mask(clean)
        lab_c = srgb_to_lab(clean).astype(np.float32)
        for seed in args.seeds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # "no room left"
                planted = plant_blemishes(clean, skin, face_size_px=u, rng=seed)
            lab_p = srgb_to_lab(planted.image).astype(np.float32)
            owner = np.full(skin.shape, -1, np.int32)
            for i, inst in enumerate(planted.instances):
                owner[inst.mask] = i
            n_planted += len(planted.instances)
            rad = max(1, int(round(0.008 * u)))
            for v in VARIANTS:
                t = significance(lab_p, lab_c, skin, u, v)
                pk = (t == maximum_filter(t, size=2 * rad + 1)) & skin & (t >= 2.0)
                ys, xs = np.nonzero(pk)
                peaks[v].append(np.stack([t[ys, xs], np.full(len(ys), run),
                                          owner[ys, xs]], axis=1))
            run += 1
            print(f"{path.name} seed {seed}", file=sys.stderr)
    print(f"{n_planted} planted spots, {run} runs")
    print("| covariance | best recall at precision >= 0.7 | precision | threshold "
          "| recall at 4 sigmas | precision |")
    print("|---|---:|---:|---:|---:|---:|")
    for v in VARIANTS:
        p = np.concatenate(peaks[v])

        def rates(th: float, p: np.ndarray = p) -> tuple[float, float]:
            sel = p[p[:, 0] >= th]
            hit = sel[sel[:, 2] >= 0]
            found = len({(int(r), int(i)) for _, r, i in hit})
            return found / n_planted, len(hit) / max(1, len(sel))

        best = max(((*rates(th), th) for th in np.arange(2.5, 12.01, 0.25)
                    if rates(th)[1] >= 0.7), default=(0.0, 0.0, float("nan")))
        r4, p4 = rates(4.0)
        print(f"| {v} | {best[0]:.3f} | {best[1]:.3f} | {best[2]:.2f} | {r4:.3f} | {p4:.3f} |")


if __name__ == "__main__":
    main()
