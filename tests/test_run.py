"""Tests for the headless runner (nethep.run), the pages (nethep.pages) and the command
line (nethep.cli), on tiny notebooks.

Kernel start-up is slow, so few runs: two tiny notebooks run concurrently (module
fixture), rerun one at a time (same bytes), run through the command line (what it
prints), and a run that fails in its second notebook.
"""

from __future__ import annotations

import json
import runpy
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nethep import cli, results
from nethep import pages as pagesmod
from nethep import run as runmod
from nethep.pages import Pages, PageWriter, render_index, write_pages, write_partial_pages
from nethep.paths import BUNDLED_COHORT
from nethep.run import Execution, NotebookFailed, run_notebooks

PARAMS = 'data_path = None\noutput_dir = "../build"'
#: What a notebook does with the parameters (nethep.notebook.setup does the same): the
#: runner passes environment variable names, never paths.
EXPAND = ("import os\noutput_dir = os.path.expandvars(output_dir)\n"
          "data_file = data_path and os.path.expandvars(data_path)\n")


def _notebook(path: Path, title: str, *code: str) -> Path:
    params = new_code_cell(PARAMS)
    params.metadata["tags"] = ["parameters"]
    code = (EXPAND + code[0], *code[1:]) if code else code
    nb = new_notebook(
        cells=[new_markdown_cell(f"# {title}\n\nA tiny test notebook."), params]
        + [new_code_cell(src) for src in code]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(path))
    return path


FIRST = (
    "from nethep import results\n"
    "results.save_fragment('data', {'reconstructed': True, 'data_path': data_path,\n"
    "                               'n_patients': 3, 'label': os.environ['NETHEP_LABEL'],\n"
    "                               'read': os.path.isfile(data_file)}, output_dir)\n"
    "results.save_fragment('comparison', {'paper_vs_ours': [\n"
    "    {'quantity': 'median OS, months', 'published': 42.0, 'ours': 41.5,\n"
    "     'matches': True},\n"
    "    {'quantity': 'log-rank p', 'published': '<0.001', 'ours': 0.0123,\n"
    "     'matches': False}]}, output_dir)\n"
    "print('first done')"
)
SPLIT_PRINT = (  # two stream messages: flushed text, then the rest of the line
    "import sys\n"
    "sys.stdout.write('split '); sys.stdout.flush()\n"
    "print('line')"
)
SECOND_FIG = (
    "from pathlib import Path\n"
    "import matplotlib.pyplot as plt\n"
    "fig, ax = plt.subplots(figsize=(2, 2))\n"
    "ax.plot([0, 1, 2], [1.0, 0.6, 0.3])\n"
    "fig.savefig(Path(output_dir) / 'figures' / 'km.png')\n"
    "fig"
)
SECOND_SAVE = (
    "import numpy as np\n"
    "from nethep import results\n"
    "saved = results.save_fragment('survival', {'logrank': {'surgical_vs_nonsurgical': {\n"
    "    'p': np.float64(0.0123)}}, 'median_months': np.nan}, output_dir)"
)


def _listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("project")
    nb_dir = root / "notebooks"
    nb_dir.mkdir()
    _notebook(nb_dir / "01_first.ipynb", "First: the cohort", FIRST, SPLIT_PRINT)
    _notebook(nb_dir / "02_second.ipynb", "Second: survival", SECOND_FIG, SECOND_SAVE)
    (nb_dir / "README.md").write_text("not a notebook")
    (nb_dir / "scratch.ipynb").write_text("{}")  # no NN_ prefix: never run
    data_dir = root / "mydata"
    data_dir.mkdir()
    data = data_dir / "cohort.csv"
    shutil.copyfile(BUNDLED_COHORT, data)  # valid, as the command line requires
    return {"root": root, "notebooks": nb_dir, "data": data, "out": root / "out"}


@pytest.fixture(scope="module")
def ran(project: dict[str, Path]) -> tuple[Execution, Pages, list[tuple[str, str]]]:
    """Both tiny notebooks at once (jobs=2), then the pages."""
    before_nb = _listing(project["notebooks"])
    before_data = _listing(project["data"].parent)
    events: list[tuple[str, str]] = []
    execution = run_notebooks(output_dir=project["out"], data_path=project["data"],
                              notebooks_dir=project["notebooks"], jobs=2,
                              on_event=lambda nb, status: events.append((nb.name, status)),
                              label="Clinic X")
    pages = write_pages(execution)
    assert _listing(project["notebooks"]) == before_nb
    assert _listing(project["data"].parent) == before_data
    return execution, pages, events


@pytest.mark.notebooks
def test_run_writes_executed_notebooks_and_pages(ran, project):
    execution, pages, events = ran
    out = project["out"]
    assert execution.output_dir == out.resolve()
    assert [p.name for p in execution.notebooks] == ["01_first.ipynb", "02_second.ipynb"]
    assert execution.executed == (out / "notebooks" / "01_first.ipynb",
                                  out / "notebooks" / "02_second.ipynb")
    for path in execution.executed:
        nb = nbformat.read(str(path), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.execution_count is not None for c in code)
        assert not any(o.output_type == "error" for c in code for o in c.outputs)
    assert pages.html_pages == (out / "01_first.html", out / "02_second.html")
    page = (out / "01_first.html").read_text(encoding="utf-8")
    assert "first done" in page
    assert "<html" in page
    assert "data:image/png;base64" in (out / "02_second.html").read_text(encoding="utf-8")
    assert (out / "figures" / "km.png").is_file()
    assert sorted(events) == [(n, s) for n in ("01_first.ipynb", "02_second.ipynb")
                              for s in ("done", "started")]
    first = nbformat.read(str(execution.executed[0]), as_version=4)
    split = next(c for c in first.cells if "sys.stdout.flush()" in c.source)
    assert [(o.output_type, o.text) for o in split.outputs] == [("stream", "split line\n")]


@pytest.mark.notebooks
def test_run_writes_results_json(ran, project):
    execution, _, _ = ran
    out = project["out"]
    assert execution.results_path == out / "results.json"
    merged = json.loads(execution.results_path.read_text(encoding="utf-8"))
    assert sorted(merged) == ["comparison", "data", "survival"]
    flat = results.flatten(merged)
    assert flat["survival.logrank.surgical_vs_nonsurgical.p"] == 0.0123
    assert flat["survival.median_months"] is None
    assert flat["data.reconstructed"] is True
    assert execution.results_path.read_text(encoding="utf-8") == results.dumps(merged)


@pytest.mark.notebooks
def test_data_path_reaches_the_notebook_but_no_path_is_written(ran, project):
    """The notebook reads the data file through $NETHEP_DATA; the parameters papermill
    writes into the executed notebook, its metadata, the pages and results.json hold no
    path of the data, the output folder or the notebooks folder, nor the data's name."""
    execution, _, _ = ran
    merged = json.loads(execution.results_path.read_text(encoding="utf-8"))
    assert merged["data"]["data_path"] == "$NETHEP_DATA" and merged["data"]["read"] is True
    assert merged["data"]["label"] == "Clinic X"
    out = project["out"]
    secrets = [str(project["root"]), str(project["root"].resolve()), "mydata"]
    for path in out.rglob("*"):
        if path.suffix in {".ipynb", ".html", ".json", ".md"}:
            text = path.read_text(encoding="utf-8")
            leaked = [s for s in secrets if s in text]
            assert not leaked, f"{path.relative_to(out)} shows {leaked}"
    nb = nbformat.read(str(execution.executed[0]), as_version=4)
    assert nb.metadata.papermill.input_path == "notebooks/01_first.ipynb"
    assert nb.metadata.papermill.parameters == {"data_path": "$NETHEP_DATA",
                                                "output_dir": "$NETHEP_OUTPUT", "min_cell": 0}


@pytest.mark.notebooks
def test_index_links_banner_and_table(ran, project):
    _, pages, _ = ran
    out = project["out"]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert pages.index_path == out / "index.html"
    assert '<a href="01_first.html">01_first: First: the cohort</a>' in index
    assert '<a href="02_second.html">' in index
    assert 'href="notebooks/02_second.ipynb"' in index
    assert 'href="results.json"' in index
    assert 'href="figures/km.png"' in index
    assert 'class="banner"' in index and "reconstruction" in index
    assert "median OS, months" in index and "&lt;0.001" in index
    assert "1 of 2 published quantities" in index
    assert str(out) not in index  # relative links only
    assert (out / "methods.md").read_text(encoding="utf-8").startswith("# Statistical methods")
    assert "STROBE" in (out / "strobe.md").read_text(encoding="utf-8")


@pytest.mark.notebooks
def test_cli_rerun_one_at_a_time_same_bytes_bar_and_result_lines_only(ran, project, capfd):
    """``nethep run -j 1`` into the same folder: the bytes of the concurrent run, stale
    outputs dropped; the console shows the bar and the result lines, and none of the
    kernels' own log (ipykernel's TCP warning)."""
    out = project["out"]
    before = _listing(out)
    stale = out / "results" / "stale.json"
    stale.write_text('{"old": 1}\n')
    (out / "99_removed.html").write_text("old page")
    earlier_figure = out / "figures" / "an_earlier_cohorts_km.png"
    earlier_figure.write_bytes(b"\x89PNG from an earlier run")
    capfd.readouterr()
    code = cli.main(["run", "--output", str(out), "--data", str(project["data"]),
                     "--notebooks", str(project["notebooks"]), "--jobs", "1",
                     "--label", "Clinic X"])
    captured = capfd.readouterr()
    assert code == 0, captured.err
    assert captured.out.splitlines() == [f"Report: {out.resolve() / 'index.html'}",
                                         f"Results: {out.resolve() / 'results.json'}"]
    assert "2/2" in captured.err  # the bar
    assert "WARNING" not in captured.err and "IPKernelApp" not in captured.err, captured.err
    assert not stale.exists()
    assert not (out / "99_removed.html").exists()
    assert not earlier_figure.exists()  # no earlier cohort's figure beside the new ones
    after = _listing(out)
    for name in ["results.json", "index.html", "methods.md", "01_first.html", "02_second.html",
                 "results/data.json", "results/survival.json", "figures/km.png"]:
        assert after[name] == before[name], name


@pytest.mark.notebooks
def test_failing_notebook_stops_and_keeps_outputs(tmp_path: Path):
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    _notebook(nb_dir / "01_ok.ipynb", "Fine",
              "from nethep import results\nresults.save_fragment('ok', {'x': 1}, output_dir)")
    _notebook(nb_dir / "02_boom.ipynb", "Breaks", "x = 1",
              "\n# divide by zero on purpose\nratio = x / 0\nprint(ratio)")
    _notebook(nb_dir / "03_never.ipynb", "Never reached", "print('unreachable')")
    out = tmp_path / "out"
    with pytest.raises(NotebookFailed) as info:
        run_notebooks(output_dir=out, notebooks_dir=nb_dir, jobs=1)
    exc = info.value
    assert exc.notebook == nb_dir.resolve() / "02_boom.ipynb"
    assert exc.cell_index == 3  # markdown, parameters, 'x = 1', failing cell
    assert exc.first_line == "# divide by zero on purpose"
    assert exc.ename == "ZeroDivisionError"
    assert exc.completed == (out.resolve() / "notebooks" / "01_ok.ipynb",)
    msg = str(exc)
    assert "02_boom.ipynb" in msg and "cell 3" in msg and "ZeroDivisionError" in msg
    assert "# divide by zero on purpose" in msg
    # what ran is kept, including the failing notebook's partial output, and gets pages
    assert exc.execution is not None
    (out / "index.html").write_text("an earlier run's index")
    with PageWriter() as writer:
        write_partial_pages(exc.execution, writer)
    assert (out / "notebooks" / "01_ok.ipynb").is_file()
    assert (out / "01_ok.html").is_file()
    assert (out / "02_boom.html").is_file()  # the partial page shows the traceback
    assert (out / "results" / "ok.json").is_file()
    partial = nbformat.read(str(out / "notebooks" / "02_boom.ipynb"), as_version=4)
    assert any(o.get("ename") == "ZeroDivisionError"
               for c in partial.cells for o in c.get("outputs", []))
    assert exc.executed_path == out.resolve() / "notebooks" / "02_boom.ipynb"
    assert not (out / "notebooks" / "03_never.ipynb").exists()  # one at a time: not started
    assert not (out / "results.json").exists()
    assert not (out / "index.html").exists()
    assert sorted(p.name for p in nb_dir.iterdir()) == [
        "01_ok.ipynb", "02_boom.ipynb", "03_never.ipynb"]


# --------------------------------------------------------------------------- no kernel


def test_render_index_banner_only_when_reconstructed():
    pages = [("01_a.html", "notebooks/01_a.ipynb", "01_a")]
    plain = render_index(pages, {"data": {"reconstructed": False}}, version="9.9")
    assert 'class="banner"' not in plain
    assert "Published values and ours" not in plain
    assert "STROBE" in plain and "methods.md" in plain
    assert 'class="banner"' not in render_index(pages, {}, version="9.9")
    recon = render_index(pages, {"data": {"reconstructed": True}}, version="9.9")
    assert 'class="banner"' in recon
    assert recon == render_index(pages, {"data": {"reconstructed": True}}, version="9.9")


def test_render_index_table_from_the_comparison_section_and_escaping():
    rows = [{"quantity": "<b>n</b>", "published": 48, "ours": 48.0, "matches": True},
            {"quantity": "p", "published": None, "ours": 0.123456, "matches": None}]
    text = render_index([], {"comparison": {"paper_vs_ours": rows}}, version="1")
    assert "&lt;b&gt;n&lt;/b&gt;" in text and "<b>n</b>" not in text
    assert "0.1235" in text
    assert "1 of 2 published quantities" in text


def test_run_refuses_output_inside_notebooks_dir_or_missing_inputs(tmp_path: Path):
    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    _notebook(nb_dir / "01_a.ipynb", "A", "pass")
    with pytest.raises(ValueError, match="notebooks folder"):
        run_notebooks(output_dir=nb_dir / "build", notebooks_dir=nb_dir)
    with pytest.raises(ValueError, match="folder of the data file"):
        (tmp_path / "d.csv").write_text("x\n")
        run_notebooks(output_dir=tmp_path, data_path=tmp_path / "d.csv", notebooks_dir=nb_dir)
    with pytest.raises(FileNotFoundError, match="data file not found"):
        run_notebooks(output_dir=tmp_path / "o", data_path=tmp_path / "missing.csv",
                      notebooks_dir=nb_dir)
    with pytest.raises(FileNotFoundError, match="notebooks folder not found"):
        run_notebooks(output_dir=tmp_path / "o", notebooks_dir=tmp_path / "o")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no notebooks"):
        run_notebooks(output_dir=tmp_path / "o", notebooks_dir=tmp_path / "empty")
    with pytest.raises(ValueError, match="min_cell"):
        run_notebooks(output_dir=tmp_path / "o", notebooks_dir=nb_dir, min_cell=-1)
    assert not (tmp_path / "o").exists()
    assert sorted(p.name for p in nb_dir.iterdir()) == ["01_a.ipynb"]


def test_cli_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip().startswith("nethep ")


def test_cli_without_command_is_a_usage_error(capsys):
    assert cli.main([]) == 2
    assert "run" in capsys.readouterr().err
    assert cli.main(["run", "--bogus"]) == 2


def test_cli_missing_data_file(tmp_path: Path, capsys):
    code = cli.main(["run", "--data", str(tmp_path / "nope.csv"), "--output",
                     str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert "data file not found" in err and "nope.csv" in err
    assert not (tmp_path / "out").exists()


def test_cli_run_success_and_failure(tmp_path: Path, monkeypatch, capsys):
    calls = []

    def fake_run_notebooks(**kwargs):
        calls.append({k: v for k, v in kwargs.items() if k != "on_event"})
        out = Path(kwargs["output_dir"]).resolve()
        return Execution(output_dir=out, data_path=None, notebooks=(), executed=(),
                         results_path=out / "results.json")

    def fake_write_pages(execution, writer=None):
        out = execution.output_dir
        return Pages(html_pages=(), index_path=out / "index.html",
                     methods_path=out / "methods.md", strobe_path=out / "strobe.md")

    monkeypatch.setattr(runmod, "run_notebooks", fake_run_notebooks)
    monkeypatch.setattr(pagesmod, "write_pages", fake_write_pages)
    assert cli.main(["run", "--output", str(tmp_path / "o"), "--no-progress", "-j", "1"]) == 0
    assert calls == [{"output_dir": str(tmp_path / "o"), "data_path": None,
                      "notebooks_dir": None, "min_cell": 0, "jobs": 1,
                      "label": "your cohort"}]
    assert str(tmp_path / "o" / "index.html") in capsys.readouterr().out

    def failing_run_notebooks(**kwargs):
        out = Path(kwargs["output_dir"]).resolve()
        nothing = Execution(output_dir=out, data_path=None, notebooks=(), executed=(),
                            results_path=out / "results.json")
        raise NotebookFailed(Path("03_survival.ipynb"), cell_index=5, exec_count=4,
                             first_line="km = fit()", ename="KeyError", evalue="'os'",
                             executed_path=None, execution=nothing)

    monkeypatch.setattr(runmod, "run_notebooks", failing_run_notebooks)
    assert cli.main(["run", "--output", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "03_survival.ipynb" in err and "cell 5" in err and "km = fit()" in err


def test_python_dash_m_nethep_version(monkeypatch, capsys):
    """``python -m nethep --version`` (nethep/__main__.py, run as __main__ in this process)."""
    monkeypatch.setattr(sys, "argv", ["nethep", "--version"])
    monkeypatch.delitem(sys.modules, "nethep.__main__", raising=False)  # run it afresh
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("nethep", run_name="__main__", alter_sys=True)
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("nethep ")


def test_cli_run_on_a_users_data_suppresses_small_cells_and_passes_no_name(
        tmp_path: Path, monkeypatch, capsys, edge_cohort):
    """A user's data: --min-cell defaults to 11 (0 only when asked, with a warning), the
    notebooks get a private copy with a neutral name and the label, a cohort of four
    patients runs (what validate accepts, run completes), and an invalid file stops
    before any output folder is made."""
    calls = []

    def fake_run_notebooks(**kwargs):
        data = Path(kwargs["data_path"] or runmod.DATA_DIR / "cohort.csv")
        calls.append({**{k: v for k, v in kwargs.items() if k != "on_event"},
                      "name": data.name, "same": data.read_bytes() == source.read_bytes()})
        out = Path(kwargs["output_dir"]).resolve()
        return Execution(output_dir=out, data_path=None, notebooks=(), executed=(),
                         results_path=out / "results.json")

    def fake_write_pages(execution, writer=None, **options):
        out = execution.output_dir
        return Pages(html_pages=(), index_path=out / "index.html",
                     methods_path=out / "methods.md", strobe_path=out / "strobe.md")

    monkeypatch.setattr(runmod, "run_notebooks", fake_run_notebooks)
    monkeypatch.setattr(pagesmod, "write_pages", fake_write_pages)
    source = edge_cohort(tmp_path / "clinic" / "my export.csv")
    out = tmp_path / "report"
    assert cli.main(["run", "--data", str(source), "--output", str(out), "--no-progress"]) == 0
    assert calls[-1]["min_cell"] == 11 and calls[-1]["label"] == "your cohort"
    assert calls[-1]["name"] == "cohort.csv" and calls[-1]["same"]
    assert str(source.parent) not in calls[-1]["data_path"]
    assert "WARNING" not in capsys.readouterr().err
    assert cli.main(["run", "--data", str(source), "--output", str(out), "--no-progress",
                     "--min-cell", "0", "--label", "Clinic X"]) == 0
    assert calls[-1]["min_cell"] == 0 and calls[-1]["label"] == "Clinic X"
    assert "WARNING: small-cell suppression is off" in capsys.readouterr().err
    assert cli.main(["run", "--output", str(out), "--no-progress"]) == 0
    assert calls[-1]["min_cell"] == 0  # the bundled reconstruction: public

    four = tmp_path / "clinic" / "four.csv"  # what validate accepts, run completes
    shutil.copyfile(runmod.DATA_DIR / "template.csv", four)
    assert cli.main(["run", "--data", str(four), "--output", str(out), "--no-progress"]) == 0
    assert len(calls) == 4 and calls[-1]["min_cell"] == 11

    invalid = tmp_path / "clinic" / "invalid.csv"
    invalid.write_text("patient_id,died\nP1,1\n", encoding="utf-8")
    fresh = tmp_path / "never"
    assert cli.main(["run", "--data", str(invalid), "--output", str(fresh)]) == 1
    assert "did not validate" in capsys.readouterr().err
    assert not fresh.exists() and len(calls) == 4


def test_what_validate_accepts_run_completes_on_the_smallest_cohort(small_run, capsys):
    """The real notebooks on a small cohort validate accepts (5 + 5 patients, no death in
    one arm): validate exits 0, and the session's run on it completes (exit 0, no
    traceback) with every page and results.json."""
    assert cli.main(["validate", str(small_run.data_path)]) == 0
    capsys.readouterr()
    assert "Traceback" not in small_run.log_path.read_text(encoding="utf-8")
    assert small_run.results_path.is_file() and small_run.index_path.is_file()
    assert len(small_run.html_pages) == len(small_run.executed) == len(runmod.find_notebooks())
