# Quick start: `make demo` (install, generate a synthetic study, run the nightly job) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test test-postgres dev bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# The demo's runs are recorded in the Dagster instance that `make dev` opens (.dagster_home), whose
# dagster.yaml is written once (without it Dagster warns on every run; telemetry off).
.dagster_home/dagster.yaml:
	mkdir -p .dagster_home && printf 'telemetry:\n  enabled: false\n' > $@

demo: $(STAMP) .dagster_home/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/.dagster_home $(BIN)/aclf demo --dir demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The same suite against PostgreSQL (each test in its own schema of the given database); the few
# slow tests (the 2,000-subject blinding audit, the Dagster daemon and browser walk-through) run once, in `make test`.
test-postgres: $(STAMP)
	ACLF_TEST_DATABASE_URL=$${ACLF_TEST_DATABASE_URL:-postgresql://127.0.0.1:5432/test} $(BIN)/python -m pytest -q -m "not slow"

dev: $(STAMP) .dagster_home/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/.dagster_home \
	ACLF_LANDING_DIR=$${ACLF_LANDING_DIR:-$(CURDIR)/demo/landing} ACLF_OUTPUT_DIR=$${ACLF_OUTPUT_DIR:-$(CURDIR)/demo/output} \
	ACLF_ARCHIVE_DIR=$${ACLF_ARCHIVE_DIR:-$(CURDIR)/demo/var/archive} \
	ACLF_DATABASE_URL=$${ACLF_DATABASE_URL:-sqlite:///$(CURDIR)/demo/var/aclf.sqlite} \
	$(BIN)/dagster dev -w workspace.yaml

bench: $(STAMP)
	$(BIN)/python bench/night_bench.py

clean:
	rm -rf demo var output bench/out .pytest_cache
