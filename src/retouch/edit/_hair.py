"""Hair recolouring, with a hair mask that reaches beyond the face crop.

The parser's ``hair`` region stops at the canonical crop and at mouth level,
but hair does not. The mask used here starts from the parsed hair (seeds),
fits a colour model of this person's hair and of their face skin in CIE Lab,
and labels as hair every pixel of a wider box around the head that (a) is on
the person (selfie segmentation), (b) is closer to the hair model than to the
skin model, (c) is off the parsed face features, and (d) is connected to the
seeds. It is computed on a reduced grid (at most 384 px a side) and upsampled
with a soft edge.

The recolouring keeps the hair's own lightness structure (strands, shine):
``L' = L_t + (L - L_mean) * gain`` with a gain that expands the range when
going lighter and compresses it when going darker, and chroma ``(a, b)`` set
to the target's, scaled by the relative lightness so shadows stay dark.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..parse import person_mask
from ._appearance import AppearanceOut, _blend, _r
from ._context import FaceContext, grow, to_lab, to_rgb, wmean
from ._frame import mesh_chains
from ._render import image_box
from ._request import EditRequest, color_rgb01
from ._structure import jaw_curve

#: Parsed regions that are never hair. The parser's ``skin``, ``neck`` and ``ears``
#: are not used: on red or blond hair their colour model can take hair for skin.
_FACE_PARTS = ("eyes", "brows", "lips", "mouth_interior", "nose")


def _crop_to_grid(crop_map: np.ndarray, matrix: np.ndarray, box: tuple[int, int, int, int],
                  step: tuple[float, float], shape_wh: tuple[int, int]) -> np.ndarray:
    """Sample a crop map on a reduced grid of an image box (pixel ``(u, v)`` -> image
    ``(x0 + (u + 0.5) sx - 0.5, y0 + (v + 0.5) sy - 0.5)``)."""
    sx, sy = step
    a = matrix[:, :2] @ np.diag([sx, sy])
    off = matrix[:, :2] @ np.array([box[0] + 0.5 * sx - 0.5, box[1] + 0.5 * sy - 0.5]) \
        + matrix[:, 2]
    m = np.hstack([a, off[:, None]])
    return cv2.warpAffine(crop_map.astype(np.float32), m, shape_wh,
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _mahalanobis2(lab: np.ndarray, px: np.ndarray) -> np.ndarray:
    """Squared distance of every pixel to a robust Gaussian fitted on ``px`` ``(n, 3)``."""
    med = np.median(px, axis=0)
    dev = np.sum((px - med) ** 2, axis=1)
    keep = px[dev <= np.quantile(dev, 0.8)]
    mu = keep.mean(axis=0)
    cov = np.cov(keep.T) + np.diag([9.0, 4.0, 4.0])
    icov = np.linalg.inv(cov * 2.0)
    d = lab - mu
    return np.einsum("...i,ij,...j->...", d, icov, d)


def hair_mask(ctx: FaceContext) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """Soft hair mask over an image box around the head, or ``None`` when no hair is seen.

    Returns ``(ibox, alpha)``: the image box of the hair and ``alpha``
    ``float32`` in ``[0, 1]`` on the reduced grid that spans it.
    """
    fr = ctx.frame
    al = fr.alignment
    S = fr.size
    H, W = ctx.pixels.shape[:2]
    wide = (int(-0.45 * S), int(-0.3 * S), int(1.45 * S), int(1.7 * S))
    x0, y0, x1, y1 = image_box(al, wide, 0.0, (H, W))
    bw, bh = x1 - x0, y1 - y0
    if bw < 8 or bh < 8:
        return None
    f = max(1.0, max(bw, bh) / 384.0)
    sw, sh = max(8, int(round(bw / f))), max(8, int(round(bh / f)))
    step = (bw / sw, bh / sh)
    px = ctx.pixels[y0:y1, x0:x1]
    px8 = px if px.dtype == np.uint8 else (px >> 8).astype(np.uint8)
    small = cv2.resize(px8, (sw, sh), interpolation=cv2.INTER_AREA)
    lab = to_lab(small.astype(np.float32) / 255.0)
    like = ctx.current(fr.skin_likelihood())
    oval = fr.poly_mask(mesh_chains()["oval"], ctx.pts)
    near = grow(oval, 0.5 * fr.iod)  # seeds close to the head only (not stray background)
    person = person_mask(small)

    def grid_of(m: np.ndarray) -> np.ndarray:
        return _crop_to_grid(m, al.matrix, (x0, y0, x1, y1), step, (sw, sh))

    seeds = (grid_of(ctx.mask("hair") * (like < 0.2) * near) > 0.5) & (person > 0.8)
    core = grow(oval, -0.25 * fr.iod)
    # Growing the parts' union is growing each part (one distance transform).
    parts = np.maximum.reduce([ctx.mask(n) for n in _FACE_PARTS])
    face_c = np.maximum(core, grow(parts, 0.02 * fr.iod))
    face = grid_of(face_c)
    ring = grid_of(oval) * (1.0 - face)  # the face's edge: hair strands or shadowed skin
    cheeks = np.maximum(ctx.mask("left_cheek"), ctx.mask("right_cheek")) * (like > 0.3)
    skin_px = lab[grid_of(cheeks) > 0.5]
    if seeds.sum() < 30 or skin_px.shape[0] < 20:
        return None
    d_hair = _mahalanobis2(lab, lab[seeds])
    d_skin = _mahalanobis2(lab, skin_px)
    # Hair vs skin by relative distance; a loose absolute bound keeps clothes
    # and background of other colours out; below the chin hair is only looked
    # for beside the neck, not across the shoulders.
    rel = d_skin / (d_skin + d_hair + 1e-6)
    p_hair = np.clip((rel - 0.5) / 0.2, 0, 1)
    p_hair = p_hair * (1.0 - ring) + np.clip((rel - 0.75) / 0.1, 0, 1) * ring
    score = p_hair * np.exp(-0.5 * d_hair / 6.0) * np.clip((person - 0.5) / 0.3, 0, 1)
    score *= 1.0 - face
    # Lightness outside the seeds' own range (a bright window behind the head) is not hair.
    lo, hi = np.percentile(lab[seeds][:, 0], [3, 97])
    score *= np.clip((lab[..., 0] - (lo - 12.0)) / 6.0, 0, 1) * \
        np.clip(((hi + 12.0) - lab[..., 0]) / 6.0, 0, 1)
    cy = float(ctx.pts[152, 1]) + 0.3 * fr.iod
    cx = float(ctx.pts[152, 0])
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    img_x = x0 + (xx + 0.5) * step[0] - 0.5
    img_y = y0 + (yy + 0.5) * step[1] - 0.5
    crop_x = al.matrix[0, 0] * img_x + al.matrix[0, 1] * img_y + al.matrix[0, 2]
    crop_y = al.matrix[1, 0] * img_x + al.matrix[1, 1] * img_y + al.matrix[1, 2]
    below = np.clip((crop_y - cy) / (0.3 * fr.iod), 0, 1)
    side = np.clip((1.9 * fr.iod - np.abs(crop_x - cx)) / (0.3 * fr.iod), 0, 1)
    score *= 1.0 - below * (1.0 - side)
    # Under the chin, between the jaw angles, is neck (in shadow it can look like hair).
    J, xl, xr = jaw_curve(ctx.pts, crop_x.ravel())
    J = J.reshape(crop_x.shape)
    span = 0.5 * (xr - xl)
    mid = 0.5 * (xl + xr)
    under = (crop_y > J - 0.02 * fr.iod) & (np.abs(crop_x - mid) < 0.75 * span)
    score *= ~under
    cand = (score > 0.2).astype(np.uint8)
    n, lbl = cv2.connectedComponents(cand, connectivity=8)
    ids = np.unique(lbl[seeds & (cand > 0)])
    ids = ids[ids > 0]
    if ids.size == 0:
        return None
    keep = np.isin(lbl, ids)
    soft = np.clip(score * 2.0, 0.0, 1.0) * keep
    soft = np.clip(cv2.GaussianBlur(soft.astype(np.float32), (0, 0), 0.8), 0, 1)
    u, v, uw, vh = cv2.boundingRect((soft > 1.0 / 1024).astype(np.uint8))
    if uw == 0 or vh == 0:
        return None
    u0, v0 = max(0, u - 1), max(0, v - 1)
    u1, v1 = min(sw, u + uw + 1), min(sh, v + vh + 1)
    ibox = (x0 + int(np.floor(u0 * step[0])), y0 + int(np.floor(v0 * step[1])),
            min(x1, x0 + int(np.ceil(u1 * step[0]))), min(y1, y0 + int(np.ceil(v1 * step[1]))))
    return ibox, soft[v0:v1, u0:u1]


def hair_color(ctx: FaceContext, req: EditRequest) -> AppearanceOut | None:
    """Recolour the hair toward ``req.color`` at opacity ``req.amount``."""
    got = hair_mask(ctx)
    if got is None:
        return None
    ibox, small_alpha = got
    x0, y0, x1, y1 = ibox
    # The colour change is computed on a grid of at most 1024 px a side and
    # added to the full-resolution pixels (strands and grain are kept).
    f = max(1.0, max(x1 - x0, y1 - y0) / 1024.0)
    w, h = max(2, int(round((x1 - x0) / f))), max(2, int(round((y1 - y0) / f)))
    alpha = cv2.resize(small_alpha, (w, h), interpolation=cv2.INTER_LINEAR)
    px = ctx.pixels[y0:y1, x0:x1]
    if f > 1.0:
        px = cv2.resize(px, (w, h), interpolation=cv2.INTER_AREA)
    rgb = px.astype(np.float32) * np.float32(1.0 / ctx.maxv)
    lab = to_lab(rgb)
    L, A, B = lab[..., 0], lab[..., 1], lab[..., 2]
    w = (alpha > 0.5).astype(np.float32)
    if w.sum() < 10:
        return None
    Lm = wmean(L, w)
    t = to_lab(color_rgb01(req.resolved_color() or "brown")[None, None, :])[0, 0]
    gain = float(np.clip((t[0] + 10.0) / (Lm + 10.0), 0.45, 1.2))
    L2 = t[0] + (L - Lm) * gain
    rel = np.clip((L2 + 5.0) / (t[0] + 5.0), 0.3, 1.5)
    keep = 0.3 * min(1.0, float(np.hypot(t[1], t[2])) / 20.0)  # own chroma variation kept
    A2 = t[1] * rel + (A - wmean(A, w)) * keep
    B2 = t[2] * rel + (B - wmean(B, w)) * keep
    edited = to_rgb(np.stack([L2, A2, B2], axis=-1))
    alpha = alpha * req.amount
    after = to_lab(_blend(rgb, edited, alpha))
    sub = (slice(None, None, 3), slice(None, None, 3))  # a sparse grid is plenty for a mean
    d0 = wmean(np.sqrt(((lab[sub] - t) ** 2).sum(-1)), w[sub])
    d1 = wmean(np.sqrt(((after[sub] - t) ** 2).sum(-1)), w[sub])
    return AppearanceOut(ibox, alpha.astype(np.float32), edited, base=rgb, measured={
        "hair_dE_to_target_before": _r(d0), "hair_dE_to_target_after": _r(d1),
        "hair_px": int(w.sum() * f * f),
    })


def hair_probability(ctx: FaceContext) -> np.ndarray:
    """Per-pixel probability of hair (vs this face's skin), ``(CH, S) float32`` canvas.

    Relative Mahalanobis distance to the two colour models (hair seeds from the
    parser, skin from the cheeks), computed on a grid with ``iod ~ 48`` px and
    upsampled. Used to keep red or blond hair that the parser took for
    forehead skin out of skin edits. Zeros when there are no hair seeds.
    """
    fr = ctx.frame
    al = fr.alignment
    CH, S = fr.shape
    f = max(1.0, fr.iod / 48.0)
    w, h = max(8, int(round(S / f))), max(8, int(round(CH / f)))
    m = al.matrix.copy() / f
    small = cv2.warpAffine(ctx.pixels, m, (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    lab = to_lab(small.astype(np.float32) * np.float32(1.0 / ctx.maxv))
    like = ctx.current(fr.skin_likelihood())
    seeds = cv2.resize(ctx.mask("hair") * (like < 0.2), (w, h), interpolation=cv2.INTER_AREA) > 0.5
    cheeks = np.maximum(ctx.mask("left_cheek"), ctx.mask("right_cheek")) * (like > 0.3)
    skin = cv2.resize(cheeks, (w, h), interpolation=cv2.INTER_AREA) > 0.5
    if seeds.sum() < 15 or skin.sum() < 15:
        return np.zeros((CH, S), np.float32)
    d_hair = _mahalanobis2(lab, lab[seeds])
    d_skin = _mahalanobis2(lab, lab[skin])
    p = np.clip((d_skin / (d_skin + d_hair + 1e-6) - 0.5) / 0.2, 0, 1).astype(np.float32)
    return cv2.resize(p, (S, CH), interpolation=cv2.INTER_LINEAR)
