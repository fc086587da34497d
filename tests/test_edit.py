"""Tests of retouch.edit: contracts, confinement, identity, monotonic amounts, no bending.

Real photos come from ../shared/faces (skipped when absent); every measured
quantity is read back from the output pixels or from a fresh face mesh of the
output, not from the edit's own report.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from retouch.detect import get_detector
from retouch.edit import (
    EDITS,
    EditRequest,
    apply_edits,
    format_edit_list,
    list_edits,
    parse_set,
)
from retouch.edit._frame import (
    alar_width,
    brow_height,
    corner_lift,
    eye_area,
    jaw_width,
    lip_area,
    mesh_chains,
)
from retouch.edit._render import crop_to_image
from retouch.errors import InvalidInputError
from retouch.imageio import load_image
from retouch.pipeline import RetouchPipeline
from retouch.types import REGION_NAMES, ImageData

STABLE_NAMES = [
    "double_chin", "face.slim", "eyes.size", "nose.width", "nose.length", "lips.fullness",
    "smile", "brows.raise", "lipstick", "teeth.whiten", "eyes.whiten", "brows.density",
    "hair.color", "skin.tone", "under_eye", "young",
]

# One strong, valid request per edit.
STRONG = {
    "double_chin": EditRequest("double_chin", -1.0),
    "face.slim": EditRequest("face.slim", 1.0),
    "eyes.size": EditRequest("eyes.size", 1.0),
    "nose.width": EditRequest("nose.width", -1.0),
    "nose.length": EditRequest("nose.length", 1.0),
    "lips.fullness": EditRequest("lips.fullness", 1.0),
    "smile": EditRequest("smile", 1.0),
    "brows.raise": EditRequest("brows.raise", 1.0),
    "lipstick": EditRequest("lipstick", 1.0, color="ruby", finish="gloss"),
    "teeth.whiten": EditRequest("teeth.whiten", 1.0),
    "eyes.whiten": EditRequest("eyes.whiten", 1.0),
    "brows.density": EditRequest("brows.density", 1.0),
    "hair.color": EditRequest("hair.color", 1.0, color="blond"),
    "skin.tone": EditRequest("skin.tone", 1.0, color="pale"),
    "under_eye": EditRequest("under_eye", 1.0),
    "young": EditRequest("young", 1.0),
}


@pytest.fixture(scope="module")
def obama(faces_dir):
    data = load_image(faces_dir / "clean/fr_obama.jpg")
    _, analyses = RetouchPipeline().analyze(data)
    assert len(analyses) == 1
    return data, analyses


def _mesh(px: np.ndarray) -> np.ndarray:
    faces = [f for f in get_detector().detect(px) if f.landmarks_xy is not None]
    assert faces, "face lost after the edit"
    return faces[0].landmarks_xy.astype(np.float64)


def _iod(fa) -> float:
    p = fa.face.landmarks_xy
    return float(np.linalg.norm(p[468] - p[473]))


# ----------------------------------------------------------------- contracts
def test_registry_names_are_stable_and_described():
    assert list(EDITS) == STABLE_NAMES
    for spec in list_edits():
        assert set(spec.regions) <= set(REGION_NAMES)
        assert spec.kind in ("structure", "appearance")
        assert spec.amount_min in (-1.0, 0.0)
        assert (spec.negative is None) == (spec.amount_min == 0.0)
        assert spec.name in format_edit_list()
        assert spec.to_dict()["amount_range"] == [spec.amount_min, 1.0]


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "nose.size", "amount": 1}, r"unknown edit 'nose.size'; valid edits: double_chin"),
    ({"name": "smile", "amount": 1.5}, r"smile: amount must be in \[-1, 1\]"),
    ({"name": "young", "amount": -0.2}, r"young: amount must be in \[0, 1\]"),
    ({"name": "smile", "amount": float("nan")}, r"must be finite"),
    ({"name": "smile", "amount": "1"}, r"must be a number"),
    ({"name": "teeth.whiten", "amount": 1, "size": 0.5}, r"does not take a size"),
    ({"name": "eyes.size", "amount": 1, "size": 2}, r"size must be in \[-1, 1\]"),
    ({"name": "lipstick", "amount": 1, "color": "teal"}, r"unknown colour 'teal'; use one of red"),
    ({"name": "hair.color", "amount": 1}, r"a colour is required; one of black, brown"),
    ({"name": "smile", "amount": 1, "color": "red"}, r"does not take a colour"),
    ({"name": "smile", "amount": 1, "finish": "gloss"}, r"does not take a finish"),
    ({"name": "lipstick", "amount": 1, "finish": "shiny"}, r"finish must be one of satin"),
    ({"name": "smile", "amount": 1, "faces": (-1,)}, r"faces must be a tuple of face indices"),
])
def test_request_validation_messages(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        EditRequest(**kwargs)


@pytest.mark.parametrize("text, expect", [
    ("eyes.size=0.3", EditRequest("eyes.size", 0.3)),
    ("lipstick=#B0303A:0.6", EditRequest("lipstick", 0.6, color="#b0303a")),
    ("lipstick=0.7:ruby:gloss", EditRequest("lipstick", 0.7, color="ruby", finish="gloss")),
    ("double_chin=-0.8:faces=0+2", EditRequest("double_chin", -0.8, faces=(0, 2))),
    ("eyes.size=0.4:size=-0.5", EditRequest("eyes.size", 0.4, size=-0.5)),
    ("hair.color=color=blond:amount=0.5", EditRequest("hair.color", 0.5, color="blond")),
])
def test_parse_set(text, expect):
    assert parse_set(text) == expect


@pytest.mark.parametrize("text, match", [
    ("eyes.size", r"expected NAME=AMOUNT"),
    ("eyes=0.3", r"unknown edit 'eyes'"),
    ("eyes.size=0.3:0.4", r"more than one amount"),
    ("lipstick=red", r"no amount"),
    ("eyes.size=big", r"'big' is not a number"),
    ("eyes.size=0.3:depth=2", r"unknown key 'depth'"),
    ("smile=0.3::", r"empty part"),
])
def test_parse_set_errors(text, match):
    with pytest.raises(InvalidInputError, match=match):
        parse_set(text)


def test_apply_edits_argument_errors(obama):
    data, analyses = obama
    with pytest.raises(InvalidInputError, match="must be an ImageData"):
        apply_edits(data.pixels, analyses, [])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="must hold EditRequest items"):
        apply_edits(data, analyses, [("smile", 1.0)])  # type: ignore[list-item]


# ----------------------------------------------------------------- identity and confinement
def test_amount_zero_is_bit_identical(obama):
    data, analyses = obama
    res = apply_edits(data, analyses, [EditRequest(n, 0.0, color="blond" if n == "hair.color"
                                                   else None) for n in EDITS])
    assert np.array_equal(res.image, data.pixels)
    assert not res.changed.any()
    assert all(r["skipped"] == "amount is 0 (identity)" for r in res.report)


def _allowed(data: ImageData, fa, name: str) -> np.ndarray:
    """Image mask of the edit's parsed regions dilated by its margin (+2 px slack)."""
    spec = EDITS[name]
    al = fa.alignment
    H, W = data.pixels.shape[:2]
    union = np.max([fa.regions.masks[r] for r in spec.regions], axis=0)
    reg = crop_to_image(union, al, (0, 0, W, H)) > 0.01
    dist = cv2.distanceTransform((~reg).astype(np.uint8), cv2.DIST_L2, 3)
    return dist <= spec.margin_iod * _iod(fa) + 2.0


@pytest.mark.parametrize("name", STABLE_NAMES)
def test_pixels_outside_dilated_region_are_bit_identical(obama, name):
    data, analyses = obama
    res = apply_edits(data, analyses, [STRONG[name]])
    entry = res.report[0]
    assert entry["applied"], entry
    diff = np.any(res.image != data.pixels, axis=2)
    assert diff.sum() > 50, "the edit changed (almost) nothing"
    assert not (diff & ~res.changed).any(), "changed pixels outside the reported mask"
    assert res.image.dtype == data.pixels.dtype and res.image.shape == data.pixels.shape
    if name == "hair.color":
        # The hair mask reaches past the parser's crop; the face inside its outline
        # (a quarter iod in from the mesh oval) must stay.
        fa = analyses[0]
        H, W = data.pixels.shape[:2]
        oval = np.zeros((H, W), np.uint8)
        cv2.fillPoly(oval, [np.round(fa.face.landmarks_xy[mesh_chains()["oval"]]).astype(
            np.int32)], 1)
        dist = cv2.distanceTransform(oval, cv2.DIST_L2, 3)
        assert not (diff & (dist > 0.25 * _iod(fa) + 2)).any()
    else:
        assert not (res.changed & ~_allowed(data, analyses[0], name)).any()


def test_sixteen_bit_input_keeps_dtype_and_untouched_pixels(obama):
    data, analyses = obama
    px16 = data.pixels.astype(np.uint16) * 257
    d16 = ImageData(pixels=px16)
    res = apply_edits(d16, analyses, [EditRequest("smile", 0.6), EditRequest("lipstick", 0.5)])
    assert res.image.dtype == np.uint16
    diff = np.any(res.image != px16, axis=2)
    assert diff.any() and not (diff & ~res.changed).any()


def test_face_selection_and_unknown_face(obama):
    data, analyses = obama
    res = apply_edits(data, analyses, [EditRequest("smile", 1.0, faces=(3,))])
    assert np.array_equal(res.image, data.pixels)
    assert res.report == [{**res.report[0], "face": 3, "applied": False}]
    assert "no analysed face with index 3" in res.report[0]["skipped"]


# ----------------------------------------------------------------- monotonic amounts
MESH_MEASURES = {
    "eyes.size": eye_area,
    "nose.width": alar_width,
    "lips.fullness": lip_area,
    "smile": corner_lift,
    "brows.raise": brow_height,
    "face.slim": lambda p: -jaw_width(p),
}


@pytest.mark.parametrize("name", list(MESH_MEASURES))
def test_structure_amount_is_monotonic_in_a_fresh_mesh(obama, name):
    """A face mesh detected on each output measures more of the feature as the amount grows."""
    data, analyses = obama
    fn = MESH_MEASURES[name]
    values = []
    for a in (-1.0, 0.0, 1.0):
        img = data.pixels if a == 0 else apply_edits(data, analyses, [EditRequest(name, a)]).image
        values.append(fn(_mesh(img)))
    assert values[0] < values[1] < values[2], values


def _lab(px: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(px.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def _region_mean(data, fa, region: str, img: np.ndarray, channel: str) -> float:
    H, W = data.pixels.shape[:2]
    m = crop_to_image(fa.regions.masks[region], fa.alignment, (0, 0, W, H)) > 0.5
    lab = _lab(img)[m]
    if channel == "C":
        return float(np.hypot(lab[:, 1], lab[:, 2]).mean())
    return float(lab[:, "Lab".index(channel)].mean())


@pytest.mark.parametrize("name, region, channel, sign, kw", [
    ("lipstick", "lips", "C", 1, {"color": "red"}),
    ("teeth.whiten", "mouth_interior", "b", -1, {}),
    ("brows.density", "brows", "L", -1, {}),
    ("skin.tone", "left_cheek", "b", 1, {"color": "warm"}),
    ("under_eye", "left_under_eye", "L", 1, {}),
])
def test_appearance_amount_is_monotonic_in_the_pixels(obama, name, region, channel, sign, kw):
    data, analyses = obama
    fa = analyses[0]
    vals = []
    for a in (0.0, 0.4, 1.0):
        img = data.pixels if a == 0 else apply_edits(data, analyses, [EditRequest(name, a, **kw)]
                                                     ).image
        vals.append(sign * _region_mean(data, fa, region, img, channel))
    assert vals[0] < vals[1] < vals[2], vals


def test_young_softens_wrinkle_energy_monotonically(faces_dir):
    data = load_image(faces_dir / "clean/fr_biden2.jpg")
    _, analyses = RetouchPipeline().analyze(data)
    fa = analyses[0]
    H, W = data.pixels.shape[:2]
    m = crop_to_image(fa.regions.masks["forehead"], fa.alignment, (0, 0, W, H)) > 0.5

    def ridge(img: np.ndarray) -> float:
        L = _lab(img)[..., 0]
        band = cv2.GaussianBlur(L, (0, 0), 1.5) - cv2.GaussianBlur(L, (0, 0), 8.0)
        return float(np.maximum(-band, 0)[m].mean())

    e = [ridge(data.pixels if a == 0 else
               apply_edits(data, analyses, [EditRequest("young", a)]).image) for a in (0, 0.5, 1)]
    assert e[0] > e[1] > e[2] and e[2] < 0.7 * e[0], e


# ----------------------------------------------------------------- double chin and bending
def _with_fold(data: ImageData, fa) -> np.ndarray:
    """Plant a submental crease (darker band) 0.22 iod under the jaw line."""
    from retouch.edit._structure import jaw_curve

    al = fa.alignment
    S = al.size
    p = al.to_crop(fa.face.landmarks_xy.astype(np.float64))
    X, Y = np.meshgrid(np.arange(S, dtype=np.float32), np.arange(int(1.4 * S), dtype=np.float32))
    J, xl, xr = jaw_curve(p, X[0])
    u = np.abs(X - p[152, 0]) / (0.5 * (xr - xl))
    crease = np.exp(-0.5 * ((Y - J - 0.22 * 0.25 * S) / (0.03 * S * 0.25)) ** 2)
    crease *= np.clip((0.6 - u) / 0.3, 0, 1)
    H, W = data.pixels.shape[:2]
    shade = 1.0 - 0.3 * crop_to_image(crease.astype(np.float32), al, (0, 0, W, H))
    return np.clip(data.pixels * shade[..., None], 0, 255).astype(np.uint8)


def test_double_chin_moves_the_crease_up_and_lifts_it(faces_dir):
    base = load_image(faces_dir / "clean/fr_biden2.jpg")
    pipe = RetouchPipeline()
    _, an0 = pipe.analyze(base)
    data = ImageData(pixels=_with_fold(base, an0[0]))
    _, analyses = pipe.analyze(data)
    fa = analyses[0]
    cx, cy = fa.face.landmarks_xy[152]
    iod = _iod(fa)
    cols = slice(int(cx - 0.15 * iod), int(cx + 0.15 * iod))
    lab0 = _lab(data.pixels)[:, cols, 0]

    def crease_row(img: np.ndarray) -> int:
        r0 = int(cy + 0.12 * iod)  # below the jaw's own shadow
        return r0 + int(np.argmin(_lab(img)[r0:int(cy + 0.42 * iod), cols, 0].mean(axis=1)))

    def band_lightness(img: np.ndarray) -> float:
        return float(_lab(img)[int(cy + 0.15 * iod):int(cy + 0.3 * iod), cols, 0].mean())

    half = apply_edits(data, analyses, [EditRequest("double_chin", -0.5)]).image
    full = apply_edits(data, analyses, [EditRequest("double_chin", -1.0)]).image
    assert crease_row(half) < crease_row(data.pixels)  # the crease rises toward the jaw
    lifted = [band_lightness(data.pixels), band_lightness(half), band_lightness(full)]
    assert lifted[0] < lifted[1] < lifted[2], lifted  # and its shading fades
    assert lifted[2] - lifted[0] > 5.0
    assert lab0.shape[0] == data.pixels.shape[0]


def test_straight_background_lines_beside_the_face_stay_straight(faces_dir, monkeypatch):
    """Lines drawn in the background beside the jaw do not bend (they are not even touched)."""
    base = load_image(faces_dir / "clean/fr_obama.jpg")
    pipe = RetouchPipeline()
    _, an0 = pipe.analyze(base)
    p = an0[0].face.landmarks_xy
    iod = _iod(an0[0])
    oval = p[mesh_chains()["oval"]]
    y_mouth, y_chin = float(p[61, 1]), float(p[152, 1])
    low = oval[oval[:, 1] > y_mouth]
    xl, xr = float(low[:, 0].min()), float(low[:, 0].max())
    px = base.pixels.copy()
    line = np.zeros(px.shape[:2], bool)
    for x in (int(xl - 0.2 * iod), int(xr + 0.2 * iod)):  # vertical, beside the jaw
        line[int(y_mouth):int(y_chin - 0.15 * iod), x:x + 2] = True
    y_h = int(y_mouth)  # horizontal, up to 0.2 iod from the cheeks
    line[y_h:y_h + 2, : int(xl - 0.2 * iod)] = True
    line[y_h:y_h + 2, int(xr + 0.2 * iod):] = True
    px[line] = 0
    data = ImageData(pixels=px)
    _, analyses = pipe.analyze(data)
    near = cv2.dilate(line.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    for req in (EditRequest("face.slim", 1.0), EditRequest("face.slim", -1.0),
                EditRequest("double_chin", -1.0)):
        res = apply_edits(data, analyses, [req])
        assert res.report[0]["applied"]
        # The lines and the background around them keep their pixels.
        assert np.array_equal(res.image[near], px[near]), req
    # The slimming field does reach the lines: warped without the layer, they would bend.
    import retouch.edit._apply as apply_mod

    monkeypatch.setattr(apply_mod, "_layer", lambda ctx, names: None)
    bent = apply_edits(data, analyses, [EditRequest("face.slim", 1.0)]).image
    assert not np.array_equal(bent[near], px[near])
