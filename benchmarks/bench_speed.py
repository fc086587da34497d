"""Speed and memory of the core pipeline on 2 CPU cores.

    python benchmarks/bench_speed.py [--faces ../shared/faces] [--repeat 3]

Measures (median of --repeat runs, models already loaded; glibc's allocator tuned as
the ``retouch`` command does, unless ``--no-tune``):
* an aligned 1024x1024 face (FFHQR source): per-stage and total time;
* a 12 MP photo with one face (the 18 MP freckles portrait resized to 4000x3000 area);
* peak resident memory for a 24 MP photo (same portrait upscaled to ~6000x4000),
  measured in a child process with resource.getrusage.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _load(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


def _resize_to(img: np.ndarray, megapixels: float) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    s = (megapixels * 1e6 / (h * w)) ** 0.5
    return cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_CUBIC)


def _time(fn, repeat: int) -> tuple[float, dict]:
    times, rep = [], {}
    for _ in range(repeat):
        t = time.perf_counter()
        rep = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), rep


def _peak_child(img_path: str, mp: float, tune: bool) -> float:
    code = (
        "import resource, numpy as np; from PIL import Image; import sys;"
        + ("from retouch import tune_allocator; tune_allocator();" if tune else "") +
        f"sys.path.insert(0, {str(Path(__file__).parent)!r}); from bench_speed import _resize_to;"
        "from retouch import retouch;"
        f"img = _resize_to(np.asarray(Image.open({img_path!r}).convert('RGB')), {mp:f});"
        "r = retouch(img);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", default=str(Path(__file__).resolve().parents[2] / "shared/faces"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json")
    ap.add_argument("--no-tune", action="store_true",
                    help="leave glibc's allocator at its defaults (the CLI tunes it; "
                         "see retouch.runtime)")
    a = ap.parse_args()
    faces = Path(a.faces)
    if not faces.is_dir():
        print(f"shared photos not found at {faces}", file=sys.stderr)
        return 2
    from retouch import retouch, tune_allocator

    tuned = False if a.no_tune else tune_allocator()
    res: dict = {"cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
                 "allocator_tuned": tuned}
    ffhq = _load(faces / "pairs/ffhqr_00000_source.png")
    retouch(ffhq)  # load models
    ms, rep = _time(lambda: retouch(ffhq).report, a.repeat)
    t = rep["timings_ms"]
    res["aligned_1024"] = {"total_ms": round(ms, 1),
                           "face_ms (align+parse+localize+synthesize)": round(
                               t["align"] + t["parse"] + t["localize"] + t["synthesize"], 1),
                           "stages_ms": t}
    portrait = faces / "blemish/swati_freckles_darkspots.jpg"
    img12 = _resize_to(_load(portrait), 12.0)
    ms, rep = _time(lambda: retouch(img12).report, a.repeat)
    res["photo_12mp"] = {"size": list(img12.shape[1::-1]), "total_ms": round(ms, 1),
                         "stages_ms": rep["timings_ms"]}
    res["peak_rss_mb_24mp"] = round(_peak_child(str(portrait), 24.0, tuned), 1)
    print(json.dumps(res, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
