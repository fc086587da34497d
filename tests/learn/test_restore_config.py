"""Restorer configs (no torch needed) and the commands without torch installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from retouch.degrade import STANDARD_RANGES
from retouch.errors import InvalidInputError
from retouch.learn.config import apply_overrides
from retouch.learn.restore.config import RestoreConfig, load_config, tiny, vspbfr512

SRC = Path(__file__).resolve().parents[2] / "src"


def test_presets_are_valid_and_round_trip():
    for cfg in (tiny(), vspbfr512()):
        cfg.check()
        assert RestoreConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    big = vspbfr512()
    assert big.model.image_size == 512 and big.model.style_tokens == 8
    assert big.data.prep_size == 512 and big.data.degradation_ranges() == STANDARD_RANGES
    t = tiny().data.degradation_ranges()
    assert t.scale == (1.0, 3.0) and t.kernel_size == (7, 13) and t.jpeg_quality == (60, 95)


def test_files_merge_on_a_base_and_unknown_keys_are_named(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"base": "tiny", "train": {"steps": 7},
                             "data": {"range_overrides": {"scale": [2, 2]}}}))
    cfg = load_config(f)
    assert cfg.model == tiny().model and cfg.train.steps == 7
    # range_overrides is replaced as a whole, not merged into the preset's
    assert cfg.data.range_overrides == {"scale": [2, 2]}
    assert cfg.data.degradation_ranges().kernel_size == STANDARD_RANGES.kernel_size
    f.write_text(json.dumps({"base": "tiny", "model": {"stlye_dim": 3}}))
    with pytest.raises(InvalidInputError, match="unknown key.*stlye_dim"):
        load_config(f)
    with pytest.raises(InvalidInputError, match="gen_channels needs one width per resolution"):
        apply_overrides(tiny(), ["model.image_size=64"])
    with pytest.raises(InvalidInputError, match="range_overrides: unknown key.*sigmaa"):
        apply_overrides(tiny(), ['data.range_overrides={"sigmaa": [1, 2]}'])
    with pytest.raises(InvalidInputError, match="prep_size 16 must be >= model.image_size 32"):
        apply_overrides(tiny(), ["data.prep_size=16"])
    hard = apply_overrides(tiny(), ["data.ranges=hard"]).data.degradation_ranges()
    assert hard.scale == (1.0, 3.0) and hard.sigma == (0.3, 2.0)   # tiny's overrides stay
    assert hard.jpeg_quality == (60, 95)
    hard = apply_overrides(tiny(), ["data.ranges=hard", "data.range_overrides=null"])
    assert hard.data.degradation_ranges().scale == (4.0, 30.0)


BLOCK = "import sys; sys.modules['torch'] = None; sys.modules['onnxruntime'] = None; "


def test_without_torch_configs_import_and_commands_exit_4(tmp_path):
    (tmp_path / "ck.pt").write_bytes(b"x")
    code = BLOCK + """
import retouch.learn.restore as r, retouch.learn.restore.evaluate, retouch.learn.restore.engine
from retouch.cli import run
print(r.load_config('tiny').model.image_size)
for argv in (["train", "restore", "tiny", "--out", "o", "--data", "."],
             ["eval", "restore", "--data", ".", "--checkpoint", "ck.pt"],
             ["restore", "in.png", "-o", "out.png", "--checkpoint", "ck.pt"]):
    print(run(argv))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120,
                       env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin",
                            "GLOG_minloglevel": "2"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["32", "4", "4", "4"], (r.stdout, r.stderr)
    errs = [ln for ln in r.stderr.splitlines() if ln.startswith("retouch: error")]
    assert len(errs) == 3 and all("pip install 'retouch[learn]'" in e for e in errs), r.stderr


@pytest.mark.parametrize("name", ["tiny.yaml", "ffhq512.yaml"])
def test_shipped_restore_configs_load(name):
    pytest.importorskip("yaml")
    path = Path(__file__).resolve().parents[2] / "configs" / "restore" / name
    cfg = load_config(path)
    assert cfg.model.image_size == (32 if name == "tiny.yaml" else 512)
    assert cfg.train.out_dir.startswith("runs/restore_")
