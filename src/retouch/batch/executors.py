"""Where the files of a batch are processed: local worker processes or a Dask cluster.

Both take :class:`~retouch.batch.job.FileJob` s and yield
:class:`~retouch.batch.job.FileResult` s as they finish (in completion order),
keeping only a bounded number of files in flight, so a batch of a million
files does not hold a million futures.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Protocol

from ..errors import InvalidInputError, MissingDependencyError
from .job import FileJob, FileResult, process_one

JobFn = Callable[[FileJob], FileResult]


class Executor(Protocol):
    """Runs jobs and yields their results as they complete."""

    description: str

    def run(self, jobs: Iterable[FileJob]) -> Iterator[FileResult]: ...


def _init_worker(stderr_path: str | None) -> None:
    """Quiet the native libraries' logging; send what they still print to a file."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if stderr_path:
        try:
            fd = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError:
            return
        os.dup2(fd, 2)
        os.close(fd)


@dataclass
class LocalExecutor:
    """``workers`` local processes (spawned: each loads the models once).

    A worker that dies (a crash in native code, the OOM killer) fails only the
    files it held: they are retried once each in a fresh single-worker pool and
    reported as failed if that crashes too; the batch goes on.
    """

    workers: int = 1
    fn: JobFn = process_one
    #: File receiving the workers' stderr (TensorFlow Lite / MediaPipe chatter that
    #: would break the progress bar); ``None`` leaves it on the terminal.
    stderr_path: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) \
                or self.workers < 1:
            raise InvalidInputError(f"--workers must be an integer >= 1; got {self.workers!r}")

    @property
    def description(self) -> str:
        return f"{self.workers} local worker process{'es' if self.workers > 1 else ''}"

    def _pool(self, n: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(n, mp_context=mp.get_context("spawn"),
                                   initializer=_init_worker, initargs=(self.stderr_path,))

    def run(self, jobs: Iterable[FileJob]) -> Iterator[FileResult]:
        todo: deque[FileJob] = deque(jobs)
        suspects: list[FileJob] = []
        while todo:
            pool = self._pool(self.workers)
            pending: dict[Future[FileResult], FileJob] = {}
            broken = False
            try:
                while (todo or pending) and not broken:
                    while todo and len(pending) < 2 * self.workers:
                        job = todo.popleft()
                        pending[pool.submit(self.fn, job)] = job
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        job = pending.pop(fut)
                        try:
                            yield fut.result()
                        except BrokenProcessPool:
                            broken = True
                            suspects.append(job)
                        except Exception as exc:  # pickling errors and the like
                            yield FileResult(job.rel, "failed",
                                             f"unexpected {type(exc).__name__}: {exc}")
                if broken:  # every file still in flight died with the pool
                    suspects += list(pending.values())
                    pending.clear()
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
            for job in suspects:
                yield self._retry_alone(job)
            suspects.clear()

    def _retry_alone(self, job: FileJob) -> FileResult:
        pool = self._pool(1)
        try:
            return pool.submit(self.fn, job).result()
        except BrokenProcessPool:
            return FileResult(job.rel, "failed", "the worker process crashed on this file "
                              "(twice; out of memory or a fault in native code)")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class DaskExecutor:
    """A Dask distributed cluster at ``address`` (``tcp://HOST:PORT``).

    The workers need ``retouch`` installed and must reach the input and output
    paths (a shared mount or an object-store URL, through fsspec).
    """

    address: str
    fn: JobFn = process_one
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.address, str) or "://" not in self.address:
            raise InvalidInputError(f"--scheduler must be an address like tcp://HOST:PORT; got "
                                    f"{self.address!r}")

    @property
    def description(self) -> str:
        return f"Dask cluster at {self.address}"

    def run(self, jobs: Iterable[FileJob]) -> Iterator[FileResult]:
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise MissingDependencyError("--scheduler needs Dask distributed: pip install "
                                         "'retouch[batch]'") from None
        try:
            client = Client(self.address, timeout=self.timeout_s)
        except OSError as exc:
            raise InvalidInputError(f"--scheduler {self.address}: cannot connect ({exc})") \
                from None
        try:
            threads = sum(client.nthreads().values()) or 1
            limit = 2 * threads
            todo = deque(jobs)
            ac = as_completed()
            owner = {}
            while todo and ac.count() < limit:
                job = todo.popleft()
                fut = client.submit(self.fn, job, pure=False)
                owner[fut.key] = job
                ac.add(fut)
            for fut in ac:
                job = owner.pop(fut.key)
                try:
                    yield fut.result()
                except Exception as exc:  # KilledWorker, lost connection...
                    yield FileResult(job.rel, "failed", f"dask: {type(exc).__name__}: {exc}")
                fut.release()
                if todo:
                    nxt = todo.popleft()
                    f2 = client.submit(self.fn, nxt, pure=False)
                    owner[f2.key] = nxt
                    ac.add(f2)
        finally:
            client.close()
