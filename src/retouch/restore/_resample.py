"""Going down to a region's effective resolution and back up with edge-aware detail.

When the whole image was bilinearly enlarged from ``(w_src, h_src)`` (see
:func:`~retouch.restore._measure.estimate_upsampling`), the region is an exact
linear function of a smaller grid: ``B = Uy @ L @ Ux.T``. :class:`Grid` holds
those operators for one region; :meth:`Grid.down` solves for ``L`` (least
squares), and :meth:`Grid.up` returns to the region with a sharper
interpolator than the bilinear one that made it (Keys cubic, ``a = -0.5``),
corrected by back-projection so that it still reproduces ``L`` exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.linalg import cho_solve_banded, cholesky_banded

from ._measure import bilinear_matrix


def cubic_matrix(n_src: int, n_dst: int, lo: int, hi: int, used: np.ndarray,
                 a: float = -0.5) -> np.ndarray:
    """Rows ``lo..hi-1`` of a Keys-cubic resize from ``n_src`` to ``n_dst``
    (pixel-centre convention, edge clamp), restricted to source columns ``used``.
    """
    x = np.arange(lo, hi, dtype=np.float64)
    fx = (x + 0.5) * (n_src / n_dst) - 0.5
    base = np.floor(fx).astype(int)
    m = np.zeros((hi - lo, n_src))
    rows = np.arange(hi - lo)
    for t in (-1, 0, 1, 2):
        d = np.abs(fx - (base + t))
        wgt = np.where(d <= 1, (a + 2) * d**3 - (a + 3) * d**2 + 1,
                       np.where(d < 2, a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a, 0.0))
        np.add.at(m, (rows, np.clip(base + t, 0, n_src - 1)), wgt)
    m /= m.sum(axis=1, keepdims=True)
    return m[:, used]


@dataclass(frozen=True)
class Axis:
    """One axis of a region's enlargement.

    ``u`` is the bilinear enlargement (region px x used source px, sparse: two
    taps per row); ``chol`` the banded Cholesky factor of ``u.T @ u`` (tridiagonal,
    plus a tiny ridge), so the least-squares inverse costs O(n) per column;
    ``lo``/``n_src``/``n_dst``/``used`` rebuild the cubic matrix on demand.
    """

    u: sparse.csr_matrix
    chol: np.ndarray
    n_src: int
    n_dst: int
    lo: int
    used: np.ndarray

    @property
    def factor(self) -> float:
        return self.u.shape[0] / max(self.u.shape[1], 1)

    def down(self, m: np.ndarray) -> np.ndarray:
        """Least-squares source rows of ``m`` (``(n, k)`` -> ``(n_used, k)``)."""
        rhs = np.asarray(self.u.T @ m.astype(np.float64, copy=False))
        return cho_solve_banded((self.chol, False), rhs, check_finite=False)

    def up(self, m: np.ndarray) -> np.ndarray:
        """Bilinear enlargement of source rows ``m`` (``(n_used, k)`` -> ``(n, k)``)."""
        return np.asarray(self.u @ m.astype(np.float64, copy=False))

    def cubic(self, m: np.ndarray) -> np.ndarray:
        """Keys-cubic enlargement of source rows ``m``."""
        c = cubic_matrix(self.n_src, self.n_dst, self.lo, self.lo + self.u.shape[0], self.used)
        return c @ m.astype(np.float64, copy=False)


def _axis(n_src: int, n_dst: int, lo: int, n: int) -> Axis | None:
    if n_src >= n_dst:
        return None
    u = bilinear_matrix(n_src, n_dst, lo, lo + n)
    used = np.where(u.any(axis=0))[0]
    u = u[:, used]
    # u.T @ u is tridiagonal (each row of u touches two neighbouring columns).
    g = u.T @ u
    k = g.shape[0]
    ab = np.zeros((2, k))
    ab[1] = np.diag(g) + 1e-6
    ab[0, 1:] = np.diag(g, 1)
    return Axis(u=sparse.csr_matrix(u), chol=cholesky_banded(ab, lower=False,
                                                            check_finite=False),
                n_src=n_src, n_dst=n_dst, lo=lo, used=used)


Op = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Grid:
    """Down/up operators of one region (``None`` on an axis with no enlargement)."""

    x: Axis | None
    y: Axis | None

    @staticmethod
    def build(src_wh: tuple[int, int], full_wh: tuple[int, int], origin_xy: tuple[int, int],
              shape_hw: tuple[int, int]) -> Grid:
        return Grid(_axis(src_wh[0], full_wh[0], origin_xy[0], shape_hw[1]),
                    _axis(src_wh[1], full_wh[1], origin_xy[1], shape_hw[0]))

    @property
    def active(self) -> bool:
        return self.x is not None or self.y is not None

    @property
    def factor_xy(self) -> tuple[float, float]:
        return (self.x.factor if self.x else 1.0, self.y.factor if self.y else 1.0)

    def _apply(self, img: np.ndarray, fx: Op | None, fy: Op | None) -> np.ndarray:
        """Apply ``fy`` along rows and ``fx`` along columns of every channel."""
        out = np.asarray(img, np.float32)
        squeeze = out.ndim == 2
        if squeeze:
            out = out[..., None]
        if fy is not None:
            h, w, c = out.shape
            out = fy(out.reshape(h, w * c)).reshape(-1, w, c)
        if fx is not None:  # (w, h * c) -> (w', h * c)
            h, w, c = out.shape
            flat = out.transpose(1, 0, 2).reshape(w, h * c)
            out = fx(flat).reshape(-1, h, c).transpose(1, 0, 2)
        out = np.ascontiguousarray(out, np.float32)
        return out[..., 0] if squeeze else out

    def down(self, img: np.ndarray) -> np.ndarray:
        """Least-squares source grid ``L`` of region ``img`` (``(h, w[, C])``)."""
        return self._apply(img, self.x.down if self.x else None, self.y.down if self.y else None)

    def bilinear_up(self, low: np.ndarray) -> np.ndarray:
        """The bilinear enlargement of ``low`` (what made the region)."""
        return self._apply(low, self.x.up if self.x else None, self.y.up if self.y else None)

    def up(self, low: np.ndarray, *, back_projections: int = 2) -> np.ndarray:
        """Cubic enlargement of ``low``, back-projected so that ``down(up(L)) == L``."""
        out = self._apply(low, self.x.cubic if self.x else None,
                          self.y.cubic if self.y else None)
        for _ in range(back_projections):
            out = out + self.bilinear_up(low - self.down(out))
        return out
