"""Synthetic data for benchmarks and training: realistic planted skin blemishes.

See :mod:`retouch.synth.blemishes` for the model. Typical use::

    from retouch.synth import face_skin_mask, plant_blemishes

    skin, face_size = face_skin_mask(clean_rgb)
    planted = plant_blemishes(clean_rgb, skin, face_size_px=face_size, rng=0)
    planted.image        # (H, W, 3) uint8 RGB with blemishes
    planted.union_mask   # (H, W) bool, every pixel that differs from ``clean_rgb``
"""

from __future__ import annotations

from retouch.synth.blemishes import (
    DEFAULT_COUNTS,
    SYNTH_TYPES,
    NoFaceFoundError,
    PlantedBlemishes,
    PlantedInstance,
    delta_e76,
    face_skin_mask,
    linear_to_srgb,
    plant_blemishes,
    srgb_to_lab,
    srgb_to_linear,
)

__all__ = [
    "DEFAULT_COUNTS",
    "SYNTH_TYPES",
    "NoFaceFoundError",
    "PlantedBlemishes",
    "PlantedInstance",
    "delta_e76",
    "face_skin_mask",
    "linear_to_srgb",
    "plant_blemishes",
    "srgb_to_lab",
    "srgb_to_linear",
]
