"""apply_edits: run a list of edit requests on every analysed face.

Per face: the structure edits are chained into one crop-space backward field
(each built on the landmarks as the previous edits left them), the photo is
resampled once through it at full resolution, and then the appearance edits
are applied in request order, with their masks moved by the same field.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..pipeline import FaceAnalysis
from ..types import ImageData
from ._appearance import OPS, AppearanceOut
from ._chin import chin_gate, lift_fold
from ._context import FaceContext
from ._field import compose_into, forward_points, sample_points
from ._frame import CHIN, FaceFrame
from ._measure import measure_structure
from ._render import render_alpha, render_warp
from ._request import EditRequest, EditResult
from ._spec import size_factor
from ._structure import LAYERED, build_field


def _check(data: object, analyses: object, edits: object) -> None:
    if not isinstance(data, ImageData):
        raise InvalidInputError(
            "`data` must be an ImageData (use retouch.imageio.load_image); got "
            f"{type(data).__name__}"
        )
    if isinstance(analyses, (str, bytes)) or not isinstance(analyses, Sequence):
        raise InvalidInputError(f"`analyses` must be a sequence of FaceAnalysis; got {analyses!r}")
    for fa in analyses:
        if not isinstance(fa, FaceAnalysis):
            raise InvalidInputError(
                f"`analyses` must hold FaceAnalysis items (RetouchPipeline().analyze(data)[1]); "
                f"got {type(fa).__name__}"
            )
    if isinstance(edits, (str, bytes)) or not isinstance(edits, Sequence):
        raise InvalidInputError(f"`edits` must be a sequence of EditRequest; got {edits!r}")
    for e in edits:
        if not isinstance(e, EditRequest):
            raise InvalidInputError(
                f"`edits` must hold EditRequest items; got {type(e).__name__} ({e!r})"
            )


def _entry(req: EditRequest, face: int) -> dict[str, Any]:
    d = req.to_dict()
    d.pop("faces")
    return {"edit": d.pop("name"), "face": face, **d, "applied": False, "measured": {},
            "changed_px": 0, "ms": 0.0}


def apply_edits(data: ImageData, analyses: Sequence[FaceAnalysis],
                edits: Sequence[EditRequest]) -> EditResult:
    """Apply ``edits`` to the faces of ``data``.

    Args:
        data: the decoded photo (pixels ``(H, W, 3)`` uint8/uint16).
        analyses: the faces to edit, from :meth:`retouch.pipeline.RetouchPipeline.analyze`.
        edits: requests, applied per face: structure edits first (chained, one
            resampling), then appearance edits, each group in request order.
            An edit with ``faces`` set applies to those face indices only.

    Returns:
        :class:`~retouch.edit.EditResult`; ``report`` holds one entry per
        request per targeted face, in request order then face order.

    Raises:
        InvalidInputError: wrong argument types.
    """
    _check(data, analyses, edits)
    out = data.pixels.copy()
    H, W = out.shape[:2]
    changed = np.zeros((H, W), bool)
    maxv = float(data.max_value)
    entries: dict[tuple[int, int], dict[str, Any]] = {}
    known = {fa.face.index for fa in analyses}
    for i, req in enumerate(edits):
        for f in (req.faces if req.faces is not None else sorted(known)):
            entries[(i, f)] = _entry(req, f)
            if f not in known:
                entries[(i, f)]["skipped"] = f"no analysed face with index {f}"
    for fa in analyses:
        mine = [(i, r) for i, r in enumerate(edits)
                if r.faces is None or fa.face.index in r.faces]
        todo = [(i, r) for i, r in mine if r.amount != 0.0]
        for i, r in mine:
            if r.amount == 0.0:
                entries[(i, fa.face.index)]["skipped"] = "amount is 0 (identity)"
        if todo:
            _apply_face(out, changed, fa, todo, entries, maxv)
    report = [entries[k] for k in sorted(entries)]
    return EditResult(image=out, changed=changed, report=report)


def _mark(changed: np.ndarray, ibox: tuple[int, int, int, int], sel: np.ndarray) -> int:
    x0, y0, x1, y1 = ibox
    changed[y0:y1, x0:x1] |= sel
    return int(sel.sum())


def _apply_face(out: np.ndarray, changed: np.ndarray, fa: FaceAnalysis,
                todo: list[tuple[int, EditRequest]], entries: dict[tuple[int, int], dict],
                maxv: float) -> None:
    fr = FaceFrame.of(fa)
    ctx = FaceContext(frame=fr, pts=fr.pts.copy(),
                      total=np.zeros((*fr.shape, 2), np.float32), pixels=out, maxv=maxv)
    fidx = fa.face.index
    structure = [(i, r) for i, r in todo if r.spec.kind == "structure"]
    appearance = [(i, r) for i, r in todo if r.spec.kind == "appearance"]

    # 1. Structure: chain the fields, resample once.
    if structure:
        t_fields: dict[int, float] = {}
        gate = None
        for i, r in structure:
            t0 = time.perf_counter()
            e = entries[(i, fidx)]
            sf = size_factor(r.size)
            if r.name == "double_chin":
                gate = chin_gate(ctx) if gate is None else gate
            g = ctx.current(gate) if r.name == "double_chin" and gate is not None else None
            fld = build_field(fr, ctx.pts, r.name, r.amount, sf, gate=g)
            if fld is None:
                e["skipped"] = f"region {'/'.join(r.spec.regions)} not visible"
                continue
            x0, y0 = fld.box[:2]
            new_pts = forward_points(fld.d, ctx.pts, origin=(x0, y0))
            if r.name == "double_chin":
                e["measured"] = _chin_measure(fr, ctx.pts, fld, sf, g)
            else:
                e["measured"] = measure_structure(r.name, ctx.pts, new_pts, fr.image_px)
            # Landmarks outside the edit's dilated region must not move at all.
            wv = sample_points(fld.weight[..., None], ctx.pts, origin=(x0, y0))[:, 0]
            out_shift = np.linalg.norm(new_pts - ctx.pts, axis=1)[wv <= 0]
            e["measured"]["landmarks_outside"] = int(out_shift.size)
            e["measured"]["landmarks_outside_max_shift_px"] = round(
                float(out_shift.max() * fr.image_px) if out_shift.size else 0.0, 3)
            if fld.fold_scale < 1.0:
                e["measured"]["fold_limited_to"] = round(fld.fold_scale, 3)
            compose_into(ctx.total, fld.box, fld.d)
            ctx.grow_moved(fld.box)
            ctx.pts = new_pts
            e["applied"] = True
            t_fields[i] = (time.perf_counter() - t0) * 1000.0
        if ctx.moved_box is not None:
            t0 = time.perf_counter()
            layer = _layer(ctx, [r.name for j, r in structure
                                 if entries[(j, fidx)]["applied"]])
            ibox, sel = render_warp(out, fr.alignment, ctx.total, ctx.moved_box, layer, maxv)
            n = _mark(changed, ibox, sel)
            t_render = (time.perf_counter() - t0) * 1000.0
            applied = [i for i, _ in structure if entries[(i, fidx)]["applied"]]
            for i in applied:
                e = entries[(i, fidx)]
                e["changed_px"] = n
                e["ms"] = round(t_fields[i] + t_render / len(applied), 2)
        # The double chin's second half: fold shading, after the contour moved.
        for i, r in structure:
            e = entries[(i, fidx)]
            if r.name == "double_chin" and e["applied"] and r.amount < 0 and gate is not None:
                t0 = time.perf_counter()
                res = lift_fold(ctx, -r.amount, size_factor(r.size), ctx.current(gate))
                if res is not None:
                    sel = render_alpha(out, res.ibox, res.alpha, res.edited, maxv, res.base)
                    e["changed_px"] += _mark(changed, res.ibox, sel)
                    e["measured"].update(res.measured)
                e["ms"] = round(e["ms"] + (time.perf_counter() - t0) * 1000.0, 2)

    # 2. Appearance, in request order.
    for i, r in appearance:
        e = entries[(i, fidx)]
        t0 = time.perf_counter()
        res: AppearanceOut | None = OPS[r.name](ctx, r)
        if res is None:
            e["skipped"] = f"region {'/'.join(r.spec.regions)} not visible"
            continue
        sel = render_alpha(out, res.ibox, res.alpha, res.edited, maxv, res.base)
        e["changed_px"] = _mark(changed, res.ibox, sel)
        e["measured"] = res.measured
        e["applied"] = True
        e["ms"] = round((time.perf_counter() - t0) * 1000.0, 2)


def _layer(ctx: FaceContext, names: list[str]) -> np.ndarray | None:
    """The layer that moves with silhouette-changing edits (``None``: no layering).

    Face slimming moves the head only: the person mask above the chin (so a
    collar next to the jaw stays put and is what shows where the jaw left).
    The double chin moves neck skin, so it takes the whole person mask.
    """
    if not any(n in LAYERED for n in names):
        return None
    # A crisp layer edge (the segmentation's own ramp is several pixels wide):
    # only the edge is blended, everything inside moves as one piece.
    person = np.clip((ctx.person() - 0.3) / 0.4, 0.0, 1.0)
    if "double_chin" in names:
        return person
    fr = ctx.frame
    y = np.arange(fr.rows, dtype=np.float32)[:, None]
    chin = float(fr.pts[CHIN, 1])
    head = np.clip((chin + 0.12 * fr.iod - y) / (0.05 * fr.iod), 0.0, 1.0)
    return (person * head).astype(np.float32)


def _chin_measure(fr: FaceFrame, p: np.ndarray, fld: Any, sf: float,
                  gate: np.ndarray | None) -> dict[str, Any]:
    """Submental contour shift: where the line at 42 % of the band under the chin goes.

    The band height per column is the visible neck skin (as the warp uses it);
    the shift is averaged over the central half iod, in image px (up positive).
    """
    from ._structure import jaw_curve, neck_depth

    xs = p[CHIN, 0] + np.linspace(-0.25, 0.25, 11) * fr.iod
    h_max = 0.6 * fr.iod * sf
    h = neck_depth(gate, p, xs, h_max, fr.iod) if gate is not None else np.full_like(xs, h_max)
    J, _, _ = jaw_curve(p, xs)
    line = np.stack([xs, J + 0.42 * h], axis=1)
    moved = forward_points(fld.d, line, origin=fld.box[:2])
    shift = float(np.mean(line[:, 1] - moved[:, 1])) * fr.image_px
    depth = float(np.mean(0.42 * h)) * fr.image_px
    return {"submental_contour_shift_px": round(shift, 2),
            "neck_band_px": round(float(np.mean(h)) * fr.image_px, 2),
            "contour_height_change_pct": round(-100.0 * shift / depth, 2) if depth > 0 else 0.0}
