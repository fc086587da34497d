"""End-to-end tests on real photos from ../shared/faces (skipped when absent)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from retouch import retouch
from retouch.detect import get_detector
from retouch.learn.metrics import edge_steps

SPOTS = ["acne", "red_spot", "dark_spot"]


def _near(found: list[dict], x: float, y: float, tol: float = 8.0) -> list[dict]:
    """The reports of ``found`` centred within ``tol`` px of ``(x, y)`` in each axis."""
    return [i for i in found if abs(i["center"][0] - x) < tol and abs(i["center"][1] - y) < tol]

def _benchmark_planting(load_rgb, name: str, seed: int):
    """``(clean, planted)``: the blemish benchmark's planting of ``clean/NAME``, ``seed``."""
    from retouch.synth import face_skin_mask, plant_blemishes

    clean = load_rgb(f"clean/{name}")
    skin, u = face_skin_mask(clean)
    return clean, plant_blemishes(clean, skin, face_size_px=u, rng=seed)


def _removed_at(res, spot) -> bool:
    """Whether a removed spot report of ``res`` has its centre inside ``spot``'s mask."""
    return any(spot.mask[int(round(i["center"][1])), int(round(i["center"][0]))]
               for i in res.report["imperfections"] if i["type"] in SPOTS and i["removed"])


def _assert_planted_dark_spot_removed(load_rgb, name: str, seed: int, k: int,
                                      max_ratio: float) -> None:
    """Planted spot ``k`` (a dark spot) of the benchmark's planting is found and removed:
    its mean error against the clean photo falls below ``max_ratio`` of the input's."""
    clean, p = _benchmark_planting(load_rgb, name, seed)
    spot = p.instances[k]
    assert spot.type == "dark_spot"
    res = retouch(p.image, only=SPOTS)
    assert _removed_at(res, spot), spot.center_xy
    err_in, err_out = _error_in(p.image, clean, spot.mask), _error_in(res.image, clean, spot.mask)
    assert err_out < max_ratio * err_in, (err_in, err_out)


def _error_in(img: np.ndarray, clean: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute difference from ``clean`` inside ``mask``, code values."""
    return float(np.abs(img[mask].astype(float) - clean[mask]).mean())



@pytest.fixture(scope="module")
def planted(load_rgb):
    from retouch.synth import face_skin_mask, plant_blemishes

    clean = load_rgb("clean/innerverz_003_face.png")
    skin, size = face_skin_mask(clean)
    p = plant_blemishes(clean, skin, face_size_px=size, rng=3)
    return clean, p


def test_detects_every_face_with_478_landmarks(load_rgb):
    faces = get_detector().detect(load_rgb("multi/codeformer_whole02_4people.png"))
    usable = [f for f in faces if f.landmarks_xy is not None]
    assert len(usable) >= 4
    assert all(f.landmarks_xy.shape == (478, 2) for f in usable)
    one = get_detector().detect(load_rgb("clean/fr_obama.jpg"))
    assert len(one) == 1 and one[0].skip_reason is None


def test_planted_blemishes_found_and_removed(planted):
    clean, p = planted
    res = retouch(p.image, only=SPOTS)
    found = [i for i in res.report["imperfections"] if i["type"] in SPOTS]
    hit = 0
    for inst in p.instances:
        x, y = inst.center_xy
        if any(abs(f["center"][0] - x) <= max(3, inst.radius_px) + f["radius_px"]
               and abs(f["center"][1] - y) <= max(3, inst.radius_px) + f["radius_px"]
               for f in found):
            hit += 1
    assert hit / len(p.instances) >= 0.8
    m = p.union_mask
    mse_in = ((p.image.astype(float) - clean)[m] ** 2).mean()
    mse_out = ((res.image.astype(float) - clean)[m] ** 2).mean()
    gain_db = 10 * np.log10(mse_in / mse_out)
    # Measured +1.6 dB on this face (the issue's +5 dB target is not reached yet:
    # see README "Benchmarks"); this guards against regressions.
    assert gain_db > 1.0, gain_db


def test_pixels_outside_removed_mask_are_bit_identical(planted):
    _, p = planted
    res = retouch(p.image)
    changed = np.any(res.image != p.image, axis=2)
    allowed = res.masks["removed"] > 0
    assert changed.any()
    assert not np.any(changed & ~allowed)
    assert res.masks["removed"].shape == p.image.shape[:2]
    assert set(np.unique(res.masks["removed"])) <= {0, 255}


def test_only_and_keep_select_types(planted):
    _, p = planted
    res = retouch(p.image, only=["dark_spot"])
    imps = res.report["imperfections"]
    # Only dark spots are treated: each one but those left with a reason (not contained).
    assert all(i["removed"] == (i["type"] == "dark_spot" and not i.get("kept_reason"))
               for i in imps)
    assert any(i["removed"] for i in imps)
    res0 = retouch(p.image, strength=0.0)
    assert np.array_equal(res0.image, p.image)


def test_freckles_kept_on_freckled_face(load_rgb):
    """Freckles are kept, also the sparser ones of the jaw and the chin: on a freckled
    face (localize.FRECKLED_FACE) a spot of melanin's hue is a freckle outside the dense
    patches too. Before session 31, 12 of them were filled as acne or red spots here
    (darker by 1.2-2.4x and yellower by 0.5-1.5x their reddening); now 5 fills are left
    (looked at: 3 reddish freckles, a small dark red dot, a faint reddish patch)."""
    img = load_rgb("blemish/swati_freckles_darkspots.jpg")
    img = img[::4, ::4].copy()  # 864x1296: keeps the test fast
    res = retouch(img)
    s = res.report["summary"]
    assert s["freckle"]["found"] >= 80, s["freckle"]
    assert s["freckle"]["removed"] == 0 and s["mole"]["removed"] == 0
    filled = sum(s[t]["removed"] for t in ("acne", "red_spot", "dark_spot"))
    assert filled <= 6, s


def test_shine_is_toned_down_keeping_shape_and_pores(load_rgb):
    import cv2

    img = load_rgb("pairs/ffhqr_00000_source.png")  # a baby's shiny nose bridge
    res = retouch(img, only=["shine"])
    shines = [i for i in res.report["imperfections"] if i["type"] == "shine" and i["removed"]]
    assert shines
    lab_in, lab_out = (cv2.cvtColor(x.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
                       for x in (img, res.image))
    changed = np.any(res.image != img, axis=2)
    assert not np.any(changed & (res.masks["removed"] == 0))
    # Only darker: no pixel brightened beyond a code value's rounding.
    assert (lab_out[..., 0] - lab_in[..., 0]).max() < 0.6
    x, y, w, h = max(shines, key=lambda i: i["bbox"][2] * i["bbox"][3])["bbox"]
    box = (slice(y, y + h), slice(x, x + w))
    lo_in, lo_out = (cv2.GaussianBlur(lab[..., 0], (0, 0), 4.0)[box] for lab in (lab_in, lab_out))
    drop = lo_in - lo_out
    assert drop.max() > 3.0  # toned down visibly
    # Compressed, not flattened: the highlight's tone pattern is kept (no disc, no
    # rim; a fill from the surrounding skin gave 0.92 here).
    assert np.corrcoef(lo_in.ravel(), lo_out.ravel())[0, 1] > 0.97
    # Pores and grain kept (the fill gave 0.92).
    hp = [(lab[..., 0] - cv2.GaussianBlur(lab[..., 0], (0, 0), 1.5))[box][changed[box]]
          for lab in (lab_in, lab_out)]
    assert 0.96 < hp[1].std() / hp[0].std() < 1.04


def test_no_face_returns_input_unchanged():
    rng = np.random.default_rng(0)
    img = (rng.random((200, 300, 3)) * 40 + 100).astype(np.uint8)
    res = retouch(img)
    assert res.report["no_face"] is True
    assert np.array_equal(res.image, img)
    assert not res.masks["removed"].any()


def test_report_contract(planted):
    _, p = planted
    rep = retouch(p.image).report
    json.dumps(rep)
    assert rep["image"]["width"] == p.image.shape[1]
    f = rep["faces"][0]
    assert f["landmarks"] == 478 and len(f["bbox"]) == 4 and 0 <= f["score"] <= 1
    for i in rep["imperfections"]:
        assert set(i) >= {"type", "bbox", "score", "removed"}
        x, y, w, h = i["bbox"]
        assert 0 <= x < rep["image"]["width"] and 0 <= y < rep["image"]["height"] and w > 0
    for stage in ("detect", "align", "parse", "localize", "synthesize", "total"):
        assert stage in rep["timings_ms"]


def test_sixteen_bit_and_alpha_kept(tmp_path, load_rgb):
    from PIL import Image

    from retouch.imageio import load_image, save_image

    rgb = load_rgb("clean/gfpgan_ffhq00000_gt512.png")
    px16 = rgb.astype(np.uint16) * 257
    alpha = np.full(rgb.shape[:2], 40000, np.uint16)
    src = tmp_path / "in16.png"
    save_image(src, px16, alpha=alpha)
    res = retouch(src)
    assert res.image.dtype == np.uint16 and res.alpha is not None
    out = tmp_path / "out16.png"
    save_image(out, res.image, source=res.source, alpha=res.alpha)
    back = load_image(out)
    assert back.pixels.dtype == np.uint16 and np.array_equal(back.alpha, alpha)
    keep = res.masks["removed"] == 0
    assert np.array_equal(back.pixels[keep], px16[keep])
    assert Image.open(out).size == (512, 512)


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "retouch.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_cli_writes_output_report_and_masks(tmp_path, faces_dir):
    src = faces_dir / "blemish" / "localretouch_acne_dark_bg.jpg"
    out = tmp_path / "out.png"
    r = _cli(str(src), "-o", str(out), "--report", str(tmp_path / "r.json"),
             "--masks", str(tmp_path / "m"), "--only", "acne,red_spot,dark_spot")
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["image"]["width"] == 627 and rep["summary"]["acne"]["found"] > 0
    from PIL import Image

    with Image.open(tmp_path / "m" / "removed.png") as im:
        assert im.mode == "L"  # one 8-bit channel
        m = np.asarray(im)
    assert m.shape == (941, 627)
    assert set(np.unique(m)) <= {0, 255} and (m == 255).any() and (m == 0).any()
    for t in ("acne", "red_spot", "dark_spot", "mole", "freckle", "wrinkle", "under_eye",
              "shine"):
        assert (tmp_path / "m" / f"{t}.png").exists()


@pytest.mark.parametrize(
    "setup, args, code, match",
    [
        ("missing", ["{d}/nope.jpg", "-o", "{d}/o.png"], 2, "file does not exist"),
        ("empty", ["{d}/empty.jpg", "-o", "{d}/o.png"], 2, "empty"),
        ("text", ["{d}/text.jpg", "-o", "{d}/o.png"], 2, "not a recognized image"),
        ("tiny", ["{d}/tiny.png", "-o", "{d}/o.png"], 2, "too small"),
        ("ok", ["{d}/ok.png", "-o", "{d}/nodir/o.png"], 3, "output folder does not exist"),
        ("ok", ["{d}/ok.png", "-o", "{d}/o.png", "--strength", "3"], 2, "strength"),
        ("ok", ["{d}/ok.png", "-o", "{d}/o.png", "--only", "zits"], 2, "unknown imperfection"),
        ("ok", ["{d}/ok.png", "-o", "{d}/ok.png"], 3, "overwrite"),
    ],
)
def test_cli_bad_input_one_line_error_no_output(tmp_path, setup, args, code, match):
    from PIL import Image

    d = tmp_path
    (d / "empty.jpg").write_bytes(b"")
    (d / "text.jpg").write_text("hello")
    Image.new("RGB", (1, 1)).save(d / "tiny.png")
    Image.new("RGB", (64, 64), (120, 90, 80)).save(d / "ok.png")
    before = (d / "ok.png").read_bytes()
    r = _cli(*[a.format(d=d) for a in args])
    assert r.returncode == code, r.stderr
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.startswith("retouch")]
    assert len(lines) == 1 and match in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not (d / "o.png").exists()
    assert (d / "ok.png").read_bytes() == before
    assert not [p for p in d.iterdir() if p.name.startswith(".")]


def test_cli_decompression_bomb_rejected(tmp_path):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2,
                                                             0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(png)
    r = _cli(str(tmp_path / "bomb.png"), "-o", str(tmp_path / "o.png"))
    assert r.returncode == 2 and "pixels" in r.stderr
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("name, before_fix", [
    # an eyelash's tip taken for a dark spot: 87 with the old 2.5x fill bound
    ("clean/fr_alex_lacamoire1.jpg", 90),
    # brow hairs at the skin mask's edge: 106 when the edge cut the fill
    ("blemish/swati_acne_scars_profile.jpeg", 106),
])
def test_fill_has_no_hard_step_at_its_edge(faces_dir, name, before_fix):
    """A fill fades out inside the skin mask's edge and is bounded by 1.5x the spot's
    measured contrast (FILL_CONTRAST_GAIN), so neither a hard mask edge nor a false
    detection on a structure leaves a strong step; measured after the change: 54 and
    51 code values (benchmarks/bench_seams.py). Since the containment check (session
    12) the eyelash's tip is left alone; Alex's largest step, 53, is now the edge of a
    sharp dark spot on the forehead that is removed."""
    res = retouch(str(faces_dir / name))
    steps = edge_steps(res.source.pixels, res.image)
    assert steps.size and 0 < int(steps[0]) <= 65 < before_fix


def test_a_structure_taken_for_a_spot_is_left_alone(faces_dir):
    """On the acne-scars profile the edge of the nose wing at (182, 454) is found as
    acne; filling it lightened the wing's rim into a pale patch (87 code values).
    Its fill would change the footprint's rim almost as much as its core
    (localize.spot_containment 0.90), so it is reported, kept, and the pixels stay;
    it is in no type mask and no source of normal skin."""
    from retouch.pipeline import RetouchPipeline

    res = retouch(str(faces_dir / "blemish/swati_acne_scars_profile.jpeg"))
    near = [im for im in res.report["imperfections"]
            if abs(im["center"][0] - 182) < 6 and abs(im["center"][1] - 454) < 6]
    assert near and all(not im["removed"] and im["kept_reason"] == "not contained"
                        for im in near), near
    diff = np.abs(res.image.astype(int) - res.source.pixels.astype(int)).max(axis=2)
    assert diff[440:470, 170:195].max() <= 3
    assert not any(res.masks[t][448:460, 176:188].any() for t in ("acne", "removed"))
    # In the localization: flagged, out of the type's map, not drawn from as normal skin.
    (fa,) = RetouchPipeline().analyze(res.source)[1]
    kept = [i for i in fa.localization.instances if i.kept_reason]
    xy = fa.alignment.to_image(np.array([i.center_xy for i in kept]))
    inst = kept[int(np.argmin(np.hypot(xy[:, 0] - 182, xy[:, 1] - 454)))]
    x, y, w, h = inst.support_xywh
    core = inst.alpha > 0.9
    assert core.any()
    assert fa.localization.maps[inst.type][y:y + h, x:x + w][core].max() < 0.9
    assert fa.localization.normal_skin[y:y + h, x:x + w][core].max() < 0.05
    # The photo's other spots are still treated.
    assert sum(im["removed"] for im in res.report["imperfections"]
               if im["type"] in ("acne", "red_spot", "dark_spot")) >= 10


def test_breakout_redness_is_evened_between_the_spots(load_rgb):
    """A dense planting is a breakout: the skin between its spots loses redness."""
    import cv2

    from retouch.synth import face_skin_mask, plant_blemishes

    clean = load_rgb("clean/innerverz_003_face.png")
    skin, size = face_skin_mask(clean)
    p = plant_blemishes(clean, skin, face_size_px=size, counts={"acne": 30, "red_spot": 8},
                        rng=0)
    res = retouch(p.image)
    red = [i for i in res.report["imperfections"] if i["type"] == "redness"]
    assert red and all(i["removed"] for i in red)
    m = (res.masks["redness"] > 0) & ~p.union_mask
    assert m.sum() > 500
    lab_in = cv2.cvtColor(p.image, cv2.COLOR_RGB2Lab).astype(float)
    lab_out = cv2.cvtColor(res.image, cv2.COLOR_RGB2Lab).astype(float)
    # a* falls (8-bit Lab: a* units x 1), L* never drops, b* barely moves.
    assert (lab_out[..., 1] - lab_in[..., 1])[m].mean() < -0.3
    assert (lab_out[..., 0] - lab_in[..., 0])[m].min() >= -1.0
    assert abs((lab_out[..., 2] - lab_in[..., 2])[m].mean()) < 0.5
    # Kept on request, and never on the clean face (no breakout there).
    kept = retouch(p.image, keep=["redness"])
    assert not any(i["removed"] for i in kept.report["imperfections"]
                   if i["type"] == "redness")
    changed = np.any(res.image != p.image, axis=2) & m
    changed_kept = np.any(kept.image != p.image, axis=2) & m
    assert changed_kept.sum() < 0.2 * changed.sum()
    assert not [i for i in retouch(clean).report["imperfections"] if i["type"] == "redness"]


def test_darkness_at_the_skins_border_is_not_a_dark_spot(load_rgb):
    """On this unplanted portrait the brows' stray hairs, the hairline and the eye's
    corner gave four "dark_spot" reports (each left as not contained, but reported);
    darker-not-redder spots centred within localize.DARK_BORDER face sizes of the skin's
    border are now taken for the border's own darkness. The small spots inside the skin
    (a brown one on the forehead, a red one on the nose) are still found. Since session
    19 the matched filter adds a faint red mark on the forehead (840, 177). Since session
    22 (the smallest radius's narrower texture window, matched.MF_WINDOWS) the two
    candidates at the hairline and the temple, left as not contained, are no longer
    reported, and a small dark dot between the brows (785, 269) is removed (looked at):
    8 reports, 8 removed."""
    res = retouch(load_rgb("clean/fr_alex_lacamoire1.jpg"), only=SPOTS)
    found = [i for i in res.report["imperfections"] if i["type"] in SPOTS]
    for x, y in [(779, 92), (807, 249), (905, 263), (670, 276)]:  # hair, brows, eye corner
        assert not _near(found, x, y), _near(found, x, y)
    # a brown spot on the forehead, acne on the nose
    assert _near(found, 813, 143) and _near(found, 806, 331)
    assert len(found) <= 9, len(found)
    assert sum(i["removed"] for i in found) <= 8


def test_shadows_under_the_ear_and_at_the_jaws_corner_are_left(load_rgb):
    """On Grace Hopper's portrait the shadow under the ear lobe and the dark corner of
    the jaw lie 0.021 and 0.023 face sizes inside the skin's border; at a border rule of
    0.02 both were filled as dark spots (lightened). Now they are not reported and their
    pixels do not change; the red spot on her cheek is still removed."""
    img = load_rgb("clean/mpl_grace_hopper.jpg")
    res = retouch(img)
    found = [i for i in res.report["imperfections"] if i["type"] in SPOTS]
    for x, y in [(348, 244), (342, 270)]:
        assert not _near(found, x, y, tol=6)
        assert np.array_equal(res.image[y - 3:y + 4, x - 3:x + 4], img[y - 3:y + 4, x - 3:x + 4])
    assert any(i["type"] == "red_spot" and i["removed"] for i in found)


def test_a_gap_in_a_moustache_is_not_a_dark_spot(load_rgb):
    """A dark gap among Alex Lacamoire's moustache hairs (a busy surround, little skin
    colour) was filled as a dark spot; localize.HAIR_BUSY / HAIR_LIKE now leave it. The
    real marks on his forehead and nose are still found."""
    res = retouch(load_rgb("clean/fr_alex_lacamoire1.jpg"), only=SPOTS)
    found = [i for i in res.report["imperfections"] if i["type"] in SPOTS]
    assert not _near(found, 822, 477), _near(found, 822, 477)
    assert _near(found, 813, 143) and _near(found, 806, 331)


def test_a_dark_spot_on_the_nose_bridge_is_found(load_rgb):
    """Dark, not red spots on the nose are taken for shading only on its lower part
    (tip, wings, nostrils: localize.NOSE_SHADE_FROM). On this benchmark planting a dark
    spot lies on the upper nose, where the whole nose used to count as shading; it is
    now found and removed."""
    _assert_planted_dark_spot_removed(load_rgb, "fr_alex_lacamoire1.jpg", 1, 13, 0.5)


@pytest.mark.parametrize("name", ["fr_obama.jpg", "innerverz_013_face.png",
                                  "mpl_grace_hopper.jpg"])
def test_the_lower_nose_is_skin_except_its_nostril_openings(load_rgb, name):
    """Inside the mesh's lower-nose hull (parse.LOWER_NOSE), the lit tip, wings and
    columella are skin and the dark nostril openings are not: a good share of the hull
    is skin, its darkest pixels are not, and the skin there is clearly lighter."""
    import cv2

    from retouch.align import warp_to_crop
    from retouch.imageio import load_image
    from retouch.parse import LOWER_NOSE
    from retouch.pipeline import RetouchPipeline

    data = load_image(load_rgb(f"clean/{name}"))
    _, analyses = RetouchPipeline().analyze(data)
    fa = max(analyses, key=lambda a: a.face.bbox_xywh[2])
    crop = warp_to_crop(data.pixels, fa.alignment)
    pts = fa.alignment.to_crop(fa.face.landmarks_xy.astype(np.float64))[list(LOWER_NOSE)]
    hull = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(pts).astype(np.int32)), 1)
    hull = hull > 0
    skin = fa.regions.masks["skin"][hull] > 0.5
    light = cv2.cvtColor(crop.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[..., 0][hull]
    assert skin.mean() > 0.3, skin.mean()
    assert skin[light <= np.percentile(light, 5)].mean() < 0.1
    assert light[skin].mean() > light[~skin].mean() + 10.0, (light[skin].mean(),
                                                             light[~skin].mean())
    assert (fa.regions.masks["nose"][hull] > 0.5).mean() > 0.3


@pytest.mark.parametrize("name,seed", [("innerverz_013_face.png", 0), ("fr_obama.jpg", 2),
                                       ("fr_alex_lacamoire1.jpg", 2)])
def test_a_pimple_on_the_nose_tip_is_removed(load_rgb, name, seed):
    """Parse used to leave the mesh's whole lower-nose hull (the tip's underside, the
    wings, the columella) out of the skin as nostril, so a pimple there was never
    treated, and the benchmark's planting mask leaves the same area out, so its figures
    did not show it (session 23, a strict xfail then). Now only the hull's dark part is
    nostril (parse.LOWER_NOSE_DARK): a pimple planted just below the tip (between mesh
    points 4 and 1) is reported, removed, and its error against the clean photo cut."""
    from retouch.imageio import load_image
    from retouch.pipeline import RetouchPipeline
    from retouch.synth import face_skin_mask, plant_blemishes

    clean = load_rgb(f"clean/{name}")
    _, u = face_skin_mask(clean)
    face = max(RetouchPipeline().detect(load_image(clean)), key=lambda f: f.bbox_xywh[2])
    tip = 0.5 * (face.landmarks_xy[4] + face.landmarks_xy[1])
    yy, xx = np.mgrid[:clean.shape[0], :clean.shape[1]]
    where = np.hypot(xx - tip[0], yy - tip[1]) <= 0.07 * u
    p = plant_blemishes(clean, where, face_size_px=u, counts={"acne": 1}, rng=seed)
    if len(p.instances) != 1:  # not the known gap: the xfail must not absorb it
        raise RuntimeError(f"planted {len(p.instances)} spots near the nose tip, not 1")
    spot = p.instances[0]
    res = retouch(p.image, only=SPOTS)
    assert _removed_at(res, spot), spot.center_xy
    err_in, err_out = _error_in(p.image, clean, spot.mask), _error_in(res.image, clean, spot.mask)
    assert err_out < 0.6 * err_in, (err_in, err_out)


def test_reddish_acne_marks_are_not_kept_as_freckles(load_rgb):
    """Acne marks that are darker but more red than dark were called brown and, among
    many candidates, kept as freckles. Brown now means at least as much darker as
    redder (localize.BROWN_DARK_PER_RED): these two marks are removed, while the
    freckled face keeps its freckles (test_freckles_kept_on_freckled_face)."""
    res = retouch(load_rgb("blemish/swati_pexels_acne_curly.jpg"), only=SPOTS)
    found = [i for i in res.report["imperfections"] if i["type"] in SPOTS and i["removed"]]
    for x, y in [(2780, 1346), (2024, 2507)]:
        assert _near(found, x, y, tol=6)


def test_a_brown_spot_among_acne_is_not_a_freckle(load_rgb):
    """Planted dark spot 14 of the benchmark's seed 0 on this face (a plainly visible
    brown spot, no freckles on the face) had five candidates within 0.09 face sizes,
    most of them planted acne, and was kept as a freckle. A freckle field is counted
    from spots that are not red-dominated (localize.FIELD_DARK_PER_RED): the spot is
    found and removed, while the freckled face keeps its freckles
    (test_freckles_kept_on_freckled_face)."""
    _assert_planted_dark_spot_removed(load_rgb, "celebamaskhq_116.jpg", 0, 14, 0.6)


def test_dark_spots_on_smooth_skin_are_found_by_the_matched_filter(load_rgb):
    """On this smooth, finely textured face the channel-wise test scored planted dark
    spots of the benchmark (seed 1) low or never saw them. The whitened matched filter
    (retouch.matched) measures their brown shift against the texture of their own
    neighbourhood, where they stand 6 sigmas out: both are found and removed. (A third,
    spot 14, lies just below a dark crease. It reached 4.2 sigmas while the smallest
    radius's texture window was 0.05 face sizes; in the narrower window of session 22,
    matched.MF_WINDOWS, the crease weighs more in its texture and it reaches 3.7: it is
    missed now. test_small_dark_spots_between_creases_are_found shows the gain.)

    Spot 13's error was cut to 0.32 of the input's while a matched-filter candidate
    beside it merged into its footprint; since session 24's lower-nose skin (which
    moves this face's texture scale by 1 %) that candidate falls inside the spot's own
    component, the footprint is sized from a 3 px radius against the spot's 8.7, and
    the cut is 0.63: see test_a_broad_soft_dark_spot_leaves_no_ring."""
    clean, p = _benchmark_planting(load_rgb, "innerverz_013_face.png", 1)
    res = retouch(p.image, only=SPOTS)
    for k, bound in ((11, 0.6), (13, 0.7)):
        spot = p.instances[k]
        assert spot.type == "dark_spot"
        assert _removed_at(res, spot), spot.center_xy
        err_in = _error_in(p.image, clean, spot.mask)
        err_out = _error_in(res.image, clean, spot.mask)
        assert err_out < bound * err_in, (k, err_in, err_out)


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="known gap: a spot's footprint is sized from its detected "
                   "component, which can be far smaller than a broad soft spot "
                   "(docs/blemish-benchmark.md, session 24)")
def test_a_broad_soft_dark_spot_leaves_no_ring(load_rgb):
    """A known gap, kept as a strict xfail so that closing it shows. Planted dark spot
    13 of innerverz_013 (seed 1) spans 8.7 px, but the component that finds it is about
    3 px in radius and the footprint grows from it by at most 0.8 radii: the fill
    restores the centre and leaves the spot's soft tail as a darker ring around it.
    Measured: the error against the clean photo on the ring between 0.5 and 1 spot
    radii is 0.72 of the input's (12.4 / 17.3 code values); with the merged candidate
    of before session 24 it was 0.25. Session 29: at the footprint's edge (5.4 px) the
    spot still has 43 % of its core's departure; growing the footprint to where that
    falls below 20 % passes this test but costs the benchmark (docs, session 29)."""
    clean, p = _benchmark_planting(load_rgb, "innerverz_013_face.png", 1)
    spot = p.instances[13]
    res = retouch(p.image, only=SPOTS)
    assert _removed_at(res, spot), spot.center_xy
    yy, xx = np.mgrid[:clean.shape[0], :clean.shape[1]]
    d = np.hypot(xx - spot.center_xy[0], yy - spot.center_xy[1])
    ring = (d > 0.5 * spot.radius_px) & (d <= spot.radius_px)
    err_in, err_out = _error_in(p.image, clean, ring), _error_in(res.image, clean, ring)
    assert err_out < 0.5 * err_in, (err_in, err_out)


@pytest.mark.parametrize(("seed", "k"), [(1, 12), (2, 10)])
def test_small_dark_spots_between_creases_are_found(load_rgb, seed, k):
    """Grace Hopper's lined face: planted dark spots of 2-3 px sit on calm patches
    between creases. Measured against the texture of 0.05 face sizes around them, which
    takes in the creases, they reached less than 4 sigmas and were missed. The smallest
    radius of the matched filter now measures texture over 0.025 face sizes
    (matched.MF_WINDOWS), the patch the spot sits on: both are found and removed."""
    _assert_planted_dark_spot_removed(load_rgb, "mpl_grace_hopper.jpg", seed, k, 0.6)


def test_the_matched_filter_does_not_overrule_the_scorer_on_a_wrinkle(load_rgb):
    """A candidate the channel-wise test found too, and the scorer rejected, is a spot
    by the matched filter only 0.5 sigmas above its usual threshold
    (localize.MF_OVERRULE). A short piece of a crow's-foot wrinkle on Obama's portrait
    reaches 4.4 sigmas: without the rule it was lightened (a step of 26 code values at
    the fill's edge); now it is left: its pixels change by at most the 1-2 code values
    of the broad corrections around it."""
    img = load_rgb("clean/fr_obama.jpg")
    res = retouch(img)
    found = [i for i in res.report["imperfections"] if i["type"] in SPOTS and i["removed"]]
    assert not _near(found, 593, 227, tol=6), _near(found, 593, 227, tol=6)
    diff = np.abs(res.image[222:233, 588:599].astype(int) - img[222:233, 588:599])
    assert diff.max() <= 3, diff.max()
