# shopcrm — the two commands:
#   make demo   build a demo shop on SQLite, segment it, "send" a campaign to .eml files, serve the shop and the
#               admin panel, with the scheduled jobs running in the server (as cron would)
#   make test   install what the tests need and run them
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
# test processes side by side; a test file stays in one process (its module fixtures are built once)
TEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(TEST_WORKERS) --dist loadfile

DEMO_ENV := SHOPCRM_ENV=development SHOPCRM_PUBLIC_URL=http://$(HOST):$(PORT)/crm/ \
            SHOPCRM_SHOP_BASE_URL=http://$(HOST):$(PORT)/
FLASK := $(BIN)/flask --app wsgi

.PHONY: demo demo-serve serve test test-fast install install-dev system-deps services clean bench help

help:
	@echo "make demo     - demo shop + segmentation + campaign to .eml files, then serve the shop at http://$(HOST):$(PORT)/"
	@echo "                and the panel at http://$(HOST):$(PORT)/crm/ (the scheduled jobs run every few seconds)"
	@echo "make test     - run the test suite (installs system packages and Python packages it needs)"
	@echo "make demo-serve - serve the demo again (after make demo)"
	@echo "make serve    - serve the admin panel with gunicorn (no demo shop, no jobs: cron runs those)"
	@echo "make test-fast - the tests without the slow ones (processes, Apache, browsers, real shops)"

$(VENV)/.runtime: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "shopcrm needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

demo: install
	$(DEMO_ENV) $(FLASK) shopcrm init
	$(DEMO_ENV) $(FLASK) shopcrm demo
	@$(MAKE) --no-print-directory demo-serve

# the demo shop at /, the panel at /crm and, every few seconds, what cron runs in production
demo-serve: install
	$(DEMO_ENV) $(FLASK) shopcrm demo-serve --host $(HOST) --port $(PORT)

serve: install
	@echo "serving http://$(HOST):$(PORT)/crm/admin/  (Ctrl-C to stop)"
	$(DEMO_ENV) $(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 2 --access-logfile - wsgi:app

system-deps:
	scripts/setup-system.sh

services: system-deps
	scripts/ensure-mariadb.sh

test: install-dev services
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

# the quick loop while working: everything but the tests marked slow (processes, Apache, browsers, real shops)
test-fast: install-dev services
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
