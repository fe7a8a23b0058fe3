"""The committed notebooks hold the outputs a fresh ``nethep run`` gives.

The session's run on the bundled cohort (``bundled_run``) executed every notebook;
each code cell's outputs must equal the committed ones, compared as nbval compares
them: every output field and MIME type except metadata, execution counts,
tracebacks and bitmap images (``image/png``, ``image/jpeg``), each stream's text
joined. So the
notebooks are executed once per session, not once more by nbval
(``pytest --nbval --nbval-current-env notebooks/`` still works, and is marked
``notebooks`` too).

When a deliberate change alters an output, re-execute the notebook in place:
``cd notebooks && ../.venv/bin/jupyter nbconvert --to notebook --execute --inplace NN_x.ipynb``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import nbformat
import pytest

from nethep.run import INJECTED_TAG, find_notebooks

NOT_COMPARED = frozenset({
    "metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
    "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg",
})
NOTEBOOKS = find_notebooks()


def coalesced(outputs: list[Any]) -> list[Any]:
    """Every stream's text joined into its first output (nbval's ``coalesce_streams``)."""
    merged: list[Any] = []
    streams: dict[str, dict[str, Any]] = {}
    for output in outputs:
        if output["output_type"] != "stream":
            merged.append(output)
        elif output["name"] in streams:
            streams[output["name"]]["text"] += output["text"]
        else:
            streams[output["name"]] = dict(output)
            merged.append(streams[output["name"]])
    return merged


def comparable(outputs: list[Any]) -> dict[str, list[Any]]:
    """A cell's outputs as nbval compares them: streams coalesced, then values by field
    or MIME type, in order."""
    out: dict[str, list[Any]] = defaultdict(list)
    for output in coalesced(outputs):
        if output["output_type"] == "stream":
            output = {"output_type": "stream", output["name"]: output["text"]}
        for key, value in output.items():
            if key == "data":
                for mime, data in value.items():
                    if mime not in NOT_COMPARED:
                        out[mime].append(data)
            elif key not in NOT_COMPARED:
                out[key].append(value)
    return dict(out)


def code_cells(nb: Any) -> list[Any]:
    """Code cells, without the one papermill injects with the run's parameters."""
    return [c for c in nb.cells if c.cell_type == "code"
            and INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]


def test_every_notebook_is_checked():
    assert len(NOTEBOOKS) >= 5


@pytest.mark.parametrize("source", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_outputs_equal_a_fresh_run(source, bundled_run):
    committed = code_cells(nbformat.read(str(source), as_version=4))
    fresh = code_cells(nbformat.read(str(bundled_run.output_dir / "notebooks" / source.name),
                                     as_version=4))
    assert [c.source for c in fresh] == [c.source for c in committed]
    for i, (old, new) in enumerate(zip(committed, fresh, strict=True)):
        assert comparable(new.outputs) == comparable(old.outputs), (
            f"{source.name}, code cell {i} ({old.source.splitlines()[0][:60]!r}): the "
            "outputs differ from the committed ones; re-execute the notebook if intended")
