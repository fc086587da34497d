"""Open sessions: unguessable ids, the worker each lives in, and expiry."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

from .worker import SessionNotFoundError

#: Random bytes per session id (192 bits; the id is their URL-safe base64).
ID_BYTES = 24


@dataclass
class SessionMeta:
    """Where a session lives and when it was last used (main process only)."""

    sid: str
    worker: int
    generation: int
    filename: str
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class SessionStore:
    """Sessions by id; a session unused for ``ttl_s`` seconds is expired."""

    def __init__(self, ttl_s: float, max_sessions: int) -> None:
        self.ttl_s = float(ttl_s)
        self.max_sessions = int(max_sessions)
        self._by_id: dict[str, SessionMeta] = {}

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(ID_BYTES)

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, meta: SessionMeta) -> None:
        self._by_id[meta.sid] = meta

    def get(self, sid: str, generation: list[int]) -> SessionMeta:
        """The live session ``sid`` (touched), else :class:`SessionNotFoundError`.

        ``generation`` is the pool's per-worker generation: a session whose
        worker was replaced since it was opened is gone.
        """
        meta = self._by_id.get(sid)
        now = time.monotonic()
        if meta is not None and (now - meta.last_used > self.ttl_s
                                 or generation[meta.worker] != meta.generation):
            self._by_id.pop(sid, None)
            meta = None
        if meta is None:
            raise SessionNotFoundError("session not found (expired or closed); upload the photo "
                                  "again")
        meta.last_used = now
        return meta

    def pop(self, sid: str) -> SessionMeta | None:
        return self._by_id.pop(sid, None)

    def expired(self) -> list[SessionMeta]:
        """Remove and return every session idle for longer than the TTL."""
        now = time.monotonic()
        old = [m for m in self._by_id.values() if now - m.last_used > self.ttl_s
               and not m.lock.locked()]
        for m in old:
            self._by_id.pop(m.sid, None)
        return old

    def expires_in(self, meta: SessionMeta) -> float:
        return max(0.0, self.ttl_s - (time.monotonic() - meta.last_used))
