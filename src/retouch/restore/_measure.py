"""Blind measurements of noise, blur and upsampling on a float RGB region.

All functions take ``(H, W, 3)`` (or ``(H, W)``) ``float32`` arrays in
``[0, 1]`` and report in pixels of that array and in 8-bit code values (of
255); none modifies its input.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

#: Immerkaer's noise operator: annihilates planes and ramps; for white noise of
#: std ``s`` its response has std ``6 s``.
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
#: Block side (px) of the local noise statistics.
_NOISE_BLOCK = 16
#: Percentile of the block noise levels taken as the noise (the flattest blocks).
_NOISE_PCT = 10.0
#: The percentile's bias on pure white noise (measured: 10th pct of 16x16 block
#: std of the operator response, relative to the true std).
_NOISE_PCT_BIAS = 0.885
#: Re-blur sigma (px) of the edge-width measurement.
_REBLUR = 1.5
#: Squared width (px^2) that a perfectly sharp, pixel-sampled step shows through
#: the central-difference gradient (calibrated on synthetic edges).
_EDGE_BIAS2 = 0.38


def _gray(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        return img.astype(np.float32, copy=False)
    return cv2.cvtColor(img.astype(np.float32, copy=False), cv2.COLOR_RGB2GRAY)


def estimate_noise(img: np.ndarray) -> float:
    """Std of additive white noise in 8-bit code values (mean over channels).

    Immerkaer's operator is applied per channel; its local std in 16x16 blocks
    is low where the image is flat, so a low percentile of the block values
    (corrected for the percentile's bias on pure noise) measures the noise.
    Blocks touching clipped pixels (0 or 1) are ignored. Texture can only raise
    the estimate; a photo with no flat area reads a little high.
    """
    chans = [img] if img.ndim == 2 else [img[..., c] for c in range(img.shape[2])]
    b = _NOISE_BLOCK
    out = []
    for ch in chans:
        ch = ch.astype(np.float32, copy=False)
        r = cv2.filter2D(ch, -1, _IMMERKAER, borderType=cv2.BORDER_REFLECT_101)[1:-1, 1:-1]
        inner = ch[1:-1, 1:-1]
        h, w = (r.shape[0] // b) * b, (r.shape[1] // b) * b
        if h == 0 or w == 0:
            return 0.0
        rb = r[:h, :w].reshape(h // b, b, w // b, b)
        clip = ((inner[:h, :w] <= 0.0) | (inner[:h, :w] >= 1.0)).reshape(h // b, b, w // b, b)
        std = np.sqrt((rb.astype(np.float64) ** 2).mean(axis=(1, 3))) / 6.0
        ok = ~clip.any(axis=(1, 3))
        vals = std[ok] if ok.sum() >= 8 else std.ravel()
        out.append(float(np.percentile(vals, _NOISE_PCT)) / _NOISE_PCT_BIAS * 255.0)
    return float(np.mean(out))


def edge_widths(img: np.ndarray, noise_sigma: float = 0.0, reblur: float = _REBLUR) -> np.ndarray:
    """Gaussian-equivalent blur sigma (px) at each strong edge pixel.

    At a blurred step edge the gradient magnitude falls by
    ``sqrt(s**2 + r**2) / s`` when the image is re-blurred with sigma ``r``; the
    ratio at gradient maxima gives ``s``. Only local maxima along the gradient
    whose magnitude is well above the noise are used.

    Args:
        img: float RGB or gray in ``[0, 1]``.
        noise_sigma: noise std in 8-bit code values (raises the edge threshold).
        reblur: the re-blur sigma in px (most precise near the measured sigma).

    Returns:
        ``(N,) float64`` sigmas in px (empty when there are no strong edges).
    """
    g = _gray(img)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=1, scale=0.5)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=1, scale=0.5)
    mag = np.hypot(gx, gy)
    gb = cv2.GaussianBlur(g, (0, 0), reblur)
    mag_b = np.hypot(cv2.Sobel(gb, cv2.CV_32F, 1, 0, ksize=1, scale=0.5),
                     cv2.Sobel(gb, cv2.CV_32F, 0, 1, ksize=1, scale=0.5))
    # Non-maximum suppression along the (quantized) gradient direction.
    ang = (np.round(np.arctan2(gy, gx) / (np.pi / 4)).astype(int)) % 4
    nb = {0: ((0, 1), (0, -1)), 1: ((1, 1), (-1, -1)), 2: ((1, 0), (-1, 0)),
          3: ((1, -1), (-1, 1))}
    pad = np.pad(mag, 1, mode="edge")
    h, w = mag.shape
    is_max = np.zeros_like(mag, bool)
    for k, ((dy1, dx1), (dy2, dx2)) in nb.items():
        n1 = pad[1 + dy1:1 + dy1 + h, 1 + dx1:1 + dx1 + w]
        n2 = pad[1 + dy2:1 + dy2 + h, 1 + dx2:1 + dx2 + w]
        is_max |= (ang == k) & (mag >= n1) & (mag >= n2)
    border = np.zeros_like(is_max)
    border[4:-4, 4:-4] = True
    thr = max(float(np.percentile(mag, 97)), 8.0 * noise_sigma / 255.0, 6.0 / 255.0)
    sel = is_max & border & (mag > thr)
    ratio = mag[sel] / np.maximum(mag_b[sel], 1e-9)
    ratio = ratio[ratio > 1.0 + 1e-4]
    s2 = reblur**2 / (ratio**2 - 1.0) - _EDGE_BIAS2
    return np.sqrt(np.clip(s2, 0.0, None)).astype(np.float64)


def estimate_blur(img: np.ndarray, noise_sigma: float = 0.0) -> float | None:
    """Gaussian-equivalent blur sigma (px) of the sharpest third of the strong edges.

    Scene edges are rarely perfect steps, so the widths of all edges spread
    upward from the optical blur; the 30th percentile tracks the blur that every
    edge shares. ``None`` when fewer than 30 strong edges exist.
    """
    w = edge_widths(img, noise_sigma)
    if w.size < 30:
        return None
    return float(np.percentile(w, 30))


# --------------------------------------------------------------------------- upsampling


def bilinear_matrix(n_src: int, n_dst: int, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """Rows ``lo..hi-1`` of the ``(n_dst, n_src)`` matrix of OpenCV's bilinear resize.

    ``cv2.resize(a, ..., interpolation=INTER_LINEAR)`` along one axis of length
    ``n_src`` to ``n_dst`` equals ``U @ a`` (pixel-centre convention, edge clamp).
    """
    hi = n_dst if hi is None else hi
    x = np.arange(lo, hi, dtype=np.float64)
    fx = (x + 0.5) * (n_src / n_dst) - 0.5
    sx = np.floor(fx).astype(int)
    f = fx - sx
    low = sx < 0
    f[low], sx[low] = 0.0, 0
    high = sx >= n_src - 1
    f[high], sx[high] = 0.0, n_src - 1
    u = np.zeros((hi - lo, n_src))
    r = np.arange(hi - lo)
    u[r, sx] += 1.0 - f
    u[r, np.minimum(sx + 1, n_src - 1)] += f
    return u


def _periodic_candidates(profile: np.ndarray, n_peaks: int = 3) -> list[float]:
    """Upsampling factors suggested by the strongest periodicities of ``profile``."""
    p = profile - profile.mean()
    if p.size < 32:
        return []
    spec = np.abs(np.fft.rfft(p * np.hanning(p.size)))
    f = np.fft.rfftfreq(p.size)
    ok = (f >= 0.09) & (f <= 0.5)
    if not ok.any():
        return []
    floor = float(np.median(spec[ok])) + 1e-12
    idx = np.where(ok)[0]
    order = idx[np.argsort(spec[idx])[::-1]]
    out: list[float] = []
    for i in order[:n_peaks]:
        if spec[i] < 5.0 * floor:
            break
        fr = float(f[i])
        out += [1.0 / fr, 1.0 / (1.0 - fr), 2.0 / fr]
    return out


def _fit_residual(strip: np.ndarray, n_src: int, n_dst: int, lo: int) -> float:
    """RMS misfit (code values) of ``strip`` rows as a bilinear upsample from ``n_src``."""
    u = bilinear_matrix(n_src, n_dst, lo, lo + strip.shape[1])
    used = np.where(u.any(axis=0))[0]
    u = u[:, used]
    # Normal equations with a tiny ridge: edge columns touched by one row only
    # make the plain system ill-conditioned, and this is 10x faster than SVD.
    coef = np.linalg.solve(u.T @ u + 1e-6 * np.eye(u.shape[1]), u.T @ strip.T)
    r = strip.T - u @ coef
    return float(np.sqrt(np.mean(r * r)) * 255.0)


#: Enlargement factors always tried (2x leaves no periodicity in ``|d2|``).
_COMMON_FACTORS = (1.5, 2.0, 3.0, 4.0)
#: Longest strip (px) the least-squares check uses.
_FIT_WINDOW = 160


def estimate_upsampling(
    gray: np.ndarray, origin_xy: tuple[int, int], full_wh: tuple[int, int],
    *, max_rms: float = 0.45,
) -> tuple[int, int]:
    """Source size ``(w_src, h_src)`` the whole image was bilinearly enlarged from.

    Bilinear enlargement leaves a periodic pattern in the second differences
    (period = the factor); its strongest periods, plus a few common factors,
    give candidate source sizes. A candidate is accepted when a strip of the
    region is reproduced to within ``max_rms`` code values (about the 8-bit
    rounding) by a bilinear enlargement from it (least squares) and fits less
    than half as well from the neighbouring sizes (a smooth region fits every
    size alike); the most distinct fit wins. Returns the
    full-size ``full_wh`` on an axis that shows no enlargement.

    Args:
        gray: ``(h, w)`` float region of the image in ``[0, 1]``.
        origin_xy: the region's top-left pixel in the image.
        full_wh: the image's ``(W, H)``.
    """
    out = []
    for axis in (1, 0):
        a = gray if axis == 1 else gray.T
        n_dst = full_wh[0] if axis == 1 else full_wh[1]
        lo = origin_xy[0] if axis == 1 else origin_xy[1]
        if a.shape[1] < 48:
            out.append(n_dst)
            continue
        d2 = np.abs(a[:, 2:] - 2.0 * a[:, 1:-1] + a[:, :-2]).mean(axis=0)
        c0 = max(0, (a.shape[1] - _FIT_WINDOW) // 2)
        rows = a[np.linspace(0, a.shape[0] - 1, min(32, a.shape[0])).astype(int)]
        rows = rows[:, c0:c0 + _FIT_WINDOW].astype(np.float64)
        cands: set[int] = set()
        for s in list(_periodic_candidates(d2)) + list(_COMMON_FACTORS):
            if 1.1 <= s <= 12.0:
                base = round(n_dst / s)
                cands.update(n for n in (base - 1, base, base + 1) if 8 <= n < n_dst)
        best = n_dst
        cache: dict[int, float] = {}

        def res(n: int, rows: np.ndarray = rows, n_dst: int = n_dst, x0: int = lo + c0,
                cache: dict[int, float] = cache) -> float:
            if n not in cache:
                cache[n] = _fit_residual(rows, n, n_dst, x0)
            return cache[n]

        best_ratio = 0.5
        for n_src in sorted(cands):
            r = res(n_src)
            if r >= max_rms:
                continue
            # An exact enlargement fits its own source size far better than the
            # neighbouring sizes; a merely smooth region fits all of them alike.
            ratio = r / max(min(res(n_src - 1), res(n_src + 1)), 1e-9)
            if ratio < best_ratio:
                best, best_ratio = n_src, ratio
        out.append(best)
    return out[0], out[1]


# --------------------------------------------------------------------------- noise under JPEG

#: Readings (code values) below which :func:`noise_before_jpeg` does not map back:
#: clean camera JPEGs of faces (quality 75-90) read 0.4-0.7 here.
JPEG_NOISE_MIN_READING = 0.8
#: Noise levels (8-bit code values) at which the JPEG response is simulated.
_JPEG_NOISE_GRID = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 11.0, 15.0, 20.0, 26.0, 34.0, 45.0)


@functools.lru_cache(maxsize=128)
def _jpeg_noise_curve(quality: int) -> tuple[np.ndarray, np.ndarray]:
    """What :func:`estimate_noise` reads after a JPEG round trip at ``quality``, for
    white RGB noise of each level of :data:`_JPEG_NOISE_GRID` on a flat mid-grey
    (simulated once per quality with a fixed seed; made non-decreasing)."""
    from ..degrade import jpeg_roundtrip

    rng = np.random.default_rng(0)
    base = np.full((96, 96, 3), 0.5, np.float32)
    read = []
    for s in _JPEG_NOISE_GRID:
        x = np.clip(base + rng.normal(0.0, s / 255.0, base.shape).astype(np.float32), 0, 1)
        read.append(estimate_noise(jpeg_roundtrip(x, int(quality))))
    return np.array(_JPEG_NOISE_GRID), np.maximum.accumulate(np.array(read))


def noise_before_jpeg(measured: float, quality: int | None) -> float:
    """Noise std (code values) before a JPEG compression at ``quality`` that left
    :func:`estimate_noise` reading ``measured``.

    JPEG quantizes away most of the high frequencies that the noise operator
    sees, so after compression the noise reads far too low (white noise of 8
    reads about 1.1 at quality 75). The reading is mapped back through the
    estimator's simulated response at that quality. ``measured`` is returned
    unchanged without a quality, above 95 (where JPEG keeps the noise) and below
    :data:`JPEG_NOISE_MIN_READING`, where the curve is too flat to invert: there
    a noise-free textured JPEG and a noisy one read alike, and the photo is left
    undenoised rather than smoothed on a guess.
    """
    if quality is None or quality > 95 or measured < JPEG_NOISE_MIN_READING:
        return float(measured)
    sig, read = _jpeg_noise_curve(int(quality))
    read = read + np.arange(read.size) * 1e-6  # strictly increasing for interp
    if measured >= read[-1]:
        return float(measured - read[-1] + sig[-1])
    return float(max(np.interp(measured, read, sig), measured))
