"""The data every robustness analysis starts from: design matrix, survival frame, checks.

- :func:`design_matrix`: covariates by cohort column. A numeric or boolean column
  enters as is; a text column (``tumor_type``) enters as indicators of every level
  but the first level of the data contract's ``enum`` (``tumor_type=islet_cell``,
  carcinoid the reference). Missing values, a single level, the exposure itself or
  an unknown column raise ``ValueError`` naming the column (and the patients).
- :func:`survival_frame`: ``T`` (``followup_months``), ``E`` (``died``), ``surgical``
  and the design columns, one row per patient.
- :func:`check_both_arms`, :func:`separation_problems`: what makes a Cox model of
  surgery impossible or its likelihood monotone.
- :func:`simulated_inputs`: on the bundled reconstruction, the inputs the data
  contract marks ``simulated`` (results then show how a method behaves, not what
  the paper's patients experienced).
- :func:`lifelines_hazard_ratio`: one term of a lifelines summary as a
  :class:`nethep.cox.HazardRatio`.
- :func:`compare_tables`: results' tables stacked under labels (a main choice beside
  its alternatives).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from nethep import privacy
from nethep.contract import fields
from nethep.cox import HazardRatio
from nethep.estimable import null_values
from nethep.survival import MONOTONE

if TYPE_CHECKING:
    from nethep.results import Tabular

#: Covariates of the adjusted Cox model and the propensity score (cohort columns).
DEFAULT_COVARIATES: tuple[str, ...] = ("tumor_type", "liver_involvement_pct", "age_years")
#: Columns that define the exposure; none may be adjusted for.
EXPOSURE_COLUMNS = ("surgical", "arm", "treatment_group", "treatment")
#: How the lifelines Cox fits of this package are made.
LIFELINES_COX_METHOD = "Cox partial likelihood, Efron ties, Wald 95% CI and P (lifelines)"


def simulated_inputs(df: pd.DataFrame, columns: Sequence[str]) -> tuple[str, ...]:
    """Columns among ``columns`` that the data contract marks ``simulated``.

    Only for the bundled reconstruction (``df.attrs["reconstructed"]``): there those
    columns carry no information from the paper, so an analysis that uses them shows
    how the method behaves, not what happened to the patients. Empty for other files.
    """
    if not df.attrs.get("reconstructed", False):
        return ()
    spec = fields()
    return tuple(c for c in columns if spec.get(c, {}).get("provenance") == "simulated")


def _enum_levels(column: str) -> list[str] | None:
    """The contract's ``enum`` of a text column, in its order (None for other columns)."""
    spec = fields().get(column)
    if spec is None:
        return None
    enum = spec.get("constraints", {}).get("enum")
    return [str(v) for v in enum] if enum and spec.get("type") == "string" else None


def design_matrix(df: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """Numeric design columns for ``covariates`` (indicators for text columns)."""
    out: dict[str, np.ndarray] = {}
    for cov in covariates:
        if cov in EXPOSURE_COLUMNS:
            raise ValueError(f"'{cov}' is the exposure, not a covariate to adjust for")
        if cov not in df.columns:
            raise ValueError(f"covariate '{cov}' is not a column of the cohort; have "
                             f"{', '.join(map(str, df.columns))}")
        col = df[cov]
        if col.isna().any():
            ids = df.loc[col.isna(), "patient_id"].tolist() if "patient_id" in df else []
            raise ValueError(f"covariate '{cov}' is missing for {int(col.isna().sum())} "
                             f"patient(s) {ids}; complete it or leave it out of covariates")
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            out[cov] = col.to_numpy(dtype=float)
            continue
        values = col.astype(str)
        present = set(values)
        enum = _enum_levels(cov)
        levels = [v for v in enum if v in present] if enum else []
        levels += sorted(present - set(levels))
        if len(levels) < 2:
            raise ValueError(f"covariate '{cov}' has a single level ({levels}); it cannot be "
                             "adjusted for in this cohort")
        for level in levels[1:]:
            out[f"{cov}={level}"] = (values == level).to_numpy(dtype=float)
    return pd.DataFrame(out, index=df.index)


def survival_frame(df: pd.DataFrame, covariates: Sequence[str] = ()) -> pd.DataFrame:
    """T, E, surgical and the design columns of ``covariates``, one row per patient."""
    base = pd.DataFrame({
        "T": df["followup_months"].to_numpy(dtype=float),
        "E": df["died"].to_numpy(dtype=int),
        "surgical": df["surgical"].to_numpy(dtype=float),
    }, index=df.index)
    return pd.concat([base, design_matrix(df, covariates)], axis=1)


def check_both_arms(data: pd.DataFrame) -> None:
    """Raise ``ValueError`` unless ``data`` (a :func:`survival_frame`) has both arms."""
    n1 = int(data["surgical"].sum())
    if n1 == 0 or n1 == len(data):
        raise ValueError("both arms are needed: the cohort has "
                         f"{n1} surgical and {len(data) - n1} non-surgical patients")


def no_death_reason(data: pd.DataFrame, term: str = "surgical", event: str = "E") -> str | None:
    """Why a hazard ratio of the binary ``term`` has no finite estimate, or None.

    With no deaths in one arm the Cox partial likelihood has no finite maximum (the
    hazard ratio is 0 or infinite; Heinze and Schemper, Biometrics 2001;57:114): the
    reason names the arm(s), e.g. "no deaths in the surgical arm". A weight of 0
    (or a missing row) does not count as a death.
    """
    x = data[term].to_numpy(float) > 0.5
    e = data[event].to_numpy(float) > 0
    if "w" in data:
        e &= data["w"].to_numpy(float) > 0
    empty = [name for name, mask in (("surgical", x), ("non-surgical", ~x))
             if not (e & mask).any()]
    if not empty:
        return None
    arms = " and ".join(empty)
    return (f"no deaths in the {arms} arm{'s' if len(empty) > 1 else ''}: the hazard ratio "
            "has no finite estimate")


def separation_problems(data: pd.DataFrame, terms: Sequence[str],
                        min_cell: int = 0) -> list[str]:
    """Binary terms with no deaths in one level: a monotone partial likelihood.

    One sentence per problem; the number of patients in the level reads ``<N`` when
    it is from 1 to ``min_cell - 1``.
    """
    problems = []
    for term in terms:
        x = data[term].to_numpy(float)
        if not np.isin(x, (0.0, 1.0)).all():
            continue
        for level in (0.0, 1.0):
            inside = x == level
            if inside.any() and data.loc[inside, "E"].sum() == 0:
                problems.append(
                    f"no deaths among the {privacy.mark(int(inside.sum()), min_cell)} "
                    f"patients with {term} = "
                    f"{int(level)}: the partial likelihood has no finite maximum "
                    f"(monotone likelihood), so the unpenalized {term} hazard ratio is "
                    f"{'0' if level == 1 else 'infinite'}")
    return problems


def hr_results(hr: HazardRatio) -> dict[str, float | str | None]:
    """``hr.to_results()``; when the hazard ratio is not estimable, every number is None
    and ``reason`` (:data:`nethep.estimable.REASON`) says why (never a 0 or an infinite
    limit)."""
    if hr.estimable:
        return dict(hr.to_results())
    return null_values(("hr", "lower", "upper"), hr.note or "no finite estimate")


def lifelines_hazard_ratio(summary: pd.DataFrame, term: str, method: str) -> HazardRatio:
    """Term ``term`` of a lifelines ``summary`` as a :class:`~nethep.cox.HazardRatio`
    (lifelines' own Wald 95% limits and P, read as they are); not estimable, with the
    reason, when a limit is 0 or infinite (monotone likelihood: the fit ran off to an
    infinite coefficient)."""
    row = summary.loc[term]
    hr = HazardRatio(hr=float(row["exp(coef)"]), lower=float(row["exp(coef) lower 95%"]),
                     upper=float(row["exp(coef) upper 95%"]), p=float(row["p"]),
                     method=method)
    return hr if hr.estimable else HazardRatio.not_estimable(MONOTONE, method)


def compare_tables(labelled: Mapping[str, Tabular], label: str = "analysis",
                   min_cell: int = 0) -> pd.DataFrame:
    """The ``.table(min_cell)`` of each result, stacked, with its label in a first column.

    For showing a main choice beside its alternatives, e.g.
    ``compare_tables({"no trimming (main)": a, "truncated 1st/99th": b}, "weights")``.
    """
    frames = [obj.table(min_cell=min_cell).assign(**{label: name})
              for name, obj in labelled.items()]
    out = pd.concat(frames, ignore_index=True)
    return out[[label, *[c for c in out.columns if c != label]]]
