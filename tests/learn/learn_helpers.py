"""Helpers shared by the learned-model tests (a plain module: ``conftest`` names
clash between test folders, so shared code does not live there)."""

from __future__ import annotations

from pathlib import Path


def tiny_config(out_dir: Path, *overrides: str):
    """The tiny preset writing to ``out_dir``, with ``--set``-style overrides."""
    from retouch.learn.config import apply_overrides, tiny

    return apply_overrides(tiny(), [f"train.out_dir={out_dir}", "train.log_every=1",
                                    "train.sample_every=0", "train.ckpt_every=0",
                                    *overrides])
