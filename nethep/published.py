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

from nethep import privacy
from nethep.exact import fisher_exact_rxc
from nethep.paths import PUBLISHED
from nethep.survival import GROUP_ORDER, followup, kaplan_meier, logrank


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


def kruskal_p(values: np.ndarray, groups: np.ndarray) -> float:
    """Kruskal-Wallis P of ``values`` across the levels of ``groups`` (NaN for one level)."""
    values, groups = np.asarray(values, dtype=float), np.asarray(groups)
    samples = [values[groups == g] for g in np.unique(groups)]
    return float(stats.kruskal(*samples).pvalue) if len(samples) > 1 else float("nan")


def survival_at_36(time: np.ndarray, died: np.ndarray) -> float:
    """Kaplan-Meier S(36 months) (NaN when there are no patients or follow-up ends sooner)."""
    if len(time) == 0:
        return float("nan")
    return float(kaplan_meier(time, died).at([36])["surv"].iloc[0])


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
    for arm in ("surgical", "nonsurgical"):
        sub = df[df["arm"] == arm]
        out[f"survival_36_months.{arm}"] = survival_at_36(sub["followup_months"].to_numpy(float),
                                                          sub["died"].to_numpy(int))
    two_arms = df["arm"].nunique() == 2
    out["logrank_surgical_vs_nonsurgical"] = logrank(df, "arm").p if two_arms else None
    table = palliation_table(df)
    out["palliation_three_groups"] = (
        fisher_exact_rxc(table.to_numpy()) if table.shape[1] > 1 else None
    )
    out["liver_involvement_differs"] = kruskal_p(df["liver_involvement_pct"].to_numpy(float),
                                                 df["treatment_group"].to_numpy(str))
    return out


def _flat_targets() -> dict[str, dict[str, Any]]:
    flat = {}
    for key, target in load_published()["targets"].items():
        if "rounding" in target:
            flat[key] = target
        else:
            flat.update({f"{key}.{sub}": t for sub, t in target.items()})
    return flat


def is_count_target(key: str) -> bool:
    """Whether the published target ``key`` (e.g. ``n_by_group.medical``) is a patient count."""
    return privacy.is_count_key(key.split(".", 1)[0])


@dataclass(frozen=True)
class PaperComparison:
    """Every number in the abstract beside the value computed from a cohort.

    With small-cell suppression on (:func:`nethep.privacy.set_min_cell`), a count of
    ours from 1 to N - 1 reads ``<N`` in :meth:`table` and :meth:`records`; when the
    published count is itself below N, whether ours matches it would reveal ours, so
    ``matches`` is withheld (None) for that row and the row is left out of
    :attr:`all_match`, :attr:`n_match` and :attr:`n_compared`.
    """

    rows: pd.DataFrame  # key, quantity, published, ours, rounding, matches

    def _hidden(self) -> tuple[pd.Series, pd.Series]:
        """Rows whose ours is suppressed, and rows whose match flag is withheld."""
        threshold = privacy.min_cell()
        counts = self.rows["key"].map(is_count_target)
        small = counts & self.rows["ours"].map(lambda v: privacy.is_small(v, threshold))
        published = self.rows["key"].map(lambda k: _flat_targets()[k]["value"])
        withheld = small & published.map(lambda v: privacy.is_small(v, threshold))
        return small, withheld

    def table(self) -> pd.DataFrame:
        out = self.rows.copy()
        if privacy.min_cell() <= 1:
            return out
        small, withheld = self._hidden()
        shown = privacy.mark(1)
        out = out.astype({"ours": object, "ours_text": object, "matches": object})
        out.loc[small, ["ours", "ours_text"]] = shown
        out.loc[withheld, "matches"] = None
        return out

    def _compared(self) -> pd.Series:
        return self.rows["matches"][~self._hidden()[1]]

    @property
    def all_match(self) -> bool:
        """Every compared row matches (rows whose match is withheld are not compared)."""
        return bool(self._compared().all())

    @property
    def n_match(self) -> int:
        """How many compared rows match at the paper's rounding."""
        return int(self._compared().sum())

    @property
    def n_compared(self) -> int:
        """How many rows are compared (all, unless a match flag is withheld)."""
        return len(self._compared())

    def sentence(self) -> str:
        """How many abstract numbers match, generated from the comparison."""
        withheld = len(self.rows) - self.n_compared
        text = (f"{self.n_match} of {self.n_compared} numbers in the abstract match at the "
                "paper's rounding: "
                + ("the rows with matches = False are not reproduced." if not self.all_match
                   else "every compared number is reproduced." if withheld
                   else "every abstract number is reproduced."))
        if withheld:
            text += (f" {withheld} count(s) below {privacy.min_cell()} are not compared "
                     "(small-cell suppression: the match would reveal the count).")
        return text

    def records(self) -> list[dict[str, Any]]:
        """JSON-ready rows for ``results.json`` (``paper_vs_ours``), suppressed as
        :meth:`table` is."""
        table = self.table()
        return [
            {"key": r.key, "quantity": r.quantity, "published": r.published,
             "ours": r.ours_text, "matches": None if r.matches is None else bool(r.matches)}
            for r in table.itertuples()
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
