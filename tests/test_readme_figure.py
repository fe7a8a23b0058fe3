"""The Kaplan-Meier figure shown in README.md is what the current code draws.

``docs/figures/km_surgical_vs_nonsurgical_180mm.png`` is copied from a ``nethep run``
build (``build/figures/``). This test requires the same bytes as the file the session's
``nethep run`` (conftest ``bundled_run``) wrote; tests/test_figures_journal.py checks
that this file is what :func:`nethep.plots.export_figure` draws in the test process.
When a deliberate change to the figure makes it fail, refresh the copy (:func:`draw`
draws it as notebook 03 does: house style, then :func:`nethep.plots.export_figure` with
:func:`nethep.plots.km_figure` on the surgical vs non-surgical fits of the bundled
cohort):

    python tests/test_readme_figure.py        # from the repository root, nethep importable
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import matplotlib as mpl

from nethep.cohort import load_cohort
from nethep.plots import export_figure, km_figure, set_style
from nethep.survival import fit_by

ROOT = Path(__file__).resolve().parent.parent
NAME = "km_surgical_vs_nonsurgical"
COMMITTED = ROOT / "docs" / "figures" / f"{NAME}_180mm.png"


def draw(output_dir: Path) -> Path:
    """Draw the figure as notebook 03 does; return the 180 mm PNG's path."""
    with mpl.rc_context():
        set_style()
        df = load_cohort()
        saved = export_figure(NAME, output_dir, km_figure, fit_by(df, "arm"),
                              "Overall survival, surgical vs non-surgical",
                              reconstructed=df.attrs["reconstructed"])
    return saved.path(180, "png")


def test_readme_shows_the_committed_figure():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"docs/figures/{COMMITTED.name}" in readme
    assert COMMITTED.is_file()


def test_committed_figure_is_what_the_code_draws(bundled_run):
    drawn = bundled_run.figures_dir / COMMITTED.name
    assert drawn.read_bytes() == COMMITTED.read_bytes(), (
        f"{COMMITTED.relative_to(ROOT)} differs from what nethep.plots draws now "
        f"({drawn}); if the change is intended, run: python tests/test_readme_figure.py")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(draw(Path(tmp)), COMMITTED)
    print(f"wrote {COMMITTED.relative_to(ROOT)}", file=sys.stderr)
