"""Published estimates (nethep.literature) and the forest plot that sets ours beside them."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from nethep.cohort import load_cohort  # noqa: E402
from nethep.literature import BACCHETTI_2013, COLUMNS, literature_table  # noqa: E402
from nethep.plots import (  # noqa: E402
    literature_caption,
    literature_forest_figure,
    set_style,
)
from nethep.plots.style import RECONSTRUCTED_NOTE  # noqa: E402
from nethep.survival import CoxResult, cox_surgical  # noqa: E402


@pytest.fixture(scope="module")
def cox() -> CoxResult:
    set_style()
    return cox_surgical(load_cohort())


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(fig) -> list[str]:
    return [" ".join(t.get_text().split()) for ax in fig.axes for t in ax.texts] + [
        " ".join(t.get_text().split()) for t in fig.texts]


def test_published_estimates_are_the_abstracts():
    # ../shared/paper-facts.md: HR 0.34 (0.21-0.55) resection vs embolisation,
    # HR 0.45 (0.34-0.60) resection vs all non-surgical treatment
    got = {(e.comparison, e.hazard_ratio.hr, e.hazard_ratio.lower, e.hazard_ratio.upper)
           for e in BACCHETTI_2013}
    assert got == {("Hepatic resection vs embolisation", 0.34, 0.21, 0.55),
                   ("Hepatic resection vs all non-surgical treatment", 0.45, 0.34, 0.60)}
    for e in BACCHETTI_2013:
        assert e.measure == "HR" and e.hazard_ratio.conf_level == 0.95
        assert "Int J Hepatol" in e.citation and "235040" in e.citation
        assert e.doi == "10.1155/2013/235040"
        assert e.hazard_ratio.lower < e.hazard_ratio.hr < e.hazard_ratio.upper


def test_table_puts_this_cohort_after_the_literature(cox):
    table = literature_table(cox, reconstructed=True)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == list(COLUMNS)
    assert list(table["section"]) == ["published", "published", "this_cohort"]
    ours = table.iloc[-1]
    hr = cox.hazard_ratio
    assert (ours["estimate"], ours["lower"], ours["upper"]) == (hr.hr, hr.lower, hr.upper)
    assert bool(ours["reconstructed"]) is True
    assert "reconstructed" in ours["source"]
    assert f"{cox.n} patients, {cox.events} deaths" in ours["design"]
    assert table.loc[table["section"] == "published", "reconstructed"].isna().all()


def test_small_counts_in_this_cohorts_row_follow_min_cell(cox):
    shown = literature_table(cox, reconstructed=True, min_cell=cox.events + 1).iloc[-1]
    assert f"{cox.n} patients, <{cox.events + 1} deaths" in shown["design"]
    assert literature_table(cox, min_cell=0).iloc[-1]["design"] == literature_table(
        cox).iloc[-1]["design"]


def test_table_for_a_user_cohort_and_without_a_cox_fit(cox):
    user = literature_table(cox, reconstructed=False).iloc[-1]
    assert "user-supplied" in user["source"] and "reconstructed" not in user["source"]
    assert "Musunuru" not in user["citation"]
    only = literature_table(None)
    assert list(only["section"]) == ["published", "published"]


@pytest.mark.parametrize("width_mm", [85, 180])
def test_forest_plot_names_sources_and_sets_this_analysis_apart(cox, width_mm):
    table = literature_table(cox, reconstructed=True)
    fig = literature_forest_figure(table, reconstructed=True, width_mm=width_mm)
    assert fig.get_size_inches()[0] == pytest.approx(width_mm / 25.4)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    lo, hi = ax.get_xlim()
    assert lo < min(table["lower"]) and hi > 1
    texts = _texts(fig)
    joined = "\n".join(texts)
    assert "Bacchetti et al. 2013" in joined  # source named in the heading
    # the full reference is in the caption, not drawn in the figure
    caption = str(literature_caption(table, reconstructed=True))
    assert "Int J Hepatol" in caption and "10.1155/2013/235040" in caption
    assert RECONSTRUCTED_NOTE in texts
    headings = {t.get_gid(): " ".join(t.get_text().split()) for t in ax.texts
                if (t.get_gid() or "").startswith("heading:")}
    assert "reconstructed cohort" in headings["heading:this_cohort"]
    # numbers shown for every row (own column at 180 mm, under the label at 85 mm)
    for r in table.itertuples():
        assert f"{r.estimate:.2f} ({r.lower:.2f}\u2013{r.upper:.2f})" in joined
    # markers at the estimates: filled diamonds published, an open square for ours
    published = [ln for ln in ax.get_lines() if ln.get_gid() == "estimate:published"]
    ours = [ln for ln in ax.get_lines() if ln.get_gid() == "estimate:this_cohort"]
    assert [ln.get_xdata()[0] for ln in published] == [0.34, 0.45]
    assert all(ln.get_marker() == "D" for ln in published)
    assert len(ours) == 1 and ours[0].get_marker() == "s"
    assert ours[0].get_markerfacecolor() in ("white", (1.0, 1.0, 1.0, 1.0))
    assert ours[0].get_xdata()[0] == pytest.approx(cox.hazard_ratio.hr)
    # this analysis below the literature, with a rule between them
    y_ours = ours[0].get_ydata()[0]
    assert all(y_ours > ln.get_ydata()[0] for ln in published)  # y axis runs downwards
    assert ax.yaxis_inverted()
    rules = [ln for ln in ax.get_lines() if ln.get_color() == "#999999"]
    assert len(rules) == 1
    assert max(ln.get_ydata()[0] for ln in published) < rules[0].get_ydata()[0] < y_ours


def test_forest_plot_with_a_user_cohort_and_an_open_interval():
    table = literature_table(None)
    table.loc[len(table)] = {
        "section": "this_cohort", "source": "This analysis (user-supplied cohort)",
        "comparison": "Surgical vs non-surgical", "measure": "HR", "estimate": 0.5,
        "lower": 0.0, "upper": math.inf, "conf_level": 0.95, "design": "unadjusted Cox model",
        "reconstructed": False, "citation": "User-supplied cohort", "doi": None}
    fig = literature_forest_figure(table, reconstructed=False, width_mm=85)
    texts = "\n".join(_texts(fig))
    assert "0.50 (NE\u2013NE)" in texts
    assert RECONSTRUCTED_NOTE not in texts
    ax = fig.axes[0]
    arrows = [ln.get_marker() for ln in ax.get_lines() if ln.get_marker() in ("<", ">")]
    assert sorted(arrows) == ["<", ">"]  # both limits clipped at the axis


def test_forest_plot_needs_rows():
    with pytest.raises(ValueError, match="at least one row"):
        literature_forest_figure(literature_table(None).iloc[:0], reconstructed=True)
