"""A sample photo for demos and the README Quick start, made on the fly.

The portrait is matplotlib's bundled public-domain photo of Grace Hopper
(``mpl-data/sample_data/grace_hopper.jpg``, U.S. Navy photo; matplotlib is a
dependency already). Realistic acne, red spots and dark spots are planted on
its skin by :mod:`retouch.synth` with a fixed seed, so the sample is the same
on every machine and nothing is downloaded.
"""

from __future__ import annotations

import numpy as np


def sample_face(seed: int = 7) -> np.ndarray:
    """The sample portrait with planted blemishes: ``(600, 512, 3) uint8`` RGB."""
    import matplotlib.cbook as cbook
    from PIL import Image

    from .synth import face_skin_mask, plant_blemishes

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        clean = np.asarray(Image.open(f).convert("RGB"))
    skin, face_size = face_skin_mask(clean)
    planted = plant_blemishes(clean, skin, face_size_px=face_size,
                              counts={"acne": 5, "red_spot": 3, "dark_spot": 3}, rng=seed)
    return planted.image
