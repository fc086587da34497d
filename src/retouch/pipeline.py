"""The retouching pipeline, top to bottom.

``load -> detect -> align -> parse -> localize -> plan -> synthesize -> paste back``
(saving is the caller's: :func:`retouch.imageio.save_image`).

Pixels outside every treatment footprint are copied from the input untouched,
so a lossless output is bit-identical there.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ._version import __version__
from .align import align_face, warp_mask_to_image, warp_to_crop
from .closeup import analyze_closeup, check_closeup_settings, resolve_face_size
from .detect import FaceDetector, get_detector
from .errors import InvalidInputError
from .imageio import load_image
from .inpaint import fill_patch, reduce_highlight, shift_lab
from .localize import localize_imperfections
from .parse import parse_regions
from .types import (
    DEFAULT_TREATMENT,
    IMPERFECTION_TYPES,
    Alignment,
    CropInstance,
    Face,
    FaceRegions,
    ImageData,
    Imperfection,
    Localization,
    RetouchResult,
)

#: Amount used for a type the user selected explicitly with ``only``.
SELECTED_TREATMENT: dict[str, float] = {
    "acne": 1.0, "red_spot": 1.0, "dark_spot": 1.0, "mole": 1.0, "freckle": 1.0,
    "wrinkle": 0.8, "under_eye": 0.7, "shine": 0.7, "redness": 1.0,
}
#: The strength at which the default treatment table applies as written.
NATURAL_STRENGTH = 0.8
#: Alpha below this is treated as 0 (keeps masks tight; < 1/4 of a code value at 8 bit).
ALPHA_EPS = 1.0 / 1024
#: Tone corrections over areas, applied after the spots' fills.
BROAD_TYPES = frozenset({"under_eye", "shine", "redness"})
#: Imperfections the localizer finds as darker than normal skin (a red spot is darker
#: in green and blue): their removal may lighten and change colour, never darken.
DARKER_TYPES = frozenset({"acne", "red_spot", "dark_spot", "mole", "freckle", "wrinkle",
                          "under_eye"})


def _is_unit(v: object) -> bool:
    """Whether ``v`` is a real number (Python or NumPy, not bool) in ``[0, 1]``."""
    return (isinstance(v, (numbers.Real, np.floating, np.integer)) and not isinstance(v, bool)
            and 0.0 <= float(v) <= 1.0)


def _parse_types(types: Iterable[str] | str | None, what: str) -> set[str] | None:
    if types is None:
        return None
    if isinstance(types, str):
        types = [t for t in types.split(",") if t.strip()]
    elif isinstance(types, (bytes, bytearray, Mapping)) or not isinstance(types, Iterable):
        raise InvalidInputError(f"`{what}`: expected a list of imperfection types or a comma "
                                f"string; got {type(types).__name__}")
    out = set()
    for t in types:
        if not isinstance(t, str):
            raise InvalidInputError(f"`{what}`: imperfection types must be strings; got {t!r}")
        t = t.strip().lower().replace("-", "_")
        if t not in IMPERFECTION_TYPES:
            raise InvalidInputError(
                f"`{what}`: unknown imperfection type {t!r}; expected some of "
                f"{', '.join(IMPERFECTION_TYPES)}"
            )
        out.add(t)
    return out


def treatment_amounts(
    strength: float, only: Iterable[str] | str | None = None,
    keep: Iterable[str] | str | None = None,
) -> dict[str, float]:
    """Per-type treatment amount in ``[0, 1]`` for the given user settings.

    ``strength`` ``0.8`` applies :data:`~retouch.types.DEFAULT_TREATMENT` as
    written; amounts scale linearly with it and are clipped to 1.
    ``only`` treats just the listed types (kept-by-default types included);
    ``keep`` removes types from the default set.
    """
    if not _is_unit(strength):
        raise InvalidInputError(f"`strength` must be in [0, 1]; got {strength!r}")
    only_s = _parse_types(only, "only")
    keep_s = _parse_types(keep, "keep") or set()
    if only_s is not None and keep_s & only_s:
        raise InvalidInputError(
            f"types {sorted(keep_s & only_s)} are both in `only` and `keep`"
        )
    k = float(strength) / NATURAL_STRENGTH
    out = {}
    for t in IMPERFECTION_TYPES:
        base = (SELECTED_TREATMENT[t] if t in only_s else 0.0) if only_s is not None \
            else DEFAULT_TREATMENT[t]
        if t in keep_s:
            base = 0.0
        out[t] = float(np.clip(base * k, 0.0, 1.0))
    return out


@dataclass
class _Timer:
    ms: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, t0: float) -> float:
        t1 = time.perf_counter()
        self.ms[name] = self.ms.get(name, 0.0) + (t1 - t0) * 1000.0
        return t1


def _image_box_of(alignment: Alignment, xywh: tuple[float, float, float, float], pad: float,
                  shape_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    x, y, w, h = xywh
    pts = np.array([[x, y], [x + w, y], [x, y + h], [x + w, y + h]], np.float64)
    im = alignment.to_image(pts)
    x0, y0 = np.floor(im.min(axis=0) - pad).astype(int)
    x1, y1 = np.ceil(im.max(axis=0) + pad).astype(int) + 1
    H, W = shape_hw
    return max(0, x0), max(0, y0), min(W, x1), min(H, y1)


@dataclass(frozen=True)
class FaceAnalysis:
    """What the measuring stages found on one face (all maps in crop space).

    Attributes:
        face: the detection (image coordinates).
        alignment: image <-> canonical crop transform.
        regions: parsed region masks (``(S, S) float32`` in ``[0, 1]``).
        localization: imperfection maps and instances.
        closeup: for a close-up frame (:mod:`retouch.closeup`), its report entry
            (face size, skin fraction, working scale); ``None`` for a face.
    """

    face: Face
    alignment: Alignment
    regions: FaceRegions
    localization: Localization
    closeup: dict | None = None


#: Per-instance treatment hook for :meth:`RetouchPipeline.run`:
#: ``(face analysis, index in localization.instances, instance) -> (amount, clip)``.
#: ``amount`` in ``[0, 1]`` replaces the per-type amount (0 = untouched); ``clip`` is
#: ``None`` or an ``(S, S) float32`` crop-space map in ``[0, 1]`` that multiplies the
#: instance's footprint (confines a treatment to a region). It is not asked about an
#: instance with a ``kept_reason`` (never treated).
InstanceAmount = Callable[[FaceAnalysis, int, CropInstance], tuple[float, "np.ndarray | None"]]


class RetouchPipeline:
    """Composable pipeline; the stages are swappable (``detector``).

    Args:
        detector: any :class:`~retouch.detect.FaceDetector`; default MediaPipe.
        sensitivity: localizer sensitivity in ``[0, 1]``.
        closeup: treat the whole frame as skin seen close up, without looking for
            faces (:mod:`retouch.closeup`: chin, cheek or forehead close-ups where
            no whole face is visible).
        face_size: close-up only: how wide a whole face would be at the photo's
            scale, in input pixels (default: 0.7 x the longer side).
        engine: ``None`` for the built-in engine, or a learned engine (e.g.
            :class:`retouch.learn.engine.LearnedEngine`): after detection it
            aligns, localizes and pastes back each face itself through
            ``engine.apply(data, faces, out, amounts, removed, type_masks, timings_ms)
            -> (imperfections, extra_masks)``; ``engine.describe()`` goes to the
            report's ``engine`` entry.
    """

    def __init__(self, detector: FaceDetector | None = None, *, sensitivity: float = 0.5,
                 engine: Any = None, closeup: bool = False,
                 face_size: float | None = None) -> None:
        if not _is_unit(sensitivity):
            raise InvalidInputError(f"`sensitivity` must be in [0, 1]; got {sensitivity!r}")
        check_closeup_settings(closeup, face_size, engine=engine)
        self.closeup = bool(closeup)
        self.face_size = face_size
        self.detector = detector
        self.sensitivity = float(sensitivity)
        self.engine = engine

    # -- measuring stages ---------------------------------------------------
    def detect(self, data: ImageData, timer: _Timer | None = None) -> list[Face]:
        """Every face of ``data`` (detection on an 8-bit view of the pixels)."""
        timer = timer or _Timer()
        t = time.perf_counter()
        px8 = data.pixels if data.pixels.dtype == np.uint8 else \
            (data.pixels >> 8).astype(np.uint8)
        faces = (self.detector or get_detector()).detect(px8)
        timer.add("detect", t)
        return faces

    def analyze(self, data: ImageData, timer: _Timer | None = None, *,
                debug: list[dict] | None = None) -> tuple[list[Face], list[FaceAnalysis]]:
        """Detect, align, parse and localize every face of ``data``.

        In close-up mode the whole frame is one pseudo-face (no detection).

        ``debug``: if a list, one dict per analysed face (in the order of the returned
        analyses; faces only, not close-ups) is appended to it, holding the localizer's
        intermediate maps and every spot candidate with the decision taken
        (:func:`retouch.localize.localize_imperfections`; crop pixels), for diagnostics.
        """
        timer = timer or _Timer()
        if self.closeup:
            face, al, regions, loc, info = analyze_closeup(
                data.pixels, float(data.max_value), self.face_size, self.sensitivity,
                lap=timer.add)
            if loc is None:
                return [face], []
            return [face], [FaceAnalysis(face, al, regions, loc, closeup=info)]
        faces = self.detect(data, timer)
        analyses = []
        maxv = float(data.max_value)
        for face in faces:
            if face.skip_reason is not None:
                continue
            t = time.perf_counter()
            al = align_face(face)
            crop = warp_to_crop(data.pixels, al).astype(np.float32) * (1.0 / maxv)
            lab = cv2.cvtColor(crop, cv2.COLOR_RGB2Lab)
            t = timer.add("align", t)
            regions = parse_regions(crop, face, al, lab=lab)
            t = timer.add("parse", t)
            dbg: dict | None = None
            if debug is not None:
                dbg = {}
                debug.append(dbg)
            loc = localize_imperfections(crop, lab, regions, sensitivity=self.sensitivity,
                                         debug=dbg)
            timer.add("localize", t)
            analyses.append(FaceAnalysis(face, al, regions, loc))
        return faces, analyses

    # -- full run -----------------------------------------------------------
    def run(
        self, image: str | Path | np.ndarray | ImageData, *, strength: float = NATURAL_STRENGTH,
        only: Iterable[str] | str | None = None, keep: Iterable[str] | str | None = None,
        analysis: tuple[list[Face], list[FaceAnalysis]] | None = None,
        instance_amount: InstanceAmount | None = None,
    ) -> RetouchResult:
        """Retouch ``image`` (path, RGB array or :class:`ImageData`); see :func:`retouch`.

        ``analysis`` reuses the output of :meth:`analyze` on the same image
        geometry (analyze once, apply many times); ``instance_amount`` sets the
        treatment of each instance (see :data:`InstanceAmount`).
        """
        timer = _Timer()
        t_all = time.perf_counter()
        amounts = treatment_amounts(strength, only, keep)
        t = time.perf_counter()
        data = image if isinstance(image, ImageData) else load_image(image)
        timer.add("load", t)
        try:
            return self._run(data, amounts, strength, only, keep, analysis, instance_amount,
                             timer, t_all)
        except MemoryError:
            w, h = data.size_wh
            raise InvalidInputError(
                f"{data.path or 'image'}: not enough memory to retouch a {w}x{h} image "
                "(lower max_pixels to refuse such images before decoding)") from None

    def _run(self, data: ImageData, amounts: dict[str, float], strength: float, only: Any,
             keep: Any, analysis: tuple[list[Face], list[FaceAnalysis]] | None,
             instance_amount: InstanceAmount | None, timer: _Timer,
             t_all: float) -> RetouchResult:
        H, W = data.pixels.shape[:2]
        if self.engine is not None:  # a learned engine aligns and localizes by itself
            faces, analyses = self.detect(data, timer), []
        else:
            faces, analyses = analysis if analysis is not None else self.analyze(data, timer)

        t = time.perf_counter()
        out = data.pixels.copy()
        # uint8 0/255 from the start: no full-size conversions at the end.
        removed = np.zeros((H, W), np.uint8)
        type_masks = {k: np.zeros((H, W), np.uint8) for k in IMPERFECTION_TYPES}
        imperfections: list[Imperfection] = []
        t_syn = 0.0
        for fa in analyses:
            ims, t_f = self._apply_face(data, out, fa, amounts, removed, type_masks,
                                        instance_amount)
            imperfections += ims
            t_syn += t_f
        extra_masks: dict[str, np.ndarray] = {}
        if self.engine is not None:
            t_e = time.perf_counter()
            imperfections, extra_masks = self.engine.apply(
                data, faces, out, amounts, removed, type_masks, timer.ms)
            t_syn += (time.perf_counter() - t_e) * 1000.0
        timer.ms["synthesize"] = t_syn
        timer.add("paste_back", t + t_syn / 1000.0)
        timer.ms["total"] = (time.perf_counter() - t_all) * 1000.0

        report = self._report(data, faces, imperfections, amounts, strength, only, keep, timer)
        if self.closeup:
            report["closeup"] = next((fa.closeup for fa in analyses if fa.closeup), None) or {
                "face_size_px": round(resolve_face_size((H, W), self.face_size), 1)}
        if self.engine is not None:
            report["engine"] = self.engine.describe()
        masks = {"removed": removed, **type_masks, **extra_masks}
        return RetouchResult(image=out, report=report, masks=masks, alpha=data.alpha, source=data)

    def _apply_face(
        self, data: ImageData, out: np.ndarray, fa: FaceAnalysis, amounts: dict[str, float],
        removed: np.ndarray, type_masks: dict[str, np.ndarray],
        instance_amount: InstanceAmount | None = None,
    ) -> tuple[list[Imperfection], float]:
        al, loc = fa.alignment, fa.localization
        H, W = out.shape[:2]
        maxv = float(data.max_value)
        protect = np.zeros_like(loc.normal_skin)
        for t in ("mole", "freckle", "wrinkle"):
            if amounts[t] <= 0:
                np.maximum(protect, loc.maps[t], out=protect)
        protect = np.clip(protect * 2.0, 0, 1)
        ims: list[Imperfection] = []
        t_syn = 0.0
        # Spots first (small, sharp), then broad tone corrections.
        order = sorted(enumerate(loc.instances),
                       key=lambda ki: ki[1].type in BROAD_TYPES)
        for k, inst in order:
            bbox = _image_box_of(al, inst.bbox_xywh, 0.0, (H, W))
            cx, cy = al.to_image(np.array([inst.center_xy]))[0]
            amount, clip = amounts[inst.type], None
            if instance_amount is not None and not inst.kept_reason:
                amount, clip = instance_amount(fa, k, inst)
            treat = amount > 0 and not inst.kept_reason
            bx0, by0, bx1, by1 = bbox
            ims.append(Imperfection(
                type=inst.type, face_index=fa.face.index,
                bbox_xywh=(bx0, by0, max(1, bx1 - bx0), max(1, by1 - by0)),
                center_xy=(float(cx), float(cy)), radius_px=inst.radius / al.scale,
                score=float(inst.score), region=inst.region, removed=bool(treat),
                kept_reason=inst.kept_reason if amount > 0 else "",
            ))
            if inst.kept_reason:
                continue  # left whatever the settings (not a spot): no mask, no fill
            sup = inst.support_xywh
            # The footprint in image space, and the context the fill draws from (a
            # highlight is toned down in place: no context).
            ctx = 0.0 if inst.type in ("shine", "redness") else \
                3.0 * inst.radius / al.scale + 8.0 * inst.texture_sigma / al.scale
            box = _image_box_of(al, sup, ctx, (H, W))
            x0, y0, x1, y1 = box
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            alpha = inst.alpha if clip is None else \
                inst.alpha * clip[sup[1]:sup[1] + sup[3], sup[0]:sup[0] + sup[2]]
            a_img = warp_mask_to_image(alpha, al, box, (sup[0], sup[1]))
            type_masks[inst.type][y0:y1, x0:x1][a_img > 0.25] = 255
            if not treat:
                continue
            t0 = time.perf_counter()
            if inst.type not in ("mole", "freckle"):
                prot = warp_mask_to_image(protect, al, box)
                a_img = a_img * (1.0 - prot)
            a_img = np.where(a_img * amount >= ALPHA_EPS, a_img * amount, 0.0).astype(np.float32)
            if not np.any(a_img):
                continue
            patch = out[y0:y1, x0:x1].astype(np.float32) * (1.0 / maxv)
            if inst.type == "shine":
                filled = reduce_highlight(patch, a_img, inst.max_delta)
            elif inst.shift is not None:
                shift = np.dstack([warp_mask_to_image(inst.shift[..., c], al, box,
                                                      (sup[0], sup[1])) for c in range(2)])
                filled = shift_lab(patch, a_img, shift)
            else:
                normal = warp_mask_to_image(loc.normal_skin, al, box)
                filled = fill_patch(patch, a_img, normal, inst.texture_sigma / al.scale,
                                    max_delta=inst.max_delta,
                                    lighten_only=inst.type in DARKER_TYPES)
            sel = a_img > 0
            # Quantized only where the footprint reaches: a redness field's box on a
            # large photo holds a few megapixels, of which it covers a tenth.
            q = np.clip(np.rint(filled[sel] * maxv), 0, maxv).astype(out.dtype)
            out[y0:y1, x0:x1][sel] = q
            removed[y0:y1, x0:x1][sel] = 255
            t_syn += (time.perf_counter() - t0) * 1000.0
        return ims, t_syn

    @staticmethod
    def _report(data: ImageData, faces: list[Face], ims: list[Imperfection],
                amounts: dict[str, float], strength: float, only: Any, keep: Any,
                timer: _Timer) -> dict[str, Any]:
        summary = {t: {"found": 0, "removed": 0} for t in IMPERFECTION_TYPES}
        for im in ims:
            summary[im.type]["found"] += 1
            summary[im.type]["removed"] += int(im.removed)
        usable = [f for f in faces if f.skip_reason is None]
        return {
            "retouch_version": __version__,
            "input": str(data.path) if data.path else None,
            "image": {
                "width": data.size_wh[0], "height": data.size_wh[1],
                "mode": data.source_mode, "format": data.format,
                "bit_depth": 16 if data.pixels.dtype == np.uint16 else 8,
                "has_alpha": data.alpha is not None,
            },
            "settings": {
                "strength": float(strength),
                "only": sorted(_parse_types(only, "only")) if only is not None else None,
                "keep": sorted(_parse_types(keep, "keep")) if keep is not None else None,
                "amounts": {k: round(v, 4) for k, v in amounts.items()},
            },
            "faces": [
                {
                    "index": f.index,
                    "bbox": [round(v, 1) for v in f.bbox_xywh],
                    "score": round(f.score, 4),
                    "landmarks": 0 if f.landmarks_xy is None else int(f.landmarks_xy.shape[0]),
                    "yaw_deg": round(f.yaw_deg, 1),
                    "retouched": f.skip_reason is None,
                    "skip_reason": f.skip_reason,
                }
                for f in faces
            ],
            "no_face": len(usable) == 0,
            "imperfections": [im.to_dict() for im in ims],
            "summary": summary,
            "timings_ms": {k: round(v, 2) for k, v in timer.ms.items()},
        }


def retouch(
    image: str | Path | np.ndarray, *, strength: float = NATURAL_STRENGTH,
    only: Iterable[str] | str | None = None, keep: Iterable[str] | str | None = None,
    sensitivity: float = 0.5, detector: FaceDetector | None = None,
    instruction: str | None = None, plan: Any = None, interpreter: Any = None,
    engine: Any = None, closeup: bool = False, face_size: float | None = None,
) -> RetouchResult:
    """Retouch every face of a photo.

    Args:
        image: a file path, or an RGB ``(H, W, 3)`` ``uint8``/``uint16`` array
            (RGBA, grayscale and float ``[0, 1]`` arrays are accepted too).
        strength: ``[0, 1]``; ``0.8`` (default) is a natural professional
            retouch, ``0`` returns the input, ``1`` treats a little more.
        only: treat just these imperfection types (list or comma string).
        keep: leave these types (of the default set) untouched.
        sensitivity: ``[0, 1]``, how faint a spot may be and still be found.
        detector: a custom face detector (see :class:`retouch.detect.FaceDetector`).
        instruction: what to do, in words ("remove the acne on my chin but keep
            the freckles"); replaces ``only``/``keep``/``strength``. See
            ``docs/instructions.md``. ``report["instruction"]`` then lists the plan,
            what each operation touched, and a one-sentence ``reply``.
        plan: a :class:`retouch.plan.Plan` to apply instead of ``instruction``.
        interpreter: a :class:`retouch.interpret.Interpreter` for ``instruction``
            (default: the built-in, offline one).
        engine: ``None`` (built-in) or a learned engine, e.g.
            ``retouch.learn.LearnedEngine.load("model.pt")`` (see ``docs/learned.md``);
            not combinable with ``instruction``/``plan``.
        closeup: the photo is a skin close-up without a whole face (a chin, a
            cheek): search the whole frame's skin instead of faces (see
            :mod:`retouch.closeup`); built-in engine, no instruction/plan.
        face_size: close-up only: how wide a whole face would be at this
            photo's scale, in input pixels (default: 0.7 x the longer side).

    Returns:
        :class:`~retouch.types.RetouchResult` with ``.image`` (same shape and
        dtype as the decoded input), ``.report`` (JSON-ready dict) and
        ``.masks`` (``"removed"`` plus one per type, ``uint8`` 0/255).
    """
    pipeline = RetouchPipeline(detector, sensitivity=sensitivity, engine=engine,
                               closeup=closeup, face_size=face_size)
    check_closeup_settings(closeup, face_size, by_words=instruction is not None or plan is not None)
    if engine is not None and (instruction is not None or plan is not None):
        raise InvalidInputError("instructions and plans work with the built-in engine only; "
                                "drop `engine` or use `only`/`keep`/`strength`")
    if instruction is not None or plan is not None:
        if only is not None or keep is not None or strength != NATURAL_STRENGTH:
            raise InvalidInputError(
                "`instruction`/`plan` replace `only`, `keep` and `strength`; say it in the "
                "instruction instead (e.g. 'remove only the acne, a little')")
        from .session import run_instruction

        return run_instruction(image, instruction=instruction, plan=plan,
                               interpreter=interpreter, pipeline=pipeline)
    return pipeline.run(image, strength=strength, only=only, keep=keep)
