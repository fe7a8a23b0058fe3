"""Describe the cohort: which data, how patients divide, and values by group.

- :func:`data_source`: which data were analysed (the ``data`` section of results.json).
- :func:`patient_flow`: rows read and excluded at intake, patients identified, by
  tumour type, treatment group and treatment, in the study's (the data contract's)
  order (a level with no patients is shown with 0; percentages are of the parent box),
  and per group the deaths, the patients alive at last contact and, of those, the
  patients lost to follow-up (:func:`lost_to_followup`).
- :func:`values_by_group`: the non-missing values of one column per treatment group,
  for strip plots and group medians (numpy's default, linear, R type 7 quantiles).

Table 1 (tests and SMDs across the groups) is :mod:`nethep.tableone`; follow-up is
:func:`nethep.survival.followup`. Every count shown goes through :mod:`nethep.privacy`
with the ``min_cell`` passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from nethep import privacy
from nethep.contract import (
    GROUP_TITLES,
    GROUPS,
    TREATMENT_LABELS,
    TREATMENTS,
    TUMOR_LABELS,
    TUMOR_TYPES,
    treatment_groups,
)
from nethep.formats import finite_or_none


def counts_by_level(series: pd.Series, levels: Sequence[Any]) -> dict[Any, int]:
    """How many values equal each level, in the order of ``levels`` (0 when absent)."""
    counts = series.value_counts()
    return {level: int(counts.get(level, 0)) for level in levels}


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DataSource:
    """Which data were analysed: the bundled reconstruction or a user's file."""

    reconstructed: bool
    source: str
    n_rows: int

    def to_results(self) -> dict[str, Any]:
        """The ``data`` section of ``results.json``."""
        return {"reconstructed": self.reconstructed, "source": self.source,
                "n_rows": self.n_rows}


def data_source(df: pd.DataFrame) -> DataSource:
    """The data source recorded by :func:`nethep.cohort.load_cohort` in ``df.attrs``."""
    return DataSource(reconstructed=bool(df.attrs.get("reconstructed", False)),
                      source=str(df.attrs.get("source", "unknown")), n_rows=len(df))


# --------------------------------------------------------------------------- patient flow


#: A patient alive at last contact is lost to follow-up when that contact falls more than
#: this many months before the data closure (:func:`lost_to_followup`).
LOST_MARGIN_MONTHS = 12.0


def lost_to_followup(df: pd.DataFrame, margin_months: float = LOST_MARGIN_MONTHS
                     ) -> tuple[pd.Series, float | None]:
    """Which patients were lost to follow-up, and the data closure (a decimal year).

    Only the year of diagnosis is known, so each patient's last contact is dated at
    ``year_of_diagnosis + 0.5 + followup_months / 12`` (diagnosis taken at mid-year), the
    data closure is the latest such date in the cohort, and a patient alive at last
    contact (``died == 0``) whose last contact falls more than ``margin_months``
    (default 12) before the closure counts as lost to follow-up: censored before the
    end of the study rather than at it. The 12-month margin covers the uncertainty of a
    diagnosis date known only to the year. Patients without a year of diagnosis are
    not counted as lost; the closure is None when no patient has a year.
    """
    year = pd.to_numeric(df["year_of_diagnosis"], errors="coerce")
    last = year + 0.5 + df["followup_months"].astype(float) / 12
    if last.notna().sum() == 0:
        return pd.Series(False, index=df.index), None
    closure = float(last.max())
    lost = (df["died"] == 0) & (last < closure - margin_months / 12)
    return lost.fillna(False).astype(bool), closure


@dataclass(frozen=True)
class GroupOutcome:
    """Deaths, patients alive at last contact, and of those the patients lost to
    follow-up, in one treatment group."""

    died: int
    alive: int
    lost: int


@dataclass(frozen=True)
class PatientFlow:
    """How many patients were identified and how they divide (study order, zeros kept).

    ``by_treatment`` holds every treatment of the contract, ``group_of`` maps each
    treatment to its group. ``first_year``/``last_year`` is the accrual window read
    from ``year_of_diagnosis`` (None when that column is empty). ``n_rows_read`` and
    ``excluded`` ((reason, rows) pairs) describe the intake: rows read from the file and
    rows left out before analysis (the intake refuses a file rather than drop a patient,
    so only empty rows are left out). ``outcome`` gives each group's
    :class:`GroupOutcome`; ``closure`` the data closure of :func:`lost_to_followup`.
    """

    n_identified: int
    by_tumor_type: dict[str, int]
    by_group: dict[str, int]
    by_treatment: dict[str, int]
    group_of: dict[str, str]
    first_year: int | None
    last_year: int | None
    n_rows_read: int = 0
    excluded: tuple[tuple[str, int], ...] = ()
    outcome: dict[str, GroupOutcome] = field(default_factory=dict)
    closure: float | None = None

    @property
    def n_excluded(self) -> int:
        """Rows left out at intake, all reasons."""
        return sum(n for _, n in self.excluded)

    @property
    def n_lost(self) -> int:
        """Patients lost to follow-up, all groups."""
        return sum(o.lost for o in self.outcome.values())

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """Tidy flow: step, level, label, parent, n and percent of the parent step.

        A count from 1 to ``min_cell`` - 1 reads ``<N`` and its percentage is hidden
        (a percentage of a known parent reveals the count)."""
        rows = [{"step": "identified", "level": "all", "label": "Identified",
                 "parent": "", "n": self.n_identified}]
        rows += [{"step": "tumor_type", "level": t, "label": TUMOR_LABELS.get(t, t),
                  "parent": "all", "n": n} for t, n in self.by_tumor_type.items()]
        rows += [{"step": "treatment_group", "level": g, "label": GROUP_TITLES.get(g, g),
                  "parent": "all", "n": n} for g, n in self.by_group.items()]
        rows += [{"step": "treatment", "level": t, "label": TREATMENT_LABELS.get(t, t),
                  "parent": self.group_of[t], "n": n} for t, n in self.by_treatment.items()]
        for g, o in self.outcome.items():
            rows += [{"step": step, "level": g, "label": label, "parent": g, "n": n}
                     for step, label, n in (("died", "Died", o.died),
                                            ("alive", "Alive at last contact", o.alive),
                                            ("lost", "Lost to follow-up", o.lost))]
        out = pd.DataFrame(rows)
        parent_n = {"": self.n_identified, "all": self.n_identified, **self.by_group}
        denominators = out["parent"].map(parent_n).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = 100 * out["n"] / denominators
        out["percent_of_parent"] = pct.where(denominators > 0)
        if min_cell > 1:
            small = out["n"].map(lambda n: privacy.is_small(n, min_cell))
            out["percent_of_parent"] = out["percent_of_parent"].mask(small)
            out = privacy.suppress_table(out, ["n"], min_cell)
        return out

    def to_results(self) -> dict[str, Any]:
        """JSON-ready dict for the ``cohort`` section of ``results.json``."""
        return {
            "n_patients": self.n_identified,
            "intake": {"n_rows": self.n_rows_read, "n_excluded": dict(self.excluded)},
            "n_by_group_lost_to_followup": {g: o.lost for g, o in self.outcome.items()},
            "n_by_group": dict(self.by_group),
            "n_by_tumor_type": dict(self.by_tumor_type),
            "n_by_treatment": dict(self.by_treatment),
            "accrual": {"first_year": self.first_year, "last_year": self.last_year},
        }

    def sentence(self, min_cell: int = 0) -> str:
        """One generated sentence describing the flow (counts from 1 to ``min_cell`` - 1
        read ``<N``)."""
        mark = partial(privacy.mark, threshold=min_cell)
        groups = ", ".join(f"{GROUP_TITLES.get(g, g).lower()} {mark(n)}"
                           for g, n in self.by_group.items())
        tumours = ", ".join(f"{TUMOR_LABELS.get(t, t).lower()} {mark(n)}"
                            for t, n in self.by_tumor_type.items())
        years = ("" if self.first_year is None
                 else f", diagnosed {self.first_year}-{self.last_year}")
        text = (f"{mark(self.n_identified)} patients were identified{years}: {tumours}; "
                f"by treatment group {groups}.")
        if self.outcome:
            died = sum(o.died for o in self.outcome.values())
            alive = sum(o.alive for o in self.outcome.values())
            text += (f" {mark(died)} died and {mark(alive)} were alive at last contact, "
                     f"{mark(self.n_lost)} of them lost to follow-up (last contact more "
                     f"than {LOST_MARGIN_MONTHS:.0f} months before the data closure).")
        return text

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


def patient_flow(df: pd.DataFrame) -> PatientFlow:
    """Count patients identified, by tumour type, by group and by treatment.

    Levels follow the contract's order and every level appears, with 0 when no
    patient has it. Accrual window: min and max of ``year_of_diagnosis``. Rows read
    and excluded come from ``df.attrs["skipped_empty_rows"]`` (the intake's count of
    empty rows); losses to follow-up from :func:`lost_to_followup`.
    """
    years = pd.to_numeric(df["year_of_diagnosis"], errors="coerce").dropna()
    empty = len(df.attrs.get("skipped_empty_rows", []))
    lost, closure = lost_to_followup(df)
    outcome = {}
    for g in GROUPS:
        in_group = df["treatment_group"] == g
        died = int((df.loc[in_group, "died"] == 1).sum())
        outcome[g] = GroupOutcome(died=died, alive=int(in_group.sum()) - died,
                                  lost=int(lost[in_group].sum()))
    return PatientFlow(
        n_identified=len(df),
        by_tumor_type=counts_by_level(df["tumor_type"], TUMOR_TYPES),
        by_group=counts_by_level(df["treatment_group"], GROUPS),
        by_treatment=counts_by_level(df["treatment"], TREATMENTS),
        group_of=treatment_groups(),
        first_year=int(years.min()) if len(years) else None,
        last_year=int(years.max()) if len(years) else None,
        n_rows_read=len(df) + empty, excluded=(("empty rows", empty),),
        outcome=outcome, closure=closure,
    )


# --------------------------------------------------------------------------- values by group


@dataclass(frozen=True)
class GroupedValues:
    """The non-missing values of one column per treatment group (for strip plots)."""

    column: str
    label: str
    values: dict[str, tuple[float, ...]]
    n_missing: dict[str, int]

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """Per group: n, missing, median, Q1, Q3, 10th and 90th percentiles (numpy linear
        quantiles, R type 7); no minimum or maximum, which are single patients' values
        (issue 13). n and missing from 1 to ``min_cell`` - 1 read ``<N``."""
        rows = []
        for g, vals in self.values.items():
            v = np.asarray(vals, dtype=float)
            q = np.quantile(v, [0.1, 0.25, 0.5, 0.75, 0.9]) if len(v) else [np.nan] * 5
            rows.append({"group": g, "n": len(v), "missing": self.n_missing[g],
                         "median": q[2], "q1": q[1], "q3": q[3], "p10": q[0], "p90": q[4]})
        return privacy.suppress_table(pd.DataFrame(rows), ["n", "missing"], min_cell)

    def medians(self) -> dict[str, float | None]:
        """Median per group (None for a group without values)."""
        table = self.table()
        return {g: finite_or_none(m) for g, m in zip(table["group"], table["median"],
                                                     strict=True)}


def values_by_group(df: pd.DataFrame, column: str, label: str | None = None) -> GroupedValues:
    """Non-missing values of ``column`` for each group in study order (missing counted)."""
    values, missing = {}, {}
    for g in GROUPS:
        sub = pd.to_numeric(df.loc[df["treatment_group"] == g, column], errors="coerce")
        values[g] = tuple(float(x) for x in sub.dropna())
        missing[g] = int(sub.isna().sum())
    return GroupedValues(column, label or column, values, missing)
