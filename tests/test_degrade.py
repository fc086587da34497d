"""Tests of retouch.degrade: the seeded synthetic degradation model."""

from __future__ import annotations

import numpy as np
import pytest

from retouch.degrade import (
    HARD_RANGES,
    LEVELS,
    STANDARD_RANGES,
    Degradation,
    apply_degradation,
    blur_kernel,
    sample_degradation,
)
from retouch.errors import InvalidInputError


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(3)
    base = np.linspace(0, 255, 96, dtype=np.float64)[None, :, None] * np.ones((80, 1, 3))
    return np.clip(base + rng.normal(0, 20, (80, 96, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("deg", [
    Degradation(blur="gaussian", sigma_x=2.0, sigma_y=0.5, angle_deg=30, kernel_size=19),
    Degradation(blur="motion", motion_length_px=9.0, angle_deg=45, kernel_size=21),
])
def test_kernel_is_normalized_and_oriented(deg: Degradation) -> None:
    k = blur_kernel(deg)
    assert k.shape == (deg.kernel_size, deg.kernel_size) and k.dtype == np.float32
    assert k.sum() == pytest.approx(1.0, abs=1e-5)
    # second moments: the long axis points along angle_deg (image y points down)
    r = deg.kernel_size // 2
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    th = np.radians(deg.angle_deg)
    along = (xx * np.cos(th) - yy * np.sin(th))
    across = (xx * np.sin(th) + yy * np.cos(th))
    assert (k * along**2).sum() > 3 * (k * across**2).sum()


def test_motion_kernel_variance_matches_length() -> None:
    k = blur_kernel(Degradation(blur="motion", motion_length_px=12.0, kernel_size=21))
    xx = np.arange(21) - 10
    var = (k.sum(axis=0) * xx**2).sum()
    assert var == pytest.approx(12.0**2 / 12, rel=0.15)


def test_seeded_and_deterministic(image: np.ndarray) -> None:
    deg = LEVELS["medium"]
    a = apply_degradation(image, deg, seed=5)
    b = apply_degradation(image, deg, seed=5)
    c = apply_degradation(image, deg, seed=6)
    assert a.shape == image.shape and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.min() >= 0.0 and a.max() <= 1.0


def test_neutral_degradation_is_identity(image: np.ndarray) -> None:
    out = apply_degradation(image, Degradation())
    assert np.array_equal(np.rint(out * 255).astype(np.uint8), image)


def test_each_step_acts(image: np.ndarray) -> None:
    x = image.astype(np.float32) / 255
    noisy = apply_degradation(image, Degradation(noise_sigma=10.0), seed=0)
    assert np.std(noisy - x) * 255 == pytest.approx(10.0, rel=0.1)
    small = apply_degradation(image, Degradation(scale=4.0, resize_back=False))
    assert small.shape == (20, 24, 3)
    jpeg = apply_degradation(image, Degradation(jpeg_quality=30))
    assert np.allclose(jpeg * 255, np.rint(jpeg * 255), atol=1e-3)
    assert np.abs(jpeg - x).mean() > 2 / 255


def test_sampler_stays_in_ranges() -> None:
    for ranges in (STANDARD_RANGES, HARD_RANGES):
        for seed in range(40):
            d = sample_degradation(seed, ranges)
            assert d == sample_degradation(seed, ranges)
            assert ranges.kernel_size[0] <= d.kernel_size <= ranges.kernel_size[1]
            assert d.kernel_size % 2 == 1
            assert ranges.sigma[0] <= d.sigma_x <= ranges.sigma[1]
            assert ranges.scale[0] <= d.scale <= ranges.scale[1]
            assert ranges.noise_sigma[0] <= d.noise_sigma <= ranges.noise_sigma[1]
            assert ranges.jpeg_quality[0] <= d.jpeg_quality <= ranges.jpeg_quality[1]


def test_levels_inside_standard_ranges() -> None:
    r = STANDARD_RANGES
    for d in LEVELS.values():
        assert r.sigma[0] <= d.sigma_x <= r.sigma[1] and r.scale[0] <= d.scale <= r.scale[1]
        assert r.noise_sigma[0] <= d.noise_sigma <= r.noise_sigma[1]
        assert r.jpeg_quality[0] <= d.jpeg_quality <= r.jpeg_quality[1]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"blur": "box"}, "`blur` must be"),
    ({"blur": "gaussian"}, "sigma_x, sigma_y > 0"),
    ({"kernel_size": 20}, "odd"),
    ({"noise_sigma": -1.0}, "noise_sigma"),
    ({"jpeg_quality": 0}, "jpeg_quality"),
])
def test_invalid_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        Degradation(**kwargs)


def test_rejects_bad_image_shape() -> None:
    with pytest.raises(InvalidInputError, match=r"\(H, W, 3\)"):
        apply_degradation(np.zeros((4, 4, 4), np.uint8), Degradation())
