# nethep: two commands do all the set-up on a fresh machine.
#   make report   create .venv, install, execute every notebook headless into build/
#   make test     create or reuse .venv, run the whole suite on every core (pytest-xdist:
#                 one worker per core, each test file on one worker; the notebooks run
#                 once, and their outputs are compared with the committed ones)
#   make test-fast  the same without the tests that execute notebooks (-m "not notebooks")
#   make nbval      nbval itself: executes each committed notebook and compares its outputs
# Versions are pinned by requirements.lock (pip constraints) so that a rerun gives
# the same bytes as the committed notebook outputs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
OUTPUT ?= build

.PHONY: report test test-fast nbval lint reference lab kernel clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c requirements.lock -e '.[test]'
	touch $(STAMP)

report: $(STAMP)
	$(BIN)/nethep run --output $(OUTPUT)

test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile -m "not notebooks"

nbval: $(STAMP)
	$(BIN)/python -m pytest --nbval --nbval-current-env notebooks/

lint: $(STAMP)
	$(BIN)/ruff check nethep tests benchmarks

# Regenerate the R reference values (needs root for apt-get; the JSON is committed).
reference:
	command -v Rscript >/dev/null || (apt-get update -qq && apt-get install -y -qq \
		r-base-core r-cran-survival r-cran-coin r-cran-jsonlite)
	cd tests/reference && for f in make_*.R; do Rscript $$f || exit 1; done

kernel: $(STAMP)
	$(BIN)/python -m ipykernel install --user --name nethep --display-name "Python (nethep)"

# JupyterLab refuses to run as root without --allow-root (containers, CI machines).
lab: kernel
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

clean:
	rm -rf build .pytest_cache
