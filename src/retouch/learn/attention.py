"""Selective self-attention: imperfect queries draw content from normal skin only.

Tokens live on a ``G x G`` grid and attend inside ``w x w`` windows (every
other block shifts the windows by ``w // 2``, so information crosses window
borders). With ``m`` the soft imperfection map at token resolution
(``1`` = imperfect), each block computes, as in the paper::

    Q = W_q (x * m),   K = W_k x,   V = W_v (x * (1 - m))

and, beyond the paper, also *gates the keys* by ``1 - m``::

    A_ij = (1 - m_j) exp(q_i . k_j / sqrt(d) + b_ij) / sum_k (1 - m_k) exp(...)

so a token with ``m_j = 1`` gets exactly zero weight: neither its key nor its
value reaches any output, whatever it contains (with ``V = x (1 - m)`` alone
its key would still reshape every other weight). A window whose keys are all
imperfect outputs zeros for that block (the residual stream carries on).
Scores are computed in float32 even under autocast.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Score given to gated-out keys before the softmax (never the max of a row that
#: has an allowed key, and multiplied by a zero gate afterwards anyway).
_MASKED_SCORE = -1.0e4


class SelectiveWindowAttention(nn.Module):
    """Multi-head attention over windows of tokens with imperfection gating.

    Args:
        dim: token width ``C``.
        heads: attention heads (``dim % heads == 0``).
        window: window side ``w``; a window holds ``N = w * w`` tokens.
    """

    def __init__(self, dim: int, heads: int, window: int) -> None:
        super().__init__()
        self.heads, self.window = heads, window
        self.scale = (dim // heads) ** -0.5
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.proj = nn.Linear(dim, dim)
        self.rel_bias = nn.Parameter(torch.zeros(heads, (2 * window - 1) ** 2))
        ys, xs = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
        pos = torch.stack([ys.flatten(), xs.flatten()], 1)                 # (N, 2)
        rel = pos[:, None, :] - pos[None, :, :] + (window - 1)            # (N, N, 2)
        self.register_buffer("rel_index", rel[..., 0] * (2 * window - 1) + rel[..., 1],
                             persistent=False)

    def forward(self, x: torch.Tensor, m: torch.Tensor, valid: torch.Tensor,
                return_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend inside each window.

        Args:
            x: ``(Bw, N, C)`` tokens of ``Bw`` windows.
            m: ``(Bw, N, 1)`` imperfection in ``[0, 1]``.
            valid: ``(Bw, N, 1)``: 1 for real tokens, 0 for window padding.
            return_weights: also return the ``(Bw, heads, N, N)`` attention weights.

        Returns:
            ``(out, weights)``: ``out`` ``(Bw, N, C)``; ``weights`` or ``None``.
        """
        bw, n, c = x.shape
        h = self.heads
        q = self.q(x * m).view(bw, n, h, c // h).transpose(1, 2)
        k = self.k(x).view(bw, n, h, c // h).transpose(1, 2)
        v = self.v(x * (1.0 - m)).view(bw, n, h, c // h).transpose(1, 2)
        with torch.autocast(device_type=x.device.type, enabled=False):
            q, k, v = q.float(), k.float(), v.float()
            bias = self.rel_bias[:, self.rel_index.reshape(-1)].view(1, h, n, n).float()
            s = (q @ k.transpose(-2, -1)) * self.scale + bias              # (Bw, h, N, N)
            gate = ((1.0 - m) * valid).float().view(bw, 1, 1, n)
            s = torch.where(gate > 0, s, torch.full_like(s, _MASKED_SCORE))
            s = s - s.amax(dim=-1, keepdim=True)
            a = torch.exp(s) * gate
            a = a / a.sum(dim=-1, keepdim=True).clamp_min(1e-12)
            out = (a @ v).transpose(1, 2).reshape(bw, n, c)
        out = self.proj(out.to(x.dtype))
        return out, (a if return_weights else None)


def partition(t: torch.Tensor, window: int, offset: int) -> tuple[torch.Tensor, int]:
    """``(B, G, G, C)`` -> ``(B * n * n, w * w, C)`` windows, padding with zeros.

    ``offset`` zeros are added before the grid (shifted windows) and enough after
    it to make the side a multiple of ``window``. Returns the windows and ``n``.
    """
    b, g, _, c = t.shape
    after = (-(g + offset)) % window
    t = F.pad(t, (0, 0, offset, after, offset, after))
    n = (g + offset + after) // window
    t = t.view(b, n, window, n, window, c).permute(0, 1, 3, 2, 4, 5)
    return t.reshape(b * n * n, window * window, c), n


def merge(t: torch.Tensor, b: int, g: int, n: int, window: int, offset: int) -> torch.Tensor:
    """Inverse of :func:`partition`: ``(B * n * n, w * w, C)`` -> ``(B, G, G, C)``."""
    c = t.shape[-1]
    t = t.view(b, n, n, window, window, c).permute(0, 1, 3, 2, 4, 5)
    t = t.reshape(b, n * window, n * window, c)
    return t[:, offset:offset + g, offset:offset + g, :]


class SelectiveBlock(nn.Module):
    """Pre-norm transformer block: selective window attention, then an MLP."""

    def __init__(self, dim: int, heads: int, window: int, shift: bool, mlp_ratio: float) -> None:
        super().__init__()
        self.window = window
        self.offset = window // 2 if shift else 0
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelectiveWindowAttention(dim, heads, window)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, G, G, C)`` tokens, ``m`` ``(B, G, G, 1)`` in ``[0, 1]``."""
        b, g = x.shape[0], x.shape[1]
        w, off = self.window, self.offset
        xw, n = partition(self.norm1(x), w, off)
        mw, _ = partition(m, w, off)
        vw, _ = partition(torch.ones_like(m), w, off)
        out, _ = self.attn(xw, mw, vw)
        x = x + merge(out, b, g, n, w, off)
        return x + self.mlp(self.norm2(x))


class SelectiveTransformer(nn.Module):
    """``depth`` :class:`SelectiveBlock` s alternating plain and shifted windows."""

    def __init__(self, dim: int, depth: int, heads: int, window: int, mlp_ratio: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            SelectiveBlock(dim, heads, window, shift=bool(i % 2), mlp_ratio=mlp_ratio)
            for i in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, G, G, C)``, ``m`` ``(B, G, G, 1)`` -> ``(B, G, G, C)``."""
        for blk in self.blocks:
            x = blk(x, m)
        return self.norm(x)
