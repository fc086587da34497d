"""What runs inside a worker process: the live sessions and every heavy step.

The server's event loop never decodes, analyzes or renders; it sends these
functions to a worker process (:mod:`.pool`) and awaits the result. A session
lives in one worker (its :class:`~retouch.session.Session`, the same class as
``retouch chat``), so its turns always go to that worker. Results are plain,
picklable values: :class:`SessionState` and :class:`Rendered`.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError, RetouchError
from ..interpret import Interpretation, Interpreter, get_interpreter
from ..plan import Plan

#: Container format -> (extension, media type) of downloads; others are written as PNG.
FORMAT_FILES: dict[str, tuple[str, str]] = {
    "JPEG": (".jpg", "image/jpeg"), "MPO": (".jpg", "image/jpeg"),
    "PNG": (".png", "image/png"), "TIFF": (".tif", "image/tiff"),
    "WEBP": (".webp", "image/webp"), "BMP": (".bmp", "image/bmp"),
}
_SAVE_NOTE = "To keep the photo, use Download (original format and size)."


class SessionNotFoundError(RetouchError, KeyError):
    """The session does not exist (expired, closed, or its worker restarted)."""

    exit_code = 2

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "session not found"


@dataclass(frozen=True)
class SessionState:
    """What the page needs after every turn (JSON-ready through :meth:`to_dict`).

    Attributes:
        version: increases on every turn that may change the image.
        reply: the one- or two-sentence answer; ``kind``: the reply kind.
        changed: whether this turn changed the image.
        can_undo, can_redo: history availability.
        found: every imperfection (id, face, type, region, center, radius_px,
            score, treated, amount), in INPUT image pixels.
        strengths: per type ``found`` / ``treated`` / ``strength`` (the sliders).
        plan: the session's absolute plan (what the image renders).
        pixels_changed: pixels differing from the original now.
        info: image facts (filename, format, width, height, bit_depth,
            has_alpha, faces, analysis_ms), sent with the first state.
    """

    version: int
    reply: str
    kind: str
    changed: bool
    can_undo: bool
    can_redo: bool
    found: tuple[dict[str, Any], ...]
    strengths: dict[str, dict[str, float]]
    plan: dict[str, Any]
    pixels_changed: int
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "reply": self.reply, "kind": self.kind,
                "changed": self.changed, "can_undo": self.can_undo, "can_redo": self.can_redo,
                "found": list(self.found), "strengths": self.strengths, "plan": self.plan,
                "pixels_changed": self.pixels_changed, "info": self.info}


@dataclass(frozen=True)
class Rendered:
    """An encoded image: ``data`` bytes, ``media_type`` and a download ``filename``."""

    data: bytes
    media_type: str
    filename: str


class _WebInterpreter:
    """Wraps an interpreter: ``save`` and ``quit`` make no sense on a server (a chat
    message must never write a file there), so they are dropped and noted."""

    def __init__(self, inner: Interpreter) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", "builtin")
        self.dropped: list[str] = []

    def interpret(self, text: str, *, context: Plan | None = None) -> Interpretation:
        interp = self.inner.interpret(text, context=context)
        keep = tuple(c for c in interp.commands if c.name not in ("save", "quit"))
        self.dropped = [c.name for c in interp.commands if c.name in ("save", "quit")]
        return replace(interp, commands=keep) if len(keep) != len(interp.commands) else interp


@dataclass
class _Live:
    session: Any  # retouch.session.Session
    filename: str
    web: _WebInterpreter
    version: int = 0
    treated: dict[int, dict[str, Any]] = field(default_factory=dict)  # found entries by id


_SESSIONS: dict[str, _Live] = {}


def _get(sid: str) -> _Live:
    live = _SESSIONS.get(sid)
    if live is None:
        raise SessionNotFoundError(f"session {sid[:8]}... not found (expired or closed); "
                              "upload the photo again")
    return live


def ping() -> int:
    """The worker's process id (health check); loads the face models on first call."""
    from ..detect import get_detector

    get_detector()
    return os.getpid()


def session_count() -> int:
    return len(_SESSIONS)


def open_session(sid: str, upload: str, filename: str, max_pixels: int,
                 sensitivity: float = 0.5) -> SessionState:
    """Decode the uploaded file (content, not extension, decides), analyze it once."""
    from ..imageio import load_image
    from ..pipeline import RetouchPipeline
    from ..session import Session

    try:
        data = load_image(upload, max_pixels=max_pixels)
    except InvalidInputError as exc:
        raise InvalidInputError(str(exc).replace(upload, filename or "upload")) from None
    finally:
        Path(upload).unlink(missing_ok=True)
    data = replace(data, path=None)
    web = _WebInterpreter(get_interpreter())
    session = Session(data, interpreter=web, pipeline=RetouchPipeline(sensitivity=sensitivity))
    live = _Live(session, filename, web)
    _SESSIONS[sid] = live
    intro = session.show().text
    an = session.analysis
    W, H = data.size_wh
    info = {"filename": filename, "format": data.format, "width": W, "height": H,
            "bit_depth": 16 if data.pixels.dtype == np.uint16 else 8,
            "has_alpha": data.alpha is not None,
            "download_ext": FORMAT_FILES.get(data.format or "", (".png",))[0],
            "faces": [{"index": f.index, "bbox": [round(v, 1) for v in f.bbox_xywh],
                       "retouched": f.skip_reason is None, "skip_reason": f.skip_reason}
                      for f in an.faces],
            "analysis_ms": round(an.elapsed_ms, 1)}
    return _state(live, intro, "show", False, info)


def close_session(sid: str) -> bool:
    return _SESSIONS.pop(sid, None) is not None


def _treated(report: dict[str, Any] | None) -> dict[int, dict[str, Any]]:
    """The report's entries of treated instances (amount, regions cut out...), by id."""
    if not report or "instruction" not in report:
        return {}
    return {f["id"]: f for f in report["instruction"]["found"] if f.get("treated")}


def _state(live: _Live, text: str, kind: str, changed: bool,
           info: dict[str, Any] | None = None) -> SessionState:
    from .tools import type_strengths

    s = live.session
    an = s.analysis
    found = tuple(live.treated.get(f.id) or dict(f.to_dict(), treated=False, amount=0.0)
                  for f in an.instances)
    amounts = {i: float(e["amount"]) for i, e in live.treated.items()}
    changed_px = int(np.any(s.image != an.data.pixels, axis=2).sum())
    return SessionState(live.version, text, kind, changed, s.can_undo, s.can_redo, found,
                        type_strengths(an, s.state, amounts), s.state.to_dict(),
                        changed_px, info or {})


def _after(live: _Live, reply: Any) -> SessionState:
    if reply.kind in ("edit", "undo", "redo", "reset", "noop"):
        live.treated = _treated(reply.report)
    if reply.changed or reply.kind in ("edit", "undo", "redo", "reset"):
        live.version += 1
    return _state(live, reply.text, reply.kind, reply.changed)


def ask(sid: str, text: str) -> SessionState:
    """One chat message (:meth:`Session.ask`)."""
    live = _get(sid)
    reply = live.session.ask(text)
    st = _after(live, reply)
    if live.web.dropped:
        note = _SAVE_NOTE if "save" in live.web.dropped else "Close the tab to leave."
        txt = note if reply.kind == "not_understood" else f"{reply.text} {note}"
        st = replace(st, reply=txt, kind="help" if reply.kind == "not_understood" else st.kind)
    return st


def apply_plan(sid: str, plan_json: dict[str, Any], text: str | None = None) -> SessionState:
    """Merge a Plan (JSON, ``docs/plan.schema.json``) into the session."""
    live = _get(sid)
    plan = Plan.from_dict(plan_json)
    return _after(live, live.session.apply(plan, text))


def undo(sid: str) -> SessionState:
    live = _get(sid)
    return _after(live, live.session.undo())


def redo(sid: str) -> SessionState:
    live = _get(sid)
    return _after(live, live.session.redo())


def state(sid: str) -> SessionState:
    live = _get(sid)
    return _state(live, "", "state", False)


def heal(sid: str, x: float, y: float, radius_px: float, strength: float = 1.0) -> SessionState:
    """Heal-brush click: found spots under the brush, else the brush circle itself."""
    from .tools import add_spot, found_near, ids_plan

    live = _get(sid)
    s = live.session
    if isinstance(radius_px, bool) or not isinstance(radius_px, (int, float)) or radius_px <= 0:
        raise InvalidInputError(f"`radius` must be a positive number of pixels; got {radius_px!r}")
    hits = found_near(s.analysis, x, y, radius_px)
    if hits:
        what = ", ".join(f"#{f.id}" for f in hits[:3])
        return _after(live, s.apply(ids_plan([f.id for f in hits], strength,
                                             f"heal {what}"), f"heal {what}"))
    spot = add_spot(s, x, y, radius_px)
    if spot is None:
        return _state(live, "That point is not on the skin of a face I found; click on the "
                      "skin, or paint over the area.", "noop", False)
    text = f"heal the spot at ({x:.0f}, {y:.0f})"
    st = _after(live, s.apply(ids_plan([spot.id], strength, text), text))
    return st if st.kind != "edit" else replace(st, reply="Healed the spot you marked at "
                                                f"({x:.0f}, {y:.0f}).")


def paint(sid: str, strokes: list[dict[str, Any]], strength: float = 1.0) -> SessionState:
    """Treat every found imperfection under the painted strokes."""
    from .tools import found_in_mask, ids_plan, paint_mask

    live = _get(sid)
    s = live.session
    W, H = s.analysis.data.size_wh
    mask = paint_mask((H, W), strokes)
    hits = found_in_mask(s.analysis, mask)
    if not hits:
        return _state(live, "I found nothing to treat in the painted area; use the heal "
                      "brush on a spot I missed.", "noop", False)
    text = f"treat the painted area ({len(hits)} found)"
    st = _after(live, s.apply(ids_plan([f.id for f in hits], strength, text), text))
    if st.kind != "edit":
        return st
    from collections import Counter

    from ..execute import _noun

    kinds = ", ".join(f"{n} {_noun([t], n)}" for t, n in Counter(f.type for f in hits).items())
    return replace(st, reply=f"Treated what I found in the painted area: {kinds}.")


def set_strengths(sid: str, values: dict[str, float]) -> SessionState:
    """Per-type strength sliders."""
    from ..execute import _noun
    from .tools import strengths_plan

    live = _get(sid)
    s = live.session
    st = _after(live, s.apply(strengths_plan(values, s.state), "strength sliders"))
    if st.kind != "edit":
        return st
    said = [f"{_noun([t], 2)} " + (f"at {v:.0%}" if v > 0 else "off") for t, v in values.items()]
    return replace(st, reply="Set " + ", ".join(said) + ".")


def render(sid: str, which: str = "current", max_side: int | None = None) -> Rendered:
    """Encode the current (or original) image.

    ``max_side=None``: full resolution in the original format, with its ICC
    profile, EXIF and alpha (the download). Otherwise a preview no longer than
    ``max_side`` pixels (JPEG, or PNG when the photo has alpha).
    """
    import cv2

    live = _get(sid)
    s = live.session
    data = s.analysis.data
    if which not in ("current", "original"):
        raise InvalidInputError(f"`which` must be 'current' or 'original'; got {which!r}")
    px = s.image if which == "current" else data.pixels
    stem = Path(live.filename).stem or "photo"
    if max_side is None:
        ext, media = FORMAT_FILES.get(data.format or "", (".png", "image/png"))
        suffix = "_retouched" if which == "current" else ""
        with tempfile.TemporaryDirectory(prefix="retouch-serve-") as tmp:
            path = Path(tmp) / f"out{ext}"
            from ..imageio import save_image

            save_image(path, np.ascontiguousarray(px), source=data, alpha=data.alpha,
                       quality=s.quality)
            return Rendered(path.read_bytes(), media, f"{stem}{suffix}{ext}")
    if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 16:
        raise InvalidInputError(f"`max_side` must be an integer >= 16; got {max_side!r}")
    view = px if px.dtype == np.uint8 else (px >> 8).astype(np.uint8)
    H, W = view.shape[:2]
    k = min(1.0, max_side / max(H, W))
    if k < 1.0:
        view = cv2.resize(view, (max(1, round(W * k)), max(1, round(H * k))),
                          interpolation=cv2.INTER_AREA)
    if data.alpha is not None:
        a = data.alpha if data.alpha.dtype == np.uint8 else (data.alpha >> 8).astype(np.uint8)
        if k < 1.0:
            a = cv2.resize(a, (view.shape[1], view.shape[0]), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".png", cv2.cvtColor(np.dstack([view, a]), cv2.COLOR_RGBA2BGRA))
        return Rendered(buf.tobytes(), "image/png", f"{stem}_{which}_preview.png")
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(view, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, 90])
    return Rendered(buf.tobytes(), "image/jpeg", f"{stem}_{which}_preview.jpg")


def retouch_file(upload: str, filename: str, max_pixels: int,
                 params: dict[str, Any]) -> tuple[Rendered, dict[str, Any]]:
    """One-shot ``POST /v1/retouch``: decode, retouch, encode in the original format."""
    from ..imageio import load_image, save_image
    from ..pipeline import retouch

    try:
        data = load_image(upload, max_pixels=max_pixels)
    except InvalidInputError as exc:
        raise InvalidInputError(str(exc).replace(upload, filename or "upload")) from None
    finally:
        Path(upload).unlink(missing_ok=True)
    data = replace(data, path=None)
    plan = Plan.from_dict(params["plan"]) if params.get("plan") is not None else None
    if params.get("instruction") is not None or plan is not None:
        res = retouch(data, instruction=params.get("instruction"), plan=plan,
                      sensitivity=params.get("sensitivity", 0.5))
    else:
        res = retouch(data, strength=params.get("strength", 0.8), only=params.get("only"),
                      keep=params.get("keep"), sensitivity=params.get("sensitivity", 0.5),
                      closeup=bool(params.get("closeup", False)),
                      face_size=params.get("face_size"))
    ext, media = FORMAT_FILES.get(data.format or "", (".png", "image/png"))
    stem = Path(filename).stem or "photo"
    with tempfile.TemporaryDirectory(prefix="retouch-serve-") as tmp:
        path = Path(tmp) / f"out{ext}"
        save_image(path, res.image, source=data, alpha=res.alpha,
                   quality=int(params.get("quality", 95)))
        out = Rendered(path.read_bytes(), media, f"{stem}_retouched{ext}")
    report = res.report
    report["input"] = filename
    return out, report
