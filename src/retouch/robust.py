"""Robust statistics of residuals (noise scales that outliers such as spots do not inflate)."""

from __future__ import annotations

import numpy as np


def thin(v: np.ndarray, n: int = 40_000) -> np.ndarray:
    """An evenly strided subsample of at most ~``n`` values of 1-D ``v`` (for robust statistics)."""
    step = max(1, v.size // n)
    return v[::step]


def mad_sigma(v: np.ndarray) -> float:
    """Gaussian-equivalent scale of 1-D ``v`` from its median absolute deviation (1.0 if empty)."""
    v = thin(v)
    if v.size == 0:
        return 1.0
    med = np.median(v)
    return float(1.4826 * np.median(np.abs(v - med)))


def one_sided_sigma(v: np.ndarray, *, positive: bool) -> float:
    """Noise scale from one side of a zero-centred residual (robust to one-sided outliers).

    ``v`` is 1-D; ``positive`` picks the side. 1.0 when that side has fewer than 10 values.
    """
    v = thin(v, 80_000)
    side = v[v > 0] if positive else -v[v < 0]
    if side.size < 10:
        return 1.0
    return float(1.4826 * np.median(side))
