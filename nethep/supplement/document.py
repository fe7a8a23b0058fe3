"""The supplement as data: title page, eMethods, eTables, eFigures and eReferences.

:func:`build_document` reads only what a run wrote (``results.json``, ``methods.md``, the
SVG figures) and the article's citation (``data/published.yaml``, ``CITATION.cff``); it
computes nothing. The result is plain JSON-safe data, typeset by
:mod:`nethep.supplement.typeset` and, for the tables, written by
:mod:`nethep.supplement.docx`.

The date is the day of ``SOURCE_DATE_EPOCH`` (UTC) when that variable is set, else
today's (UTC): with the variable set, the same inputs give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from nethep import __version__
from nethep import results as keys
from nethep.paths import PUBLISHED, REPO_DIR
from nethep.run import FIGURES_DIRNAME
from nethep.supplement.content import ETable, etables
from nethep.supplement.notebook_tables import table_one_display

PAPERS = ("a4", "letter")
FIGURE_WIDTH_MM = 180
#: An eTable with more columns than this gets a landscape page of its own.
LANDSCAPE_COLUMNS = 8
CITATION_FILE = REPO_DIR / "CITATION.cff"
#: Titles of the figures the notebooks make, in their order (a caption recorded under
#: ``figures.<name>.caption`` is used instead); any other figure follows, by name.
FIGURE_TITLES = MappingProxyType({
    "patient_flow": "Patient flow: tumour types, treatment groups and treatments",
    "liver_involvement_by_group": "Liver involvement by treatment group",
    "km_surgical_vs_nonsurgical": "Kaplan-Meier overall survival, surgical vs non-surgical "
                                  "treatment, with pointwise 95% CIs and numbers at risk",
    "km_by_treatment_group": "Kaplan-Meier overall survival by treatment group",
    "palliation_by_group": "Palliation of hormonal symptoms by treatment group",
    "literature_forest": "Survival after treatment of neuroendocrine liver metastases in "
                         "published series beside this analysis",
    "propensity_overlap": "Propensity scores of surgical and non-surgical patients",
    "iptw_km": "Overall survival weighted by inverse probability of treatment",
    "robustness_forest": "Sensitivity analyses of the survival difference (forest plot)",
})
RECONSTRUCTION_STATEMENT = (
    "The patient-level data are a reconstruction built from the aggregate numbers the "
    "article published (its abstract, tables and figures), not the original patient "
    "records. Every published number is reproduced at the paper's rounding{where}; "
    "quantities the article does not fix are one value among those "
    "consistent with it. Agreement with the paper is therefore a consistency check, not an "
    "independent replication.")
METHOD_REFERENCES = (
    "Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. "
    "J Am Stat Assoc. 1958;53(282):457-481.",
    "Brookmeyer R, Crowley J. A confidence interval for the median survival time. "
    "Biometrics. 1982;38(1):29-41.",
    "Cox DR. Regression models and life-tables. J R Stat Soc Series B. 1972;34(2):187-220.",
    "Efron B. The efficiency of Cox's likelihood function for censored data. "
    "J Am Stat Assoc. 1977;72(359):557-565.",
    "Grambsch PM, Therneau TM. Proportional hazards tests and diagnostics based on weighted "
    "residuals. Biometrika. 1994;81(3):515-526.",
    "Holm S. A simple sequentially rejective multiple test procedure. Scand J Stat. "
    "1979;6(2):65-70.",
    "Kruskal WH, Wallis WA. Use of ranks in one-criterion variance analysis. "
    "J Am Stat Assoc. 1952;47(260):583-621.",
    "Freeman GH, Halton JH. Note on an exact treatment of contingency, goodness of fit and "
    "other problems of significance. Biometrika. 1951;38(1-2):141-149.",
    "Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the "
    "case of the binomial. Biometrika. 1934;26(4):404-413.",
    "Austin PC. Balance diagnostics for comparing the distribution of baseline covariates "
    "between treatment groups in propensity-score matched samples. Stat Med. "
    "2009;28(25):3083-3107.",
    "Yang D, Dalton JE. A unified approach to measuring the effect size between two groups "
    "using SAS. SAS Global Forum 2012; paper 335-2012.",
    "Cole SR, Hernán MA. Adjusted survival curves with inverse probability weights. "
    "Comput Methods Programs Biomed. 2004;75(1):45-49.",
    "Anderson JR, Cassileth PA, Cain KC. Analysis of survival by tumor response. "
    "J Clin Oncol. 1983;1(11):710-719.",
    "Royston P, Parmar MKB. Restricted mean survival time: an alternative to the hazard "
    "ratio for the design and analysis of randomized trials with a time-to-event outcome. "
    "BMC Med Res Methodol. 2013;13:152.",
    "Heinze G, Schemper M. A solution to the problem of monotone likelihood in Cox "
    "regression. Biometrics. 2001;57(1):114-119.",
    "VanderWeele TJ, Ding P. Sensitivity analysis in observational research: introducing "
    "the E-value. Ann Intern Med. 2017;167(4):268-274.",
    "Therneau TM, Grambsch PM. Modeling Survival Data: Extending the Cox Model. Springer; "
    "2000.",
)


@dataclass(frozen=True)
class EFigure:
    """A numbered supplementary figure: its SVG (relative to the output folder)."""

    label: str
    name: str
    path: str
    caption: str

    @property
    def title(self) -> str:
        """The caption's first sentence (the contents list shows it)."""
        head, dot, _ = self.caption.partition(". ")
        return head if dot else self.caption.rstrip(".")


@dataclass(frozen=True)
class Document:
    """Everything the supplement shows, as plain data (see :meth:`to_data`)."""

    paper: str
    title: str
    citation: str
    doi: str
    version: str
    commit: str
    date: str
    data_statement: tuple[str, ...]
    methods: tuple[dict[str, Any], ...]
    tables: tuple[ETable, ...]
    figures: tuple[EFigure, ...]
    references: tuple[str, ...]

    def to_data(self) -> dict[str, Any]:
        """JSON-safe dict (the typst template reads it as ``sys.inputs.data``)."""
        out = asdict(self)
        out["figures"] = [{**asdict(f), "title": f.title} for f in self.figures]
        out["tables"] = [
            {"label": t.label, "title": t.title, "columns": list(t.columns),
             "rows": t.texts(), "notes": list(t.notes),
             "landscape": len(t.columns) > LANDSCAPE_COLUMNS} for t in self.tables]
        return out


def run_date(environ: Mapping[str, str] | None = None) -> dt.date:
    """The date of ``SOURCE_DATE_EPOCH`` (UTC) when set, else today (UTC)."""
    epoch = (os.environ if environ is None else environ).get("SOURCE_DATE_EPOCH")
    if epoch:
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date()
    return dt.datetime.now(tz=dt.UTC).date()


def git_commit(repo: Path = REPO_DIR) -> str:
    """The repository's commit (12 hex digits), "+ local changes" when the tracked files
    differ from it, or "" when there is no git checkout."""
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, check=True, timeout=20)
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               check=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ""
    commit = head.stdout.strip()
    return f"{commit} + local changes" if dirty.stdout.strip() else commit


def article(published: Path = PUBLISHED, citation_file: Path = CITATION_FILE) -> tuple[str, str]:
    """The article's citation (with its title when CITATION.cff names it) and DOI."""
    source = yaml.safe_load(published.read_text(encoding="utf-8")).get("source", {})
    citation, doi = str(source.get("citation", "")), str(source.get("doi", ""))
    if citation_file.is_file():
        refs = yaml.safe_load(citation_file.read_text(encoding="utf-8")).get("references") or []
        title = next((r.get("title") for r in refs if str(r.get("doi")) == doi), None)
        if title:
            authors, _, journal = citation.partition(". ")
            citation = f"{authors}. {title}. {journal}"
    return citation, doi


def data_statement(results: Mapping[str, Any], label: str | None,
                   comparison: str = "") -> tuple[str, ...]:
    """What data were analysed: the reconstruction statement (``comparison``: the eTable
    that compares the published numbers, e.g. "eTable 6"), or the user's label."""
    if keys.lookup(results, keys.RECONSTRUCTED) is True:
        n = keys.lookup(results, "ensemble.n_members")
        what = ("one member of an ensemble of " f"{int(n)} abstract-consistent reconstructions"
                if isinstance(n, int | float) else "a reconstructed cohort")
        where = f" ({comparison})" if comparison else ""
        return (f"Data analysed: {what}.", RECONSTRUCTION_STATEMENT.format(where=where))
    # the --label given to this call, else the one the notebooks recorded (data.source)
    given = label.strip() if label else ""
    name = given or str(keys.lookup(results, keys.DATA_SOURCE) or "a cohort supplied by the user")
    return (f"Data analysed: {name}.", "The data are the user's own; this supplement "
            "names them by the label given to nethep run, never by a file path.")


_INLINE = re.compile(r"(\*\*[^*]+\*\*|\*[^*]+\*|`[^`]+`)")


def _runs(text: str) -> list[dict[str, Any]]:
    """Inline Markdown (``*emphasis*``, ``**strong**``, ```code```) as text runs."""
    runs = []
    for part in _INLINE.split(text):
        if not part:
            continue
        if part.startswith("**"):
            runs.append({"text": part[2:-2], "style": "strong"})
        elif part.startswith("*"):
            runs.append({"text": part[1:-1], "style": "emph"})
        elif part.startswith("`"):
            runs.append({"text": part[1:-1], "style": "code"})
        else:
            runs.append({"text": part, "style": ""})
    return runs


def methods_blocks(markdown: str) -> tuple[dict[str, Any], ...]:
    """``methods.md`` as blocks (headings below the title, paragraphs, list items)."""
    blocks: list[dict[str, Any]] = []
    for chunk in re.split(r"\n\s*\n", markdown.strip()):
        lines = [ln.strip() for ln in chunk.splitlines() if ln.strip()]
        if not lines:
            continue
        if lines[0].startswith("#"):
            level = len(lines[0]) - len(lines[0].lstrip("#"))
            if level > 1:
                blocks.append({"kind": "heading", "level": level,
                               "runs": _runs(lines[0].lstrip("#").strip())})
            lines = lines[1:]
        items = [ln for ln in lines if ln.startswith(("- ", "* "))]
        if lines and len(items) == len(lines):
            blocks += [{"kind": "item", "runs": _runs(ln[2:])} for ln in items]
        elif lines:
            blocks.append({"kind": "para", "runs": _runs(" ".join(lines))})
    return tuple(blocks)


def _derived_caption(name: str) -> str:
    title = FIGURE_TITLES.get(name) or name.replace("_", " ").capitalize()
    return (f"{title}. The notes under the figure state its estimator, intervals and "
            "data; its notebook page gives the methods.")


def efigures(output_dir: Path, results: Mapping[str, Any]) -> tuple[EFigure, ...]:
    """Every figure of the run (its 180 mm SVG), in notebook order, with its caption
    from ``figures.<name>.caption`` when recorded, else one derived from its name."""
    folder = output_dir / FIGURES_DIRNAME
    suffix = f"_{FIGURE_WIDTH_MM}mm.svg"
    names = sorted(p.name[: -len(suffix)] for p in folder.glob(f"*{suffix}"))
    ordered = [n for n in FIGURE_TITLES if n in names] + [n for n in names
                                                           if n not in FIGURE_TITLES]
    out = []
    for name in ordered:
        title = keys.lookup(results, f"figures.{name}.title")
        caption = keys.lookup(results, f"figures.{name}.caption")
        if caption and title and not str(caption).startswith(str(title)):
            caption = f"{str(title).rstrip('.')}. {caption}"
        out.append(EFigure(f"efig-{name.replace('_', '-')}", name,
                           f"{FIGURES_DIRNAME}/{name}{suffix}",
                           str(caption) if caption else _derived_caption(name)))
    return tuple(out)


def build_document(output_dir: str | Path, results: Mapping[str, Any], *,
                   paper: str = "a4", label: str | None = None,
                   methods_markdown: str = "", environ: Mapping[str, str] | None = None,
                   commit: str | None = None) -> Document:
    """The supplement of the run in ``output_dir`` (``paper``: "a4" or "letter";
    ``label``: how a user's data are named; ``commit``: None reads git)."""
    if paper not in PAPERS:
        raise ValueError(f"paper must be one of {', '.join(PAPERS)}, not {paper!r}")
    citation, doi = article()
    tables = etables(results, table_one_display(output_dir))
    comparison = next((f"eTable {i}" for i, t in enumerate(tables, 1)
                       if t.label == "etab-comparison"), "")
    return Document(
        paper=paper,
        title="Supplementary online content",
        citation=citation, doi=doi, version=__version__,
        commit=git_commit() if commit is None else commit,
        date=run_date(environ).isoformat(),
        data_statement=data_statement(results, label, comparison),
        methods=methods_blocks(methods_markdown),
        tables=tables,
        figures=efigures(Path(output_dir), results),
        references=(f"{citation} doi:{doi}", *METHOD_REFERENCES),
    )


def table_titles(document: Document) -> Sequence[str]:
    """The eTable titles in order ("eTable 1. ..."), as the PDF and the docx number them."""
    return [f"eTable {i}. {t.title}" for i, t in enumerate(document.tables, 1)]
