"""The FastAPI application: ``create_app(config)``.

Serves the page (``/``, assets under ``/static``, all from the package: no
CDN), the REST API (``/v1``), ``/healthz`` and the OpenAPI schema
(``/openapi.json``). The interactive Swagger/ReDoc pages are off: they load
their scripts from a CDN.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from .._version import __version__
from ..errors import InvalidInputError, MissingDependencyError, RetouchError
from .config import ServerConfig
from .context import ServerContext
from .limits import ENVELOPE_BYTES, BodyLimitMiddleware
from .pool import ServerBusyError, WorkerCrashedError, WorkerPool
from .routes import error_response, router
from .store import SessionStore
from .worker import SessionNotFoundError

STATIC = Path(__file__).with_name("static")


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """Build the app; worker processes start with it (lifespan) and stop with it."""
    cfg = config or ServerConfig()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upload_dir = Path(tempfile.mkdtemp(prefix="retouch-serve-"))
        pool = WorkerPool(cfg.workers, cfg.max_pending)
        ctx = ServerContext(cfg, pool, SessionStore(cfg.session_ttl_s, cfg.max_sessions),
                            upload_dir)
        app.state.ctx = ctx
        sweeper = None
        try:
            await pool.start()
            sweeper = asyncio.create_task(_sweep(ctx))
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
            await asyncio.get_running_loop().run_in_executor(None, pool.close)
            shutil.rmtree(upload_dir, ignore_errors=True)

    app = FastAPI(title="retouch", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="Face retouching on the CPU: one-shot retouch, and sessions "
                  "(the same conversation as `retouch chat`). Coordinates are input-image "
                  "pixels (x, y). See docs/serve.md.")
    app.add_middleware(BodyLimitMiddleware, max_bytes=cfg.max_upload_bytes + ENVELOPE_BYTES)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.exception_handler(RetouchError)
    async def on_error(request: Request, exc: RetouchError):  # noqa: ANN202
        status = getattr(exc, "status", None)
        if status is None:
            status = 500
            for cls, code in ((SessionNotFoundError, 404), (InvalidInputError, 422),
                              (MissingDependencyError, 501), (ServerBusyError, 503),
                              (WorkerCrashedError, 500)):
                if isinstance(exc, cls):
                    status = code
                    break
        headers = {"Retry-After": "5"} if status == 503 else None
        return error_response(status, str(exc), headers)

    return app


async def _sweep(ctx: ServerContext) -> None:
    """Close idle sessions every few seconds (a quarter of the TTL, at most a minute)."""
    interval = max(0.5, min(60.0, ctx.config.session_ttl_s / 4))
    while True:
        await asyncio.sleep(interval)
        await ctx.expire_sessions()
