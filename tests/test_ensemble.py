"""The ensemble of abstract-consistent cohorts (issue 11).

- the batched engines agree with nethep's own (km, logrank, cox, exact) and scipy on
  single cohorts: the generator is checked by a path independent of it;
- every shipped member reproduces every published number at its printed rounding,
  recomputed with nethep's engines (all members) and with
  :func:`nethep.published.computed_targets` (a sample);
- the build is deterministic, prefix-stable, atomic, and refuses bad member counts.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nethep import cli, load_cohort
from nethep.cohort import derive
from nethep.contract import GROUPS
from nethep.cox import _derivatives, _risk_sets, coxph
from nethep.exact import fisher_exact_rxc
from nethep.km import kaplan_meier, restricted_mean_survival, risk_table
from nethep.logrank import survdiff
from nethep.published import computed_targets, load_published, matches
from nethep.reconstruct import batch, store
from nethep.reconstruct.ensemble import (
    CELLS,
    MODELS,
    READINGS,
    Ensemble,
    Layout,
    _arm,
    build_ensemble,
    km36_rounds_to,
)
from nethep.reconstruct.quantities import COLUMNS, cohort_arrays, quantities, tipping_points
from nethep.reconstruct.summary import LABELS, ensemble_summary
from nethep.results import to_jsonable
from nethep.robustness import iptw_cox, landmark
from nethep.survival import cox_surgical, logrank
from nethep.tableone import kruskal_p

TARGETS = load_published()["targets"]
PATIENTS = TARGETS["n_patients"]["value"]


@pytest.fixture(scope="module")
def shipped() -> store.StoredEnsemble:
    return store.load_ensemble()


@pytest.fixture(scope="module")
def members(shipped) -> dict[str, np.ndarray]:
    """The shipped members' columns as (member, patient) arrays, member 1 first: the
    long table holds 48 rows per member in member order (asserted)."""
    long = shipped.members
    n = shipped.manifest["n_members"]
    grid = {col: long[col].to_numpy().reshape(n, PATIENTS) for col in long.columns}
    assert (grid["member"] == np.arange(1, n + 1)[:, None]).all()
    return grid


def _cohort(shipped: store.StoredEnsemble, j: int) -> pd.DataFrame:
    """Member ``j`` (1-based) as a cohort DataFrame with the derived columns."""
    rows = shipped.members.iloc[(j - 1) * PATIENTS:j * PATIENTS]
    assert (rows["member"] == j).all()
    return derive(rows.drop(columns="member").reset_index(drop=True))


def _score_p(t: np.ndarray, e: np.ndarray, x: np.ndarray) -> float:
    """Efron score test at beta = 0 from nethep.cox's own derivatives."""
    _, u, info = _derivatives(_risk_sets(t, e.astype(float), x[:, None], "efron"), np.zeros(1))
    return float(stats.chi2.sf(u[0] ** 2 / info[0, 0], 1))


def test_batched_engines_agree_with_netheps_on_single_cohorts(shipped):
    sample = [load_cohort(), *(_cohort(shipped, j) for j in range(1, 41))]
    long = pd.concat(sample, ignore_index=True)
    a = cohort_arrays(long)
    q = quantities(a)
    for i, df in enumerate(sample):
        t, e = df["followup_months"].to_numpy(float), df["died"].to_numpy(int)
        s = df["surgical"].to_numpy(bool)
        fit = coxph(t, e, s.astype(float))
        assert q.loc[i, "hr"] == pytest.approx(fit.hr[0], rel=1e-8)
        assert q.loc[i, "hr_lower"] == pytest.approx(fit.lower[0], rel=1e-8)
        assert q.loc[i, "cox_wald_p"] == pytest.approx(fit.p[0], rel=1e-7)
        assert q.loc[i, "cox_score_p"] == pytest.approx(_score_p(t, e, s.astype(float)), rel=1e-9)
        assert q.loc[i, "logrank_p"] == pytest.approx(survdiff(t, e, s).p, rel=1e-9)
        for arm, m in (("surgical", s), ("nonsurgical", ~s)):
            km = kaplan_meier(t[m], e[m])
            at = km.at([12, 60])["surv"].to_numpy(float)
            np.testing.assert_allclose(q.loc[i, [f"s12_{arm}", f"s60_{arm}"]].to_numpy(float),
                                       at, rtol=1e-12)
            med = km.median()[0]
            assert (np.isnan(med) and np.isnan(q.loc[i, f"median_{arm}"])) or \
                q.loc[i, f"median_{arm}"] == pytest.approx(med)
            area, _ = restricted_mean_survival(t[m], e[m], 36.0)
            assert q.loc[i, f"rmst36_{arm}"] == pytest.approx(area, rel=1e-10)
        x4 = np.column_stack([s, df["tumor_type"] == "islet_cell", df["liver_involvement_pct"],
                              df["age_years"]]).astype(float)
        assert q.loc[i, "adjusted_hr"] == pytest.approx(coxph(t, e, x4).hr[0], rel=1e-7)
        assert q.loc[i, "deaths_surgical"] == e[s].sum()


def test_landmark_and_iptw_agree_with_notebook_05_on_the_bundled_cohort():
    df = load_cohort()
    q = quantities(cohort_arrays(df)).iloc[0]
    assert q["iptw_hr"] == pytest.approx(iptw_cox(df).hazard_ratio.hr, rel=1e-6)
    for at in (3, 6):
        assert q[f"landmark{at}_hr"] == pytest.approx(landmark(df, at).hazard_ratio.hr, rel=1e-6)
    assert q["hr"] == pytest.approx(cox_surgical(df).hazard_ratio.hr, rel=1e-9)


def test_kruskal_and_exact_tables_agree_with_scipy_and_nethep():
    rng = np.random.default_rng(3)
    values = rng.integers(1, 30, size=(5, 48)).astype(float)
    codes = np.repeat([0, 1, 2], 16)
    got = batch.kruskal_p(values, codes, 3)
    want = [stats.kruskal(*(v[codes == g] for g in range(3))).pvalue for v in values]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    liver = np.clip(np.rint(100 * rng.beta(2, 3.5, size=(300, 48))), 1, 95)  # many ties
    groups = np.repeat([0, 1, 2], [17, 18, 13])
    want = [stats.kruskal(*(v[groups == g] for g in range(3))).pvalue for v in liver]
    np.testing.assert_allclose(batch.kruskal_p(liver, groups, 3), want, rtol=1e-12)
    table = batch.ffh_table((5, 9, 4))
    for k in [(0, 0, 0), (2, 5, 4), (5, 2, 1), (3, 3, 3), (1, 9, 0)]:
        exact = fisher_exact_rxc(np.array([k, np.subtract((5, 9, 4), k)]))
        assert table[k] == pytest.approx(exact, rel=1e-9)


def _counts(target: dict[str, dict[str, object]]) -> Counter:
    return Counter({level: t["value"] for level, t in target.items()})


def _survival_at(t: np.ndarray, e: np.ndarray, when: float) -> float:
    """S(when) of nethep.km's product-limit curve (:func:`nethep.km.risk_table`) read as
    :meth:`nethep.km.KaplanMeier.at` reads it: 1 before the first time, NaN past the
    last unless the curve has reached 0 (the sample test below goes through ``.at``)."""
    table = risk_table(t, e)
    surv = table.surv()
    if when > table.time[-1] and surv[-1] > 0:
        return float("nan")
    i = np.searchsorted(table.time, when, side="right") - 1
    return 1.0 if i < 0 else float(surv[i])


def _reproduces(c: dict[str, np.ndarray], test: str, reading: str) -> dict[str, bool]:
    """Every published number recomputed from one member's columns ``c`` (1-d arrays)
    with nethep's single-cohort engines, and whether each matches at its rounding;
    only the member's own test of the survival P is computed."""
    t, e = c["followup_months"].astype(float), c["died"].astype(int)
    s = c["treatment_group"] == "surgical"
    ok = {"n": Counter(c["treatment"].tolist()) == _counts(TARGETS["n_by_treatment"])
          and Counter(c["tumor_type"].tolist()) == _counts(TARGETS["n_by_tumor_type"])}
    for arm, m in (("surgical", s), ("nonsurgical", ~s)):
        ok[arm] = matches(TARGETS["survival_36_months"][arm], _survival_at(t[m], e[m], 36.0))
    ok["followup"] = matches(TARGETS["median_followup_months"], float(np.median(t)))
    if test == "logrank":
        p = survdiff(t, e, s).p
    elif test == "cox_wald":
        p = coxph(t, e, s.astype(float)).p[0]
    else:
        assert test == "cox_score", test
        p = _score_p(t, e, s.astype(float))
    lo, hi = READINGS[reading]
    ok["p"] = lo <= p < hi
    # pd.crosstab(palliated, treatment_group) among the symptomatic with a palliation
    # value; rows or columns that are all zero are dropped by the exact test
    pal = c["palliated"].astype(float)
    sym = (c["symptomatic"] == 1) & ~np.isnan(pal)
    groups = c["treatment_group"][sym]
    tab = np.array([[np.sum((pal[sym] == level) & (groups == g)) for g in GROUPS]
                    for level in np.unique(pal[sym])])
    ok["palliation"] = matches(TARGETS["palliation_three_groups"], fisher_exact_rxc(tab))
    ok["liver"] = matches(TARGETS["liver_involvement_differs"],
                          kruskal_p(c["liver_involvement_pct"].astype(float),
                                    c["treatment_group"]))
    return ok


def test_every_shipped_member_reproduces_every_published_number(shipped, members):
    design = shipped.quantities.set_index("member")
    n = shipped.manifest["n_members"]
    assert len(members["member"]) == n == len(design)
    assert list(design.index) == list(range(1, n + 1))
    failures = {}
    for j in range(1, n + 1):
        ok = _reproduces({col: v[j - 1] for col, v in members.items()},
                         design.loc[j, "test"], design.loc[j, "rounding"])
        if not all(ok.values()):
            failures[j] = [k for k, v in ok.items() if not v]
    assert failures == {}


def test_a_sample_passes_paper_vs_ours_checks(shipped):
    keys = [k for k in _flat_keys() if k != "logrank_surgical_vs_nonsurgical"]
    flat = _flat_targets()
    for j in range(1, shipped.manifest["n_members"] + 1, 97):
        df = _cohort(shipped, j)
        got = computed_targets(df)
        assert all(matches(flat[k], got[k]) for k in keys), df


def _flat_targets():
    out = {}
    for key, target in TARGETS.items():
        if "rounding" in target:
            out[key] = target
        else:
            out.update({f"{key}.{sub}": t for sub, t in target.items()})
    return out


def _flat_keys():
    return list(_flat_targets())


def test_members_record_their_cell_and_the_manifest_counts_add_up(shipped):
    q = shipped.quantities
    cells = list(zip(q["model"], q["palliation"], q["test"], q["rounding"], strict=True))
    assert cells == [CELLS[(j - 1) % len(CELLS)] for j in q["member"]]
    per_cell = shipped.manifest["tried_per_cell"]
    assert sum(c["used"] for c in per_cell) == len(q)
    assert all(min(c["surgical_arms"], c["nonsurgical_arms"]) >= c["arm_pairs"]
               >= c["accepted"] >= c["used"] for c in per_cell)
    per_model = shipped.manifest["tried_per_model"]
    assert sum(m["accepted"] for m in per_model.values()) == sum(c["accepted"] for c in per_cell)


#: Members of the builds below: uneven cells (5 of the 48 hold 3 members, the others 2).
BUILT = 2 * 48 + 5


@pytest.fixture(scope="module")
def one_process() -> tuple[Ensemble, dict[str, bytes]]:
    """``BUILT`` members at the shipped seed built in 1 process, and its files."""
    built = build_ensemble(BUILT, workers=1)
    return built, store.ensemble_files(built, 1)


@pytest.fixture(scope="module")
def by_the_command(tmp_path_factory) -> Path:
    """The same build written by ``nethep ensemble`` in 2 worker processes."""
    out = tmp_path_factory.mktemp("cli") / "ensemble"
    assert cli.main(["ensemble", "--members", str(BUILT), "--workers", "2",
                     "--output", str(out)]) == cli.EXIT_OK
    return out


def test_build_is_deterministic_and_prefix_stable(one_process):
    """48 members are the first 48 of 101 with the same seed; the files' format. That
    a second build with the same seed gives the same bytes is asserted by the next
    test (a separate build, by the command, in 2 processes)."""
    larger, files = one_process
    small = build_ensemble(48, workers=1)
    first = larger.members[larger.members["member"] <= 48].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, small.members)
    assert gzip.decompress(files["members.csv.gz"]).startswith(b"member,patient_id,")
    assert files["members.csv.gz"][4:8] == b"\0\0\0\0"  # gzip mtime 0
    assert json.loads(files["manifest.json"])["n_members"] == BUILT


def test_the_number_of_workers_does_not_change_a_byte(one_process, by_the_command):
    """The 48 cells are independent streams and the quantities come in fixed blocks,
    so 1 and 2 worker processes write the same files; the two builds are separate
    draws with the same seed, so this is also the determinism check."""
    _, files = one_process
    assert {name: (by_the_command / name).read_bytes() for name in store.FILES} == files
    assert sorted(p.name for p in by_the_command.iterdir()) == sorted(store.FILES)


def test_arm_s36_rule_agrees_with_the_kaplan_meier_engine():
    """The sort-and-multiply S(36) screen of the arm draws gives the same accept
    decisions as batch.KMSteps.at and as nethep.km on single arms."""
    lay = Layout.load()
    for model in MODELS:
        for surgical, target in ((True, 83), (False, 31)):
            arms = _arm(lay, model, surgical, 4000, np.random.default_rng(5))
            got = km36_rounds_to(arms["time"], arms["died"], target)
            s36 = batch.km_steps(arms["time"], arms["died"].astype(float)).at(36.0)
            want = np.isfinite(s36) & (np.floor(100 * np.nan_to_num(s36) + 0.5) == target)
            want &= np.abs(np.abs(100 * s36 - target) - 0.5) > 1e-9
            np.testing.assert_array_equal(got, want)
            assert 0.01 < got.mean() < 0.2
            for i in np.flatnonzero(got)[:5]:
                km = kaplan_meier(arms["time"][i], arms["died"][i]).at([36])["surv"].iloc[0]
                assert np.floor(100 * km + 0.5) == target


def test_batched_kaplan_meier_agrees_with_nethep_km_on_edge_cases():
    """KMSteps.at, .median and .rmst equal nethep.km's on 1,000 small random arms in
    whole months (the area on 100 of them), with a mask: ties of deaths with deaths and
    with censorings; curves that reach 0, that sit at exactly 0.5 over an interval, that
    never reach 0.5."""
    rng = np.random.default_rng(11)
    b, n = 1000, 9
    time = rng.integers(1, 8, size=(b, n)).astype(float)
    died = (rng.random((b, n)) < rng.uniform(0.2, 1.0, (b, 1))).astype(float)
    mask = rng.random((b, n)) < 0.8
    mask[:, :2] = True
    curves = batch.km_steps(time, died, mask)
    at = {t: curves.at(t) for t in (0.5, 3.0, 4.5, 7.0, 9.0)}
    median, area = curves.median(), curves.rmst(5.0)
    seen = Counter()
    for i in range(b):
        t, e = time[i][mask[i]], died[i][mask[i]]
        km = kaplan_meier(t, e)
        want_at = km.at(list(at))["surv"].to_numpy(float)
        np.testing.assert_allclose([at[k][i] for k in at], want_at, rtol=1e-12)
        want_median = km.median()[0]
        if np.isnan(want_median):
            assert np.isnan(median[i])
        else:
            assert median[i] == pytest.approx(want_median, rel=1e-12)
        if i < 100:  # restricted_mean_survival fits lifelines' curve (16 ms a call)
            assert area[i] == pytest.approx(restricted_mean_survival(t, e, 5.0)[0], rel=1e-12)
        seen["reaches 0"] += bool(km.surv[-1] == 0)
        seen["exactly 0.5"] += bool(np.any(np.abs(km.surv - 0.5) < 1e-12))
        seen["median not reached"] += bool(np.isnan(want_median))
        seen["NaN past follow-up"] += bool(np.isnan(want_at[-1]))
    assert min(seen.values()) >= 20, seen


@pytest.mark.parametrize("bad", [0, -1, "2.5", "abc", True, 10**9])
def test_bad_member_counts_are_refused_with_a_reason(bad):
    with pytest.raises(ValueError, match="--members"):
        store.check_members(bad)


def test_an_interrupted_write_leaves_the_old_folder(tmp_path, monkeypatch):
    out = tmp_path / "ensemble"
    store.write_ensemble({"a.txt": b"old"}, out)

    def fail(self, data):
        if data == b"boom":
            raise KeyboardInterrupt
        return original(self, data)

    original = type(out).write_bytes
    monkeypatch.setattr(type(out), "write_bytes", fail)
    with pytest.raises(KeyboardInterrupt):
        store.write_ensemble({"a.txt": b"new", "b.txt": b"boom"}, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ensemble"]
    assert (out / "a.txt").read_bytes() == b"old"


def test_tipping_point_by_direct_recomputation():
    df = load_cohort()
    earliest, worst = tipping_points(cohort_arrays(df))
    k = int(earliest[0])
    cens = df[(df["arm"] == "surgical") & (df["died"] == 0)].sort_values(
        "followup_months", kind="stable").index
    for j, expect_sig in ((k - 1, True), (k, False)):
        flipped = df.copy()
        flipped.loc[cens[:j], "died"] = 1
        assert (logrank(flipped, "arm").p < 0.05) == expect_sig
    assert 1 <= worst[0] <= earliest[0]


def test_quantities_agree_with_r_for_48_members(shipped):
    """Every quantity R computes, for one member of each design cell, to 1e-6 (relative;
    R null = not estimable or not reached = NaN here)."""
    ref = json.loads((Path(__file__).parent / "reference" / "ensemble.json").read_text())
    q = shipped.quantities.set_index("member")
    checked = 0
    for row in ref["members"]:
        j = row.pop("member")
        for col, want in row.items():
            got = float(q.loc[j, col])
            if want is None:
                assert np.isnan(got), (j, col, got)
            else:
                assert got == pytest.approx(want, rel=1e-6, abs=1e-12), (j, col)
            checked += 1
    assert len(ref["members"]) >= 20 and checked >= 20 * 25


def test_summary_ranges_conclusions_and_results_keys(shipped):
    s = ensemble_summary(load_cohort())
    q = shipped.quantities
    t = s.table().set_index("quantity")
    hr = q["hr"].dropna()
    assert t.loc["hr", "median"] == pytest.approx(np.median(hr))
    assert t.loc["hr", "lower"] == pytest.approx(np.quantile(hr, 0.025))
    assert t.loc["median_surgical", "n_estimable"] == q["median_surgical"].notna().sum()
    c = s.conclusions().set_index("statement")
    assert c.loc["HR 95% CI excludes 1", "share"] == pytest.approx((q["hr_upper"] < 1).mean())
    res = to_jsonable(s.to_results())
    json.dumps(res, allow_nan=False)
    assert res["n_members"] == len(q)
    assert set(res["quantities"]) == set(COLUMNS)
    assert set(res["quantities"]["hr"]) == {"median", "lower", "upper", "bundled", "n_estimable"}
    tip = to_jsonable(s.tipping_results())
    json.dumps(tip, allow_nan=False)
    assert tip["bundled"]["earliest"] == s.bundled["tipping_earliest"]
    assert s.wide("model").shape == (len(COLUMNS), 2 + 4)
    rows = s.overall(("deaths_surgical", "hr"))
    assert list(rows.index) == [LABELS["deaths_surgical"], LABELS["hr"]]
    assert rows.iloc[1].tolist() == s.overall().loc[LABELS["hr"]].tolist()
    with pytest.raises(ValueError, match="unknown ensemble quantities"):
        s.overall(("hazard",))


@pytest.mark.parametrize("members", ["0", "-5", "2.5", "abc", "10000000"])
def test_cli_ensemble_refuses_a_bad_member_count(members, tmp_path, capsys):
    assert cli.main(["ensemble", "--members", members, "--output", str(tmp_path / "e")]) \
        == cli.EXIT_USAGE
    assert "nethep ensemble:" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()


def test_cli_ensemble_builds_the_shipped_members_prefix(shipped, by_the_command):
    """101 members (every design cell twice, 5 of them three times) written by the command are
    the shipped first 101."""
    built = store.load_ensemble(by_the_command)
    pd.testing.assert_frame_equal(built.quantities,
                                  shipped.quantities[shipped.quantities["member"] <= BUILT])
    pd.testing.assert_frame_equal(
        built.members, shipped.members[shipped.members["member"] <= BUILT])
    assert built.manifest["n_members"] == BUILT


def test_logistic_fit_of_a_row_does_not_depend_on_the_rows_beside_it():
    """Each row stops at its own convergence, so a member's IPTW HR is the same whatever
    block of members it is computed with (same bytes for any block size or order)."""
    rng = np.random.default_rng(7)
    b, n = 40, 48
    x = np.concatenate([np.ones((b, n, 1)), rng.normal(size=(b, n, 2))], axis=2)
    y = (rng.random((b, n)) < 0.3).astype(float)
    together = batch.logistic_fit(y, x)
    alone = np.vstack([batch.logistic_fit(y[i:i + 1], x[i:i + 1]) for i in range(b)])
    assert np.array_equal(together, alone)
    reordered = batch.logistic_fit(y[::-1], x[::-1])[::-1]
    assert np.array_equal(together, reordered)
