"""Training data of the learned restorer: clean faces, degraded on the fly.

Layout: FFHQ-style folders of clean, aligned faces -- images anywhere below
each folder of ``data.dirs`` (``images1024x1024/00000/00000.png`` or a flat
``train/NNNNN.png``), sorted by relative path. With ``data.align`` photos are
aligned to the model framing with the face detector when the data is opened
(:func:`retouch.learn.data.align_photo`).

A pair is made from one clean face: resized (area) to ``data.prep_size``,
degraded there by :func:`retouch.degrade.apply_degradation` with a degradation
drawn by :func:`retouch.degrade.sample_degradation` from
``data.degradation_ranges()`` (blur 19-41 px kernels, sigma 0.1-10,
downsampling x0.8-8, noise 0-20, JPEG 60-100 for ``"standard"``), quantized to
8 bits, and both images resized (area) to the model size.

Determinism: as in :mod:`retouch.learn.data`, a sample depends only on
``(seed, kind, step, slot)`` (``numpy.random.default_rng``); with
``data.variants = N`` the degradation of an image is one of ``N`` fixed
draws. The object implements the ``kinds(stage)`` / ``sample(kind, step,
slot)`` protocol of :class:`retouch.learn.data.StepDataset`, so the same
DataLoader machinery (and DDP slotting) serves both learned models.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ...degrade import Degradation, apply_degradation, sample_degradation
from ...errors import InvalidInputError
from ..config import Framing
from ..data import IMAGE_EXTS, align_photo, read_rgb, resize_square
from .config import RestoreDataConfig

#: Sample kinds, with the integer mixed into the seed.
KINDS = {"clean": 11, "pair": 12, "fixed": 13}


def list_faces(folder: str | Path) -> list[Path]:
    """Image files anywhere below ``folder`` (FFHQ layout), sorted by relative path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInputError(f"{folder}: face folder not found")
    return sorted((p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS
                   and p.is_file() and not any(s.startswith(".") for s in
                                               p.relative_to(folder).parts)),
                  key=lambda p: p.relative_to(folder).as_posix())


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Float ``[0, 1]`` -> ``uint8`` (rounded, clipped)."""
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def degrade_pair(clean_prep: np.ndarray, deg: Degradation, size: int,
                 rng: np.random.Generator | int) -> tuple[np.ndarray, np.ndarray]:
    """``(degraded, clean)`` ``(size, size, 3) uint8`` from a clean ``(P, P, 3) uint8`` face.

    The degradation is applied at ``P`` (its noise drawn from ``rng``), the
    result quantized to 8 bits, and both images resized (area) to ``size``.
    """
    low = to_uint8(apply_degradation(clean_prep, deg, seed=rng))
    return resize_square(low, size), resize_square(clean_prep, size)


class RestoreData:
    """Clean-face pool and deterministic degraded pairs (see the module docstring).

    Args:
        cfg: the data section.
        size: model side ``S``.
        framing: model framing (for ``align``).
        seed: experiment seed.
    """

    def __init__(self, cfg: RestoreDataConfig, size: int, framing: Framing, seed: int) -> None:
        self.cfg, self.size, self.framing, self.seed = cfg, size, framing, seed
        self.ranges = cfg.degradation_ranges()
        self.items: list[Any] = []
        if not cfg.dirs:
            raise InvalidInputError("no training faces: give data.dirs (folders of clean, "
                                    "aligned faces in the FFHQ layout)")
        for d in cfg.dirs:
            paths = list_faces(d)
            if not cfg.align:
                self.items += paths
                continue
            for p in paths:
                crop = align_photo(read_rgb(p), cfg.prep_size, framing)
                if crop is None:
                    warnings.warn(f"{p}: no face found; skipped", RuntimeWarning, stacklevel=2)
                else:
                    self.items.append(crop)
        if not self.items:
            raise InvalidInputError(f"no face images found in {', '.join(cfg.dirs)}")

    def summary(self) -> dict[str, Any]:
        """Pool size and ranges (what the trainer logs at start)."""
        return {"faces": len(self.items), "prep_size": self.cfg.prep_size,
                "ranges": self.cfg.ranges, "variants": self.cfg.variants}

    def clean_prep(self, index: int) -> np.ndarray:
        """Face ``index`` as ``(P, P, 3) uint8`` at ``data.prep_size``."""
        ref = self.items[index]
        img = ref if isinstance(ref, np.ndarray) else read_rgb(ref)
        return resize_square(img, self.cfg.prep_size)

    def degradation(self, index: int, draw: int) -> tuple[Degradation, np.random.Generator]:
        """Degradation ``draw`` of face ``index`` and the generator of its noise."""
        rng = np.random.default_rng([self.seed, 21, index, draw])
        return sample_degradation(rng, self.ranges), rng

    def pair(self, index: int, draw: int) -> tuple[np.ndarray, np.ndarray]:
        """``(degraded, clean)`` ``(S, S, 3) uint8`` of face ``index``, degradation ``draw``."""
        deg, rng = self.degradation(index, draw)
        return degrade_pair(self.clean_prep(index), deg, self.size, rng)

    def sample(self, kind: str, step: int, slot: int) -> dict[str, np.ndarray]:
        """One sample for ``(step, slot)``: arrays ``(S, S, 3) uint8``.

        ``"clean"`` -> ``{"clean"}``; ``"pair"`` -> ``{"degraded", "clean"}``;
        ``"fixed"`` -> pair ``slot`` of the sample grids (face ``slot``, draw 0,
        never flipped).
        """
        rng = np.random.default_rng([self.seed, KINDS[kind], step, slot])
        n = len(self.items)
        if kind == "fixed":
            deg, clean = self.pair(slot % n, 0)
            return {"degraded": deg, "clean": clean}
        index = int(rng.integers(n))
        flip = self.cfg.flip and bool(rng.integers(2))
        if kind == "clean":
            out = {"clean": resize_square(self.clean_prep(index), self.size)}
        else:
            v = self.cfg.variants
            draw = int(rng.integers(v)) if v > 0 else int(rng.integers(2 ** 31))
            deg, clean = self.pair(index, draw)
            out = {"degraded": deg, "clean": clean}
        if flip:
            out = {k: np.ascontiguousarray(a[:, ::-1]) for k, a in out.items()}
        return out

    def kinds(self, stage: str) -> list[str]:
        """Kinds drawn each step: clean faces for ``style``, pairs otherwise."""
        return ["clean"] if stage == "style" else ["pair"]
