"""Render docs/images/restore.jpg: before/after of the real degraded photos (repo root).

    python scripts/make_restore_grid.py [--faces ../shared/faces] [--out docs/images/restore.jpg]

Each tile pair is the face window of the input and of ``retouch restore``'s
output at default settings, downscaled to 256 px and labelled with the steps
applied; the photos themselves stay in ../shared/faces.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from retouch.imageio import load_image
from retouch.restore import restore

CASES = [
    "degraded/codeformer_0143.png",
    "degraded/vqfr_lfw_Harold_Scott_0001_00_lq.png",
    "degraded/codeformer_solvay1927_0018.png",
    "degraded/rfpp_122_00062_00_org.png",
    "degraded/codeformer_whole04_lowres.jpg",
    "degraded/vqfr_webphoto_00066_02_lq.png",
]
TILE = 256


def _tile(img: np.ndarray, box: list[int], label: str) -> Image.Image:
    x0, y0, x1, y1 = box
    crop = img[y0:y1, x0:x1]
    s = TILE / max(crop.shape[:2])
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_NEAREST
    crop = cv2.resize(crop, None, fx=s, fy=s, interpolation=interp)
    canvas = Image.new("RGB", (TILE, TILE), (0, 0, 0))
    canvas.paste(Image.fromarray(crop), ((TILE - crop.shape[1]) // 2, (TILE - crop.shape[0]) // 2))
    d = ImageDraw.Draw(canvas)
    d.rectangle((0, 0, TILE, 14), fill=(0, 0, 0))
    d.text((4, 2), label, fill=(255, 255, 255))
    return canvas


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", default="../shared/faces")
    ap.add_argument("--out", default="docs/images/restore.jpg")
    a = ap.parse_args()
    pairs = []
    for rel in CASES:
        data = load_image(Path(a.faces) / rel)
        res = restore(data)
        faces = res.report["faces"]
        if faces:
            box = faces[0]["window_xyxy"]
            steps = ", ".join(s["step"] for s in faces[0]["steps"]) or "unchanged"
        else:
            h, w = data.pixels.shape[:2]
            box, steps = [0, 0, w, h], "no face found"
        name = Path(rel).stem[:22]
        pairs.append((_tile(data.pixels, box, f"before: {name}"),
                      _tile(res.image, box, f"after: {steps}")))
    cols = 2
    rows = (len(pairs) + cols - 1) // cols
    grid = Image.new("RGB", (cols * 2 * TILE + (cols - 1) * 8, rows * TILE), (255, 255, 255))
    for i, (b, f) in enumerate(pairs):
        x = (i % cols) * (2 * TILE + 8)
        y = (i // cols) * TILE
        grid.paste(b, (x, y))
        grid.paste(f, (x + TILE, y))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for q in (90, 85, 80, 70):
        buf = io.BytesIO()
        grid.save(buf, "JPEG", quality=q)
        if buf.tell() < 400_000:
            break
    out.write_bytes(buf.getvalue())
    print(f"{out}: {grid.size[0]}x{grid.size[1]}, {out.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
