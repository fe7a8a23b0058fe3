"""Property test: the analysis layer of notebooks 01-05 on small valid cohorts of every shape.

Hypothesis draws cohorts of 1 to 12 patients that satisfy the data contract (any mix of
treatment groups and arms, tumour types, deaths, follow-up, symptoms and palliation),
validates them as ``nethep validate`` does, and calls every analysis function the
notebooks 01-05 call, with small permutation and bootstrap counts. It asserts that

- nothing raises (a section that cannot be estimated returns its result, in words);
- every number in each ``to_results()`` is finite or None (no NaN, no infinity);
- every None sits beside a ``reason`` (:func:`nethep.estimable.unexplained_nulls`);
- no sentence prints ``nan``, ``inf`` or a fake ``0.00 (0.00 to 0.00)`` interval.

Settings: ``derandomize=True`` (the same examples on every run, so CI is deterministic),
``max_examples`` :data:`EXAMPLES`, no deadline, no shrinking (a failing cohort is
printed as drawn; shrinking one takes minutes here).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from nethep.cohort import analysable_problems, derive, not_estimable_sections, validate
from nethep.contract import fields, treatment_groups
from nethep.describe import data_source, patient_flow
from nethep.estimable import unexplained_nulls
from nethep.palliation import palliation
from nethep.published import paper_vs_ours
from nethep.results import to_jsonable
from nethep.robustness import (
    TRUNCATION_ALTERNATIVE,
    RobustnessSection,
    compare_tables,
    could_differ,
    cox_adjusted,
    iptw_cox,
    landmarks,
    power,
    primary_evalue,
    restricted_means,
    small_event_inference,
    small_sample_inference,
    time_varying_cox,
)
from nethep.survival import cox_surgical, followup, survival_section
from nethep.tableone import table_one

#: Examples per run: about 1 s each on a loaded 2-core machine.
EXAMPLES = 30
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    phases=(Phase.explicit, Phase.generate),  # no shrinking: slow here
                    suppress_health_check=[HealthCheck.too_slow])
#: What a sentence must never print for a missing number.
FORBIDDEN = re.compile(r"\bnan\b|\binf\b|0\.00 \(0\.00 to 0\.00\)|NaN%", re.IGNORECASE)
GROUP_OF = treatment_groups()
TREATMENTS = {g: sorted(t for t, grp in GROUP_OF.items() if grp == g)
              for g in set(GROUP_OF.values())}


@st.composite
def patient(draw: st.DrawFn, i: int) -> dict[str, str]:
    """One contract-valid row (text cells, as a file gives them)."""
    group = draw(st.sampled_from(sorted(TREATMENTS)))
    treatment = draw(st.sampled_from(TREATMENTS[group]))
    months = draw(st.integers(1, 800)) / 10  # 0.1 to 80 months, one decimal
    treated = treatment != "observation"
    to_treatment = draw(st.integers(0, int(months * 10))) / 10 if treated else None
    symptomatic = draw(st.booleans())
    return {
        "patient_id": f"P{i:02d}",
        "tumor_type": draw(st.sampled_from(["carcinoid", "islet_cell"])),
        "treatment_group": group, "treatment": treatment,
        "liver_involvement_pct": str(draw(st.integers(0, 100))),
        "months_to_treatment": "" if to_treatment is None else f"{to_treatment:g}",
        "followup_months": f"{months:g}",
        "died": str(int(draw(st.booleans()))),
        "symptomatic": str(int(symptomatic)),
        "palliated": str(int(draw(st.booleans()))) if symptomatic else "",
        "year_of_diagnosis": "2000",
        "age_years": str(draw(st.integers(18, 100))),
        "sex": draw(st.sampled_from(["female", "male"])),
    }


@st.composite
def cohorts(draw: st.DrawFn) -> pd.DataFrame:
    """A validated, derived cohort of 1 to 12 patients (as :func:`load_cohort` gives it)."""
    n = draw(st.integers(1, 12))
    rows = [draw(patient(i)) for i in range(n)]
    raw = pd.DataFrame(rows, columns=list(fields()))
    df = derive(validate(raw, "drawn.csv")).set_index("patient_id", drop=False)
    df.index.name = None
    df.attrs.update(source="your cohort", reconstructed=False)
    return df


def _numbers_finite(tree: Any, path: str = "") -> list[str]:
    """Paths of NaN or infinite floats in a to_results() tree (before JSON conversion)."""
    bad: list[str] = []
    if isinstance(tree, Mapping):
        for key, value in tree.items():
            bad += _numbers_finite(value, f"{path}.{key}")
    elif isinstance(tree, list | tuple):
        for i, item in enumerate(tree):
            bad += _numbers_finite(item, f"{path}[{i}]")
    elif isinstance(tree, pd.DataFrame):
        bad += _numbers_finite(tree.to_dict(orient="records"), path)
    elif isinstance(tree, float) and not math.isfinite(tree):
        bad.append(path)
    return bad


def check_results(name: str, values: Mapping[str, Any]) -> None:
    """Finite or None everywhere; every None explained by a reason."""
    assert _numbers_finite(values, name) == [], f"{name}: NaN or infinite numbers"
    tree = to_jsonable(values)
    # a choice set to null is an option not used (e.g. no weight trimming), not a number
    missing = [path for path in unexplained_nulls(tree, name) if ".choices." not in path]
    assert missing == [], f"nulls without a reason: {missing}"


def check_text(*texts: str) -> None:
    for text in texts:
        assert not FORBIDDEN.search(text), text


def check_table(table: pd.DataFrame) -> None:
    """A table renders (as the notebook shows it) without printing inf."""
    shown = table.round(3).to_string()
    assert not re.search(r"(?<![A-Za-z])-?inf(?![A-Za-z])", shown), shown


@PROPERTY
@given(df=cohorts())
def test_notebooks_01_to_04_analyses_never_raise(df):
    assert analysable_problems(df, "drawn.csv") == []
    assert all(isinstance(note, str) and note for note in not_estimable_sections(df))
    flow, fu = patient_flow(df), followup(df)
    check_table(flow.table(1))
    check_text(flow.sentence(0), fu.sentence(0))
    for name, result in (("data", data_source(df)), ("cohort", flow), ("followup", fu)):
        check_results(name, result.to_results())

    t1 = table_one(df)
    check_table(t1.table())
    check_table(t1.stats(0))
    check_text(t1.difference_sentence("liver_involvement_pct"), t1.findings(),
               t1.provenance_sentence())
    check_results("treatment_groups", t1.to_results())

    section = survival_section(df)
    for table in (section.at.table(), *(m.table() for m in section.medians),
                  section.pairs.table(), section.cox.table()):
        check_table(table)
    comparison = paper_vs_ours(df)
    check_text(*(lr.sentence() for lr in section.logranks.values()),
               section.findings(comparison.n_match(0), comparison.n_compared(0)),
               comparison.sentence(0))
    check_results("survival", section.to_results())
    check_results("comparison", comparison.to_results(0))

    result = palliation(df)
    check_table(result.table())
    check_table(result.tests_table())
    check_text(result.summary(0), result.small_numbers_caveat(0),
               comparison.verdict("palliation_three_groups", "the exact P", 0))
    check_results("palliation", result.to_results())


@PROPERTY
@given(df=cohorts())
def test_notebook_05_analyses_never_raise(df):
    small_events = small_event_inference(df)
    inference = small_sample_inference(df, n_permutations=200, n_resamples=50)
    adjusted = cox_adjusted(df)
    iptw = iptw_cox(df, n_boot=20)
    iptw_ate = iptw_cox(df, estimand="ATE", n_boot=20)
    iptw_truncated = iptw_cox(df, truncate=TRUNCATION_ALTERNATIVE, n_boot=0)
    prop = iptw.propensity
    ev = primary_evalue(small_events.primary, df)
    lms, tv = landmarks(df), time_varying_cox(df)
    rm = restricted_means(df, n_resamples=50)
    pw = power(df)
    for table in (small_events.table(), inference.table(), inference.logrank_table(),
                  inference.bootstrap_table(), adjusted.table(), prop.coefficients,
                  prop.weight_summary(), prop.positivity.table(), prop.table(),
                  compare_tables({"ATT": iptw, "ATE": iptw_ate, "truncated": iptw_truncated}),
                  lms.table(), tv.table(), rm.table(), pw.table()):
        check_table(table)
    section = RobustnessSection(
        naive=cox_surgical(df), inference=inference, small_events=small_events,
        adjusted=adjusted, iptw=iptw, iptw_ate=iptw_ate, iptw_truncated=iptw_truncated,
        evalue=ev, landmarks=lms, time_varying=tv, rmst=rm, power=pw)
    check_table(section.table())
    texts = [small_events.primary_rule, small_events.finding(0), inference.p_values(),
             inference.variance_sentence(), inference.bootstrap_notes(),
             adjusted.fit_notes(0), prop.positivity.sentence(0), iptw.sentence(),
             iptw_ate.sentence(), iptw_truncated.truncation_sentence(iptw), lms.notes(0),
             tv.sentence(0), rm.p_sentence(), rm.notes(), pw.note(), pw.design_sentence(0),
             pw.assumptions_text(0), section.summary.primary_sentence(),
             section.findings(0), section.simulated_note(),
             *could_differ(False, small_events.deaths[0], tv.waiting_months).values()]
    if ev is not None:
        texts += [ev.detail(), ev.sentence()]
    check_text(*texts)
    check_results("robustness", section.to_results())


@pytest.mark.parametrize("n", [1, 2])
def test_the_smallest_cohorts_are_analysed(n):
    """One patient, and two patients in one arm: every section returns, and says why it is
    not estimable (deterministic companions of the property tests)."""
    rows = [{"patient_id": f"P{i}", "tumor_type": "carcinoid", "treatment_group": "surgical",
             "treatment": "resection", "liver_involvement_pct": "20",
             "months_to_treatment": "1", "followup_months": f"{20 + i}", "died": "1",
             "symptomatic": "0", "palliated": "", "year_of_diagnosis": "2000",
             "age_years": "60", "sex": "female"} for i in range(n)]
    df = derive(validate(pd.DataFrame(rows, columns=list(fields())), "x.csv"))
    df.attrs.update(source="your cohort", reconstructed=False)
    results = survival_section(df).to_results()
    cox = results["cox"]["surgical_vs_nonsurgical"]
    assert cox["hr"] is None
    assert "no non-surgical patient" in cox["reason"] or "nothing to compare" in cox["reason"]
    assert results["at_months"]["36"]["medical"] == {
        "estimate": None, "lower": None, "upper": None, "reason": "no patients in this group"}
    power_results = power(df).to_results()["design"]["hr_0_5"]
    assert power_results["power"] is None and power_results["reason"]
