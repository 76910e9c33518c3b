# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 0.0.0.0
PORT   ?= 8000

.PHONY: install run test clean

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

## Install and run every test.
test: $(STAMP) soffice
	$(BIN)/python -m pytest

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
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis
