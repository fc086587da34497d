"""The learned restoration engine: a trained VSPBFR-style checkpoint inside ``retouch restore``.

``retouch restore INPUT -o OUT --checkpoint CK`` (or
``restore(data, engine=LearnedRestorer.load(CK))``) keeps the built-in
engine's detection, report and paste-back and replaces the per-face
restoration. Per detected face (with landmarks):

1. **Align** to the checkpoint's framing at its resolution ``S``
   (:func:`retouch.learn._align.framing_alignment`, FFHQ framing by default;
   the crop is sampled from the photo with the core's ``warp_to_crop``).
2. **Restore** the crop (:meth:`LearnedRestorer.restore_crop`): codes, DDIM
   sampling from noise seeded with ``seed`` (deterministic), style-modulated UNet.
3. **Paste back at the photo's resolution**: the *correction* ``restored -
   crop`` is mapped back through the exact inverse transform and added to the
   photo's own pixels in the face window (so a face larger than ``S`` keeps
   its resolution outside what the model changed); optionally the low
   frequencies are pulled back to the photo's (``colour_match``, as the
   built-in engine does: no degradation of the training model changes
   colour, so a colour shift is a model error); then the result is blended
   with the window weight of :mod:`retouch.restore._paste` (1 inside the
   canonical square, smoothly 0 over its outer 14 %). Pixels where the weight
   is 0 are copied from the input, bit for bit.

The network is blind: it measures no degradation, so the report's
``estimate`` is ``null`` for its faces. ``fidelity`` is not used by it (it
still applies to the built-in engine's ``--background`` pass).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...align import warp_mask_to_image, warp_to_crop
from ...errors import InvalidInputError
from ...restore._paste import COLOUR_SIGMA, colour_match, window_box, window_weight
from ...types import Alignment, Face
from .._align import framing_alignment


@dataclass(frozen=True)
class FacePatch:
    """One restored face window, ready to blend.

    Attributes:
        box_xyxy: image box ``(x0, y0, x1, y1)`` (half-open).
        image: ``(y1 - y0, x1 - x0, 3) float32`` restored pixels in ``[0, 1]``.
        weight: ``(y1 - y0, x1 - x0) float32`` blend weight in ``[0, 1]``
            (0 = keep the input pixel).
        step: the report entry of what was applied.
    """

    box_xyxy: tuple[int, int, int, int]
    image: np.ndarray
    weight: np.ndarray
    step: dict[str, Any]


class LearnedRestorer:
    """A trained restorer checkpoint as the face engine of :func:`retouch.restore.restore`.

    Use :meth:`load`. ``seed`` fixes the DDIM starting noise (the same photo
    always gives the same output); ``steps`` overrides the checkpoint's
    ``sample_steps``.
    """

    name = "learned"

    def __init__(self, model: Any, cfg: Any, meta: dict[str, Any], device: str, *,
                 seed: int = 0, steps: int | None = None, match_colour: bool = True) -> None:
        if steps is not None and not 1 <= steps <= cfg.model.timesteps:
            raise InvalidInputError(f"`steps` must be in [1, {cfg.model.timesteps}]; got {steps}")
        self.model, self.cfg, self.meta, self.device = model, cfg, meta, device
        self.seed, self.steps, self.match_colour = int(seed), steps, bool(match_colour)

    @classmethod
    def load(cls, path: str | Path, *, device: str = "auto", seed: int = 0,
             steps: int | None = None, match_colour: bool = True) -> LearnedRestorer:
        """An engine from a ``.pt`` checkpoint of ``retouch train restore`` (needs torch)."""
        from .._deps import require_torch

        torch = require_torch("retouch restore --checkpoint")
        from .checkpoint import load_restorer

        path = Path(path)
        if not path.is_file():
            raise InvalidInputError(f"{path}: checkpoint not found")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        elif device.startswith("cuda") and not torch.cuda.is_available():
            raise InvalidInputError(f"--device {device}: no CUDA GPU is available")
        model, cfg, meta = load_restorer(path, device)
        return cls(model, cfg, meta, device, seed=seed, steps=steps, match_colour=match_colour)

    @property
    def size(self) -> int:
        """The model's crop side ``S``."""
        return int(self.cfg.model.image_size)

    def describe(self) -> dict[str, Any]:
        """What the report's ``model`` entry says."""
        return {"name": self.name, "model": "vspbfr", "checkpoint": self.meta["path"],
                "stage": self.meta["stage"], "step": self.meta["step"],
                "image_size": self.size, "device": str(self.device),
                "sample_steps": self.steps or self.cfg.model.sample_steps, "seed": self.seed,
                "colour_match": self.match_colour}

    def restore_crop(self, crop: np.ndarray) -> np.ndarray:
        """``(S, S, 3) float32 [0, 1]`` degraded crop -> restored ``(S, S, 3) float32 [0, 1]``."""
        import torch

        s = self.size
        if crop.shape != (s, s, 3):
            raise InvalidInputError(f"`crop` must be ({s}, {s}, 3); got {crop.shape}")
        x = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1), np.float32))[None]
        gen = torch.Generator(device=self.device).manual_seed(self.seed)
        with torch.no_grad():
            out = self.model(x.to(self.device), generator=gen, steps=self.steps)
        return out.image[0].clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()

    def alignment(self, face: Face) -> Alignment:
        """The crop transform of ``face`` at the model's framing and size."""
        return framing_alignment(face, self.size, self.cfg.model.framing)

    def face_window(self, face: Face, shape_hw: tuple[int, int]
                    ) -> tuple[tuple[int, int, int, int], np.ndarray]:
        """``(box_xyxy, weight)`` where the face's restoration may change pixels."""
        al = self.alignment(face)
        box = window_box(al, shape_hw)
        return box, window_weight(al, box)

    def restore_face(self, img01: np.ndarray, face: Face) -> FacePatch | None:
        """Restore ``face`` of ``img01`` ``(H, W, 3) float32 [0, 1]``; ``None`` when its
        window is under 2 px or it has no landmarks."""
        if face.landmarks_xy is None:
            return None
        t0 = time.perf_counter()
        al = self.alignment(face)
        box = window_box(al, img01.shape[:2])
        x0, y0, x1, y1 = box
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        crop = warp_to_crop(img01, al).astype(np.float32)
        t1 = time.perf_counter()
        restored = self.restore_crop(crop)
        t2 = time.perf_counter()
        resid = warp_mask_to_image((restored - crop).astype(np.float32), al, box)
        orig = img01[y0:y1, x0:x1]
        patch = np.clip(orig + resid, 0.0, 1.0).astype(np.float32)
        if self.match_colour:
            patch = colour_match(patch, orig, COLOUR_SIGMA * max(x1 - x0, y1 - y0))
        weight = window_weight(al, box)
        step = {"step": "learned_restore", "model": "vspbfr", "crop_px": self.size,
                "crop_scale": round(float(al.scale), 4),
                "sample_steps": self.steps or self.cfg.model.sample_steps, "seed": self.seed,
                "align_ms": round((t1 - t0) * 1000.0, 1),
                "infer_ms": round((t2 - t1) * 1000.0, 1)}
        return FacePatch(box, patch, weight, step)
