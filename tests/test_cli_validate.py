"""``nethep validate PATH``: a summary and exit 0, or every problem and exit 1; read-only."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
from pathlib import Path

import pytest

from nethep.cli import main
from nethep.contract import fields
from nethep.paths import TEMPLATE, TEMPLATE_MAP


def fingerprint(folder: Path) -> dict[str, str]:
    """Every entry of the folder (hidden ones too) with the sha256 of its bytes."""
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
            if (folder / name).is_file() else "<dir>" for name in sorted(os.listdir(folder))}


@pytest.fixture
def validate_cli(capsys):
    def run(path: Path, *options: str) -> tuple[int, str, str]:
        before = fingerprint(path.parent)
        code = main(["validate", str(path), *options])
        out, err = capsys.readouterr()
        assert fingerprint(path.parent) == before, "validate wrote or changed a file"
        return code, out, err

    return run


def copy_template(tmp_path: Path, name: str = "cohort.csv") -> Path:
    path = tmp_path / name
    shutil.copyfile(TEMPLATE, path)
    return path


def test_valid_file_prints_the_summary(tmp_path, validate_cli, edge_cohort):
    """An analysable cohort (conftest's edge cohort): the summary, computed here from the
    rows, what the run will report as not estimable (no surgical death), and where run's
    small-cell suppression starts; exit 0, the file untouched."""
    path = edge_cohort(tmp_path / "cohort.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    groups = {g: sum(r["treatment_group"] == g for r in rows)
              for g in ("medical", "embolization", "surgical")}
    deaths = sum(r["died"] == "1" for r in rows)
    surgical_deaths = sum(r["died"] == "1" for r in rows if r["treatment_group"] == "surgical")
    assert surgical_deaths == 0  # the edge this cohort is built for
    months = [float(r["followup_months"]) for r in rows]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    code, out, err = validate_cli(path)
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "cohort.csv: valid",
        f"  rows read {len(rows)}: empty rows skipped 0, patients excluded 0, "
        f"patients analysed {len(rows)}",
        "  groups: " + ", ".join(f"{g} {n}" for g, n in groups.items()),
        f"  deaths {deaths}, censored {len(rows) - deaths}",
        f"  follow-up {min(months):.1f} to {max(months):.1f} months",
        "  reported as not estimable (in words; the run completes):",
        "  - no deaths in the surgical arm: the Cox, adjusted, weighted and landmark hazard "
        "ratios are not estimable (the Firth estimate is)",
        "  nethep run shows counts below 11 as <11 (--min-cell)",
    ]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(os.listdir(tmp_path)) == ["cohort.csv"]


def test_the_template_is_valid_and_says_what_is_not_estimable(tmp_path, validate_cli):
    """What validate accepts, run completes: the 4-row template (1 surgical patient, who is
    alive) is accepted (exit 0), and validate says, as notes, which sections the run will
    report as not estimable or imprecise."""
    code, out, err = validate_cli(copy_template(tmp_path))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[:3] == [
        "cohort.csv: valid",
        "  rows read 4: empty rows skipped 0, patients excluded 0, patients analysed 4",
        "  groups: medical 2, embolization 1, surgical 1",
    ]
    notes = lines[lines.index("  reported as not estimable (in words; the run completes):")
                  + 1:-1]
    assert notes[0].startswith("  - 1 surgical and 3 non-surgical patient(s): with fewer "
                               "than 5 in an arm")
    assert notes[1].startswith("  - no deaths in the surgical arm:")


@pytest.mark.parametrize(("rows", "expected"), [
    ([("surgical", "20", "1")], ["only surgical patients", "one treatment group",
                                 "known-truth scenarios (notebook 06): not estimable ("]),
    ([("medical", "20", "1"), ("embolization", "40", "0")],
     ["only non-surgical patients", "known-truth scenarios (notebook 06): not estimable ("]),
    ([("surgical", "40", "0"), ("medical", "50", "0")],
     ["no patient died", "known-truth scenarios (notebook 06): not estimable ("]),
    ([("surgical", "40", "1"), ("medical", "10", "0")],
     ["follow-up in the non-surgical arm ends at 10.0 months"]),
])
def test_small_shapes_are_accepted_with_notes(tmp_path, validate_cli, rows, expected):
    """One patient, one arm, no deaths, follow-up short of 36 months: valid (exit 0), each
    named among the sections the run reports as not estimable."""
    path = tmp_path / "cohort.csv"
    treatment = {"surgical": "resection", "medical": "octreotide",
                 "embolization": "embolization"}
    lines = [",".join(fields())]
    for i, (group, months, died) in enumerate(rows):
        lines.append(f"P{i},carcinoid,{group},{treatment[group]},20,1.0,{months},{died},0,,"
                     f"2001,60,female")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = validate_cli(path)
    assert code == 0 and err == "", err
    assert "  reported as not estimable (in words; the run completes):" in out
    for text in expected:
        assert f"  - {text}" in out


def _shorter(row: dict[str, str], months: float = 30.0) -> None:
    """Follow-up (and treatment time) cut to ``months``."""
    for column in ("followup_months", "months_to_treatment"):
        if row[column]:
            row[column] = str(min(float(row[column]), months))


@pytest.mark.parametrize(("change", "reason"), [
    (lambda r: r.update(died="0"), "no patient died"),
    (_shorter, "follow-up in the surgical arm ends at 30.0 months: its 3-year"),
    (lambda r: r.update(tumor_type="carcinoid"), "one tumour type: the adjusted model"),
])
def test_narrow_cohorts_are_accepted_and_the_gaps_named(tmp_path, validate_cli,
                                                        edge_cohort, change, reason):
    """Cohorts that used to be refused (no death, short follow-up, one tumour type) are
    valid (exit 0); validate names what the run will report as not estimable."""
    path = edge_cohort(tmp_path / "cohort.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        change(row)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    code, out, err = validate_cli(path)
    assert code == 0 and err == "" and f"  - {reason}" in out


def test_empty_rows_are_counted_not_dropped_silently(tmp_path, validate_cli):
    path = copy_template(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:2], ",,,,,,,,,,,,", *lines[2:]]) + "\n")
    _, out, _ = validate_cli(path)
    assert "rows read 5: empty rows skipped 1 (lines 3), patients excluded 0, " \
        "patients analysed 4" in out


def test_invalid_file_prints_every_problem(tmp_path, validate_cli):
    path = tmp_path / "cohort.csv"
    text = TEMPLATE.read_text(encoding="utf-8")
    text = text.replace("S002,islet_cell,medical", "S002,islet_cell,Medical")
    text = text.replace(",45,2.5,30.2,1,", ",145,2.5,30.2,2,")
    text = text.replace("S004,", "S001,")
    path.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    code, out, err = validate_cli(path)
    assert code == 1 and out == ""
    assert err.startswith(f"{path}: INVALID, 5 problems\n  - ")
    problem_lines = [ln for ln in err.splitlines() if ln.startswith("  - ")]
    assert len(problem_lines) == 5
    expected = [
        ("line 2, patient_id S001, column 'patient_id'", "must be unique"),
        ("line 3, patient_id S002, column 'treatment_group'", "did you mean 'medical'?"),
        ("line 4, patient_id S003, column 'liver_involvement_pct'", "must be at most 100"),
        ("line 4, patient_id S003, column 'died'", "must be one of 0, 1"),
        ("line 5, patient_id S001, column 'patient_id'", "must be unique"),
    ]
    for line, (where, rule) in zip(problem_lines, expected, strict=True):
        assert where in line and rule in line and "Fix:" in line
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(os.listdir(tmp_path)) == ["cohort.csv"]


def test_dated_redcap_export_with_map_is_summarised_without_dates(tmp_path, validate_cli):
    path = tmp_path / "export.csv"
    header = ["Study ID", "Histology", "Group", "Treatment", "Liver involvement (%)",
              "Diagnosis date", "First treatment date", "Last contact date", "Death date",
              "Hormonal symptoms", "Symptoms palliated", "Age", "Sex"]
    rows = [
        ["A1", "Carcinoid", "1", "Observation", "30", "2001-01-01", "", "2002-01-01",
         "", "No", "", "60", "F"],
        ["A2", "Islet cell", "3", "RFA", "12", "2002-05-05", "2002-06-01", "",
         "2004-05-05", "Yes", "Yes", "49", "M"],
    ]
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows([header, *rows])
    shutil.copyfile(TEMPLATE_MAP, tmp_path / "map.yaml")
    code, out, err = validate_cli(path, "--map", str(tmp_path / "map.yaml"))
    assert code == 0 and "export.csv: valid" in out, err  # 2 patients: analysed, notes
    assert "groups: medical 1, embolization 0, surgical 1" in out
    assert "deaths 1, censored 1" in out
    assert "months derived from: date_of_diagnosis" in out
    for row in rows:
        for cell in row[5:9]:
            if cell:
                assert cell not in out


def test_identifiers_refused_then_dropped_with_the_flag(tmp_path, validate_cli):
    path = tmp_path / "cohort.csv"
    lines = TEMPLATE.read_text(encoding="utf-8").splitlines()
    lines = [lines[0] + ",Patient Name"] + [ln + ",Ottoline Vexworthy" for ln in lines[1:]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = validate_cli(path)
    assert code == 1 and "'Patient Name' (name)" in err and "Ottoline" not in err + out
    code, out, err = validate_cli(path, "--allow-identifiers")
    assert code == 0 and "cohort.csv: valid" in out  # small: analysed, with notes
    assert "identifier columns dropped: Patient Name" in out
    assert "Ottoline" not in err + out


def test_sheet_option(tmp_path, validate_cli):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "README"
    sheet = book.create_sheet("data")
    with TEMPLATE.open(newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            sheet.append(row)
    path = tmp_path / "cohort.xlsx"
    book.save(path)
    code, _, err = validate_cli(path)
    assert code == 1 and "the workbook has 2 sheets (README, data)" in err
    code, out, _ = validate_cli(path, "--sheet", "data")
    assert out.startswith("cohort.xlsx: valid\n")
    code, _, err = validate_cli(path, "--sheet", "Data")
    assert code == 1 and "no sheet named 'Data'" in err


def test_missing_file_is_a_problem_not_a_crash(tmp_path, capsys):
    code = main(["validate", str(tmp_path / "nope.csv")])
    _, err = capsys.readouterr()
    assert code == 1 and "no such file" in err
    assert os.listdir(tmp_path) == []


def test_no_path_is_a_usage_error(capsys):
    assert main(["validate"]) == 2
    assert "PATH" in capsys.readouterr().err
