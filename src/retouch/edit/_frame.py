"""Crop-space geometry of one face: landmarks, masks and feature measurements.

Everything here is in the face's canonical crop (upright, eye line
horizontal; see :mod:`retouch.align`): points are ``(x, y)`` crop pixels and
``iod`` is the inter-ocular distance in crop pixels (``0.25 * S``).

Edits work on a *canvas*: the crop's coordinates, extended downward to
``CANVAS_ROWS * S`` rows, because the crop (1.6 iod above the eyes, 2.4 below)
can end at the chin on long faces while the double chin reaches into the neck.
Canvas maps are ``(CH, S) float32`` (``CH = canvas rows``); the parser's
``(S, S)`` masks are zero-padded below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from ..parse import _mesh_sets
from ..pipeline import FaceAnalysis
from ..types import Alignment

# Mesh indices (MediaPipe 478-point topology; left/right = the subject's).
RIGHT_EYE_CORNERS = (33, 133)  # outer, inner
LEFT_EYE_CORNERS = (263, 362)
RIGHT_IRIS = (468, 469, 470, 471, 472)  # centre, then ring
LEFT_IRIS = (473, 474, 475, 476, 477)
RIGHT_BROW = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55)  # upper outer->inner, lower
LEFT_BROW = (300, 293, 334, 296, 336, 276, 283, 282, 295, 285)
RIGHT_UPPER_LID = (246, 161, 160, 159, 158, 157, 173)
LEFT_UPPER_LID = (466, 388, 387, 386, 385, 384, 398)
NOSE_BRIDGE_TOP = 168
NOSE_TIP = 1
NOSE_BASE = 2  # subnasale
ALAE = (64, 294)  # outer nostril wings (right, left)
ALAE_WIDE = (129, 358)
MOUTH_CORNERS = (61, 291)
LIP_UPPER_TOP, LIP_LOWER_BOTTOM = 0, 17
LIP_INNER_TOP, LIP_INNER_BOTTOM = 13, 14
CHIN = 152

#: Canvas height in crop sides (the crop extended downward over the neck).
CANVAS_ROWS = 1.4


@lru_cache(maxsize=1)
def mesh_chains() -> dict[str, np.ndarray]:
    """Ordered mesh loops: ``oval``, ``lips_outer``, ``lips_inner``, ``right_eye``, ``left_eye``."""
    s = _mesh_sets()
    return {k: s[k] for k in ("oval", "lips_outer", "lips_inner", "right_eye", "left_eye")}


def polygon_area(xy: np.ndarray) -> float:
    """Area of a closed polygon ``(N, 2)`` (shoelace), in squared units."""
    x, y = xy[:, 0], xy[:, 1]
    return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


#: Largest working crop side: crop-space maps (fields, masks) are computed at
#: most at this size (``iod <= 128`` px), then carried to full resolution.
WORK_SIZE = 512


@dataclass(frozen=True)
class FaceFrame:
    """One face seen in its (working) canonical crop.

    The working crop is the pipeline's crop scaled by ``k = min(1, WORK_SIZE / S)``
    (same origin, same orientation), so smooth maps cost the same on every
    photo size; full-resolution pixels are only touched when rendering.

    Attributes:
        analysis: the pipeline's :class:`~retouch.pipeline.FaceAnalysis`.
        alignment: image <-> working-crop transform.
        size: working crop side ``S`` in pixels.
        iod: inter-ocular distance in working-crop pixels (``0.25 * S``).
        pts: ``(478, 2) float64`` mesh landmarks in working-crop pixels.
        image_px: image pixels per working-crop pixel.
        rows: canvas height ``CH`` in pixels (``>= S``).
        k: working-crop pixels per pipeline-crop pixel.
    """

    analysis: FaceAnalysis
    alignment: Alignment
    size: int
    iod: float
    pts: np.ndarray
    image_px: float
    rows: int
    k: float
    _padded: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, fa: FaceAnalysis, work_size: int = WORK_SIZE) -> FaceFrame:
        """Build the frame of one analysed face."""
        al0 = fa.alignment
        if fa.face.landmarks_xy is None:  # analyze() never yields these; be explicit
            raise ValueError(f"face {fa.face.index} has no landmarks")
        k = min(1.0, work_size / al0.size)
        size = int(round(al0.size * k))
        k = size / al0.size
        al = Alignment(matrix=al0.matrix * k, size=size, scale=al0.scale * k)
        pts = al.to_crop(fa.face.landmarks_xy.astype(np.float64))
        return cls(analysis=fa, alignment=al, size=size, iod=0.25 * size, pts=pts,
                   image_px=1.0 / al.scale, rows=int(round(CANVAS_ROWS * size)), k=k)

    @property
    def shape(self) -> tuple[int, int]:
        """Canvas shape ``(CH, S)``."""
        return self.rows, self.size

    def pad(self, crop_map: np.ndarray) -> np.ndarray:
        """A pipeline-crop map, resized to the working crop and zero-padded to ``(CH, S)``."""
        if crop_map.shape[0] != self.size:
            interp = cv2.INTER_LINEAR if self.k > 0.6 else cv2.INTER_AREA
            crop_map = cv2.resize(crop_map.astype(np.float32), (self.size, self.size),
                                  interpolation=interp)
        out = np.zeros(self.shape, np.float32)
        out[: crop_map.shape[0]] = crop_map
        return out

    def mask(self, name: str) -> np.ndarray:
        """Parsed region ``name`` on the canvas, ``(CH, S) float32``."""
        if name not in self._padded:
            self._padded[name] = self.pad(self.analysis.regions.masks[name])
        return self._padded[name]

    def skin_likelihood(self) -> np.ndarray:
        """The parser's skin likelihood on the canvas, ``(CH, S) float32``."""
        return self.mask_of("skin_likelihood", self.analysis.regions.skin_likelihood)

    def mask_of(self, key: str, crop_map: np.ndarray) -> np.ndarray:
        """Any ``(S, S)`` crop map on the canvas, cached under ``key``."""
        if key not in self._padded:
            self._padded[key] = self.pad(crop_map)
        return self._padded[key]

    def union(self, names: tuple[str, ...]) -> np.ndarray:
        """Union (max) of parsed regions, ``(CH, S) float32``."""
        out = np.zeros(self.shape, np.float32)
        for n in names:
            np.maximum(out, self.mask(n), out=out)
        return out

    def poly_mask(self, ids: np.ndarray | tuple[int, ...], pts: np.ndarray | None = None,
                  ) -> np.ndarray:
        """Filled polygon of mesh points ``ids`` as ``(CH, S) float32`` 0/1."""
        p = self.pts if pts is None else pts
        m = np.zeros(self.shape, np.uint8)
        poly = np.round(p[np.asarray(ids)] * 4).astype(np.int32)
        cv2.fillPoly(m, [poly], 1, lineType=cv2.LINE_8, shift=2)
        return m.astype(np.float32)


# ----------------------------------------------------------- feature measurements
# Each takes (478, 2) points (crop or image px) and returns a scalar.

def eye_area(p: np.ndarray) -> float:
    """Mean area of the two eye openings (squared units of ``p``)."""
    c = mesh_chains()
    return 0.5 * (polygon_area(p[c["right_eye"]]) + polygon_area(p[c["left_eye"]]))


def alar_width(p: np.ndarray) -> float:
    """Distance between the outer nostril wings."""
    return float(np.linalg.norm(p[ALAE[0]] - p[ALAE[1]]))


def nose_length(p: np.ndarray) -> float:
    """Distance from the top of the nose bridge to the nose base."""
    return float(np.linalg.norm(p[NOSE_BRIDGE_TOP] - p[NOSE_BASE]))


def lip_area(p: np.ndarray) -> float:
    """Area of the lips (outer lip loop minus the mouth opening)."""
    c = mesh_chains()
    return polygon_area(p[c["lips_outer"]]) - polygon_area(p[c["lips_inner"]])


def _up_axis(p: np.ndarray) -> np.ndarray:
    """Unit vector pointing up the face (image or crop), from the eye line."""
    e = p[LEFT_IRIS[0]] - p[RIGHT_IRIS[0]]
    e = e / max(1e-9, float(np.hypot(*e)))
    return np.array([e[1], -e[0]])


def corner_lift(p: np.ndarray) -> float:
    """How far the mouth corners sit above the lip centre line (along the face's up)."""
    up = _up_axis(p)
    centre = 0.5 * (p[LIP_INNER_TOP] + p[LIP_INNER_BOTTOM])
    return float(np.mean([(p[i] - centre) @ up for i in MOUTH_CORNERS]))


def brow_height(p: np.ndarray) -> float:
    """Mean height of the brow points above the upper lids (along the face's up)."""
    up = _up_axis(p)
    b = np.vstack([p[list(RIGHT_BROW)], p[list(LEFT_BROW)]]).mean(axis=0)
    lid = np.vstack([p[list(RIGHT_UPPER_LID)], p[list(LEFT_UPPER_LID)]]).mean(axis=0)
    return float((b - lid) @ up)


def jaw_width(p: np.ndarray) -> float:
    """Face width across the lower jaw: between oval points at mid mouth-to-chin height."""
    up = _up_axis(p)
    side = np.array([-up[1], up[0]])  # toward the image's right in an upright face
    oval = p[mesh_chains()["oval"]]
    mouth = 0.5 * (p[MOUTH_CORNERS[0]] + p[MOUTH_CORNERS[1]])
    level = 0.5 * ((mouth @ up) + (p[CHIN] @ up))
    h = oval @ up
    s = oval @ side
    centre = p[CHIN] @ side
    widths = []
    for sgn in (-1, 1):
        sel = (s - centre) * sgn > 0
        hs, ss = h[sel], s[sel]
        order = np.argsort(hs)
        widths.append(float(np.interp(level, hs[order], ss[order])))
    return abs(widths[1] - widths[0])
