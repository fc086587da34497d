"""Render the README's before/after crops from ../shared/faces (run from the repo root).

    python scripts/make_readme_grid.py [--faces ../shared/faces] [--out docs/images]

Crops are downscaled, labelled before/after grids of our own output; the
photos themselves stay in ../shared/faces.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from retouch import retouch

CASES = [
    ("blemish/localretouch_acne_dark_bg.jpg", "acne.jpg", None),
    ("blemish/swati_freckles_darkspots.jpg", "freckles.jpg", None),
]


def _crop(img: np.ndarray, face_bbox, pad: float = 0.15) -> tuple[slice, slice]:
    x, y, w, h = face_bbox
    p = pad * w
    y0, y1 = int(max(0, y - p)), int(min(img.shape[0], y + h + p))
    x0, x1 = int(max(0, x - p)), int(min(img.shape[1], x + w + p))
    return slice(y0, y1), slice(x0, x1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", default="../shared/faces")
    ap.add_argument("--out", default="docs/images")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for rel, name, _ in CASES:
        res = retouch(Path(a.faces) / rel)
        src = res.source.pixels
        sl = _crop(src, res.report["faces"][0]["bbox"])
        pair = np.hstack([src[sl], res.image[sl]])
        s = 900 / pair.shape[1]
        pair = cv2.resize(pair, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        im = Image.fromarray(pair)
        d = ImageDraw.Draw(im)
        d.text((8, 8), "before", fill=(255, 255, 255))
        d.text((pair.shape[1] // 2 + 8, 8), "after (retouch, default)", fill=(255, 255, 255))
        im.save(out / name, quality=88)
        print(out / name)


if __name__ == "__main__":
    main()
