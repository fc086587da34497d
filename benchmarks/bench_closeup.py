#!/usr/bin/env python
"""Close-up benchmark: planted blemishes on lower-face crops that show no eyes.

Skin close-ups (a chin, a cheek) have no whole face, so the face mesh fails and
the default pipeline returns them unchanged; ``retouch --closeup`` searches
the whole frame instead (:mod:`retouch.closeup`). This benchmark measures it.

For every clean photo in ``FACES/clean`` and every seed, blemishes are planted
exactly as in ``bench_blemish.py``; then the photo is cut to its lower face:
from ``0.55`` inter-ocular distances (IOD) below the eyes to ``0.4`` IOD below
the chin, the face's landmarks' width plus ``0.1`` IOD either side. Planted
spots wholly inside the cut are the ground truth; a report centred on a spot
the cut slices through is ignored (neither right nor wrong). Three runs per
cut:

* ``default``: the normal pipeline (how many cuts it retouches at all);
* ``closeup``: ``closeup=True`` with the default face size (0.7 x the cut's
  longer side);
* ``closeup, true size``: ``face_size`` = the face's true size (2.2 IOD).

Scores as in ``bench_blemish.py``: recall / precision (IoU >= 0.3 or centre
inside the planted mask), PSNR inside the planted masks against the clean
photo, and the share of face-skin pixels changed outside the dilated ground
truth. Run with ``--only acne,red_spot,dark_spot`` (the planted types).

With ``--pair``, it also scores the real close-up ``pairs/pixabay_chin_acne_*`` (a
chin with a hand, and a retoucher's version) at default settings with ``closeup=True``
(:func:`chin_pair`): spots treated, how many of the retoucher's healed spots a fill
touches, the share of pixels changed, and PSNR against the retoucher's result over the
whole photo and inside the healed areas.

Usage::

    python benchmarks/bench_closeup.py [--faces ../shared/faces] [--out bench_out/closeup]
                                       [--pair] [--no-planted]

The photos are read, never copied.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_blemish import (  # noqa: E402
    DEFAULT_FACES,
    _det_center,
    annotate,
    dilated_gt,
    list_clean,
    load_rgb,
    match_detections,
    psnr,
    save_grid,
)

from retouch import retouch  # noqa: E402
from retouch.align import eye_centres, interocular_px  # noqa: E402
from retouch.imageio import load_image  # noqa: E402
from retouch.pipeline import RetouchPipeline  # noqa: E402
from retouch.synth import (  # noqa: E402
    SYNTH_TYPES,
    NoFaceFoundError,
    PlantedBlemishes,
    face_skin_mask,
    plant_blemishes,
)

MODES = ("default", "closeup", "closeup, true size")


def lower_face_window(clean: np.ndarray) -> tuple[tuple[int, int, int, int], float] | None:
    """``((x0, y0, x1, y1), iod)`` of the lower-face cut of a photo, or ``None`` (no face)."""
    faces, _ = RetouchPipeline().analyze(load_image(clean))
    faces = [f for f in faces if f.landmarks_xy is not None]
    if not faces:
        return None
    f = max(faces, key=lambda f: f.bbox_xywh[2] * f.bbox_xywh[3])
    iod = interocular_px(f)
    r_eye, l_eye = eye_centres(f.landmarks_xy)
    eye_y = float((r_eye[1] + l_eye[1]) / 2)
    p = f.landmarks_xy
    H, W = clean.shape[:2]
    x0 = int(max(0, p[:, 0].min() - 0.1 * iod))
    x1 = int(min(W, p[:, 0].max() + 0.1 * iod))
    y0 = int(max(0, eye_y + 0.55 * iod))
    y1 = int(min(H, p[152, 1] + 0.4 * iod))
    return (x0, y0, x1, y1), iod


def cut_planted(planted: PlantedBlemishes, win: tuple[int, int, int, int]
                ) -> tuple[PlantedBlemishes, list[np.ndarray]]:
    """The planted image cut to ``win``; spots wholly inside, and masks of the sliced ones."""
    x0, y0, x1, y1 = win
    sl = (slice(y0, y1), slice(x0, x1))
    inside, sliced = [], []
    for pi in planted.instances:
        m = pi.mask[sl]
        n_in = int(m.sum())
        if n_in == int(pi.mask.sum()):
            bx, by, bw, bh = pi.bbox_xywh
            inside.append(dataclasses.replace(
                pi, mask=m.copy(), center_xy=(pi.center_xy[0] - x0, pi.center_xy[1] - y0),
                bbox_xywh=(bx - x0, by - y0, bw, bh)))
        elif n_in:
            sliced.append(m)
    masks = {t: np.zeros(m.shape, bool) for t in SYNTH_TYPES for m in [planted.union_mask[sl]]}
    for pi in inside:
        masks[pi.type] |= pi.mask
    union = np.zeros(planted.union_mask[sl].shape, bool)
    for m in masks.values():
        union |= m
    cut = PlantedBlemishes(image=np.ascontiguousarray(planted.image[sl]), instances=tuple(inside),
                           masks=masks, union_mask=union, light_dir_xy=planted.light_dir_xy)
    return cut, sliced


def sliced_hit(det: dict, sliced: list[np.ndarray]) -> bool:
    """Whether a report is centred on a spot the cut slices through (ignored)."""
    cx, cy = (int(round(v)) for v in _det_center(det))
    return any(0 <= cy < m.shape[0] and 0 <= cx < m.shape[1] and bool(m[cy, cx]) for m in sliced)


def run(faces: Path, out_dir: Path, seeds: list[int]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in list_clean(faces, None):
        clean = load_rgb(path)
        try:
            skin, fs = face_skin_mask(clean)
        except NoFaceFoundError:
            print(f"note: {path.name}: no face; skipped", file=sys.stderr)
            continue
        found = lower_face_window(clean)
        if found is None:
            continue
        win, iod = found
        x0, y0, x1, y1 = win
        sl = (slice(y0, y1), slice(x0, x1))
        for seed in seeds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                planted = plant_blemishes(clean, skin, face_size_px=fs, rng=seed)
            cut, sliced = cut_planted(planted, win)
            clean_c, skin_c = clean[sl], skin[sl]
            outside = skin_c & ~dilated_gt(cut)
            for mode in MODES:
                kw: dict[str, Any] = {} if mode == "default" else {"closeup": True}
                if mode == "closeup, true size":
                    kw["face_size"] = 2.2 * iod
                t0 = time.perf_counter()
                res = retouch(cut.image, only=list(SYNTH_TYPES), **kw)
                secs = time.perf_counter() - t0
                rep = [d for d in res.report["imperfections"] if d["type"] in SYNTH_TYPES]

                rep = [d for d in rep if not sliced_hit(d, sliced)]
                mr = match_detections(cut, rep)
                out = np.asarray(res.image)
                changed = np.any(out != cut.image, axis=2)
                rows.append({
                    "image": path.name, "seed": seed, "mode": mode,
                    "size_wh": [x1 - x0, y1 - y0], "true_face_size_px": round(2.2 * iod, 1),
                    "retouched": any(f["retouched"] for f in res.report["faces"]),
                    "planted": mr.n_planted, "found": mr.planted_found,
                    "reported": mr.n_reported, "correct": mr.reported_correct,
                    "psnr_in": psnr(cut.image, clean_c, cut.union_mask),
                    "psnr_out": psnr(out, clean_c, cut.union_mask),
                    "changed_outside": float(changed[outside].mean()) if outside.any() else None,
                    "seconds": round(secs, 3),
                })
                r = rows[-1]
                print(f"{path.name} seed {seed} {mode}: found {r['found']}/{r['planted']} "
                      f"correct {r['correct']}/{r['reported']} psnr {r['psnr_in'] or 0:.2f}->"
                      f"{r['psnr_out'] or 0:.2f} {secs:.2f}s", file=sys.stderr)
                if seed == seeds[0] and mode == "closeup":
                    h, w = cut.image.shape[:2]
                    save_grid(out_dir / f"{path.stem}_closeup.png", (0, 0, w, h), [
                        ("before (planted, cut)", cut.image), ("after (--closeup)", out),
                        ("clean", clean_c), ("GT green / reported red", annotate(cut, rep))])
    return {"rows": rows, "summary": summarize(rows)}


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for mode in MODES:
        rr = [r for r in rows if r["mode"] == mode]
        if not rr:
            continue
        planted = sum(r["planted"] for r in rr)
        reported = sum(r["reported"] for r in rr)
        pin = [r["psnr_in"] for r in rr if r["psnr_in"] is not None]
        pout = [r["psnr_out"] for r in rr if r["psnr_out"] is not None]
        co = [r["changed_outside"] for r in rr if r["changed_outside"] is not None]
        out[mode] = {
            "runs": len(rr), "retouched": sum(r["retouched"] for r in rr),
            "planted": planted,
            "recall": sum(r["found"] for r in rr) / planted if planted else None,
            "precision": sum(r["correct"] for r in rr) / reported if reported else None,
            "psnr_in": float(np.mean(pin)) if pin else None,
            "psnr_out": float(np.mean(pout)) if pout else None,
            "changed_outside": float(np.mean(co)) if co else None,
            "seconds": float(np.mean([r["seconds"] for r in rr])),
        }
    return out


def markdown(summary: dict[str, dict[str, Any]]) -> str:
    f = lambda v, fmt: "-" if v is None else format(v, fmt)  # noqa: E731
    lines = ["| mode | cuts retouched | planted | recall | precision | PSNR in | PSNR out | "
             "changed outside | s / cut |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for mode, s in summary.items():
        lines.append(
            f"| {mode} | {s['retouched']}/{s['runs']} | {s['planted']} | {f(s['recall'], '.3f')} "
            f"| {f(s['precision'], '.3f')} | {f(s['psnr_in'], '.2f')} | {f(s['psnr_out'], '.2f')} "
            f"| {f(None if s['changed_outside'] is None else 100 * s['changed_outside'], '.2f')}% "
            f"| {s['seconds']:.2f} |")
    return "\n".join(lines)


#: A healed spot of the retoucher: pixels changed by more than this many code values
#: (any channel), in connected areas of at least HEALED_MIN_AREA pixels.
HEALED_DIFF = 6
HEALED_MIN_AREA = 20


def healed_spots(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """The retoucher's healed spots: ``(labels (H, W) int32, ids of the healed areas)``.

    An area is healed where ``after`` departs from ``before`` by more than
    :data:`HEALED_DIFF` code values (any channel), 8-connected, at least
    :data:`HEALED_MIN_AREA` pixels; both images ``(H, W, 3) uint8``.
    """
    import cv2

    diff = np.abs(before.astype(int) - after.astype(int)).max(axis=2) > HEALED_DIFF
    n, lbl, stats, _ = cv2.connectedComponentsWithStats(diff.astype(np.uint8), 8)
    return lbl, [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= HEALED_MIN_AREA]


def chin_pair(faces: Path) -> dict[str, Any] | None:
    """Score ``--closeup`` on the real chin close-up against the retoucher's version.

    Returns None when the pair is absent. ``healed`` counts the retoucher's healed
    spots (see :data:`HEALED_DIFF`), ``healed_touched`` those a treated footprint
    (``removed.png``) overlaps; PSNRs are in dB against the retoucher's photo, over
    the whole photo and over the pixels the retoucher changed.
    """
    src = faces / "pairs/pixabay_chin_acne_before.png"
    ref = faces / "pairs/pixabay_chin_acne_after.png"
    if not (src.is_file() and ref.is_file()):
        return None
    before, after = load_rgb(src), load_rgb(ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = retouch(before, closeup=True)
    lbl, healed = healed_spots(before, after)
    removed = res.masks["removed"] > 0
    spots = [i for i in res.report["imperfections"] if i["type"] in SYNTH_TYPES and i["removed"]]
    changed_by_retoucher = np.any(before != after, axis=2)
    return {
        "spots_treated": len(spots),
        "healed": len(healed),
        "healed_touched": sum(bool(np.any(removed & (lbl == i))) for i in healed),
        "changed_pct": round(100.0 * float(np.mean(np.any(res.image != before, axis=2))), 2),
        "psnr_input": psnr(before, after), "psnr_output": psnr(res.image, after),
        "psnr_healed_input": psnr(before, after, changed_by_retoucher),
        "psnr_healed_output": psnr(res.image, after, changed_by_retoucher),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--faces", type=Path, default=DEFAULT_FACES, help="the shared faces folder")
    ap.add_argument("--out", type=Path, default=Path("bench_out/closeup"), help="output folder")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="planting seeds")
    ap.add_argument("--pair", action="store_true",
                    help="also score the real chin close-up against the retoucher's version")
    ap.add_argument("--no-planted", action="store_true", help="skip the planted cuts")
    args = ap.parse_args(argv)
    if not (args.faces / "clean").is_dir():
        print(f"bench_closeup: {args.faces}/clean not found", file=sys.stderr)
        return 2
    result: dict[str, Any] = {}
    if not args.no_planted:
        result = run(args.faces, args.out, args.seeds)
        print(markdown(result["summary"]))
    if args.pair:
        pair = chin_pair(args.faces)
        result["chin_pair"] = pair
        if pair is None:
            print("\nchin pair: pairs/pixabay_chin_acne_* not found; skipped")
        else:
            print("\n## Real close-up (pixabay chin, --closeup, default settings)\n")
            print("| " + " | ".join(pair) + " |")
            print("|" + "---:|" * len(pair))
            print("| " + " | ".join(str(round(v, 2) if isinstance(v, float) else v)
                                    for v in pair.values()) + " |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
