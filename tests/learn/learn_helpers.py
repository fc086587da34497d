"""Helpers shared by the learned-model tests (a plain module: ``conftest`` names
clash between test folders, so shared code does not live there)."""

from __future__ import annotations

from pathlib import Path


def tiny_config(out_dir: Path, *overrides: str):
    """The tiny preset writing to ``out_dir``, with ``--set``-style overrides."""
    from retouch.learn.config import apply_overrides, tiny

    return apply_overrides(tiny(), [f"train.out_dir={out_dir}", "train.log_every=1",
                                    "train.sample_every=0", "train.ckpt_every=0",
                                    *overrides])


def run_torchrun(cli_args: list[str], nproc: int = 2) -> None:
    """Run ``python -m retouch.cli CLI_ARGS`` under torchrun with ``nproc`` CPU processes.

    The rendezvous port is one the OS reports free (not derived from the pid, which
    can land among the ephemeral ports other sockets take). Asserts a zero exit and
    shows the last 8000 characters of stderr otherwise: torchrun's own summary takes
    ~2000, and the failing rank's message comes before it.
    """
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1",
           "GLOG_minloglevel": "2"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
           "--master_addr", "127.0.0.1", "--master_port", str(port), "-m", "retouch.cli",
           *cli_args]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-8000:]
