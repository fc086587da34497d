"""Structure edits: one smooth backward displacement field per edit, in crop space.

Each builder receives the face frame, the *current* crop landmarks (after
earlier edits of the same request list), the amount in ``[-1, 1]``, the size
factor (``1.5 ** size``) and the box to fill, and returns the raw backward
field over that box. :func:`build_field` then confines it to the edit's
dilated parsed region (:func:`~retouch.edit._field.window`) and bounds its
gradient (:func:`~retouch.edit._field.limit_folding`).

Magnitudes are in units of the inter-ocular distance ``iod`` so an edit looks
the same on every face size; all were set by eye on the shared photos so that
``amount = 1`` is strong but still plausible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ..parse import LOWER_NOSE
from ._field import Box, box_of_mask, bulge, grid, limit_folding, rbf, window
from ._frame import (
    ALAE,
    ALAE_WIDE,
    CHIN,
    LEFT_BROW,
    LEFT_EYE_CORNERS,
    LEFT_UPPER_LID,
    LIP_INNER_BOTTOM,
    LIP_INNER_TOP,
    LIP_LOWER_BOTTOM,
    LIP_UPPER_TOP,
    MOUTH_CORNERS,
    NOSE_BASE,
    NOSE_BRIDGE_TOP,
    RIGHT_BROW,
    RIGHT_EYE_CORNERS,
    RIGHT_UPPER_LID,
    FaceFrame,
    mesh_chains,
)
from ._spec import EDITS

Builder = Callable[[FaceFrame, np.ndarray, float, float, Box, 'np.ndarray | None'], np.ndarray]

#: Structure edits that move the face's silhouette against the background; they
#: are composited as a layer so the background never bends (see ``_render``).
LAYERED = frozenset({"face.slim", "double_chin"})


@dataclass(frozen=True)
class StructureField:
    """The confined backward field of one structure edit.

    Attributes:
        box: crop box ``(x0, y0, x1, y1)`` the field covers (zero outside).
        d: ``(h, w, 2) float32`` backward displacement in crop px.
        fold_scale: factor the fold-free bound applied (1.0 = none needed).
        weight: ``(h, w) float32`` confinement window over ``box`` (0 outside
            the edit's dilated region).
    """

    box: Box
    d: np.ndarray
    fold_scale: float
    weight: np.ndarray


def _eye_params(p: np.ndarray, corners: tuple[int, int], chain: np.ndarray
                ) -> tuple[np.ndarray, float, float]:
    a, b = p[corners[0]], p[corners[1]]
    centre = p[chain].mean(axis=0)
    half_w = 0.5 * float(np.linalg.norm(a - b))
    ang = float(np.arctan2(b[1] - a[1], b[0] - a[0]))
    return centre, half_w, ang


def _eyes_size(fr: FaceFrame, p: np.ndarray, a: float, sf: float, box: Box,
    gate: np.ndarray | None = None) -> np.ndarray:
    ch = mesh_chains()
    # Narrowing closes the lids more than it shortens the eye.
    k = (0.10 * a, 0.17 * a) if a >= 0 else (0.05 * a, 0.32 * a)
    d = np.zeros((box[3] - box[1], box[2] - box[0], 2), np.float32)
    for corners, chain in ((RIGHT_EYE_CORNERS, ch["right_eye"]),
                           (LEFT_EYE_CORNERS, ch["left_eye"])):
        c, hw, ang = _eye_params(p, corners, chain)
        d += bulge(box, c, (1.7 * hw * sf, 1.15 * hw * sf), ang, k)
    return d


def _nose_width(fr: FaceFrame, p: np.ndarray, a: float, sf: float, box: Box,
    gate: np.ndarray | None = None) -> np.ndarray:
    half = 0.5 * float(np.linalg.norm(p[ALAE_WIDE[0]] - p[ALAE_WIDE[1]]))
    length = float(np.linalg.norm(p[NOSE_BRIDGE_TOP] - p[NOSE_BASE]))
    low = 0.5 * (p[ALAE[0]] + p[ALAE[1]])
    d = bulge(box, low, (1.45 * half * sf, 0.42 * length * sf), 0.0, (0.28 * a, 0.0))
    mid = p[195]
    d += bulge(box, mid, (0.9 * half * sf, 0.45 * length * sf), 0.0, (0.12 * a, 0.0))
    return d


def _nose_length(fr: FaceFrame, p: np.ndarray, a: float, sf: float, box: Box,
    gate: np.ndarray | None = None) -> np.ndarray:
    iod = fr.iod
    move = {1: 1.0, 4: 1.0, 5: 0.8, 19: 0.95, 94: 0.9, NOSE_BASE: 0.85,
            ALAE[0]: 0.7, ALAE[1]: 0.7, 98: 0.75, 327: 0.75, 48: 0.6, 278: 0.6,
            ALAE_WIDE[0]: 0.6, ALAE_WIDE[1]: 0.6}
    anchors = [NOSE_BRIDGE_TOP, 6, 197, *RIGHT_EYE_CORNERS, *LEFT_EYE_CORNERS,
               LIP_UPPER_TOP, 37, 267, *MOUTH_CORNERS, 205, 425, 187, 411, 117, 346]
    dy = 0.075 * iod * a  # forward move of the tip, crop px (down for a > 0)
    q = np.array([p[i] + [0.0, dy * w] for i, w in move.items()])
    vals = np.array([[0.0, -dy * w] for w in move.values()])
    centers = np.vstack([q, p[anchors]])
    values = np.vstack([vals, np.zeros((len(anchors), 2))])
    return rbf(box, centers, values, 0.17 * iod * sf)


def _lips_fullness(fr: FaceFrame, p: np.ndarray, a: float, sf: float, box: Box,
    gate: np.ndarray | None = None) -> np.ndarray:
    c = 0.5 * (p[LIP_INNER_TOP] + p[LIP_INNER_BOTTOM])
    width = float(np.linalg.norm(p[MOUTH_CORNERS[0]] - p[MOUTH_CORNERS[1]]))
    height = float(np.linalg.norm(p[LIP_UPPER_TOP] - p[LIP_LOWER_BOTTOM]))
    e = p[MOUTH_CORNERS[1]] - p[MOUTH_CORNERS[0]]
    ang = float(np.arctan2(e[1], e[0]))
    return bulge(box, c, (0.62 * width * sf, 1.05 * height * sf), ang, (0.04 * a, 0.32 * a))


def _smile(fr: FaceFrame, p: np.ndarray, a: float, sf: float, box: Box,
    gate: np.ndarray | None = None) -> np.ndarray:
    iod = fr.iod
    up, out = 0.065 * iod * a, 0.02 * iod * a
    near = {61: (76, 62, 185, 146, 40, 91), 291: (306, 292, 409, 375, 270, 321)}
    centers, values = [], []
    for corner, sign in ((MOUTH_CORNERS[0], -1.0), (MOUTH_CORNERS[1], 1.0)):
        for idx, w in [(corner, 1.0)] + [(i, 0.55) for i in near[corner]]:
            fwd = np.array([sign * out * w, -up * w])
            centers.append(p[idx] + fwd)
            values.append(-fwd)
    anchors = [LIP_UPPER_TOP, LIP_LOWER_BOTTOM, LIP_INNER_TOP, LIP_INNER_BOTTOM, 37, 267, 84,
               314, NOSE_BASE, 98, 327, CHIN, 200]
    centers += [p[i] for i in anchors]
    values += [np.zeros(2)] * len(anchors)
    return rbf(box, np.array(centers), np.array(values), 0.2 * iod * sf)


def _brows_raise(fr: FaceFrame, p: np.ndarray, a: float, sf: float, box: Box,
    gate: np.ndarray | None = None) -> np.ndarray:
    iod = fr.iod
    centers, values = [], []
    for brow, lid in ((RIGHT_BROW, RIGHT_UPPER_LID), (LEFT_BROW, LEFT_UPPER_LID)):
        b = p[list(brow)]
        inner, outer = b[4], b[0]  # upper row runs outer -> inner
        axis = outer - inner
        L2 = float(axis @ axis)
        for q in b:
            t = float(np.clip((q - inner) @ axis / L2, 0, 1))
            w = 0.55 + 0.45 * np.exp(-(((t - 0.68) / 0.28) ** 2))  # the arch lifts most
            fwd = np.array([0.0, -0.075 * iod * a * w])
            centers.append(q + fwd)
            values.append(-fwd)
        for q in p[list(lid)]:  # the eyes stay put
            centers.append(q)
            values.append(np.zeros(2))
        for q in b[:5]:  # the upper forehead stays put
            centers.append(q + [0.0, -0.6 * iod * sf])
            values.append(np.zeros(2))
    return rbf(box, np.array(centers), np.array(values), 0.15 * iod * sf)


def _face_slim(fr: FaceFrame, p: np.ndarray, a: float, sf: float, box: Box,
    gate: np.ndarray | None = None) -> np.ndarray:
    iod = fr.iod
    oval = p[mesh_chains()["oval"]]
    eye_y = 0.5 * (p[RIGHT_EYE_CORNERS[0], 1] + p[LEFT_EYE_CORNERS[0], 1])
    chin = p[CHIN]
    top = eye_y + 0.2 * iod
    centers, values = [], []
    for q in oval:
        if q[1] < top - 0.3 * iod:
            centers.append(q)  # temples and forehead stay
            values.append(np.zeros(2))
            continue
        t = float(np.clip((q[1] - top) / max(1.0, chin[1] - top), 0, 1))
        w = np.sin(np.pi * t**0.85) ** 1.2 if q[1] >= top else 0.0
        fwd = np.array([-np.sign(q[0] - chin[0]) * 0.075 * iod * a * w, 0.0])
        centers.append(q + fwd)
        values.append(-fwd)
    anchors = [*RIGHT_EYE_CORNERS, *LEFT_EYE_CORNERS, 1, NOSE_BASE, *ALAE, *MOUTH_CORNERS,
               LIP_UPPER_TOP, LIP_LOWER_BOTTOM, LIP_INNER_TOP, LIP_INNER_BOTTOM, 37, 267, 84, 314]
    centers += [p[i] for i in anchors]
    values += [np.zeros(2)] * len(anchors)
    # Below the chin (collar, shoulders) nothing moves.
    xs = oval[:, 0]
    for x in np.linspace(xs.min(), xs.max(), 7):
        centers.append(np.array([x, chin[1] + 0.4 * iod]))
        values.append(np.zeros(2))
    return rbf(box, np.array(centers), np.array(values), 0.28 * iod * sf)


def jaw_curve(p: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Lower face contour ``y = J(x)`` at columns ``xs`` and its x extent.

    Uses the mesh oval points below the mouth; returns ``(J, x_left, x_right)``.
    """
    oval = p[mesh_chains()["oval"]]
    mouth_y = 0.5 * (p[MOUTH_CORNERS[0], 1] + p[MOUTH_CORNERS[1], 1])
    low = oval[oval[:, 1] > mouth_y]
    order = np.argsort(low[:, 0])
    lx, ly = low[order, 0], low[order, 1]
    return np.interp(xs, lx, ly), float(lx[0]), float(lx[-1])


def neck_depth(gate: np.ndarray, p: np.ndarray, xs: np.ndarray, max_depth: float,
               iod: float) -> np.ndarray:
    """Visible neck skin below the jaw at columns ``xs``: how far (crop px, up to
    ``max_depth``) the skin gate stays above 0.4 going down from the jaw line.

    Eroded and smoothed along x so a collar's V notch shortens its neighbours too.
    """
    J, _, _ = jaw_curve(p, xs)
    CH, S = gate.shape
    n = int(np.ceil(max_depth))
    rows = np.clip(np.round(J[None, :] + np.arange(n)[:, None]).astype(int), 0, CH - 1)
    cols = np.clip(np.round(xs).astype(int), 0, S - 1)
    g = gate[rows, cols[None, :]] > 0.4  # (n, len(xs))
    # Skip the first rows (the jaw's own edge); depth = first row where the gate drops.
    g[: max(1, int(0.03 * iod))] = True
    bad = ~g
    depth = np.where(bad.any(axis=0), bad.argmax(axis=0), n).astype(np.float32)
    r = max(1, int(0.08 * iod))
    pad = np.pad(depth, r, mode="edge")
    eroded = np.array([pad[i:i + 2 * r + 1].min() for i in range(len(depth))], np.float32)
    k = np.exp(-0.5 * (np.arange(-2 * r, 2 * r + 1) / r) ** 2)
    k /= k.sum()
    return np.convolve(np.pad(eroded, 2 * r, mode="edge"), k, mode="valid").astype(np.float32)


def _double_chin(fr: FaceFrame, p: np.ndarray, a: float, sf: float, box: Box,
                 gate: np.ndarray | None = None) -> np.ndarray:
    iod = fr.iod
    X, Y = grid(box)
    xs = X[0]
    J, xl, xr = jaw_curve(p, xs)
    h_max = 0.6 * iod * sf
    h = neck_depth(gate, p, xs, h_max, iod) if gate is not None else np.full_like(xs, h_max)
    h = np.maximum(h, 1.0)
    v = (Y - J[None, :]) / h[None, :]
    vc = np.clip(v, 0.0, 1.0)
    # Bump in [0, 1]: 0 at the jaw line and at the band bottom, peak at v = 0.42.
    g = vc**1.5 * (1.0 - vc) ** 2.1
    g = g / (0.417**1.5 * 0.583**2.1)
    cx = float(p[CHIN, 0])
    half = max(1.0, 0.5 * (xr - xl))
    u = np.abs(X - cx) / half
    c = np.clip((0.95 - u) / 0.45, 0.0, 1.0)
    c = c * c * (3 - 2 * c)
    # The pull scales with the visible band, so the map stays fold-free on short necks.
    amp = 0.2 * h[None, :]
    dy = -a * amp * g * c  # a < 0: sample from below, the contour moves up
    return np.stack([np.zeros_like(dy), dy], axis=-1).astype(np.float32)


BUILDERS: dict[str, Builder] = {
    "double_chin": _double_chin,
    "face.slim": _face_slim,
    "eyes.size": _eyes_size,
    "nose.width": _nose_width,
    "nose.length": _nose_length,
    "lips.fullness": _lips_fullness,
    "smile": _smile,
    "brows.raise": _brows_raise,
}


#: Mesh hulls cut out of an edit's parsed region. The nose edits' fields were set with
#: a window that is 1 on the nose above its lower hull (the wings, the tip's underside,
#: the nostrils) and falls off across it; since the parsed ``nose`` also holds the lit
#: skin of that hull (session 24, so spots there are treated), it is cut here, which
#: keeps the window as it was (with it, ``nose.width`` measured narrower at +1).
_REGION_CUTS: dict[str, tuple[int, ...]] = {
    "nose.width": LOWER_NOSE, "nose.length": LOWER_NOSE}


def region_and_margin(fr: FaceFrame, name: str, sf: float) -> tuple[np.ndarray, float]:
    """The edit's parsed region ``(CH, S) float32`` and its dilation margin in crop px."""
    spec = EDITS[name]
    region = fr.union(spec.regions)
    cut = _REGION_CUTS.get(name)
    if cut is not None:
        ids = np.asarray(cut)
        order = cv2.convexHull(fr.pts[ids].astype(np.float32), returnPoints=False).ravel()
        region = region * (1.0 - fr.poly_mask(ids[order]))
    return region, spec.margin_iod * fr.iod * sf


def build_field(fr: FaceFrame, p: np.ndarray, name: str, amount: float, sf: float,
                gate: np.ndarray | None = None) -> StructureField | None:
    """The confined, fold-free backward field of one structure edit.

    Args:
        fr: the face frame.
        p: current crop landmarks ``(478, 2)``.
        name: a structure edit name.
        amount: in ``[-1, 1]``.
        sf: size factor ``1.5 ** size``.
        gate: optional ``(CH, S) float32`` skin-on-person weight; the double
            chin sizes its band to the visible neck skin with it.

    Returns:
        The field, or ``None`` when the region is empty (nothing to edit).
    """
    region, margin = region_and_margin(fr, name, sf)
    box = box_of_mask(region > 0.5, margin + 2)
    if box is None or box[2] - box[0] < 3 or box[3] - box[1] < 3:
        return None
    d = BUILDERS[name](fr, p, amount, sf, box, gate)
    w = window(region, margin, box)
    d = d * w[..., None]
    d, scale = limit_folding(d)
    # Shrink the box to where the field is non-zero (less to render).
    moving = (np.abs(d[..., 0]) > 1e-4) | (np.abs(d[..., 1]) > 1e-4)
    inner = box_of_mask(moving, 1)
    if inner is None:
        return None
    ix0, iy0, ix1, iy1 = inner
    d = np.ascontiguousarray(d[iy0:iy1, ix0:ix1])
    w = np.ascontiguousarray(w[iy0:iy1, ix0:ix1])
    box = (box[0] + ix0, box[1] + iy0, box[0] + ix1, box[1] + iy1)
    return StructureField(box=box, d=d.astype(np.float32), fold_scale=scale,
                          weight=w.astype(np.float32))
