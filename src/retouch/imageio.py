"""Reading and writing photos without losing what the file carried.

:func:`load_image` turns a file (or an array) into an upright
:class:`~retouch.types.ImageData`; :func:`save_image` writes pixels back,
carrying the source's ICC profile, EXIF and resolution where the output format
allows, atomically (a temporary file in the same folder, then a rename), so an
interrupted or failed write never leaves a partial file behind.

Pixel conventions (see :mod:`retouch.types`):

* ``pixels`` are ``(H, W, 3)`` RGB, ``uint8`` (0..255) or ``uint16``
  (0..65535), channels last, EXIF orientation already applied.
* ``alpha`` is a separate ``(H, W)`` plane of the same dtype, or ``None``.
* 16-bit files (PNG, TIFF, 16-bit grayscale) stay ``uint16``; everything else
  is ``uint8``. Float TIFFs become ``uint16`` (see :func:`load_image`).

:func:`to_float01`, :func:`from_float01` and :func:`convert_dtype` are the one
place where sample values change dtype.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import struct
import threading
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np
from PIL import Image, ImageCms, ImageFile

from .atomic import atomic_write
from .errors import InvalidInputError, OutputError
from .types import ImageData

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "INPUT_FORMATS",
    "MIN_SIDE",
    "OUTPUT_FORMATS",
    "convert_dtype",
    "from_float01",
    "is_same_file",
    "load_image",
    "save_image",
    "to_float01",
]

#: Largest ``width * height`` :func:`load_image` accepts by default.
DEFAULT_MAX_PIXELS: int = 200_000_000

#: Smallest accepted width and height: anything smaller cannot contain a face.
MIN_SIDE: int = 8

#: Output extension (lower case) -> Pillow format name.
OUTPUT_FORMATS: dict[str, str] = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
    ".bmp": "BMP",
}

#: Container formats :func:`load_image` decodes (Pillow format names). Everything
#: else (EPS, PSD, ICO, PCX, SGI, JPEG 2000, signature-less TGA...) is refused
#: before any of its parser runs: fewer decoders exposed to untrusted files.
INPUT_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "TIFF", "WEBP", "BMP", "GIF", "PPM", "AVIF")
_INPUT_NAMES = "JPEG, PNG, TIFF, WebP, BMP, GIF, PPM/PGM/PBM, AVIF"
#: JPEG frame markers of Huffman-coded (not arithmetic-coded) images.
_JPEG_HUFFMAN_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7})
_JPEG_ANY_SOF = _JPEG_HUFFMAN_SOF | frozenset({0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})

#: PIL modes of single-channel (optionally with alpha) sources.
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_ALPHA_FORMATS = frozenset({"PNG", "TIFF", "WEBP"})
_EXIF_FORMATS = frozenset({"JPEG", "PNG", "TIFF", "WEBP"})
_ICC_FORMATS = frozenset({"JPEG", "PNG", "TIFF", "WEBP"})
_DPI_FORMATS = frozenset({"JPEG", "PNG", "TIFF", "BMP"})
_EXIF_PREFIX = b"Exif\x00\x00"
_ORIENTATION_TAG = 0x0112
_JPEG_MAX_SEGMENT = 65533
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Pillow's decompression-bomb limit and truncated-image flag are module globals.
# They are set for the duration of one decode under this lock, so decodes inside
# one process run one at a time (use processes, not threads, to decode in parallel).
_PIL_LOCK = threading.Lock()


# --------------------------------------------------------------------------- dtype


def to_float01(pixels: np.ndarray) -> np.ndarray:
    """Return ``pixels`` as ``float32`` in ``[0, 1]`` (a new array, any shape).

    ``uint8`` is divided by 255, ``uint16`` by 65535, ``bool`` maps to 0/1 and
    float input is cast to ``float32`` and clipped to ``[0, 1]`` (NaN becomes 0).
    """
    arr = np.asarray(pixels)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) * np.float32(1.0 / 255.0)
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) * np.float32(1.0 / 65535.0)
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.floating):
        out = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return np.clip(out, 0.0, 1.0, out=out)
    raise InvalidInputError(
        f"to_float01: expected uint8, uint16, bool or float samples; got {arr.dtype}"
    )


def from_float01(arr: np.ndarray, dtype: Any) -> np.ndarray:
    """Convert float samples in ``[0, 1]`` to ``dtype`` (a new array, same shape).

    For ``uint8`` / ``uint16`` the values are clipped to ``[0, 1]``, scaled to
    255 / 65535 and rounded half-to-even (:func:`numpy.rint`); NaN becomes 0.
    For ``float32`` the result is the clipped ``float32`` copy.
    """
    target = np.dtype(dtype)
    a = np.asarray(arr)
    if not (np.issubdtype(a.dtype, np.floating) or a.dtype == np.bool_):
        raise InvalidInputError(f"from_float01: expected float samples; got {a.dtype}")
    work_dtype = np.float64 if a.dtype == np.float64 else np.float32
    if target == np.float32:
        return to_float01(a)
    if target not in (np.dtype(np.uint8), np.dtype(np.uint16)):
        raise InvalidInputError(
            f"from_float01: target dtype must be uint8, uint16 or float32; got {target}"
        )
    scale = float(np.iinfo(target).max)
    out = a.astype(work_dtype, copy=True)
    np.nan_to_num(out, copy=False, nan=0.0, posinf=1.0, neginf=0.0)
    np.clip(out, 0.0, 1.0, out=out)
    out *= scale
    np.rint(out, out=out)
    return out.astype(target)


def convert_dtype(pixels: np.ndarray, dtype: Any) -> np.ndarray:
    """Convert samples between ``uint8``, ``uint16`` and ``float32`` ``[0, 1]``.

    Integer to integer is exact where possible: ``uint8 -> uint16`` multiplies
    by 257 (so 255 -> 65535) and ``uint16 -> uint8`` is ``rint(v / 257)``.
    Float sources go through :func:`from_float01`. Always returns a new array.
    """
    target = np.dtype(dtype)
    a = np.asarray(pixels)
    if a.dtype == target:
        return a.copy()
    if target == np.float32:
        return to_float01(a)
    if a.dtype == np.uint8 and target == np.uint16:
        return a.astype(np.uint16) * np.uint16(257)
    if a.dtype == np.uint16 and target == np.uint8:
        # v / 257 never lands exactly on .5, so floor((v + 128) / 257) == rint(v / 257).
        return ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return from_float01(a, target)


# --------------------------------------------------------------------------- load


def load_image(
    source: str | os.PathLike[str] | np.ndarray, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> ImageData:
    """Decode a photo file (or wrap an array) as upright RGB :class:`ImageData`.

    Files are decoded with Pillow. The header is checked first: images with
    more than ``max_pixels`` pixels or a side under :data:`MIN_SIDE` are
    rejected before any pixel data is decoded. Animated files give their first
    frame. EXIF orientation is applied to the pixels, and ``exif`` keeps the
    EXIF bytes (always starting with ``b"Exif\\0\\0"``) with the orientation
    tag reset to 1. ``icc_profile`` and ``info["dpi"]`` are kept when present.

    Returned pixels are ``(H, W, 3)`` RGB:

    * 8-bit files (JPEG, 8-bit PNG, WEBP, GIF, BMP...) -> ``uint8``.
    * 16-bit PNG / TIFF (RGB, RGBA, gray) -> ``uint16`` 0..65535. Mode ``"I"``
      (32-bit integer) is cast when it lies in 0..65535, else scaled from its
      data range.
    * Float TIFF (mode ``"F"``) -> ``uint16``: values are clipped to ``[0, 1]``
      and scaled by 65535 when the maximum is ``<= 1``, otherwise the data range
      ``[min, max]`` is scaled to ``[0, 65535]``. NaN/inf become 0.
    * Grayscale -> three equal channels; ``source_mode`` keeps the file's mode
      (``"L"``, ``"I;16"``...) so :func:`save_image` can write grayscale again.
    * Transparency (RGBA, LA, PA, P or L/RGB with a transparent colour) ->
      ``alpha`` ``(H, W)`` of the pixel dtype; ``pixels`` hold the colour.
    * CMYK -> RGB through the embedded CMYK ICC profile (to sRGB) when there is
      one, else Pillow's plain conversion; the CMYK profile is then dropped.

    Arrays are accepted as ``(H, W)`` gray, ``(H, W, 3)`` RGB or ``(H, W, 4)``
    RGBA, ``uint8`` or ``uint16``, or any float dtype with values in ``[0, 1]``
    (converted to ``uint8``, rounded half-to-even). They are always copied.
    ``format`` and ``path`` are ``None`` and ``source_mode`` is ``"array"``.

    Raises:
        InvalidInputError: missing, empty, unreadable, truncated, not an image,
            too large, too small, or an array of the wrong shape/dtype.
    """
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels <= 0:
        raise InvalidInputError(f"max_pixels must be a positive integer; got {max_pixels!r}")
    if isinstance(source, np.ndarray):
        return _from_array(source, max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        raise InvalidInputError(
            "load_image: expected a file path or a numpy array; got bytes "
            "(to decode bytes, wrap them in an array with PIL or pass a path)"
        )
    if not isinstance(source, (str, os.PathLike)):
        raise InvalidInputError(
            f"load_image: expected a file path or a numpy array; got {type(source).__name__}"
        )
    return _load_file(Path(os.fspath(source)), max_pixels)


def _from_array(arr: np.ndarray, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageData:
    expected = (
        "expected shape (H, W), (H, W, 3) or (H, W, 4) with dtype uint8, uint16 or float in [0, 1]"
    )
    got = f"got shape {arr.shape} {arr.dtype}"
    hint = ""
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[2] not in (1, 3, 4):
        hint = ". If channels are first, use np.moveaxis(image, 0, -1)"
    shape_ok = arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3, 4))
    if not shape_ok:
        raise InvalidInputError(f"image array: {expected}; {got}{hint}")
    if arr.shape[0] * arr.shape[1] > max_pixels:
        raise InvalidInputError(
            f"image array: image is too large ({arr.shape[1]}x{arr.shape[0]} pixels; limit is "
            f"{max_pixels:,} pixels, see max_pixels)")
    if arr.dtype in (np.uint8, np.uint16):
        a = np.array(arr, copy=True, order="C")
    elif np.issubdtype(arr.dtype, np.floating):
        if arr.size and not np.isfinite(arr).all():
            raise InvalidInputError(f"image array: {expected}; got NaN or infinite values")
        lo = float(arr.min()) if arr.size else 0.0
        hi = float(arr.max()) if arr.size else 0.0
        if lo < -1e-6 or hi > 1.0 + 1e-6:
            raise InvalidInputError(
                f"image array: float images must have values in [0, 1]; got range "
                f"[{lo:g}, {hi:g}] (divide by 255 or 65535, or pass uint8/uint16)"
            )
        a = from_float01(arr, np.uint8)
    else:
        extra = ""
        if np.issubdtype(arr.dtype, np.integer):
            extra = " (convert with image.astype(np.uint8) or image.astype(np.uint16))"
        raise InvalidInputError(f"image array: {expected}; {got}{extra}")
    h, w = a.shape[:2]
    if h < MIN_SIDE or w < MIN_SIDE:
        raise InvalidInputError(
            f"image array: image is too small to contain a face ({w}x{h} pixels; "
            f"minimum is {MIN_SIDE}x{MIN_SIDE})"
        )
    alpha = None
    if a.ndim == 2:
        a = _gray_to_rgb(a)
    elif a.shape[2] == 1:
        a = _gray_to_rgb(a[..., 0])
    elif a.shape[2] == 4:
        alpha = np.ascontiguousarray(a[..., 3])
        a = np.ascontiguousarray(a[..., :3])
    return ImageData(pixels=a, alpha=alpha, source_mode="array", format=None, path=None)


@contextlib.contextmanager
def _pil_decode_settings(max_pixels: int):
    """Set Pillow's bomb limit to ``max_pixels`` and refuse truncated data."""
    with _PIL_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        old_limit = Image.MAX_IMAGE_PIXELS
        old_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
        Image.MAX_IMAGE_PIXELS = max_pixels
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = old_limit
            ImageFile.LOAD_TRUNCATED_IMAGES = old_truncated


def _describe(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _load_file(path: Path, max_pixels: int) -> ImageData:
    name = str(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InvalidInputError(f"{name}: file does not exist") from None
    except (OSError, ValueError) as e:  # ValueError: NUL byte in the path
        raise InvalidInputError(f"{name!r}: cannot read file ({_describe(e)})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InvalidInputError(f"{name}: is a folder, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise InvalidInputError(f"{name}: not a regular file (a pipe, socket or device)")
    if st.st_size == 0:
        raise InvalidInputError(f"{name}: empty file (0 bytes)")

    with _pil_decode_settings(max_pixels):
        try:
            img = Image.open(path, formats=_input_formats())
        except Image.DecompressionBombError as e:
            m = re.search(r"\((\d+) pixels\)", str(e))
            count = f"{int(m.group(1)):,} pixels" if m else f"over {2 * max_pixels:,} pixels"
            raise InvalidInputError(
                f"{name}: image is too large ({count}; limit is {max_pixels:,} pixels, "
                "see max_pixels)"
            ) from None
        except Image.UnidentifiedImageError:
            raise InvalidInputError(
                f"{name}: not a recognized image file (supported: {_INPUT_NAMES})"
            ) from None
        except PermissionError:
            raise InvalidInputError(f"{name}: permission denied") from None
        except Exception as e:
            raise InvalidInputError(f"{name}: cannot open image ({_describe(e)})") from None
        with img:
            w, h = img.size
            if w * h > max_pixels:
                raise InvalidInputError(
                    f"{name}: image is too large ({w}x{h} = {w * h:,} pixels; limit is "
                    f"{max_pixels:,} pixels, see max_pixels)"
                )
            if w < MIN_SIDE or h < MIN_SIDE:
                raise InvalidInputError(
                    f"{name}: image is too small to contain a face ({w}x{h} pixels; "
                    f"minimum is {MIN_SIDE}x{MIN_SIDE})"
                )
            if img.format in ("JPEG", "MPO"):
                _check_jpeg_size(path, st.st_size, w, h)
            try:
                img.seek(0)
                img.load()
                return _decode_loaded(img, path)
            except InvalidInputError:
                raise
            except MemoryError:
                raise InvalidInputError(
                    f"{name}: not enough memory to decode a {w}x{h} image"
                ) from None
            except Exception as e:
                raise InvalidInputError(
                    f"{name}: truncated or corrupt image file ({_describe(e)})"
                ) from None


def _input_formats() -> list[str]:
    """:data:`INPUT_FORMATS` this Pillow build can read (AVIF support is optional)."""
    Image.init()
    return [f for f in INPUT_FORMATS if f in Image.OPEN]


def _jpeg_frame_marker(path: Path) -> int | None:
    """The SOF marker (``0xC0``..``0xCF``) of a JPEG file, or ``None`` when not found."""
    try:
        with open(path, "rb") as f:
            if f.read(2) != b"\xff\xd8":
                return None
            for _ in range(10_000):
                b = f.read(1)
                if b != b"\xff":
                    return None
                marker = f.read(1)
                while marker == b"\xff":  # fill bytes
                    marker = f.read(1)
                if not marker:
                    return None
                m = marker[0]
                if m in _JPEG_ANY_SOF:
                    return m
                if m == 0x01 or 0xD0 <= m <= 0xD9:
                    continue  # markers without a length
                seg = f.read(2)
                if len(seg) != 2:
                    return None
                f.seek(struct.unpack(">H", seg)[0] - 2, os.SEEK_CUR)
    except OSError:
        return None
    return None


def _check_jpeg_size(path: Path, size: int, w: int, h: int) -> None:
    """Refuse a JPEG whose file is too small to hold the pixels its header declares.

    Every 8x8 block of a Huffman-coded JPEG costs at least one bit (its DC
    code), so a file under ``ceil(w/8) * ceil(h/8) / 8`` bytes cannot be
    complete: libjpeg would fill the missing blocks with gray and report only a
    warning, turning a 1 KB file into hundreds of megapixels. Arithmetic-coded
    JPEGs (which can go below one bit per block) are not checked.
    """
    blocks = -(-w // 8) * -(-h // 8)
    if size * 8 >= blocks:
        return
    if _jpeg_frame_marker(path) in _JPEG_HUFFMAN_SOF:
        raise InvalidInputError(
            f"{path}: truncated or corrupt JPEG ({size:,} bytes cannot hold the {w}x{h} "
            "pixels its header declares)"
        )


def _decode_loaded(img: Image.Image, path: Path) -> ImageData:
    name = str(path)
    mode = img.mode
    fmt = img.format  # converted copies (CMYK -> RGB) lose it
    icc = img.info.get("icc_profile") or None
    orientation, exif = _read_exif(img)
    dpi = _clean_dpi(img.info.get("dpi"))

    pixels: np.ndarray | None = None
    alpha: np.ndarray | None = None
    if _needs_16bit_decoder(img, path):
        decoded = _decode_16bit_cv2(path, img.size)
        if decoded is not None:
            pixels, alpha = decoded

    if pixels is None:
        if mode == "CMYK":
            img = _cmyk_to_rgb(img, icc)
            icc = None
        pixels, alpha = _pil_to_arrays(img, name)

    if _icc_space(icc) == b"CMYK":
        icc = None  # pixels are RGB now; a CMYK profile would describe them wrongly
    pixels = _orient(pixels, orientation)
    if alpha is not None:
        alpha = _orient(alpha, orientation)
    info: dict[str, Any] = {}
    if dpi is not None:
        info["dpi"] = dpi
    return ImageData(
        pixels=pixels,
        alpha=alpha,
        source_mode=mode,
        format=fmt,
        icc_profile=icc,
        exif=exif,
        path=path,
        info=info,
    )


def _pil_to_arrays(img: Image.Image, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Pillow image (any mode) -> ``(pixels (H, W, 3), alpha (H, W) | None)``."""
    mode = img.mode
    has_trns = img.info.get("transparency") is not None
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return _gray_to_rgb(np.array(img).astype(np.uint16)), None
    if mode == "I":
        return _gray_to_rgb(_int32_to_uint16(np.array(img))), None
    if mode == "F":
        return _gray_to_rgb(_float_to_uint16(np.array(img))), None
    if mode == "1":
        img = img.convert("L")
        mode = "L"
    if (mode == "L" and has_trns) or mode == "La":
        img = img.convert("LA")
        mode = "LA"
    elif mode in ("P", "PA"):
        rgba = mode == "PA" or has_trns
        img = img.convert("RGBA" if rgba else "RGB")
        mode = img.mode
    elif (mode == "RGB" and has_trns) or mode == "RGBa":
        img = img.convert("RGBA")
        mode = "RGBA"
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        try:
            img = img.convert("RGBA" if "A" in mode else "RGB")
        except Exception as e:
            raise InvalidInputError(
                f"{name}: unsupported colour mode {mode} ({_describe(e)})"
            ) from None
        mode = img.mode
    a = np.array(img)
    if mode == "L":
        return _gray_to_rgb(a), None
    if mode == "LA":
        return _gray_to_rgb(a[..., 0]), np.ascontiguousarray(a[..., 1])
    if mode == "RGBA":
        return np.ascontiguousarray(a[..., :3]), np.ascontiguousarray(a[..., 3])
    return np.ascontiguousarray(a), None


def _gray_to_rgb(g: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(g[:, :, None], 3, axis=2))


def _int32_to_uint16(a: np.ndarray) -> np.ndarray:
    lo, hi = int(a.min()), int(a.max())
    if lo >= 0 and hi <= 65535:
        return a.astype(np.uint16)
    return _scale_range_to_uint16(a.astype(np.float64), lo, hi)


def _float_to_uint16(a: np.ndarray) -> np.ndarray:
    a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(a.min()), float(a.max())
    if hi <= 1.0:
        return from_float01(a, np.uint16)
    return _scale_range_to_uint16(a, lo, hi)


def _scale_range_to_uint16(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if hi <= lo:
        return np.zeros(a.shape, np.uint16)
    return from_float01((a - lo) / (hi - lo), np.uint16)


def _cmyk_to_rgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    if icc is not None and _icc_space(icc) == b"CMYK":
        with contextlib.suppress(Exception):
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            dst = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            out = ImageCms.profileToProfile(img.convert("CMYK"), src, dst, outputMode="RGB")
            if out is not None:
                return out
    return img.convert("RGB")


def _icc_space(icc: bytes | None) -> bytes | None:
    """Colour-space signature of an ICC profile (``b"RGB "``, ``b"GRAY"``, ``b"CMYK"``)."""
    if not icc or len(icc) < 20:
        return None
    return bytes(icc[16:20])


def _needs_16bit_decoder(img: Image.Image, path: Path) -> bool:
    """Whether Pillow would reduce this file's colour samples to 8 bits."""
    if img.format == "PNG" and img.mode in ("RGB", "RGBA", "LA"):
        try:
            with open(path, "rb") as f:
                head = f.read(26)
        except OSError:
            return False
        return (
            len(head) == 26
            and head[:8] == _PNG_SIGNATURE
            and head[12:16] == b"IHDR"
            and head[24] == 16
            and head[25] in (2, 4, 6)
        )
    if img.format == "TIFF" and img.mode in ("RGB", "RGBA"):
        bits = getattr(img, "tag_v2", {}).get(258)
        if isinstance(bits, tuple):
            return bool(bits) and max(bits) == 16
        return bits == 16
    return False


def _decode_16bit_cv2(
    path: Path, size_wh: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Decode a 16-bit file with OpenCV; ``None`` when it cannot (Pillow's 8 bits are used)."""
    buf = np.fromfile(path, dtype=np.uint8)
    arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.shape[:2] != (size_wh[1], size_wh[0]):
        return None
    if arr.ndim == 2:
        return _gray_to_rgb(arr), None
    if arr.shape[2] == 3:
        return np.ascontiguousarray(cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)), None
    if arr.shape[2] == 4:
        rgba = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    return None


def _orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to a ``(H, W[, C])`` array, as Pillow's exif_transpose."""
    if orientation == 2:
        a = a[:, ::-1]
    elif orientation == 3:
        a = a[::-1, ::-1]
    elif orientation == 4:
        a = a[::-1]
    elif orientation == 5:
        a = a.swapaxes(0, 1)
    elif orientation == 6:
        a = np.rot90(a, k=-1)
    elif orientation == 7:
        a = a.swapaxes(0, 1)[::-1, ::-1]
    elif orientation == 8:
        a = np.rot90(a, k=1)
    else:
        return a
    return np.ascontiguousarray(a)


def _read_exif(img: Image.Image) -> tuple[int, bytes | None]:
    """``(orientation, exif bytes with orientation reset to 1)`` of a loaded image."""
    orientation = 1
    try:
        value = img.getexif().get(_ORIENTATION_TAG, 1)
        orientation = int(value) if int(value) in range(1, 9) else 1
    except Exception:
        orientation = 1
    raw = img.info.get("exif")
    exif: bytes | None = None
    if isinstance(raw, (bytes, bytearray)) and raw:
        exif = _exif_reset_orientation(bytes(raw))
    elif img.format == "TIFF":
        exif = _tiff_descriptive_exif(img)
    return orientation, exif


def _exif_reset_orientation(raw: bytes) -> bytes | None:
    """Return ``raw`` (normalized to start with ``Exif\\0\\0``) with orientation set to 1.

    The tag is patched in place so that every other byte (maker notes with
    absolute offsets included) stays as it was.
    """
    body = raw[len(_EXIF_PREFIX) :] if raw.startswith(_EXIF_PREFIX) else raw
    data = bytearray(_EXIF_PREFIX + body)
    base = len(_EXIF_PREFIX)
    try:
        order = {b"II": "<", b"MM": ">"}[bytes(data[base : base + 2])]
        (magic, ifd0) = struct.unpack_from(order + "HI", data, base + 2)
        if magic != 42:
            raise ValueError("not a TIFF header")
        (count,) = struct.unpack_from(order + "H", data, base + ifd0)
        for i in range(count):
            entry = base + ifd0 + 2 + 12 * i
            tag, typ, n = struct.unpack_from(order + "HHI", data, entry)
            if tag == _ORIENTATION_TAG:
                if typ != 3 or n != 1:
                    raise ValueError("unexpected orientation entry")
                struct.pack_into(order + "HH", data, entry + 8, 1, 0)
                break
        return bytes(data)
    except (KeyError, ValueError, struct.error):
        pass
    try:  # fall back to Pillow's parser (re-serializes the EXIF)
        ex = Image.Exif()
        ex.load(bytes(data))
        if _ORIENTATION_TAG in ex:
            ex[_ORIENTATION_TAG] = 1
        out = ex.tobytes()
        return out if out.startswith(_EXIF_PREFIX) else _EXIF_PREFIX + out
    except Exception:
        return None


_TIFF_DESCRIPTIVE_TAGS = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298)


def _tiff_descriptive_exif(img: Image.Image) -> bytes | None:
    """EXIF for a TIFF source: its descriptive tags and EXIF sub-IFD, not its layout tags."""
    try:
        src = img.getexif()
        ex = Image.Exif()
        for tag in _TIFF_DESCRIPTIVE_TAGS:
            if tag in src:
                ex[tag] = src[tag]
        sub = dict(src.get_ifd(0x8769))
        if sub:
            ex[0x8769] = sub
        if not len(ex):
            return None
        out = ex.tobytes()
        return out if out.startswith(_EXIF_PREFIX) else _EXIF_PREFIX + out
    except Exception:
        return None


def _clean_dpi(value: Any) -> tuple[float, float] | None:
    """``(x, y)`` dpi when both lie in 1..65535 (every output format can store that).

    Out-of-range values (0, negative, NaN, or the billions of dpi a corrupt
    ``pHYs`` chunk declares) are dropped: metadata must never make a save fail.
    """
    try:
        x, y = (float(v) for v in value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not (np.isfinite(x) and np.isfinite(y) and 1.0 <= x <= 65535.0 and 1.0 <= y <= 65535.0):
        return None
    return (x, y)


# --------------------------------------------------------------------------- save


@dataclass(frozen=True)
class _Meta:
    icc_profile: bytes | None
    exif: bytes | None
    dpi: tuple[float, float] | None


def save_image(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    *,
    source: ImageData | None = None,
    alpha: np.ndarray | None = None,
    quality: int = 95,
    overwrite_input: bool = False,
) -> Path:
    """Write ``pixels`` to ``path`` atomically and return the written path.

    Args:
        path: output file; the format comes from its extension (see
            :data:`OUTPUT_FORMATS`).
        pixels: ``(H, W, 3)`` RGB (or ``(H, W)`` gray, or ``(H, W, 4)`` RGBA when
            ``alpha`` is not given), ``uint8`` or ``uint16``; float arrays in
            ``[0, 1]`` are converted to the source's dtype (``uint8`` without a
            source).
        source: the decoded input. Its ICC profile, EXIF (orientation already
            1) and dpi are written where the format allows them (ICC/EXIF:
            JPEG, PNG, TIFF, WEBP; dpi: JPEG, PNG, TIFF, BMP). EXIF is not
            written into 16-bit colour TIFFs. A grayscale source whose output
            channels are still equal is written as grayscale.
        alpha: ``(H, W)`` alpha (converted to the pixel dtype). When ``None``,
            ``source.alpha`` is used if its shape matches. Written to PNG, TIFF
            and WEBP; JPEG and BMP have no alpha and drop it.
        quality: 1..100. JPEG quality (chroma is kept at full resolution,
            4:4:4, when ``>= 90``); WEBP quality, and ``100`` makes WEBP lossless.
        overwrite_input: allow ``path`` to be ``source.path``.

    ``uint16`` pixels give 16-bit PNG/TIFF; JPEG, WEBP and BMP are 8-bit only,
    so 16-bit data is reduced with ``rint(v / 257)``. Nothing is written until
    every check passed; the file is written to a hidden temporary file in the
    same folder, synced, and renamed over ``path``, so no partial output remains.

    Raises:
        OutputError: unknown extension, missing or read-only folder, output is
            the input file, or the write failed.
        InvalidInputError: ``pixels``/``alpha``/``quality`` are unusable.
    """
    target = Path(os.fspath(path))
    fmt = _output_format(target)
    if "\0" in str(target):
        raise OutputError(f"{str(target)!r}: the output path contains a NUL byte")
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)):
        raise InvalidInputError(f"quality must be an integer in 1..100; got {quality!r}")
    if not 1 <= int(quality) <= 100:
        raise InvalidInputError(f"quality must be in 1..100; got {quality}")
    px, al, gray = _prepare_output(pixels, alpha, source, fmt)
    try:
        _check_target(target, source, overwrite_input)
    except OSError as e:  # name too long, permission denied on a parent...
        raise OutputError(f"{target}: cannot write here ({_describe(e)})") from None
    meta = _Meta(
        icc_profile=source.icc_profile if source is not None else None,
        exif=source.exif if source is not None else None,
        dpi=_clean_dpi(source.info.get("dpi")) if source is not None else None,
    )
    _atomic_write(target, lambda fp: _encode(fp, fmt, px, al, gray, meta, int(quality)))
    return target


def _output_format(target: Path) -> str:
    ext = target.suffix.lower()
    fmt = OUTPUT_FORMATS.get(ext)
    if fmt is None:
        known = ", ".join(OUTPUT_FORMATS)
        shown = f"'{ext}'" if ext else "none"
        raise OutputError(f"{target}: unsupported output extension {shown}; use one of {known}")
    return fmt


def _prepare_output(
    pixels: np.ndarray, alpha: np.ndarray | None, source: ImageData | None, fmt: str
) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """Validate and normalize to ``(pixels (H, W[, 3]), alpha | None, gray)`` for ``fmt``."""
    if not isinstance(pixels, np.ndarray):
        raise InvalidInputError(f"pixels: expected a numpy array; got {type(pixels).__name__}")
    px = pixels
    if px.ndim == 3 and px.shape[2] == 4 and alpha is None:
        alpha = px[..., 3]
        px = px[..., :3]
    if not (px.ndim == 2 or (px.ndim == 3 and px.shape[2] == 3)):
        raise InvalidInputError(
            f"pixels: expected shape (H, W, 3) RGB, (H, W, 4) RGBA or (H, W) gray; got {px.shape}"
        )
    if px.dtype not in (np.uint8, np.uint16):
        if not np.issubdtype(px.dtype, np.floating):
            raise InvalidInputError(
                f"pixels: expected dtype uint8, uint16 or float in [0, 1]; got {px.dtype}"
            )
        dtype = source.pixels.dtype if source is not None else np.dtype(np.uint8)
        px = from_float01(px, dtype)
    h, w = px.shape[:2]
    if h == 0 or w == 0:
        raise InvalidInputError(f"pixels: image is empty (shape {px.shape})")

    if (
        alpha is None
        and source is not None
        and source.alpha is not None
        and source.alpha.shape == (h, w)
    ):
        alpha = source.alpha
    if alpha is not None:
        alpha = np.asarray(alpha)
        if alpha.shape != (h, w):
            raise InvalidInputError(f"alpha: expected shape {(h, w)}; got {alpha.shape}")
        alpha = convert_dtype(alpha, px.dtype) if alpha.dtype != px.dtype else alpha

    if fmt not in _ALPHA_FORMATS:
        alpha = None  # JPEG and BMP have no alpha channel
    if px.dtype == np.uint16 and fmt not in ("PNG", "TIFF"):
        px = convert_dtype(px, np.uint8)
        alpha = convert_dtype(alpha, np.uint8) if alpha is not None else None

    if px.ndim == 2:
        gray = True
    else:
        gray = (
            source is not None
            and source.source_mode in _GRAY_MODES
            and np.array_equal(px[..., 0], px[..., 1])
            and np.array_equal(px[..., 1], px[..., 2])
        )
        if gray:
            px = px[..., 0]
    if gray and (fmt == "WEBP" or (alpha is not None and px.dtype == np.uint16)):
        gray = False  # no gray WEBP; no 16-bit gray+alpha writer
    if not gray and px.ndim == 2:
        px = _gray_to_rgb(px)
    return np.ascontiguousarray(px), alpha, gray


def _check_target(target: Path, source: ImageData | None, overwrite_input: bool) -> None:
    parent = target.parent
    if not parent.exists():
        raise OutputError(f"{target}: output folder does not exist ({parent})")
    if not parent.is_dir():
        raise OutputError(f"{target}: output folder is not a folder ({parent})")
    if target.is_dir():
        raise OutputError(f"{target}: is a folder; give a file name for the output")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{target}: output folder is not writable ({parent})")
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(f"{target}: output file exists and is read-only")
    if (source is not None and source.path is not None and not overwrite_input
            and is_same_file(target, source.path)):
        raise OutputError(
            f"{target}: would overwrite the input image; choose another output path "
            "or pass overwrite_input=True"
        )


def is_same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether paths ``a`` and ``b`` name the same file (links and hard links included).

    Never raises: unresolvable paths (symlink loops, permission errors) compare
    by their absolute spelling.
    """
    pa, pb = Path(os.fspath(a)), Path(os.fspath(b))
    with contextlib.suppress(OSError, ValueError):
        if os.path.samefile(pa, pb):
            return True
    try:
        return pa.resolve() == pb.resolve()
    except (OSError, RuntimeError, ValueError):
        return os.path.abspath(pa) == os.path.abspath(pb)


def _atomic_write(target: Path, write: Any) -> None:
    """Run ``write(fp)`` on a temporary file next to ``target``, then rename it over ``target``.

    See :func:`retouch.atomic.atomic_write` (temporary-file naming and cleanup).
    """
    try:
        atomic_write(target, write)
    except OSError as e:
        raise OutputError(f"{target}: could not write the image ({_describe(e)})") from None
    except Exception as e:
        raise OutputError(f"{target}: could not write the image ({_describe(e)})") from e


def _encode(
    fp: IO[bytes],
    fmt: str,
    px: np.ndarray,
    alpha: np.ndarray | None,
    gray: bool,
    meta: _Meta,
    quality: int,
) -> None:
    """Encode to the open binary file ``fp``. ``px`` is ``(H, W)`` when ``gray``."""
    out_space = b"GRAY" if gray else b"RGB "
    icc = meta.icc_profile if fmt in _ICC_FORMATS and _icc_space(meta.icc_profile) else None
    if icc is not None and _icc_space(icc) != out_space:
        icc = None  # a profile must describe the written colour space
    exif = meta.exif if fmt in _EXIF_FORMATS else None
    if exif is not None and not exif.startswith(_EXIF_PREFIX):
        exif = _EXIF_PREFIX + exif
    dpi = meta.dpi if fmt in _DPI_FORMATS else None

    if px.dtype == np.uint16 and not (gray and alpha is None):
        if fmt == "PNG":
            _encode_png16_cv2(fp, px, alpha, icc, exif, dpi)
        else:
            _encode_tiff16_cv2(fp, px, alpha, icc, dpi)
        return

    # Pillow picks the mode from the array: (H, W) uint8 -> L, uint16 -> I;16 (16-bit
    # gray, no alpha), (H, W, 2) -> LA, (H, W, 3) -> RGB, (H, W, 4) -> RGBA.
    im = Image.fromarray(px if alpha is None else np.dstack([px, alpha]))

    kw: dict[str, Any] = {}
    if icc is not None:
        kw["icc_profile"] = icc
    if exif is not None:
        if fmt == "JPEG" and len(exif) > _JPEG_MAX_SEGMENT:
            exif = None  # does not fit in one JPEG APP1 segment
        elif fmt == "WEBP":
            exif = exif[len(_EXIF_PREFIX) :]
        if exif is not None:
            kw["exif"] = exif
    if dpi is not None:
        kw["dpi"] = (round(dpi[0]), round(dpi[1])) if fmt in ("JPEG", "BMP") else dpi
    if fmt == "JPEG":
        kw["quality"] = quality
        if quality >= 90:
            kw["subsampling"] = 0
    elif fmt == "WEBP":
        kw["quality"] = quality
        kw["lossless"] = quality >= 100
        if quality >= 100:
            kw["exact"] = True  # keep colour under fully transparent pixels
    elif fmt == "PNG":
        kw["compress_level"] = 6
    im.save(fp, format=fmt, **kw)


def _to_bgr(px: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    if alpha is None:
        return cv2.cvtColor(px, cv2.COLOR_RGB2BGR)
    return cv2.cvtColor(np.dstack([px, alpha]), cv2.COLOR_RGBA2BGRA)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _encode_png16_cv2(
    fp: IO[bytes],
    px: np.ndarray,
    alpha: np.ndarray | None,
    icc: bytes | None,
    exif: bytes | None,
    dpi: tuple[float, float] | None,
) -> None:
    ok, buf = cv2.imencode(".png", _to_bgr(px, alpha), [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise OSError("OpenCV could not encode the 16-bit PNG")
    data = buf.tobytes()
    if data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise OSError("unexpected PNG layout from OpenCV")
    extra = b""
    if icc is not None:
        extra += _png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc))
    if dpi is not None:
        ppm = [max(1, round(v / 0.0254)) for v in dpi]
        extra += _png_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1))
    if exif is not None:
        extra += _png_chunk(b"eXIf", exif[len(_EXIF_PREFIX) :])
    ihdr_end = 8 + 12 + 13
    fp.write(data[:ihdr_end])
    fp.write(extra)
    fp.write(data[ihdr_end:])


def _encode_tiff16_cv2(
    fp: IO[bytes],
    px: np.ndarray,
    alpha: np.ndarray | None,
    icc: bytes | None,
    dpi: tuple[float, float] | None,
) -> None:
    params = [cv2.IMWRITE_TIFF_COMPRESSION, cv2.IMWRITE_TIFF_COMPRESSION_LZW]
    if dpi is not None:
        params += [
            cv2.IMWRITE_TIFF_RESUNIT,
            cv2.IMWRITE_TIFF_RESOLUTION_UNIT_INCH,
            cv2.IMWRITE_TIFF_XDPI,
            max(1, round(dpi[0])),
            cv2.IMWRITE_TIFF_YDPI,
            max(1, round(dpi[1])),
        ]
    ok, buf = cv2.imencode(".tiff", _to_bgr(px, alpha), params)
    if not ok:
        raise OSError("OpenCV could not encode the 16-bit TIFF")
    data = buf.tobytes()
    if icc is not None:
        data = _tiff_add_undefined_tag(data, 34675, icc)
    fp.write(data)


def _tiff_add_undefined_tag(data: bytes, tag: int, payload: bytes) -> bytes:
    """Add an UNDEFINED-type tag to IFD0 of a classic TIFF (rewrites IFD0 at the end)."""
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or struct.unpack_from(order + "H", data, 2)[0] != 42:
        return data  # BigTIFF or unknown: leave as is (profile not embedded)
    (ifd0,) = struct.unpack_from(order + "I", data, 4)
    (count,) = struct.unpack_from(order + "H", data, ifd0)
    entries = [data[ifd0 + 2 + 12 * i : ifd0 + 14 + 12 * i] for i in range(count)]
    (next_ifd,) = struct.unpack_from(order + "I", data, ifd0 + 2 + 12 * count)
    out = bytearray(data)
    if len(out) % 2:
        out += b"\x00"
    payload_at = len(out)
    out += payload
    if len(out) % 2:
        out += b"\x00"
    entries = [e for e in entries if struct.unpack_from(order + "H", e)[0] != tag]
    entries.append(struct.pack(order + "HHII", tag, 7, len(payload), payload_at))
    entries.sort(key=lambda e: struct.unpack_from(order + "H", e)[0])
    new_ifd = len(out)
    if new_ifd + 6 + 12 * len(entries) >= 2**32:
        return data
    out += struct.pack(order + "H", len(entries)) + b"".join(entries)
    out += struct.pack(order + "I", next_ifd)
    struct.pack_into(order + "I", out, 4, new_ifd)
    return bytes(out)
