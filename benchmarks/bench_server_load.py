"""Bounded load test of ``retouch serve``: N concurrent uploads of a downscaled photo.

    python benchmarks/bench_server_load.py [--concurrency 20 50] [--workers 2]
        [--long-side 1024] [--json bench_out/server_load.json]

``--long-side 4243`` sends ~12 MP photos (the base photo is enlarged).

Starts a real server (uvicorn on 127.0.0.1, ``tests/_serving.py``), sends
``--concurrency`` uploads to ``POST /v1/retouch`` at once (one thread each), and
checks that every answer is 200 or a clean 429/503 (a JSON ``detail``). Reports
per burst: counts by status, latency p50/p95/max of the 200s, wall time, and the
server's memory (resident set of the server process plus its workers: the peak
sampled every 50 ms during the burst, and each worker's ``VmHWM``). Exit 1 if any
answer is something else (a 500, a transport error, a non-JSON error body).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
from _hostile import base_images, encode  # noqa: E402
from _serving import PIDS, running_server  # noqa: E402


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _burst(base: str, data: bytes, n: int) -> dict:
    pid = PIDS[base]
    results: list[tuple[int, float, bool]] = []
    lock = threading.Lock()
    go = threading.Event()

    def one() -> None:
        go.wait()
        t0 = time.perf_counter()
        try:
            r = httpx.post(base + "/v1/retouch?response=image",
                           files={"image": ("photo.jpg", data, "image/jpeg")}, timeout=300)
            code = r.status_code
            clean = code == 200 or (code in (429, 503) and set(r.json()) == {"detail"})
        except (httpx.TransportError, ValueError):
            code, clean = -1, False
        with lock:
            results.append((code, time.perf_counter() - t0, clean))

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    peak_rss = 0
    t0 = time.perf_counter()
    go.set()
    while any(t.is_alive() for t in threads):
        peak_rss = max(peak_rss, sum(_status_kb(p, "VmRSS") for p in _tree(pid)))
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    ok = sorted(s for c, s, _ in results if c == 200)

    def pct(q: float) -> float | None:
        return round(ok[min(len(ok) - 1, int(q * len(ok)))], 3) if ok else None

    counts: dict[str, int] = {}
    for c, _, _ in results:
        counts[str(c)] = counts.get(str(c), 0) + 1
    return {"concurrency": n, "statuses": counts, "clean": all(c for _, _, c in results),
            "latency_s": {"p50": pct(0.5), "p95": pct(0.95), "max": ok[-1] if ok else None},
            "wall_s": round(wall, 2),
            "server_rss_mb_peak": round(peak_rss / 1024, 1),
            "worker_vmhwm_mb": [round(_status_kb(p, "VmHWM") / 1024, 1)
                                for p in _tree(pid)[1:] if _status_kb(p, "VmHWM") > 100_000]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", type=int, nargs="+", default=[20, 50])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--long-side", type=int, default=1024)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    rgb = base_images(args.long_side)[0]
    if max(rgb.shape[:2]) < args.long_side:  # e.g. 4243 for a 12 MP upload: enlarge
        import cv2

        f = args.long_side / max(rgb.shape[:2])
        rgb = cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
    data = encode(rgb, "JPEG", quality=90)
    rows = []
    with running_server("--workers", str(args.workers)) as base:
        httpx.post(base + "/v1/retouch", files={"image": ("w.jpg", data)}, timeout=120)  # warm
        for n in args.concurrency:
            row = _burst(base, data, n)
            row.update(workers=args.workers, upload_bytes=len(data),
                       size=f"{rgb.shape[1]}x{rgb.shape[0]}")
            rows.append(row)
            print(json.dumps(row))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r["clean"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
