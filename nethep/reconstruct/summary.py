"""What the abstract determines: the ensemble's ranges beside the bundled cohort's values.

:func:`ensemble_summary` reads the shipped ``data/ensemble/`` (never rebuilds it)
and the bundled cohort, and returns :class:`EnsembleSummary`:

- :meth:`~EnsembleSummary.table`: for every unpublished quantity the bundled
  cohort's value beside the ensemble median and its 2.5-97.5 percentile range
  (numpy linear interpolation, R ``quantile`` type 7), over the members where the
  quantity is estimable (reached, finite), with their number;
  :meth:`~EnsembleSummary.by_model`: the same per survival model (or any design
  column);
- :meth:`~EnsembleSummary.conclusions`: statements a reader might draw, with the
  share of members in which each holds;
- :meth:`~EnsembleSummary.findings`: notebook 07's closing sentences (the primary
  Firth HR, the Cox HR, RMST difference, surgical deaths, adjusted HR and the Monte
  Carlo permutation P as ranges; which conclusions hold in every member);
- :meth:`~EnsembleSummary.tipping`: the tipping point (log-rank P of surgical vs
  the rest reaching .05 when censored surgical patients are made to die at their
  last contact): bundled value and distribution over members.

The ensemble describes the published study (every member reproduces its
abstract); it says nothing about a user's own cohort.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from nethep.formats import finite_or_none, format_p, join_and, p_digits
from nethep.km import kaplan_meier
from nethep.reconstruct.quantities import COLUMNS, N_PERMUTATIONS, cohort_arrays, quantities
from nethep.reconstruct.single import Targets
from nethep.reconstruct.store import ENSEMBLE_DIR, load_ensemble

#: Quantity name -> label for tables (in the order shown).
LABELS = MappingProxyType({
    "hr": "Hazard ratio, surgical vs non-surgical (Cox)",
    "hr_lower": "HR 95% CI, lower limit",
    "hr_upper": "HR 95% CI, upper limit",
    "logrank_p": "Log-rank P",
    "cox_wald_p": "Cox Wald P",
    "cox_score_p": "Cox score P",
    "firth_hr": "Firth HR, surgical vs non-surgical (primary analysis)",
    "firth_lower": "Firth HR profile 95% CI, lower limit",
    "firth_upper": "Firth HR profile 95% CI, upper limit",
    "firth_p": "Firth penalised likelihood-ratio P",
    "mc_permutation_p": f"Permutation log-rank P (Monte Carlo, {N_PERMUTATIONS:,} relabellings)",
    "mc_permutation_se": "Monte Carlo SE of the permutation P",
    "rmst36_diff": "RMST to 36 months, difference (months)",
    "rmst36_surgical": "RMST to 36 months, surgical (months)",
    "rmst36_nonsurgical": "RMST to 36 months, non-surgical (months)",
    "deaths_surgical": "Deaths, surgical (of 13)",
    "deaths_nonsurgical": "Deaths, non-surgical (of 35)",
    "first_death_surgical_months": "First surgical death (months)",
    "median_surgical": "Median survival, surgical (months)",
    "median_nonsurgical": "Median survival, non-surgical (months)",
    "s12_surgical": "S(12 months), surgical",
    "s12_nonsurgical": "S(12 months), non-surgical",
    "s60_surgical": "S(60 months), surgical",
    "s60_nonsurgical": "S(60 months), non-surgical",
    "adjusted_hr": "Adjusted HR (islet cell, liver %, age)",
    "iptw_hr": "IPTW HR (ATT weights)",
    "landmark3_hr": "Landmark HR at 3 months",
    "landmark6_hr": "Landmark HR at 6 months",
    "palliation_medical": "Palliation rate, medical",
    "palliation_embolization": "Palliation rate, embolization",
    "palliation_surgical": "Palliation rate, surgical",
    "tipping_earliest": "Tipping point, earliest censored first (deaths)",
    "tipping_worst": "Tipping point, worst case (deaths)",
})
LOWER_Q, UPPER_Q = 0.025, 0.975
#: Curves stop at the first time fewer than this many remain at risk (as notebook 03's
#: figure, Pocock, Clayton & Altman, Lancet 2002).
MIN_AT_RISK = 5


@dataclass(frozen=True)
class Conclusion:
    """A statement a reader might draw, the quantity it reads, and whether it holds per
    member. Members where that quantity is NaN (not estimable) are left out, unless NaN
    is itself the answer (``nan_is_answer``: a median not reached, no surgical death)."""

    statement: str
    quantity: str
    test: Callable[[pd.DataFrame], pd.Series]
    nan_is_answer: bool = False

    def holds(self, q: pd.DataFrame) -> pd.Series:
        """1.0 / 0.0 per member, NaN where it cannot be judged."""
        out = self.test(q).astype(float)
        if not self.nan_is_answer:
            out[q[self.quantity].isna()] = np.nan
        return out


def _highest_after_surgery(q: pd.DataFrame) -> pd.Series:
    others = q[["palliation_medical", "palliation_embolization"]].max(axis=1)
    return (q["palliation_surgical"] > others).where(others.notna())


#: The conclusions table's rows, in order (results.json ``conclusions.cNN``: append only).
CONCLUSIONS: tuple[Conclusion, ...] = (
    Conclusion("HR < 1", "hr", lambda q: q["hr"] < 1),
    Conclusion("HR 95% CI excludes 1", "hr_upper", lambda q: q["hr_upper"] < 1),
    Conclusion("HR < 0.25", "hr", lambda q: q["hr"] < 0.25),
    Conclusion("RMST difference at 36 months > 0", "rmst36_diff",
               lambda q: q["rmst36_diff"] > 0),
    Conclusion("RMST difference at 36 months > 10 months", "rmst36_diff",
               lambda q: q["rmst36_diff"] > 10),
    Conclusion("Log-rank P < .05", "logrank_p", lambda q: q["logrank_p"] < 0.05),
    Conclusion("Cox Wald P < .05", "cox_wald_p", lambda q: q["cox_wald_p"] < 0.05),
    Conclusion("Adjusted HR < 1", "adjusted_hr", lambda q: q["adjusted_hr"] < 1),
    Conclusion("IPTW HR < 1", "iptw_hr", lambda q: q["iptw_hr"] < 1),
    Conclusion("Landmark HR at 6 months < 1", "landmark6_hr",
               lambda q: q["landmark6_hr"] < 1),
    Conclusion("Palliation rate highest after surgery", "palliation_surgical",
               _highest_after_surgery),
    Conclusion("Median survival after surgery not reached", "median_surgical",
               lambda q: q["median_surgical"].isna(), nan_is_answer=True),
    Conclusion("No surgical death before 35 months", "first_death_surgical_months",
               lambda q: ~(q["first_death_surgical_months"] < 35), nan_is_answer=True),
    Conclusion("Significance lost with 2 or fewer extra surgical deaths (worst case)",
               "tipping_worst", lambda q: q["tipping_worst"] <= 2),
    Conclusion("Firth HR 95% CI excludes 1", "firth_upper", lambda q: q["firth_upper"] < 1),
    Conclusion("Firth penalised LR P < .05", "firth_p", lambda q: q["firth_p"] < 0.05),
    Conclusion("Permutation P < .05 (Monte Carlo)", "mc_permutation_p",
               lambda q: q["mc_permutation_p"] < 0.05),
)


def fmt(quantity: str, value: float) -> str:
    """A value of ``quantity`` for display: P in journal style (:func:`format_p`), the
    Monte Carlo SE of a P to 5 decimals (:func:`p_digits`), months to 1 decimal, deaths
    and tipping points whole, the rest to 2 decimals."""
    if quantity.endswith("_p"):
        return format_p(value)
    if quantity == "mc_permutation_se":
        return p_digits(value, 5)
    if quantity.startswith(("deaths_", "tipping_")):
        return f"{value:.0f}"
    if quantity.startswith(("rmst", "median_", "first_death")):
        return f"{value:.1f}"
    return f"{value:.2f}"


def missing_words(quantity: str) -> str:
    """Why the bundled cohort's ``quantity`` has no value, in words ("not reached",
    "follow-up ends sooner", "no surgical death", ..., else "not estimable")."""
    if quantity.startswith("median_"):
        return "not reached"
    if quantity.startswith("s60_") or quantity.startswith("s12_"):
        return "follow-up ends sooner"
    if quantity.startswith("tipping_"):
        return "not reached (P stays < .05)"
    if quantity == "first_death_surgical_months":
        return "no surgical death"
    return "not estimable"


def _known(quantities: tuple[str, ...]) -> tuple[str, ...]:
    """``quantities`` if every one is a key of :data:`LABELS`, else a ValueError."""
    unknown = [q for q in quantities if q not in LABELS]
    if unknown:
        raise ValueError(f"unknown ensemble quantities {unknown}; known: {list(LABELS)}")
    return quantities


def _share(x: float) -> str:
    """A share of members in words: "every member", "no member", or a percent (one
    decimal below 10% and above 99.5%, never rounded to 0% or 100%)."""
    if np.isnan(x):
        return "no member (not estimable in any)"
    if x in (0, 1):
        return "every member" if x == 1 else "no member"
    pct = 100 * x
    text = f"{pct:.0f}" if 10 <= pct < 99.5 else f"{pct:.1f}"
    text = {"100.0": "more than 99.9", "0.0": "less than 0.1"}.get(text, text)
    return f"{text}% of members"


def _ordinal(x: float) -> str:
    k = round(x)
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


#: Conclusions the findings sentence reports as fixed (or not) by the abstract, as phrases.
DETERMINED: tuple[tuple[str, str], ...] = (
    ("HR < 1", "the Cox HR is below 1"),
    ("HR 95% CI excludes 1", "its Wald 95% CI excludes 1"),
    ("Firth HR 95% CI excludes 1", "the Firth HR's profile 95% CI excludes 1"),
    ("Log-rank P < .05", "the log-rank P is below .05"),
    ("Permutation P < .05 (Monte Carlo)", "the permutation P is below .05"),
)


def _ranges(values: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for col in COLUMNS:
        v = values[col].to_numpy(float)
        v = v[np.isfinite(v)]
        if len(v):
            med, lo, hi = np.quantile(v, [0.5, LOWER_Q, UPPER_Q])
        else:
            med = lo = hi = np.nan
        rows.append({"quantity": col, "median": med, "lower": lo, "upper": hi,
                     "n_estimable": len(v)})
    return pd.DataFrame(rows)


def _quantity_results(r: Any) -> dict[str, Any]:
    """One quantity's results.json entry; a null sits beside its ``reason`` in words."""
    entry = {"median": finite_or_none(r.median), "lower": finite_or_none(r.lower),
             "upper": finite_or_none(r.upper), "bundled": finite_or_none(r.bundled),
             "n_estimable": int(r.n_estimable)}
    reasons = []
    if entry["median"] is None:
        reasons.append("not estimable in any member")
    if entry["bundled"] is None:
        reasons.append(f"bundled cohort: {missing_words(r.quantity)}")
    if reasons:
        entry["reason"] = "; ".join(reasons)
    return entry


@dataclass(frozen=True)
class EnsembleSummary:
    """The ensemble's quantities and the bundled cohort's (see the module docstring)."""

    quantities: pd.DataFrame  # one row per member: design columns + COLUMNS
    bundled: pd.Series        # COLUMNS for data/cohort.csv
    manifest: dict[str, Any]

    @property
    def n_members(self) -> int:
        return len(self.quantities)

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """Quantity, bundled value, ensemble median, 2.5% and 97.5% points, the bundled
        value's percentile in the ensemble, and members where estimable.
        (No patient counts: ``min_cell`` does not apply.)"""
        out = _ranges(self.quantities)
        out.insert(1, "label", out["quantity"].map(LABELS))
        out.insert(2, "bundled", [self.bundled[c] for c in out["quantity"]])
        pct = []
        for col, b in zip(out["quantity"], out["bundled"], strict=True):
            v = self.quantities[col].to_numpy(float)
            v = v[np.isfinite(v)]
            pct.append(100 * np.mean(v <= b) if np.isfinite(b) and len(v) else np.nan)
        out["bundled_percentile"] = pct
        return out

    def by_model(self, column: str = "model") -> pd.DataFrame:
        """Median and 2.5-97.5% range of every quantity within each level of ``column``
        (a design column: model, palliation, test, rounding)."""
        parts = []
        for level, sub in self.quantities.groupby(column, sort=False):
            parts.append(_ranges(sub).assign(**{column: level}))
        return pd.concat(parts, ignore_index=True)[
            [column, "quantity", "median", "lower", "upper", "n_estimable"]]

    def overall(self, quantities: tuple[str, ...] | None = None) -> pd.DataFrame:
        """:meth:`table` for reading: bundled value and "median (2.5% to 97.5%)" as text
        (P in journal style), the bundled value's percentile, members where estimable;
        only the rows of ``quantities`` (keys of :data:`LABELS`, in that order) if given."""
        t = self.table().set_index("quantity")
        wide = self.wide("model")
        if quantities is not None:
            t = t.loc[list(_known(quantities))]
            wide = wide.loc[[LABELS[q] for q in quantities]]
        return pd.DataFrame({
            "bundled cohort": wide["bundled"].to_numpy(),
            "ensemble median (2.5% to 97.5%)": wide["all members"].to_numpy(),
            "bundled percentile": [None if np.isnan(v) else round(float(v))
                                   for v in t["bundled_percentile"]],
            "members estimable": t["n_estimable"].to_numpy(),
        }, index=wide.index)

    def wide(self, column: str = "model",
             quantities: tuple[str, ...] | None = None) -> pd.DataFrame:
        """Each quantity (rows, labelled) by level of ``column``: "median (2.5% to
        97.5%)" (P values in journal style, months to 1 decimal, counts whole, the rest
        to 2 decimals), and the bundled cohort's value; "not estimable" where no member
        has one. Only the rows of ``quantities`` (keys of :data:`LABELS`) if given."""
        def cell(r: pd.Series) -> str:
            if r["n_estimable"] == 0:
                return "not estimable"
            q = r["quantity"]
            return (f"{fmt(q, r['median'])} ({fmt(q, r['lower'])} to {fmt(q, r['upper'])})")

        overall = _ranges(self.quantities).assign(**{column: "all members"})
        long = pd.concat([overall, self.by_model(column)], ignore_index=True)
        long["text"] = long.apply(cell, axis=1)
        out = long.pivot(index="quantity", columns=column, values="text")
        levels = ["all members", *pd.unique(self.quantities[column])]
        rows = list(COLUMNS if quantities is None else _known(quantities))
        out = out.reindex(index=rows, columns=levels)
        out.insert(0, "bundled", [fmt(c, self.bundled[c]) if np.isfinite(self.bundled[c])
                                  else missing_words(c) for c in rows])
        out.index = [LABELS[c] for c in out.index]
        return out

    def conclusions(self) -> pd.DataFrame:
        """Each statement, the share of members (where its quantities are estimable) in
        which it holds, and whether it holds for the bundled cohort."""
        bundled = self.bundled.to_frame().T
        rows = []
        for c in CONCLUSIONS:
            h = c.holds(self.quantities)
            b = c.holds(bundled).iloc[0]
            rows.append({"statement": c.statement,
                         "share": float(np.nanmean(h)) if h.notna().any() else np.nan,
                         "n_members": int(h.notna().sum()),
                         "bundled": None if np.isnan(b) else bool(b)})
        return pd.DataFrame(rows)

    def tipping(self) -> pd.DataFrame:
        """Members by tipping point (deaths needed), earliest-first and worst case."""
        out = []
        for kind in ("earliest", "worst"):
            v = self.quantities[f"tipping_{kind}"]
            counts = v.fillna(-1).astype(int).value_counts().sort_index()
            for k, n in counts.items():
                out.append({"rule": kind, "deaths_needed": "not reached" if k < 0 else str(k),
                            "members": int(n), "share": n / len(v)})
        return pd.DataFrame(out)

    def tipping_sentence(self) -> str:
        """The bundled cohort's tipping point beside the ensemble's."""
        q = self.quantities
        e, w = self.bundled["tipping_earliest"], self.bundled["tipping_worst"]
        med_e, med_w = q["tipping_earliest"].median(), q["tipping_worst"].median()
        return (f"In the bundled cohort the log-rank P of surgical vs non-surgical reaches .05 "
                f"if {e:.0f} censored surgical patients had died instead (earliest censored "
                f"first), or {w:.0f} chosen in the worst way; across the {self.n_members:,} "
                f"members the median is {med_e:.0f} (earliest first) and {med_w:.0f} (worst "
                f"case), range {q['tipping_worst'].min():.0f} to "
                f"{q['tipping_earliest'].max():.0f}; in {int(q['tipping_earliest'].isna().sum())} "
                "members P stays below .05 even if every censored surgical patient died.")

    def findings(self) -> str:
        """Notebook 07's closing sentences: the ensemble's median (2.5% to 97.5%) of the
        primary Firth HR, the Cox HR, the RMST difference at 36 months, surgical deaths,
        the adjusted HR and the Monte Carlo permutation P, beside the bundled cohort's
        values; which conclusions (:data:`DETERMINED`) hold in every member, which in
        some, and three things the abstract leaves open. Values that are not estimable
        are said in words."""
        t = self.table().set_index("quantity")
        share = self.conclusions().set_index("statement")["share"]

        def rng(q: str) -> str:
            r = t.loc[q]
            if r["n_estimable"] == 0:
                return "not estimable in any member"
            return f"{fmt(q, r['median'])} ({fmt(q, r['lower'])} to {fmt(q, r['upper'])})"

        def bundled(q: str) -> str:
            v = t.loc[q, "bundled"]
            return fmt(q, v) if np.isfinite(v) else missing_words(q)

        pct = t.loc["rmst36_diff", "bundled_percentile"]
        at = f", at the {_ordinal(pct)} percentile" if np.isfinite(pct) else ""
        se = p_digits(self.quantities["mc_permutation_se"].max(), 5)
        always = [phrase for st, phrase in DETERMINED if share[st] == 1]
        partly = [f"{phrase} in {_share(share[st])}" for st, phrase in DETERMINED
                  if share[st] < 1]
        held = (f"in every member {join_and(always)}" if always else "")
        if partly:
            held += ("; " if held else "") + join_and(partly)
        return (
            f"Across {self.n_members:,} cohorts that all reproduce the abstract (median, "
            "with the 2.5th to 97.5th percentiles in parentheses), the primary estimate, "
            "the Firth-penalised hazard ratio of surgical vs non-surgical, is "
            f"{rng('firth_hr')}, the Cox HR {rng('hr')}, the RMST difference at 36 months "
            f"{rng('rmst36_diff')} months, surgical deaths {rng('deaths_surgical')} and the "
            f"adjusted HR {rng('adjusted_hr')}; the permutation log-rank P, estimated from "
            f"{N_PERMUTATIONS:,} relabellings per member (Monte Carlo SE at most {se}), is "
            f"{rng('mc_permutation_p')}. The bundled cohort, the ensemble's most typical member, "
            f"has Firth HR {bundled('firth_hr')}, Cox HR {bundled('hr')} and RMST difference "
            f"{bundled('rmst36_diff')} months{at}: one cohort within these ranges. "
            f"Under the ensemble's models, {held}. What the abstract does not determine: "
            "whether palliation was highest after surgery (in "
            f"{_share(share['Palliation rate highest after surgery'])}), whether the "
            "surgical median is reached (in "
            f"{_share(1 - share['Median survival after surgery not reached'])}), or whether a "
            "surgical patient died before 35 months (none did in "
            f"{_share(share['No surgical death before 35 months'])}; the bundled cohort's "
            f"first surgical death is at {bundled('first_death_surgical_months')} months)."
        )

    def to_results(self) -> dict[str, Any]:
        """``ensemble.{n_members, models, rules, quantities.<name>.{median, lower,
        upper, bundled, n_estimable}, conclusions}``."""
        t = self.table()
        m = self.manifest
        return {
            "n_members": self.n_members, "seed": m["seed"],
            "models": m["models"], "rules": m["rules"],
            "quantities": {r.quantity: _quantity_results(r) for r in t.itertuples()},
            "conclusions": {f"c{i + 1:02d}": {"statement": r.statement,
                                              "share": finite_or_none(r.share),
                                              "bundled": r.bundled}
                            for i, r in enumerate(self.conclusions().itertuples())},
        }

    def tipping_results(self) -> dict[str, Any]:
        """``tipping_point.{bundled.{earliest, worst}, ensemble.{earliest, worst}.
        {median, lower, upper, min, max}, test, alpha}``."""
        q = self.quantities

        def dist(col: str) -> dict[str, float | None]:
            v = q[col].dropna().to_numpy(float)
            return {"median": float(np.median(v)), "lower": float(np.quantile(v, LOWER_Q)),
                    "upper": float(np.quantile(v, UPPER_Q)), "min": float(v.min()),
                    "max": float(v.max()), "not_reached": int(q[col].isna().sum())}

        return {
            "test": "log-rank, surgical vs non-surgical", "alpha": 0.05,
            "bundled": {"earliest": finite_or_none(self.bundled["tipping_earliest"]),
                        "worst": finite_or_none(self.bundled["tipping_worst"])},
            "ensemble": {"earliest": dist("tipping_earliest"), "worst": dist("tipping_worst")},
        }


def ensemble_summary(bundled: pd.DataFrame, folder: Any = ENSEMBLE_DIR) -> EnsembleSummary:
    """Summarise the shipped ensemble beside ``bundled`` (the bundled cohort, validated)."""
    stored = load_ensemble(folder, members=False)
    b = quantities(cohort_arrays(bundled)).iloc[0]
    return EnsembleSummary(stored.quantities, b, stored.manifest)


@dataclass(frozen=True)
class EnsembleCurves:
    """Kaplan-Meier step curves per arm of the first ``n`` members and of the bundled
    cohort (time, survival after each step), and the published 3-year points."""

    curves: pd.DataFrame      # member (0 = bundled), arm, time, surv; starts at (0, 1)
    published: dict[str, float]  # arm -> published S(36)
    n_members: int

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """The curves (aggregates: no patient counts)."""
        return self.curves


def ensemble_curves(members: pd.DataFrame, bundled: pd.DataFrame,
                    n: int = 100) -> EnsembleCurves:
    """Kaplan-Meier curves (:func:`nethep.km.kaplan_meier`) per arm of members 1..``n``
    of the long members table and of ``bundled`` (member 0), each stopped where fewer
    than :data:`MIN_AT_RISK` patients remain at risk."""
    sub = members[members["member"] <= n]
    frames = [bundled.assign(member=0), sub]
    rows = []
    for df in frames:
        for member, g in df.groupby("member", sort=True):
            surg = (g["treatment_group"] == "surgical").to_numpy()
            for arm, m in (("surgical", surg), ("nonsurgical", ~surg)):
                km = kaplan_meier(g["followup_months"].to_numpy(float)[m],
                                  g["died"].to_numpy(int)[m])
                shown = km.n_risk >= MIN_AT_RISK
                rows.append(pd.DataFrame({"member": member, "arm": arm,
                                          "time": np.r_[0.0, km.time[shown]],
                                          "surv": np.r_[1.0, km.surv[shown]]}))
    targets = Targets.load()
    return EnsembleCurves(pd.concat(rows, ignore_index=True),
                          {"surgical": targets.s36("surgical"),
                           "nonsurgical": targets.s36("nonsurgical")},
                          int(sub["member"].nunique()))
