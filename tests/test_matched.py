"""The whitened matched filter (retouch.matched) on synthetic skin texture."""

from __future__ import annotations

import numpy as np
import pytest

from retouch.matched import BROWN_LAB, RED_LAB, tone_significance

U = 300.0  # face size, px: the filter's radii are 0.006-0.016 of it (1.8-4.8 px)


def _texture(h: int, w: int, sigma: float, seed: int = 0) -> np.ndarray:
    """Lab skin (L* 65, a* 15, b* 18) with pore-like texture whose channels co-vary."""
    import cv2

    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.0)
    base /= base.std()
    own = cv2.GaussianBlur(rng.normal(0, 1, (h, w, 3)).astype(np.float32), (0, 0), 1.0)
    own /= own.std()
    lab = np.empty((h, w, 3), np.float32)
    # Pores darken and redden a little together: L* and a* anti-correlated.
    lab[..., 0] = 65 + sigma * (base + 0.3 * own[..., 0])
    lab[..., 1] = 15 - 0.4 * sigma * base + 0.3 * sigma * own[..., 1]
    lab[..., 2] = 18 + 0.3 * sigma * own[..., 2]
    return lab


def _spot(lab: np.ndarray, x: float, y: float, radius: float, amount: float,
          direction: tuple[float, float, float]) -> np.ndarray:
    """``lab`` with a Gaussian tone shift of ``amount`` Lab units along ``direction``."""
    h, w = lab.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    g = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * radius ** 2)).astype(np.float32)
    return lab + amount * g[..., None] * np.asarray(direction, np.float32)


def test_texture_alone_rarely_reaches_the_threshold():
    lab = _texture(240, 240, 3.0)
    t = tone_significance(lab, np.ones((240, 240), np.float32), U)
    assert t.shape == (240, 240) and t.dtype == np.float32
    inner = t[30:-30, 30:-30]
    # The maximum of 6 tests (3 radii x 2 directions) of unit-variance texture.
    assert 0.5 < float(np.std(inner)) < 1.6
    assert float(np.mean(inner > 4.0)) < 2e-3


def test_a_spot_stands_out_in_sigmas_of_its_own_neighbourhood():
    """The same spot scores higher on smoother skin and rises with its contrast, whose
    core is not counted as texture (the ring's hole). Measured: 5.9 / 9.6 / 12.7 for
    8 / 16 / 24 Lab units on texture of 2 L*, 3.8 / 5.2 / 6.8 on texture of 6 L*."""
    w = np.ones((240, 240), np.float32)
    scores = {}
    for sigma in (2.0, 6.0):
        for amount in (8.0, 24.0):
            lab = _spot(_texture(240, 240, sigma), 120, 120, 3.0, amount, BROWN_LAB)
            scores[sigma, amount] = float(tone_significance(lab, w, U)[117:124, 117:124].max())
    assert scores[2.0, 8.0] > 4.5 > scores[6.0, 8.0]
    assert scores[2.0, 24.0] > 1.5 * scores[6.0, 24.0]
    assert scores[2.0, 24.0] > 1.8 * scores[2.0, 8.0]


def test_colour_direction_and_sign():
    """A red spot scores along the red direction; a lighter spot scores negative."""
    w = np.ones((240, 240), np.float32)
    lab = _texture(240, 240, 1.5)
    red = tone_significance(_spot(lab, 120, 120, 3.0, 8.0, RED_LAB), w, U)
    light = tone_significance(_spot(lab, 120, 120, 3.0, -8.0, BROWN_LAB), w, U)
    assert red[118:123, 118:123].max() > 6.0
    assert light[118:123, 118:123].max() < 1.0
    # Only the red test: a red spot is far along it, a brown one much less.
    brown_spot = _spot(lab, 120, 120, 3.0, 8.0, BROWN_LAB)
    only_red = tone_significance(brown_spot, w, U, directions=(RED_LAB,))
    only_brown = tone_significance(brown_spot, w, U, directions=(BROWN_LAB,))
    assert only_brown[118:123, 118:123].max() > 1.5 * only_red[118:123, 118:123].max()


def test_the_noise_is_local():
    """Left half 4x more textured than the right: the same spot scores higher on the
    right, and the left's texture raises no false alarm."""
    lab = _texture(240, 320, 1.0)
    rough = _texture(240, 320, 4.0, seed=1)
    lab[:, :160] = rough[:, :160]
    w = np.ones(lab.shape[:2], np.float32)
    left = tone_significance(_spot(lab, 60, 120, 3.0, 10.0, BROWN_LAB), w, U)
    right = tone_significance(_spot(lab, 260, 120, 3.0, 10.0, BROWN_LAB), w, U)
    assert right[117:124, 257:264].max() > 2.0 * left[117:124, 57:64].max()
    base = tone_significance(lab, w, U)
    assert float(np.mean(base[30:-30, 30:130] > 4.0)) < 2e-3


def test_only_skin_counts():
    """A very dark region outside the skin weights (hair, a nostril) raises no response
    on the skin beside it, and a spot 10 px from it is measured against the skin's
    texture only: 7.3 sigmas with the weights, 3.3 without (measured)."""
    lab = _texture(240, 240, 1.0)
    lab[:, 150:, 0] -= 40.0  # very dark, not skin
    w = np.ones((240, 240), np.float32)
    w[:, 150:] = 0.0
    assert tone_significance(lab, w, U)[30:-30, 120:148].max() < 4.0
    spot = _spot(lab, 140, 120, 3.0, 8.0, BROWN_LAB)
    weighted = tone_significance(spot, w, U)[117:124, 137:144].max()
    unweighted = tone_significance(spot, np.ones_like(w), U)[117:124, 137:144].max()
    assert weighted > 5.5 and unweighted < 0.7 * weighted


@pytest.mark.parametrize("u", [120.0, 600.0])
def test_small_and_large_faces(u):
    """Reduced grids for large faces and full resolution for small ones give the same
    kind of answer: a spot of 0.01 face sizes is found (above the localizer's 4 sigmas,
    with a margin; measured 4.95 at u = 120, where the smallest radius's texture window
    is 3 px, and 9.0 at u = 600), texture is not."""
    n = int(0.8 * u)
    lab = _texture(n, n, 1.0)
    r = 0.01 * u
    t = tone_significance(_spot(lab, n / 2, n / 2, r, 8.0, BROWN_LAB),
                          np.ones((n, n), np.float32), u)
    c = n // 2
    k = max(2, int(r))
    assert t[c - k:c + k + 1, c - k:c + k + 1].max() > 4.5
    far = t[: n // 4, : n // 4]
    assert float(np.mean(far > 4.0)) < 5e-3


def test_a_halo_joins_the_spot_it_belongs_to():
    """localize._merged: one instance whose footprint covers both (the larger alpha
    where they overlap), whose box covers both, and whose fill bound is the larger."""
    from retouch.localize import CropInstance, _merged

    def inst(x: int, y: int, a: np.ndarray, md: float) -> CropInstance:
        h, w = a.shape
        return CropInstance(type="acne", center_xy=(x + w / 2, y + h / 2), radius=2.0,
                            bbox_xywh=(x + 1, y + 1, w - 2, h - 2), score=0.9, alpha=a,
                            support_xywh=(x, y, w, h), texture_sigma=1.0, max_delta=md)

    core = inst(10, 10, np.full((6, 6), 0.8, np.float32), 0.1)
    halo = inst(13, 12, np.full((5, 7), 0.5, np.float32), 0.2)
    halo.alpha[1, 1] = 1.0  # (14, 13): inside the core's support too
    m = _merged(core, halo)
    assert m.support_xywh == (10, 10, 10, 7)
    assert m.alpha.shape == (7, 10)
    assert m.alpha[3, 4] == 1.0  # the larger alpha where both lie
    assert m.alpha[0, 0] == 0.8 and m.alpha[6, 9] == 0.5 and m.alpha[6, 0] == 0.0
    assert m.bbox_xywh == (11, 11, 8, 5)
    assert m.max_delta == 0.2 and m.type == "acne" and m.center_xy == core.center_xy
