"""Atomic file writes: a temporary file beside the target, then one rename.

Every file ``retouch`` writes (images, reports, masks, previews) goes through
:func:`atomic_write`: the data is written to a temporary file in the target's
folder, flushed to disk and renamed over the target, so the target is always
either absent, its old version, or the complete new one.

A process killed with ``SIGKILL`` (or a power loss) cannot remove its temporary
file. Temporary files are therefore named so that they are recognizable and
attributable::

    .<target name>.<host id>-<pid>-<random>.retouch-tmp

They are hidden (leading dot), end in :data:`TEMP_SUFFIX` (no image
extension, so no image viewer or glob such as ``*.jpg`` picks one up), and the
next write to the same target on the same host removes the ones whose writing
process no longer exists (:func:`clean_stale_temps`). Files of a live process
(a concurrent writer) are never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import socket
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["TEMP_SUFFIX", "atomic_write", "clean_stale_temps", "is_temp_name", "temp_path"]

#: Suffix of every in-flight temporary file.
TEMP_SUFFIX = ".retouch-tmp"
#: Longest target name kept verbatim in a temporary name (255-byte file-name limit).
_MAX_STEM_BYTES = 200
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[0-9a-f]{8}"
                      + re.escape(TEMP_SUFFIX) + r"$")


def _host_id() -> str:
    """8 hex digits naming this machine (pids are only meaningful on the same host)."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _stem(name: str) -> str:
    """``name`` shortened (with a hash) so that a temporary name stays under 255 bytes."""
    if len(name.encode("utf-8", "surrogateescape")) <= _MAX_STEM_BYTES:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    short = name.encode("utf-8", "surrogateescape")[:_MAX_STEM_BYTES - 13]
    return short.decode("utf-8", "ignore") + "~" + digest


def temp_path(target: Path) -> Path:
    """A fresh temporary-file path for ``target`` (in the same folder)."""
    return target.with_name(f".{_stem(target.name)}.{_host_id()}-{os.getpid()}-"
                            f"{secrets.token_hex(4)}{TEMP_SUFFIX}")


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is a temporary file made by :func:`temp_path`."""
    return _TEMP_RE.match(name) is not None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return True  # unknown: keep the file
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed process not yet reaped (``Z`` in ``/proc/PID/stat``) writes nothing more."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:][:1] in (b"Z", b"X")


def clean_stale_temps(target: Path) -> list[Path]:
    """Remove temporary files of ``target`` left by dead processes of this host.

    Returns the removed paths. Best effort: errors are ignored.
    """
    removed: list[Path] = []
    host = _host_id()
    try:
        entries = list(os.scandir(target.parent if str(target.parent) else "."))
    except OSError:
        return removed
    for e in entries:
        m = _TEMP_RE.match(e.name)
        if m is None or m["name"] != _stem(target.name) or m["host"] != host:
            continue
        pid = int(m["pid"])
        if pid == os.getpid() or _pid_alive(pid):
            continue
        with contextlib.suppress(OSError):
            os.unlink(e.path)
            removed.append(Path(e.path))
    return removed


def _current_umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(target: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Run ``write(fp)`` on a temporary file beside ``target``, then rename it over ``target``.

    The file is flushed and fsync'ed before the rename, the rename is made
    durable with an fsync of the folder (best effort), the new file gets the
    old file's permissions (or ``0o666 & ~umask``), and on any failure or
    interruption (``KeyboardInterrupt``, ``SystemExit``) the temporary file is
    removed and the exception re-raised. Stale temporary files of ``target``
    (see :func:`clean_stale_temps`) are removed first.

    Raises:
        OSError: the temporary file cannot be created, written or renamed.
    """
    clean_stale_temps(target)
    tmp = temp_path(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as fp:
            write(fp)
            fp.flush()
            os.fsync(fp.fileno())
        try:
            mode = target.stat().st_mode & 0o7777 if target.exists() else None
        except OSError:
            mode = None
        os.chmod(tmp, mode if mode is not None else 0o666 & ~_current_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if os.name == "posix":  # make the rename itself durable; best effort
        with contextlib.suppress(OSError):
            dfd = os.open(target.parent if str(target.parent) else ".", os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
