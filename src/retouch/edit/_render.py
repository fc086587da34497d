"""Apply crop-space fields and masks to the full-resolution photo.

Pixels are resampled once, at full resolution: a crop-space backward field
(see :mod:`retouch.edit._field`) is carried into image space through the
face's similarity transform (sampled bilinearly over the image box that the
field covers, its vectors rotated and scaled by the inverse transform) and the
photo is resampled with bicubic interpolation at ``x + d(x)``.

Edits that move the face's silhouette (face slimming, the jaw line) are
composited as a *layer* ``F`` (the person mask): where the warped layer lands
the output shows it; where it left, the background behind it is filled from
the surrounding background (push-pull membrane fill); everywhere else the
background keeps its original pixels, so straight lines beside a face stay
exactly where they were.

Only pixels whose displacement or alpha is non-zero are written, so every
other pixel is bit-identical to the input.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..inpaint import push_pull
from ..types import Alignment
from ._field import Box, grid

#: Smallest alpha / reveal weight that changes a pixel (below a 10-bit code step).
EPS = 1.0 / 1024


def image_box(alignment: Alignment, cbox: Box, pad: float, shape_hw: tuple[int, int]) -> Box:
    """Image-pixel box covering crop box ``cbox`` grown by ``pad`` image px."""
    x0, y0, x1, y1 = cbox
    corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64)
    im = alignment.to_image(corners)
    H, W = shape_hw
    bx0, by0 = np.floor(im.min(axis=0) - pad).astype(int)
    bx1, by1 = np.ceil(im.max(axis=0) + pad).astype(int) + 1
    return max(0, int(bx0)), max(0, int(by0)), min(W, int(bx1)), min(H, int(by1))


def crop_to_image(crop_map: np.ndarray, alignment: Alignment, ibox: Box,
                  interp: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Sample a canvas map ``(CH, S[, C]) float32`` at the pixels of image box ``ibox``.

    Returns ``(h, w[, C]) float32``, zero outside the crop.
    """
    x0, y0, x1, y1 = ibox
    m = alignment.matrix.copy()
    m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)
    return cv2.warpAffine(crop_map.astype(np.float32), m, (x1 - x0, y1 - y0),
                          flags=interp | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def warp_crop_map(m: np.ndarray, total: np.ndarray, cbox: Box | None) -> np.ndarray:
    """A canvas map as it looks after the warp: ``m(x + total(x))``.

    ``cbox`` is where ``total`` is non-zero (``None``: nothing moved).
    """
    if cbox is None:
        return m
    out = m.copy()
    x0, y0, x1, y1 = cbox
    X, Y = grid(cbox)
    out[y0:y1, x0:x1] = cv2.remap(m, X + total[y0:y1, x0:x1, 0], Y + total[y0:y1, x0:x1, 1],
                                  cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


def _fill_background(orig: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Membrane fill of ``orig`` ``(h, w, 3)`` from pixels with high ``weight`` (reduced grid)."""
    h, w = weight.shape
    f = max(1, int(np.ceil(max(h, w) / 384)))
    if f > 1:
        sz = (max(1, w // f), max(1, h // f))
        vw = cv2.resize(orig * weight[..., None], sz, interpolation=cv2.INTER_AREA)
        ww = cv2.resize(weight, sz, interpolation=cv2.INTER_AREA)
        small = vw / np.maximum(ww, 1e-6)[..., None]
        filled = push_pull(small, np.clip(ww, 0, 1))
        return cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    return push_pull(orig, weight)


def render_warp(out: np.ndarray, alignment: Alignment, total: np.ndarray, cbox: Box,
                layer: np.ndarray | None, maxv: float) -> tuple[Box, np.ndarray]:
    """Resample ``out`` (in place) through a face's total crop-space field.

    Args:
        out: ``(H, W, 3)`` ``uint8``/``uint16`` photo, modified in place.
        alignment: the face's image <-> crop transform.
        total: ``(CH, S, 2) float32`` canvas backward field in crop px (zero outside ``cbox``).
        cbox: crop box where ``total`` is non-zero.
        layer: ``(CH, S) float32`` layer mask ``F`` for silhouette-moving edits,
            or ``None`` (the whole area moves with the field).
        maxv: largest code value (255 or 65535).

    Returns:
        ``(ibox, support)``: the image box and the ``bool`` mask (in it) of
        pixels that were written.
    """
    H, W = out.shape[:2]
    x0c, y0c, x1c, y1c = cbox
    dmax = float(np.abs(total[y0c:y1c, x0c:x1c]).max()) / alignment.scale
    ibox = image_box(alignment, cbox, 2.0, (H, W))
    x0, y0, x1, y1 = ibox
    if x1 - x0 < 2 or y1 - y0 < 2:
        return ibox, np.zeros((max(0, y1 - y0), max(0, x1 - x0)), bool)
    d_crop = crop_to_image(total, alignment, ibox)  # (h, w, 2) crop-px vectors
    ainv = alignment.inverse[:, :2].astype(np.float32)
    d_img = d_crop @ ainv.T
    X, Y = grid(ibox)
    mapx = X + d_img[..., 0]
    mapy = Y + d_img[..., 1]
    # Source: a copy of the box grown by the largest displacement (reads never
    # see this face's own writes).
    p = int(np.ceil(dmax)) + 3
    sx0, sy0, sx1, sy1 = max(0, x0 - p), max(0, y0 - p), min(W, x1 + p), min(H, y1 + p)
    src = np.ascontiguousarray(out[sy0:sy1, sx0:sx1])
    warped = cv2.remap(src, mapx - sx0, mapy - sy0, cv2.INTER_CUBIC,
                       borderMode=cv2.BORDER_REFLECT).astype(np.float32)
    orig = out[y0:y1, x0:x1].astype(np.float32)
    support = (np.abs(d_img[..., 0]) > 1e-3) | (np.abs(d_img[..., 1]) > 1e-3)
    if layer is not None:
        F = crop_to_image(layer, alignment, ibox)
        Fw = crop_to_image(warp_crop_map(layer, total, cbox), alignment, ibox)
        reveal = np.clip(F - Fw, 0.0, 1.0)
        reveal[reveal < EPS] = 0.0
        keep = 1.0 - np.maximum(F, Fw)
        res = Fw[..., None] * warped + keep[..., None] * orig
        if np.any(reveal > 0):
            fill = _fill_background(orig, np.clip(1.0 - 2.0 * F, 0.0, 1.0) ** 2)
            res += reveal[..., None] * fill
        support &= (Fw > EPS) | (reveal > 0)
        support |= reveal > 0
    else:
        res = warped
    q = np.clip(np.rint(res), 0, maxv).astype(out.dtype)
    view = out[y0:y1, x0:x1]
    view[support] = q[support]
    return ibox, support


def render_alpha(out: np.ndarray, ibox: Box, alpha: np.ndarray, edited01: np.ndarray,
                 maxv: float) -> np.ndarray:
    """Blend an edited box into ``out`` (in place) by ``alpha``; returns the written mask.

    Args:
        ibox: image box ``(x0, y0, x1, y1)``.
        alpha: ``(h, w) float32`` in ``[0, 1]``; pixels below :data:`EPS` stay untouched.
        edited01: ``(h, w, 3) float32`` edited colours in ``[0, 1]``.
    """
    x0, y0, x1, y1 = ibox
    view = out[y0:y1, x0:x1]
    sel = alpha >= EPS
    if not sel.any():
        return sel
    orig = view.astype(np.float32) * (1.0 / maxv)
    res = orig + alpha[..., None] * (edited01 - orig)
    q = np.clip(np.rint(res * maxv), 0, maxv).astype(out.dtype)
    view[sel] = q[sel]
    return sel
