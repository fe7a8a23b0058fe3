"""The front door for a user's own cohort: read, refuse identifiers, map, derive months.

Steps, in order, each reporting every problem it finds; a problem in one step does
not hide those of the next (what fits is applied, the rest reported), so identifiers,
mapping, dates and then validation proper (:func:`nethep.cohort.check`) come in one
report:

1. :func:`nethep.readers.read_text_table` reads CSV, TSV, Excel (.xlsx) or Parquet
   with every cell as text, indexed by the line of each row in the file.
2. :func:`nethep.identifiers.screen_identifiers` finds direct identifiers (HIPAA
   Safe Harbor categories and their European counterparts: names, dates of birth,
   addresses, postcodes, phone, e-mail, national health and hospital numbers, ...) by
   header in six languages and by value (e-mail, phone, national numbers with their
   checksums, postcodes, dates of birth, long free text); docs/identifiers.md. They
   are refused, naming the columns and never echoing a value, unless
   ``allow_identifiers=True``; then they are dropped before anything else happens
   (a contract column, such as ``patient_id`` holding NHS numbers, is refused still).
3. :func:`map_columns` renames the user's columns and recodes their labels to
   the contract's with a YAML mapping file (see ``data/template_map.yaml``);
   :func:`convert_time_unit` reads the month columns in the ``--time-unit`` given
   (days, weeks, months, years).
4. :func:`derive_months` turns dates (YYYY-MM-DD, or ``--date-format``) (``date_of_diagnosis``,
   ``date_of_treatment``, ``date_last_contact``, ``date_of_death``) into the
   contract's month columns, with months of 30.4375 days (365.25 / 12), and checks
   their order. Date columns are dropped afterwards: no date reaches an analysis
   or an output.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd
import yaml

from nethep.contract import DAYS_PER_MONTH, fields
from nethep.errors import CohortValidationError, Problem, fail
from nethep.identifiers import screen_headers, screen_identifiers
from nethep.readers import LINE, read_text_table

DATE_COLUMNS = ("date_of_diagnosis", "date_of_treatment", "date_last_contact", "date_of_death")
_ISO_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"

@dataclass(frozen=True)
class Intake:
    """A user's table as text, ready for contract validation, and what was done to it."""

    table: pd.DataFrame
    file: str
    dropped_identifiers: tuple[str, ...] = ()
    derived_from_dates: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    skipped_empty_rows: tuple[int, ...] = ()  # file lines of rows with every cell empty
    #: every problem found before validation proper (identifiers, mapping, dates); empty
    #: unless ``read_intake(..., collect=True)``, which returns them instead of raising
    problems: tuple[Problem, ...] = ()
    #: contract columns whose absence those problems already explain
    explained: frozenset[str] = frozenset()
    #: contract columns whose labels the mapping file recodes (``values:``)
    recoded: tuple[str, ...] = ()
    #: file lines of rows whose month columns could not be derived from their dates
    date_problem_lines: frozenset[int] = frozenset()


def normalise_name(name: str) -> str:
    """A column name in lower case with every run of other characters as one ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def identifier_columns(columns: list[str]) -> dict[str, str]:
    """Columns whose headers name direct identifiers, with the kind (six-language
    vocabulary, :func:`nethep.identifiers.header_match`); :func:`read_intake` also
    screens the values (:func:`nethep.identifiers.screen_identifiers`)."""
    return screen_headers(columns).kinds()


def _line_of(frame: pd.DataFrame, position: int) -> int:
    """File line of the row at ``position``: the index when it holds lines, else position + 2."""
    if frame.index.name == LINE:
        return int(frame.index[position])
    return position + 2


# --------------------------------------------------------------------------- mapping


#: Words for time units in column names (several languages), by the --time-unit they mean.
UNIT_WORDS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "days": ("day", "days", "d", "jours", "jour", "tage", "tagen", "dias", "giorni", "dagen"),
    "weeks": ("week", "weeks", "wk", "wks", "semaines", "wochen", "semanas", "settimane",
              "weken"),
    "years": ("year", "years", "yr", "yrs", "ans", "annees", "jahre", "anos", "anni", "jaren"),
})
#: Length of each --time-unit in months (of 30.4375 days).
MONTHS_PER_UNIT: Mapping[str, float] = MappingProxyType({
    "days": 1 / DAYS_PER_MONTH, "weeks": 7 / DAYS_PER_MONTH, "months": 1.0, "years": 12.0})


def unit_in_name(name: str) -> str | None:
    """The time unit a column name states (``days``, ``weeks``, ``years``), if any."""
    tokens = set(normalise_name(name).split("_"))
    return next((unit for unit, words in UNIT_WORDS.items() if tokens & set(words)), None)




def _closest_name(name: str, choices: list[str]) -> str:
    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if not match:
        by_norm = {normalise_name(c): c for c in choices}
        match = [by_norm[normalise_name(name)]] if normalise_name(name) in by_norm else []
    return f"did you mean '{match[0]}'? " if match else ""


def apply_mapping(raw: pd.DataFrame, mapping: dict[str, Any], file: str,
                  map_file: str) -> pd.DataFrame:
    """Rename columns and recode labels as the mapping file says; raise every problem."""
    out, problems = map_columns(raw, mapping, file, map_file)
    if problems:
        raise CohortValidationError(problems)
    return out


def map_columns(raw: pd.DataFrame, mapping: dict[str, Any], file: str, map_file: str,
                time_unit: str = "months",
                dropped: tuple[str, ...] = ()) -> tuple[pd.DataFrame, list[Problem]]:
    """:func:`apply_mapping` that returns its problems and applies what fits: renames and
    recodings with a problem are left out. A column whose name states another time
    unit (``FU days``) mapped to a month column needs ``--time-unit``; a map line for a
    ``dropped`` identifier column is named as such (never suggesting another one)."""
    problems = []
    columns = mapping.get("columns") or {}
    values = mapping.get("values") or {}
    unknown_keys = set(mapping) - {"columns", "values"}
    if unknown_keys:
        problems.append(Problem.at(map_file, f"unknown section(s) {sorted(map(str, unknown_keys))}",
                                 "a mapping file has only 'columns:' and 'values:'"))
    if not isinstance(columns, dict):
        problems.append(Problem.at(map_file, "'columns:' is not a list of 'your column: contract "
                                 "column' lines", "start from data/template_map.yaml"))
        columns = {}
    if not isinstance(values, dict):
        problems.append(Problem.at(map_file, "'values:' is not a list of contract columns, each "
                                 "with 'your label: contract label' lines",
                                 "start from data/template_map.yaml"))
        values = {}
    columns = {str(k): v for k, v in columns.items()}
    targets_allowed = [*fields(), *DATE_COLUMNS]
    have = [str(c) for c in raw.columns]
    for theirs, ours in columns.items():
        if theirs in dropped:
            problems.append(Problem.at(
                map_file, f"maps '{theirs}', an identifier column (dropped, never analysed)",
                "delete this line from the mapping file", column=theirs))
        elif theirs not in have:
            problems.append(Problem.at(
                map_file, f"maps column '{theirs}', which {file} lacks",
                f"{_closest_name(theirs, have)}columns in the file: {', '.join(have)}",
                column=theirs))
        if not isinstance(ours, str) or ours not in targets_allowed:
            problems.append(Problem.at(
                map_file, f"maps '{theirs}' to {ours!r}, which is not a contract column",
                f"{_closest_name(str(ours), targets_allowed)}contract columns: "
                f"{', '.join(targets_allowed)}", column=theirs))
        elif ours != theirs and ours in have and ours not in columns:
            problems.append(Problem.at(
                map_file, f"maps '{theirs}' to '{ours}', but the file already has a column "
                f"'{ours}'", f"map only one of them to '{ours}', or delete the other column",
                column=ours))
    targets = [t for t in columns.values() if isinstance(t, str)]
    for ours in sorted({t for t in targets if targets.count(t) > 1}):
        problems.append(Problem.at(map_file, f"several columns are mapped to '{ours}' ("
                                 + ", ".join(f"'{k}'" for k, v in columns.items() if v == ours)
                                 + ")", "map exactly one of your columns to each contract column",
                                 column=ours))
    after = [columns.get(c, c) for c in have]
    tables = {}
    for col, recode in values.items():
        col = str(col)
        if col not in after:
            problems.append(Problem.at(
                map_file, f"recodes values of '{col}', which is not a column after renaming",
                f"{_closest_name(col, after)}the 'values:' section is keyed by contract "
                "column names", column=col))
        elif not isinstance(recode or {}, dict) or not all(
                isinstance(v, str) for v in (recode or {}).values()):
            problems.append(Problem.at(
                map_file, f"the labels of '{col}' are not 'your label: contract label' lines",
                "write one 'your label: contract label' per line under the column",
                column=col))
        else:
            tables[col] = {str(k): v for k, v in (recode or {}).items()}
    bad = {p.column for p in problems}
    for theirs, ours in columns.items():
        unit = unit_in_name(theirs)
        if (ours in ("followup_months", "months_to_treatment") and unit
                and time_unit == "months"):
            problems.append(Problem.at(
                map_file, f"maps '{theirs}' to '{ours}', but its name says it holds {unit}",
                f"pass --time-unit {unit} (nethep converts to months), or map a column in "
                "months", column=theirs))
    out = raw.rename(columns={k: v for k, v in columns.items()
                              if k in have and k not in bad and v not in bad
                              and isinstance(v, str) and v in targets_allowed})
    for col, table in tables.items():
        if col in out.columns:
            out[col] = out[col].map(lambda x, t=table: t.get(x, x))
    return out, problems


def load_mapping(map_path: Path) -> dict[str, Any]:
    """Read a mapping YAML file (``columns:`` theirs -> ours, ``values:`` per column).

    Every scalar is read as text (YAML's base loader), so ``Yes: 1``, ``01: medical``
    or ``1.0: x`` keep the labels exactly as written instead of becoming booleans
    or numbers that would never match a cell.
    """
    map_path = Path(map_path)
    try:
        mapping = yaml.load(map_path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())
        raise fail(str(map_path), f"cannot read the mapping file ({reason})",
                    "start from data/template_map.yaml; keep its indentation and quote "
                    "labels that contain ':' or '#'") from None
    if not isinstance(mapping, dict):
        raise fail(str(map_path), "the mapping file is not a YAML mapping",
                    "start from data/template_map.yaml")
    return mapping


# --------------------------------------------------------------------------- dates


#: Excel's serial day numbers of 1950-01-01 and 2100-12-31 (days since 1899-12-30).
_SERIAL_DAYS = (18264, 73415)
#: A day-month-year (or month-day-year) date with one separator, and an 8-digit date.
_DMY = re.compile(r"([0-9]{1,2})([/.\-])([0-9]{1,2})\2([0-9]{4}|[0-9]{2})")
SUMMARISE_AFTER = 1  # more unreadable dates in one column than this: one message for them


def _parse_date(text: str, date_format: str | None = None) -> date | None | str:
    """A date, None for an empty cell, or the reason the text is not a usable date.

    Dates are YYYY-MM-DD, or written as ``date_format`` (a ``strptime`` format such
    as ``%d/%m/%Y``) when one is given. A 5-digit number in Excel's range of serial
    day numbers is named as such (not read: which epoch it counts from is unknown).
    """
    if text == "":
        return None
    if date_format is not None and not re.fullmatch(_ISO_DATE, text):
        try:
            return datetime.strptime(text, date_format).date()
        except ValueError:
            return f"is not a date written as --date-format {date_format} or YYYY-MM-DD"
    if re.fullmatch(r"[0-9]{5}(\.0+)?", text) and _SERIAL_DAYS[0] <= float(text) <= _SERIAL_DAYS[1]:
        return "is a number like Excel's serial day numbers, not a date"
    if not re.fullmatch(_ISO_DATE, text):
        return "is not a date written YYYY-MM-DD"
    try:
        return date.fromisoformat(text)
    except ValueError:
        return "is not a day of the calendar (e.g. February 30)"


def _format_hint(texts: list[str]) -> str:
    """The ``--date-format`` that reads ``texts`` (never quoting them), or how to rewrite."""
    matches = [m for m in map(_DMY.fullmatch, texts) if m]
    if matches and len(matches) == len(texts):
        sep = matches[0].group(2)
        year = "%Y" if all(len(m.group(4)) == 4 for m in matches) else "%y"
        day_first = any(int(m.group(1)) > 12 for m in matches)
        month_first = any(int(m.group(3)) > 12 for m in matches)
        if day_first and not month_first:
            return f"pass --date-format %d{sep}%m{sep}{year} (day first, as these are)"
        if month_first and not day_first:
            return f"pass --date-format %m{sep}%d{sep}{year} (month first, as these are)"
        return (f"pass --date-format %d{sep}%m{sep}{year} if the day comes first, or "
                f"%m{sep}%d{sep}{year} if the month does (the values do not tell)")
    if texts and all(re.fullmatch(r"(19|20)[0-9]{6}", t) for t in texts):
        return "pass --date-format %Y%m%d"
    if texts and all("serial" in str(_parse_date(t)) for t in texts):
        return "format the column as a date in the spreadsheet (YYYY-MM-DD) and save again"
    return "write dates as YYYY-MM-DD (e.g. 2003-07-15), or name their layout with --date-format"


def derive_months(raw: pd.DataFrame, file: str, today: date | None = None,
                  date_format: str | None = None) -> pd.DataFrame:
    """Replace date columns by the contract's month columns (30.4375-day months).

    ``followup_months`` runs from diagnosis to death (a date of death given) or
    else to last contact; ``months_to_treatment`` from diagnosis to first
    treatment; ``year_of_diagnosis`` is the diagnosis year; ``died`` is 1 where a
    date of death is given, unless the file has its own ``died`` column (then the
    two must agree). Months are written with full precision (days / 30.4375).
    Dates must be YYYY-MM-DD (or ``date_format``); an empty diagnosis date, a date
    after ``today``, death, last contact or treatment before diagnosis, treatment
    after the end of follow-up, last contact after death, a follow-up of zero days,
    and ``died`` = 1 without a date of death are errors (all raised together). Date
    values are never echoed; many unreadable dates in a column make one message.
    """
    out, problems = months_from_dates(raw, file, today, date_format)
    if problems:
        raise CohortValidationError(problems)
    return out


def months_from_dates(raw: pd.DataFrame, file: str, today: date | None = None,
                      date_format: str | None = None) -> tuple[pd.DataFrame, list[Problem]]:
    """:func:`derive_months` that returns its problems instead of raising them (a row
    with a problem gets empty months)."""
    present = [c for c in DATE_COLUMNS if c in raw.columns]
    if not present:
        return raw, []
    today = today or date.today()
    both = [c for c in ("followup_months", "months_to_treatment", "year_of_diagnosis")
            if c in raw.columns]
    structural = []
    if both:
        structural.append(Problem.at(
            file, f"both dates ({', '.join(present)}) and month columns ({', '.join(both)}) "
            "are given", "give either the dates or the month columns, not both"))
    if "date_of_diagnosis" not in present or (
            "date_last_contact" not in present and "date_of_death" not in present):
        structural.append(Problem.at(
            file, "dates are given without date_of_diagnosis and date_last_contact or "
            "date_of_death", "give date_of_diagnosis plus date_last_contact (and "
            "date_of_death for patients who died)"))
    if "date_of_death" not in present and "died" not in raw.columns:
        structural.append(Problem.at(
            file, "dates are given without date_of_death or a died column, so no death could "
            "be known", "add date_of_death (YYYY-MM-DD) for patients who died, or a died "
            "column (1 died, 0 alive at last contact)"))
    if structural:
        return raw.drop(columns=present), structural
    problems: list[Problem] = []

    def report(position: int, column: str, rule: str, fix: str) -> None:
        problems.append(_row_problem(raw, position, file, column, rule, fix))

    parsed: dict[str, list[date | None]] = {}
    unreadable_all: list[tuple[int, str, str]] = []
    for col in present:
        parsed[col] = []
        unreadable: list[tuple[int, str, str]] = []
        for position, text in enumerate(raw[col]):
            value = _parse_date(text, date_format)
            if isinstance(value, str):
                unreadable.append((position, text, value))
                value = None
            elif value is not None and value > today:
                report(position, col, "is in the future",
                       "check the year; dates must not be after today")
                value = None
            parsed[col].append(value)
        unreadable_all += unreadable
        hint = _format_hint([text for _, text, _ in unreadable])
        if len(unreadable) > SUMMARISE_AFTER:
            lines = [_line_of(raw, position) for position, _, _ in unreadable]
            shown = ", ".join(map(str, lines[:10])) + (", ..." if len(lines) > 10 else "")
            problems.append(Problem.at(
                file, f"{len(unreadable)} of {len(raw)} dates are not written YYYY-MM-DD "
                f"(lines {shown}; values not shown: dates are identifying)", hint, column=col))
        else:
            for position, _, rule in unreadable:
                report(position, col, rule, hint)
    n = len(raw)
    none = [None] * n
    dx_all, treat_all = parsed["date_of_diagnosis"], parsed.get("date_of_treatment", none)
    last_all, death_all = parsed.get("date_last_contact", none), parsed.get("date_of_death", none)
    died_all = list(raw["died"]) if "died" in raw.columns else [None] * n
    texts = {c: list(raw[c]) for c in present}
    followup, to_treatment, year, died_out = [], [], [], []
    for i in range(n):
        dx, treat, last, death = dx_all[i], treat_all[i], last_all[i], death_all[i]
        end = death or last
        if dx is None and texts["date_of_diagnosis"][i] == "":
            report(i, "date_of_diagnosis", "no date of diagnosis",
                   "fill in the date of diagnosis of liver metastases (YYYY-MM-DD)")
        if dx is not None:
            if death is not None and death < dx:
                report(i, "date_of_death", "death is before diagnosis",
                       "check both dates; a negative survival time is impossible")
            if last is not None and last < dx:
                report(i, "date_last_contact", "last contact is before diagnosis",
                       "check both dates")
            if treat is not None and treat < dx:
                report(i, "date_of_treatment", "treatment is before diagnosis of liver "
                       "metastases", "check both dates; time is counted from diagnosis of "
                       "liver metastases")
            if end == dx:
                report(i, "date_of_death" if death else "date_last_contact",
                       "follow-up is zero days (death or last contact on the day of diagnosis)",
                       "check the dates; a survival analysis needs follow-up longer than zero")
        if treat is not None and end is not None and treat > end:
            report(i, "date_of_treatment", "treatment is after death or last contact",
                   "check the treatment date against the end of follow-up")
        if last is not None and death is not None and last > death:
            report(i, "date_last_contact", "last contact is after the date of death",
                   "check both dates")
        if end is None and all(texts[c][i] == "" for c in ("date_last_contact", "date_of_death")
                               if c in texts):
            report(i, "date_last_contact", "no date of last contact or death",
                   "fill in date_last_contact (or date_of_death)")
        death_text = texts["date_of_death"][i] if "date_of_death" in texts else ""
        if died_all[i] == "1" and death_text == "":
            if "date_of_death" in present:
                report(i, "date_of_death", "died is 1 but date_of_death is empty",
                       "fill in the date of death")
            else:
                report(i, "date_of_death", "died is 1 but the file has no date_of_death "
                       "column", "add date_of_death (YYYY-MM-DD) for every patient who died")
        if died_all[i] == "0" and death is not None:
            report(i, "date_of_death", "died is 0 but a date_of_death is given",
                   "correct died or the date")
        followup.append(_months(dx, end))
        to_treatment.append(_months(dx, treat))
        year.append("" if dx is None else str(dx.year))
        died_out.append("1" if death_text else "0")
    out = raw.drop(columns=present)
    # rows whose months could not be derived (their problems may be summarised per column)
    out.attrs["date_problem_lines"] = sorted(
        {p.line for p in problems if p.line is not None}
        | {_line_of(raw, position) for position, _, _ in unreadable_all})
    out["followup_months"] = followup
    out["months_to_treatment"] = to_treatment
    if "died" not in out.columns:
        out["died"] = died_out
    out["year_of_diagnosis"] = year
    return out, problems


def _months(start: date | None, end: date | None) -> str:
    """Months of 30.4375 days between two dates, written so it reads back exactly."""
    if start is None or end is None:
        return ""
    return repr((end - start).days / DAYS_PER_MONTH)


def _row_problem(raw: pd.DataFrame, i: int, file: str, column: str, rule: str,
                 fix: str) -> Problem:
    pid = raw["patient_id"].iloc[i] if "patient_id" in raw.columns else None
    # Never echo a date value: dates are identifying (Safe Harbor).
    return Problem.at(file, f"{rule} (value not shown: dates are identifying)", fix,
                    column=column, line=_line_of(raw, i), patient_id=pid or None)


# --------------------------------------------------------------------------- intake


def convert_time_unit(raw: pd.DataFrame, unit: str) -> pd.DataFrame:
    """``followup_months`` and ``months_to_treatment`` given in ``unit`` (days, weeks,
    months, years) as months of 30.4375 days, written so they read back exactly; a cell
    that is not a number is left for validation to report."""
    if unit not in MONTHS_PER_UNIT:
        raise ValueError(f"time unit must be one of {', '.join(MONTHS_PER_UNIT)}, not {unit!r}")
    if unit == "months":
        return raw
    out = raw.copy()

    def months(text: str) -> str:
        if not re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", text):
            return text
        value = float(text)
        if unit == "days":
            return repr(value / DAYS_PER_MONTH)
        if unit == "weeks":
            return repr(value * 7 / DAYS_PER_MONTH)
        return repr(value * MONTHS_PER_UNIT[unit])

    for column in ("followup_months", "months_to_treatment"):
        if column in out.columns:
            out[column] = out[column].map(months).astype(object)
    return out


def read_intake(path: Path, map_path: Path | None = None, allow_identifiers: bool = False,
                sheet: str | None = None, today: date | None = None, *,
                header_row: int | None = None, time_unit: str = "months",
                date_format: str | None = None, collect: bool = False) -> Intake:
    """Read a user's file and prepare it for contract validation (steps 1-4 above).

    Identifiers, mapping and date problems are gathered in one pass (a problem in one
    step does not hide those of the next: what fits is applied, the rest reported);
    they are raised together, or returned in ``Intake.problems`` with ``collect=True``
    so that validation proper can add its own. ``time_unit`` is the unit of
    ``followup_months`` and ``months_to_treatment`` in the file (default months).
    """
    file = str(path)
    raw = read_text_table(Path(path), sheet, header_row)
    skipped = tuple(raw.attrs.get("skipped_empty_rows", ()))
    raw.columns = [str(c) for c in raw.columns]
    problems: list[Problem] = []
    mapping = load_mapping(Path(map_path)) if map_path is not None else {}
    columns = mapping.get("columns") if isinstance(mapping.get("columns"), dict) else {}
    # a column the map renames to a contract column cannot be dropped either
    needed = frozenset(fields()) | {str(k) for k, v in columns.items() if v in fields()}
    screen = screen_identifiers(raw, today, needed)
    if screen.findings and (not allow_identifiers or screen.needed):
        problems.append(screen.problem(file))
    # --allow-identifiers drops them, except a contract column (reported above)
    found = {f.column: f.kind for f in screen.findings if not f.needed}
    raw = raw.drop(columns=list(found))
    explained: set[str] = set()
    recoded: tuple[str, ...] = ()
    if map_path is not None:
        raw, mapped = map_columns(raw, mapping, file, str(map_path), time_unit, tuple(found))
        problems += mapped
        if mapped:  # the columns the map meant to give, and those its typos resemble
            targets = [str(v) for v in columns.values()]
            explained |= {*targets, *(m for t in targets for m in difflib.get_close_matches(
                t, [*fields(), *DATE_COLUMNS], n=1, cutoff=0.6))}
        values = mapping.get("values") if isinstance(mapping.get("values"), dict) else {}
        recoded = tuple(str(c) for c in values)
    raw = convert_time_unit(raw, time_unit)
    dated = tuple(c for c in DATE_COLUMNS if c in raw.columns)
    table, from_dates = months_from_dates(raw, file, today, date_format)
    if from_dates:
        explained |= {"followup_months", "months_to_treatment", "year_of_diagnosis", "died"}
    problems += from_dates
    if problems and not collect:
        raise CohortValidationError(problems)
    notes = ()
    if skipped:
        notes = (f"skipped {len(skipped)} empty row(s) at line(s) "
                 + ", ".join(map(str, skipped)),)
    return Intake(table=table, file=file, dropped_identifiers=tuple(found),
                  derived_from_dates=dated, notes=notes, skipped_empty_rows=skipped,
                  problems=tuple(problems), explained=frozenset(explained), recoded=recoded,
                  date_problem_lines=frozenset(table.attrs.get("date_problem_lines", ())))


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
    path = folder / name
    df[list(fields())].to_csv(path, index=False, lineterminator="\n")
    return path
