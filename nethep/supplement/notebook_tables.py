"""Table 1 as the run's notebook displayed it, for the supplement's first eTable.

results.json keeps Table 1's tests, SMDs and missing counts but not the count and
median of every level, so the supplement reads the table that notebook 02 displayed
(``<out>/notebooks/02_treatment_groups.ipynb``, the executed copy of this run): the same
text as its HTML page, small counts already shown as ``<N``. Nothing is recomputed.
When the notebook or its table is not there, the supplement falls back to the
results.json part of Table 1 (:func:`nethep.supplement.content.baseline_table`).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from nethep.run import EXECUTED_DIRNAME

TABLE_ONE_NOTEBOOK = "02_treatment_groups.ipynb"
#: A heading only Table 1's display has.
TABLE_ONE_MARK = "SMD (max pairwise)"


def _html_outputs(notebook: Path) -> list[str]:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    found = []
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html")
            if html:
                found.append(html if isinstance(html, str) else "".join(html))
    return found


def _heading(column: object) -> str:
    """One heading from pandas' header levels (index names and blank levels dropped)."""
    parts = column if isinstance(column, tuple) else (column,)
    named = [str(p) for p in parts if not str(p).startswith("Unnamed:")]
    return named[-1] if named else ""


def table_one_display(output_dir: str | Path) -> pd.DataFrame | None:
    """The Table 1 that the run's notebook 02 displayed, as text (index columns first),
    or None when the executed notebook or the table is not found."""
    notebook = Path(output_dir) / EXECUTED_DIRNAME / TABLE_ONE_NOTEBOOK
    if not notebook.is_file():
        return None
    for html in _html_outputs(notebook):
        if TABLE_ONE_MARK not in html:
            continue
        table = pd.read_html(io.StringIO(html), flavor="lxml", keep_default_na=False)[0]
        table.columns = [_heading(c) for c in table.columns]
        return table.astype(str)
    return None
