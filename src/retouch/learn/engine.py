"""The learned engine: a trained RetouchFormer inside the normal retouch pipeline.

``retouch INPUT -o OUT --engine learned --checkpoint CK`` (or
``retouch(..., engine=LearnedEngine.load(CK))``) runs, per detected face:

1. **Align** the face to the model's framing at the model's resolution ``S``
   (:func:`~retouch.learn._align.framing_alignment`; the crop is sampled from
   the full-resolution photo with the core's ``warp_to_crop``).
2. **Infer**: the network returns a proposal ``p`` and a soft imperfection
   mask ``m`` ``(S, S)``.
3. **Instances**: connected regions of ``m > mask_floor`` that contain a
   confident core (``m >= 0.5``); each becomes an :class:`~retouch.types.Imperfection`
   whose *type* is a colour heuristic (redder than its surround: ``acne`` when
   small, ``red_spot`` when large; otherwise ``dark_spot``) -- the network
   itself is class-agnostic. Regions without a confident core are dropped.
4. **Paste back at full resolution**: ``alpha = ramp(m)`` (0 at ``mask_floor``,
   1 at 1) times the type's amount (``--strength``/``--only``/``--keep``), and
   the *residual* ``p - crop`` are mapped back to the photo through the exact
   inverse transform; ``out = in + alpha * residual`` only where ``alpha > 0``.
   Every other pixel is copied from the input, bit for bit.

Masks: ``removed`` and the per-type masks as with the built-in engine, plus
``learned`` (the network's soft mask, 0-255, in photo coordinates).

The engine runs either a PyTorch checkpoint (``.pt``, needs torch) or an ONNX
export (``.onnx``, needs only onnxruntime; see :mod:`retouch.learn.export`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..align import warp_mask_to_image, warp_to_crop
from ..errors import InvalidInputError
from ..types import Face, ImageData, Imperfection
from ._align import framing_alignment
from .config import RetouchFormerConfig

#: ``m`` below this is "normal skin" for paste-back (see the module docstring).
MASK_FLOOR = 0.2
#: A region is an imperfection only if its mask reaches this somewhere.
CORE_LEVEL = 0.5
#: Alpha below this is 0 (as the built-in engine: < 1/4 code value at 8 bit).
ALPHA_EPS = 1.0 / 1024


class _TorchPredictor:
    def __init__(self, path: Path, device: str) -> None:
        from ._deps import require_torch

        torch = require_torch("--engine learned with a .pt checkpoint")
        from .checkpoint import load_model

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.torch, self.device = torch, device
        self.model, self.cfg, self.meta = load_model(path, device)

    def __call__(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        torch = self.torch
        x = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)))[None].to(self.device)
        with torch.no_grad():
            out = self.model(x)
        prop = out.proposal[0].clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()
        return prop, out.masks[0][0, 0].float().cpu().numpy()


class _OnnxPredictor:
    def __init__(self, path: Path) -> None:
        from ._deps import require

        ort = require("onnxruntime", "--engine learned with an .onnx model")
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        props = self.session.get_modelmeta().custom_metadata_map
        if "retouch_config" not in props:
            raise InvalidInputError(f"{path}: ONNX model has no retouch_config metadata "
                                    "(export it with `retouch export retouchformer`)")
        self.cfg = RetouchFormerConfig.from_dict(json.loads(props["retouch_config"]))
        self.meta = {"stage": props.get("retouch_stage", "?"),
                     "step": int(props.get("retouch_step", "0")), "path": str(path)}
        self.device = "cpu (onnxruntime)"

    def __call__(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32)
        _, mask, prop = self.session.run(None, {"image": x})
        return prop[0].transpose(1, 2, 0), mask[0, 0]


def _ramp(m: np.ndarray, floor: float) -> np.ndarray:
    return np.clip((m - floor) / (1.0 - floor), 0.0, 1.0).astype(np.float32)


def classify_region(crop_lab: np.ndarray, region: np.ndarray, size: int) -> str:
    """Colour heuristic for one region of the crop: ``acne``, ``red_spot`` or ``dark_spot``.

    Compares the region's mean CIELAB colour with a ring around it: redder
    (``a*`` up by more than 1 and by more than half the darkening) means
    ``acne`` when the equivalent radius is under 2 % of the crop, ``red_spot``
    otherwise; anything else is ``dark_spot``.
    """
    r = max(2, int(round(0.02 * size)))
    ring = cv2.dilate(region.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0
    ring &= ~region
    if not ring.any():
        return "acne"
    inside, around = crop_lab[region].mean(axis=0), crop_lab[ring].mean(axis=0)
    d_l, d_a = inside[0] - around[0], inside[1] - around[1]
    if d_a > 1.0 and d_a > -0.5 * d_l:
        radius = float(np.sqrt(region.sum() / np.pi))
        return "acne" if radius < 0.02 * size else "red_spot"
    return "dark_spot"


class LearnedEngine:
    """A trained RetouchFormer as a pipeline engine (see the module docstring).

    Use :meth:`load`; ``apply`` is called by
    :meth:`retouch.pipeline.RetouchPipeline.run`.
    """

    name = "learned"

    def __init__(self, predictor: Any, *, mask_floor: float = MASK_FLOOR) -> None:
        if not 0.0 <= mask_floor < CORE_LEVEL:
            raise InvalidInputError(f"`mask_floor` must be in [0, {CORE_LEVEL}); got {mask_floor}")
        self.predictor = predictor
        self.cfg: RetouchFormerConfig = predictor.cfg
        self.mask_floor = float(mask_floor)

    @classmethod
    def load(cls, path: str | Path, *, device: str = "auto",
             mask_floor: float = MASK_FLOOR) -> LearnedEngine:
        """An engine from a ``.pt`` checkpoint (torch) or an ``.onnx`` export (onnxruntime)."""
        path = Path(path)
        if not path.is_file():
            raise InvalidInputError(f"{path}: checkpoint not found")
        if path.suffix.lower() == ".onnx":
            return cls(_OnnxPredictor(path), mask_floor=mask_floor)
        return cls(_TorchPredictor(path, device), mask_floor=mask_floor)

    def describe(self) -> dict[str, Any]:
        """What the report's ``engine`` entry says."""
        m = self.predictor.meta
        return {"name": self.name, "model": "retouchformer", "checkpoint": m["path"],
                "stage": m["stage"], "step": m["step"], "image_size": self.cfg.model.image_size,
                "device": str(self.predictor.device), "mask_floor": self.mask_floor}

    def predict(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``crop`` ``(S, S, 3) float32`` in ``[0, 1]`` -> (proposal ``(S, S, 3)``,
        soft mask ``(S, S)`` in ``[0, 1]``)."""
        s = self.cfg.model.image_size
        if crop.shape != (s, s, 3):
            raise InvalidInputError(f"`crop` must be ({s}, {s}, 3); got {crop.shape}")
        return self.predictor(crop.astype(np.float32))

    def apply(self, data: ImageData, faces: list[Face], out: np.ndarray,
              amounts: dict[str, float], removed: np.ndarray, type_masks: dict[str, np.ndarray],
              timings: dict[str, float]) -> tuple[list[Imperfection], dict[str, np.ndarray]]:
        """Retouch every usable face of ``data`` into ``out`` (in place).

        Args:
            data: the decoded photo (``out`` starts as a copy of its pixels).
            faces: detections with landmarks (skipped faces are ignored).
            out: ``(H, W, 3)`` output pixels, same dtype as ``data.pixels``.
            amounts: per-type treatment amount in ``[0, 1]``.
            removed, type_masks: ``(H, W) uint8`` masks, set to 255 where treated /
                where each type was found.
            timings: ``name -> ms``; ``learned_align``, ``learned_infer`` and
                ``learned_paste`` are added.

        Returns:
            The imperfections found and the extra masks (``{"learned": (H, W) uint8}``).
        """
        s = self.cfg.model.image_size
        maxv = float(data.max_value)
        h_img, w_img = out.shape[:2]
        soft = np.zeros((h_img, w_img), np.uint8)
        ims: list[Imperfection] = []
        for face in faces:
            if face.skip_reason is not None or face.landmarks_xy is None:
                continue
            t0 = time.perf_counter()
            al = framing_alignment(face, s, self.cfg.model.framing)
            crop = warp_to_crop(data.pixels, al).astype(np.float32) * (1.0 / maxv)
            t1 = time.perf_counter()
            proposal, m = self.predict(crop)
            t2 = time.perf_counter()
            lab = cv2.cvtColor(crop, cv2.COLOR_RGB2Lab)
            alpha = np.zeros((s, s), np.float32)
            base = _ramp(m, self.mask_floor)
            n, labels, stats, _ = cv2.connectedComponentsWithStats(
                (m > self.mask_floor).astype(np.uint8), connectivity=8)
            corners = np.array([[0, 0], [s, 0], [0, s], [s, s]], np.float64)
            im_c = al.to_image(corners)
            x0, y0 = np.maximum(np.floor(im_c.min(axis=0)).astype(int) - 1, 0)
            x1 = min(w_img, int(np.ceil(im_c[:, 0].max())) + 2)
            y1 = min(h_img, int(np.ceil(im_c[:, 1].max())) + 2)
            box = (int(x0), int(y0), int(x1), int(y1))
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            kinds: dict[str, np.ndarray] = {}
            for k in range(1, n):
                region = labels == k
                peak = float(m[region].max())
                if peak < CORE_LEVEL:
                    continue
                kind = classify_region(lab, region & (m >= CORE_LEVEL), s)
                amount = float(amounts.get(kind, 0.0))
                alpha[region] = base[region] * amount
                bx, by, bw, bh = (int(v) for v in stats[k, :4])
                pts = al.to_image(np.array([[bx, by], [bx + bw, by], [bx, by + bh],
                                            [bx + bw, by + bh]], np.float64))
                cx, cy = al.to_image(np.array([[bx + bw / 2.0, by + bh / 2.0]]))[0]
                ix0, iy0 = np.floor(pts.min(axis=0)).astype(int)
                ix1, iy1 = np.ceil(pts.max(axis=0)).astype(int)
                ims.append(Imperfection(
                    type=kind, face_index=face.index,
                    bbox_xywh=(int(ix0), int(iy0), max(1, int(ix1 - ix0)), max(1, int(iy1 - iy0))),
                    center_xy=(float(cx), float(cy)),
                    radius_px=float(np.sqrt(region.sum() / np.pi) / al.scale),
                    score=min(1.0, max(0.0, peak)), region="skin", removed=amount > 0))
                kinds.setdefault(kind, np.zeros((s, s), np.float32))[region] = 1.0
            for kind, crop_mask in kinds.items():   # one warp per type, not per instance
                t_map = warp_mask_to_image(crop_mask, al, box)
                type_masks[kind][y0:y1, x0:x1][t_map > 0.5] = 255
            a_img = warp_mask_to_image(alpha, al, box)
            a_img = np.where(a_img >= ALPHA_EPS, a_img, 0.0).astype(np.float32)
            m_img = warp_mask_to_image(m.astype(np.float32), al, box)
            np.maximum(soft[y0:y1, x0:x1], np.clip(np.rint(m_img * 255), 0, 255).astype(np.uint8),
                       out=soft[y0:y1, x0:x1])
            sel = a_img > 0
            if sel.any():
                resid = warp_mask_to_image((proposal - crop).astype(np.float32), al, box)
                patch = out[y0:y1, x0:x1].astype(np.float32) * (1.0 / maxv)
                new = patch + a_img[..., None] * resid
                q = np.clip(np.rint(new * maxv), 0, maxv).astype(out.dtype)
                out[y0:y1, x0:x1][sel] = q[sel]
                removed[y0:y1, x0:x1][sel] = 255
            t3 = time.perf_counter()
            for key, dt in (("learned_align", t1 - t0), ("learned_infer", t2 - t1),
                            ("learned_paste", t3 - t2)):
                timings[key] = timings.get(key, 0.0) + dt * 1000.0
        return ims, {"learned": soft}
