"""Per-face working context shared by the appearance edits.

Holds the face frame, the landmarks after any structure edits, the total
crop-space warp (so parsed masks follow the moved features) and helpers to
bring crop maps into image boxes and to read / convert image boxes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..parse import person_mask
from ._field import Box, box_of_mask, union_box
from ._frame import FaceFrame
from ._render import crop_to_image, image_box, warp_crop_map


@dataclass
class FaceContext:
    """Mutable per-face state while a request list is applied.

    Attributes:
        frame: the face frame (original geometry).
        pts: ``(478, 2)`` crop landmarks after the structure edits so far.
        total: ``(CH, S, 2) float32`` canvas backward field (zeros until a warp).
        moved_box: crop box where ``total`` is non-zero, or ``None``.
        pixels: the photo being edited (``(H, W, 3)`` uint8/uint16, shared).
        maxv: largest code value of ``pixels``.
    """

    frame: FaceFrame
    pts: np.ndarray
    total: np.ndarray
    pixels: np.ndarray
    maxv: float
    moved_box: Box | None = None
    _person: np.ndarray | None = field(default=None, repr=False)
    _warped: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def iod_img(self) -> float:
        """Inter-ocular distance in image pixels."""
        return self.frame.iod * self.frame.image_px

    def current(self, crop_map: np.ndarray) -> np.ndarray:
        """A canvas map from the original geometry, moved by the warps so far."""
        if self.moved_box is None:
            return crop_map
        key = id(crop_map)
        hit = self._warped.get(key)
        if hit is None or hit[0] is not crop_map:
            hit = (crop_map, warp_crop_map(crop_map, self.total, self.moved_box))
            self._warped[key] = hit
        return hit[1]

    def mask(self, name: str) -> np.ndarray:
        """Parsed region ``name`` in the current geometry, ``(CH, S) float32``."""
        return self.current(self.frame.mask(name))

    def box_for(self, crop_alpha: np.ndarray, pad_crop: float = 2.0) -> Box | None:
        """Image box covering ``crop_alpha > 0`` (``None`` if empty)."""
        cb = box_of_mask(crop_alpha, pad_crop)
        return None if cb is None else self.image_box_of(cb)

    def image_box_of(self, cbox: Box) -> Box | None:
        """Image box covering canvas box ``cbox`` (``None`` if degenerate)."""
        H, W = self.pixels.shape[:2]
        b = image_box(self.frame.alignment, cbox, 2.0, (H, W))
        return b if b[2] - b[0] >= 2 and b[3] - b[1] >= 2 else None

    def to_box(self, crop_map: np.ndarray, ibox: Box) -> np.ndarray:
        """A whole-crop map sampled at the pixels of image box ``ibox``."""
        return crop_to_image(crop_map, self.frame.alignment, ibox)

    def to_grid(self, canvas_map: np.ndarray, ibox: Box, size_wh: tuple[int, int]
                ) -> np.ndarray:
        """A canvas map sampled on a ``size_wh`` grid spanning image box ``ibox``."""
        x0, y0, x1, y1 = ibox
        w, h = size_wh
        sx, sy = (x1 - x0) / w, (y1 - y0) / h
        m = self.frame.alignment.matrix
        a = m[:, :2] @ np.diag([sx, sy])
        off = m[:, :2] @ np.array([x0 + 0.5 * sx - 0.5, y0 + 0.5 * sy - 0.5]) + m[:, 2]
        return cv2.warpAffine(canvas_map.astype(np.float32), np.hstack([a, off[:, None]]),
                              (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def read01(self, ibox: Box) -> np.ndarray:
        """``(h, w, 3) float32`` RGB in ``[0, 1]`` of the current photo in ``ibox``."""
        x0, y0, x1, y1 = ibox
        return self.pixels[y0:y1, x0:x1].astype(np.float32) * np.float32(1.0 / self.maxv)

    def person(self) -> np.ndarray:
        """Selfie-segmentation person mask, ``(CH, S) float32`` canvas (original geometry)."""
        if self._person is None:
            al = self.frame.alignment
            n = 256
            CH, S = self.frame.shape
            m = al.matrix * (n / al.size)
            px = self.pixels
            px8 = px if px.dtype == np.uint8 else (px >> 8).astype(np.uint8)
            small = cv2.warpAffine(px8, m, (n, int(round(n * CH / S))), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)
            pm = person_mask(small)
            self._person = cv2.resize(pm, (S, CH), interpolation=cv2.INTER_LINEAR)
        return self._person

    def grow_moved(self, box: Box) -> None:
        """Record that ``total`` changed inside ``box`` (invalidates warped maps)."""
        self.moved_box = union_box(self.moved_box, box)
        self._warped.clear()


def to_lab(rgb01: np.ndarray) -> np.ndarray:
    """CIE Lab (``L`` in [0, 100]) of ``(..., 3) float32`` sRGB in [0, 1]."""
    return cv2.cvtColor(np.ascontiguousarray(rgb01, dtype=np.float32), cv2.COLOR_RGB2Lab)


def to_rgb(lab: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] of a Lab array (clipped)."""
    return np.clip(cv2.cvtColor(np.ascontiguousarray(lab, dtype=np.float32),
                                cv2.COLOR_Lab2RGB), 0.0, 1.0)


def gauss(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` px (reduced grid when large)."""
    sigma = max(0.3, float(sigma))
    f = int(sigma // 4)
    if f >= 2:
        h, w = x.shape[:2]
        small = cv2.resize(x, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), sigma / f, borderType=cv2.BORDER_REFLECT)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def weighted_blur(x: np.ndarray, w: np.ndarray, sigma: float) -> np.ndarray:
    """Normalized convolution ``G*(x w) / G*w`` (``x`` ``(h, w[, C])``, ``w`` ``(h, w)``)."""
    xw = x * (w[..., None] if x.ndim == 3 else w)
    num = gauss(xw, sigma)
    den = np.maximum(gauss(w, sigma), 1e-6)
    return num / (den[..., None] if x.ndim == 3 else den)


def wmean(v: np.ndarray, w: np.ndarray) -> float:
    """Weighted mean of ``v`` (any shape) with weights ``w`` (same shape)."""
    s = float(w.sum())
    return float((v * w).sum() / s) if s > 1e-6 else float(v.mean()) if v.size else 0.0


def feather(m: np.ndarray, sigma: float) -> np.ndarray:
    """Soft version of a crop mask: Gaussian of ``sigma`` crop px, clipped to [0, 1]."""
    return np.clip(cv2.GaussianBlur(m.astype(np.float32), (0, 0), max(0.3, sigma)), 0.0, 1.0)


def grow(m: np.ndarray, r: float) -> np.ndarray:
    """Dilate (``r > 0``) or erode (``r < 0``) a canvas mask by ``|r|`` px (float32 0/1).

    Uses a Euclidean distance transform, so the cost does not depend on ``r``.
    """
    b = m > 0.5
    if abs(r) < 0.5:
        return b.astype(np.float32)
    if r > 0:
        dist = cv2.distanceTransform((~b).astype(np.uint8), cv2.DIST_L2, 3)
        return (dist <= r).astype(np.float32)
    dist = cv2.distanceTransform(b.astype(np.uint8), cv2.DIST_L2, 3)
    return (dist > -r).astype(np.float32)
