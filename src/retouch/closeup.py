"""Close-up mode: blemishes on a skin close-up in which no whole face is visible.

Skincare and dermatology photos often show a chin, a cheek or a forehead and no
eyes. The face mesh needs the whole face, so the default pipeline finds no face
to retouch there and returns such a photo unchanged. In close-up mode the whole
frame is searched instead:

1. *align*: the frame is scaled (never rotated) into one square working crop,
   centred, so that a whole face at this photo's scale would measure the
   localizer's face size (``face_size_px`` of the input, see below);
2. *parse*: skin is found by colour alone: a generic skin-colour gamut seeds a
   per-photo colour model (:func:`retouch.parse.skin_likelihood`), whose small
   holes (the blemishes themselves) are closed; long intensity edges
   (:func:`structure_edges`), teeth (:func:`neutral_areas`) and lips
   (:func:`lip_areas`) are cut out; the lips are the one named region (so the
   localizer's rule for the mouth applies); there are no eyes or nose, and the
   shading rules beside them do not apply;
3. *localize*, *synthesize* and *paste back* as for a face
   (:func:`retouch.localize.localize_imperfections`); pixels outside the
   treated footprints stay bit-identical.

Scale. The localizer measures spot sizes relative to a face's size ``u``
(``2.2`` inter-ocular distances, about the face's width). A close-up has no
face to measure, so the size is given (``face_size_px``, in input pixels: how
wide a whole face would be at this photo's scale) or defaults to
:data:`DEFAULT_FACE_FRACTION` of the frame's longer side (between a lower
face filling the frame, about 0.85, and a chin-and-cheek close-up, about
0.5). Spots from ``0.2 %`` to ``3 %`` of that size (radius) are looked for.

Conventions: images ``(H, W, 3)`` RGB; points ``(x, y)``; the crop is
``(S, S)``, its pixel ``(x', y') = scale * (x, y) + offset``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import cv2
import numpy as np

from .align import warp_to_crop
from .errors import InvalidInputError
from .localize import localize_imperfections
from .parse import skin_likelihood, skin_with_spots
from .types import REGION_NAMES, Alignment, Face, FaceRegions, Localization

#: Default face size of a close-up, as a fraction of the frame's longer side.
DEFAULT_FACE_FRACTION = 0.7
#: The localizer's face size in crop pixels is at most this (the core's largest
#: canonical crop gives 0.55 x 640): finer detail than that is not needed to find spots.
MAX_FACE_CROP_PX = 352.0
#: Largest working crop side in pixels (bounds time and memory for small face sizes).
MAX_CROP_SIDE = 2048
#: Imperfection types that need a face's geometry; a close-up does not report them.
FACE_ONLY = frozenset({"shine", "under_eye"})
#: An intensity edge whose chain spans this many face sizes is a structure, not a spot.
EDGE_SPAN = 0.12
#: Skin must cover at least this fraction of the frame, else nothing is treated.
MIN_SKIN_FRACTION = 0.03
#: A pixel whose saturation (chroma / lightness) is below this fraction of the
#: skin's median is neutral (teeth, eye whites): not skin, see :func:`neutral_areas`.
NEUTRAL_FRACTION = 0.5
#: ... when its neutral area spans at least this many face sizes (smaller neutral
#: specks are skin highlights and grain).
NEUTRAL_SPAN = 0.06
#: ... and when its hue (Lab, degrees) is at least this much yellower than the
#: skin's median: washed-out skin in strong light is as grey, but keeps its hue.
NEUTRAL_HUE_SHIFT = 8.0
#: Lips: hue at least this many degrees below the skin's median (more magenta) ...
LIP_HUE_SHIFT = 12.0
#: ... a* at least this much above the skin's median ...
LIP_RED = 4.0
#: ... in areas spanning at least this many face sizes.
LIP_SPAN = 0.15


def closeup_alignment(shape_hw: tuple[int, int], face_size_px: float) -> tuple[Alignment, float]:
    """Scale-and-centre transform of a whole frame into one square crop.

    Args:
        shape_hw: ``(H, W)`` of the input in pixels.
        face_size_px: size of a whole face at this photo's scale, input pixels (> 0).

    Returns:
        ``(alignment, u)``: the transform (``scale`` = crop px per input px,
        ``<= 1``) and the face size in crop pixels for the localizer.
    """
    H, W = shape_hw
    scale = min(1.0, MAX_FACE_CROP_PX / face_size_px)
    side = int(np.ceil(max(H, W) * scale)) + 2
    if side > MAX_CROP_SIDE:
        scale *= (MAX_CROP_SIDE - 2) / (side - 2)
        side = int(np.ceil(max(H, W) * scale)) + 2
    side = max(side, 8)
    # Centre the frame: pixel centres map as x' = s x + t.
    tx = (side - 1 - (W - 1) * scale) / 2.0
    ty = (side - 1 - (H - 1) * scale) / 2.0
    m = np.array([[scale, 0.0, tx], [0.0, scale, ty]], np.float64)
    return Alignment(matrix=m, size=side, scale=float(scale)), float(face_size_px * scale)


def skin_gamut(lab: np.ndarray) -> np.ndarray:
    """Pixels whose colour is plausibly skin of any tone, ``(H, W) bool``.

    A loose gamut in CIE Lab (OpenCV's float scaling: L in [0, 100]): not too
    dark or white, some chroma, and a hue between red-orange and yellow (skin
    from very light to very dark lies there; lips, background greys and most
    hair fall outside or are outvoted when the colour model is fitted).
    """
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    chroma = np.hypot(a, b)
    hue = np.degrees(np.arctan2(b, a))
    return (L > 20) & (L < 97) & (chroma > 6) & (chroma < 60) & (hue > 25) & (hue < 80)


def structure_edges(L: np.ndarray, u: float) -> np.ndarray:
    """Long intensity edges of a close-up: occlusion and fold boundaries, ``(S, S) bool``.

    A finger against the neck, the lip line or a nostril's rim is skin on both
    sides, so the colour model keeps it inside the skin; its shading edge would
    then look like a chain of dark spots. Canny edges of the smoothed lightness
    whose connected chain spans more than :data:`EDGE_SPAN` face sizes (a
    spot's outline spans at most ~0.07) are cut out of the skin, grown by
    ``0.006 u``, so the localizer's skin-border rule rejects what hugs them.
    """
    sm = cv2.GaussianBlur(L, (0, 0), max(1.0, 0.004 * u))
    gx = cv2.Sobel(sm, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(sm, cv2.CV_32F, 0, 1, ksize=3)
    grad = cv2.magnitude(gx, gy) * 0.125  # L* per pixel (the 3x3 Sobel weighs 8x)
    # Hysteresis at 2.5 and 1.25 L*/px (an occlusion edge: 15+ L* across ~3 px; a spot's
    # rim: ~2), raised on grainy skin to 3x the median gradient.
    hi = max(2.5, 3.0 * float(np.median(grad)))
    f = 0.125 * 64.0 / hi  # derivatives in units where `hi` is 64
    dx = np.clip(gx * f, -32000, 32000).astype(np.int16)
    dy = np.clip(gy * f, -32000, 32000).astype(np.int16)
    edges = cv2.Canny(dx, dy, 32, 64, L2gradient=True) > 0
    return _spanning(edges, EDGE_SPAN * u, 0.006 * u)


def _spanning(mask: np.ndarray, min_span_px: float, grow_px: float) -> np.ndarray:
    """The 8-connected parts of ``mask`` whose bounding box is at least
    ``min_span_px`` wide or high, grown by a disc of radius ``grow_px`` (>= 1)."""
    n, lbl, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    span = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    keep = span >= min_span_px
    keep[0] = False
    k = max(3, int(2 * round(grow_px) + 1))
    return cv2.dilate(keep[lbl].astype(np.uint8),
                      cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0


def neutral_areas(lab: np.ndarray, skin: np.ndarray, u: float) -> np.ndarray:
    """Teeth and other near-grey areas next to skin, ``(S, S) bool``.

    Teeth of a smile are pale yellow, and a colour model of this photo's skin
    keeps some of them; the gaps between them and the lip line then read as
    dark spots, and filling those paints skin onto the teeth. Teeth have a third
    of skin's saturation (chroma / lightness in Lab) or less, and a yellower hue;
    skin washed out by strong light can be as grey, but keeps its pinkish hue.
    Pixels under :data:`NEUTRAL_FRACTION` of the skin's median saturation and
    :data:`NEUTRAL_HUE_SHIFT` degrees yellower than its median hue form the
    areas; those spanning :data:`NEUTRAL_SPAN` face sizes or more are kept and
    grown by ``0.01 u`` (the gaps and the lip line beside them).

    Args:
        lab: ``(S, S, 3) float32`` Lab of the crop (L in ``[0, 100]``).
        skin: ``(S, S)`` soft skin in ``[0, 1]``.
        u: face size in crop pixels.
    """
    ratio = np.hypot(lab[..., 1], lab[..., 2]) / np.maximum(lab[..., 0], 5.0)
    hue = np.degrees(np.arctan2(lab[..., 2], lab[..., 1]))
    on = skin > 0.5
    if on.sum() < 64:
        return np.zeros(skin.shape, bool)
    low = (ratio < NEUTRAL_FRACTION * float(np.median(ratio[on]))) & (lab[..., 0] > 20) \
        & (hue > float(np.median(hue[on])) + NEUTRAL_HUE_SHIFT)
    low = cv2.morphologyEx(low.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return _spanning(low, NEUTRAL_SPAN * u, 0.01 * u)


def lip_areas(lab: np.ndarray, skin: np.ndarray, u: float) -> np.ndarray:
    """Lips beside the skin of a close-up, ``(S, S) bool``.

    Lips are redder than the skin around them and of a more magenta hue (on the
    ten clean benchmark faces, their median hue is 12 to 24 degrees below the
    skin's median, while 90 % of skin lies within 10 degrees of it); a colour
    model of the photo's skin keeps much of them, and their edges, corners
    and creases then read as spots. Pixels at least :data:`LIP_HUE_SHIFT`
    degrees more magenta and :data:`LIP_RED` units of a* redder than the skin's
    medians, closed over ``0.01 u``, form the areas; those spanning
    :data:`LIP_SPAN` face sizes (a spot spans at most ~0.07) are kept. They are
    returned as the ``lips`` region, so the localizer's rule for the mouth
    (no spots within ~0.035 u of the lips) applies as on a whole face.

    Args:
        lab: ``(S, S, 3) float32`` Lab of the crop (L in ``[0, 100]``).
        skin: ``(S, S)`` soft skin in ``[0, 1]``.
        u: face size in crop pixels.
    """
    on = skin > 0.5
    if on.sum() < 64:
        return np.zeros(skin.shape, bool)
    a = lab[..., 1]
    hue = np.degrees(np.arctan2(lab[..., 2], a))
    red = (hue < float(np.median(hue[on])) - LIP_HUE_SHIFT) \
        & (a > float(np.median(a[on])) + LIP_RED) & (lab[..., 0] > 15)
    k = max(3, int(0.01 * u) | 1)
    red = cv2.morphologyEx(red.astype(np.uint8), cv2.MORPH_CLOSE,
                           cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    red = cv2.morphologyEx(red, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return _spanning(red, LIP_SPAN * u, 1.0)


def closeup_regions(lab: np.ndarray, valid: np.ndarray, u: float) -> FaceRegions:
    """Skin (and lips) of a close-up crop by colour (every other named region is empty).

    Args:
        lab: ``(S, S, 3) float32`` Lab of the crop.
        valid: ``(S, S) bool``: crop pixels inside the input frame.
        u: face size in crop pixels (sets how large a hole in the skin is closed).

    Returns:
        :class:`~retouch.types.FaceRegions` with ``skin`` (soft, ``[0, 1]``),
        ``lips`` (``{0, 1}``, :func:`lip_areas`) and ``skin_likelihood`` set; the
        other regions are zeros.
    """
    S = lab.shape[0]
    k = max(3, int(0.01 * u) | 1)
    seed = cv2.erode((skin_gamut(lab) & valid).astype(np.uint8),
                     cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
    like = skin_likelihood(lab, seed) if seed.sum() >= 200 else np.zeros((S, S), np.float32)
    like = cv2.GaussianBlur(like, (0, 0), max(0.8, 0.0045 * u)) * valid
    skin = skin_with_spots(like, u) * valid
    # Keep the large skin areas only (skin-coloured specks of background are not skin).
    n, lbl, stats, _ = cv2.connectedComponentsWithStats((skin > 0.5).astype(np.uint8), 8)
    big = np.zeros(n, bool)
    big[1:] = stats[1:, cv2.CC_STAT_AREA] >= max(64.0, 0.01 * float(valid.sum()))
    near_big = cv2.dilate(big[lbl].astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    skin = np.where(near_big, skin, 0.0).astype(np.float32)
    skin *= ~structure_edges(lab[..., 0], u)
    skin *= ~neutral_areas(lab, skin, u)
    lips = lip_areas(lab, skin, u)
    skin *= ~lips
    masks = {name: np.zeros((S, S), np.float32) for name in REGION_NAMES}
    masks["skin"] = skin
    masks["lips"] = lips.astype(np.float32)
    return FaceRegions(masks=masks, skin_likelihood=like.astype(np.float32))


def resolve_face_size(shape_hw: tuple[int, int], face_size_px: float | None) -> float:
    """The close-up's face size in input pixels (the default when ``None``).

    Raises:
        InvalidInputError: ``face_size_px`` is not a positive finite number.
    """
    if face_size_px is None:
        return DEFAULT_FACE_FRACTION * float(max(shape_hw))
    if isinstance(face_size_px, bool) or not isinstance(face_size_px, (int, float, np.number)) \
            or not np.isfinite(face_size_px) or face_size_px < 8:
        raise InvalidInputError(
            f"`face_size` must be a number of pixels >= 8; got {face_size_px!r}")
    return float(face_size_px)


def check_closeup_settings(closeup: bool, face_size_px: float | None, *,
                           by_words: bool = False, engine: object = None) -> None:
    """Refuse close-up settings that do not go together (every entry point's check).

    Args:
        closeup: close-up mode requested.
        face_size_px: see :func:`resolve_face_size`; only with ``closeup``.
        by_words: an instruction or a plan was given (close-up mode takes
            ``only``/``keep``/``strength`` only).
        engine: a learned engine was given (close-up mode is built-in only).

    Raises:
        InvalidInputError: with a one-line reason.
    """
    if face_size_px is not None and not closeup:
        raise InvalidInputError("`face_size` is a close-up setting; pass `closeup=True`")
    if closeup and by_words:
        raise InvalidInputError("close-up mode (`closeup`) takes `only`/`keep`/`strength`, "
                                "not an instruction or a plan")
    if closeup and engine is not None:
        raise InvalidInputError("close-up mode works with the built-in engine only")
    if face_size_px is not None:
        resolve_face_size((1, 1), face_size_px)  # validates the number


def analyze_closeup(pixels: np.ndarray, max_value: float, face_size_px: float | None,
                    sensitivity: float, lap: Callable[[str, float], float] | None = None,
                    ) -> tuple[Face, Alignment, FaceRegions, Localization | None, dict]:
    """Align, parse and localize a whole close-up frame as one face.

    Args:
        pixels: ``(H, W, 3)`` RGB, ``uint8`` or ``uint16``.
        max_value: the pixels' full scale (255 or 65535).
        face_size_px: see :func:`resolve_face_size`.
        sensitivity: localizer sensitivity in ``[0, 1]``.
        lap: called as ``lap(stage, t0)`` after the ``"align"``, ``"parse"`` and
            ``"localize"`` stages with the stage's start (``time.perf_counter``
            seconds); returns the next stage's start (the pipeline's timer).

    Returns:
        ``(face, alignment, regions, localization, info)``: a pseudo-face
        covering the frame (``skip_reason`` set, and ``localization`` ``None``,
        when too little skin is found), and ``info`` for the report
        (``face_size_px``, ``skin_fraction``, ``working_scale``).
    """
    lap = lap or (lambda _stage, _t0: time.perf_counter())
    t = time.perf_counter()
    H, W = pixels.shape[:2]
    size = resolve_face_size((H, W), face_size_px)
    al, u = closeup_alignment((H, W), size)
    crop = warp_to_crop(pixels, al).astype(np.float32) * (1.0 / max_value)
    lab = cv2.cvtColor(crop, cv2.COLOR_RGB2Lab)
    t = lap("align", t)
    valid = cv2.warpAffine(np.ones((H, W), np.uint8), al.matrix, (al.size, al.size),
                           flags=cv2.INTER_NEAREST, borderValue=0) > 0
    valid = cv2.erode(valid.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    regions = closeup_regions(lab, valid, u)
    t = lap("parse", t)
    skin_frac = float((regions.masks["skin"] > 0.5).sum()) / max(1.0, float(valid.sum()))
    reason = None if skin_frac >= MIN_SKIN_FRACTION else \
        f"close-up: too little skin found ({100 * skin_frac:.1f}% of the frame)"
    face = Face(index=0, bbox_xywh=(0.0, 0.0, float(W), float(H)), score=1.0,
                landmarks_xy=None, skip_reason=reason)
    loc = None
    if reason is None:
        loc = localize_imperfections(crop, lab, regions, sensitivity=sensitivity, face_size=u)
        # Shine and under-eye darkness are judged on a face's geometry: not in a close-up.
        loc = replace(loc, instances=[i for i in loc.instances if i.type not in FACE_ONLY],
                      maps={k: (np.zeros_like(m) if k in FACE_ONLY else m)
                            for k, m in loc.maps.items()})
        lap("localize", t)
    info = {"face_size_px": round(size, 1), "skin_fraction": round(skin_frac, 4),
            "working_scale": round(al.scale, 4)}
    return face, al, regions, loc, info
