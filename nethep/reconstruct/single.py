"""The reconstruction's stated covariate and censoring model, its targets and CSV format.

The original records of Musunuru et al. (Arch Surg 2006) were never published. The
bundled cohort ``data/cohort.csv`` is one member of the ensemble of abstract-consistent
cohorts (:mod:`nethep.reconstruct.ensemble` draws them, :mod:`nethep.reconstruct.typical`
states which member is bundled). This module holds what every member shares:

What is **fixed** by the paper (provenance ``published``; :class:`Targets` reads
``data/published.yaml``): 48 patients; 36 carcinoid and 12 islet cell; 17 medical
(octreotide 7, observation 6, chemotherapy 4), 18 embolization, 13 surgical
(resection 6, ablation 4, both 3).

What is **simulated** (nothing published; plausible, not to be interpreted): tumour
type per patient (a random permutation of the published totals), sex (Bernoulli 0.5),
age (Normal(58, 11) years, rounded, clipped to 25-85), date of diagnosis (uniform over
January 1996 - May 2004, kept as the year), hormonal symptoms (Bernoulli 0.65 for
carcinoid, 0.45 for islet cell), months from diagnosis to first treatment (Gamma; means
2.5 surgical, 4 embolization, 1.5 octreotide, 2 chemotherapy; none for observation),
and liver involvement (Beta(2, 3.5) in whole percent, 1-95, for all groups).

**Censoring**: loss to follow-up (exponential, rate 0.015 per month from first
treatment) or data closure on 31 December 2005, whichever comes first; times in tenths
of a month.

What **cannot be known** from the abstract: who had which tumour type, symptoms or
liver burden; ages, sex, dates; the shape of the survival curves beyond the 3-year
points; the deaths per group; the timing of treatment. Any analysis of those columns
describes the reconstruction, not the patients.

(Earlier versions of this module also held a seeded rejection search whose first accepted
draw was the bundled cohort; that cohort sat in the tail of the ensemble and the search
was removed when the bundled cohort became the ensemble's typical member.)
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from nethep.published import load_published

WINDOW_START = np.datetime64("1996-01-01")
WINDOW_END = np.datetime64("2004-05-31")
DATA_CLOSURE = np.datetime64("2005-12-31")

LOSS_RATE = 0.015  # per month
LIVER_BETA = (2.0, 3.5)
SYMPTOM_PROB = MappingProxyType({"carcinoid": 0.65, "islet_cell": 0.45})
AGE_MEAN_SD = (58.0, 11.0)
TREATMENT_DELAY = MappingProxyType({  # Gamma(shape, scale) months from diagnosis to treatment
    "surgical": (2.0, 1.25),
    "embolization": (2.0, 2.0),
    "octreotide": (1.5, 1.0),
    "chemotherapy": (2.0, 1.0),
})


@dataclass(frozen=True)
class Targets:
    """Published targets read from ``published.yaml`` (``raw``: each with its rounding)."""

    raw: dict[str, Any]

    @classmethod
    def load(cls) -> Targets:
        return cls(load_published()["targets"])

    @property
    def n_by_treatment(self) -> dict[str, int]:
        return {k: v["value"] for k, v in self.raw["n_by_treatment"].items()}

    @property
    def n_by_tumor_type(self) -> dict[str, int]:
        return {k: v["value"] for k, v in self.raw["n_by_tumor_type"].items()}

    def s36(self, arm: str) -> float:
        return self.raw["survival_36_months"][arm]["value"] / 100


def _format_csv(df: pd.DataFrame) -> bytes:
    """Contract column order; decimals as written in a record (one place for months)."""
    out = df.copy()
    for col in ("months_to_treatment", "followup_months"):
        out[col] = out[col].map(lambda x: "" if pd.isna(x) else f"{x:.1f}")
    for col in ("liver_involvement_pct", "palliated"):
        out[col] = out[col].map(lambda x: "" if pd.isna(x) else f"{int(x)}")
    buf = io.StringIO()
    out.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")
