"""Smooth backward displacement fields in canonical-crop space.

A *field* ``d`` over a crop box maps each output pixel ``x`` to the input
position ``x + d(x)`` it is sampled from (crop pixels, ``(h, w, 2) float32``,
channel 0 = x, 1 = y). Building blocks:

* :func:`bulge` -- anisotropic radial scaling inside an ellipse with a smooth
  ``(1 - rho^2)^2`` falloff (magnifies for ``k > 0``);
* :func:`rbf` -- Gaussian radial-basis-function interpolation of landmark
  displacements (a thin-plate-spline style warp whose kernel decays, so the
  warp stays local);
* :func:`window` -- a ``[0, 1]`` weight that is 1 on a parsed region and falls
  smoothly to exactly 0 at a given distance from it: multiplying a field by it
  confines the warp to the dilated region;
* :func:`limit_folding` -- scales a field down until its map is fold-free
  (Jacobian determinant above a floor everywhere);
* :func:`compose_into` / :func:`forward_points` -- chain edits into one
  total field and track where landmarks go.
"""

from __future__ import annotations

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # (x0, y0, x1, y1) crop pixels, exclusive ends


def clip_box(x0: float, y0: float, x1: float, y1: float, shape_hw: tuple[int, int]) -> Box:
    """Integer box clipped to a ``(h, w)`` canvas (may be empty)."""
    h, w = shape_hw
    return (max(0, int(np.floor(x0))), max(0, int(np.floor(y0))),
            min(w, int(np.ceil(x1)) + 1), min(h, int(np.ceil(y1)) + 1))


def box_of_mask(mask: np.ndarray, pad: float) -> Box | None:
    """Bounding box of ``mask > 0`` grown by ``pad`` px, or ``None`` when empty."""
    x, y, w, h = cv2.boundingRect((mask > 0).astype(np.uint8))
    if w == 0 or h == 0:
        return None
    return clip_box(x - pad, y - pad, x + w - 1 + pad, y + h - 1 + pad, mask.shape[:2])


def union_box(a: Box | None, b: Box | None) -> Box | None:
    """Smallest box holding both (``None`` = empty)."""
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def grid(box: Box) -> tuple[np.ndarray, np.ndarray]:
    """Crop coordinates ``(X, Y)`` (each ``(h, w) float32``) of the pixels of ``box``."""
    x0, y0, x1, y1 = box
    xs = np.arange(x0, x1, dtype=np.float32)
    ys = np.arange(y0, y1, dtype=np.float32)
    return np.meshgrid(xs, ys)


def bulge(box: Box, center: np.ndarray, axes: tuple[float, float], angle: float,
          k: tuple[float, float]) -> np.ndarray:
    """Elliptical scaling about ``center`` (backward field over ``box``).

    Args:
        center: ``(x, y)`` crop px.
        axes: ellipse semi-axes ``(a, b)`` in crop px along / across ``angle``.
        angle: ellipse orientation in radians (0 = along the crop's x axis).
        k: scaling strength ``(k_a, k_b)`` along each axis, ``|k| < 0.6``; at the
            centre the content is magnified by ``1 / (1 - k)`` (``k < 0`` shrinks).

    Returns:
        ``(h, w, 2) float32``, exactly 0 outside the ellipse.
    """
    X, Y = grid(box)
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = X - center[0], Y - center[1]
    u = dx * c + dy * s
    v = -dx * s + dy * c
    rho2 = (u / axes[0]) ** 2 + (v / axes[1]) ** 2
    phi = np.where(rho2 < 1.0, (1.0 - rho2) ** 2, 0.0).astype(np.float32)
    du = -k[0] * phi * u
    dv = -k[1] * phi * v
    return np.stack([du * c - dv * s, du * s + dv * c], axis=-1).astype(np.float32)


def rbf(box: Box, centers: np.ndarray, values: np.ndarray, sigma: float,
        *, step: float | None = None) -> np.ndarray:
    """Gaussian RBF interpolation of displacements (backward field over ``box``).

    The field equals ``values[i]`` at ``centers[i]`` (up to a small
    regularisation) and decays like a Gaussian of ``sigma`` px away from them;
    points with zero value are anchors that hold their neighbourhood still.

    Args:
        centers: ``(n, 2)`` crop px.
        values: ``(n, 2)`` backward displacements (crop px) at the centres.
        sigma: kernel width in crop px.
        step: evaluation grid step (default ``sigma / 6``); the field is
            evaluated on that grid and resized, which is exact to well under a
            pixel for a kernel this smooth.
    """
    centers = np.asarray(centers, np.float64)
    values = np.asarray(values, np.float64)
    d2 = ((centers[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
    K = np.exp(-d2 / (2 * sigma**2))
    coef = np.linalg.solve(K + 1e-3 * np.eye(len(centers)), values)
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    st = max(1.0, step if step is not None else sigma / 6.0)
    gw, gh = max(2, int(np.ceil(w / st)) + 1), max(2, int(np.ceil(h / st)) + 1)
    gx = np.linspace(x0, x1 - 1, gw)
    gy = np.linspace(y0, y1 - 1, gh)
    ex = np.exp(-((gx[None, :] - centers[:, 0:1]) ** 2) / (2 * sigma**2))  # (n, gw)
    ey = np.exp(-((gy[None, :] - centers[:, 1:2]) ** 2) / (2 * sigma**2))  # (n, gh)
    coarse = np.einsum("ny,nx,nc->yxc", ey, ex, coef).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)


def window(region: np.ndarray, margin: float, box: Box) -> np.ndarray:
    """1 on ``region > 0.5``, smoothly 0 at ``margin`` px from it (over ``box``).

    ``(h, w) float32`` in ``[0, 1]``; the falloff is a smoothstep of the
    Euclidean distance to the region, so it is exactly zero beyond ``margin``.
    """
    x0, y0, x1, y1 = box
    outside = (region[y0:y1, x0:x1] <= 0.5).astype(np.uint8)
    if not outside.any():
        return np.ones(outside.shape, np.float32)
    dist = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    t = np.clip(1.0 - dist / max(margin, 1e-3), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def jacobian_terms(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(trace, det)`` terms of ``grad d``: ``det(I + s grad d) = 1 + s A + s^2 B``."""
    gxx = np.gradient(d[..., 0], axis=1)
    gxy = np.gradient(d[..., 0], axis=0)
    gyx = np.gradient(d[..., 1], axis=1)
    gyy = np.gradient(d[..., 1], axis=0)
    return gxx + gyy, gxx * gyy - gxy * gyx


def limit_folding(d: np.ndarray, min_det: float = 0.35) -> tuple[np.ndarray, float]:
    """Scale ``d`` so that ``det(I + grad d) >= min_det`` everywhere.

    Returns the (possibly scaled) field and the factor used (1.0 when the
    field already satisfied the bound). A determinant near 0 would fold or
    smear the image; the bound keeps every local area change within
    ``[min_det, 1 / min_det]``-ish.
    """
    if d.size == 0:
        return d, 1.0
    A, B = jacobian_terms(d)

    def worst(s: float) -> float:
        return float(np.min(1.0 + s * A + s * s * B))

    if worst(1.0) >= min_det:
        return d, 1.0
    lo, hi = 0.0, 1.0
    for _ in range(12):
        mid = 0.5 * (lo + hi)
        if worst(mid) >= min_det:
            lo = mid
        else:
            hi = mid
    return (d * lo).astype(np.float32), lo


def sample_points(field: np.ndarray, xy: np.ndarray, origin: tuple[int, int] = (0, 0),
                  ) -> np.ndarray:
    """Bilinear sample of ``field`` ``(h, w, C)`` at ``(n, 2)`` canvas points -> ``(n, C)``.

    ``field[0, 0]`` is crop pixel ``origin``; points outside the field get 0.
    """
    h, w = field.shape[:2]
    x = xy[:, 0] - origin[0]
    y = xy[:, 1] - origin[1]
    inside = (x >= 0) & (y >= 0) & (x <= w - 1) & (y <= h - 1)
    x = np.clip(x, 0, max(0.0, w - 1.001))
    y = np.clip(y, 0, max(0.0, h - 1.001))
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    f = field
    v = ((1 - fx) * (1 - fy) * f[y0, x0] + fx * (1 - fy) * f[y0, x1]
         + (1 - fx) * fy * f[y1, x0] + fx * fy * f[y1, x1])
    return v * inside[:, None]


def forward_points(field: np.ndarray, xy: np.ndarray, origin: tuple[int, int] = (0, 0),
                   iters: int = 12) -> np.ndarray:
    """Where input points ``xy`` ``(n, 2)`` land in the output of backward ``field``.

    Solves ``x + field(x) = p`` by fixed-point iteration (converges because
    the field's gradient is bounded by :func:`limit_folding`). ``origin`` as
    in :func:`sample_points`.
    """
    p = np.asarray(xy, np.float64)
    x = p.copy()
    for _ in range(iters):
        x = p - sample_points(field, x, origin)
    return x


def compose_into(total: np.ndarray, box: Box, d: np.ndarray) -> None:
    """Chain a new edit's field ``d`` (over ``box``) after the edits in ``total``.

    ``total`` (``(CH, S, 2) float32``, the canvas) maps output to original input; the new
    edit is applied to the already-edited image, so the chained map is
    ``x -> y + total(y)`` with ``y = x + d(x)``. Modified in place.
    """
    x0, y0, x1, y1 = box
    X, Y = grid(box)
    sx, sy = X + d[..., 0], Y + d[..., 1]
    prev = cv2.remap(total, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    total[y0:y1, x0:x1] = d + prev
