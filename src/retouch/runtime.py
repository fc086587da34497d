"""Process-level performance settings that a command-line process opts into.

A face goes through a few hundred full-crop NumPy/OpenCV temporaries (about
1-5 MB each). With glibc's default allocator settings most of them are
served by fresh ``mmap`` pages and handed back on ``free``, so every one pays
its page faults again: about 15 % of the time of one aligned face. Raising
glibc's mmap and trim thresholds keeps those pages in the heap for reuse.

The ``retouch`` commands call :func:`tune_allocator` at start-up; library
users may call it once in their own process (it changes the whole process's
allocator, which is why importing :mod:`retouch` does not). Set
``RETOUCH_TUNE_ALLOCATOR=0`` to leave the allocator alone.
"""

from __future__ import annotations

import ctypes
import os
import sys
from concurrent.futures import ThreadPoolExecutor

#: Environment variable that disables :func:`tune_allocator` when ``0``.
TUNE_ENV = "RETOUCH_TUNE_ALLOCATOR"

# glibc's mallopt parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_tuned: bool | None = None


def tune_allocator(mmap_threshold_mb: int = 64, trim_threshold_mb: int = 256) -> bool:
    """Keep blocks below ``mmap_threshold_mb`` MiB in the heap, and keep up to
    ``trim_threshold_mb`` MiB of freed heap for reuse (glibc on Linux only).

    Arrays larger than the mmap threshold (a 24 MP float image) still get their
    own pages and are returned to the system when freed, so peak memory is
    unchanged; a process's resident size after a run stays up to
    ``trim_threshold_mb`` higher.

    Returns:
        ``True`` if the settings were applied (now or by an earlier call);
        ``False`` on other platforms or C libraries, or when disabled by
        ``RETOUCH_TUNE_ALLOCATOR=0``.
    """
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if os.environ.get(TUNE_ENV, "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another C library
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _tuned = bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold_mb) << 20)
                  and mallopt(_M_TRIM_THRESHOLD, int(trim_threshold_mb) << 20))
    return _tuned


#: One helper thread per process, created lazily and again after a fork (a forked
#: child inherits the pool object but not its thread, so submitting to the
#: parent's pool would wait forever).
_HELPER: dict[int, ThreadPoolExecutor] = {}


def helper_pool() -> ThreadPoolExecutor:
    """The process's single helper thread, for work that overlaps a stage's own.

    NumPy, OpenCV and MediaPipe release the GIL, so on a 2-core machine a task
    submitted here (the selfie segmentation while the face is parsed, the broad
    maps while spots are searched) runs beside the caller. A task must not wait
    on another helper task (one worker: it would wait forever).
    """
    pid = os.getpid()
    pool = _HELPER.get(pid)
    if pool is None:
        _HELPER.clear()
        pool = _HELPER[pid] = ThreadPoolExecutor(max_workers=1,
                                                  thread_name_prefix="retouch-helper")
    return pool
