"""Determinism: the same input and settings give byte-identical outputs.

Across runs in one process, across processes (different ``PYTHONHASHSEED``,
so no result may depend on set or dict-of-str ordering) and across thread
settings (``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``=1 against the default),
for the default command (image, masks and report minus timings), ``edit`` and
``restore``. The batch command's "1 or N workers" case plugs in here (issue 7).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from _faces import FACES
from _harness import record, run_cli
from _hostile import base_images
from PIL import Image

from retouch import retouch
from retouch.imageio import load_image

pytestmark = pytest.mark.fuzz

#: Two process environments that must not change any output byte.
ENVS: tuple[dict[str, str], dict[str, str]] = (
    {"PYTHONHASHSEED": "1"},
    {"PYTHONHASHSEED": "2", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
     "MKL_NUM_THREADS": "1"},
)
#: Commands compared: (name, argv builder, files produced).
COMMANDS = {
    "retouch": (lambda i, o: [str(i), "-o", str(o / "out.png"), "--report", str(o / "r.json"),
                              "--masks", str(o / "masks"), "--strength", "1",
                              "--keep", "mole", "-q"],
                ["out.png", "r.json", "masks/removed.png", "masks/acne.png"]),
    "retouch-jpeg": (lambda i, o: [str(i), "-o", str(o / "out.jpg"), "-q",
                                   "-i", "remove the acne and soften the shine"], ["out.jpg"]),
    "edit": (lambda i, o: ["edit", str(i), "-o", str(o / "out.tif"), "--set", "eyes.size=0.4",
                           "--set", "lipstick=#b0303a:0.6:gloss", "--set", "double_chin=-0.6",
                           "-q"], ["out.tif"]),
    "restore": (lambda i, o: ["restore", str(i), "-o", str(o / "out.webp"), "--quality", "100",
                              "-q"], ["out.webp"]),
}


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real photo with many blemishes (so many code paths run), else the sample face."""
    p = tmp_path_factory.mktemp("det") / "in.png"
    src = FACES / "blemish" / "localretouch_acne_dark_bg.jpg"
    if src.is_file():
        with Image.open(src) as im:
            im.convert("RGB").save(p)
    else:
        Image.fromarray(base_images()[0]).save(p)
    return p


def _digest(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".json":  # timings and paths legitimately differ
        rep = json.loads(data)
        rep.pop("timings_ms", None)
        rep.pop("output", None)
        rep.pop("input", None)
        data = json.dumps(rep, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("command", list(COMMANDS))
def test_byte_identical_across_processes(command: str, photo: Path, tmp_path: Path) -> None:
    """Two processes with different hash seeds and thread counts write identical bytes."""
    build, files = COMMANDS[command]
    digests = []
    for k, env in enumerate(ENVS):
        out = tmp_path / f"run{k}"
        out.mkdir()
        run = run_cli(build(photo, out), cwd=out, env=env, timeout=120)
        assert run.returncode == 0, run.stderr
        digests.append({f: _digest(out / f) for f in files})
        record("determinism", f"{command}-process{k}", command, "ok", run.seconds,
               run.max_rss_mb, json.dumps(digests[-1])[:200])
    assert digests[0] == digests[1], f"{command}: outputs differ across processes"


def test_repeat_in_process_and_cli_agree(photo: Path, tmp_path: Path) -> None:
    """``retouch()`` twice in one process gives identical results, equal to the CLI's PNG."""
    a = retouch(str(photo), strength=1.0, keep="mole")
    b = retouch(str(photo), strength=1.0, keep="mole")
    assert np.array_equal(a.image, b.image)
    assert all(np.array_equal(a.masks[k], b.masks[k]) for k in a.masks)
    strip = ("timings_ms",)
    ra = {k: v for k, v in a.report.items() if k not in strip}
    rb = {k: v for k, v in b.report.items() if k not in strip}
    assert json.dumps(ra, sort_keys=True) == json.dumps(rb, sort_keys=True)
    assert np.count_nonzero(a.masks["removed"]) > 0, "nothing treated: a weak test"
    out = tmp_path / "cli"
    out.mkdir()
    build, _ = COMMANDS["retouch"]
    run = run_cli(build(photo, out), cwd=out, timeout=120)
    assert run.returncode == 0, run.stderr
    assert np.array_equal(load_image(out / "out.png").pixels, a.image)
