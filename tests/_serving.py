"""A real ``retouch serve`` (uvicorn on 127.0.0.1, a free port) for the server tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

SRC = str(Path(__file__).resolve().parents[1] / "src")
#: Base URL -> the server's process id (for tests that look at its worker processes).
PIDS: dict[str, int] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(*args: str, startup_s: float = 90.0) -> Iterator[str]:
    """Start ``python -m retouch.cli serve --port P *args``; yield its base URL."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
               GLOG_minloglevel="2", TF_CPP_MIN_LOG_LEVEL="3")
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"retouch-serve-{port}.log",  # noqa: SIM115
               "w+b")
    proc = subprocess.Popen([sys.executable, "-m", "retouch.cli", "serve", "--port", str(port),
                             "--log-level", "warning", *args], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"server exited: {log.read().decode(errors='replace')}")
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start in time")
            time.sleep(0.3)
        PIDS[base] = proc.pid
        yield base
    finally:
        PIDS.pop(base, None)
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
