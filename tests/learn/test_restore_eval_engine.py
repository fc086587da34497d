"""Restorer evaluation (hand computation, CLI) and the learned engine of `retouch restore`
(paste-back bit-identity outside the face windows, determinism, report, errors)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cv2  # noqa: E402
from restore_helpers import make_ffhq_dir  # noqa: E402

from retouch.cli import run  # noqa: E402
from retouch.degrade import LEVELS, STANDARD_RANGES, apply_degradation, sample_degradation  # noqa: E402
from retouch.learn import metrics  # noqa: E402
from retouch.learn.restore.evaluate import evaluate_restore, torch_restore_predictor  # noqa: E402

PHOTO = "clean/skimage_astronaut.png"   # 512 x 512, the face well inside the frame


@pytest.fixture(scope="module")
def ffhq2(tmp_path_factory, load_rgb) -> Path:
    return make_ffhq_dir(tmp_path_factory.mktemp("ffhq2e"), load_rgb, n=2)


@pytest.fixture(scope="module")
def tiny_ck(tmp_path_factory, ffhq2) -> Path:
    """A tiny restorer trained by the CLI: 4 style + 4 diffusion + 6 restoration steps."""
    out = tmp_path_factory.mktemp("restore_run")
    rc = run(["train", "restore", "tiny", "--data", str(ffhq2), "--out", str(out),
              "--style-steps", "4", "--diffusion-steps", "4", "--steps", "6", "-q",
              "--export-weights", str(out / "weights.pt")])
    assert rc == 0
    ck = torch.load(out / "weights.pt", map_location="cpu", weights_only=True)
    assert (ck["format"], ck["stage"], ck["step"], ck["optim"]["restore"]) == \
        ("retouch-vspbfr", "restore", 6, None)
    return out / "checkpoints" / "last.pt"


def _hand_eval(predict, faces: list[Path], level: str, seed: int) -> tuple[list, list, list]:
    from PIL import Image

    order = ["mild", "medium", "severe", "standard", "hard"]
    psnr, psnr_in, ssim = [], [], []
    for i, p in enumerate(faces):
        clean = cv2.resize(np.asarray(Image.open(p).convert("RGB")), (64, 64),
                           interpolation=cv2.INTER_AREA)
        rng = np.random.default_rng([seed, i, order.index(level)])
        deg = LEVELS[level] if level in LEVELS else sample_degradation(rng, STANDARD_RANGES)
        low = np.clip(np.rint(apply_degradation(clean, deg, seed=rng) * 255), 0, 255)
        low = cv2.resize(low.astype(np.uint8), (32, 32), interpolation=cv2.INTER_AREA)
        ref = cv2.resize(clean, (32, 32), interpolation=cv2.INTER_AREA)
        out = np.clip(np.rint(predict(low.astype(np.float32) / 255.0) * 255), 0, 255)
        for img, dest in ((out, psnr), (low, psnr_in)):
            mse = np.mean((img.astype(np.float64) / 255 - ref.astype(np.float64) / 255) ** 2)
            dest.append(10 * math.log10(1 / mse))
        ssim.append(metrics.ssim(out.astype(np.uint8), ref))
    return psnr, psnr_in, ssim


def test_eval_equals_a_hand_computation(ffhq2):
    def predict(x: np.ndarray) -> np.ndarray:
        return np.clip(x * 0.9 + 0.06, 0, 1)

    faces = sorted(ffhq2.rglob("*.png"))
    res = evaluate_restore(predict, 32, ffhq2, prep_size=64, levels=("mild", "standard"), seed=5)
    for level in ("mild", "standard"):
        psnr, psnr_in, ssim = _hand_eval(predict, faces, level, 5)
        r = res.levels[level]
        assert r.n == 2
        assert r.model["psnr"] == pytest.approx(np.mean(psnr), abs=1e-9)
        assert r.baseline["psnr"] == pytest.approx(np.mean(psnr_in), abs=1e-9)
        assert r.model["ssim"] == pytest.approx(np.mean(ssim), abs=1e-12)
        assert "lpips" not in r.model and "LPIPS not computed" in r.notes[0]
    assert res.levels["mild"].per_image[0]["degradation"] == LEVELS["mild"].to_dict()
    # A predictor that returns its input scores exactly the baseline.
    same = evaluate_restore(lambda x: x, 32, ffhq2, prep_size=64, levels=("severe",))
    s = same.levels["severe"]
    assert s.model == s.baseline


def test_eval_cli_prints_model_beside_input_and_matches_the_api(tmp_path, ffhq2, tiny_ck,
                                                                 capsys):
    from retouch.learn.restore.checkpoint import load_restorer

    j = tmp_path / "e.json"
    assert run(["eval", "restore", "--data", str(ffhq2), "--checkpoint", str(tiny_ck),
                "--levels", "mild,standard", "--seed", "2", "--json", str(j)]) == 0
    text = capsys.readouterr().out
    assert "[mild] 2 face(s)" in text and "input (baseline)" in text and "PSNR (dB)" in text
    d = json.loads(j.read_text())
    model, cfg, _ = load_restorer(tiny_ck)
    ref = evaluate_restore(torch_restore_predictor(model, seed=2), 32, ffhq2, prep_size=64,
                           levels=("mild", "standard"), seed=2)
    for level in ("mild", "standard"):
        assert d["levels"][level]["model"]["psnr"] == ref.levels[level].model["psnr"]
        assert d["levels"][level]["baseline"]["ssim"] == ref.levels[level].baseline["ssim"]
    assert run(["eval", "restore", "--data", str(ffhq2), "--checkpoint", str(tiny_ck),
                "--levels", "mild,blurry"]) == 2
    assert "unknown level(s) blurry" in capsys.readouterr().err


def test_paste_back_leaves_pixels_outside_the_face_windows_bit_identical(faces_dir, tiny_ck):
    from retouch.detect import get_detector
    from retouch.imageio import load_image
    from retouch.learn.restore.engine import LearnedRestorer
    from retouch.restore import restore

    data = load_image(faces_dir / PHOTO)
    eng = LearnedRestorer.load(tiny_ck, device="cpu", seed=1)
    with torch.no_grad():   # make the model change its crops a lot, so any leak would show
        eng.model.restorer.head[-1].weight.normal_(0, 0.05)
    res = restore(data, 0.5, engine=eng)
    faces = [f for f in get_detector().detect(data.pixels) if f.skip_reason is None]
    assert len(faces) == 1
    inside = np.zeros(data.pixels.shape[:2], bool)
    for f in faces:
        (x0, y0, x1, y1), w = eng.face_window(f, data.pixels.shape[:2])
        inside[y0:y1, x0:x1] |= w > 0
    assert 0.05 < inside.mean() < 0.5
    assert np.array_equal(res.image[~inside], data.pixels[~inside])
    assert not res.changed[~inside].any()
    assert res.changed[inside].mean() > 0.5            # and the windows did change
    rep = res.report
    assert rep["engine"] == "learned" and rep["model"]["model"] == "vspbfr"
    assert rep["faces"][0]["steps"][0]["step"] == "learned_restore"
    assert rep["faces"][0]["estimate"] is None
    again = restore(data, 0.5, engine=eng)             # seeded sampler: same pixels
    assert np.array_equal(again.image, res.image)


def test_restore_cli_with_a_checkpoint_reports_the_learned_engine(tmp_path, faces_dir, tiny_ck,
                                                                  capsys):
    from retouch.imageio import load_image
    from retouch.learn.restore.engine import LearnedRestorer
    from retouch.restore import restore

    src = faces_dir / PHOTO
    out, rep = tmp_path / "o.png", tmp_path / "r.json"
    assert run(["restore", str(src), "-o", str(out), "--checkpoint", str(tiny_ck),
                "--seed", "3", "--report", str(rep)]) == 0
    assert "[learned engine] face 0: learned_restore" in capsys.readouterr().out
    r = json.loads(rep.read_text())
    assert r["engine"] == "learned"
    assert (r["model"]["checkpoint"], r["model"]["step"], r["model"]["seed"]) == \
        (str(tiny_ck), 6, 3)
    api = restore(load_image(src), 0.5, engine=LearnedRestorer.load(tiny_ck, seed=3))
    assert np.array_equal(load_image(out).pixels, api.image)
    assert r["changed_pixels"] == int(api.changed.sum()) > 0
    # Errors: sampler options without a checkpoint, unfinished or foreign checkpoints.
    assert run(["restore", str(src), "-o", str(out), "--seed", "3"]) == 2
    ck = torch.load(tiny_ck, map_location="cpu", weights_only=True)
    ck["stage"] = "diffusion"
    torch.save(ck, tmp_path / "early.pt")
    torch.save({"format": "something-else", "version": 1}, tmp_path / "other.pt")
    assert run(["restore", str(src), "-o", str(out), "--checkpoint",
                str(tmp_path / "early.pt")]) == 2
    assert run(["restore", str(src), "-o", str(out), "--checkpoint",
                str(tmp_path / "other.pt")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "--device, --seed and --sample-steps need --checkpoint" in err[0]
    assert "has not been trained yet" in err[1]
    assert "not a retouch VSPBFR restorer checkpoint" in err[2]
