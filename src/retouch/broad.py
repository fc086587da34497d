"""Stage 5, broad imperfections: wrinkles, under-eye darkness, shine, breakout redness.

The localizer (:mod:`retouch.localize`) finds spots; these maps are the areas that
are not compact blobs. Each works in the canonical crop, on the smoothed Lab
(``sm``) and its normal-skin estimate (``bg``) the localizer computes, with sizes
relative to the face size ``u`` (crop pixels), and returns a soft ``(S, S) float32``
map in ``[0, 1]`` with its :class:`~retouch.types.CropInstance` list.
"""

from __future__ import annotations

import cv2
import numpy as np

from .inpaint import gauss as _gauss
from .inpaint import normalized_blur
from .matched import RED_LAB
from .parse import region_at
from .robust import thin
from .types import CropInstance, FaceRegions

#: Share of a highlight's L* excess (above the shine threshold) that treating shine
#: at amount 1 removes; the rest keeps the face's modelling.
SHINE_REDUCTION = 0.6


def _taper(mask: np.ndarray, sigma: float) -> np.ndarray:
    """A bool mask grown by ``2 sigma`` and feathered to 0 before the box edge."""
    m = mask.astype(np.float32)
    k = int(2 * round(2 * sigma) + 1)
    m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    m = _gauss(m, sigma)
    # Force zero on the outermost ring so nothing is cut by the box.
    m[[0, -1], :] = 0
    m[:, [0, -1]] = 0
    return np.clip(m, 0, 1)


def valley_depth(L: np.ndarray, u: float) -> np.ndarray:
    """Depth in L units of dark valleys (lines) at two widths, ``(S, S) float32``.

    Scale-normalized curvature across the valley (largest Hessian eigenvalue,
    minus twice a positive smallest one so round blobs are not lines).
    """
    sig = max(0.8, 0.004 * u)
    resp = np.zeros_like(L)
    for sg in (sig, 2.2 * sig):
        g = _gauss(L, sg)
        gxx = cv2.Sobel(g, cv2.CV_32F, 2, 0, ksize=3)
        gyy = cv2.Sobel(g, cv2.CV_32F, 0, 2, ksize=3)
        gxy = cv2.Sobel(g, cv2.CV_32F, 1, 1, ksize=3)
        tr = gxx + gyy
        det_term = np.sqrt(np.maximum(0, (gxx - gyy) ** 2 + 4 * gxy**2))
        l1 = 0.5 * (tr + det_term)  # largest eigenvalue: > 0 across a dark valley
        l2 = 0.5 * (tr - det_term)
        dark = np.where(l1 > 0, l1 - np.maximum(l2, 0) * 2.0, 0) * sg**2
        np.maximum(resp, dark, out=resp)
    return resp


def wrinkles(resp: np.ndarray, skin_b: np.ndarray, u: float, s_L: float,
             regions: FaceRegions, spots: np.ndarray) -> tuple[np.ndarray, list[CropInstance]]:
    """Wrinkles and fine lines: the map and one instance per line at least 0.05 ``u`` long.

    Args:
        resp: :func:`valley_depth` of the crop's L*.
        skin_b: ``(S, S) bool`` skin.
        u: face size, crop pixels.
        s_L: the skin's L* noise (L* units).
        regions: the parsed regions (lines are looked for on the forehead, cheeks,
            under the eyes and on the chin).
        spots: ``(S, S) float32`` spot footprints, left out of the lines.
    """
    # Valleys (``resp``, from :func:`valley_depth`) judged against an absolute
    # visibility floor raised by the pixel noise -- not against the face's own
    # statistics, which a face full of wrinkles would inflate.
    sig = max(0.8, 0.004 * u)
    t0 = max(5.0, 2.5 * s_L)
    area = (regions.masks["forehead"] + regions.masks["left_under_eye"]
            + regions.masks["right_under_eye"] + regions.masks["left_cheek"]
            + regions.masks["right_cheek"] + regions.masks["chin"])
    # Not on hair (moustache, brows' tails: low skin likelihood) nor on the face's
    # outline (the jaw's silhouette is a dark valley too).
    inside = cv2.erode(skin_b.astype(np.uint8), cv2.getStructuringElement(
        cv2.MORPH_ELLIPSE, (int(0.04 * u) | 1,) * 2)) > 0
    area = np.clip(area, 0, 1) * inside * (regions.skin_likelihood > 0.1)
    area = area * (1.0 - np.clip(spots * 2.0, 0, 1))
    m = np.clip((resp - t0) / t0, 0, 1) * area
    m = _gauss(m.astype(np.float32), sig * 0.7)
    inst: list[CropInstance] = []
    n, lbl, stats, cents = cv2.connectedComponentsWithStats((m > 0.25).astype(np.uint8), 8)
    for i in range(1, n):
        x, y, w, h, a = stats[i]
        if max(w, h) < 0.05 * u:
            continue
        sub = m[y : y + h, x : x + w] * (lbl[y : y + h, x : x + w] == i)
        inst.append(CropInstance(
            type="wrinkle", center_xy=(float(cents[i][0]), float(cents[i][1])),
            radius=float(max(w, h) / 2), bbox_xywh=(int(x), int(y), int(w), int(h)),
            score=float(np.clip(sub.max(), 0, 1)), alpha=sub.astype(np.float32),
            support_xywh=(int(x), int(y), int(w), int(h)), texture_sigma=float(sig * 0.6),
            region=region_at(regions, float(cents[i][0]), float(cents[i][1])),
        ))
    return m.astype(np.float32), inst


def under_eye(sm: np.ndarray, bg: np.ndarray, regions: FaceRegions,
              u: float) -> tuple[np.ndarray, list[CropInstance]]:
    """Under-eye darkness: each under-eye region darker than its cheek (median L*) by
    2 L* or more on average; the map and one instance per side."""
    H, W = sm.shape[:2]
    out = np.zeros((H, W), np.float32)
    inst: list[CropInstance] = []
    Lm = _gauss(sm[..., 0], 0.006 * u)
    for side in ("left", "right"):
        ue = regions.masks[f"{side}_under_eye"]
        cheek = regions.masks[f"{side}_cheek"] * regions.masks["skin"]
        if ue.sum() < 20 or cheek.sum() < 20:
            continue
        ref = float(np.median(thin(sm[..., 0][cheek > 0.5])))
        dark = np.clip(ref - Lm, 0, None)
        ue_soft = _gauss(ue, 0.012 * u) * (regions.masks["skin"] > 0.3)
        mean_dark = float((dark * ue).sum() / max(ue.sum(), 1))
        if mean_dark < 2.0:
            continue
        m = ue_soft * np.clip(dark / 8.0, 0, 1)
        np.maximum(out, m.astype(np.float32), out=out)
        ys, xs = np.nonzero(ue > 0.5)
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        pad = int(0.03 * u) + 1
        sx0, sy0, sx1, sy1 = max(0, x0 - pad), max(0, y0 - pad), min(W, x1 + pad), min(H, y1 + pad)
        inst.append(CropInstance(
            type="under_eye", center_xy=(float(xs.mean()), float(ys.mean())),
            radius=float(np.sqrt(len(xs) / np.pi)),
            bbox_xywh=(int(x0), int(y0), int(x1 - x0), int(y1 - y0)),
            score=float(np.clip(mean_dark / 10.0, 0, 1)),
            alpha=(m[sy0:sy1, sx0:sx1] * _taper(ue[sy0:sy1, sx0:sx1] > 0.5, 0.01 * u)).astype(
                np.float32),
            support_xywh=(int(sx0), int(sy0), int(sx1 - sx0), int(sy1 - sy0)),
            texture_sigma=float(0.008 * u), region=f"{side}_under_eye",
            max_delta=float(np.clip(1.5 * float(dark[ue > 0.5].max()) / 100.0, 0.02, 0.3)),
        ))
    return out, inst


#: Redness evening (inside a breakout): the normal redness is a one-sided robust fit
#: of a* over this width (x face size); wider fits take the shading side of a face
#: for redness, narrower ones leave the blotches between spots.
REDNESS_SCALE = 0.02
#: a* units above the normal redness that are left (the skin's own variation).
REDNESS_MARGIN = 1.5
#: A pixel's L* is lifted toward the normal skin's by up to this many L* per a*
#: removed (haemoglobin darkens as it reddens); never beyond the normal L*: the
#: haemoglobin direction's own ratio (:data:`retouch.matched.RED_LAB`: 0.63 L* darker
#: per 0.78 a* redder, 0.80). Session 26: at the former 1.5 the shaded, redder side of
#: a nose tip beside its highlight was lifted by up to 17 L* into a pale streak on the
#: dense-acne photo (largest lift 16.6 -> 8.8 L*; dense planted breakout with
#: ``--also redness``: PSNR in masks 32.75 -> 32.67 dB; docs/blemish-benchmark.md).
REDNESS_LIFT = -RED_LAB[0] / RED_LAB[1]
#: Breakout: acne / red spots are counted with a Gaussian of this width (x face
#: size); evening starts where the count exceeds BREAKOUT_MIN and is full one
#: spot above it.
BREAKOUT_SIGMA = 0.12
BREAKOUT_MIN = 1.0
#: Fewest spots on the face for a breakout.
BREAKOUT_SPOTS = 5


def _spot_count(shape: tuple[int, int], xy: list[tuple[float, float]], sigma: float
                ) -> np.ndarray:
    """Gaussian-weighted count of points near each pixel (1 at an isolated point)."""
    H, W = shape
    f = max(1, int(sigma // 4))
    h, w = max(1, -(-H // f)), max(1, -(-W // f))
    imp = np.zeros((h, w), np.float32)
    for x, y in xy:
        imp[min(h - 1, int(y / f)), min(w - 1, int(x / f))] += 1.0
    cnt = _gauss(imp, sigma / f) * np.float32(2.0 * np.pi * (sigma / f) ** 2)
    return cv2.resize(cnt, (w * f, h * f), interpolation=cv2.INTER_LINEAR)[:H, :W]


def redness(lab: np.ndarray, inner: np.ndarray, skin: np.ndarray,
            spots: list[CropInstance], spot_cover: np.ndarray, u: float,
            regions: FaceRegions, shading: np.ndarray | None = None
            ) -> tuple[np.ndarray, list[CropInstance]]:
    """Redness to even out between the spots of a breakout (dense acne).

    In a breakout the marks touch and sit in reddened skin, so no surround is
    normal and most of them never stand out as spots. Where more than
    :data:`BREAKOUT_MIN` treated acne / red spots lie close together (a Gaussian
    count of width :data:`BREAKOUT_SIGMA`; and :data:`BREAKOUT_SPOTS` on the
    face), a* above a one-sided robust fit of the normal redness
    (:data:`REDNESS_SCALE`) by more than :data:`REDNESS_MARGIN` is removed, and
    L* is lifted with it (at most :data:`REDNESS_LIFT` L* per a*, never above the
    normal L*). The change is a smooth field (the Lab is smoothed at spot scale
    first), so pores and grain are shifted, not replaced. The spots' own
    footprints (``spot_cover``) are left to their fills, and so is ``shading``
    (``(H, W) bool``, optional: where 3-D shading dominates, the region the spot
    search leaves alone too; feathered by 0.01 face sizes).

    Returns:
        The ``(H, W)`` map in ``[0, 1]`` and one ``redness`` instance per
        connected breakout area (``shift`` holds the L*, a* change).
    """
    H, W = skin.shape
    out = np.zeros((H, W), np.float32)
    if len(spots) < BREAKOUT_SPOTS:
        return out, []
    gate = np.clip(_spot_count((H, W), [i.center_xy for i in spots], BREAKOUT_SIGMA * u)
                   - BREAKOUT_MIN, 0.0, 1.0)
    if not np.any(gate > 0):
        return out, []
    sm = _gauss(lab, max(1.0, 0.003 * u))
    w = inner.astype(np.float32)
    ref = normalized_blur(sm, w, REDNESS_SCALE * u)
    for _ in range(3):  # one-sided: pixels redder than the fit lose their weight
        w = inner * np.exp(-np.maximum(0.0, (sm[..., 1] - ref[..., 1]) / 1.5) ** 2)
        ref = normalized_blur(sm, w, REDNESS_SCALE * u)
    # Haemoglobin reddens a* more than it yellows b*; melanin (freckles, tan) yellows
    # b* about as much (the spot classes' rule): a pixel whose yellowing is 0.9x its
    # reddening or more is melanin's and stays, at 0.5x or less it is evened.
    red = sm[..., 1] - ref[..., 1]
    yel = np.maximum(0.0, sm[..., 2] - ref[..., 2])
    haem = np.clip((0.9 - yel / np.maximum(red, 1e-3)) / 0.4, 0.0, 1.0)
    ex = np.maximum(0.0, red - REDNESS_MARGIN) * haem
    # Normal L*: the fit without redder or darker pixels.
    w_l = w * np.exp(-np.maximum(0.0, (ref[..., 0] - sm[..., 0]) / 3.0) ** 2)
    ref_l = normalized_blur(sm[..., 0], w_l, REDNESS_SCALE * u)
    lift = np.minimum(np.maximum(0.0, ref_l - sm[..., 0]), REDNESS_LIFT * ex)
    where = (gate * _gauss(skin.astype(np.float32), 2.0)
             * (1.0 - np.clip(spot_cover * 1.5, 0.0, 1.0))).astype(np.float32)
    if shading is not None:  # shading's own redness (a shadowed side is redder) stays
        where *= 1.0 - _gauss(shading.astype(np.float32), max(1.0, 0.01 * u))
    out = (np.clip(ex / 6.0, 0.0, 1.0) * where).astype(np.float32)
    inst: list[CropInstance] = []
    n, lbl, stats, cents = cv2.connectedComponentsWithStats((where > 0.05).astype(np.uint8), 8)
    for i in range(1, n):
        x, y, bw, bh, a = (int(v) for v in stats[i])
        if a < (0.03 * u) ** 2:
            continue
        sl = (slice(y, y + bh), slice(x, x + bw))
        own = (lbl[sl] == i)
        if not np.any(ex[sl][own] > 0):
            continue
        cx, cy = float(cents[i][0]), float(cents[i][1])
        inst.append(CropInstance(
            type="redness", center_xy=(cx, cy), radius=float(np.sqrt(a / np.pi)),
            bbox_xywh=(x, y, bw, bh),
            score=float(np.clip(np.mean(ex[sl][own]) / 3.0, 0.05, 1.0)),
            alpha=(where[sl] * own * np.clip(ex[sl], 0.0, 1.0)).astype(np.float32),
            support_xywh=(x, y, bw, bh),
            texture_sigma=float(max(1.0, 0.003 * u)), region=region_at(regions, cx, cy),
            shift=np.dstack([lift[sl], -ex[sl]]).astype(np.float32),
        ))
    return out, inst


def shine(sm: np.ndarray, bg: np.ndarray, skin: np.ndarray, s_L: float, u: float,
          regions: FaceRegions) -> tuple[np.ndarray, list[CropInstance]]:
    """Shine: highlights brighter than the normal skin (``bg``) by more than
    ``max(6, 4 s_L)`` L*, weighted up where they are desaturated, away from the eyes;
    the map and one instance per highlight at least 0.02 ``u`` across."""
    H, W = sm.shape[:2]
    Lm = _gauss(sm[..., 0], 0.006 * u)
    chroma = np.hypot(sm[..., 1], sm[..., 2])
    chroma_bg = np.hypot(bg[..., 1], bg[..., 2])
    excess = Lm - bg[..., 0]
    desat = np.clip((chroma_bg - chroma) / 4.0, 0, 1)
    thr = max(6.0, 4.0 * s_L)
    near_eye = cv2.dilate((regions.masks["eyes"] > 0.5).astype(np.uint8),
                          cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (int(0.08 * u) | 1,) * 2))
    where = (0.5 + 0.5 * desat) * (skin > 0.5) * (near_eye == 0)
    m = _gauss((np.clip((excess - thr) / 8.0, 0, 1) * where).astype(np.float32), 0.006 * u)
    # The treatment lowers L* by SHINE_REDUCTION of the excess above the threshold
    # (smooth, so the highlight is compressed, keeping its shape; see
    # :func:`retouch.inpaint.reduce_highlight`).
    over = _gauss((np.maximum(excess - thr, 0.0) * where).astype(np.float32), 0.006 * u)
    inst: list[CropInstance] = []
    n, lbl, stats, cents = cv2.connectedComponentsWithStats((m > 0.15).astype(np.uint8), 8)
    for i in range(1, n):
        x, y, w, h, a = stats[i]
        if a < (0.02 * u) ** 2:
            continue
        pad = int(0.03 * u) + 1
        sx0, sy0 = max(0, x - pad), max(0, y - pad)
        sx1, sy1 = min(W, x + w + pad), min(H, y + h + pad)
        own = _taper((lbl[sy0:sy1, sx0:sx1] == i), 0.01 * u)
        o = over[sy0:sy1, sx0:sx1]
        peak = max(float(o.max()), 1e-3)
        inst.append(CropInstance(
            type="shine", center_xy=(float(cents[i][0]), float(cents[i][1])),
            radius=float(np.sqrt(a / np.pi)), bbox_xywh=(int(x), int(y), int(w), int(h)),
            score=float(np.clip(m[lbl == i].max(), 0, 1)),
            alpha=(o / peak * own).astype(np.float32),
            support_xywh=(int(sx0), int(sy0), int(sx1 - sx0), int(sy1 - sy0)),
            texture_sigma=float(0.005 * u),
            region=region_at(regions, float(cents[i][0]), float(cents[i][1])),
            max_delta=float(SHINE_REDUCTION * peak / 100.0),
        ))
    return m.astype(np.float32), inst
