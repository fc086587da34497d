"""Fixtures of the learned-model tests: tiny FFHQR-layout folders built in tmp dirs
from ../shared/faces (never copied into the repository), a tiny trained checkpoint.

Torch runs on one thread here: on the project's shared 2-core machine, two
OpenMP threads competing with other jobs made tiny steps ~10x slower.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from learn_helpers import tiny_config

PAIR = ("pairs/ffhqr_00000_source.png", "pairs/ffhqr_00000_target.png")
CLEAN = ("clean/gfpgan_ffhq00000_gt512.png", "clean/innerverz_003_face.png")


@pytest.fixture(autouse=True, scope="session")
def _torch_one_thread():
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


def _save(path: Path, arr: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


@pytest.fixture(scope="session")
def ffhqr_dir(tmp_path_factory, load_rgb) -> Path:
    """``face_retouching/{train,test}/{source,target}`` at 128 px: the real FFHQR pair,
    its mirror image and a shifted copy (train); the pair and its mirror (test)."""
    import cv2

    root = tmp_path_factory.mktemp("ffhqr") / "face_retouching"
    src, tgt = (cv2.resize(load_rgb(p), (128, 128), interpolation=cv2.INTER_AREA) for p in PAIR)
    variants = {"00000": (src, tgt), "00001": (src[:, ::-1], tgt[:, ::-1]),
                "00002": (np.roll(src, 8, axis=1), np.roll(tgt, 8, axis=1))}
    for name, (s, t) in variants.items():
        _save(root / "train" / "source" / f"{name}.png", np.ascontiguousarray(s))
        _save(root / "train" / "target" / f"{name}.png", np.ascontiguousarray(t))
        if name != "00002":
            _save(root / "test" / "source" / f"{name}.png", np.ascontiguousarray(s))
            _save(root / "test" / "target" / f"{name}.png", np.ascontiguousarray(t))
    return root


@pytest.fixture(scope="session")
def clean_dir(tmp_path_factory, faces_dir) -> Path:
    """Two clean face photos (symlinks) for the synthetic-pair generator."""
    d = tmp_path_factory.mktemp("clean")
    for rel in CLEAN:
        (d / Path(rel).name).symlink_to(faces_dir / rel)
    return d


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory, ffhqr_dir) -> Path:
    """A tiny model trained for 3 prior + 4 retoucher steps on ``ffhqr_dir``."""
    pytest.importorskip("torch")
    from retouch.learn.train import train

    out = tmp_path_factory.mktemp("tiny_run")
    cfg = tiny_config(out, f"data.ffhqr={ffhqr_dir}", "train.prior_steps=3", "train.steps=4")
    train(cfg, log=None)
    return out / "checkpoints" / "last.pt"
