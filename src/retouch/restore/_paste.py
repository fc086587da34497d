"""Where a face's restoration applies, and how it is blended back.

The face window is the canonical crop square (see :mod:`retouch.align`) mapped
into the image; its weight is 1 inside, falling smoothly to 0 over the outer
:data:`FEATHER` of the square, so no edge of the window is visible. Before
blending, the restored window's low frequencies are pulled back to the
original's (colour matching): the chain never means to move colour or tone, so
any drift it made is removed and no tone step shows at the feather.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..align import warp_mask_to_image
from ..types import Alignment

#: Fraction of the crop side over which the weight falls from 1 to 0.
FEATHER = 0.14
#: Colour-matching blur, as a fraction of the window side in image px.
COLOUR_SIGMA = 1.0 / 24.0


def window_box(alignment: Alignment, shape_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """Integer image box ``(x0, y0, x1, y1)`` (half-open) around the crop square."""
    s = float(alignment.size)
    corners = alignment.to_image(np.array([[0, 0], [s, 0], [0, s], [s, s]], np.float64))
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
    h, w = shape_hw
    return max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))


def window_weight(alignment: Alignment, box_xyxy: tuple[int, int, int, int]) -> np.ndarray:
    """``(y1-y0, x1-x0) float32`` blend weight in ``[0, 1]`` of the face window."""
    s = alignment.size
    f = max(2.0, FEATHER * s)
    t = np.arange(s, dtype=np.float32) + 0.5
    ramp = np.clip(np.minimum(t, s - t) / f, 0.0, 1.0)
    ramp = ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep
    crop = np.outer(ramp, ramp).astype(np.float32)
    return np.clip(warp_mask_to_image(crop, alignment, box_xyxy), 0.0, 1.0)


def colour_match(restored: np.ndarray, original: np.ndarray, sigma_px: float) -> np.ndarray:
    """Give ``restored`` the low-frequency colour of ``original`` (both ``(h, w, 3)`` float).

    The Gaussian low-pass of the difference is taken on a grid reduced by up to
    ``sigma_px / 4`` (area averaging, then bilinear back up): at these widths it
    differs from the full-size blur by far less than a code value and costs a
    fraction of it.
    """
    if sigma_px <= 0:
        return restored
    diff = original - restored
    h, w = diff.shape[:2]
    d = int(max(1, min(sigma_px / 4.0, min(h, w) / 8.0)))
    if d > 1:
        small = cv2.resize(diff, (max(1, round(w / d)), max(1, round(h / d))),
                           interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), sigma_px / d,
                                 borderType=cv2.BORDER_REFLECT_101)
        diff = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        diff = cv2.GaussianBlur(diff, (0, 0), sigma_px, borderType=cv2.BORDER_REFLECT_101)
    return np.clip(restored + diff, 0.0, 1.0)


def blend(original: np.ndarray, restored: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``original * (1 - w) + restored * w`` per pixel (float32)."""
    w = weight[..., None]
    return (original * (1.0 - w) + restored * w).astype(np.float32)
