"""What every request handler shares: config, worker pool, session store, upload folder."""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from . import worker as wk
from .config import ServerConfig
from .pool import ServerBusyError, WorkerPool
from .store import SessionStore


@dataclass
class ServerContext:
    config: ServerConfig
    pool: WorkerPool
    store: SessionStore
    upload_dir: Path

    def emptiest_worker(self) -> int:
        """The worker holding the fewest sessions (ties: least busy)."""
        held = Counter(m.worker for m in self.store._by_id.values())
        return min(range(self.pool.size), key=lambda i: (held[i], self.pool.pending[i], i))

    async def expire_sessions(self) -> int:
        """Close every idle session in its worker; returns how many."""
        old = self.store.expired()
        for meta in old:
            with contextlib.suppress(ServerBusyError, Exception):
                await self.pool.call(meta.worker, wk.close_session, meta.sid)
        return len(old)
