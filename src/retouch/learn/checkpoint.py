"""Checkpoint files of the learned retoucher.

Format (a ``torch.save`` dict; readable with ``torch.load(..., weights_only=True)``,
so loading never runs pickled code):

=================  ==========================================================
key                value
=================  ==========================================================
``format``         ``"retouch-retouchformer"``
``version``        ``1`` (this layout)
``retouch``        the retouch version that wrote it
``torch``          the torch version that wrote it
``config``         the whole experiment config as a dict
                   (:meth:`RetouchFormerConfig.to_dict`); ``config["model"]``
                   rebuilds the network
``stage``          ``"prior"`` or ``"main"``: the stage this state belongs to
``step``           steps done in ``stage`` (``step == train.steps`` of the
                   ``main`` stage: training is complete; resuming a stage
                   whose step reached its total moves on to the next one)
``model``          state dict of :class:`~retouch.learn.model.RetouchFormer`
                   (``prior.*``, ``masknet.*``, generator keys)
``disc``           state dict of the patch discriminator, or ``None``
``optim``          ``{"prior": ..., "g": ..., "d": ...}`` optimizer state dicts
                   (entries may be ``None``)
``scaler``         fp16 loss-scaler state dict, or ``None``
=================  ==========================================================

A *weights-only* file (``retouch train ... --export-weights``, or
:func:`save_weights`) has the same keys with ``disc``, ``optim`` and
``scaler`` set to ``None``: it is all the learned engine and ``retouch eval``
need. Files are written to a temporary name and renamed, so an interrupted
save never leaves a truncated checkpoint behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import InvalidInputError
from ._deps import require_torch
from .config import RetouchFormerConfig

FORMAT = "retouch-retouchformer"
VERSION = 1


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (see the module docstring) atomically to ``path``."""
    torch = require_torch()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, "retouch": __version__,
               "torch": str(torch.__version__), **payload}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_checkpoint(path: str | Path, fmt: str = FORMAT,
                    what: str = "retouch RetouchFormer") -> dict[str, Any]:
    """Load a checkpoint dict on the CPU, checking its format.

    ``fmt``/``what``: the expected ``format`` key and how the error names it
    (another learned model reuses this file layout under its own ``format``).

    Raises:
        InvalidInputError: missing file, not a checkpoint, or another format/version.
    """
    torch = require_torch()
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: checkpoint not found")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file is the same user error
        raise InvalidInputError(f"{path}: not a readable checkpoint ({type(exc).__name__}: "
                                f"{str(exc)[:200]})") from None
    if not isinstance(ck, dict) or ck.get("format") != fmt:
        raise InvalidInputError(f"{path}: not a {what} checkpoint "
                                f"(format {ck.get('format') if isinstance(ck, dict) else None!r})")
    if ck.get("version") != VERSION:
        raise InvalidInputError(f"{path}: checkpoint version {ck.get('version')} is not "
                                f"supported (this retouch reads version {VERSION})")
    return ck


def load_model(path: str | Path, device: str = "cpu") -> tuple[Any, RetouchFormerConfig,
                                                                  dict[str, Any]]:
    """Rebuild the network of a checkpoint in eval mode.

    Returns:
        ``(model, config, meta)``: a :class:`~retouch.learn.model.RetouchFormer`
        on ``device``, the experiment config, and ``{"stage", "step", "path"}``.
    """
    from .model import RetouchFormer

    ck = read_checkpoint(path)
    cfg = RetouchFormerConfig.from_dict(ck["config"])
    model = RetouchFormer(cfg.model, cfg.loss.commitment)
    model.load_state_dict(ck["model"])
    model.eval().to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    return model, cfg, {"stage": ck["stage"], "step": int(ck["step"]), "path": str(path)}


def save_weights(path: str | Path, model: Any, cfg: RetouchFormerConfig, stage: str = "main",
                 step: int = 0) -> None:
    """Write a weights-only checkpoint of ``model`` (see the module docstring)."""
    save_checkpoint(path, {"config": cfg.to_dict(), "stage": stage, "step": int(step),
                           "model": model.state_dict(), "disc": None,
                           "optim": {"prior": None, "g": None, "d": None}, "scaler": None})
