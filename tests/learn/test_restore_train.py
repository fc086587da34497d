"""Learned restorer training: overfitting a tiny set, exact resume, the FFHQ-layout data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from learn_helpers import run_torchrun  # noqa: E402
from restore_helpers import make_ffhq_dir, tiny_restore_config  # noqa: E402

from retouch.errors import InvalidInputError  # noqa: E402
from retouch.learn.metrics import psnr  # noqa: E402
from retouch.learn.restore.train import RestoreTrainer, train_restorer  # noqa: E402


@pytest.fixture(scope="module")
def ffhq2(tmp_path_factory, load_rgb) -> Path:
    return make_ffhq_dir(tmp_path_factory.mktemp("ffhq2"), load_rgb, n=2)


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_tiny_restorer_overfits_two_degraded_faces(tmp_path, ffhq2):
    """2 faces x 1 fixed degradation, 30 style + 30 diffusion + 60 restoration steps."""
    cfg = tiny_restore_config(tmp_path, ffhq2, "data.variants=1", "data.flip=false",
                              "train.sample_every=60")
    tr = RestoreTrainer(cfg, log=None)
    tr.run()
    grids = sorted((tmp_path / "samples").glob("*.png"))
    assert grids and all(p.stat().st_size > 0 for p in grids), grids
    recs = _records(tmp_path)
    for stage, factor in (("style", 1.8), ("restore", 1.8)):
        r = [x["loss"] for x in recs if x["stage"] == stage]
        # Measured on the project machine: style 0.360 -> 0.174, restore 0.061 -> 0.031
        # (means of the first and last 5 steps).
        assert np.mean(r[-5:]) < np.mean(r[:5]) / factor, (stage, r[:5], r[-5:])
    # The diffuser starts at its condition (the degraded face's code: zero-initialized
    # correction head). Here the codes of degraded and clean faces are already close
    # (mean squared 3e-5 to 2e-4), so its learning is measured in the next test instead.
    diff = [x for x in recs if x["stage"] == "diffusion"]
    assert diff[0]["mse"] == pytest.approx(diff[0]["cond_mse"], rel=1e-3)
    tr.model.eval()
    gains = []
    for i in range(2):
        deg, clean = tr.data.pair(i, 0)       # the one degradation each face was trained on
        x = torch.from_numpy(deg.transpose(2, 0, 1)[None].astype(np.float32) / 255)
        with torch.no_grad():
            out = tr.model(x, generator=torch.Generator().manual_seed(0)).image
        y = np.rint(out[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        gains.append(psnr(y, clean) - psnr(deg, clean))
    # Measured: +4.0 and +5.6 dB over the degraded input (24.7 and 24.6 dB).
    assert min(gains) > 2.0, gains
    assert (tmp_path / "samples" / "restore_0000060.png").is_file()
    assert (tmp_path / "checkpoints" / "last.pt").is_file()


def test_diffusion_stage_learns_to_map_degraded_codes_to_clean_ones(tmp_path, ffhq2):
    """60 steps of the trainer's diffusion step on 2 pairs whose 'degraded' side is far from
    the clean one (colour-inverted, upside down): DDIM-sampled codes end up much closer to
    the clean codes than the condition codes are."""
    tr = RestoreTrainer(tiny_restore_config(tmp_path, ffhq2), log=None)
    x = torch.stack([torch.from_numpy(tr.data.sample("fixed", 0, i)["clean"].transpose(2, 0, 1)
                                      .astype(np.float32) / 255) for i in range(2)])
    y = (1.0 - x).flip(2)
    tr.stage = "diffusion"
    tr._enter("diffusion")
    logs = []
    for step in range(60):
        tr.step = step
        tr._reseed()
        logs.append(tr.diffusion_step({"clean": x, "degraded": y}))
    assert logs[0]["mse"] == pytest.approx(logs[0]["cond_mse"], rel=1e-4)
    # Measured: training mse 1.32 -> 0.10; sampled-code error 0.085 vs condition 1.32.
    assert np.mean([r["mse"] for r in logs[-5:]]) < logs[0]["mse"] / 5
    m = tr.model.eval()
    with torch.no_grad():
        z0 = m.encode(x)
        z, cond = m.predict_codes(y, generator=torch.Generator().manual_seed(0))
    err_sampled, err_cond = float((z - z0).pow(2).mean()), float((cond - z0).pow(2).mean())
    assert err_sampled < err_cond / 5, (err_sampled, err_cond)


def _state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def test_resume_inside_the_restoration_stage_reproduces_the_straight_run(tmp_path, ffhq2):
    common = ["train.style_steps=2", "train.diffusion_steps=2"]
    straight = tmp_path / "straight"
    train_restorer(tiny_restore_config(straight, ffhq2, *common, "train.steps=3"), log=None)
    split = tmp_path / "split"
    train_restorer(tiny_restore_config(split, ffhq2, *common, "train.steps=1"), log=None)
    ck = _state(split / "checkpoints" / "last.pt")
    assert (ck["format"], ck["stage"], ck["step"]) == ("retouch-vspbfr", "restore", 1)
    with pytest.raises(InvalidInputError, match="pass --resume"):
        RestoreTrainer(tiny_restore_config(split, ffhq2, *common, "train.steps=3"), log=None)
    train_restorer(tiny_restore_config(split, ffhq2, *common, "train.steps=3"), resume=True,
                   log=None)
    a, b = _state(straight / "checkpoints" / "last.pt"), _state(split / "checkpoints" / "last.pt")
    assert (a["stage"], a["step"]) == (b["stage"], b["step"]) == ("restore", 3)
    for part in ("model", "disc"):
        assert a[part].keys() == b[part].keys()
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), f"{part}.{k}"
    for name in ("style", "diffusion", "restore", "d"):
        sa, sb = a["optim"][name]["state"], b["optim"][name]["state"]
        assert sa.keys() == sb.keys() and sa, name
        for i in sa:
            assert torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]), (name, i)
    ra = [r for r in _records(straight) if r["stage"] == "restore"]
    rb = [r for r in _records(split) if r["stage"] == "restore"]
    assert [r["step"] for r in rb] == [1, 2, 3]
    assert [r["loss"] for r in ra] == [r["loss"] for r in rb]
    assert {"l1", "ssim", "code", "g_adv", "d", "psnr_gain"} <= set(ra[-1])


def test_resume_refuses_another_model_section(tmp_path, ffhq2):
    train_restorer(tiny_restore_config(tmp_path, ffhq2, "train.style_steps=1",
                                       "train.diffusion_steps=0", "train.steps=0"), log=None)
    cfg = tiny_restore_config(tmp_path, ffhq2, "model.style_dim=8")
    with pytest.raises(InvalidInputError, match="model config differs"):
        RestoreTrainer(cfg, resume=True, log=None)


def test_data_is_deterministic_and_follows_the_ffhq_layout(ffhq2):
    from retouch.learn.restore.config import RestoreDataConfig
    from retouch.learn.restore.data import RestoreData, list_faces

    assert [p.relative_to(ffhq2).as_posix() for p in list_faces(ffhq2)] == \
        ["00000/00000.png", "00000/00001.png"]
    d = RestoreData(RestoreDataConfig(dirs=[str(ffhq2)], prep_size=64), 32, None, seed=3)
    a, b = d.sample("pair", 7, 1), d.sample("pair", 7, 1)
    assert a.keys() == {"degraded", "clean"} and a["degraded"].shape == (32, 32, 3)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c = d.sample("pair", 8, 1)
    assert not np.array_equal(a["degraded"], c["degraded"])   # another step, another draw
    # The standard ranges (downsampling x0.8-8, sigma 0.1-10 at 64 px) visibly degrade it.
    assert psnr(a["degraded"], a["clean"]) < 40
    with pytest.raises(InvalidInputError, match="face folder not found"):
        RestoreData(RestoreDataConfig(dirs=[str(ffhq2 / "nope")]), 32, None, seed=0)


def test_ddp_two_processes_match_one_process_with_twice_the_batch(tmp_path, ffhq2):
    """torchrun, gloo: 2 x batch 1 == 1 x batch 2, diffusion noise and DDIM noise included."""
    from retouch.cli import run

    def args(out: Path, batch: int) -> list[str]:
        return ["train", "restore", "tiny", "--data", str(ffhq2), "--out", str(out),
                "--style-steps", "1", "--diffusion-steps", "2", "--steps", "2", "-q",
                "--set", f"train.batch_size={batch}", "--set", "train.log_every=1",
                "--set", "train.sample_every=0", "--set", "train.device=\"cpu\""]

    run_torchrun(args(tmp_path / "ddp", 1))
    assert run(args(tmp_path / "one", 2)) == 0
    a, b = _records(tmp_path / "ddp"), _records(tmp_path / "one")
    assert [(x["stage"], x["step"]) for x in a] == [(x["stage"], x["step"]) for x in b]
    for ra, rb in zip(a, b, strict=True):
        for k in ("loss", "mse", "cond_mse", "l1", "code", "d"):
            if k in ra:
                assert ra[k] == pytest.approx(rb[k], rel=1e-4, abs=1e-6), (k, ra, rb)


def test_bf16_autocast_path_runs_on_cpu(tmp_path, ffhq2):
    cfg = tiny_restore_config(tmp_path, ffhq2, "train.amp=\"bf16\"", "train.style_steps=1",
                              "train.diffusion_steps=1", "train.steps=2")
    tr = RestoreTrainer(cfg, log=None)
    assert tr.amp_dtype == torch.bfloat16
    recs = tr.run()
    assert [r["stage"] for r in recs] == ["style", "diffusion", "restore", "restore"]
    assert all(np.isfinite(r["loss"]) for r in recs)
