"""The learned retoucher: RetouchFormer in PyTorch (optional extra ``retouch[learn]``).

>>> from retouch.learn import load_config, Trainer          # doctest: +SKIP
>>> Trainer(load_config("tiny")).run()                      # doctest: +SKIP
>>> from retouch import retouch
>>> from retouch.learn import LearnedEngine
>>> retouch("photo.jpg", engine=LearnedEngine.load("runs/x/checkpoints/last.pt"))  # doctest: +SKIP

Importing this package needs no torch: configs (:mod:`.config`), metrics
(:mod:`.metrics`) and the engine's ONNX path work without it. Anything that
builds or runs a network imports torch on first use and raises
:class:`~retouch.errors.MissingDependencyError` (``pip install 'retouch[learn]'``)
when it is missing. See ``docs/learned.md``.

Modules: ``config`` (dataclasses, presets, YAML/JSON), ``prior`` (VQ clean-face
prior), ``attention`` (selective self-attention), ``model`` (RetouchFormer,
discriminator, inference graph), ``losses``, ``data`` (FFHQR, unpaired and
synthetic data), ``train`` (trainer), ``checkpoint`` (file format),
``evaluate`` + ``metrics`` + ``lpips`` (evaluation), ``engine`` (pipeline
engine), ``export`` (ONNX).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import (
    PRESETS,
    DataConfig,
    Framing,
    LossConfig,
    ModelConfig,
    RetouchFormerConfig,
    TrainConfig,
    apply_overrides,
    load_config,
)

if TYPE_CHECKING:  # pragma: no cover
    from .checkpoint import load_model
    from .engine import LearnedEngine
    from .model import PatchDiscriminator, RetouchFormer
    from .train import Trainer, train

__all__ = [
    "PRESETS",
    "DataConfig",
    "Framing",
    "LearnedEngine",
    "LossConfig",
    "ModelConfig",
    "PatchDiscriminator",
    "RetouchFormer",
    "RetouchFormerConfig",
    "TrainConfig",
    "Trainer",
    "apply_overrides",
    "load_config",
    "load_model",
    "train",
]

_LAZY = {
    "LearnedEngine": ("engine", "LearnedEngine"),
    "RetouchFormer": ("model", "RetouchFormer"),
    "PatchDiscriminator": ("model", "PatchDiscriminator"),
    "Trainer": ("train", "Trainer"),
    "train": ("train", "train"),
    "load_model": ("checkpoint", "load_model"),
}
_NEEDS_TORCH = {"model"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        if mod in _NEEDS_TORCH:
            from ._deps import require_torch

            require_torch()
        return getattr(importlib.import_module(f".{mod}", __name__), attr)
    raise AttributeError(f"module 'retouch.learn' has no attribute {name!r}")
