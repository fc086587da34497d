"""Synthetic degradation of clean photos: blur, downsampling, noise, JPEG.

The model is the standard blind-face-restoration one (GFPGAN, VSPBFR)::

    y = resize_back( JPEG_q( (x * k) downsample_s + n_sigma ) )

1. ``x * k``: convolution with a blur kernel ``k`` -- an isotropic or
   anisotropic Gaussian (``sigma_x``, ``sigma_y`` in pixels of the input, rotated
   by ``angle_deg``) or a linear motion kernel (``motion_length_px`` at
   ``angle_deg``), of odd side ``kernel_size``.
2. ``downsample_s``: bilinear resize (OpenCV ``INTER_LINEAR``, pixel-centre
   convention, no anti-alias prefilter) by ``1 / scale``; ``scale`` < 1 enlarges.
3. ``+ n``: white Gaussian noise of standard deviation ``noise_sigma`` in
   8-bit code values (of 255), independent per channel.
4. ``JPEG_q``: 8-bit rounding, then a JPEG round trip at ``jpeg_quality``
   (OpenCV/libjpeg, 4:2:0 chroma).
5. ``resize_back``: bilinear resize back to the input size.

Every step is skipped when its parameter is neutral, and everything is seeded:
the same image, parameters and seed always give the same output.
:data:`STANDARD_RANGES` holds the ranges of ``../shared/docs/REFERENCE.md``
(GFPGAN / VSPBFR), :data:`HARD_RANGES` CodeFormer's harder setting, and
:data:`LEVELS` the fixed ``mild`` / ``medium`` / ``severe`` settings of the
benchmark.

Images are ``(H, W, 3)`` RGB (or ``(H, W)`` gray): ``uint8``, ``uint16`` or
float in ``[0, 1]``; the result is ``float32`` in ``[0, 1]`` of the same
shape (of the downsampled shape when ``resize_back`` is false).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import cv2
import numpy as np

from .errors import InvalidInputError
from .imageio import to_float01

__all__ = [
    "HARD_RANGES",
    "LEVELS",
    "STANDARD_RANGES",
    "Degradation",
    "DegradationRanges",
    "apply_degradation",
    "blur_kernel",
    "sample_degradation",
]

BlurType = Literal["none", "gaussian", "motion"]


@dataclass(frozen=True)
class Degradation:
    """Explicit parameters of one degradation (see the module docstring).

    Attributes:
        blur: ``"none"``, ``"gaussian"`` or ``"motion"``.
        sigma_x, sigma_y: Gaussian standard deviations in input pixels along the
            kernel's own axes (before rotation); equal for an isotropic kernel.
        angle_deg: rotation of the Gaussian's x axis, or direction of the
            motion, counter-clockwise from the image x axis, in degrees.
        motion_length_px: length of the motion path in input pixels.
        kernel_size: odd kernel side in pixels (the standard range is 19-41).
        scale: downsampling factor (``4`` = a quarter of the width); ``1`` skips.
        noise_sigma: Gaussian noise std in 8-bit code values; ``0`` skips.
        jpeg_quality: 1..100, or ``None`` to skip.
        resize_back: resize the result back to the input size.
    """

    blur: BlurType = "none"
    sigma_x: float = 0.0
    sigma_y: float = 0.0
    angle_deg: float = 0.0
    motion_length_px: float = 0.0
    kernel_size: int = 21
    scale: float = 1.0
    noise_sigma: float = 0.0
    jpeg_quality: int | None = None
    resize_back: bool = True

    def __post_init__(self) -> None:
        if self.blur not in ("none", "gaussian", "motion"):
            raise InvalidInputError(
                f"`blur` must be 'none', 'gaussian' or 'motion'; got {self.blur!r}"
            )
        if self.blur == "gaussian" and (self.sigma_x <= 0 or self.sigma_y <= 0):
            raise InvalidInputError(
                f"gaussian blur needs sigma_x, sigma_y > 0; got {self.sigma_x}, {self.sigma_y}"
            )
        if self.blur == "motion" and self.motion_length_px <= 0:
            raise InvalidInputError(
                f"motion blur needs motion_length_px > 0; got {self.motion_length_px}"
            )
        if self.kernel_size < 3 or self.kernel_size % 2 == 0:
            raise InvalidInputError(f"`kernel_size` must be odd and >= 3; got {self.kernel_size}")
        if not 0.25 <= self.scale <= 64:
            raise InvalidInputError(f"`scale` must be in [0.25, 64]; got {self.scale}")
        if self.noise_sigma < 0:
            raise InvalidInputError(f"`noise_sigma` must be >= 0; got {self.noise_sigma}")
        if self.jpeg_quality is not None and not 1 <= int(self.jpeg_quality) <= 100:
            raise InvalidInputError(f"`jpeg_quality` must be in 1..100; got {self.jpeg_quality}")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready parameters (neutral steps included)."""
        return {
            "blur": self.blur, "sigma_x": self.sigma_x, "sigma_y": self.sigma_y,
            "angle_deg": self.angle_deg, "motion_length_px": self.motion_length_px,
            "kernel_size": self.kernel_size, "scale": self.scale,
            "noise_sigma": self.noise_sigma, "jpeg_quality": self.jpeg_quality,
            "resize_back": self.resize_back,
        }


@dataclass(frozen=True)
class DegradationRanges:
    """Ranges :func:`sample_degradation` draws from (uniformly, inclusive).

    Attributes:
        kernel_size: odd kernel sides ``(min, max)``.
        sigma: Gaussian sigma range in input pixels.
        anisotropic_prob: probability that ``sigma_y`` is drawn independently.
        motion_prob: probability of a motion kernel instead of a Gaussian.
        motion_length: motion length range in input pixels.
        scale: downsampling factor range.
        noise_sigma: noise std range in 8-bit code values.
        jpeg_quality: JPEG quality range.
    """

    kernel_size: tuple[int, int] = (19, 41)
    sigma: tuple[float, float] = (0.1, 10.0)
    anisotropic_prob: float = 0.5
    motion_prob: float = 0.0
    motion_length: tuple[float, float] = (3.0, 15.0)
    scale: tuple[float, float] = (0.8, 8.0)
    noise_sigma: tuple[float, float] = (0.0, 20.0)
    jpeg_quality: tuple[int, int] = (60, 100)


#: GFPGAN / VSPBFR ranges (REFERENCE.md): kernel 19-41, sigma 0.1-10, x0.8-8,
#: noise 0-20, JPEG 60-100.
STANDARD_RANGES = DegradationRanges()
#: CodeFormer's harder setting: sigma 1-15, x4-30, JPEG 30-80.
HARD_RANGES = DegradationRanges(sigma=(1.0, 15.0), scale=(4.0, 30.0), jpeg_quality=(30, 80))

#: Fixed benchmark levels, each inside :data:`STANDARD_RANGES`.
LEVELS: dict[str, Degradation] = {
    "mild": Degradation(blur="gaussian", sigma_x=1.0, sigma_y=1.0, kernel_size=21,
                        scale=2.0, noise_sigma=4.0, jpeg_quality=90),
    "medium": Degradation(blur="gaussian", sigma_x=2.0, sigma_y=1.5, angle_deg=30.0,
                          kernel_size=31, scale=3.0, noise_sigma=8.0, jpeg_quality=75),
    "severe": Degradation(blur="gaussian", sigma_x=3.5, sigma_y=3.5, kernel_size=41,
                          scale=6.0, noise_sigma=15.0, jpeg_quality=60),
}


def blur_kernel(deg: Degradation) -> np.ndarray | None:
    """The ``(kernel_size, kernel_size) float32`` kernel of ``deg`` (sums to 1).

    ``None`` when ``deg.blur == "none"``. Gaussian kernels are sampled at pixel
    centres; motion kernels are a line of the given length, rasterized with
    16x supersampling along its length and bilinear splatting across pixels.
    """
    if deg.blur == "none":
        return None
    r = deg.kernel_size // 2
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)
    th = math.radians(deg.angle_deg)
    c, s = math.cos(th), math.sin(th)
    if deg.blur == "gaussian":
        # Image y points down; a counter-clockwise angle rotates towards -y.
        u = c * xx - s * yy
        v = s * xx + c * yy
        k = np.exp(-0.5 * ((u / deg.sigma_x) ** 2 + (v / deg.sigma_y) ** 2))
    else:
        k = np.zeros_like(xx)
        n = max(2, int(math.ceil(deg.motion_length_px * 16)))
        t = np.linspace(-0.5, 0.5, n) * deg.motion_length_px
        px, py = t * c + r, -t * s + r
        x0, y0 = np.floor(px).astype(int), np.floor(py).astype(int)
        fx, fy = px - x0, py - y0
        for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                          (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            xi, yi = x0 + dx, y0 + dy
            ok = (xi >= 0) & (xi < k.shape[1]) & (yi >= 0) & (yi < k.shape[0])
            np.add.at(k, (yi[ok], xi[ok]), w[ok])
    total = k.sum()
    if total <= 0:  # pragma: no cover - guarded by __post_init__
        raise InvalidInputError("degenerate blur kernel")
    return (k / total).astype(np.float32)


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def apply_degradation(
    image: np.ndarray, deg: Degradation, *, seed: int | np.random.Generator = 0
) -> np.ndarray:
    """Degrade ``image`` with the explicit parameters ``deg``.

    Args:
        image: ``(H, W, 3)`` RGB or ``(H, W)`` gray; ``uint8``, ``uint16`` or
            float in ``[0, 1]``. Not modified.
        deg: what to apply.
        seed: seed (or generator) of the noise.

    Returns:
        ``float32`` in ``[0, 1]``; same shape as ``image`` when
        ``deg.resize_back`` (else the downsampled shape). After a JPEG step the
        values are multiples of 1/255 unless a resize follows.
    """
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise InvalidInputError(
            f"`image` must be (H, W, 3) RGB or (H, W) gray; got shape {arr.shape}"
        )
    x = to_float01(arr)
    h, w = x.shape[:2]
    k = blur_kernel(deg)
    if k is not None:
        x = cv2.filter2D(x, -1, k, borderType=cv2.BORDER_REFLECT_101)
    if deg.scale != 1.0:
        size = (max(1, round(w / deg.scale)), max(1, round(h / deg.scale)))
        x = cv2.resize(x, size, interpolation=cv2.INTER_LINEAR)
    if deg.noise_sigma > 0:
        x = x + _rng(seed).normal(0.0, deg.noise_sigma / 255.0, x.shape).astype(np.float32)
    x = np.clip(x, 0.0, 1.0)
    if deg.jpeg_quality is not None:
        x = jpeg_roundtrip(x, int(deg.jpeg_quality))
    if deg.resize_back and x.shape[:2] != (h, w):
        x = np.clip(cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
    return x.astype(np.float32, copy=False)


def jpeg_roundtrip(x: np.ndarray, quality: int) -> np.ndarray:
    """Encode float ``[0, 1]`` RGB/gray as 8-bit JPEG at ``quality`` and decode it.

    Uses OpenCV's libjpeg with its defaults (4:2:0 chroma subsampling).
    """
    q8 = np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)
    bgr = q8[..., ::-1] if q8.ndim == 3 else q8
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - libjpeg does not fail on valid arrays
        raise InvalidInputError("JPEG encoding failed")
    dec = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if dec.ndim == 3:
        dec = dec[..., ::-1]
    return dec.astype(np.float32) * np.float32(1.0 / 255.0)


def sample_degradation(
    rng: int | np.random.Generator, ranges: DegradationRanges = STANDARD_RANGES
) -> Degradation:
    """Draw one random :class:`Degradation` from ``ranges`` (deterministic per seed).

    Gaussian blur is isotropic with probability ``1 - anisotropic_prob``; an
    anisotropic kernel gets an independent ``sigma_y`` and a uniform angle.
    """
    g = _rng(rng)
    k_lo, k_hi = ranges.kernel_size
    ksize = int(g.integers(k_lo // 2, k_hi // 2 + 1)) * 2 + 1
    if g.random() < ranges.motion_prob:
        deg = Degradation(blur="motion", motion_length_px=float(g.uniform(*ranges.motion_length)),
                          angle_deg=float(g.uniform(0, 180)), kernel_size=ksize)
    else:
        sx = float(g.uniform(*ranges.sigma))
        if g.random() < ranges.anisotropic_prob:
            sy, ang = float(g.uniform(*ranges.sigma)), float(g.uniform(0, 180))
        else:
            sy, ang = sx, 0.0
        deg = Degradation(blur="gaussian", sigma_x=sx, sigma_y=sy, angle_deg=ang,
                          kernel_size=ksize)
    return replace(
        deg,
        scale=float(g.uniform(*ranges.scale)),
        noise_sigma=float(g.uniform(*ranges.noise_sigma)),
        jpeg_quality=int(g.integers(ranges.jpeg_quality[0], ranges.jpeg_quality[1] + 1)),
    )
