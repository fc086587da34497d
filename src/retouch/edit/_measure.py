"""Landmark-measured effect of a structure edit (before vs after the warp)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._frame import alar_width, brow_height, corner_lift, eye_area, jaw_width, lip_area, nose_length

# name -> (quantity, function of (478, 2) points, unit: "pct" change or "px" shift)
_MEASURES: dict[str, tuple[str, Callable[[np.ndarray], float], str]] = {
    "eyes.size": ("eye_area", eye_area, "pct"),
    "nose.width": ("alar_width", alar_width, "pct"),
    "nose.length": ("nose_length", nose_length, "pct"),
    "lips.fullness": ("lip_area", lip_area, "pct"),
    "smile": ("corner_lift", corner_lift, "px"),
    "brows.raise": ("brow_height", brow_height, "px"),
    "face.slim": ("jaw_width", jaw_width, "pct"),
}


def measure_structure(name: str, before: np.ndarray, after: np.ndarray, image_px: float,
                      ) -> dict[str, Any]:
    """Report entry of a structure edit from the landmarks before and after it.

    Args:
        name: structure edit name (``double_chin`` is measured by the caller).
        before, after: ``(478, 2)`` crop landmarks.
        image_px: image pixels per crop pixel.

    Returns:
        ``{quantity}_before``/``_after`` in image px (or px^2), plus ``change_pct``
        or ``change_px``, and ``max_landmark_shift_px``.
    """
    out: dict[str, Any] = {}
    shift = float(np.max(np.linalg.norm(after - before, axis=1))) * image_px
    if name in _MEASURES:
        q, fn, unit = _MEASURES[name]
        scale = image_px**2 if q.endswith("area") else image_px
        b, a = fn(before) * scale, fn(after) * scale
        out[f"{q}_before"] = round(b, 2)
        out[f"{q}_after"] = round(a, 2)
        if unit == "pct":
            out["change_pct"] = round(100.0 * (a - b) / b, 2) if abs(b) > 1e-9 else 0.0
        else:
            out["change_px"] = round(a - b, 2)
    out["max_landmark_shift_px"] = round(shift, 2)
    return out
