# The README's two commands: `make run` (reproduce the pipeline) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
MLFLOW_TRACKING_URI ?= sqlite:///mlruns/mlflow.db
# The MLflow UI and the Prefect server listen on localhost only. `make ui UI_HOST=0.0.0.0` exposes
# them to the network: neither has authentication (anyone reaching the port reads every run, and
# Prefect's API can start flows on this machine). Put a proxy with auth in front first.
UI_HOST ?= 127.0.0.1
SERVE_HOST ?= 127.0.0.1
export HF_HUB_OFFLINE ?= 1
# no telemetry from the temporary Prefect server `make run` starts (no network here anyway)
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: install browser run demo test test-all lint ui serve clean docs

# torch goes in first and pinned: an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# reference implementation for the interaction tests; --no-deps: it would pull TensorFlow
	$(BIN)/python -m pip install --quiet --no-deps path-explain==0.0.7
	@touch $(STAMP)

install: $(STAMP)

# `make run`: the stale stages side by side (flows/run.py: independent stages at once, the cores
# shared out, DVC the only writer); `make run JOBS=1` one stage at a time; `make run DASK=local`
# (or a scheduler address) on a Dask cluster; `make run STAGES="train_embgam@sst2 ..."` only those
# stages and what they need. `dvc repro` still works and gives the same outputs.
JOBS ?=
DASK ?=
STAGES ?=
run: $(STAMP)
	$(BIN)/dvc pull -q data/raw/*.dvc
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m flows.run $(if $(JOBS),--workers $(JOBS)) $(if $(DASK),--dask $(DASK)) $(STAGES)
	$(BIN)/glassworks summary

# `make demo`: a first look at all five methods in minutes, not the hour of `make run`: one path
# through each (Emb-GAM on SST-2 and its reconciliation with IG on a small transformer; IG/EG/IH
# on an MLP; INN audited against the explainers; CDEP against vanilla on the decoy), 16 of the
# pipeline's stages. They are `make run`'s own stages, so a later `make run` reuses them.
DEMO_STAGES := train_embgam@sst2 explain@embgam-sst2 explain@mlp-openml-37 \
	train_tabular@openml-37-inn audit_tabular@openml-37 explain_text@sst2-small \
	reconcile_text@sst2-small train_cdep@decoy-lstm-none train_cdep@decoy-lstm-cdep
demo: $(STAMP)
	$(MAKE) --no-print-directory run STAGES="$(DEMO_STAGES)"

# Debian's chromium for the MLflow UI browser test (tests/e2e/test_mlflow_ui.py); as root only,
# otherwise that test is skipped and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "chromium not installed (not root): the MLflow UI browser test will be skipped"

# `make test`: the fast subset (tests not marked `slow`, a few minutes). `make test-all`: everything,
# incl. the kill -9 fault tests, end-to-end DVC/Prefect runs and the browser test (what CI runs).
test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

test-all: $(STAMP) browser
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests stages flows benchmarks
	$(BIN)/ruff format --check src tests stages flows benchmarks
	$(BIN)/lint-imports --config pyproject.toml

ui: $(STAMP)
	@mkdir -p mlruns
	$(BIN)/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --host $(UI_HOST) --port 5000

# A local Prefect server (database under .prefect/, bound to 127.0.0.1:4200) serving the three
# deployments of flows/deploy.py; Ctrl-C stops both.
serve: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m flows.deploy --local-server --host $(SERVE_HOST) --root .

# The documentation site (mkdocs.yml, docs/) into site/ (git-ignored); --strict: a broken link or an
# API page naming a missing module fails the build. `$(BIN)/mkdocs serve` previews it live.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf data/prepared metrics/*/ mlruns
