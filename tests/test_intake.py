"""Bring-your-own-cohort intake: formats, identifiers, mapping files, dates, located errors.

Each malformed-input test asserts the message a clinician reads: the file, the line or
patient id, the column, the value, the rule and the fix, as far as they apply. The
kinds are catalogued in docs/errors.md (with the tests in tests/test_cohort.py).
"""

from __future__ import annotations

import csv
import re
import zipfile
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from nethep import readers
from nethep.cli import summary_text
from nethep.cohort import load_cohort, validate
from nethep.contract import DAYS_PER_MONTH, fields
from nethep.errors import MAX_SHOWN, CohortValidationError, Problem
from nethep.intake import (
    DATE_COLUMNS,
    apply_mapping,
    derive_months,
    identifier_columns,
    needs_prepared_copy,
    read_intake,
    write_prepared,
)
from nethep.paths import TEMPLATE, TEMPLATE_MAP
from nethep.readers import read_text_table

COLUMNS = list(fields())


def template_rows() -> list[dict[str, str]]:
    with TEMPLATE.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None,
              delimiter: str = ",", encoding: str = "utf-8") -> Path:
    columns = columns or list(rows[0])
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, delimiter=delimiter,
                                extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def changed(index: int, **values: str) -> list[dict[str, str]]:
    rows = template_rows()
    rows[index].update(values)
    return rows


def problems_of(path: Path, **kwargs) -> list[Problem]:
    with pytest.raises(CohortValidationError) as info:
        load_cohort(path, **kwargs)
    assert str(info.value).startswith(f"{len(info.value.problems)} problem")
    return info.value.problems


def only(path: Path, **kwargs) -> tuple[Problem, str]:
    problems = problems_of(path, **kwargs)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0], str(problems[0])


# ---------------------------------------------------------------- dated cohorts

DATED = [
    # S001: treated, alive at last contact; S002: observation, died; S003: died after
    # embolization; S004: resected, alive. Days are counted exactly below.
    {"patient_id": "D1", "tumor_type": "carcinoid", "treatment_group": "medical",
     "treatment": "octreotide", "liver_involvement_pct": "20",
     "date_of_diagnosis": "2001-03-01", "date_of_treatment": "2001-04-15",
     "date_last_contact": "2003-03-01", "date_of_death": "",
     "symptomatic": "1", "palliated": "1", "age_years": "63", "sex": "female"},
    {"patient_id": "D2", "tumor_type": "islet_cell", "treatment_group": "medical",
     "treatment": "observation", "liver_involvement_pct": "10",
     "date_of_diagnosis": "1999-12-31", "date_of_treatment": "",
     "date_last_contact": "2000-06-01", "date_of_death": "2000-07-04",
     "symptomatic": "0", "palliated": "", "age_years": "58", "sex": "male"},
    {"patient_id": "D3", "tumor_type": "carcinoid", "treatment_group": "embolization",
     "treatment": "embolization", "liver_involvement_pct": "45",
     "date_of_diagnosis": "2002-02-28", "date_of_treatment": "2002-03-01",
     "date_last_contact": "", "date_of_death": "2004-02-29",
     "symptomatic": "1", "palliated": "0", "age_years": "51", "sex": "female"},
    {"patient_id": "D4", "tumor_type": "carcinoid", "treatment_group": "surgical",
     "treatment": "resection", "liver_involvement_pct": "15",
     "date_of_diagnosis": "2000-01-10", "date_of_treatment": "2000-01-10",
     "date_last_contact": "2005-12-31", "date_of_death": "",
     "symptomatic": "1", "palliated": "1", "age_years": "47", "sex": "male"},
]


def dated(index: int | None = None, **values: str) -> list[dict[str, str]]:
    rows = [dict(r) for r in DATED]
    if index is not None:
        rows[index].update(values)
    return rows


def days(a: str, b: str) -> int:
    return (date.fromisoformat(b) - date.fromisoformat(a)).days


def test_dates_become_exact_months_and_died(tmp_path):
    df = load_cohort(write_csv(tmp_path / "dated.csv", DATED))
    expected_followup = {
        "D1": days("2001-03-01", "2003-03-01"),   # to last contact (alive)
        "D2": days("1999-12-31", "2000-07-04"),   # to death, not to the earlier last contact
        "D3": days("2002-02-28", "2004-02-29"),   # leap day
        "D4": days("2000-01-10", "2005-12-31"),
    }
    for pid, n_days in expected_followup.items():
        assert df.loc[pid, "followup_months"] == n_days / 30.4375
    assert DAYS_PER_MONTH == 30.4375
    assert df.loc["D1", "months_to_treatment"] == days("2001-03-01", "2001-04-15") / 30.4375
    assert df.loc["D3", "months_to_treatment"] == 1 / 30.4375  # 2002 is not a leap year
    assert df.loc["D4", "months_to_treatment"] == 0.0
    assert pd.isna(df.loc["D2", "months_to_treatment"])
    assert df["died"].tolist() == [0, 1, 1, 0]
    assert df["year_of_diagnosis"].tolist() == [2001, 1999, 2002, 2000]
    assert df.attrs["derived_from_dates"] == list(DATE_COLUMNS)


def test_no_date_reaches_the_frame_its_attrs_or_the_summary(tmp_path):
    df = load_cohort(write_csv(tmp_path / "dated.csv", DATED))
    iso = re.compile(r"\d{4}-\d{2}-\d{2}")
    every_date = {r[c] for r in DATED for c in DATE_COLUMNS if r[c]}
    cells = " ".join(map(str, df.to_numpy().ravel())) + " ".join(map(str, df.columns))
    for text in (cells, repr(df.attrs), summary_text(df), df.to_csv()):
        assert not iso.search(text)
        assert not any(d in text for d in every_date)
    assert "months derived from: date_of_diagnosis" in summary_text(df)


def test_died_column_is_kept_and_checked_against_the_date_of_death(tmp_path):
    rows = dated()
    for r in rows:
        r["died"] = "1" if r["date_of_death"] else "0"
    df = load_cohort(write_csv(tmp_path / "dated.csv", rows))
    assert df["died"].tolist() == [0, 1, 1, 0]


def test_prepared_copy_of_a_dated_file_round_trips_exactly(tmp_path):
    src = write_csv(tmp_path / "dated.csv", DATED)
    df = load_cohort(src)
    assert needs_prepared_copy(df, src)
    private = tmp_path / "private"
    private.mkdir()
    again = load_cohort(write_prepared(df, private, "prepared.csv"))
    pd.testing.assert_frame_equal(again[COLUMNS], df[COLUMNS])


def date_problem(tmp_path, rows, column, rule, line, pid):
    """The problem breaking ``rule``, located; no date value appears in any problem."""
    problems = problems_of(write_csv(tmp_path / "dated.csv", rows))
    for p in problems:
        assert p.value is None and "value not shown: dates are identifying" in p.rule
        said = str(p).replace(p.file, "")
        for r in rows:
            for c in DATE_COLUMNS:
                if r.get(c):
                    assert r[c] not in said
    (problem,) = [p for p in problems if rule in p.rule]
    assert (problem.line, problem.patient_id, problem.column) == (line, pid, column)
    return str(problem)


def test_date_in_the_future(tmp_path):
    msg = date_problem(tmp_path, dated(0, date_last_contact="2999-01-01"),
                       "date_last_contact", "is in the future", 2, "D1")
    assert "check the year" in msg


@pytest.mark.parametrize(("text", "fix"), [
    ("15/07/2003", "pass --date-format %d/%m/%Y (day first, as these are)"),
    ("07/15/2003", "pass --date-format %m/%d/%Y (month first, as these are)"),
    ("03.07.2003", "pass --date-format %d.%m.%Y if the day comes first, or %m.%d.%Y"),
    ("20030715", "pass --date-format %Y%m%d"),
    ("2003-7-15", "e.g. 2003-07-15"), ("July 2003", "e.g. 2003-07-15"),
    ("2003-07-15 10:00", "e.g. 2003-07-15"), ("２００３-07-15", "e.g. 2003-07-15")])
def test_date_not_iso(tmp_path, text, fix):
    msg = date_problem(tmp_path, dated(2, date_of_diagnosis=text), "date_of_diagnosis",
                       "is not a date written YYYY-MM-DD", 4, "D3")
    assert fix in msg


def test_impossible_calendar_day(tmp_path):
    date_problem(tmp_path, dated(1, date_of_death="2000-02-30"), "date_of_death",
                 "is not a day of the calendar", 3, "D2")


def test_death_before_diagnosis(tmp_path):
    msg = date_problem(tmp_path, dated(2, date_of_death="2001-12-31"), "date_of_death",
                       "death is before diagnosis", 4, "D3")
    assert "negative survival time is impossible" in msg
    # the same death date is also before D3's treatment, which is reported too
    date_problem(tmp_path, dated(2, date_of_death="2001-12-31"), "date_of_treatment",
                 "treatment is after death or last contact", 4, "D3")


def test_treatment_date_after_last_contact(tmp_path):
    msg = date_problem(tmp_path, dated(0, date_of_treatment="2003-03-02"), "date_of_treatment",
                       "treatment is after death or last contact", 2, "D1")
    assert "end of follow-up" in msg


def test_treatment_date_before_diagnosis(tmp_path):
    date_problem(tmp_path, dated(3, date_of_treatment="1999-12-01"), "date_of_treatment",
                 "treatment is before diagnosis", 5, "D4")


def test_last_contact_before_diagnosis(tmp_path):
    date_problem(tmp_path, dated(0, date_last_contact="2001-01-01", date_of_treatment=""),
                 "date_last_contact", "last contact is before diagnosis", 2, "D1")


def test_last_contact_after_death(tmp_path):
    date_problem(tmp_path, dated(1, date_last_contact="2001-01-01"), "date_last_contact",
                 "last contact is after the date of death", 3, "D2")


def test_follow_up_of_zero_days_from_dates(tmp_path):
    msg = date_problem(tmp_path, dated(1, date_last_contact="", date_of_death="1999-12-31"),
                       "date_of_death", "follow-up is zero days", 3, "D2")
    assert "longer than zero" in msg


def test_empty_diagnosis_date(tmp_path):
    date_problem(tmp_path, dated(3, date_of_diagnosis=""), "date_of_diagnosis",
                 "no date of diagnosis", 5, "D4")


def test_no_end_of_follow_up(tmp_path):
    date_problem(tmp_path, dated(0, date_last_contact=""), "date_last_contact",
                 "no date of last contact or death", 2, "D1")


def test_died_without_date_of_death(tmp_path):
    rows = dated()
    for r in rows:
        r["died"] = "1" if r["date_of_death"] else "0"
    rows[0]["died"] = "1"
    msg = date_problem(tmp_path, rows, "date_of_death", "died is 1 but date_of_death is empty",
                       2, "D1")
    assert "fill in the date of death" in msg


def test_died_without_a_date_of_death_column(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "date_of_death"} for r in dated()]
    for r, d in zip(rows, DATED, strict=True):
        r["died"] = "1" if d["date_of_death"] else "0"
        r["date_last_contact"] = r["date_last_contact"] or d["date_of_death"]
    problems = problems_of(write_csv(tmp_path / "dated.csv", rows))
    assert [(p.line, p.patient_id, p.column) for p in problems] == [
        (3, "D2", "date_of_death"), (4, "D3", "date_of_death")]
    assert all("the file has no date_of_death column" in p.rule for p in problems)
    assert all("add date_of_death" in p.fix for p in problems)


def test_died_zero_with_a_date_of_death(tmp_path):
    rows = dated()
    for r in rows:
        r["died"] = "1" if r["date_of_death"] else "0"
    rows[2]["died"] = "0"
    date_problem(tmp_path, rows, "date_of_death", "died is 0 but a date_of_death is given",
                 4, "D3")


def test_dates_and_month_columns_both_given(tmp_path):
    rows = dated()
    for r in rows:
        r["followup_months"] = "12"
    problem, msg = only(write_csv(tmp_path / "dated.csv", rows))
    assert "both dates (date_of_diagnosis, date_of_treatment" in msg
    assert "month columns (followup_months)" in msg
    assert "give either the dates or the month columns, not both" in msg


def test_dates_without_a_diagnosis_date_column(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "date_of_diagnosis"} for r in dated()]
    _, msg = only(write_csv(tmp_path / "dated.csv", rows))
    assert "dates are given without date_of_diagnosis" in msg


def test_dates_without_any_death_information(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "date_of_death"} for r in dated()]
    for r, d in zip(rows, DATED, strict=True):
        r["date_last_contact"] = r["date_last_contact"] or d["date_of_death"]
    _, msg = only(write_csv(tmp_path / "dated.csv", rows))
    assert "without date_of_death or a died column" in msg


def test_every_date_problem_is_reported_at_once(tmp_path):
    rows = dated(0, date_of_diagnosis="03/01/2001")
    rows[2]["date_of_death"] = "2001-12-31"
    rows[3]["date_last_contact"] = "2999-12-31"
    problems = problems_of(write_csv(tmp_path / "dated.csv", rows))
    assert [(p.line, p.column) for p in problems] == [
        (2, "date_of_diagnosis"), (5, "date_last_contact"), (4, "date_of_death"),
        (4, "date_of_treatment")]


def test_derive_months_with_a_fixed_today():
    raw = pd.DataFrame({"patient_id": ["A"], "date_of_diagnosis": ["2020-01-01"],
                        "date_last_contact": ["2020-03-01"], "died": ["0"]})
    out = derive_months(raw, "f.csv", today=date(2020, 3, 1))
    assert out.loc[0, "followup_months"] == repr(60 / 30.4375)
    with pytest.raises(CohortValidationError, match="is in the future"):
        derive_months(raw, "f.csv", today=date(2020, 2, 29))


# ---------------------------------------------------------------- identifiers

IDENTIFYING = {
    "Patient Name": "Zebulon Quuxworth",
    "MRN": "MRN-88817723",
    "SSN": "078-05-1120",
    "Phone": "+1 555 0199 777",
    "E-mail": "zquux@example.org",
    "Home Address": "742 Evergreen Terrace",
    "Date of Birth": "1931-02-17",
}


def with_identifiers(tmp_path) -> Path:
    rows = template_rows()
    for r in rows:
        r.update(IDENTIFYING)
    return write_csv(tmp_path / "cohort.csv", rows, list(IDENTIFYING) + COLUMNS)


def test_identifier_columns_are_refused_by_name_never_by_value(tmp_path):
    problem, msg = only(with_identifiers(tmp_path))
    for column in IDENTIFYING:
        assert f"'{column}'" in msg
    for category in ("name", "medical record number", "social security number",
                     "phone or fax", "email", "street address", "exact birth date"):
        assert f"({category})" in msg
    for value in IDENTIFYING.values():
        assert value not in msg
        assert value not in repr(problem)
    assert "values not shown" in msg and "--allow-identifiers" in msg


def test_allow_identifiers_drops_them_before_anything_else(tmp_path):
    path = with_identifiers(tmp_path)
    df = load_cohort(path, allow_identifiers=True)
    assert df.attrs["dropped_identifiers"] == list(IDENTIFYING)
    text = df.to_csv() + repr(df.attrs) + summary_text(df)
    for value in IDENTIFYING.values():
        assert value not in text
    assert "identifier columns dropped: Patient Name, MRN" in summary_text(df)
    assert needs_prepared_copy(df, path)


def test_contract_date_and_redcap_columns_are_not_identifiers():
    assert identifier_columns([*COLUMNS, *DATE_COLUMNS, "record_id", "redcap_event_name",
                               "Study ID", "Age", "Sex"]) == {}
    assert identifier_columns(["DOB", "zip", "Fax", "email_address", "last_name"]) == {
        "DOB": "exact birth date", "zip": "postcode", "Fax": "phone or fax",
        "email_address": "email", "last_name": "name"}


# ---------------------------------------------------------------- formats

def test_utf8_bom_is_accepted(tmp_path):
    path = write_csv(tmp_path / "bom.csv", template_rows(), encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    df = load_cohort(path)
    assert list(df.columns[: len(COLUMNS)]) == COLUMNS and len(df) == 4


def test_semicolon_delimited_export(tmp_path):
    problem, msg = only(write_csv(tmp_path / "eu.csv", template_rows(), delimiter=";"))
    assert "eu.csv" in msg and "semicolon-delimited" in msg
    assert "give nethep the .xlsx workbook instead" in msg
    assert "writes semicolons even as 'CSV UTF-8'" in msg


def test_tab_delimited_text_named_csv(tmp_path):
    _, msg = only(write_csv(tmp_path / "tabs.csv", template_rows(), delimiter="\t"))
    assert "tab-delimited but named '.csv'" in msg and "rename it to .tsv" in msg


def test_comma_delimited_text_named_tsv(tmp_path):
    _, msg = only(write_csv(tmp_path / "commas.tsv", template_rows()))
    assert "comma-delimited but named '.tsv'" in msg and "rename it to .csv" in msg


def test_tsv_loads(tmp_path):
    df = load_cohort(write_csv(tmp_path / "cohort.tsv", template_rows(), delimiter="\t"))
    assert len(df) == 4 and df.attrs["source"] == "your cohort"


def test_utf16_text_is_named(tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_bytes(TEMPLATE.read_text(encoding="utf-8").encode("utf-16"))
    _, msg = only(path)
    assert "not UTF-8 text (it looks like UTF-16" in msg and "CSV UTF-8" in msg


def test_non_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(TEMPLATE.read_bytes().replace(b"S003", "S\u00e903".encode("latin-1")))
    problem, msg = only(path)
    assert problem.line == 4 and "not UTF-8" in msg and "line 4" in msg


def test_parquet_loads(tmp_path):
    frame = pd.read_csv(TEMPLATE, dtype=str, keep_default_na=False)
    typed = frame.astype({"liver_involvement_pct": float, "followup_months": float,
                          "died": int, "symptomatic": int, "year_of_diagnosis": int,
                          "age_years": int})
    typed["months_to_treatment"] = pd.to_numeric(frame["months_to_treatment"])
    typed["palliated"] = pd.to_numeric(frame["palliated"])  # float with NaN: 1.0, 0.0
    path = tmp_path / "cohort.parquet"
    typed.to_parquet(path)
    df = load_cohort(path)
    reference = load_cohort(TEMPLATE)
    pd.testing.assert_frame_equal(df[COLUMNS], reference[COLUMNS])
    assert needs_prepared_copy(df, path)


def test_parquet_dates_are_derived(tmp_path):
    frame = pd.DataFrame(DATED)
    for c in DATE_COLUMNS:
        frame[c] = pd.to_datetime(frame[c].replace("", None))
    path = tmp_path / "dated.parquet"
    frame.to_parquet(path)
    df = load_cohort(path)
    assert df.loc["D3", "followup_months"] == days("2002-02-28", "2004-02-29") / 30.4375


def test_unreadable_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not a parquet file")
    _, msg = only(path)
    assert "cannot be read as a Parquet file" in msg


def workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def template_table() -> list[list]:
    rows = template_rows()
    return [COLUMNS] + [[r[c] for c in COLUMNS] for r in rows]


def test_excel_with_several_sheets_needs_sheet(tmp_path):
    path = workbook(tmp_path / "book.xlsx", {"Notes": [["read me"]], "Cohort": template_table()})
    _, msg = only(path)
    assert "the workbook has 2 sheets (Notes, Cohort)" in msg and "--sheet" in msg
    df = load_cohort(path, sheet="Cohort")
    assert len(df) == 4 and df.attrs["source"] == "your cohort"


def test_excel_unknown_sheet(tmp_path):
    path = workbook(tmp_path / "book.xlsx", {"Notes": [["read me"]], "Cohort": template_table()})
    _, msg = only(path, sheet="cohort")
    assert "no sheet named 'cohort'" in msg and "use one of: Notes, Cohort" in msg


def test_excel_numbers_and_dates_are_read_as_written(tmp_path):
    from datetime import datetime

    header = [c for c in DATED[0]]
    table = [header]
    for r in DATED:
        row = []
        for c in header:
            value = r[c]
            if c in DATE_COLUMNS and value:
                value = datetime.fromisoformat(value)
            elif c in {"liver_involvement_pct", "symptomatic", "age_years"}:
                value = float(value)  # Excel stores every number as a float
            elif c == "palliated" and value:
                value = int(value)
            row.append(value if value != "" else None)
        table.append(row)
    table.insert(3, [None] * len(header))  # an empty row between patients
    path = workbook(tmp_path / "dated.xlsx", {"Sheet1": table})
    df = load_cohort(path)
    assert df.loc["D3", "followup_months"] == days("2002-02-28", "2004-02-29") / 30.4375
    assert df["age_years"].tolist() == [63, 58, 51, 47]


def test_excel_problem_names_the_sheet_row(tmp_path):
    table = template_table()
    table[3][COLUMNS.index("sex")] = "Female"
    table.insert(1, [None] * len(COLUMNS))
    problem, msg = only(workbook(tmp_path / "book.xlsx", {"Sheet1": table}))
    assert problem.line == 5 and problem.patient_id == "S003"
    assert "did you mean 'female'" in msg


def test_chart_sheet_is_not_a_table(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    book.create_chartsheet("Plot")
    path = tmp_path / "book.xlsx"
    book.save(path)
    _, msg = only(path, sheet="Plot")
    # openpyxl cannot always open a bare chart sheet; either way the user reads why
    assert ("the sheet 'Plot' is a chart, not a table" in msg
            or "cannot be read as an Excel workbook" in msg)


def test_missing_month_column_mentions_the_dates(tmp_path):
    cols = [c for c in COLUMNS if c != "followup_months"]
    problem, _ = only(write_csv(tmp_path / "c.csv", template_rows(), cols))
    assert problem.column == "followup_months"
    assert "Or give the dates date_of_diagnosis" in problem.fix


def test_unreadable_workbook(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_text("patient_id,tumor_type\n", encoding="utf-8")
    _, msg = only(path)
    assert "cannot be read as an Excel workbook" in msg and "CSV UTF-8" in msg


def test_workbook_saved_with_a_csv_name(tmp_path):
    path = workbook(tmp_path / "book.xlsx", {"Sheet1": template_table()})
    renamed = path.rename(tmp_path / "book.csv")
    _, msg = only(renamed)
    assert "is an Excel workbook (a zip archive) named '.csv'" in msg
    assert "rename it to .xlsx" in msg


@pytest.mark.parametrize("suffix", [".sav", ".json", ".xls", ""])
def test_unsupported_file_type(tmp_path, suffix):
    path = tmp_path / f"cohort{suffix}"
    path.write_bytes(TEMPLATE.read_bytes())
    _, msg = only(path)
    assert f"unsupported file type '{suffix or '(no extension)'}'" in msg
    assert ".csv (UTF-8), .tsv, .xlsx or .parquet" in msg or "save it as .xlsx" in msg


# ---------------------------------------------------------------- table structure

def test_only_blank_lines(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("\n\n,,,\n", encoding="utf-8")
    _, msg = only(path)
    assert "the file holds no table (only empty lines)" in msg


def test_duplicated_column_names(tmp_path):
    path = tmp_path / "dup.csv"
    lines = TEMPLATE.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0] + ",died"] + [ln + ",0" for ln in lines[1:]]) + "\n",
                    encoding="utf-8")
    problem, msg = only(path)
    assert problem.column == "died" and problem.line == 1
    assert "appears 2 times in the header (columns 8, 14)" in msg
    assert "rename or delete the others" in msg


def test_row_with_too_many_cells(tmp_path):
    path = tmp_path / "extra.csv"
    text = TEMPLATE.read_text(encoding="utf-8").replace(",24.5,", ",24,5,")
    path.write_text(text, encoding="utf-8")
    problem, msg = only(path)
    assert problem.line == 2 and "the row has 14 cells but the header has 13" in msg
    assert "unquoted comma" in msg


def test_row_with_too_few_cells(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text(TEMPLATE.read_text(encoding="utf-8") + "S005,carcinoid,medical\n",
                    encoding="utf-8")
    problem, msg = only(path)
    assert problem.line == 6 and "the row has 3 cells but the header has 13" in msg


def test_unclosed_quote(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text(TEMPLATE.read_text(encoding="utf-8").replace("S003,", '"S003,'),
                    encoding="utf-8")
    problem, msg = only(path)
    assert problem.line == 4 and "not a well-formed table" in msg and "double quote" in msg


def test_lines_stay_right_across_blank_lines_and_cells_with_line_breaks(tmp_path):
    path = tmp_path / "cohort.csv"
    text = TEMPLATE.read_text(encoding="utf-8").splitlines()
    text[1] = text[1].replace("S001", '"S0\n01"')          # a line break inside a cell
    text.insert(2, "")                                        # a blank line
    text.insert(3, ",,,,,,,,,,,,")                            # an all-empty row (Excel)
    text[-1] = text[-1].replace(",male", ",mael")             # S004's label typo
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    problem, msg = only(path)
    assert problem.line == 8 and problem.patient_id == "S004"
    intake = read_intake(path)
    assert intake.notes == ("skipped 1 empty row(s) at line(s) 5",)
    assert list(read_text_table(path).index) == [2, 6, 7, 8]


def test_missing_column_with_a_near_name(tmp_path):
    rows = [{("Died " if k == "died" else k): v for k, v in r.items()} for r in template_rows()]
    problem, msg = only(write_csv(tmp_path / "cohort.csv", rows))
    assert problem.column == "died" and "required column is missing" in msg
    assert "the file has a column 'Died ': rename it to 'died'" in msg and "--map" in msg


@pytest.mark.parametrize(("value", "rule"), [
    ("99999999999999999999999", "is not a valid integer (far too large)"),
    ("1" * 5000, "is not a valid integer (far too large)"),
    ("６３", "is not a valid integer"),
    ("63.0", "is not a valid integer"),
    ("NaN", "is not a valid integer"),
])
def test_integers_that_do_not_fit(tmp_path, value, rule):
    problem, msg = only(write_csv(tmp_path / "c.csv", changed(0, age_years=value)))
    assert problem.column == "age_years" and problem.value == value and problem.rule == rule
    assert len(msg) < 600  # a huge value is shortened in the message


@pytest.mark.parametrize(("value", "rule"), [
    ("1e999", "is not a valid number (far too large)"),
    ("inf", "is not a valid number"),
    ("nan", "is not a valid number"),
    ("24.5 months", "is not a valid number"),
    ("２４.5", "is not a valid number"),
])
def test_numbers_that_do_not_fit(tmp_path, value, rule):
    problem, _ = only(write_csv(tmp_path / "c.csv", changed(0, followup_months=value)))
    assert problem.column == "followup_months" and problem.rule == rule
    assert "decimal point (not a comma)" in problem.fix


def test_long_values_are_shortened_in_the_message_not_in_the_problem(tmp_path):
    value = "carcinoid " * 500
    # (a contract column holding long free text is also named an identifier: issue 13)
    problem = next(p for p in problems_of(write_csv(tmp_path / "c.csv",
                                                    changed(1, tumor_type=value)))
                   if p.value is not None)
    msg = str(problem)
    assert problem.value == value
    assert f"({len(value)} characters)" in msg and len(msg) < 200 + 2 * MAX_SHOWN + len(
        problem.fix) + len(problem.file)


def test_validate_refuses_duplicated_columns_given_directly():
    raw = pd.read_csv(TEMPLATE, dtype=str, keep_default_na=False)
    raw = pd.concat([raw, raw[["sex"]]], axis=1)
    with pytest.raises(CohortValidationError, match="'sex': the column name appears 2 times"):
        validate(raw, "frame")


def test_validate_accepts_missing_cells_given_directly():
    raw = pd.read_csv(TEMPLATE, dtype=str)  # empty cells as NaN
    df = validate(raw, "frame")
    assert df["palliated"].isna().sum() == 1


# ---------------------------------------------------------------- valid but thin data

def test_group_with_one_patient_and_group_without_events_are_accepted(tmp_path):
    rows = template_rows()          # surgical: only S004, alive; embolization: S003 only
    rows[2]["died"] = "0"           # the embolization group now has no event either
    df = load_cohort(write_csv(tmp_path / "thin.csv", rows))
    assert df["treatment_group"].value_counts().to_dict() == {
        "medical": 2, "embolization": 1, "surgical": 1}
    assert df.groupby("treatment_group")["died"].sum().to_dict() == {
        "embolization": 0, "medical": 1, "surgical": 0}
    assert "groups: medical 2, embolization 1, surgical 1" in summary_text(df)


def test_a_group_with_no_patients_is_accepted(tmp_path):
    rows = [r for r in template_rows() if r["treatment_group"] != "embolization"]
    df = load_cohort(write_csv(tmp_path / "two_groups.csv", rows))
    assert "embolization 0" in summary_text(df)


# ---------------------------------------------------------------- mapping files

REDCAP_HEADER = ["Study ID", "redcap_event_name", "Histology", "Group", "Treatment",
                 "Liver involvement (%)", "Diagnosis date", "First treatment date",
                 "Last contact date", "Death date", "Hormonal symptoms",
                 "Symptoms palliated", "Age", "Sex"]
REDCAP_ROWS = [
    ["R-01", "baseline_arm_1", "Carcinoid", "1", "Octreotide", "20", "2001-03-01",
     "2001-04-15", "2003-03-01", "", "Yes", "Yes", "63", "F"],
    ["R-02", "baseline_arm_1", "Islet cell", "1", "Observation", "10", "1999-12-31", "",
     "2000-06-01", "2000-07-04", "No", "", "58", "M"],
    ["R-03", "baseline_arm_1", "Carcinoid", "2", "HAE", "45", "2002-02-28", "2002-03-01", "",
     "2004-02-29", "Yes", "No", "51", "F"],
    ["R-04", "baseline_arm_1", "Carcinoid", "3", "Resection + RFA", "15", "2000-01-10",
     "2000-01-10", "2005-12-31", "", "Yes", "Yes", "47", "M"],
]


def redcap_export(tmp_path: Path, header=REDCAP_HEADER, rows=REDCAP_ROWS) -> Path:
    path = tmp_path / "redcap_export.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_redcap_export_with_the_template_map_loads(tmp_path):
    df = load_cohort(redcap_export(tmp_path), map_path=TEMPLATE_MAP)
    assert df["treatment_group"].tolist() == ["medical", "medical", "embolization", "surgical"]
    assert df["treatment"].tolist() == ["octreotide", "observation", "embolization",
                                        "resection_ablation"]
    assert df["tumor_type"].tolist() == ["carcinoid", "islet_cell", "carcinoid", "carcinoid"]
    assert df["symptomatic"].tolist() == [1, 0, 1, 1]
    assert df["sex"].tolist() == ["female", "male", "female", "male"]
    assert df["died"].tolist() == [0, 1, 1, 0]
    assert df.loc["R-03", "followup_months"] == days("2002-02-28", "2004-02-29") / 30.4375
    assert df.attrs["mapped"] is True


def test_unmapped_redcap_code_is_reported_with_the_closest_label(tmp_path):
    rows = [list(r) for r in REDCAP_ROWS]
    rows[3][3] = "4"
    problem, msg = only(redcap_export(tmp_path, rows=rows), map_path=TEMPLATE_MAP)
    assert problem.line == 5 and problem.patient_id == "R-04"
    assert problem.column == "treatment_group" and problem.value == "4"
    assert "must be one of medical, embolization, surgical" in msg


def write_map(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_map_names_a_column_the_file_lacks(tmp_path):
    path = write_map(tmp_path, "columns:\n  Study Id: patient_id\n")
    rows = [{("Study ID" if k == "patient_id" else k): v for k, v in r.items()}
            for r in template_rows()]
    problem, msg = only(write_csv(tmp_path / "c.csv", rows), map_path=path)
    assert problem.file == str(path) and problem.column == "Study Id"
    assert "maps column 'Study Id', which" in msg and "c.csv lacks" in msg
    assert "did you mean 'Study ID'? columns in the file: Study ID, tumor_type" in msg


def test_map_sends_two_columns_to_one(tmp_path):
    path = write_map(tmp_path, "columns:\n  Study ID: patient_id\n  Record: patient_id\n")
    export = write_csv(tmp_path / "c.csv", [{"Study ID": "1", "Record": "2"}])
    first, *rest = problems_of(export, map_path=path)
    assert "several columns are mapped to 'patient_id' ('Study ID', 'Record')" in str(first)
    assert "map exactly one of your columns" in str(first)
    # in the same pass: the contract columns the file lacks, but not patient_id, whose
    # absence the mapping problem explains
    missing = {p.column for p in rest if p.rule == "required column is missing"}
    assert "tumor_type" in missing and "patient_id" not in missing


def test_map_has_an_unknown_section(tmp_path):
    path = write_map(tmp_path, "columns: {}\nlabels:\n  sex: {F: female}\n")
    _, msg = only(write_csv(tmp_path / "c.csv", template_rows()), map_path=path)
    assert "unknown section(s) ['labels']" in msg and "only 'columns:' and 'values:'" in msg


def test_map_is_not_valid_yaml(tmp_path):
    path = write_map(tmp_path, "columns:\n  Study ID: patient_id\n   Group: [unclosed\n")
    problem, msg = only(write_csv(tmp_path / "c.csv", template_rows()), map_path=path)
    assert problem.file == str(path) and "cannot read the mapping file" in msg
    assert "data/template_map.yaml" in msg and "\n    " not in str(problem)


def test_map_file_missing(tmp_path):
    _, msg = only(write_csv(tmp_path / "c.csv", template_rows()),
                  map_path=tmp_path / "nope.yaml")
    assert "nope.yaml" in msg and "cannot read the mapping file" in msg


def test_map_is_a_list_not_a_mapping(tmp_path):
    path = write_map(tmp_path, "- patient_id\n- sex\n")
    _, msg = only(write_csv(tmp_path / "c.csv", template_rows()), map_path=path)
    assert "the mapping file is not a YAML mapping" in msg


def test_map_targets_a_column_outside_the_contract(tmp_path):
    path = write_map(tmp_path, "columns:\n  Group: treatment_grp\n")
    rows = [{("Group" if k == "treatment_group" else k): v for k, v in r.items()}
            for r in template_rows()]
    _, msg = only(write_csv(tmp_path / "c.csv", rows), map_path=path)
    assert "maps 'Group' to 'treatment_grp', which is not a contract column" in msg
    assert "did you mean 'treatment_group'?" in msg


def test_map_targets_a_column_the_file_already_has(tmp_path):
    path = write_map(tmp_path, "columns:\n  Sex (M/F): sex\n")
    rows = template_rows()
    for r in rows:
        r["Sex (M/F)"] = "F"
    _, msg = only(write_csv(tmp_path / "c.csv", rows), map_path=path)
    assert "maps 'Sex (M/F)' to 'sex', but the file already has a column 'sex'" in msg


def test_map_recodes_a_column_that_does_not_exist(tmp_path):
    path = write_map(tmp_path, "values:\n  gender:\n    F: female\n")
    _, msg = only(write_csv(tmp_path / "c.csv", template_rows()), map_path=path)
    assert "recodes values of 'gender', which is not a column after renaming" in msg


def test_map_labels_are_read_as_text(tmp_path):
    # Unquoted Yes/No are booleans and 01 an integer in YAML 1.1; the mapping reads text.
    path = write_map(tmp_path, "values:\n  symptomatic:\n    Yes: 1\n    No: 0\n"
                               "  treatment_group:\n    01: medical\n")
    rows = template_rows()
    for r in rows:
        r["symptomatic"] = {"1": "Yes", "0": "No"}[r["symptomatic"]]
    rows[0]["treatment_group"] = "01"
    df = load_cohort(write_csv(tmp_path / "c.csv", rows), map_path=path)
    assert df["symptomatic"].tolist() == [1, 0, 1, 1]
    assert df.loc["S001", "treatment_group"] == "medical"


def test_map_sections_of_the_wrong_shape(tmp_path):
    path = write_map(tmp_path, "columns:\n  - Study ID\nvalues:\n  sex:\n    - F\n")
    with pytest.raises(CohortValidationError) as info:
        load_cohort(write_csv(tmp_path / "c.csv", template_rows()), map_path=path)
    rules = [p.rule for p in info.value.problems]
    assert rules == ["'columns:' is not a list of 'your column: contract column' lines",
                     "the labels of 'sex' are not 'your label: contract label' lines"]


def test_apply_mapping_reports_every_problem_at_once():
    raw = pd.DataFrame({"A": ["1"], "B": ["2"]})
    mapping = {"columns": {"A": "patient_id", "B": "patient_id", "C": "sex"},
               "values": {"nope": {"x": "y"}}, "extra": {}}
    with pytest.raises(CohortValidationError) as info:
        apply_mapping(raw, mapping, "f.csv", "m.yaml")
    rules = [p.rule for p in info.value.problems]
    assert len(rules) == 4
    assert any("unknown section" in r for r in rules)
    assert any("maps column 'C'" in r for r in rules)
    assert any("several columns are mapped to 'patient_id'" in r for r in rules)
    assert any("recodes values of 'nope'" in r for r in rules)


# ---------------------------------------------------------------- issue 13: messy exports
# Each test below is one kind of real export that used to pass silently wrong, or get a
# message whose fix did not work; docs/errors.md lists them (rows 77 onwards).


def test_ids_differing_only_by_case_or_spaces_are_one_patient(tmp_path):
    rows = changed(1, patient_id="s001 ")  # S001 again, typed in lower case with a space
    problems = [p for p in problems_of(write_csv(tmp_path / "c.csv", rows))
                if p.column == "patient_id"]
    assert [(p.line, p.value) for p in problems] == [(2, "S001"), (3, "s001 ")]
    assert "the same id as line 3 ('s001 ') once case and surrounding spaces" in str(
        problems[0])
    assert "line 2 ('S001')" in problems[1].rule


def test_case_and_space_clashes_are_found_among_many_unique_ids(tmp_path):
    """Only ids whose trimmed, case-folded form repeats are compared (the check once
    looped over every id): among 2,000 distinct ids, a clash of three (one of them an
    exact repeat) is reported on its three lines in file order, and an exact repeat on
    its own is left to the uniqueness check."""
    base = template_rows()[0]
    ids = [f"P{i:05d}" for i in range(2000)]
    ids[10], ids[700], ids[1500] = "AB-1", " ab-1", "AB-1"
    ids[50] = ids[60] = "P00050"
    rows = [dict(base, patient_id=pid) for pid in ids]
    problems = problems_of(write_csv(tmp_path / "many.csv", rows))
    clashes = [p for p in problems if "case and surrounding spaces" in p.rule]
    assert [(p.line, p.value) for p in clashes] == [(12, "AB-1"), (702, " ab-1"),
                                                    (1502, "AB-1")]
    assert "line 702 (' ab-1'), line 1502 ('AB-1')" in clashes[0].rule
    repeats = [p for p in problems if p.column == "patient_id" and p not in clashes]
    assert {p.line for p in repeats} >= {52, 62}


def test_follow_up_in_days_is_refused_as_months_then_read_with_time_unit(tmp_path):
    rows = template_rows()
    for r, n_days in zip(rows, ("745", "365", "919", "1461"), strict=True):
        r["followup_months"], r["months_to_treatment"] = n_days, r["months_to_treatment"]
    path = write_csv(tmp_path / "days.csv", rows)
    problems = problems_of(path)
    long = [p for p in problems if "implausible as months" in p.rule]
    assert [p.line for p in long] == [2, 3, 4, 5]
    assert "pass --time-unit days" in long[0].fix
    # --time-unit days: every time column is read as days (treatment times too)
    for r, months in zip(rows, ("30", "", "75", "45"), strict=True):
        r["months_to_treatment"] = months
    df = load_cohort(write_csv(tmp_path / "days.csv", rows), time_unit="days")
    assert df.loc["S004", "followup_months"] == 1461 / DAYS_PER_MONTH
    assert df.loc["S003", "months_to_treatment"] == 75 / DAYS_PER_MONTH
    weeks = load_cohort(write_csv(tmp_path / "w.csv", template_rows()), time_unit="weeks")
    assert weeks.loc["S001", "followup_months"] == 24.5 * 7 / DAYS_PER_MONTH


def test_a_days_column_mapped_to_months_needs_time_unit(tmp_path):
    rows = [{("FU (days)" if k == "followup_months" else k): v for k, v in r.items()}
            for r in template_rows()]
    path = write_csv(tmp_path / "c.csv", rows)
    mapping = write_map(tmp_path, "columns:\n  FU (days): followup_months\n")
    problem, msg = only(path, map_path=mapping)
    assert "maps 'FU (days)' to 'followup_months', but its name says it holds days" in msg
    assert "pass --time-unit days" in msg
    df = load_cohort(path, map_path=mapping, time_unit="days")
    assert df.loc["S001", "followup_months"] == 24.5 / DAYS_PER_MONTH
    # unmapped, the missing month column points at the days column and the option
    problem = next(p for p in problems_of(path) if p.column == "followup_months")
    assert "'FU (days)' in days: map it to 'followup_months'" in problem.fix
    assert "--time-unit days" in problem.fix


def test_liver_involvement_as_fractions_is_refused(tmp_path):
    rows = template_rows()
    for r, value in zip(rows, ("0.2", "0.1", "0.45", "0.15"), strict=True):
        r["liver_involvement_pct"] = value
    problem, msg = only(write_csv(tmp_path / "c.csv", rows))
    assert problem.column == "liver_involvement_pct" and problem.line is None
    assert "look like fractions" in msg and "34 for 34%" in msg


def test_excel_percent_cells_are_read_as_percentages(tmp_path):
    table = template_table()
    column = COLUMNS.index("liver_involvement_pct")
    path = workbook(tmp_path / "book.xlsx", {"data": table})
    import openpyxl

    book = openpyxl.load_workbook(path)
    sheet = book["data"]
    for row, value in zip(range(2, 6), (0.2, 0.1, 0.455, 0.15), strict=True):
        cell = sheet.cell(row=row, column=column + 1, value=value)
        cell.number_format = "0%"
    book.save(path)
    df = load_cohort(path)
    assert df["liver_involvement_pct"].tolist() == [20.0, 10.0, 45.5, 15.0]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_title_rows_above_the_header_are_named_then_skipped_with_header_row(tmp_path, suffix):
    table = [["NET liver metastases, clinic export"], [], *template_table()]
    if suffix == ".csv":
        path = tmp_path / "c.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerows(
                [row + [""] * (len(COLUMNS) - len(row)) if row else [] for row in table])
    else:
        path = workbook(tmp_path / "c.xlsx", {"data": table})
    problem, msg = only(path)
    assert problem.line == 1 and "looks like a title, not the header" in msg
    assert "pass --header-row 3" in msg and "missing" not in msg
    assert "clinic export" not in msg  # the title is not echoed
    df = load_cohort(path, header_row=3)
    assert len(df) == 4 and df.attrs["skipped_empty_rows"] == []
    assert "not in the file" in only(path, header_row=2)[1]


def test_a_repeated_header_line_is_named_as_such(tmp_path):
    path = write_csv(tmp_path / "c.csv", template_rows())
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:3], lines[0], *lines[3:]]) + "\n")
    problem, msg = only(path)
    assert problem.line == 4 and "repeats the header line (line 1)" in msg
    assert "did you mean" not in msg and "delete this line" in msg


@pytest.mark.parametrize(("head", "suffix", "what"), [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, ".xls", "old Excel 97-2003 workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, ".csv", "old Excel 97-2003 workbook"),
    (b"\x1f\x8b\x08\x00" + b"\0" * 64, ".csv", "gzip-compressed"),
    (b"\x1f\x8b\x08\x00" + b"\0" * 64, ".gz", "gzip-compressed"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, ".csv", "PNG image"),
    (b"\xff\xd8\xff\xe0" + b"\0" * 64, ".xlsx", "JPEG image"),
    (b"%PDF-1.7\n" + b"\0" * 64, ".csv", "PDF document"),
    (b"PAR1" + b"\0" * 64, ".csv", "Parquet file"),
])
def test_files_are_named_by_what_their_bytes_are(tmp_path, head, suffix, what):
    path = tmp_path / f"cohort{suffix}"
    path.write_bytes(head)
    problem, msg = only(path)
    assert what in msg and "UTF-8" not in problem.rule


def test_date_values_are_never_echoed_even_in_a_month_column(tmp_path):
    rows = changed(0, followup_months="2003-07-15", age_years="15/07/1950")
    problems = problems_of(write_csv(tmp_path / "c.csv", rows))
    text = "\n".join(map(str, problems))
    assert "2003-07-15" not in text and "15/07/1950" not in text
    assert text.count("(a date, not shown: dates are identifying)") == 2


def test_a_required_number_is_not_told_to_be_left_empty(tmp_path):
    required = only(write_csv(tmp_path / "c.csv", changed(0, age_years="sixty")))[0]
    optional = only(write_csv(tmp_path / "c.csv", changed(0, months_to_treatment="soon")))[0]
    assert "leave the cell empty" not in required.fix
    assert "or leave the cell empty if unknown" in optional.fix


def test_every_kind_of_problem_comes_in_one_report(tmp_path):
    """Identifiers, mapping, dates and values together, each once, in that order."""
    header = ["Patient name", *REDCAP_HEADER]
    rows = [["Zebediah", *r] for r in REDCAP_ROWS]
    rows[0][7] = "01/03/2001"      # a date not written YYYY-MM-DD
    rows[1][13] = "120"            # age out of range
    rows[2][4] = "9"               # a group code the map does not list
    path = redcap_export(tmp_path, header=header, rows=rows)
    mapping = write_map(tmp_path, TEMPLATE_MAP.read_text(encoding="utf-8").replace(
        "  Sex: sex\n", "  Sex: sex\n  Gender: sex\n"))
    problems = problems_of(path, map_path=mapping)
    rules = [p.rule for p in problems]
    assert "the file holds direct identifiers: 'Patient name' (name)" in rules[0]
    assert any("maps column 'Gender'" in r for r in rules)
    assert any(p.column == "date_of_diagnosis" and p.line == 2 for p in problems)
    assert any(p.column == "age_years" and p.line == 3 for p in problems)
    code = next(p for p in problems if p.column == "treatment_group")
    assert "add the code under 'values: treatment_group:' in map.yaml" in code.fix
    assert not any(p.rule == "required column is missing" for p in problems)
    assert "Zebediah" not in "\n".join(map(str, problems))


def test_redcap_longitudinal_export_is_told_one_row_per_patient(tmp_path):
    rows = [list(r) for r in REDCAP_ROWS]
    rows.append([*rows[0][:1], "month_6_arm_1", *rows[0][2:]])
    problems = problems_of(redcap_export(tmp_path, rows=rows), map_path=TEMPLATE_MAP)
    duplicate = [p for p in problems if p.rule.startswith("must be unique")]
    assert [p.line for p in duplicate] == [2, 6]
    assert "REDCap longitudinal" in duplicate[0].fix and "one row per patient" in duplicate[0].fix


def test_many_unreadable_dates_make_one_message_and_date_format_reads_them(tmp_path):
    rows = dated()
    for r in rows:
        for column in DATE_COLUMNS:
            if r[column]:
                y, m, d = r[column].split("-")
                r[column] = f"{d}/{m}/{y}"
    path = write_csv(tmp_path / "c.csv", rows)
    problems = problems_of(path)
    by_column = {p.column: p for p in problems}
    assert len(problems) == 4 and set(by_column) == set(DATE_COLUMNS)
    diagnosis = by_column["date_of_diagnosis"]
    assert "4 of 4 dates are not written YYYY-MM-DD (lines 2, 3, 4, 5" in diagnosis.rule
    assert "pass --date-format %d/%m/%Y" in diagnosis.fix
    df = load_cohort(path, date_format="%d/%m/%Y")
    again = load_cohort(write_csv(tmp_path / "iso.csv", DATED))
    pd.testing.assert_series_equal(df["followup_months"], again["followup_months"])


def test_excel_serial_day_numbers_are_named(tmp_path):
    problem = next(p for p in problems_of(write_csv(
        tmp_path / "c.csv", dated(0, date_of_diagnosis="37316"))))
    assert "serial day numbers" in problem.rule and problem.line == 2
    assert "format the column as a date" in problem.fix


def test_a_map_line_for_a_dropped_identifier_is_named_not_matched(tmp_path):
    path = redcap_export(tmp_path, header=["Patient name", *REDCAP_HEADER],
                         rows=[["Zebediah", *r] for r in REDCAP_ROWS])
    mapping = write_map(tmp_path, TEMPLATE_MAP.read_text(encoding="utf-8")
                        + "\n".replace("\n", "") )
    text = TEMPLATE_MAP.read_text(encoding="utf-8").replace(
        "columns:\n", "columns:\n  Patient name: sex\n", 1)
    mapping = write_map(tmp_path, text)
    problems = problems_of(path, map_path=mapping, allow_identifiers=True)
    (problem,) = [p for p in problems if p.column == "Patient name"]
    assert "an identifier column (dropped, never analysed)" in problem.rule
    assert "did you mean" not in problem.fix


def test_the_formula_pass_runs_only_for_workbooks_with_formulas(tmp_path, monkeypatch):
    """The second, formula-reading pass over a workbook costs as much as reading it; a
    scan of the sheets' XML for formula elements skips it when there are none (the
    template has empty cells, which would otherwise trigger it). A shared formula, a
    formula on another sheet and a prefixed formula element all count."""
    import openpyxl

    opened = []
    real = openpyxl.load_workbook

    def counting(path, **kwargs):
        opened.append(kwargs.get("data_only"))
        return real(path, **kwargs)

    monkeypatch.setattr(openpyxl, "load_workbook", counting)
    plain = workbook(tmp_path / "plain.xlsx", {"data": template_table()})
    assert len(load_cohort(plain)) == len(template_rows())
    assert opened == [True]
    assert not readers._has_formula_tags(plain)
    other = workbook(tmp_path / "other.xlsx", {"data": template_table(), "sums": [["=1+1"]]})
    assert readers._has_formula_tags(other)
    for xml in (b'<c r="B2"><f t="shared" si="0"/><v>3</v></c>', b"<x:c><x:f>A1</x:f></x:c>"):
        path = tmp_path / "raw.xlsx"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("xl/worksheets/sheet1.xml", b"<worksheet>" + xml + b"</worksheet>")
        assert readers._has_formula_tags(path)


def test_formula_cells_without_a_saved_value_are_named(tmp_path):
    """openpyxl, like scripts that write workbooks, saves formulas without their values:
    read as empty, they would be 'missing'; they are named instead."""
    table = template_table()
    age = COLUMNS.index("age_years")
    table[2][age] = f"={chr(ord('A') + age)}2+1"  # row 3: age from row 2's, never computed
    problem, msg = only(workbook(tmp_path / "book.xlsx", {"data": table}))
    assert f"1 formula cell(s) have no computed value saved in the workbook (row 3 column " \
        f"{age + 1})" in msg
    assert "let it calculate, and save it again" in msg
