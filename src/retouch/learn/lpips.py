"""LPIPS (Zhang et al. 2018, AlexNet variant) -- only with weights given by path.

LPIPS needs two sets of weights that cannot be downloaded here and that no
PyPI package ships: the ImageNet AlexNet backbone and the learned per-channel
linear layers. :func:`load_lpips` takes them from local files; without them
``retouch eval`` prints that LPIPS was not computed instead of a number.

Accepted files (``torch.load``-able state dicts, merged in the order given):

* the backbone with torchvision's key names (``features.0.weight`` ...
  ``features.10.bias``; e.g. ``alexnet-owt-7be5be79.pth``), and
* the linear layers with the LPIPS release's key names (``lin0.model.1.weight`` ...
  ``lin4.model.1.weight``, e.g. ``alex.pth`` of LPIPS v0.1); ``lin0.weight`` works too.

The distance: inputs scaled to ``[-1, 1]`` and normalized by the fixed LPIPS
shift/scale; features after each of the five ReLUs; each unit-normalized over
channels; squared differences weighted per channel by ``lin_l``, averaged over
space and summed over layers. This implementation was checked for plumbing
(shapes, ``d(x, x) = 0``, key loading) but *not* against the reference numbers,
since the reference weights were not available when it was written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidInputError

_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
#: torchvision AlexNet ``features`` indices of the convolutions: (in, out, kernel, stride, pad).
_CONVS = {0: (3, 64, 11, 4, 2), 3: (64, 192, 5, 1, 2), 6: (192, 384, 3, 1, 1),
          8: (384, 256, 3, 1, 1), 10: (256, 256, 3, 1, 1)}


class LPIPS(nn.Module):
    """AlexNet-LPIPS distance; ``forward(x, y)`` on ``(B, 3, H, W)`` in ``[0, 1]`` -> ``(B,)``."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(12):
            if i in _CONVS:
                cin, cout, k, s, p = _CONVS[i]
                layers.append(nn.Conv2d(cin, cout, k, s, p))
            elif i in (2, 5):
                layers.append(nn.MaxPool2d(3, 2))
            else:
                layers.append(nn.ReLU())
        self.features = nn.Sequential(*layers)
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in (64, 192, 384, 256, 256))
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = ((x * 2 - 1) - self.shift) / self.scale
        out = []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in (1, 4, 7, 9, 11):
                out.append(h)
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = x.new_zeros(x.shape[0])
        for fx, fy, lin in zip(self._taps(x), self._taps(y), self.lins, strict=True):
            fx = F.normalize(fx, dim=1, eps=1e-10)
            fy = F.normalize(fy, dim=1, eps=1e-10)
            total = total + lin((fx - fy) ** 2).mean(dim=(1, 2, 3))
        return total


def load_lpips(paths: Sequence[str | Path], device: str | torch.device = "cpu") -> LPIPS:
    """Build :class:`LPIPS` from local weight files (see the module docstring).

    Raises:
        InvalidInputError: a file is missing, unreadable, or a key is missing.
    """
    state: dict[str, torch.Tensor] = {}
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise InvalidInputError(f"{p}: LPIPS weights not found")
        try:
            sd = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:  # any unreadable file is the same user error
            raise InvalidInputError(f"{p}: cannot read LPIPS weights ({exc})") from None
        if isinstance(sd, dict) and "state_dict" in sd:
            sd = sd["state_dict"]
        for k, v in sd.items():
            if k.startswith("features."):
                state[k] = v
            elif k.startswith("lin") and k.endswith(".weight"):
                state[f"lins.{int(k[3])}.weight"] = v
    net = LPIPS()
    missing = [k for k in net.state_dict() if k not in state and k not in ("shift", "scale")]
    if missing:
        raise InvalidInputError(
            "LPIPS weights incomplete: missing " + ", ".join(missing[:4])
            + (" ..." if len(missing) > 4 else "")
            + " (give the AlexNet backbone and the LPIPS linear layers; see docs/learned.md)")
    net.load_state_dict(state, strict=False)
    net.requires_grad_(False)
    return net.eval().to(device)
