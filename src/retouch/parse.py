"""Stage 4: parse a face into named regions, in canonical-crop coordinates.

No face-parsing network ships offline on PyPI, so regions are built from the
478-point mesh (polygons of the face oval, eyes, brows, lips, nose), from
geometry in the upright canonical crop (forehead above the brows, cheeks
beside the nose, chin below the lips, under-eyes below the lower lids), from
MediaPipe's selfie segmentation (person vs background, for neck, hair, ears)
and from a per-face skin colour model fitted on the cheeks (so hair over the
forehead, glasses, hands and beard fall out of ``skin``).

Left/right are the subject's: ``left_cheek`` is the cheek under the subject's
left eye (mesh points 362-473), which is on the image's right in a frontal
photo.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import cv2
import numpy as np

from .errors import MissingDependencyError
from .morph import dilate_local
from .runtime import helper_pool
from .types import Alignment, Face, FaceRegions


@lru_cache(maxsize=1)
def _mesh_sets() -> dict[str, np.ndarray]:
    try:
        from mediapipe.python.solutions import face_mesh_connections as c
    except ImportError as exc:  # pragma: no cover
        raise MissingDependencyError("mediapipe 0.10.21 is required for face parsing") from exc

    def pts(conn) -> np.ndarray:
        return np.array(sorted({i for e in conn for i in e}), dtype=np.int64)

    return {
        "oval": _chain(c.FACEMESH_FACE_OVAL),
        "lips_outer": _chain(_outer_lips(c.FACEMESH_LIPS)),
        "lips_inner": _chain(_inner_lips(c.FACEMESH_LIPS)),
        "right_eye": _chain(c.FACEMESH_RIGHT_EYE),
        "left_eye": _chain(c.FACEMESH_LEFT_EYE),
        "right_brow": pts(c.FACEMESH_RIGHT_EYEBROW),
        "left_brow": pts(c.FACEMESH_LEFT_EYEBROW),
        "nose": pts(c.FACEMESH_NOSE),
    }


# Outer and inner lip rings of the mesh (the canonical MediaPipe topology).
_LIPS_OUTER_IDS = frozenset(
    [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409]
)


def _outer_lips(conn) -> set[tuple[int, int]]:
    return {e for e in conn if e[0] in _LIPS_OUTER_IDS and e[1] in _LIPS_OUTER_IDS}


def _inner_lips(conn) -> set[tuple[int, int]]:
    return {e for e in conn if e[0] not in _LIPS_OUTER_IDS and e[1] not in _LIPS_OUTER_IDS}


def _chain(conn) -> np.ndarray:
    """Order the edges of one closed loop into a vertex sequence."""
    adj: dict[int, list[int]] = {}
    for a, b in conn:
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    start = min(adj)
    order = [start]
    prev, cur = None, start
    while True:
        nxt = [n for n in adj[cur] if n != prev]
        if not nxt or nxt[0] == start:
            break
        prev, cur = cur, nxt[0]
        if cur in order:
            break
        order.append(cur)
    return np.array(order, dtype=np.int64)


def _fill(size: int, polys: list[np.ndarray]) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    cv2.fillPoly(m, [np.round(p * 4).astype(np.int32) for p in polys], 255, lineType=cv2.LINE_8,
                 shift=2)
    return m > 0


def _hull(size: int, xy: np.ndarray) -> np.ndarray:
    hull = cv2.convexHull(np.round(xy * 4).astype(np.int32))
    m = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(m, hull, 255, shift=2)
    return m > 0


def _disk(r: float) -> np.ndarray:
    r = max(1, int(round(r)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _dilate(m: np.ndarray, r: float) -> np.ndarray:
    return cv2.dilate(m.astype(np.uint8), _disk(r)) > 0


def _erode(m: np.ndarray, r: float) -> np.ndarray:
    return cv2.erode(m.astype(np.uint8), _disk(r)) > 0


def _connected_to(cand: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Components of ``cand`` that touch ``seed`` (both bool (H, W))."""
    n, lab = cv2.connectedComponents(cand.astype(np.uint8), connectivity=4)
    if n <= 1:
        return cand
    touch = np.unique(lab[_dilate(seed, 1) & cand])
    touch = touch[touch > 0]
    return np.isin(lab, touch)


#: Mesh points whose convex hull is the lower nose: the wings, the tip's underside, the
#: columella and the nostril openings.
LOWER_NOSE: tuple[int, ...] = (64, 98, 97, 2, 326, 327, 294, 278, 48)

#: Inside the mesh's lower-nose hull (wings, tip, nostrils), a pixel is nostril
#: (not skin) when it is darker than the nose bridge by 12 L* and than the hull's own
#: median by this many L*; the rest of the lower nose is skin (session 24: before, the
#: whole hull was left out, so no spot on the tip or the wings was ever treated).
LOWER_NOSE_DARK = 10.0

#: A dark patch there is a nostril opening only if it is deeper than the lower nose's
#: median by this many L* or at least :data:`NOSTRIL_MIN_AREA` across; a smaller,
#: shallower one is a spot on the skin (session 24: planted tip pimples on a face
#: whose nostrils are faint were left out of the skin).
NOSTRIL_DEEP = 20.0
#: In squared inter-ocular distances (about ``0.018 iod`` in radius).
NOSTRIL_MIN_AREA = 1e-3


def _openings(dark: np.ndarray, light: np.ndarray, median: float, iod: float) -> np.ndarray:
    """The parts of ``dark`` (``(S, S) bool``) that are nostril openings, not spots.

    A connected part is kept if its darkest pixel is :data:`NOSTRIL_DEEP` L* below
    ``median`` (the lower nose's) or its area is at least :data:`NOSTRIL_MIN_AREA`
    ``iod**2`` (crop pixels). ``light`` is the crop's L* ``(S, S) float32``.
    """
    n, lab, stats, _ = cv2.connectedComponentsWithStats(dark.astype(np.uint8), connectivity=8)
    if n <= 1:
        return dark
    low = np.full(n, np.inf, np.float32)
    np.minimum.at(low, lab[dark], light[dark])
    area = stats[:, cv2.CC_STAT_AREA]
    keep = (low <= median - NOSTRIL_DEEP) | (area >= NOSTRIL_MIN_AREA * iod**2)
    keep[0] = False
    return keep[lab]


_SEG_LOCK = threading.Lock()
_SEG = None


def person_mask(crop_rgb_u8: np.ndarray) -> np.ndarray:
    """Selfie segmentation of a crop: ``(H, W) float32`` person probability in [0, 1]."""
    global _SEG
    try:
        from mediapipe.python.solutions import selfie_segmentation
    except ImportError as exc:  # pragma: no cover
        raise MissingDependencyError("mediapipe 0.10.21 is required for segmentation") from exc
    with _SEG_LOCK:
        if _SEG is None:
            _SEG = selfie_segmentation.SelfieSegmentation(model_selection=0)
        small = cv2.resize(crop_rgb_u8, (256, 256), interpolation=cv2.INTER_AREA)
        res = _SEG.process(np.ascontiguousarray(small))
    m = res.segmentation_mask
    if m is None:
        return np.ones(crop_rgb_u8.shape[:2], np.float32)
    h, w = crop_rgb_u8.shape[:2]
    return np.clip(cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)


def skin_likelihood(lab: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """How much each pixel looks like the sampled skin, in ``[0, 1]``.

    Args:
        lab: ``(H, W, 3) float32`` CIE Lab (L in [0, 100]).
        sample: ``(H, W) bool`` pixels known to be skin (cheeks, nose bridge).

    A robust Gaussian model in (a, b) with a loose term in L (shadows and
    highlights are still skin) gives ``exp(-d^2 / 2)`` of the Mahalanobis distance.
    """
    px = lab[sample]
    if px.shape[0] < 20:
        return np.ones(lab.shape[:2], np.float32)
    med = np.median(px, axis=0)
    dev = px - med
    # Keep the central 80 % to fit the covariance (drops spots, hair strands).
    dist0 = np.sum(dev[:, 1:] ** 2, axis=1)
    keep = dist0 <= np.quantile(dist0, 0.8)
    ab = px[keep, 1:]
    mu = ab.mean(axis=0)
    cov = np.cov(ab.T) + np.eye(2) * 4.0  # floor: ~2 units of a/b
    icov = np.linalg.inv(cov * 2.5)  # widen: the fit saw the cleanest 80 %
    da, db = lab[..., 1] - np.float32(mu[0]), lab[..., 2] - np.float32(mu[1])
    d2 = (np.float32(icov[0, 0]) * da * da + np.float32(2 * icov[0, 1]) * da * db
          + np.float32(icov[1, 1]) * db * db)
    l_sd = max(8.0, float(np.std(px[keep, 0])) * 2.0)
    d2 += ((lab[..., 0] - np.float32(med[0])) * np.float32(1.0 / (2.5 * l_sd))) ** 2
    return np.exp(-0.5 * d2).astype(np.float32)


def skin_with_spots(like: np.ndarray, u: float) -> np.ndarray:
    """Soft skin ``(H, W) float32`` in ``[0, 1]`` from a skin likelihood, spots included.

    A blemish is skin of an unusual colour: holes in ``like`` up to the largest
    spot (~0.07 face sizes ``u`` across, pixels) are closed so spots stay inside
    the skin; larger off-colour areas (beard, hair, glasses frames) stay out.
    Likelihood 0.5 and above counts as full skin.
    """
    k = int(2 * round(0.035 * u) + 1)
    closed = cv2.morphologyEx(like, cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    return np.clip(closed * 2.0, 0, 1).astype(np.float32)


def parse_regions(
    crop: np.ndarray, face: Face, alignment: Alignment, *, lab: np.ndarray | None = None,
    with_segmentation: bool = True,
) -> FaceRegions:
    """Named regions of one face in its canonical crop.

    Args:
        crop: ``(S, S, 3) float32`` RGB crop in ``[0, 1]`` (``S = alignment.size``).
        face: the face (its landmarks are mapped into the crop).
        alignment: the face's alignment.
        lab: optional precomputed ``cv2.COLOR_RGB2Lab`` of ``crop``.
        with_segmentation: run selfie segmentation for neck/hair/ears (else
            those regions come from colour and geometry only).

    Returns:
        :class:`~retouch.types.FaceRegions` with every name of
        :data:`~retouch.types.REGION_NAMES`.
    """
    if face.landmarks_xy is None:
        raise ValueError(f"face {face.index} has no landmarks to parse")
    size = alignment.size
    p = alignment.to_crop(face.landmarks_xy).astype(np.float64)
    sets = _mesh_sets()
    iod = 0.25 * size
    if lab is None:
        lab = cv2.cvtColor(crop, cv2.COLOR_RGB2Lab)

    # The selfie segmentation runs on the helper thread while the geometry is drawn.
    seg = helper_pool().submit(person_mask, np.clip(crop * 255 + 0.5, 0, 255).astype(np.uint8)) \
        if with_segmentation else None
    oval = _fill(size, [p[sets["oval"]]])
    r_eye = _fill(size, [p[sets["right_eye"]]])
    l_eye = _fill(size, [p[sets["left_eye"]]])
    eyes = _dilate(r_eye | l_eye, 0.035 * iod)
    brows = _dilate(_hull(size, p[sets["right_brow"]]) | _hull(size, p[sets["left_brow"]]),
                    0.03 * iod)
    outer = _fill(size, [p[sets["lips_outer"]]])
    inner = _fill(size, [p[sets["lips_inner"]]])
    lips = _dilate(outer, 0.02 * iod) & ~inner
    mouth = inner
    nose_hull = _hull(size, p[sets["nose"]])
    # The lower nose; its nostril openings (its darkest part) are kept out of skin below.
    nostrils = _hull(size, p[list(LOWER_NOSE)])

    # Coordinate grids as a column and a row: comparisons broadcast to (size, size).
    ys = np.arange(size, dtype=np.float32)[:, None]
    xs = np.arange(size, dtype=np.float32)[None, :]
    brow_top = float(min(p[sets["right_brow"], 1].min(), p[sets["left_brow"], 1].min()))
    eye_bottom = float(max(p[sets["right_eye"], 1].max(), p[sets["left_eye"], 1].max()))
    mouth_y = float((p[61, 1] + p[291, 1]) / 2)
    lip_bottom = float(p[sets["lips_outer"], 1].max())
    nose_x = float(p[[1, 4, 5, 195, 197, 6], 0].mean())
    nose_half = float(max(abs(p[64, 0] - nose_x), abs(p[294, 0] - nose_x)))

    forehead = oval & (ys < brow_top - 0.02 * iod)
    chin = oval & (ys > lip_bottom + 0.03 * iod)

    def under_eye(eye_ids: np.ndarray) -> np.ndarray:
        e = p[eye_ids]
        w = float(e[:, 0].max() - e[:, 0].min())
        cy = float(e[:, 1].mean())
        lower = e[e[:, 1] >= cy]
        lower = lower[np.argsort(lower[:, 0])]
        gap, depth = 0.10 * w, 0.45 * w
        top = lower + [0, gap]
        bottom = lower[::-1] + [0, gap + depth]
        return _fill(size, [np.vstack([top, bottom])]) & oval

    r_under = under_eye(sets["right_eye"]) & ~eyes
    l_under = under_eye(sets["left_eye"]) & ~eyes

    cheek_band = oval & (ys > eye_bottom + 0.05 * iod) & (ys < mouth_y + 0.15 * iod)
    side = np.abs(xs - nose_x) > nose_half + 0.05 * iod
    # Subject's right eye (mesh 468) is at smaller x in the upright crop.
    right_cheek = cheek_band & side & (xs < nose_x) & ~r_under
    left_cheek = cheek_band & side & (xs > nose_x) & ~l_under
    nose = (nose_hull | (_hull(size, p[[168, 6, 197, 195, 5, 4, 1, 98, 327]]))) & oval

    # The mesh's nostril points can sit a few pixels off the openings: near them,
    # anything clearly darker than the nose is nostril (shadow), not skin. Inside the
    # lower nose's hull, which is mostly in shadow, only what is also darker than the
    # lower nose's own typical tone is: its lit rest (the tip's underside, the wings,
    # the columella) is skin, where pimples are common.
    near_nostrils = dilate_local(nostrils, _disk(0.12 * iod))
    nose_L = lab[..., 0][nose & ~near_nostrils]
    sample_nose = nose & ~nostrils  # the colour model's nose sample (below)
    if nose_L.size > 20 and nostrils.any():
        light = lab[..., 0]
        low_median = float(np.median(light[nostrils]))
        dark = light < float(np.median(nose_L)) - 12.0
        dark_low = dark & (light < low_median - LOWER_NOSE_DARK)
        sample_nose &= ~_dilate(near_nostrils & dark, 0.015 * iod)
        openings = _openings((near_nostrils & ~nostrils & dark) | (nostrils & dark_low),
                             light, low_median, iod)
        nostrils = _dilate(openings, 0.015 * iod)
    skin_geom = oval & ~eyes & ~brows & ~lips & ~mouth & ~nostrils

    # Colour model of this face's skin, fitted on cheeks and nose bridge.
    sample = _erode(right_cheek | left_cheek, 0.05 * iod) | _erode(sample_nose, 0.05 * iod)
    like = skin_likelihood(lab, sample)
    like = cv2.GaussianBlur(like, (0, 0), max(0.8, 0.01 * iod))

    # Regions outside the face oval need the person mask (started above).
    person = seg.result() if seg is not None else np.ones((size, size), np.float32)
    person_b = person > 0.5
    jaw_y = float(p[152, 1])
    jaw_l, jaw_r = float(p[sets["oval"], 0].min()), float(p[sets["oval"], 0].max())
    jaw_w = jaw_r - jaw_l
    neck = (
        person_b & ~_dilate(oval, 0.02 * iod) & (ys > mouth_y) & (ys < jaw_y + 1.6 * iod)
        & (xs > jaw_l + 0.1 * jaw_w) & (xs < jaw_r - 0.1 * jaw_w) & (like > 0.35)
    )
    # The mesh stops mid-forehead: extend up to the hairline with the colour model.
    top_y = float(p[sets["oval"], 1].min())
    fh_l = float(p[sets["right_brow"], 0].min())
    fh_r = float(p[sets["left_brow"], 0].max())
    upper = (
        (ys < top_y + 0.1 * iod) & (ys > brow_top - 1.4 * iod) & (xs > fh_l) & (xs < fh_r)
        & (like > 0.4) & person_b
    )
    upper = _connected_to(upper, oval)
    oval = oval | upper
    forehead = forehead | upper
    hair = person_b & (like < 0.15) & (ys < mouth_y) & ~eyes & ~brows
    hair &= ~_erode(oval & (ys > brow_top), 0.02 * iod)
    ears = (
        person_b & ~oval & (like > 0.3) & (ys > brow_top) & (ys < mouth_y)
        & ((xs < jaw_l + 0.05 * iod) | (xs > jaw_r - 0.05 * iod))
        & (np.minimum(np.abs(xs - jaw_l), np.abs(xs - jaw_r)) < 0.6 * iod)
    )

    skin_geom = skin_geom | upper
    f32 = lambda m: m.astype(np.float32)  # noqa: E731
    skin_soft = f32(skin_geom) * skin_with_spots(like, 2.2 * iod)
    masks = {
        "skin": skin_soft,
        "forehead": f32(forehead & skin_geom),
        "left_cheek": f32(left_cheek & skin_geom),
        "right_cheek": f32(right_cheek & skin_geom),
        "nose": f32(nose & skin_geom),
        "chin": f32(chin & skin_geom),
        "left_under_eye": f32(l_under & skin_geom),
        "right_under_eye": f32(r_under & skin_geom),
        "eyes": f32(eyes),
        "brows": f32(brows),
        "lips": f32(lips),
        "mouth_interior": f32(mouth),
        "neck": f32(neck),
        "hair": f32(hair),
        "ears": f32(ears),
    }
    return FaceRegions(masks=masks, skin_likelihood=like)


def region_at(regions: FaceRegions, x: float, y: float) -> str:
    """The named skin region at crop point ``(x, y)`` (pixels), else ``"skin"``."""
    xi, yi = int(round(x)), int(round(y))
    for name in ("forehead", "left_cheek", "right_cheek", "nose", "chin",
                 "left_under_eye", "right_under_eye", "neck"):
        m = regions.masks.get(name)
        if m is not None and 0 <= yi < m.shape[0] and 0 <= xi < m.shape[1] and m[yi, xi] > 0.5:
            return name
    return "skin"
