"""A clinician's messy export and a mapping file, from `nethep validate` to a clean report.

The export uses the clinic's own column names and labels (REDCap codes, "HAE", "Yes"),
dates instead of months, a patient-name column and one mistyped label. It goes through
data/template_map.yaml unchanged.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from pathlib import Path

import pytest

from nethep.cli import main
from nethep.contract import DAYS_PER_MONTH
from nethep.paths import BUNDLED_COHORT, TEMPLATE_MAP

GROUP_CODE = {"medical": "1", "embolization": "2", "surgical": "3"}
TREATMENT = {"octreotide": "Octreotide", "observation": "Observation",
             "chemotherapy": "Chemotherapy", "embolization": "HAE", "resection": "Resection",
             "ablation": "RFA", "resection_ablation": "Resection + RFA"}
YES_NO = {"1": "Yes", "0": "No", "": ""}
DATE = re.compile(r"(19|20)\d{2}-[01]\d-[0-3]\d(?!T)")


def _days(months: str) -> dt.timedelta:
    return dt.timedelta(days=round(float(months) * DAYS_PER_MONTH))


def write_export(path: Path, typo: bool) -> None:
    rows = []
    for i, r in enumerate(csv.DictReader(BUNDLED_COHORT.open(encoding="utf-8"))):
        dx = dt.date(int(r["year_of_diagnosis"]), 3, 1) + dt.timedelta(days=i)
        end = dx + _days(r["followup_months"])
        died = r["died"] == "1"
        rows.append({
            "Study ID": f"UWX-{i + 1:03d}", "Patient name": f"Zebediah{i}",
            "Histology": "Carcinoid" if r["tumor_type"] == "carcinoid" else "Islet cell",
            "Group": GROUP_CODE[r["treatment_group"]], "Treatment": TREATMENT[r["treatment"]],
            "Liver involvement (%)": r["liver_involvement_pct"],
            "Diagnosis date": dx.isoformat(),
            "First treatment date": "" if not r["months_to_treatment"]
            else (dx + _days(r["months_to_treatment"])).isoformat(),
            "Last contact date": "" if died else end.isoformat(),
            "Death date": end.isoformat() if died else "",
            "Hormonal symptoms": YES_NO[r["symptomatic"]],
            "Symptoms palliated": YES_NO[r["palliated"]],
            "Age": r["age_years"], "Sex": "F" if r["sex"] == "female" else "M",
        })
    if typo:
        rows[4]["Group"] = "Medicall"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.notebooks
def test_messy_export_to_a_clean_report(tmp_path, capsys):
    export = tmp_path / "export.csv"
    mapping = str(TEMPLATE_MAP)
    write_export(export, typo=True)

    assert main(["validate", str(export), "--map", mapping]) == 1
    err = capsys.readouterr().err
    assert "'Patient name' (name)" in err and "Zebediah" not in err
    assert main(["validate", str(export), "--map", mapping, "--allow-identifiers"]) == 1
    err = capsys.readouterr().err
    assert "patient_id UWX-005, column 'treatment_group': value 'Medicall'" in err

    write_export(export, typo=False)  # the clinician fixes the label
    digest = hashlib.sha256(export.read_bytes()).hexdigest()
    assert main(["validate", str(export), "--map", mapping, "--allow-identifiers"]) == 0
    assert "patients analysed 48" in capsys.readouterr().out
    out = tmp_path / "report"
    assert main(["run", "--data", str(export), "--map", mapping, "--allow-identifiers",
                 "--output", str(out), "--no-progress"]) == 0

    assert hashlib.sha256(export.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv", "report"]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "19 of 19 published quantities" in index
    for path in out.rglob("*"):
        if path.suffix in {".html", ".json", ".ipynb", ".svg", ".md"}:
            text = path.read_text(encoding="utf-8")
            for leak in ("UWX-", "Zebediah", "Patient name", "Diagnosis date"):
                assert leak not in text, f"{path.name} shows {leak!r}"
            # no calendar date (papermill's own run timestamps end in T...: allowed)
            assert not DATE.search(text), f"{path.name} shows a date"
