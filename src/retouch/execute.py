"""Apply a :class:`~retouch.plan.Plan` to what the core pipeline found in *this* photo.

Order of application (fixed, whatever the order of the operations):

1. ``restore`` (the last one): :func:`retouch.restore.restore` on the whole image;
2. instance operations: each found imperfection gets the amount of the *last*
   operation that selects it (``keep`` = 0); with ``regions`` its footprint is
   clipped to those regions, so no pixel outside them changes. An area (reddened
   skin, shine, under-eye darkness) spanning several regions is instead *cut*
   out of a region excluded by its operation (``exclude_regions``) or kept by a
   later ``keep`` of regions, so no pixel of that region changes while the rest
   of the area is treated; so is a spot whose centre lies outside such a region
   but whose footprint reaches into it;
3. region operations (``smooth`` / ``brighten`` of whole regions), per pixel the
   last operation covering it wins; ``keep`` of a region shields it;
4. ``edit`` operations: :func:`retouch.edit.apply_edits`.

Everything is measured once (:class:`PhotoAnalysis`) and can be applied many
times (a :class:`~retouch.session.Session` does that on every turn).

Coordinates: instance centres and radii in reports are INPUT image pixels
``(x, y)``; region masks are warped from each face's canonical crop.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import InvalidInputError
from .imageio import load_image
from .inpaint import gauss, gauss_reduced
from .pipeline import BROAD_TYPES, FaceAnalysis, RetouchPipeline, _image_box_of
from .plan import DEFAULT_STRENGTH, INSTANCE_REGIONS, Operation, Plan
from .types import CropInstance, Face, ImageData, RetouchResult

#: Radius (in face widths) of "near the nose" when no count is given.
NEAR_RADIUS = 0.2
#: Largest brightness lift of ``brighten`` at strength 1 (screen blend weight).
BRIGHTEN_MAX = 0.18
#: Mid-frequency band removed by ``smooth`` at strength 1, in face widths:
#: detail finer than the first (pores) and shading coarser than the second stay.
SMOOTH_BAND = (0.004, 0.03)
#: Inward feather (face widths) of a region that clips a spot treatment, and of a
#: region smoothed / brightened as a whole.
CLIP_FEATHER = 0.006
REGION_FEATHER = 0.04
#: Crop pixels a region cut out of an area is grown by before the treatment fades in.
CUT_MARGIN_PX = 2
#: Fidelity passed to the restorer when a ``restore`` operation gives none.
DEFAULT_FIDELITY = 0.5

_TYPE_NOUN = {
    "acne": ("pimple", "pimples"), "red_spot": ("red spot", "red spots"),
    "dark_spot": ("dark spot", "dark spots"), "mole": ("mole", "moles"),
    "freckle": ("freckle", "freckles"), "wrinkle": ("wrinkle", "wrinkles"),
    "under_eye": ("dark under-eye area", "dark under-eye areas"),
    "shine": ("shiny area", "shiny areas"),
    "redness": ("reddened area", "reddened areas"),
}
_REGION_WORD = {
    "skin": "skin", "forehead": "forehead", "left_cheek": "left cheek",
    "right_cheek": "right cheek", "nose": "nose", "chin": "chin",
    "left_under_eye": "under the left eye", "right_under_eye": "under the right eye",
    "neck": "neck",
}
_VERB = {"remove": "Removed", "reduce": "Softened", "smooth": "Softened",
         "brighten": "Lightened", "keep": "Kept"}


@dataclass(frozen=True)
class Found:
    """One imperfection found in the photo, with a stable id.

    Attributes:
        id: 0-based id, stable for a given analysis (face order, then instance order).
        face: face index.
        index: index in that face's ``localization.instances``.
        type, region: as reported by the localizer (region = the named region
            holding the centre, or ``"skin"``).
        center_xy: centre in INPUT image pixels ``(x, y)``.
        radius_px: equivalent radius in INPUT image pixels.
        score: visibility in ``[0, 1]``.
        areas: for an area type (:data:`~retouch.pipeline.BROAD_TYPES`: reddened
            skin, shine, under-eye darkness), every named skin region holding at least
            :data:`AREA_SHARE` of its footprint, largest share first; an operation
            naming any of them selects it, and its treatment is clipped to the named
            regions. Empty for spots and lines (their centre's ``region`` decides).
    """

    id: int
    face: int
    index: int
    type: str
    region: str
    center_xy: tuple[float, float]
    radius_px: float
    score: float
    areas: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "face": self.face, "type": self.type, "region": self.region,
             "center": [round(self.center_xy[0], 1), round(self.center_xy[1], 1)],
             "radius_px": round(self.radius_px, 2), "score": round(self.score, 3)}
        if self.areas:
            d["areas"] = list(self.areas)
        return d


#: Share of an area's footprint (alpha mass) a region must hold to be one of its areas.
AREA_SHARE = 0.05


def _areas(fa: FaceAnalysis, inst: CropInstance) -> tuple[str, ...]:
    """Named skin regions holding >= :data:`AREA_SHARE` of an area instance's footprint."""
    if inst.type not in BROAD_TYPES:
        return ()
    x, y, w, h = inst.support_xywh
    a = inst.alpha
    total = float(a.sum())
    if total <= 0:
        return ()
    share = {}
    for r in INSTANCE_REGIONS:
        if r == "skin":
            continue
        m = fa.regions.masks[r][y:y + h, x:x + w] > 0.5
        share[r] = float(a[m].sum()) / total
    return tuple(r for r, v in sorted(share.items(), key=lambda kv: -kv[1])
                 if v >= AREA_SHARE)


@dataclass(frozen=True)
class PhotoAnalysis:
    """A photo and everything measured on it (detect, align, parse, localize).

    Build with :meth:`of`. ``data`` is the decoded input; ``analyses`` are the
    per-face measurements (crop space); ``instances`` lists every imperfection
    with its id.
    """

    data: ImageData
    faces: tuple[Face, ...]
    analyses: tuple[FaceAnalysis, ...]
    instances: tuple[Found, ...]
    pipeline: RetouchPipeline
    elapsed_ms: float = 0.0
    _cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, image: str | Path | np.ndarray | ImageData, *,
           pipeline: RetouchPipeline | None = None) -> PhotoAnalysis:
        """Load (if needed) and analyze ``image`` once."""
        pipeline = pipeline or RetouchPipeline()
        data = image if isinstance(image, ImageData) else load_image(image)
        t0 = time.perf_counter()
        faces, analyses = pipeline.analyze(data)
        found: list[Found] = []
        for fa in analyses:
            al = fa.alignment
            for k, inst in enumerate(fa.localization.instances):
                if inst.kept_reason:  # not a spot (not contained): nothing to select
                    continue
                cx, cy = al.to_image(np.array([inst.center_xy]))[0]
                found.append(Found(len(found), fa.face.index, k, inst.type, inst.region,
                                   (float(cx), float(cy)), float(inst.radius / al.scale),
                                   float(inst.score), _areas(fa, inst)))
        return cls(data, tuple(faces), tuple(analyses), tuple(found), pipeline,
                   (time.perf_counter() - t0) * 1000.0)

    @property
    def usable_faces(self) -> int:
        return len(self.analyses)

    def counts(self) -> Counter[str]:
        """Number of instances per type."""
        return Counter(f.type for f in self.instances)

    def face_analysis(self, face: int) -> FaceAnalysis:
        return next(fa for fa in self.analyses if fa.face.index == face)

    # -- crop-space helpers (cached) -------------------------------------------------
    def region_mask(self, face: int, regions: Sequence[str], *,
                    feather: float = 0.0) -> np.ndarray:
        """``(S, S) float32`` union of named regions (``"skin"`` = the skin mask).

        ``feather`` (in face widths) fades the mask to 0 at the region border
        from *inside* (distance-based), so a treatment clipped by it never
        leaves the region and has no visible edge.
        """
        key = ("region", face, tuple(sorted(regions)), feather)
        if key not in self._cache:
            fa = self.face_analysis(face)
            masks = fa.regions.masks
            m = np.zeros_like(masks["skin"])
            for r in regions:
                np.maximum(m, masks[r] if r == "skin" else (masks[r] > 0.5).astype(np.float32)
                           * np.clip(masks["skin"] * 2.0, 0, 1), out=m)
            if feather > 0:
                inside = (m > 0.5).astype(np.uint8)
                d = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
                w = max(1.5, feather * fa.localization.face_size)
                ramp = gauss(np.clip(d / w, 0, 1).astype(np.float32), 0.3 * w)
                m = (ramp * m * inside).astype(np.float32)
            self._cache[key] = m
        return self._cache[key]

    def outside_mask(self, face: int, regions: Sequence[str], *,
                     feather: float = CLIP_FEATHER) -> np.ndarray:
        """``(S, S) float32`` weight that is 0 on the named regions and 1 away from them.

        The regions (their parsed masks, whole, not only their skin) are grown by
        :data:`CUT_MARGIN_PX` crop pixels, so bilinear warping to the image cannot
        carry a change into them; the weight then rises to 1 over ``feather`` face
        widths outside. The complement of :meth:`region_mask` for cutting a region
        out of a treatment.
        """
        key = ("outside", face, tuple(sorted(regions)), feather)
        if key not in self._cache:
            fa = self.face_analysis(face)
            masks = fa.regions.masks
            inside = np.zeros(masks["skin"].shape, np.uint8)
            for r in regions:
                inside |= (masks[r] > 0.5).astype(np.uint8)
            k = 2 * CUT_MARGIN_PX + 1
            inside = cv2.dilate(inside, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
            d = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)
            w = max(1.5, feather * fa.localization.face_size)
            self._cache[key] = (np.clip(d / w, 0, 1) * (1 - inside)).astype(np.float32)
        return self._cache[key]

    def anchor_xy(self, face: int, anchor: str) -> list[np.ndarray]:
        """Crop-space points ``(x, y)`` of a landmark name of :data:`~retouch.plan.ANCHORS`."""
        key = ("anchor", face, anchor)
        if key not in self._cache:
            fa = self.face_analysis(face)
            p = fa.alignment.to_crop(fa.face.landmarks_xy)
            masks = fa.regions.masks

            def centroid(name: str, fallback: int) -> np.ndarray:
                ys, xs = np.nonzero(masks[name] > 0.5)
                return np.array([xs.mean(), ys.mean()]) if len(xs) else p[fallback]

            right_brow = p[[70, 63, 105, 66, 107]].mean(axis=0)
            left_brow = p[[300, 293, 334, 296, 336]].mean(axis=0)
            table = {
                "nose": [p[1]], "mouth": [(p[13] + p[14]) / 2], "chin": [p[152]],
                "forehead": [centroid("forehead", 151)], "left_eye": [p[473]],
                "right_eye": [p[468]], "eyes": [p[468], p[473]],
                "left_brow": [left_brow], "right_brow": [right_brow],
                "brows": [left_brow, right_brow],
                "left_cheek": [centroid("left_cheek", 280)],
                "right_cheek": [centroid("right_cheek", 50)],
            }
            self._cache[key] = [np.asarray(v, np.float64) for v in table[anchor]]
        return self._cache[key]


@dataclass(frozen=True)
class OpReport:
    """What one operation touched.

    Attributes:
        index: position in the plan.
        op: the operation.
        matched: instances matching its types/regions (before the selector).
        touched: ids of the instances it decided (after the selector; a later
            operation may override some of them: see ``overridden``).
        by_type: ``touched`` counted per type.
        overridden: ids a later operation took over.
        pixels: pixels changed by a region / edit / restore operation.
        note: a remark ("no freckles found on the nose", an edit's report...).
    """

    index: int
    op: Operation
    matched: int = 0
    touched: tuple[int, ...] = ()
    by_type: dict[str, int] = field(default_factory=dict)
    overridden: tuple[int, ...] = ()
    pixels: int = 0
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {"index": self.index, "operation": self.op.to_dict(),
             "description": self.op.describe(), "matched": self.matched,
             "touched": list(self.touched), "by_type": dict(self.by_type)}
        if self.overridden:
            d["overridden"] = list(self.overridden)
        if self.pixels:
            d["pixels_changed"] = self.pixels
        if self.note:
            d["note"] = self.note
        d.update(self.extra)
        return d


# ----------------------------------------------------------------------------- resolution
def _matches(op: Operation, f: Found) -> bool:
    if op.faces is not None and f.face not in op.faces:
        return False
    if op.types and f.type not in op.types:
        return False
    if f.type in op.exclude_types:
        return False
    if op.regions and "skin" not in op.regions and f.region not in op.regions \
            and not set(f.areas) & set(op.regions):
        return False
    if f.areas:  # an area is left out only when every region it spans is excluded
        return not set(f.areas) <= set(op.exclude_regions)
    return f.region not in op.exclude_regions


def _reached(analysis: PhotoAnalysis, f: Found, regions: Sequence[str]) -> tuple[str, ...]:
    """The named ``regions`` (sorted) whose cut margin a spot's footprint reaches into.

    A spot is selected by its centre's region; its footprint can still reach into a
    neighbouring region that an operation excludes or keeps. Those regions are cut
    out of its treatment (:meth:`PhotoAnalysis.outside_mask`), like an area's.
    """
    names = tuple(sorted(set(regions) - {"skin"}))
    if not names:
        return ()
    inst = analysis.face_analysis(f.face).localization.instances[f.index]
    x, y, w, h = inst.support_xywh
    foot = inst.alpha > 0
    return tuple(r for r in names
                 if np.any(foot & (analysis.outside_mask(f.face, (r,))[y:y + h, x:x + w] < 1)))


def _partly_covered(f: Found, regions: Sequence[str]) -> bool:
    """Whether ``regions`` cover some, not all, of an area's regions (a cut, not a keep)."""
    return bool(f.areas) and bool(regions) and "skin" not in regions \
        and bool(set(f.areas) - set(regions))


def _select(analysis: PhotoAnalysis, op: Operation, cands: list[Found]) -> list[Found]:
    sel = op.select
    if sel is None or not cands:
        return cands
    if sel.by == "ids":
        return [f for f in cands if f.id in sel.ids]
    if sel.by == "nearest":
        u = {fa.face.index: fa.localization.face_size for fa in analysis.analyses}
        dist = []
        for f in cands:
            fa = analysis.face_analysis(f.face)
            c = np.asarray(fa.localization.instances[f.index].center_xy, np.float64)
            d = min(float(np.hypot(*(c - a))) for a in analysis.anchor_xy(f.face, sel.near))
            dist.append(d / u[f.face])
        order = sorted(range(len(cands)), key=lambda i: (dist[i], cands[i].id))
        if sel.count is not None:
            return [cands[i] for i in order[:sel.count]]
        return [cands[i] for i in order if dist[i] <= NEAR_RADIUS]
    key = {"largest": lambda f: (-f.radius_px, -f.score, f.id),
           "smallest": lambda f: (f.radius_px, -f.score, f.id),
           "most_visible": lambda f: (-f.score, -f.radius_px, f.id)}[sel.by]
    ranked = sorted(cands, key=key)
    n = sel.count if sel.count is not None else max(1, (len(ranked) + 1) // 2)
    return ranked[:n]


@dataclass(frozen=True)
class Decision:
    """What one found instance gets.

    Attributes:
        amount: treatment amount in ``[0, 1]`` (0 = left as found).
        clip: named regions the treatment is confined to (empty = its whole footprint).
        cut: named regions cut out of the treatment: an area's excluded or later kept
            regions, or those a spot's footprint reaches into (empty = none).
        op: index of the operation that decided the amount.
    """

    amount: float
    clip: tuple[str, ...] = ()
    cut: tuple[str, ...] = ()
    op: int = -1


_NONE = Decision(0.0)


@dataclass(frozen=True)
class Resolution:
    """Per-instance decisions of a plan: ``decisions[id]`` (absent = not treated)."""

    decisions: dict[int, Decision]
    reports: tuple[OpReport, ...]

    def amount(self, fid: int) -> float:
        return self.decisions.get(fid, _NONE).amount


def resolve(analysis: PhotoAnalysis, plan: Plan) -> Resolution:
    """Decide what every found instance gets (see the module docstring)."""
    _check_absolute(plan)
    dec: dict[int, Decision] = {}
    reports: list[OpReport] = []
    for i, op in enumerate(plan.operations):
        if not op.is_instance_op:
            reports.append(OpReport(i, op))
            continue
        cands = [f for f in analysis.instances if _matches(op, f)]
        chosen = _select(analysis, op, cands)
        keep = op.action == "keep"
        amt = 0.0 if keep else op.effective_strength
        clip = () if keep or not op.regions or "skin" in op.regions else op.regions
        touched = []
        for f in chosen:
            prev = dec.get(f.id)
            if keep and prev is not None and prev.amount > 0 and _partly_covered(f, op.regions):
                # "... but leave my nose alone": the area stays treated elsewhere.
                dec[f.id] = dc_replace(prev, cut=tuple(sorted({*prev.cut, *op.regions})))
                continue
            if f.areas:
                cut = tuple(sorted(set(op.exclude_regions) & set(f.areas)))
            else:
                cut = _reached(analysis, f, op.exclude_regions)
            dec[f.id] = Decision(amt, clip, cut, i)
            touched.append(f.id)
        if keep and op.regions and "skin" not in op.regions:
            # "... but leave my cheek alone": a spot treated by an earlier operation
            # whose footprint reaches into the kept regions is cut out of them.
            chosen_ids = {f.id for f in chosen}
            for fid, d in list(dec.items()):
                f = analysis.instances[fid]
                if (d.amount > 0 and fid not in chosen_ids and not f.areas
                        and (op.faces is None or f.face in op.faces)
                        and (not op.types or f.type in op.types)
                        and f.type not in op.exclude_types):
                    extra = _reached(analysis, f, op.regions)
                    if extra:
                        dec[fid] = dc_replace(d, cut=tuple(sorted({*d.cut, *extra})))
        reports.append(OpReport(i, op, matched=len(cands), touched=tuple(touched),
                                by_type=dict(Counter(analysis.instances[t].type
                                                     for t in touched))))
    out = []
    for r in reports:
        over = tuple(fid for fid in r.touched if dec[fid].op != r.index)
        out.append(dc_replace(r, overridden=over) if over else r)
    return Resolution(dec, tuple(out))


def _found_entry(f: Found, res: Resolution, treated: set[int]) -> dict[str, Any]:
    d = dict(f.to_dict(), treated=f.id in treated, amount=round(res.amount(f.id), 3))
    cut = res.decisions.get(f.id, _NONE).cut
    if cut and f.id in treated:
        d["cut"] = list(cut)
    return d


def _check_absolute(plan: Plan) -> None:
    bad = [op.action for op in plan.operations if op.action in ("adjust", "only")]
    if bad:
        raise InvalidInputError(
            f"plan: {bad[0]!r} operations refer to earlier requests; resolve them with "
            "retouch.plan.merge(current_plan, new_plan) (a Session does this) before executing")


# ----------------------------------------------------------------------------- execution
def _optional_module(name: str, what: str) -> Any:
    if importlib.util.find_spec(f"retouch.{name}") is None:
        raise InvalidInputError(f"{what} is not available in this build "
                                f"(the retouch.{name} module is not installed)")
    return importlib.import_module(f".{name}", __package__)


def execute_plan(analysis: PhotoAnalysis, plan: Plan, *,
                 cache: dict[str, Any] | None = None) -> RetouchResult:
    """Apply an absolute plan (no ``adjust`` / ``only``) to the analyzed photo.

    Args:
        analysis: the photo and its measurements (:meth:`PhotoAnalysis.of`).
        plan: the plan; merge relative requests first with :func:`retouch.plan.merge`.
        cache: a dict kept by the caller across calls on the same analysis (a
            session): the last restoration is kept there and reused while the
            plan asks for the same fidelity.

    Returns:
        :class:`~retouch.types.RetouchResult`: ``image`` has the input's shape and
        dtype; ``report["instruction"]`` holds the plan and one entry per
        operation (what it matched and touched, by instance id);
        ``masks["changed"]`` is 255 where any pixel changed.
    """
    t0 = time.perf_counter()
    res = resolve(analysis, plan)
    reports = {r.index: r for r in res.reports}
    data = analysis.data
    timings: dict[str, float] = {}
    # 1. restoration
    rest_ops = [(i, o) for i, o in enumerate(plan.operations) if o.action == "restore"]
    if rest_ops:
        i, op = rest_ops[-1]
        t = time.perf_counter()
        restored = cache.get("restore") if cache is not None else None
        if restored is not None and restored[0] == op.fidelity:
            px, rep = restored[1], {"cached": True}
        else:
            mod = _optional_module("restore", "photo restoration ('restore')")
            fid = DEFAULT_FIDELITY if op.fidelity is None else op.fidelity
            out_r = mod.restore(data, fid)
            px = _check_image(out_r.image, data, "retouch.restore.restore")
            rep = {"report": _jsonable(getattr(out_r, "report", None))}
        if cache is not None:
            cache["restore"] = (op.fidelity, px)
        data = dc_replace(data, pixels=px)
        reports[i] = dc_replace(reports[i], pixels=int(np.any(px != analysis.data.pixels,
                                                             axis=2).sum()), extra=rep)
        timings["restore"] = (time.perf_counter() - t) * 1000.0
    # 2. instances (the core pipeline, with per-instance amounts)
    t = time.perf_counter()
    ids = {(f.face, f.index): f.id for f in analysis.instances}

    def instance_amount(fa: FaceAnalysis, k: int, inst: Any) -> tuple[float, np.ndarray | None]:
        d = res.decisions.get(ids[(fa.face.index, k)], _NONE)
        if d.amount <= 0 or not (d.clip or d.cut):
            return d.amount, None
        w = analysis.region_mask(fa.face.index, d.clip, feather=CLIP_FEATHER) if d.clip \
            else None
        if d.cut:
            out = analysis.outside_mask(fa.face.index, d.cut)
            w = out if w is None else w * out
        return d.amount, w

    treated = {fid for fid, d in res.decisions.items() if d.amount > 0}
    treated_types = sorted({analysis.instances[fid].type for fid in treated})
    core = analysis.pipeline.run(data, only=treated_types,
                                 analysis=(list(analysis.faces), list(analysis.analyses)),
                                 instance_amount=instance_amount)
    out = core.image
    timings["instances"] = (time.perf_counter() - t) * 1000.0
    # 3. region operations
    t = time.perf_counter()
    for fa in analysis.analyses:
        for action in ("smooth", "brighten"):
            changed = _apply_region_ops(analysis, fa, plan, action, out)
            for i, n in changed.items():
                reports[i] = dc_replace(reports[i], pixels=reports[i].pixels + n)
    timings["regions"] = (time.perf_counter() - t) * 1000.0
    # 4. edits
    edit_ops = [(i, o) for i, o in enumerate(plan.operations) if o.action == "edit"]
    if edit_ops:
        t = time.perf_counter()
        mod = _optional_module("edit", "face editing ('edit' operations)")
        reqs = [mod.EditRequest(name=o.edit, amount=float(o.amount), size=o.size, color=o.color,
                                finish=o.finish, faces=o.faces) for _, o in edit_ops]
        before = out
        res_e = mod.apply_edits(dc_replace(data, pixels=out), list(analysis.analyses), reqs)
        out = _check_image(res_e.image, data, "retouch.edit.apply_edits")
        rep_e = _jsonable(list(getattr(res_e, "report", []) or []))
        n_changed = int(np.any(out != before, axis=2).sum())
        for j, (i, _) in enumerate(edit_ops):
            extra = {"edit_report": rep_e[j]} if j < len(rep_e) else {}
            reports[i] = dc_replace(reports[i], pixels=n_changed if j == 0 else 0, extra=extra)
        timings["edits"] = (time.perf_counter() - t) * 1000.0
    # Notes for instance operations that found nothing.
    for i, r in reports.items():
        if r.op.is_instance_op and r.matched == 0:
            reports[i] = dc_replace(r, note=f"found no {_noun(r.op.types, 2)}"
                                    + _where(r.op.regions))
    changed = np.any(out != analysis.data.pixels, axis=2)
    report = core.report
    report["instruction"] = {
        "plan": plan.to_dict(),
        "operations": [reports[i].to_dict() for i in sorted(reports)],
        "found": [_found_entry(f, res, treated) for f in analysis.instances],
        "found_by_type": dict(analysis.counts()),
        "pixels_changed": int(changed.sum()),
        "timings_ms": {k: round(v, 2) for k, v in timings.items()},
    }
    report["timings_ms"]["instruction_total"] = round((time.perf_counter() - t0) * 1000.0, 2)
    masks = dict(core.masks)
    masks["changed"] = changed.astype(np.uint8) * 255
    return RetouchResult(image=out, report=report, masks=masks, alpha=data.alpha,
                         source=analysis.data)


def _check_image(img: Any, data: ImageData, who: str) -> np.ndarray:
    if not isinstance(img, np.ndarray) or img.shape != data.pixels.shape \
            or img.dtype != data.pixels.dtype:
        got = f"{type(img).__name__} {getattr(img, 'shape', '')} {getattr(img, 'dtype', '')}"
        raise InvalidInputError(f"{who} returned {got}; expected {data.pixels.shape} "
                                f"{data.pixels.dtype}")
    return img


def _jsonable(x: Any) -> Any:
    import json

    try:
        json.dumps(x)
        return x
    except (TypeError, ValueError):
        return repr(x)


def _apply_region_ops(analysis: PhotoAnalysis, fa: FaceAnalysis, plan: Plan, action: str,
                      out: np.ndarray) -> dict[int, int]:
    """Apply the ``action`` region operations of one face to ``out`` in place.

    Returns pixels changed per operation index.
    """
    face = fa.face.index
    ops = [(i, o) for i, o in enumerate(plan.operations)
           if (o.is_region_op and o.action == action) or
           (o.action == "keep" and not o.types and o.select is None and o.regions)]
    ops = [(i, o) for i, o in ops if o.faces is None or face in o.faces]
    if not any(o.action == action for _, o in ops):
        return {}
    S = fa.alignment.size
    strength = np.zeros((S, S), np.float32)
    owner = np.full((S, S), -1, np.int32)
    for i, o in ops:
        m = analysis.region_mask(face, o.regions or ("skin",), feather=REGION_FEATHER)
        if o.action == "keep":
            strength *= 1.0 - m
            continue
        strength = strength * (1.0 - m) + o.effective_strength * m
        owner[m > 0.5] = i
    ys, xs = np.nonzero(strength > 0)
    if not len(xs):
        return {}
    H, W = out.shape[:2]
    u_img = fa.localization.face_size / fa.alignment.scale
    sig_fine = max(0.6, SMOOTH_BAND[0] * u_img)
    sig_coarse = max(1.0, SMOOTH_BAND[1] * u_img)
    # Only the region's bounding box (plus the blur's reach) is processed.
    pad = 3.0 * sig_coarse if action == "smooth" else 2.0
    cx0, cy0 = int(xs.min()), int(ys.min())
    box = _image_box_of(fa.alignment, (cx0, cy0, int(xs.max()) + 1 - cx0,
                                       int(ys.max()) + 1 - cy0), pad, (H, W))
    x0, y0, x1, y1 = box
    if x1 - x0 < 2 or y1 - y0 < 2:
        return {}
    s_img = warp_map(strength, fa, box)
    s_img[s_img < 1.0 / 1024] = 0.0
    if not np.any(s_img):
        return {}
    maxv = float(analysis.data.max_value)
    new = out[y0:y1, x0:x1].astype(np.float32) * (1.0 / maxv)
    if action == "smooth":
        # Frequency separation: remove the band between pore scale and shading scale.
        band = _lowpass(new, sig_fine)
        band -= _lowpass(new, sig_coarse)
        band *= s_img[..., None]
        new -= band
        del band
    else:
        new = 1.0 - (1.0 - new) * (1.0 - (BRIGHTEN_MAX * s_img)[..., None])
    q = np.clip(np.rint(np.clip(new, 0, 1) * maxv), 0, maxv).astype(out.dtype)
    sel = s_img > 0
    before = out[y0:y1, x0:x1].copy()
    out[y0:y1, x0:x1][sel] = q[sel]
    diff = np.any(out[y0:y1, x0:x1] != before, axis=2)
    own = warp_map(owner.astype(np.float32), fa, box, nearest=True).astype(np.int32)
    counts: dict[int, int] = {}
    for i, _ in ops:
        n = int((diff & (own == i)).sum())
        if n:
            counts[i] = n
    return counts


def _lowpass(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian low-pass; large sigmas are computed on a reduced grid (float32 in/out)."""
    return gauss_reduced(img, sigma, per=4.0)


def warp_map(crop_map: np.ndarray, fa: FaceAnalysis, box: tuple[int, int, int, int], *,
             nearest: bool = False) -> np.ndarray:
    """Map a crop-space ``(S, S)`` map into the image box ``(x0, y0, x1, y1)``."""
    x0, y0, x1, y1 = box
    m = fa.alignment.matrix.copy()
    m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)
    flags = (cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR) | cv2.WARP_INVERSE_MAP
    border = -1.0 if nearest else 0.0
    return cv2.warpAffine(crop_map.astype(np.float32), m, (x1 - x0, y1 - y0), flags=flags,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=border)


# ----------------------------------------------------------------------------- replies
def _noun(types: Sequence[str], n: int) -> str:
    s = set(types)
    if s == {"acne", "red_spot", "dark_spot"}:
        return "blemish" if n == 1 else "blemishes"
    if s == {"acne", "red_spot"}:
        return "pimple" if n == 1 else "pimples"
    if len(s) == 1:
        sing, plur = _TYPE_NOUN[next(iter(s))]
        return sing if n == 1 else plur
    return "imperfection" if n == 1 else "imperfections"


def _where(regions: Sequence[str]) -> str:
    if not regions or "skin" in regions:
        return ""
    rs = list(regions)
    if {"left_cheek", "right_cheek"} <= set(rs):
        rs = [r for r in rs if r not in ("left_cheek", "right_cheek")] + ["cheeks"]
    if {"left_under_eye", "right_under_eye"} <= set(rs):
        rs = [r for r in rs if not r.endswith("under_eye")] + ["under-eyes"]
    words = [_REGION_WORD.get(r, r) for r in rs]
    on = [w for w in words if not w.startswith("under the")]
    under = [w for w in words if w.startswith("under the")]
    parts = []
    if on:
        parts.append("on the " + (" and ".join(on) if len(on) <= 2
                                  else ", ".join(on[:-1]) + " and " + on[-1]))
    parts += under
    return " " + " and ".join(parts)


_EDIT_WORDS = {
    "double_chin": "double chin", "face.slim": "face slimming", "eyes.size": "eye size",
    "eyes.whiten": "eye whitening", "nose.width": "nose width", "nose.length": "nose length",
    "lips.fullness": "lip fullness", "smile": "smile", "brows.raise": "brow lift",
    "brows.density": "brow density", "lipstick": "lipstick", "teeth.whiten": "teeth whitening",
    "hair.color": "hair colour", "skin.tone": "skin tone", "young": "younger look",
}
_GROUPS = ({"acne", "red_spot", "dark_spot"}, {"acne", "red_spot"})


def _describe_instance_op(op: Operation, r: dict[str, Any], eff: list[int],
                          found: dict[int, dict[str, Any]]) -> str:
    n, m = len(eff), r["matched"]
    where = _where(op.regions)
    if m == 0:
        return f"found no {_noun(op.types, 2)}{where}"
    verb = {"remove": "removed", "keep": "kept"}.get(op.action, "softened")
    if op.action == "brighten" or (op.types == ("under_eye",) and op.action != "keep"):
        verb = "lightened"
    strength = "" if op.action == "keep" or op.strength is None or \
        op.strength == DEFAULT_STRENGTH[op.action] else f" at {op.strength:.0%}"
    named = len(op.types) == 1 or set(op.types) in _GROUPS
    noun_m = _noun(op.types, m) if named else ("imperfection" if m == 1 else "imperfections")
    sel = op.select
    if n == 0:
        return f"{verb} none of the {m} {noun_m}{where} (a later request took them over)"
    if sel is not None and sel.by in ("largest", "smallest", "most_visible"):
        adj = {"largest": "largest", "smallest": "smallest", "most_visible": "most visible"}
        head = f"the {adj[sel.by]}" if n == 1 else f"the {n} {adj[sel.by]}"
        return f"{verb} {head} of {m} {noun_m}{where}{strength}"
    if sel is not None and sel.by == "nearest":
        near = sel.near.replace("_", " ")
        if n == 1:
            one = _noun(op.types if named else [found[eff[0]]["type"]], 1)
            return f"{verb} the {one} nearest the {near}{where}{strength}"
        return f"{verb} {n} {noun_m} near the {near}{where}{strength}"
    if sel is not None and sel.by == "ids":
        return f"{verb} " + ", ".join(f"#{i}" for i in eff) + f"{where}{strength}"
    if set(op.types) == {"under_eye"} and n == m:
        sides = {found[i]["region"] for i in eff}
        eyes = "both eyes" if len(sides) == 2 else \
            "the " + sides.pop().replace("_under_eye", " eye")
        return f"{verb} the dark circle{'s' if n > 1 else ''} under {eyes}{strength}"
    if not named:
        counts = Counter(found[i]["type"] for i in eff)
        items = [f"{c} {_noun([t], c)}" for t, c in sorted(counts.items(), key=lambda kv: -kv[1])]
        listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
        total = "" if n == m else f" (of {m})"
        return f"{verb} {listed}{total}{where}{strength}"
    if n == m == 1:
        return f"{verb} the {_noun(op.types, 1)}{where}{strength}"
    if n == m:
        return f"{verb} all {n} {noun_m}{where}{strength}"
    return f"{verb} {n} of {m} {noun_m}{where}{strength}"


def describe_result(report: dict[str, Any], only_ops: Sequence[int] | None = None) -> str:
    """One sentence: what was done, what was found and kept.

    ``report`` is ``RetouchResult.report`` from :func:`execute_plan`;
    ``only_ops`` limits the description to those operation indices (a session
    describes what the last request changed).
    """
    ins = report.get("instruction", {})
    if not any(f.get("retouched") for f in report.get("faces", [])):
        return "No face found, so nothing changed."
    found = {f["id"]: f for f in ins.get("found", [])}
    parts: list[str] = []
    decided: set[int] = set()
    for r in ins.get("operations", []):
        op = Operation.from_dict(r["operation"])
        eff = [fid for fid in r["touched"] if fid not in set(r.get("overridden", []))]
        decided |= set(eff)
        if only_ops is not None and r["index"] not in only_ops:
            continue
        if op.is_instance_op:
            parts.append(_describe_instance_op(op, r, eff, found))
        elif op.is_region_op:
            verb = "smoothed" if op.action == "smooth" else "brightened"
            target = "the skin" + (_where(op.regions) or " everywhere")
            if r.get("pixels_changed"):
                parts.append(f"{verb} {target} at {op.effective_strength:.0%}")
            else:
                parts.append(f"found no skin to {op.action}{_where(op.regions)}")
        elif op.action == "edit":
            word = _EDIT_WORDS.get(op.edit or "", (op.edit or "").replace("_", " "))
            extra = "".join(f" {x}" for x in (op.color, op.finish) if x)
            parts.append(f"applied {word} {op.amount:+.0%}{extra}")
        elif op.action == "restore":
            parts.append("restored the photo" + (f" (fidelity {op.fidelity:.0%})"
                                                 if op.fidelity is not None else ""))
    kept = Counter(f["type"] for fid, f in found.items() if not f["treated"] and fid
                   not in decided and f["type"] in ("mole", "freckle"))
    if kept:
        order = sorted(kept.items(), key=lambda kv: kv[0] != "freckle")
        parts.append("kept " + " and ".join(f"{n} {_noun([t], n)}" for t, n in order))
    if not parts:
        return "Nothing to do."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."
