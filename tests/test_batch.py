"""``retouch batch``: tree and formats kept, log, resume, atomic writes, bad files,
local worker processes, a crashing worker, fsspec URLs and a local Dask cluster."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retouch.batch import BatchSettings, FileJob, FileResult, process_one, run_batch
from retouch.batch.executors import LocalExecutor
from retouch.batch.log import read_log
from retouch.cli import run
from retouch.errors import InvalidInputError, OutputError

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(scope="module")
def tree(faces_dir, tmp_path_factory):
    """IN/ hopper.jpg, IN/sub/face.png (sample, with planted spots), IN/sub/deeper/flat.png
    (no face), IN/sub/broken.jpg (not an image), IN/notes.txt, IN/.hidden/x.png."""
    from retouch.sample import sample_face

    root = tmp_path_factory.mktemp("batch") / "in"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "hopper.jpg").write_bytes((faces_dir / "clean" / "mpl_grace_hopper.jpg").read_bytes())
    Image.fromarray(sample_face()).save(root / "sub" / "face.png")
    Image.new("RGB", (64, 48), (90, 120, 200)).save(root / "sub" / "deeper" / "flat.png")
    (root / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (root / "notes.txt").write_text("shoot notes")
    Image.new("RGB", (16, 16)).save(root / ".hidden" / "x.png")
    return root


def _files(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()
            and ".retouch-batch" not in p.parts}


def test_batch_keeps_tree_and_formats_logs_and_resumes(tree, tmp_path, capsys):
    out = tmp_path / "out"
    code = run(["batch", str(tree), str(out), "--workers", "2"])
    assert code == 1  # broken.jpg failed; everything else was done
    err = capsys.readouterr().err
    assert "5 files: 3 retouched, 1 skipped, 1 failed" in err and "ETA" in err
    assert _files(out) == {"hopper.jpg", "sub/face.png", "sub/deeper/flat.png"}
    assert Image.open(out / "hopper.jpg").format == "JPEG"
    assert Image.open(out / "sub" / "face.png").format == "PNG"
    assert Image.open(out / "hopper.jpg").size == (512, 600)
    # No face: the output is the input, byte for byte.
    assert (out / "sub/deeper/flat.png").read_bytes() == \
        (tree / "sub/deeper/flat.png").read_bytes()
    face_in = np.asarray(Image.open(tree / "sub" / "face.png"))
    face_out = np.asarray(Image.open(out / "sub" / "face.png"))
    assert np.any(face_in != face_out)
    log = read_log(out / ".retouch-batch" / "log.jsonl")
    assert [e["event"] for e in (log[0], log[-1])] == ["start", "summary"]
    files = {e["rel"]: e for e in log if e["event"] == "file"}
    assert set(files) == {"hopper.jpg", "sub/face.png", "sub/deeper/flat.png", "sub/broken.jpg",
                          "notes.txt"}
    assert files["sub/broken.jpg"]["status"] == "failed"
    assert "Truncated" in files["sub/broken.jpg"]["reason"]
    assert files["notes.txt"]["status"] == "skipped"
    assert files["sub/face.png"]["status"] == "ok" and files["sub/face.png"]["spots"] > 0
    assert files["sub/deeper/flat.png"]["copied"] is True
    assert len({files[r]["worker"] for r in ("hopper.jpg", "sub/face.png",
                                             "sub/deeper/flat.png")}) >= 1
    assert not list(out.rglob("*.tmp"))

    # Rerun: nothing to redo.
    mtime = (out / "hopper.jpg").stat().st_mtime_ns
    s = run_batch(tree, out, progress=False)
    assert (s.ok, s.skipped, s.failed) == (0, 4, 1)
    assert (out / "hopper.jpg").stat().st_mtime_ns == mtime
    # New settings redo the images; a changed file is redone alone.
    s = run_batch(tree, out, BatchSettings(strength=0.5), progress=False)
    assert (s.ok, s.skipped, s.failed) == (3, 1, 1)
    Image.new("RGB", (64, 48), (10, 20, 30)).save(tree / "sub" / "deeper" / "flat.png")
    try:
        s = run_batch(tree, out, BatchSettings(strength=0.5), progress=False)
        assert (s.ok, s.skipped, s.failed) == (1, 3, 1)
        assert (out / "sub/deeper/flat.png").read_bytes() == \
            (tree / "sub/deeper/flat.png").read_bytes()
    finally:
        Image.new("RGB", (64, 48), (90, 120, 200)).save(tree / "sub" / "deeper" / "flat.png")


def test_batch_killed_midway_loses_nothing_written(tree, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=SRC, GLOG_minloglevel="2")
    proc = subprocess.Popen([sys.executable, "-m", "retouch.cli", "batch", str(tree), str(out),
                             "-q"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = out / ".retouch-batch" / "log.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if log.exists() and '"status": "ok"' in log.read_text():
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_first = [e["rel"] for e in read_log(log) if e.get("status") == "ok"]
    assert done_first
    for rel in _files(out):  # whatever is there under a final name is complete
        Image.open(out / rel).load()
    s = run_batch(tree, out, progress=False)
    assert s.skipped >= len(done_first) + 1 and s.ok + s.skipped == 4 and s.failed == 1
    assert _files(out) == {"hopper.jpg", "sub/face.png", "sub/deeper/flat.png"}


def test_batch_errors(tree, tmp_path, capsys):
    assert run(["batch", str(tmp_path / "missing"), str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert run(["batch", str(tree), str(tree)]) == 3
    assert run(["batch", str(tree), str(tmp_path / "o"), "-i", "make me taller"]) == 2
    assert "could not understand" in capsys.readouterr().err
    assert run(["batch", str(tree), str(tmp_path / "o"), "--workers", "0"]) == 2
    with pytest.raises(InvalidInputError, match="strength"):
        BatchSettings(strength=2)
    with pytest.raises(InvalidInputError, match="replaces"):
        BatchSettings(instruction="remove the acne", strength=0.3)
    with pytest.raises(OutputError, match="inside the output"):
        run_batch(tree, tree.parent, progress=False)


def test_process_one_on_fsspec_urls():
    """The object-store path (fsspec URL, not a local file): download, retouch, upload."""
    import fsspec

    from retouch.sample import sample_face

    fs = fsspec.filesystem("memory")
    buf = io.BytesIO()
    Image.fromarray(sample_face()).save(buf, "PNG")
    fs.pipe("/bucket/in/a/face.png", buf.getvalue())
    job = FileJob("a/face.png", "memory://bucket/in/a/face.png", "memory://bucket/out/a/face.png",
                  "memory://bucket/out/.retouch-batch/done/x.json", BatchSettings())
    r = process_one(job)
    assert r.status == "ok" and r.spots > 0, r
    assert Image.open(io.BytesIO(fs.cat("/bucket/out/a/face.png"))).format == "PNG"
    assert json.loads(fs.cat("/bucket/out/.retouch-batch/done/x.json"))["sha256"] == r.sha256
    assert not [p for p in fs.find("/bucket/out") if p.endswith(".tmp")]
    assert process_one(job).status == "skipped"


def crash_on_crash_png(job: FileJob) -> FileResult:
    """A job function whose worker process dies on files named crash.png."""
    if job.rel.endswith("crash.png"):
        os._exit(3)
    return FileResult(job.rel, "ok", worker=str(os.getpid()))


def test_a_crashing_worker_fails_only_its_file(tmp_path):
    jobs = [FileJob(rel, str(tmp_path / rel), str(tmp_path / "o" / rel), "m", BatchSettings())
            for rel in ("a.png", "crash.png", "b.png", "c.png")]
    results = {r.rel: r for r in LocalExecutor(2, fn=crash_on_crash_png).run(jobs)}
    assert set(results) == {"a.png", "crash.png", "b.png", "c.png"}
    assert results["crash.png"].status == "failed"
    assert "crashed" in results["crash.png"].reason
    assert all(results[r].status == "ok" for r in ("a.png", "b.png", "c.png"))


def test_batch_on_a_local_dask_cluster(tree, tmp_path):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        code = run(["batch", str(tree), f"file://{out}", "--scheduler",
                    cluster.scheduler_address, "-q"])
    assert code == 1  # broken.jpg
    assert _files(out) == {"hopper.jpg", "sub/face.png", "sub/deeper/flat.png"}
    log = read_log(out / ".retouch-batch" / "log.jsonl")
    assert log[0]["executor"].startswith("Dask cluster at tcp://127.0.0.1:")
    summary = log[-1]
    assert (summary["ok"], summary["skipped"], summary["failed"]) == (3, 1, 1)
    workers = {e["worker"] for e in log if e.get("status") == "ok"}
    assert all(w.split(":")[-1] != str(os.getpid()) for w in workers)  # not in this process
