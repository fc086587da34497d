"""Labelled before/after strips of an edit over several amounts (for people to look at)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import cv2
import numpy as np

from ..pipeline import FaceAnalysis
from ..types import ImageData
from ._apply import apply_edits
from ._request import EditRequest


def face_window(fa: FaceAnalysis, shape_hw: tuple[int, int], *, scale: float = 1.5,
                down: float = 0.35) -> tuple[int, int, int, int]:
    """Square image box ``(x0, y0, x1, y1)`` around a face (``scale`` iod half-side,
    centre ``down`` iod below the landmarks' mean)."""
    p = fa.face.landmarks_xy
    iod = float(np.linalg.norm(p[468] - p[473]))
    cx, cy = float(p[:, 0].mean()), float(p[:, 1].mean()) + down * iod
    r = scale * iod * 1.25
    H, W = shape_hw
    x0, y0 = int(max(0, cx - r)), int(max(0, cy - r))
    x1, y1 = int(min(W, cx + r)), int(min(H, cy + r))
    return x0, y0, x1, y1


def label(tile: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` on a dark band at the top of an ``(h, w, 3) uint8`` tile."""
    out = tile.copy()
    band = max(14, out.shape[0] // 14)
    out[:band] = (out[:band].astype(np.float32) * 0.35).astype(np.uint8)
    cv2.putText(out, text, (4, int(band * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, band / 30.0,
                (255, 255, 255), 1, cv2.LINE_AA)
    return out


def render_grid(data: ImageData, fa: FaceAnalysis, req: EditRequest,
                amounts: Sequence[float], *, tile: int = 256) -> np.ndarray:
    """One row of face crops of ``req`` at each amount (``uint8`` RGB).

    The ``0`` tile is the input; every tile is labelled with the amount.
    """
    box = face_window(fa, data.pixels.shape[:2])
    x0, y0, x1, y1 = box
    tiles = []
    for a in amounts:
        a = float(np.clip(a, req.spec.amount_min, 1.0))
        img = data.pixels if a == 0 else apply_edits(data, [fa], [replace(req, amount=a)]).image
        crop = img[y0:y1, x0:x1]
        if crop.dtype != np.uint8:
            crop = (crop >> 8).astype(np.uint8)
        crop = cv2.resize(crop, (tile, tile), interpolation=cv2.INTER_AREA)
        tiles.append(label(crop, f"{req.name} {a:+.2f}" if a else "input"))
    return np.hstack(tiles)
