"""Data safety of the CLI: the input is never modified, outputs are atomic.

* ``kill -9`` at random instants while the CLI writes a large output leaves the
  target either absent, or its previous complete version, or the new complete
  image, never a partial file; what remains besides it is only temporary files
  recognizable by name (``.<name>.<host>-<pid>-<rand>.retouch-tmp``), and the
  next run removes them (:mod:`retouch.atomic`).
* ``SIGTERM`` removes the temporary file itself and exits with 143.
* Destinations that are the input (output, report, masks, previews, hard links)
  are refused before any work, with exit code 3.

Batch and server (issue 7) cases plug into the same checks: see
docs/reliability.md, "What is left".
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _harness import FULL, budget, decode_check, record, run_cli, sha256, start_cli
from PIL import Image

from retouch.atomic import TEMP_SUFFIX, atomic_write, clean_stale_temps, is_temp_name, temp_path

pytestmark = pytest.mark.fuzz

#: Size of the large input/output (12 MP: the PNG encode takes seconds).
BIG_WH = (4000, 3000)


@pytest.fixture(scope="module")
def big_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12 MP JPEG of textured noise (no face: the run is mostly decode and encode)."""
    rng = np.random.default_rng(5)
    w, h = BIG_WH
    small = rng.integers(0, 256, (h // 4, w // 4, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((w, h), Image.Resampling.BILINEAR)
    noise = rng.integers(-12, 13, (h, w, 3), dtype=np.int16)
    arr = np.clip(np.asarray(img, np.int16) + noise, 0, 255).astype(np.uint8)
    p = tmp_path_factory.mktemp("big") / "big.jpg"
    Image.fromarray(arr).save(p, quality=92)
    return p


def _temps(folder: Path, pid: int | None = None) -> list[str]:
    """Temporary files in ``folder`` (of process ``pid`` only, when given)."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(TEMP_SUFFIX)
                  and (pid is None or f"-{pid}-" in p.name))


def _timed_run(big_input: Path, target: Path, tmp_path: Path) -> tuple[float, float]:
    """One complete run: ``(seconds to the first temporary file, seconds writing)``."""
    proc, _, se = start_cli([str(big_input), "-o", str(target), "-q"], target.parent,
                            out_prefix=tmp_path / ".calib")
    t0 = time.perf_counter()
    assert _wait_for(lambda: bool(_temps(target.parent, proc.pid)), 120, proc), se.read_text()
    t1 = time.perf_counter()
    assert _reap(proc) == 0, se.read_text()
    return t1 - t0, time.perf_counter() - t1


def _wait_for(pred, timeout: float, proc: subprocess.Popen) -> bool:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if pred():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    return False


def _reap(proc: subprocess.Popen) -> int:
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()


def test_kill_9_during_write_leaves_complete_or_nothing(big_input: Path, tmp_path: Path) -> None:
    """SIGKILL at random instants of the write: the target is absent/old/new, never partial."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "out.png"
    before = sha256(big_input)
    rng = random.Random(8)
    old = np.full((16, 24, 3), 7, np.uint8)
    trials = budget(3, 30)
    seen = {"absent": 0, "old": 0, "new": 0}
    cleaned = 0
    _, write_s = _timed_run(big_input, target, tmp_path)
    for k in range(trials):
        if k % 2:  # half the trials replace an existing output
            Image.fromarray(old).save(target)
        elif target.exists():
            target.unlink()
        had_old = target.exists()
        stale = _temps(out_dir)  # left by the previous (killed) trial
        proc, so, se = start_cli([str(big_input), "-o", str(target), "-q"], out_dir,
                                 out_prefix=tmp_path / f".k{k}")
        t_start = time.perf_counter()
        started = _wait_for(lambda pid=proc.pid: bool(_temps(out_dir, pid)), 120, proc)
        assert started, f"no temporary file appeared (exit {proc.poll()}: {se.read_text()})"
        # Writing to the target first removed the dead trial's temporary file.
        assert not set(stale) & set(_temps(out_dir)), "stale temporary file not cleaned"
        cleaned += len(stale)
        t_write = time.perf_counter()
        delay = rng.uniform(0.0, write_s)
        time.sleep(max(0.0, delay - (time.perf_counter() - t_write)))
        os.killpg(proc.pid, signal.SIGKILL)
        rc = _reap(proc)
        if target.exists():
            size = decode_check(target)  # raises on a partial file
            state = "old" if size == (24, 16) else "new"
            assert size in ((24, 16), BIG_WH)
            assert state == "new" or had_old
        else:
            state = "absent"
            assert not had_old, "the previous output vanished"
        seen[state] += 1
        for name in _temps(out_dir):
            assert is_temp_name(name), name
        assert set(os.listdir(out_dir)) - set(_temps(out_dir)) <= {"out.png"}
        record("kill9", f"trial{k}", "kill-during-write", state,
               time.perf_counter() - t_start, detail=f"killed {delay:.2f} s into the write; "
               f"exit {rc}; temps left {len(_temps(out_dir))}")
    assert sha256(big_input) == before
    # The next run finishes the job and removes the dead runs' temporary files.
    left = _temps(out_dir)
    run = run_cli([str(big_input), "-o", str(target), "-q"], cwd=out_dir, timeout=120)
    assert run.returncode == 0, run.stderr
    assert decode_check(target) == BIG_WH
    assert _temps(out_dir) == [], f"stale temporary files not cleaned: {left}"
    cleaned += len(left)
    record("kill9", "rerun", "rerun-after-kills", "ok", run.seconds, run.max_rss_mb,
           f"{cleaned} stale temporary files removed by later runs; outcomes {seen}")
    assert cleaned >= 1 or seen["absent"] + seen["old"] == 0


def test_kill_9_at_random_instants_of_the_whole_run(big_input: Path, tmp_path: Path) -> None:
    """SIGKILL anywhere between start and end (load, detect, write): same guarantees."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "o.tif"
    rng = random.Random(9)
    t_first, t_write = _timed_run(big_input, target, tmp_path)
    target.unlink()
    for k in range(budget(2, 20)):
        if target.exists():
            target.unlink()
        proc, so, se = start_cli([str(big_input), "-o", str(target), "-q"], out_dir,
                                 out_prefix=tmp_path / f".a{k}")
        time.sleep(rng.uniform(0.0, t_first + t_write))
        os.killpg(proc.pid, signal.SIGKILL)
        rc = _reap(proc)
        state = "absent"
        if target.exists():
            assert decode_check(target) == BIG_WH
            state = "new"
        assert all(is_temp_name(n) for n in _temps(out_dir))
        record("kill9", f"anytime{k}", "kill-anytime", state, detail=f"exit {rc}")
    run = run_cli([str(big_input), "-o", str(target), "-q"], cwd=out_dir, timeout=120)
    assert run.returncode == 0 and decode_check(target) == BIG_WH
    assert _temps(out_dir) == []


def test_sigterm_during_write_removes_the_temporary_file(big_input: Path,
                                                         tmp_path: Path) -> None:
    """SIGTERM is caught: one stderr line, exit 143, no temporary file, no partial output."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "out.png"
    proc, so, se = start_cli([str(big_input), "-o", str(target)], out_dir,
                             out_prefix=tmp_path / ".t")
    assert _wait_for(lambda: bool(_temps(out_dir, proc.pid)), 120, proc)
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGTERM)
    rc = _reap(proc)
    err = se.read_text()
    if rc == 0:
        pytest.skip("the write finished before SIGTERM landed")
    assert rc == 143, err
    assert err.strip() == "retouch: terminated"
    assert _temps(out_dir) == [] and not target.exists()


# --------------------------------------------------------------------------- destinations


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    from _hostile import base_images

    p = tmp_path / "in" / "removed.png"
    p.parent.mkdir()
    Image.fromarray(base_images()[0]).save(p)
    return p


@pytest.mark.parametrize("how", ["output", "report", "masks", "hardlink", "edit-report",
                                 "restore-report", "chat-preview", "chat-annotated",
                                 "chat-output", "report-is-output"])
def test_destination_that_is_the_input_is_refused(photo: Path, tmp_path: Path, how: str) -> None:
    """Every way of naming the input as a destination: exit 3, input and folder untouched."""
    d = photo.parent
    other = tmp_path / "o.png"
    argv = {
        "output": [str(photo), "-o", str(photo)],
        "report": [str(photo), "-o", str(other), "--report", str(photo)],
        "masks": [str(photo), "-o", str(other), "--masks", str(d)],
        "hardlink": [str(photo), "-o", str(d / "link.png")],
        "edit-report": ["edit", str(photo), "-o", str(other), "--set", "eyes.size=0.2",
                        "--report", str(photo)],
        "restore-report": ["restore", str(photo), "-o", str(other), "--report", str(photo)],
        "chat-preview": ["chat", str(photo), "--preview", str(photo)],
        "chat-annotated": ["chat", str(photo), "--preview", str(d / "removed.jpg")],
        "chat-output": ["chat", str(photo), "-o", str(photo), "--no-preview"],
        "report-is-output": [str(photo), "-o", str(other), "--report", str(other)],
    }[how]
    if how == "hardlink":
        os.link(photo, d / "link.png")
    if how == "chat-annotated":  # the annotated preview is <preview stem>_found.png
        photo = photo.rename(d / "removed_found.png")
        argv[1] = str(photo)
    before = sha256(photo)
    listing = sorted(os.listdir(d))
    run = run_cli(argv, cwd=tmp_path, stdin=b"remove the acne\nsave\n")
    assert run.returncode == 3, (run.returncode, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("retouch: error: "), lines
    assert sha256(photo) == before
    assert sorted(os.listdir(d)) == listing
    assert not other.exists()


def test_overwrite_flag_replaces_input_atomically(photo: Path, tmp_path: Path) -> None:
    """``--overwrite`` is the one way to replace the input, and it is atomic."""
    run = run_cli([str(photo), "-o", str(photo), "--overwrite", "-q"], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert decode_check(photo)
    assert _temps(photo.parent) == []


# --------------------------------------------------------------------------- atomic module


def test_stale_temporary_files_only_of_dead_processes_are_removed(tmp_path: Path) -> None:
    """Cleanup removes a dead writer's file, never a live writer's or another host's."""
    target = tmp_path / "a.png"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    mine = temp_path(target)
    host = mine.name.split(".")[-2].split("-")[0]
    dead_tmp = tmp_path / f".a.png.{host}-{dead_pid}-0123abcd{TEMP_SUFFIX}"
    live_tmp = tmp_path / f".a.png.{host}-{os.getppid()}-0123abcd{TEMP_SUFFIX}"
    other_host = tmp_path / f".a.png.deadbeef-{dead_pid}-0123abcd{TEMP_SUFFIX}"
    other_target = tmp_path / f".b.png.{host}-{dead_pid}-0123abcd{TEMP_SUFFIX}"
    for p in (dead_tmp, live_tmp, other_host, other_target):
        p.write_bytes(b"partial")
        assert is_temp_name(p.name)
    assert not is_temp_name("a.png") and not is_temp_name(".a.png.tmp")
    removed = clean_stale_temps(target)
    assert removed == [dead_tmp]
    assert live_tmp.exists() and other_host.exists() and other_target.exists()


def test_temporary_name_of_a_long_target_fits(tmp_path: Path) -> None:
    """A 250-byte file name still gets a valid (< 255 bytes) temporary name."""
    target = tmp_path / ("é" * 120 + ".png")
    assert len(target.name.encode()) <= 255
    tmp = temp_path(target)
    assert len(tmp.name.encode()) <= 255 and is_temp_name(tmp.name)
    atomic_write(target, lambda fp: fp.write(b"data"))
    assert target.read_bytes() == b"data"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    """An exception inside the writer removes the temporary file and keeps the old target."""
    target = tmp_path / "a.json"
    target.write_bytes(b"old")

    def boom(fp) -> None:
        fp.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


@pytest.mark.skipif(not FULL, reason="long run only (RETOUCH_FUZZ=full)")
def test_many_concurrent_writers_one_target(tmp_path: Path) -> None:
    """8 processes writing one target at once: it always decodes; no temporary file stays."""
    from _hostile import base_images

    src = tmp_path / "in.png"
    Image.fromarray(base_images()[0]).save(src)
    target = tmp_path / "out" / "same.png"
    target.parent.mkdir()
    procs = [start_cli([str(src), "-o", str(target), "-q"], tmp_path,
                       out_prefix=tmp_path / f".w{i}")[0] for i in range(8)]
    for p in procs:
        assert _reap(p) == 0
    decode_check(target)
    assert _temps(target.parent) == []
