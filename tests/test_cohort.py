"""The data contract: load_cohort parses, validates and reports every problem at once."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pandas as pd
import pytest

from nethep.cohort import CohortValidationError, cohort_schema, load_cohort
from nethep.contract import fields, load_contract, treatment_groups

COLUMNS = list(fields())
VALID = [
    {"patient_id": "P1", "tumor_type": "carcinoid", "treatment_group": "medical",
     "treatment": "observation", "liver_involvement_pct": "20", "months_to_treatment": "",
     "followup_months": "14.2", "died": "1", "symptomatic": "0", "palliated": "",
     "year_of_diagnosis": "1999", "age_years": "61", "sex": "female"},
    {"patient_id": "P2", "tumor_type": "islet_cell", "treatment_group": "embolization",
     "treatment": "embolization", "liver_involvement_pct": "45.5", "months_to_treatment": "3.0",
     "followup_months": "30.0", "died": "0", "symptomatic": "1", "palliated": "1",
     "year_of_diagnosis": "2001", "age_years": "55", "sex": "male"},
    {"patient_id": "P3", "tumor_type": "carcinoid", "treatment_group": "surgical",
     "treatment": "resection_ablation", "liver_involvement_pct": "10",
     "months_to_treatment": "1.5", "followup_months": "40.3", "died": "0", "symptomatic": "1",
     "palliated": "0", "year_of_diagnosis": "2003", "age_years": "47", "sex": "female"},
]


def write(tmp_path: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    path = tmp_path / "cohort.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns or COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def changed(index: int, **values: str) -> list[dict]:
    rows = [dict(r) for r in VALID]
    rows[index].update(values)
    return rows


def problems_of(path: Path) -> list[str]:
    with pytest.raises(CohortValidationError) as info:
        load_cohort(path)
    return [str(p) for p in info.value.problems]


def test_valid_file_loads_typed_with_derived_columns(tmp_path):
    df = load_cohort(write(tmp_path, VALID))
    assert len(df) == 3
    assert df["followup_months"].dtype == "Float64"
    assert df["died"].dtype == "Int64"
    assert df.loc["P3", "surgical"] and df.loc["P3", "arm"] == "surgical"
    assert df.loc["P1", "arm"] == "nonsurgical"
    assert pd.isna(df.loc["P1", "months_to_treatment"])
    assert df.attrs == {"source": "your cohort", "reconstructed": False,
                        "dropped_identifiers": [], "derived_from_dates": [], "mapped": False,
                        "skipped_empty_rows": []}


def test_bundled_cohort_is_flagged_reconstructed():
    df = load_cohort()
    assert df.attrs["reconstructed"] is True
    assert list(df.columns[: len(COLUMNS)]) == COLUMNS


def test_input_file_is_not_modified(tmp_path):
    path = write(tmp_path, VALID)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    load_cohort(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv"]


def test_schema_comes_from_the_datapackage():
    schema = cohort_schema()
    assert list(schema.columns) == [f["name"] for f in load_contract()["fields"]]
    assert schema.columns["patient_id"].unique
    assert schema.columns["palliated"].nullable
    assert not schema.columns["followup_months"].nullable
    assert set(treatment_groups().values()) == {"medical", "embolization", "surgical"}


def test_every_field_states_type_description_and_provenance():
    for name, field in fields().items():
        assert field["type"] in {"string", "number", "integer"}, name
        assert field["description"], name
        assert field["provenance"] in {"published", "calibrated", "simulated"}, name


# ----- malformed input: each case asserts the specific message -----------------


def test_missing_column(tmp_path):
    cols = [c for c in COLUMNS if c != "died"]
    msgs = problems_of(write(tmp_path, VALID, cols))
    assert msgs == [msgs[0]]
    assert "column 'died'" in msgs[0] and "required column is missing" in msgs[0]
    assert "add a column 'died'" in msgs[0]


def test_unknown_group_label_suggests_closest(tmp_path):
    (msg,) = problems_of(write(tmp_path, changed(1, treatment_group="embolisation")))
    assert "line 3" in msg and "patient_id P2" in msg and "column 'treatment_group'" in msg
    assert "'embolisation'" in msg and "did you mean 'embolization'" in msg


def test_label_with_trailing_space_is_not_silently_stripped(tmp_path):
    (msg,) = problems_of(write(tmp_path, changed(0, sex="female ")))
    assert "remove the spaces around the label (use 'female')" in msg


def test_treatment_inconsistent_with_group(tmp_path):
    (msg,) = problems_of(write(tmp_path, changed(2, treatment="octreotide")))
    assert "patient_id P3" in msg and "rule treatment_in_group" in msg
    assert "octreotide -> medical" in msg


@pytest.mark.parametrize("value", ["0", "-3.5"])
def test_zero_or_negative_followup(tmp_path, value):
    msgs = problems_of(write(tmp_path, changed(0, followup_months=value)))
    assert any("column 'followup_months'" in m and "must be greater than 0" in m
               and f"'{value}'" in m for m in msgs)


def test_died_not_zero_or_one(tmp_path):
    (msg,) = problems_of(write(tmp_path, changed(0, died="2")))
    assert "column 'died'" in msg and "must be one of 0, 1" in msg


def test_died_as_text(tmp_path):
    (msg,) = problems_of(write(tmp_path, changed(0, died="yes")))
    assert "column 'died'" in msg and "is not a valid integer" in msg and "'yes'" in msg


def test_duplicate_patient_id(tmp_path):
    msgs = problems_of(write(tmp_path, changed(1, patient_id="P1")))
    assert len(msgs) == 2
    assert all("must be unique" in m and "patient_id P1" in m for m in msgs)
    assert "line 2" in msgs[0] and "line 3" in msgs[1]


def test_percentage_over_100(tmp_path):
    (msg,) = problems_of(write(tmp_path, changed(2, liver_involvement_pct="120")))
    assert "column 'liver_involvement_pct'" in msg and "must be at most 100" in msg


def test_palliated_for_non_symptomatic(tmp_path):
    (msg,) = problems_of(write(tmp_path, changed(0, palliated="1")))
    assert "rule palliated_iff_symptomatic" in msg and "without symptoms" in msg


def test_symptomatic_without_palliation_outcome(tmp_path):
    (msg,) = problems_of(write(tmp_path, changed(1, palliated="")))
    assert "symptomatic patient without a palliation outcome" in msg


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    (msg,) = problems_of(path)
    assert "empty.csv" in msg and "the file is empty" in msg


def test_header_only(tmp_path):
    (msg,) = problems_of(write(tmp_path, []))
    assert "the file has a header but no patients" in msg


def test_decimal_comma(tmp_path):
    (msg,) = problems_of(write(tmp_path, changed(1, followup_months="30,5")))
    assert "'30,5'" in msg and "decimal point (not a comma)" in msg


def test_missing_required_value(tmp_path):
    (msg,) = problems_of(write(tmp_path, changed(1, tumor_type="")))
    assert "column 'tumor_type'" in msg and "is required and must not be empty" in msg


def test_observation_with_treatment_time(tmp_path):
    (msg,) = problems_of(write(tmp_path, changed(0, months_to_treatment="2")))
    assert "rule treatment_time_iff_treated" in msg


def test_treated_without_treatment_time(tmp_path):
    (msg,) = problems_of(write(tmp_path, changed(2, months_to_treatment="")))
    assert "treated patients need the time to first treatment" in msg


def test_treatment_after_last_contact(tmp_path):
    (msg,) = problems_of(write(tmp_path, changed(1, months_to_treatment="31")))
    assert "rule treatment_before_end_of_followup" in msg


def test_not_utf8(tmp_path):
    path = write(tmp_path, VALID)
    path.write_bytes(path.read_bytes().replace(b"female", "f\u00e9male".encode("latin-1")))
    (msg,) = problems_of(path)
    assert "not UTF-8" in msg


def test_missing_file(tmp_path):
    (msg,) = problems_of(tmp_path / "nope.csv")
    assert "no such file" in msg


def test_every_problem_reported_at_once(tmp_path):
    rows = changed(0, died="2", sex="x")
    rows[2]["liver_involvement_pct"] = "-1"
    msgs = problems_of(write(tmp_path, rows))
    assert len(msgs) == 3
    assert [m.split(",")[1].strip() for m in msgs] == ["line 2", "line 2", "line 4"]
