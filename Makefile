# The book's two commands: `make book` renders it, `make test` tests it.
# Both create .venv and install requirements.txt into it when needed.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.requirements-installed

.PHONY: book test test-fast serve notebooks lab smoke bench baselines ledger clean-cache plotly-bundle

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

book: $(STAMP)  ## render the book into _book/ with Quarto
	@VENV=$(VENV) tools/render.sh

test: $(STAMP)  ## run the whole test suite
	@tools/system-packages.sh
	$(PY) -m pytest

test-fast: $(STAMP)  ## the unit tests only (no chapter execution, no render): the inner loop, under 2 minutes
	$(PY) -m pytest -m "not slow" -q

serve: ## serve the rendered book on http://127.0.0.1:$(PORT)/ (make book first)
	@test -f _book/index.html || { echo "no rendered book in _book/: run 'make book' first"; exit 1; }
	@echo "serving _book/ at http://127.0.0.1:$(PORT)/ (Ctrl-C stops)"
	@python3 -m http.server --bind 127.0.0.1 --directory _book $(PORT)

PORT ?= 8000

notebooks: $(STAMP)  ## one notebook per chapter into notebooks/ (EXECUTE=1: executed, with HTML, into _build/notebooks/)
	$(PY) -m bookkit.notebooks --all $(if $(filter 1 yes true,$(EXECUTE)),--execute --html --out _build/notebooks,--out notebooks)

lab: $(STAMP)  ## open the notebooks in JupyterLab, with this project's environment as the kernel
	$(PY) -m pip install --quiet -e ".[lab]"
	$(PY) -m ipykernel install --user --name aebook --display-name "Python (aebook)" >/dev/null
	@echo "registered the kernel 'Python (aebook)' (this .venv) for any Jupyter front end, VS Code included"
	$(PY) -m bookkit.notebooks --all --out notebooks
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

smoke: $(STAMP)  ## execute every chapter quickly (AEBOOK_SMOKE=1) as notebooks
	AEBOOK_SMOKE=1 $(PY) -m bookkit.notebooks --all --execute --out _build/smoke

bench: $(STAMP)  ## measure speed and memory; prints `name: value unit` and writes BENCHMARKS.md
	@tools/system-packages.sh
	$(PY) tools/bench.py

# A local copy of (part of) Fashion-MNIST in torchvision's layout, for `make baselines`
FASHION_SAMPLE ?= ../shared/data/fashion-mnist-sample

baselines: $(STAMP)  ## the book's models beside classic baselines, on the stand-in and on FASHION_SAMPLE
	AEBOOK_DATA=standin $(PY) -m bookkit.baselines --write BENCHMARKS.md
	@if [ -d "$(FASHION_SAMPLE)/FashionMNIST" ]; then \
	  AEBOOK_DATA_DIR="$(FASHION_SAMPLE)" $(PY) -m bookkit.baselines --write BENCHMARKS.md; \
	else echo "no Fashion-MNIST copy in FASHION_SAMPLE=$(FASHION_SAMPLE): only the stand-in was compared"; fi

ledger: $(STAMP)  ## print every measured claim of the rendered book; exit 1 on a contradiction, 3 on an unreadable page
	$(PY) -m aebook.claims _book

plotly-bundle: $(STAMP)  ## rebuild assets/plotly/ (plotly.js with only the trace types in plots.TRACE_TYPES); needs node and npm
	cd tools/plotly-bundle && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	node tools/plotly-bundle/build.js assets/plotly/plotly-aebook.min.js \
	  $$($(PY) -c "from aebook.plots import TRACE_TYPES; print(*TRACE_TYPES)")
	@ls -l assets/plotly/plotly-aebook.min.js

clean-cache:  ## forget trained models and t-SNE maps
	rm -rf _cache
