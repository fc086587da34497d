"""RetouchFormer: prior-based localization + selective self-attention + decoder.

Data flow for an input crop ``x`` ``(B, 3, S, S)`` in ``[0, 1]``:

1. **Prior** (:class:`~retouch.learn.prior.CleanFacePrior`, frozen after its own
   pretraining): ``r = prior(x)``, the photo rebuilt from clean-skin codes.
2. **Localization** (:class:`MaskUNet`): a small UNet reads ``[x, r]`` (6
   channels) and predicts soft imperfection masks ``m_l`` ``(B, 1, S/2^l, S/2^l)``
   at every decoder level ``l = 0 .. len(mask_channels) - 1``.
3. **Encoder**: feature maps ``f_l`` at ``S / 2^l`` for every level of
   ``enc_channels``.
4. **Multi-scale tokens**: each ``f_l`` is projected to ``embed_dim`` and
   resized to the ``G x G`` token grid (``G = S / token_stride``); the sum is
   one token per cell carrying every scale.
5. **Selective transformer** (:mod:`~retouch.learn.attention`) with the mask
   at token resolution.
6. **Replacement**: the transformer output is projected back to every level;
   where that level's mask is ``> 0.5`` it *replaces* the encoder feature,
   elsewhere the feature is kept.
7. **Decoder**: a UNet decoder over the replaced features synthesizes a
   proposal ``p`` ``(B, 3, S, S)``.
8. **Soft inpainting**: ``y = m_0 * p + (1 - m_0) * x``: where the finest mask
   is 0 the output *is* the input.

Masks at scales the localization net does not predict are max-pooled from its
coarsest one. :class:`PatchDiscriminator` is the adversary used in training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._layers import Down, ResBlock, Up, norm, pool_mask, to_signed, to_unit
from .attention import SelectiveTransformer
from .config import ModelConfig
from .prior import CleanFacePrior

#: Initial bias of the mask heads' logits.
MASK_BIAS_INIT = -2.0


@dataclass
class RetouchOutput:
    """What :meth:`RetouchFormer.forward` returns (all ``float`` tensors).

    Attributes:
        image: ``(B, 3, S, S)`` retouched crop, ``m_0 * proposal + (1 - m_0) * x``
            (in ``[0, 1]`` up to training overshoot; clamp for display).
        proposal: ``(B, 3, S, S)`` the decoder's synthesized content.
        masks: soft imperfection masks in ``[0, 1]``, ``masks[l]`` is
            ``(B, 1, S / 2^l, S / 2^l)`` for ``l = 0 .. len(mask_channels) - 1``.
        recon: ``(B, 3, S, S)`` the clean-face prior's reconstruction.
        token_mask: ``(B, 1, G, G)`` the mask the transformer used.
    """

    image: torch.Tensor
    proposal: torch.Tensor
    masks: list[torch.Tensor]
    recon: torch.Tensor
    token_mask: torch.Tensor


class MaskUNet(nn.Module):
    """Reconstruction-oriented localization: ``[x, recon]`` -> multi-scale soft masks."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        ch = list(cfg.mask_channels)
        self.stem = nn.Conv2d(6, ch[0], 3, padding=1)
        self.enc = nn.ModuleList(ResBlock(c) for c in ch)
        self.down = nn.ModuleList(Down(ch[i], ch[i + 1]) for i in range(len(ch) - 1))
        self.up = nn.ModuleList(Up(ch[i + 1], ch[i]) for i in range(len(ch) - 1))
        self.dec = nn.ModuleList(ResBlock(2 * ch[i], ch[i]) for i in range(len(ch) - 1))
        self.heads = nn.ModuleList(
            nn.Sequential(norm(c), nn.SiLU(), nn.Conv2d(c, 1, 1)) for c in ch)
        for head in self.heads:
            # Start from "mostly normal skin" (sigmoid(-2) = 0.12): imperfections are rare.
            nn.init.constant_(head[-1].bias, MASK_BIAS_INIT)

    def forward(self, x: torch.Tensor, recon: torch.Tensor) -> list[torch.Tensor]:
        """``x``, ``recon`` ``(B, 3, S, S)`` in ``[0, 1]`` -> masks, finest first."""
        h = self.stem(torch.cat([to_signed(x), to_signed(recon)], 1))
        skips = []
        for i, blk in enumerate(self.enc):
            h = blk(h)
            skips.append(h)
            if i < len(self.down):
                h = self.down[i](h)
        masks = [torch.sigmoid(self.heads[-1](h))]
        for i in range(len(self.up) - 1, -1, -1):
            h = self.dec[i](torch.cat([self.up[i](h), skips[i]], 1))
            masks.append(torch.sigmoid(self.heads[i](h)))
        return masks[::-1]


class RetouchFormer(nn.Module):
    """The whole retoucher (see the module docstring). ``cfg.check()`` must pass."""

    def __init__(self, cfg: ModelConfig, commitment: float = 0.25) -> None:
        super().__init__()
        cfg.check()
        self.cfg = cfg
        self.prior = CleanFacePrior(cfg, commitment)
        self.masknet = MaskUNet(cfg)
        ch = list(cfg.enc_channels)
        d = cfg.embed_dim
        self.stem = nn.Conv2d(3, ch[0], 3, padding=1)
        self.enc = nn.ModuleList(ResBlock(c) for c in ch)
        self.down = nn.ModuleList(Down(ch[i], ch[i + 1]) for i in range(len(ch) - 1))
        self.to_tokens = nn.ModuleList(nn.Conv2d(c, d, 1) for c in ch)
        self.token_norm = nn.LayerNorm(d)
        self.transformer = SelectiveTransformer(d, cfg.depth, cfg.heads, cfg.window,
                                                cfg.mlp_ratio)
        self.from_tokens = nn.ModuleList(nn.Conv2d(d, c, 1) for c in ch)
        self.up = nn.ModuleList(Up(ch[i + 1], ch[i]) for i in range(len(ch) - 1))
        self.dec = nn.ModuleList(ResBlock(2 * ch[i], ch[i]) for i in range(len(ch) - 1))
        self.bottleneck = ResBlock(ch[-1])
        self.out = nn.Sequential(norm(ch[0]), nn.SiLU(), nn.Conv2d(ch[0], 3, 3, padding=1))

    # -- pieces ---------------------------------------------------------------
    def level_mask(self, masks: list[torch.Tensor], level: int) -> torch.Tensor:
        """The mask at ``S / 2^level``: predicted, or max-pooled from the coarsest."""
        if level < len(masks):
            return masks[level]
        return pool_mask(masks[-1], 2 ** (level - len(masks) + 1))

    def localize(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``x`` ``(B, 3, S, S)`` -> (prior reconstruction, multi-scale soft masks)."""
        recon = self.prior(x, with_stats=False).recon
        return recon, self.masknet(x, recon)

    def forward(self, x: torch.Tensor) -> RetouchOutput:
        """Retouch a batch of aligned face crops ``x`` ``(B, 3, S, S)`` in ``[0, 1]``."""
        recon, masks = self.localize(x)
        g = self.cfg.token_grid
        feats = []
        h = self.stem(to_signed(x))
        for i, blk in enumerate(self.enc):
            h = blk(h)
            feats.append(h)
            if i < len(self.down):
                h = self.down[i](h)
        tok = 0
        for f, proj in zip(feats, self.to_tokens, strict=True):
            t = proj(f)
            tok = tok + (F.interpolate(t, size=(g, g), mode="bilinear", align_corners=False)
                         if t.shape[-1] != g else t)
        tok = self.token_norm(tok.permute(0, 2, 3, 1))                     # (B, G, G, d)
        t_level = self.cfg.token_stride.bit_length() - 1
        m_tok = self.level_mask(masks, t_level)                           # (B, 1, G, G)
        tok = self.transformer(tok, m_tok.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        fused = []
        for lvl, (f, proj) in enumerate(zip(feats, self.from_tokens, strict=True)):
            t = proj(tok)
            if t.shape[-1] != f.shape[-1]:
                t = F.interpolate(t, size=f.shape[-2:], mode="bilinear", align_corners=False)
            hard = (self.level_mask(masks, lvl) > 0.5).to(f.dtype)
            fused.append(f * (1.0 - hard) + t * hard)
        h = self.bottleneck(fused[-1])
        for i in range(len(self.up) - 1, -1, -1):
            h = self.dec[i](torch.cat([self.up[i](h), fused[i]], 1))
        proposal = to_unit(self.out(h))
        m0 = masks[0]
        image = m0 * proposal + (1.0 - m0) * x
        return RetouchOutput(image, proposal, masks, recon, m_tok)


class PatchDiscriminator(nn.Module):
    """Spectral-norm PatchGAN: ``(B, 3, S, S)`` in ``[0, 1]`` -> ``(B, 1, s, s)`` logits."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        sn = nn.utils.spectral_norm
        layers: list[nn.Module] = []
        cin = 3
        for c in cfg.disc_channels:
            layers += [sn(nn.Conv2d(cin, c, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            cin = c
        layers += [sn(nn.Conv2d(cin, cin, 3, padding=1)), nn.LeakyReLU(0.2),
                   sn(nn.Conv2d(cin, 1, 3, padding=1))]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(to_signed(x))


class InferenceGraph(nn.Module):
    """The deployable part of :class:`RetouchFormer`: one image in, three tensors out.

    ``forward(x)`` with ``x`` ``(B, 3, S, S)`` in ``[0, 1]`` returns
    ``(image, mask, proposal)``: the retouched crop and the proposal clamped to
    ``[0, 1]`` and the finest soft mask ``(B, 1, S, S)``. This is what is
    exported to ONNX and what the learned engine runs.
    """

    def __init__(self, model: RetouchFormer) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.model(x)
        return out.image.clamp(0.0, 1.0), out.masks[0], out.proposal.clamp(0.0, 1.0)
