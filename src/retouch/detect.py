"""Stage 2: find every face and its dense 478-point landmark mesh.

Detection runs on a downscaled copy of the photo (long side
:data:`DETECT_LONG_SIDE`), with both of MediaPipe's BlazeFace models (short and
full range) plus overlapping tiles so that faces from ~40 px to filling the
frame are found. Each detection is then refined by running the face mesh
(with iris refinement, 478 points) on an upright square crop around it, taken
from the full-resolution image; landmarks come back in full-resolution pixels.

The detector sits behind the small :class:`FaceDetector` protocol so other
backends can be added; :func:`get_detector` returns the default one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from .errors import MissingDependencyError
from .types import Face

#: Long side (px) of the copy the face detector sees.
DETECT_LONG_SIDE = 1024
#: Side (px) of the crop given to the mesh model.
MESH_CROP_SIDE = 384
#: Faces turned further than this (degrees) are reported but not retouched.
MAX_YAW_DEG = 65.0
#: Faces smaller than this (detector box width, px) are reported but skipped.
MIN_FACE_PX = 24.0
#: Side (px, in the detection copy) of the fine tiles used for group photos and crowds.
FINE_TILE_SIDE = 384
#: A photo where the whole-image pass finds a face at least this fraction of its short
#: side is a portrait: the zoomed corner tiles (which find faces under ~1/10 of the
#: image) are skipped. A tiny background face beside a close-up is then not looked for.
PORTRAIT_FACE_FRACTION = 0.4

_MP_INSTALL_HINT = (
    "mediapipe 0.10.21 is required for face detection: "
    "pip install --no-deps mediapipe==0.10.21 (see README, Install)"
)


class FaceDetector(Protocol):
    """Anything that finds faces with 478-point landmarks in an RGB uint8 image."""

    def detect(self, image: np.ndarray) -> list[Face]:
        """Return faces of ``image`` ((H, W, 3) uint8 RGB), largest first."""
        ...


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    w: float
    h: float
    score: float

    @property
    def area(self) -> float:
        return self.w * self.h


def _iou(a: _Box, b: _Box) -> float:
    ix = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def _nms(boxes: Sequence[_Box], iou_thr: float = 0.3) -> list[_Box]:
    kept: list[_Box] = []
    for b in sorted(boxes, key=lambda b: -b.score):
        # Also drop boxes mostly contained in a kept one (tile fragments).
        if all(_iou(b, k) < iou_thr and _contained(b, k) < 0.6 for k in kept):
            kept.append(b)
    return kept


def _contained(a: _Box, b: _Box) -> float:
    """Fraction of the smaller box that lies inside the other."""
    ix = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    small = min(a.area, b.area)
    return ix * iy / small if small > 0 else 0.0


def estimate_yaw_deg(landmarks_xy: np.ndarray, landmarks_z: np.ndarray) -> float:
    """Estimate head yaw from the mesh.

    The line between the two cheek extremes (points 234: subject's right,
    454: subject's left) is measured in the x-z plane of the mesh (z has the
    scale of x). Returns degrees; 0 is frontal, positive means the subject's
    left cheek is further from the camera than the right one.
    """
    dx = float(landmarks_xy[454, 0] - landmarks_xy[234, 0])
    dy = float(landmarks_xy[454, 1] - landmarks_xy[234, 1])
    dz = float(landmarks_z[454] - landmarks_z[234])
    return float(np.degrees(np.arctan2(dz, np.hypot(dx, dy))))


class MediaPipeDetector:
    """Default detector: MediaPipe BlazeFace (short + full range) and Face Mesh.

    Args:
        min_score: minimum detector confidence in ``[0, 1]``.
        max_faces: at most this many faces (largest first).
    """

    def __init__(self, *, min_score: float = 0.5, max_faces: int = 64) -> None:
        try:
            from mediapipe.python.solutions import face_detection, face_mesh
        except ImportError as exc:  # pragma: no cover - depends on install
            raise MissingDependencyError(_MP_INSTALL_HINT) from exc
        self.min_score = float(min_score)
        self.max_faces = int(max_faces)
        self._lock = threading.Lock()
        self._short = face_detection.FaceDetection(
            model_selection=0, min_detection_confidence=self.min_score
        )
        self._full = face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=self.min_score
        )
        self._mesh = face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=0.3,
        )

    # -- detection boxes ------------------------------------------------------
    def _run_box_model(self, model, img: np.ndarray, ox: float, oy: float, s: float) -> list[_Box]:
        res = model.process(img)
        out: list[_Box] = []
        h, w = img.shape[:2]
        for det in res.detections or []:
            bb = det.location_data.relative_bounding_box
            score = float(det.score[0]) if det.score else 0.0
            out.append(
                _Box(
                    (ox + bb.xmin * w) / s,
                    (oy + bb.ymin * h) / s,
                    bb.width * w / s,
                    bb.height * h / s,
                    min(1.0, max(0.0, score)),
                )
            )
        return out

    def detect_boxes(self, image: np.ndarray) -> list[_Box]:
        """Face boxes in full-resolution pixels, after non-maximum suppression."""
        h, w = image.shape[:2]
        s = min(1.0, DETECT_LONG_SIDE / max(h, w))
        small = (
            cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))),
                       interpolation=cv2.INTER_AREA)
            if s < 1.0
            else image
        )
        small = np.ascontiguousarray(small)
        sh, sw = small.shape[:2]
        boxes: list[_Box] = []
        with self._lock:
            boxes += self._run_box_model(self._short, small, 0, 0, s)
            boxes += self._run_box_model(self._full, small, 0, 0, s)
            # Overlapping tiles find small faces in full-body and group shots.
            portrait = any(max(b.w, b.h) * s >= PORTRAIT_FACE_FRACTION * min(sh, sw)
                           for b in boxes)
            if max(sh, sw) >= 480 and not portrait:
                th, tw = int(sh * 0.6), int(sw * 0.6)
                for ty in (0, sh - th):
                    for tx in (0, sw - tw):
                        tile = np.ascontiguousarray(small[ty : ty + th, tx : tx + tw])
                        boxes += self._run_box_model(self._full, tile, tx, ty, s)
            # Group photos and crowds: a finer grid of tiles, where the faces found so
            # far are small (others as small may have been missed) or none was found.
            # The tile side is ~6 face widths of the smallest face found (192..384 px).
            found = [max(b.w, b.h) * s for b in boxes if b.w > 0 and b.h > 0]
            side = FINE_TILE_SIDE
            if found:
                side = int(np.clip(6 * min(found), 192, FINE_TILE_SIDE))
            if max(sh, sw) > side and (not found or min(found) < FINE_TILE_SIDE / 3):
                for ty, tx in _grid_origins(sh, sw, side):
                    tile = np.ascontiguousarray(small[ty : ty + side, tx : tx + side])
                    boxes += self._run_box_model(self._full, tile, tx, ty, s)
        boxes = [b for b in boxes if b.w > 0 and b.h > 0]
        return _nms(boxes)

    # -- landmarks ------------------------------------------------------------
    def _mesh_on_crop(self, image: np.ndarray, box: _Box) -> tuple[np.ndarray, np.ndarray] | None:
        side = max(8, round(2.2 * max(box.w, box.h)))
        x0 = round(box.x + box.w / 2 - side / 2)
        y0 = round(box.y + box.h / 2 - side / 2)
        crop = _padded_crop(image, x0, y0, side)
        interp = cv2.INTER_AREA if side > MESH_CROP_SIDE else cv2.INTER_LINEAR
        crop = cv2.resize(crop, (MESH_CROP_SIDE, MESH_CROP_SIDE), interpolation=interp)
        with self._lock:
            res = self._mesh.process(np.ascontiguousarray(crop))
        if not res.multi_face_landmarks:
            return None
        lm = res.multi_face_landmarks[0].landmark
        pts = np.array([(p.x, p.y, p.z) for p in lm], dtype=np.float64)
        if pts.shape[0] != 478:
            return None
        # Normalized crop coordinates -> crop pixels -> image pixels (pixel centres).
        k = side / MESH_CROP_SIDE
        xy = (pts[:, :2] * MESH_CROP_SIDE - 0.5) * k + 0.5 + np.array([x0, y0]) - 0.5
        z = pts[:, 2] * side
        return xy.astype(np.float32), z.astype(np.float32)

    def detect(self, image: np.ndarray) -> list[Face]:
        """Find every face of ``image`` ((H, W, 3) uint8 RGB).

        Returns faces sorted by box area, largest first; faces whose mesh failed,
        that are too small or turned too far carry a ``skip_reason``.
        """
        boxes = sorted(self.detect_boxes(image), key=lambda b: -b.area)[: self.max_faces]
        faces: list[Face] = []
        for i, b in enumerate(boxes):
            bbox = (float(b.x), float(b.y), float(b.w), float(b.h))
            if max(b.w, b.h) < MIN_FACE_PX:
                size = max(b.w, b.h)
                faces.append(Face(i, bbox, b.score, None, None, 0.0,
                                  f"face too small ({size:.1f} px < {MIN_FACE_PX:.0f} px)"))
                continue
            mesh = self._mesh_on_crop(image, b)
            if mesh is None:
                faces.append(Face(i, bbox, b.score, None, None, 0.0,
                                  "landmark mesh failed (profile, occlusion or not a face)"))
                continue
            xy, z = mesh
            # Reject a mesh that landed on another face / nothing near the box.
            mc = xy.mean(axis=0)
            if not (b.x - 0.5 * b.w <= mc[0] <= b.x + 1.5 * b.w
                    and b.y - 0.5 * b.h <= mc[1] <= b.y + 1.5 * b.h):
                faces.append(Face(i, bbox, b.score, None, None, 0.0,
                                  "landmark mesh did not match the detected face"))
                continue
            yaw = estimate_yaw_deg(xy, z)
            reason = None
            if abs(yaw) > MAX_YAW_DEG:
                reason = f"face turned too far to retouch safely (yaw {yaw:.0f} deg)"
            faces.append(Face(i, bbox, b.score, xy, z, yaw, reason))
        return _dedupe_meshes(faces)


def _dedupe_meshes(faces: list[Face]) -> list[Face]:
    """Drop faces whose mesh duplicates an earlier face's mesh (same person twice)."""
    out: list[Face] = []
    for f in faces:
        dup = False
        if f.landmarks_xy is not None:
            for g in out:
                if g.landmarks_xy is None:
                    continue
                iod = np.linalg.norm(g.landmarks_xy[468] - g.landmarks_xy[473]) + 1e-6
                if np.linalg.norm(f.landmarks_xy[1] - g.landmarks_xy[1]) < 0.5 * iod:
                    dup = True
                    break
        if not dup:
            out.append(Face(len(out), f.bbox_xywh, f.score, f.landmarks_xy, f.landmarks_z,
                            f.yaw_deg, f.skip_reason))
    return out


_DEFAULT: MediaPipeDetector | None = None
_DEFAULT_LOCK = threading.Lock()


def get_detector() -> MediaPipeDetector:
    """The process-wide default detector (models are loaded once)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = MediaPipeDetector()
        return _DEFAULT


def detect_faces(image: np.ndarray, detector: FaceDetector | None = None) -> list[Face]:
    """Detect faces in ``image`` ((H, W, 3) uint8 RGB, full resolution)."""
    return (detector or get_detector()).detect(image)


def _grid_origins(h: int, w: int, side: int, overlap: float = 0.25) -> list[tuple[int, int]]:
    """Top-left corners ``(y, x)`` of ``side``-pixel tiles covering ``h x w`` with overlap."""
    def starts(n: int) -> list[int]:
        if n <= side:
            return [0]
        step = max(1, int(side * (1.0 - overlap)))
        out = list(range(0, n - side, step))
        return out + [n - side]
    return [(y, x) for y in starts(h) for x in starts(w)]


def _padded_crop(image: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """``image[y0:y0+side, x0:x0+side]`` with zero padding where it leaves the image."""
    h, w = image.shape[:2]
    out = np.zeros((side, side) + image.shape[2:], dtype=image.dtype)
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(w, x0 + side), min(h, y0 + side)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out
