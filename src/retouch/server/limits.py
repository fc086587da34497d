"""Request-size limit: oversized bodies are refused before (or while) they are read."""

from __future__ import annotations

import json
from typing import Any

#: Room for the multipart envelope and form fields beside the image itself.
ENVELOPE_BYTES = 256 * 1024


class _TooLarge(BaseException):  # not Exception: frameworks must not turn it into a 400
    """The body went over the limit while it was read."""


class BodyLimitMiddleware:
    """ASGI middleware answering 413 when a request body exceeds ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused without reading the
    body; a chunked body is counted as it arrives and cut off at the limit.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await _reply_413(send, declared, limit)
                    return
        seen = 0
        started = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return msg

        async def tracking_send(msg: dict[str, Any]) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _reply_413(send, seen, limit)


async def _reply_413(send: Any, size: int, limit: int) -> None:
    body = json.dumps({"detail": f"upload too large ({size:,} bytes; the limit is {limit:,} "
                                 "bytes, see --max-upload-mb)"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
