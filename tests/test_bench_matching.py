"""The blemish benchmark's matching (benchmarks/bench_blemish.py) on a synthetic plant."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_blemish import also_on_clean, match_detections  # noqa: E402

from retouch.synth import plant_blemishes  # noqa: E402


def _report(x: float, y: float, r: float = 3.0, typ: str = "acne") -> dict:
    return {"type": typ, "bbox": [int(x - r), int(y - r), int(2 * r), int(2 * r)],
            "center": [x, y]}


def test_unmatched_reports_and_the_clean_photos_own():
    img = np.full((200, 200, 3), 170, np.uint8)
    planted = plant_blemishes(img, np.ones((200, 200), bool), face_size_px=150.0,
                              counts={"acne": 2, "dark_spot": 1}, rng=0)
    hit = planted.instances[0]
    far = (5.0, 5.0)  # a corner no planted instance reaches
    assert not any(pi.mask[5, 5] for pi in planted.instances)
    reported = [_report(*hit.center_xy), _report(*far, typ="dark_spot")]
    m = match_detections(planted, reported)
    assert m.unmatched == (1,)
    assert m.planted_found == 1 and m.reported_correct == 1
    assert m.false_pos_by_type["dark_spot"] == 1
    # The unmatched report is the clean photo's own when the clean run reports there too.
    assert also_on_clean(reported[1], [_report(6.0, 4.0)])
    assert not also_on_clean(reported[1], [_report(60.0, 60.0)])
    assert not also_on_clean(reported[1], [])
