"""Small convolutional building blocks shared by the networks (torch required).

Tensors are ``(B, C, H, W)`` float; images inside the networks are in
``[-1, 1]`` (see :func:`to_signed`), at the module boundaries in ``[0, 1]``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def to_signed(x: torch.Tensor) -> torch.Tensor:
    """``[0, 1]`` -> ``[-1, 1]``."""
    return x * 2.0 - 1.0


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """``[-1, 1]`` -> ``[0, 1]`` (not clamped)."""
    return (x + 1.0) * 0.5


def norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups that divide ``channels`` (batch-size independent)."""
    groups = math.gcd(8, channels)
    return nn.GroupNorm(groups, channels, eps=1e-5)


class ResBlock(nn.Module):
    """``norm -> SiLU -> conv3x3`` twice, plus a (1x1 when widths differ) skip."""

    def __init__(self, cin: int, cout: int | None = None) -> None:
        super().__init__()
        cout = cout or cin
        self.body = nn.Sequential(
            norm(cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1),
            norm(cout), nn.SiLU(), nn.Conv2d(cout, cout, 3, padding=1),
        )
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.body(x)


class Down(nn.Module):
    """Halve the resolution with a stride-2 3x3 convolution."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Up(nn.Module):
    """Double the resolution: nearest upsampling, then a 3x3 convolution."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def pool_mask(mask: torch.Tensor, factor: int) -> torch.Tensor:
    """Coarser mask by max pooling (a cell is imperfect if any of its pixels is).

    ``mask`` ``(B, 1, H, W)``; ``factor`` a power of two dividing ``H`` and ``W``.
    """
    return mask if factor == 1 else F.max_pool2d(mask, factor, factor)
