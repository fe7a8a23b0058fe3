"""Tests for nethep.results: JSON conversion, fragments, merging, flattening."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nethep import results


def test_to_jsonable_numpy_and_pandas_values():
    value = {
        "i": np.int64(3),
        "f": np.float32(0.5),
        "b": np.bool_(True),
        "nan": float("nan"),
        "npnan": np.float64("nan"),
        "inf": math.inf,
        "na": pd.NA,
        "nat": pd.NaT,
        "arr": np.array([1.0, np.nan, 2.5]),
        "tup": (1, (2, 3)),
        "nested": {1: {"x": np.int32(7)}},
        "series": pd.Series([1, 2], index=["a", "b"]),
        "s": "text",
        "none": None,
    }
    out = results.to_jsonable(value)
    assert out == {
        "i": 3,
        "f": 0.5,
        "b": True,
        "nan": None,
        "npnan": None,
        "inf": None,
        "na": None,
        "nat": None,
        "arr": [1.0, None, 2.5],
        "tup": [1, [2, 3]],
        "nested": {"1": {"x": 7}},
        "series": {"a": 1, "b": 2},
        "s": "text",
        "none": None,
    }
    assert type(out["i"]) is int
    assert type(out["f"]) is float
    assert type(out["b"]) is bool
    assert type(out["nested"]["1"]["x"]) is int
    json.dumps(out, allow_nan=False)  # strictly JSON-safe


def test_to_jsonable_rejects_unknown_types_and_key_collisions():
    with pytest.raises(TypeError, match="object"):
        results.to_jsonable({"x": object()})
    with pytest.raises(ValueError, match="same string"):
        results.to_jsonable({1: "a", "1": "b"})


def test_save_fragment_writes_deterministic_sorted_json(tmp_path: Path):
    values = {"b": np.float64(1.5), "a": {"z": np.nan, "y": np.int64(2)}}
    path = results.save_fragment("survival", values, tmp_path)
    assert path == tmp_path / "results" / "survival.json"
    first = path.read_bytes()
    assert first == (
        b'{\n  "a": {\n    "y": 2,\n    "z": null\n  },\n  "b": 1.5\n}\n'
    )
    results.save_fragment("survival", {"a": {"y": 2, "z": None}, "b": 1.5}, str(tmp_path))
    assert path.read_bytes() == first


@pytest.mark.parametrize("section", ["", "a/b", "../x", "a.b", None])
def test_save_fragment_rejects_bad_section_names(tmp_path: Path, section):
    with pytest.raises(ValueError, match="section name"):
        results.save_fragment(section, {"x": 1}, tmp_path)


def test_save_fragment_rejects_dotted_keys_and_non_dict(tmp_path: Path):
    with pytest.raises(ValueError, match="contains '.'"):
        results.save_fragment("s", {"median.os": 1}, tmp_path)
    with pytest.raises(TypeError, match="must be a dict"):
        results.save_fragment("s", [1, 2], tmp_path)


def test_collect_write_results_and_flatten(tmp_path: Path):
    assert results.collect(tmp_path) == {}
    results.save_fragment("survival", {"logrank": {"surgical_vs_nonsurgical": {"p": 0.01}}},
                          tmp_path)
    results.save_fragment("data", {"reconstructed": True, "n": 48}, tmp_path)
    (tmp_path / "results" / "notes.txt").write_text("ignored")
    merged = results.collect(tmp_path)
    assert list(merged) == ["data", "survival"]
    path = results.write_results(tmp_path)
    assert path == tmp_path / "results.json"
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert json.loads(text) == merged
    flat = results.flatten(merged)
    assert flat == {
        "data.n": 48,
        "data.reconstructed": True,
        "survival.logrank.surgical_vs_nonsurgical.p": 0.01,
    }


def test_flatten_keeps_lists_and_empty_dicts_as_leaves():
    flat = results.flatten({"a": {"rows": [{"q": 1}], "empty": {}}, "b": None})
    assert flat == {"a.empty": {}, "a.rows": [{"q": 1}], "b": None}


def test_collect_names_a_broken_fragment(tmp_path: Path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        results.collect(tmp_path)


def test_keys_are_declared_once_and_joined_with_dots():
    assert results.key(results.COX, "hr") == "survival.cox.surgical_vs_nonsurgical.hr"
    assert results.key(results.SURVIVAL_AT, 36, "surgical", "estimate") == (
        "survival.at_months.36.surgical.estimate")
    assert len(set(results.REQUIRED_KEYS)) == len(results.REQUIRED_KEYS)
    sections = {k.split(".", 1)[0] for k in results.REQUIRED_KEYS}
    assert sections == {"data", "cohort", "followup", "survival", "palliation", "comparison",
                        "robustness"}


def test_lookup_reads_a_dotted_key_or_none():
    merged = {"survival": {"cox": {"surgical_vs_nonsurgical": {"hr": 0.16}}},
              "comparison": {"paper_vs_ours": [{"matches": True}]}}
    assert results.lookup(merged, results.key(results.COX, "hr")) == 0.16
    assert results.lookup(merged, results.PAPER_VS_OURS) == [{"matches": True}]
    assert results.lookup(merged, results.key(results.COX, "p")) is None
    assert results.lookup(merged, "survival.cox.surgical_vs_nonsurgical.hr.x") is None


def test_collect_merges_figure_captions_under_figures(tmp_path):
    folder = tmp_path / results.RESULTS_DIRNAME
    (folder / results.FIGURES).mkdir(parents=True)
    (folder / "survival.json").write_text('{"n": 1}', encoding="utf-8")
    (folder / results.FIGURES / "km.json").write_text(
        '{"title": "T", "caption": "C"}', encoding="utf-8")
    merged = results.collect(tmp_path)
    assert merged == {"survival": {"n": 1}, "figures": {"km": {"title": "T", "caption": "C"}}}
    (folder / results.FIGURES / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="figure caption"):
        results.collect(tmp_path)
