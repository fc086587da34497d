"""Training data: FFHQR pairs, unpaired raw / clean folders, synthetic pairs.

Layouts
-------
* **FFHQR** (as in the seed): ``face_retouching/{train,test}/{source,target}/NAME.png``;
  a source and a target with the same file name form a pair. The images are
  FFHQ-aligned already and are only resized to the model size.
* **Unpaired folders**: any images; ``raw_dirs`` hold unretouched faces,
  ``clean_dirs`` clean ones. With ``data.align`` they are aligned to the model
  framing with the face detector once, when the data is opened (kept in memory:
  pre-align big folders instead).
* **Synthetic pairs** (``synthetic_dirs``): each clean photo is aligned to the
  model framing at ``prep_size``, its skin found with
  :func:`retouch.synth.face_skin_mask`, and realistic acne, red and dark spots
  are planted with :func:`retouch.synth.plant_blemishes` (the core benchmark's
  planter); the pair is (planted, clean), resized to the model size.

Semi-supervision
----------------
``paired_fraction`` keeps that share of the FFHQR training pairs as pairs
(a seeded random subset); the sources of the others join the raw pool and
their targets the clean pool, drawn independently so the pairing is lost.

Determinism
-----------
A sample depends only on ``(seed, kind, step, slot)``: every random choice (which
image, flip, planting seed) comes from ``numpy.random.default_rng([seed, kind,
step, slot])``. Resuming at step ``s`` therefore sees exactly the data an
uninterrupted run would, and ``N`` DDP processes with batch ``B`` (slots
``rank * B ...``) see the same samples as one process with batch ``N * B``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import InvalidInputError
from .config import DataConfig, Framing

#: File extensions read as images.
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
#: Sample kinds, with the integer mixed into the seed.
KINDS = {"pair": 1, "raw": 2, "clean": 3, "prior": 4, "fixed": 5}


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInputError(f"{folder}: image folder not found")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())


def read_rgb(path: str | Path) -> np.ndarray:
    """``(H, W, 3) uint8`` RGB of an image file (EXIF orientation applied)."""
    from ..imageio import load_image

    data = load_image(path)
    px = data.pixels
    return px if px.dtype == np.uint8 else (px >> 8).astype(np.uint8)


def resize_square(img: np.ndarray, size: int) -> np.ndarray:
    """Resize ``(H, W, 3) uint8`` to ``(size, size, 3)`` (area when shrinking)."""
    if img.shape[0] == size and img.shape[1] == size:
        return img
    interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(img, (size, size), interpolation=interp)


def ffhqr_pairs(root: str | Path, split: str = "train") -> list[tuple[Path, Path]]:
    """``(source, target)`` paths of an FFHQR-layout folder's ``split``.

    ``root`` is the ``face_retouching`` folder (or directly the split folder).

    Raises:
        InvalidInputError: the layout is missing or holds no pairs.
    """
    root = Path(root)
    base = root / split if (root / split / "source").is_dir() else root
    src_dir, tgt_dir = base / "source", base / "target"
    if not src_dir.is_dir() or not tgt_dir.is_dir():
        raise InvalidInputError(
            f"{root}: expected the FFHQR layout {split}/source/ and {split}/target/ "
            "(face_retouching/{train,test}/{source,target}/NAME.png)")
    targets = {p.name: p for p in list_images(tgt_dir)}
    pairs = [(s, targets[s.name]) for s in list_images(src_dir) if s.name in targets]
    if not pairs:
        raise InvalidInputError(f"{base}: no source/target pairs with matching file names")
    return pairs


def align_photo(img: np.ndarray, size: int, framing: Framing) -> np.ndarray | None:
    """Crop the largest face of ``img`` to ``framing`` at ``size`` px, or ``None``."""
    from ..align import warp_to_crop
    from ..detect import get_detector
    from ._align import framing_alignment, largest_face

    face = largest_face(get_detector().detect(img))
    if face is None:
        return None
    return warp_to_crop(img, framing_alignment(face, size, framing))


@dataclass
class _SynthItem:
    crop: np.ndarray        # (P, P, 3) uint8 aligned clean face
    skin: np.ndarray        # (P, P) bool
    face_size: float        # face width in crop px
    name: str


class TrainingData:
    """Every training image pool, and deterministic sampling from them.

    Args:
        cfg: the data section of the config.
        size: model input side ``S``.
        framing: model framing (for aligning photos).
        seed: experiment seed.

    Pools: ``pairs`` (FFHQR paired subset + synthetic photos), ``raw``, ``clean``
    and ``prior`` (every clean image: all FFHQR targets, clean folders,
    synthetic photos), used to pretrain the clean-face prior.
    """

    def __init__(self, cfg: DataConfig, size: int, framing: Framing, seed: int) -> None:
        self.cfg, self.size, self.framing, self.seed = cfg, size, framing, seed
        self.pairs: list[tuple[str, Any]] = []
        self.raw: list[Any] = []
        self.clean: list[Any] = []
        self.prior: list[Any] = []
        self._synth: list[_SynthItem] = []
        self._memo: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        if cfg.ffhqr:
            all_pairs = ffhqr_pairs(cfg.ffhqr, "train")
            order = np.random.default_rng([seed, 99]).permutation(len(all_pairs))
            n_paired = int(round(cfg.paired_fraction * len(all_pairs)))
            for k, i in enumerate(order):
                s, t = all_pairs[i]
                if k < n_paired:
                    self.pairs.append(("ffhqr", (s, t)))
                else:
                    self.raw.append(s)
                    self.clean.append(t)
            self.prior += [t for _, t in all_pairs]
        for d in cfg.raw_dirs:
            self.raw += self._folder(d)
        for d in cfg.clean_dirs:
            imgs = self._folder(d)
            self.clean += imgs
            self.prior += imgs
        for d in cfg.synthetic_dirs:
            self._add_synthetic(d)
        if not self.pairs:
            raise InvalidInputError(
                "no paired training data: give data.ffhqr with paired_fraction > 0, or "
                "data.synthetic_dirs (clean face photos to plant blemishes on)")

    # -- pools ------------------------------------------------------------------
    def _folder(self, d: str) -> list[Any]:
        paths = list_images(d)
        if not self.cfg.align:
            return list(paths)
        out: list[Any] = []
        for p in paths:
            crop = align_photo(read_rgb(p), self.size, self.framing)
            if crop is None:
                warnings.warn(f"{p}: no face found; skipped", RuntimeWarning, stacklevel=2)
            else:
                out.append(crop)
        return out

    def _add_synthetic(self, d: str) -> None:
        from ..synth import NoFaceFoundError, face_skin_mask

        for p in list_images(d):
            crop = align_photo(read_rgb(p), self.cfg.prep_size, self.framing)
            if crop is None:
                warnings.warn(f"{p}: no face found; skipped", RuntimeWarning, stacklevel=2)
                continue
            try:
                skin, face_size = face_skin_mask(crop)
            except NoFaceFoundError:
                warnings.warn(f"{p}: no face mesh on the aligned crop; skipped",
                              RuntimeWarning, stacklevel=2)
                continue
            k = len(self._synth)
            self._synth.append(_SynthItem(crop, skin, face_size, p.name))
            self.pairs.append(("synthetic", k))
            self.prior.append(("synthetic_clean", k))

    def summary(self) -> dict[str, int]:
        """Pool sizes (what the trainer logs at start)."""
        n_syn = len(self._synth)
        return {"pairs": len(self.pairs), "ffhqr_pairs": len(self.pairs) - n_syn,
                "synthetic_photos": n_syn, "raw": len(self.raw), "clean": len(self.clean),
                "prior": len(self.prior)}

    # -- loading ----------------------------------------------------------------
    def _image(self, ref: Any) -> np.ndarray:
        if isinstance(ref, np.ndarray):
            return resize_square(ref, self.size)
        if isinstance(ref, tuple) and ref[0] == "synthetic_clean":
            return resize_square(self._synth[ref[1]].crop, self.size)
        return resize_square(read_rgb(ref), self.size)

    def _planted(self, k: int, plant_seed: int) -> tuple[np.ndarray, np.ndarray]:
        from ..synth import plant_blemishes

        key = (k, plant_seed)
        if key in self._memo:
            return self._memo[key]
        it = self._synth[k]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "planted fewer": fine here
            p = plant_blemishes(it.crop, it.skin,
                                face_size_px=it.face_size * self.cfg.blemish_scale,
                                counts=self.cfg.blemish_counts,
                                rng=np.random.default_rng([self.seed, 7, k, plant_seed]))
        out = (resize_square(p.image, self.size), resize_square(it.crop, self.size))
        if self.cfg.synthetic_variants > 0:
            self._memo[key] = out
        return out

    def _pair(self, rng: np.random.Generator, index: int | None = None) -> tuple[np.ndarray,
                                                                                 np.ndarray]:
        kind, ref = self.pairs[int(rng.integers(len(self.pairs))) if index is None else index]
        if kind == "ffhqr":
            return self._image(ref[0]), self._image(ref[1])
        variants = self.cfg.synthetic_variants
        plant_seed = int(rng.integers(variants)) if variants > 0 else int(rng.integers(2**31))
        return self._planted(ref, plant_seed)

    def sample(self, kind: str, step: int, slot: int) -> dict[str, np.ndarray]:
        """One sample of ``kind`` for ``(step, slot)``: arrays ``(S, S, 3) uint8``.

        ``"pair"`` -> ``{"source", "target"}``; ``"raw"`` -> ``{"raw"}``;
        ``"clean"`` -> ``{"clean"}``; ``"prior"`` -> ``{"clean"}`` from the prior
        pool; ``"fixed"`` -> the ``slot``-th pair without flipping (sample grids).
        """
        rng = np.random.default_rng([self.seed, KINDS[kind], step, slot])
        if kind == "fixed":
            src, tgt = self._pair(rng, slot % len(self.pairs))
            return {"source": src, "target": tgt}
        flip = self.cfg.flip and bool(rng.integers(2))
        if kind == "pair":
            src, tgt = self._pair(rng)
            out = {"source": src, "target": tgt}
        else:
            pool = {"raw": self.raw, "clean": self.clean, "prior": self.prior}[kind]
            if not pool:
                raise InvalidInputError(f"the {kind} pool is empty")
            img = self._image(pool[int(rng.integers(len(pool)))])
            out = {"raw" if kind == "raw" else "clean": img}
        if flip:
            out = {k: np.ascontiguousarray(v[:, ::-1]) for k, v in out.items()}
        return out

    def kinds(self, stage: str) -> list[str]:
        """Sample kinds drawn each step of ``stage`` (``"prior"`` or ``"main"``)."""
        if stage == "prior":
            return ["prior"]
        return ["pair"] + (["raw"] if self.raw else []) + (["clean"] if self.clean else [])


class StepDataset:
    """Map-style dataset of ``(step, slot)`` samples for a torch ``DataLoader``.

    Item ``i`` is step ``start + i // batch``, slot ``rank * batch + i % batch``;
    it returns ``{name: float32 tensor (3, S, S) in [0, 1]}`` for every kind of
    the stage. Use it with ``shuffle=False`` and ``batch_size=batch``.
    """

    def __init__(self, data: TrainingData, stage: str, start: int, stop: int, batch: int,
                 rank: int = 0) -> None:
        self.data, self.kinds = data, data.kinds(stage)
        self.start, self.stop, self.batch, self.rank = start, stop, batch, rank

    def __len__(self) -> int:
        return max(0, self.stop - self.start) * self.batch

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        step = self.start + i // self.batch
        slot = self.rank * self.batch + i % self.batch
        out: dict[str, Any] = {}
        for kind in self.kinds:
            for name, arr in self.data.sample(kind, step, slot).items():
                out[name] = torch.from_numpy(arr.transpose(2, 0, 1).astype(np.float32) / 255.0)
        return out


def iterate_pairs(root: str | Path, split: str = "test",
                  limit: int | None = None) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(name, source, target)`` ``uint8`` arrays of an FFHQR-layout split."""
    pairs = ffhqr_pairs(root, split)
    for s, t in pairs[:limit] if limit else pairs:
        yield s.name, read_rgb(s), read_rgb(t)


def write_synthetic_pairs(clean_dir: str | Path, out_root: str | Path, *, split: str = "test",
                          size: int = 256, seeds: tuple[int, ...] = (0,),
                          framing: Framing | None = None, blemish_scale: float = 1.0,
                          prep_size: int = 512) -> list[str]:
    """Write synthetic pairs of every clean photo in ``clean_dir`` in the FFHQR layout.

    Each photo is aligned to ``framing`` at ``prep_size``, blemishes are planted
    with each seed of ``seeds``, and ``(planted, clean)`` resized to ``size`` go to
    ``out_root/{split}/source/NAME_sSEED.png`` and ``.../target/`` -- a held-out
    test set for ``retouch eval`` when FFHQR is not at hand.

    Returns:
        The file names written.
    """
    from PIL import Image

    from ..synth import face_skin_mask, plant_blemishes

    framing = framing or Framing()
    out_root = Path(out_root)
    (out_root / split / "source").mkdir(parents=True, exist_ok=True)
    (out_root / split / "target").mkdir(parents=True, exist_ok=True)
    names = []
    for p in list_images(clean_dir):
        crop = align_photo(read_rgb(p), prep_size, framing)
        if crop is None:
            warnings.warn(f"{p}: no face found; skipped", RuntimeWarning, stacklevel=2)
            continue
        skin, face_size = face_skin_mask(crop)
        for seed in seeds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                planted = plant_blemishes(crop, skin, face_size_px=face_size * blemish_scale,
                                          rng=seed)
            name = f"{p.stem}_s{seed}.png"
            Image.fromarray(resize_square(planted.image, size)).save(
                out_root / split / "source" / name)
            Image.fromarray(resize_square(crop, size)).save(out_root / split / "target" / name)
            names.append(name)
    return names
