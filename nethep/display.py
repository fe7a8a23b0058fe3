"""Small display helpers for the notebooks: the data banner and rounded tables.

Notebooks show aggregates only: these helpers never print patient rows.
"""

from __future__ import annotations

import pandas as pd
from IPython.display import Markdown

from nethep import privacy

RECONSTRUCTED_BANNER = (
    "> **Reconstructed data.** The bundled cohort is a reconstruction from the "
    "aggregates published in Musunuru et al., Arch Surg 2006, not the original "
    "patient records. Published numbers are reproduced by design; columns marked "
    "*simulated* in `data/datapackage.json` carry no information about the real patients."
)


def banner(df: pd.DataFrame) -> Markdown:
    """Say which data this notebook analyses (reconstructed bundled cohort or a user file),
    and, when small-cell suppression is on (:func:`nethep.privacy.set_min_cell`), that
    counts below the threshold are shown as ``<N``."""
    if df.attrs.get("reconstructed"):
        text = RECONSTRUCTED_BANNER
    else:
        text = (f"> **User cohort** `{df.attrs.get('source', 'unknown file')}`: "
                f"{privacy.mark(len(df))} patients. "
                "Published numbers are shown for comparison only.")
    if privacy.min_cell() > 1:
        text += (f"\n>\n> **Small-cell suppression is on** (`min_cell = {privacy.min_cell()}`): "
                 f"{privacy.note()} in tables, figures and text, and are null in "
                 "results.json (primary suppression only).")
    return Markdown(text)


def rounded(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A copy with floats rounded for display (the stored results keep full precision)."""
    return table.round(digits)
