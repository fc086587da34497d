"""One file of a batch: read, check the resume marker, retouch, write atomically.

:func:`process_one` is what every executor runs (in a local worker process or
on a Dask worker). It never raises: any failure becomes a ``"failed"``
:class:`FileResult` with a one-line reason, so one bad file never stops a batch.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import resource
import socket
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any

from .settings import BatchSettings
from .storage import atomic_put_bytes, atomic_put_file, is_local, open_fs, read_input

#: ``FileResult.status`` values.
STATUSES: tuple[str, ...] = ("ok", "skipped", "failed")


@dataclass(frozen=True)
class FileJob:
    """One input file and where its output and resume marker go.

    Attributes:
        rel: path relative to the input root (``/``-separated).
        src: input path or fsspec URL.
        dst: output path or fsspec URL (same relative path and extension).
        marker: resume-marker path or URL (a small JSON file).
        settings: what to do.
        force: ignore the resume marker (redo the file).
    """

    rel: str
    src: str
    dst: str
    marker: str
    settings: BatchSettings
    force: bool = False


@dataclass(frozen=True)
class FileResult:
    """What happened to one file (one line of the JSON-lines log).

    Attributes:
        rel: path relative to the input root.
        status: ``"ok"``, ``"skipped"`` or ``"failed"``.
        reason: why it was skipped or failed (one line), else ``None``.
        output: the output written (or found, when skipped), else ``None``.
        sha256: hex digest of the input bytes (``None`` if unreadable).
        faces: faces retouched; ``spots``: imperfections treated;
            ``pixels_changed``: output pixels that differ from the input.
        copied: the output is the input's bytes (nothing changed: no re-encoding).
        seconds: wall time on the worker.
        worker: ``host:pid`` of the process that did it.
        peak_rss_mb: that process's peak resident memory so far (MiB).
    """

    rel: str
    status: str
    reason: str | None = None
    output: str | None = None
    sha256: str | None = None
    faces: int | None = None
    spots: int | None = None
    pixels_changed: int | None = None
    copied: bool = False
    seconds: float = 0.0
    worker: str = ""
    peak_rss_mb: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}; got {self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["seconds"] = round(self.seconds, 3)
        d["peak_rss_mb"] = round(self.peak_rss_mb, 1)
        return d


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def process_one(job: FileJob) -> FileResult:
    """Retouch one file (see the module docstring); never raises."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    t0 = time.perf_counter()
    base = {"rel": job.rel, "worker": _worker_id()}
    sha = None
    try:
        fs_in, src = open_fs(job.src)
        fs_out, dst = open_fs(job.dst)
        _, marker = open_fs(job.marker)
        blob = read_input(fs_in, src)
        sha = hashlib.sha256(blob).hexdigest()
        key = job.settings.key()
        if not job.force and _already_done(fs_out, marker, dst, sha, key):
            return FileResult(status="skipped", reason="already done (same content and settings)",
                              output=job.dst, sha256=sha, seconds=time.perf_counter() - t0,
                              peak_rss_mb=_peak_rss_mb(), **base)
        info = _retouch_bytes(blob, src if is_local(fs_in) else None, job, fs_out, dst)
        record = {"rel": job.rel, "sha256": sha, "settings_key": key, "output": job.dst,
                  "time": time.time()}
        atomic_put_bytes(fs_out, marker, json.dumps(record).encode("utf-8"))
        return FileResult(status="ok", output=job.dst, sha256=sha,
                          seconds=time.perf_counter() - t0, peak_rss_mb=_peak_rss_mb(),
                          **info, **base)
    except Exception as exc:  # one bad file never stops a batch
        from ..errors import RetouchError

        reason = _one_line(exc) if isinstance(exc, RetouchError) else \
            f"unexpected {type(exc).__name__}: {_one_line(exc)}"
        reason = _strip_path(reason)
        return FileResult(status="failed", reason=reason, sha256=sha,
                          seconds=time.perf_counter() - t0, peak_rss_mb=_peak_rss_mb(), **base)


def _strip_path(reason: str) -> str:
    """Drop a leading ``path: `` (the log line names the file already)."""
    head, sep, tail = reason.partition(": ")
    return tail if sep and ("/" in head or head.startswith("input.")) else reason


def _already_done(fs: Any, marker: str, dst: str, sha: str, key: str) -> bool:
    try:
        record = json.loads(fs.cat_file(marker))
    except (FileNotFoundError, ValueError):
        return False
    return record.get("sha256") == sha and record.get("settings_key") == key and fs.exists(dst)


def _retouch_bytes(blob: bytes, local_src: str | None, job: FileJob, fs_out: Any,
                   dst: str) -> dict[str, Any]:
    """Decode, retouch and write ``dst``; returns the counts for :class:`FileResult`."""
    import numpy as np

    from ..imageio import load_image, save_image

    ext = posixpath.splitext(dst)[1]
    with tempfile.TemporaryDirectory(prefix="retouch-batch-") as tmp:
        if local_src is None:
            local_src = os.path.join(tmp, "input" + ext)
            with open(local_src, "wb") as f:
                f.write(blob)
        data = load_image(local_src, max_pixels=job.settings.max_pixels)
        result = job.settings.apply(data)
        rep = result.report
        changed = int(np.any(result.image != data.pixels, axis=2).sum())
        info = {"faces": sum(1 for f in rep["faces"] if f["retouched"]),
                "spots": sum(v["removed"] for v in rep["summary"].values()),
                "pixels_changed": changed, "copied": changed == 0}
        if changed == 0:
            # Nothing to change: the output is the input, byte for byte (no re-encoding).
            atomic_put_bytes(fs_out, dst, blob)
        elif is_local(fs_out):
            os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
            save_image(dst, result.image, source=data, alpha=result.alpha,
                       quality=job.settings.quality)
        else:
            local_out = os.path.join(tmp, "output" + ext)
            save_image(local_out, result.image, source=data, alpha=result.alpha,
                       quality=job.settings.quality)
            atomic_put_file(fs_out, local_out, dst)
    return info
