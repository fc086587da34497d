"""Image-quality metrics in numpy (no torch): PSNR, SSIM, mask IoU.

Images are ``(H, W, 3)`` arrays; ``uint8`` is divided by 255, floats are taken
as ``[0, 1]``. Masks are ``(H, W) bool``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: ``max_c |target - source|`` above this (4/255, as in the project's reference
#: facts on FFHQR) marks a pixel as retouched for the mask IoU.
DIFF_THRESHOLD = 4.0 / 255.0


def as_float(img: np.ndarray) -> np.ndarray:
    """``uint8``/``uint16`` -> ``float64`` in ``[0, 1]``; floats are cast to float64."""
    if img.dtype == np.uint8:
        return img.astype(np.float64) / 255.0
    if img.dtype == np.uint16:
        return img.astype(np.float64) / 65535.0
    return img.astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB for peak 1: ``10 log10(1 / MSE)``, MSE over all channels.

    With ``mask`` ``(H, W) bool`` only those pixels count (``nan`` if none).
    Identical inputs give ``inf``.
    """
    d = as_float(a) - as_float(b)
    if mask is not None:
        if not mask.any():
            return float("nan")
        d = d[mask]
    mse = float(np.mean(d * d))
    return float("inf") if mse == 0 else 10.0 * math.log10(1.0 / mse)


def _gauss(size: int, sigma: float) -> np.ndarray:
    ax = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(ax ** 2) / (2.0 * sigma ** 2))
    return g / g.sum()


def ssim(a: np.ndarray, b: np.ndarray, window: int = 11, sigma: float = 1.5) -> float:
    """Mean SSIM (Wang et al. 2004) with a Gaussian window, ``K1 = 0.01``, ``K2 = 0.03``.

    Statistics are Gaussian-weighted over each ``window x window`` neighbourhood
    lying fully inside the image ("valid" positions), per channel; the result is
    the mean over positions and channels. Images smaller than the window use the
    largest odd window that fits.
    """
    x, y = as_float(a), as_float(b)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    size = min(window, x.shape[0], x.shape[1])
    size -= (size + 1) % 2
    g = _gauss(size, sigma)
    r = size // 2

    def blur(t: np.ndarray) -> np.ndarray:
        out = cv2.sepFilter2D(t, cv2.CV_64F, g, g, borderType=cv2.BORDER_REFLECT)
        return out[r:out.shape[0] - r, r:out.shape[1] - r]

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    vals = []
    for ch in range(x.shape[2]):
        xc, yc = np.ascontiguousarray(x[..., ch]), np.ascontiguousarray(y[..., ch])
        mx, my = blur(xc), blur(yc)
        sxx = blur(xc * xc) - mx * mx
        syy = blur(yc * yc) - my * my
        sxy = blur(xc * yc) - mx * my
        s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        vals.append(s.mean())
    return float(np.mean(vals))


def difference_mask(source: np.ndarray, target: np.ndarray,
                    threshold: float = DIFF_THRESHOLD) -> np.ndarray:
    """``(H, W) bool``: where ``max_c |target - source| > threshold`` (``[0, 1]`` units).

    A difference equal to the threshold (e.g. exactly 4 levels of 255) is not
    counted, despite float rounding of ``a / 255 - b / 255``.
    """
    return np.abs(as_float(target) - as_float(source)).max(axis=2) > threshold + 1e-9


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two ``(H, W) bool`` masks (1.0 when both are empty)."""
    union = np.logical_or(pred, truth).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(pred, truth).sum() / union)


def edge_steps(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Change at the edge of the changed area, largest first (a seam measure).

    A fill that is smooth at its rim changes the pixels next to unchanged ones by a
    few code values; a fill cut by a hard edge, or one laid over a structure that
    goes on past it, by tens.

    Args:
        before, after: ``(H, W, C)`` integer images of the same shape and dtype.

    Returns:
        1-D ``int32``: for each pixel that changed (any channel) and has an unchanged
        8-neighbour, its change (max over channels, code values), sorted descending.
    """
    ch = np.abs(after.astype(np.int32) - before.astype(np.int32)).max(axis=2)
    near_unchanged = cv2.dilate((ch == 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return np.sort(ch[near_unchanged & (ch > 0)])[::-1].astype(np.int32)
