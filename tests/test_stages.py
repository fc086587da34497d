"""Unit tests of the numeric stages on synthetic arrays (no photos, no mediapipe)."""

from __future__ import annotations

import os
import platform
import sys

import numpy as np
import pytest

from retouch.errors import InvalidInputError
from retouch.inpaint import (
    CONTAINMENT_MAX,
    fill_containment,
    fill_delta,
    fill_patch,
    push_pull,
    reduce_highlight,
)
from retouch.pipeline import treatment_amounts
from retouch.types import DEFAULT_TREATMENT, Alignment, Face


def _skin(h=96, w=96, seed=0):
    rng = np.random.default_rng(seed)
    base = np.array([0.78, 0.58, 0.48], np.float32)
    tex = rng.normal(0, 0.02, (h, w, 1)).astype(np.float32)  # pores / grain
    return np.clip(base + tex, 0, 1).astype(np.float32)


def test_push_pull_keeps_known_and_fills_holes_smoothly():
    y, x = np.mgrid[0:64, 0:64].astype(np.float32)
    ramp = (x / 63.0)[..., None].repeat(3, axis=2)
    w = np.ones((64, 64), np.float32)
    w[24:40, 24:40] = 0
    corrupted = ramp.copy()
    corrupted[24:40, 24:40] = 1.0
    out = push_pull(corrupted, w)
    # Known pixels are returned as they were; the hole follows the ramp.
    assert np.allclose(out[w == 1], ramp[w == 1], atol=1e-5)
    err = np.abs(out[24:40, 24:40] - ramp[24:40, 24:40]).max()
    assert err < 0.08


def test_fill_patch_removes_tone_shift_keeps_texture_and_outside():
    clean = _skin()
    yy, xx = np.mgrid[0:96, 0:96]
    bump = np.exp(-((yy - 48) ** 2 + (xx - 48) ** 2) / (2 * 5.0**2)).astype(np.float32)
    blem = clean.copy()
    blem[..., 1] -= 0.15 * bump  # a red spot: less green
    blem[..., 2] -= 0.12 * bump
    alpha = np.clip(bump * 3, 0, 1)
    alpha[alpha < 0.02] = 0
    normal = 1.0 - np.clip(bump * 5, 0, 1)
    out = fill_patch(blem, alpha, normal, texture_sigma=1.5)
    inside = bump > 0.2
    err_in = np.abs(blem - clean)[inside].mean()
    err_out = np.abs(out - clean)[inside].mean()
    assert err_out < 0.35 * err_in
    # Untouched where alpha == 0.
    assert np.array_equal(out[alpha == 0], blem[alpha == 0])
    # Pores kept: high-pass energy inside stays near the clean texture's.
    def hp(a):
        import cv2
        return a - cv2.GaussianBlur(a, (0, 0), 1.5)
    r = hp(out)[inside].std() / hp(clean)[inside].std()
    assert 0.6 < r < 1.3


def test_fill_patch_respects_max_delta():
    p = _skin()
    a = np.ones((96, 96), np.float32)
    w = np.zeros((96, 96), np.float32)
    w[:, :10] = 1
    p2 = p.copy()
    p2[:, :10] = 0.0  # far-away source that would pull everything to black
    out = fill_patch(p2, a, w, 1.0, max_delta=0.03)
    assert np.abs(out - p2).max() <= 0.03 + 1e-6


def _footprint(cy=48, cx=48, r=5.0):
    yy, xx = np.mgrid[0:96, 0:96]
    d2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r**2)
    return np.exp(-d2).astype(np.float32)


def test_fill_containment_tells_a_spot_from_a_structure_going_on_past_it():
    # The same footprint on (a) a round red spot that fades inside it and (b) a dark
    # line (an eyelash, a nose wing's edge) that crosses it and goes on.
    clean = _skin()
    bump = _footprint()
    alpha = np.clip(bump * 2.5, 0, 1)
    alpha[alpha < 0.03] = 0
    normal = 1.0 - np.clip(bump * 4, 0, 1)
    spot = clean.copy()
    spot[..., 1:] -= 0.14 * _footprint(r=3.0)[..., None]
    line = clean.copy()
    line[:, 45:52] *= 0.6  # as wide as the spot (a nose wing's rim, a brow's hairs)
    # The localizer's robust fit of normal skin drops the line's pixels as outliers.
    normal_line = normal.copy()
    normal_line[:, 45:52] = 0.0
    r_spot = fill_containment(fill_delta(spot, alpha, normal, 1.5, lighten_only=True), alpha)
    r_line = fill_containment(fill_delta(line, alpha, normal_line, 1.5, lighten_only=True),
                              alpha)
    assert r_spot < 0.5 * CONTAINMENT_MAX < CONTAINMENT_MAX < r_line, (r_spot, r_line)
    # fill_patch is fill_delta clipped and weighted by alpha.
    d = fill_delta(spot, alpha, normal, 1.5)
    assert np.allclose(fill_patch(spot, alpha, normal, 1.5, max_delta=0.05),
                       spot + alpha[..., None] * np.clip(d, -0.05, 0.05), atol=1e-6)
    # Too small a footprint to tell (no core): 0, never a rejection.
    assert fill_containment(d, np.clip(alpha, 0, 0.5)) == 0.0


def test_fill_patch_lighten_only_never_darkens_across_an_edge():
    # A red spot on the bright side of a shading edge; the fill's context includes the
    # dark side, which a plain fill carries over the spot.
    p = _skin()
    p[:, :44] *= 0.55  # dark side (a crease's shadow)
    yy, xx = np.mgrid[0:96, 0:96]
    bump = np.exp(-((yy - 48) ** 2 + (xx - 50) ** 2) / (2 * 4.0**2)).astype(np.float32)
    blem = p.copy()
    blem[..., 1] -= 0.12 * bump
    blem[..., 2] -= 0.10 * bump
    alpha = np.clip(bump * 3, 0, 1)
    alpha[alpha < 0.02] = 0
    normal = 1.0 - np.clip(bump * 5, 0, 1)
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    plain = fill_patch(blem, alpha, normal, texture_sigma=1.0)
    kept = fill_patch(blem, alpha, normal, texture_sigma=1.0, lighten_only=True)
    drop_plain = (blem - plain) @ luma
    drop_kept = (blem - kept) @ luma
    assert drop_plain.max() > 0.02  # the plain fill does darken here (the test can fail)
    assert drop_kept.max() <= 1e-5
    inside = bump > 0.3
    err = {k: float(np.abs(v - p)[inside].mean()) for k, v in
           (("input", blem), ("plain", plain), ("kept", kept))}
    # No dark blob: far closer to the clean skin than the plain fill, and no worse
    # than leaving the spot (half the context is the wrong tone, so no fill is right).
    assert err["kept"] < 0.6 * err["plain"], err
    assert err["kept"] <= 1.05 * err["input"], err


def test_reduce_highlight_lowers_lightness_by_alpha_keeps_texture_and_hue():
    import cv2

    p = _skin()
    yy, xx = np.mgrid[0:96, 0:96]
    rr = np.hypot(yy - 48, xx - 48)
    bump = np.exp(-(rr**2) / (2 * 12.0**2)).astype(np.float32)
    shiny = np.clip(p + 0.12 * bump[..., None], 0, 1)  # white light added over the skin
    lab_in = cv2.cvtColor(shiny, cv2.COLOR_RGB2Lab)
    excess = lab_in[..., 0][rr < 4].mean() - lab_in[..., 0][rr > 40].mean()  # ~10 L*
    alpha = np.where(bump > 0.05, bump, 0.0).astype(np.float32)
    drop = 0.6 * excess
    out = reduce_highlight(shiny, alpha, drop / 100.0)
    assert np.array_equal(out[alpha == 0], shiny[alpha == 0])
    lab_out = cv2.cvtColor(out, cv2.COLOR_RGB2Lab)
    # L* drops by alpha * drop (monotone in the excess), a and b stay.
    assert np.abs((lab_in[..., 0] - lab_out[..., 0]) - drop * alpha).max() < 0.3
    assert np.abs(lab_in[..., 1:] - lab_out[..., 1:]).max() < 0.3
    # Pores are shifted, not smoothed.
    def hp(a):
        return a - cv2.GaussianBlur(a, (0, 0), 1.5)
    inside = bump > 0.3
    r = hp(out)[inside].std() / hp(shiny)[inside].std()
    assert 0.95 < r < 1.05
    # The highlight keeps its shape: L* still falls off from its centre, ring by
    # ring, by about 40 % of what it did.
    rings = [(rr >= r0) & (rr < r0 + 4) for r0 in range(0, 24, 4)]
    prof_in, prof = (np.array([lab[..., 0][m].mean() for m in rings]) for lab in (lab_in, lab_out))
    assert np.all(np.diff(prof) < 0), prof
    assert 0.25 < (prof[0] - prof[-1]) / (prof_in[0] - prof_in[-1]) < 0.55


@pytest.mark.parametrize(
    "kwargs, expect",
    [
        ({"strength": 0.8}, DEFAULT_TREATMENT),
        ({"strength": 0.0}, {k: 0.0 for k in DEFAULT_TREATMENT}),
        ({"strength": 0.8, "only": "acne,mole"}, {"acne": 1.0, "mole": 1.0, "red_spot": 0.0}),
        ({"strength": 0.8, "keep": ["acne"]}, {"acne": 0.0, "red_spot": 1.0, "freckle": 0.0}),
        ({"strength": 0.4}, {"acne": 0.5, "under_eye": 0.0}),
        ({"strength": 0.4, "only": "under_eye"}, {"acne": 0.0, "under_eye": 0.35}),
    ],
)
def test_treatment_amounts(kwargs, expect):
    got = treatment_amounts(**kwargs)
    for k, v in expect.items():
        assert got[k] == pytest.approx(v), k


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"strength": 1.5}, r"`strength` must be in \[0, 1\]"),
        ({"strength": 0.5, "only": "pimples"}, "unknown imperfection type 'pimples'"),
        ({"strength": 0.5, "only": "acne", "keep": "acne"}, "both in `only` and `keep`"),
    ],
)
def test_treatment_amounts_errors(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        treatment_amounts(**kwargs)


def _fake_face(angle_deg=20.0, iod=80.0, cx=300.0, cy=200.0):
    lm = np.zeros((478, 2), np.float32)
    a = np.radians(angle_deg)
    d = np.array([np.cos(a), np.sin(a)]) * iod / 2
    lm[468] = (cx - d[0], cy - d[1])
    lm[473] = (cx + d[0], cy + d[1])
    return Face(0, (cx - 100, cy - 100, 200, 200), 0.9, lm)


def test_alignment_canonical_and_exact_inverse():
    from retouch.align import align_face

    f = _fake_face()
    al = align_face(f)
    assert al.size == 320  # 4 x iod
    eyes = al.to_crop(f.landmarks_xy[[468, 473]])
    assert np.allclose(eyes[0], [0.5 * 320 - 40, 0.40 * 320], atol=1e-6)
    assert np.allclose(eyes[1], [0.5 * 320 + 40, 0.40 * 320], atol=1e-6)
    pts = np.random.default_rng(1).uniform(0, 500, (50, 2))
    assert np.allclose(al.to_image(al.to_crop(pts)), pts, atol=1e-9)


def test_alignment_size_is_bounded():
    from retouch.align import MAX_CROP, MIN_CROP, align_face

    assert align_face(_fake_face(iod=2000)).size == MAX_CROP
    assert align_face(_fake_face(iod=10)).size == MIN_CROP


def test_alignment_validates():
    with pytest.raises(ValueError, match=r"`matrix` must be \(2, 3\)"):
        Alignment(np.zeros((3, 3)), 64, 1.0)


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="allocator tuning applies to glibc on Linux only")
@pytest.mark.parametrize("env_value, expected", [("1", "True"), ("0", "False")])
def test_tune_allocator_applies_once_and_can_be_disabled(env_value: str, expected: str) -> None:
    import subprocess

    code = ("from retouch import tune_allocator; a = tune_allocator(); b = tune_allocator();"
            "assert a == b; print(a)")
    env = {**os.environ, "RETOUCH_TUNE_ALLOCATOR": env_value}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    assert out.stdout.strip() == expected


def test_a_crop_instance_checks_its_footprint_against_its_support_box():
    from retouch.types import CropInstance

    ok = dict(type="acne", center_xy=(10.0, 12.0), radius=3.0, bbox_xywh=(7, 9, 6, 6),
              score=0.5, alpha=np.ones((10, 8), np.float32), support_xywh=(5, 7, 8, 10),
              texture_sigma=1.0)
    assert CropInstance(**ok).alpha.shape == (10, 8)
    with pytest.raises(ValueError, match="does not match the support box"):
        CropInstance(**{**ok, "alpha": np.ones((8, 10), np.float32)})
    with pytest.raises(ValueError, match="unknown imperfection type"):
        CropInstance(**{**ok, "type": "scar"})
    with pytest.raises(ValueError, match="shift shape"):
        CropInstance(**{**ok, "type": "redness", "shift": np.zeros((10, 8, 3), np.float32)})


def test_a_localization_has_a_map_for_every_type():
    from retouch.types import IMPERFECTION_TYPES, Localization

    maps = {t: np.zeros((4, 4), np.float32) for t in IMPERFECTION_TYPES}
    assert Localization(maps, [], np.ones((4, 4), np.float32), 2.0).face_size == 2.0
    del maps["shine"]
    with pytest.raises(ValueError, match="shine"):
        Localization(maps, [], np.ones((4, 4), np.float32), 2.0)


def test_region_at_names_the_region_under_a_point_else_skin():
    from retouch.parse import region_at
    from retouch.types import REGION_NAMES, FaceRegions

    masks = {n: np.zeros((20, 20), np.float32) for n in REGION_NAMES}
    masks["left_cheek"][5:10, 5:10] = 1.0
    masks["forehead"][5:10, 8:12] = 1.0  # overlaps the cheek: the forehead is named first
    regions = FaceRegions(masks=masks, skin_likelihood=np.ones((20, 20), np.float32))
    assert region_at(regions, 6.0, 6.0) == "left_cheek"
    assert region_at(regions, 9.4, 7.0) == "forehead"
    assert region_at(regions, 15.0, 15.0) == "skin"
    assert region_at(regions, -3.0, 40.0) == "skin"  # outside the crop


def test_robust_scales_ignore_outliers_on_one_side():
    from retouch.robust import mad_sigma, one_sided_sigma, thin

    rng = np.random.default_rng(0)
    v = rng.normal(0.0, 2.0, 50_000)
    assert thin(v, 1000).size <= 1000 + 50
    assert abs(mad_sigma(v) - 2.0) < 0.1
    spotted = np.concatenate([v, np.full(5_000, 40.0)])  # spots: a one-sided excess
    assert abs(one_sided_sigma(spotted, positive=False) - 2.0) < 0.1
    assert one_sided_sigma(spotted, positive=True) > 2.2
    assert mad_sigma(np.array([])) == 1.0


def test_breakout_redness_lifts_lightness_at_haemoglobins_ratio_and_leaves_shading():
    """The evening removes a* above the normal skin's and lifts L* with it, at most
    0.8 L* per a*, haemoglobin's ratio (a shadow that is far darker than it is red is not lifted
    into a pale patch), and leaves the shading mask alone."""
    from retouch.broad import redness
    from retouch.matched import RED_LAB
    from retouch.types import REGION_NAMES, CropInstance, FaceRegions

    S, u = 200, 500.0  # the normal-redness fit is 10 px wide, the breakout 60 px
    rng = np.random.default_rng(0)
    lab = np.zeros((S, S, 3), np.float32)
    lab[..., 0], lab[..., 1], lab[..., 2] = 65.0, 12.0, 15.0
    lab += rng.normal(0.0, 0.5, lab.shape).astype(np.float32)
    yy, xx = np.mgrid[0:S, 0:S]
    reddened = (np.abs(xx - 70) < 5) & (np.abs(yy - 100) < 5)  # between the spots
    lab[reddened, 0] -= 4.0
    lab[reddened, 1] += 6.0
    shaded = (np.abs(xx - 130) < 5) & (np.abs(yy - 100) < 5)  # a shadow, redder too
    lab[shaded, 0] -= 20.0
    lab[shaded, 1] += 6.0
    skin = np.ones((S, S), np.float32)
    inner = np.ones((S, S), bool)
    masks = {n: np.zeros((S, S), np.float32) for n in REGION_NAMES}
    regions = FaceRegions(masks=masks, skin_likelihood=skin)
    spots = [CropInstance(type="acne", center_xy=(float(x), float(y)), radius=2.0,
                          bbox_xywh=(x - 2, y - 2, 4, 4), score=0.9,
                          alpha=np.ones((4, 4), np.float32), support_xywh=(x - 2, y - 2, 4, 4),
                          texture_sigma=1.0)
             for x, y in [(60, 80), (80, 80), (60, 120), (80, 120), (120, 85), (140, 115)]]
    cover = np.zeros((S, S), np.float32)

    def lift_and_drop(shading):
        _, inst = redness(lab, inner, skin, spots, cover, u, regions, shading=shading)
        lift, drop = np.zeros((S, S), np.float32), np.zeros((S, S), np.float32)
        for i in inst:
            x, y, w, h = i.support_xywh
            lift[y:y + h, x:x + w] += i.shift[..., 0] * i.alpha
            drop[y:y + h, x:x + w] -= i.shift[..., 1] * i.alpha
        return lift, drop

    lift, drop = lift_and_drop(None)
    core = (np.abs(xx - 70) < 3) & (np.abs(yy - 100) < 3)
    assert drop[core].mean() > 2.5  # the reddened skin is evened
    assert lift[core].mean() > 1.0  # and lightened with it
    # Haemoglobin darkens L* by 0.63 per 0.78 a* it reddens (matched.RED_LAB): the
    # evening gives back no more lightness than that, even in a far darker shadow.
    ratio = -RED_LAB[0] / RED_LAB[1]
    assert np.all(lift <= ratio * np.maximum(drop, 0.0) + 0.01)
    in_shadow = (np.abs(xx - 130) < 3) & (np.abs(yy - 100) < 3)
    assert 0.5 < lift[in_shadow].max() < 5.0
    # Given as shading (as the localizer passes the eyes', lips' and lower nose's
    # surroundings; the mask is feathered by 0.01 u = 5 px), the shadow is left alone;
    # the reddened skin is evened as before.
    lift_s, drop_s = lift_and_drop((np.abs(xx - 130) < 16) & (np.abs(yy - 100) < 16))
    assert np.abs(lift_s[in_shadow]).max() < 0.02 and np.abs(drop_s[in_shadow]).max() < 0.02
    assert drop[in_shadow].mean() > 2.0  # (without the mask, it was evened)
    assert drop_s[core].mean() > 0.9 * drop[core].mean()
