"""The paper's published numbers (``data/published.yaml``) beside ours.

Each published target carries its rounding rule; :func:`paper_vs_ours`
computes the same quantity from a cohort with nethep's own estimators and says
whether it matches at the paper's rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from nethep.cohort import DATA_DIR
from nethep.exact import fisher_exact_rxc
from nethep.survival import GROUP_ORDER, followup, kaplan_meier, logrank

PUBLISHED = DATA_DIR / "published.yaml"


@cache
def load_published(path: Path = PUBLISHED) -> dict[str, Any]:
    """The parsed ``published.yaml``."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def round_half_up(x: float) -> int:
    """Round as journals do (20.5 -> 21), not Python's round-half-to-even."""
    return int(np.floor(x + 0.5))


def matches(target: dict[str, Any], value: float | None) -> bool:
    """Whether ``value`` equals the published target at the paper's rounding."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    rule = target["rounding"]
    if rule == "exact":
        return value == target["value"]
    if rule == "integer":
        return round_half_up(value) == target["value"]
    if rule == "percent":
        return round_half_up(100 * value) == target["value"]
    if rule == "p_interval":
        return target["lower"] <= value < target["upper"]
    if rule == "p_above":
        return value > target["value"]
    raise ValueError(f"unknown rounding rule {rule!r} in published.yaml")


def palliation_table(df: pd.DataFrame) -> pd.DataFrame:
    """Palliated / not palliated counts by treatment group among symptomatic patients."""
    sym = df[df["symptomatic"] == 1]
    table = pd.crosstab(sym["palliated"].astype(int), sym["treatment_group"])
    order = [g for g in GROUP_ORDER if g in table.columns]
    return table.reindex(index=[1, 0], columns=order, fill_value=0)


def _kruskal_liver(df: pd.DataFrame) -> float:
    groups = [g["liver_involvement_pct"].to_numpy(float)
              for _, g in df.groupby("treatment_group")]
    return float(stats.kruskal(*groups).pvalue) if len(groups) > 1 else float("nan")


def _surv36(df: pd.DataFrame) -> float:
    if df.empty:
        return float("nan")
    return float(kaplan_meier(df["followup_months"], df["died"]).at([36])["surv"].iloc[0])


def computed_targets(df: pd.DataFrame) -> dict[str, float | None]:
    """Every published quantity computed from ``df``, keyed like ``published.yaml``.

    Methods: counts; simple median of ``followup_months``; Kaplan-Meier S(36);
    log-rank surgical vs non-surgical; Fisher-Freeman-Halton exact test of
    palliation across the 3 groups; Kruskal-Wallis of liver involvement.
    """
    out: dict[str, float | None] = {"n_patients": len(df)}
    for col, key in (("tumor_type", "n_by_tumor_type"), ("treatment_group", "n_by_group"),
                     ("treatment", "n_by_treatment")):
        counts = df[col].value_counts()
        for level in load_published()["targets"][key]:
            out[f"{key}.{level}"] = int(counts.get(level, 0))
    out["median_followup_months"] = followup(df).simple_median
    out["survival_36_months.surgical"] = _surv36(df[df["arm"] == "surgical"])
    out["survival_36_months.nonsurgical"] = _surv36(df[df["arm"] == "nonsurgical"])
    two_arms = df["arm"].nunique() == 2
    out["logrank_surgical_vs_nonsurgical"] = logrank(df, "arm").p if two_arms else None
    table = palliation_table(df)
    out["palliation_three_groups"] = (
        fisher_exact_rxc(table.to_numpy()) if table.shape[1] > 1 else None
    )
    out["liver_involvement_differs"] = _kruskal_liver(df)
    return out


def _flat_targets() -> dict[str, dict[str, Any]]:
    flat = {}
    for key, target in load_published()["targets"].items():
        if "rounding" in target:
            flat[key] = target
        else:
            flat.update({f"{key}.{sub}": t for sub, t in target.items()})
    return flat


@dataclass(frozen=True)
class PaperComparison:
    """Every number in the abstract beside the value computed from a cohort."""

    rows: pd.DataFrame  # key, quantity, published, ours, rounding, matches

    def table(self) -> pd.DataFrame:
        return self.rows.copy()

    @property
    def all_match(self) -> bool:
        return bool(self.rows["matches"].all())

    def records(self) -> list[dict[str, Any]]:
        """JSON-ready rows for ``results.json`` (``paper_vs_ours``)."""
        return [
            {"key": r.key, "quantity": r.quantity, "published": r.published,
             "ours": r.ours_text, "matches": bool(r.matches)}
            for r in self.rows.itertuples()
        ]


def _published_text(target: dict[str, Any]) -> str:
    rule, value = target["rounding"], target["value"]
    if rule == "percent":
        return f"{value}%"
    if rule == "p_interval":
        return f"P = {str(value).removeprefix('0')}"
    if rule == "p_above":
        return "no difference (no P given)"
    return str(value)


def _ours_text(target: dict[str, Any], value: float | None) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "not estimable"
    rule = target["rounding"]
    if rule == "exact":
        return f"{int(value)}"
    if rule == "integer":
        return f"{value:.1f}"
    if rule == "percent":
        return f"{100 * value:.1f}%"
    return f"P = {value:.4f}"


def paper_vs_ours(df: pd.DataFrame) -> PaperComparison:
    """Compare every published target with the value computed from ``df``."""
    ours = computed_targets(df)
    rows = []
    for key, target in _flat_targets().items():
        value = ours.get(key)
        rows.append({"key": key, "quantity": target["text"],
                     "published": _published_text(target), "ours": value,
                     "ours_text": _ours_text(target, value),
                     "rounding": target["rounding"], "matches": matches(target, value)})
    return PaperComparison(pd.DataFrame(rows))
