"""Overcomplete 8x8 DCT shrinkage: texture-keeping denoising and JPEG deblocking.

Every 8x8 patch of a channel (all 64 shifts, stride 1) is transformed with the
orthonormal DCT, its coefficients are shrunk, and the patches are put back with
weights that favour sparse (smooth) patches. Coefficients well above the noise,
which is what pores, hair and edges are made of, pass unchanged; that is why the
result keeps texture where a blur would not. A second, empirical-Wiener pass
uses the first result as its oracle (as BM3D's second step does).

The 64 coefficient maps are computed as separable correlations with the DCT
basis rows (``cv2.sepFilter2D``), so the cost is ~128 small separable filters
per pass and channel. Values are in 8-bit code units (``0..255`` floats).
"""

from __future__ import annotations

import cv2
import numpy as np

from ._jpeg import block_dct, block_idct, dct_matrix

_D = dct_matrix().astype(np.float32)
_P = 7  # padding so that every pixel is covered by all 64 patches


def _coef_maps(ch: np.ndarray) -> np.ndarray:
    """``(64, H+7, W+7)`` DCT coefficients of every patch of the 7-px-padded channel."""
    pad = cv2.copyMakeBorder(ch, _P, _P, _P, _P, cv2.BORDER_REFLECT_101)
    out = np.empty((64,) + (pad.shape[0] - _P, pad.shape[1] - _P), np.float32)
    for v in range(8):
        rows = cv2.sepFilter2D(pad, cv2.CV_32F, np.ones(1, np.float32), _D[v],
                               anchor=(0, 0), borderType=cv2.BORDER_REFLECT_101)
        for u in range(8):
            full = cv2.sepFilter2D(rows, cv2.CV_32F, _D[u], np.ones(1, np.float32),
                                   anchor=(0, 0), borderType=cv2.BORDER_REFLECT_101)
            out[v * 8 + u] = full[:out.shape[1], :out.shape[2]]
    return out


def _aggregate(maps: np.ndarray, weight: np.ndarray, shape_hw: tuple[int, int]) -> np.ndarray:
    """Put weighted patches back: inverse DCT per patch, weighted mean per pixel."""
    h, w = shape_hw
    full = (h + 2 * _P, w + 2 * _P)
    one = np.ones(1, np.float32)

    def place(a: np.ndarray) -> np.ndarray:
        big = np.zeros(full, np.float32)
        big[:a.shape[0], :a.shape[1]] = a
        return big

    def spread_x(a: np.ndarray, k: np.ndarray) -> np.ndarray:  # out(X) = sum_j k[j] a(X - j)
        return cv2.sepFilter2D(a, cv2.CV_32F, k[::-1].copy(), one, anchor=(7, 0),
                               borderType=cv2.BORDER_CONSTANT)

    def spread_y(a: np.ndarray, k: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(a, cv2.CV_32F, one, k[::-1].copy(), anchor=(0, 7),
                               borderType=cv2.BORDER_CONSTANT)

    acc = np.zeros(full, np.float32)
    for v in range(8):
        part = np.zeros(full, np.float32)
        for u in range(8):
            part += spread_x(place(maps[v * 8 + u] * weight), _D[u])
        acc += spread_y(part, _D[v])  # the vertical basis is shared within row v
    box = np.ones(8, np.float32)
    wsum = spread_y(spread_x(place(weight), box), box)
    out = acc / np.maximum(wsum, 1e-12)
    return out[_P:_P + h, _P:_P + w]


def shrink_channel(
    ch: np.ndarray, thresholds: np.ndarray, *, noise_sigma: float, wiener: bool = True
) -> np.ndarray:
    """Denoise / deblock one channel by overcomplete DCT shrinkage.

    Args:
        ch: ``(H, W) float32`` channel in code values (``0..255``).
        thresholds: ``(8, 8)`` hard thresholds per frequency ``[v, u]`` in code
            values (the DC entry is ignored: the mean is always kept).
        noise_sigma: noise std per coefficient for the Wiener pass (code values).
        wiener: run the second, empirical-Wiener pass.

    Returns:
        ``(H, W) float32``; a new array.
    """
    ch = np.ascontiguousarray(ch, np.float32)
    h, w = ch.shape
    tau = np.asarray(thresholds, np.float32).reshape(64, 1, 1).copy()
    tau[0] = 0.0
    maps = _coef_maps(ch)
    # In-place arithmetic on the (64, H+7, W+7) maps: one spare buffer.
    buf = np.abs(maps)
    keep = buf >= tau
    keep[0] = True
    weight = 1.0 / keep.sum(axis=0, dtype=np.float32)
    hard = np.multiply(maps, keep, out=buf)
    del keep
    basic = _aggregate(hard, weight, (h, w))
    if not wiener or noise_sigma <= 0:
        return basic
    gain = _coef_maps(basic)                      # the oracle
    np.square(gain, out=gain)
    np.add(gain, np.float32(noise_sigma**2), out=buf)
    np.divide(gain, buf, out=gain)                # o^2 / (o^2 + s^2)
    gain[0] = 1.0
    weight = 1.0 / np.square(gain, out=buf).sum(axis=0)
    return _aggregate(np.multiply(maps, gain, out=maps), weight, (h, w))


def project_jpeg(
    ch: np.ndarray, observed: np.ndarray, table: np.ndarray, offset_xy: tuple[int, int],
    margin: float = 0.0,
) -> np.ndarray:
    """Clamp ``ch`` to the JPEG data: each grid block's DCT coefficient is kept
    within half a quantization step (plus ``margin``) of the observed (decoded) one.

    Args:
        ch: ``(H, W)`` channel to correct (code values).
        observed: the decoded channel it came from.
        table: ``(8, 8)`` quantization steps.
        offset_xy: grid offset in pixels of ``ch``.
        margin: widening of every interval on both sides, in DCT coefficient
            units (= code values for the orthonormal DCT): room for noise that
            was added before compression (``0``: the exact JPEG constraint).
    """
    ox, oy = offset_xy
    out = ch.astype(np.float64).copy()
    c = block_dct(out, (ox, oy))
    q = block_dct(observed.astype(np.float64), (ox, oy))
    t = np.asarray(table, np.float64)
    k = np.round(q / t)
    lo, hi = (k - 0.5) * t - margin, (k + 0.5) * t + margin
    c = np.clip(c, lo, hi)
    by, bx = c.shape[:2]
    out[oy:oy + by * 8, ox:ox + bx * 8] = block_idct(c)
    return out.astype(np.float32)
