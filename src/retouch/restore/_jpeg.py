"""JPEG helpers: standard quantization tables, the 8x8 DCT, quality estimation.

Conventions: ``Y`` is JPEG luma in 8-bit code values (``0..255`` float) computed
with the JFIF weights; DCT coefficients use the orthonormal 8x8 DCT-II, which is
exactly JPEG's FDCT, after the level shift of 128. A quantization table is an
``(8, 8)`` array indexed ``[v, u]`` (row frequency, column frequency).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: ITU-T T.81 Annex K luma table (the IJG base table), ``[v, u]``.
LUMA_TABLE = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61],
    [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77],
    [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101],
    [72, 92, 95, 98, 112, 100, 103, 99],
], dtype=np.float64)

#: ITU-T T.81 Annex K chroma table.
CHROMA_TABLE = np.array([
    [17, 18, 24, 47, 99, 99, 99, 99],
    [18, 21, 26, 66, 99, 99, 99, 99],
    [24, 26, 56, 99, 99, 99, 99, 99],
    [47, 66, 99, 99, 99, 99, 99, 99],
    [99, 99, 99, 99, 99, 99, 99, 99],
    [99, 99, 99, 99, 99, 99, 99, 99],
    [99, 99, 99, 99, 99, 99, 99, 99],
    [99, 99, 99, 99, 99, 99, 99, 99],
], dtype=np.float64)

#: Low AC frequencies ``(v, u)`` whose steps are measured (zig-zag order).
_PROBE = ((0, 1), (1, 0), (2, 0), (1, 1), (0, 2), (0, 3), (1, 2), (2, 1), (3, 0))
#: Fewest non-zero coefficients a frequency needs for its step to be measured.
_MIN_SAMPLES = 40
#: Normalized lattice misfit below which a step ``q`` explains the coefficients.
_FIT_MAX = 0.35


def dct_matrix(n: int = 8) -> np.ndarray:
    """Orthonormal DCT-II matrix ``D`` (``(n, n)`` float64): ``coef = D @ x @ D.T``."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    d[0] /= np.sqrt(2.0)
    return d


def table_for_quality(quality: int, base: np.ndarray = LUMA_TABLE) -> np.ndarray:
    """IJG (libjpeg) scaling of ``base`` for ``quality`` 1..100 (baseline, 1..255)."""
    q = int(np.clip(quality, 1, 100))
    scale = 5000 / q if q < 50 else 200 - 2 * q
    return np.clip(np.floor((base * scale + 50) / 100), 1, 255)


def luma255(rgb01: np.ndarray) -> np.ndarray:
    """JFIF luma of ``(H, W, 3)`` RGB in ``[0, 1]``, in code values ``0..255`` (float64)."""
    rgb = np.asarray(rgb01, np.float64) * 255.0
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def block_dct(y255: np.ndarray, offset_xy: tuple[int, int] = (0, 0)) -> np.ndarray:
    """DCT of every whole 8x8 block of the grid starting at ``offset_xy``.

    Returns ``(by, bx, 8, 8)`` coefficients (level shift 128 applied).
    """
    ox, oy = offset_xy
    y = y255[oy:, ox:]
    by, bx = y.shape[0] // 8, y.shape[1] // 8
    blocks = (y[:by * 8, :bx * 8] - 128.0).reshape(by, 8, bx, 8).transpose(0, 2, 1, 3)
    d = dct_matrix()
    return np.einsum("vi,abij,uj->abvu", d, blocks, d, optimize=True)


def block_idct(coef: np.ndarray) -> np.ndarray:
    """Inverse of :func:`block_dct` (without the offset): ``(by*8, bx*8)`` pixels."""
    d = dct_matrix()
    blocks = np.einsum("vi,abvu,uj->abij", d, coef, d, optimize=True) + 128.0
    by, bx = coef.shape[:2]
    return blocks.transpose(0, 2, 1, 3).reshape(by * 8, bx * 8)


def grid_offset(y255: np.ndarray) -> tuple[tuple[int, int], float]:
    """Most likely 8x8 grid offset ``(ox, oy)`` and its blockiness ratio.

    The blockiness of a phase is the mean absolute step across the column (row)
    boundaries of that phase; the ratio divides the strongest phase by the median
    of the other seven (``~1`` without blocks, ``> 1.3`` for visible blocking).
    """
    ratios, offs = [], []
    for axis in (1, 0):
        d = np.abs(np.diff(y255, axis=axis)).mean(axis=1 - axis)
        n = d.shape[0] // 8 * 8
        phase = d[:n].reshape(-1, 8).mean(axis=0)
        k = int(np.argmax(phase))
        others = np.delete(phase, k)
        ratios.append(float(phase[k] / max(np.median(others), 1e-9)))
        offs.append((k + 1) % 8)  # the boundary lies between index k and k + 1
    return (offs[0], offs[1]), float(min(ratios))


def _lattice_misfit(c: np.ndarray, q: float) -> float:
    """Mean squared distance of ``c`` to multiples of ``q``, over ``q**2 / 12``."""
    r = c - q * np.round(c / q)
    return float(np.mean(r * r) / (q * q / 12.0))


def measure_step(c: np.ndarray, q_max: int = 160) -> float | None:
    """Largest quantization step ``q >= 2`` that the coefficients ``c`` sit on.

    Coefficients that were quantized to 0 carry no information and are
    dropped. Returns ``None`` when too few remain or no ``q >= 2`` fits.
    """
    c = c[np.abs(c) > 1.5]
    if c.size < _MIN_SAMPLES:
        return None
    a = np.abs(c)
    best = None
    top = int(min(q_max, a.max() + 1))
    for q in range(2, top + 1):
        # A real step leaves no kept coefficient below q / 2 (those became 0);
        # without this, any huge q "fits" because everything rounds to 0.
        if np.mean(a < 0.5 * q) > 0.1:
            break
        if _lattice_misfit(c, q) < _FIT_MAX:
            best = q
    return float(best) if best is not None else None


@dataclass(frozen=True)
class JpegEstimate:
    """What :func:`estimate_jpeg` found.

    Attributes:
        quality: IJG quality 1..100 of the best-fitting standard table, or
            ``None`` when no JPEG quantization was found.
        table: ``(8, 8)`` luma quantization steps used for deblocking, or ``None``.
        chroma_table: ``(8, 8)`` chroma steps for the same quality, or ``None``.
        grid_xy: offset of the 8x8 grid in the measured region's pixels.
        blockiness: ratio of boundary to interior steps (see :func:`grid_offset`).
        source: ``"file"`` (the file's own tables), ``"pixels"`` or ``"none"``.
    """

    quality: int | None
    table: np.ndarray | None
    chroma_table: np.ndarray | None
    grid_xy: tuple[int, int]
    blockiness: float
    source: str

    def to_dict(self) -> dict[str, object]:
        return {"quality": self.quality, "blockiness": round(self.blockiness, 3),
                "grid_xy": list(self.grid_xy), "source": self.source}


def _fit_quality(steps: dict[tuple[int, int], float]) -> tuple[int, float]:
    """Quality whose IJG luma table best matches the measured ``steps`` (log error)."""
    best_q, best_err = 100, np.inf
    keys = list(steps)
    meas = np.log(np.array([steps[k] for k in keys]))
    for q in range(1, 101):
        t = table_for_quality(q)
        pred = np.log(np.array([t[k] for k in keys]))
        err = float(np.mean((meas - pred) ** 2))
        if err < best_err:
            best_q, best_err = q, err
    return best_q, best_err


def _steps_at(y: np.ndarray, off: tuple[int, int]) -> dict[tuple[int, int], float]:
    flat = block_dct(y, off).reshape(-1, 8, 8)
    steps = {}
    for vu in _PROBE:
        q = measure_step(flat[:, vu[0], vu[1]])
        if q is not None:
            steps[vu] = q
    return steps


def estimate_jpeg(rgb01: np.ndarray, origin_xy: tuple[int, int] = (0, 0)) -> JpegEstimate:
    """Estimate JPEG compression from the pixels of an uncropped, unresized region.

    The 8x8 grid phase is found from the blockiness profile; on that grid the
    DCT coefficients of a JPEG sit on multiples of the quantization step. The
    steps of up to nine low frequencies are measured and matched to the IJG
    tables. A region resized or rotated after compression has no grid and gives
    ``quality=None``.

    Args:
        rgb01: ``(H, W, 3)`` float RGB in ``[0, 1]``; at least 32 px each side.
        origin_xy: where the region starts in the compressed image: the grid
            phase that follows from it is tried first, then the two most
            blocky phases of each axis.
    """
    y = luma255(rgb01)
    if min(y.shape) < 32:
        return JpegEstimate(None, None, None, (0, 0), 1.0, "none")
    hint = ((-origin_xy[0]) % 8, (-origin_xy[1]) % 8)
    off, blockiness = grid_offset(y)
    candidates = [hint, off] + [(hint[0], off[1]), (off[0], hint[1])]
    steps: dict[tuple[int, int], float] = {}
    for cand in dict.fromkeys(candidates):
        steps = _steps_at(y, cand)
        if len(steps) >= 3:
            off = cand
            break
    if len(steps) < 3:
        return JpegEstimate(None, None, None, off, blockiness, "none")
    quality, err = _fit_quality(steps)
    if err > 0.35:
        return JpegEstimate(None, None, None, off, blockiness, "none")
    return JpegEstimate(quality, table_for_quality(quality),
                        table_for_quality(quality, CHROMA_TABLE), off, blockiness, "pixels")


def file_jpeg_quality(path: str | Path | None) -> int | None:
    """Quality of a JPEG file's own luma table (IJG fit), read from its header only.

    Returns ``None`` for non-JPEG files or unreadable headers.
    """
    if path is None:
        return None
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.format != "JPEG":
                return None
            tables = getattr(im, "quantization", None) or {}
    except (OSError, ValueError):
        return None
    if 0 not in tables:
        return None
    flat = np.asarray(tables[0], dtype=np.float64)  # Pillow gives natural order
    if flat.size != 64:
        return None
    table = flat.reshape(8, 8)
    steps = {(v, u): float(table[v, u]) for v in range(8) for u in range(8)}
    q, _ = _fit_quality(steps)
    return q

