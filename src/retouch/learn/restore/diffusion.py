"""Gaussian diffusion on style codes: noise schedule, training pairs and DDIM sampling.

Codes are tensors ``(B, L, D)`` whose tokens are layer-normalized (zero mean,
unit variance over ``D``, see :func:`~retouch.learn.restore.network.normalize_codes`),
so the data has the unit scale the schedules assume.

* Forward process: ``z_t = sqrt(abar_t) z_0 + sqrt(1 - abar_t) eps`` for
  ``t = 0 .. T - 1`` (:meth:`NoiseSchedule.q_sample`).
* Sampling: DDIM (Song et al. 2021) on ``steps`` evenly spaced timesteps from
  ``T - 1`` down to ``0``; ``eta = 0`` is deterministic given the starting
  noise, which comes from the ``torch.Generator`` passed in (seed it for
  reproducible codes); ``eta > 0`` adds fresh noise at each step, from the
  same generator. Every clean-code estimate is projected back onto normalized
  codes (the analogue of clipping images to their range).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _alpha_bar(timesteps: int, kind: str) -> np.ndarray:
    if kind == "linear":
        betas = np.linspace(1e-4, 0.02, timesteps, dtype=np.float64)
    elif kind == "cosine":
        s = 0.008
        x = np.arange(timesteps + 1, dtype=np.float64) / timesteps
        f = np.cos((x + s) / (1 + s) * math.pi / 2) ** 2
        betas = np.clip(1.0 - f[1:] / f[:-1], 0.0, 0.999)
    else:
        raise ValueError(f"schedule must be 'cosine' or 'linear'; got {kind!r}")
    return np.cumprod(1.0 - betas)


class NoiseSchedule(nn.Module):
    """The cumulative signal level ``abar_t`` ``(T,)`` as a (non-trained) buffer.

    Args:
        timesteps: ``T``.
        kind: ``"cosine"`` (Nichol & Dhariwal 2021, ``s = 0.008``, betas capped at
            0.999) or ``"linear"`` (DDPM: betas ``1e-4 .. 0.02``).
    """

    def __init__(self, timesteps: int, kind: str = "cosine") -> None:
        super().__init__()
        self.timesteps, self.kind = int(timesteps), kind
        self.register_buffer("alpha_bar", torch.from_numpy(_alpha_bar(timesteps, kind)).float(),
                             persistent=False)

    def q_sample(self, z0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Noisy codes ``z_t`` for clean ``z0`` ``(B, L, D)`` at steps ``t`` ``(B,)``."""
        a = self.alpha_bar[t].view(-1, 1, 1).to(z0.dtype)
        return a.sqrt() * z0 + (1.0 - a).sqrt() * noise

    def sample_timesteps(self, steps: int) -> list[int]:
        """The DDIM timesteps for ``steps`` steps, descending from ``T - 1`` to ``0``."""
        ts = np.rint(np.linspace(self.timesteps - 1, 0, max(1, steps))).astype(int)
        return [int(t) for t in dict.fromkeys(ts.tolist())]


Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _project(z0: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(z0, z0.shape[-1:])


@torch.no_grad()
def ddim_sample(model: Denoiser, schedule: NoiseSchedule, cond: torch.Tensor, steps: int, *,
                prediction: str = "x0", generator: torch.Generator | None = None,
                eta: float = 0.0, init_noise: torch.Tensor | None = None) -> torch.Tensor:
    """Sample clean codes given the condition codes ``cond`` ``(B, L, D)``.

    Args:
        model: ``(z_t, t (B,) long, cond) -> prediction`` (a
            :class:`~retouch.learn.restore.network.CodeDiffuser`).
        schedule: the training noise schedule.
        steps: DDIM steps (``1`` = one jump from pure noise).
        prediction: ``"x0"`` or ``"eps"``: what ``model`` predicts.
        generator: source of the starting noise (and of the noise for
            ``eta > 0``); on ``cond``'s device. ``None`` uses torch's global RNG.
        eta: 0 for deterministic DDIM, 1 for DDPM-like ancestral sampling.
        init_noise: the starting noise ``(B, L, D)`` (instead of drawing it).

    Returns:
        ``(B, L, D)`` float32 normalized codes.
    """
    shape, dev = cond.shape, cond.device
    z = (torch.randn(shape, generator=generator, device=dev, dtype=torch.float32)
         if init_noise is None else init_noise.float())
    ts = schedule.sample_timesteps(steps)
    abar = schedule.alpha_bar
    x0 = z
    for i, t in enumerate(ts):
        a_t = abar[t].float()
        pred = model(z, torch.full((shape[0],), t, device=dev, dtype=torch.long), cond).float()
        if prediction == "x0":
            x0 = _project(pred)
            eps = (z - a_t.sqrt() * x0) / (1.0 - a_t).clamp_min(1e-8).sqrt()
        else:
            eps = pred
            x0 = _project((z - (1.0 - a_t).sqrt() * eps) / a_t.clamp_min(1e-8).sqrt())
        if i == len(ts) - 1:
            return x0
        a_prev = abar[ts[i + 1]].float()
        sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).clamp_min(0).sqrt()
        z = a_prev.sqrt() * x0 + (1 - a_prev - sigma ** 2).clamp_min(0).sqrt() * eps
        if eta > 0:
            z = z + sigma * torch.randn(shape, generator=generator, device=dev,
                                        dtype=torch.float32)
    return x0
