"""Load, validate and derive the patient-level cohort.

The data contract lives in one place, ``data/datapackage.json`` (a Frictionless
Table Schema with nethep's extra properties ``provenance``, ``group_of`` and
``rules``), read through :mod:`nethep.contract`. :func:`load_cohort` reads the file
as text through :func:`nethep.intake.read_intake`, parses every cell by the
contract's type, validates field constraints with a pandera schema built from the
same contract, checks the cross-field rules, and raises one
:class:`CohortValidationError` listing every problem at once. Nothing is coerced
or dropped silently, and the input file is only read.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from nethep.contract import fields, treatment_groups
from nethep.errors import CohortValidationError, Problem
from nethep.estimable import arms_without_deaths, deaths_reason
from nethep.intake import Intake, normalise_name, read_intake, unit_in_name
from nethep.paths import BUNDLED_COHORT
from nethep.readers import LINE

# ASCII digits only: Python's \d also matches other scripts' digits (e.g. full-width).
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_INT64_MAX = 2**63 - 1
#: How a user's own cohort is named in every output unless ``label`` says otherwise
#: (never by its file name or path).
DEFAULT_LABEL = "your cohort"
#: The environment variable that carries the label into a notebook's kernel (``nethep run``).
LABEL_ENV = "NETHEP_LABEL"
#: Small-cell suppression for a user's own data unless asked otherwise: counts from 1 to
#: 10 are hidden (the common threshold of data-use agreements, e.g. CMS's cell size
#: suppression policy). The bundled reconstruction is public: 0, nothing hidden.
USER_MIN_CELL = 11
#: Longest time read as months: 30 years. A neuroendocrine liver-metastasis cohort has no
#: follow-up that long; such values are days or weeks written in a month column.
MAX_PLAUSIBLE_MONTHS = 360.0
#: REDCap's columns of a longitudinal or repeating project (several rows per record).
REDCAP_LONGITUDINAL = ("redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance")


def _closest(value: str, allowed: list[Any]) -> str:
    choices = [str(a) for a in allowed]
    match = difflib.get_close_matches(value.strip().lower(), choices, n=1, cutoff=0.5)
    allowed_text = ", ".join(choices)
    if value != value.strip() and value.strip() in choices:
        return f"remove the spaces around the label (use '{value.strip()}')"
    if match:
        return f"did you mean '{match[0]}'? Allowed: {allowed_text}"
    return f"use one of: {allowed_text}"


def _parse_cell(text: str, kind: str) -> tuple[Any, str]:
    """A typed value (None when empty) and "" , or None and the rule the text breaks."""
    if text == "":
        return None, ""
    if kind == "integer":
        if not _INTEGER.fullmatch(text):
            return None, "is not a valid integer"
        try:
            value = int(text)
        except ValueError:  # more digits than Python converts
            return None, "is not a valid integer (far too large)"
        if abs(value) > _INT64_MAX:
            return None, "is not a valid integer (far too large)"
        return value, ""
    if not _NUMBER.fullmatch(text):
        return None, "is not a valid number"
    value = float(text)
    if not np.isfinite(value):
        return None, "is not a valid number (far too large)"
    return value, ""


def _parse_column(raw: pd.Series, field: dict[str, Any]) -> tuple[pd.Series, pd.Series, str]:
    """Parse one text column by the contract type.

    Returns the typed values (missing where empty or unparseable), the rule each
    unparseable cell breaks ("" where the cell is fine), and the fix to suggest.
    Numbers are read with Python's ``float`` (correctly rounded, so a value
    written with ``repr`` reads back exactly); integers must fit in 64 bits.
    """
    kind = field["type"]
    present = raw != ""
    if kind == "string":
        return (raw.where(present, None).astype(object),
                pd.Series("", index=raw.index, dtype=object), "")
    # an empty cell is a way out only where the contract lets the value be missing
    unknown = ("" if field.get("constraints", {}).get("required")
               else ", or leave the cell empty if unknown")
    if kind == "integer":
        fix = f"write a whole number without decimals or units{unknown}"
    else:
        fix = f"write a number with a decimal point (not a comma) and no units{unknown}"
    # Each distinct text is parsed once and spread back to its cells (a registry
    # column holds few distinct values: a million rows parse in a fraction of a second).
    codes, uniques = pd.factorize(raw.to_numpy(dtype=object), use_na_sentinel=False)
    parsed = [_parse_cell(text, kind) for text in uniques]
    rules = pd.Series(np.array([rule for _, rule in parsed], dtype=object)[codes],
                      index=raw.index, dtype=object)
    values = pd.Series(pd.array([v for v, _ in parsed],
                                dtype="Int64" if kind == "integer" else "Float64").take(codes),
                       index=raw.index)
    return values, rules, fix


def _rule_text(field: dict[str, Any], check: str) -> str:
    c = field.get("constraints", {})
    return {
        "isin": f"must be one of {', '.join(map(str, c.get('enum', [])))}",
        "greater_than_or_equal_to": f"must be at least {c.get('minimum')}",
        "less_than_or_equal_to": f"must be at most {c.get('maximum')}",
        "greater_than": f"must be greater than {c.get('exclusiveMinimum')}",
        "not_nullable": "is required and must not be empty",
        "field_uniqueness": "must be unique (each patient appears once)",
    }.get(check, check)


def _rule_fix(field: dict[str, Any], check: str, value: Any) -> str:
    if check == "isin":
        return _closest(str(value), field["constraints"]["enum"])
    if check == "not_nullable":
        return f"fill in {field['name']} for this patient ({field['description']})"
    if check == "field_uniqueness":
        return "give each patient one row and one id; merge or renumber the duplicates"
    return f"correct the value ({field['description']})"


@cache
def cohort_schema() -> pa.DataFrameSchema:
    """A pandera schema with every field constraint of the contract."""
    columns = {}
    for name, field in fields().items():
        c = field.get("constraints", {})
        checks = []
        if "enum" in c:
            checks.append(pa.Check.isin(c["enum"]))
        if "minimum" in c:
            checks.append(pa.Check.ge(c["minimum"]))
        if "maximum" in c:
            checks.append(pa.Check.le(c["maximum"]))
        if "exclusiveMinimum" in c:
            checks.append(pa.Check.gt(c["exclusiveMinimum"]))
        columns[name] = pa.Column(
            checks=checks,
            nullable=not c.get("required", False),
            unique=c.get("unique", False),
            coerce=False,
        )
    return pa.DataFrameSchema(columns, strict=False)


def _locate(frame: pd.DataFrame, index: int) -> tuple[int, str | None]:
    """File line (header is line 1) and patient id of a row.

    A frame read by :mod:`nethep.readers` is indexed by file line (index name
    :data:`~nethep.readers.LINE`), which stays right across blank lines and cells holding line
    breaks; any other frame is taken to have one line per row after the header.
    """
    pid = frame.at[index, "patient_id"] if "patient_id" in frame else None
    line = int(index) if frame.index.name == LINE else int(index) + 2
    return line, (pid if isinstance(pid, str) and pid else None)


def _as_text(raw: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text, missing (None/NaN) as "" (frames from intake are text already)."""
    def cell(x: Any) -> str:
        if isinstance(x, str):
            return x
        if x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA:
            return ""
        return str(x)

    def all_text(col: pd.Series) -> bool:
        if col.dtype == object:  # fast: infer_dtype is "string" only when every cell is str
            return pd.api.types.infer_dtype(col, skipna=False) in ("string", "empty")
        return bool(col.map(lambda x: isinstance(x, str)).all())

    if all(all_text(raw[c]) for c in raw.columns):
        return raw
    return raw.apply(lambda col: col.map(cell).astype(object))


def _missing_column_fix(name: str, field: dict[str, Any], present: list[str]) -> str:
    words = {"followup_months": {"fu", "follow", "followup", "survival", "os", "time"},
             "months_to_treatment": {"treatment", "treat", "tx", "therapy"}}.get(name, set())
    for column in present:
        unit = unit_in_name(column)
        if unit and words & set(normalise_name(column).split("_")):
            return (f"the file has a column '{column}' in {unit}: map it to '{name}' with "
                    f"--map and pass --time-unit {unit} (nethep converts to months)")
    norm = {normalise_name(c): c for c in present}
    near = norm.get(name) or next(iter(difflib.get_close_matches(name, present, n=1,
                                                                 cutoff=0.75)), None)
    if near is not None:
        return (f"the file has a column '{near}': rename it to '{name}' (names are matched "
                "exactly), or map it with --map (see data/template_map.yaml)")
    fix = f"add a column '{name}': {field['description']}"
    if name in ("followup_months", "months_to_treatment", "year_of_diagnosis"):
        fix += (" Or give the dates date_of_diagnosis, date_of_treatment, date_last_contact "
                "and date_of_death (YYYY-MM-DD) and nethep derives it")
    return fix


def _rule_problems(df: pd.DataFrame, raw: pd.DataFrame, file: str) -> list[Problem]:
    """Cross-field rules of the contract (``schema.rules``), one Problem per row."""
    problems: list[Problem] = []
    group_of = treatment_groups()

    def add(mask: pd.Series, column: str, rule: str, fix: str) -> None:
        for i in np.flatnonzero(mask.fillna(False).to_numpy(dtype=bool)):
            index = df.index[i]
            line, pid = _locate(raw, index)
            problems.append(Problem(file, line, pid, column, raw.at[index, column], rule, fix))

    expected = df["treatment"].map(group_of)
    add(
        expected.notna() & df["treatment_group"].isin(set(group_of.values()))
        & (expected != df["treatment_group"]),
        "treatment",
        "rule treatment_in_group: treatment does not belong to its treatment_group",
        "check treatment and treatment_group; "
        + "; ".join(f"{t} -> {g}" for t, g in group_of.items()),
    )
    untreated = df["treatment"] == "observation"
    add(
        untreated & df["months_to_treatment"].notna(),
        "months_to_treatment",
        "rule treatment_time_iff_treated: observation patients have no treatment date",
        "leave months_to_treatment empty for observation, or correct the treatment",
    )
    add(
        df["treatment"].notna() & ~untreated & df["months_to_treatment"].isna()
        & (raw["months_to_treatment"] == ""),
        "months_to_treatment",
        "rule treatment_time_iff_treated: treated patients need the time to first treatment",
        "fill in months from diagnosis of liver metastases to first treatment",
    )
    add(
        df["months_to_treatment"] > df["followup_months"],
        "months_to_treatment",
        "rule treatment_before_end_of_followup: treatment after death or last contact",
        "check months_to_treatment and followup_months against the record",
    )
    add(
        (df["symptomatic"] == 0) & df["palliated"].notna(),
        "palliated",
        "rule palliated_iff_symptomatic: palliated is set for a patient without symptoms",
        "leave palliated empty when symptomatic is 0, or correct symptomatic",
    )
    add(
        (df["symptomatic"] == 1) & df["palliated"].isna() & (raw["palliated"] == ""),
        "palliated",
        "rule palliated_iff_symptomatic: symptomatic patient without a palliation outcome",
        "fill in palliated (1 palliated, 0 not) for every symptomatic patient",
    )
    return problems


def _id_problems(raw: pd.DataFrame, file: str) -> list[Problem]:
    """Patient ids that differ only by case or surrounding spaces: the same patient twice
    (ids are compared trimmed and case-folded), reported on every line, naming the others."""
    stripped = raw["patient_id"].str.strip()
    key = stripped.str.casefold()
    shared = (stripped != "") & key.duplicated(keep=False)  # only these can clash
    problems = []
    for _, group in raw[shared].groupby(key[shared], sort=False):
        if group["patient_id"].nunique() < 2:
            continue  # exact repeats: the uniqueness check reports those
        located = [_locate(raw, index) for index in group.index]
        for index, (line, pid) in zip(group.index, located, strict=True):
            others = ", ".join(f"line {other} ({raw.at[i, 'patient_id']!r})"
                               for i, (other, _) in zip(group.index, located, strict=True)
                               if i != index)
            problems.append(Problem(
                file, line, pid, "patient_id", raw.at[index, "patient_id"],
                f"the same id as {others} once case and surrounding spaces are ignored",
                "ids are compared without case and spaces: give each patient one row and one "
                "id; merge the rows if they are the same patient, or renumber them"))
    return problems


def _plausibility_problems(df: pd.DataFrame, raw: pd.DataFrame, file: str) -> list[Problem]:
    """Values a spreadsheet lets through that cannot be what the contract means: a time
    over :data:`MAX_PLAUSIBLE_MONTHS` months (days or weeks in a month column), and a
    liver involvement that is a fraction in every row (Excel's 34% stored as 0.34)."""
    problems = []
    for column in ("followup_months", "months_to_treatment"):
        long = df[column] > MAX_PLAUSIBLE_MONTHS
        for index in df.index[long.fillna(False).to_numpy(dtype=bool)]:
            line, pid = _locate(raw, index)
            problems.append(Problem(
                file, line, pid, column, raw.at[index, column],
                f"is over {MAX_PLAUSIBLE_MONTHS:g} months (30 years): implausible as months",
                "if the column holds days or weeks, pass --time-unit days (or weeks) and "
                "nethep converts them to months; otherwise correct the value"))
    liver = df["liver_involvement_pct"].dropna()
    if len(liver) >= 2 and (liver <= 1).all() and (liver > 0).any():
        problems.append(Problem(
            file, None, None, "liver_involvement_pct", None,
            "every value is between 0 and 1: they look like fractions (a spreadsheet's 34% "
            "saved as 0.34), but the contract asks for percentages from 0 to 100",
            "write percentages (34 for 34%): multiply the column by 100, or give the .xlsx "
            "file, whose percent-formatted cells nethep reads as percentages"))
    return problems


def validate(raw: pd.DataFrame, file: str) -> pd.DataFrame:
    """Parse and validate a text frame against the contract; raise on any problem
    (every problem :func:`check` finds, at once)."""
    df, problems = check(raw, file)
    if problems or df is None:
        raise CohortValidationError(problems)
    return df


def check(raw: pd.DataFrame, file: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Parse and validate a text frame against the contract: the typed frame (None when
    it cannot be built) and every problem, located.

    ``raw`` holds text cells ("" is missing; None/NaN are taken as missing too).
    Repeated column names stop validation at once; missing contract columns are
    reported and the other columns still checked: every unparseable cell, field
    constraint, cross-field rule and plausibility check is reported together, located
    by line (see :func:`_locate`) and patient id.
    """
    spec = fields()
    problems: list[Problem] = []
    names = [str(c) for c in raw.columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    for name in repeated:
        problems.append(Problem(file, 1, None, name, None,
                                f"the column name appears {names.count(name)} times",
                                "keep one column with this name; rename or delete the others"))
    if repeated:
        return None, problems
    missing = [name for name in spec if name not in names]
    for name in missing:
        problems.append(Problem(file, 1, None, name, None, "required column is missing",
                                _missing_column_fix(name, spec[name],
                                                    [n for n in names if n not in spec])))
    if missing:  # the present columns are still checked; nothing is said of the absent
        raw = raw.assign(**{name: "" for name in missing})
    raw = _as_text(raw)
    if raw.empty:
        return None, [*problems, Problem(file, None, None, None, None, "the file has a header "
                                         "but no patients", "add one row per patient below "
                                         "the header")]
    typed = {}
    unparsed = pd.DataFrame(False, index=raw.index, columns=list(spec))
    for name, field in spec.items():
        values, rules, fix = _parse_column(raw[name], field)
        typed[name] = values
        bad = rules != ""
        unparsed[name] = bad
        for index in raw.index[bad.to_numpy()]:
            line, pid = _locate(raw, index)
            problems.append(Problem(file, line, pid, name, raw.at[index, name],
                                    rules.at[index], fix))
    df = pd.DataFrame(typed, index=raw.index)
    try:
        cohort_schema().validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        for case in cases.itertuples(index=False):
            name = case.column
            check = str(case.check).split("(")[0]
            index = case.index
            if index is None or (isinstance(index, float) and np.isnan(index)):
                continue
            index = int(index)
            if unparsed.at[index, name]:
                continue  # already reported as unparseable
            field = spec[name]
            line, pid = _locate(raw, index)
            problems.append(Problem(file, line, pid, name, raw.at[index, name],
                                    _rule_text(field, check),
                                    _rule_fix(field, check, raw.at[index, name])))
    problems.extend(_rule_problems(df, raw, file))
    problems.extend(_id_problems(raw, file))
    problems.extend(_plausibility_problems(df, raw, file))
    longitudinal = [c for c in REDCAP_LONGITUDINAL if c in raw.columns]
    if longitudinal:
        problems = [p if p.rule != _rule_text(spec["patient_id"], "field_uniqueness") else
                    dataclasses.replace(p, fix=(
                        f"this looks like a REDCap longitudinal or repeating export "
                        f"({', '.join(longitudinal)}): export one row per patient (e.g. the "
                        "baseline event only, or a report with one row per record)"))
                    for p in problems]
    problems.sort(key=lambda p: (p.line or 0, list(spec).index(p.column) if p.column in spec
                                 else -1))
    if missing:
        return None, [p for p in problems
                      if p.column not in missing or p.rule == "required column is missing"]
    return df, problems


#: The paper's endpoint: survival at 3 years (36 months), estimated in each arm.
ENDPOINT_MONTHS = 36.0
#: Fewer patients than this in an arm make every comparison very imprecise (said, not
#: refused).
FEW_PER_ARM = 5


def analysable_problems(df: pd.DataFrame, file: str) -> list[Problem]:
    """What makes a valid cohort impossible to analyse at all: no patients. Everything
    else (one patient, one arm, one treatment group, no deaths, no deaths in an arm, one
    tumour type, follow-up short of 36 months, no symptomatic patient) is analysed, and
    each section that cannot be estimated says so in words (:mod:`nethep.estimable`);
    :func:`not_estimable_sections` lists them before a run."""
    if len(df):
        return []
    return [Problem(file, None, None, None, None, "the file has no patients to analyse",
                    "add one row per patient below the header")]


def refuse_unanalysable(df: pd.DataFrame, file: str) -> None:
    """Raise :class:`CohortValidationError` with :func:`analysable_problems`, if any."""
    problems = analysable_problems(df, file)
    if problems:
        raise CohortValidationError(problems)


def not_estimable_sections(df: pd.DataFrame) -> list[str]:
    """What the notebooks will report as not estimable (or imprecise) on ``df``, one
    sentence each, for ``nethep validate`` to say before a run (a derived cohort:
    :func:`derive`). Empty for a cohort where every section can be estimated."""
    notes = []
    arms = {"surgical": df[df["surgical"]], "non-surgical": df[~df["surgical"]]}
    sizes = {arm: len(rows) for arm, rows in arms.items()}
    if min(sizes.values()) == 0:
        present = next(a for a, n in sizes.items() if n)
        notes.append(f"only {present} patients: every surgical vs non-surgical comparison "
                     "(log-rank, Cox, Firth, exact and permutation tests, adjusted and "
                     "weighted models, landmarks, RMST, power) is not estimable")
    elif min(sizes.values()) < FEW_PER_ARM:
        notes.append(f"{sizes['surgical']} surgical and {sizes['non-surgical']} non-surgical "
                     f"patient(s): with fewer than {FEW_PER_ARM} in an arm every comparison is "
                     "very imprecise, and some models may not be estimable")
    if deaths_reason(df):
        notes.append("no patient died: survival comparisons, hazard ratios and medians are "
                     "not estimable")
    elif min(sizes.values()) > 0:
        notes += [f"no deaths in the {arm} arm: the Cox, adjusted, weighted and landmark "
                  "hazard ratios are not estimable (the Firth estimate is)"
                  for arm in arms_without_deaths(df)]
    for arm, rows in arms.items():
        if len(rows):
            last = rows.loc[rows["followup_months"].idxmax()]
            if last["followup_months"] < ENDPOINT_MONTHS and not last["died"]:
                notes.append(f"follow-up in the {arm} arm ends at "
                             f"{float(last['followup_months']):.1f} months: its 3-year "
                             "(36-month) survival and the bootstrap of the 3-year "
                             "difference are not estimable")
    if df["treatment_group"].nunique() < 2:
        notes.append("one treatment group: the comparisons across treatment groups (Table 1 "
                     "tests, three-group log-rank, palliation tests) are not estimable")
    if df["tumor_type"].nunique() < 2:
        notes.append("one tumour type: the adjusted model and the propensity score leave "
                     "tumour type out (it cannot confound here)")
    if not int(df["symptomatic"].sum()):
        notes.append("no symptomatic patient: palliation rates and their tests are not "
                     "estimable")
    return notes


def default_min_cell(reconstructed: bool) -> int:
    """The small-cell threshold when none is asked for: 0 for the bundled
    reconstruction, :data:`USER_MIN_CELL` for a user's data."""
    return 0 if reconstructed else USER_MIN_CELL


def derive(df: pd.DataFrame) -> pd.DataFrame:
    """Add analysis columns: ``surgical`` (bool) and ``arm`` (surgical / nonsurgical)."""
    out = df.copy()
    out["surgical"] = out["treatment_group"] == "surgical"
    out["arm"] = np.where(out["surgical"], "surgical", "nonsurgical")
    return out


def _merge(intake: Intake, problems: list[Problem], map_path: Path | None) -> list[Problem]:
    """Intake problems first, then validation's, less those the former already explain (a
    month column missing because its dates or map line were wrong), with the fix for an
    unlisted code of a recoded column pointing at the mapping file's ``values:``."""
    lines = {p.line for p in intake.problems if p.line is not None} | intake.date_problem_lines
    kept = []
    for p in problems:
        if p.column in intake.explained and (p.rule == "required column is missing"
                                             or p.line in lines):
            continue
        if (map_path is not None and p.column in intake.recoded
                and p.rule.startswith("must be one of")):
            p = dataclasses.replace(p, fix=(
                f"add the code under 'values: {p.column}:' in {map_path.name} (your label: "
                f"contract label), or correct the record. {p.fix}"))
        kept.append(p)
    return [*intake.problems, *kept]


def load_cohort(
    path: str | Path | None = None,
    map_path: str | Path | None = None,
    allow_identifiers: bool = False,
    sheet: str | None = None,
    *,
    label: str | None = None,
    header_row: int | None = None,
    time_unit: str = "months",
    date_format: str | None = None,
) -> pd.DataFrame:
    """Load and validate a cohort file (default: the bundled reconstruction).

    Reads CSV, TSV, .xlsx or Parquet through :func:`nethep.intake.read_intake`
    (identifier refusal, optional mapping file, time unit, dates to months), validates
    it against the contract and returns a typed DataFrame with the contract's columns
    plus derived ones. ``df.attrs`` records ``source`` (``label``, default "your
    cohort" for a user's file, never its name; the bundled file's name),
    ``reconstructed`` (True only when the bytes equal the bundled reconstruction),
    ``dropped_identifiers`` and ``derived_from_dates``. Raises
    :class:`CohortValidationError` listing every problem at once (identifiers,
    mapping, dates and values in one pass); the file is only read.
    """
    file = Path(path) if path is not None else BUNDLED_COHORT
    if not file.is_file():
        raise CohortValidationError([Problem(str(file), None, None, None, None,
                                             "no such file", "check the path given to --data")])
    mapping = None if map_path is None else Path(map_path)
    intake = read_intake(file, mapping, allow_identifiers, sheet, header_row=header_row,
                         time_unit=time_unit, date_format=date_format, collect=True)
    df, problems = check(intake.table, str(file))
    problems = _merge(intake, problems, mapping)
    if problems or df is None:
        raise CohortValidationError(problems)
    df = derive(df)
    df = df.set_index("patient_id", drop=False)
    df.index.name = None
    reconstructed = (BUNDLED_COHORT.is_file()
                     and file.read_bytes() == BUNDLED_COHORT.read_bytes())
    df.attrs["source"] = (label or (file.name if reconstructed else DEFAULT_LABEL))
    df.attrs["reconstructed"] = reconstructed
    df.attrs["dropped_identifiers"] = list(intake.dropped_identifiers)
    df.attrs["derived_from_dates"] = list(intake.derived_from_dates)
    df.attrs["mapped"] = map_path is not None
    df.attrs["skipped_empty_rows"] = list(intake.skipped_empty_rows)
    return df
