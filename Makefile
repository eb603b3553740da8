# vaxbook — `make run` serves the app with demo data, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
PG_AUTOCTL := /usr/bin/pg_autoctl

.PHONY: run test lint format typecheck bench ha-demo fuzz install clean

$(INSTALLED): pyproject.toml
	@echo "Installing vaxbook and its dependencies into $(VENV) (a few minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -e '.[dev]' --config-settings editable_mode=compat
	touch $(INSTALLED)

install: $(INSTALLED)

# Debian's chromium, which the browser tests drive through Playwright (no browser download of its own)
$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser tests (as root)"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# Debian's pg_auto_failover (and the PostgreSQL it runs on), for `make ha-demo` and its short version in the tests;
# no cluster of its own is made or started on install
$(PG_AUTOCTL):
	@echo "Installing Debian's pg_auto_failover for the failover test (as root)"
	mkdir -p /etc/postgresql-common/createcluster.d
	echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/vaxbook.conf
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-auto-failover pg-auto-failover-cli

# silent: stdout is the service's log, one JSON object a line
run: $(INSTALLED)
	@$(BIN)/vaxbook serve --demo

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy

# four processes, each with its own embedded PostgreSQL (on two cores: while one waits for a server, a browser or a
# clock, the others run; 13 min 58 s against 14 min 54 s with three); a test file stays in one process (its servers
# and ports)
test: lint typecheck $(CHROMIUM) $(PG_AUTOCTL)
	$(BIN)/pytest -n 4 --dist loadfile --durations=20

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# the whole suite, its table into docs/benchmarks.md; `vaxbook bench --help` for one scenario or --quick
bench: $(INSTALLED)
	$(BIN)/vaxbook bench all --docs docs/benchmarks.md
	$(BIN)/python -m bench.relay

# five booking rushes, each losing its primary database mid-rush (pg_auto_failover); docs/scaling.md
ha-demo: $(INSTALLED) $(PG_AUTOCTL)
	$(BIN)/vaxbook ha-demo --docs docs/scaling.md

# Schemathesis over the API description, every role, with many more examples than `make test` runs
fuzz: $(INSTALLED)
	VAXBOOK_FUZZ_EXAMPLES=$${VAXBOOK_FUZZ_EXAMPLES:-100} $(BIN)/pytest -p no:randomly tests/e2e/test_fuzz.py tests/e2e/test_fuzz_roles.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
