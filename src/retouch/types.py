"""Contracts between the pipeline stages.

Conventions used everywhere in ``retouch``:

* **Images** handed between stages are channels-last RGB. Full-resolution
  photos keep their native dtype (``uint8`` or ``uint16``) so that untouched
  pixels can be written back bit-identically; working crops are ``float32`` in
  ``[0, 1]``.
* **Points** are pixel coordinates in ``(x, y)`` order, origin at the top-left
  corner of the top-left pixel's centre (OpenCV convention).
* **Boxes** are ``(x, y, w, h)`` in pixels (``bbox_xywh``).
* **Masks**: hard masks are ``bool (H, W)``; soft masks are ``float32 (H, W)``
  in ``[0, 1]``.
* **Left/right** of a face is the *subject's* left/right (the subject's left
  eye appears on the right side of a frontal photo).

Every dataclass here is frozen and validates its fields in ``__post_init__``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Every imperfection type the localizer reports, in report order.
IMPERFECTION_TYPES: tuple[str, ...] = (
    "acne",
    "red_spot",
    "dark_spot",
    "mole",
    "freckle",
    "wrinkle",
    "under_eye",
    "shine",
    "redness",
)

#: How strongly each type is treated by default at ``strength=0.8`` (0 = kept;
#: amounts scale with the strength, see :func:`retouch.pipeline.treatment_amounts`).
#: Temporary blemishes are removed. Moles, freckles and wrinkles are part of the
#: person, and under-eye darkness models the face's shape: they are kept, and
#: treated only when asked for (``only=...``, an instruction, or a Plan). Shine
#: is toned down a little (0.2: 12 % of a highlight's excess over normal skin;
#: the highlight keeps its shape), as the FFHQR professional retouch of
#: ``ffhqr_00000`` does (PSNR to that target peaks at 0.15-0.2; one pair).
#: Redness is evened out only inside a breakout (where several acne or red spots
#: were found close together; elsewhere the localizer reports none), so it is
#: treated like the spots themselves.
DEFAULT_TREATMENT: dict[str, float] = {
    "acne": 1.0,
    "red_spot": 1.0,
    "dark_spot": 1.0,
    "mole": 0.0,
    "freckle": 0.0,
    "wrinkle": 0.0,
    "under_eye": 0.0,
    "shine": 0.2,
    "redness": 1.0,
}

#: Named face regions produced by the parser.
REGION_NAMES: tuple[str, ...] = (
    "skin",
    "forehead",
    "left_cheek",
    "right_cheek",
    "nose",
    "chin",
    "left_under_eye",
    "right_under_eye",
    "eyes",
    "brows",
    "lips",
    "mouth_interior",
    "neck",
    "hair",
    "ears",
)


def _check_array(name: str, arr: np.ndarray, ndim: int, dtypes: tuple[type, ...]) -> None:
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"`{name}` must be a numpy array; got {type(arr).__name__}")
    if arr.ndim != ndim:
        raise ValueError(f"`{name}` must have {ndim} dimensions; got shape {arr.shape}")
    if arr.dtype.type not in dtypes:
        names = ", ".join(np.dtype(d).name for d in dtypes)
        raise ValueError(f"`{name}` must have dtype in ({names}); got {arr.dtype}")


@dataclass(frozen=True)
class ImageData:
    """A decoded photo, oriented upright, ready for processing.

    Attributes:
        pixels: ``(H, W, 3)`` RGB, ``uint8`` or ``uint16``, EXIF orientation
            already applied. Grayscale inputs are expanded to 3 equal channels
            (``source_mode`` remembers it so the output can be grayscale again).
        alpha: ``(H, W)`` alpha of the same dtype as ``pixels``, or ``None``.
        source_mode: the PIL mode of the file (``"RGB"``, ``"L"``, ``"CMYK"``,
            ``"I;16"``, ``"RGBA"``, ``"P"`` ...), or ``"array"``.
        format: container format (``"PNG"``, ``"JPEG"``, ``"TIFF"``, ``"WEBP"``...)
            or ``None`` for arrays.
        icc_profile: embedded ICC profile bytes, carried to the output.
        exif: EXIF bytes with the orientation tag reset to 1, or ``None``.
        path: where it was read from, or ``None``.
        info: other format metadata worth carrying (``dpi``...).
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    source_mode: str = "RGB"
    format: str | None = None
    icc_profile: bytes | None = None
    exif: bytes | None = None
    path: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_array("pixels", self.pixels, 3, (np.uint8, np.uint16))
        if self.pixels.shape[2] != 3:
            raise ValueError(f"`pixels` must be (H, W, 3) RGB; got shape {self.pixels.shape}")
        if self.alpha is not None:
            _check_array("alpha", self.alpha, 2, (self.pixels.dtype.type,))
            if self.alpha.shape != self.pixels.shape[:2]:
                raise ValueError(
                    f"`alpha` shape {self.alpha.shape} does not match pixels "
                    f"{self.pixels.shape[:2]}"
                )

    @property
    def size_wh(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])

    @property
    def max_value(self) -> int:
        """Largest code value of the pixel dtype (255 or 65535)."""
        return int(np.iinfo(self.pixels.dtype).max)


@dataclass(frozen=True)
class Face:
    """One detected face in full-resolution image coordinates.

    Attributes:
        index: position in the report's face list (0-based).
        bbox_xywh: detector box ``(x, y, w, h)`` in image pixels (float).
        score: detector confidence in ``[0, 1]``.
        landmarks_xy: ``(478, 2) float32`` mesh points in image pixels ``(x, y)``,
            or ``None`` when the mesh failed (then ``skip_reason`` is set).
        landmarks_z: ``(478,) float32`` relative depth, same scale as x (pixels),
            smaller is closer to the camera; ``None`` with ``landmarks_xy``.
        yaw_deg: estimated head yaw in degrees (0 = frontal, positive = the
            subject turned to their left).
        skip_reason: why this face is not retouched, or ``None``.
    """

    index: int
    bbox_xywh: tuple[float, float, float, float]
    score: float
    landmarks_xy: np.ndarray | None
    landmarks_z: np.ndarray | None = None
    yaw_deg: float = 0.0
    skip_reason: str | None = None

    def __post_init__(self) -> None:
        if self.landmarks_xy is not None:
            _check_array("landmarks_xy", self.landmarks_xy, 2, (np.float32,))
            if self.landmarks_xy.shape != (478, 2):
                raise ValueError(
                    f"`landmarks_xy` must be (478, 2); got {self.landmarks_xy.shape}"
                )
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"`score` must be in [0, 1]; got {self.score}")


@dataclass(frozen=True)
class Alignment:
    """Similarity transform from image pixels to a square canonical face crop.

    In the crop the face is upright (eye line horizontal), the midpoint of the
    two eye centres sits at ``(0.5 * size, 0.40 * size)`` and the distance
    between the eye centres is ``0.25 * size`` pixels.

    Attributes:
        matrix: ``(2, 3) float64`` affine matrix mapping image ``(x, y, 1)`` to crop.
        size: crop side in pixels.
        scale: crop pixels per image pixel (``<= 1`` when the face was reduced).
    """

    matrix: np.ndarray
    size: int
    scale: float

    def __post_init__(self) -> None:
        _check_array("matrix", self.matrix, 2, (np.float64,))
        if self.matrix.shape != (2, 3):
            raise ValueError(f"`matrix` must be (2, 3); got {self.matrix.shape}")
        if self.size < 8:
            raise ValueError(f"`size` must be >= 8; got {self.size}")

    @property
    def inverse(self) -> np.ndarray:
        """``(2, 3) float64`` matrix mapping crop ``(x, y, 1)`` back to the image."""
        return np.asarray(_invert_affine(self.matrix))

    def to_crop(self, xy: np.ndarray) -> np.ndarray:
        """Map ``(N, 2)`` image points to crop points."""
        xy = np.asarray(xy, dtype=np.float64)
        return xy @ self.matrix[:, :2].T + self.matrix[:, 2]

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """Map ``(N, 2)`` crop points back to image points."""
        inv = self.inverse
        xy = np.asarray(xy, dtype=np.float64)
        return xy @ inv[:, :2].T + inv[:, 2]


def _invert_affine(m: np.ndarray) -> np.ndarray:
    a = m[:, :2]
    ainv = np.linalg.inv(a)
    return np.hstack([ainv, -(ainv @ m[:, 2:3])])


@dataclass(frozen=True)
class FaceRegions:
    """Named soft region masks of one face, in canonical-crop coordinates.

    Attributes:
        masks: region name (see :data:`REGION_NAMES`) -> ``(size, size) float32``
            in ``[0, 1]``. A region that is not visible is all zeros.
        skin_likelihood: ``(size, size) float32`` in ``[0, 1]``: how much each
            pixel looks like this face's own skin (colour model fitted on the
            cheeks); hair, glasses, hands and beard score low.
    """

    masks: dict[str, np.ndarray]
    skin_likelihood: np.ndarray

    def __post_init__(self) -> None:
        for name, m in self.masks.items():
            if name not in REGION_NAMES:
                raise ValueError(f"unknown region {name!r}; expected one of {REGION_NAMES}")
            _check_array(f"masks[{name!r}]", m, 2, (np.float32,))


#: :attr:`Imperfection.kept_reason` of a spot left because its fill would not stay
#: inside its footprint (:func:`retouch.localize.spot_containment`).
NOT_CONTAINED = "not contained"


@dataclass(frozen=True)
class Imperfection:
    """One localized imperfection instance.

    Attributes:
        type: one of :data:`IMPERFECTION_TYPES`.
        face_index: index of the face it belongs to.
        bbox_xywh: ``(x, y, w, h)`` integer box in INPUT image pixels.
        center_xy: centre in INPUT image pixels.
        radius_px: equivalent radius in INPUT image pixels.
        score: confidence / visibility in ``[0, 1]``.
        region: the named region it lies in (``"forehead"``...) or ``"skin"``.
        removed: whether it is treated in the output.
        kept_reason: why a found imperfection of a treated type was left as it was
            (``"not contained"``: its fill would have changed the footprint's rim
            almost as much as its core, the mark of a structure such as a nose
            wing's edge or an eyelash rather than a spot); ``""`` otherwise.
    """

    type: str
    face_index: int
    bbox_xywh: tuple[int, int, int, int]
    center_xy: tuple[float, float]
    radius_px: float
    score: float
    region: str = "skin"
    removed: bool = False
    kept_reason: str = ""

    def __post_init__(self) -> None:
        if self.type not in IMPERFECTION_TYPES:
            raise ValueError(f"unknown imperfection type {self.type!r}")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"`score` must be in [0, 1]; got {self.score}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "face": self.face_index,
            "bbox": [int(v) for v in self.bbox_xywh],
            "center": [round(float(v), 2) for v in self.center_xy],
            "radius_px": round(float(self.radius_px), 2),
            "score": round(float(self.score), 4),
            "region": self.region,
            "removed": bool(self.removed),
            **({"kept_reason": self.kept_reason} if self.kept_reason else {}),
        }


@dataclass(frozen=True)
class RetouchResult:
    """What :func:`retouch.retouch` returns.

    Attributes:
        image: ``(H, W, 3)`` RGB output, same dtype as the input pixels
            (``uint8`` for arrays given as ``uint8``).
        alpha: ``(H, W)`` alpha carried from the input, or ``None``.
        report: JSON-serializable dict (image size, faces, imperfections, timings).
        masks: ``"removed"`` and one entry per imperfection type ->
            ``(H, W) uint8`` with 255 where pixels were allowed to change.
        source: the decoded input (metadata used when saving).
    """

    image: np.ndarray
    report: dict[str, Any]
    masks: dict[str, np.ndarray]
    alpha: np.ndarray | None = None
    source: ImageData | None = None


@dataclass(frozen=True)
class CropInstance:
    """One imperfection instance in canonical-crop coordinates.

    Attributes:
        type: an entry of :data:`~retouch.types.IMPERFECTION_TYPES`.
        center_xy: centre ``(x, y)`` in crop pixels.
        radius: equivalent radius in crop pixels.
        bbox_xywh: integer box in crop pixels.
        score: visibility in ``[0, 1]``.
        alpha: ``(h, w) float32`` soft treatment footprint inside ``bbox_xywh``
            of the *support* box (see ``support_xywh``) in ``[0, 1]``.
        support_xywh: crop box that ``alpha`` covers (the bbox grown by the
            feather margin).
        texture_sigma: scale (crop px) below which the pixel's own texture is
            kept when this instance is filled.
        max_delta: largest change a fill may make to a pixel, in RGB ``[0, 1]``
            units (about 1.5x the measured contrast): a guard against filling
            a misdetection with far-away tone. For ``shine`` it is instead the
            drop of L* (in L*/100 units) where ``alpha`` is 1; ``alpha`` there
            is the highlight's excess over normal skin relative to its peak.
        region: named region containing the centre.
        kept_reason: ``""``, or why this instance is left untreated whatever the
            settings (:data:`~retouch.types.NOT_CONTAINED`: a spot's fill would not
            stay inside its footprint, :func:`~retouch.localize.spot_containment`).
        shift: ``redness`` only: ``(h, w, 2) float32`` over the support box, the
            change of CIE L* and a* (in L*/a* units) where ``alpha`` is 1;
            ``None`` for every other type.
    """

    type: str
    center_xy: tuple[float, float]
    radius: float
    bbox_xywh: tuple[int, int, int, int]
    score: float
    alpha: np.ndarray
    support_xywh: tuple[int, int, int, int]
    texture_sigma: float
    region: str = "skin"
    max_delta: float = 1.0
    kept_reason: str = ""
    shift: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.type not in IMPERFECTION_TYPES:
            raise ValueError(f"unknown imperfection type {self.type!r}")
        h, w = self.support_xywh[3], self.support_xywh[2]
        if self.alpha.shape != (h, w):
            raise ValueError(f"alpha shape {self.alpha.shape} does not match the support "
                             f"box {self.support_xywh}")
        if self.shift is not None and self.shift.shape != (h, w, 2):
            raise ValueError(f"shift shape {self.shift.shape} does not match the support "
                             f"box {self.support_xywh}")


@dataclass(frozen=True)
class Localization:
    """Everything the localizer found on one face, in crop coordinates.

    Attributes:
        maps: type -> ``(S, S) float32`` soft map in ``[0, 1]`` for every type of
            :data:`~retouch.types.IMPERFECTION_TYPES`.
        instances: the instances, all types.
        normal_skin: ``(S, S) float32`` in ``[0, 1]``: weight of each pixel as a
            *source* of normal skin (skin that is not any imperfection).
        face_size: ``u`` in crop pixels (about the face width).
    """

    maps: dict[str, np.ndarray]
    instances: list[CropInstance]
    normal_skin: np.ndarray
    face_size: float

    def __post_init__(self) -> None:
        missing = set(IMPERFECTION_TYPES) - set(self.maps)
        if missing:
            raise ValueError(f"maps lack the types {sorted(missing)}")
        if self.face_size <= 0:
            raise ValueError(f"face_size must be > 0; got {self.face_size}")
