"""Geometry: faces cut by the border, rotated, tiny, and a crowd of 50.

Each face must be treated or reported with a reason (``skip_reason``), nothing
may crash, and the run time is bounded (recorded in the fuzz report).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from _faces import FACES
from _harness import FULL, record, run_case
from PIL import Image

from retouch import retouch
from retouch.detect import MIN_FACE_PX, get_detector

pytestmark = pytest.mark.fuzz


@pytest.fixture(scope="module")
def portrait() -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A frontal portrait and its face box ``(x, y, w, h)``."""
    p = FACES / "clean" / "fr_obama.jpg"
    if p.is_file():
        with Image.open(p) as im:
            rgb = np.asarray(im.convert("RGB"))
    else:
        from retouch.sample import sample_face

        rgb = sample_face()
    faces = [f for f in get_detector().detect(rgb) if f.skip_reason is None]
    assert faces, "the base portrait must have a face"
    x, y, w, h = (int(round(v)) for v in faces[0].bbox_xywh)
    return rgb, (x, y, w, h)


def _check(name: str, img: np.ndarray, min_treated: int = 0) -> dict:
    """Retouch ``img``; every reported face is treated or has a reason; return the report."""
    t0 = time.perf_counter()
    res = retouch(np.ascontiguousarray(img))
    dt = time.perf_counter() - t0
    rep = res.report
    assert res.image.shape == img.shape
    changed = np.any(res.image != img, axis=2)
    assert not np.any(changed & (res.masks["removed"] == 0)), "pixels changed outside the mask"
    for f in rep["faces"]:
        assert f["retouched"] or (isinstance(f["skip_reason"], str) and f["skip_reason"])
        assert f["retouched"] == (f["skip_reason"] is None)
    treated = sum(f["retouched"] for f in rep["faces"])
    reasons = sorted({f["skip_reason"] for f in rep["faces"] if f["skip_reason"]})
    record("geometry", name, name.split("_")[0], f"{treated} treated",
           dt, detail=f"{len(rep['faces'])} faces; reasons {reasons}")
    assert treated >= min_treated, (name, rep["faces"])
    return rep


@pytest.mark.parametrize("side", ["left", "top", "right", "bottom"])
@pytest.mark.parametrize("cut", [0.33, 0.6])
def test_face_cut_by_the_border(portrait, side: str, cut: float) -> None:
    """A face partly outside the frame: treated, or reported with a reason."""
    rgb, (x, y, w, h) = portrait
    if side == "left":
        img = rgb[:, x + int(cut * w):]
    elif side == "right":
        img = rgb[:, : x + int((1 - cut) * w)]
    elif side == "top":
        img = rgb[y + int(cut * h):]
    else:
        img = rgb[: y + int((1 - cut) * h)]
    # A third of the face cut away still leaves it recognizable and treatable.
    _check(f"border_{side}_{cut}", img, min_treated=1 if cut < 0.5 else 0)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rotated_face(portrait, k: int) -> None:
    """Rotated 90/180/270 degrees (no EXIF to undo it): the face is still found and treated."""
    rgb, _ = portrait
    _check(f"rotated_{90 * k}", np.rot90(rgb, k), min_treated=1)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_rotated_file(portrait, tmp_path: Path, orientation: int) -> None:
    """A file stored sideways with an EXIF orientation: upright after loading, face treated."""
    rgb, _ = portrait
    inverse = {3: 2, 6: 1, 8: 3}[orientation]  # store the pixels turned the other way
    ex = Image.Exif()
    ex[0x0112] = orientation
    p = tmp_path / "sideways.jpg"
    Image.fromarray(np.ascontiguousarray(np.rot90(rgb, inverse))).save(p, exif=ex, quality=95)
    res = retouch(str(p))
    assert res.image.shape == rgb.shape
    assert sum(f["retouched"] for f in res.report["faces"]) >= 1


@pytest.mark.parametrize("size", [12, 18, 22, 30, 40])
def test_tiny_face(portrait, size: int) -> None:
    """Faces of 12-40 px: those under the minimum are reported as too small, never treated."""
    rgb, (x, y, w, h) = portrait
    face = rgb[max(0, y - h // 2): y + h + h // 2, max(0, x - w // 2): x + w + w // 2]
    k = size / w
    small = np.asarray(Image.fromarray(face).resize(
        (max(1, round(face.shape[1] * k)), max(1, round(face.shape[0] * k))),
        Image.Resampling.LANCZOS))
    canvas = np.full((200, 240, 3), 120, np.uint8)
    canvas[60:60 + small.shape[0], 80:80 + small.shape[1]] = small
    rep = _check(f"tiny_{size}px", canvas)
    for f in rep["faces"]:
        if max(f["bbox"][2:]) < MIN_FACE_PX:
            assert not f["retouched"] and "too small" in f["skip_reason"]


def _crowd(portrait, tile: int, cols: int = 10, rows: int = 5) -> np.ndarray:
    rgb, (x, y, w, h) = portrait
    face = rgb[max(0, y - h // 2): y + h + h // 2, max(0, x - w // 2): x + w + w // 2]
    t = np.asarray(Image.fromarray(face).resize((tile, tile), Image.Resampling.LANCZOS))
    return np.tile(t, (rows, cols, 1))


@pytest.mark.parametrize("tile", [64, 100, 160, 240] if FULL else [160])
def test_crowd_of_50_through_the_cli(portrait, tmp_path: Path, tile: int) -> None:
    """50 faces in a 10x5 grid: every cell has one face, treated or with a reason; < 30 s."""
    img = _crowd(portrait, tile)
    inp = tmp_path / "in" / "crowd.png"
    inp.parent.mkdir()
    Image.fromarray(img).save(inp)
    out = tmp_path / "out"
    out.mkdir()
    o = run_case(inp, out, "retouch", "ok", f"crowd-{tile}px")
    assert not o.problems, o.problems
    rep = json.loads((out / "r.json").read_text())
    cells: dict[tuple[int, int], list[dict]] = {}
    for f in rep["faces"]:
        bx, by, bw, bh = f["bbox"]
        cells.setdefault((int((by + bh / 2) // tile), int((bx + bw / 2) // tile)), []).append(f)
        assert f["retouched"] or f["skip_reason"]
    treated = sum(f["retouched"] for f in rep["faces"])
    record("geometry", f"crowd_{tile}px", "crowd", f"{treated} treated", o.seconds,
           o.max_rss_mb, f"{len(rep['faces'])} faces in {len(cells)} of 50 cells; "
           f"stages ms {rep['timings_ms']}")
    assert len(cells) == 50 and all(len(v) == 1 for v in cells.values()), sorted(cells)
    assert treated >= 45


def test_corner_tiles_skipped_for_a_close_up_only(portrait, monkeypatch) -> None:
    """A close-up (face >= PORTRAIT_FACE_FRACTION of the short side) runs the detector
    on the whole image only; the same face small in a large canvas gets the tiles too,
    and is still found."""
    import cv2

    from retouch import detect as det_mod

    rgb, (x, y, w, h) = portrait
    det = get_detector()
    calls: list[tuple[int, int]] = []
    orig = det_mod.MediaPipeDetector._run_box_model

    def counting(self, model, img, ox, oy, s):
        calls.append(img.shape[:2])
        return orig(self, model, img, ox, oy, s)

    monkeypatch.setattr(det_mod.MediaPipeDetector, "_run_box_model", counting)
    side = int(1.8 * max(w, h))
    cx, cy = x + w // 2, y + h // 2
    close = np.ascontiguousarray(rgb[max(0, cy - side // 2): cy + side // 2,
                                     max(0, cx - side // 2): cx + side // 2])
    close = cv2.resize(close, (800, 800), interpolation=cv2.INTER_CUBIC)
    faces = [f for f in det.detect(close) if f.skip_reason is None]
    assert len(faces) == 1 and len(calls) == 2, calls
    calls.clear()
    canvas = np.full((900, 1200, 3), 128, np.uint8)
    small = cv2.resize(close, (160, 160), interpolation=cv2.INTER_AREA)
    canvas[600:760, 900:1060] = small
    faces = [f for f in det.detect(canvas) if f.skip_reason is None]
    assert len(calls) > 2, calls
    assert len(faces) == 1
    fx, fy, fw, fh = faces[0].bbox_xywh
    assert 880 < fx + fw / 2 < 1080 and 580 < fy + fh / 2 < 780
