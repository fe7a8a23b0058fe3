"""RMST (horizon rule, R's SE, bootstrap CI) and the power design table (effect_size).

RMST and its SE are compared with R survival's ``summary(survfit(...), rmean = tau)``
and the stratified bootstrap with R boot's (tests/reference/make_rmst_reference.R ->
rmst.json); the batched bootstrap area with the engine on replicated rows; the power
table with values worked by hand from Schoenfeld's formula.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nethep.cohort import load_cohort
from nethep.km import restricted_mean_survival
from nethep.robustness.effect_size import (
    _batched_rmst,
    default_tau,
    power,
    restricted_means,
    rmst,
)

REFERENCE = json.loads((Path(__file__).parent / "reference" / "rmst.json").read_text())
DATA = Path(__file__).parent / "reference" / "data"
COLUMN = {"cohort": "arm"}


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return load_cohort()


@pytest.fixture(scope="module")
def means(df):
    return restricted_means(df)


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: f"{c['data']}-{c['tau']:g}")
def test_rmst_and_se_match_r(case):
    data = pd.read_csv(DATA / f"{case['data']}.csv")
    column = COLUMN.get(case["data"], "group")
    last = data.groupby(column)["time"].max()
    if case["default"]:
        assert case["tau"] == pytest.approx(last.min())  # survRM2's rule, as R computed it
    for group, ref in case["groups"].items():
        sub = data[data[column] == group]
        area, se = restricted_mean_survival(sub["time"].to_numpy(float),
                                            sub["event"].to_numpy(int), case["tau"])
        assert area == pytest.approx(ref["rmean"], rel=1e-6), group
        assert se == pytest.approx(ref["se"], rel=1e-6), group


def test_cohort_default_horizon_is_the_shorter_arms_last_followup(df, means):
    ref = next(c for c in REFERENCE["cases"] if c["data"] == "cohort" and c["default"])
    shorter_last = df.groupby("arm")["followup_months"].max().min()
    assert default_tau(df) == ref["tau"] == shorter_last
    main = means.main
    assert main.tau == ref["tau"] and not main.extended and "survRM2" in main.tau_rule
    for arm in ("surgical", "nonsurgical"):
        assert main.arm(arm)["rmst"] == pytest.approx(ref["groups"][arm]["rmean"], rel=1e-6)
        assert main.arm(arm)["se"] == pytest.approx(ref["groups"][arm]["se"], rel=1e-6)
    se = math.hypot(ref["groups"]["surgical"]["se"], ref["groups"]["nonsurgical"]["se"])
    assert main.se_diff == pytest.approx(se, rel=1e-6)


def test_horizon_beyond_followup_is_flagged_and_kept_apart(df, means):
    tau = df.groupby("arm")["followup_months"].max().min()
    assert 36 < tau < 60  # so 36 months is a second horizon and 60 lies beyond follow-up
    assert [r.tau for r in means.others] == [36.0]
    assert [r.tau for r in means.extended_results] == [60.0]
    assert all(not r.extended for r in means.results) and 60.0 not in [r.tau for r in
                                                                       means.results]
    out = means.to_results()
    assert out["tau"] == tau and out["tau_rule"] == means.main.tau_rule
    assert "extended" not in {k for k, v in out.items() if not isinstance(v, dict)}
    assert out["extended"]["60"]["extended"] is True and out["36"]["extended"] is False
    assert set(out) >= {"surgical", "nonsurgical", "diff", "lower", "upper", "boot_lower",
                        "boot_upper", "n_resamples", "seed", "36", "extended"}
    assert "60 months" in means.finding() and "shown apart" in means.notes()
    table = means.table(min_cell=5)
    assert set(table.loc[table["tau"] == 60, "role"]) == {"extended"}
    assert set(table.loc[table["arm"] == "surgical", "events"]) == {"<5"}


def test_bootstrap_matches_r_boot_within_monte_carlo_error(df):
    ref = REFERENCE["bootstrap"]
    res = rmst(df, None, n_resamples=ref["n_resamples"], seed=7)
    assert res.diff == pytest.approx(ref["estimate"], rel=1e-9)
    # 20,000 resamples each: the 2.5% and 97.5% quantiles have Monte Carlo SD ~0.08
    assert res.boot_lower == pytest.approx(ref["percentile_lower"], abs=0.3)
    assert res.boot_upper == pytest.approx(ref["percentile_upper"], abs=0.3)


def test_batched_area_equals_the_engine_on_replicated_rows(df):
    sub = df[df["arm"] == "nonsurgical"]
    t, e = sub["followup_months"].to_numpy(float), sub["died"].to_numpy(float)
    rng = np.random.default_rng(3)
    weights = rng.integers(0, 3, size=(5, len(t)))
    weights[:, t.argmax()] = 0  # a sample without the longest follow-up: flat extension
    got = _batched_rmst(t, e, weights.astype(float), 60.0)
    for row, w in zip(got, weights, strict=True):
        want, _ = restricted_mean_survival(np.repeat(t, w), np.repeat(e, w), 60.0)
        assert row == pytest.approx(want, rel=1e-12)


def test_bootstrap_is_deterministic(df):
    a, b = rmst(df, 36, n_resamples=500, seed=11), rmst(df, 36, n_resamples=500, seed=11)
    assert (a.boot_lower, a.boot_upper) == (b.boot_lower, b.boot_upper)
    assert rmst(df, 36, n_resamples=0).to_results()["boot_lower"] is None


# -------------------------------------------------------------------------------- power


def test_power_design_table_hand_computed(df):
    res = power(df)
    # D = 24, p = 13/48, sqrt(D p (1 - p)) = 2.177058; power = Phi(2.177058 |ln HR| - 1.959964)
    want = {0.3: (0.745744, 28, 56), 0.5: (0.326016, 83, 166), 0.7: (0.118313, 313, 626)}
    assert list(res.rows["hr"]) == [0.3, 0.5, 0.7]
    for hr, (pw, d80, n80) in want.items():
        row = res.scenario(f"HR {hr:g}")
        assert row["power"] == pytest.approx(pw, abs=1e-6)
        assert (row["events_80"], row["n_80"]) == (d80, n80)  # ceil(7.84887 / (p(1-p) ln^2))
    assert res.needed_sentence() == ("83 deaths (166 patients) would give 80% power to "
                                     "detect HR 0.5; this study had 24.")


def test_no_observed_power_anywhere(df):
    res = power(df)
    out = res.to_results()
    flat = json.dumps(out)
    assert "observed" not in flat and set(out["design"]) == {"hr_0_3", "hr_0_5", "hr_0_7"}
    assert out["design"]["hr_0_5"]["events_80"] == 83
    assert "observed" not in " ".join(res.rows["scenario"])
    assert "post-hoc" in res.note() and "Hoenig" in res.note()
    assert res.design_sentence().startswith("With 24 deaths")
    assert "<30 deaths" in res.design_sentence(min_cell=30)
    with pytest.raises(ValueError, match="not 1"):
        power(df, hrs=(1.0,))
