"""Alignment of a detected face to the model's framing (no torch needed).

The core pipeline's :func:`retouch.align.align_face` uses its own canonical
framing; a learned model expects the framing it was trained on (FFHQ's by
default, see :class:`~retouch.learn.config.Framing`). This builds the same kind
of :class:`~retouch.types.Alignment` (a similarity transform, eyes level) for
any framing, so the core's ``warp_to_crop`` and ``warp_mask_to_image`` apply.
"""

from __future__ import annotations

import numpy as np

from ..align import eye_centres, eye_similarity
from ..types import Alignment, Face
from .config import Framing


def framing_alignment(face: Face, size: int, framing: Framing) -> Alignment:
    """Similarity transform putting ``face``'s eyes where ``framing`` says in a ``size`` crop.

    Args:
        face: a face with a 478-point mesh (image coordinates).
        size: crop side in pixels.
        framing: inter-ocular distance and eye midpoint as fractions of ``size``.

    Returns:
        An :class:`~retouch.types.Alignment` of side ``size``; ``scale`` is crop
        pixels per image pixel.

    Raises:
        ValueError: the face has no landmarks or its eyes coincide.
    """
    return eye_similarity(face, int(size), framing.iod_frac, (framing.eye_x, framing.eye_y))


def largest_face(faces: list[Face]) -> Face | None:
    """The usable face (landmarks, no skip reason) with the widest eye distance, or ``None``."""
    best, best_iod = None, -1.0
    for f in faces:
        if f.skip_reason is not None or f.landmarks_xy is None:
            continue
        r, left = eye_centres(f.landmarks_xy)
        iod = float(np.hypot(*(left - r)))
        if iod > best_iod:
            best, best_iod = f, iod
    return best
