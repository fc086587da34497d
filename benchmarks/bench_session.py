"""Session memory and turn time: N turns on a 12 MP photo vs one single run.

    python benchmarks/bench_session.py            # 50 turns, 12 MP
    python benchmarks/bench_session.py --turns 10 --megapixels 3

Each mode runs in a fresh subprocess so peaks do not mix:

* ``single``: one default run, ``retouch(image)`` (what ``retouch in.jpg -o out.jpg``
  does: blemishes removed, dark circles and shine softened);
* ``session``: ``Session(image)`` then ``--turns`` requests (edits, relative
  changes, undo/redo, start over, show), cycling through a fixed script.

Reported: peak resident memory (``ru_maxrss``) and the peak of Python/numpy
allocations (``tracemalloc``), both with the decoded image counted, plus the
undo history size and the median turn time. The photo is a real 12 MP crop of
``../shared/faces/blemish/swati_freckles_darkspots.jpg`` when present, else the
generated sample face upscaled.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "faces" / "blemish" / "swati_freckles_darkspots.jpg"
SCRIPT = [
    "remove the acne on the forehead and chin but keep the freckles",
    "lighten the dark circles a little",
    "a bit more",
    "remove the biggest spot on my left cheek",
    "undo",
    "redo",
    "smooth my forehead a little",
    "only the chin",
    "undo",
    "show me what you found",
    "remove all blemishes except the moles",
    "start over",
    "undo",
]


def _photo(megapixels: float):
    import cv2
    import numpy as np

    if SHARED.exists():
        from PIL import Image

        from retouch.detect import get_detector

        img = np.asarray(Image.open(SHARED).convert("RGB"))
        H, W = img.shape[:2]
        h = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
        w = int(round(h * 3 / 4))
        h, w = min(h, H), min(w, W)
        # Centre the crop on the face (found on a reduced copy).
        small = np.ascontiguousarray(img[::4, ::4])
        fx, fy, fw, fh = get_detector().detect(small)[0].bbox_xywh
        cx, cy = 4 * (fx + fw / 2), 4 * (fy + fh / 2)
        x0 = int(np.clip(cx - w / 2, 0, W - w))
        y0 = int(np.clip(cy - h / 2, 0, H - h))
        return np.ascontiguousarray(img[y0:y0 + h, x0:x0 + w]), f"{SHARED.name} crop"
    from retouch.sample import sample_face

    img = sample_face()
    k = (megapixels * 1e6 / (img.shape[0] * img.shape[1])) ** 0.5
    return cv2.resize(img, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC), "sample x" + f"{k:.1f}"


def _child(mode: str, turns: int, megapixels: float) -> dict:
    import numpy as np

    img, what = _photo(megapixels)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    out: dict = {"mode": mode, "image": what, "shape": list(img.shape)}
    if mode == "single":
        from retouch import retouch

        res = retouch(img)
        out["found"] = {k: v["found"] for k, v in res.report["summary"].items() if v["found"]}
        del res
    else:
        from retouch import Session

        s = Session(img)
        times = []
        before_last = None
        for i in range(turns):
            text = SCRIPT[i % len(SCRIPT)]
            if i == turns - 1:
                before_last = s.image.copy()
            t = time.perf_counter()
            s.ask(text)
            times.append(time.perf_counter() - t)
        out["turn_ms_median"] = round(1000 * statistics.median(times), 1)
        out["turn_ms_max"] = round(1000 * max(times), 1)
        out["undo_history_bytes"] = s.memory_bytes
        out["undo_steps"] = len(s._undo) + len(s._redo)
        out["image_bytes"] = int(s.image.nbytes)
        out["pixels_changed_now"] = int(np.any(s.image != s.analysis.data.pixels, axis=2).sum())
        last_changed = not np.array_equal(s.image, before_last)
        s.undo()
        out["last_turn_changed"] = last_changed
        out["exact_undo"] = bool(np.array_equal(s.image, before_last))
        del before_last
    cur, peak = tracemalloc.get_traced_memory()
    out["traced_peak_mb"] = round((peak - base) / 2**20, 1)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    out["maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=50)
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--child", choices=("single", "session"), help=argparse.SUPPRESS)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.turns, args.megapixels)))
        return 0
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), GLOG_minloglevel="2")
    results = {}
    for mode in ("single", "session"):
        r = subprocess.run([sys.executable, __file__, "--child", mode, "--turns", str(args.turns),
                            "--megapixels", str(args.megapixels)], capture_output=True,
                           text=True, env=env, check=True)
        results[mode] = json.loads(r.stdout.strip().splitlines()[-1])
        print(json.dumps(results[mode]))
    s, m = results["single"], results["session"]
    print(f"\n{m['shape'][1]}x{m['shape'][0]} ({m['image']}): {args.turns} turns, median turn "
          f"{m['turn_ms_median']:.0f} ms; peak RSS session/single = {m['maxrss_mb']:.0f}/"
          f"{s['maxrss_mb']:.0f} MB = {m['maxrss_mb'] / s['maxrss_mb']:.2f}x; traced peak "
          f"{m['traced_peak_mb']:.0f}/{s['traced_peak_mb']:.0f} MB = "
          f"{m['traced_peak_mb'] / s['traced_peak_mb']:.2f}x; undo history "
          f"{m['undo_history_bytes'] / 2**20:.1f} MB for {m['undo_steps']} steps")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
