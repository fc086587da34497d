"""The blemish benchmark's matching (benchmarks/bench_blemish.py) on a synthetic plant."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_blemish import (  # noqa: E402
    also_on_clean,
    ideal_recall,
    ideal_threshold,
    match_detections,
    miss_reason,
    misses_by_reason,
    recall_by_image,
    recall_by_region,
    recall_by_type,
    recall_by_visibility,
    spot_significance,
    spot_visibility,
)

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
    assert m.found == (True, False, False)
    assert m.unmatched == (1,)
    assert m.planted_found == 1 and m.reported_correct == 1
    assert m.false_pos_by_type["dark_spot"] == 1
    # The unmatched report is the clean photo's own when the clean run reports there too.
    assert also_on_clean(reported[1], [_report(6.0, 4.0)])
    assert not also_on_clean(reported[1], [_report(60.0, 60.0)])
    assert not also_on_clean(reported[1], [])


def test_visibility_falls_with_the_skins_texture_and_recall_is_binned_by_it():
    rng = np.random.default_rng(1)
    base = np.full((240, 240, 3), (200, 150, 130), np.float64)
    skin = np.ones((240, 240), bool)
    vis = {}
    for grain in (0.5, 10.0):  # calm skin vs coarse grain: the same spots, other texture
        noise = cv2.GaussianBlur(rng.normal(0.0, 1.0, (240, 240, 3)), (0, 0), 2.0)
        img = np.clip(base + noise * (grain / noise.std()), 0, 255).astype(np.uint8)
        planted = plant_blemishes(img, skin, face_size_px=200.0, counts={"dark_spot": 3},
                                  rng=5)
        vis[grain] = spot_visibility(img, planted, skin, 200.0)
        assert len(vis[grain]) == len(planted.instances) == 3
    assert min(vis[0.5]) > 2 * max(vis[10.0]) > 0
    rows = [{"visibility": [2.0, 6.0, 20.0, 30.0], "found": [False, True, True, False]}]
    bins = recall_by_visibility(rows)
    assert [b["planted"] for b in bins] == [1, 1, 0, 2]
    assert [b["recall"] for b in bins] == [0.0, 1.0, None, 0.5]
    assert bins[-1]["high"] is None


def test_the_ideal_detector_reference_follows_the_normal_tail():
    """Phi(vis - tau): half the spots at the threshold, ~0.84 one sigma above it; the
    threshold for a target inverts it; per type and over all spots."""
    assert ideal_recall([4.0], 4.0) == pytest.approx(0.5)
    assert ideal_recall([5.0, 3.0], 4.0) == pytest.approx(0.5)
    assert ideal_recall([5.0], 4.0) == pytest.approx(0.8413, abs=1e-4)
    assert ideal_recall([], 4.0) is None
    vis = [2.0, 5.0, 9.0, 30.0]
    tau = ideal_threshold(vis, 0.6)
    assert ideal_recall(vis, tau) == pytest.approx(0.6, abs=1e-6)
    assert ideal_threshold(vis, 0.9) < tau  # more recall needs a lower threshold
    rows = [{"types": ["acne", "dark_spot", "dark_spot"], "visibility": [9.0, 2.0, 6.0],
             "found": [True, False, True]}]
    out = {b["type"]: b for b in recall_by_type(rows)}
    assert list(out) == ["acne", "dark_spot", "all"]
    assert out["dark_spot"]["planted"] == 2 and out["dark_spot"]["recall"] == 0.5
    assert out["all"]["recall"] == pytest.approx(2 / 3)
    assert out["acne"]["ideal"]["4"] == pytest.approx(ideal_recall([9.0], 4.0))
    assert out["acne"]["ideal"]["4"] > out["dark_spot"]["ideal"]["4"]


def test_recall_by_region_groups_spots_in_a_fixed_order():
    """Regions come in REGION_ORDER (unknown names last); 'visible' counts only spots
    at visibility 5 or more; rows without regions (no face analysed) are left out."""
    rows = [
        {"region": ["chin", "forehead", "chin", "upper_lip"], "visibility": [2.0, 9.0, 7.0, 6.0],
         "found": [False, True, True, True]},
        {"region": [], "visibility": [9.0], "found": [False]},
        {"region": ["forehead"], "visibility": [3.0], "found": [False]},
    ]
    out = recall_by_region(rows)
    assert [b["region"] for b in out] == ["forehead", "chin", "upper_lip"]
    assert [b["planted"] for b in out] == [2, 2, 1]
    assert [b["recall"] for b in out] == [0.5, 0.5, 1.0]
    assert [b["planted_visible"] for b in out] == [1, 1, 1]
    assert [b["recall_visible"] for b in out] == [1.0, 1.0, 1.0]


def test_recall_by_image_pools_seeds_and_puts_the_weakest_photo_first():
    """Per photo, over all its seeds: planted count, recall, median visibility and the
    recall of the visible spots; lowest recall first; a row with nothing planted (a
    photo whose face was not found) is left out."""
    rows = [
        {"image": "b.png", "face_size_px": 300.0, "found": [True, False],
         "visibility": [9.0, 3.0]},
        {"image": "a.png", "face_size_px": 180.0, "found": [True, True, True],
         "visibility": [6.0, 7.0, 8.0]},
        {"image": "b.png", "face_size_px": 300.0, "found": [False, True],
         "visibility": [6.0, 2.0]},
        {"image": "c.png", "face_size_px": 0.0, "found": [], "visibility": []},
    ]
    out = recall_by_image(rows)
    assert [b["image"] for b in out] == ["b.png", "a.png"]
    b, a = out
    assert (b["runs"], b["planted"], b["recall"]) == (2, 4, 0.5)
    assert b["median_visibility"] == 4.5
    assert (b["planted_visible"], b["recall_visible"]) == (2, 0.5)
    assert (a["runs"], a["planted"], a["recall"], a["recall_visible"]) == (1, 3, 1.0, 1.0)
    assert a["face_size_px"] == 180.0
    # The ideal reference at 3.6 sigmas: Phi(v - 3.6) averaged over the photo's spots.
    assert a["ideal"] == pytest.approx(ideal_recall([6.0, 7.0, 8.0], 3.6))
    assert b["ideal"] == pytest.approx(ideal_recall([9.0, 3.0, 6.0, 2.0], 3.6))
    assert 0.4 < b["ideal"] < 0.7 < a["ideal"]


def test_spot_significance_is_the_peak_inside_the_spots_disc():
    """The matched filter's largest significance inside a spot's disc (1.5 px at
    least); a peak just outside the disc does not count, and a disc off the map gives
    None."""
    T = np.zeros((40, 40), np.float32)
    T[20, 20] = 5.0  # the spot's own peak
    T[20, 27] = 9.0  # a neighbour 7 px away
    assert spot_significance(T, (20.2, 19.8), 3.0) == 5.0
    assert spot_significance(T, (21.0, 20.0), 6.5) == 9.0  # the disc now reaches it
    assert spot_significance(T, (20.0, 22.0), 0.5) == 0.0  # 1.5 px: misses the peak
    assert spot_significance(T, (-10.0, -10.0), 3.0) is None


def test_misses_by_reason_counts_the_significant_misses():
    """A miss is significant when its margin over the matched filter's threshold is
    0 or more; rows written before the margins were recorded count none."""
    rows = [
        {"visibility": [9.0, 3.0, 6.0, 2.0], "miss_reason": [None, "rejected: score",
                                                             "rejected: score", "no candidate"],
         "miss_significance_margin": [None, 0.4, -0.2, -1.5]},
        {"visibility": [8.0], "miss_reason": ["freckle"]},
    ]
    out = {b["reason"]: b for b in misses_by_reason(rows)}
    assert out["rejected: score"] == {"reason": "rejected: score", "faint": 1, "visible": 1,
                                      "significant": 1}
    assert out["no candidate"]["significant"] == 0
    assert out["freckle"] == {"reason": "freckle", "faint": 0, "visible": 1, "significant": 0}


def test_region_lookup_names_points_by_the_clean_photos_parse(load_rgb):
    """The lookup maps image points into the clean photo's parse: a point on the
    forehead (above the brows' mesh points) and one on the chin (below the lips) are
    named so, and a point off the face is plain skin at most."""
    from bench_blemish import region_lookup

    from retouch.imageio import load_image
    from retouch.pipeline import RetouchPipeline

    img = load_rgb("clean/fr_obama.jpg")
    at = region_lookup(img)
    face = RetouchPipeline().detect(load_image(img))[0]
    p = face.landmarks_xy
    assert at(*(p[10] * 0.5 + p[151] * 0.5)) == "forehead"  # mid-forehead, mesh 10/151
    assert at(*(p[152] * 0.3 + p[17] * 0.7)) == "chin"  # between lower lip and chin tip
    assert at(1.0, 1.0) == "skin"


def test_the_benchmark_passes_its_sensitivity_to_retouch(faces_dir, tmp_path, capsys):
    """``--sensitivity`` picks a point of the recall / precision trade-off: every call
    of the retouch function gets it, and a value outside [0, 1] stops the run."""
    import types

    from bench_blemish import main

    calls: list[dict] = []

    def fake(image, **kw):
        calls.append(kw)
        return types.SimpleNamespace(image=np.asarray(image), report={"imperfections": []})

    args = ["--faces", str(faces_dir), "--out", str(tmp_path / "o"), "--seeds", "0",
            "--images", "innerverz_013_face.png"]
    assert main([*args, "--sensitivity", "0.8"], retouch_fn=fake) == 0
    assert len(calls) == 2  # the clean photo, then its one planting
    assert all(kw["sensitivity"] == 0.8 for kw in calls)
    assert all(set(kw["only"]) == {"acne", "red_spot", "dark_spot"} for kw in calls)
    capsys.readouterr()
    with pytest.raises(SystemExit, match=r"--sensitivity must be in \[0, 1\]"):
        main([*args, "--sensitivity", "1.5"], retouch_fn=fake)
    assert len(calls) == 2


def _cand(x: float, y: float, decision: str, r: float = 2.0, **kw) -> dict:
    return {"cx": x, "cy": y, "r": r, "decision": decision, **kw}


def test_a_miss_is_explained_by_the_nearest_candidates_decision():
    """``miss_reason`` names the decision of the candidate nearest the spot's centre
    (within both radii); with none, whether the centre lies in the inner skin."""
    inner = np.zeros((50, 50), bool)
    inner[10:40, 10:40] = True
    cands = [_cand(20, 20, "freckle"), _cand(23, 20, "rejected: score"),
             _cand(30, 30, "dark_spot"), _cand(35, 35, "acne", kept_reason="not contained")]
    assert miss_reason((21.0, 20.0), 2.0, inner, cands) == "freckle"
    assert miss_reason((23.5, 20.0), 2.0, inner, cands) == "rejected: score"
    assert miss_reason((30.0, 31.0), 2.0, inner, cands) == "reported"
    assert miss_reason((35.0, 35.0), 2.0, inner, cands) == "not contained"
    assert miss_reason((15.0, 35.0), 2.0, inner, cands) == "no candidate"  # inner, none near
    assert miss_reason((5.0, 5.0), 2.0, inner, cands) == "outside the skin"
    assert miss_reason((60.0, 5.0), 2.0, inner, cands) == "outside the skin"  # off the crop


def test_why_missed_looks_the_misses_up_in_retouchs_own_analysis(faces_dir, tmp_path, capsys):
    """With an engine that reports nothing, every planted spot is missed, and
    ``--why-missed`` looks each up in the built-in analysis of the planted photo, which
    finds most of them: most reasons read ``reported``, and the table counts them all."""
    import json
    import types

    from bench_blemish import main

    def nothing(image, **kw):
        return types.SimpleNamespace(image=np.asarray(image), report={"imperfections": []})

    out = tmp_path / "o"
    assert main(["--faces", str(faces_dir), "--out", str(out), "--seeds", "0",
                 "--images", "innerverz_003_face.png", "--why-missed"], retouch_fn=nothing) == 0
    text = capsys.readouterr().out
    assert "### Why the misses were missed" in text
    res = json.loads((out / "results.json").read_text())["planted"]
    (row,) = res["rows"]
    reasons = row["miss_reason"]
    assert not any(row["found"]) and len(reasons) == row["planted"] == 15
    assert all(isinstance(r, str) and r for r in reasons)
    assert reasons.count("reported") >= 12, reasons
    table = {b["reason"]: b["faint"] + b["visible"] for b in res["misses_by_reason"]}
    assert sum(table.values()) == 15 and table["reported"] == reasons.count("reported")
    # The spots retouch itself reports have the colour evidence: margins >= 0 over the
    # matched filter's threshold for most of them, and the table counts them.
    margins = row["miss_significance_margin"]
    assert len(margins) == 15 and all(isinstance(m, float) for m in margins)
    sig = sum(m >= 0 for m in margins)
    assert sig >= 10, margins
    assert sum(b["significant"] for b in res["misses_by_reason"]) == sig
    assert "of which significant" in text


def test_the_scorer_fit_collects_labelled_candidates(faces_dir, tmp_path):
    """``fit_spot_scorer.py`` gathers every spot candidate (threshold off) with its
    features and whether it lies on a planted spot (it broke silently once, when the
    pipeline began passing its own ``debug``)."""
    from fit_spot_scorer import collect, fit_logistic, predict

    from retouch.localize import SPOT_FEATURES

    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "innerverz_003_face.png").symlink_to(
        faces_dir / "clean" / "innerverz_003_face.png")  # read in place, not copied
    X, y, groups, n_planted, _ = collect(tmp_path, [0])
    assert n_planted == {("innerverz_003_face.png", 0): 15}
    assert X.shape == (len(y), len(SPOT_FEATURES)) and np.isfinite(X).all()
    on_spots = {int(g[2]) for g in groups if g[2] >= 0}
    assert y.sum() >= 12 and len(on_spots) >= 12  # most planted spots are candidates
    assert (y == 0).sum() >= 1  # and the face's own marks or texture give some others
    w = fit_logistic(X, y)
    assert w.shape == (len(SPOT_FEATURES) + 1,)
    p = predict(w, X)
    assert p[y == 1].mean() > p[y == 0].mean()
