"""Render docs/images/edits.jpg: before/after crops of the main edits on the shared photos.

    PYTHONPATH=src python scripts/make_edit_grid.py [--faces ../shared/faces] [--out docs/images]

Each pair is a crop around the edited feature (left: input, right: output of
``retouch.edit.apply_edits`` with the setting in the label). The photos stay
in ../shared/faces; only this downscaled grid of our own output is committed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

os.environ.setdefault("GLOG_minloglevel", "2")

from retouch.edit import EditRequest, apply_edits  # noqa: E402
from retouch.edit.grid import label  # noqa: E402
from retouch.imageio import load_image  # noqa: E402
from retouch.pipeline import RetouchPipeline  # noqa: E402

# (photo, request, label, crop centre landmark ids, crop half-size in iod)
CASES = [
    ("clean/mpl_grace_hopper.jpg", EditRequest("double_chin", -1.0), "double_chin -1",
     (152,), 0.75),
    ("clean/fr_alex_lacamoire1.jpg", EditRequest("face.slim", 1.0), "face.slim +1", (1,), 1.3),
    ("clean/fr_rose_leslie2.jpg", EditRequest("eyes.size", 0.7), "eyes.size +0.7", (168,), 0.75),
    ("clean/fr_rose_leslie2.jpg", EditRequest("nose.width", -1.0), "nose.width -1", (4,), 0.5),
    ("clean/fr_rose_leslie2.jpg", EditRequest("lips.fullness", 0.8), "lips.fullness +0.8",
     (13,), 0.5),
    ("clean/fr_alex_lacamoire1.jpg", EditRequest("smile", 0.8), "smile +0.8", (13,), 0.6),
    ("clean/fr_alex_lacamoire1.jpg", EditRequest("brows.raise", 0.8), "brows.raise +0.8",
     (168,), 0.7),
    ("clean/fr_rose_leslie2.jpg", EditRequest("lipstick", 0.8, color="berry", finish="gloss"),
     "lipstick berry gloss", (13,), 0.5),
    ("clean/fr_obama.jpg", EditRequest("teeth.whiten", 1.0), "teeth.whiten +1", (13,), 0.45),
    ("clean/fr_alex_lacamoire1.jpg", EditRequest("eyes.whiten", 1.0), "eyes.whiten +1",
     (468,), 0.3),
    ("clean/fr_alex_lacamoire1.jpg", EditRequest("brows.density", -0.8), "brows.density -0.8",
     (168,), 0.7),
    ("clean/fr_rose_leslie2.jpg", EditRequest("hair.color", 1.0, color="black"),
     "hair.color black", (168,), 1.8),
    ("clean/fr_alex_lacamoire1.jpg", EditRequest("hair.color", 0.9, color="blond"),
     "hair.color blond 0.9", (168,), 1.8),
    ("clean/fr_biden2.jpg", EditRequest("skin.tone", 1.0, color="pale"), "skin.tone pale +1",
     (4,), 1.3),
    ("clean/fr_alex_lacamoire1.jpg", EditRequest("under_eye", 1.0), "under_eye +1", (168,), 0.7),
    ("clean/fr_biden2.jpg", EditRequest("young", 1.0), "young +1", (9,), 0.8),
]


def _crop(img: np.ndarray, p: np.ndarray, ids: tuple[int, ...], half_iod: float) -> np.ndarray:
    iod = float(np.linalg.norm(p[468] - p[473]))
    c = p[list(ids)].mean(axis=0)
    if ids == (152,):
        c = c + [0, 0.35 * iod]
    r = half_iod * iod
    H, W = img.shape[:2]
    x0, y0 = int(max(0, c[0] - r)), int(max(0, c[1] - r))
    x1, y1 = int(min(W, c[0] + r)), int(min(H, c[1] + r))
    return img[y0:y1, x0:x1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", default="../shared/faces")
    ap.add_argument("--out", default="docs/images")
    ap.add_argument("--tile", type=int, default=180)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    pipe = RetouchPipeline()
    cache: dict[str, tuple] = {}
    pairs = []
    for rel, req, text, ids, half in CASES:
        if rel not in cache:
            data = load_image(Path(a.faces) / rel)
            cache[rel] = (data, pipe.analyze(data)[1])
        data, analyses = cache[rel]
        res = apply_edits(data, analyses[:1], [req])
        p = analyses[0].face.landmarks_xy
        t = a.tile
        before = cv2.resize(_crop(data.pixels, p, ids, half), (t, t), interpolation=cv2.INTER_AREA)
        after = cv2.resize(_crop(res.image, p, ids, half), (t, t), interpolation=cv2.INTER_AREA)
        pair = np.hstack([label(before, "before"), label(after, text),
                          np.full((t, 6, 3), 255, np.uint8)])
        pairs.append(pair)
    cols = 3
    while len(pairs) % cols:
        pairs.append(np.full_like(pairs[0], 255))
    rows = [np.hstack(pairs[i:i + cols]) for i in range(0, len(pairs), cols)]
    grid = np.vstack([np.vstack([r, np.full((6, r.shape[1], 3), 255, np.uint8)]) for r in rows])
    path = out / "edits.jpg"
    Image.fromarray(grid).save(path, quality=84, optimize=True)
    print(path, grid.shape, f"{path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
