"""Training losses (torch). Images ``(B, 3, H, W)`` in ``[0, 1]``, masks ``(B, 1, H, W)``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._layers import pool_mask


def difference_mask(source: torch.Tensor, target: torch.Tensor, lo: float,
                    hi: float) -> torch.Tensor:
    """Normalized ``|target - source|``: the paired mask target.

    ``d = max_c |target - source|``; the mask ramps linearly from 0 at
    ``d <= lo`` to 1 at ``d >= hi``. Returns ``(B, 1, H, W)`` in ``[0, 1]``.
    """
    d = (target - source).abs().amax(dim=1, keepdim=True)
    return ((d - lo) / max(hi - lo, 1e-6)).clamp(0.0, 1.0)


def multiscale_mask_loss(pred: list[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy between every predicted scale and the max-pooled
    target at that scale (soft targets allowed), averaged over scales."""
    total = target.new_zeros((), dtype=torch.float32)
    for p in pred:
        t = pool_mask(target, target.shape[-1] // p.shape[-1]).float()
        p = p.float().clamp(1e-6, 1 - 1e-6)
        total = total - (t * p.log() + (1 - t) * (1 - p).log()).mean()
    return total / len(pred)


def mask_entropy(pred: list[torch.Tensor]) -> torch.Tensor:
    """Mean binary entropy (nats) of the masks: 0 when every value is 0 or 1."""
    total = pred[0].new_zeros((), dtype=torch.float32)
    for p in pred:
        p = p.float().clamp(1e-6, 1 - 1e-6)
        total = total - (p * p.log() + (1 - p) * (1 - p).log()).mean()
    return total / len(pred)


def _gauss_window(size: int, sigma: float, device: torch.device) -> torch.Tensor:
    ax = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(ax ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def ssim(x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM (Wang et al. 2004; Gaussian window, ``K1 = 0.01``, ``K2 = 0.03``, range 1).

    Computed per channel over the *valid* window positions and averaged; the
    same definition as :func:`retouch.learn.metrics.ssim` (numpy). Windows
    larger than the image shrink to its size (odd).
    """
    with torch.autocast(device_type=x.device.type, enabled=False):   # float32 under AMP too
        return _ssim(x.float(), y.float(), window, sigma)


def _ssim(x: torch.Tensor, y: torch.Tensor, window: int, sigma: float) -> torch.Tensor:
    size = min(window, x.shape[-1], x.shape[-2])
    size -= (size + 1) % 2
    g = _gauss_window(size, sigma, x.device)
    c = x.shape[1]
    kx = g.view(1, 1, 1, size).repeat(c, 1, 1, 1)
    ky = g.view(1, 1, size, 1).repeat(c, 1, 1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(t, kx, groups=c), ky, groups=c)

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.mean()


def hinge_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator hinge loss ``E[relu(1 - D(real))] + E[relu(1 + D(fake))]``."""
    return F.relu(1.0 - real_logits.float()).mean() + F.relu(1.0 + fake_logits.float()).mean()


def hinge_g(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator hinge loss ``-E[D(fake)]``."""
    return -fake_logits.float().mean()
