"""Settings of ``retouch serve`` (one frozen, validated object)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidInputError

MiB = 1024 * 1024


@dataclass(frozen=True)
class ServerConfig:
    """What the server accepts and how it works.

    Attributes:
        host: interface to bind; ``127.0.0.1`` (this machine only) by default.
        port: TCP port.
        workers: worker processes (each holds the face models, ~300 MB, and the
            sessions assigned to it); heavy work never runs on the event loop.
        max_upload_bytes: largest request body; larger uploads get 413 before
            they are read when the client sends a Content-Length.
        max_pixels: largest ``width * height``; checked from the decoded header
            before the pixels are decoded (422).
        session_ttl_s: a session unused this long is closed and its memory freed.
        max_sessions: open sessions at most (503 beyond, after expiring old ones).
        max_pending: requests queued or running per worker at most (503 beyond).
        sensitivity: localizer sensitivity for every upload.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_upload_bytes: int = 40 * MiB
    max_pixels: int = 60_000_000
    session_ttl_s: float = 1800.0
    max_sessions: int = 16
    max_pending: int = 8
    sensitivity: float = 0.5

    def __post_init__(self) -> None:
        def positive_int(name: str) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidInputError(f"`{name}` must be an integer >= 1; got {v!r}")

        for name in ("workers", "max_upload_bytes", "max_pixels", "max_sessions", "max_pending"):
            positive_int(name)
        if isinstance(self.port, bool) or not isinstance(self.port, int) \
                or not 0 <= self.port <= 65535:
            raise InvalidInputError(f"`port` must be in 0..65535; got {self.port!r}")
        if not isinstance(self.session_ttl_s, (int, float)) or self.session_ttl_s <= 0:
            raise InvalidInputError(f"`session_ttl_s` must be > 0; got {self.session_ttl_s!r}")
        if not isinstance(self.sensitivity, (int, float)) or not 0 <= self.sensitivity <= 1:
            raise InvalidInputError(f"`sensitivity` must be in [0, 1]; got {self.sensitivity!r}")
        if not isinstance(self.host, str) or not self.host:
            raise InvalidInputError(f"`host` must be a host name or address; got {self.host!r}")
