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

.PHONY: install run test lint clean bench wheels image test-container

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

## Install and run every test (after the linter).
test: $(STAMP) soffice lint
	$(BIN)/python -m pytest

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

clean:
	rm -rf $(VENV) build dist wheels *.egg-info .pytest_cache .hypothesis

## Benchmark against raw highspy and PuLP/CBC (writes docs/performance.md); QUICK=1 for the small sizes.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench.run $(if $(QUICK),--quick,)
