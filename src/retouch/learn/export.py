"""Export the inference graph to ONNX and check ONNX Runtime against PyTorch.

The exported graph is :class:`~retouch.learn.model.InferenceGraph`: input
``image`` ``(1, 3, S, S) float32`` in ``[0, 1]``; outputs ``retouched``
``(1, 3, S, S)``, ``mask`` ``(1, 1, S, S)`` and ``proposal`` ``(1, 3, S, S)``.
The experiment config, stage and step are stored in the model's metadata
(``retouch_config``, ``retouch_stage``, ``retouch_step``), so the learned
engine can run the ``.onnx`` file with onnxruntime alone, without torch.

The export uses PyTorch's TorchScript-based exporter (``dynamo=False``, opset
17), which needs the ``onnx`` package; the check needs ``onnxruntime``.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._deps import require, require_torch
from .config import RetouchFormerConfig

#: Default tolerance of :func:`check_onnx` (max absolute difference, ``[0, 1]`` units).
ATOL = 1e-3


def export_onnx(model: Any, cfg: RetouchFormerConfig, path: str | Path, *, stage: str = "main",
                step: int = 0, opset: int = 17) -> Path:
    """Write ``model``'s inference graph to ``path`` (see the module docstring)."""
    torch = require_torch("ONNX export")
    onnx = require("onnx", "ONNX export")
    from .model import InferenceGraph

    s = cfg.model.image_size
    graph = InferenceGraph(model).eval().cpu()
    x = torch.rand(1, 3, s, s, generator=torch.Generator().manual_seed(0))
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notices
        torch.onnx.export(graph, (x,), buf, dynamo=False, opset_version=opset,
                          input_names=["image"], output_names=["retouched", "mask", "proposal"])
    proto = onnx.load_from_string(buf.getvalue())
    for key, value in (("retouch_config", json.dumps(cfg.to_dict())),
                       ("retouch_stage", stage), ("retouch_step", str(int(step)))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    path = Path(path)
    onnx.save(proto, str(path))
    return path


@dataclass
class OnnxCheck:
    """Largest and mean absolute differences ONNX Runtime vs PyTorch, per output."""

    max_abs: dict[str, float]
    mean_abs: dict[str, float]
    atol: float

    @property
    def passed(self) -> bool:
        """Every output within ``atol``."""
        return all(v <= self.atol for v in self.max_abs.values())


def check_onnx(model: Any, path: str | Path, size: int, *, inputs: int = 2, seed: int = 0,
               atol: float = ATOL, images: list[np.ndarray] | None = None) -> OnnxCheck:
    """Run the ONNX file and the PyTorch model on the same inputs and compare.

    Inputs: ``images`` (``(S, S, 3)`` float ``[0, 1]``) when given, else
    ``inputs`` seeded ones (uniform noise, then smooth colour fields).
    """
    torch = require_torch("the ONNX check")
    ort = require("onnxruntime", "the ONNX check")
    from .model import InferenceGraph

    graph = InferenceGraph(model).eval().cpu()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    if images is None:
        rng = np.random.default_rng(seed)
        images = []
        for i in range(inputs):
            if i % 2 == 0:
                images.append(rng.random((size, size, 3), dtype=np.float32))
            else:
                yy, xx = np.mgrid[0:size, 0:size] / size
                base = np.stack([0.6 + 0.2 * np.sin(3 * xx), 0.45 + 0.1 * yy,
                                 0.4 + 0.1 * xx * yy], -1)
                images.append(np.clip(base + 0.02 * rng.standard_normal(base.shape), 0, 1)
                              .astype(np.float32))
    names = ["retouched", "mask", "proposal"]
    mx = dict.fromkeys(names, 0.0)
    mean = dict.fromkeys(names, 0.0)
    for img in images:
        x = np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32)
        with torch.no_grad():
            ref = [t.numpy() for t in graph(torch.from_numpy(x))]
        got = sess.run(names, {"image": x})
        for n, a, b in zip(names, ref, got, strict=True):
            d = np.abs(a - b)
            mx[n] = max(mx[n], float(d.max()))
            mean[n] += float(d.mean()) / len(images)
    return OnnxCheck(mx, mean, atol)
