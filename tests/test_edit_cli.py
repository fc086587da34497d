"""`retouch edit` command line: output, report, --list, --grid and the error contract."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from retouch.cli import run


def _sha(p) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture()
def photo(tmp_path, faces_dir):
    p = tmp_path / "in.jpg"
    shutil.copy(faces_dir / "clean/fr_obama.jpg", p)
    return p


def test_edit_writes_output_and_report(tmp_path, photo, capsys):
    out, rep = tmp_path / "out.png", tmp_path / "rep.json"
    before = _sha(photo)
    code = run(["edit", str(photo), "-o", str(out), "--set", "double_chin=-0.8",
                "--set", "eyes.size=0.3", "--set", "lipstick=#b0303a:0.6", "--report", str(rep)])
    assert code == 0
    assert _sha(photo) == before
    report = json.loads(rep.read_text())
    assert [e["edit"] for e in report["edits"]] == ["double_chin", "eyes.size", "lipstick"]
    assert all(e["applied"] for e in report["edits"])
    assert report["edits"][1]["measured"]["change_pct"] > 0
    src = np.asarray(Image.open(photo).convert("RGB"))
    got = np.asarray(Image.open(out).convert("RGB"))
    assert got.shape == src.shape and 0 < report["changed_px"] < src.shape[0] * src.shape[1] / 10
    assert "applied double_chin, eyes.size, lipstick" in capsys.readouterr().out


def test_list_text_and_json(capsys):
    assert run(["edit", "--list"]) == 0
    text = capsys.readouterr().out
    assert "double_chin" in text and "lipstick" in text and "#rrggbb" in text
    assert run(["edit", "--list", "--json"]) == 0
    specs = json.loads(capsys.readouterr().out)
    assert {s["name"] for s in specs} >= {"eyes.size", "hair.color", "young"}


def test_grid_mode(tmp_path, photo):
    out = tmp_path / "grid.png"
    assert run(["edit", str(photo), "-o", str(out), "--grid", "smile", "-q"]) == 0
    w, h = Image.open(out).size
    assert (w, h) == (5 * 256, 256)


@pytest.mark.parametrize("args, code, match", [
    (["--set", "eyes.size=2"], 2, r"eyes.size: amount must be in \[-1, 1\]"),
    (["--set", "nose.size=0.2"], 2, r"unknown edit 'nose.size'; valid edits:"),
    (["--set", "lipstick=teal:0.5"], 2, r"unknown colour 'teal'"),
    ([], 2, r"nothing to do"),
    (["--set", "smile=0.5", "--grid", "smile"], 2, r"either --grid or --set"),
])
def test_bad_options_one_line_error_no_output(tmp_path, photo, capsys, args, code, match):
    out = tmp_path / "out.jpg"
    assert run(["edit", str(photo), "-o", str(out), *args]) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith("retouch: error:") and len(err.splitlines()) == 1
    assert __import__("re").search(match, err), err
    assert not out.exists()


def test_output_errors_leave_input_untouched(tmp_path, photo, capsys):
    before = _sha(photo)
    assert run(["edit", str(photo), "-o", str(tmp_path / "no" / "x.jpg"),
                "--set", "smile=0.5"]) == 3
    assert "output folder does not exist" in capsys.readouterr().err
    assert run(["edit", str(photo), "-o", str(photo), "--set", "smile=0.5"]) == 3
    assert "refusing to overwrite the input" in capsys.readouterr().err
    assert _sha(photo) == before
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    assert run(["edit", str(bad), "-o", str(tmp_path / "o.jpg"), "--set", "smile=0.5"]) == 2
    assert not (tmp_path / "o.jpg").exists()
