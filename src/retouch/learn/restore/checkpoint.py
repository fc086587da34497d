"""Checkpoint files of the learned restorer: RetouchFormer's layout, own ``format``.

The file is the same ``torch.save`` dict as :mod:`retouch.learn.checkpoint`
(written atomically, read with ``weights_only=True``) with these values:

=================  ==========================================================
key                value
=================  ==========================================================
``format``         ``"retouch-vspbfr"``
``version``        ``1``
``retouch``        the retouch version that wrote it
``torch``          the torch version that wrote it
``config``         the whole experiment (:meth:`RestoreConfig.to_dict`);
                   ``config["model"]`` rebuilds the network
``stage``          ``"style"``, ``"diffusion"`` or ``"restore"``: the stage
                   this state belongs to (the restorer is usable once
                   ``stage == "restore"``; ``step == train.steps`` there means
                   training is complete)
``step``           steps done in ``stage``
``model``          state dict of :class:`~retouch.learn.restore.network.VSPBFR`
                   (``style.encoder.*``, ``style.generator.*``, ``diffuser.*``,
                   ``restorer.*``)
``disc``           state dict of the patch discriminator, or ``None``
``optim``          ``{"style": ..., "diffusion": ..., "restore": ..., "d": ...}``
                   optimizer state dicts (entries may be ``None``)
``scaler``         fp16 loss-scaler state dict, or ``None``
=================  ==========================================================

A weights-only file (``retouch train restore ... --export-weights``) has
``disc``, ``optim`` and ``scaler`` set to ``None``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..checkpoint import read_checkpoint, save_checkpoint
from .config import RestoreConfig

FORMAT = "retouch-vspbfr"
#: Stages in training order.
STAGES = ("style", "diffusion", "restore")


def save_restore_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (see the module docstring) atomically to ``path``."""
    save_checkpoint(path, {**payload, "format": FORMAT})


def read_restore_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and check a restorer checkpoint (raises :class:`InvalidInputError`)."""
    return read_checkpoint(path, FORMAT, "retouch VSPBFR restorer")


def load_restorer(path: str | Path, device: str = "cpu", *, require_trained: bool = True
                  ) -> tuple[Any, RestoreConfig, dict[str, Any]]:
    """Rebuild the network of a checkpoint in eval mode, gradients off.

    Args:
        require_trained: refuse a checkpoint whose restoration stage has not
            started (its restoration network would be untrained).

    Returns:
        ``(model, config, meta)``: a :class:`~retouch.learn.restore.network.VSPBFR`
        on ``device``, the experiment config and ``{"stage", "step", "path"}``.
    """
    from ...errors import InvalidInputError
    from .network import VSPBFR

    ck = read_restore_checkpoint(path)
    if require_trained and ck["stage"] != "restore":
        raise InvalidInputError(
            f"{path}: checkpoint is at stage {ck['stage']!r} step {ck['step']}: its restoration "
            "network has not been trained yet (train on to the 'restore' stage)")
    cfg = RestoreConfig.from_dict(ck["config"])
    model = VSPBFR(cfg.model)
    model.load_state_dict(ck["model"])
    model.eval().to(device)
    model.requires_grad_(False)
    return model, cfg, {"stage": ck["stage"], "step": int(ck["step"]), "path": str(path)}


def save_restore_weights(path: str | Path, model: Any, cfg: RestoreConfig,
                         stage: str = "restore", step: int = 0) -> None:
    """Write a weights-only checkpoint of ``model`` (see the module docstring)."""
    save_restore_checkpoint(path, {
        "config": cfg.to_dict(), "stage": stage, "step": int(step),
        "model": model.state_dict(), "disc": None,
        "optim": {"style": None, "diffusion": None, "restore": None, "d": None},
        "scaler": None})
