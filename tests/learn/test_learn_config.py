"""Configs: presets, YAML/JSON files, overrides, validation messages (no torch needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retouch.errors import InvalidInputError
from retouch.learn.config import (
    RetouchFormerConfig,
    apply_overrides,
    load_config,
    paper512,
    tiny,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_presets_are_valid_and_paper_scale_matches_the_paper():
    tiny().check()
    p = paper512().model
    p.check()
    assert (p.image_size, p.codebook_size, p.codebook_dim) == (512, 1024, 256)
    assert (p.token_grid, p.depth, p.heads, len(p.enc_channels)) == (64, 7, 8, 6)


def test_dict_round_trip():
    cfg = tiny()
    assert RetouchFormerConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_yaml_configs_load(path):
    pytest.importorskip("yaml")
    cfg = load_config(path)
    assert cfg.model.image_size in (64, 512)


def test_partial_json_file_keeps_base_values(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"base": "tiny", "train": {"lr": 0.01}, "data": {"flip": False}}))
    cfg = load_config(f)
    assert cfg.train.lr == 0.01 and cfg.data.flip is False
    assert cfg.model == tiny().model and cfg.train.steps == tiny().train.steps


def test_unknown_keys_and_bad_values_are_named(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"base": "tiny", "train": {"learning_rate": 0.01}}))
    with pytest.raises(InvalidInputError, match="unknown key.*learning_rate"):
        load_config(f)
    with pytest.raises(InvalidInputError, match="paired_fraction must be in"):
        apply_overrides(tiny(), ["data.paired_fraction=1.5"])
    with pytest.raises(InvalidInputError, match="multiple of 8"):
        apply_overrides(tiny(), ["model.image_size=60"])
    with pytest.raises(InvalidInputError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_overrides_parse_json_values():
    cfg = apply_overrides(tiny(), ["model.enc_channels=[8, 8, 16, 16]", "train.amp=off",
                                   "data.synthetic_dirs=[\"a\", \"b\"]"])
    assert cfg.model.enc_channels == (8, 8, 16, 16)
    assert cfg.train.amp == "off" and cfg.data.synthetic_dirs == ["a", "b"]


@pytest.mark.parametrize("text, suffix", [("[1, 2]", ".json"), ("\"tiny\"", ".json"),
                                          ("- a\n- b\n", ".yaml")])
@pytest.mark.parametrize("loader", ["retouchformer", "restore"])
def test_a_config_file_that_is_not_a_mapping_is_named(tmp_path, text, suffix, loader):
    # Both experiments read configs through one loader (learn.config.read_config); the
    # RetouchFormer one used to end in "unexpected TypeError" on a top-level list.
    if suffix == ".yaml":
        pytest.importorskip("yaml")
    if loader == "restore":
        from retouch.learn.restore.config import load_config as load
    else:
        load = load_config
    f = tmp_path / f"c{suffix}"
    f.write_text(text)
    with pytest.raises(InvalidInputError, match="a config must be a mapping of sections"):
        load(f)
    with pytest.raises(InvalidInputError, match="config base 'nope' is not a preset"):
        load({"base": "nope"})


@pytest.mark.parametrize("text, suffix, match", [
    ("{bad", ".json", r"not valid JSON: .*\(line 1, column 2\)"),
    ("a: [1\n", ".yaml", r"not valid YAML: .*\(line 2, column 1\)"),
    (b"\xff\xfe\x00bad", ".json", "not UTF-8 text"),
])
def test_a_config_file_that_does_not_parse_is_one_line_of_bad_input(tmp_path, text, suffix,
                                                                    match):
    if suffix == ".yaml":
        pytest.importorskip("yaml")
    f = tmp_path / f"c{suffix}"
    if isinstance(text, bytes):
        f.write_bytes(text)
    else:
        f.write_text(text)
    with pytest.raises(InvalidInputError, match=match) as e:
        load_config(f)
    assert "\n" not in str(e.value)


def test_a_whole_key_replaces_the_base_mapping_others_merge():
    from retouch.learn.config import _merge

    base = {"data": {"blemish_counts": {"acne": 4, "mole": 1}, "flip": True, "prep_size": 128}}
    over = {"data": {"blemish_counts": {"acne": 9}, "flip": False}}
    merged = _merge(base, over, frozenset({"data.blemish_counts"}))
    assert merged == {"data": {"blemish_counts": {"acne": 9}, "flip": False, "prep_size": 128}}
    assert _merge(base, over)["data"]["blemish_counts"] == {"acne": 9, "mole": 1}
