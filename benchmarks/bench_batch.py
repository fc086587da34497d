"""Batch throughput: images/s with 1 and 2 local workers and a local Dask cluster.

    python benchmarks/bench_batch.py [--faces ../shared/faces] [--out bench_out/batch]
        [--dask-workers 2] [--json results.json]

Every run retouches the same input tree (default: every photo of the shared
test set, recursively) into a fresh output folder, so nothing is skipped.
Reported per run: wall time (worker start-up and model loading included),
images/s, and the peak resident memory of each worker process (the largest and
the mean), read by each worker from ``getrusage`` after every file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from retouch.batch import BatchSettings, run_batch  # noqa: E402


def _run(name: str, src: Path, out: Path, **kw) -> dict:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    t0 = time.perf_counter()
    s = run_batch(src, out, BatchSettings(), progress=False, **kw)
    wall = time.perf_counter() - t0
    peaks = list(s.worker_peak_rss_mb.values())
    row = {"run": name, "images": s.ok, "failed": s.failed, "wall_s": round(wall, 2),
           "images_per_s": round(s.ok / wall, 3),
           "worker_processes": len(peaks),
           "peak_rss_mb_max": round(max(peaks), 1) if peaks else None,
           "peak_rss_mb_mean": round(sum(peaks) / len(peaks), 1) if peaks else None}
    print(f"{name:>22}: {s.ok} images in {wall:6.1f} s = {row['images_per_s']:.3f} images/s; "
          f"peak RSS per worker max {row['peak_rss_mb_max']} MiB, mean "
          f"{row['peak_rss_mb_mean']} MiB ({len(peaks)} workers), failed {s.failed}",
          flush=True)
    return row


def main() -> int:
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=Path, default=Path(os.environ.get(
        "RETOUCH_FACES", here.parent / "shared" / "faces")))
    ap.add_argument("--out", type=Path, default=here / "bench_out" / "batch")
    ap.add_argument("--dask-workers", type=int, default=2)
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    if not args.faces.is_dir():
        print(f"shared photos not found at {args.faces}", file=sys.stderr)
        return 2
    n = sum(1 for p in args.faces.rglob("*") if p.suffix.lower() in
            (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"))
    print(f"input: {args.faces} ({n} photos), {os.cpu_count()} CPUs", flush=True)
    rows = [_run("1 local worker", args.faces, args.out / "w1", workers=1),
            _run("2 local workers", args.faces, args.out / "w2", workers=2)]
    if not args.skip_dask:
        from distributed import LocalCluster

        with LocalCluster(n_workers=args.dask_workers, threads_per_worker=1, processes=True,
                          dashboard_address=None, host="127.0.0.1") as cluster:
            rows.append(_run(f"Dask LocalCluster x{args.dask_workers}", args.faces,
                             args.out / "dask", scheduler=cluster.scheduler_address))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
