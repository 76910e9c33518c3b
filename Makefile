# The two commands a new user needs: `make run` and `make test`.
# The project supports Python 3.11 only: prefer python3.11 where several are installed.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 0.0.0.0
PORT   ?= 8000

BASE_IMAGE ?= python:3.11-slim
IMAGE      ?= stockpile:latest

.PHONY: install run test lint clean bench wheels image test-container test-pyomo-compiler test-latest-pyomo

# (Re)install when the project's dependency list changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Serve the API (with the built-in dla-2025 example) on :8000.
run: $(STAMP)
	$(BIN)/stockpile serve --host $(HOST) --port $(PORT)

# The engine's tests: what must hold whichever way its Pyomo model is compiled, and on any Pyomo.
ENGINE_TESTS := $(addprefix tests/solvers/,test_engine_cases.py test_engine_infeasible.py test_engine_limits.py \
	test_properties.py test_export.py test_pyomo_door.py test_pyomo_paths.py) tests/analyses/test_whatif.py

## Install and run every test (after the linter), then the engine's tests through Pyomo's own compiler.
test: $(STAMP) soffice chromium postgres lint
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory test-pyomo-compiler

## The engine's tests with its fast reader of the Pyomo model switched off: Pyomo's own
## LinearStandardFormCompiler compiles every model, so the two paths cannot drift apart.
test-pyomo-compiler: $(STAMP)
	STOCKPILE_PYOMO_FAST_PATH=0 $(BIN)/python -m pytest -q $(ENGINE_TESTS)

## The engine's tests against the newest Pyomo release on the index (in .venv-latest-pyomo), so that
## a release that breaks the Pyomo internals the engine relies on is seen at once.
test-latest-pyomo:
	test -x .venv-latest-pyomo/bin/python || $(PYTHON) -m venv .venv-latest-pyomo
	.venv-latest-pyomo/bin/python -m pip install --quiet --upgrade pip
	.venv-latest-pyomo/bin/python -m pip install --quiet -e '.[test]'
	.venv-latest-pyomo/bin/python -m pip install --quiet --upgrade --upgrade-strategy only-if-needed pyomo
	.venv-latest-pyomo/bin/python -c 'import pyomo.version; print("Pyomo", pyomo.version.version)'
	.venv-latest-pyomo/bin/python -m pytest -q -p no:cacheprovider $(ENGINE_TESTS)

## Lint and format-check the code (ruff, at the version pinned in the test extras).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Wheels of the project and of every dependency (at the versions the venv
## runs), built here so that `docker build` needs no network.
wheels: $(STAMP)
	rm -rf wheels build && mkdir wheels
	$(BIN)/python -m pip freeze --exclude-editable | grep -v ' @ ' > wheels/constraints.txt
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check --wheel-dir wheels \
		--constraint wheels/constraints.txt .

## The service image, tagged $(IMAGE); prints its size and start-up time.
## `make image BASE_IMAGE=...` builds on another base.
image: wheels
	VENV_PYTHON=$(BIN)/python scripts/container.sh build $(IMAGE) $(BASE_IMAGE)

## Build the image, run it on a free loopback port, run tests/integration
## against it (SIGTERM draining included), then remove the container.
test-container: image
	VENV_PYTHON=$(BIN)/python scripts/container.sh test $(IMAGE)

## LibreOffice Calc, with which the spreadsheet tests open result workbooks:
## installed from Debian when missing and we are root (CI), else a clear error.
.PHONY: soffice
soffice:
	@command -v soffice >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "== installing libreoffice-calc for the spreadsheet tests"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends libreoffice-calc >/dev/null; \
	  else \
	    echo "LibreOffice (soffice) is needed by the spreadsheet tests: apt-get install libreoffice-calc" >&2; \
	    exit 1; \
	  fi; }
	@command -v soffice >/dev/null 2>&1

## Chromium, with which the browser tests (Playwright, tests/browser.py) open the pages: Debian's,
## installed when missing and we are root (CI), else a clear error. Playwright never downloads one.
CHROMIUM ?= /usr/bin/chromium
.PHONY: chromium
chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "== installing chromium for the browser tests"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; \
	  else \
	    echo "Chromium ($(CHROMIUM)) is needed by the browser tests: apt-get install chromium" >&2; \
	    exit 1; \
	  fi; }
	@test -x $(CHROMIUM)

clean:
	rm -rf $(VENV) .venv-latest-pyomo build dist wheels *.egg-info .pytest_cache .hypothesis

## Benchmark against raw highspy and PuLP/CBC (writes docs/performance.md and bench/results/suite.json);
## QUICK=1 for the small sizes (prints, and writes bench/results/quick.json only).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench.run $(if $(QUICK),--quick,)

## PostgreSQL's server binaries (initdb, pg_ctl), with which the storage tests start a throwaway
## cluster on loopback (tests/postgres.py): installed from Debian when missing and we are root (CI).
## STOCKPILE_TEST_POSTGRES_URL=postgresql+psycopg://... points the tests at a server instead.
.PHONY: postgres
postgres:
	@[ -n "$$STOCKPILE_TEST_POSTGRES_URL" ] || command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "== installing postgresql for the storage tests"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	  else \
	    echo "PostgreSQL is needed by the storage tests: apt-get install postgresql" >&2; \
	    exit 1; \
	  fi; }
