"""The front door for a user's own cohort: read, refuse identifiers, map, derive months.

Steps, in order, each reporting every problem it finds before validation proper
(:func:`nethep.cohort.validate`):

1. :func:`read_text_table` reads CSV, TSV, Excel (.xlsx) or Parquet with every
   cell as text (only an empty cell is missing). A UTF-8 byte-order mark is
   accepted; other encodings, semicolon-delimited CSV and workbooks with several
   sheets (without ``sheet=``) are refused with the fix.
2. :func:`identifier_columns` finds direct identifiers (HIPAA Safe Harbor
   categories: names, record numbers, SSN, phone, fax, email, street address, ZIP
   code, exact dates of birth, ...) by column name. They are refused, naming the
   columns and never echoing a value, unless ``allow_identifiers=True``; even then
   they are dropped before anything else happens.
3. :func:`apply_mapping` renames the user's columns and recodes their labels to
   the contract's with a YAML mapping file (see ``data/template_map.yaml``).
4. :func:`derive_months` turns ISO dates (``date_of_diagnosis``,
   ``date_of_treatment``, ``date_last_contact``, ``date_of_death``) into the
   contract's month columns, with months of 30.4375 days (365.25 / 12), and checks
   their order. Date columns are dropped afterwards: no date reaches an analysis
   or an output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from nethep.errors import CohortValidationError, Problem

DAYS_PER_MONTH = 365.25 / 12
DATE_COLUMNS = ("date_of_diagnosis", "date_of_treatment", "date_last_contact", "date_of_death")
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"

# Column-name patterns of direct identifiers (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)).
IDENTIFIER_PATTERNS: dict[str, str] = {
    "name": r"(^|_)(first|last|given|family|full|patient|middle|maiden)?_?(name|surname)s?($|_)",
    "medical record number": r"(^|_)(mrn|medical_record|record_number|chart_number|"
                             r"hospital_number|nhs_number|health_plan|beneficiary)",
    "social security number": r"(^|_)(ssn|social_security|national_id|insurance_number)",
    "phone or fax": r"(^|_)(phone|telephone|tel|mobile|cell|fax)($|_)",
    "email": r"(^|_)e_?mail($|_)",
    "street address": r"(^|_)(address|street|addr|city|zip|zipcode|postcode|postal_code)($|_)",
    "exact birth date": r"(^|_)(dob|date_of_birth|birth_?date|birthday)($|_)",
    "other identifier": r"(^|_)(ip_address|url|account_number|licen[cs]e_number|"
                        r"device_serial|vehicle|biometric|photo)($|_)",
}


@dataclass(frozen=True)
class Intake:
    """A user's table as text, ready for contract validation, and what was done to it."""

    table: pd.DataFrame
    file: str
    dropped_identifiers: tuple[str, ...] = ()
    derived_from_dates: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def identifier_columns(columns: list[str]) -> dict[str, str]:
    """Columns whose names look like direct identifiers, with the Safe Harbor category."""
    found = {}
    for col in columns:
        norm = _normalise(col)
        if norm == "patient_id":
            continue
        for category, pattern in IDENTIFIER_PATTERNS.items():
            if re.search(pattern, norm):
                found[col] = category
                break
    return found


def _problem(file: str, rule: str, fix: str, column: str | None = None, line: int | None = None,
             patient_id: str | None = None, value: str | None = None) -> Problem:
    return Problem(file, line, patient_id, column, value, rule, fix)


def read_text_table(path: Path, sheet: str | None = None) -> pd.DataFrame:
    """Read a CSV, TSV, .xlsx or Parquet file with every cell as text."""
    file = str(path)
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise CohortValidationError([_problem(file, "the file is empty",
                                    "export the cohort with a header row and one row per patient")])
    if suffix in {".csv", ".txt", ".tsv", ".tab"}:
        return _read_delimited(path, "\t" if suffix in {".tsv", ".tab"} else ",")
    if suffix in {".xlsx", ".xlsm"}:
        return _read_excel(path, sheet)
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
        return frame.apply(_parquet_text).reset_index(drop=True)
    raise CohortValidationError([_problem(file, f"unsupported file type '{suffix}'",
                                "save the cohort as .csv (UTF-8), .tsv, .xlsx or .parquet")])


def _parquet_text(col: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col):
        text = col.dt.strftime("%Y-%m-%d")
    elif pd.api.types.is_float_dtype(col):
        text = col.map(lambda x: "" if pd.isna(x) else repr(float(x)))
    else:
        text = col.astype("string")
    return text.fillna("").astype(object)


def _read_delimited(path: Path, sep: str) -> pd.DataFrame:
    file = str(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CohortValidationError([_problem(
            file, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})",
            "save it from your spreadsheet program as 'CSV UTF-8 (comma delimited)'")]) from None
    header = text.split("\n", 1)[0]
    if sep == "," and header.count(";") > header.count(","):
        raise CohortValidationError([_problem(
            file, "the file is semicolon-delimited (a European spreadsheet export)",
            "save it as 'CSV UTF-8 (comma delimited)' with a decimal point, or as .xlsx")])
    from io import StringIO

    try:
        return pd.read_csv(StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                           na_values=[])
    except pd.errors.EmptyDataError:
        raise CohortValidationError([_problem(file, "the file is empty",
                                    "export the cohort with a header row and one row per "
                                    "patient")]) from None
    except pd.errors.ParserError as exc:
        raise CohortValidationError([_problem(file, f"the file is not a well-formed table ({exc})",
                                    "check for unquoted commas inside cells; re-export")]) from None


def _read_excel(path: Path, sheet: str | None) -> pd.DataFrame:
    file = str(path)
    sheets = pd.ExcelFile(path).sheet_names
    if sheet is None and len(sheets) > 1:
        raise CohortValidationError([_problem(
            file, f"the workbook has {len(sheets)} sheets ({', '.join(sheets)})",
            "name the sheet that holds the cohort with --sheet, or save it alone")])
    chosen = sheet if sheet is not None else sheets[0]
    if chosen not in sheets:
        raise CohortValidationError([_problem(file, f"no sheet named '{chosen}'",
                                    f"use one of: {', '.join(sheets)}")])
    frame = pd.read_excel(path, sheet_name=chosen, dtype=object, header=0)
    return frame.apply(_excel_text).reset_index(drop=True)


def _excel_text(col: pd.Series) -> pd.Series:
    def cell(x: Any) -> str:
        if x is None or (isinstance(x, float) and np.isnan(x)):
            return ""
        if isinstance(x, pd.Timestamp | date):
            return x.strftime("%Y-%m-%d")
        if isinstance(x, float) and x.is_integer():
            return str(int(x))
        return str(x)

    return col.map(cell).astype(object)


def apply_mapping(raw: pd.DataFrame, mapping: dict[str, Any], file: str,
                  map_file: str) -> pd.DataFrame:
    """Rename columns and recode labels as the mapping file says; report what does not fit."""
    problems = []
    columns = mapping.get("columns") or {}
    values = mapping.get("values") or {}
    unknown_keys = set(mapping) - {"columns", "values"}
    if unknown_keys:
        problems.append(_problem(map_file, f"unknown section(s) {sorted(unknown_keys)}",
                                 "a mapping file has only 'columns:' and 'values:'"))
    for theirs in columns:
        if theirs not in raw.columns:
            problems.append(_problem(map_file, f"maps column '{theirs}', which {file} lacks",
                                     f"columns in the file: {', '.join(map(str, raw.columns))}",
                                     column=str(theirs)))
    targets = list(columns.values())
    for ours in sorted({t for t in targets if targets.count(t) > 1}):
        problems.append(_problem(map_file, f"several columns are mapped to '{ours}'",
                                 "map exactly one of your columns to each contract column",
                                 column=ours))
    if problems:
        raise CohortValidationError(problems)
    out = raw.rename(columns={k: v for k, v in columns.items()})
    for col, recode in values.items():
        if col not in out.columns:
            raise CohortValidationError([_problem(
                map_file, f"recodes values of '{col}', which is not a column after renaming",
                "check the 'values:' section", column=str(col))])
        table = {str(k): str(v) for k, v in (recode or {}).items()}
        out[col] = out[col].map(lambda x, t=table: t.get(x, x))
    return out


def load_mapping(map_path: Path) -> dict[str, Any]:
    """Read a mapping YAML file (``columns:`` theirs -> ours, ``values:`` per column)."""
    try:
        mapping = yaml.safe_load(map_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CohortValidationError([_problem(
            str(map_path), f"cannot read the mapping file ({exc})",
            "start from data/template_map.yaml")]) from None
    if not isinstance(mapping, dict):
        raise CohortValidationError([_problem(
            str(map_path), "the mapping file is not a YAML mapping",
            "start from data/template_map.yaml")])
    return mapping


def derive_months(raw: pd.DataFrame, file: str, today: date | None = None) -> pd.DataFrame:
    """Replace ISO date columns by the contract's month columns (30.4375-day months).

    ``followup_months`` runs from diagnosis to death (``died`` = 1) or else to last
    contact; ``months_to_treatment`` from diagnosis to first treatment;
    ``year_of_diagnosis`` is the diagnosis year. Dates must be YYYY-MM-DD; a date
    after ``today``, death or treatment before diagnosis, treatment after the end
    of follow-up, or death with a later last contact are errors.
    """
    present = [c for c in DATE_COLUMNS if c in raw.columns]
    if not present:
        return raw
    today = today or date.today()
    problems = []
    both = [c for c in ("followup_months", "months_to_treatment", "year_of_diagnosis")
            if c in raw.columns]
    if both:
        raise CohortValidationError([_problem(
            file, f"both dates ({', '.join(present)}) and month columns ({', '.join(both)}) "
            "are given", "give either the dates or the month columns, not both")])
    parsed = {}
    for col in present:
        text = raw[col]
        bad = (text != "") & ~text.str.fullmatch(_ISO_DATE)
        values = pd.to_datetime(text.where(~bad & (text != ""), None), format="%Y-%m-%d",
                                errors="coerce")
        bad |= (text != "") & ~bad & values.isna()
        for i in np.flatnonzero(bad.to_numpy()):
            problems.append(_row_problem(raw, i, file, col, "is not a date written YYYY-MM-DD",
                                         "write dates as YYYY-MM-DD, e.g. 2003-07-15"))
        future = values > pd.Timestamp(today)
        for i in np.flatnonzero(future.fillna(False).to_numpy()):
            problems.append(_row_problem(raw, i, file, col, "is in the future",
                                         "check the year; dates must not be after today"))
        parsed[col] = values
    missing = [c for c in ("date_of_diagnosis",) if c not in parsed]
    if missing or ("date_last_contact" not in parsed and "date_of_death" not in parsed):
        problems.append(_problem(file, "dates are given without date_of_diagnosis and "
                                 "date_last_contact or date_of_death",
                                 "give date_of_diagnosis plus date_last_contact (and "
                                 "date_of_death for patients who died)"))
        raise CohortValidationError(problems)
    dx = parsed["date_of_diagnosis"]
    death = parsed.get("date_of_death", pd.Series(pd.NaT, index=raw.index))
    last = parsed.get("date_last_contact", pd.Series(pd.NaT, index=raw.index))
    treat = parsed.get("date_of_treatment", pd.Series(pd.NaT, index=raw.index))
    end = death.fillna(last)
    checks = [
        (death < dx, "date_of_death", "death is before diagnosis",
         "check both dates; a negative survival time is impossible"),
        (last < dx, "date_last_contact", "last contact is before diagnosis",
         "check both dates"),
        (treat < dx, "date_of_treatment", "treatment is before diagnosis of liver metastases",
         "check both dates; time is counted from diagnosis of liver metastases"),
        (treat > end, "date_of_treatment", "treatment is after death or last contact",
         "check the treatment date against the end of follow-up"),
        (last > death, "date_last_contact", "last contact is after the date of death",
         "check both dates"),
        (dx.notna() & end.isna(), "date_last_contact", "no date of last contact or death",
         "fill in date_last_contact (or date_of_death)"),
    ]
    if "died" in raw.columns and "date_of_death" in parsed:
        checks.append(((raw["died"] == "1") & death.isna(), "date_of_death",
                       "died is 1 but date_of_death is empty", "fill in the date of death"))
        checks.append(((raw["died"] == "0") & death.notna(), "date_of_death",
                       "died is 0 but a date_of_death is given", "correct died or the date"))
    for mask, col, rule, fix in checks:
        for i in np.flatnonzero(mask.fillna(False).to_numpy()):
            problems.append(_row_problem(raw, i, file, col, rule, fix))
    if problems:
        raise CohortValidationError(problems)
    out = raw.drop(columns=present)
    fmt = "{:.2f}".format
    out["followup_months"] = ((end - dx).dt.days / DAYS_PER_MONTH).map(
        lambda x: "" if pd.isna(x) else fmt(x))
    out["months_to_treatment"] = ((treat - dx).dt.days / DAYS_PER_MONTH).map(
        lambda x: "" if pd.isna(x) else fmt(x))
    if "died" not in out.columns:
        out["died"] = np.where(death.notna(), "1", "0")
    out["year_of_diagnosis"] = dx.dt.year.map(lambda x: "" if pd.isna(x) else str(int(x)))
    return out


def _row_problem(raw: pd.DataFrame, i: int, file: str, column: str, rule: str,
                 fix: str) -> Problem:
    pid = raw["patient_id"].iloc[i] if "patient_id" in raw.columns else None
    # Never echo a date value: dates are identifying (Safe Harbor).
    return _problem(file, f"{rule} (value not shown: dates are identifying)", fix,
                    column=column, line=i + 2, patient_id=pid or None)


def read_intake(path: Path, map_path: Path | None = None, allow_identifiers: bool = False,
                sheet: str | None = None, today: date | None = None) -> Intake:
    """Read a user's file and prepare it for contract validation (steps 1-4 above)."""
    file = str(path)
    raw = read_text_table(path, sheet)
    raw.columns = [str(c) for c in raw.columns]
    found = identifier_columns(list(raw.columns))
    if found and not allow_identifiers:
        listed = "; ".join(f"'{c}' ({k})" for c, k in found.items())
        raise CohortValidationError([_problem(
            file, f"the file holds direct identifiers: {listed} (values not shown)",
            "remove these columns before analysis (they are never needed), or pass "
            "--allow-identifiers to have nethep drop them on reading")])
    raw = raw.drop(columns=list(found))
    if map_path is not None:
        raw = apply_mapping(raw, load_mapping(Path(map_path)), file, str(map_path))
    dated = tuple(c for c in DATE_COLUMNS if c in raw.columns)
    table = derive_months(raw, file, today)
    return Intake(table=table, file=file, dropped_identifiers=tuple(found),
                  derived_from_dates=dated)


def needs_prepared_copy(df: pd.DataFrame, path: Path) -> bool:
    """Whether the notebooks need a contract-conforming copy rather than the user's file."""
    return (
        path.suffix.lower() != ".csv"
        or bool(df.attrs.get("dropped_identifiers"))
        or bool(df.attrs.get("derived_from_dates"))
        or bool(df.attrs.get("mapped"))
    )


def write_prepared(df: pd.DataFrame, folder: Path, name: str) -> Path:
    """Write the validated contract columns as CSV into ``folder`` (a private temp folder)."""
    from nethep.cohort import fields

    path = folder / name
    df[list(fields())].to_csv(path, index=False, lineterminator="\n")
    return path


def summary_text(df: pd.DataFrame) -> str:
    """What ``nethep validate`` prints for a valid file: aggregates only, no rows."""
    groups = df["treatment_group"].value_counts()
    lines = [
        f"{df.attrs.get('source', 'cohort')}: valid",
        f"  patients read {len(df)}, excluded 0, analysed {len(df)}",
        "  groups: " + ", ".join(f"{g} {int(groups.get(g, 0))}"
                                 for g in ("medical", "embolization", "surgical")),
        f"  deaths {int(df['died'].sum())}, censored {int((df['died'] == 0).sum())}",
        f"  follow-up {float(df['followup_months'].min()):.1f} to "
        f"{float(df['followup_months'].max()):.1f} months",
    ]
    if df.attrs.get("dropped_identifiers"):
        lines.append("  identifier columns dropped: " + ", ".join(df.attrs["dropped_identifiers"]))
    if df.attrs.get("derived_from_dates"):
        lines.append("  months derived from: " + ", ".join(df.attrs["derived_from_dates"])
                     + " (30.4375-day months); dates dropped")
    return "\n".join(lines)
