"""The learned face restorer: a VSPBFR-style network in PyTorch (extra ``retouch[learn]``).

>>> from retouch.learn.restore import load_config, RestoreTrainer   # doctest: +SKIP
>>> RestoreTrainer(load_config("tiny")).run()                        # doctest: +SKIP
>>> from retouch.restore import restore
>>> from retouch.learn.restore import LearnedRestorer
>>> restore(data, engine=LearnedRestorer.load("runs/x/checkpoints/last.pt"))  # doctest: +SKIP

Modules: ``config`` (dataclasses, presets ``tiny`` / ``vspbfr512``; no torch),
``network`` (style encoder + generator, code diffuser, style-modulated
restoration UNet), ``diffusion`` (noise schedule, DDIM), ``data`` (clean
faces degraded on the fly with :mod:`retouch.degrade`), ``train`` (three-stage
trainer built on :class:`retouch.learn.train.Trainer`), ``checkpoint`` (file
format), ``evaluate`` (PSNR/SSIM beside the degraded input), ``engine`` (the
face engine of ``retouch restore --checkpoint``), ``cli``. Anything that
builds or runs a network imports torch on first use and raises
:class:`~retouch.errors.MissingDependencyError` when it is missing. See
``docs/restore.md`` ("Learned engine").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import (
    PRESETS,
    RestoreConfig,
    RestoreDataConfig,
    RestoreLossConfig,
    RestoreModelConfig,
    RestoreTrainConfig,
    load_config,
)

if TYPE_CHECKING:  # pragma: no cover
    from .checkpoint import load_restorer
    from .engine import LearnedRestorer
    from .network import VSPBFR
    from .train import RestoreTrainer, train_restorer

__all__ = [
    "PRESETS",
    "VSPBFR",
    "LearnedRestorer",
    "RestoreConfig",
    "RestoreDataConfig",
    "RestoreLossConfig",
    "RestoreModelConfig",
    "RestoreTrainConfig",
    "RestoreTrainer",
    "load_config",
    "load_restorer",
    "train_restorer",
]

_LAZY = {
    "VSPBFR": ("network", "VSPBFR"),
    "LearnedRestorer": ("engine", "LearnedRestorer"),
    "RestoreTrainer": ("train", "RestoreTrainer"),
    "train_restorer": ("train", "train_restorer"),
    "load_restorer": ("checkpoint", "load_restorer"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        from .._deps import require_torch

        require_torch()
        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{mod}", __name__), attr)
    raise AttributeError(f"module 'retouch.learn.restore' has no attribute {name!r}")
