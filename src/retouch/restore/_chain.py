"""The built-in restoration chain for one image region.

``measure`` measures, ``restore_region`` applies::

    region B --(exact inverse of a detected bilinear enlargement)--> L
    L: JPEG deblocking + texture-keeping denoising (one DCT shrinkage pass,
       then projection onto the JPEG quantization intervals)
    not enlarged: deblurring with the measured Gaussian (regularized Wiener)
    enlarged: B + bilinear_up(cleaned L - L), then Wiener deconvolution in image
       px of the whole effective kernel (source blur and the enlargement's own),
       with the signal spectrum estimated from the region

Every step runs only when its degradation is measured above a threshold
(:data:`THRESHOLDS`); a region with none comes back as the same array object.
Regions are ``(h, w, 3) float32`` RGB in ``[0, 1]`` cut from an image whose
top-left pixel is ``origin_xy`` and whose size is ``full_wh``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from ._deblur import TARGET_SIGMA, deblur_channels, deblur_sigma, wiener_enlarged
from ._jpeg import JpegEstimate, estimate_jpeg, table_for_quality
from ._measure import estimate_blur, estimate_noise, estimate_upsampling, noise_before_jpeg
from ._resample import Grid
from ._shrink import project_jpeg, shrink_channel

#: A step runs when its measurement passes these (see the docs).
THRESHOLDS: dict[str, float] = {
    "jpeg_quality_max": 85.0,   # deblock at quality <= 85 (above, it measured as a loss)
    "noise_sigma_min": 2.5,     # denoise at >= 2.5 code values
    "blur_sigma_min": 1.2,      # deblur when edges are wider than 1.2 px (effective grid)
}

#: The JPEG data bound the image as it was *compressed*: when noise was added
#: before compression, the clean image's DCT coefficients lie outside those
#: quantization intervals by up to a few noise stds. The projection widens each
#: interval by this many stds of the channel's noise (0 without denoising). An
#: exact projection (0) kept the noise and cost 0.2-0.9 dB on the medium/severe
#: levels of ``benchmarks/bench_restore.py``.
JPEG_NOISE_MARGIN = 2.0

# JFIF RGB <-> YCbCr (code values; Cb/Cr centred on 0 here).
_RGB2YCC = np.array([[0.299, 0.587, 0.114],
                     [-0.168736, -0.331264, 0.5],
                     [0.5, -0.418688, -0.081312]], np.float32)
_YCC2RGB = np.linalg.inv(_RGB2YCC).astype(np.float32)
#: Noise std in Y, Cb, Cr per unit of independent per-channel RGB noise.
_YCC_NOISE = np.sqrt((_RGB2YCC.astype(np.float64) ** 2).sum(axis=1))


@dataclass(frozen=True)
class RegionEstimate:
    """Degradations measured on one region.

    Attributes:
        src_wh: size the whole image was enlarged from, or ``None``.
        factor_xy: enlargement factor per axis (1 = none).
        jpeg: JPEG estimate on the effective grid.
        noise_sigma: noise std in 8-bit code values, on the effective grid.
        blur_sigma: Gaussian-equivalent edge blur in effective-grid px (after
            denoising), or ``None`` without enough strong edges.
    """

    src_wh: tuple[int, int] | None
    factor_xy: tuple[float, float]
    jpeg: JpegEstimate
    noise_sigma: float
    blur_sigma: float | None

    @property
    def blur_sigma_image_px(self) -> float | None:
        """Blur sigma in image pixels (effective-grid sigma times the enlargement)."""
        if self.blur_sigma is None:
            return None
        return self.blur_sigma * math.sqrt(self.factor_xy[0] * self.factor_xy[1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "blur_sigma_px": _r(self.blur_sigma_image_px),
            "blur_sigma_effective_px": _r(self.blur_sigma),
            "noise_sigma": round(self.noise_sigma, 2),
            "jpeg_quality": self.jpeg.quality,
            "jpeg": self.jpeg.to_dict(),
            "upscaled_from_wh": list(self.src_wh) if self.src_wh else None,
            "effective_scale": round(math.sqrt(self.factor_xy[0] * self.factor_xy[1]), 3),
        }


def _r(v: float | None) -> float | None:
    return None if v is None else round(float(v), 3)


@dataclass
class RegionResult:
    """Output of :func:`restore_region`: pixels, estimate and the applied steps."""

    image: np.ndarray
    estimate: RegionEstimate
    steps: list[dict[str, Any]] = field(default_factory=list)


def _to_ycc(rgb01: np.ndarray) -> np.ndarray:
    return (rgb01 * 255.0) @ _RGB2YCC.T


def _to_rgb(ycc: np.ndarray) -> np.ndarray:
    return (ycc @ _YCC2RGB.T) * (1.0 / 255.0)


#: Fewest 16x16 blocks (on the effective grid) the noise is measured on: a
#: smaller region is measured on its ``context`` (its percentile of the
#: flattest blocks needs flat blocks, and a small face has few).
NOISE_MIN_BLOCKS = 64


def _noise(low: np.ndarray, grid: Grid, src: tuple[int, int], full_wh: tuple[int, int],
           context: tuple[np.ndarray, tuple[int, int]] | None) -> float:
    """Noise reading of the effective-grid region, or of its context when it is small."""
    if context is None or (low.shape[0] // 16) * (low.shape[1] // 16) >= NOISE_MIN_BLOCKS:
        return estimate_noise(low)
    area, area_origin = context
    g = Grid.build(src, full_wh, area_origin, area.shape[:2]) if grid.active else grid
    return estimate_noise(np.clip(g.down(area), 0.0, 1.0) if g.active else area)


def measure(
    region: np.ndarray, origin_xy: tuple[int, int], full_wh: tuple[int, int],
    *, file_quality: int | None = None,
    context: tuple[np.ndarray, tuple[int, int]] | None = None,
) -> tuple[RegionEstimate, Grid, np.ndarray]:
    """Measure ``region``; returns the estimate (blur not yet measured: see
    :func:`restore_region`), the enlargement grid and the effective-grid image.

    ``context``: a larger area of the same image around the region and its
    top-left pixel, where the noise is measured when the region is small
    (:data:`NOISE_MIN_BLOCKS`).
    """
    native_jpeg = estimate_jpeg(region, origin_xy)
    if native_jpeg.quality is not None or file_quality is not None:
        # Compressed on this very grid: it was not enlarged afterwards.
        src = full_wh
    else:
        src = estimate_upsampling(cv2.cvtColor(region, cv2.COLOR_RGB2GRAY), origin_xy, full_wh)
    grid = Grid.build(src, full_wh, origin_xy, region.shape[:2])
    if grid.active:
        low = np.clip(grid.down(region), 0.0, 1.0)
        low_origin = (0, 0)
        # The JPEG grid of an enlarged image sits on its source pixels.
        lx = grid.x.u if grid.x else None
        ly = grid.y.u if grid.y else None
        low_origin = (_first_src(region.shape[1], origin_xy[0], full_wh[0], src[0], lx),
                      _first_src(region.shape[0], origin_xy[1], full_wh[1], src[1], ly))
    else:
        low, low_origin = region, origin_xy
    jpeg = estimate_jpeg(low, low_origin) if grid.active else native_jpeg
    if file_quality is not None and not grid.active:
        table = table_for_quality(file_quality)
        jpeg = JpegEstimate(file_quality, table, None, jpeg.grid_xy, jpeg.blockiness, "file")
    # JPEG removes most of the noise the operator sees: map the reading back.
    noise = noise_before_jpeg(_noise(low, grid, src, full_wh, context), jpeg.quality)
    est = RegionEstimate(
        src_wh=tuple(src) if grid.active else None, factor_xy=grid.factor_xy, jpeg=jpeg,
        noise_sigma=noise, blur_sigma=None,
    )
    return est, grid, low


def _first_src(n: int, lo: int, n_dst: int, n_src: int, u: np.ndarray | None) -> int:
    if u is None:
        return lo
    from ._measure import bilinear_matrix

    full = bilinear_matrix(n_src, n_dst, lo, lo + n)
    return int(np.where(full.any(axis=0))[0][0])


def _shrink(low: np.ndarray, est: RegionEstimate, fidelity: float,
            steps: list[dict[str, Any]]) -> np.ndarray:
    """Deblock and/or denoise the effective-grid image (one shrinkage pass)."""
    q = est.jpeg.quality
    do_jpeg = q is not None and q <= THRESHOLDS["jpeg_quality_max"] and est.jpeg.table is not None
    do_noise = est.noise_sigma >= THRESHOLDS["noise_sigma_min"]
    if not (do_jpeg or do_noise):
        return low
    k = 1.6 + 1.0 * fidelity          # noise threshold, in noise stds
    alpha = 0.3 + 0.3 * fidelity      # JPEG threshold, in quantization steps
    sig = est.noise_sigma if do_noise else 0.0
    ycc = _to_ycc(low)
    out = np.empty_like(ycc)
    luma_t = est.jpeg.table if do_jpeg else None
    for c in range(3):
        s_c = sig * float(_YCC_NOISE[c])
        tau = np.full((8, 8), k * s_c, np.float32)
        if luma_t is not None:
            tau = np.maximum(tau, alpha * np.asarray(luma_t, np.float32))
        ch = ycc[..., c] + (128.0 if c else 0.0)
        res = shrink_channel(ch, tau, noise_sigma=max(s_c, 0.5), wiener=(c == 0 and do_noise))
        if c == 0 and luma_t is not None:
            # s_c is 0 without denoising: then the exact JPEG constraint.
            res = project_jpeg(res, ch, luma_t, est.jpeg.grid_xy, margin=JPEG_NOISE_MARGIN * s_c)
        out[..., c] = res - (128.0 if c else 0.0)
    if do_jpeg:
        steps.append({"step": "deblock", "jpeg_quality": q, "threshold_steps": round(alpha, 3)})
    if do_noise:
        steps.append({"step": "denoise", "noise_sigma": round(est.noise_sigma, 2),
                      "threshold_sigmas": round(k, 3)})
    return np.clip(_to_rgb(out), 0.0, 1.0).astype(np.float32)


def restore_region(
    region: np.ndarray, origin_xy: tuple[int, int], full_wh: tuple[int, int],
    *, fidelity: float = 0.5, file_quality: int | None = None,
    estimate: RegionEstimate | None = None,
    measured: tuple[RegionEstimate, Grid, np.ndarray] | None = None,
) -> RegionResult:
    """Measure and restore one region (see the module docstring).

    Args:
        region: ``(h, w, 3) float32`` RGB in ``[0, 1]``; not modified.
        origin_xy: the region's top-left pixel in the image.
        full_wh: the image's ``(W, H)``.
        fidelity: ``0`` faithful (gentle thresholds, deblur to a softer target)
            .. ``1`` enhanced (stronger cleaning and sharpening).
        file_quality: the JPEG quality of the source file, if it is a JPEG.
        estimate: reuse these measurements (for tiles of one large region)
            instead of measuring ``region``.
        measured: what :func:`measure` already returned for this very region.

    Returns:
        :class:`RegionResult`; ``image is region`` when nothing was applied.
    """
    if measured is not None:
        est, grid, low = measured
    elif estimate is None:
        est, grid, low = measure(region, origin_xy, full_wh, file_quality=file_quality)
    else:
        est = estimate
        grid = Grid.build(est.src_wh or full_wh, full_wh, origin_xy, region.shape[:2])
        low = np.clip(grid.down(region), 0.0, 1.0) if grid.active else region
        if est.jpeg.quality is not None and grid.active:
            ox = _first_src(region.shape[1], origin_xy[0], full_wh[0], est.src_wh[0],
                            grid.x.u if grid.x else None)
            oy = _first_src(region.shape[0], origin_xy[1], full_wh[1], est.src_wh[1],
                            grid.y.u if grid.y else None)
            est = _with_grid(est, ((-ox) % 8, (-oy) % 8))
        elif est.jpeg.quality is not None:
            est = _with_grid(est, ((-origin_xy[0]) % 8, (-origin_xy[1]) % 8))
    steps: list[dict[str, Any]] = []
    work = _shrink(low, est, fidelity, steps)
    target = 0.9 - 0.6 * fidelity  # residual edge width (image px) deblurring aims at
    resid = est.noise_sigma / 255.0 * (0.3 if steps else 1.0)
    lam = (1e-3 + 150.0 * resid * resid) * (1.5 - fidelity)
    if grid.active:
        return _upscale(region, low, work, grid, est, estimate, fidelity, target, steps)
    blur = est.blur_sigma if estimate is not None else \
        estimate_blur(work, est.noise_sigma if not steps else 0.0)
    est = RegionEstimate(est.src_wh, est.factor_xy, est.jpeg, est.noise_sigma, blur)
    if blur is not None and blur >= THRESHOLDS["blur_sigma_min"]:
        k_sigma = deblur_sigma(blur, target)
        gain = 1.5 + 3.0 * fidelity
        work = np.clip(deblur_channels(work, k_sigma, lam=lam, max_gain=gain), 0.0, 1.0)
        steps.append({"step": "deblur", "kernel": "gaussian", "sigma_px": round(k_sigma, 3),
                      "target_sigma_px": round(target, 3), "regularization": round(lam, 6),
                      "max_gain": round(gain, 3)})
    if not steps:
        return RegionResult(region, est, steps)
    return RegionResult(work, est, steps)


#: Edge width (px of the effective grid) assumed for the enlarged source: that of
#: a sharp photo (:data:`._deblur.TARGET_SIGMA`), plus whatever the measured width
#: exceeds :data:`THRESHOLDS` ``blur_sigma_min`` by (in quadrature): below that,
#: the edge estimator cannot tell blur from scene edges on the coarse grid.
SHARP_SIGMA = TARGET_SIGMA
#: Fraction of the measured noise taken to remain after the cleaning pass.
RESIDUAL_NOISE = 0.35


def _upscale(region: np.ndarray, low: np.ndarray, work: np.ndarray, grid: Grid,
             est: RegionEstimate, given: RegionEstimate | None, fidelity: float,
             target: float, steps: list[dict[str, Any]]) -> RegionResult:
    """Back to the region's grid: the cleaning's correction goes up bilinearly (as
    the enlargement did), then the whole effective kernel is deconvolved in image
    px: the source blur (measured on the effective grid, times the factor) and the
    bilinear enlargement's own blur (a triangle of half-width ``f``: variance
    ``f**2 / 6``), less the ``target`` width, by a Wiener filter whose signal
    spectrum comes from the region itself and whose noise is what the cleaning
    left (:data:`RESIDUAL_NOISE`), as the enlargement shaped it (see
    :func:`._deblur.wiener_enlarged`)."""
    if given is not None:
        blur = given.blur_sigma
    else:
        blur = estimate_blur(work, 0.0 if steps else est.noise_sigma)
    est = RegionEstimate(est.src_wh, est.factor_xy, est.jpeg, est.noise_sigma, blur)
    # Below blur_sigma_min the edge estimator cannot tell blur from scene edges on
    # this coarse grid: assume a sharp photo's width, and add only the excess.
    b_min = THRESHOLDS["blur_sigma_min"]
    excess2 = max((blur or 0.0) ** 2 - b_min * b_min, 0.0)
    b_low = math.sqrt(SHARP_SIGMA * SHARP_SIGMA + excess2)
    fx, fy = est.factor_xy
    f2 = fx * fy
    k_sigma = math.sqrt(max(b_low * b_low * f2 + f2 / 6.0 - target * target, 0.0))
    out = region + grid.bilinear_up(work - low) if steps else region
    gain = 1.5 + 1.0 * fidelity
    left = est.noise_sigma * (RESIDUAL_NOISE if steps else 1.0)
    if k_sigma > 0.3:
        out = wiener_enlarged(out, k_sigma, noise_sigma=left, factor_xy=(fx, fy), max_gain=gain)
    out = np.clip(out, 0.0, 1.0).astype(np.float32)
    steps.append({"step": "upscale", "from_wh": list(est.src_wh or ()),
                  "factor_xy": [round(fx, 3), round(fy, 3)],
                  "method": "bilinear residual + Wiener deconvolution",
                  "kernel_sigma_px": round(k_sigma, 3),
                  "source_blur_effective_px": round(b_low, 3),
                  "target_sigma_px": round(target, 3), "noise_left": round(left, 2),
                  "max_gain": round(gain, 3)})
    return RegionResult(out, est, steps)


def _with_grid(est: RegionEstimate, grid_xy: tuple[int, int]) -> RegionEstimate:
    j = est.jpeg
    jpeg = JpegEstimate(j.quality, j.table, j.chroma_table, grid_xy, j.blockiness, j.source)
    return RegionEstimate(est.src_wh, est.factor_xy, jpeg, est.noise_sigma, est.blur_sigma)
