"""Binary morphology helpers shared by the parsing and localization stages."""

from __future__ import annotations

import cv2
import numpy as np


def dilate_local(mask: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``cv2.dilate(mask, kernel) > 0`` computed only around the mask's bounding box.

    Same result as dilating the whole image, in time proportional to the box:
    for a small mask (eyes, lips, nostrils) in a large crop.

    Args:
        mask: ``(H, W) bool``.
        kernel: ``(kh, kw) uint8`` structuring element with its anchor at the centre.

    Returns:
        ``(H, W) bool``.
    """
    ys, xs = np.nonzero(mask)
    out = np.zeros(mask.shape, bool)
    if not len(xs):
        return out
    ry, rx = kernel.shape[0] // 2 + 1, kernel.shape[1] // 2 + 1
    y0, x0 = max(0, int(ys.min()) - ry), max(0, int(xs.min()) - rx)
    y1 = min(mask.shape[0], int(ys.max()) + 1 + ry)
    x1 = min(mask.shape[1], int(xs.max()) + 1 + rx)
    out[y0:y1, x0:x1] = cv2.dilate(mask[y0:y1, x0:x1].astype(np.uint8), kernel) > 0
    return out
