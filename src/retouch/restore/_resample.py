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

from dataclasses import dataclass

import numpy as np

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
    """One axis of a region's enlargement: ``u`` (region px x used source px)."""

    u: np.ndarray
    pinv: np.ndarray
    cubic: np.ndarray

    @property
    def factor(self) -> float:
        return self.u.shape[0] / max(self.u.shape[1], 1)


def _axis(n_src: int, n_dst: int, lo: int, n: int) -> Axis | None:
    if n_src >= n_dst:
        return None
    u = bilinear_matrix(n_src, n_dst, lo, lo + n)
    used = np.where(u.any(axis=0))[0]
    u = u[:, used]
    pinv = np.linalg.solve(u.T @ u + 1e-6 * np.eye(u.shape[1]), u.T)
    return Axis(u=u, pinv=pinv, cubic=cubic_matrix(n_src, n_dst, lo, lo + n, used))


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

    def _apply(self, img: np.ndarray, mx: np.ndarray | None, my: np.ndarray | None) -> np.ndarray:
        out = np.asarray(img, np.float32)
        squeeze = out.ndim == 2
        if squeeze:
            out = out[..., None]
        if my is not None:
            h, w, c = out.shape
            out = (my.astype(np.float32) @ out.reshape(h, w * c)).reshape(-1, w, c)
        if mx is not None:  # (h * c, w) @ (w, w') -> (h, c, w')
            h, w, c = out.shape
            flat = np.ascontiguousarray(out.transpose(0, 2, 1)).reshape(h * c, w)
            out = (flat @ mx.T.astype(np.float32)).reshape(h, c, -1).transpose(0, 2, 1)
        out = np.ascontiguousarray(out, np.float32)
        return out[..., 0] if squeeze else out

    def down(self, img: np.ndarray) -> np.ndarray:
        """Least-squares source grid ``L`` of region ``img`` (``(h, w[, C])``)."""
        return self._apply(img, self.x.pinv if self.x else None, self.y.pinv if self.y else None)

    def bilinear_up(self, low: np.ndarray) -> np.ndarray:
        """The bilinear enlargement of ``low`` (what made the region)."""
        return self._apply(low, self.x.u if self.x else None, self.y.u if self.y else None)

    def up(self, low: np.ndarray, *, back_projections: int = 2) -> np.ndarray:
        """Cubic enlargement of ``low``, back-projected so that ``down(up(L)) == L``."""
        out = self._apply(low, self.x.cubic if self.x else None, self.y.cubic if self.y else None)
        for _ in range(back_projections):
            out = out + self.bilinear_up(low - self.down(out))
        return out
