# The book's two commands: `make book` renders it, `make test` tests it.
# Both create .venv and install the exact versions of requirements.lock into it when needed;
# `make lock` compiles that file from the version ranges in requirements.txt and pyproject.toml.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.requirements-installed
LOCK   := requirements.lock

# TORCH_INDEX=https://download.pytorch.org/whl/cpu installs PyTorch's CPU-only build from that
# index instead of PyPI's Linux build and its ~3 GB of CUDA libraries (nvidia-*, cuda-*, triton),
# which are then left out. The versions stay the lock's (`torch==X` matches `X+cpu`). It applies
# when .venv is installed: on a fresh clone, or after `rm -rf .venv`. Empty: the lock as it is.
TORCH_INDEX ?=
# The lock's packages that only PyPI's CUDA build of torch needs (tests/bookkit/test_workflows.py
# checks this pattern against the lock's `# via` notes)
CUDA_ONLY := ^(nvidia-|cuda-|triton==)
# uv compiles the lock (`make lock`), from a throwaway environment; UPGRADE=1 moves every
# package to the newest version the ranges allow, otherwise the lock's versions are kept
UV_VERSION ?= 0.13.9
# the oldest Python the lock is for (some of its versions need 3.11.5)
LOCK_PYTHON := 3.11.5

.PHONY: book preview test test-fast serve notebooks lab smoke bench baselines precision ledger clean-cache plotly-bundle lock

$(STAMP): $(LOCK) pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; sys.exit(sys.version_info < tuple(map(int, "$(LOCK_PYTHON)".split("."))))' || { echo "$(LOCK) needs Python" \
	  "$(LOCK_PYTHON) or newer, and $(PY) is $$($(PY) -V 2>&1): rm -rf $(VENV), then make PYTHON=python3.12 (or another)" >&2; exit 1; }
	$(PY) -m pip install --quiet "$$(grep -m1 '^pip==' $(LOCK))"
ifeq ($(strip $(TORCH_INDEX)),)
	$(PY) -m pip install --quiet -r $(LOCK)
else
	$(PY) -m pip install --quiet --no-deps --index-url "$(TORCH_INDEX)" $$(grep -E '^torch(vision)?==' $(LOCK) | cut -d' ' -f1)
	grep -v -E '$(CUDA_ONLY)' $(LOCK) > $(VENV)/requirements-cpu.lock
	$(PY) -m pip install --quiet -r $(VENV)/requirements-cpu.lock
endif
	@mkdir -p $(VENV)/etc/ipython && echo 'c.IPKernelApp.log_level = "ERROR"  # no notice about the local TCP transport' \
	  > $(VENV)/etc/ipython/ipython_kernel_config.py  # read by every kernel of this .venv, however the book is rendered
	@touch $(STAMP)

lock:  ## re-compile requirements.lock from the ranges (UPGRADE=1: the newest versions they allow)
	@tmp="$$(mktemp -d)" && trap 'rm -rf "$$tmp"' EXIT && $(PYTHON) -m venv "$$tmp" \
	  && "$$tmp/bin/python" -m pip install --quiet "uv==$(UV_VERSION)" \
	  && "$$tmp/bin/uv" pip compile requirements.txt --universal --python-version $(LOCK_PYTHON) \
	     --no-python-downloads --custom-compile-command "make lock" --quiet \
	     $(if $(filter 1 yes true,$(UPGRADE)),--upgrade) --output-file $(LOCK)

book: $(STAMP)  ## render the book into _book/ with Quarto
	@VENV=$(VENV) tools/render.sh

# Both run the tests on every core (pytest-xdist). --dist loadfile keeps each test file on one worker, so the
# chapters executed as notebooks (test_chapters.py) and the site's render (test_site_render.py), each a
# session-wide fixture, are made once and side by side: tests/conftest.py puts those two files first and
# --no-loadscope-reorder keeps that order, so each worker starts one. (--dist loadgroup would split them: pytest 9 ignores
# the group suffix pytest-xdist 3.8 writes into a test's id, and each worker made both fixtures.)
PYTEST_WORKERS ?= auto

test: $(STAMP)  ## run the whole test suite
	@tools/system-packages.sh
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-fast: $(STAMP)  ## the unit tests only (no chapter execution, no render): the inner loop, under 2 minutes
	$(PY) -m pytest -m "not slow" -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

preview: $(STAMP)  ## Quarto's live preview in the browser: each save re-renders that page (and only its notebook)
	@VENV=$(VENV) tools/render.sh preview $(PREVIEW_ARGS)

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

precision: $(STAMP)  ## the emoji autoencoder in float32 and in bfloat16 (mixed precision), two seeds each
	$(PY) -m bookkit.precision --write BENCHMARKS.md

ledger: $(STAMP)  ## print every measured claim of the rendered book; exit 1 on a contradiction, 3 on an unreadable page
	$(PY) -m bookkit.claims _book

plotly-bundle: $(STAMP)  ## rebuild assets/plotly/ (plotly.js with only the trace types in plots.TRACE_TYPES); needs node and npm
	cd tools/plotly-bundle && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	node tools/plotly-bundle/build.js assets/plotly/plotly-aebook.min.js \
	  $$($(PY) -c "from aebook.plots import TRACE_TYPES; print(*TRACE_TYPES)")
	@ls -l assets/plotly/plotly-aebook.min.js

clean-cache:  ## forget trained models and t-SNE maps
	rm -rf _cache
