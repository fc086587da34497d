"""Tests of retouch.synth: seeded synthetic blemishes with ground truth."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from retouch.synth import (
    DEFAULT_COUNTS,
    SYNTH_TYPES,
    PlantedBlemishes,
    delta_e76,
    face_skin_mask,
    plant_blemishes,
    srgb_to_lab,
)
from retouch.synth.blemishes import MIN_SEPARATION

SKIN_RGB = (205, 150, 128)
SIZE = 384
FACE_SIZE = 600.0
NOISE_STD = 6.0


def _skin_image(seed: int = 123, size: int = SIZE) -> np.ndarray:
    """Flat skin colour plus gaussian 'pore' texture, uint8 RGB."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, NOISE_STD, size=(size, size, 1)) * np.array([1.0, 0.9, 0.85])
    img = np.array(SKIN_RGB, dtype=np.float64) + noise
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def skin() -> np.ndarray:
    return _skin_image()


@pytest.fixture(scope="module")
def planted(skin: np.ndarray) -> PlantedBlemishes:
    mask = np.ones(skin.shape[:2], dtype=bool)
    return plant_blemishes(skin, mask, face_size_px=FACE_SIZE, rng=7)


def _disc(shape: tuple[int, int], center: tuple[float, float], radius: float) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (xx - center[0]) ** 2 + (yy - center[1]) ** 2 <= radius**2


def test_deterministic_for_a_seed(skin: np.ndarray) -> None:
    mask = np.ones(skin.shape[:2], dtype=bool)
    a = plant_blemishes(skin, mask, face_size_px=FACE_SIZE, rng=3)
    b = plant_blemishes(skin, mask, face_size_px=FACE_SIZE, rng=np.random.default_rng(3))
    c = plant_blemishes(skin, mask, face_size_px=FACE_SIZE, rng=4)
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.union_mask, b.union_mask)
    assert [(i.type, i.center_xy, i.radius_px, i.bbox_xywh) for i in a.instances] == [
        (i.type, i.center_xy, i.radius_px, i.bbox_xywh) for i in b.instances
    ]
    assert not np.array_equal(a.image, c.image)


def test_input_untouched_and_outside_union_bit_identical(
    skin: np.ndarray, planted: PlantedBlemishes
) -> None:
    assert np.array_equal(skin, _skin_image())  # input not modified
    out = planted.image
    assert out.dtype == np.uint8 and out.shape == skin.shape
    outside = ~planted.union_mask
    assert np.array_equal(out[outside], skin[outside])
    changed = np.any(out != skin, axis=2)
    assert not np.any(changed & outside)
    # Most of each mask really changes (threshold is half a code value).
    assert changed[planted.union_mask].mean() > 0.5


def test_default_counts_and_mask_bookkeeping(planted: PlantedBlemishes) -> None:
    got = {k: len(planted.instances_of(k)) for k in SYNTH_TYPES}
    assert got == DEFAULT_COUNTS
    union = np.zeros_like(planted.union_mask)
    for kind in SYNTH_TYPES:
        per_type = np.zeros_like(union)
        for inst in planted.instances_of(kind):
            per_type |= inst.mask
        assert np.array_equal(per_type, planted.masks[kind])
        union |= per_type
    assert np.array_equal(union, planted.union_mask)
    for inst in planted.instances:
        x, y, w, h = inst.bbox_xywh
        ys, xs = np.nonzero(inst.mask)
        assert (x, y, w, h) == (xs.min(), ys.min(), np.ptp(xs) + 1, np.ptp(ys) + 1)
        assert inst.mask[int(round(inst.center_xy[1])), int(round(inst.center_xy[0]))]


def test_custom_counts_respected(skin: np.ndarray) -> None:
    mask = np.ones(skin.shape[:2], dtype=bool)
    res = plant_blemishes(
        skin, mask, face_size_px=FACE_SIZE, counts={"acne": 3, "dark_spot": 2}, rng=1
    )
    assert [i.type for i in res.instances] == ["acne"] * 3 + ["dark_spot"] * 2
    assert not res.masks["red_spot"].any()
    empty = plant_blemishes(skin, mask, face_size_px=FACE_SIZE, counts={}, rng=1)
    assert empty.instances == () and np.array_equal(empty.image, skin)


def test_radii_follow_face_size(planted: PlantedBlemishes) -> None:
    ranges = {"acne": (0.006, 0.016), "red_spot": (0.008, 0.022), "dark_spot": (0.005, 0.015)}
    for inst in planted.instances:
        lo, hi = ranges[inst.type]
        assert lo * FACE_SIZE - 1e-6 <= inst.radius_px <= hi * FACE_SIZE + 1e-6


def test_inside_mask_and_non_overlapping(skin: np.ndarray) -> None:
    h, w = skin.shape[:2]
    skin_mask = _disc((h, w), (w / 2, h / 2), 0.42 * w)
    skin_mask[150:200, 100:300] = False  # a hole, like the mouth
    res = plant_blemishes(skin, skin_mask, face_size_px=FACE_SIZE, rng=11)
    assert len(res.instances) == sum(DEFAULT_COUNTS.values())
    assert not np.any(res.union_mask & ~skin_mask)
    for a, b in itertools.combinations(res.instances, 2):
        d = np.hypot(a.center_xy[0] - b.center_xy[0], a.center_xy[1] - b.center_xy[1])
        assert d >= MIN_SEPARATION * (a.radius_px + b.radius_px) - 1e-6
        assert not np.any(a.mask & b.mask)


def test_no_room_warns_and_plants_fewer(skin: np.ndarray) -> None:
    small = np.zeros(skin.shape[:2], dtype=bool)
    small[180:205, 180:205] = True
    with pytest.warns(RuntimeWarning, match="no room"):
        res = plant_blemishes(skin, small, face_size_px=FACE_SIZE, rng=0)
    assert len(res.instances) < sum(DEFAULT_COUNTS.values())
    assert not np.any(res.union_mask & ~small)


def test_texture_preserved_inside_blemishes(skin: np.ndarray, planted: PlantedBlemishes) -> None:
    # The same seed on the same mask places and shapes the blemishes identically,
    # so planting on the texture-free flat colour gives the pure tone shift; what
    # the textured result adds on top of it is the texture seen through the blemish.
    flat = np.empty_like(skin)
    flat[:] = SKIN_RGB
    mask = np.ones(skin.shape[:2], dtype=bool)
    planted_flat = plant_blemishes(flat, mask, face_size_px=FACE_SIZE, rng=7)
    tex_in = skin.astype(np.float64) - flat
    tex_out = planted.image.astype(np.float64) - planted_flat.image
    for inst, inst_flat in zip(planted.instances, planted_flat.instances, strict=True):
        assert inst.center_xy == inst_flat.center_xy
        core = _disc(skin.shape[:2], inst.center_xy, max(inst.radius_px, 3.0))
        ratio = tex_out[core].std() / tex_in[core].std()
        assert 0.75 <= ratio <= 1.25, (inst.type, inst.radius_px, ratio)
        # Shifted, not replaced: the texture pattern itself is still there.
        corr = np.corrcoef(tex_in[core].ravel(), tex_out[core].ravel())[0, 1]
        assert corr > 0.9, (inst.type, corr)


def test_colour_moves_the_intended_way(skin: np.ndarray, planted: PlantedBlemishes) -> None:
    lab_in = srgb_to_lab(skin)
    lab_out = srgb_to_lab(planted.image)
    f_in, f_out = skin.astype(np.float64), planted.image.astype(np.float64)
    for inst in planted.instances:
        core = _disc(skin.shape[:2], inst.center_xy, 0.5 * inst.radius_px + 0.5)
        redness_in = (f_in[core, 0] - f_in[core, 1]).mean()
        redness_out = (f_out[core, 0] - f_out[core, 1]).mean()
        d_l = lab_out[core, 0].mean() - lab_in[core, 0].mean()
        d_a = lab_out[core, 1].mean() - lab_in[core, 1].mean()
        if inst.type in ("acne", "red_spot"):
            if not inst.whitehead:
                assert redness_out > redness_in + 5, inst
                assert d_a > 3, inst
        else:
            assert d_l < -3, inst
            assert d_a < abs(d_l), inst  # brown, not red
        assert d_l < 0 or inst.whitehead, inst


def test_contrast_in_realistic_range(skin: np.ndarray, planted: PlantedBlemishes) -> None:
    des = []
    for inst in planted.instances:
        sigma = max(1.0, 0.3 * inst.radius_px)
        blur_in = cv2.GaussianBlur(skin, (0, 0), sigma)
        blur_out = cv2.GaussianBlur(planted.image, (0, 0), sigma)
        core = _disc(skin.shape[:2], inst.center_xy, inst.radius_px)
        de = float(delta_e76(blur_out[core], blur_in[core]).max())
        des.append(de)
        assert 5.0 <= de <= 32.0, (inst.type, de)
        assert 5.0 <= inst.peak_delta_e <= 32.0, inst
    assert np.ptp(des) > 3.0  # contrast varies between instances


def test_validation_errors(skin: np.ndarray) -> None:
    mask = np.ones(skin.shape[:2], dtype=bool)
    with pytest.raises(ValueError, match="unknown blemish type"):
        plant_blemishes(skin, mask, face_size_px=FACE_SIZE, counts={"mole": 1})
    with pytest.raises(ValueError, match="uint8"):
        plant_blemishes(skin.astype(np.float32), mask, face_size_px=FACE_SIZE)
    with pytest.raises(ValueError, match="shape"):
        plant_blemishes(skin, mask[:-1], face_size_px=FACE_SIZE)
    with pytest.raises(ValueError, match="face_size_px"):
        plant_blemishes(skin, mask, face_size_px=0)


_DEFAULT_FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"
FACES = Path(os.environ.get("RETOUCH_FACES", _DEFAULT_FACES))


@pytest.mark.shared
@pytest.mark.skipif(not (FACES / "clean").is_dir(), reason="needs ../shared/faces")
def test_face_skin_mask_on_a_real_face() -> None:
    pytest.importorskip("mediapipe")
    from PIL import Image

    img = np.asarray(Image.open(FACES / "clean" / "gfpgan_ffhq00000_gt512.png").convert("RGB"))
    mask, face_size = face_skin_mask(img)
    assert mask.shape == img.shape[:2] and mask.dtype == bool
    assert 150 < face_size < 512
    frac = mask.mean()
    assert 0.05 < frac < 0.5
    res = plant_blemishes(img, mask, face_size_px=face_size, rng=0)
    assert len(res.instances) == sum(DEFAULT_COUNTS.values())
    assert not np.any(res.union_mask & ~mask)
