"""Plant realistic synthetic skin blemishes on a clean face photo, with ground truth.

The model
---------
A blemish is a change of the skin's *tone*, never a replacement of its pixels.
Each pixel is split into a smooth base colour (Gaussian blur, sigma 1.5 px) and
fine detail (pores, fine hair, sensor noise). The base is multiplied, in
linear RGB, by a per-channel gain (plus, for some inflamed papules, a tiny
additive specular glint) and the detail is added back unchanged in sRGB, so
the texture stays exactly as visible through the blemish as on clean skin.
The gains follow a Beer-Lambert absorption picture: a blemish adds an
absorber whose density follows a soft profile and whose per-channel
absorbance spectrum sets its colour:

* ``"acne"`` -- inflamed papule: haemoglobin-like absorption (green > blue >
  red: red and a little darker), a raised-cosine core plus a weaker, wider
  erythema halo, Lambertian shading of a small bump (soft highlight on the
  side facing a per-image light direction, shadow on the other), sometimes a
  specular glint and sometimes a small pale-yellow whitehead centre.
  Radius 0.6-1.6 % of the face size.
* ``"red_spot"`` -- flat red macule: haemoglobin-like absorption, flatter
  plateau with a soft, irregular edge (radius modulated by low-order angular
  harmonics and warped by smooth noise), mild mottling. 0.8-2.2 %.
* ``"dark_spot"`` -- post-inflammatory hyperpigmentation: melanin-like
  absorption (blue > green > red: brown, little extra redness), irregular soft
  edge, mottled density. 0.5-1.5 %.

Each instance's strength is calibrated on the local skin colour so that its
peak colour difference (CIE76 ``Delta E`` of the tone shift, which is what a
viewer sees after the pores average out) is drawn from a realistic range
(typically 8-25). The measured peak is stored in
:attr:`PlantedInstance.peak_delta_e`.

Conventions: images are ``(H, W, 3) uint8`` RGB; masks ``(H, W) bool``;
points are ``(x, y)`` with the origin at the centre of the top-left pixel;
boxes are ``(x, y, w, h)`` in integer pixels (half-open: columns ``x`` to
``x + w - 1``).

Everything is driven by one :class:`numpy.random.Generator`, so a given seed,
image and mask always give the same output.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

#: Blemish types this module can plant (a subset of ``retouch.types.IMPERFECTION_TYPES``).
SYNTH_TYPES: tuple[str, ...] = ("acne", "red_spot", "dark_spot")

#: How many instances of each type :func:`plant_blemishes` plants by default.
DEFAULT_COUNTS: dict[str, int] = {"acne": 6, "red_spot": 4, "dark_spot": 5}

#: Centres of two blemishes are at least this many times the sum of their radii apart.
MIN_SEPARATION: float = 2.5

# A pixel belongs to an instance's mask when the blemish shifts one of its
# channels by more than this many 8-bit code values (before rounding). Every
# pixel that differs from the input is therefore inside the union mask.
_MASK_THRESHOLD: float = 0.5


class NoFaceFoundError(ValueError):
    """:func:`face_skin_mask` found no face in the image."""


# --------------------------------------------------------------------------
# Colour helpers
# --------------------------------------------------------------------------


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in ``[0, 1]`` -> linear-light values in ``[0, 1]`` (float64)."""
    s = np.asarray(srgb, dtype=np.float64)
    return np.where(s <= 0.04045, s / 12.92, ((s + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    """Linear-light values -> sRGB-encoded values, both in ``[0, 1]`` (input is clipped)."""
    v = np.clip(np.asarray(lin, dtype=np.float64), 0.0, 1.0)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1.0 / 2.4) - 0.055)


_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])


def _linear_to_lab(lin: np.ndarray) -> np.ndarray:
    xyz = np.asarray(lin, dtype=np.float64) @ _RGB_TO_XYZ.T / _WHITE_D65
    eps = (6.0 / 29.0) ** 3
    f = np.where(xyz > eps, np.cbrt(np.maximum(xyz, eps)), xyz / (3 * (6.0 / 29.0) ** 2) + 4 / 29)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of sRGB colours.

    Args:
        rgb: ``(..., 3)`` RGB; ``uint8`` (0-255) or float in ``[0, 1]``.

    Returns:
        ``(..., 3) float64``: L* in ``[0, 100]``, a*, b* roughly in ``[-128, 127]``.
    """
    arr = np.asarray(rgb)
    s = arr.astype(np.float64) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float64)
    return _linear_to_lab(srgb_to_linear(s))


def delta_e76(rgb_a: np.ndarray, rgb_b: np.ndarray) -> np.ndarray:
    """CIE76 colour difference (Euclidean distance in L*a*b*) of two sRGB arrays.

    Both are ``(..., 3)``, ``uint8`` or float in ``[0, 1]``; returns ``(...)`` float64.
    """
    return np.linalg.norm(srgb_to_lab(rgb_a) - srgb_to_lab(rgb_b), axis=-1)


# --------------------------------------------------------------------------
# Public data classes
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlantedInstance:
    """One planted blemish (ground truth).

    Attributes:
        type: one of :data:`SYNTH_TYPES`.
        center_xy: ``(x, y)`` centre in image pixels (float, sub-pixel).
        radius_px: nominal radius in pixels: where the core's tone shift has
            fallen to half its peak (averaged over the irregular edge). The
            faint tails (and an acne's halo) reach further; see ``mask``.
        bbox_xywh: ``(x, y, w, h)`` integer box enclosing ``mask``.
        mask: ``(H, W) bool``, True where this blemish shifts a channel of the
            photo by more than half an 8-bit code value.
        peak_delta_e: peak CIE76 colour difference to the clean photo, measured
            on both images lightly blurred (pore texture averaged out).
        whitehead: True for an acne papule drawn with a pale pustule centre.
    """

    type: str
    center_xy: tuple[float, float]
    radius_px: float
    bbox_xywh: tuple[int, int, int, int]
    mask: np.ndarray
    peak_delta_e: float
    whitehead: bool = False

    def __post_init__(self) -> None:
        if self.type not in SYNTH_TYPES:
            raise ValueError(f"unknown blemish type {self.type!r}; expected one of {SYNTH_TYPES}")
        if self.mask.dtype != np.bool_ or self.mask.ndim != 2:
            raise ValueError("`mask` must be a (H, W) bool array")


@dataclass(frozen=True)
class PlantedBlemishes:
    """Result of :func:`plant_blemishes`.

    Attributes:
        image: ``(H, W, 3) uint8`` RGB, the clean photo with blemishes planted.
            Bit-identical to the input outside ``union_mask``.
        instances: every planted blemish, grouped by type in
            :data:`SYNTH_TYPES` order.
        masks: type -> ``(H, W) bool`` union of that type's instance masks (one
            entry per type in :data:`SYNTH_TYPES`, all-False when none planted).
        union_mask: ``(H, W) bool`` union of all instance masks.
        light_dir_xy: unit ``(x, y)`` vector pointing from a blemish towards the
            light used to shade raised papules (image coordinates, y down).
    """

    image: np.ndarray
    instances: tuple[PlantedInstance, ...]
    masks: dict[str, np.ndarray]
    union_mask: np.ndarray
    light_dir_xy: tuple[float, float] = (0.0, -1.0)

    def instances_of(self, kind: str) -> tuple[PlantedInstance, ...]:
        """The planted instances of one type."""
        return tuple(i for i in self.instances if i.type == kind)


# --------------------------------------------------------------------------
# Per-type appearance parameters
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _TypeParams:
    radius_frac: tuple[float, float]  # radius / face size
    delta_e: tuple[float, float]  # peak tone Delta E
    edge_width: tuple[float, float]  # raised-cosine transition width, in radii
    irregularity: float  # std of the 2nd angular harmonic of the radius
    warp: float  # amplitude of smooth noise added to the normalized distance
    mottle: float  # relative std of the density modulation inside


_PARAMS: dict[str, _TypeParams] = {
    "acne": _TypeParams((0.006, 0.016), (10.0, 25.0), (1.5, 1.9), 0.06, 0.06, 0.10),
    "red_spot": _TypeParams((0.008, 0.022), (8.0, 20.0), (1.0, 1.5), 0.10, 0.11, 0.20),
    "dark_spot": _TypeParams((0.005, 0.015), (8.0, 20.0), (1.0, 1.5), 0.10, 0.12, 0.22),
}

_R_EFF_RANGE = (0.7, 1.35)  # clip of the angular radius modulation
_WARP_CLIP = 3.0  # smooth-noise fields are clipped to +-3 std
_DETAIL_SIGMA = 1.5  # px: finer detail is carried over unchanged (texture), coarser is shifted


@dataclass(frozen=True)
class _Draft:
    """Shape parameters drawn before placement (they set the support radius)."""

    kind: str
    radius: float
    edge_width: float
    harmonics: tuple[tuple[float, float], ...]  # (amplitude, phase) for k = 2 .. 6
    halo_scale: float  # acne only: halo radius / core radius (0 = none)
    halo_width: float
    support: float  # radius beyond which the blemish changes nothing, px


def _draw_draft(kind: str, face_size_px: float, rng: np.random.Generator) -> _Draft:
    p = _PARAMS[kind]
    radius = float(rng.uniform(*p.radius_frac) * face_size_px)
    radius = max(radius, 1.2)
    w = float(rng.uniform(*p.edge_width))
    harmonics = tuple(
        (float(rng.normal(0.0, p.irregularity / (k - 1) ** 0.7)), float(rng.uniform(0, 2 * np.pi)))
        for k in range(2, 7)
    )
    halo_scale = halo_width = 0.0
    u_out = 1.0 + w / 2.0
    if kind == "acne":
        halo_scale = float(rng.uniform(1.5, 2.0))
        halo_width = float(rng.uniform(1.4, 1.8))
        u_out = max(u_out, halo_scale * (1.0 + halo_width / 2.0))
    support = (u_out + _WARP_CLIP * p.warp) * _R_EFF_RANGE[1] * radius + 1.0
    return _Draft(kind, radius, w, harmonics, halo_scale, halo_width, float(support))


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


def _smooth_noise(shape: tuple[int, int], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-std, spatially smooth noise (clipped to +-_WARP_CLIP)."""
    white = rng.standard_normal(shape)
    field = cv2.GaussianBlur(white, (0, 0), sigmaX=max(sigma, 0.5), borderType=cv2.BORDER_REFLECT)
    std = float(field.std())
    if std > 1e-9:
        field = (field - field.mean()) / std
    return np.clip(field, -_WARP_CLIP, _WARP_CLIP)


def _raised_cosine(u: np.ndarray, width: float) -> np.ndarray:
    """1 for ``u <= 1 - width/2``, 0 for ``u >= 1 + width/2``, 0.5 at ``u = 1``."""
    t = np.clip((u - (1.0 - width / 2.0)) / width, 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * t))


def _spectrum(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Per-channel (R, G, B) absorbance shape of the blemish's chromophore."""
    if kind == "acne":  # haemoglobin-like, with some overall darkening
        return np.array([rng.uniform(0.25, 0.4), 1.0, rng.uniform(0.8, 1.0)])
    if kind == "red_spot":  # haemoglobin-like, a little pinker
        return np.array([rng.uniform(0.12, 0.25), 1.0, rng.uniform(0.7, 0.9)])
    # melanin-like: absorbance falls with wavelength -> brown
    return np.array([rng.uniform(0.55, 0.7), 1.0, rng.uniform(1.1, 1.35)])


def _calibrate_strength(color_lin: np.ndarray, spectrum: np.ndarray, target_de: float) -> float:
    """Absorber density ``A`` such that ``color * exp(-A * spectrum)`` is ``target_de`` away."""
    lab0 = _linear_to_lab(color_lin)

    def de(a: float) -> float:
        return float(np.linalg.norm(_linear_to_lab(color_lin * np.exp(-a * spectrum)) - lab0))

    lo, hi = 0.0, 6.0
    if de(hi) < target_de:
        return hi
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if de(mid) < target_de:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _render(
    draft: _Draft,
    center: tuple[float, float],
    orig_u8: np.ndarray,
    light: np.ndarray,
    rng: np.random.Generator,
) -> tuple[tuple[int, int], np.ndarray, np.ndarray, float, bool]:
    """Render one blemish in a local patch.

    Returns ``((x0, y0), new_patch_u8, mask_patch, peak_delta_e, whitehead)``.
    """
    h_img, w_img = orig_u8.shape[:2]
    p = _PARAMS[draft.kind]
    cx, cy = center
    hs = int(math.ceil(draft.support)) + 1
    x0 = max(int(round(cx)) - hs, 0)
    y0 = max(int(round(cy)) - hs, 0)
    x1 = min(int(round(cx)) + hs + 1, w_img)
    y1 = min(int(round(cy)) + hs + 1, h_img)
    shape = (y1 - y0, x1 - x0)
    X, Y = np.meshgrid(np.arange(x0, x1) - cx, np.arange(y0, y1) - cy)
    d = np.hypot(X, Y)
    theta = np.arctan2(Y, X)
    r = draft.radius

    # Irregular outline: low-order angular harmonics of the radius, then smooth warp.
    mod = np.ones(shape)
    for k, (amp, phase) in enumerate(draft.harmonics, start=2):
        mod += amp * np.cos(k * theta + phase)
    r_eff = r * np.clip(mod, *_R_EFF_RANGE)
    warp = _smooth_noise(shape, 0.35 * r, rng)
    u = d / r_eff + p.warp * warp
    # Density mottling, anchored to 1 at the centre so the calibrated peak holds.
    eta = _smooth_noise(shape, max(0.8, 0.3 * r), rng)
    eta_c = float(eta[np.unravel_index(np.argmin(d), d.shape)])
    mottle = np.clip(1.0 + p.mottle * (eta - eta_c), 0.5, 1.5)
    core = _raised_cosine(u, draft.edge_width)
    density = core * mottle
    peak_density = 1.0

    patch_lin = srgb_to_linear(orig_u8[y0:y1, x0:x1].astype(np.float64) / 255.0)
    wts = np.exp(-0.5 * (d / max(r, 1.0)) ** 2)
    local = (patch_lin * wts[..., None]).sum(axis=(0, 1)) / wts.sum()
    local = np.clip(local, 1e-4, 1.0)

    spectrum = _spectrum(draft.kind, rng)
    target_de = float(rng.uniform(*p.delta_e))
    gain = np.ones(shape + (3,))
    spec_add = None
    whitehead = False
    detail_gain = np.ones(shape)

    if draft.kind == "acne":
        halo_amp = float(rng.uniform(0.15, 0.3))
        halo = _raised_cosine(u / draft.halo_scale, draft.halo_width)
        density = density + halo_amp * halo
        peak_density = 1.0 + halo_amp
        # Raised bump shading (Lambert): brighter on the side facing the light.
        jitter = rng.uniform(-0.25, 0.25)
        ca, sa = math.cos(jitter), math.sin(jitter)
        lx, ly = ca * light[0] - sa * light[1], sa * light[0] + ca * light[1]
        gy, gx = np.gradient(core)
        slope = -(gx * lx + gy * ly) * r / (np.pi / (2.0 * draft.edge_width))
        shade_k = float(rng.uniform(0.08, 0.2))
        gain *= np.exp(shade_k * np.clip(slope, -1.5, 1.5))[..., None]

    strength = _calibrate_strength(local, spectrum, target_de) / peak_density
    gain *= np.exp(-strength * density[..., None] * spectrum)

    if draft.kind == "acne":
        tone_center = local * np.exp(-strength * peak_density * spectrum)
        if rng.uniform() < 0.3:  # whitehead: pale yellowish pustule centre
            whitehead = True
            off = rng.uniform(-0.15, 0.15, size=2) * r
            sw = max(0.55, float(rng.uniform(0.22, 0.35)) * r)
            q = np.exp(-0.5 * ((X - off[0]) ** 2 + (Y - off[1]) ** 2) / sw**2)
            q *= float(rng.uniform(0.4, 0.7))
            # Pus is cream-coloured: half the skin's own chromaticity, half cream,
            # clearly lighter than the surrounding skin.
            lum = float(local @ _RGB_TO_XYZ[1])
            cream = np.array([0.86, 0.74, 0.42])
            chroma = np.sqrt((local / lum) * (cream / float(cream @ _RGB_TO_XYZ[1])))
            target_lum = min(0.85, max(lum * float(rng.uniform(1.3, 1.8)), lum + 0.06))
            pus = np.clip(chroma * target_lum / float(chroma @ _RGB_TO_XYZ[1]), 1e-4, 1.0)
            gain *= (1.0 - q)[..., None] + q[..., None] * (pus / tone_center)
            detail_gain = 1.0 - 0.4 * q  # the pus dome is smoother than skin
        if rng.uniform() < 0.45:  # small specular glint on the lit side of the dome
            gx0, gy0 = 0.35 * r * lx, 0.35 * r * ly
            sg = max(0.5, 0.15 * r)
            g = np.exp(-0.5 * ((X - gx0) ** 2 + (Y - gy0) ** 2) / sg**2)
            lum = float(local @ _RGB_TO_XYZ[1])
            spec_add = (float(rng.uniform(0.06, 0.18)) * lum * g)[..., None] * np.ones(3)

    # Tone shift of the smooth base colour; the fine texture (pores, hair, noise)
    # rides on top unchanged in sRGB, so it stays as visible as on the clean skin.
    old = orig_u8[y0:y1, x0:x1]
    old_s = old.astype(np.float64) / 255.0
    base_s = cv2.GaussianBlur(old_s, (0, 0), _DETAIL_SIGMA, borderType=cv2.BORDER_REFLECT)
    new_lin = srgb_to_linear(base_s) * gain
    if spec_add is not None:
        new_lin = new_lin + spec_add
    detail = (old_s - base_s) * detail_gain[..., None]
    new_srgb = (linear_to_srgb(new_lin) + detail) * 255.0
    diff = np.abs(new_srgb - old.astype(np.float64)).max(axis=2)
    mask = diff > _MASK_THRESHOLD
    new_u8 = np.where(mask[..., None], np.clip(np.rint(new_srgb), 0, 255), old).astype(np.uint8)

    # Measured peak Delta E on lightly blurred images (texture averaged out).
    sig = max(0.7, 0.3 * r)
    blur_new = cv2.GaussianBlur(new_u8.astype(np.float64) / 255.0, (0, 0), sig)
    blur_old = cv2.GaussianBlur(old.astype(np.float64) / 255.0, (0, 0), sig)
    de_map = delta_e76(blur_new, blur_old)
    inner = u < 1.0
    peak = float(de_map[inner].max()) if inner.any() else float(de_map.max())
    return (x0, y0), new_u8, mask, peak, whitehead


# --------------------------------------------------------------------------
# Placement
# --------------------------------------------------------------------------


def _as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _place(
    drafts: list[_Draft],
    dist_to_edge: np.ndarray,
    rng: np.random.Generator,
    tries: int,
) -> list[tuple[float, float] | None]:
    """Centres for ``drafts`` (largest support first); None where no room was found."""
    centres: list[tuple[float, float] | None] = [None] * len(drafts)
    placed: list[tuple[float, float, float, float]] = []  # x, y, radius, support
    flat = dist_to_edge.ravel()
    w = dist_to_edge.shape[1]
    for i in sorted(range(len(drafts)), key=lambda j: -drafts[j].support):
        dr = drafts[i]
        candidates = np.flatnonzero(flat >= dr.support + 1.0)
        if candidates.size == 0:
            continue
        arr = np.array(placed, dtype=np.float64).reshape(-1, 4)
        for _ in range(max(1, tries // 64)):
            pick = rng.choice(candidates, size=min(64, candidates.size), replace=False)
            jit = rng.uniform(-0.5, 0.5, size=(pick.size, 2))
            xs = (pick % w).astype(np.float64) + jit[:, 0]
            ys = (pick // w).astype(np.float64) + jit[:, 1]
            if arr.shape[0]:
                dist = np.hypot(xs[:, None] - arr[None, :, 0], ys[:, None] - arr[None, :, 1])
                need = np.maximum(
                    MIN_SEPARATION * (dr.radius + arr[None, :, 2]),
                    dr.support + arr[None, :, 3] + 1.0,
                )
                ok = np.all(dist >= need, axis=1)
            else:
                ok = np.ones(pick.size, dtype=bool)
            if ok.any():
                k = int(np.argmax(ok))
                centres[i] = (float(xs[k]), float(ys[k]))
                placed.append((centres[i][0], centres[i][1], dr.radius, dr.support))
                break
    return centres


def plant_blemishes(
    image: np.ndarray,
    skin_mask: np.ndarray,
    *,
    face_size_px: float,
    counts: Mapping[str, int] | None = None,
    rng: np.random.Generator | int = 0,
    margin_px: float = 0.0,
    tries: int = 1024,
) -> PlantedBlemishes:
    """Plant seeded synthetic acne, red spots and dark spots on a clean face photo.

    Args:
        image: ``(H, W, 3) uint8`` RGB clean photo. Not modified.
        skin_mask: ``(H, W) bool``, where blemishes may lie. Every planted
            blemish, including its faint tails, lies inside this mask eroded by
            ``margin_px`` (see :func:`face_skin_mask` for a conservative one).
        face_size_px: face width in pixels; blemish radii are fractions of it.
        counts: type -> number of instances (types from :data:`SYNTH_TYPES`);
            ``None`` means :data:`DEFAULT_COUNTS`. Types not named get none.
        rng: a generator (consumed) or an integer seed.
        margin_px: extra distance to keep from the mask's edge.
        tries: random candidate centres tried per instance before giving up.

    Returns:
        :class:`PlantedBlemishes`. Instances are non-overlapping: centres are
        at least ``MIN_SEPARATION * (r1 + r2)`` apart and their masks are
        disjoint. When the mask has no room left for an instance it is skipped
        with a :class:`RuntimeWarning` (so fewer than ``counts`` may be planted).
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("`image` must be a uint8 numpy array")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"`image` must be (H, W, 3) RGB; got shape {image.shape}")
    skin_mask = np.asarray(skin_mask)
    if skin_mask.shape != image.shape[:2]:
        raise ValueError(f"`skin_mask` shape {skin_mask.shape} != image {image.shape[:2]}")
    if not face_size_px > 0:
        raise ValueError(f"`face_size_px` must be > 0; got {face_size_px}")
    counts = dict(DEFAULT_COUNTS if counts is None else counts)
    for kind, n in counts.items():
        if kind not in SYNTH_TYPES:
            raise ValueError(f"unknown blemish type {kind!r}; expected one of {SYNTH_TYPES}")
        if int(n) < 0:
            raise ValueError(f"count for {kind!r} must be >= 0; got {n}")
    gen = _as_generator(rng)
    h, w = image.shape[:2]

    # Light comes from above, give or take 70 degrees (y grows downwards).
    ang = -np.pi / 2 + gen.uniform(-1.2, 1.2)
    light = np.array([math.cos(ang), math.sin(ang)])

    drafts = [
        _draw_draft(kind, float(face_size_px), gen)
        for kind in SYNTH_TYPES
        for _ in range(int(counts.get(kind, 0)))
    ]
    padded = np.pad(skin_mask.astype(np.uint8), 1)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1] - float(margin_px)
    centres = _place(drafts, dist, gen, tries)

    out = image.copy()
    instances: list[PlantedInstance] = []
    masks = {kind: np.zeros((h, w), dtype=bool) for kind in SYNTH_TYPES}
    skipped: dict[str, int] = {}
    for dr, c in zip(drafts, centres, strict=True):
        if c is None:
            skipped[dr.kind] = skipped.get(dr.kind, 0) + 1
            continue
        (x0, y0), new_patch, mpatch, peak, whitehead = _render(dr, c, image, light, gen)
        ph, pw = mpatch.shape
        out[y0 : y0 + ph, x0 : x0 + pw][mpatch] = new_patch[mpatch]
        full = np.zeros((h, w), dtype=bool)
        full[y0 : y0 + ph, x0 : x0 + pw] = mpatch
        ys, xs = np.nonzero(mpatch)
        if ys.size:
            bbox = (
                int(x0 + xs.min()),
                int(y0 + ys.min()),
                int(xs.max() - xs.min() + 1),
                int(ys.max() - ys.min() + 1),
            )
        else:  # contrast too low to change any code value (nearly black/white skin)
            bbox = (int(round(c[0])), int(round(c[1])), 0, 0)
        masks[dr.kind] |= full
        instances.append(
            PlantedInstance(
                type=dr.kind,
                center_xy=(round(c[0], 3), round(c[1], 3)),
                radius_px=round(dr.radius, 3),
                bbox_xywh=bbox,
                mask=full,
                peak_delta_e=round(peak, 3),
                whitehead=whitehead,
            )
        )
    if skipped:
        warnings.warn(
            f"plant_blemishes: no room in the skin mask for {skipped}; planted fewer",
            RuntimeWarning,
            stacklevel=2,
        )
    union = np.zeros((h, w), dtype=bool)
    for m in masks.values():
        union |= m
    return PlantedBlemishes(
        image=out,
        instances=tuple(instances),
        masks=masks,
        union_mask=union,
        light_dir_xy=(float(light[0]), float(light[1])),
    )


# --------------------------------------------------------------------------
# Conservative skin mask from MediaPipe Face Mesh (independent of the pipeline)
# --------------------------------------------------------------------------

# Lower nose: alae and nostrils (MediaPipe Face Mesh indices).
_NOSE_LOWER = (129, 49, 48, 64, 98, 97, 2, 326, 327, 294, 278, 279, 358, 1, 4)


def _oval_polygon(edges: frozenset[tuple[int, int]]) -> list[int]:
    adj: dict[int, list[int]] = {}
    for a, b in edges:
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    start = min(adj)
    order, prev, cur = [start], -1, start
    while True:
        nxt = next(n for n in adj[cur] if n != prev)
        if nxt == start or len(order) > len(adj):
            break
        order.append(nxt)
        prev, cur = cur, nxt
    return order


def _indices(edges: frozenset[tuple[int, int]]) -> list[int]:
    return sorted({i for e in edges for i in e})


def _fill_hull(mask: np.ndarray, pts: np.ndarray) -> None:
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)


def _disk(radius: float) -> np.ndarray:
    k = max(1, int(round(radius)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))


def face_skin_mask(image: np.ndarray, *, max_faces: int = 4) -> tuple[np.ndarray, float]:
    """Conservative facial-skin mask of the largest face, from MediaPipe Face Mesh.

    The face-oval polygon (eroded by 2 % of the face width), minus dilated
    hulls of each eye with its brow, the lips and the lower nose (alae and
    nostrils), then restricted to pixels whose colour is close to the face's
    median skin colour (drops hair, beard, glasses frames, deep shadows and
    strong shine), cleaned with a morphological opening.

    Runs MediaPipe 0.10.21's legacy Face Mesh solution (static images, refined
    landmarks); mediapipe is imported here, lazily.

    Args:
        image: ``(H, W, 3) uint8`` RGB.
        max_faces: faces the mesh may find; the widest one is used.

    Returns:
        ``(mask, face_size_px)``: ``(H, W) bool`` skin mask and the width in
        pixels of the face oval (max x - min x of its landmarks).

    Raises:
        NoFaceFoundError: the mesh found no face.
    """
    from mediapipe.python.solutions import face_mesh, face_mesh_connections

    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("`image` must be (H, W, 3) uint8 RGB")
    h, w = image.shape[:2]
    with face_mesh.FaceMesh(
        static_image_mode=True,
        refine_landmarks=True,
        max_num_faces=max_faces,
        min_detection_confidence=0.5,
    ) as fm:
        result = fm.process(np.ascontiguousarray(image))
    if not result.multi_face_landmarks:
        raise NoFaceFoundError("no face found by MediaPipe Face Mesh")

    oval_idx = _oval_polygon(face_mesh_connections.FACEMESH_FACE_OVAL)
    best, best_w = None, -1.0
    for lms in result.multi_face_landmarks:
        pts = np.array([(lm.x * w, lm.y * h) for lm in lms.landmark], dtype=np.float64)
        ow = float(np.ptp(pts[oval_idx, 0]))
        if ow > best_w:
            best, best_w = pts, ow
    assert best is not None
    pts = best
    fs = best_w

    oval = np.zeros((h, w), dtype=np.uint8)
    cv2.fillPoly(oval, [np.round(pts[oval_idx]).astype(np.int32)], 1)
    oval = cv2.erode(oval, _disk(0.02 * fs))

    holes = np.zeros((h, w), dtype=np.uint8)
    c = face_mesh_connections
    for eye, brow in (
        (c.FACEMESH_LEFT_EYE, c.FACEMESH_LEFT_EYEBROW),
        (c.FACEMESH_RIGHT_EYE, c.FACEMESH_RIGHT_EYEBROW),
    ):
        part = np.zeros_like(holes)
        _fill_hull(part, pts[_indices(eye) + _indices(brow)])
        holes |= cv2.dilate(part, _disk(0.03 * fs))
    part = np.zeros_like(holes)
    _fill_hull(part, pts[_indices(c.FACEMESH_LIPS)])
    holes |= cv2.dilate(part, _disk(0.03 * fs))
    part = np.zeros_like(holes)
    _fill_hull(part, pts[list(_NOSE_LOWER)])
    holes |= cv2.dilate(part, _disk(0.015 * fs))

    geom = (oval > 0) & (holes == 0)
    if not geom.any():
        return geom, fs

    # Colour gate: close to the median skin colour of the geometric region.
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    L, A, B = lab[..., 0] * (100.0 / 255.0), lab[..., 1] - 128.0, lab[..., 2] - 128.0
    vals = np.stack([L[geom], A[geom], B[geom]], axis=1)
    med = np.median(vals, axis=0)
    mad = np.median(np.abs(vals - med), axis=0) * 1.4826 + 1e-3
    chroma_d = np.hypot((A - med[1]) / max(mad[1], 2.0), (B - med[2]) / max(mad[2], 2.0))
    light_ok = np.abs(L - med[0]) <= max(3.0 * mad[0], 18.0)
    colour_ok = (chroma_d <= 3.5) & light_ok
    mask = (geom & colour_ok).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, _disk(0.006 * fs))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _disk(0.006 * fs)) & geom.astype(np.uint8)

    # Drop small fragments.
    n, lab_cc, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n > 1:
        areas = stats[1:, cv2.CC_STAT_AREA]
        keep = np.flatnonzero(areas >= 0.02 * areas.max()) + 1
        mask = np.isin(lab_cc, keep)
    return mask.astype(bool), fs
