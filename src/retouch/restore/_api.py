"""``restore()``: blind restoration of every face of a photo (built-in CPU engine).

For each face with landmarks: the canonical crop square (:mod:`retouch.align`)
is mapped into the image; its axis-aligned box is measured and restored by
:mod:`._chain` in image pixels (so the JPEG grid, the noise statistics and an
enlargement's sampling pattern stay intact: a rotated crop would resample them);
the result is colour-matched and blended back through the square's feathered
weight. With ``background=True`` the whole image is restored first (tiled, with
measurements from its centre) and the faces are blended over it.

Pixels where no step applied are copied from the input, so a clean photo comes
back bit-identical.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import InvalidInputError
from ..types import Alignment, Face, ImageData
from ._chain import RegionEstimate, measure, restore_region
from ._jpeg import file_jpeg_quality
from ._paste import COLOUR_SIGMA, blend, colour_match, window_box, window_weight

#: Regions larger than this (px per side) are restored in tiles.
TILE = 768
#: Largest region (px per side) measured whole, to restore it in one piece when it
#: is an enlargement whose effective grid fits in a tile.
FACE_MAX = 2048
#: Overlap of neighbouring tiles (px); the inner half of it is cross-faded.
TILE_OVERLAP = 48


@dataclass(frozen=True)
class RestoreResult:
    """What :func:`restore` returns.

    Attributes:
        image: ``(H, W, 3)`` RGB, same dtype as the input pixels.
        report: JSON-ready dict: settings, per-face estimated degradations
            (``blur_sigma_px``, ``noise_sigma`` in 8-bit code values,
            ``jpeg_quality``, effective resolution) and the steps applied.
        changed: ``(H, W) bool``, True where any channel differs from the input.
    """

    image: np.ndarray
    report: dict[str, Any]
    changed: np.ndarray


def _check_fidelity(fidelity: float) -> float:
    if isinstance(fidelity, bool) or not isinstance(fidelity, (int, float, np.floating)) \
            or not 0.0 <= float(fidelity) <= 1.0:
        raise InvalidInputError(
            f"`fidelity` must be a number in [0, 1] (0 faithful, 1 enhanced); got {fidelity!r}"
        )
    return float(fidelity)


def _faces_and_alignments(data: ImageData, analyses: Sequence[Any] | None
                          ) -> tuple[list[Face], list[tuple[Face, Alignment]]]:
    from ..align import align_face

    if analyses is not None:
        pairs = [(fa.face, fa.alignment) for fa in analyses]
        return [p[0] for p in pairs], pairs
    from ..detect import get_detector

    px8 = data.pixels if data.pixels.dtype == np.uint8 else (data.pixels >> 8).astype(np.uint8)
    faces = get_detector().detect(px8)
    pairs = [(f, align_face(f)) for f in faces if f.skip_reason is None]
    return faces, pairs


def _restore_box(
    img01: np.ndarray, box: tuple[int, int, int, int], fidelity: float,
    file_quality: int | None,
) -> tuple[np.ndarray | None, RegionEstimate, list[dict[str, Any]]]:
    """Restore image box ``box``; tiles when it is large. ``None`` if nothing applied."""
    x0, y0, x1, y1 = box
    H, W = img01.shape[:2]
    region = img01[y0:y1, x0:x1]
    # A small region's noise is measured on the area around it (3x its side).
    bw, bh = x1 - x0, y1 - y0
    cx0, cy0 = max(0, x0 - bw), max(0, y0 - bh)
    context = (img01[cy0:min(H, y1 + bh), cx0:min(W, x1 + bw)], (cx0, cy0))
    if max(region.shape[:2]) <= FACE_MAX:
        # An enlarged region is restored on its effective grid: in one piece
        # when that grid is no larger than a tile.
        m = measure(region, (x0, y0), (W, H), file_quality=file_quality, context=context)
        if max(region.shape[:2]) <= TILE or (m[1].active and max(m[2].shape[:2]) <= TILE):
            r = restore_region(region, (x0, y0), (W, H), fidelity=fidelity, measured=m)
            return (None if r.image is region else r.image), r.estimate, r.steps
    # Measure on the central tile, then apply tile by tile with cross-fades.
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    mx0, my0 = max(x0, cx - TILE // 2), max(y0, cy - TILE // 2)
    mx1, my1 = min(x1, mx0 + TILE), min(y1, my0 + TILE)
    probe = restore_region(img01[my0:my1, mx0:mx1], (mx0, my0), (W, H), fidelity=fidelity,
                           file_quality=file_quality)
    est, steps = probe.estimate, probe.steps
    if not steps:
        return None, est, steps
    out = np.zeros_like(region)
    wsum = np.zeros(region.shape[:2], np.float32)
    step = TILE - TILE_OVERLAP
    for ty in range(y0, y1, step):
        for tx in range(x0, x1, step):
            bx1, by1 = min(x1, tx + TILE), min(y1, ty + TILE)
            tile = img01[ty:by1, tx:bx1]
            r = restore_region(tile, (tx, ty), (W, H), fidelity=fidelity, estimate=est)
            wt = _tile_weight(tile.shape[:2], tx > x0, ty > y0, bx1 < x1, by1 < y1)
            sl = (slice(ty - y0, by1 - y0), slice(tx - x0, bx1 - x0))
            out[sl] += r.image * wt[..., None]
            wsum[sl] += wt
    return out / np.maximum(wsum, 1e-6)[..., None], est, steps


def _tile_weight(shape_hw: tuple[int, int], left: bool, top: bool, right: bool,
                 bottom: bool) -> np.ndarray:
    h, w = shape_hw
    o = TILE_OVERLAP

    def ramp(n: int, lo: bool, hi: bool) -> np.ndarray:
        r = np.ones(n, np.float32)
        k = np.clip((np.arange(n, dtype=np.float32) - o / 4) / (o / 2), 1e-3, 1.0)
        if lo:
            r = np.minimum(r, k)
        if hi:
            r = np.minimum(r, k[::-1])
        return r

    return np.outer(ramp(h, top, bottom), ramp(w, left, right))


def _learned_face(engine: Any, img01: np.ndarray, face: Face, out: np.ndarray | None,
                  entry: dict[str, Any]) -> np.ndarray | None:
    """Restore one face with a learned engine into ``out`` (copied from ``img01`` when
    ``None``); fills the face's report ``entry`` and returns the output array."""
    patch = engine.restore_face(img01, face)
    if patch is None:
        entry.update(estimate=None, steps=[], skipped="no landmarks or face window too small")
        return out
    x0, y0, x1, y1 = patch.box_xyxy
    entry.update(window_xyxy=list(patch.box_xyxy), estimate=None, steps=[patch.step])
    base = (out if out is not None else img01)[y0:y1, x0:x1]
    if out is None:
        out = img01.copy()
    out[y0:y1, x0:x1] = blend(base, patch.image, patch.weight)
    return out


def restore(
    data: ImageData, fidelity: float = 0.5, *, background: bool = False,
    analyses: Sequence[Any] | None = None, engine: Any = None,
) -> RestoreResult:
    """Restore every face of ``data`` (blind: degradations are measured, not given).

    Args:
        data: the decoded photo (see :func:`retouch.imageio.load_image`).
        fidelity: ``[0, 1]``; ``0`` stays closest to the input (gentle
            denoising, deblurring to a soft target), ``1`` cleans and sharpens
            more; ``0.5`` (default) is tuned for fidelity to the clean photo.
        background: also restore the whole image outside the faces.
        analyses: face analyses from :meth:`retouch.pipeline.RetouchPipeline.analyze`
            (anything with ``.face`` and ``.alignment``); detected when ``None``.
        engine: ``None`` for the built-in engine, or a learned face engine
            (:class:`retouch.learn.restore.engine.LearnedRestorer`): each face is
            then restored by ``engine.restore_face(img01, face)`` and blended
            through the weight it returns; ``fidelity`` and ``background`` still
            drive the built-in background pass.

    Returns:
        :class:`RestoreResult`. Without any measured degradation the image is
        a bit-identical copy of ``data.pixels`` and ``changed`` is all False.
    """
    if not isinstance(data, ImageData):
        raise InvalidInputError(
            f"`data` must be an ImageData (see retouch.imageio.load_image); got "
            f"{type(data).__name__}"
        )
    fidelity = _check_fidelity(fidelity)
    t_all = time.perf_counter()
    timings: dict[str, float] = {}
    t = time.perf_counter()
    faces, pairs = _faces_and_alignments(data, analyses)
    timings["detect"] = (time.perf_counter() - t) * 1000.0
    maxv = float(data.max_value)
    H, W = data.pixels.shape[:2]
    img01 = data.pixels.astype(np.float32) * np.float32(1.0 / maxv)
    fq = file_jpeg_quality(data.path) if data.format == "JPEG" else None
    work = img01
    bg_report = None
    if background:
        t = time.perf_counter()
        res, est, steps = _restore_box(img01, (0, 0, W, H), fidelity, fq)
        if res is not None:
            work = res
        bg_report = {"estimate": est.to_dict(), "steps": steps}
        timings["background"] = (time.perf_counter() - t) * 1000.0
    out = work.copy() if work is not img01 else None
    face_reports = []
    t = time.perf_counter()
    for face, al in pairs:
        tf = time.perf_counter()
        box = window_box(al, (H, W))
        x0, y0, x1, y1 = box
        entry: dict[str, Any] = {
            "index": face.index, "bbox": [round(float(v), 1) for v in face.bbox_xywh],
            "window_xyxy": list(box),
        }
        if engine is not None:
            out = _learned_face(engine, img01, face, out, entry)
            entry["time_ms"] = round((time.perf_counter() - tf) * 1000.0, 1)
            face_reports.append(entry)
            continue
        if x1 - x0 < 16 or y1 - y0 < 16:
            entry.update(estimate=None, steps=[], skipped="face window too small")
            face_reports.append(entry)
            continue
        res, est, steps = _restore_box(img01, box, fidelity, fq)
        entry["estimate"] = est.to_dict()
        face_px = al.size / al.scale  # crop side in image px (4 x inter-ocular)
        entry["estimate"]["face_size_px"] = round(face_px, 1)
        entry["estimate"]["effective_face_size_px"] = round(
            face_px / est.to_dict()["effective_scale"], 1)
        entry["steps"] = steps
        if res is not None:
            orig = img01[y0:y1, x0:x1]
            res = colour_match(res, orig, COLOUR_SIGMA * max(x1 - x0, y1 - y0))
            wgt = window_weight(al, box)
            base = (out if out is not None else img01)[y0:y1, x0:x1]
            if out is None:
                out = img01.copy()
            out[y0:y1, x0:x1] = blend(base, res, wgt)
        entry["time_ms"] = round((time.perf_counter() - tf) * 1000.0, 1)
        face_reports.append(entry)
    timings["faces"] = (time.perf_counter() - t) * 1000.0
    if out is None:
        image = data.pixels.copy()
        changed = np.zeros((H, W), bool)
    else:
        image = np.clip(np.rint(out * maxv), 0, maxv).astype(data.pixels.dtype)
        changed = np.any(image != data.pixels, axis=2)
    timings["total"] = (time.perf_counter() - t_all) * 1000.0
    report = {
        "retouch_version": __version__,
        "engine": "builtin" if engine is None else engine.name,
        "input": str(data.path) if data.path else None,
        "image": {"width": W, "height": H,
                  "bit_depth": 16 if data.pixels.dtype == np.uint16 else 8},
        "settings": {"fidelity": fidelity, "background": bool(background)},
        "file_jpeg_quality": fq,
        "faces": face_reports,
        "background": bg_report,
        "no_face": len(pairs) == 0,
        "changed_pixels": int(changed.sum()),
        "timings_ms": {k: round(v, 1) for k, v in timings.items()},
    }
    if engine is not None:
        report["model"] = engine.describe()
    return RestoreResult(image=image, report=report, changed=changed)
