"""ONNX export: ONNX Runtime matches PyTorch; the file carries the config."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from retouch.learn.checkpoint import load_model  # noqa: E402
from retouch.learn.export import check_onnx, export_onnx  # noqa: E402


def test_onnx_runtime_matches_pytorch(tiny_ckpt, tmp_path, load_rgb):
    import cv2

    model, cfg, meta = load_model(tiny_ckpt)
    path = export_onnx(model, cfg, tmp_path / "m.onnx", stage=meta["stage"], step=meta["step"])
    face = cv2.resize(load_rgb("pairs/ffhqr_00000_source.png"), (64, 64),
                      interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    chk = check_onnx(model, path, 64, images=[face])
    assert chk.passed, chk.max_abs
    assert max(chk.max_abs.values()) < 1e-4          # measured ~1e-6
    chk2 = check_onnx(model, path, 64, inputs=2)     # noise and smooth fields
    assert chk2.passed, chk2.max_abs
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    props = sess.get_modelmeta().custom_metadata_map
    assert json.loads(props["retouch_config"])["model"]["image_size"] == 64
    assert [i.name for i in sess.get_inputs()] == ["image"]
    assert [o.name for o in sess.get_outputs()] == ["retouched", "mask", "proposal"]


def test_a_check_that_can_fail(tiny_ckpt, tmp_path):
    """The comparison notices a different model (the check is not vacuous)."""
    model, cfg, _ = load_model(tiny_ckpt)
    path = export_onnx(model, cfg, tmp_path / "m.onnx")
    with torch.no_grad():
        model.out[-1].bias.add_(0.05)                # proposal shifted by 0.025
    chk = check_onnx(model, path, 64, inputs=1)
    assert not chk.passed and chk.max_abs["proposal"] > 0.01


def test_export_command(tiny_ckpt, tmp_path, capsys):
    from retouch.cli import run

    assert run(["export", "retouchformer", "--checkpoint", str(tiny_ckpt), "-o",
                str(tmp_path / "m.onnx")]) == 0
    assert "OK" in capsys.readouterr().out
    assert run(["export", "retouchformer", "--checkpoint", str(tiny_ckpt), "-o",
                str(tmp_path / "m.txt")]) == 2
