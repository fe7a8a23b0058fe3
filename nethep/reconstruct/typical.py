"""The bundled cohort ``data/cohort.csv``: the ensemble's most typical member, by one rule.

Every member of ``data/ensemble/`` reproduces the abstract; the bundled cohort is the
member chosen by this deterministic rule (issue 11, item 4):

1. **Eligible members**: those whose log-rank P (surgical vs non-surgical,
   ``logrank_p``) reads "P = .01" in the journal's style, that is
   .0095 <= P < .015 (the *strict* reading, :data:`ELIGIBLE_LOGRANK_P`). Notebooks 03
   and 04 print the log-rank test beside the published "P = .01", so the bundled cohort
   must reproduce it by that test, whichever test its design cell assumed.
2. **Quantities** (:data:`TYPICAL_QUANTITIES`, 15 unpublished numbers estimable in
   every member): the Cox HR and its 95% CI limits; RMST to 36 months per arm; deaths
   per arm; the first surgical death; the non-surgical median; S(12) per arm; the IPTW
   HR; the palliation rate per group. S(60) and the surgical median are left out: they
   are not estimable in every member (follow-up ends first; the curve stays above 0.5).
   Each is standardised to mean 0, SD 1 (ddof 1) over all members in which all 15 are
   estimable.
3. **The member**: among the eligible, the one with the smallest sum of Euclidean
   distances (standardised units) to *all* members, the centre of the whole ensemble
   (a medoid restricted to eligible members); a tie goes to the lowest member number.

``python -m nethep.reconstruct --build`` writes ``data/cohort.csv`` from the shipped
``data/ensemble/`` by this rule: the member's 48 rows of ``members.csv.gz`` as they are
stored there (the ``member`` column dropped), so the cohort is byte for byte that member.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from nethep.formats import finite_or_none
from nethep.reconstruct.ensemble import READINGS
from nethep.reconstruct.store import ENSEMBLE_DIR, FILES

#: The reading of "P = .01" a member's log-rank P must meet to be eligible: the
#: journal's (AMA) rounding, three decimals below .01, so .0095 <= P < .015.
ELIGIBLE_LOGRANK_P: tuple[float, float] = READINGS["strict"]

#: The unpublished quantities the typical member is chosen on (estimable in every member).
TYPICAL_QUANTITIES: tuple[str, ...] = (
    "hr", "hr_lower", "hr_upper", "rmst36_surgical", "rmst36_nonsurgical",
    "deaths_surgical", "deaths_nonsurgical", "first_death_surgical_months",
    "median_nonsurgical", "s12_surgical", "s12_nonsurgical", "iptw_hr",
    "palliation_medical", "palliation_embolization", "palliation_surgical",
)

#: Quantities reported beside the member's number (:meth:`TypicalMember.table`).
REPORTED = MappingProxyType({
    "hr": "Cox HR", "hr_lower": "HR 95% CI, lower", "hr_upper": "HR 95% CI, upper",
    "logrank_p": "log-rank P", "cox_wald_p": "Cox Wald P", "cox_score_p": "Cox score P",
    "rmst36_diff": "RMST difference to 36 months (months)",
    "deaths_surgical": "surgical deaths", "deaths_nonsurgical": "non-surgical deaths",
    "first_death_surgical_months": "first surgical death (months)",
})


def eligible(q: pd.DataFrame) -> np.ndarray:
    """Members (rows of ``q``) whose log-rank P reads "P = .01" (.0095 <= P < .015)."""
    lo, hi = ELIGIBLE_LOGRANK_P
    p = q["logrank_p"].to_numpy(float)
    return (p >= lo) & (p < hi)


def distance_sums(q: pd.DataFrame, columns: tuple[str, ...] = TYPICAL_QUANTITIES) -> pd.Series:
    """For every member with all ``columns`` estimable: the sum of its Euclidean distances
    to all such members over ``columns`` standardised to mean 0, SD 1 (ddof 1)."""
    sub = q.dropna(subset=list(columns))
    z = sub[list(columns)].to_numpy(float)
    z = (z - z.mean(axis=0)) / z.std(axis=0, ddof=1)
    sq = (z**2).sum(axis=1)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0.0))
    return pd.Series(d.sum(axis=1), index=sub["member"].to_numpy(int), name="distance_sum")


def typical_member(q: pd.DataFrame, columns: tuple[str, ...] = TYPICAL_QUANTITIES) -> int:
    """The bundled cohort's member number by the module's rule (eligible members only;
    ties to the lowest member number). ValueError when no member is eligible."""
    sums = distance_sums(q, columns)
    ok = q.loc[eligible(q), "member"].to_numpy(int)
    candidates = sums[sums.index.isin(ok)]
    if candidates.empty:
        raise ValueError("no member's log-rank P reads P = .01 (.0095 <= P < .015)")
    return int(candidates.index[int(np.argmin(candidates.to_numpy()))])


def member_csv(members_gz: bytes, member: int) -> bytes:
    """Member ``member``'s rows of ``members.csv.gz`` as a cohort CSV: the stored lines,
    with the leading ``member`` field dropped (same bytes as ``data/cohort.csv``'s format)."""
    lines = gzip.decompress(members_gz).decode("utf-8").splitlines()
    header, prefix = lines[0], f"{member},"
    if not header.startswith("member,"):
        raise ValueError("members.csv.gz does not start with a 'member' column")
    rows = [line[len(prefix):] for line in lines[1:] if line.startswith(prefix)]
    if not rows:
        raise ValueError(f"member {member} is not in members.csv.gz")
    return ("\n".join([header[len("member,"):], *rows]) + "\n").encode("utf-8")


@dataclass(frozen=True)
class TypicalMember:
    """The chosen member, its cohort CSV and its quantities beside the ensemble's."""

    member: int
    csv: bytes
    quantities: pd.DataFrame  # quantities.csv: one row per member
    n_members: int
    n_eligible: int

    @property
    def row(self) -> pd.Series:
        return self.quantities.set_index("member").loc[self.member]

    def design(self) -> str:
        """The member's design cell, e.g. ``weibull_1.5, equal, logrank, strict``."""
        return ", ".join(str(self.row[c]) for c in ("model", "palliation", "test", "rounding"))

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row per reported quantity: the member's value, the ensemble median and the
        member's mid-rank percentile (share below plus half the share equal, so a count
        shared by many members sits in the middle of its tie) among the members where it
        is estimable. The counts are summaries over synthetic cohorts, not patients:
        ``min_cell`` does not apply."""
        del min_cell
        rows = []
        for name, label in REPORTED.items():
            values = self.quantities[name].dropna().to_numpy(float)
            value = float(self.row[name])
            share = np.mean(values < value) + 0.5 * np.mean(values == value)
            rows.append({"quantity": name, "label": label, "member": value,
                         "ensemble_median": float(np.median(values)),
                         "percentile": 100 * float(share)})
        return pd.DataFrame(rows)

    def to_results(self) -> dict[str, Any]:
        """JSON-safe summary: member, design cell, eligible count, reported values."""
        return {"member": self.member, "design": self.design(), "n_members": self.n_members,
                "n_eligible": self.n_eligible,
                "values": {r.quantity: finite_or_none(r.member)
                           for r in self.table().itertuples()}}

    def sentence(self) -> str:
        """One line saying which member the bundled cohort is and why."""
        return (f"The bundled cohort is member {self.member} of {self.n_members:,} "
                f"({self.design()}): of the {self.n_eligible:,} members whose log-rank P "
                "reads P = .01, the one nearest the ensemble's centre over "
                f"{len(TYPICAL_QUANTITIES)} standardised unpublished quantities.")


def typical_cohort(files: Mapping[str, bytes]) -> TypicalMember:
    """The typical member of an ensemble given as its files' bytes (``members.csv.gz``,
    ``quantities.csv``; :func:`nethep.reconstruct.store.ensemble_files` or the shipped
    folder)."""
    q = pd.read_csv(io.BytesIO(files["quantities.csv"]))
    member = typical_member(q)
    return TypicalMember(member, member_csv(files["members.csv.gz"], member), q,
                         n_members=len(q), n_eligible=int(eligible(q).sum()))


def shipped_files(folder: Path = ENSEMBLE_DIR) -> dict[str, bytes]:
    """The bytes of the shipped ensemble's files (FileNotFoundError names a missing one)."""
    folder = Path(folder)
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}: build it with "
                                "`nethep ensemble`")
    return {name: (folder / name).read_bytes() for name in FILES}


__all__ = ["ELIGIBLE_LOGRANK_P", "TYPICAL_QUANTITIES", "TypicalMember", "distance_sums",
           "eligible", "member_csv", "shipped_files", "typical_cohort", "typical_member"]
