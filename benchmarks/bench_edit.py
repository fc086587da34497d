"""Benchmark of retouch.edit: per-edit time, measured effect curves, confinement.

    PYTHONPATH=src python benchmarks/bench_edit.py [--faces ../shared/faces] [--runs 3]
        [--json out.json]

What it measures (on 2 CPU cores, numbers are medians of ``--runs``):

1. Time of each edit alone (``apply_edits`` with one request at full strength)
   on 1024 px aligned faces and on a 12 MP photo (the 18 MP freckles portrait
   resized to 4242 x 2828), with face analysis (detection, mesh, parsing,
   localization) timed separately.
2. For the structure edits: the landmark-measured change at amounts
   -1, -0.5, 0.5, 1 (the curve), and the largest shift of any landmark outside
   the edit's dilated region.
3. Double chin on the shared portraits with a visible neck: contour shift,
   fold shading lifted, and the number of pixels changed outside the
   chin/neck region dilated by the edit's margin (must be 0).
4. Side by side with ``facetweak`` (MIT, PyPI) for the edits both have, when
   it is importable: its ``effects.apply`` on the same image with the same
   MediaPipe landmarks mapped to its 68-point layout (so neither side pays for
   detection, and facetweak's model download is never needed). Install it in
   the benchmark environment only (``pip install facetweak``, or put its
   unpacked wheel on ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")

from retouch.edit import EDITS, EditRequest, apply_edits  # noqa: E402
from retouch.edit._render import crop_to_image  # noqa: E402
from retouch.imageio import load_image  # noqa: E402
from retouch.pipeline import RetouchPipeline  # noqa: E402
from retouch.types import ImageData  # noqa: E402

FACES_1024 = ["clean/innerverz_003_face.png", "clean/innerverz_013_face.png",
              "clean/celebamaskhq_116.jpg", "pairs/ffhqr_00000_source.png"]
BIG = "blemish/swati_freckles_darkspots.jpg"
NECKS = ["clean/fr_biden2.jpg", "clean/fr_obama.jpg", "clean/mpl_grace_hopper.jpg",
         "clean/fr_rose_leslie2.jpg", "clean/fr_alex_lacamoire1.jpg", "multi/fr_obama_1080p.jpg"]

STRONG = {
    "double_chin": dict(amount=-1.0), "face.slim": dict(amount=1.0),
    "eyes.size": dict(amount=1.0), "nose.width": dict(amount=1.0),
    "nose.length": dict(amount=1.0), "lips.fullness": dict(amount=1.0),
    "smile": dict(amount=1.0), "brows.raise": dict(amount=1.0),
    "lipstick": dict(amount=1.0, color="red"), "teeth.whiten": dict(amount=1.0),
    "eyes.whiten": dict(amount=1.0), "brows.density": dict(amount=1.0),
    "hair.color": dict(amount=1.0, color="blond"), "skin.tone": dict(amount=1.0),
    "under_eye": dict(amount=1.0), "young": dict(amount=1.0),
}
# retouch edit -> facetweak adjustment with the same meaning and sign.
FACETWEAK = {"eyes.size": ("eye_size", 1.0), "face.slim": ("face_slim", 1.0),
             "nose.width": ("nostril_width", 1.0), "lips.fullness": ("lip_size", 1.0),
             "brows.raise": ("brow_lift", 1.0), "double_chin": ("chin_fullness", -1.0)}


def _median_ms(fn, runs: int) -> float:
    fn()  # warm-up (first-call allocations, mediapipe graphs)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000.0)
    return statistics.median(times)


def _analyze(data: ImageData, runs: int) -> tuple[list, float]:
    pipe = RetouchPipeline()
    _, analyses = pipe.analyze(data)
    ms = _median_ms(lambda: pipe.analyze(data), max(1, runs // 2))
    return analyses, ms


def _facetweak_ms(data: ImageData, analyses: list, name: str, runs: int) -> float | None:
    try:
        from facetweak import effects
        from facetweak.landmarks import MESH_68
    except ImportError:
        return None
    adj_name, sign = FACETWEAK[name]
    bgr = np.ascontiguousarray(data.pixels[..., ::-1])
    pts = analyses[0].face.landmarks_xy.astype(np.float64)[MESH_68]
    adj = effects.Adjustments(**{adj_name: sign})
    return _median_ms(lambda: effects.apply(bgr, pts, adj), runs)


def time_edits(data: ImageData, analyses: list, runs: int, compare: bool) -> dict:
    out = {}
    for name in EDITS:
        req = EditRequest(name, **STRONG[name])
        ms = _median_ms(lambda req=req: apply_edits(data, analyses, [req]), runs)
        row = {"ms": round(ms, 1)}
        if compare and name in FACETWEAK:
            ft = _facetweak_ms(data, analyses, name, runs)
            if ft is not None:
                row["facetweak_ms"] = round(ft, 1)
                row["facetweak_over_retouch"] = round(ft / ms, 2)
        out[name] = row
    return out


def curves(data: ImageData, analyses: list) -> dict:
    out = {}
    for name, spec in EDITS.items():
        if spec.kind != "structure":
            continue
        row = {}
        worst_outside = 0.0
        for a in (-1.0, -0.5, 0.5, 1.0):
            m = apply_edits(data, analyses, [EditRequest(name, a)]).report[0]["measured"]
            key = next((k for k in ("change_pct", "change_px", "submental_contour_shift_px")
                        if k in m), None)
            row[f"{a:+g}"] = m.get(key)
            row["unit"] = key
            worst_outside = max(worst_outside, m.get("landmarks_outside_max_shift_px", 0.0))
        row["landmarks_outside_max_shift_px"] = worst_outside
        out[name] = row
    return out


def double_chin(faces: Path) -> dict:
    out = {}
    for rel in NECKS:
        if not (faces / rel).exists():
            continue
        data = load_image(faces / rel)
        _, analyses = RetouchPipeline().analyze(data)
        if not analyses:
            continue
        fa = analyses[0]
        res = apply_edits(data, analyses, [EditRequest("double_chin", -1.0)])
        H, W = data.pixels.shape[:2]
        union = np.maximum(fa.regions.masks["chin"], fa.regions.masks["neck"])
        reg = crop_to_image(union, fa.alignment, (0, 0, W, H)) > 0.01
        dist = cv2.distanceTransform((~reg).astype(np.uint8), cv2.DIST_L2, 3)
        p = fa.face.landmarks_xy
        iod = float(np.linalg.norm(p[468] - p[473]))
        allowed = dist <= EDITS["double_chin"].margin_iod * iod + 2
        diff = np.any(res.image != data.pixels, axis=2)
        m = res.report[0]["measured"]
        out[rel] = {
            "contour_shift_px": m.get("submental_contour_shift_px"),
            "neck_band_px": m.get("neck_band_px"),
            "fold_shading_lifted_pct": m.get("fold_shading_lifted_pct"),
            "changed_px": int(diff.sum()),
            "changed_outside_chin_neck_region": int((diff & ~allowed).sum()),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    default_faces = Path(__file__).resolve().parents[2] / "shared" / "faces"
    ap.add_argument("--faces", default=str(default_faces))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()
    faces = Path(a.faces)
    results: dict = {"cpu_threads": cv2.getNumThreads(), "face_1024": {}, "photo_12mp": {}}

    for rel in FACES_1024:
        data = load_image(faces / rel)
        analyses, ams = _analyze(data, a.runs)
        results["face_1024"][rel] = {"analyze_ms": round(ams, 1),
                                     "edits": time_edits(data, analyses, a.runs, True)}
    first = load_image(faces / FACES_1024[0])
    results["curves"] = curves(first, RetouchPipeline().analyze(first)[1])

    big = load_image(faces / BIG)
    h, w = big.pixels.shape[:2]
    s = np.sqrt(12e6 / (h * w))
    px = cv2.resize(big.pixels, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
    data = ImageData(pixels=px)
    analyses, ams = _analyze(data, a.runs)
    results["photo_12mp"] = {"size_wh": [px.shape[1], px.shape[0]],
                             "face_iod_px": round(float(np.linalg.norm(
                                 analyses[0].face.landmarks_xy[468]
                                 - analyses[0].face.landmarks_xy[473])), 1),
                             "analyze_ms": round(ams, 1),
                             "edits": time_edits(data, analyses, a.runs, True)}
    results["double_chin"] = double_chin(faces)

    text = json.dumps(results, indent=1)
    print(text)
    if a.json:
        Path(a.json).write_text(text)
    # A compact table for the README / docs.
    print("\nedit           1024px face (ms, median of photos)   12 MP (ms)   "
          "facetweak/retouch 12 MP")
    for name in EDITS:
        per = [v["edits"][name]["ms"] for v in results["face_1024"].values()]
        big_row = results["photo_12mp"]["edits"][name]
        ratio = big_row.get("facetweak_over_retouch", "")
        print(f"{name:<14} {statistics.median(per):>8.1f}                             "
              f"{big_row['ms']:>8.1f}     {ratio}")


if __name__ == "__main__":
    main()
