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
from ._field import Box, box_of_mask, grid

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
    return cv2.warpAffine(crop_map.astype(np.float32, copy=False), m, (x1 - x0, y1 - y0),
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


def _fill_at(view: np.ndarray, layer: np.ndarray, alignment: Alignment, ibox: Box,
             ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Membrane fill of the box ``view`` ``(h, w, 3)`` (image box ``ibox``) from the
    pixels off the canvas layer ``layer``, read at pixels ``(ys, xs)`` only:
    ``(n, 3) float32``.

    The fill is smooth (the revealed strip is thin), so it is computed on a grid
    of at most 384 px a side (the layer is sampled straight onto that grid) and
    sampled bilinearly where it is needed.
    """
    h, w = view.shape[:2]
    f = max(1, int(np.ceil(max(h, w) / 384.0)))
    if min(h, w) >= 2 * f:
        # A whole factor: box means (the fast path of INTER_AREA); the last
        # < f rows / columns are left out of the grid.
        sz = (w // f, h // f)
        small = cv2.resize(view[:sz[1] * f, :sz[0] * f], sz, interpolation=cv2.INTER_AREA)
        sx = sy = float(f)
    else:
        fl = max(1.0, max(h, w) / 384.0)
        sz = (max(2, int(round(w / fl))), max(2, int(round(h / fl))))
        small = cv2.resize(view, sz, interpolation=cv2.INTER_AREA)
        sx, sy = w / sz[0], h / sz[1]
    small = small.astype(np.float32)
    # Grid pixel (u, v) is centred on image pixel ibox[:2] + ((u, v) + 0.5) * step - 0.5.
    to_img = np.array([[sx, 0.0, ibox[0] + 0.5 * sx - 0.5],
                       [0.0, sy, ibox[1] + 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    m = (np.vstack([alignment.matrix, [0.0, 0.0, 1.0]]) @ to_img)[:2]
    F = cv2.warpAffine(layer.astype(np.float32), m, sz,
                       flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    weight = np.clip(1.0 - 2.0 * F, 0.0, 1.0) ** 2
    filled = push_pull(small, weight).astype(np.float32)
    n = xs.size
    cols = 1024  # remap wants both sides < 32767: lay the points out as a block
    rows = max(1, -(-n // cols))
    mx = np.zeros(rows * cols, np.float32)
    my = np.zeros(rows * cols, np.float32)
    mx[:n] = (xs + 0.5) / sx - 0.5
    my[:n] = (ys + 0.5) / sy - 0.5
    got = cv2.remap(filled, mx.reshape(rows, cols), my.reshape(rows, cols), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return got.reshape(-1, 3)[:n]


def _sample_canvas(m: np.ndarray, alignment: Alignment, xs: np.ndarray, ys: np.ndarray
                   ) -> np.ndarray:
    """Bilinear samples of a canvas map ``(CH, S[, C])`` at image pixels ``(xs, ys)``
    -> ``(n[, C]) float32``."""
    mat = alignment.matrix.astype(np.float32)
    xf = xs.astype(np.float32)
    yf = ys.astype(np.float32)
    n = xs.size
    cols = 1024
    rows = max(1, -(-n // cols))
    mx = np.full(rows * cols, -10.0, np.float32)
    my = np.full(rows * cols, -10.0, np.float32)
    mx[:n] = mat[0, 0] * xf + mat[0, 1] * yf + mat[0, 2]
    my[:n] = mat[1, 0] * xf + mat[1, 1] * yf + mat[1, 2]
    got = cv2.remap(m.astype(np.float32), mx.reshape(rows, cols), my.reshape(rows, cols),
                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return got.reshape(rows * cols, *m.shape[2:])[:n]


def _codes_to_image(code: np.ndarray, alignment: Alignment, ibox: Box) -> np.ndarray:
    """A ``uint8`` canvas code map sampled (nearest) at the pixels of ``ibox``."""
    x0, y0, x1, y1 = ibox
    m = alignment.matrix.copy()
    m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)
    return cv2.warpAffine(code, m, (x1 - x0, y1 - y0),
                          flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _put(view: np.ndarray, src: np.ndarray, where: np.ndarray) -> None:
    """``view[where] = src[where]`` in place (``where``: ``(h, w) bool``), one C pass."""
    if not _cv_writable(view):
        np.copyto(view, src, where=where[..., None])
        return
    cv2.copyTo(src, np.ascontiguousarray(where).view(np.uint8), view)


def _cv_writable(a: np.ndarray) -> bool:
    """Whether OpenCV can write into ``a`` ``(h, w, C)`` in place (rows may be strided)."""
    return a.strides[2] == a.itemsize and a.strides[1] == a.itemsize * a.shape[2]


#: Rows per band in which the warp samples its field and resamples the photo.
ROWS = 64


def _warp_rows(src: np.ndarray, d_c: np.ndarray, alignment: Alignment, ibox: Box,
               origin: tuple[int, int], written: np.ndarray) -> np.ndarray:
    """Bicubic resampling of ``src`` at ``x + d(x)`` for the pixels of ``ibox``.

    ``d_c`` ``(CH, S, 2)`` is the backward field in image px on the canvas
    (sampled bilinearly), ``src`` the photo from image pixel ``origin`` on.
    Work is done in bands of :data:`ROWS` rows, each over the columns that hold
    a ``written`` pixel; the rest of the returned ``(h, w, C)`` array is
    undefined (never read).
    """
    x0, y0, x1, y1 = ibox
    h, w = y1 - y0, x1 - x0
    warped = np.empty((h, w, src.shape[2]), src.dtype)
    for by in range(0, h, ROWS):
        by1 = min(h, by + ROWS)
        cols = np.flatnonzero(written[by:by1].any(axis=0))
        if cols.size == 0:
            continue
        c0, c1 = int(cols[0]), int(cols[-1]) + 1
        d = crop_to_image(d_c, alignment, (x0 + c0, y0 + by, x0 + c1, y0 + by1))
        d[..., 0] += np.arange(x0 + c0 - origin[0], x0 + c1 - origin[0], dtype=np.float32)
        d[..., 1] += np.arange(y0 + by - origin[1], y0 + by1 - origin[1],
                               dtype=np.float32)[:, None]
        warped[by:by1, c0:c1] = cv2.remap(src, d, None, cv2.INTER_CUBIC,
                                          borderMode=cv2.BORDER_REFLECT)
    return warped


def render_warp(out: np.ndarray, alignment: Alignment, total: np.ndarray, cbox: Box,
                layer: np.ndarray | None, maxv: float) -> tuple[Box, np.ndarray]:
    """Resample ``out`` (in place) through a face's total canvas field.

    Args:
        out: ``(H, W, 3)`` ``uint8``/``uint16`` photo, modified in place.
        alignment: the face's image <-> working-crop transform.
        total: ``(CH, S, 2) float32`` canvas backward field in crop px (zero outside ``cbox``).
        cbox: canvas box where ``total`` is non-zero.
        layer: ``(CH, S) float32`` layer mask ``F`` for silhouette-moving edits,
            or ``None`` (the whole area moves with the field).
        maxv: largest code value (255 or 65535).

    Returns:
        ``(ibox, support)``: the image box and the ``bool`` mask (in it) of
        pixels that were written.

    Displacements below 0.02 image px are dropped (an invisible step), which
    keeps the written area to where the warp actually moves something.
    """
    H, W = out.shape[:2]
    x0c, y0c, x1c, y1c = cbox
    d_c = total[y0c:y1c, x0c:x1c]
    ainv = alignment.inverse[:, :2].astype(np.float32)
    dx_c = np.zeros(total.shape[:2], np.float32)
    dy_c = np.zeros(total.shape[:2], np.float32)
    dx_c[y0c:y1c, x0c:x1c] = d_c[..., 0] * ainv[0, 0] + d_c[..., 1] * ainv[0, 1]
    dy_c[y0c:y1c, x0c:x1c] = d_c[..., 0] * ainv[1, 0] + d_c[..., 1] * ainv[1, 1]
    moving_c = (np.abs(dx_c) > 0.02) | (np.abs(dy_c) > 0.02)
    mb = box_of_mask(moving_c, 2)
    if mb is None:
        return (0, 0, 0, 0), np.zeros((0, 0), bool)
    dmax = float(max(np.abs(dx_c).max(), np.abs(dy_c).max()))
    ibox = image_box(alignment, mb, 2.0, (H, W))
    x0, y0, x1, y1 = ibox
    if x1 - x0 < 2 or y1 - y0 < 2:
        return ibox, np.zeros((max(0, y1 - y0), max(0, x1 - x0)), bool)
    # The canvas masks travel to the image in one nearest-neighbour pass, as
    # bits of one code: 1 = moving (dilated), 2 = inside the layer, 4 = its edge.
    code = cv2.dilate(moving_c.astype(np.uint8), np.ones((3, 3), np.uint8))
    if layer is not None:
        # Layer before (F) and after (Fw) the warp, classified at crop resolution.
        Fw_c = warp_crop_map(layer, total, cbox)
        full = (layer >= 1.0 - EPS) & (Fw_c >= 1.0 - EPS)
        soft = ((layer > EPS) | (Fw_c > EPS)) & ~full
        soft = cv2.dilate(soft.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        code |= ((full & ~soft).astype(np.uint8) << 1) | (soft.astype(np.uint8) << 2)
    code_i = _codes_to_image(code, alignment, ibox)
    support = (code_i & 1) > 0
    if layer is None:
        written = support
    else:
        inner = ((code_i & 3) == 3)
        band = ((code_i & 5) == 5)
        written = inner | band
    p = int(np.ceil(dmax)) + 3
    sx0, sy0, sx1, sy1 = max(0, x0 - p), max(0, y0 - p), min(W, x1 + p), min(H, y1 + p)
    # Source: a copy of the box grown by the largest displacement (reads never
    # see this face's own writes).
    src = np.ascontiguousarray(out[sy0:sy1, sx0:sx1])
    warped = _warp_rows(src, np.dstack([dx_c, dy_c]), alignment, ibox, (sx0, sy0), written)
    view = out[y0:y1, x0:x1]
    if layer is None:
        _put(view, warped, support)
        return ibox, support
    # Inside the layer before and after: the warped pixels; outside both: the input.
    _put(view, warped, inner)
    # The layer's soft edge and where it left: blend, and fill what it uncovered.
    idx = np.flatnonzero(band)
    if idx.size:
        # Flat indices: one gather / scatter per array (the band is a thin ring).
        ys, xs = np.divmod(idx, x1 - x0)
        ff = _sample_canvas(np.dstack([layer, Fw_c]), alignment, xs + x0, ys + y0)
        f, fw = ff[:, :1], ff[:, 1:]
        flat = out.reshape(-1, out.shape[2]) if out.flags.c_contiguous else None
        gidx = (ys + y0) * W + (xs + x0)
        o = (flat[gidx] if flat is not None else view[ys, xs]).astype(np.float32)
        res = fw * warped.reshape(-1, warped.shape[2])[idx].astype(np.float32)
        res += (1.0 - np.maximum(f, fw)) * o
        reveal = np.clip(f - fw, 0.0, 1.0)
        shown = np.flatnonzero(reveal[:, 0] >= EPS)  # where the layer left
        if shown.size:
            res[shown] += reveal[shown] * _fill_at(view, layer, alignment, ibox,
                                                   ys[shown], xs[shown])
        q = np.clip(np.rint(res), 0, maxv).astype(out.dtype)
        if flat is not None:
            flat[gidx] = q
        else:
            view[ys, xs] = q
    return ibox, inner | band


#: Side of the full-resolution tiles a reduced-grid change is upsampled in.
TILE = 128


def _add_upsampled(view: np.ndarray, delta: np.ndarray, near: np.ndarray, depth: int) -> None:
    """``view += upsample(delta)`` in place (rounded, saturated), tile by tile.

    ``delta`` ``(lh, lw, 3) float32`` spans ``view`` (bilinear, pixel centres
    aligned as :func:`cv2.resize` does) and is zero wherever ``near`` (``uint8``,
    the reduced cells that are on, dilated by one cell) is 0. Tiles whose
    cells are all off would add exactly 0, so they are skipped.
    """
    h, w = view.shape[:2]
    lh, lw = delta.shape[:2]
    sx, sy = lw / w, lh / h
    integ = cv2.integral(near)

    def cells(a: int, b: int, s: float, n: int) -> tuple[int, int]:
        # Nearest cells of pixels a .. b-1, one more each side.
        return max(0, int(np.floor(a * s)) - 1), min(n, int(np.floor((b - 1) * s)) + 2)

    for ty in range(0, h, TILE):
        ty1 = min(h, ty + TILE)
        r0, r1 = cells(ty, ty1, sy, lh)
        for tx in range(0, w, TILE):
            tx1 = min(w, tx + TILE)
            c0, c1 = cells(tx, tx1, sx, lw)
            if integ[r1, c1] - integ[r0, c1] - integ[r1, c0] + integ[r0, c0] == 0:
                continue
            m = np.array([[sx, 0.0, (tx + 0.5) * sx - 0.5], [0.0, sy, (ty + 0.5) * sy - 0.5]])
            up = cv2.warpAffine(delta, m, (tx1 - tx, ty1 - ty),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE)
            tile = view[ty:ty1, tx:tx1]
            if _cv_writable(tile):
                cv2.add(tile, up, dst=tile, dtype=depth)  # rounds and saturates
            else:
                tile[...] = cv2.add(np.ascontiguousarray(tile), up, dtype=depth)


def render_alpha(out: np.ndarray, ibox: Box, alpha: np.ndarray, edited01: np.ndarray,
                 maxv: float, base01: np.ndarray | None = None) -> np.ndarray:
    """Blend an edited box into ``out`` (in place) by ``alpha``; returns the written mask.

    Args:
        ibox: image box ``(x0, y0, x1, y1)``.
        alpha: ``(h, w) float32`` in ``[0, 1]``; pixels below :data:`EPS` stay untouched.
        edited01: ``(h, w, 3) float32`` edited colours in ``[0, 1]``.
        base01: the colours ``edited01`` was computed from. When the arrays are
            on a reduced grid of the box, the smooth change
            ``alpha * (edited - base)`` is upsampled and added to the
            full-resolution pixels, which keep their own texture.
    """
    x0, y0, x1, y1 = ibox
    view = out[y0:y1, x0:x1]
    h, w = view.shape[:2]
    if alpha.shape != (h, w):
        if base01 is None:
            raise ValueError("render_alpha: a reduced-grid edit needs its base colours")
        # The change is zeroed where the reduced alpha is below EPS, so the
        # upsampled change is exactly 0 wherever no reduced cell it reads is
        # on: the full-resolution add can then run over the whole box (no
        # masked copy) and leaves those pixels bit-identical.
        on = alpha >= EPS
        if not on.any():
            return np.zeros((h, w), bool)
        delta = alpha[..., None] * (edited01 - base01) * np.float32(maxv)
        delta = np.where(on[..., None], delta, np.float32(0)).astype(np.float32)
        # Every full-resolution pixel reads reduced cells within one cell of
        # its nearest one: the dilated mask, upsampled nearest, covers them.
        near = cv2.dilate(on.view(np.uint8), np.ones((3, 3), np.uint8))
        sel = cv2.resize(near, (w, h), interpolation=cv2.INTER_NEAREST) > 0
        _add_upsampled(view, delta, near, cv2.CV_8U if out.dtype == np.uint8 else cv2.CV_16U)
        return sel
    sel = alpha >= EPS
    if not sel.any():
        return sel
    orig = view.astype(np.float32) * (1.0 / maxv)
    res = orig + alpha[..., None] * (edited01 - orig)
    q = np.clip(np.rint(res * maxv), 0, maxv).astype(out.dtype)
    _put(view, q, sel)
    return sel
