"""Non-blind deblurring with a Gaussian kernel: regularized Wiener plus ringing control.

The kernel is the Gaussian the estimator measured, reduced so that the result
keeps the edge width of a sharp photo (:data:`TARGET_SIGMA`): deblurring to a
perfect step is what makes restorations look synthetic and ring.
The filter is ``conj(K) / (|K|^2 + lam |G|^2)``, capped at ``max_gain``, with ``G`` the discrete
gradient (a smoothness prior): ``lam`` grows with the remaining noise.
Ringing is controlled twice: the image is mirrored before the FFT (no wrap-
around edges), and the result may overshoot the local range of the blurred
input by at most a fraction of that range (halos around edges are cut).

:func:`wiener_enlarged` is the filter for an enlarged region (the whole effective
kernel in image px): a Wiener filter whose signal spectrum is estimated from the
region and whose noise spectrum is the residual source-grid noise shaped by the
bilinear enlargement; it also smooths where that noise dominates.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: Edge sigma (px) a sharp photo shows; deblurring stops there.
TARGET_SIGMA = 0.6


def gaussian_otf(shape_hw: tuple[int, int], sigma: float) -> np.ndarray:
    """``(H, W//2+1)`` transfer function of a Gaussian of ``sigma`` px (rfft layout)."""
    fy = np.fft.fftfreq(shape_hw[0])[:, None]
    fx = np.fft.rfftfreq(shape_hw[1])[None, :]
    return np.exp(-2.0 * math.pi**2 * sigma**2 * (fx * fx + fy * fy))


def _gradient_power(shape_hw: tuple[int, int]) -> np.ndarray:
    fy = np.fft.fftfreq(shape_hw[0])[:, None]
    fx = np.fft.rfftfreq(shape_hw[1])[None, :]
    return (2.0 - 2.0 * np.cos(2 * math.pi * fx)) + (2.0 - 2.0 * np.cos(2 * math.pi * fy))


def deblur_channels(
    img: np.ndarray, sigma: float, *, lam: float, max_gain: float = 3.0,
    overshoot: float = 0.15,
) -> np.ndarray:
    """Deconvolve every channel of ``img`` by a Gaussian of ``sigma`` px.

    Args:
        img: ``(H, W, C)`` or ``(H, W)`` float32 (any value scale).
        sigma: kernel sigma in px (``<= 0`` returns a copy).
        lam: weight of the gradient prior (``~1e-3`` for clean data; larger
            for noisy data).
        max_gain: cap on the filter's amplification at any frequency: what the
            blur removed entirely is not re-invented, and hidden artifacts
            (enlarged JPEG blocks, film grain) are not blown up.
        overshoot: allowed excursion beyond the local min/max of ``img`` (in a
            window of radius ``ceil(2 sigma)``), as a fraction of the local range.

    Returns:
        Same shape, float32.
    """
    a = np.asarray(img, np.float32)
    if sigma <= 0:
        return a.copy()
    squeeze = a.ndim == 2
    if squeeze:
        a = a[..., None]
    h, w = a.shape[:2]
    pad = int(math.ceil(4 * sigma)) + 8
    hp = cv2.getOptimalDFTSize(h + 2 * pad)
    wp = cv2.getOptimalDFTSize(w + 2 * pad)
    big = cv2.copyMakeBorder(a, pad, hp - h - pad, pad, wp - w - pad, cv2.BORDER_REFLECT)
    if big.ndim == 2:
        big = big[..., None]
    k = gaussian_otf((hp, wp), sigma)
    filt = np.minimum(k / (k * k + lam * _gradient_power((hp, wp))), max_gain)
    filt = filt.astype(np.complex64)
    out = np.empty_like(a)
    r = int(math.ceil(2 * sigma))
    se = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1))
    for c in range(a.shape[2]):
        spec = np.fft.rfft2(big[..., c])
        res = np.fft.irfft2(spec * filt, s=(hp, wp))[pad:pad + h, pad:pad + w]
        lo = cv2.erode(a[..., c], se)
        hi = cv2.dilate(a[..., c], se)
        m = overshoot * (hi - lo)
        out[..., c] = np.clip(res, lo - m, hi + m)
    return out[..., 0] if squeeze else out


def deblur_sigma(measured: float, target: float = TARGET_SIGMA) -> float:
    """Kernel sigma that brings an edge width of ``measured`` px down to ``target``."""
    return math.sqrt(max(measured * measured - target * target, 0.0))


def _radial_mean(p: np.ndarray, r: np.ndarray, nbins: int) -> np.ndarray:
    """Mean of ``p`` over rings of ``r`` (``nbins`` bins on ``[0, r.max()]``), per element."""
    idx = np.minimum((r / max(float(r.max()), 1e-12) * nbins).astype(np.int64), nbins - 1)
    s = np.bincount(idx.ravel(), weights=p.ravel(), minlength=nbins)
    n = np.bincount(idx.ravel(), minlength=nbins)
    return (s / np.maximum(n, 1))[idx]


def wiener_enlarged(
    img: np.ndarray, sigma: float, *, noise_sigma: float, factor_xy: tuple[float, float],
    max_gain: float, overshoot: float = 0.15,
) -> np.ndarray:
    """Wiener deconvolution of a bilinear enlargement by a Gaussian of ``sigma`` px,
    with the signal spectrum estimated from the image itself.

    The observed power ``P`` is averaged over rings of frequency; the noise that
    was left on the source grid (``noise_sigma``, code values, white there) reaches
    the image through the bilinear enlargement, so its spectrum is
    ``noise**2 fx fy sinc(fx u)**4 sinc(fy v)**4``. The filter is
    ``(1 / K) max(1 - N / P, 0)``: it deblurs where the signal dominates and
    smooths where the noise does. Its gain is capped at ``max_gain``, and at 1
    above the source grid's Nyquist frequency (nothing there is real detail).
    """
    a = np.asarray(img, np.float32)
    h, w = a.shape[:2]
    pad = int(math.ceil(4 * sigma)) + 8
    hp = cv2.getOptimalDFTSize(h + 2 * pad)
    wp = cv2.getOptimalDFTSize(w + 2 * pad)
    big = cv2.copyMakeBorder(a, pad, hp - h - pad, pad, wp - w - pad, cv2.BORDER_REFLECT)
    fy = np.fft.fftfreq(hp)[:, None]
    fx = np.fft.rfftfreq(wp)[None, :]
    sx, sy = factor_xy
    k = np.exp(-2.0 * math.pi**2 * sigma**2 * (fx * fx + fy * fy))
    specs = [np.fft.rfft2(big[..., c]) for c in range(a.shape[2])]
    power = sum(np.abs(s) ** 2 for s in specs) / (len(specs) * hp * wp)
    r = np.sqrt((fx * sx) ** 2 + (fy * sy) ** 2)
    p_obs = _radial_mean(power, r, 96)
    n = (noise_sigma / 255.0) ** 2 * sx * sy * np.sinc(sx * fx) ** 4 * np.sinc(sy * fy) ** 4
    gain = np.clip(1.0 - n / np.maximum(p_obs, 1e-20), 0.0, 1.0) / k
    t = np.clip((np.maximum(np.abs(fx) * sx, np.abs(fy) * sy) / 0.5 - 1.0) / 0.25, 0.0, 1.0)
    cap = max_gain + (1.0 - max_gain) * (t * t * (3.0 - 2.0 * t))
    filt = np.minimum(gain, cap)
    out = np.empty_like(a)
    rr = int(math.ceil(2 * sigma))
    se = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * rr + 1, 2 * rr + 1))
    for c, spec in enumerate(specs):
        res = np.fft.irfft2(spec * filt, s=(hp, wp))[pad:pad + h, pad:pad + w]
        lo = cv2.erode(a[..., c], se)
        hi = cv2.dilate(a[..., c], se)
        m = overshoot * (hi - lo)
        out[..., c] = np.clip(res, lo - m, hi + m)
    return out
