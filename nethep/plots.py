"""Figures from result objects, in one house style.

:func:`set_style` is the one place the style is set; every figure uses the
colour-blind-safe Okabe-Ito palette with a fixed colour per group
(:data:`GROUP_COLORS`). :func:`save_figure` writes PNG (300 dpi), PDF and SVG
with no timestamps, so a rerun gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

# Okabe & Ito (2008) colour-blind-safe palette; one fixed colour per group.
GROUP_COLORS = {
    "medical": "#E69F00",  # orange
    "embolization": "#56B4E9",  # sky blue
    "surgical": "#009E73",  # bluish green
    "nonsurgical": "#CC79A7",  # reddish purple
    "all": "#000000",
}
GROUP_LABELS = {
    "medical": "Medical",
    "embolization": "Embolization",
    "surgical": "Surgical",
    "nonsurgical": "Non-surgical (medical + embolization)",
    "all": "All patients",
}
RECONSTRUCTED_NOTE = "Reconstructed cohort (from published aggregates), not the original records."
FORMATS = ("png", "pdf", "svg")


def set_style() -> None:
    """Apply the house style (fonts >= 7 pt at print size, no top/right spines)."""
    mpl.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": 300,
        "font.family": "DejaVu Sans",
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.labelsize": 9,
        "xtick.labelsize": 8,
        "ytick.labelsize": 8,
        "legend.fontsize": 8,
        "legend.frameon": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.hashsalt": "nethep",
        "svg.fonttype": "none",
        "pdf.fonttype": 42,
    })


def caption(reconstructed: bool) -> str:
    """The note every figure carries about the data it shows."""
    return RECONSTRUCTED_NOTE if reconstructed else "Data: user-supplied cohort."


def add_caption(fig: Figure, reconstructed: bool) -> None:
    """Put the data caption in the figure's bottom-left corner."""
    fig.text(0.01, 0.005, caption(reconstructed), fontsize=7, color="#555555",
             ha="left", va="bottom")


def save_figure(fig: Figure, name: str, output_dir: str | Path) -> list[Path]:
    """Write ``fig`` as ``<output_dir>/figures/<name>.{png,pdf,svg}`` without timestamps."""
    folder = Path(output_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    metadata = {
        "png": {"Software": None},
        "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
        "svg": {"Date": None, "Creator": None},
    }
    paths = []
    for fmt in FORMATS:
        path = folder / f"{name}.{fmt}"
        fig.savefig(path, format=fmt, metadata=metadata[fmt], bbox_inches="tight")
        paths.append(path)
    return paths


def close(fig: Figure) -> None:
    plt.close(fig)
