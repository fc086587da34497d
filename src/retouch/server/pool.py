"""Worker processes, so that decoding, analysis and rendering never block the event loop.

Each worker is its own single-process executor (spawned, so it starts clean
and loads the models once). A session is pinned to one worker (its state
lives there); one-shot requests go to the least busy worker. A worker that
dies is replaced; the sessions it held are gone (their requests get 404), and
its ``generation`` number tells the session store so.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from ..errors import RetouchError

T = TypeVar("T")


class ServerBusyError(RetouchError):
    """Too many requests are waiting for a worker (HTTP 503; retry later)."""


class WorkerCrashedError(RetouchError):
    """The worker process died while handling the request (HTTP 500)."""


def _init_worker() -> None:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class WorkerPool:
    """``size`` worker processes with per-worker queues bounded by ``max_pending``."""

    def __init__(self, size: int, max_pending: int) -> None:
        self.size = size
        self.max_pending = max_pending
        self._execs: list[ProcessPoolExecutor] = [self._spawn() for _ in range(size)]
        self.pending = [0] * size
        self.generation = [0] * size
        self.pids: list[int | None] = [None] * size

    @staticmethod
    def _spawn() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"),
                                   initializer=_init_worker)

    async def start(self) -> None:
        """Start every worker and load the face models (in parallel)."""
        from . import worker

        self.pids = list(await asyncio.gather(*(self.call(i, worker.ping)
                                                for i in range(self.size))))

    def least_busy(self) -> int:
        return min(range(self.size), key=lambda i: (self.pending[i], i))

    async def call(self, index: int, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in worker ``index`` and await its result.

        Raises:
            ServerBusyError: the worker's queue is full.
            WorkerCrashedError: the worker died; it is replaced for later requests.
        """
        if self.pending[index] >= self.max_pending:
            raise ServerBusyError(f"the server is busy ({self.pending[index]} requests waiting); "
                             "retry in a few seconds")
        self.pending[index] += 1
        gen = self.generation[index]
        try:
            fut = self._execs[index].submit(fn, *args)
            return await asyncio.wrap_future(fut)
        except BrokenProcessPool:
            if self.generation[index] == gen:
                self._replace(index)
            raise WorkerCrashedError("the worker process died while handling this request "
                                "(out of memory?); its sessions are lost") from None
        finally:
            self.pending[index] -= 1

    def _replace(self, index: int) -> None:
        old = self._execs[index]
        self._execs[index] = self._spawn()
        self.generation[index] += 1
        self.pids[index] = None
        old.shutdown(wait=False, cancel_futures=True)

    def alive(self) -> int:
        """Workers whose process is running."""
        n = 0
        for ex in self._execs:
            procs = getattr(ex, "_processes", None) or {}
            n += any(p.is_alive() for p in procs.values())
        return n

    def close(self) -> None:
        for ex in self._execs:
            ex.shutdown(wait=True, cancel_futures=True)
