"""Figures from result objects, in one house style, saved at journal widths.

- :mod:`~nethep.plots.style`: the house style, group colours and labels, figure notes.
- :mod:`~nethep.plots.layout`: text measuring and wrapping, notes, legends, titled axes.
- :mod:`~nethep.plots.export`: :func:`export_figure` (85 and 180 mm; PNG, PDF, SVG).
- :mod:`~nethep.plots.cohort`: patient flow, one variable by group (notebooks 01, 02).
- :mod:`~nethep.plots.survival`: Kaplan-Meier with numbers at risk (03).
- :mod:`~nethep.plots.literature`: the literature forest plot (03).
- :mod:`~nethep.plots.palliation`: palliation rate by group (04).
- :mod:`~nethep.plots.scenarios`: bias, coverage and rejection of each method (06).
- :mod:`~nethep.plots.ensemble`: the ensemble's survival curves (07).
- :mod:`~nethep.plots.compact`, :mod:`~nethep.plots.robustness`,
  :mod:`~nethep.plots.confounding`: the robustness figures (05).

Every figure function takes keyword arguments ``reconstructed`` (the caption),
``min_cell`` (small-cell threshold, 0: off) and ``width_mm`` (print width).
"""

from nethep.plots.cohort import (
    patient_flow_caption,
    patient_flow_figure,
    values_by_group_caption,
    values_by_group_figure,
)
from nethep.plots.confounding import (
    iptw_km_caption,
    iptw_km_figure,
    propensity_overlap_caption,
    propensity_overlap_figure,
)
from nethep.plots.ensemble import ensemble_km_caption, ensemble_km_figure
from nethep.plots.export import SavedFigure, export_figure
from nethep.plots.literature import literature_caption, literature_forest_figure
from nethep.plots.palliation import palliation_caption, palliation_figure
from nethep.plots.robustness import robustness_forest_caption, robustness_forest_figure
from nethep.plots.scenarios import scenario_caption, scenario_figure
from nethep.plots.style import Caption, figure_caption, set_style
from nethep.plots.survival import at_risk_table, km_caption, km_figure

__all__ = [
    "Caption",
    "SavedFigure",
    "at_risk_table",
    "ensemble_km_caption",
    "ensemble_km_figure",
    "export_figure",
    "figure_caption",
    "iptw_km_caption",
    "iptw_km_figure",
    "km_caption",
    "km_figure",
    "literature_caption",
    "literature_forest_figure",
    "palliation_caption",
    "palliation_figure",
    "patient_flow_caption",
    "patient_flow_figure",
    "propensity_overlap_caption",
    "propensity_overlap_figure",
    "robustness_forest_caption",
    "robustness_forest_figure",
    "scenario_caption",
    "scenario_figure",
    "set_style",
    "values_by_group_caption",
    "values_by_group_figure",
]
