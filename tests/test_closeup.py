"""Close-up mode (``retouch(..., closeup=True)`` / ``retouch --closeup``): skin without a face."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from retouch import retouch
from retouch.closeup import closeup_alignment, resolve_face_size, structure_edges
from retouch.errors import InvalidInputError
from retouch.synth import SYNTH_TYPES, plant_blemishes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_closeup import healed_spots  # noqa: E402

SPOTS = list(SYNTH_TYPES)


def skin_patch(h: int = 300, w: int = 420, seed: int = 0) -> np.ndarray:
    """A textured skin-coloured frame (no face): smooth shading plus pore-scale grain."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shade = 1.0 + 0.06 * np.sin(xx / w * 3.0) + 0.04 * (yy / h)
    grain = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.8) * 0.05
    base = np.array([214.0, 168.0, 142.0], np.float32)
    img = base[None, None, :] * (shade + grain)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def planted():
    img = skin_patch()
    skin = np.ones(img.shape[:2], bool)
    return plant_blemishes(img, skin, face_size_px=300.0, rng=3,
                           counts={"acne": 3, "red_spot": 2, "dark_spot": 3})


def _found(p, report) -> int:
    n = 0
    for pi in p.instances:
        for d in report["imperfections"]:
            x, y, w, h = d["bbox"]
            cx, cy = int(round(x + w / 2)), int(round(y + h / 2))
            if 0 <= cy < pi.mask.shape[0] and 0 <= cx < pi.mask.shape[1] and pi.mask[cy, cx]:
                n += 1
                break
    return n


def _psnr(a, b, m) -> float:
    d = (a.astype(np.float64) - b.astype(np.float64))[m]
    return 10 * math.log10(255.0 ** 2 / max(1e-9, float(np.mean(d ** 2))))


def test_default_mode_leaves_a_faceless_closeup_unchanged(planted):
    res = retouch(planted.image, only=SPOTS)
    assert np.array_equal(res.image, planted.image)
    assert res.report["no_face"]
    assert "closeup" not in res.report


def test_closeup_finds_and_removes_planted_spots(planted):
    clean = skin_patch()
    res = retouch(planted.image, only=SPOTS, closeup=True, face_size=300)
    rep = res.report
    assert rep["closeup"]["face_size_px"] == 300.0
    assert rep["closeup"]["skin_fraction"] > 0.9
    assert rep["faces"][0]["retouched"] and rep["faces"][0]["landmarks"] == 0
    assert {"align", "parse", "localize"} <= set(rep["timings_ms"])  # stages timed apart
    assert "detect" not in rep["timings_ms"]
    n = len(planted.instances)
    assert _found(planted, rep) >= math.ceil(0.75 * n)
    gt = planted.union_mask
    # The tone of the spots comes back: masked PSNR against the clean frame rises.
    assert _psnr(res.image, clean, gt) > _psnr(planted.image, clean, gt) + 3.0
    # Nothing outside the treated footprints changes, and the footprints stay small.
    changed = np.any(res.image != planted.image, axis=2)
    assert not np.any(changed & (res.masks["removed"] == 0))
    assert changed.mean() < 0.05
    # Every reported box lies inside the frame.
    for d in rep["imperfections"]:
        x, y, w, h = d["bbox"]
        assert x >= 0 and y >= 0 and x + w <= clean.shape[1] and y + h <= clean.shape[0]


def test_closeup_16_bit_keeps_dtype(planted):
    img16 = planted.image.astype(np.uint16) * 257
    res = retouch(img16, only=SPOTS, closeup=True, face_size=300)
    assert res.image.dtype == np.uint16
    assert np.any(res.image != img16)
    assert np.array_equal(res.image[res.masks["removed"] == 0], img16[res.masks["removed"] == 0])


def test_closeup_without_skin_changes_nothing():
    rng = np.random.default_rng(1)
    grey = np.clip(120 + rng.normal(0, 6, (200, 260, 3)), 0, 255).astype(np.uint8)
    grey[..., 2] = np.clip(grey[..., 2].astype(int) + 60, 0, 255)  # bluish: not skin
    res = retouch(grey, closeup=True)
    assert np.array_equal(res.image, grey)
    assert "too little skin" in res.report["faces"][0]["skip_reason"]
    assert res.report["imperfections"] == []


def test_closeup_alignment_covers_the_frame_and_caps_work():
    al, u = closeup_alignment((3000, 4000), resolve_face_size((3000, 4000), None))
    assert u == pytest.approx(352.0)  # the face size in crop pixels is capped
    corners = np.array([[0, 0], [3999, 0], [0, 2999], [3999, 2999]], np.float64)
    c = al.to_crop(corners)
    assert c.min() >= 0 and c.max() <= al.size - 1
    al2, u2 = closeup_alignment((200, 300), 150.0)
    assert al2.scale == 1.0 and u2 == 150.0  # small frames are worked at full resolution
    al3, _ = closeup_alignment((4000, 4000), 20.0)  # tiny face size: crop side is bounded
    assert al3.size <= 2048


def test_structure_edges_cut_long_edges_not_spots():
    L = np.full((200, 200), 65.0, np.float32)
    L[:, 120:] = 35.0  # a long occlusion edge (a finger against the neck)
    cv2.circle(L, (50, 100), 5, 50.0, -1)  # a spot
    e = structure_edges(L, 200.0)
    assert e[:, 118:121].mean() > 0.9  # the edge (and a band around it) is cut
    assert not e[90:111, 40:61].any()


@pytest.mark.parametrize("kwargs, match", [
    ({"face_size": 100}, "close-up setting"),
    ({"closeup": True, "face_size": 2}, ">= 8"),
    ({"closeup": True, "face_size": float("nan")}, ">= 8"),
    ({"closeup": True, "instruction": "remove the acne"}, "instruction"),
])
def test_closeup_bad_arguments(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        retouch(skin_patch(60, 80), **kwargs)


def test_cli_closeup(tmp_path, planted):
    src = tmp_path / "chin.png"
    cv2.imwrite(str(src), cv2.cvtColor(planted.image, cv2.COLOR_RGB2BGR))
    before = src.read_bytes()
    out = tmp_path / "out.png"
    r = subprocess.run([sys.executable, "-m", "retouch.cli", str(src), "-o", str(out),
                        "--closeup", "--face-size", "300", "--only", ",".join(SPOTS),
                        "--report", str(tmp_path / "r.json")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    assert np.any(got != planted.image)
    assert src.read_bytes() == before
    # Without --closeup nothing changes, and the line says what to try.
    plain = subprocess.run([sys.executable, "-m", "retouch.cli", str(src), "-o",
                            str(tmp_path / "plain.png")], capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    assert "image unchanged" in plain.stdout and "add --closeup" in plain.stdout
    got = cv2.cvtColor(cv2.imread(str(tmp_path / "plain.png")), cv2.COLOR_BGR2RGB)
    assert np.array_equal(got, planted.image)
    assert "add --closeup" not in r.stdout
    bad = subprocess.run([sys.executable, "-m", "retouch.cli", str(src), "-o",
                          str(tmp_path / "x.png"), "--face-size", "300"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "--closeup" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()


def test_closeup_on_real_chin_photo_finds_the_retouchers_spots(faces_dir, load_rgb):
    """The Pixabay chin close-up: the retoucher healed 6 spots; close-up mode finds them."""
    before = load_rgb("pairs/pixabay_chin_acne_before.png")
    after = load_rgb("pairs/pixabay_chin_acne_after.png")
    assert retouch(before).report["faces"][0]["retouched"] is False  # no mesh: default skips
    res = retouch(before, closeup=True)
    lbl, healed = healed_spots(before, after)
    assert len(healed) >= 5
    removed = res.masks["removed"] > 0
    hit = sum(bool(np.any(removed & (lbl == i))) for i in healed)
    assert hit >= len(healed) - 1
    # Outside the treated footprints the photo is bit-identical.
    changed = np.any(res.image != before, axis=2)
    assert not np.any(changed & ~removed)


def test_batch_closeup_retouches_a_folder_of_closeups(planted, tmp_path, capsys):
    from PIL import Image

    from retouch.batch import BatchSettings
    from retouch.cli import run

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(planted.image).save(src / "chin.png")
    # Without --closeup the faceless frame is skipped and written unchanged.
    assert run(["batch", str(src), str(tmp_path / "plain"), "-q"]) == 0
    plain = np.asarray(Image.open(tmp_path / "plain" / "chin.png"))
    assert np.array_equal(plain, planted.image)
    assert run(["batch", str(src), str(tmp_path / "cu"), "-q", "--closeup", "--face-size", "300",
                "--only", ",".join(SPOTS)]) == 0
    out = np.asarray(Image.open(tmp_path / "cu" / "chin.png"))
    ref = retouch(planted.image, only=SPOTS, closeup=True, face_size=300).image
    assert np.array_equal(out, ref)  # the same result as the one-photo call
    gt = planted.union_mask
    assert _psnr(out, skin_patch(), gt) > _psnr(planted.image, skin_patch(), gt) + 3.0
    # The settings are part of the resume key, and bad combinations are refused early.
    assert BatchSettings(closeup=True).key() != BatchSettings().key()
    assert BatchSettings(closeup=True, face_size=300).key() != BatchSettings(closeup=True).key()
    with pytest.raises(InvalidInputError, match="close-up setting"):
        BatchSettings(face_size=300)
    with pytest.raises(InvalidInputError, match="not an instruction"):
        BatchSettings(closeup=True, instruction="remove the acne")
    with pytest.raises(InvalidInputError, match=">= 8"):
        BatchSettings(closeup=True, face_size=2)
    capsys.readouterr()
    assert run(["batch", str(src), str(tmp_path / "x"), "--face-size", "300"]) == 2
    assert "close-up setting" in capsys.readouterr().err


def test_teeth_are_not_skin_but_washed_out_skin_is():
    from retouch.closeup import neutral_areas

    img = skin_patch().copy()
    teeth = (slice(120, 160), slice(150, 270))
    img[teeth] = (238, 234, 218)  # pale, slightly yellow
    img[120:160, 150:270:20] = (90, 60, 55)  # gaps between the teeth
    yy, xx = np.mgrid[0:300, 0:420]
    washed = (yy - 70) ** 2 + (xx - 340) ** 2 < 30 ** 2
    img[washed] = (250, 232, 230)  # skin in a strong highlight: grey but pinkish
    lab = cv2.cvtColor(img.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    neutral = neutral_areas(lab, np.ones(img.shape[:2], np.float32), 300.0)
    assert neutral[teeth].mean() > 0.95
    assert neutral[washed].mean() < 0.05
    far = np.ones(img.shape[:2], bool)
    far[100:180, 130:290] = False
    assert neutral[far & ~washed].mean() < 0.01
    # End to end: nothing is painted onto the teeth.
    res = retouch(img, closeup=True, face_size=300)
    assert np.array_equal(res.image[teeth], img[teeth])


def test_lips_are_found_and_spots_beside_them_are_left_alone():
    from retouch.closeup import lip_areas

    img = skin_patch().copy()
    yy, xx = np.mgrid[0:300, 0:420]
    lips = ((yy - 150) / 22.0) ** 2 + ((xx - 200) / 75.0) ** 2 < 1.0
    img[lips] = (196, 104, 112)  # rosy lips: redder and more magenta than the skin
    img[149:151, 130:270] = (120, 60, 65)  # the lip line
    corner = (yy - 152) ** 2 + (xx - 282) ** 2 < 4 ** 2  # a dark fold at the mouth corner
    img[corner] = (185, 135, 120)  # (without the lips, it is treated as a dark spot)
    acne = (yy - 60) ** 2 + (xx - 330) ** 2 < 5 ** 2  # a red spot, far from the lips
    img[acne] = (206, 130, 120)
    lab = cv2.cvtColor(img.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    found = lip_areas(lab, np.ones(img.shape[:2], np.float32), 300.0)
    assert found[lips].mean() > 0.95
    assert not found[acne].any()
    near = cv2.dilate(lips.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert found[~near].mean() < 0.005
    # End to end: the lips and the fold beside them are untouched, the red spot is treated.
    res = retouch(img, closeup=True, face_size=300)
    assert np.array_equal(res.image[lips | corner], img[lips | corner])
    assert np.abs(res.image[acne].astype(int) - img[acne]).mean() > 5.0
