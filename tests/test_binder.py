"""The interactive path: one kernel name, declared by the notebooks, registered by
`make kernel` and by Binder's postBuild; binder/environment.yml in step with the root one."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
KERNEL = {"name": "nethep", "display_name": "Python (nethep)", "language": "python"}
INSTALL = 'ipykernel install --user --name nethep --display-name "Python (nethep)"'


@pytest.mark.parametrize("name", ["01_cohort", "02_treatment_groups", "03_survival",
                                  "04_palliation", "05_robustness"])
def test_notebook_declares_the_nethep_kernel(name):
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"] == KERNEL


def test_makefile_and_postbuild_register_that_kernel():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert INSTALL in makefile
    assert re.search(r"^lab: kernel\n\t.*jupyter lab notebooks/", makefile, re.M)
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable"
    text = post_build.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert INSTALL in text
    assert "pip install --no-deps -e ." in text


def _dependencies(path: Path) -> tuple[list[str], list]:
    deps = yaml.safe_load(path.read_text(encoding="utf-8"))["dependencies"]
    return [d for d in deps if isinstance(d, str)], [d for d in deps if not isinstance(d, str)]


def test_binder_environment_is_the_root_one_without_the_local_install():
    # Once binder/ exists Binder reads nothing else, so it needs its own environment file;
    # it must list the same conda packages, and no `-e .` (postBuild installs nethep).
    root_conda, root_pip = _dependencies(ROOT / "environment.yml")
    binder_conda, binder_pip = _dependencies(ROOT / "binder" / "environment.yml")
    assert binder_conda == root_conda
    # typst (the supplement's typesetter, compiler bundled) is on PyPI only
    assert root_pip == [{"pip": ["typst>=0.15", "-e ."]}]
    assert binder_pip == [{"pip": ["typst>=0.15"]}]
    for key in ("name", "channels"):
        assert (yaml.safe_load((ROOT / "binder" / "environment.yml").read_text())[key]
                == yaml.safe_load((ROOT / "environment.yml").read_text())[key])
