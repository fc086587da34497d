"""The REST API (``/v1``) and ``/healthz``; every heavy step runs in a worker process."""

from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from .._version import __version__
from ..errors import InvalidInputError
from . import worker as wk
from .context import ServerContext
from .pool import ServerBusyError
from .schemas import (
    HealIn,
    Health,
    MessageIn,
    PaintIn,
    RetouchOut,
    SessionOut,
    StateOut,
)
from .store import SessionMeta

router = APIRouter()
CHUNK = 1 << 20


def _ctx(request: Request) -> ServerContext:
    return request.app.state.ctx


async def _save_upload(ctx: ServerContext, file: UploadFile) -> tuple[Path, str]:
    """Copy the upload to the server's private folder, counting bytes."""
    name = _client_name(file.filename)
    path = ctx.upload_dir / f"{uuid.uuid4().hex}.upload"
    n = 0
    try:
        with open(path, "wb") as f:
            while chunk := await file.read(CHUNK):
                n += len(chunk)
                if n > ctx.config.max_upload_bytes:
                    raise _UploadTooLargeError(n, ctx.config.max_upload_bytes)
                f.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if n == 0:
        path.unlink(missing_ok=True)
        raise InvalidInputError(f"{name}: empty file (0 bytes)")
    return path, name


def _client_name(filename: str | None) -> str:
    """The upload's base name: the last part after ``/`` or ``\\`` (a Windows client
    may send a whole path), control characters dropped, at most 200 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(c for c in name if c.isprintable())[:200].strip()
    return "photo" if name in ("", ".", "..") else name


class _UploadTooLargeError(InvalidInputError):
    def __init__(self, n: int, limit: int) -> None:
        super().__init__(f"upload too large (over {limit:,} bytes, see --max-upload-mb)")
        self.status = 413


@router.get("/healthz", response_model=Health, tags=["service"])
async def healthz(request: Request) -> dict[str, Any]:
    """Liveness and readiness: worker processes, open sessions and limits."""
    ctx = _ctx(request)
    alive = ctx.pool.alive()
    cfg = ctx.config
    return {"status": "ok" if alive == ctx.pool.size else "degraded", "version": __version__,
            "workers": ctx.pool.size, "workers_alive": alive, "sessions": len(ctx.store),
            "limits": {"max_upload_bytes": cfg.max_upload_bytes, "max_pixels": cfg.max_pixels,
                       "session_ttl_s": cfg.session_ttl_s, "max_sessions": cfg.max_sessions}}


@router.post("/v1/retouch", tags=["retouch"], response_model=RetouchOut,
             responses={200: {"content": {"image/*": {}},
                              "description": "JSON (default), or the image itself with "
                              "response=image (summary in the X-Retouch-Summary header)"},
                        413: {"description": "upload too large"},
                        422: {"description": "not an image, too many pixels, bad option"}})
async def retouch_once(
    request: Request,
    image: Annotated[UploadFile, File(description="the photo (any format Pillow reads)")],
    instruction: Annotated[str | None, Form(max_length=2000)] = None,
    plan: Annotated[str | None, Form(description="a Plan as JSON")] = None,
    strength: Annotated[float | None, Form(ge=0, le=1)] = None,
    only: Annotated[str | None, Form(description="comma list of types")] = None,
    keep: Annotated[str | None, Form(description="comma list of types")] = None,
    sensitivity: Annotated[float, Form(ge=0, le=1)] = 0.5,
    quality: Annotated[int, Form(ge=1, le=100)] = 95,
    closeup: Annotated[bool, Form(description="the photo is a skin close-up without a "
                                  "whole face (a chin, a cheek)")] = False,
    face_size: Annotated[float | None, Form(ge=8, description="close-up only: how wide a "
                                            "whole face would be at the photo's scale, px")
                         ] = None,
    response: Annotated[Literal["json", "image"], Query()] = "json",
) -> Any:
    """Retouch one photo: multipart image + optional instruction / plan / strength.

    Returns the retouched image in the upload's format and size, and the report.
    """
    ctx = _ctx(request)
    params: dict[str, Any] = {"sensitivity": sensitivity, "quality": quality}
    if plan is not None:
        try:
            params["plan"] = json.loads(plan)
        except ValueError as exc:
            raise InvalidInputError(f"`plan` is not valid JSON ({exc})") from None
    if instruction is not None:
        params["instruction"] = instruction
    if (instruction is not None or plan is not None) and (strength is not None or only or keep):
        raise InvalidInputError("`instruction`/`plan` replace `strength`, `only` and `keep`")
    if strength is not None:
        params["strength"] = strength
    params["only"] = only or None
    params["keep"] = keep or None
    from ..closeup import check_closeup_settings  # the heavy modules stay in the workers

    check_closeup_settings(closeup, face_size,
                           by_words=instruction is not None or plan is not None)
    params["closeup"] = closeup
    params["face_size"] = face_size
    path, name = await _save_upload(ctx, image)
    try:
        rendered, report = await ctx.pool.call(ctx.pool.least_busy(), wk.retouch_file,
                                               str(path), name, ctx.config.max_pixels, params)
    finally:
        path.unlink(missing_ok=True)
    if response == "image":
        summary = {"faces": sum(1 for f in report["faces"] if f["retouched"]),
                   "summary": {k: v for k, v in report["summary"].items() if v["found"]}}
        return Response(rendered.data, media_type=rendered.media_type, headers={
            "Content-Disposition": f'attachment; filename="{_ascii(rendered.filename)}"',
            "X-Retouch-Summary": json.dumps(summary, separators=(",", ":"))})
    return {"report": report, "image": {"filename": rendered.filename,
                                        "media_type": rendered.media_type,
                                        "base64": base64.b64encode(rendered.data).decode()}}


def _ascii(name: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)


@router.post("/v1/sessions", response_model=SessionOut, status_code=201, tags=["sessions"],
             responses={413: {"description": "upload too large"},
                        422: {"description": "not an image or too many pixels"},
                        503: {"description": "too many open sessions or busy"}})
async def create_session(
    request: Request, image: Annotated[UploadFile, File(description="the photo")],
) -> dict[str, Any]:
    """Upload a photo and open a retouching conversation on it (analyzed once)."""
    ctx = _ctx(request)
    if len(ctx.store) >= ctx.config.max_sessions:
        await ctx.expire_sessions()
        if len(ctx.store) >= ctx.config.max_sessions:
            raise ServerBusyError(f"{len(ctx.store)} sessions are open (the limit); retry later")
    path, name = await _save_upload(ctx, image)
    sid = ctx.store.new_id()
    worker = ctx.emptiest_worker()
    meta = SessionMeta(sid, worker, ctx.pool.generation[worker], name)
    try:
        st = await ctx.pool.call(worker, wk.open_session, sid, str(path), name,
                                 ctx.config.max_pixels, ctx.config.sensitivity)
    finally:
        path.unlink(missing_ok=True)
    ctx.store.add(meta)
    return {"id": sid, "expires_in_s": ctx.store.expires_in(meta), "state": st.to_dict()}


async def _turn(request: Request, sid: str, fn: Any, *args: Any) -> dict[str, Any]:
    ctx = _ctx(request)
    meta = ctx.store.get(sid, ctx.pool.generation)
    async with meta.lock:
        st = await ctx.pool.call(meta.worker, fn, sid, *args)
    return st.to_dict()


@router.get("/v1/sessions/{sid}", response_model=StateOut, tags=["sessions"])
async def get_session(request: Request, sid: str) -> dict[str, Any]:
    """The session's current state (nothing changes)."""
    return await _turn(request, sid, wk.state)


@router.delete("/v1/sessions/{sid}", status_code=204, tags=["sessions"])
async def delete_session(request: Request, sid: str) -> Response:
    """Close the session and free its memory now."""
    ctx = _ctx(request)
    meta = ctx.store.get(sid, ctx.pool.generation)
    ctx.store.pop(sid)
    async with meta.lock:
        await ctx.pool.call(meta.worker, wk.close_session, sid)
    return Response(status_code=204)


@router.post("/v1/sessions/{sid}/messages", response_model=StateOut, tags=["sessions"])
async def post_message(request: Request, sid: str, body: MessageIn) -> dict[str, Any]:
    """Send a chat message ("remove the big pimple", "a bit more", "undo"...) or a Plan."""
    if body.plan is not None:
        return await _turn(request, sid, wk.apply_plan, body.plan, body.text)
    if not body.text or not body.text.strip():
        raise InvalidInputError("send `text` (a request in words) or `plan`")
    return await _turn(request, sid, wk.ask, body.text)


@router.post("/v1/sessions/{sid}/undo", response_model=StateOut, tags=["sessions"])
async def post_undo(request: Request, sid: str) -> dict[str, Any]:
    """Undo the last change (the image is restored bit for bit)."""
    return await _turn(request, sid, wk.undo)


@router.post("/v1/sessions/{sid}/redo", response_model=StateOut, tags=["sessions"])
async def post_redo(request: Request, sid: str) -> dict[str, Any]:
    """Redo the last undone change."""
    return await _turn(request, sid, wk.redo)


@router.post("/v1/sessions/{sid}/heal", response_model=StateOut, tags=["sessions"])
async def post_heal(request: Request, sid: str, body: HealIn) -> dict[str, Any]:
    """Heal brush: treat the found spots under the brush, or the brush circle itself."""
    return await _turn(request, sid, wk.heal, body.x, body.y, body.radius, body.strength)


@router.post("/v1/sessions/{sid}/paint", response_model=StateOut, tags=["sessions"])
async def post_paint(request: Request, sid: str, body: PaintIn) -> dict[str, Any]:
    """Treat every found imperfection under the painted strokes."""
    strokes = [{"points": [list(p) for p in s.points], "radius": s.radius}
               for s in body.strokes]
    return await _turn(request, sid, wk.paint, strokes, body.strength)


@router.put("/v1/sessions/{sid}/strengths", response_model=StateOut, tags=["sessions"])
async def put_strengths(request: Request, sid: str,
                        body: dict[str, float]) -> dict[str, Any]:
    """Per-type strength sliders, e.g. ``{"acne": 1.0, "dark_spot": 0.5, "wrinkle": 0}``."""
    return await _turn(request, sid, wk.set_strengths, body)


@router.get("/v1/sessions/{sid}/image", tags=["sessions"],
            responses={200: {"content": {"image/*": {}}}})
async def get_image(
    request: Request, sid: str,
    which: Annotated[Literal["current", "original"], Query()] = "current",
    max_side: Annotated[int | None, Query(ge=16, le=8192,
                                          description="preview size; omit for full size "
                                          "in the original format")] = None,
    download: bool = False,
) -> Response:
    """The current (or original) image: full size in the upload's format, or a preview."""
    ctx = _ctx(request)
    meta = ctx.store.get(sid, ctx.pool.generation)
    async with meta.lock:
        r = await ctx.pool.call(meta.worker, wk.render, sid, which, max_side)
    disp = "attachment" if download else "inline"
    return Response(r.data, media_type=r.media_type, headers={
        "Content-Disposition": f'{disp}; filename="{_ascii(r.filename)}"',
        "Cache-Control": "no-store"})


def error_response(status: int, message: str, headers: dict[str, str] | None = None
                   ) -> JSONResponse:
    """The one error body shape: ``{"detail": "one line"}``."""
    return JSONResponse({"detail": message}, status_code=status, headers=headers)
