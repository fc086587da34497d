"""Blind face restoration: repair blurry, noisy, low-resolution and compressed faces.

>>> from retouch.imageio import load_image
>>> from retouch.restore import restore
>>> result = restore(load_image("old_photo.jpg"), fidelity=0.5)   # doctest: +SKIP
>>> result.image, result.report["faces"][0]["estimate"]            # doctest: +SKIP

The built-in engine (CPU, no model weights) measures each face's degradations
(blur sigma, noise level, JPEG quality, effective resolution) and runs only the
steps those call for: JPEG deblocking, texture-keeping denoising, deblurring
with the measured kernel, and upscaling from the effective resolution. See
``docs/restore.md``.
"""

from __future__ import annotations

from ._api import RestoreResult, restore
from ._chain import THRESHOLDS, RegionEstimate, RegionResult, restore_region

__all__ = [
    "THRESHOLDS",
    "RegionEstimate",
    "RegionResult",
    "RestoreResult",
    "restore",
    "restore_region",
]
