"""The VSPBFR-style restorer: style encoder, code diffuser, style-modulated restoration UNet.

Data flow for a degraded face crop ``y`` ``(B, 3, S, S)`` in ``[0, 1]``:

1. **Style encoder** ``E`` (:class:`StyleEncoder`): ``c = E(y)``, ``L`` style
   tokens ``(B, L, D)``, each layer-normalized (zero mean, unit variance over
   ``D``). ``E`` and a **style generator** ``G`` (:class:`StyleGenerator`, a
   StyleGAN2-like synthesis net from a learned ``4 x 4`` constant with one
   modulated convolution per resolution, token ``l`` driving resolution
   ``4 * 2^l``) are first trained as an autoencoder on clean faces only, so
   the codes span a *clean-face style space* (the role of VSPBFR's e4e encoder
   and StyleGAN).
2. **Code diffuser** ``D`` (:class:`CodeDiffuser`, a transformer over the
   ``L`` tokens): a conditional diffusion model of the clean code
   ``z0 = E(x_clean)`` given the degraded image's code ``c``; at inference a
   few deterministic DDIM steps (:func:`~retouch.learn.restore.diffusion.ddim_sample`)
   turn seeded noise into the predicted clean code ``z`` (the "visual style prompt").
3. **Restoration network** ``R`` (:class:`RestorationNet`): a UNet on ``y``
   whose bottleneck and decoder are **style-modulated aggregation blocks**
   (:class:`StyleAggBlock`): parallel dilated modulated convolutions (weights
   scaled per input channel by an affine map of ``z``, demodulated) whose
   outputs are concatenated, fused, and mixed into the input through a learned
   gate. It predicts a residual: ``x_hat = y + R(y, z)``.

Every module works on images in ``[-1, 1]`` inside and ``[0, 1]`` at its
boundary. :class:`VSPBFR` holds the four parts and the noise schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .._layers import Down, ResBlock, norm, to_signed, to_unit
from .config import RestoreModelConfig
from .diffusion import NoiseSchedule, ddim_sample


def normalize_codes(z: torch.Tensor) -> torch.Tensor:
    """Layer-normalize each style token (no affine): ``(B, L, D)`` -> ``(B, L, D)``."""
    return F.layer_norm(z, z.shape[-1:])


class ModConv2d(nn.Module):
    """Style-modulated, demodulated convolution (StyleGAN2), computed without grouped convs.

    ``y = conv(x * s) * d + b`` for a modulation ``s`` ``(B, C_in)`` and
    ``d[b, o] = 1 / sqrt(sum_{i,k} (W[o, i, k] s[b, i])^2 + eps)``: the same
    result as convolving with the per-sample weights ``W * s`` normalized to
    unit norm per output channel, in one batched convolution. ``s`` comes from
    an affine map of the style (see :class:`StyleAffine`), kept outside so that
    several convolutions reading the same input can share it.

    Equalized learning rate (as StyleGAN): ``W`` is stored ``N(0, 1)`` and scaled
    by ``1 / sqrt(C_in k^2)`` when used, so Adam's steps are the same fraction of
    every layer's weights whatever its fan-in (without it, the first steps of
    the 512 px preset blew the style generator's output up: measured L1 0.25 ->
    1.7 after one step at 256 px).

    Args:
        cin, cout: channels. kernel: odd kernel side. dilation: dilation rate.
        demodulate: apply ``d`` (off for the 1x1 to-RGB layers).
    """

    def __init__(self, cin: int, cout: int, kernel: int, *, dilation: int = 1,
                 demodulate: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = 1.0 / math.sqrt(cin * kernel * kernel)
        self.dilation, self.pad, self.demodulate = dilation, dilation * (kernel // 2), demodulate

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, C_in, H, W)``, ``s`` ``(B, C_in)`` -> ``(B, C_out, H, W)``."""
        w = (self.weight * self.scale).to(x.dtype)
        y = F.conv2d(x * s[:, :, None, None].to(x.dtype), w, padding=self.pad,
                     dilation=self.dilation)
        if self.demodulate:
            w2 = (self.weight.float() * self.scale).pow(2).sum(dim=(2, 3))  # (C_out, C_in)
            d = torch.rsqrt(s.float().pow(2) @ w2.t() + 1e-8)          # (B, C_out)
            y = y * d[:, :, None, None].to(y.dtype)
        return y + self.bias.to(y.dtype)[None, :, None, None]


class StyleAffine(nn.Module):
    """Style vector ``(B, style_in)`` -> modulation ``(B, C)``: ``1 + A s`` at init.

    Equalized learning rate: the weights are stored ``N(0, 0.25^2)`` and
    scaled by ``1 / sqrt(style_in)`` when used, so a unit-variance style gives
    modulations ``1 +- 0.25`` at init; the bias starts at 1.
    """

    def __init__(self, style_in: int, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(channels, style_in) * 0.25)
        self.bias = nn.Parameter(torch.ones(channels))
        self.scale = 1.0 / math.sqrt(style_in)

    def forward(self, style: torch.Tensor) -> torch.Tensor:
        return F.linear(style, self.weight * self.scale, self.bias)


class StyleEncoder(nn.Module):
    """``(B, 3, S, S)`` in ``[0, 1]`` -> ``L`` normalized style tokens ``(B, L, D)``.

    ResBlocks at every level of ``style_channels`` (stride-2 convolutions
    between them), average-pooled to ``4 x 4``, projected to ``style_flat``
    channels, flattened (so pose and layout survive) and mapped linearly to
    ``L x D``.
    """

    def __init__(self, cfg: RestoreModelConfig) -> None:
        super().__init__()
        ch = cfg.style_channels
        self.tokens, self.dim = cfg.style_tokens, cfg.style_dim
        self.stem = nn.Conv2d(3, ch[0], 3, padding=1)
        layers: list[nn.Module] = [ResBlock(ch[0])]
        for a, b in zip(ch[:-1], ch[1:], strict=True):
            layers += [Down(a, b), ResBlock(b)]
        self.body = nn.Sequential(*layers)
        self.squeeze = nn.Sequential(norm(ch[-1]), nn.SiLU(), nn.Conv2d(ch[-1], cfg.style_flat, 1))
        self.head = nn.Linear(cfg.style_flat * 16, self.tokens * self.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(self.stem(to_signed(x)))
        h = self.squeeze(F.adaptive_avg_pool2d(h, 4))
        z = self.head(h.flatten(1)).view(-1, self.tokens, self.dim)
        return normalize_codes(z.float())


class StyleGenerator(nn.Module):
    """Style codes ``(B, L, D)`` -> image ``(B, 3, S, S)`` in ``[0, 1]`` (not clamped).

    A learned ``4 x 4`` constant; at resolution ``l`` (``4 * 2^l``): nearest
    upsampling (``l > 0``), two modulated 3x3 convolutions driven by token
    ``l``, and a 1x1 modulated to-RGB whose output is added to the upsampled
    RGB of the previous resolutions (StyleGAN2's skip architecture).
    """

    def __init__(self, cfg: RestoreModelConfig) -> None:
        super().__init__()
        ch, d = cfg.gen_channels, cfg.style_dim
        self.const = nn.Parameter(torch.randn(1, ch[0], 4, 4))
        self.convs = nn.ModuleList()
        self.affines = nn.ModuleList()
        self.rgbs = nn.ModuleList()
        cin = ch[0]
        for c in ch:
            self.convs.append(nn.ModuleList([ModConv2d(cin, c, 3), ModConv2d(c, c, 3)]))
            self.affines.append(nn.ModuleList([StyleAffine(d, cin), StyleAffine(d, c),
                                               StyleAffine(d, c)]))
            self.rgbs.append(ModConv2d(c, 3, 1, demodulate=False))
            cin = c

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.const.expand(z.shape[0], -1, -1, -1)
        rgb = None
        for lvl, (convs, aff, to_rgb) in enumerate(zip(self.convs, self.affines, self.rgbs,
                                                       strict=True)):
            if lvl > 0:
                h = F.interpolate(h, scale_factor=2.0, mode="nearest")
                rgb = F.interpolate(rgb, scale_factor=2.0, mode="bilinear", align_corners=False)
            w = z[:, lvl]
            for conv, a in zip(convs, aff[:2], strict=True):
                h = F.leaky_relu(conv(h, a(w)), 0.2)
            out = to_rgb(h, aff[2](w))
            rgb = out if rgb is None else rgb + out
        return to_unit(rgb)


class StyleAutoencoder(nn.Module):
    """``E`` and ``G`` together; ``forward(x)`` -> ``(reconstruction, codes)``."""

    def __init__(self, cfg: RestoreModelConfig) -> None:
        super().__init__()
        self.encoder = StyleEncoder(cfg)
        self.generator = StyleGenerator(cfg)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        return self.generator(z), z


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding ``(B,)`` integer steps -> ``(B, dim)``."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device).float() / half)
    ang = t.float()[:, None] * freqs[None]
    emb = torch.cat([ang.sin(), ang.cos()], dim=1)
    return F.pad(emb, (0, dim - 2 * half))


class CodeDiffuser(nn.Module):
    """Denoiser of style codes: ``(z_t, t, c)`` -> prediction ``(B, L, D)``.

    Per token, ``[z_t, c]`` is projected to ``diff_hidden``; a learned token
    position and the MLP-embedded timestep are added; ``diff_depth``
    pre-norm transformer layers mix the tokens; a linear head returns the
    noise (``prediction="eps"``) or, for ``"x0"``, a correction of the
    condition: ``x0 = normalize(c + head)``. The head starts at zero, so an
    untrained diffuser predicts the degraded input's own code and training
    only has to learn what degradation changed in it.
    """

    def __init__(self, cfg: RestoreModelConfig) -> None:
        super().__init__()
        h, d = cfg.diff_hidden, cfg.style_dim
        self.prediction = cfg.prediction
        self.inp = nn.Linear(2 * d, h)
        self.pos = nn.Parameter(torch.zeros(1, cfg.style_tokens, h))
        self.temb = nn.Sequential(nn.Linear(h, h), nn.SiLU(), nn.Linear(h, h))
        layer = nn.TransformerEncoderLayer(h, cfg.diff_heads, dim_feedforward=2 * h, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, cfg.diff_depth, enable_nested_tensor=False)
        self.out = nn.Sequential(nn.LayerNorm(h), nn.Linear(h, d))
        nn.init.zeros_(self.out[1].weight)
        nn.init.zeros_(self.out[1].bias)

    def forward(self, z_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.inp(torch.cat([z_t, cond], dim=-1)) + self.pos
        h = h + self.temb(timestep_embedding(t, h.shape[-1]))[:, None]
        pred = self.out(self.blocks(h)).float()
        return normalize_codes(cond.float() + pred) if self.prediction == "x0" else pred


class StyleAggBlock(nn.Module):
    """Style-modulated aggregation block (AOT-style, modulated by the style code).

    ``C`` channels in and out. Branch ``k`` is a modulated 3x3 convolution
    with dilation ``dilations[k]`` to ``C / K`` channels (then SiLU); the
    branches are concatenated and fused by a 3x3 convolution ``f``; a gate
    ``g = sigmoid(conv(norm(x)))`` mixes: ``out = x * (1 - g) + f * g``.
    The branches share one modulation, an affine map of the style vector
    ``(B, style_in)`` (the restorer's mapped code).
    """

    def __init__(self, channels: int, dilations: tuple[int, ...], style_in: int) -> None:
        super().__init__()
        k = len(dilations)
        self.pre = nn.Sequential(norm(channels), nn.SiLU())
        self.affine = StyleAffine(style_in, channels)
        self.branches = nn.ModuleList(ModConv2d(channels, channels // k, 3, dilation=r)
                                      for r in dilations)
        self.fuse = nn.Conv2d(channels, channels, 3, padding=1)
        self.gate = nn.Sequential(norm(channels), nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        h = self.pre(x)
        s = self.affine(style)
        agg = torch.cat([F.silu(b(h, s)) for b in self.branches], dim=1)
        g = torch.sigmoid(self.gate(x))
        return x * (1.0 - g) + self.fuse(agg) * g


class RestorationNet(nn.Module):
    """UNet ``(y, z)`` -> restored ``(B, 3, S, S)`` in ``[0, 1]`` (not clamped).

    The flattened code ``(B, L * D)`` is first mapped by a 2-layer MLP to a
    style vector of ``enc_channels[-1]`` values that every block reads.
    Encoder: ResBlocks at every level of ``enc_channels`` with stride-2
    convolutions between them. Bottleneck: ``mid_blocks`` :class:`StyleAggBlock`.
    Decoder: at each finer level, upsample, concatenate the skip feature,
    a 1x1 merge and a :class:`StyleAggBlock`. The head's output is added to
    the input (a residual; initialized to zero, so an untrained net returns
    its input).
    """

    def __init__(self, cfg: RestoreModelConfig) -> None:
        super().__init__()
        ch, dil = cfg.enc_channels, tuple(cfg.dilations)
        style_in = ch[-1]
        self.mapping = nn.Sequential(nn.Linear(cfg.style_tokens * cfg.style_dim, style_in),
                                     nn.SiLU(), nn.Linear(style_in, style_in))
        self.stem = nn.Conv2d(3, ch[0], 3, padding=1)
        self.enc = nn.ModuleList(ResBlock(c) for c in ch)
        self.down = nn.ModuleList(Down(a, b) for a, b in zip(ch[:-1], ch[1:], strict=True))
        self.mid = nn.ModuleList(StyleAggBlock(ch[-1], dil, style_in)
                                 for _ in range(cfg.mid_blocks))
        self.merge = nn.ModuleList(nn.Conv2d(ch[i + 1] + ch[i], ch[i], 1)
                                   for i in range(len(ch) - 1))
        self.dec = nn.ModuleList(StyleAggBlock(ch[i], dil, style_in) for i in range(len(ch) - 1))
        self.head = nn.Sequential(norm(ch[0]), nn.SiLU(), nn.Conv2d(ch[0], 3, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        style = self.mapping(z.flatten(1))
        h = self.stem(to_signed(y))
        skips = []
        for i, block in enumerate(self.enc):
            h = block(h)
            if i < len(self.down):
                skips.append(h)
                h = self.down[i](h)
        for block in self.mid:
            h = block(h, style)
        for i in reversed(range(len(self.dec))):
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = self.dec[i](self.merge[i](torch.cat([h, skips[i]], dim=1)), style)
        return y + 0.5 * self.head(h).float()


@dataclass
class RestoreOutput:
    """What :meth:`VSPBFR.forward` returns.

    Attributes:
        image: ``(B, 3, S, S)`` restored crop (``[0, 1]`` up to overshoot; clamp
            for display).
        codes: ``(B, L, D)`` the clean style codes the decoder used.
        cond: ``(B, L, D)`` the degraded input's own codes (the diffuser's condition).
    """

    image: torch.Tensor
    codes: torch.Tensor
    cond: torch.Tensor


class VSPBFR(nn.Module):
    """The whole restorer: ``style`` (E + G), ``diffuser``, ``restorer``, ``schedule``.

    ``forward(y, generator=None, steps=None)`` restores degraded crops ``y``
    ``(B, 3, S, S)`` in ``[0, 1]``: codes of ``y``, DDIM sampling of the clean
    codes with ``steps`` (default ``sample_steps``) from noise drawn with
    ``generator`` (a seeded ``torch.Generator`` makes it deterministic), then
    the style-modulated UNet.
    """

    def __init__(self, cfg: RestoreModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.style = StyleAutoencoder(cfg)
        self.diffuser = CodeDiffuser(cfg)
        self.restorer = RestorationNet(cfg)
        self.schedule = NoiseSchedule(cfg.timesteps, cfg.schedule)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Style codes ``(B, L, D)`` of crops ``x`` ``(B, 3, S, S)`` in ``[0, 1]``."""
        return self.style.encoder(x)

    def predict_codes(self, y: torch.Tensor, *, generator: torch.Generator | None = None,
                      steps: int | None = None, init_noise: torch.Tensor | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(clean codes, condition codes)`` for degraded crops ``y`` (DDIM, eta 0), from
        noise drawn with ``generator`` or given as ``init_noise`` ``(B, L, D)``."""
        cond = self.encode(y)
        z = ddim_sample(self.diffuser, self.schedule, cond, steps or self.cfg.sample_steps,
                        prediction=self.cfg.prediction, generator=generator,
                        init_noise=init_noise)
        return z, cond

    def forward(self, y: torch.Tensor, generator: torch.Generator | None = None,
                steps: int | None = None) -> RestoreOutput:
        z, cond = self.predict_codes(y, generator=generator, steps=steps)
        return RestoreOutput(self.restorer(y, z), z, cond)
