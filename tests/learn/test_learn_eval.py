"""Evaluation: metrics against hand computations, the eval command, LPIPS by path only."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from retouch.learn import metrics
from retouch.learn.evaluate import evaluate


def test_psnr_by_hand():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 10            # one channel value off by 10 of 48 values
    mse = (10 / 255) ** 2 / 48
    assert metrics.psnr(a, b) == pytest.approx(10 * math.log10(1 / mse), abs=1e-9)
    m = np.zeros((4, 4), bool)
    m[0, :2] = True            # 2 pixels = 6 values, one of them off
    assert metrics.psnr(a, b, m) == pytest.approx(10 * math.log10(1 / ((10 / 255) ** 2 / 6)))
    assert metrics.psnr(a, a) == math.inf


def _ssim_brute(x: np.ndarray, y: np.ndarray, size: int = 11, sigma: float = 1.5) -> float:
    """Independent, loop-based SSIM: Gaussian-weighted stats on every valid window."""
    ax = np.arange(size) - (size - 1) / 2
    g1 = np.exp(-(ax ** 2) / (2 * sigma ** 2))
    w = np.outer(g1, g1)
    w /= w.sum()
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    vals = []
    for ch in range(x.shape[2]):
        for i in range(x.shape[0] - size + 1):
            for j in range(x.shape[1] - size + 1):
                px = x[i:i + size, j:j + size, ch]
                py = y[i:i + size, j:j + size, ch]
                mx, my = (w * px).sum(), (w * py).sum()
                vx = (w * (px - mx) ** 2).sum()
                vy = (w * (py - my) ** 2).sum()
                cxy = (w * (px - mx) * (py - my)).sum()
                vals.append((2 * mx * my + c1) * (2 * cxy + c2)
                            / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
    return float(np.mean(vals))


def test_ssim_matches_a_brute_force_computation_and_closed_forms():
    rng = np.random.default_rng(0)
    x = rng.random((16, 15, 3))
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)
    assert metrics.ssim(x, y) == pytest.approx(_ssim_brute(x, y), abs=1e-9)
    assert metrics.ssim(x, x) == pytest.approx(1.0, abs=1e-12)
    a, b = np.full((12, 12, 3), 0.2), np.full((12, 12, 3), 0.6)   # constants: luminance term
    c1 = 0.01 ** 2
    assert metrics.ssim(a, b) == pytest.approx((2 * 0.2 * 0.6 + c1) / (0.04 + 0.36 + c1))


def test_torch_ssim_equals_numpy_ssim():
    torch = pytest.importorskip("torch")
    from retouch.learn.losses import ssim as tssim

    rng = np.random.default_rng(1)
    x = rng.random((20, 20, 3)).astype(np.float32)
    y = np.clip(x + 0.05 * rng.standard_normal(x.shape), 0, 1).astype(np.float32)

    def t(a):
        return torch.from_numpy(a.transpose(2, 0, 1))[None]

    assert float(tssim(t(x), t(y))) == pytest.approx(metrics.ssim(x, y), abs=1e-5)


def test_iou_by_hand():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[0, :3] = True            # 3 px
    b[0, 1:4] = True           # 3 px, overlap 2, union 4
    assert metrics.iou(a, b) == 0.5
    assert metrics.iou(np.zeros_like(a), np.zeros_like(a)) == 1.0


def test_evaluate_known_pair_equals_hand_computation(ffhqr_dir, load_rgb):
    """An identity predictor scores exactly the baseline; an oracle scores perfectly."""
    from retouch.learn.data import resize_square

    size = 64
    src = resize_square(load_rgb("pairs/ffhqr_00000_source.png"), 128)   # as in ffhqr_dir
    tgt = resize_square(load_rgb("pairs/ffhqr_00000_target.png"), 128)
    src_s, tgt_s = resize_square(src, size), resize_square(tgt, size)

    res = evaluate(lambda x: (x, np.zeros(x.shape[:2], np.float32)), size, ffhqr_dir, limit=1)
    truth = np.abs(tgt_s.astype(float) - src_s.astype(float)).max(axis=2) > 4
    mse = np.mean((src_s.astype(float) - tgt_s.astype(float)) ** 2) / 255 ** 2
    assert res.n == 1
    assert res.baseline["psnr"] == pytest.approx(10 * math.log10(1 / mse), abs=1e-9)
    assert res.model["psnr"] == res.baseline["psnr"]
    assert res.model["ssim"] == res.baseline["ssim"] == pytest.approx(metrics.ssim(src_s, tgt_s))
    assert res.model["iou"] == 0.0 and truth.any()
    assert res.per_image[0]["retouched_frac"] == pytest.approx(truth.mean())
    assert "LPIPS not computed" in res.notes[0]

    oracle = evaluate(lambda x: (tgt_s.astype(np.float32) / 255, truth.astype(np.float32)),
                      size, ffhqr_dir, limit=1)
    assert oracle.model["psnr"] == math.inf or oracle.model["psnr"] != oracle.model["psnr"]
    assert oracle.model["ssim"] == pytest.approx(1.0)
    assert oracle.model["iou"] == 1.0 and oracle.model["iou_pooled"] == 1.0


def test_eval_command_prints_model_beside_baseline(tiny_ckpt, ffhqr_dir, tmp_path, capsys):
    from retouch.cli import run

    out = tmp_path / "e.json"
    assert run(["eval", "retouchformer", "--data", str(ffhqr_dir), "--checkpoint",
                str(tiny_ckpt), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "input (baseline)" in text and "PSNR (dB)" in text and "LPIPS not computed" in text
    d = json.loads(out.read_text())
    assert d["n"] == 2 and set(d["model"]) >= {"psnr", "ssim", "iou", "psnr_mask"}
    assert d["baseline"]["psnr"] > 30          # FFHQR targets are close to their inputs
    assert run(["eval", "retouchformer", "--data", str(tmp_path), "--checkpoint",
                str(tiny_ckpt)]) == 2          # not an FFHQR layout: one-line error
    assert "expected the FFHQR layout" in capsys.readouterr().err


def test_lpips_only_from_local_weights(tiny_ckpt, ffhqr_dir, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from retouch.cli import run
    from retouch.errors import InvalidInputError
    from retouch.learn.lpips import LPIPS, load_lpips

    # Weight files in the published key layouts (random values: this checks the plumbing,
    # not the reference numbers, which need the real weights).
    net = LPIPS()
    torch.save({k: v for k, v in net.state_dict().items() if k.startswith("features.")},
               tmp_path / "alexnet.pth")
    lins = {f"lin{i}.model.1.weight": torch.rand_like(lin.weight)
            for i, lin in enumerate(net.lins)}
    torch.save(lins, tmp_path / "lin.pth")
    with pytest.raises(InvalidInputError, match="LPIPS weights incomplete"):
        load_lpips([tmp_path / "alexnet.pth"])
    lp = load_lpips([tmp_path / "alexnet.pth", tmp_path / "lin.pth"])
    x = torch.rand(1, 3, 64, 64)
    assert float(lp(x, x)[0]) == 0.0 and float(lp(x, torch.rand(1, 3, 64, 64))[0]) > 0
    assert run(["eval", "retouchformer", "--data", str(ffhqr_dir), "--checkpoint",
                str(tiny_ckpt), "--lpips-weights", str(tmp_path / "alexnet.pth"),
                "--lpips-weights", str(tmp_path / "lin.pth")]) == 0
    text = capsys.readouterr().out
    assert "LPIPS " in text and "not computed" not in text


def test_native_resolution_applies_the_upsampled_residual(ffhqr_dir):
    # A predictor that brightens everything by 0.1 (mask 1): at native size the output
    # is the source + 0.1 everywhere (clipped), so PSNR drops below the baseline.
    res = evaluate(lambda x: (np.clip(x + 0.1, 0, 1), np.ones(x.shape[:2], np.float32)), 64,
                   ffhqr_dir, limit=1, resolution="native")
    assert res.model["psnr"] < res.baseline["psnr"] - 5
    assert res.per_image[0]["pred_frac"] == 1.0
    assert cv2 is not None
