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

#: (photo, output name, retouch options or None, detail centre (x, y) in input pixels or
#: None for the window holding the most treated spots). The close-up's detail is set on
#: the chin: the window with the most spots there is on the fingers, whose knuckle marks
#: it also treats (see the README's close-up notes).
CASES = [
    ("blemish/localretouch_acne_dark_bg.jpg", "acne.jpg", None, None),
    ("blemish/swati_freckles_darkspots.jpg", "freckles.jpg", None, None),
    ("pairs/pixabay_chin_acne_before.png", "closeup.jpg", {"closeup": True}, (190, 110)),
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
    for rel, name, options, centre in CASES:
        res = retouch(Path(a.faces) / rel, **(options or {}))
        src = res.source.pixels
        sl = _crop(src, res.report["faces"][0]["bbox"])
        pair = np.hstack([src[sl], res.image[sl]])
        s = 900 / pair.shape[1]
        pair = cv2.resize(pair, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        # Detail: the window (a third of the face wide) holding the most treated spots
        # (ties: the most treated pixels), enlarged so pores and the fills can be judged.
        fw = int(res.report["faces"][0]["bbox"][2] / 3)
        removed = (res.masks["removed"] > 0).astype(np.float32)
        centres = np.zeros_like(removed)
        for imp in res.report["imperfections"]:
            if imp["removed"] and imp["type"] in ("acne", "red_spot", "dark_spot"):
                x, y, w, h = imp["bbox"]
                yi = min(int(y + h / 2), centres.shape[0] - 1)
                centres[yi, min(int(x + w / 2), centres.shape[1] - 1)] = 1.0
        dens = cv2.boxFilter(centres + removed / removed.size, -1, (fw, fw), normalize=False)
        cy, cx = np.unravel_index(int(np.argmax(dens)), dens.shape)
        if centre is not None:
            cx, cy = centre
        y0 = int(np.clip(cy - fw // 2, 0, src.shape[0] - fw))
        x0 = int(np.clip(cx - fw // 2, 0, src.shape[1] - fw))
        det = np.hstack([src[y0:y0 + fw, x0:x0 + fw], res.image[y0:y0 + fw, x0:x0 + fw]])
        det = cv2.resize(det, (pair.shape[1], pair.shape[1] // 2),
                         interpolation=cv2.INTER_CUBIC if fw < 450 else cv2.INTER_AREA)
        full = np.vstack([pair, np.full((6, pair.shape[1], 3), 255, np.uint8), det])
        im = Image.fromarray(full)
        d = ImageDraw.Draw(im)
        text_style = {"fill": (255, 255, 255), "stroke_width": 2, "stroke_fill": (0, 0, 0)}
        d.text((8, 8), "before", **text_style)
        label = "after (retouch --closeup)" if options and options.get("closeup") else \
            "after (retouch, default)"
        d.text((pair.shape[1] // 2 + 8, 8), label, **text_style)
        d.text((8, pair.shape[0] + 14), "detail, enlarged" if centre is None else
               "detail (chosen), enlarged", **text_style)
        im.save(out / name, quality=90)
        print(out / name)


if __name__ == "__main__":
    main()
