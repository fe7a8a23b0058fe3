"""Known-truth scenarios: what the methods of notebook 05 can detect (notebook 06).

Cohorts are simulated in the shape of the analysed one, under stated data-generating
models with a stated true hazard ratio, and every robustness method is applied to
each replicate, vectorised across replicates (:mod:`nethep.coxbatch`):

======================================================  ===============================
:mod:`~nethep.robustness.scenarios.simulate`            the cohort's shape and the
                                                        data-generating models
:mod:`~nethep.robustness.scenarios.methods`             every method of notebook 05,
                                                        batched over replicates
:mod:`~nethep.robustness.scenarios.summary`             bias, coverage, rejection;
                                                        :class:`ScenarioStudy`
:mod:`~nethep.robustness.scenarios.store`               the bundled cohort's study,
                                                        shipped in ``data/scenarios/``
======================================================  ===============================

The package exports what a notebook needs (:func:`scenario_study`: the shipped study
for the bundled cohort, else :func:`run_scenarios`; :class:`ScenarioStudy`, the
scenarios and methods; :func:`simulation_reason`: why a cohort's shape cannot be
simulated, in words); the models themselves are in ``simulate``.
``python -m nethep.robustness.scenarios --check`` rebuilds the shipped study and
compares it; ``--build`` rewrites it.
"""

from nethep.robustness.scenarios.methods import METHOD_LABELS, N_PERMUTATIONS, RMST_TAU
from nethep.robustness.scenarios.simulate import (
    KINDS,
    TRUE_HRS,
    Scenario,
    default_scenarios,
    simulation_reason,
)
from nethep.robustness.scenarios.store import scenario_study
from nethep.robustness.scenarios.summary import (
    N_REPLICATES,
    SEED,
    ScenarioStudy,
    run_scenarios,
)

__all__ = [
    "KINDS",
    "METHOD_LABELS",
    "N_PERMUTATIONS",
    "N_REPLICATES",
    "RMST_TAU",
    "SEED",
    "TRUE_HRS",
    "Scenario",
    "ScenarioStudy",
    "default_scenarios",
    "run_scenarios",
    "scenario_study",
    "simulation_reason",
]
