"""Stage 3: align a face to an upright square canonical crop, and map back.

The crop is defined by a similarity transform (rotation, uniform scale,
translation) computed from the two iris centres of the mesh:

* the eye midpoint lands at ``(0.5 * size, 0.40 * size)``,
* the inter-ocular distance becomes ``0.25 * size`` pixels,
* the eye line is horizontal.

``size`` follows the face's own resolution (``4 x`` its inter-ocular distance
in image pixels), clipped to ``[MIN_CROP, MAX_CROP]`` so work on a huge face
stays bounded and a tiny face still gets enough pixels to parse.

Pixels are never resampled twice: the crop is used to *measure* (parse,
localize); edits are applied at full resolution in image coordinates, with
masks mapped back through :meth:`Alignment.inverse` (see ``pasteback``).
"""

from __future__ import annotations

import cv2
import numpy as np

from .types import Alignment, Face

#: Smallest and largest canonical crop side in pixels.
MIN_CROP = 256
MAX_CROP = 640
#: Mesh indices of the iris centres (subject's right, subject's left).
RIGHT_IRIS, LEFT_IRIS = 468, 473


def eye_centres(landmarks_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Subject's right and left eye centres ``(x, y)`` from a 478-point mesh."""
    return landmarks_xy[RIGHT_IRIS].astype(np.float64), landmarks_xy[LEFT_IRIS].astype(np.float64)


def interocular_px(face: Face) -> float:
    """Distance between the iris centres in image pixels."""
    if face.landmarks_xy is None:
        raise ValueError(f"face {face.index} has no landmarks")
    r_eye, l_eye = eye_centres(face.landmarks_xy)
    return float(np.linalg.norm(l_eye - r_eye))


def eye_similarity(face: Face, size: int | None, iod_frac: float, eye_xy_frac: tuple[float, float],
                   *, min_crop: int = MIN_CROP, max_crop: int = MAX_CROP) -> Alignment:
    """Similarity transform putting ``face``'s eyes level, ``iod_frac * size`` apart,
    their midpoint at ``eye_xy_frac * size`` (fractions of the crop side).

    ``size`` ``None`` picks the side from the face: 4x the inter-ocular distance,
    clipped to ``[min_crop, max_crop]`` (the core's canonical crop).

    Raises:
        ValueError: the face has no landmarks or its eyes coincide.
    """
    if face.landmarks_xy is None:
        raise ValueError(f"face {face.index} has no landmarks to align")
    r, left = eye_centres(face.landmarks_xy)
    d = left - r
    iod = float(np.hypot(*d))
    if iod < 1e-3:
        raise ValueError(f"face {face.index}: degenerate eye positions")
    if size is None:
        size = int(np.clip(round(4.0 * iod), min_crop, max_crop))
    scale = iod_frac * size / iod
    ang = np.arctan2(d[1], d[0])
    c, s = np.cos(-ang) * scale, np.sin(-ang) * scale
    rot = np.array([[c, -s], [s, c]])
    t = np.array([eye_xy_frac[0] * size, eye_xy_frac[1] * size]) - rot @ ((r + left) / 2.0)
    return Alignment(matrix=np.hstack([rot, t[:, None]]).astype(np.float64), size=int(size),
                     scale=float(scale))


def align_face(face: Face, *, max_crop: int = MAX_CROP, min_crop: int = MIN_CROP) -> Alignment:
    """Similarity transform from image pixels to the canonical crop of ``face``.

    Args:
        face: a face with landmarks.
        max_crop, min_crop: bounds of the crop side in pixels.

    Returns:
        An :class:`~retouch.types.Alignment`; ``scale`` is crop px per image px.
    """
    return eye_similarity(face, None, 0.25, (0.5, 0.40), min_crop=min_crop, max_crop=max_crop)


def warp_to_crop(image: np.ndarray, alignment: Alignment) -> np.ndarray:
    """Resample ``image`` ((H, W[, C]), any dtype) into the ``(size, size[, C])`` crop.

    Uses area-like prefiltering when the crop is smaller than the face, so fine
    texture does not alias. Outside the image the border is replicated.
    """
    size = alignment.size
    m = alignment.matrix
    if alignment.scale < 0.75:
        # Pre-blur so bilinear sampling does not alias (sigma in image px).
        sigma = 0.5 / alignment.scale
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    return cv2.warpAffine(
        image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def warp_mask_to_image(
    crop_map: np.ndarray, alignment: Alignment, box_xyxy: tuple[int, int, int, int],
    crop_origin_xy: tuple[int, int] = (0, 0),
) -> np.ndarray:
    """Map a crop-space float map back into the image box ``box_xyxy``.

    Args:
        crop_map: ``(h, w) float32`` map whose pixel ``[0, 0]`` is crop pixel
            ``crop_origin_xy`` (a whole crop when the origin is ``(0, 0)``).
        alignment: the face's alignment.
        box_xyxy: image region ``(x0, y0, x1, y1)`` to produce.

    Returns:
        ``(y1 - y0, x1 - x0) float32``; zero outside ``crop_map``.
    """
    x0, y0, x1, y1 = box_xyxy
    # crop_local = M @ [u + x0, v + y0, 1] - origin, sampled with WARP_INVERSE_MAP.
    m = alignment.matrix.copy()
    m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)
    m[:, 2] -= np.array(crop_origin_xy, np.float64)
    return cv2.warpAffine(
        crop_map.astype(np.float32), m, (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0.0,
    )
