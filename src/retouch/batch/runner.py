"""``run_batch``: walk the input, hand files to an executor, log, report."""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .._version import __version__
from ..errors import InvalidInputError, OutputError
from .executors import DaskExecutor, Executor, LocalExecutor
from .job import FileJob, FileResult
from .log import JsonlLog
from .progress import Progress, format_duration
from .settings import BatchSettings
from .storage import STATE_DIR, is_local, join, open_fs
from .walk import list_inputs

#: How many failures the printed summary lists (the log has all of them).
SUMMARY_FAILURES = 10


@dataclass(frozen=True)
class BatchSummary:
    """The outcome of a batch.

    Attributes:
        total: files considered (images and other files).
        ok, skipped, failed: counts by status.
        elapsed_s: wall time of the whole batch.
        images_per_s: files retouched (``ok``) per second of wall time.
        failures: ``(relative path, reason)`` of every failed file.
        log: the JSON-lines log file.
        executor: where the files were processed.
        worker_peak_rss_mb: peak resident memory per worker process (``host:pid``).
    """

    total: int
    ok: int
    skipped: int
    failed: int
    elapsed_s: float
    images_per_s: float
    failures: tuple[tuple[str, str], ...]
    log: Path
    executor: str
    worker_peak_rss_mb: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "ok": self.ok, "skipped": self.skipped,
                "failed": self.failed, "elapsed_s": round(self.elapsed_s, 3),
                "images_per_s": round(self.images_per_s, 4),
                "failures": [list(f) for f in self.failures], "log": str(self.log),
                "executor": self.executor,
                "worker_peak_rss_mb": {k: round(v, 1) for k, v in
                                       self.worker_peak_rss_mb.items()}}

    def format(self) -> str:
        """A few lines for the terminal."""
        lines = [f"{self.total} files: {self.ok} retouched, {self.skipped} skipped, "
                 f"{self.failed} failed in {format_duration(self.elapsed_s)} "
                 f"({self.images_per_s:.2f} images/s, {self.executor})."]
        if self.worker_peak_rss_mb:
            peak = max(self.worker_peak_rss_mb.values())
            lines.append(f"Peak memory per worker: {peak:.0f} MiB "
                         f"({len(self.worker_peak_rss_mb)} worker processes).")
        for rel, reason in self.failures[:SUMMARY_FAILURES]:
            lines.append(f"  failed: {rel}: {reason}")
        if len(self.failures) > SUMMARY_FAILURES:
            lines.append(f"  ... and {len(self.failures) - SUMMARY_FAILURES} more")
        lines.append(f"Log: {self.log}")
        return "\n".join(lines)


def _marker_name(rel: str) -> str:
    return hashlib.sha256(rel.encode("utf-8")).hexdigest()[:32] + ".json"


def _check_roots(in_dir: str, out_dir: str) -> tuple[Any, str, Any, str]:
    fs_in, in_root = open_fs(in_dir)
    fs_out, out_root = open_fs(out_dir)
    try:
        in_is_dir = fs_in.isdir(in_root)
    except OSError as exc:
        raise InvalidInputError(f"{in_dir}: cannot read the input folder ({exc})") from None
    if not in_is_dir:
        what = "is a file, not a folder" if fs_in.exists(in_root) else "does not exist"
        raise InvalidInputError(f"{in_dir}: input folder {what}")
    same_fs = type(fs_in) is type(fs_out)
    if same_fs and (in_root == out_root):
        raise OutputError(f"{out_dir}: the output folder is the input folder; outputs would "
                          "overwrite the originals (choose another folder)")
    if same_fs and (in_root + "/").startswith(out_root + "/"):
        raise OutputError(f"{out_dir}: the input folder lies inside the output folder "
                          "(choose another folder)")
    try:
        fs_out.makedirs(join(out_root, STATE_DIR), exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create the output folder ({exc})") from None
    if is_local(fs_out):
        import os

        if not os.access(out_root, os.W_OK):
            raise OutputError(f"{out_dir}: output folder is not writable")
    return fs_in, in_root, fs_out, out_root


def run_batch(
    in_dir: str | Path, out_dir: str | Path, settings: BatchSettings | None = None, *,
    workers: int = 1, scheduler: str | None = None, log_path: str | Path | None = None,
    force: bool = False, progress: bool = True, stream: TextIO | None = None,
    executor: Executor | None = None,
) -> BatchSummary:
    """Retouch every image under ``in_dir`` into the same tree under ``out_dir``.

    Args:
        in_dir, out_dir: local folders or fsspec URLs (``s3://bucket/shoot``...).
        settings: what to do (default: the natural retouch).
        workers: local worker processes (ignored with ``scheduler``).
        scheduler: ``tcp://HOST:PORT`` of a Dask distributed scheduler.
        log_path: the JSON-lines log (default ``OUT_DIR/.retouch-batch/log.jsonl``
            for a local OUT_DIR, else ``./retouch-batch.jsonl``).
        force: redo files even when their resume marker matches.
        progress: draw the progress bar on ``stream`` (default stderr).
        executor: a custom :class:`~retouch.batch.executors.Executor` (tests).

    Returns:
        :class:`BatchSummary`. Files that fail are counted and logged; only
        unusable folders or options raise.

    Raises:
        InvalidInputError: the input folder is missing or an option is unusable.
        OutputError: the output folder cannot be created or is the input folder.
        MissingDependencyError: fsspec (or Dask for ``scheduler``) is missing.
    """
    settings = settings or BatchSettings()
    settings.check_instruction()
    stream = stream if stream is not None else sys.stderr
    in_dir, out_dir = str(in_dir), str(out_dir)
    fs_in, in_root, fs_out, out_root = _check_roots(in_dir, out_dir)
    if log_path is None:
        log_path = (Path(out_root) / STATE_DIR / "log.jsonl") if is_local(fs_out) \
            else Path("retouch-batch.jsonl")
    if executor is None:
        if scheduler:
            executor = DaskExecutor(scheduler)
        else:
            executor = LocalExecutor(workers, stderr_path=str(Path(log_path).with_name(
                "workers.stderr.log")))
    log = JsonlLog(Path(log_path))
    t0 = time.perf_counter()
    try:
        exclude = out_root if type(fs_in) is type(fs_out) else None
        listing = list_inputs(fs_in, in_root, exclude=exclude)
        log.write("start", {"input": in_dir, "output": out_dir, "images": len(listing.images),
                            "other_files": len(listing.others), "settings": settings.to_dict(),
                            "settings_key": settings.key(), "executor": executor.description,
                            "retouch_version": __version__})
        bar = Progress(len(listing.images) + len(listing.others), stream=stream,
                       enabled=progress)
        results: list[FileResult] = []

        def record(r: FileResult) -> None:
            results.append(r)
            log.write("file", r.to_dict())
            bar.update(r)

        for rel in listing.others:
            record(FileResult(rel, "skipped", "not an image file extension "
                              "(.jpg .jpeg .png .tif .tiff .webp .bmp)"))
        for r in executor.run(_jobs(listing.images, fs_in, in_root, fs_out, out_root,
                                    settings, force)):
            record(r)
        bar.close()
        summary = _summarize(results, time.perf_counter() - t0, Path(log_path),
                             executor.description)
        log.write("summary", summary.to_dict())
        return summary
    finally:
        log.close()


def _jobs(rels: tuple[str, ...], fs_in: Any, in_root: str, fs_out: Any, out_root: str,
          settings: BatchSettings, force: bool) -> Iterator[FileJob]:
    state = join(out_root, STATE_DIR + "/done")
    for rel in rels:
        yield FileJob(rel=rel, src=_url(fs_in, join(in_root, rel)),
                      dst=_url(fs_out, join(out_root, rel)),
                      marker=_url(fs_out, join(state, _marker_name(rel))),
                      settings=settings, force=force)


def _url(fs: Any, path: str) -> str:
    """A plain path for local files (readable logs), else the full URL."""
    return path if is_local(fs) else fs.unstrip_protocol(path)


def _summarize(results: list[FileResult], elapsed: float, log: Path,
               executor: str) -> BatchSummary:
    by = {s: [r for r in results if r.status == s] for s in ("ok", "skipped", "failed")}
    peaks: dict[str, float] = {}
    for r in results:
        if r.worker:
            peaks[r.worker] = max(peaks.get(r.worker, 0.0), r.peak_rss_mb)
    return BatchSummary(
        total=len(results), ok=len(by["ok"]), skipped=len(by["skipped"]),
        failed=len(by["failed"]), elapsed_s=elapsed,
        images_per_s=len(by["ok"]) / elapsed if elapsed > 0 else 0.0,
        failures=tuple((r.rel, r.reason or "") for r in by["failed"]), log=log,
        executor=executor, worker_peak_rss_mb=peaks)
