"""The paper's published numbers (``data/published.yaml``) beside ours.

Each published target carries its rounding rule; :func:`paper_vs_ours` computes the
same quantity from a cohort with the analysis stages themselves (counts from
:func:`nethep.describe.patient_flow`, follow-up, S(36) and log-rank from
:mod:`nethep.survival`, the palliation exact test from :func:`nethep.palliation.palliation`,
the liver Kruskal-Wallis P as Table 1 computes it, :func:`nethep.tableone.kruskal_p`)
and says whether it matches at the paper's rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from nethep import privacy
from nethep.describe import patient_flow
from nethep.estimable import with_reason
from nethep.formats import p_digits
from nethep.km import kaplan_meier
from nethep.palliation import palliation
from nethep.paths import PUBLISHED
from nethep.survival import followup, logrank
from nethep.tableone import kruskal_p


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


def survival_at_36(time: np.ndarray, died: np.ndarray) -> float:
    """Kaplan-Meier S(36 months) (NaN when there are no patients or follow-up ends sooner)."""
    if len(time) == 0:
        return float("nan")
    return float(kaplan_meier(time, died).at([36])["surv"].iloc[0])


def computed_targets(df: pd.DataFrame) -> dict[str, float | None]:
    """Every published quantity computed from ``df``, keyed like ``published.yaml``.

    Methods: counts (:func:`nethep.describe.patient_flow`); simple median of
    ``followup_months``; Kaplan-Meier S(36); log-rank surgical vs non-surgical;
    Fisher-Freeman-Halton exact test of palliation across the groups with symptomatic
    patients (:func:`nethep.palliation.palliation`); Kruskal-Wallis of liver
    involvement across the groups (:func:`nethep.tableone.kruskal_p`).
    """
    flow = patient_flow(df)
    out: dict[str, float | None] = {"n_patients": flow.n_identified}
    for key, counts in (("n_by_tumor_type", flow.by_tumor_type),
                        ("n_by_group", flow.by_group), ("n_by_treatment", flow.by_treatment)):
        for level in load_published()["targets"][key]:
            out[f"{key}.{level}"] = counts.get(level, 0)
    out["median_followup_months"] = followup(df).simple_median
    for arm in ("surgical", "nonsurgical"):
        sub = df[df["arm"] == arm]
        out[f"survival_36_months.{arm}"] = survival_at_36(sub["followup_months"].to_numpy(float),
                                                          sub["died"].to_numpy(int))
    two_arms = df["arm"].nunique() == 2
    out["logrank_surgical_vs_nonsurgical"] = logrank(df, "arm").p if two_arms else None
    out["palliation_three_groups"] = palliation(df).exact_p
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

    Small-cell suppression (``min_cell``, passed to each method): a count of ours from
    1 to ``min_cell`` - 1 reads ``<N``; when the published count is itself below
    ``min_cell``, whether ours matches it would reveal ours, so ``matches`` is withheld
    (None) for that row and the row is not compared (:meth:`all_match`,
    :meth:`n_match`, :meth:`n_compared`). With ``min_cell`` 0 every row is compared.
    """

    rows: pd.DataFrame  # key, quantity, published, ours, ours_text, rounding, matches

    def _hidden(self, min_cell: int) -> tuple[pd.Series, pd.Series]:
        """Rows whose ours is suppressed, and rows whose match flag is withheld."""
        counts = self.rows["key"].map(is_count_target)
        small = counts & self.rows["ours"].map(lambda v: privacy.is_small(v, min_cell))
        published = self.rows["key"].map(lambda k: _flat_targets()[k]["value"])
        withheld = small & published.map(lambda v: privacy.is_small(v, min_cell))
        return small, withheld

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row per target: key, quantity, published, ours (value and text), rounding,
        matches; suppressed as the class docstring says."""
        out = self.rows.copy()
        if min_cell <= 1:
            return out
        small, withheld = self._hidden(min_cell)
        out = out.astype({"ours": object, "ours_text": object, "matches": object})
        out.loc[small, ["ours", "ours_text"]] = privacy.mark(1, min_cell)
        out.loc[withheld, "matches"] = None
        return out

    def summary(self, min_cell: int = 0, keys: Sequence[str] | None = None) -> pd.DataFrame:
        """What a reader compares: quantity, published, ours (as text), matches; only the
        rows of ``keys`` when given (in the table's order)."""
        table = self.table(min_cell)
        if keys is not None:
            table = table[table["key"].isin(keys)]
        return table[["quantity", "published", "ours_text", "matches"]].rename(
            columns={"ours_text": "ours"})

    def _compared(self, min_cell: int) -> pd.Series:
        return self.rows["matches"][~self._hidden(min_cell)[1]]

    def all_match(self, min_cell: int = 0) -> bool:
        """Every compared row matches (rows whose match is withheld are not compared)."""
        return bool(self._compared(min_cell).all())

    def n_match(self, min_cell: int = 0) -> int:
        """How many compared rows match at the paper's rounding."""
        return int(self._compared(min_cell).sum())

    def n_compared(self, min_cell: int = 0) -> int:
        """How many rows are compared (all, unless a match flag is withheld)."""
        return len(self._compared(min_cell))

    def sentence(self, min_cell: int = 0) -> str:
        """How many abstract numbers match, generated from the comparison."""
        n_compared = self.n_compared(min_cell)
        withheld = len(self.rows) - n_compared
        text = (f"{self.n_match(min_cell)} of {n_compared} numbers in the abstract match at "
                "the paper's rounding: "
                + ("the rows with matches = False are not reproduced."
                   if not self.all_match(min_cell)
                   else "every compared number is reproduced." if withheld
                   else "every abstract number is reproduced."))
        if withheld:
            text += (f" {withheld} count(s) below {min_cell} are not compared "
                     "(small-cell suppression: the match would reveal the count).")
        return text

    def verdict(self, key: str, ours: str, min_cell: int = 0) -> str:
        """One sentence on one target: the published value and whether ``ours`` (e.g.
        "the exact P") matches it at the paper's rounding."""
        row = self.table(min_cell).set_index("key").loc[key]
        outcome = ("is not compared (small-cell suppression)" if row["matches"] is None
                   else "matches it at the paper's rounding" if row["matches"]
                   else "does not match it at the paper's rounding")
        return f"Published: {row['published']}; {ours} {outcome}."

    def to_results(self, min_cell: int = 0) -> dict[str, Any]:
        """The ``comparison`` section of ``results.json``: the rows (key, quantity,
        published, ours as text, matches) and ``all_match``.

        Unlike other results this one is suppressed here, with ``min_cell``: its counts
        are text, which :func:`nethep.results.save_fragment` cannot recognise."""
        rows = [
            with_reason({"key": r.key, "quantity": r.quantity, "published": r.published,
                         "ours": r.ours_text,
                         "matches": None if r.matches is None else bool(r.matches)},
                        "" if r.matches is not None else
                        f"our count is suppressed (below {min_cell})"
                        if str(r.ours_text).startswith("<") else f"ours is {r.ours_text}")
            for r in self.table(min_cell).itertuples()
        ]
        return {"paper_vs_ours": rows, "all_match": self.all_match(min_cell)}


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
    # Four decimals (no leading zero, as the journal writes P): this text is stored in
    # results.json (paper_vs_ours) and shows how near the paper's rounding our P lies.
    return f"P = {p_digits(value, 4)}"


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
