# The README's two commands: `make run` and `make test`. Everything else here serves them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP_FLAGS := --quiet --disable-pip-version-check
CATALOGUES := $(wildcard coordinator/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)

.PHONY: run test lint audit check bench bench-protection cluster-test load bench-caseload bench-reports bench-logreview translations clean

## make run: set everything up and start the app with demo data on http://127.0.0.1:5000
run: $(VENV)/.installed $(COMPILED)
	$(BIN)/coordinator init
	$(BIN)/coordinator demo-data
	$(BIN)/coordinator run

## make test: run every test (creates the virtual environment if needed)
test: $(VENV)/.installed $(COMPILED)
	$(BIN)/pytest

## make lint: ruff (with the bandit security rules) and mypy on the package
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## make audit: bandit on the package, pip-audit on the installed dependencies (docs/security.md,
## "Supply chain"); says how many dependencies the vulnerability service could not be asked about
audit: $(VENV)/.installed
	$(BIN)/bandit --quiet --configfile pyproject.toml --recursive coordinator tools
	$(BIN)/python tools/audit_dependencies.py

## make check: lint, audit and test, as CI does
check: lint audit test

## make bench: the whole product at region scale — generates 100 000 patients in 50 units, 300
## coordinators, 400 000 certificates and 1 000 000 journal entries, then prints one table of
## every measured operation against its baseline (docs/performance.md, "Region scale"; not part
## of make test; SQLite by default, PostgreSQL with BENCH_ARGS="--database-url postgresql://…")
bench: $(VENV)/.installed $(COMPILED)
	$(BIN)/python benchmarks/region.py $(BENCH_ARGS)

## make bench-protection: what encryption, blind indexes and the hash-chained journal cost
## (docs/performance.md; takes several minutes; options after BENCH_ARGS=, e.g. --quick)
bench-protection: $(VENV)/.installed
	$(BIN)/python benchmarks/protection.py $(BENCH_ARGS)

## make bench-caseload: time the caseload list and the Today page with 100 000 patients
## (docs/performance.md; takes a few minutes; options after BENCH_ARGS=, e.g. --runs 10)
bench-caseload: $(VENV)/.installed
	$(BIN)/python benchmarks/caseload.py $(BENCH_ARGS)

## make bench-reports: time the sick-leave statistics and the quarterly report with 100 000
## patients and 1 000 000 access-log entries (docs/performance.md; takes 10 minutes or so)
bench-reports: $(VENV)/.installed
	$(BIN)/python benchmarks/reports.py $(BENCH_ARGS)

## make bench-logreview: time the access-log follow-up (sample checks, search, log extract,
## chain verification, purge) with 100 000 patients and 1 000 000 access-log entries
## (docs/performance.md; takes 15 minutes or so)
bench-logreview: $(VENV)/.installed
	$(BIN)/python benchmarks/logreview.py $(BENCH_ARGS)

## make load: 50 simulated coordinators work for 60 s against gunicorn (4 workers) on loopback;
## fails on any error, lost write or broken journal chain. SQLite, then PostgreSQL as well when
## DATABASE_URL is set (a fresh database on that server, dropped afterwards; run even when SQLite
## failed); about 3 minutes per database (docs/performance.md; options after BENCH_ARGS=, e.g.
## --seconds 20 --users 10)
load: $(VENV)/.installed $(COMPILED)
	status=0; \
	$(BIN)/python benchmarks/load.py $(BENCH_ARGS) || status=1; \
	if [ -n "$$DATABASE_URL" ]; then \
		$(BIN)/python benchmarks/load.py --database-url "$$DATABASE_URL" $(BENCH_ARGS) || status=1; \
	fi; \
	exit $$status

## make cluster-test: PostgreSQL, Redis, two gunicorn instances and nginx on loopback (installs
## nginx and redis-server from Debian's packages when missing); a session, the sign-in rate limit
## and concurrent journal appends across both instances, then verify-journal (docs/deployment.md)
cluster-test: $(VENV)/.installed $(COMPILED)
	$(BIN)/python tools/cluster_test.py

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found $(PYTHON))"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev]'
	touch $@

# Compiled catalogues are build output (not in git); rebuilt when their .po changes.
coordinator/translations/%/LC_MESSAGES/messages.mo: coordinator/translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -i $< -o $@

## make translations: collect new interface texts into the catalogues (then translate sv)
translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		-o coordinator/translations/messages.pot .
	$(BIN)/pybabel update -i coordinator/translations/messages.pot -d coordinator/translations \
		--no-wrap --ignore-obsolete --no-fuzzy-matching
	rm coordinator/translations/messages.pot

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache $(COMPILED)
