"""Small-cell suppression (``--min-cell``) across every result that shows counts.

A cohort with a small group: the bundled cohort with only 3 medical patients (one
of them symptomatic and palliated, one under observation, all three dead). With
``min_cell=5`` passed explicitly, every table, sentence and results fragment that
shows a count from 1 to 4 shows ``<5`` (or null in ``results.json``) instead; with 0
or 1 nothing changes. The session's ``nethep run --min-cell 5`` on that cohort as a
clinic's export (``user_run`` in conftest.py, also without surgical deaths) checks the
executed notebooks, ``results.json``, ``methods.md`` and ``index.html``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import nbformat
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from conftest import EDGE_MEDICAL

from nethep import privacy
from nethep import robustness as rb
from nethep.cohort import load_cohort
from nethep.describe import patient_flow, values_by_group
from nethep.notebook import banner
from nethep.palliation import palliation
from nethep.published import paper_vs_ours
from nethep.report import methods_text
from nethep.results import save_fragment
from nethep.survival import (
    cox_surgical,
    fit_by,
    followup,
    logrank,
    median_survival,
    survival_at,
)
from nethep.tableone import table_one

#: The medical patients kept: those of the session's edge cohort (conftest.py, chosen by
#: rule): octreotide and observation (symptomatic, palliated, died), chemotherapy (not
#: symptomatic).
KEEP_MEDICAL = EDGE_MEDICAL
SMALL = re.compile(r"^[1-4]$")


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    df = load_cohort()
    keep = (df["treatment_group"] != "medical") | df["patient_id"].isin(KEEP_MEDICAL)
    out = df[keep].reset_index(drop=True)
    out.attrs = dict(df.attrs)
    assert (out["treatment_group"] == "medical").sum() == 3
    return out


def _shown_small(values: pd.Series) -> list[Any]:
    """Values of a displayed count column that reveal a count from 1 to 4."""
    return [v for v in values
            if not isinstance(v, str) and not pd.isna(v) and 0 < float(v) < 5]


def _check_counts(raw: pd.DataFrame, shown: pd.DataFrame, columns: list[str],
                  linked: str | None = None) -> None:
    """Every small count of ``raw`` reads "<5" in ``shown``; no other value changes,
    except ``linked`` (a percentage of the count), hidden where the count is."""
    assert list(shown.columns) == list(raw.columns)
    if linked is not None:
        small = raw[columns[0]].map(lambda v: 0 < v < 5)
        assert shown.loc[small, linked].isna().all()
        pd.testing.assert_series_equal(shown.loc[~small, linked], raw.loc[~small, linked])
        raw, shown = raw.drop(columns=linked), shown.drop(columns=linked)
    hits = 0
    for col in columns:
        assert not _shown_small(shown[col]), (col, shown[col].tolist())
        for before, after in zip(raw[col], shown[col], strict=True):
            if not pd.isna(before) and 0 < float(before) < 5:
                assert after == "<5"
                hits += 1
            elif pd.isna(before):
                assert pd.isna(after)
            else:
                assert after == before
    assert hits, f"no small count in {columns}: the test cohort should have some"
    others = [c for c in raw.columns if c not in columns]
    pd.testing.assert_frame_equal(shown[others], raw[others])


def _tables(df: pd.DataFrame, min_cell: int) -> dict[str, tuple[pd.DataFrame, list[str]]]:
    """Every result table that shows counts, with its count columns."""
    lm3 = rb.landmark(df, 3)
    pal = palliation(df)
    return {
        "flow": (patient_flow(df).table(min_cell), ["n"]),
        "values": (values_by_group(df, "age_years").table(min_cell), ["n", "missing"]),
        "survival_at": (survival_at(df).table(min_cell), ["n_risk"]),
        "median": (median_survival(df, "treatment_group").table(min_cell), ["n", "events"]),
        "logrank": (logrank(df, "treatment_group").table(min_cell), ["observed"]),
        "km": (fit_by(df, "treatment_group")["medical"].table(min_cell),
               ["n_risk", "n_event", "n_censor"]),
        "palliation": (pal.table(min_cell), ["n_patients", "n_symptomatic", "n_palliated"]),
        "contingency": (pal.contingency(min_cell), ["medical", "embolization", "surgical"]),
        "landmark": (lm3.table(min_cell), ["n", "events", "n_surgical", "n_excluded",
                                           "n_reclassified"]),
        "rmst": (rb.rmst(df, 36).table(min_cell), ["n", "events"]),  # 2 surgical deaths
    }


def test_every_table_with_counts_shows_small_counts_as_marked(small):
    raw = _tables(small, 0)
    shown = _tables(small, 5)
    for name, (table, columns) in raw.items():
        _check_counts(table, shown[name][0], columns,
                      linked="percent_of_parent" if name == "flow" else None)


def test_with_zero_or_one_nothing_changes(small):
    raw = _tables(small, 0)
    for name, (table, _) in _tables(small, 1).items():
        pd.testing.assert_frame_equal(table, raw[name][0], check_exact=True, obj=name)


def test_table_one_marks_small_counts_headings_and_percentages(small):
    t1 = table_one(small)
    plain = t1.table()
    assert plain.equals(t1.rows)
    shown = t1.table(min_cell=5)
    groups = ["Medical (n = <5)", "Embolization (n = 18)", "Surgical (n = 13)",
              "Overall (n = 34)"]
    assert list(shown.columns[2:6]) == groups
    for col in [*groups, "missing"]:
        for cell in shown[col]:
            # "n (%)" with n from 1 to 4, or a bare excluded / missing count from 1 to 4
            assert not re.match(r"^[1-4]( \(|$)", cell), (col, cell)
    med = shown["Medical (n = <5)"]
    assert (med == "<5").sum() >= 5
    assert "0 (0.0%)" in set(med)  # zero is kept
    excluded = shown[shown["level"].str.startswith("(excluded")].iloc[0]
    assert excluded["Medical (n = <5)"] == "<5" and excluded["Embolization (n = 18)"] == "0"
    # the same shape, and the rows without counts are untouched
    text_rows = plain["level"] == "median [Q1, Q3]"
    pd.testing.assert_frame_equal(shown[text_rows].set_axis(plain.columns, axis=1),
                                  plain[text_rows])
    stats = t1.stats(min_cell=5).set_index("variable")
    assert stats.loc["months_to_treatment", "n_excluded"] == "<5"
    assert stats.loc["sex", "n_missing"] == 0


def test_sentences_state_no_small_count(small):
    flow, fu, pal = patient_flow(small), followup(small), palliation(small)
    adjusted, tv, pw = rb.cox_adjusted(small), rb.time_varying_cox(small), rb.power(small)
    lm3 = rb.landmark(small, 3)
    plain = [flow.sentence(), fu.sentence(), pal.summary(), adjusted.epv_sentence(),
             tv.sentence(), pw.needed_sentence(), lm3.note()]
    assert "medical 3," in plain[0] and "medical 2/2" in plain[2]
    assert "medical <5, embolization 18" in flow.sentence(min_cell=5)
    assert "medical <5/<5 (100%" in pal.summary(min_cell=5)
    assert "n = 34." in fu.sentence(min_cell=5)
    assert 0 < lm3.n_excluded < 5 and "(<5 died or were censored" in lm3.note(min_cell=5)
    # sentences whose counts are all >= 5 do not change
    assert adjusted.epv_sentence(min_cell=5) == plain[3]
    assert tv.sentence(min_cell=5) == plain[4]
    assert pw.needed_sentence(min_cell=5) == plain[5]


@pytest.fixture(scope="module")
def few_deaths() -> pd.DataFrame:
    """The bundled cohort with 4 deaths left (1 surgical, 3 non-surgical): 28 patients."""
    df = load_cohort()
    dead = df["died"] == 1
    keep = (df.index[dead & (df["arm"] == "surgical")][:1].tolist()
            + df.index[dead & (df["arm"] == "nonsurgical")][:3].tolist())
    few = df.drop(df.index[dead].difference(keep)).reset_index(drop=True)
    few.attrs = dict(df.attrs)
    return few


def test_power_sentence_and_assumptions_hide_few_deaths(few_deaths):
    pw = rb.power(few_deaths)
    assert pw.needed_sentence(min_cell=5).endswith("this study had <5.")
    assert any("(<5 of 28)" in a for a in pw.assumptions(min_cell=5))
    assert not any("<5" in a for a in pw.assumptions())


def test_cox_and_median_tables_hide_few_events(small, few_deaths):
    raw = cox_surgical(few_deaths).table()
    medians = median_survival(small, "arm")
    assert raw["events"].iloc[0] == 4
    cox = cox_surgical(few_deaths).table(min_cell=5)
    assert cox["events"].iloc[0] == "<5" and cox["n"].iloc[0] == 28
    pd.testing.assert_frame_equal(cox.drop(columns="events"), raw.drop(columns="events"))
    # 2 deaths in the surgical group
    assert medians.table().set_index("group").loc["surgical", "events"] == 2
    assert medians.table(min_cell=5).set_index("group").loc["surgical", "events"] == "<5"


def test_weight_summary_and_summary_tables(small):
    df = small.copy()
    df.loc[df.index[df["arm"] == "surgical"][:9], ["arm", "surgical"]] = ["nonsurgical", False]
    df.attrs = dict(small.attrs)
    assert int(df["surgical"].sum()) == 4
    prop = rb.propensity(df)
    summary = rb.RobustnessSummary(rows=pd.DataFrame({"analysis": ["a", "b"], "n": [3, 30]}))
    ws = prop.weight_summary(min_cell=5).set_index("arm")
    assert ws.loc["surgical", "n"] == "<5" and ws.loc["nonsurgical", "n"] == 30
    assert summary.table(min_cell=5)["n"].tolist() == ["<5", 30]
    assert summary.rows["n"].tolist() == [3, 30]  # results.json gets the raw rows, nulled


def test_paper_vs_ours_marks_small_counts_and_withholds_revealing_matches(small):
    comparison = paper_vs_ours(small)
    table = comparison.table(min_cell=5).set_index("key")
    assert table.loc["n_by_group.medical", "ours_text"] == "<5"
    assert table.loc["n_by_group.medical", "matches"] == False  # noqa: E712 (17 published)
    # published 4 and ours below 5: whether they match would reveal ours
    assert table.loc["n_by_treatment.chemotherapy", "matches"] is None
    assert table.loc["n_by_group.surgical", "ours_text"] == "13"
    rows = {r["key"]: r for r in comparison.to_results(min_cell=5)["paper_vs_ours"]}
    assert rows["n_by_treatment.ablation"]["ours"] == "<5"
    assert rows["n_by_treatment.ablation"]["matches"] is None
    assert "are not compared (small-cell suppression" in comparison.sentence(min_cell=5)
    assert comparison.n_compared(min_cell=5) == len(table) - 3


def test_results_fragments_null_small_counts(small, tmp_path):
    values = {"cohort": patient_flow(small).to_results(),
              "palliation": palliation(small).to_results(),
              "treatment_groups": table_one(small).to_results()}
    data = {section: json.loads(save_fragment(section, v, tmp_path, min_cell=5).read_text())
            for section, v in values.items()}
    assert data["cohort"]["n_by_group"] == {"medical": None, "embolization": 18,
                                            "surgical": 13}
    assert data["cohort"]["n_by_treatment"]["resection"] == 6
    assert "n_by_group.medical" in data["cohort"]["suppressed"]["keys"]
    assert data["palliation"]["n_symptomatic"]["medical"] is None
    assert data["palliation"]["rate"]["medical"] == 1.0  # rates are kept (primary only)
    assert data["treatment_groups"]["n_by_group"]["medical"] is None
    plain = json.loads(save_fragment("cohort", values["cohort"], tmp_path).read_text())
    assert plain["n_by_group"]["medical"] == 3 and "suppressed" not in plain


def test_lists_in_results_are_searched():
    values = {"sizes": [3, 31], "summary": [{"analysis": "a", "n": 4}, {"n": 40}],
              "groups": ["x", "y"], "n_permutations": 3}
    out, suppressed = privacy.suppress_values(values, 5)
    assert out == {"sizes": [None, 31], "summary": [{"analysis": "a", "n": None}, {"n": 40}],
                   "groups": ["x", "y"], "n_permutations": 3}
    assert suppressed == ["sizes[0]", "summary[0].n"]


def test_banner_says_when_suppression_is_on(small):
    plain = banner(small).data
    assert "suppression" not in plain
    user = small.copy()
    user.attrs = {"source": "mine.csv", "reconstructed": False}
    for df in (small, user):
        text = banner(df, min_cell=5).data
        assert "Small-cell suppression is on" in text
        assert "counts below 5 are shown as <5" in text
    assert banner(small, min_cell=5).data.startswith(plain)


def test_methods_text_reads_suppressed_counts_as_marked():
    results = {"cohort": {"n_patients": 34, "n_by_group": {"medical": None,
                                                          "embolization": 18, "surgical": 13},
                          "suppressed": {"min_cell": 5, "keys": ["n_by_group.medical"]}}}
    assert "34 patients (medical <5, embolization 18, surgical 13)" in methods_text(results)


# --------------------------------------------------------------------------- end to end


def _html_tables(cell: Any) -> list[list[dict[str, str]]]:
    """The DataFrames a cell displayed (text/html), as lists of {column: text} rows."""
    tables = []
    for output in cell.get("outputs", []):
        html = output.get("data", {}).get("text/html")
        if not html:
            continue
        for table in BeautifulSoup(html, "html.parser").find_all("table"):
            head = table.find("thead").find_all("tr")
            columns = [th.get_text(strip=True) for th in head[0].find_all("th")]
            if len(head) > 1:  # index names (row labels) in a second header row
                names = [th.get_text(strip=True) for th in head[1].find_all("th")]
                columns = [c or n for c, n in zip(columns, names, strict=False)]
            rows = []
            for tr in table.find("tbody").find_all("tr"):
                cells = [c.get_text(strip=True) for c in tr.find_all(["th", "td"])]
                rows.append(dict(zip(columns[-len(cells):], cells, strict=True)))
            tables.append(rows)
    return tables


def _cell(nb: Any, snippet: str) -> Any:
    hits = [c for c in nb.cells if c.cell_type == "code" and snippet in c.source]
    assert len(hits) == 1, snippet
    return hits[0]


def _stream(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream")


@pytest.fixture(scope="module")
def run(user_run):
    """The session's ``nethep run --min-cell 5`` on the edge cohort (conftest.py): the
    small cohort above as a clinic's export, with no surgical death."""
    notebooks = {p.stem[:2]: nbformat.read(str(p), as_version=4) for p in user_run.executed}
    return user_run, notebooks


def _leaves(obj: Any, path: str = "", counting: bool = False):
    """(path, value, is a count) for every leaf of a results dict."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "suppressed" and not path:
                continue
            yield from _leaves(value, f"{path}.{key}" if path else key,
                               counting or privacy.is_count_key(key))
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from _leaves(item, f"{path}[{i}]", counting)
    else:
        yield path, obj, counting


def test_end_to_end_results_json_nulls_and_lists_every_small_count(run):
    build, _ = run
    results = build.results
    for section, values in results.items():
        listed = set(values.get("suppressed", {}).get("keys", []))
        assert values.get("suppressed", {}).get("min_cell", 5) == 5
        for path, value, counting in _leaves(values):
            if counting and isinstance(value, int | float) and not isinstance(value, bool):
                assert not 0 < value < 5, f"{section}.{path} = {value}"
            if path in listed:
                assert value is None, f"{section}.{path} is listed but not null"
    expected = {"cohort": ["n_by_group.medical", "n_by_treatment.octreotide",
                           "n_by_treatment.observation", "n_by_treatment.chemotherapy"],
                "treatment_groups": ["n_by_group.medical"],
                "palliation": ["n_symptomatic.medical", "n_palliated.medical"],
                "robustness": ["permutation_logrank.three_groups.sizes[1]"]}
    for section, keys in expected.items():
        assert set(keys) <= set(results[section]["suppressed"]["keys"]), section
    assert results["cohort"]["n_by_group"]["embolization"] == 18
    rows = {r["key"]: r for r in results["comparison"]["paper_vs_ours"]}
    assert rows["n_by_group.medical"]["ours"] == "<5"
    assert rows["n_by_treatment.resection_ablation"]["matches"] is None
    methods = (build.output_dir / "methods.md").read_text()
    assert "(medical <5, embolization 18, surgical 13)" in methods
    index = build.index_path.read_text()
    assert "&lt;5" in index


def test_end_to_end_notebooks_show_no_small_count(run):
    build, nbs = run
    for key, nb in nbs.items():
        text = _cell(nb, "nb = setup(").outputs[0]["data"]["text/markdown"]
        assert "Small-cell suppression is on" in text, key
        assert "counts below 5 are shown as <5" in text, key

    (flow,) = _html_tables(_cell(nbs["01"], "nb.show(flow, 1)"))
    by_level = {(r["step"], r["level"]): r for r in flow}
    for level in ("octreotide", "observation", "chemotherapy", "ablation",
                  "resection_ablation"):
        assert by_level[("treatment", level)]["n"] == "<5", level
    assert by_level[("treatment_group", "medical")]["n"] == "<5"
    assert by_level[("treatment_group", "medical")]["percent_of_parent"] == "NaN"
    assert by_level[("treatment_group", "embolization")]["n"] == "18"
    assert "by treatment group medical <5, embolization 18" in _stream(
        _cell(nbs["01"], "print(flow.sentence(nb.min_cell))"))

    (t1,) = _html_tables(_cell(nbs["02"], "nb.show(t1, index="))
    assert "Medical (n = <5)" in t1[0]
    for row in t1:
        for col in ("Medical (n = <5)", "Embolization (n = 18)", "Surgical (n = 13)",
                    "Overall (n = 34)", "missing"):
            assert not re.match(r"^[1-4]( \(|$)", row[col]), (row["level"], col, row[col])

    (at,) = _html_tables(_cell(nbs["03"], "nb.show(section.at)"))
    medical_at_risk = {r["n_risk"] for r in at if r["group"] == "medical"}
    assert "<5" in medical_at_risk and medical_at_risk <= {"<5", "0"}  # 0 is not hidden
    medians = _html_tables(_cell(nbs["03"], "section.medians"))
    medical = next(r for r in medians[0] if r["group"] == "medical")
    assert medical["n"] == "<5" and medical["events"] == "<5"
    lr = _html_tables(_cell(nbs["03"], "display(nb.show(arms), nb.show(groups))"))
    assert next(r for r in lr[1] if r["group"] == "medical")["observed"] == "<5"
    bundled = load_cohort()  # the edge cohort keeps every embolization patient
    emb_deaths = int(bundled.loc[bundled["treatment_group"] == "embolization", "died"].sum())
    assert next(r for r in lr[1] if r["group"] == "embolization")["observed"] == str(emb_deaths)

    (pal,) = _html_tables(_cell(nbs["04"], "result = palliation(nb.df)"))
    medical = next(r for r in pal if r["group"] == "medical")
    assert [medical[c] for c in ("n_patients", "n_symptomatic", "n_palliated")] == ["<5"] * 3
    (cont,) = _html_tables(_cell(nbs["04"], "result.contingency(nb.min_cell)"))
    assert next(r for r in cont if "yes" in r.values())["medical"] == "<5"
    assert "medical <5/<5" in _stream(_cell(nbs["04"], "print(result.summary(nb.min_cell))"))

    svg = (build.figures_dir / "km_by_treatment_group_180mm.svg").read_text()
    assert "Number at risk" in svg and "&lt;5" in svg
    assert "Medical (n = &lt;5)" in svg
