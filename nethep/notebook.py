"""The one setup call of every notebook, and how a notebook shows and saves results.

Each notebook starts with::

    nb = setup(data_path, output_dir, min_cell)

which sets the house figure style, loads and validates the cohort, shows the data
banner and returns a :class:`Notebook`. The notebook then hands every result
object to ``nb``: ``nb.show(result)`` displays its ``.table()``, ``nb.figure(...)``
writes and shows a figure, ``nb.save(section, result)`` writes its
``to_results()`` into the results fragment. The small-cell threshold ``min_cell``
is held by ``nb`` and passed explicitly to each of these (:mod:`nethep.privacy`
keeps no state), so what is shown and what is saved come from the same objects
under the same threshold. Notebooks show aggregates only, never patient rows.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from IPython.display import Markdown, display

from nethep import privacy
from nethep.cohort import DEFAULT_LABEL, LABEL_ENV, default_min_cell, load_cohort
from nethep.plots import Caption, SavedFigure, export_figure, set_style
from nethep.results import RESULTS_DIRNAME, Saveable, Tabular, dumps, save_fragment

if TYPE_CHECKING:
    from matplotlib.figure import Figure

RECONSTRUCTED_BANNER = (
    "> **Reconstructed data.** The bundled cohort is a reconstruction from the "
    "aggregates published in Musunuru et al., Arch Surg 2006, not the original "
    "patient records. Published numbers are reproduced by design; columns marked "
    "*simulated* in `data/datapackage.json` carry no information about the real patients. "
    "It is one member of 1,000 cohorts that reproduce the abstract equally well "
    "(`data/ensemble/`), the most typical one: nearest the ensemble's centre over 15 "
    "unpublished quantities, among the members whose log-rank P reads P = .01. So a "
    "number the abstract does not fix (a hazard ratio, an RMST, an adjusted or weighted "
    "estimate, deaths per arm) is one value from the range those cohorts give (notebook "
    "07), not a finding about the study."
)


def banner(df: pd.DataFrame, min_cell: int = 0) -> Markdown:
    """Which data this notebook analyses (reconstructed bundled cohort, or a user's cohort
    by its label, with every column as supplied), and whether small-cell suppression is
    on (counts below ``min_cell`` read ``<N``) or, for a user's data, turned off."""
    if df.attrs.get("reconstructed"):
        text = RECONSTRUCTED_BANNER
    else:
        label = df.attrs.get("source", DEFAULT_LABEL)
        named = "" if label == DEFAULT_LABEL else f" ({label})"
        text = (f"> **Your cohort**{named}: {privacy.mark(len(df), min_cell)} patients, "
                "every column as supplied. Published numbers are shown for comparison only.")
    if min_cell > 1:
        text += (f"\n>\n> **Small-cell suppression is on** (`min_cell = {min_cell}`): "
                 f"{privacy.note(min_cell)} in tables, figures and text, and are null in "
                 "results.json (primary suppression only).")
    elif not df.attrs.get("reconstructed"):
        text += ("\n>\n> **Small-cell suppression is off** (`min_cell = 0`, asked for): "
                 "counts of every size are shown. Check your data-use agreement before "
                 "sharing these pages.")
    return Markdown(text)


@dataclass(frozen=True)
class Notebook:
    """One notebook's data, output folder and small-cell threshold."""

    df: pd.DataFrame
    output_dir: Path
    min_cell: int = 0

    @property
    def reconstructed(self) -> bool:
        """Whether the data are the bundled reconstructed cohort."""
        return bool(self.df.attrs.get("reconstructed"))

    def show(self, result: Tabular | pd.DataFrame, digits: int = 3,
             index: str | list[str] | None = None) -> pd.DataFrame:
        """The result's table (counts suppressed below ``min_cell``), floats rounded for
        display (the stored results keep full precision), with ``index`` columns as
        its row labels when given."""
        table = result if isinstance(result, pd.DataFrame) else result.table(
            min_cell=self.min_cell)
        table = table.round(digits)
        return table if index is None else table.set_index(index)

    def figure(self, name: str, make: Callable[..., Figure], *args: Any,
               caption: Caption | Callable[..., Caption] | None = None,
               **kwargs: Any) -> SavedFigure:
        """Write figure ``name`` at both journal widths (:func:`nethep.plots.export_figure`)
        and return it for display, its caption under it; ``make`` receives
        ``reconstructed`` and ``min_cell``.

        ``caption`` is a :class:`nethep.plots.Caption` or the figure's caption function
        (e.g. :func:`nethep.plots.km_caption`), called with the same arguments as
        ``make`` (no ``width_mm``). The caption is also written to
        ``<output_dir>/results/figures/<name>.json`` (``title``, ``caption``), merged
        into results.json as ``figures.<name>``.
        """
        context = {"reconstructed": self.reconstructed, "min_cell": self.min_cell}
        text = caption(*args, **context, **kwargs) if callable(caption) else caption
        if text is not None:
            path = self.output_dir / RESULTS_DIRNAME / "figures" / f"{name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(dumps(text.to_results()).encode("utf-8"))
        return export_figure(name, self.output_dir, make, *args, caption=text, **context,
                             **kwargs)

    def save(self, section: str, result: Saveable | dict[str, Any]) -> Path:
        """Write ``result.to_results()`` (or a dict) as results fragment ``section``,
        with counts below ``min_cell`` nulled (:func:`nethep.results.save_fragment`)."""
        values = result if isinstance(result, dict) else result.to_results()
        return save_fragment(section, values, self.output_dir, min_cell=self.min_cell)


def setup(data_path: str | Path | None, output_dir: str | Path,
          min_cell: int | None = None) -> Notebook:
    """Set the figure style, load and validate the cohort (:func:`nethep.cohort.load_cohort`),
    display the data banner, and return the :class:`Notebook` that shows and saves.

    ``data_path`` and ``output_dir`` may name environment variables (``"$NETHEP_DATA"``,
    as ``nethep run`` passes them, so that no path is written into the notebook); a
    user's cohort is named by ``$NETHEP_LABEL`` (default "your cohort"), never by its
    file. ``min_cell=None`` means suppression below :data:`~nethep.cohort.USER_MIN_CELL`
    for a user's data and none (0) for the bundled reconstruction.
    """
    set_style()
    path = None if data_path is None else os.path.expandvars(str(data_path))
    df = load_cohort(path or None, label=os.environ.get(LABEL_ENV) or None)
    threshold = privacy.check_min_cell(
        default_min_cell(bool(df.attrs.get("reconstructed"))) if min_cell is None
        else min_cell)
    display(banner(df, threshold))
    return Notebook(df=df, output_dir=Path(os.path.expandvars(str(output_dir))),
                    min_cell=threshold)
