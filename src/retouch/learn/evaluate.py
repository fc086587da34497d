"""Evaluation on an FFHQR-layout test set, always beside the input-vs-target baseline.

For every ``(source, target)`` pair the source is retouched by the model and
compared to the target; the unretouched source is compared to the target too,
because FFHQR targets differ only slightly from their inputs (a model that
returns its input already scores ~43-48 dB PSNR).

Resolution: ``"model"`` (default) resizes source and target to the model's
side ``S`` (area filter) and measures there; ``"native"`` measures at the
files' resolution, the model's residual and mask being upsampled (bilinear) and
applied as the learned engine does (``out = src + alpha * residual`` with
``alpha = m`` here, no instance filtering).

Metrics (:mod:`retouch.learn.metrics`): PSNR over the image and inside the
retouched pixels (``max_c |target - source| > threshold``), SSIM, mask IoU of
``m > 0.5`` against those pixels (the baseline column is the empty mask, IoU 0
unless the target equals the source) and, only with local weights, LPIPS.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from . import metrics
from .data import iterate_pairs, resize_square


@dataclass
class EvalResult:
    """Aggregated evaluation (means over pairs; IoU also pooled over all pixels).

    ``model`` and ``baseline`` map a metric name to its value; ``per_image``
    has one dict per pair; ``notes`` lists what was not measured and why.
    """

    n: int
    model: dict[str, float]
    baseline: dict[str, float]
    per_image: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "model": self.model, "baseline": self.baseline,
                "notes": self.notes, "info": self.info, "per_image": self.per_image}

    def table(self) -> str:
        """A plain-text table: metric | model | input (baseline)."""
        rows = [("PSNR (dB)", "psnr", "{:.2f}"), ("PSNR in retouched px (dB)", "psnr_mask",
                                                     "{:.2f}"),
                ("SSIM", "ssim", "{:.4f}"), ("mask IoU (mean)", "iou", "{:.3f}"),
                ("mask IoU (pooled)", "iou_pooled", "{:.3f}"), ("LPIPS", "lpips", "{:.4f}")]
        lines = [f"{'metric':<28}{'model':>10}{'input (baseline)':>20}"]
        for label, key, fmt in rows:
            if key not in self.model:
                continue
            b = self.baseline.get(key)
            bs = "-" if b is None else fmt.format(b)
            if key.startswith("iou"):
                bs += " (empty mask)"
            lines.append(f"{label:<28}{fmt.format(self.model[key]):>10}{bs:>20}")
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


def _nanmean(vals: list[float]) -> float:
    v = [x for x in vals if not math.isnan(x) and not math.isinf(x)]
    return float(np.mean(v)) if v else float("nan")


def evaluate(predict: Any, size: int, data_dir: str | Path, *, split: str = "test",
             limit: int | None = None, resolution: str = "model",
             threshold: float = metrics.DIFF_THRESHOLD, lpips: Any = None,
             lpips_device: str = "cpu") -> EvalResult:
    """Evaluate ``predict`` on the pairs of ``data_dir/split``.

    Args:
        predict: ``(S, S, 3) float32 [0, 1] -> (image, mask)`` with ``image``
            ``(S, S, 3)`` and ``mask`` ``(S, S)`` in ``[0, 1]`` (the model's
            soft-inpainted output and finest mask), e.g. :func:`torch_predictor`.
        size: the model's input side ``S``.
        data_dir: FFHQR-layout root (``{split}/{source,target}``).
        limit: evaluate the first ``limit`` pairs (sorted by name) only.
        resolution: ``"model"`` or ``"native"`` (see the module docstring).
        threshold: retouched-pixel threshold on ``max_c |target - source|``.
        lpips: an :class:`~retouch.learn.lpips.LPIPS` or ``None`` (not computed).
    """
    if resolution not in ("model", "native"):
        raise ValueError(f"`resolution` must be 'model' or 'native'; got {resolution!r}")
    per: list[dict[str, Any]] = []
    inter = union = 0
    for name, src_full, tgt_full in iterate_pairs(data_dir, split, limit):
        src_s = resize_square(src_full, size)
        x = src_s.astype(np.float32) / 255.0
        image, mask = predict(x)
        if resolution == "model":
            src, tgt = src_s, resize_square(tgt_full, size)
            out = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
            pred = mask > 0.5
        else:
            src, tgt = src_full, tgt_full
            h, w = src.shape[:2]
            m = np.clip(mask, 0, 1).astype(np.float32)
            # image = m * p + (1 - m) * x  =>  m * (p - x) = image - x
            resid = cv2.resize((image - x).astype(np.float32), (w, h),
                               interpolation=cv2.INTER_LINEAR)
            out = np.clip(np.rint((src.astype(np.float32) / 255.0 + resid) * 255.0), 0,
                          255).astype(np.uint8)
            pred = cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
        truth = metrics.difference_mask(src, tgt, threshold)
        rec: dict[str, Any] = {
            "name": name,
            "psnr": metrics.psnr(out, tgt), "psnr_in": metrics.psnr(src, tgt),
            "psnr_mask": metrics.psnr(out, tgt, truth), "psnr_mask_in": metrics.psnr(src, tgt,
                                                                                    truth),
            "ssim": metrics.ssim(out, tgt), "ssim_in": metrics.ssim(src, tgt),
            "iou": metrics.iou(pred, truth), "iou_in": metrics.iou(np.zeros_like(truth), truth),
            "retouched_frac": float(truth.mean()), "pred_frac": float(pred.mean()),
        }
        if lpips is not None:
            rec["lpips"], rec["lpips_in"] = _lpips_pair(lpips, out, src, tgt, lpips_device)
        inter += int(np.logical_and(pred, truth).sum())
        union += int(np.logical_or(pred, truth).sum())
        per.append(rec)
    if not per:
        raise ValueError(f"{data_dir}: no pairs to evaluate")
    keys = ["psnr", "psnr_mask", "ssim", "iou"] + (["lpips"] if lpips is not None else [])
    model = {k: _nanmean([r[k] for r in per]) for k in keys}
    base = {k: _nanmean([r[k + "_in"] for r in per]) for k in keys}
    model["iou_pooled"] = inter / union if union else 1.0
    base["iou_pooled"] = 0.0 if union else 1.0
    notes = [] if lpips is not None else [
        "LPIPS not computed: it needs AlexNet + LPIPS linear-layer weights, which cannot be "
        "downloaded here; pass them with --lpips-weights (see docs/learned.md)"]
    info = {"split": split, "resolution": resolution, "size": size, "threshold": threshold,
            "retouched_frac": _nanmean([r["retouched_frac"] for r in per])}
    return EvalResult(len(per), model, base, per, notes, info)


def _lpips_pair(net: Any, out: np.ndarray, src: np.ndarray, tgt: np.ndarray,
                device: str) -> tuple[float, float]:
    import torch

    def t(a: np.ndarray) -> Any:
        return torch.from_numpy(a.transpose(2, 0, 1).astype(np.float32) / 255.0)[None].to(device)

    with torch.no_grad():
        return float(net(t(out), t(tgt))[0]), float(net(t(src), t(tgt))[0])


def torch_predictor(model: Any, device: str = "cpu") -> Any:
    """``predict`` for :func:`evaluate` from a :class:`~retouch.learn.model.RetouchFormer`."""
    import torch

    def predict(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inp = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None].to(device)
        with torch.no_grad():
            out = model(inp)
        img = out.image[0].clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()
        return img, out.masks[0][0, 0].float().cpu().numpy()

    return predict


def write_json(result: EvalResult, path: str | Path, extra: Sequence[tuple[str, Any]] = ()) -> None:
    """Write ``result`` (plus ``extra`` key/values) as JSON."""
    d = result.to_dict()
    d.update(dict(extra))
    Path(path).write_text(json.dumps(d, indent=2, default=float))
