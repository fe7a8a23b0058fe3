"""The benchmarks still run against nethep's current API.

The suite does not time anything (speed goals live in ``benchmarks/``), and nothing
else runs the benchmark scripts, so they can break unnoticed: ``registry_scale.py``
read ``CoxResult.hr`` for months after the hazard ratio moved to
``CoxResult.hazard_ratio`` and crashed at its Cox step. These tests run the parts of
two benchmarks that call nethep, on tiny inputs, in this process, and check the
numbers they would compare (not their times).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str) -> ModuleType:
    """A benchmark script as a module (under a name that cannot shadow nethep's),
    registered so that worker processes can unpickle its functions."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_registry_scale_steps_give_their_check_numbers(tmp_path):
    bench = _load("registry_scale")
    bench.write_cohort(tmp_path / "cohort.csv", 600, 2006)
    checks = {step: bench.run_step(step, tmp_path)["check"] for step in bench.STEPS}
    assert checks["read+validate"] == {"rows": 600}
    km = checks["Kaplan-Meier"]
    assert 0 < km["lower_surgical_60"] <= km["surv_surgical_60"] <= km["upper_surgical_60"] < 1
    assert checks["log-rank"]["chisq"] > 0
    cox = checks["Cox"]
    assert 0 < cox["hr"] < math.inf and cox["se"] > 0 and cox["ph_chisq"] >= 0
    assert bench.run_pipeline(tmp_path)["seconds"] > 0


def test_ensemble_benchmark_builds_computes_and_draws():
    bench = _load("ensemble")
    times, built = bench.bench_nethep(48, workers=1)
    assert set(times) == {"build", "quantities", "total"}
    assert built.n_members == 48
    drawn = built.tried[["surgical_arms", "nonsurgical_arms"]].sum()
    assert drawn.min() >= 48 * bench.BATCH  # at least one round per cell
    wall, cpu = bench.bench_draws(built, workers=1)
    assert wall > 0 and cpu > 0
