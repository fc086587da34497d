"""The Plan contract: validation, JSON round trips, the published schema, merging turns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _schema_lite import errors as schema_errors

from retouch.errors import InvalidInputError
from retouch.plan import Merged, Operation, Plan, Selector, merge

ROOT = Path(__file__).resolve().parents[1]
CORPORA = [ROOT / "tests" / "data" / "instructions.jsonl",
           ROOT / "tests" / "data" / "instructions_heldout.jsonl"]


def _expected_plans() -> list[dict]:
    out = []
    for path in CORPORA:
        for line in path.read_text(encoding="utf-8").splitlines():
            case = json.loads(line)
            out.append({"operations": case["expect"]["operations"]})
    return out


def test_every_expected_plan_round_trips_and_matches_the_schema():
    schema = Plan.json_schema()
    plans = _expected_plans()
    assert len(plans) >= 200
    for d in plans:
        plan = Plan.from_dict(d)
        again = Plan.from_json(plan.to_json())
        assert again == plan
        assert schema_errors(schema, plan.to_dict()) == [], plan.to_dict()


@pytest.mark.parametrize("bad, match", [
    ({"operations": [{"action": "zap"}]}, "unknown action 'zap'"),
    ({"operations": [{"action": "remove", "types": ["tattoo"]}]}, "unknown name 'tattoo'"),
    ({"operations": [{"action": "remove", "regions": ["elbow"]}]}, "unknown name 'elbow'"),
    ({"operations": [{"action": "remove", "strength": 1.5}]}, r"strength: must be in \[0, 1\]"),
    ({"operations": [{"action": "remove", "colour": "red"}]}, r"unknown field\(s\) \['colour'\]"),
    ({"operations": [{"action": "keep", "strength": 0.5}]}, "field 'strength' is not allowed"),
    ({"operations": [{"action": "edit", "edit": "smile"}]}, "needs `edit`"),
    ({"operations": [{"action": "edit", "edit": "Smile!", "amount": 0.2}]}, "expected a name"),
    ({"operations": [{"action": "edit", "edit": "lipstick", "amount": 0.5,
                      "color": "rgb(1,2,3)"}]}, "colour name or '#rrggbb'"),
    ({"operations": [{"action": "adjust"}]}, "non-zero `delta`"),
    ({"operations": [{"action": "only"}]}, "needs `types` or `regions`"),
    ({"operations": [{"action": "remove", "types": ["acne"], "exclude_types": ["acne"]}]},
     "both targeted and excluded"),
    ({"operations": [{"action": "remove", "select": {"by": "nearest"}}]}, "near"),
    ({"operations": [{"action": "remove", "select": {"by": "ids", "ids": [-1]}}]},
     "non-negative"),
    ({"operations": [{"action": "remove", "strength": 0.5, "delta": 0.1}]}, "not both"),
    ({"operations": [{"action": "restore", "fidelity": 2}]}, r"fidelity: must be in \[0, 1\]"),
    ({"operations": [{"action": "remove", "faces": []}]}, "non-empty list"),
    ({"version": 2, "operations": []}, "unsupported plan version 2"),
    ({"operations": "remove acne"}, "expected a list"),
    ({"ops": []}, r"unknown field\(s\) \['ops'\]"),
])
def test_invalid_plans_are_refused_by_code_and_schema(bad, match):
    with pytest.raises(InvalidInputError, match=match):
        Plan.from_dict(bad)
    # The schema refuses the same documents, except the cross-field rules it cannot state.
    cross_field = ("both targeted", "not both", "near", "non-zero", "needs `types`")
    if not any(c in match for c in cross_field):
        assert schema_errors(Plan.json_schema(), bad), bad


def test_not_json_is_one_clear_error():
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        Plan.from_json("{operations: }")


def test_operations_are_normalized_to_canonical_order():
    op = Operation("remove", types=("dark_spot", "acne", "acne"), regions=("chin", "forehead"))
    assert op.types == ("acne", "dark_spot")
    assert op.regions == ("forehead", "chin")
    assert Selector("ids", ids=(5, 2, 5)).ids == (2, 5)


def test_published_schema_file_is_in_sync():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_plan_schema.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# ----------------------------------------------------------------------------- merging
ACNE = ("acne", "red_spot")


def test_merge_replaces_same_target_and_keeps_keep_last_within_a_request():
    state = Plan((Operation("remove", types=ACNE),))
    new = Plan((Operation("keep", types=("freckle",)), Operation("reduce", types=ACNE)))
    m = merge(state, new)
    assert isinstance(m, Merged)
    assert [o.action for o in m.plan.operations] == ["reduce", "keep"]
    assert m.touched == (0, 1)


def test_adjust_without_target_changes_the_last_turn():
    s1 = merge(Plan(), Plan((Operation("reduce", types=("under_eye",), strength=0.3),
                             Operation("remove", types=ACNE))))
    s2 = merge(s1.plan, Plan((Operation("remove", types=("mole",)),)), last_turn=s1.touched)
    s3 = merge(s2.plan, Plan((Operation("adjust", delta=-0.25),)), last_turn=s2.touched)
    ops = {o.types: o for o in s3.plan.operations}
    assert ops[("mole",)].strength == 0.75  # only the last turn's op changed
    assert ops[("under_eye",)].strength == 0.3
    assert s3.touched == (2,)


def test_adjust_on_a_narrower_region_adds_a_restricted_copy():
    s1 = merge(Plan(), Plan((Operation("smooth", strength=0.5),)))
    s2 = merge(s1.plan, Plan((Operation("adjust", delta=0.25, regions=("chin",)),)),
               last_turn=s1.touched)
    assert [(o.regions, o.strength) for o in s2.plan.operations] == [((), 0.5), (("chin",), 0.75)]


def test_relative_op_starts_from_the_covering_op():
    s1 = merge(Plan(), Plan((Operation("smooth", strength=0.8),)))
    s2 = merge(s1.plan, Plan((Operation("smooth", regions=("forehead",), delta=-0.25),)))
    assert s2.plan.operations[-1].strength == pytest.approx(0.55)


def test_only_restricts_and_drops_what_cannot_apply():
    s1 = merge(Plan(), Plan((Operation("remove", types=ACNE, regions=("forehead", "chin")),
                             Operation("reduce", types=("under_eye",)),
                             Operation("keep", types=("freckle",)))))
    s2 = merge(s1.plan, Plan((Operation("only", regions=("chin",)),)))
    assert [(o.action, o.regions) for o in s2.plan.operations] == [
        ("remove", ("chin",)), ("keep", ())]
    assert s2.notes and "dropped" in s2.notes[0]


def test_adjust_with_nothing_to_adjust_is_a_note_not_a_change():
    m = merge(Plan(), Plan((Operation("adjust", delta=0.15),)))
    assert m.plan.operations == () and "nothing to adjust" in m.notes[0]


def test_edits_replace_by_name_and_adjust_grows_magnitude():
    s1 = merge(Plan(), Plan((Operation("edit", edit="double_chin", amount=-0.5),
                             Operation("edit", edit="smile", amount=0.3))))
    s2 = merge(s1.plan, Plan((Operation("adjust", edit="double_chin", delta=0.25),)))
    amounts = {o.edit: o.amount for o in s2.plan.operations}
    assert amounts == {"double_chin": -0.75, "smile": 0.3}
