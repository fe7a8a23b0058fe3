"""Robustness of the surgical vs non-surgical survival comparison (notebook 05).

The questions a statistical reviewer asks of a 48-patient observational comparison,
one module each; every analysis returns a small frozen dataclass with
``.table(min_cell)`` (a tidy DataFrame) and ``.to_results()`` (its numbers for
results.json):

==============================================  =======================================
:mod:`~nethep.robustness.inference`             permutation, exact and survdiff-style
                                                log-rank tests; bootstrap
:mod:`~nethep.robustness.confounding`           adjusted Cox model; E-value
:mod:`~nethep.robustness.weighting`             propensity score, weights (ATT primary,
                                                ATE beside it), positivity, IPTW Cox
:mod:`~nethep.robustness.iptw_bootstrap`        bootstrap of the whole IPTW pipeline
:mod:`~nethep.robustness.immortal_time`         landmark analyses; time-varying Cox
:mod:`~nethep.robustness.effect_size`           restricted mean survival time; power
:mod:`~nethep.robustness.small_events`          ordinary Cox tests beside Firth; the
                                                primary estimate and its rule
:mod:`~nethep.robustness.summary`               the closing table and
                                                :class:`RobustnessSection` (what
                                                notebook 05 shows and saves)
:mod:`~nethep.robustness.could_differ`          could each analysis have changed the
                                                answer on this cohort, and why
:mod:`~nethep.robustness.design`                design matrix, survival frame, checks
==============================================  =======================================

Conventions shared by every module:

- Time is ``followup_months`` from diagnosis of liver metastases, the event is
  ``died``; the exposure is the derived ``surgical`` flag (``nethep.cohort.derive``).
- Covariates are named by cohort column (:func:`~nethep.robustness.design.design_matrix`).
- Cox models: Efron ties, Wald 95% CI and P, as R's ``coxph`` defaults; every hazard
  ratio is a :class:`nethep.cox.HazardRatio`. Every number that R's survival package
  also computes is checked against it in ``tests/test_robustness.py``.
- Confidence level 95%, two-sided. The choices notebook 05 states (permutations,
  resamples, landmarks, truncation, RMST horizons) are module constants.
- Honesty about the bundled data: on the reconstruction (``df.attrs["reconstructed"]``)
  each result's ``simulated`` field lists the inputs the data contract marks
  ``simulated`` (age, time to treatment).
"""

from nethep.robustness.confounding import (
    AdjustedCox,
    EValue,
    cox_adjusted,
    evalue,
    outcome_is_common,
    primary_evalue,
)
from nethep.robustness.could_differ import could_differ
from nethep.robustness.design import DEFAULT_COVARIATES, compare_tables, simulated_inputs
from nethep.robustness.effect_size import (
    DESIGN_HRS,
    N_RMST_RESAMPLES,
    RMST_TAUS,
    PowerResult,
    RestrictedMeans,
    RMSTResult,
    default_tau,
    power,
    restricted_means,
    rmst,
)
from nethep.robustness.immortal_time import (
    LANDMARK_ALTERNATIVES,
    LANDMARK_MONTHS,
    LandmarkResult,
    Landmarks,
    TimeVaryingCox,
    counting_process,
    landmark,
    landmarks,
    time_varying_cox,
)
from nethep.robustness.inference import (
    BOOTSTRAP_MONTHS,
    N_PERMUTATIONS,
    N_RESAMPLES,
    SmallSampleInference,
    logrank_comparison,
    small_sample_inference,
)
from nethep.robustness.small_events import (
    MIN_DEATHS_PER_ARM,
    SmallEventInference,
    small_event_inference,
)
from nethep.robustness.summary import RobustnessSection, RobustnessSummary, robustness_summary
from nethep.robustness.weighting import (
    PRIMARY_ESTIMAND,
    TRUNCATION_ALTERNATIVE,
    IPTWCox,
    Positivity,
    Propensity,
    iptw_cox,
    propensity,
)

__all__ = [
    "BOOTSTRAP_MONTHS",
    "DEFAULT_COVARIATES",
    "DESIGN_HRS",
    "LANDMARK_ALTERNATIVES",
    "LANDMARK_MONTHS",
    "MIN_DEATHS_PER_ARM",
    "N_PERMUTATIONS",
    "N_RESAMPLES",
    "N_RMST_RESAMPLES",
    "RMST_TAUS",
    "TRUNCATION_ALTERNATIVE",
    "AdjustedCox",
    "EValue",
    "IPTWCox",
    "LandmarkResult",
    "Landmarks",
    "PowerResult",
    "Propensity",
    "RMSTResult",
    "RestrictedMeans",
    "RobustnessSection",
    "RobustnessSummary",
    "SmallEventInference",
    "SmallSampleInference",
    "TimeVaryingCox",
    "compare_tables",
    "counting_process",
    "cox_adjusted",
    "default_tau",
    "evalue",
    "iptw_cox",
    "landmark",
    "landmarks",
    "logrank_comparison",
    "outcome_is_common",
    "power",
    "propensity",
    "restricted_means",
    "rmst",
    "robustness_summary",
    "simulated_inputs",
    "small_event_inference",
    "small_sample_inference",
    "time_varying_cox",
    # H3 (issue 12): IPTW estimands and positivity, E-value of the primary, could-differ
    "PRIMARY_ESTIMAND",
    "Positivity",
    "could_differ",
    "primary_evalue",
]
