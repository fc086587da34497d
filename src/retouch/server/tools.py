"""The page's direct tools, turned into :class:`~retouch.plan.Plan` s for a Session.

* **Heal brush** (:func:`heal_at`): a click heals the imperfections found
  under the brush; where nothing was found, the brush circle itself becomes a
  new spot (added to the session's analysis) and is healed like a found one.
* **Paint** (:func:`paint_mask`, :func:`found_in_mask`): every found
  imperfection whose centre lies under the painted strokes is treated.
* **Strength sliders** (:func:`strengths_plan`, :func:`type_strengths`): one
  absolute strength per imperfection type.

Everything goes through :meth:`Session.apply`, so undo, redo and the chat see
the same state. Coordinates are INPUT image pixels ``(x, y)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from ..errors import InvalidInputError
from ..execute import Found, PhotoAnalysis
from ..parse import region_at
from ..plan import Operation, Plan, Selector
from ..session import Session
from ..types import IMPERFECTION_TYPES, CropInstance

#: Largest brush radius, as a fraction of the face width.
MAX_BRUSH_FACE = 0.15


def _check_xy(analysis: PhotoAnalysis, x: float, y: float) -> None:
    W, H = analysis.data.size_wh
    for name, v, hi in (("x", x, W), ("y", y, H)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < hi:
            raise InvalidInputError(f"`{name}` must be inside the image [0, {hi}); got {v!r}")


def found_near(analysis: PhotoAnalysis, x: float, y: float, radius_px: float) -> list[Found]:
    """Found spots touched by a brush circle, nearest first.

    Broad areas (wrinkles, under-eye, shine, redness) are never picked by a click: their
    extent is far larger than the brush, so healing one would surprise the user;
    they are treated with the sliders or the paint tool.
    """
    _check_xy(analysis, x, y)
    hits = []
    for f in analysis.instances:
        if f.type in ("wrinkle", "under_eye", "shine", "redness"):
            continue
        d = float(np.hypot(f.center_xy[0] - x, f.center_xy[1] - y))
        if d <= radius_px + f.radius_px:
            hits.append((d - f.radius_px, f))
    hits.sort(key=lambda h: h[0])
    return [f for _, f in hits]


def _face_at(analysis: PhotoAnalysis, x: float, y: float) -> Any:
    """The face analysis whose skin holds ``(x, y)`` (``None`` if no face's skin does)."""
    best = None
    for fa in analysis.analyses:
        cx, cy = fa.alignment.to_crop(np.array([[x, y]], np.float64))[0]
        skin = fa.regions.masks["skin"]
        S = skin.shape[0]
        ix, iy = int(round(cx)), int(round(cy))
        if 0 <= ix < S and 0 <= iy < S and skin[iy, ix] > 0.3:
            score = float(skin[iy, ix])
            if best is None or score > best[0]:
                best = (score, fa, float(cx), float(cy))
    return best


def add_spot(session: Session, x: float, y: float, radius_px: float) -> Found | None:
    """Add a user-marked spot at ``(x, y)`` to the session's analysis.

    The spot is a feathered disc of ``radius_px`` in the face's crop, filled
    from the normal skin around it like any found spot. Its type is ``acne``
    when it is redder than its surround, else ``dark_spot``. Returns ``None``
    when the point is not on the skin of a found face.
    """
    an = session.analysis
    _check_xy(an, x, y)
    hit = _face_at(an, x, y)
    if hit is None:
        return None
    _, fa, cx, cy = hit
    loc, al = fa.localization, fa.alignment
    u = loc.face_size
    r = float(np.clip(radius_px * al.scale, 1.5, MAX_BRUSH_FACE * u))
    feather = max(1.5, 0.4 * r)
    S = loc.normal_skin.shape[0]
    reach = r + feather
    x0, y0 = max(0, int(np.floor(cx - reach))), max(0, int(np.floor(cy - reach)))
    x1, y1 = min(S, int(np.ceil(cx + reach)) + 1), min(S, int(np.ceil(cy + reach)) + 1)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    d = np.hypot(xx - cx, yy - cy)
    t = np.clip((r + feather - d) / feather, 0.0, 1.0)
    alpha = (t * t * (3.0 - 2.0 * t)).astype(np.float32)
    spot_type = "acne" if _redder(session, x, y, radius_px) else "dark_spot"
    region = region_at(fa.regions, cx, cy)
    bx0, by0 = int(np.floor(cx - r)), int(np.floor(cy - r))
    inst = CropInstance(
        type=spot_type, center_xy=(cx, cy), radius=r,
        bbox_xywh=(bx0, by0, int(np.ceil(2 * r)) + 1, int(np.ceil(2 * r)) + 1), score=1.0,
        alpha=alpha, support_xywh=(x0, y0, x1 - x0, y1 - y0),
        texture_sigma=float(np.clip(0.0025 * u, 0.6, 0.5 * r)), region=region, max_delta=0.35)
    loc.instances.append(inst)
    found = Found(len(an.instances), fa.face.index, len(loc.instances) - 1, spot_type, region,
                  (float(x), float(y)), r / al.scale, 1.0)
    session.analysis = replace(an, instances=an.instances + (found,))
    return found


def _redder(session: Session, x: float, y: float, radius_px: float) -> bool:
    px = session.analysis.data.pixels
    H, W = px.shape[:2]
    R = int(np.ceil(2.5 * radius_px)) + 2
    x0, y0, x1, y1 = max(0, int(x) - R), max(0, int(y) - R), min(W, int(x) + R + 1), \
        min(H, int(y) + R + 1)
    patch = px[y0:y1, x0:x1].astype(np.float32) / float(np.iinfo(px.dtype).max)
    a = cv2.cvtColor(patch, cv2.COLOR_RGB2Lab)[..., 1]
    yy, xx = np.mgrid[y0:y1, x0:x1]
    d = np.hypot(xx - x, yy - y)
    inner, ring = a[d <= radius_px], a[(d > 1.5 * radius_px) & (d <= 2.5 * radius_px)]
    return bool(inner.size and ring.size and inner.mean() - ring.mean() > 2.0)


def ids_plan(ids: Sequence[int], strength: float = 1.0, text: str | None = None) -> Plan:
    """Remove exactly these found imperfections (by id) at ``strength``."""
    if not ids:
        raise InvalidInputError("no imperfection ids to treat")
    return Plan((Operation("remove", select=Selector("ids", ids=tuple(ids)),
                           strength=float(strength)),), instruction=text)


def paint_mask(shape_hw: tuple[int, int], strokes: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Rasterize brush strokes (``{"points": [[x, y], ...], "radius": r}``) to a bool mask."""
    H, W = shape_hw
    mask = np.zeros((H, W), np.uint8)
    if not strokes:
        raise InvalidInputError("`strokes` is empty: paint over the area to treat")
    for i, s in enumerate(strokes):
        pts = np.asarray(s.get("points", []), np.float64)
        r = s.get("radius")
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
            raise InvalidInputError(f"strokes[{i}].points must be a list of [x, y]; got "
                                    f"shape {pts.shape}")
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 < r <= max(H, W):
            raise InvalidInputError(f"strokes[{i}].radius must be a positive number of pixels; "
                                    f"got {r!r}")
        p = np.round(pts).astype(np.int32).reshape(-1, 1, 2)
        thick = max(1, int(round(2 * r)))
        if len(p) == 1:
            cv2.circle(mask, tuple(int(v) for v in p[0, 0]), int(round(r)), 1, -1)
        else:
            cv2.polylines(mask, [p], False, 1, thick)
            for q in (p[0, 0], p[-1, 0]):
                cv2.circle(mask, (int(q[0]), int(q[1])), int(round(r)), 1, -1)
    return mask.astype(bool)


def found_in_mask(analysis: PhotoAnalysis, mask: np.ndarray) -> list[Found]:
    """Found imperfections whose centre lies inside ``mask``."""
    H, W = mask.shape
    out = []
    for f in analysis.instances:
        x, y = int(round(f.center_xy[0])), int(round(f.center_xy[1]))
        if 0 <= x < W and 0 <= y < H and mask[y, x]:
            out.append(f)
    return out


def strengths_plan(values: Mapping[str, float], state: Plan) -> Plan:
    """One ``remove`` operation per type at an absolute strength (0 = untouched).

    Spots picked by hand (operations that select by id) are re-applied after
    the sliders, so moving a slider never undoes a click.
    """
    ops = []
    for t, v in values.items():
        if t not in IMPERFECTION_TYPES:
            raise InvalidInputError(f"unknown imperfection type {t!r}; expected some of "
                                    f"{', '.join(IMPERFECTION_TYPES)}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
            raise InvalidInputError(f"strength of {t} must be in [0, 1]; got {v!r}")
        ops.append(Operation("remove", types=(t,), strength=float(v)))
    if not ops:
        raise InvalidInputError("`strengths` is empty; e.g. {\"acne\": 1.0}")
    ops += [o for o in state.operations if o.select is not None and o.select.by == "ids"]
    return Plan(tuple(ops), instruction="strength sliders")


def type_strengths(analysis: PhotoAnalysis, state: Plan,
                   amounts: Mapping[int, float]) -> dict[str, dict[str, float]]:
    """Per type: ``found`` (count), ``treated`` (count with an amount > 0 now) and
    ``strength``: the strength of the last whole-face operation on that type in
    ``state`` (what its slider shows; 0 when none, or when it is kept)."""
    out: dict[str, dict[str, float]] = {t: {"found": 0, "treated": 0, "strength": 0.0}
                                        for t in IMPERFECTION_TYPES}
    for f in analysis.instances:
        out[f.type]["found"] += 1
        out[f.type]["treated"] += int(amounts.get(f.id, 0.0) > 0)
    for op in state.operations:
        if not op.is_instance_op or op.select is not None or op.faces is not None \
                or (op.regions and "skin" not in op.regions):
            continue
        for t in op.types or IMPERFECTION_TYPES:
            if t in op.exclude_types:
                continue
            out[t]["strength"] = 0.0 if op.action == "keep" else op.effective_strength
    return out
