"""Appearance edits: colour and tone inside parsed masks, at full resolution.

Every edit works in CIE Lab on the image box of its (feathered) region and
changes lightness and chroma, never the high-frequency detail: colours are
*shifted* (``L + dL``) or re-centred around the region's own mean
(``L_t + (L - L_mean) * gain``), and tone corrections are computed from
low-pass versions of the image and added back, so pores, lip creases, hair
strands and iris texture stay. Each op returns the edited box at full strength
and an alpha already scaled by the amount; :func:`~retouch.edit._render.render_alpha`
blends it in.

All sizes are fractions of the inter-ocular distance (``wk.iod`` grid
px, ``ctx.frame.iod`` crop px).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ._context import (
    FaceContext,
    feather,
    gauss,
    grow,
    to_lab,
    to_rgb,
    weighted_blur,
    wmean,
)
from ._field import Box
from ._frame import LEFT_BROW, LEFT_IRIS, RIGHT_BROW, RIGHT_IRIS, mesh_chains
from ._request import EditRequest, color_rgb01
from ._spec import size_factor


@dataclass(frozen=True)
class AppearanceOut:
    """One appearance edit on one face.

    ``alpha``, ``edited`` and ``base`` are either at the box's full resolution
    or, for broad edits on large faces, on a reduced grid of the same box: then
    the renderer upsamples the smooth change ``alpha * (edited - base)`` and
    adds it to the full-resolution pixels (their texture is untouched).

    Attributes:
        ibox: image box ``(x0, y0, x1, y1)``.
        alpha: ``(h, w) float32`` blend weight in ``[0, 1]`` (amount included).
        edited: ``(h, w, 3) float32`` RGB in ``[0, 1]`` at full strength.
        measured: JSON-ready measurements (before/after on the blended result).
        base: ``(h, w, 3) float32`` the RGB ``edited`` was computed from.
    """

    ibox: Box
    alpha: np.ndarray
    edited: np.ndarray
    measured: dict[str, Any]
    base: np.ndarray | None = None


@dataclass(frozen=True)
class Work:
    """An image box read for an edit, at full or reduced resolution.

    Attributes:
        ibox: image box ``(x0, y0, x1, y1)``.
        alpha: ``(h, w) float32`` the edit's region weight on this grid.
        rgb: ``(h, w, 3) float32`` RGB in ``[0, 1]`` on this grid.
        iod: inter-ocular distance in this grid's pixels.
        f: image pixels per grid pixel (1 = full resolution).
        ctx: the face context.
    """

    ibox: Box
    alpha: np.ndarray
    rgb: np.ndarray
    iod: float
    f: float
    ctx: FaceContext

    def map(self, canvas_map: np.ndarray) -> np.ndarray:
        """A canvas map sampled on this grid."""
        if self.f == 1.0:
            return self.ctx.to_box(canvas_map, self.ibox)
        h, w = self.alpha.shape
        return self.ctx.to_grid(canvas_map, self.ibox, (w, h))


Op = Callable[[FaceContext, EditRequest], "AppearanceOut | None"]


def _blend(rgb: np.ndarray, edited: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return rgb + alpha[..., None] * (edited - rgb)


def _r(v: float, n: int = 2) -> float:
    return round(float(v), n)


def _region(ctx: FaceContext, crop_alpha: np.ndarray, work_iod: float | None = None
            ) -> Work | None:
    """Read the image box of a canvas alpha, at full resolution or, when
    ``work_iod`` is given and the face is larger, on a grid where the
    inter-ocular distance is ``work_iod`` px."""
    ibox = ctx.box_for(crop_alpha)
    if ibox is None:
        return None
    x0, y0, x1, y1 = ibox
    f = 1.0
    if work_iod is not None and ctx.iod_img > 1.25 * work_iod:
        f = ctx.iod_img / work_iod
    if f == 1.0:
        a = np.clip(ctx.to_box(crop_alpha, ibox), 0.0, 1.0)
        rgb = ctx.read01(ibox)
    else:
        w, h = max(2, int(round((x1 - x0) / f))), max(2, int(round((y1 - y0) / f)))
        f = (x1 - x0) / w
        a = np.clip(ctx.to_grid(crop_alpha, ibox, (w, h)), 0.0, 1.0)
        px = cv2.resize(ctx.pixels[y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_AREA)
        rgb = px.astype(np.float32) * np.float32(1.0 / ctx.maxv)
    if float(a.max()) < 1e-3:
        return None
    return Work(ibox, a, rgb, ctx.iod_img / f, f, ctx)


def _chroma(lab: np.ndarray) -> np.ndarray:
    return np.hypot(lab[..., 1], lab[..., 2])


def _skin_ref(wk: Work, lab: np.ndarray) -> np.ndarray:
    """Median Lab of the cheeks that fall inside the box (falls back to the whole skin)."""
    for names in (("left_cheek", "right_cheek"), ("skin",)):
        m = np.maximum.reduce([wk.ctx.mask(n) for n in names])
        mb = wk.map(m) > 0.5
        if mb.sum() > 20:
            return np.median(lab[mb], axis=0)
    return np.median(lab.reshape(-1, 3), axis=0)


# ------------------------------------------------------------------ lipstick
def lipstick(ctx: FaceContext, req: EditRequest) -> AppearanceOut | None:
    fr, p = ctx.frame, ctx.pts
    ch = mesh_chains()
    outer = fr.poly_mask(ch["lips_outer"], p)
    inner = fr.poly_mask(ch["lips_inner"], p)
    sz = req.size or 0.0
    lips = grow(outer, 0.03 * fr.iod * sz) * (1.0 - grow(inner, 0.006 * fr.iod))
    crop_alpha = feather(lips, 0.01 * fr.iod)
    got = _region(ctx, crop_alpha)
    if got is None:
        return None
    wk = got
    ibox, alpha, rgb = wk.ibox, wk.alpha, wk.rgb
    lab = to_lab(rgb)
    L, A, B = lab[..., 0], lab[..., 1], lab[..., 2]
    core = alpha > 0.6
    w = alpha * core
    Lm, am, bm = wmean(L, w), wmean(A, w), wmean(B, w)
    sd = float(np.sqrt(wmean((L - Lm) ** 2, w)))
    amt = req.amount
    if amt >= 0:
        t = to_lab(color_rgb01(req.resolved_color() or "red")[None, None, :])[0, 0]
        gain = float(np.clip((t[0] + 15.0) / (Lm + 15.0), 0.6, 1.15))
        L2 = t[0] + (L - Lm) * gain
        A2 = t[1] + (A - am) * 0.4
        B2 = t[2] + (B - bm) * 0.4
        finish = req.finish or "satin"
        if finish == "matte":
            hi = np.maximum(0.0, L2 - gauss(L2, 0.02 * wk.iod))
            L2 = L2 - 0.65 * hi
        elif finish == "gloss":
            spec = np.clip((L - Lm - 0.6 * sd) / max(1.5 * sd, 1.0), 0.0, 1.0)
            spec = gauss(spec, 0.004 * wk.iod)
            L2 = L2 + 14.0 * spec
            A2 = A2 * (1.0 - 0.3 * spec)
            B2 = B2 * (1.0 - 0.3 * spec)
        target = t
    else:  # nude: chroma toward the skin's
        s = _skin_ref(wk, lab)
        L2 = L
        A2 = s[1] + (A - am) * 0.5
        B2 = s[2] + (B - bm) * 0.5
        target = np.array([Lm, s[1], s[2]], np.float32)
    edited = to_rgb(np.stack([L2, A2, B2], axis=-1))
    alpha = alpha * abs(amt)
    after = to_lab(_blend(rgb, edited, alpha))
    c0, c1 = wmean(_chroma(lab), w), wmean(_chroma(after), w)
    d0 = wmean(np.linalg.norm(lab - target, axis=-1), w)
    d1 = wmean(np.linalg.norm(after - target, axis=-1), w)
    return AppearanceOut(ibox, alpha, edited, base=rgb, measured={
        "lip_chroma_before": _r(c0), "lip_chroma_after": _r(c1),
        "lip_dE_to_target_before": _r(d0), "lip_dE_to_target_after": _r(d1),
    })


# ------------------------------------------------------------------ teeth
def teeth_whiten(ctx: FaceContext, req: EditRequest) -> AppearanceOut | None:
    fr, p = ctx.frame, ctx.pts
    inner = fr.poly_mask(mesh_chains()["lips_inner"], p)
    crop_alpha = feather(grow(inner, -0.01 * fr.iod), 0.006 * fr.iod)
    got = _region(ctx, crop_alpha)
    if got is None:
        return None
    wk = got
    ibox, alpha, rgb = wk.ibox, wk.alpha, wk.rgb
    lab = to_lab(rgb)
    L, A, B = lab[..., 0], lab[..., 1], lab[..., 2]
    core = alpha > 0.5
    if core.sum() < 10:
        return None
    ref = float(np.percentile(L[core], 90))
    # Teeth: the bright, not-red part of the mouth opening (gums and tongue are red).
    teeth = 1.0 / (1.0 + np.exp(-(L - (ref - 22.0)) / 4.0))
    teeth *= 1.0 / (1.0 + np.exp(-(16.0 - A) / 3.0))
    teeth = gauss(teeth.astype(np.float32), 0.004 * wk.iod)
    L2 = L + np.minimum(10.0, 0.3 * np.maximum(0.0, 96.0 - L))
    A2 = A - 0.5 * np.maximum(A - 1.0, 0.0)
    B2 = B - 0.8 * np.maximum(B - 1.0, 0.0)
    edited = to_rgb(np.stack([L2, A2, B2], axis=-1))
    alpha = alpha * teeth * req.amount
    after = to_lab(_blend(rgb, edited, alpha))
    w = core * teeth
    return AppearanceOut(ibox, alpha, edited, base=rgb, measured={
        "teeth_b_before": _r(wmean(B, w)), "teeth_b_after": _r(wmean(after[..., 2], w)),
        "teeth_L_before": _r(wmean(L, w)), "teeth_L_after": _r(wmean(after[..., 0], w)),
    })


# ------------------------------------------------------------------ eyes
def eyes_whiten(ctx: FaceContext, req: EditRequest) -> AppearanceOut | None:
    fr, p = ctx.frame, ctx.pts
    ch = mesh_chains()
    CH, S = fr.shape
    yy, xx = np.mgrid[0:CH, 0:S].astype(np.float32)
    eye = np.zeros((CH, S), np.float32)
    discs = np.zeros((CH, S), np.float32)
    iris = np.zeros((CH, S), np.float32)
    for chain, ir in ((ch["right_eye"], RIGHT_IRIS), (ch["left_eye"], LEFT_IRIS)):
        poly = fr.poly_mask(chain, p)
        eye = np.maximum(eye, poly)
        c = p[ir[0]]
        rad = float(np.mean(np.linalg.norm(p[list(ir[1:])] - c, axis=1)))
        r = np.hypot(xx - c[0], yy - c[1]) / max(rad, 1.0)
        # Iris ring without the pupil (r < 0.4) and the dark limbal edge (r > 0.9).
        ring = np.clip((r - 0.35) / 0.12, 0, 1) * np.clip((0.92 - r) / 0.12, 0, 1)
        iris = np.maximum(iris, ring * poly)
        discs = np.maximum(discs, (r < 1.08).astype(np.float32))
    eye = eye * (1.0 - discs)
    sclera = feather(grow(eye, -0.012 * fr.iod), 0.006 * fr.iod)
    iris = feather(iris, 0.004 * fr.iod)
    crop_alpha = np.maximum(sclera, iris)
    got = _region(ctx, crop_alpha)
    if got is None:
        return None
    wk = got
    ibox, alpha, rgb = wk.ibox, wk.alpha, wk.rgb
    sc = np.clip(wk.map(sclera), 0, 1)
    ir_w = np.clip(wk.map(iris), 0, 1)
    lab = to_lab(rgb)
    L, A, B = lab[..., 0], lab[..., 1], lab[..., 2]
    core = sc > 0.5
    if core.sum() < 5:
        return None
    # Sclera: the bright part (lashes, lid shadow and caruncle stay out).
    ref = float(np.percentile(L[core], 75))
    bright = 1.0 / (1.0 + np.exp(-(L - (ref - 18.0)) / 4.0))
    sc = sc * bright
    Ls = L + np.minimum(7.0, 0.25 * np.maximum(0.0, 95.0 - L))
    As = A - 0.8 * np.maximum(A - 0.5, 0.0)
    Bs = B - 0.5 * np.maximum(B - 2.0, 0.0)
    icore = ir_w > 0.5
    Li = wmean(L, ir_w) if icore.any() else float(L.mean())
    Lir = L + 5.0 + 0.3 * (L - Li)
    Air, Bir = A * 1.15, B * 1.15
    use_iris = ir_w > sc
    L2 = np.where(use_iris, Lir, Ls)
    A2 = np.where(use_iris, Air, As)
    B2 = np.where(use_iris, Bir, Bs)
    edited = to_rgb(np.stack([L2, A2, B2], axis=-1))
    alpha = np.maximum(sc, ir_w) * req.amount
    after = to_lab(_blend(rgb, edited, alpha))
    ws = (sc > 0.5).astype(np.float32)
    out = {"sclera_a_before": _r(wmean(A, ws)), "sclera_a_after": _r(wmean(after[..., 1], ws)),
           "sclera_L_before": _r(wmean(L, ws)), "sclera_L_after": _r(wmean(after[..., 0], ws))}
    if icore.any():
        wi = icore.astype(np.float32)
        out.update(iris_L_before=_r(wmean(L, wi)), iris_L_after=_r(wmean(after[..., 0], wi)))
    return AppearanceOut(ibox, alpha, edited, base=rgb, measured=out)


# ------------------------------------------------------------------ brows
def _brow_shape(ctx: FaceContext, grow_px: float) -> np.ndarray:
    """Soft brow-shaped mask from the mesh's upper and lower brow lines (canvas)."""
    fr, p = ctx.frame, ctx.pts
    out = np.zeros(fr.shape, np.float32)
    for brow in (RIGHT_BROW, LEFT_BROW):
        upper, lower = list(brow[:5]), list(brow[5:])  # both run outer -> inner
        poly = np.vstack([p[upper], p[lower[::-1]]])
        m = np.zeros(fr.shape, np.uint8)
        cv2.fillPoly(m, [np.round(poly * 4).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=2)
        out = np.maximum(out, m.astype(np.float32))
    return grow(out, grow_px) if abs(grow_px) >= 1 else out


def brows_density(ctx: FaceContext, req: EditRequest) -> AppearanceOut | None:
    fr = ctx.frame
    sf = size_factor(req.size)
    shape = _brow_shape(ctx, 0.01 * fr.iod + 0.05 * fr.iod * (sf - 1.0) / 0.5)
    crop_alpha = feather(shape, 0.03 * fr.iod) ** 1.5
    got = _region(ctx, crop_alpha, work_iod=320.0)
    if got is None:
        return None
    wk = got
    ibox, alpha, rgb = wk.ibox, wk.alpha, wk.rgb
    lab = to_lab(rgb)
    L = lab[..., 0]
    core = alpha > 0.6
    if core.sum() < 10:
        return None
    ring = (wk.map(grow(ctx.mask("brows"), 0.1 * fr.iod)) > 0.5) & (alpha < 0.02)
    ring &= wk.map(ctx.mask("skin")) > 0.5
    skin = np.median(lab[ring], axis=0) if ring.sum() > 20 else _skin_ref(wk, lab)
    low = gauss(lab, 0.01 * wk.iod)
    # Hair tone: the brow pixels that differ most from the skin around them.
    diff = np.abs(L - skin[0])
    hairy = core & (diff >= np.percentile(diff[core], 70))
    hair = np.median(lab[hairy], axis=0)
    if hair[0] > skin[0] - 12.0:  # light (gray, blond) brows: darken toward a deeper tone
        hair = np.array([skin[0] - 28.0, 0.6 * hair[1], 0.6 * hair[2]], np.float32)
    # Where the hairs actually are: local density of hair-toned pixels, so the
    # fill follows the real brow and not the mesh outline.
    hairness = np.clip(np.abs(gauss(L, 0.003 * wk.iod) - skin[0]) / 15.0, 0.0, 1.0)
    density = gauss(hairness.astype(np.float32), 0.02 * wk.iod * sf)
    top = max(1e-3, float(np.percentile(density[core], 90)))
    body = np.clip((density / top - 0.2) / 0.4, 0.0, 1.0)
    amt = req.amount
    if amt >= 0:  # fill the gaps between hairs with the brow's own hair tone, keep strands
        gap = np.clip((low[..., 0] - hair[0]) / max(1.0, skin[0] - hair[0]), 0.0, 1.0)
        edited_lab = lab + (0.75 * gap * body)[..., None] * (hair - low)
    else:  # sparser: hairs fade toward the surrounding skin, skin texture kept
        edited_lab = lab + (0.45 * hairness)[..., None] * (skin - lab)
    edited = to_rgb(edited_lab)
    alpha = alpha * abs(amt)
    after = to_lab(_blend(rgb, edited, alpha))
    w = core.astype(np.float32)
    return AppearanceOut(ibox, alpha, edited, base=rgb, measured={
        "brow_L_before": _r(wmean(L, w)), "brow_L_after": _r(wmean(after[..., 0], w)),
        "brow_contrast_to_skin_before": _r(wmean(np.abs(L - skin[0]), w)),
        "brow_contrast_to_skin_after": _r(wmean(np.abs(after[..., 0] - skin[0]), w)),
    })


# ------------------------------------------------------------------ skin tone
def skin_tone(ctx: FaceContext, req: EditRequest) -> AppearanceOut | None:
    fr, p = ctx.frame, ctx.pts
    from ._frame import mesh_chains as _chains
    from ._hair import hair_probability

    # The parser's skin past the face oval (up to the hairline) and its ears and
    # neck can hold skin-coloured hair: drop what looks more like this hair.
    not_hair = 1.0 - hair_probability(ctx)
    inside = feather(grow(fr.poly_mask(_chains()["oval"], p), 0.05 * fr.iod), 0.03 * fr.iod)
    # Smoothed so the colour model's speckle (shine, pores) does not blotch the shift.
    smooth_skin = np.clip(feather(ctx.mask("skin"), 0.03 * fr.iod) * 1.6, 0, 1)
    skin = smooth_skin * (ctx.mask("skin") > 0.05) * (inside + (1.0 - inside) * not_hair)
    neck = ctx.mask("neck") * np.clip(ctx.current(fr.skin_likelihood()) * 2, 0, 1) * not_hair
    ears = ctx.mask("ears") * not_hair
    # The neck region stops where the parser stops: fade it out well above that.
    yy = np.arange(fr.rows, dtype=np.float32)[:, None]
    jaw_y = float(p[152, 1])
    fade = np.clip((jaw_y + 1.3 * fr.iod - yy) / (0.5 * fr.iod), 0.0, 1.0)
    m = np.maximum.reduce([skin, neck * fade, ears])
    crop_alpha = feather(m, 0.02 * fr.iod)
    got = _region(ctx, crop_alpha, work_iod=160.0)
    if got is None:
        return None
    wk = got
    ibox, alpha, rgb = wk.ibox, wk.alpha, wk.rgb
    lab = to_lab(rgb)
    L, A, B = lab[..., 0], lab[..., 1], lab[..., 2]
    amt = req.amount
    if (req.resolved_color() or "warm") == "warm":
        L2, A2, B2 = L, A + 2.5 * amt, B + 7.0 * amt
    else:  # pale: lighter and less saturated (negative: deeper, tanned)
        L2 = L + 9.0 * amt * (1.0 - L / 110.0)
        k = 1.0 - 0.3 * amt
        A2, B2 = A * k, B * k
    edited = to_rgb(np.stack([L2, A2, B2], axis=-1))
    after = to_lab(_blend(rgb, edited, alpha))
    w = (alpha > 0.5).astype(np.float32)
    return AppearanceOut(ibox, alpha, edited, base=rgb, measured={
        "skin_L_before": _r(wmean(L, w)), "skin_L_after": _r(wmean(after[..., 0], w)),
        "skin_b_before": _r(wmean(B, w)), "skin_b_after": _r(wmean(after[..., 2], w)),
        "skin_chroma_before": _r(wmean(_chroma(lab), w)),
        "skin_chroma_after": _r(wmean(_chroma(after), w)),
    })


# ------------------------------------------------------------------ under-eye
def under_eye(ctx: FaceContext, req: EditRequest) -> AppearanceOut | None:
    fr = ctx.frame
    sf = size_factor(req.size)
    ue = np.maximum(ctx.mask("left_under_eye"), ctx.mask("right_under_eye"))
    if sf != 1.0:
        ue = grow(ue, 0.06 * fr.iod * (sf - 1.0) / 0.5) * (ctx.mask("skin") > 0.2)
    crop_alpha = feather(ue, 0.03 * fr.iod)
    got = _region(ctx, crop_alpha, work_iod=192.0)
    if got is None:
        return None
    wk = got
    ibox, alpha, rgb = wk.ibox, wk.alpha, wk.rgb
    lab = to_lab(rgb)
    skin_w = np.clip(wk.map(ctx.mask("skin")), 0, 1)
    low = weighted_blur(lab, skin_w + 1e-4, 0.03 * wk.iod)
    ref = _skin_ref(wk, lab)
    dark = np.maximum(0.0, ref[0] - low[..., 0])
    wdark = np.clip(dark / 3.0, 0.0, 1.0)
    edited_lab = lab.copy()
    edited_lab[..., 0] += 0.9 * dark
    edited_lab[..., 1] += 0.6 * wdark * (ref[1] - low[..., 1])
    edited_lab[..., 2] += 0.6 * wdark * (ref[2] - low[..., 2])
    edited = to_rgb(edited_lab)
    alpha = alpha * skin_w * req.amount
    after = to_lab(_blend(rgb, edited, alpha))
    low_after = weighted_blur(after, skin_w + 1e-4, 0.03 * wk.iod)
    w = (wk.map(ue) > 0.5) * skin_w
    d0 = wmean(dark, w)
    d1 = wmean(np.maximum(0.0, ref[0] - low_after[..., 0]), w)
    return AppearanceOut(ibox, alpha, edited, base=rgb, measured={
        "under_eye_darkness_before": _r(d0), "under_eye_darkness_after": _r(d1),
        "darkness_reduction_pct": _r(100.0 * (d0 - d1) / d0 if d0 > 1e-6 else 0.0, 1),
    })


# ------------------------------------------------------------------ young
def _ridge_energy(L: np.ndarray, w: np.ndarray, sigma_f: float, sigma_m: float) -> np.ndarray:
    """Dark mid-frequency detail (wrinkles, fine lines): ``max(0, low - fine)``."""
    fine = weighted_blur(L, w, sigma_f)
    low = weighted_blur(L, w, sigma_m)
    return fine - low


def young(ctx: FaceContext, req: EditRequest) -> AppearanceOut | None:
    fr = ctx.frame
    skin = ctx.mask("skin")
    crop_alpha = feather(grow(skin, -0.01 * fr.iod), 0.01 * fr.iod)
    got = _region(ctx, crop_alpha, work_iod=256.0)
    if got is None:
        return None
    wk = got
    ibox, alpha, rgb = wk.ibox, wk.alpha, wk.rgb
    lab = to_lab(rgb)
    L = lab[..., 0]
    sw = np.clip(wk.map(skin), 0, 1) + 1e-4
    sf_, sm_ = 0.005 * wk.iod, 0.05 * wk.iod
    mid = _ridge_energy(L, sw, sf_, sm_)
    loc = fr.analysis.localization
    def lmap(t: str) -> np.ndarray:
        return ctx.current(fr.mask_of(f"loc.{t}", loc.maps[t]))

    wr = wk.map(feather(lmap("wrinkle"), 0.01 * fr.iod))
    keep = np.maximum(wk.map(lmap("mole")), wk.map(lmap("freckle")))
    k = (0.6 + 0.4 * np.clip(wr * 2.0, 0, 1)) * (1.0 - np.clip(keep * 2.0, 0, 1))
    corr = -np.minimum(mid, 0.0) * k - 0.35 * np.maximum(mid, 0.0) * k
    edited_lab = lab.copy()
    edited_lab[..., 0] = L + corr
    edited = to_rgb(edited_lab)
    alpha = alpha * req.amount
    after = to_lab(_blend(rgb, edited, alpha))
    w = (alpha > 0.3 * req.amount).astype(np.float32) if req.amount > 0 else alpha
    e0 = wmean(np.maximum(0.0, -mid), w)
    e1 = wmean(np.maximum(0.0, -_ridge_energy(after[..., 0], sw, sf_, sm_)), w)
    return AppearanceOut(ibox, alpha, edited, base=rgb, measured={
        "wrinkle_energy_before": _r(e0, 3), "wrinkle_energy_after": _r(e1, 3),
        "wrinkle_reduction_pct": _r(100.0 * (e0 - e1) / e0 if e0 > 1e-6 else 0.0, 1),
    })


def _hair(ctx: FaceContext, req: EditRequest) -> AppearanceOut | None:
    from ._hair import hair_color

    return hair_color(ctx, req)


OPS: dict[str, Op] = {
    "lipstick": lipstick,
    "teeth.whiten": teeth_whiten,
    "eyes.whiten": eyes_whiten,
    "brows.density": brows_density,
    "hair.color": _hair,
    "skin.tone": skin_tone,
    "under_eye": under_eye,
    "young": young,
}
