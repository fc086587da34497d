"""Double chin, second half: lift the submental fold's shading.

After the contour has been tightened (:mod:`retouch.edit._structure`), what
remains of a double chin in a frontal photo is the fold's shading: a darker
band under the jaw. It is filled with the neck's *own* skin tone: a
low-pass lightness map of the neck, weighted by how skin-like each pixel is,
is interpolated across the band from the neck below and beside it (push-pull
membrane, as in :mod:`retouch.inpaint`), and only the darkening relative to
that reference is removed (never darkened, texture kept because only the
low-pass difference is added). A short strip right under the jaw line is left
alone so the jaw keeps its defining shadow.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..inpaint import push_pull
from ._appearance import AppearanceOut, _blend, _r
from ._context import FaceContext, gauss, to_lab, to_rgb, weighted_blur, wmean
from ._field import grid
from ._frame import CHIN
from ._structure import jaw_curve, neck_depth


def band_box(ctx: FaceContext, sf: float) -> tuple[int, int, int, int]:
    """Canvas box holding the jaw line, the band under it and some neck below."""
    fr, p = ctx.frame, ctx.pts
    CH, S = fr.shape
    xs = np.arange(S, dtype=np.float32)
    J, xl, xr = jaw_curve(p, xs)
    top = float(np.min(J[int(max(0, xl)):int(min(S, xr + 1))])) - 0.1 * fr.iod
    bottom = float(p[CHIN, 1]) + (0.6 * sf + 0.8) * fr.iod
    pad = 0.3 * fr.iod
    return (max(0, int(xl - pad)), max(0, int(top)), min(S, int(xr + pad) + 1),
            min(CH, int(bottom) + 1))


def band(ctx: FaceContext, sf: float, gate: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """Fold band weight and the band coordinate ``v`` over :func:`band_box`.

    ``v = (y - J(x)) / h(x)`` is 0 on the (current) jaw line and 1 at the
    bottom of the band: ``h(x)`` is the visible neck skin below the jaw, at
    most ``0.6 iod * sf`` (see :func:`~retouch.edit._structure.neck_depth`).
    Returns ``(beta, v, box)``; ``beta`` and ``v`` are ``(h, w) float32`` over
    the canvas ``box``. ``beta`` is 0 above ``v = 0.12``, 1 over the fold and
    0 again below ``v = 1.05``, tapered toward the jaw angles.
    """
    fr, p = ctx.frame, ctx.pts
    box = band_box(ctx, sf)
    X, Y = grid(box)
    xs = X[0]
    J, xl, xr = jaw_curve(p, xs)
    h = np.maximum(neck_depth(gate, p, xs, 0.6 * fr.iod * sf, fr.iod), 1.0)
    v = (Y - J[None, :]) / h[None, :]
    top = np.clip((v - 0.12) / 0.18, 0.0, 1.0)
    bottom = np.clip((1.05 - v) / 0.25, 0.0, 1.0)
    u = np.abs(xs - float(p[CHIN, 0])) / max(1.0, 0.5 * (xr - xl))
    c = np.clip((0.85 - u) / 0.35, 0.0, 1.0)
    beta = top * top * (3 - 2 * top) * bottom * bottom * (3 - 2 * bottom)
    beta *= (c * c * (3 - 2 * c))[None, :]
    return beta.astype(np.float32), v.astype(np.float32), box


def lift_fold(ctx: FaceContext, strength: float, sf: float, gate: np.ndarray
              ) -> AppearanceOut | None:
    """Fill the fold's shading under the jaw with the neck's own tone.

    Args:
        ctx: the face context (after the contour warp).
        strength: in ``[0, 1]`` (``-amount`` of a tightening double-chin edit).
        sf: size factor of the edit.
        gate: ``(CH, S) float32`` skin-on-person weight in the current geometry.
    """
    if strength <= 0:
        return None
    beta, v, (x0, y0, x1, y1) = band(ctx, sf, gate)
    g_box = gate[y0:y1, x0:x1]
    beta = beta * np.clip((g_box - 0.5) / 0.4, 0.0, 1.0)  # clear of collars and hair
    if float(beta.max()) < 1e-3:
        return None
    CH, S = ctx.frame.shape
    canvas = np.zeros((CH, S), np.float32)
    canvas[y0:y1, x0:x1] = beta
    vmap = np.full((CH, S), -10.0, np.float32)
    vmap[y0:y1, x0:x1] = v
    ibox = ctx.image_box_of((x0, y0, x1, y1))
    if ibox is None:
        return None
    # Everything on a reduced grid (iod ~ 96 px): tone maps are smooth at 0.05 iod
    # and the change is added to the full-resolution pixels by the renderer.
    bx0, by0, bx1, by1 = ibox
    f = max(1.0, ctx.iod_img / 96.0)
    sw, sh = max(4, int(round((bx1 - bx0) / f))), max(4, int(round((by1 - by0) / f)))
    f = (bx1 - bx0) / sw
    b = np.clip(ctx.to_grid(canvas, ibox, (sw, sh)), 0, 1)
    vb = ctx.to_grid(vmap + 10.0, ibox, (sw, sh)) - 10.0  # v < 0 stays distinct from outside
    g = np.clip(ctx.to_grid(gate, ibox, (sw, sh)), 0, 1)
    px = ctx.pixels[by0:by1, bx0:bx1]
    if f > 1.0:
        px = cv2.resize(px, (sw, sh), interpolation=cv2.INTER_AREA)
    rgb = px.astype(np.float32) * np.float32(1.0 / ctx.maxv)
    lab = to_lab(rgb)
    sig = 0.05 * ctx.iod_img / f
    low = weighted_blur(lab, g + 1e-4, sig)
    # The neck's own tone: skin below and beside the band, never the face above the jaw.
    src_w = (g * (1.0 - np.clip(b * 2.0, 0, 1)) * (vb > 0.1)).astype(np.float32)
    if src_w.sum() < 5:
        return None
    ref = push_pull(low, src_w)
    dark = np.maximum(0.0, ref[..., 0] - low[..., 0])
    wdark = np.clip(dark / 2.0, 0.0, 1.0)
    edited_lab = lab.copy()
    edited_lab[..., 0] += 0.9 * dark  # a trace of the neck's own shading stays
    edited_lab[..., 1] += wdark * (ref[..., 1] - low[..., 1])
    edited_lab[..., 2] += wdark * (ref[..., 2] - low[..., 2])
    edited = to_rgb(edited_lab)
    alpha = (b * strength).astype(np.float32)
    after = to_lab(_blend(rgb, edited, alpha))
    low_after = weighted_blur(after, g + 1e-4, sig)
    w = (b > 0.5).astype(np.float32)
    d0 = wmean(dark, w)
    d1 = wmean(np.maximum(0.0, ref[..., 0] - low_after[..., 0]), w)
    return AppearanceOut(ibox, alpha, edited, base=rgb, measured={
        "fold_shading_before": _r(d0), "fold_shading_after": _r(d1),
        "fold_shading_lifted_pct": _r(100.0 * (d0 - d1) / d0 if d0 > 1e-6 else 0.0, 1),
    })


def chin_gate(ctx: FaceContext) -> np.ndarray:
    """Skin-on-person weight for the neck, ``(CH, S) float32`` canvas (original geometry).

    The parser's skin model is fitted on lit cheeks and rejects the shadowed
    skin under a jaw. This gate instead keeps anything with a skin *hue* (CIE
    Lab hue angle 5..95 degrees), some saturation relative to its lightness
    and not much darker than the face, on the person mask. White, blue or gray
    collars, dark suits, ties and the background get 0; shadowed neck skin
    keeps a high weight.
    """
    fr = ctx.frame
    al = fr.alignment
    CH, S = fr.shape
    x0, y0, x1, y1 = band_box(ctx, 1.5)
    y0 = max(0, y0 - int(0.2 * fr.iod))
    out = np.zeros((CH, S), np.float32)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return out
    # Work on a reduced grid (iod ~ 96 px): the gate is smooth at 0.02 iod anyway.
    f = max(1.0, fr.iod / 96.0)
    w, h = max(4, int(round((x1 - x0) / f))), max(4, int(round((y1 - y0) / f)))
    sx, sy = (x1 - x0) / w, (y1 - y0) / h
    m = np.linalg.inv(np.vstack([al.matrix, [0, 0, 1]]))[:2]  # crop -> image
    to_img = m @ np.array([[sx, 0, x0 + 0.5 * sx - 0.5], [0, sy, y0 + 0.5 * sy - 0.5], [0, 0, 1]])
    small = cv2.warpAffine(ctx.pixels, to_img, (w, h),
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    small = gauss(small * np.float32(1.0 / ctx.maxv), 0.008 * fr.iod / f)
    lab = to_lab(small)
    L, A, B = lab[..., 0], lab[..., 1], lab[..., 2]
    hue = np.degrees(np.arctan2(B, A))
    chroma = np.hypot(A, B)
    face = np.maximum.reduce([fr.mask("chin"), fr.mask("left_cheek"), fr.mask("right_cheek")])
    sample_px = cv2.resize(face[y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_AREA) > 0.5
    ref_L = float(np.median(L[sample_px])) if sample_px.sum() > 10 else 60.0
    hue_ok = np.clip((hue - 5.0) / 10.0, 0, 1) * np.clip((95.0 - hue) / 10.0, 0, 1)
    sat_ok = np.clip((chroma / (L + 5.0) - 0.08) / 0.08, 0, 1)
    bright_ok = np.clip((L / max(ref_L, 1.0) - 0.1) / 0.12, 0, 1)
    # Right under the jaw the shadow can be nearly black; there only the hue counts.
    gx = x0 + (np.arange(w, dtype=np.float32) + 0.5) * sx - 0.5
    gy = y0 + (np.arange(h, dtype=np.float32) + 0.5) * sy - 0.5
    J, _, _ = jaw_curve(ctx.pts, gx)
    below = gy[:, None] - J[None, :]
    bright_ok = np.maximum(bright_ok, ((below > -0.02 * fr.iod) & (below < 0.15 * fr.iod)
                                       & (L > 2.0)).astype(np.float32))
    person = cv2.resize(ctx.person()[y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_AREA)
    g = gauss((hue_ok * sat_ok * bright_ok * person).astype(np.float32), 0.02 * fr.iod / f)
    g = np.clip((g - 0.15) / 0.45, 0.0, 1.0)
    out[y0:y1, x0:x1] = cv2.resize(g, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    return out
