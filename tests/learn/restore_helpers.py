"""Helpers of the learned-restorer tests: a tiny FFHQ-layout folder built in a tmp dir from
../shared/faces/clean (never copied into the repository), tiny configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLEAN = ("clean/gfpgan_ffhq00000_gt512.png", "clean/innerverz_003_face.png",
         "clean/innerverz_013_face.png", "clean/celebamaskhq_116.jpg")


def make_ffhq_dir(root: Path, load_rgb, n: int = 2, size: int = 128) -> Path:
    """``root/00000/00000.png ...`` (FFHQ's nested layout): the centre squares of the first
    ``n`` clean photos at ``size`` px, two per subfolder."""
    import cv2
    from PIL import Image

    for i, rel in enumerate(CLEAN[:n]):
        a = load_rgb(rel)
        h, w = a.shape[:2]
        s = min(h, w)
        a = a[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        a = cv2.resize(a, (size, size), interpolation=cv2.INTER_AREA)
        d = root / f"{i // 2 * 1000:05d}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(a)).save(d / f"{i:05d}.png")
    return root


def tiny_restore_config(out_dir: Path, data_dir: Path, *overrides: str):
    """The tiny preset on ``data_dir`` writing to ``out_dir``, logging every step."""
    from retouch.learn.config import apply_overrides
    from retouch.learn.restore.config import tiny

    return apply_overrides(tiny(), [f"train.out_dir=\"{out_dir}\"", f"data.dirs=[\"{data_dir}\"]",
                                    "train.log_every=1", "train.sample_every=0",
                                    "train.ckpt_every=0", *overrides])
