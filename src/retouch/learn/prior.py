"""The clean-face prior: a vector-quantized autoencoder with a latent dictionary.

Trained first, on clean faces only (retouched targets, clean photos), to
reconstruct them through a ``K x D`` codebook; then frozen. Because every
latent vector is snapped to one of ``K`` clean-skin "words", a blemish the
dictionary has no word for is reconstructed as normal skin: the difference
between a photo and its reconstruction is what the localization network reads
(the paper's reconstruction-oriented localization).

Quantization is nearest-neighbour on L2-normalized vectors (cosine similarity),
with the straight-through gradient and the VQ-VAE codebook + commitment losses.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._layers import Down, ResBlock, Up, norm, to_signed, to_unit
from .config import ModelConfig


@dataclass
class QuantizeOutput:
    """Result of :class:`VectorQuantizer`.

    Attributes:
        z_q: ``(B, D, h, w)`` quantized latents (straight-through in training).
        indices: ``(B, h, w)`` int64 codebook indices.
        loss: scalar codebook + ``commitment`` x commitment loss.
        perplexity: scalar ``exp(entropy)`` of the code usage in this batch
            (``K`` when every code is used equally, 1 when one code is used).
    """

    z_q: torch.Tensor
    indices: torch.Tensor
    loss: torch.Tensor
    perplexity: torch.Tensor


class VectorQuantizer(nn.Module):
    """Nearest-neighbour lookup in a learned ``(K, D)`` dictionary of unit vectors."""

    def __init__(self, num_codes: int, dim: int, commitment: float = 0.25) -> None:
        super().__init__()
        self.num_codes, self.dim, self.commitment = num_codes, dim, commitment
        self.codebook = nn.Embedding(num_codes, dim)
        nn.init.normal_(self.codebook.weight)

    def forward(self, z: torch.Tensor, with_stats: bool = True) -> QuantizeOutput:
        """Quantize ``z`` ``(B, D, h, w)``; ``with_stats=False`` skips loss and perplexity
        (returned as zeros), which keeps the inference graph exportable."""
        b, d, h, w = z.shape
        with torch.autocast(device_type=z.device.type, enabled=False):   # lookup in float32
            z = F.normalize(z.float(), dim=1)
            flat = z.permute(0, 2, 3, 1).reshape(-1, d)                   # (N, D)
            codes = F.normalize(self.codebook.weight.float(), dim=1)       # (K, D)
            # Unit vectors: argmin of the distance is argmax of the dot product.
            idx = torch.argmax(flat @ codes.t(), dim=1)                    # (N,)
            q = F.embedding(idx, codes).view(b, h, w, d).permute(0, 3, 1, 2)
        z_q = z + (q - z).detach()
        if not with_stats:
            zero = z.new_zeros(())
            return QuantizeOutput(z_q, idx.view(b, h, w), zero, zero)
        loss = F.mse_loss(q, z.detach()) + self.commitment * F.mse_loss(z, q.detach())
        counts = torch.bincount(idx, minlength=self.num_codes).float()
        p = counts / counts.sum()
        perplexity = torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum())
        return QuantizeOutput(z_q, idx.view(b, h, w), loss, perplexity)


@dataclass
class PriorOutput:
    """Result of :class:`CleanFacePrior`: ``recon`` ``(B, 3, H, W)`` in ``[0, 1]``
    (not clamped), plus the quantizer's output."""

    recon: torch.Tensor
    quant: QuantizeOutput


class CleanFacePrior(nn.Module):
    """VQ autoencoder over faces; ``len(prior_channels) - 1`` halvings to the latent grid."""

    def __init__(self, cfg: ModelConfig, commitment: float = 0.25) -> None:
        super().__init__()
        ch = list(cfg.prior_channels)
        enc: list[nn.Module] = [nn.Conv2d(3, ch[0], 3, padding=1)]
        for i in range(len(ch) - 1):
            enc += [ResBlock(ch[i]), Down(ch[i], ch[i + 1])]
        enc += [ResBlock(ch[-1]), norm(ch[-1]), nn.SiLU(), nn.Conv2d(ch[-1], cfg.codebook_dim, 1)]
        self.encoder = nn.Sequential(*enc)
        self.quantizer = VectorQuantizer(cfg.codebook_size, cfg.codebook_dim, commitment)
        dec: list[nn.Module] = [nn.Conv2d(cfg.codebook_dim, ch[-1], 1), ResBlock(ch[-1])]
        for i in range(len(ch) - 1, 0, -1):
            dec += [Up(ch[i], ch[i - 1]), ResBlock(ch[i - 1])]
        dec += [norm(ch[0]), nn.SiLU(), nn.Conv2d(ch[0], 3, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: torch.Tensor, with_stats: bool = True) -> PriorOutput:
        """Reconstruct ``x`` ``(B, 3, H, W)`` in ``[0, 1]`` through the dictionary."""
        q = self.quantizer(self.encoder(to_signed(x)), with_stats)
        return PriorOutput(to_unit(self.decoder(q.z_q)), q)
