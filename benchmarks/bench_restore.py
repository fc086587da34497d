#!/usr/bin/env python
"""Benchmark blind face restoration on synthetically degraded real faces.

For every photo in ``FACES/clean`` and every level of
:data:`retouch.degrade.LEVELS` (``mild`` / ``medium`` / ``severe``, fixed seed
per photo and level), the whole photo is degraded with
:func:`retouch.degrade.apply_degradation` and saved to 8 bits, then
:func:`retouch.restore.restore` runs on it (detecting faces itself, as a user's
call would). The face of the *clean* photo defines the evaluation window: its
canonical crop (:func:`retouch.align.warp_to_crop`) is cut from the clean, the
degraded and the restored image, and compared:

* PSNR (dB, RGB) and SSIM (luma, Gaussian window sigma 1.5, standard constants)
  of the degraded input and of the restored output against the clean face;
* identity distance (Euclidean distance of dlib's 128-D face descriptors to the
  clean face's; lower is more similar, 0.6 is dlib's same-person threshold),
  when ``dlib`` and ``face_recognition_models`` can be imported (put them on
  ``RETOUCH_ID_PATH`` if they live outside the environment). A single descriptor
  moves by up to 0.024 when the input changes by +-1 code value; ``--id-jitters N``
  averages each over N randomly jittered crops (dlib's ``num_jitters``; steadier,
  but not repeatable: two identical images then read up to ~0.002 apart). The
  default 0 is one plain, repeatable crop. Two readings are reported: with
  dlib's 68 landmarks found on each image itself (``id_dist_*``, what a user of
  dlib would get) and with the clean face's landmarks reused for the degraded
  and the restored image (``id_dist_*_fixed``). Restoration filters pixels and
  moves no feature, so the second compares appearance only; the first adds the
  landmark detector's jitter on a blurred face (on ``fr_biden2`` mild it alone
  moves the distance by +0.023 where the fixed reading moves -0.001);
* the restore time per face (the report's ``time_ms``) and the face size.

Usage::

    python benchmarks/bench_restore.py [--faces ../shared/faces] [--levels mild medium]
        [--fidelity 0.5] [--json out.json] [--save-crops /tmp/restore_crops] [--id-jitters 0]

The photos are test data: they are read at run time and never copied.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO / "src"))

from retouch.align import align_face, warp_to_crop  # noqa: E402
from retouch.degrade import LEVELS, apply_degradation  # noqa: E402
from retouch.detect import get_detector  # noqa: E402
from retouch.imageio import load_image  # noqa: E402
from retouch.restore import restore  # noqa: E402

DEFAULT_FACES = Path(os.environ.get("RETOUCH_FACES", REPO.parent / "shared" / "faces"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two float images in [0, 1]."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10.0 * np.log10(1.0 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of the luma of two float RGB images in [0, 1] (Wang et al. 2004)."""
    ya = cv2.cvtColor(a.astype(np.float32), cv2.COLOR_RGB2GRAY).astype(np.float64)
    yb = cv2.cvtColor(b.astype(np.float32), cv2.COLOR_RGB2GRAY).astype(np.float64)
    c1, c2 = (0.01) ** 2, (0.03) ** 2

    def g(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    ma, mb = g(ya), g(yb)
    va, vb, cov = g(ya * ya) - ma * ma, g(yb * yb) - mb * mb, g(ya * yb) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return float(s[5:-5, 5:-5].mean())


class Identity:
    """dlib 128-D descriptors on a known face box (no detection: the box is given)."""

    def __init__(self) -> None:
        extra = os.environ.get("RETOUCH_ID_PATH")
        if extra and extra not in sys.path:
            sys.path.append(extra)
        import dlib
        import face_recognition_models as frm

        self._dlib = dlib
        self._shape = dlib.shape_predictor(frm.pose_predictor_model_location())
        self._net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

    jitters = 0

    def landmarks(self, rgb8: np.ndarray, box_xywh: tuple[float, ...]) -> Any:
        """dlib's 68-point shape of the face in ``box_xywh`` (x, y, w, h; image px)."""
        x, y, w, h = (int(round(v)) for v in box_xywh)
        rect = self._dlib.rectangle(x, y, x + w, y + h)
        return self._shape(np.ascontiguousarray(rgb8), rect)

    def descriptor(self, rgb8: np.ndarray, box_xywh: tuple[float, ...],
                   shape: Any = None) -> np.ndarray:
        """128-D descriptor; aligned by ``shape`` if given, else by landmarks found
        on ``rgb8`` itself."""
        if shape is None:
            shape = self.landmarks(rgb8, box_xywh)
        return np.array(self._net.compute_face_descriptor(np.ascontiguousarray(rgb8), shape,
                                                          self.jitters))


def _identity() -> Identity | None:
    try:
        return Identity()
    except Exception as exc:  # optional: the benchmark still runs without it
        print(f"identity metric off ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None


def run(faces: Path, levels: list[str], fidelity: float, save_crops: Path | None,
        id_jitters: int = 0) -> dict[str, Any]:
    """Run the benchmark; returns per-image rows and per-level means."""
    ident = _identity()
    if ident is not None:
        ident.jitters = int(id_jitters)
    detector = get_detector()
    rows: list[dict[str, Any]] = []
    for path in sorted((faces / "clean").iterdir()):
        if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            continue
        clean = load_image(path)
        px = clean.pixels if clean.pixels.dtype == np.uint8 else (clean.pixels >> 8).astype(
            np.uint8)
        found = [f for f in detector.detect(px) if f.skip_reason is None]
        if not found:
            print(f"{path.name}: no face in the clean photo, skipped", file=sys.stderr)
            continue
        face = max(found, key=lambda f: f.bbox_xywh[2] * f.bbox_xywh[3])
        al = align_face(face)
        clean01 = px.astype(np.float32) / 255.0
        c_crop = warp_to_crop(clean01, al)
        shape = ident.landmarks(px, face.bbox_xywh) if ident else None
        d_clean = ident.descriptor(px, face.bbox_xywh, shape) if ident else None
        for level in levels:
            seed = zlib.crc32(f"{path.name}:{level}".encode())
            deg8 = np.clip(np.rint(apply_degradation(px, LEVELS[level], seed=seed) * 255),
                           0, 255).astype(np.uint8)
            data = load_image(deg8)
            t0 = time.perf_counter()
            res = restore(data, fidelity)
            wall = time.perf_counter() - t0
            deg01 = deg8.astype(np.float32) / 255.0
            out01 = res.image.astype(np.float32) / 255.0
            d_crop, o_crop = warp_to_crop(deg01, al), warp_to_crop(out01, al)
            rep_faces = res.report["faces"]
            row: dict[str, Any] = {
                "image": path.name, "level": level, "face_px": round(al.size / al.scale, 1),
                "faces_found": len(rep_faces),
                "steps": sorted({s["step"] for f in rep_faces for s in f["steps"]}),
                "psnr_in": psnr(d_crop, c_crop), "psnr_out": psnr(o_crop, c_crop),
                "ssim_in": ssim(d_crop, c_crop), "ssim_out": ssim(o_crop, c_crop),
                "face_ms": sum(f.get("time_ms", 0.0) for f in rep_faces),
                "wall_ms": wall * 1000.0,
            }
            if ident is not None and d_clean is not None:
                row["id_dist_in"] = float(np.linalg.norm(ident.descriptor(deg8, face.bbox_xywh)
                                                         - d_clean))
                row["id_dist_out"] = float(np.linalg.norm(
                    ident.descriptor(res.image, face.bbox_xywh) - d_clean))
                for key, img in (("id_dist_in_fixed", deg8), ("id_dist_out_fixed", res.image)):
                    row[key] = float(np.linalg.norm(
                        ident.descriptor(img, face.bbox_xywh, shape) - d_clean))
            rows.append(row)
            print(_fmt_row(row), flush=True)
            if save_crops is not None:
                save_crops.mkdir(parents=True, exist_ok=True)
                strip = np.hstack([c_crop, d_crop, o_crop])
                cv2.imwrite(str(save_crops / f"{path.stem}_{level}.png"),
                            cv2.cvtColor(np.rint(strip * 255).astype(np.uint8),
                                         cv2.COLOR_RGB2BGR))
    return {"fidelity": fidelity, "rows": rows, "summary": summarize(rows, levels)}


def _fmt_row(r: dict[str, Any]) -> str:
    s = (f"{r['image'][:28]:28s} {r['level']:7s} PSNR {r['psnr_in']:6.2f} -> {r['psnr_out']:6.2f}"
         f"  SSIM {r['ssim_in']:.4f} -> {r['ssim_out']:.4f}")
    if "id_dist_in" in r:
        s += (f"  ID dist {r['id_dist_in']:.3f} -> {r['id_dist_out']:.3f}"
              f" (fixed {r['id_dist_in_fixed']:.3f} -> {r['id_dist_out_fixed']:.3f})")
    return s + f"  {r['face_ms']:.0f} ms/face ({r['face_px']:.0f} px)  {','.join(r['steps'])}"


def summarize(rows: list[dict[str, Any]], levels: list[str]) -> dict[str, Any]:
    """Per-level means and worst cases."""
    out = {}
    for lv in levels:
        rs = [r for r in rows if r["level"] == lv]
        if not rs:
            continue
        m = {k: float(np.mean([r[k] for r in rs])) for k in
             ("psnr_in", "psnr_out", "ssim_in", "ssim_out", "face_ms")}
        m["n"] = len(rs)
        m["psnr_worst_gain"] = float(min(r["psnr_out"] - r["psnr_in"] for r in rs))
        m["ssim_worst_gain"] = float(min(r["ssim_out"] - r["ssim_in"] for r in rs))
        if all("id_dist_in" in r for r in rs):
            m["id_dist_in"] = float(np.mean([r["id_dist_in"] for r in rs]))
            m["id_dist_out"] = float(np.mean([r["id_dist_out"] for r in rs]))
            m["id_worst_change"] = float(max(r["id_dist_out"] - r["id_dist_in"] for r in rs))
            m["id_worse"] = sum(r["id_dist_out"] > r["id_dist_in"] for r in rs)
            for k in ("id_dist_in_fixed", "id_dist_out_fixed"):
                m[k] = float(np.mean([r[k] for r in rs]))
            m["id_worst_change_fixed"] = float(max(
                r["id_dist_out_fixed"] - r["id_dist_in_fixed"] for r in rs))
            m["id_worse_fixed"] = sum(r["id_dist_out_fixed"] > r["id_dist_in_fixed"] for r in rs)
        out[lv] = m
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--faces", type=Path, default=DEFAULT_FACES)
    ap.add_argument("--levels", nargs="+", default=list(LEVELS), choices=list(LEVELS))
    ap.add_argument("--fidelity", type=float, default=0.5)
    ap.add_argument("--json", type=Path, help="write rows and summary here")
    ap.add_argument("--save-crops", type=Path, help="write clean|degraded|restored crops here")
    ap.add_argument("--id-jitters", type=int, default=0,
                    help="identity descriptors averaged over this many jittered crops "
                         "(0: one plain crop)")
    args = ap.parse_args(argv)
    os.environ.setdefault("GLOG_minloglevel", "2")
    result = run(args.faces, args.levels, args.fidelity, args.save_crops, args.id_jitters)
    result["id_jitters"] = args.id_jitters
    print("\nlevel    n  PSNR in -> out (worst gain)   SSIM in -> out (worst gain)   "
          "ID dist in -> out (worst change, # worse); own | clean landmarks  ms/face")
    for lv, m in result["summary"].items():
        idp = (f"{m['id_dist_in']:.3f} -> {m['id_dist_out']:.3f} ({m['id_worst_change']:+.3f}, "
               f"{m['id_worse']}) | {m['id_dist_in_fixed']:.3f} -> {m['id_dist_out_fixed']:.3f} "
               f"({m['id_worst_change_fixed']:+.3f}, {m['id_worse_fixed']})"
               if "id_dist_in" in m else "n/a")
        print(f"{lv:7s} {m['n']:2d}  {m['psnr_in']:.2f} -> {m['psnr_out']:.2f} "
              f"({m['psnr_worst_gain']:+.2f})   {m['ssim_in']:.4f} -> {m['ssim_out']:.4f} "
              f"({m['ssim_worst_gain']:+.4f})   {idp}   {m['face_ms']:.0f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
