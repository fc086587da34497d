"""Evaluation of a restorer on clean faces degraded with fixed seeds, beside the input.

For every clean face of a folder (FFHQ layout, :func:`~retouch.learn.restore.data.list_faces`)
and every requested level:

1. the face is resized (area) to ``prep_size`` (the training ``data.prep_size``);
2. it is degraded there with :func:`retouch.degrade.apply_degradation`: a fixed
   benchmark level (``mild``, ``medium``, ``severe`` of :data:`retouch.degrade.LEVELS`,
   noise seeded by ``[seed, image index, level index]``) or a random draw from
   the ``standard``/``hard`` ranges (drawn from the same seed), then quantized
   to 8 bits;
3. degraded and clean images are resized (area) to the model size ``S``;
4. the predictor restores the degraded crop; its output is quantized to 8 bits.

PSNR and SSIM (:mod:`retouch.learn.metrics`) of the output against the clean
crop are reported beside the same numbers for the degraded input (the
baseline a model must beat); LPIPS only with local weights. Every number is
a mean over the faces of a level.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...degrade import LEVELS, Degradation, sample_degradation
from .. import metrics
from ..evaluate import EvalResult, _lpips_pair, _nanmean
from .config import RANGES
from .data import degrade_pair, list_faces, to_uint8

#: Level names accepted besides the fixed ``LEVELS``: a random draw from these ranges.
RANDOM_LEVELS = tuple(RANGES)
Predictor = Callable[[np.ndarray], np.ndarray]


@dataclass
class RestoreEvalResult:
    """Per-level results (:class:`retouch.learn.evaluate.EvalResult`, metrics
    ``psnr``, ``ssim`` and optionally ``lpips``) and the settings."""

    levels: dict[str, EvalResult]
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"info": self.info, "levels": {k: v.to_dict() for k, v in self.levels.items()}}

    def table(self) -> str:
        """One plain-text table per level: metric | model | degraded input."""
        parts = []
        for name, res in self.levels.items():
            parts.append(f"[{name}] {res.n} face(s)\n" + res.table())
        return "\n".join(parts)


def level_degradation(level: str, seed: int, index: int) -> tuple[Degradation,
                                                                   np.random.Generator]:
    """The degradation of face ``index`` at ``level`` and the generator of its noise."""
    names = list(LEVELS) + list(RANDOM_LEVELS)
    if level not in names:
        raise ValueError(f"level must be one of {', '.join(names)}; got {level!r}")
    rng = np.random.default_rng([seed, index, names.index(level)])
    if level in LEVELS:
        return LEVELS[level], rng
    return sample_degradation(rng, RANGES[level]), rng


def evaluate_restore(predict: Predictor, size: int, data_dir: str | Path, *,
                     prep_size: int = 512, levels: Sequence[str] = ("mild", "medium", "severe"),
                     seed: int = 0, limit: int | None = None, lpips: Any = None,
                     lpips_device: str = "cpu") -> RestoreEvalResult:
    """Evaluate ``predict`` on the clean faces of ``data_dir`` (see the module docstring).

    Args:
        predict: ``(S, S, 3) float32 [0, 1]`` degraded crop -> ``(S, S, 3)``
            restored crop in ``[0, 1]`` (e.g. :func:`torch_restore_predictor`).
        size: the model side ``S``.
        data_dir: folder of clean faces (FFHQ layout).
        prep_size: side at which the degradation is applied.
        levels: names from :data:`retouch.degrade.LEVELS` and/or ``"standard"``,
            ``"hard"``.
        seed: degradation seed.
        limit: the first ``limit`` faces (sorted) only.
        lpips: an :class:`~retouch.learn.lpips.LPIPS` or ``None`` (not computed).
    """
    from ..data import read_rgb, resize_square

    paths = list_faces(data_dir)[:limit] if limit else list_faces(data_dir)
    if not paths:
        raise ValueError(f"{data_dir}: no face images to evaluate")
    if prep_size < size:
        raise ValueError(f"prep_size {prep_size} must be >= the model size {size}")
    cleans = [resize_square(read_rgb(p), prep_size) for p in paths]
    out_levels: dict[str, EvalResult] = {}
    for level in levels:
        per: list[dict[str, Any]] = []
        for i, (p, clean_p) in enumerate(zip(paths, cleans, strict=True)):
            deg, rng = level_degradation(level, seed, i)
            low, clean = degrade_pair(clean_p, deg, size, rng)
            restored = to_uint8(np.asarray(predict(low.astype(np.float32) / 255.0)))
            rec: dict[str, Any] = {
                "name": p.name, "degradation": deg.to_dict(),
                "psnr": metrics.psnr(restored, clean), "psnr_in": metrics.psnr(low, clean),
                "ssim": metrics.ssim(restored, clean), "ssim_in": metrics.ssim(low, clean),
            }
            if lpips is not None:
                rec["lpips"], rec["lpips_in"] = _lpips_pair(lpips, restored, low, clean,
                                                            lpips_device)
            per.append(rec)
        keys = ["psnr", "ssim"] + (["lpips"] if lpips is not None else [])
        notes = [] if lpips is not None else [
            "LPIPS not computed: it needs AlexNet + LPIPS linear-layer weights, which cannot "
            "be downloaded here; pass them with --lpips-weights"]
        out_levels[level] = EvalResult(
            len(per), {k: _nanmean([r[k] for r in per]) for k in keys},
            {k: _nanmean([r[k + "_in"] for r in per]) for k in keys}, per, notes,
            {"level": level})
    return RestoreEvalResult(out_levels, {"size": size, "prep_size": prep_size, "seed": seed,
                                          "data": str(data_dir), "faces": len(paths)})


def torch_restore_predictor(model: Any, device: str = "cpu", *, seed: int = 0,
                            steps: int | None = None) -> Predictor:
    """``predict`` for :func:`evaluate_restore` from a
    :class:`~retouch.learn.restore.network.VSPBFR`; every call samples its codes from a
    generator seeded with ``seed`` (deterministic)."""
    import torch

    def predict(x: np.ndarray) -> np.ndarray:
        inp = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None].to(device)
        gen = torch.Generator(device=device).manual_seed(seed)
        with torch.no_grad():
            out = model(inp, generator=gen, steps=steps)
        return out.image[0].clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()

    return predict
