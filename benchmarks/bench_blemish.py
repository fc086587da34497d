#!/usr/bin/env python
"""Benchmark blemish detection and removal on synthetic blemishes planted on real clean faces.

Part 1 (planted): for every photo in ``FACES/clean`` and every seed, plant seeded
acne / red spots / dark spots with :func:`retouch.synth.plant_blemishes` (on a
MediaPipe skin mask that does not depend on the pipeline under test), run
``retouch(planted, only=["acne", "red_spot", "dark_spot"])`` and measure

* detection recall / precision against the planted ground truth, plus a
  planted-type x detected-type confusion table;
* PSNR and mean Delta E (CIE76) inside the union of the planted masks of the
  output vs the clean original, beside the same for the planted input (the
  "input baseline", i.e. doing nothing) and for OpenCV inpainting (TELEA,
  radius 3) of the ground-truth masks dilated by 2 px (an oracle-mask baseline);
* the fraction of face-skin pixels changed (any channel differs from the input)
  outside the ground-truth masks dilated by ``max(3 px, 0.5 * radius)``.
* recall by visibility (``spot_visibility``) and by the face region each spot lies
  in (retouch's own parse of the clean photo, ``region_lookup``);
* with ``--why-missed``, the localizer's decision nearest each missed spot
  (``miss_reason``), tabled for faint and visible spots.

Part 2 (``--pair``): the FFHQR professional-retouch pair: PSNR(output, target)
vs PSNR(input, target) with default settings, over the whole image and inside
the face-skin mask.

Usage::

    python benchmarks/bench_blemish.py --faces ../shared/faces --out bench_out/blemish \\
        [--seeds 0 1 2] [--json PATH] [--pair] [--no-planted] [--images GLOB] [--why-missed]

The photos are test data: they are read at run time and never copied.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps
from scipy.optimize import brentq
from scipy.special import ndtr

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO / "src"))

from retouch.synth import (  # noqa: E402
    DEFAULT_COUNTS,
    SYNTH_TYPES,
    NoFaceFoundError,
    PlantedBlemishes,
    delta_e76,
    face_skin_mask,
    plant_blemishes,
    srgb_to_lab,
)

DEFAULT_FACES = Path(os.environ.get("RETOUCH_FACES", REPO.parent / "shared" / "faces"))
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}
IOU_THRESHOLD = 0.3
PSNR_CAP = 100.0  # dB, reported when two images are identical in the region

MATCHING_RULE = (
    "A reported imperfection of type acne, red_spot or dark_spot matches a planted "
    f"instance when IoU(reported bbox, planted bbox) >= {IOU_THRESHOLD} OR the reported "
    "centre (rounded to a pixel) lies inside the planted instance's mask; the subtype "
    "is ignored for matching. Recall = planted instances with >= 1 match / planted; "
    "precision = reported imperfections matching >= 1 planted instance / reported "
    "(several reports may match one planted instance). Confusion: each planted "
    "instance is assigned the type of its best match (highest IoU, then nearest centre)."
)

RetouchFn = Callable[..., Any]


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------


def load_rgb(path: Path) -> np.ndarray:
    """Decode a photo to upright ``(H, W, 3) uint8`` RGB (alpha dropped)."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        return np.asarray(im.convert("RGB"))


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float | None:
    """PSNR in dB of two uint8 images over ``mask`` (all channels); None for an empty mask."""
    diff = a.astype(np.float64) - b.astype(np.float64)
    if mask is not None:
        if not mask.any():
            return None
        diff = diff[mask]
    mse = float(np.mean(diff**2))
    if mse <= 0.0:
        return PSNR_CAP
    return min(PSNR_CAP, 10.0 * math.log10(255.0**2 / mse))


def mean_delta_e(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean CIE76 Delta E over ``mask``; None for an empty mask."""
    if not mask.any():
        return None
    return float(delta_e76(a[mask], b[mask]).mean())


def iou_xywh(a: Sequence[float], b: Sequence[float]) -> float:
    ax0, ay0, aw, ah = (float(v) for v in a)
    bx0, by0, bw, bh = (float(v) for v in b)
    iw = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    ih = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _det_center(det: dict[str, Any]) -> tuple[float, float]:
    if det.get("center") is not None:
        return float(det["center"][0]), float(det["center"][1])
    x, y, w, h = det["bbox"]
    return x + w / 2.0, y + h / 2.0


@dataclass
class MatchResult:
    """Detection scores of one planted image."""

    n_planted: int
    n_reported: int
    planted_found: int
    reported_correct: int
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    false_pos_by_type: dict[str, int] = field(default_factory=dict)
    unmatched: tuple[int, ...] = ()  # indices of the reports matching no planted instance
    found: tuple[bool, ...] = ()  # per planted instance: matched by >= 1 report

    @property
    def recall(self) -> float | None:
        return self.planted_found / self.n_planted if self.n_planted else None

    @property
    def precision(self) -> float | None:
        return self.reported_correct / self.n_reported if self.n_reported else None


def match_detections(planted: PlantedBlemishes, reported: list[dict[str, Any]]) -> MatchResult:
    """Match reported imperfections (already filtered to SYNTH_TYPES) to planted instances."""
    inst = planted.instances
    h, w = planted.union_mask.shape
    n_p, n_r = len(inst), len(reported)
    hit = np.zeros((n_p, n_r), dtype=bool)
    ious = np.zeros((n_p, n_r))
    dists = np.zeros((n_p, n_r))
    for j, det in enumerate(reported):
        cx, cy = _det_center(det)
        px, py = int(round(cx)), int(round(cy))
        inside = 0 <= px < w and 0 <= py < h
        for i, pi in enumerate(inst):
            ious[i, j] = iou_xywh(det["bbox"], pi.bbox_xywh)
            dists[i, j] = math.hypot(cx - pi.center_xy[0], cy - pi.center_xy[1])
            hit[i, j] = ious[i, j] >= IOU_THRESHOLD or (inside and bool(pi.mask[py, px]))
    confusion = {t: dict.fromkeys((*SYNTH_TYPES, "missed"), 0) for t in SYNTH_TYPES}
    for i, pi in enumerate(inst):
        js = np.flatnonzero(hit[i])
        if js.size == 0:
            confusion[pi.type]["missed"] += 1
            continue
        best = min(js, key=lambda j: (-ious[i, j], dists[i, j]))
        confusion[pi.type][reported[best]["type"]] += 1
    fp = dict.fromkeys(SYNTH_TYPES, 0)
    unmatched = tuple(int(j) for j in np.flatnonzero(~hit.any(axis=0))) if n_r else ()
    for j in unmatched:
        fp[reported[j]["type"]] += 1
    return MatchResult(
        n_planted=n_p,
        n_reported=n_r,
        planted_found=int(hit.any(axis=1).sum()) if n_r else 0,
        reported_correct=int(hit.any(axis=0).sum()) if n_p else 0,
        confusion=confusion,
        false_pos_by_type=fp,
        unmatched=unmatched,
        found=tuple(bool(v) for v in hit.any(axis=1)) if n_r else (False,) * n_p,
    )


def also_on_clean(det: dict[str, Any], clean_reported: list[dict[str, Any]]) -> bool:
    """Whether a report lies where the detector also reports on the unplanted photo.

    True when its centre is inside (within 2 px of) the bbox of a report on the clean
    photo, or their bboxes overlap with IoU >= :data:`IOU_THRESHOLD`: the photo's own
    mark or structure, found with or without the planting.
    """
    cx, cy = _det_center(det)
    for c in clean_reported:
        x, y, w, h = c["bbox"]
        if (x - 2 <= cx <= x + w + 2 and y - 2 <= cy <= y + h + 2) \
                or iou_xywh(det["bbox"], c["bbox"]) >= IOU_THRESHOLD:
            return True
    return False


#: Upper edges of the visibility bins of the recall-by-visibility table (the last bin
#: is open).
VISIBILITY_BINS = (5.0, 8.0, 12.0)


def _centre_surround(x: np.ndarray, s: float) -> np.ndarray:
    """Gaussian of width ``s`` px minus one of ``3 s`` (``x`` ``(H, W, C) float32``)."""
    return cv2.GaussianBlur(x, (0, 0), s) - cv2.GaussianBlur(x, (0, 0), 3 * s)


def spot_visibility(clean: np.ndarray, planted: PlantedBlemishes, skin: np.ndarray,
                    face_size: float) -> list[float]:
    """How far each planted spot stands out of the clean skin's own texture around it.

    For each instance and each centre width ``s`` in ``r``, ``r / 1.6`` and ``r / 2.5``
    (``r`` its radius in px; ``s`` at least 0.7 px), the centre-surround response
    ``F = G_s - G_3s`` of the three CIE Lab channels is taken on the clean and the
    planted photo; the spot's signal is the difference of ``F`` at its centre, the
    noise the 3x3 covariance of the clean photo's ``F`` over the face skin within
    0.1 face sizes of it. The visibility is ``sqrt(sig^T C^-1 sig)``, the best over the
    widths: the signal-to-noise ratio of a detector that knew the spot's colour,
    size and place, so an upper bound for one that does not. Unitless (noise sigmas).
    """
    h, w = skin.shape
    lab_c = srgb_to_lab(clean).astype(np.float32)
    lab_p = srgb_to_lab(planted.image).astype(np.float32)
    out = []
    for inst in planted.instances:
        cx, cy = inst.center_xy
        best = 0.0
        for div in (1.0, 1.6, 2.5):
            s = max(0.7, inst.radius_px / div)
            pad = int(math.ceil(0.1 * face_size + 9 * s)) + 2
            x0, x1 = max(0, int(cx) - pad), min(w, int(cx) + pad + 1)
            y0, y1 = max(0, int(cy) - pad), min(h, int(cy) + pad + 1)
            box = (slice(y0, y1), slice(x0, x1))
            fc, fp = _centre_surround(lab_c[box], s), _centre_surround(lab_p[box], s)
            yy, xx = np.mgrid[y0:y1, x0:x1]
            near = skin[y0:y1, x0:x1] & (np.hypot(xx - cx, yy - cy) <= 0.1 * face_size) \
                & ~planted.union_mask[y0:y1, x0:x1]
            if near.sum() < 30:
                continue
            # + a floor of 0.3 Lab units per channel: an 8-bit photo's quantization.
            cov = np.cov(fc[near].astype(np.float64).T) + np.eye(3) * 0.09
            px, py = int(round(cx)) - x0, int(round(cy)) - y0
            sig = (fp[py, px] - fc[py, px]).astype(np.float64)
            best = max(best, float(np.sqrt(sig @ np.linalg.solve(cov, sig))))
        out.append(round(best, 2))
    return out


def recall_by_visibility(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recall per :data:`VISIBILITY_BINS` bin over every planted spot of ``rows``."""
    vis = np.array([v for r in rows for v in r.get("visibility", [])])
    found = np.array([f for r in rows for f in r.get("found", [])], bool)
    edges = (0.0, *VISIBILITY_BINS, math.inf)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (vis >= lo) & (vis < hi)
        out.append({"low": lo, "high": None if math.isinf(hi) else hi, "planted": int(m.sum()),
                    "recall": float(found[m].mean()) if m.any() else None})
    return out


#: Thresholds (noise sigmas) of the ideal-detector reference (:func:`ideal_recall`).
IDEAL_THRESHOLDS = (3.6, 4.0)


def ideal_recall(visibility: Sequence[float], tau: float) -> float | None:
    """Expected recall of an ideal detector that declares a spot at ``tau`` sigmas.

    A detector that knew each spot's colour, size and place, and had Gaussian noise of
    the clean skin's covariance, would see the spot's response at ``visibility``
    sigmas plus unit noise: it finds it with probability ``Phi(visibility - tau)``. A
    detector that must search the whole face needs a threshold ``tau`` high enough to
    keep its false reports in check, so this is a rough reference for what the
    benchmark's faint spots allow at that threshold (it ignores texture that is not
    Gaussian, and an acne's halo, which the visibility does not count), not a bound.
    """
    v = np.asarray(visibility, np.float64)
    return float(ndtr(v - tau).mean()) if v.size else None


def ideal_threshold(visibility: Sequence[float], target: float) -> float | None:
    """The ``tau`` at which :func:`ideal_recall` equals ``target`` in ``(0, 1)``."""
    v = np.asarray(visibility, np.float64)
    if not v.size:
        return None
    # ideal_recall falls monotonically from ~1 to ~0 between these two thresholds.
    lo, hi = float(v.min()) - 10.0, float(v.max()) + 10.0
    return float(brentq(lambda t: ideal_recall(v, t) - target, lo, hi, xtol=1e-9))


def recall_by_type(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per planted type: spots, recall, and :func:`ideal_recall` at each threshold."""
    typ = [t for r in rows for t in r.get("types", [])]
    vis = [v for r in rows for v in r.get("visibility", [])]
    found = [f for r in rows for f in r.get("found", [])]
    if len(typ) != len(vis):  # rows written before the types were recorded
        return []
    out = []
    for kind in (*SYNTH_TYPES, "all"):
        idx = [i for i, t in enumerate(typ) if kind in ("all", t)]
        if not idx:
            continue
        v = [vis[i] for i in idx]
        out.append({"type": kind, "planted": len(idx),
                    "recall": float(np.mean([found[i] for i in idx])),
                    "ideal": {f"{t:g}": ideal_recall(v, t) for t in IDEAL_THRESHOLDS},
                    "ideal_threshold_for_0.9": ideal_threshold(v, 0.9)})
    return out


#: Order of the recall-by-region table (``skin``: skin in no named region -- the
#: upper lip, the jaw's sides, the temples, the band between the brows and the eyes).
REGION_ORDER = ("forehead", "left_cheek", "right_cheek", "nose", "left_under_eye",
                "right_under_eye", "chin", "neck", "skin")


def miss_reason(center_xy: tuple[float, float], radius: float, inner: np.ndarray,
                candidates: Sequence[dict[str, Any]]) -> str:
    """Why the localizer did not report a planted spot, from its debug record.

    Args:
        center_xy: the spot's centre ``(x, y)`` in the face crop's pixels.
        radius: the spot's radius in crop pixels.
        inner: ``(H, W) bool`` the crop's inner skin (where candidates are looked for).
        candidates: the localizer's candidates (``debug["candidates"]``), each with
            ``cx``, ``cy``, ``r`` (crop pixels) and its ``decision``.

    Returns:
        ``"outside the skin"`` when the centre is not inner skin and no candidate is
        near; ``"no candidate"``; or the decision of the nearest candidate within the
        spot's radius plus the candidate's (``"freckle"``, ``"rejected: score"``,
        ``"rejected: border"``...; ``"reported"`` when a spot type was reported there,
        so the miss is the matching's: a footprint off the planted box).
    """
    x, y = center_xy
    near = [c for c in candidates
            if math.hypot(c["cx"] - x, c["cy"] - y) <= max(2.0, radius + c["r"])]
    if not near:
        xi, yi = int(round(x)), int(round(y))
        ok = 0 <= yi < inner.shape[0] and 0 <= xi < inner.shape[1]
        return "no candidate" if ok and inner[yi, xi] else "outside the skin"
    best = min(near, key=lambda c: math.hypot(c["cx"] - x, c["cy"] - y))
    if best["decision"] in SYNTH_TYPES or best["decision"] == "merged":
        return "reported" if not best.get("kept_reason") else best["kept_reason"]
    return str(best["decision"])


def spot_significance(T: np.ndarray, center_xy: tuple[float, float], radius: float
                      ) -> float | None:
    """The largest matched-filter significance within a spot, noise sigmas.

    ``T`` is the localizer's ``(H, W)`` significance map (``debug["T"]``, crop pixels),
    ``center_xy`` the spot's centre ``(x, y)`` and ``radius`` its radius (at least 1.5
    px is looked at), both in crop pixels. ``None`` when the disc misses the crop.
    """
    x, y = center_xy
    r = max(1.5, float(radius))
    H, W = T.shape
    x0, x1 = max(0, int(np.floor(x - r))), min(W, int(np.ceil(x + r)) + 1)
    y0, y1 = max(0, int(np.floor(y - r))), min(H, int(np.ceil(y + r)) + 1)
    if x0 >= x1 or y0 >= y1:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1]
    disc = (xx - x) ** 2 + (yy - y) ** 2 <= r * r
    return float(T[y0:y1, x0:x1][disc].max()) if disc.any() else None


def miss_reasons(image: np.ndarray, planted: PlantedBlemishes, found: Sequence[bool],
                 sensitivity: float | None
                 ) -> tuple[list[str | None], list[float | None]]:
    """:func:`miss_reason` for each planted spot not found (``None`` for found ones), and
    whether its colour evidence was there: its :func:`spot_significance` over the
    localizer's matched-filter threshold (``debug["k_mf"]``), the difference in noise
    sigmas (>= 0: significant enough for a candidate of its own; a rule or the scorer
    lost it).

    Runs retouch's own analysis of ``image`` (the face whose crop holds the spot; the
    built-in pipeline, whatever engine the benchmark ran).
    """
    from retouch.imageio import load_image
    from retouch.pipeline import RetouchPipeline

    debug: list[dict] = []
    pipe = RetouchPipeline() if sensitivity is None else RetouchPipeline(sensitivity=sensitivity)
    _, analyses = pipe.analyze(load_image(image), debug=debug)
    out: list[str | None] = []
    margin: list[float | None] = []
    for pi, ok in zip(planted.instances, found, strict=True):
        if ok:
            out.append(None)
            margin.append(None)
            continue
        reason, m = "no face", None
        for fa, dbg in zip(analyses, debug, strict=True):
            al = fa.alignment
            (cx, cy), = al.to_crop(np.array([pi.center_xy]))
            if 0 <= cx < al.size and 0 <= cy < al.size:
                reason = miss_reason((float(cx), float(cy)), pi.radius_px * al.scale,
                                     dbg["inner"], dbg["candidates"])
                t = spot_significance(dbg["T"], (float(cx), float(cy)),
                                      pi.radius_px * al.scale)
                m = None if t is None else round(t - float(dbg["k_mf"]), 3)
                break
        out.append(reason)
        margin.append(m)
    return out, margin


def region_lookup(clean: np.ndarray) -> Callable[[float, float], str] | None:
    """Named region at an image point ``(x, y)`` (px), by retouch's own parse of ``clean``.

    The parse of the clean photo's face whose box holds the point (else the largest
    face) is looked up with :func:`retouch.parse.region_at` after mapping the point
    into that face's crop. ``None`` when no face is analysed. The region only groups
    the figures; it plays no part in matching.
    """
    from retouch.imageio import load_image
    from retouch.parse import region_at
    from retouch.pipeline import RetouchPipeline

    _, analyses = RetouchPipeline().analyze(load_image(clean))
    if not analyses:
        return None
    largest = max(analyses, key=lambda a: a.face.bbox_xywh[2] * a.face.bbox_xywh[3])

    def at(x: float, y: float) -> str:
        fa = next((a for a in analyses
                   if a.face.bbox_xywh[0] <= x <= a.face.bbox_xywh[0] + a.face.bbox_xywh[2]
                   and a.face.bbox_xywh[1] <= y <= a.face.bbox_xywh[1] + a.face.bbox_xywh[3]),
                  largest)
        cx, cy = fa.alignment.to_crop(np.array([[x, y]], np.float64))[0]
        return region_at(fa.regions, float(cx), float(cy))

    return at


def recall_by_region(rows: list[dict[str, Any]], min_visibility: float = VISIBILITY_BINS[0]
                     ) -> list[dict[str, Any]]:
    """Recall per named region (rows' ``region`` lists), over all spots and over those
    at least ``min_visibility`` visible; regions in :data:`REGION_ORDER` order."""
    reg = [g for r in rows for g in r.get("region", [])]
    vis = [v for r in rows if r.get("region") for v in r.get("visibility", [])]
    found = [f for r in rows if r.get("region") for f in r.get("found", [])]
    out = []
    for name in sorted(set(reg), key=lambda n: (REGION_ORDER + (n,)).index(n)):
        idx = [i for i, g in enumerate(reg) if g == name]
        vis_idx = [i for i in idx if vis[i] >= min_visibility]
        out.append({
            "region": name, "planted": len(idx),
            "recall": float(np.mean([found[i] for i in idx])),
            "planted_visible": len(vis_idx),
            "recall_visible": float(np.mean([found[i] for i in vis_idx])) if vis_idx else None,
        })
    return out


def recall_by_image(rows: list[dict[str, Any]], min_visibility: float = VISIBILITY_BINS[0]
                    ) -> list[dict[str, Any]]:
    """Recall per photo over its seeds, lowest first (ties by name): where the misses
    concentrate. Also the face size (px, from the planting's skin mask), the median
    visibility of its spots and the recall over those at least ``min_visibility``
    visible. Rows without planted spots are left out."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r.get("found"):
            by.setdefault(r["image"], []).append(r)
    out = []
    for name, rs in by.items():
        found = [f for r in rs for f in r["found"]]
        vis = [v for r in rs for v in r.get("visibility", [])]
        vis_found = [f for f, v in zip(found, vis, strict=False) if v >= min_visibility]
        full = len(vis) == len(found)
        out.append({
            "image": name, "runs": len(rs), "face_size_px": float(rs[0]["face_size_px"]),
            "planted": len(found), "recall": float(np.mean(found)),
            "median_visibility": float(np.median(vis)) if vis else None,
            "planted_visible": len(vis_found),
            "recall_visible": float(np.mean(vis_found)) if vis_found else None,
            "ideal": ideal_recall(vis, IDEAL_THRESHOLDS[0]) if full and vis else None,
        })
    return sorted(out, key=lambda b: (b["recall"], b["image"]))


def dilated_gt(planted: PlantedBlemishes) -> np.ndarray:
    """Union of instance masks, each dilated by ``max(3, 0.5 * radius)`` px."""
    out = np.zeros_like(planted.union_mask)
    for pi in planted.instances:
        k = max(3, int(math.ceil(0.5 * pi.radius_px)))
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
        out |= cv2.dilate(pi.mask.astype(np.uint8), disk) > 0
    return out


def opencv_baseline(planted: PlantedBlemishes) -> np.ndarray:
    """cv2.inpaint TELEA (radius 3) of the ground-truth masks dilated by 2 px."""
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    mask = cv2.dilate(planted.union_mask.astype(np.uint8) * 255, disk)
    bgr = cv2.cvtColor(planted.image, cv2.COLOR_RGB2BGR)
    out = cv2.inpaint(bgr, mask, 3, cv2.INPAINT_TELEA)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


# --------------------------------------------------------------------------
# Visual check
# --------------------------------------------------------------------------


def _label(img: np.ndarray, text: str) -> np.ndarray:
    """``img`` under a 28 px white title bar."""
    bar = np.full((28, img.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(bar, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, img], axis=0)


def face_crop_box(skin: np.ndarray, face_size: float) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` around the skin mask, padded by 15 % of the face size."""
    ys, xs = np.nonzero(skin)
    pad = int(0.15 * face_size)
    h, w = skin.shape
    return (
        max(0, int(xs.min()) - pad),
        max(0, int(ys.min()) - pad),
        min(w, int(xs.max()) + pad + 1),
        min(h, int(ys.max()) + pad + 1),
    )


def save_grid(
    path: Path,
    box: tuple[int, int, int, int],
    panels: list[tuple[str, np.ndarray]],
    target_h: int = 512,
) -> None:
    x0, y0, x1, y1 = box
    scale = target_h / float(y1 - y0)
    tiles = []
    for name, img in panels:
        crop = img[y0:y1, x0:x1]
        size = (max(1, int(round((x1 - x0) * scale))), target_h)
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        tiles.append(_label(cv2.resize(crop, size, interpolation=interp), name))
        tiles.append(np.full((target_h + 28, 4, 3), 255, dtype=np.uint8))
    grid = np.concatenate(tiles[:-1], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)


def annotate(planted: PlantedBlemishes, reported: list[dict[str, Any]]) -> np.ndarray:
    """Planted image with ground-truth outlines (green) and reported boxes (red)."""
    out = planted.image.copy()
    contours, _ = cv2.findContours(
        planted.union_mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
    )
    cv2.drawContours(out, contours, -1, (0, 255, 0), 1)
    for det in reported:
        x, y, w, h = (int(round(v)) for v in det["bbox"])
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), (255, 0, 0), 1)
    return out


# --------------------------------------------------------------------------
# Benchmark parts
# --------------------------------------------------------------------------


def list_clean(faces: Path, pattern: str | None) -> list[Path]:
    files = sorted(p for p in (faces / "clean").iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if pattern:
        files = [p for p in files if p.match(pattern)]
    return files


def run_planted(
    faces: Path,
    out_dir: Path,
    seeds: Sequence[int],
    retouch_fn: RetouchFn,
    pattern: str | None = None,
    counts: dict[str, int] | None = None,
    also: Sequence[str] = (),
    why_missed: bool = False,
    sensitivity: float | None = None,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    confusion = {t: dict.fromkeys((*SYNTH_TYPES, "missed"), 0) for t in SYNTH_TYPES}
    false_pos = dict.fromkeys(SYNTH_TYPES, 0)
    for path in list_clean(faces, pattern):
        clean = load_rgb(path)
        try:
            skin, face_size = face_skin_mask(clean)
        except NoFaceFoundError:
            note = "no face found by MediaPipe Face Mesh; skipped"
            print(f"note: {path.name}: {note}", file=sys.stderr)
            skipped.append({"image": path.name, "reason": note})
            continue
        try:  # the clean photo's own reports: unmatched ones there are not the planting's
            clean_res = retouch_fn(clean, only=[*SYNTH_TYPES, *also])
            clean_reported = [d for d in clean_res.report.get("imperfections", [])
                              if d.get("type") in SYNTH_TYPES]
        except Exception:  # noqa: BLE001 - the planted runs below record the failure
            clean_reported = []
        try:
            region_at_xy = region_lookup(clean)
        except Exception:  # noqa: BLE001 - the regions only group the figures
            region_at_xy = None
        for seed in seeds:
            planted = plant_blemishes(clean, skin, face_size_px=face_size, counts=counts,
                                      rng=seed)
            t0 = time.perf_counter()
            try:
                res = retouch_fn(planted.image, only=[*SYNTH_TYPES, *also])
            except Exception as exc:  # a benchmark records failures and goes on
                note = f"retouch failed: {type(exc).__name__}: {exc}"
                print(f"note: {path.name} seed {seed}: {note}", file=sys.stderr)
                skipped.append({"image": path.name, "seed": str(seed), "reason": note})
                continue
            secs = time.perf_counter() - t0
            output = np.asarray(res.image)
            if output.shape != clean.shape or output.dtype != np.uint8:
                raise SystemExit(
                    f"bench_blemish: retouch returned {output.shape} {output.dtype} for a "
                    f"{clean.shape} uint8 input"
                )
            reported = [
                d for d in res.report.get("imperfections", []) if d.get("type") in SYNTH_TYPES
            ]
            m = match_detections(planted, reported)
            for t in SYNTH_TYPES:
                for k, v in m.confusion[t].items():
                    confusion[t][k] += v
                false_pos[t] += m.false_pos_by_type[t]

            gt = planted.union_mask
            cv_out = opencv_baseline(planted)
            outside = skin & ~dilated_gt(planted)
            changed = np.any(output != planted.image, axis=2)
            row = {
                "image": path.name,
                "seed": int(seed),
                "face_size_px": round(face_size, 1),
                "planted": m.n_planted,
                "reported": m.n_reported,
                "removed_reported": sum(bool(d.get("removed")) for d in reported),
                "clean_reported": len(clean_reported),
                "unmatched": len(m.unmatched),
                "unmatched_on_clean": sum(also_on_clean(reported[j], clean_reported)
                                          for j in m.unmatched),
                "recall": m.recall,
                "precision": m.precision,
                "found": list(m.found),
                "visibility": spot_visibility(clean, planted, skin, face_size),
                "types": [pi.type for pi in planted.instances],
                "region": [region_at_xy(*pi.center_xy) for pi in planted.instances]
                if region_at_xy else [],
                "psnr_in": psnr(planted.image, clean, gt),
                "psnr_out": psnr(output, clean, gt),
                "psnr_cv": psnr(cv_out, clean, gt),
                "de_in": mean_delta_e(planted.image, clean, gt),
                "de_out": mean_delta_e(output, clean, gt),
                "de_cv": mean_delta_e(cv_out, clean, gt),
                "changed_outside": float(changed[outside].mean()) if outside.any() else None,
                "gt_pixels": int(gt.sum()),
                "seconds": round(secs, 3),
            }
            if why_missed:
                row["miss_reason"], row["miss_significance_margin"] = miss_reasons(
                    planted.image, planted, m.found, sensitivity)
            rows.append(row)
            print(
                f"{path.name} seed {seed}: recall {_fmt(row['recall'])} precision "
                f"{_fmt(row['precision'])} psnr in/out/cv {_fmt(row['psnr_in'], 2)}/"
                f"{_fmt(row['psnr_out'], 2)}/{_fmt(row['psnr_cv'], 2)} dB  "
                f"changed outside {_fmt_pct(row['changed_outside'])}  {secs:.2f}s",
                file=sys.stderr,
            )
            if seed == seeds[0]:
                box = face_crop_box(skin, face_size)
                save_grid(
                    out_dir / f"{path.stem}_seed{seed}.png",
                    box,
                    [
                        ("before (planted)", planted.image),
                        ("after (retouch)", output),
                        ("clean", clean),
                        ("GT green / reported red", annotate(planted, reported)),
                    ],
                )
    return {
        "rows": rows,
        "aggregate": aggregate(rows),
        "recall_by_visibility": recall_by_visibility(rows),
        "recall_by_type": recall_by_type(rows),
        "recall_by_region": recall_by_region(rows),
        "recall_by_image": recall_by_image(rows),
        "misses_by_reason": misses_by_reason(rows) if why_missed else None,
        "confusion": confusion,
        "false_positives_by_type": false_pos,
        "skipped": skipped,
    }


def misses_by_reason(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Missed planted spots per :func:`miss_reason`, faint and visible, most first."""
    tally: dict[str, list[int]] = {}
    for r in rows:
        reasons = r.get("miss_reason") or ()
        margins = r.get("miss_significance_margin") or [None] * len(reasons)
        for reason, vis, m in zip(reasons, r["visibility"], margins, strict=False):
            if reason is not None:
                t = tally.setdefault(reason, [0, 0, 0])
                t[int(vis >= VISIBILITY_BINS[0])] += 1
                t[2] += int(m is not None and m >= 0.0)
    return [{"reason": k, "faint": v[0], "visible": v[1], "significant": v[2]}
            for k, v in sorted(tally.items(), key=lambda kv: (-kv[1][0] - kv[1][1], kv[0]))]


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over images x seeds (None values ignored) and pooled detection rates."""
    keys = (
        "recall",
        "precision",
        "psnr_in",
        "psnr_out",
        "psnr_cv",
        "de_in",
        "de_out",
        "de_cv",
        "changed_outside",
        "seconds",
    )
    agg: dict[str, Any] = {"runs": len(rows)}
    for k in keys:
        vals = [r[k] for r in rows if r.get(k) is not None]
        agg[k] = float(np.mean(vals)) if vals else None
    planted = sum(r["planted"] for r in rows)
    reported = sum(r["reported"] for r in rows)
    found = sum((r["recall"] or 0.0) * r["planted"] for r in rows)
    correct = sum((r["precision"] or 0.0) * r["reported"] for r in rows)
    agg["planted_total"] = planted
    agg["reported_total"] = reported
    agg["recall_pooled"] = found / planted if planted else None
    agg["precision_pooled"] = correct / reported if reported else None
    return agg


def run_pair(faces: Path, out_dir: Path, retouch_fn: RetouchFn) -> dict[str, Any]:
    src_p = faces / "pairs" / "ffhqr_00000_source.png"
    tgt_p = faces / "pairs" / "ffhqr_00000_target.png"
    if not (src_p.is_file() and tgt_p.is_file()):
        print(f"note: FFHQR pair not found under {faces / 'pairs'}; skipped", file=sys.stderr)
        return {"skipped": "pair files not found"}
    source, target = load_rgb(src_p), load_rgb(tgt_p)  # target is RGBA: alpha dropped
    t0 = time.perf_counter()
    res = retouch_fn(source)
    secs = time.perf_counter() - t0
    output = np.asarray(res.image)
    try:
        skin, face_size = face_skin_mask(source)
    except NoFaceFoundError:
        skin, face_size = None, 0.0
    result: dict[str, Any] = {
        "source": src_p.name,
        "target": tgt_p.name,
        "psnr_in_target": psnr(source, target),
        "psnr_out_target": psnr(output, target),
        "seconds": round(secs, 3),
        "reported": len(res.report.get("imperfections", [])),
    }
    if skin is not None:
        result["psnr_in_target_skin"] = psnr(source, target, skin)
        result["psnr_out_target_skin"] = psnr(output, target, skin)
        save_grid(
            out_dir / "ffhqr_00000_pair.png",
            face_crop_box(skin, face_size),
            [("source", source), ("retouch output", output), ("FFHQR target", target)],
        )
    return result


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def _fmt(v: float | None, nd: int = 3) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


def _fmt_pct(v: float | None) -> str:
    return "-" if v is None else f"{100.0 * v:.2f}%"


def markdown(planted: dict[str, Any] | None, pair: dict[str, Any] | None) -> str:
    lines: list[str] = []
    if planted is not None:
        agg = planted["aggregate"]
        lines += [
            "## Planted blemishes (acne / red_spot / dark_spot)",
            "",
            f"Matching rule: {MATCHING_RULE}",
            "",
            "PSNR / mean dE are inside the union of the planted masks, against the clean "
            "photo: `in` = planted input (doing nothing), `out` = retouch output, "
            "`cv` = cv2.inpaint TELEA r=3 on the ground-truth masks dilated by 2 px. "
            "`changed outside` = face-skin pixels changed outside the ground truth "
            "dilated by max(3 px, 0.5 r).",
            "",
            "| runs | recall | precision | recall (pooled) | precision (pooled) "
            "| PSNR in | PSNR out | PSNR cv | dE in | dE out | dE cv | changed outside "
            "| s / image |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {agg['runs']} | {_fmt(agg['recall'])} | {_fmt(agg['precision'])} "
            f"| {_fmt(agg['recall_pooled'])} | {_fmt(agg['precision_pooled'])} "
            f"| {_fmt(agg['psnr_in'], 2)} | {_fmt(agg['psnr_out'], 2)} "
            f"| {_fmt(agg['psnr_cv'], 2)} | {_fmt(agg['de_in'], 2)} "
            f"| {_fmt(agg['de_out'], 2)} | {_fmt(agg['de_cv'], 2)} "
            f"| {_fmt_pct(agg['changed_outside'])} | {_fmt(agg['seconds'], 2)} |",
            "",
            "### Per image",
            "",
            "| image | seed | planted | reported | recall | precision | PSNR in | PSNR out "
            "| PSNR cv | changed outside | s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in planted["rows"]:
            lines.append(
                f"| {r['image']} | {r['seed']} | {r['planted']} | {r['reported']} "
                f"| {_fmt(r['recall'])} | {_fmt(r['precision'])} | {_fmt(r['psnr_in'], 2)} "
                f"| {_fmt(r['psnr_out'], 2)} | {_fmt(r['psnr_cv'], 2)} "
                f"| {_fmt_pct(r['changed_outside'])} | {_fmt(r['seconds'], 2)} |"
            )
        lines += [
            "",
            "### Confusion (rows: planted type; columns: type of the best-matching report)",
            "",
            "| planted \\ reported | " + " | ".join((*SYNTH_TYPES, "missed")) + " |",
            "|---|" + "---:|" * (len(SYNTH_TYPES) + 1),
        ]
        for t in SYNTH_TYPES:
            row = planted["confusion"][t]
            lines.append(
                f"| {t} | " + " | ".join(str(row[k]) for k in (*SYNTH_TYPES, "missed")) + " |"
            )
        fp = planted["false_positives_by_type"]
        lines.append(
            "| (unmatched reports) | " + " | ".join(str(fp[t]) for t in SYNTH_TYPES) + " | |"
        )
        n_un = sum(r["unmatched"] for r in planted["rows"])
        n_on = sum(r["unmatched_on_clean"] for r in planted["rows"])
        lines += [
            "",
            f"Of the {n_un} unmatched reports, {n_on} lie where the detector also reports "
            "on the unplanted photo (the photo's own marks and structures such as hair "
            "edges or creases, not caused by the planting; they count as false here).",
        ]
        lines += [
            "",
            "### Recall by visibility",
            "",
            "Visibility: each planted spot's signal-to-noise ratio against the clean skin's "
            "texture around it, for a detector that knew its colour, size and place "
            "(`spot_visibility`; an upper bound: the lower, the fainter the spot against "
            "its skin, though a whitehead's pale centre makes it under-rate that papule).",
            "",
            "| visibility | planted | recall |",
            "|---|---:|---:|",
        ]
        for b in planted["recall_by_visibility"]:
            rng = f">= {b['low']:g}" if b["high"] is None else f"{b['low']:g}-{b['high']:g}"
            lines.append(f"| {rng} | {b['planted']} | {_fmt(b['recall'])} |")
        if planted.get("recall_by_type"):
            ths = " | ".join(f"ideal at {t:g}" for t in IDEAL_THRESHOLDS)
            lines += [
                "",
                "Reference: an ideal detector that knew each spot's colour, size and place "
                "finds it with probability Phi(visibility - tau) when it declares spots at "
                "tau noise sigmas (`ideal_recall`; Gaussian noise, a rough reference, not a "
                "bound). A detector that searches the whole face needs tau high enough to "
                "keep false reports down; the last column is the tau at which this reference "
                "reaches recall 0.9.",
                "",
                f"| planted type | planted | recall | {ths} | tau for 0.9 |",
                "|---|---:|---:|" + "---:|" * len(IDEAL_THRESHOLDS) + "---:|",
            ]
            for b in planted["recall_by_type"]:
                ideal = " | ".join(_fmt(b["ideal"][f"{t:g}"]) for t in IDEAL_THRESHOLDS)
                lines.append(f"| {b['type']} | {b['planted']} | {_fmt(b['recall'])} | {ideal} | "
                             f"{_fmt(b['ideal_threshold_for_0.9'], 2)} |")
        if planted.get("recall_by_region"):
            lines += [
                "",
                "### Recall by region",
                "",
                "Where each planted spot lies, by retouch's own parse of the clean photo "
                "(`skin`: skin in no named region: the upper lip, the jaw's sides, the "
                "temples, between the brows and the eyes); 'visible': visibility >= "
                f"{VISIBILITY_BINS[0]:g}.",
                "",
                "| region | planted | recall | planted, visible | recall, visible |",
                "|---|---:|---:|---:|---:|",
            ]
            for b in planted["recall_by_region"]:
                lines.append(f"| {b['region']} | {b['planted']} | {_fmt(b['recall'])} | "
                             f"{b['planted_visible']} | {_fmt(b['recall_visible'])} |")
        if planted.get("recall_by_image"):
            lines += [
                "",
                "### Recall by photo",
                "",
                "Each clean photo over its seeds, lowest recall first; face size in pixels "
                "(the planting's skin mask), the median visibility of its planted spots, "
                f"'visible': visibility >= {VISIBILITY_BINS[0]:g}, and the ideal reference "
                f"at {IDEAL_THRESHOLDS[0]:g} sigmas (`ideal_recall`, above): a photo well "
                "under it loses spots its colour evidence holds; one near it is at the "
                "limit of what its faint spots allow.",
                "",
                "| photo | face size | planted | recall | ideal at "
                f"{IDEAL_THRESHOLDS[0]:g} | median visibility | planted, visible "
                "| recall, visible |",
                "|---|---:|---:|---:|---:|---:|---:|---:|",
            ]
            lines += [f"| {b['image']} | {b['face_size_px']:.0f} | {b['planted']} | "
                      f"{_fmt(b['recall'])} | {_fmt(b.get('ideal'))} | "
                      f"{_fmt(b['median_visibility'], 1)} | "
                      f"{b['planted_visible']} | {_fmt(b['recall_visible'])} |"
                      for b in planted["recall_by_image"]]
        if planted.get("misses_by_reason"):
            lines += [
                "",
                "### Why the misses were missed (`--why-missed`)",
                "",
                "The localizer's own decision nearest each missed spot, in retouch's analysis "
                "of the planted photo: `no candidate` (its significance stayed under the "
                "candidate thresholds), `outside the skin`, a rejection rule, a kept type "
                "(`freckle`, `mole`), `not contained`, or `reported` (a footprint the "
                f"matching rule did not accept); 'visible': visibility >= "
                f"{VISIBILITY_BINS[0]:g}. 'Significant': the matched filter's significance "
                "inside the spot reached the localizer's threshold for a candidate of its "
                "own, so the colour evidence was there and a rule, the scorer or the "
                "matching lost the spot; the others were too faint for this detector.",
                "",
                "| reason | missed, faint | missed, visible | of which significant |",
                "|---|---:|---:|---:|",
            ]
            lines += [f"| {b['reason']} | {b['faint']} | {b['visible']} | "
                      f"{b.get('significant', 0)} |"
                      for b in planted["misses_by_reason"]]
            n_sig = sum(b.get("significant", 0) for b in planted["misses_by_reason"])
            n_all = sum(b["faint"] + b["visible"] for b in planted["misses_by_reason"])
            n_pl = sum(len(r["found"]) for r in planted["rows"] if r.get("found"))
            if n_pl:
                lines += ["", f"Significant misses: {n_sig} of {n_all} ({n_sig / n_pl:.3f} "
                          "of the planted spots)."]
        if planted["skipped"]:
            lines += ["", "Skipped:"]
            lines += [
                f"- {s['image']}"
                + (f" seed {s['seed']}" if "seed" in s else "")
                + f": {s['reason']}"
                for s in planted["skipped"]
            ]
    if pair is not None:
        lines += ["", "## FFHQR pair (default settings)", ""]
        if "skipped" in pair:
            lines.append(f"Skipped: {pair['skipped']}")
        else:
            lines += [
                "| region | PSNR(input, target) | PSNR(output, target) | gain |",
                "|---|---:|---:|---:|",
            ]
            for name, a, b in (
                ("whole image", "psnr_in_target", "psnr_out_target"),
                ("face skin", "psnr_in_target_skin", "psnr_out_target_skin"),
            ):
                if pair.get(a) is not None and pair.get(b) is not None:
                    lines.append(
                        f"| {name} | {pair[a]:.2f} | {pair[b]:.2f} | {pair[b] - pair[a]:+.2f} |"
                    )
            lines.append("")
            lines.append(f"{pair['reported']} imperfections reported; {pair['seconds']:.2f} s.")
    return "\n".join(lines)


def parse_counts(text: str) -> dict[str, int]:
    """``'acne=30,red_spot=8'`` -> ``{'acne': 30, 'red_spot': 8}`` (types of SYNTH_TYPES)."""
    out: dict[str, int] = {}
    for part in text.split(","):
        kind, sep, n = part.partition("=")
        kind = kind.strip()
        if not sep or kind not in SYNTH_TYPES or not n.strip().isdigit():
            raise argparse.ArgumentTypeError(
                f"bad count {part!r}: expected TYPE=N with TYPE one of {', '.join(SYNTH_TYPES)}")
        out[kind] = int(n)
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--faces",
        type=Path,
        default=DEFAULT_FACES,
        help="shared photo folder (default: $RETOUCH_FACES or ../shared/faces)",
    )
    ap.add_argument("--out", type=Path, default=Path("bench_out/blemish"), help="output folder")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="planting seeds")
    ap.add_argument("--json", type=Path, default=None, help="JSON path (default OUT/results.json)")
    ap.add_argument("--pair", action="store_true", help="also run the FFHQR pair part")
    ap.add_argument("--no-planted", action="store_true", help="skip the planted part")
    ap.add_argument("--images", default=None, help="only clean photos whose name matches GLOB")
    ap.add_argument(
        "--counts",
        type=parse_counts,
        default=None,
        help="spots planted per photo, e.g. 'acne=30,red_spot=8,dark_spot=6' (a dense "
        "breakout); default retouch.synth.DEFAULT_COUNTS",
    )
    ap.add_argument(
        "--also",
        default="",
        help="types treated besides the planted ones, e.g. 'redness' (comma list); "
        "its changes count as changes outside the masks",
    )
    ap.add_argument(
        "--sensitivity",
        type=float,
        default=None,
        help="the localizer's sensitivity in [0, 1] (retouch --sensitivity; default the "
        "package's own default, 0.5): a point on the recall / precision trade-off",
    )
    ap.add_argument(
        "--why-missed",
        action="store_true",
        help="for each missed planted spot, look up why in retouch's own analysis "
        "(the localizer's decision near it) and add a table of the reasons",
    )
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None, retouch_fn: RetouchFn | None = None) -> int:
    args = parse_args(argv)
    faces: Path = args.faces
    if not (faces / "clean").is_dir():
        sys.exit(
            f"bench_blemish: the shared face photos were not found at {faces} (expected "
            f"{faces / 'clean'}); pass --faces PATH or set RETOUCH_FACES."
        )
    if retouch_fn is None:
        try:
            from retouch import retouch as retouch_fn
        except ImportError as exc:
            sys.exit(f"bench_blemish: cannot import retouch.retouch ({exc})")
    if args.sensitivity is not None:
        if not 0.0 <= args.sensitivity <= 1.0:
            sys.exit(f"bench_blemish: --sensitivity must be in [0, 1]; got {args.sensitivity}")
        retouch_fn = functools.partial(retouch_fn, sensitivity=args.sensitivity)
    args.out.mkdir(parents=True, exist_ok=True)
    planted = None
    if not args.no_planted:
        also = [t for t in args.also.split(",") if t.strip()]
        planted = run_planted(faces, args.out, args.seeds, retouch_fn, args.images, args.counts,
                              also, why_missed=args.why_missed, sensitivity=args.sensitivity)
    pair = run_pair(faces, args.out, retouch_fn) if args.pair else None
    print(markdown(planted, pair))
    payload = {
        "matching_rule": MATCHING_RULE,
        "config": {
            "faces": str(faces),
            "seeds": list(args.seeds),
            "counts": args.counts or dict(DEFAULT_COUNTS),
            "sensitivity": args.sensitivity,
            "only": [*SYNTH_TYPES, *(t for t in args.also.split(",") if t.strip())],
            "iou_threshold": IOU_THRESHOLD,
            "psnr_cap_db": PSNR_CAP,
            "opencv_baseline": "cv2.inpaint TELEA radius 3, GT masks dilated by 2 px",
            "changed_outside": "skin & ~dilate(GT, max(3, 0.5 * radius)), any channel differs",
        },
        "planted": planted,
        "pair": pair,
    }
    json_path = args.json or args.out / "results.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(payload, indent=2))
    print(f"\nJSON: {json_path}\nGrids: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
