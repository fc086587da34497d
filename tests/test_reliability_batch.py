"""Issue 8 for ``retouch batch``: a folder of small photos with bad files mixed in,
``kill -9`` at random instants then a rerun, and identical bytes with 1 and 2 workers."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _harness import cli_env
from _hostile import base_images, encode, png_with_size
from PIL import Image

from retouch.atomic import is_temp_name
from retouch.batch.log import read_log

pytestmark = pytest.mark.fuzz

SRC = str(Path(__file__).resolve().parents[1] / "src")
N_GOOD = 42
FORMATS = (("jpg", "JPEG"), ("png", "PNG"), ("webp", "WEBP"), ("tif", "TIFF"))
KILLS = 3


def _bad_files(png: bytes, jpg: bytes) -> dict[str, bytes | None]:
    """Name -> bytes of files that must fail (``None``: a FIFO)."""
    return {
        "bad/empty.jpg": b"",
        "bad/text.png": b"just some notes, not a picture\n",
        "bad/header_only.jpg": jpg[:120],
        "bad/huge_declared.png": png_with_size(png, 60000, 60000),
        "bad/zero_size.png": png_with_size(png, 0, 0),
        "bad/random.tif": np.random.default_rng(8).integers(0, 256, 4096, np.uint8).tobytes(),
        "bad/html.webp": b"<html><body>404</body></html>",
        "bad/fifo.jpg": None,
    }


@pytest.fixture(scope="module")
def shoot(tmp_path_factory) -> tuple[Path, set[str], set[str]]:
    """IN/ with 42 small photos (4 formats, 2 sub-folders) and 8 bad files."""
    root = tmp_path_factory.mktemp("shoot") / "in"
    bases = base_images(96)
    good = set()
    for i in range(N_GOOD):
        rgb = bases[i % len(bases)]
        if (i // len(bases)) % 2:
            rgb = rgb[:, ::-1]
        rgb = np.ascontiguousarray(np.roll(rgb, i, axis=0))
        ext, fmt = FORMATS[i % len(FORMATS)]
        rel = f"day{i % 2}/img{i:02d}.{ext}"
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(encode(rgb, fmt, quality=90) if fmt in ("JPEG", "WEBP") else
                      encode(rgb, fmt))
        good.add(rel)
    png = encode(bases[0], "PNG")
    jpg = encode(bases[0], "JPEG")
    bad = set()
    for rel, data in _bad_files(png, jpg).items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            os.mkfifo(p)
        else:
            p.write_bytes(data)
        bad.add(rel)
    return root, good, bad


def _start(src: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = cli_env({"PYTHONPATH": SRC})
    return subprocess.Popen([sys.executable, "-m", "retouch.cli", "batch", str(src), str(out),
                             "-q", *extra], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _run(src: Path, out: Path, *extra: str, timeout: float = 120) -> tuple[int, str]:
    proc = _start(src, out, *extra)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return proc.returncode, err.decode(errors="replace")


def _outputs(out: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every output under a final name."""
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in out.rglob("*") if p.is_file() and ".retouch-batch" not in p.parts
            and not is_temp_name(p.name) and not p.name.endswith(".tmp")}


def _temps(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.is_file()
            and (is_temp_name(p.name) or p.name.endswith(".tmp"))]


@pytest.fixture(scope="module")
def reference(shoot, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """An uninterrupted run with 1 worker: outputs and the log's verdicts."""
    src, good, bad = shoot
    out = tmp_path_factory.mktemp("ref") / "out"
    code, err = _run(src, out, "--workers", "1")
    assert code == 1, err  # some files failed, the others are done
    return out, _outputs(out)


def test_bad_files_fail_with_a_reason_the_rest_is_done(shoot, reference):
    src, good, bad = shoot
    out, outputs = reference
    assert set(outputs) == good
    for rel in good:
        with Image.open(out / rel) as im:
            im.load()
    log = read_log(out / ".retouch-batch" / "log.jsonl")
    files = {e["rel"]: e for e in log if e["event"] == "file"}
    assert set(files) == good | bad
    for rel in bad:
        assert files[rel]["status"] == "failed", files[rel]
        reason = files[rel]["reason"]
        assert reason and "\n" not in reason and len(reason) <= 300, reason
        assert not reason.startswith("unexpected"), (rel, reason)
    assert all(files[rel]["status"] == "ok" for rel in good)
    assert "not a regular file" in files["bad/fifo.jpg"]["reason"]
    assert (log[-1]["ok"], log[-1]["failed"]) == (len(good), len(bad))
    assert not _temps(out)


def test_two_workers_give_identical_bytes(shoot, reference, tmp_path):
    src, good, bad = shoot
    out = tmp_path / "out2"
    code, err = _run(src, out, "--workers", "2")
    assert code == 1, err
    assert _outputs(out) == reference[1]
    workers = {e["worker"] for e in read_log(out / ".retouch-batch" / "log.jsonl")
               if e.get("status") == "ok"}
    assert len(workers) == 2


def test_kill_9_at_random_instants_then_rerun(shoot, reference, tmp_path):
    """Several SIGKILLs (random instants, 1 or 2 workers): only complete outputs under
    final names; the rerun finishes the rest, identical to the uninterrupted run."""
    src, good, bad = shoot
    ref = reference[1]
    out = tmp_path / "out"
    rng = np.random.default_rng(88)
    progress = []
    for k in range(KILLS):
        proc = _start(src, out, "--workers", str(1 + k % 2))
        log = out / ".retouch-batch" / "log.jsonl"
        # Wait until this run is busy (its start line is logged), then a random delay.
        deadline = time.monotonic() + 60
        starts = sum(e["event"] == "start" for e in read_log(log)) if log.exists() else 0
        while time.monotonic() < deadline and proc.poll() is None:
            if log.exists() and sum(e["event"] == "start" for e in read_log(log)) > starts:
                break
            time.sleep(0.02)
        time.sleep(float(rng.uniform(0.05, 1.5)))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        now = _outputs(out)
        # Whatever is under a final name is complete: exactly the reference's bytes.
        assert {rel: now[rel] for rel in now} == {rel: ref[rel] for rel in now}
        progress.append(len(now))
    code, err = _run(src, out, "--workers", "2")
    assert code == 1, err
    assert _outputs(out) == ref
    assert not _temps(out), _temps(out)
    summary = read_log(out / ".retouch-batch" / "log.jsonl")[-1]
    assert summary["failed"] == len(bad) and summary["ok"] + summary["skipped"] == len(good)
    assert summary["skipped"] <= progress[-1]  # a file is skipped only with its output there


def test_temp_file_of_a_killed_unreaped_writer_is_stale(tmp_path):
    """Bug: a killed writer not yet reaped (a zombie) counted as alive, so the rerun kept
    its temporary file (seen after ``kill -9`` of a batch: a marker's temp stayed)."""
    from retouch.atomic import clean_stale_temps, temp_path

    target = tmp_path / "out.png"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        mine = temp_path(target).name
        stale = tmp_path / mine.replace(f"-{os.getpid()}-", f"-{child.pid}-")
        stale.write_bytes(b"partial")
        assert clean_stale_temps(target) == []  # its writer is alive
        child.kill()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until it is a zombie (not reaped: no wait())
            with open(f"/proc/{child.pid}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1][1:2] == b"Z":
                    break
            time.sleep(0.01)
        assert clean_stale_temps(target) == [stale]
    finally:
        child.kill()
        child.wait()
